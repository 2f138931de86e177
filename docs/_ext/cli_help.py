"""The CLI page's reference: ``statetrack COMMAND --help`` of every subcommand, generated from
the argparse parsers (:func:`statetrack.cli.build_parser`) when the pages are built.

The help texts are included as literal blocks, exactly as the terminal shows them, so that a
help string is never parsed as reStructuredText (``|Q|`` would be a substitution).
"""

from __future__ import annotations

import argparse
import os
import pathlib

__all__ = ["write_help"]


def write_help(outdir: pathlib.Path, width: int = 96) -> pathlib.Path:
    """Write ``outdir/cli_reference.rst``: one section per subcommand with its ``--help``."""
    from statetrack.cli import build_parser

    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(width)        # argparse wraps to the terminal's width
    try:
        parser = build_parser()
        parts = [("statetrack", parser.format_help())]
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                parts += [(f"statetrack {name}", sub.format_help())
                          for name, sub in action.choices.items()]
    finally:
        if old is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old
    lines: list[str] = []
    for title, text in parts:
        head = f"``{title}``"
        lines += [head, "-" * len(head), "", ".. code-block:: text", ""]
        lines += [("   " + ln).rstrip() for ln in text.rstrip().splitlines()]
        lines.append("")
    outdir.mkdir(parents=True, exist_ok=True)
    path = outdir / "cli_reference.rst"
    text = "\n".join(lines)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    return path
