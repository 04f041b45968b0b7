"""The data card: read it back, flatten it to a table, and draw its histograms."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from mhai.schemas import validate_document

LENGTHS = {
    "post_words": "posts",
    "reply_words": "direct replies",
    "chosen_words": "chosen (GM DPO)",
    "rejected_words": "rejected (GM DPO)",
}
MARGINS = {"margin_gm": "GM pairs", "margin_im": "IM pairs"}


def load_card(path: str | Path) -> dict[str, Any]:
    """Read ``data_card.json`` and check it against ``workflow/schemas/data/data_card``."""
    card = json.loads(Path(path).read_text())
    validate_document(card, "data/data_card", str(path))
    return card


def card_table(card: dict[str, Any]) -> pd.DataFrame:
    """One row per (section, item, split) count: rows, drops by reason, outputs per split."""
    rows = [
        ("rows", "in", "all", card["rows_in"]),
        ("rows", "kept", "all", card["rows_kept"]),
        ("rows", "dropped", "all", card["rows_dropped"]),
    ]
    rows += [("dropped", reason, "all", n) for reason, n in card["dropped"].items()]
    rows += [("threads", "threads", split, n) for split, n in card["threads"].items()]
    for output, counts in card["outputs"].items():
        rows += [("output", output, split, n) for split, n in counts.items()]
    rows += [("safety_category", c, "all", n) for c, n in card["safety_categories"].items()]
    rows += [("deid", kind, "all", n) for kind, n in card["deid_replacements"].items()]
    return pd.DataFrame(rows, columns=["section", "item", "split", "count"])


def _expand(histogram: dict[str, int]) -> tuple[list[int], list[int]]:
    values = sorted(int(v) for v in histogram)
    return values, [histogram[str(v)] for v in values]


def plot_lengths(card: dict[str, Any]):
    """Histograms of word counts: posts, direct replies, chosen and rejected replies."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for key, label in LENGTHS.items():
        values, weights = _expand(card["histograms"][key])
        if values:
            ax.hist(
                values,
                bins=40,
                weights=weights,
                histtype="step",
                linewidth=1.5,
                label=f"{label} (n={sum(weights)}, median {card['lengths'][key]['median']})",
            )
    ax.set_xlabel("words")
    ax.set_ylabel("texts")
    ax.set_title("Lengths of de-identified posts and replies")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_margins(card: dict[str, Any]):
    """Histograms of vote margins (chosen minus rejected score) of the GM and IM pairs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(7, 4))
    for key, label in MARGINS.items():
        values, weights = _expand(card["histograms"][key])
        if values:
            bins = np.geomspace(max(1, values[0]), max(2, values[-1] + 1), 30)
            ax.hist(
                values,
                bins=bins,
                weights=weights,
                histtype="step",
                linewidth=1.5,
                label=f"{label} (n={sum(weights)}, median {card['vote_margins'][key]['median']})",
            )
    pairs = card["config"]["pairs"]
    ax.axvline(
        pairs["min_margin"],
        color="grey",
        linestyle=":",
        label=f"min_margin = {pairs['min_margin']}",
    )
    ax.set_xscale("log")
    ax.set_xlabel("vote margin (score of chosen - score of rejected), log scale")
    ax.set_ylabel("pairs")
    ax.set_title("Vote margins of the preference pairs")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def card_metrics(card: dict[str, Any]) -> dict[str, Any]:
    """Scalar metrics of the card for tracking (rows, drops, totals per output)."""
    return {
        "rows_in": card["rows_in"],
        "rows_kept": card["rows_kept"],
        "rows_dropped": card["rows_dropped"],
        "dropped": card["dropped"],
        "outputs": {name: counts["total"] for name, counts in card["outputs"].items()},
        "vote_margin_median": {k: v["median"] for k, v in card["vote_margins"].items()},
    }
