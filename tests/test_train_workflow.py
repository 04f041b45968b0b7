"""The cluster DAG: `snakemake --profile profiles/slurm --configfile config/cluster.yaml -n`.

A dry run plans the training jobs (and what they need) with their SLURM resources without
submitting anything. It runs with a PATH that holds no SLURM binaries, so it must not need
sbatch; the plugin does call `which sacct` to pick its status command, so `which` (and a
shell) stay reachable.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

pytestmark = pytest.mark.workflow


def _jobs(output: str) -> dict[str, list[dict[str, str]]]:
    """Rule name -> list of {resource: value} parsed from a dry run's job listing."""
    jobs: dict[str, list[dict[str, str]]] = {}
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", output):
        match = re.match(r"(?:local)?rule (\w+):", block)
        resources = re.search(r"^\s+resources: (.*)$", block, re.M)
        threads = re.search(r"^\s+threads: (\d+)$", block, re.M)
        if match and resources:
            values = dict(item.split("=", 1) for item in resources.group(1).split(", "))
            values["threads"] = threads.group(1) if threads else "1"
            jobs.setdefault(match.group(1), []).append(values)
    return jobs


TARGETS = [
    *[f"results/train/{m}/{out}" for m in ("gm", "im") for out in ("metrics.json", "merged")],
    # Later rules that run a model: they get one GPU each.
    "results/evaluation/dimensions.csv",
    "results/safety/stress_test.csv",
    "results/safety/personas.csv",
    "results/pilot/safety_ops.json",
]
MODEL_RULES = [
    "evaluate_generate",
    "evaluate_score",
    "safety_stress_test",
    "safety_personas",
    "pilot_sessions",
]


@pytest.fixture(scope="module")
def cluster_plan(repo, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("cluster_plan")
    tools = tmp_path_factory.mktemp("bin")
    for tool in ("which", "sh", "bash"):
        (tools / tool).symlink_to(shutil.which(tool))
    assert shutil.which("sbatch", path=str(tools)) is None
    env = {**os.environ, "PATH": f"{os.path.dirname(sys.executable)}:{tools}"}
    cmd = [
        sys.executable, "-m", "snakemake", *TARGETS, "--snakefile", str(repo / "Snakefile"),
        "--directory", str(workdir), "--profile", str(repo / "profiles" / "slurm"),
        "--configfile", str(repo / "config" / "cluster.yaml"), "-n",
    ]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=repo, env=env)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    return _jobs(output)


@pytest.mark.parametrize("rule", ["train_sft", "train_dpo"])
def test_training_jobs_ask_for_gpus(cluster_plan, rule):
    jobs = cluster_plan[rule]
    assert len(jobs) == 2  # GM and IM
    for resources in jobs:
        assert resources["gpu"] == "4"
        assert resources["cpus_per_gpu"] == "8"
        assert resources["slurm_partition"] == "gpu"
        assert int(resources["mem_mb"]) >= 128000
        assert int(resources["runtime"]) >= 600
        assert "cpus_per_task" not in resources  # it would override cpus_per_gpu


def test_evaluation_and_merge_resources(cluster_plan):
    assert [r["gpu"] for r in cluster_plan["train_evaluate"]] == ["1", "1"]
    for resources in cluster_plan["train_merge"]:
        assert "gpu" not in resources and int(resources["mem_mb"]) >= 32000


@pytest.mark.parametrize("rule", MODEL_RULES)
def test_rules_that_run_a_model_ask_for_one_gpu(cluster_plan, rule):
    (resources,) = cluster_plan[rule]
    assert resources["gpu"] == "1" and resources["slurm_partition"] == "gpu"
    assert resources["cpus_per_gpu"] == "8" and "cpus_per_task" not in resources
    assert int(resources["mem_mb"]) >= 32000 and int(resources["runtime"]) >= 60


def test_cpu_rules_ask_for_no_gpu(cluster_plan):
    for rule in ("prepare_data", "safety_train_classifier", "pilot_cohort", "train_merge"):
        assert all("gpu" not in resources for resources in cluster_plan[rule]), rule


def test_cluster_config_uses_accelerate_and_cluster_recipes(repo):
    from mhai.config import load_config
    from mhai.train.recipes import load_recipe

    config = load_config(repo / "config" / "cluster.yaml")
    assert config["train"]["launcher"] == "accelerate"
    assert config["models"]["base_lm"] == "hf:mistralai/Mistral-7B-Instruct-v0.2"
    for model in ("gm", "im"):
        for step in ("sft", "dpo"):
            recipe = load_recipe(
                repo / config["train"]["recipe_dir"] / model / f"{step}.yaml", step
            )
            assert recipe.model["dtype"] == "bfloat16" and recipe.training["bf16"] is True
            assert recipe.training["activation_checkpointing"] is True


def test_dpo2_round_is_planned_only_when_enabled(repo, tmp_path):
    from conftest import run_snakemake

    override = tmp_path / "dpo2.yaml"
    override.write_text("train:\n  dpo2: {enabled: true, models: [gm]}\n")
    configs = [str(repo / "tests" / "config" / "tiny.yaml"), str(override)]
    targets = ["results/train/gm/merged", "results/train/im/merged"]
    result = run_snakemake(repo, tmp_path, *targets, "-n", "--configfile", *configs)
    jobs = _jobs(result.stdout + result.stderr)
    assert len(jobs["train_dpo2"]) == 1  # GM only
    assert "results/train/gm/dpo2/adapter" in result.stdout
    merge_inputs = re.findall(r"rule train_merge:\n\s+input: ([^\n]*)", result.stdout)
    assert any("results/train/gm/dpo2/adapter" in line for line in merge_inputs)
    assert any("results/train/im/dpo/adapter" in line for line in merge_inputs)
