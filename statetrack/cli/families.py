"""``statetrack families``: the registry of named languages, with each family's parameters.

For every family: its signature with the defaults (a spec that ``statetrack compile`` and
``statetrack check --only`` read, e.g. ``cyclic(m=3)``), its one-line summary, and one line
per parameter with its valid range and meaning; ``--brief`` prints one line per family.
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``families`` subcommand to an argparse subparsers object."""
    f = subparsers.add_parser(
        "families", help="list the registry of named languages and their parameters",
        description=__doc__.split("\n\n")[1].replace("\n", " "))
    f.add_argument("--brief", action="store_true",
                   help="one line per family (its signature and summary)")
    f.set_defaults(func=run)
    return f


def run(args: argparse.Namespace) -> int:
    """Print every registered family (signature, summary, parameters); returns 0."""
    from ..automata.families import FAMILIES

    if getattr(args, "brief", False):
        width = max(len(f.signature) for f in FAMILIES.values())
        for fam in FAMILIES.values():
            print(f"{fam.signature.ljust(width)}  {fam.summary}")
        return 0
    print("\n\n".join(fam.describe() for fam in FAMILIES.values()))
    return 0
