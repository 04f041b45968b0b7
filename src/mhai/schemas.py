"""JSON-schema checks for the config and for every table passed between rules.

Schemas live in ``workflow/schemas/`` as YAML: ``config.schema.yaml`` for the config and one
``<name>.schema.yaml`` per table, describing a single row. Errors name the file, the row and
the field, so bad input never surfaces as a traceback from deep inside a library.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from jsonschema.validators import validator_for

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA_DIR = Path(os.environ.get("MHAI_SCHEMA_DIR", REPO_ROOT / "workflow" / "schemas"))


class SchemaError(ValueError):
    """A document or table row that breaks its schema; the message names where."""


@cache
def load_schema(name: str) -> dict[str, Any]:
    """Load ``workflow/schemas/<name>.schema.yaml`` (``name`` may contain a sub-folder)."""
    path = SCHEMA_DIR / f"{name}.schema.yaml"
    if not path.exists():
        raise FileNotFoundError(f"no schema named {name!r} (looked for {path})")
    return yaml.safe_load(path.read_text())


def _where(error) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "(top level)"


def validate_document(document: Any, schema_name: str, source: str) -> None:
    """Validate one document (e.g. the config); raise ``SchemaError`` naming key and reason."""
    schema = load_schema(schema_name)
    validator = validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"  {_where(e)}: {e.message}" for e in errors[:10]]
        raise SchemaError(f"{source}: invalid against schema {schema_name!r}:\n" + "\n".join(lines))


def validate_records(records: Iterable[dict], schema_name: str, source: str) -> int:
    """Validate rows one by one; the first bad row raises with file, row number and field."""
    schema = load_schema(schema_name)
    validator = validator_for(schema)(schema)
    n = 0
    for n, record in enumerate(records, start=1):
        error = next(iter(validator.iter_errors(record)), None)
        if error is not None:
            field = _where(error)
            if error.validator == "required":
                field = error.message.split("'")[1]
            raise SchemaError(f"{source}: row {n}: field {field!r}: {error.message}")
    return n


def frame_records(frame: pd.DataFrame) -> list[dict]:
    """Rows of a DataFrame as plain JSON types (NaN -> None), for schema validation."""
    return json.loads(frame.to_json(orient="records", date_format="iso"))


def validate_frame(frame: pd.DataFrame, schema_name: str, source: str) -> None:
    """Check required columns first (one clear message), then every row."""
    schema = load_schema(schema_name)
    missing = [c for c in schema.get("required", []) if c not in frame.columns]
    if missing:
        raise SchemaError(f"{source}: missing column(s) {missing} required by {schema_name!r}")
    validate_records(frame_records(frame), schema_name, source)


def write_parquet(frame: pd.DataFrame, path: str | Path, schema_name: str) -> Path:
    """Validate then write a table as Parquet."""
    path = Path(path)
    validate_frame(frame, schema_name, str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)
    return path


def read_parquet(path: str | Path, schema_name: str) -> pd.DataFrame:
    """Read a Parquet table and validate it; unreadable files raise naming the file."""
    path = Path(path)
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises many types; report them uniformly
        raise SchemaError(f"{path}: cannot read as Parquet: {exc}") from exc
    validate_frame(frame, schema_name, str(path))
    return frame


def write_jsonl(records: Iterable[dict], path: str | Path, schema_name: str) -> int:
    """Validate and write records as JSON lines; returns the number written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = list(records)
    validate_records(rows, schema_name, str(path))
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return len(rows)


def read_jsonl(path: str | Path, schema_name: str | None = None) -> list[dict]:
    """Read JSON lines; a malformed line raises naming the file and line."""
    path = Path(path)
    rows = []
    with path.open(encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise SchemaError(f"{path}: line {line_no}: not valid JSON: {exc.msg}") from exc
    if schema_name:
        validate_records(rows, schema_name, str(path))
    return rows
