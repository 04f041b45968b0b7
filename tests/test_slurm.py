"""A small target of the workflow through a real SLURM cluster (snakemake-executor-plugin-slurm).

CI starts a one-node cluster with `.ci/start_slurm.sh` and sets MHAI_REQUIRE_SLURM=1, so the
test cannot silently skip there; elsewhere it skips when no cluster answers.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
from conftest import REPO, run_snakemake

pytestmark = pytest.mark.workflow


def _cluster_up() -> bool:
    if not shutil.which("sinfo"):
        return False
    state = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
    return state.returncode == 0 and any(s in state.stdout for s in ("idle", "mixed"))


@pytest.fixture(scope="module")
def slurm():
    if not _cluster_up():
        if os.environ.get("MHAI_REQUIRE_SLURM") == "1":
            pytest.fail(
                "MHAI_REQUIRE_SLURM=1 but no SLURM cluster answers (see .ci/start_slurm.sh)"
            )
        pytest.skip("no SLURM cluster on this machine")


def test_data_stage_runs_through_sbatch(slurm, tmp_path):
    result = run_snakemake(
        REPO, tmp_path, "results/data/data_card.json",
        "--profile", str(REPO / "profiles" / "slurm"),
        "--configfile", str(REPO / "tests" / "config" / "tiny.yaml"),
        "--jobs", "2",
        "--default-resources", "mem_mb=2000", "runtime=30", "slurm_partition=debug",
        "--slurm-status-command", "squeue",
        "--slurm-init-seconds-before-status-checks", "2",
        "--slurm-keep-successful-logs",
    )  # fmt: skip
    log = result.stdout + result.stderr
    submitted = log.count("has been submitted with SLURM jobid")
    assert submitted >= 2, log[-3000:]  # corpus synthesis and data preparation
    card = json.loads((tmp_path / "results" / "data" / "data_card.json").read_text())
    assert card["rows_kept"] > 0
    slurm_logs = list((tmp_path / ".snakemake" / "slurm_logs").rglob("*.log"))
    assert len(slurm_logs) == submitted, "each submitted job leaves its SLURM log"
