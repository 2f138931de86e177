"""``statetrack families``: the registry of named languages, one line each."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``families`` subcommand to an argparse subparsers object."""
    f = subparsers.add_parser("families", help="list the registry of named languages")
    f.set_defaults(func=run)
    return f


def run(args: argparse.Namespace) -> int:
    """Print every registered family with its summary; returns 0."""
    from ..automata.families import FAMILIES

    for name, fam in FAMILIES.items():
        print(f"{name:22s} {fam.summary}")
    return 0
