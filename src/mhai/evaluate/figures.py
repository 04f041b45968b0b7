"""Figures of the response evaluation: one per dimension, one for the linguistic analysis."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from mhai.evaluate.generate_responses import SYSTEMS

LINGUISTIC_MEASURES = {
    "accommodation": "style matching (LSM)",
    "semantic_similarity": "similarity to post (cosine)",
    "distinct_1": "distinct-1",
    "distinct_2": "distinct-2",
    "mtld": "MTLD",
    "length_words": "length (words)",
}


def system_order(present: Sequence[str]) -> list[str]:
    """Known systems in their canonical order, then any others alphabetically."""
    present = set(present)
    return [s for s in SYSTEMS if s in present] + sorted(present - set(SYSTEMS))


def _boxes(ax, table: pd.DataFrame, column: str, systems: list[str], seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    data = [pd.to_numeric(table.loc[table["system"] == s, column]).dropna() for s in systems]
    ax.boxplot([d.to_numpy() for d in data], showfliers=False)
    ax.set_xticks(range(1, len(systems) + 1), systems)
    for i, values in enumerate(data, start=1):
        ax.scatter(i + rng.uniform(-0.15, 0.15, len(values)), values, s=8, alpha=0.5)


def dimension_figure(scores: pd.DataFrame, win_rates: pd.DataFrame, dimension: str):
    """Score distribution per system (left) and pairwise win rates with CIs (right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    systems = system_order(scores["system"].unique())
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), width_ratios=[1, 1.2])
    _boxes(left, scores, dimension, systems)
    left.set_ylabel(f"{dimension} score (0-1)")
    left.set_title(f"{dimension}: per-response scores")
    rates = win_rates[win_rates["dimension"] == dimension].reset_index(drop=True)
    labels = [f"{r.system_a} vs {r.system_b} ({r.source})" for r in rates.itertuples()]
    y = np.arange(len(rates))[::-1]
    err = np.vstack([rates["win_rate"] - rates["ci_low"], rates["ci_high"] - rates["win_rate"]])
    colors = ["tab:blue" if s == "automatic" else "tab:orange" for s in rates["source"]]
    right.errorbar(rates["win_rate"], y, xerr=np.nan_to_num(err), fmt="none", ecolor="grey")
    right.scatter(rates["win_rate"], y, c=colors, zorder=3)
    right.axvline(0.5, color="black", lw=0.8, ls="--")
    right.set_yticks(y, labels)
    right.set_xlim(0, 1)
    right.set_xlabel("win rate of the first system (ties = 1/2), 95% bootstrap CI")
    right.set_title(f"{dimension}: pairwise win rates")
    fig.tight_layout()
    return fig


def linguistics_figure(linguistics: pd.DataFrame):
    """Distributions per system of the linguistic measures."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    systems = system_order(linguistics["system"].unique())
    fig, axes = plt.subplots(2, 3, figsize=(13, 7))
    for ax, (column, label) in zip(axes.flat, LINGUISTIC_MEASURES.items(), strict=True):
        _boxes(ax, linguistics, column, systems)
        ax.set_title(label)
        ax.tick_params(axis="x", labelrotation=30)
    fig.tight_layout()
    return fig
