# Helpers shared by every stage file: paths, seeds and target lists; lookups only.
import os
from pathlib import Path

from mhai.config import config_hash

REPO = Path(workflow.basedir)
RUN_GROUP = f"{config['run_name']}-{config_hash(config)}"

# Each stage file appends its final outputs here; the default target requests them all.
TARGETS = []


def all_targets():
    return TARGETS


def repo_path(relative):
    """A path inside the repository (shipped data, recipes), independent of --directory."""
    return str(REPO / relative)


def log_path(stage, name):
    return f"results/logs/{stage}/{name}.log"


def bench_path(stage, name):
    return f"results/benchmarks/rules/{stage}/{name}.tsv"


# --- train stage helpers ---
def train_steps(model):
    """Training steps of a model in order: sft, dpo and, if enabled for it, dpo2."""
    dpo2 = config["train"]["dpo2"]
    extra = ["dpo2"] if dpo2["enabled"] and model in dpo2["models"] else []
    return ["sft", "dpo", *extra]


def train_recipe(step):
    """The recipe file of a step, with the {model} wildcard left in."""
    name = config["train"]["dpo2"]["recipe"] if step == "dpo2" else step
    return repo_path(f"{config['train']['recipe_dir']}/{{model}}/{name}.yaml")


def train_step_files(name):
    """Input function: results/train/<model>/<step>/<name> for each step of the model."""

    def files(wildcards):
        steps = train_steps(wildcards.model)
        return [f"results/train/{wildcards.model}/{step}/{name}" for step in steps]

    return files


def train_recipes(wildcards):
    """Input function: the recipe of each step of the model, in order."""
    steps = train_steps(wildcards.model)
    return [train_recipe(step).format(model=wildcards.model) for step in steps]


def train_final_adapter(wildcards):
    """Input function: the adapter of the model's last training step."""
    return f"results/train/{wildcards.model}/{train_steps(wildcards.model)[-1]}/adapter"


# --- analysis stage helpers ---
ANALYSIS_TRIAL_TABLES = [
    "participants",
    "assessments",
    "sessions",
    "alliance",
    "social",
]


def analysis_trial_tables():
    """The five trial tables the analysis reads, from config pilot.trial_source."""
    source = os.path.normpath(config["pilot"]["trial_source"])
    return [f"{source}/{table}.parquet" for table in ANALYSIS_TRIAL_TABLES]


def analysis_safety_ops():
    """The pilot's safety_ops.json when the analysis reads the simulated trial; a real export
    has none (flag counts then come from its sessions table)."""
    simulated = (
        os.path.normpath(config["pilot"]["trial_source"]) == "results/pilot/trial"
    )
    return ["results/pilot/safety_ops.json"] if simulated else []
