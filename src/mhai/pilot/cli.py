"""``mhai trial validate DIR``: check a trial export (real or simulated) against the schemas."""

from __future__ import annotations

import argparse

from mhai.schemas import SchemaError


def run_validate(args: argparse.Namespace) -> int:
    """Validate every table of a trial directory; print a summary or the first problem."""
    from mhai.pilot.trial import load_trial, scale_totals

    try:
        tables = load_trial(args.directory)
    except SchemaError as exc:
        print(f"invalid trial export: {exc}")
        return 1
    for name, frame in tables.items():
        print(f"{name}: {len(frame)} rows ok")
    totals = scale_totals(tables["assessments"])
    print(
        f"{tables['participants']['participant_id'].nunique()} participants, "
        f"{len(totals)} participant-waves with totals, "
        f"{int(tables['participants']['dropout_week'].notna().sum())} with a missed wave"
    )
    return 0


def register(subparsers) -> None:
    """Add ``mhai trial validate`` to the top-level parser."""
    trial = subparsers.add_parser(
        "trial", help="work with trial tables (simulated or a real export)"
    )
    commands = trial.add_subparsers(dest="trial_command", required=True)
    validate = commands.add_parser(
        "validate",
        help="check participants/assessments/sessions/alliance/social .parquet against the schemas",
        description=(
            "Validate a trial directory against workflow/schemas/trial/: every row of each table, "
            "then keys, participant ids and monotone missingness across tables. Exit 1 with the "
            "file, row and column of the first problem."
        ),
    )
    validate.add_argument("directory", help="folder holding the five <table>.parquet files")
    validate.set_defaults(func=run_validate)
