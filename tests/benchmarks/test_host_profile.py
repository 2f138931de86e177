"""benchmarks/probes/host_profile.py: a smoke run on the CPU (the interpreter) and its bad
arguments."""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(args, timeout=300):
    return subprocess.run([sys.executable, "benchmarks/probes/host_profile.py", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def test_host_profile_smoke(tmp_path):
    out = tmp_path / "hp.json"
    r = _run(["--smoke", "--top", "4", "--json", str(out)])
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    doc = json.loads(out.read_text())
    assert (doc["meta"]["B"], doc["meta"]["T"], doc["meta"]["calls"]) == (2, 9, 2)
    assert doc["host_ms"] > 0
    prof = doc["profile"]
    assert len(prof["by_own"]) == len(prof["by_cumulative"]) == 4
    assert any("run_tabled" in r["function"] for r in prof["by_cumulative"])
    cum = [r["cum_ms"] for r in prof["by_cumulative"]]
    assert cum == sorted(cum, reverse=True)
    assert prof["total_ms"] >= prof["by_own"][0]["own_ms"] > 0


def test_host_profile_bad_arguments(tmp_path):
    for args, msg in ((["--shape", "3"], "--shape"), (["--calls", "0"], "--calls"),
                      (["--problem", "nope"], "--problem"),
                      (["--json", str(tmp_path / "no" / "such" / "dir" / "x.json")], "--json")):
        argv = ["--smoke", *args] + ([] if "--json" in args else ["--json", str(tmp_path / "x.json")])
        r = _run(argv)
        assert r.returncode == 2, (args, r.stderr)
        assert msg in r.stderr.splitlines()[-1] and "Traceback" not in r.stderr, r.stderr
