"""``benchmarks/probes/variant_error.py`` on the CPU (Triton's interpreter, a small shape):
every variant's error against the float64 reference is a positive number at bf16 level,
``lp_bwd`` leaves the forward's errors as they are, and a bad option is one ``error:`` line."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "probes" / "variant_error.py"


def test_every_variant_is_measured_against_float64(tmp_path, run_interpreted):
    out = tmp_path / "ve.json"
    r = run_interpreted(SCRIPT, "--device", "cpu", "--rows", "2g", "--T", "20", "--K", "16",
                        "--no-fla", "--json", str(out))
    assert r.returncode == 0, r.stderr[-2000:]
    doc = json.loads(out.read_text())
    assert doc["tool"] == "benchmarks/probes/variant_error.py"
    rows = {row["variant"]: row["rel_error"] for row in doc["rows"]}
    assert set(rows) == {"default", "wy_loop", "lp_bwd", "wy_loop+lp_bwd"}
    for name, err in rows.items():
        assert set(err) == {"o", "final_state", "dq", "dk", "dv", "dbeta", "dg"}, name
        assert all(0 < e < 2e-2 for e in err.values()), (name, err)
    # lp_bwd changes only the backward's partials: the forward's errors are the default's
    assert rows["lp_bwd"]["o"] == rows["default"]["o"]
    assert rows["lp_bwd"]["final_state"] == rows["default"]["final_state"]


def test_a_bad_option_is_one_error_line(run_interpreted):
    r = run_interpreted(SCRIPT, "--rows", "9x")
    assert r.returncode == 2 and "error: --rows" in r.stderr
    r = run_interpreted(SCRIPT, "--variants", "fast")
    assert r.returncode == 2 and "error: --variants" in r.stderr
    r = run_interpreted(SCRIPT, "--T", "0")
    assert r.returncode == 2 and "error: --T" in r.stderr
