"""Provenance: which code, config and packages made each result file."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from mhai.config import config_hash
from mhai.schemas import REPO_ROOT

KEY_PACKAGES = (
    "mhai", "torch", "transformers", "trl", "peft", "datasets", "accelerate",
    "sentence-transformers", "snakemake", "wandb", "statsmodels", "stepmix", "scikit-learn",
    "numpy", "pandas", "krippendorff", "evaluate", "textstat",
)  # fmt: skip


def git_commit(repo: Path = REPO_ROOT) -> str:
    """The checked-out commit, suffixed ``-dirty`` when tracked files changed; else ``unknown``."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=repo, capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit}-dirty" if dirty else commit


def package_versions(names: tuple[str, ...] = KEY_PACKAGES) -> dict[str, str]:
    """Installed versions of the packages that shape results."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def python_speed_ms(repeats: int = 5) -> float:
    """CPU milliseconds of a fixed pure-Python loop (the sum of the squares of the first
    million integers), best of ``repeats``: a yardstick for per-core figures measured on
    different machines, which differ by 2x among machines of the same kind here."""
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        sum(i * i for i in range(1_000_000))
        best = min(best, time.process_time() - started)
    return round(best * 1000, 1)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            return next(
                (line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")),
                platform.processor(),
            )
    except OSError:
        return platform.processor()


def machine(**extra: Any) -> dict[str, Any]:
    """What a benchmark report says of the machine it ran on: platform, Python, CPU model and
    count, load averages (1, 5, 15 min) and :func:`python_speed_ms`; ``extra`` adds keys."""
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        "load_average_1_5_15min": [round(x, 2) for x in os.getloadavg()],
        "python_speed_ms": python_speed_ms(),
        **extra,
    }


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def build_manifest(config: dict[str, Any], results: Path, exclude: tuple[str, ...] = ()) -> dict:
    """Provenance of a run plus the SHA-256 of every file under ``results`` (logs excluded)."""
    skip = ("logs", "wandb", "benchmarks", *exclude)
    files = {
        str(path.relative_to(results)): file_sha256(path)
        for path in sorted(results.rglob("*"))
        if path.is_file() and path.relative_to(results).parts[0] not in skip
    }
    return {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "config_hash": config_hash(config),
        "run_name": config["run_name"],
        "seed": config["seed"],
        "python": platform.python_version(),
        "packages": package_versions(),
        "files": files,
    }


def write_manifest(config: dict[str, Any], results: Path, output: Path) -> dict:
    """Write the manifest JSON (itself excluded from the file list)."""
    manifest = build_manifest(config, results, exclude=(output.name,))
    output.write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest
