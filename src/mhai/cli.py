"""The ``mhai`` command line: what a user does outside the workflow DAG.

Each stage contributes sub-commands through a ``register(subparsers)`` function in its own
``cli`` module, listed in ``COMMAND_MODULES``; each registered parser sets ``func``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMAND_MODULES = [
    "mhai.safety.cli",  # mhai chat, mhai safety score
    "mhai.train.cli",  # mhai generate
    "mhai.pilot.cli",  # mhai trial validate
]


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every stage's sub-commands."""
    parser = argparse.ArgumentParser(prog="mhai", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``mhai`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (FileNotFoundError, ValueError) as exc:
        print(f"mhai {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
