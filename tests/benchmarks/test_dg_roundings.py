"""``benchmarks/probes/dg_roundings.py`` on the CPU (Triton's interpreter): its float64
emulation of the chunked kernel's gate gradient is exact with no rounding switched on, and with
every 16-bit rounding on it is the kernel to two digits, on the CI draw whose bfloat16 ``dg``
was 5.8e-2 (seed 156823565) and on one ordinary draw (so its one-rounding-at-a-time rows speak
for the kernel)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "probes" / "dg_roundings.py"


def test_the_emulation_is_the_kernel():
    env = dict(os.environ, TRITON_INTERPRET="1")
    r = subprocess.run([sys.executable, str(SCRIPT), "--seeds", "156823565,1"], cwd=ROOT,
                       env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = {}
    for line in r.stdout.splitlines()[1:]:
        m = re.match(r"\s+(.*?)\s+(\S+) (\S+)\s+max \S+$", line)
        assert m, line
        rows[m.group(1)] = [float(m.group(2)), float(m.group(3))]
    assert {"emulated: none", "emulated: all", "emulated: vb", "emulated: all but vb",
            "kernel"} <= set(rows)
    assert max(rows["emulated: none"]) < 1e-12
    for a, b in zip(rows["emulated: all"], rows["kernel"]):
        assert abs(a - b) <= 0.05 * b
    # the CI draw reproduced (a fix that brings it within the table changes this line and
    # docs/kernels.rst, "Precision of the chunked kernel", together)
    assert rows["kernel"][0] > 2e-2
