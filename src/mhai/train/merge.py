"""Loading a trained adapter on its base, and merging it into a standalone model folder."""

from __future__ import annotations

import shutil
from pathlib import Path


def load_trained(
    base_dir: str | Path, adapter_dir: str | Path, merge: bool = True, dtype: str = "float32"
):
    """The base model with a LoRA adapter applied (merged into the weights by default)."""
    from peft import PeftModel

    from mhai.models import load_causal_lm

    model = PeftModel.from_pretrained(load_causal_lm(base_dir, dtype=dtype), str(adapter_dir))
    return model.merge_and_unload() if merge else model


def merge_adapter(
    base_dir: str | Path, adapter_dir: str | Path, out_dir: str | Path, dtype: str = "float32"
) -> Path:
    """Write base + adapter as one safetensors model with the base tokenizer in ``out_dir``."""
    from mhai.models import load_tokenizer

    out_dir = Path(out_dir)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    model = load_trained(base_dir, adapter_dir, dtype=dtype)
    tokenizer = load_tokenizer(base_dir)
    model.config.pad_token_id = tokenizer.pad_token_id
    if model.generation_config is not None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    return out_dir
