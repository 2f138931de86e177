"""benchmarks/probes/ahead_fault.py on the interpreter: the rows-ahead order per pass is
bit-identical there (the CUDA build of session 28 was not, in chunked run passes at n_h = 3;
the probe is what the device runs to find which pass)."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_ahead_fault_quick_on_the_interpreter():
    r = subprocess.run([sys.executable, "benchmarks/probes/ahead_fault.py", "--quick"], cwd=ROOT,
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("n_h=")]
    assert len(lines) == 12     # 2 narrowing settings x 6 modes (3 with END_PRED, session 30)
    assert sum("+pred" in ln for ln in lines) == 6
    assert all("o_eq=True" in ln and "final_eq=True" in ln and "run_ids_ok=True" in ln
               for ln in lines), lines
    assert r.stdout.strip().endswith("0 wrong")
