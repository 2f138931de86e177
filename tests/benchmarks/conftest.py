"""Shared fixtures of the benchmark and probe tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def run_interpreted():
    """``run(script, *args)``: run a benchmark script from the repository root in a child
    process under Triton's interpreter (``TRITON_INTERPRET=1``); returns the completed process
    (output captured as text)."""
    def run(script: Path, *args: str, timeout: float = 600):
        env = dict(os.environ, TRITON_INTERPRET="1")
        return subprocess.run([sys.executable, str(script), *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=timeout)
    return run
