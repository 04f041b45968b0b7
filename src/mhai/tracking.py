"""Experiment tracking with Weights & Biases, offline by default.

Every stage opens one run with :func:`stage_run`. Runs of one workflow share a W&B *group*
(``<run_name>-<config hash>``) and each stage has its own *job type*, so `wandb sync
results/wandb` uploads one tidy group per workflow run. Figures are always written to
``results/figures/<stage>_<name>.{png,svg}`` as well, whether or not W&B is enabled.
:func:`read_offline_run` reads an offline run back (for checks, notebooks, or before syncing).
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
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

    def log_history(self, history: list[dict[str, Any]], prefix: str) -> None:
        """Log a trainer's ``log_history`` as curves ``<prefix>/<key>`` over ``<prefix>/step``."""
        self.run.define_metric(f"{prefix}/*", step_metric=f"{prefix}/step")
        for record in history:
            if "step" not in record:
                continue
            values = {
                f"{prefix}/{key}": value
                for key, value in record.items()
                if isinstance(value, int | float) and not isinstance(value, bool)
            }
            self.run.log(values | {f"{prefix}/step": record["step"]})

    def log_table(self, name: str, frame: pd.DataFrame) -> None:
        """Log a DataFrame as a ``wandb.Table`` under ``<stage>/<name>_table``.

        The suffix keeps a table and a figure of the same name from overwriting each other.
        """
        import wandb

        table = wandb.Table(dataframe=frame.reset_index(drop=True))
        self.run.log({f"{self.stage}/{name}_table": table})

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


# An offline ``run-*.wandb`` file is a LevelDB-style log: a 7-byte file header, then 32 KiB
# blocks of records (crc32, length, type: full/first/middle/last) holding protobuf ``Record``s.
_WANDB_MAGIC = b":W&B"
_BLOCK = 32768
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4


@dataclass
class OfflineRun:
    """What one offline W&B run recorded: identity, logged values (last per key), summary."""

    path: Path
    group: str = ""
    job_type: str = ""
    name: str = ""
    history: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)

    def logged(self, wandb_type: str) -> dict[str, dict]:
        """Logged media of one W&B type (``image-file``, ``table-file``) by key."""
        keys = {k.rsplit("/", 1)[0] for k in self.history if k.endswith("/_type")}
        return {
            key: {
                k.rsplit("/", 1)[1]: v for k, v in self.history.items() if k.startswith(key + "/")
            }
            for key in keys
            if self.history[f"{key}/_type"] == wandb_type
        }


def _wandb_records(path: Path) -> Iterator[bytes]:
    data = path.read_bytes()
    if data[:4] != _WANDB_MAGIC:
        raise ValueError(f"{path}: not a W&B run file (bad header)")
    pos, pending = 7, b""
    while pos + 7 <= len(data):
        left = _BLOCK - pos % _BLOCK
        if left < 7:  # block trailer padding
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if kind == 0:  # zero padding up to the block end
            pos += left
            continue
        chunk = data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind == _FULL:
            yield chunk
        elif kind == _FIRST:
            pending = chunk
        elif kind == _MIDDLE:
            pending += chunk
        elif kind == _LAST:
            yield pending + chunk


def _item_key(item) -> str:
    return item.key or "/".join(item.nested_key)


def read_offline_run(run_dir: Path) -> OfflineRun:
    """Read an ``offline-run-*`` directory's ``.wandb`` file back into an :class:`OfflineRun`."""
    from wandb.proto import wandb_internal_pb2 as pb

    run_dir = Path(run_dir)
    files = list(run_dir.glob("run-*.wandb"))
    if len(files) != 1:
        raise FileNotFoundError(f"{run_dir}: expected one run-*.wandb file, found {len(files)}")
    run = OfflineRun(run_dir)
    for raw in _wandb_records(files[0]):
        record = pb.Record()
        record.ParseFromString(raw)
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run.group, run.job_type = record.run.run_group, record.run.job_type
            run.name = record.run.display_name
        elif kind == "history":
            run.history.update(
                {_item_key(i): json.loads(i.value_json) for i in record.history.item}
            )
        elif kind == "summary":
            run.summary.update(
                {_item_key(i): json.loads(i.value_json) for i in record.summary.update}
            )
    return run
