"""The tiny run leaves one offline W&B group holding every stage's metrics, tables and figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mhai.tracking import OfflineRun, read_offline_run

pytestmark = pytest.mark.workflow

STAGES = {"data", "train", "safety", "evaluate", "pilot", "analysis"}


@pytest.fixture(scope="module")
def group_runs(tiny_run: Path) -> list[OfflineRun]:
    """The offline runs of this workflow run's group (read back from the .wandb files)."""
    manifest = json.loads((tiny_run / "results" / "provenance.json").read_text())
    group = f"{manifest['run_name']}-{manifest['config_hash']}"
    dirs = sorted((tiny_run / "results" / "wandb" / "wandb").glob("offline-run-*"))
    runs = [read_offline_run(d) for d in dirs]
    assert runs, "no offline W&B runs under results/wandb"
    return [r for r in runs if r.group == group]


def test_every_stage_logged_metrics_in_one_group(group_runs):
    by_stage: dict[str, list[OfflineRun]] = {}
    for run in group_runs:
        by_stage.setdefault(run.job_type, []).append(run)
    assert set(by_stage) >= STAGES, f"stages without a W&B run: {STAGES - set(by_stage)}"
    for stage in STAGES:
        numbers = [
            key
            for run in by_stage[stage]
            for key, value in run.summary.items()
            if not key.startswith("_") and isinstance(value, int | float)
        ]
        assert numbers, f"stage {stage} logged no numeric metric"


def test_every_figure_on_disk_is_logged_as_an_image(tiny_run, group_runs):
    images = {}
    for run in group_runs:
        for key, meta in run.logged("image-file").items():
            images[(run.job_type, key)] = run.path / "files" / meta["path"]
    figures = sorted((tiny_run / "results" / "figures").glob("*.png"))
    assert figures
    for figure in figures:
        stage, name = figure.stem.split("_", 1)
        logged = images.get((stage, f"{stage}/{name}"))
        assert logged is not None, f"{figure.name} was not logged to W&B"
        assert logged.stat().st_size > 0
    assert {stage for stage, _ in images} >= STAGES


def test_logged_tables_are_readable_with_rows(group_runs):
    tables = {}
    for run in group_runs:
        for key, meta in run.logged("table-file").items():
            table = json.loads((run.path / "files" / meta["path"]).read_text())
            assert table["columns"] and table["data"], key
            assert len(table["data"]) == meta["nrows"]
            tables[key] = table
    stages = {key.split("/", 1)[0] for key in tables}
    assert stages >= STAGES, f"stages without a W&B table: {STAGES - stages}"
    for key in ("analysis/paper_table", "safety/stress_test_table", "safety/personas_table"):
        assert key in tables, f"{key} missing from W&B"
