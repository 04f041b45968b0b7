"""Pairwise win rates between systems with bootstrap confidence intervals.

Method. For systems X and Y and one dimension, each post where both have a score gives an
outcome for X: 1 if X scored higher, 0.5 for a tie (equal within 1e-9), 0 if lower. The win
rate of X over Y is the mean outcome; its confidence interval is the percentile interval of
the mean over ``n_resamples`` bootstrap resamples of posts (seeded). Posts where either score
is missing (NaN) are left out and counted in ``n_missing``. Human ratings use the same
bootstrap over items, after averaging each item's outcomes over raters; there ``wins`` and
``losses`` count items where every rating went one way and ``ties`` the split or tied ones.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

TIE_TOLERANCE = 1e-9


def outcomes(a: Sequence[float], b: Sequence[float]) -> np.ndarray:
    """Per-item outcome for the first system: 1 win, 0.5 tie, 0 loss, NaN if a score is NaN."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    out = np.where(np.abs(a - b) <= TIE_TOLERANCE, 0.5, (a > b).astype(float))
    out[np.isnan(a) | np.isnan(b)] = np.nan
    return out


def bootstrap_mean(
    values: Sequence[float], n_resamples: int = 2000, ci: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """Mean of ``values`` and its percentile bootstrap interval (NaN when empty)."""
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return np.nan, np.nan, np.nan
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, values.size, size=(n_resamples, values.size))].mean(axis=1)
    alpha = (1 - ci) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha])
    return float(values.mean()), float(low), float(high)


def win_rate_row(
    item_outcomes: Sequence[float], n_resamples: int, ci: float, seed: int
) -> dict[str, float | int]:
    """Counts, win rate and bootstrap CI from per-item outcomes (NaN = missing)."""
    values = np.asarray(item_outcomes, dtype=float)
    present = values[~np.isnan(values)]
    rate, low, high = bootstrap_mean(present, n_resamples, ci, seed)
    return {
        "n": int(present.size),
        "n_missing": int(values.size - present.size),
        "wins": float(np.sum(present == 1.0)),
        "ties": float(np.sum((present > 0) & (present < 1))),
        "losses": float(np.sum(present == 0.0)),
        "win_rate": rate,
        "ci_low": low,
        "ci_high": high,
    }


def pairwise_win_rates(
    scores: pd.DataFrame,
    pairs: Sequence[Sequence[str]],
    dimensions: Sequence[str],
    *,
    n_resamples: int = 2000,
    ci: float = 0.95,
    seed: int = 0,
    source: str = "automatic",
) -> pd.DataFrame:
    """Win rates of ``system_a`` over ``system_b`` per dimension, matched on ``post_id``.

    ``scores`` has one row per (post_id, system) and one column per dimension. Pairs whose
    systems are absent are skipped.
    """
    rows = []
    present = set(scores["system"])
    for system_a, system_b in pairs:
        if system_a not in present or system_b not in present:
            continue
        a = scores[scores["system"] == system_a].set_index("post_id")
        b = scores[scores["system"] == system_b].set_index("post_id")
        posts = a.index.intersection(b.index)
        for k, dimension in enumerate(dimensions):
            result = outcomes(a.loc[posts, dimension], b.loc[posts, dimension])
            row = win_rate_row(result, n_resamples, ci, seed + k)
            rows.append(
                {
                    "source": source,
                    "dimension": dimension,
                    "system_a": system_a,
                    "system_b": system_b,
                    **row,
                }
            )
    return pd.DataFrame(
        rows,
        columns=[
            "source",
            "dimension",
            "system_a",
            "system_b",
            "n",
            "n_missing",
            "wins",
            "ties",
            "losses",
            "win_rate",
            "ci_low",
            "ci_high",
        ],
    )
