"""``benchmarks/probes/runner_ab.py --smoke``: the probe runs on the CPU (Triton's interpreter)
and prints a row per variant (its own assertion: the runner's ``o`` equals the call's)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_runner_ab_smoke():
    env = dict(os.environ, TRITON_INTERPRET="1")
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "probes" / "runner_ab.py"),
                        "--smoke"], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("B=2 T=8 ")]
    assert [ln.split("  ")[0].split(" ", 2)[2] for ln in lines] == [
        "run_tabled, checks on", "run_tabled, checks off", "TabledRunner, ids copied",
        "TabledRunner, ids in place"]
    assert all("% of floor" in ln and "host" in ln for ln in lines)
