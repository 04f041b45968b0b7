# Helpers shared by every stage file: paths, seeds and target lists; lookups only.
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
