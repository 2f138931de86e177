"""mypy is clean on the typed core: ``statetrack/automata`` and ``statetrack/constructions``.

Configuration in ``pyproject.toml`` (``[tool.mypy]``); mypy is in the ``test`` extras.
"""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["statetrack/automata", "statetrack/constructions"]


def test_mypy_clean(tmp_path):
    pytest.importorskip("mypy", reason="mypy is in the test extras: pip install -e .[test]")
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
         "--cache-dir", str(tmp_path / "mypy_cache"), *PACKAGES],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Success: no issues found" in proc.stdout
