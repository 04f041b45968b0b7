"""The whole workflow on the tiny config, plus the conventions the DAG must keep."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import run_snakemake

pytestmark = pytest.mark.workflow

KEY_OUTPUTS = [
    "results/models/base_lm/model.safetensors",
    "results/models/embedding/modules.json",
]


def test_tiny_workflow_writes_key_outputs(tiny_run):
    missing = [p for p in KEY_OUTPUTS if not (tiny_run / p).exists()]
    assert not missing, f"missing outputs: {missing}"


def test_every_rule_writes_log_and_benchmark(tiny_run):
    logs = list((tiny_run / "results" / "logs").rglob("*.log"))
    benchmarks = list((tiny_run / "results" / "benchmarks" / "rules").rglob("*.tsv"))
    assert logs and len(logs) == len(benchmarks)


def test_rerun_has_nothing_to_do(tiny_run, repo):
    result = run_snakemake(
        repo, tiny_run, "--configfile", str(repo / "tests/config/tiny.yaml"), "-n", "--quiet"
    )
    assert "Nothing to be done" in result.stdout + result.stderr


def test_snakemake_lint_is_clean(repo, tmp_path):
    result = run_snakemake(repo, tmp_path, "--lint", check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]


def test_snakefmt_and_ruff_are_clean(repo):
    bin_dir = f"{sys.prefix}/bin"
    for cmd in (
        [f"{bin_dir}/snakefmt", "--check", "Snakefile", "workflow/rules"],
        [f"{bin_dir}/ruff", "check", "src", "tests", "benchmarks", "workflow/scripts"],
        [f"{bin_dir}/ruff", "format", "--check", "src", "tests", "benchmarks", "workflow/scripts"],
    ):
        result = subprocess.run(cmd, capture_output=True, text=True, cwd=repo)
        assert result.returncode == 0, f"{cmd[0]}: {result.stdout[-3000:]}{result.stderr[-3000:]}"


def test_unknown_config_key_stops_the_run(repo, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("data_typo: 1\n")
    result = run_snakemake(repo, tmp_path, "--configfile", str(bad), "-n", check=False)
    assert result.returncode != 0
    assert "data_typo" in result.stdout + result.stderr


def test_data_card_accounting(tiny_run):
    card_path = tiny_run / "results" / "data" / "data_card.json"
    if not card_path.exists():
        pytest.skip("data stage not in the DAG yet")
    card = json.loads(card_path.read_text())
    assert card["rows_in"] == card["rows_kept"] + sum(card["dropped"].values())
