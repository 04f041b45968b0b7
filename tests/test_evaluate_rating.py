"""Pairwise win rates, the blinded rating-sheet round trip, Krippendorff's alpha, DPO2 pairs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mhai.evaluate import rating_sheet as rs
from mhai.evaluate.pairwise import bootstrap_mean, outcomes, pairwise_win_rates
from mhai.schemas import validate_records

EXAMPLE = "tests/data/evaluate"
PAIRS = [["dpo", "sft"], ["dpo", "human"], ["im", "draft"]]
TEXT = {
    "dpo": "I'm so sorry, that sounds hard. Try a short walk tonight.",
    "sft": "That is unfortunate.",
    "human": "Hang in there friend.",
    "im": "That sounds heavy. It might help to write it down.",
    "draft": "Write it down.",
}


def _responses(n_posts: int = 6) -> pd.DataFrame:
    rows = []
    for i in range(n_posts):
        for system, text in TEXT.items():
            rows.append(
                {
                    "response_id": f"p{i}:{system}",
                    "post_id": f"p{i}",
                    "thread_id": f"t{i}",
                    "subreddit": "test",
                    "system": system,
                    "post": f"post number {i}",
                    "prompt": f"post number {i}",
                    "response": f"{text} ({i})",
                    "source": "test",
                }
            )
    return pd.DataFrame(rows)


def test_outcomes_count_ties_as_half_and_skip_missing():
    result = outcomes([0.9, 0.5, 0.1, np.nan], [0.1, 0.5, 0.9, 0.3])
    assert list(result[:3]) == [1.0, 0.5, 0.0] and np.isnan(result[3])


def test_win_rates_and_bootstrap_interval():
    scores = pd.DataFrame(
        {
            "post_id": ["a", "b", "c", "d"] * 2,
            "system": ["x"] * 4 + ["y"] * 4,
            "empathy": [1.0, 1.0, 0.5, 0.0, 0.0, 0.0, 0.5, 1.0],
        }
    )
    rates = pairwise_win_rates(scores, [["x", "y"], ["x", "absent"]], ["empathy"], seed=1)
    assert len(rates) == 1
    row = rates.iloc[0]
    assert (row["wins"], row["ties"], row["losses"]) == (2, 1, 1)
    assert row["win_rate"] == pytest.approx(2.5 / 4)
    assert row["ci_low"] <= row["win_rate"] <= row["ci_high"]
    assert bootstrap_mean([1.0] * 5) == (1.0, 1.0, 1.0)
    assert bootstrap_mean([0.0, 1.0], seed=3) == bootstrap_mean([0.0, 1.0], seed=3)


def test_alpha_matches_krippendorffs_textbook_example():
    """Krippendorff (2011), 'Computing Krippendorff's alpha-reliability', 4 coders x 12 units."""
    nan = np.nan
    data = {
        "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
        "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
        "C": [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
        "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
    }
    frame = pd.DataFrame(
        [
            {"unit": u, "rater": r, "value": v}
            for r, values in data.items()
            for u, v in enumerate(values)
            if not np.isnan(v)
        ]
    )
    assert rs.krippendorff_alpha(frame, "unit", "rater", "value", "nominal") == pytest.approx(
        0.743, abs=5e-4
    )
    assert rs.krippendorff_alpha(frame, "unit", "rater", "value", "interval") == pytest.approx(
        0.849, abs=5e-4
    )
    one_rater = frame[frame["rater"] == "A"]
    assert np.isnan(rs.krippendorff_alpha(one_rater, "unit", "rater", "value"))


def test_rating_sheet_is_blinded_and_randomised():
    sheet, key = rs.export_rating_sheet(_responses(), PAIRS, seed=3)
    assert list(sheet.columns) == rs.SHEET_COLUMNS
    assert len(sheet) == 6 * len(PAIRS) and sheet["item_id"].is_unique
    text = " ".join(sheet.astype(str).to_numpy().ravel())
    for system in TEXT:
        assert f" {system} " not in f" {text} "
    dpo_sft = key[key["pair"] == "dpo_vs_sft"]
    assert set(dpo_sft["system_a"]) == {"dpo", "sft"}  # both orders occur
    assert list(key["post_id"]) != sorted(key["post_id"])  # items are shuffled
    again, _ = rs.export_rating_sheet(_responses(), PAIRS, seed=3)
    pd.testing.assert_frame_equal(sheet, again)


def _fill(sheet: pd.DataFrame, rater: str, prefer: str) -> pd.DataFrame:
    """A rater who always picks the reply that starts like ``prefer``'s text, else tie."""
    filled = sheet.copy()
    filled["rater"] = rater
    marker = TEXT[prefer][:12]
    choice = np.where(
        filled["response_a"].str.startswith(marker),
        "A",
        np.where(filled["response_b"].str.startswith(marker), "B", "tie"),
    )
    for dimension in rs.DIMENSIONS:
        filled[dimension] = choice
    return filled


def test_round_trip_unblinds_to_the_preferred_system(tmp_path):
    sheet, key = rs.export_rating_sheet(_responses(), PAIRS, seed=5)
    paths = []
    for rater in ("r1", "r2"):
        path = tmp_path / f"{rater}.csv"
        _fill(sheet, rater, "dpo").to_csv(path, index=False)
        paths.append(path)
    ratings, dropped = rs.read_filled_sheets(paths, key)
    assert dropped.empty and len(ratings) == 2 * len(sheet) * len(rs.DIMENSIONS)
    unblinded = rs.unblind(ratings, key)
    dpo_items = unblinded[unblinded["pair"].str.startswith("dpo")]
    assert (dpo_items["winner"] == "dpo").all()
    assert (unblinded.loc[unblinded["pair"] == "im_vs_draft", "winner"] == "tie").all()
    rates = rs.human_win_rates(unblinded, PAIRS, n_resamples=200)
    by_pair = rates.set_index(["system_a", "system_b", "dimension"]).sort_index()["win_rate"]
    assert by_pair.loc[("dpo", "sft")].eq(1.0).all()
    assert by_pair.loc[("im", "draft")].eq(0.5).all()
    alpha = rs.agreement(ratings).set_index("dimension")["alpha"]
    assert alpha["all"] == pytest.approx(1.0)
    pairs = rs.dpo2_pairs(unblinded, key, PAIRS)
    assert len(pairs) == 12  # 6 posts x (dpo_vs_sft, dpo_vs_human); im_vs_draft are ties
    assert all(p["chosen"][0]["content"].startswith(TEXT["dpo"][:12]) for p in pairs)
    validate_records(pairs, "data/dpo_gm", "dpo2")


def test_shipped_example_sheet_imports_with_hand_computed_win_rates(repo):
    key = pd.read_csv(repo / EXAMPLE / "rating_key.csv", dtype=str, keep_default_na=False)
    ratings, dropped = rs.read_filled_sheets([repo / EXAMPLE / "ratings_filled.csv"], key)
    assert len(dropped) == 1 and dropped.iloc[0]["reason"] == "no rating"
    assert ratings["rater"].nunique() == 3 and len(ratings) == 3 * 9 * 5
    unblinded = rs.unblind(ratings, key)
    rates = rs.human_win_rates(unblinded, PAIRS, n_resamples=200).set_index(
        ["system_a", "system_b", "dimension"]
    )
    # dpo vs sft, empathy: items 002 and 004 all three raters pick dpo; item 007 two do, one tie
    assert rates.loc[("dpo", "sft", "empathy"), "win_rate"] == pytest.approx((1 + 1 + 5 / 6) / 3)
    # im vs draft, safety: ties on items 003 and 006, all pick im on item 009
    assert rates.loc[("im", "draft", "safety"), "win_rate"] == pytest.approx((0.5 + 0.5 + 1) / 3)
    alpha = rs.agreement(ratings)
    assert alpha["alpha"].between(-1, 1).all()
    pairs = {p["id"]: p for p in rs.dpo2_pairs(unblinded, key, PAIRS)}
    assert len(pairs) == 9
    human_reply = key.set_index("item_id").loc["item005", "response_b"]
    assert pairs["dpo2-item005"]["chosen"][0]["content"] == human_reply  # 7/15 for dpo
    assert pairs["dpo2-item005"]["score_chosen"] == 53  # round(100 * 8 / 15)
    assert pairs["dpo2-item001"]["score_chosen"] == 73  # round(100 * 11 / 15)
    assert {p["split"] for p in pairs.values()} == {"train"}  # eval_share 0 by default


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("item_id", "item999", "field 'item_id': unknown"),
        ("empathy", "C", "field 'empathy': 'C' is not A, B or tie"),
        ("response_a", "edited text", "field 'response_a': text differs"),
        ("rater", "", "field 'rater': empty"),
    ],
)
def test_bad_sheets_name_file_row_and_field(tmp_path, column, value, message):
    sheet, key = rs.export_rating_sheet(_responses(2), PAIRS, seed=1)
    filled = _fill(sheet, "r1", "dpo")
    filled.loc[1, column] = value
    path = tmp_path / "bad.csv"
    filled.to_csv(path, index=False)
    with pytest.raises(rs.RatingSheetError, match=rf"bad\.csv: row 3: {message}"):
        rs.read_filled_sheets([path], key)


def test_dpo2_split_is_seeded_and_keeps_an_eval_thread():
    threads = [f"t{i}" for i in range(10)]
    split = rs.dpo2_split(threads, 0.2, seed=1)
    assert split == rs.dpo2_split(list(reversed(threads)), 0.2, seed=1)
    assert "eval" in split.values() and "train" in split.values()
    assert set(rs.dpo2_split(threads, 0.0, seed=1).values()) == {"train"}
    assert list(rs.dpo2_split(["a", "b"], 0.01, seed=0).values()).count("eval") == 1
