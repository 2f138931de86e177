"""``statetrack figures``: regenerates the figures in ``docs/figures``
(:func:`statetrack.theory.figures.make_figures`), printing each path."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``figures`` subcommand to an argparse subparsers object."""
    g = subparsers.add_parser("figures", help="regenerate the figures in docs/figures")
    g.add_argument("--outdir", default="docs/figures")
    g.set_defaults(func=run)
    return g


def run(args: argparse.Namespace) -> int:
    """Write the figures to ``args.outdir``; returns 0."""
    from ..theory.figures import make_figures

    for path in make_figures(args.outdir):
        print(path)
    return 0
