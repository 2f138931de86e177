"""What every benchmark records about where it ran (the CPU's name, the git commit), and how it
names the files it writes.

Imported by the benchmark scripts, which run as ``python benchmarks/<name>.py`` (so this
folder is on ``sys.path``)."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cpu_name() -> str:
    """The ``model name`` of /proc/cpuinfo, else what :mod:`platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def shown_path(path: Path) -> str:
    """``path`` relative to the repository root when inside it, else absolute (for messages)."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def git_commit() -> str:
    """The short hash of the repository's HEAD, or ``"unknown"`` outside a checkout.

    ``STATETRACK_COMMIT`` wins where set: a GPU machine's copy of the tree may carry an older
    ``.git`` than the code it runs.
    """
    if os.environ.get("STATETRACK_COMMIT"):
        return os.environ["STATETRACK_COMMIT"]
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                              capture_output=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
