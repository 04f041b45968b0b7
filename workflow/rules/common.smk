# Helpers shared by every rule file: paths, seeds, target lists. No logic beyond lookups.
from pathlib import Path

from mhai.config import config_hash

REPO = Path(workflow.basedir)
RUN_GROUP = f"{config['run_name']}-{config_hash(config)}"

# Each stage's rule file appends its final outputs here; `rule all` requests them.
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
