"""Blinded human rating: export a sheet, import filled copies, agreement, win rates, DPO2 pairs.

Export. For every post and every configured system pair, one *item* shows the post and the two
replies as "A" and "B"; which system is A is decided by a seeded coin flip, items are shuffled
and numbered after shuffling, and the sheet names no system. Raters fill their id in
``rater`` and, per dimension, ``A``, ``B`` or ``tie`` (blank = not rated). The private *key*
(item id -> post, systems and texts) is written separately; keep it with the sheets you send
out, because re-running the workflow re-exports a new key when responses change.

Import. Filled sheets (one or more raters per file) are checked against the key: unknown item
ids, a reply text that differs from the key, a missing rater or a value other than A/B/tie
raise an error naming file, row and field; rows with no rating at all are dropped and counted.

Agreement is Krippendorff's alpha (the ``krippendorff`` package) per dimension and over all
dimensions, on the A/tie/B codes (ordinal: A < tie < B), units = items (x dimensions) and
coders = raters. Win rates use :mod:`mhai.evaluate.pairwise` on each item's outcome for the
pair's first system, averaged over raters. A DPO2 pair is made from every item whose mean
outcome over raters and dimensions differs from 0.5 by more than ``min_margin``: the
preferred reply is ``chosen``; ``score_chosen``/``score_rejected`` are the two replies' shares
of the preference in percent; a seeded share of threads goes to the ``eval`` split. The rated
posts are held-out (test) posts, so a DPO2 model is no longer blind to them: evaluate it on
other posts.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from mhai.evaluate.pairwise import win_rate_row
from mhai.evaluate.scorers import DIMENSIONS

CHOICES = {"a": "A", "b": "B", "tie": "tie"}
ORDINAL_CODE = {"A": 0.0, "tie": 1.0, "B": 2.0}
SHEET_COLUMNS = ["item_id", "rater", "post", "response_a", "response_b", *DIMENSIONS, "comment"]
KEY_COLUMNS = [
    "item_id",
    "post_id",
    "thread_id",
    "subreddit",
    "pair",
    "system_a",
    "system_b",
    "post",
    "response_a",
    "response_b",
]


class RatingSheetError(ValueError):
    """A filled sheet that does not fit its key; the message names file, row and field."""


def export_rating_sheet(
    responses: pd.DataFrame, pairs: Sequence[Sequence[str]], seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The blinded sheet and its private key for ``pairs`` of systems on every post."""
    by_key = responses.set_index(["post_id", "system"])
    missing = {s for pair in pairs for s in pair} - set(responses["system"])
    if missing:
        raise ValueError(f"rating pairs name systems without responses: {sorted(missing)}")
    rng = random.Random(seed)
    items = []
    for post_id in sorted(responses["post_id"].unique()):
        for first, second in pairs:
            one, two = by_key.loc[(post_id, first)], by_key.loc[(post_id, second)]
            flip = rng.random() < 0.5
            (sys_a, row_a), (sys_b, row_b) = (
                ((second, two), (first, one)) if flip else ((first, one), (second, two))
            )
            items.append(
                {
                    "post_id": post_id,
                    "thread_id": one["thread_id"],
                    "subreddit": one["subreddit"],
                    "pair": f"{first}_vs_{second}",
                    "system_a": sys_a,
                    "system_b": sys_b,
                    "post": one["post"],
                    "response_a": row_a["response"],
                    "response_b": row_b["response"],
                }
            )
    rng.shuffle(items)
    width = max(3, len(str(len(items))))
    for number, item in enumerate(items, start=1):
        item["item_id"] = f"item{number:0{width}d}"
    key = pd.DataFrame(items, columns=KEY_COLUMNS)
    sheet = key[["item_id", "post", "response_a", "response_b"]].copy()
    sheet.insert(1, "rater", "")
    for dimension in DIMENSIONS:
        sheet[dimension] = ""
    sheet["comment"] = ""
    return sheet[SHEET_COLUMNS], key


def _text(value) -> str:
    """A cell as text with whitespace runs collapsed (spreadsheets rewrite line ends)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return " ".join(str(value).split())


def read_filled_sheets(
    paths: Sequence[str | Path], key: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Ratings in long form (file, row, item_id, rater, dimension, choice) and the dropped
    (unrated) rows with a reason; errors name the file, row and field."""
    key_by_item = key.set_index("item_id")
    ratings, dropped = [], []
    for path in paths:
        path = Path(path)
        try:
            sheet = pd.read_csv(path, dtype=str, keep_default_na=False)
        except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise RatingSheetError(f"{path}: cannot read as a CSV rating sheet: {exc}") from exc
        missing = [
            c
            for c in ["item_id", "rater", "response_a", "response_b", *DIMENSIONS]
            if c not in sheet.columns
        ]
        if missing:
            raise RatingSheetError(f"{path}: missing column(s) {missing}")
        for index, row in sheet.iterrows():
            line = int(index) + 2  # header is line 1
            item_id = row["item_id"].strip()
            if item_id not in key_by_item.index:
                raise RatingSheetError(f"{path}: row {line}: field 'item_id': unknown {item_id!r}")
            for side in ("response_a", "response_b"):
                if _text(row[side]) != _text(key_by_item.at[item_id, side]):
                    raise RatingSheetError(
                        f"{path}: row {line}: field {side!r}: text differs from the key "
                        "(sheet and key from different exports?)"
                    )
            values = {d: row[d].strip().lower() for d in DIMENSIONS}
            if not any(values.values()):
                dropped.append({"file": str(path), "row": line, "reason": "no rating"})
                continue
            rater = row["rater"].strip()
            if not rater:
                raise RatingSheetError(f"{path}: row {line}: field 'rater': empty")
            for dimension, value in values.items():
                if not value:
                    continue
                if value not in CHOICES:
                    raise RatingSheetError(
                        f"{path}: row {line}: field {dimension!r}: {row[dimension]!r} is not "
                        "A, B or tie"
                    )
                ratings.append(
                    {
                        "file": str(path),
                        "row": line,
                        "item_id": item_id,
                        "rater": rater,
                        "dimension": dimension,
                        "choice": CHOICES[value],
                    }
                )
    long = pd.DataFrame(ratings, columns=["file", "row", "item_id", "rater", "dimension", "choice"])
    duplicated = long.duplicated(["item_id", "rater", "dimension"], keep=False)
    if duplicated.any():
        first = long[duplicated].iloc[0]
        raise RatingSheetError(
            f"{first['file']}: row {first['row']}: rater {first['rater']!r} rated item "
            f"{first['item_id']!r} more than once"
        )
    return long, pd.DataFrame(dropped, columns=["file", "row", "reason"])


def unblind(ratings: pd.DataFrame, key: pd.DataFrame) -> pd.DataFrame:
    """Add pair, systems and the preferred ``winner`` (a system name or ``tie``)."""
    merged = ratings.merge(
        key[["item_id", "post_id", "thread_id", "pair", "system_a", "system_b"]],
        on="item_id",
        how="left",
    )
    merged["winner"] = np.select(
        [merged["choice"] == "A", merged["choice"] == "B"],
        [merged["system_a"], merged["system_b"]],
        default="tie",
    )
    return merged


def krippendorff_alpha(
    frame: pd.DataFrame,
    unit: str | Sequence[str],
    rater: str,
    value: str,
    level: str = "ordinal",
) -> float:
    """Krippendorff's alpha of ``value`` with units ``unit`` and coders ``rater``.

    Returns NaN when fewer than two raters or no unit coded by two raters.
    """
    import krippendorff

    units = [unit] if isinstance(unit, str) else list(unit)
    matrix = frame.pivot_table(index=rater, columns=units, values=value, aggfunc="first")
    paired = (matrix.notna().sum(axis=0) >= 2).sum()
    if matrix.shape[0] < 2 or paired == 0 or frame[value].nunique() < 2:
        return float("nan")
    return float(
        krippendorff.alpha(
            reliability_data=matrix.to_numpy(dtype=float), level_of_measurement=level
        )
    )


def agreement(ratings: pd.DataFrame, level: str = "ordinal") -> pd.DataFrame:
    """Alpha per dimension and over all dimensions (units = item x dimension)."""
    coded = ratings.assign(code=ratings["choice"].map(ORDINAL_CODE))
    rows = []
    for dimension in [*DIMENSIONS, "all"]:
        subset = coded if dimension == "all" else coded[coded["dimension"] == dimension]
        unit = ["item_id", "dimension"] if dimension == "all" else "item_id"
        rows.append(
            {
                "dimension": dimension,
                "alpha": krippendorff_alpha(subset, unit, "rater", "code", level),
                "level": level,
                "n_items": int(subset["item_id"].nunique()),
                "n_raters": int(subset["rater"].nunique()),
                "n_ratings": len(subset),
            }
        )
    return pd.DataFrame(rows)


def _first_system_outcome(unblinded: pd.DataFrame, pairs: Sequence[Sequence[str]]) -> pd.DataFrame:
    first = {f"{a}_vs_{b}": a for a, b in pairs}
    frame = unblinded[unblinded["pair"].isin(first)].copy()
    frame["first"] = frame["pair"].map(first)
    frame["outcome"] = np.where(
        frame["winner"] == "tie", 0.5, (frame["winner"] == frame["first"]).astype(float)
    )
    return frame


def human_win_rates(
    unblinded: pd.DataFrame,
    pairs: Sequence[Sequence[str]],
    *,
    n_resamples: int = 2000,
    ci: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Win rate of each pair's first system per dimension, bootstrapped over items."""
    frame = _first_system_outcome(unblinded, pairs)
    rows = []
    for k, (a, b) in enumerate(pairs):
        subset = frame[frame["pair"] == f"{a}_vs_{b}"]
        for j, dimension in enumerate(DIMENSIONS):
            per_item = subset[subset["dimension"] == dimension].groupby("item_id")["outcome"]
            row = win_rate_row(per_item.mean().to_numpy(), n_resamples, ci, seed + 10 * k + j)
            rows.append(
                {"source": "human", "dimension": dimension, "system_a": a, "system_b": b, **row}
            )
    return pd.DataFrame(rows)


def dpo2_split(thread_ids: Sequence[str], eval_share: float, seed: int) -> dict[str, str]:
    """``train``/``eval`` per thread from a seeded hash; at least one ``eval`` thread when
    ``eval_share`` > 0 and there are two or more threads."""
    threads = sorted(set(thread_ids))
    draw = {
        t: int.from_bytes(hashlib.sha256(f"{seed}:{t}".encode()).digest()[:8], "big") / 2**64
        for t in threads
    }
    split = {t: "eval" if draw[t] < eval_share else "train" for t in threads}
    if eval_share > 0 and len(threads) > 1 and "eval" not in split.values():
        split[min(threads, key=draw.get)] = "eval"
    return split


def dpo2_pairs(
    unblinded: pd.DataFrame,
    key: pd.DataFrame,
    pairs: Sequence[Sequence[str]],
    min_margin: float = 0.0,
    eval_share: float = 0.0,
    seed: int = 0,
) -> list[dict]:
    """Preference pairs in the ``dpo_gm.jsonl`` row format from the raters' majority.

    ``score_chosen``/``score_rejected`` are the two replies' shares of the rater preference
    in percent (integers, as vote scores are); ``split`` comes from :func:`dpo2_split`.
    """
    frame = _first_system_outcome(unblinded, pairs)
    share = frame.groupby("item_id")["outcome"].mean()
    by_item = key.set_index("item_id")
    split = dpo2_split([str(t) for t in by_item.loc[share.index, "thread_id"]], eval_share, seed)
    rows = []
    for item_id, first_share in share.items():
        if abs(first_share - 0.5) <= min_margin:
            continue
        item = by_item.loc[item_id]
        first_is_a = item["system_a"] == item["pair"].split("_vs_")[0]
        texts = (item["response_a"], item["response_b"])
        first_text, second_text = texts if first_is_a else texts[::-1]
        chosen, rejected = (
            (first_text, second_text) if first_share > 0.5 else (second_text, first_text)
        )
        chosen_share = int(round(100 * max(first_share, 1 - first_share)))
        rows.append(
            {
                "id": f"dpo2-{item_id}",
                "thread_id": str(item["thread_id"]),
                "split": split[str(item["thread_id"])],
                "subreddit": str(item["subreddit"]),
                "prompt": [{"role": "user", "content": str(item["post"])}],
                "chosen": [{"role": "assistant", "content": str(chosen)}],
                "rejected": [{"role": "assistant", "content": str(rejected)}],
                "score_chosen": chosen_share,
                "score_rejected": 100 - chosen_share,
            }
        )
    return rows
