"""``statetrack figures``: draws the toolkit's figures as PNG files
(:func:`statetrack.theory.figures.make_figures`), printing each path.

The figures: the eigenvalues of the constructions on the unit circle, the finite-precision
parity trajectories (Theorem 1), and each non-group catalogue language's holonomy cascade
beside its compiled stack (in ``cascades/``). They go to ``--outdir``, by default
``./statetrack-figures`` (created if needed), a folder whose name says what it holds, so
that running the command elsewhere never writes into a ``docs/figures`` that happens to be
there; the repository's own copies are made with ``statetrack figures --outdir docs/figures``
from its root.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

__all__ = ["add_parser", "run", "DEFAULT_OUTDIR"]

#: Where ``statetrack figures`` writes without ``--outdir`` (relative to the working folder).
DEFAULT_OUTDIR = "statetrack-figures"
#: ``statetrack figures --help``'s description.
DESCRIPTION = (
    "Draws the toolkit's figures as PNG files and prints their paths: the eigenvalues of the "
    "constructions on the unit circle, the finite-precision parity trajectories (Theorem 1), "
    "and each non-group catalogue language's holonomy cascade beside its compiled stack (in "
    f"cascades/). They go to --outdir, by default ./{DEFAULT_OUTDIR} (a folder whose name "
    "says what it holds, created if needed). The repository's own figures are made with "
    "'statetrack figures --outdir docs/figures' from its root.")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``figures`` subcommand to an argparse subparsers object."""
    g = subparsers.add_parser(
        "figures", help="draw the toolkit's figures (eigenvalues, trajectories, cascades)",
        description=DESCRIPTION)
    g.add_argument("--outdir", default=DEFAULT_OUTDIR, metavar="DIR",
                   help=f"folder for the PNG files, created if needed (default: "
                        f"./{DEFAULT_OUTDIR}; the repository's figures: --outdir docs/figures "
                        f"from its root); existing files of the same names are overwritten")
    g.set_defaults(func=run)
    return g


def run(args: argparse.Namespace) -> int:
    """Write the figures to ``args.outdir``; returns 0, or 2 when the folder cannot be made
    or written (a one-line error naming ``--outdir``, not a traceback)."""
    from ..theory.figures import make_figures

    # checked resolved (symlinks, then '..'): makedirs('nodir/../abb.json') made 'nodir'
    # before failing on the file abb.json
    resolved = os.path.realpath(args.outdir)
    if os.path.exists(resolved) and not os.path.isdir(resolved):
        print(f"statetrack figures: error: --outdir {args.outdir}: is a file, not a folder; "
              f"name a folder (created if needed)", file=sys.stderr)
        return 2
    try:
        os.makedirs(args.outdir, exist_ok=True)
        if sys.stderr.isatty():  # the paths come at the end; say what the seconds are for
            print(f"statetrack figures: drawing the figures into {args.outdir} (seconds to "
                  f"a minute) ...", file=sys.stderr, flush=True)
        paths = make_figures(args.outdir)
    except (FileExistsError, NotADirectoryError):     # a file on the way ('abb.json/sub')
        print(f"statetrack figures: error: --outdir {args.outdir}: a file is in the way "
              f"(the path names, or passes through, a file, not a folder); name a folder "
              f"(created if needed)", file=sys.stderr)
        return 2
    except OSError as e:
        where = f" ({e.filename})" if e.filename and str(e.filename) != args.outdir else ""
        print(f"statetrack figures: error: --outdir {args.outdir}: cannot write "
              f"({e.strerror or e}){where}", file=sys.stderr)
        return 2
    for path in paths:
        print(path)
    return 0
