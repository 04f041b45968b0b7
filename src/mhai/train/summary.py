"""After training: held-out metrics of base, SFT and DPO, a table and the training-curve figure."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from mhai.train import chatdata
from mhai.train.preference_eval import evaluate_steps
from mhai.train.recipes import Recipe

log = logging.getLogger(__name__)


def held_out_rows(
    tokenizer, sft_recipe: Recipe, dpo_recipe: Recipe, sft_path, pairs_path, *, max_rows, max_pairs
):
    """Held-out SFT rows and pairs (the recipes' eval split), fitted like in training."""

    def fit(recipe, rows, source):
        if not rows:
            return []
        return chatdata.fit_to_length(
            tokenizer,
            rows,
            max_length=recipe.max_length,
            min_completion_tokens=recipe.data["min_completion_tokens"],
            overlong="drop",
            source=str(source),
            recipe=str(recipe.path),
        ).rows

    rows = fit(
        sft_recipe, chatdata.load_sft(sft_path, sft_recipe.data["eval_split"], max_rows), sft_path
    )
    pairs = fit(
        dpo_recipe,
        chatdata.load_pairs(pairs_path, dpo_recipe.data["eval_split"], max_pairs),
        pairs_path,
    )
    if not rows or not pairs:
        raise chatdata.TrainingDataError(
            f"no held-out rows to evaluate on (split {sft_recipe.data['eval_split']!r} of "
            f"{sft_path}: {len(rows)} rows, of {pairs_path}: {len(pairs)} pairs)"
        )
    return rows, pairs


def compute_metrics(
    base_dir,
    adapters: dict[str, str],
    recipes: dict[str, Recipe],
    *,
    sft_path,
    pairs_path,
    eval_config: dict[str, Any],
) -> dict[str, dict[str, float]]:
    """``{"base": {...}, "sft": {...}, "dpo": {...}[, "dpo2": {...}]}`` on held-out data."""
    from mhai.models import load_tokenizer

    tokenizer = load_tokenizer(base_dir)
    rows, pairs = held_out_rows(
        tokenizer,
        recipes["sft"],
        recipes["dpo"],
        sft_path,
        pairs_path,
        max_rows=eval_config["max_rows"],
        max_pairs=eval_config["max_pairs"],
    )
    log.info("held-out evaluation: %d SFT rows, %d pairs", len(rows), len(pairs))
    betas = {
        name: float(recipes[name].training.get("beta", 0.1))
        for name in adapters
        if recipes[name].method == "dpo"
    }
    return evaluate_steps(
        base_dir,
        adapters,
        sft_rows=rows,
        pairs=pairs,
        max_length=max(r.max_length for r in recipes.values()),
        batch_size=eval_config["batch_size"],
        normalise=eval_config["normalise"],
        betas=betas,
        dtype=recipes["sft"].model["dtype"],
    )


def metrics_frame(model: str, metrics: dict[str, dict[str, float]]) -> pd.DataFrame:
    """One row per (model, step) with every metric as a column."""
    return pd.DataFrame(
        [{"model": model, "step": step, **values} for step, values in metrics.items()]
    )


def _series(history: list[dict], key: str) -> tuple[list[int], list[float]]:
    points = [(h["step"], h[key]) for h in history if key in h and "step" in h]
    return [p[0] for p in points], [p[1] for p in points]


def training_curves(
    model: str, histories: dict[str, list[dict]], metrics: dict[str, dict[str, float]]
):
    """Figure: SFT and DPO loss by step (train, held-out); DPO's held-out reward accuracy and
    margin by step; held-out log-prob preference accuracy and margin of base, SFT and DPO."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dpo_steps = [s for s in histories if s != "sft"]
    fig, axes = plt.subplots(1, 4, figsize=(17, 3.8))
    for ax, steps, title in ((axes[0], ["sft"], "SFT loss"), (axes[1], dpo_steps, "DPO loss")):
        for step in steps:
            for key, style in (("loss", "-"), ("eval_loss", "o--")):
                x, y = _series(histories[step], key)
                if x:
                    ax.plot(x, y, style, label=f"{step} {'train' if key == 'loss' else 'held-out'}")
        ax.set(title=title, xlabel="step", ylabel="loss")
        ax.legend(fontsize=8)
    ax = axes[2]
    margin_ax = ax.twinx()
    for i, step in enumerate(dpo_steps):
        x, y = _series(histories[step], "eval_rewards/accuracies")
        ax.plot(x, y, "o-", color=f"C{i}", label=f"{step} accuracy")
        x, y = _series(histories[step], "eval_rewards/margins")
        margin_ax.plot(x, y, "s--", color=f"C{i + 2}", label=f"{step} margin")
    ax.set(title="DPO reward on held-out pairs", xlabel="step", ylabel="accuracy", ylim=(0, 1.05))
    margin_ax.set_ylabel("margin (beta x log-ratio)")
    handles = ax.get_legend_handles_labels()
    more = margin_ax.get_legend_handles_labels()
    ax.legend(handles[0] + more[0], handles[1] + more[1], fontsize=8, loc="lower right")
    ax = axes[3]
    names = list(metrics)
    accuracy = [metrics[n]["pref_accuracy"] for n in names]
    bars = ax.bar(names, accuracy, color=[f"C{i}" for i in range(len(names))])
    for bar, name in zip(bars, names, strict=True):
        ax.annotate(
            f"{bar.get_height():.2f}\nmargin {metrics[name]['reward_margin']:.2f}",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    ax.set(title="Held-out preference accuracy", ylabel="accuracy (log-prob)", ylim=(0, 1.25))
    fig.suptitle(f"{model.upper()} training")
    fig.tight_layout()
    return fig


def read_history(path: str | Path) -> list[dict]:
    """The trainer log history stored by a training job."""
    import json

    return json.loads(Path(path).read_text())["history"]
