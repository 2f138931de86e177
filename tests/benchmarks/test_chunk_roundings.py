"""``benchmarks/probes/chunk_roundings.py`` on the CPU (Triton's interpreter, one small draw):
its float64 emulation of the chunked forward is exact with no rounding switched on, and with
every 16-bit rounding on it is the kernel with ``_CONFIG_OVERRIDE["hi"] = False`` to two digits
(so its one-rounding-at-a-time rows speak for the kernel)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "probes" / "chunk_roundings.py"


def test_the_emulation_is_the_kernel():
    env = dict(os.environ, TRITON_INTERPRET="1")
    r = subprocess.run([sys.executable, str(SCRIPT), "--K", "8", "--V", "8", "--T", "80",
                        "--seeds", "2", "--chunks", "64"], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = {}
    for line in r.stdout.splitlines()[1:]:
        m = re.match(r"\s+(.*?)\s+state (\S+) / (\S+) \(\d+\)\s+o (\S+) / (\S+)", line)
        assert m, line
        rows[m.group(1)] = [float(m.group(i)) for i in (2, 3, 4, 5)]
    assert set(rows) >= {"input floor", "chunk 64 emulated: none", "chunk 64 emulated: all",
                         "chunk 64 emulated: T", "chunk 64 kernel, default",
                         "chunk 64 kernel, hi off"}
    assert max(rows["chunk 64 emulated: none"]) < 1e-12
    for a, b in zip(rows["chunk 64 emulated: all"], rows["chunk 64 kernel, hi off"]):
        assert abs(a - b) <= 0.05 * b
    assert 1e-4 < rows["chunk 64 kernel, default"][0] < rows["chunk 64 kernel, hi off"][0]
