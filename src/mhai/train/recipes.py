"""Training recipes: YAML files with ``model``, ``data``, ``lora`` and ``training`` sections.

A recipe fixes the hyper-parameters of one method (SFT or DPO) for one model (GM or IM), in
the style of the alignment-handbook: ``training`` holds ``trl.SFTConfig`` / ``trl.DPOConfig``
arguments, ``lora`` holds ``peft.LoraConfig`` arguments. Paths (base model, data, outputs)
come from the workflow, not from the recipe. Every key is checked: an unknown key, a wrong
section or a value the pipeline sets itself stops with a message naming the recipe file.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

METHODS = ("sft", "dpo")
SECTIONS = ("method", "model", "data", "lora", "training")

MODEL_KEYS = {
    "dtype": "float32",  # torch dtype of the base weights: float32 | bfloat16 | float16
    "attn_implementation": None,  # e.g. sdpa, flash_attention_2; None lets transformers pick
}
DATA_KEYS = {
    "train_split": "train",  # rows of this split train the model
    "eval_split": "eval",  # rows of this split are held out for evaluation during training
    "max_train_rows": None,  # cap on training rows (None: all)
    "max_eval_rows": 32,  # cap on held-out rows evaluated at each eval step
    "min_completion_tokens": 8,  # a prompt must leave this many tokens for the response
    "overlong": "error",  # rows whose prompt does not fit: error | drop (counted and logged)
}
# Arguments the pipeline sets itself; a recipe may not override them.
RESERVED_TRAINING_KEYS = {
    "output_dir",
    "report_to",
    "run_name",
    "seed",
    "data_seed",
    "resume_from_checkpoint",
    "push_to_hub",
    "hub_model_id",
    "trust_remote_code",
    "model_init_kwargs",
}


class RecipeError(ValueError):
    """A recipe that cannot be used; the message names the file and the key."""


@dataclass
class Recipe:
    """A validated recipe; ``training`` and ``lora`` are keyword arguments for trl/peft."""

    path: Path
    method: str
    model: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    lora: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The recipe as plain data (for model cards and W&B config)."""
        return {
            "method": self.method,
            "model": self.model,
            "data": self.data,
            "lora": self.lora,
            "training": self.training,
        }

    @property
    def max_length(self) -> int:
        return int(self.training["max_length"])


def _config_class(method: str):
    from trl import DPOConfig, SFTConfig

    return {"sft": SFTConfig, "dpo": DPOConfig}[method]


def _field_names(cls) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def _check_keys(section: str, values: dict, allowed: set[str], path: Path) -> None:
    unknown = sorted(set(values) - allowed)
    if unknown:
        hint = f" (allowed: {', '.join(sorted(allowed))})" if len(allowed) < 20 else ""
        raise RecipeError(
            f"recipe {path}: unknown key(s) in '{section}': {', '.join(unknown)}{hint}"
        )


def load_recipe(path: str | Path, method: str | None = None) -> Recipe:
    """Read and validate a recipe file; ``method`` (if given) must match the recipe's."""
    from peft import LoraConfig

    path = Path(path)
    if not path.is_file():
        raise RecipeError(f"recipe {path}: file not found")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise RecipeError(f"recipe {path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise RecipeError(f"recipe {path}: top level must be a mapping of sections")
    _check_keys("(top level)", raw, set(SECTIONS), path)
    recipe_method = raw.get("method")
    if recipe_method not in METHODS:
        raise RecipeError(
            f"recipe {path}: 'method' must be one of {METHODS}, got {recipe_method!r}"
        )
    if method is not None and recipe_method != method:
        raise RecipeError(
            f"recipe {path}: is a {recipe_method!r} recipe, but {method!r} was expected"
        )
    sections = {}
    for name in ("model", "data", "lora", "training"):
        value = raw.get(name) or {}
        if not isinstance(value, dict):
            raise RecipeError(f"recipe {path}: section '{name}' must be a mapping")
        sections[name] = value
    _check_keys("model", sections["model"], set(MODEL_KEYS), path)
    _check_keys("data", sections["data"], set(DATA_KEYS), path)
    lora_fields = _field_names(LoraConfig) - {"peft_type", "task_type", "base_model_name_or_path"}
    _check_keys("lora", sections["lora"], lora_fields, path)
    training = sections["training"]
    reserved = sorted(set(training) & RESERVED_TRAINING_KEYS)
    if reserved:
        raise RecipeError(
            f"recipe {path}: 'training' may not set {', '.join(reserved)} (the pipeline sets them)"
        )
    _check_keys("training", training, _field_names(_config_class(recipe_method)), path)
    if not isinstance(training.get("max_length"), int) or training["max_length"] < 16:
        raise RecipeError(f"recipe {path}: training.max_length must be an integer >= 16")
    data = {**DATA_KEYS, **sections["data"]}
    if data["overlong"] not in ("error", "drop"):
        raise RecipeError(f"recipe {path}: data.overlong must be 'error' or 'drop'")
    return Recipe(
        path=path,
        method=recipe_method,
        model={**MODEL_KEYS, **sections["model"]},
        data=data,
        lora=dict(sections["lora"]),
        training=dict(training),
    )


def lora_config(recipe: Recipe):
    """The ``peft.LoraConfig`` of a recipe (causal-LM task)."""
    from peft import LoraConfig

    try:
        return LoraConfig(task_type="CAUSAL_LM", **recipe.lora)
    except (TypeError, ValueError) as exc:
        raise RecipeError(f"recipe {recipe.path}: invalid 'lora' section: {exc}") from exc


def trainer_config(
    recipe: Recipe, output_dir: str | Path, *, seed: int, report_to: list[str], run_name: str
):
    """The trl ``SFTConfig``/``DPOConfig`` of a recipe, with the pipeline's own settings."""
    cls = _config_class(recipe.method)
    kwargs = {
        "logging_steps": 1,
        "disable_tqdm": False,
        "save_strategy": "steps",
        "eval_strategy": "steps",
        "include_num_input_tokens_seen": "non_padding",
        **recipe.training,
        "output_dir": str(output_dir),
        "report_to": report_to,
        "run_name": run_name,
        "seed": seed,
        "data_seed": seed,
    }
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise RecipeError(f"recipe {recipe.path}: invalid 'training' section: {exc}") from exc
