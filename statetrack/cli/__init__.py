"""The ``statetrack`` command line.

Subcommands:

- ``statetrack check``: runs every check on the built-in catalogue of languages
  (``statetrack.automata.families.catalogue``), prints one row per language and a legend,
  and exits 1 if any check fails. ``--json FILE`` writes the same rows as JSON.
- ``statetrack compile PATTERN``: compiles a regex, a family spec (``cyclic(5)``) or a DFA
  JSON file into a linear RNN and proves it (``statetrack.cli.compile``).
- ``statetrack figures``: draws the toolkit's figures into ``--outdir`` (default
  ``./statetrack-figures``; the repository's copies: ``--outdir docs/figures``).
- ``statetrack families``: lists the registry of named languages.

One module per subcommand (:mod:`.check` with :mod:`.device` for ``check --device``,
:mod:`.compile`, :mod:`.families`, :mod:`.figures`), each with ``add_parser(subparsers)`` and
``run(args)``; they import the packages they report on only when they run.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """The parser of every subcommand."""
    # imported here, not at the top: ``python -m statetrack.cli.compile`` runs that module as
    # __main__, which must not be imported before by its package
    from . import check, families, figures
    from . import compile as compile_

    from statetrack import __version__

    p = argparse.ArgumentParser(prog="statetrack", description=__doc__.split("\n\n")[0])
    p.add_argument("--version", action="version", version=f"statetrack {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (check, families, figures, compile_):
        module.add_parser(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``statetrack`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # the reader went away (``statetrack compile cyclic | head -1``): stop quietly, and
        # point stdout at /dev/null so that the interpreter's final flush does not raise
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
