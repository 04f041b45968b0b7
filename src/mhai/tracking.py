"""Experiment tracking with Weights & Biases, offline by default.

Every stage opens one run with :func:`stage_run`. Runs of one workflow share a W&B *group*
(``<run_name>-<config hash>``) and each stage has its own *job type*, so `wandb sync
results/wandb` uploads one tidy group per workflow run. Figures are always written to
``results/figures/<stage>_<name>.{png,svg}`` as well, whether or not W&B is enabled.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from mhai.config import config_hash

RESULTS = Path("results")


def run_group(config: dict[str, Any]) -> str:
    """The W&B group shared by every stage of one workflow run."""
    return f"{config['run_name']}-{config_hash(config)}"


class StageRun:
    """A thin wrapper over a W&B run that also writes figures to disk."""

    def __init__(self, run, stage: str, figures_dir: Path):
        self.run = run
        self.stage = stage
        self.figures_dir = figures_dir

    def log_metrics(self, metrics: dict[str, Any], prefix: str | None = None) -> None:
        """Log scalar metrics (nested dicts are flattened to ``a/b`` keys) and set summary."""
        flat = _flatten(metrics, prefix or self.stage)
        self.run.log(flat)
        self.run.summary.update(flat)

    def log_table(self, name: str, frame: pd.DataFrame) -> None:
        """Log a DataFrame as a ``wandb.Table``."""
        import wandb

        self.run.log({f"{self.stage}/{name}": wandb.Table(dataframe=frame.reset_index(drop=True))})

    def save_figure(self, fig, name: str) -> list[Path]:
        """Write ``<stage>_<name>.png`` and ``.svg`` and log the PNG as a W&B image."""
        import matplotlib.pyplot as plt
        import wandb

        self.figures_dir.mkdir(parents=True, exist_ok=True)
        paths = [self.figures_dir / f"{self.stage}_{name}.{ext}" for ext in ("png", "svg")]
        for path in paths:
            fig.savefig(path, dpi=150, bbox_inches="tight")
        self.run.log({f"{self.stage}/{name}": wandb.Image(str(paths[0]))})
        plt.close(fig)
        return paths


def _flatten(metrics: dict[str, Any], prefix: str) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in metrics.items():
        name = f"{prefix}/{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, name))
        elif isinstance(value, int | float | bool) or value is None:
            flat[name] = value
    return flat


@contextmanager
def stage_run(
    stage: str, config: dict[str, Any], name: str | None = None, results: Path = RESULTS
) -> Iterator[StageRun]:
    """Open a W&B run for one stage (offline under ``results/wandb`` unless configured)."""
    import wandb

    tracking = config["tracking"]
    wandb_dir = results / "wandb"
    wandb_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("WANDB_SILENT", "true")
    run = wandb.init(
        project=tracking["project"],
        entity=tracking.get("entity"),
        group=run_group(config),
        job_type=stage,
        name=f"{stage}-{name}" if name else stage,
        config=config,
        dir=str(wandb_dir),
        mode=tracking["mode"],
        reinit="finish_previous",
        settings=wandb.Settings(console="off", x_disable_stats=True),
    )
    try:
        yield StageRun(run, stage, results / "figures")
    finally:
        run.finish()
