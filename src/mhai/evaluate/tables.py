"""CSV tables of the evaluation stage, validated against ``workflow/schemas/evaluate/``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mhai.schemas import SchemaError, validate_frame


def write_csv(frame: pd.DataFrame, path: str | Path, schema: str) -> Path:
    """Validate ``frame`` against ``evaluate/<schema>`` and write it as CSV."""
    path = Path(path)
    validate_frame(frame, f"evaluate/{schema}", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


def read_csv(path: str | Path, schema: str, **kwargs) -> pd.DataFrame:
    """Read a CSV table and validate it; unreadable files raise naming the file."""
    path = Path(path)
    try:
        frame = pd.read_csv(path, **kwargs)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise SchemaError(f"{path}: cannot read as CSV: {exc}") from exc
    validate_frame(frame, f"evaluate/{schema}", str(path))
    return frame
