"""Configuration helpers: loading, validation and a stable hash that names a run."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

from mhai.schemas import REPO_ROOT, SchemaError, validate_document

DEFAULT_CONFIG = REPO_ROOT / "config" / "config.yaml"


def config_hash(config: dict[str, Any], length: int = 8) -> str:
    """A short, order-independent hash of a config (names the W&B group, stamps results)."""
    canonical = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:length]


def deep_update(base: dict, override: dict) -> dict:
    """Recursively merge ``override`` into a copy of ``base`` (as Snakemake merges configs)."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_update(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_config(*overrides: str | Path) -> dict[str, Any]:
    """The default config merged with override files, validated against the config schema."""
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    for path in overrides:
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"config file not found: {path}")
        config = deep_update(config, yaml.safe_load(path.read_text()) or {})
    validate_document(config, "config", source=", ".join(map(str, overrides)) or "config")
    return config


__all__ = ["SchemaError", "config_hash", "deep_update", "load_config"]
