"""Trial tables: the long-format export a real pilot would give, validated against schemas.

Tables (``workflow/schemas/trial/<table>.schema.yaml``): participants, assessments, sessions,
alliance, social. Each row is checked against its schema (errors name the file, column and
row), then the tables are checked against each other: unique keys, participants known,
monotone missingness (no assessment after a participant's ``dropout_week``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mhai.schemas import SchemaError, read_parquet, write_parquet

TABLES = ("participants", "assessments", "sessions", "alliance", "social")
KEYS = {
    "participants": ["participant_id"],
    "assessments": ["participant_id", "week", "instrument", "item"],
    "sessions": ["session_id"],
    "alliance": ["participant_id", "week", "item"],
    "social": ["participant_id", "week", "measure"],
}
ITEMS = {"PHQ-9": 9, "GAD-7": 7}
TOTAL_COLUMNS = {"PHQ-9": "phq9", "GAD-7": "gad7"}


def schema_name(table: str) -> str:
    """The schema name (under ``workflow/schemas``) of a trial table."""
    return f"trial/{table}"


def write_trial(tables: dict[str, pd.DataFrame], out_dir: str | Path) -> dict[str, Path]:
    """Validate and write every trial table as ``<out_dir>/<table>.parquet``."""
    check_consistency(tables, Path(out_dir))
    return {
        name: write_parquet(tables[name], Path(out_dir) / f"{name}.parquet", schema_name(name))
        for name in TABLES
    }


def load_trial(directory: str | Path) -> dict[str, pd.DataFrame]:
    """Read and validate the five trial tables of a directory (simulated or a real export)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"trial directory not found: {directory}")
    missing = [t for t in TABLES if not (directory / f"{t}.parquet").exists()]
    if missing:
        raise FileNotFoundError(
            f"{directory}: missing trial table(s) {', '.join(f'{t}.parquet' for t in missing)}"
        )
    tables = {t: read_parquet(directory / f"{t}.parquet", schema_name(t)) for t in TABLES}
    check_consistency(tables, directory)
    return tables


def _row_error(path: Path, frame: pd.DataFrame, mask: pd.Series, column: str, why: str):
    row = int(mask.to_numpy().nonzero()[0][0]) + 1
    value = frame.loc[mask, column].iloc[0]
    value = value.item() if hasattr(value, "item") else value
    raise SchemaError(f"{path}: row {row}: field {column!r}: {why} (value {value!r})")


def check_consistency(tables: dict[str, pd.DataFrame], directory: Path) -> None:
    """Cross-table checks; the first problem raises naming the file, row and column."""
    ids = set(tables["participants"]["participant_id"])
    for name in TABLES:
        frame = tables[name].reset_index(drop=True)
        path = directory / f"{name}.parquet"
        duplicated = frame.duplicated(KEYS[name], keep="first")
        if duplicated.any():
            _row_error(path, frame, duplicated, KEYS[name][-1], f"duplicate key {KEYS[name]}")
        if name != "participants":
            unknown = ~frame["participant_id"].isin(ids)
            if unknown.any():
                _row_error(path, frame, unknown, "participant_id", "not in participants")
    assessments = tables["assessments"].reset_index(drop=True)
    too_high = assessments["item"] > assessments["instrument"].map(ITEMS)
    if too_high.any():
        _row_error(directory / "assessments.parquet", assessments, too_high, "item", "beyond scale")
    dropout = tables["participants"].set_index("participant_id")["dropout_week"]
    limit = assessments["participant_id"].map(dropout).astype("Float64")
    late = (assessments["week"] >= limit).fillna(False).astype(bool)
    if late.any():
        _row_error(
            directory / "assessments.parquet",
            assessments,
            late,
            "week",
            "assessment at or after the participant's dropout_week (missingness must be monotone)",
        )


def scale_totals(assessments: pd.DataFrame) -> pd.DataFrame:
    """PHQ-9 and GAD-7 totals per observed participant-week; an incomplete scale gives NA."""
    grouped = assessments.groupby(["participant_id", "week", "instrument"])["score"]
    totals = grouped.agg(["sum", "count"]).reset_index()
    complete = totals["count"] == totals["instrument"].map(ITEMS)
    totals["total"] = totals["sum"].where(complete).astype("Float64")
    wide = totals.pivot(index=["participant_id", "week"], columns="instrument", values="total")
    wide = wide.reindex(columns=list(ITEMS)).rename(columns=TOTAL_COLUMNS)
    wide.columns.name = None
    return wide.reset_index()[["participant_id", "week", "phq9", "gad7"]]
