"""The GPU-session script (benchmarks/gpu_session.py) in its CPU dry-run mode.

The script is run once for real on an H100 with a fixed amount of device time; this test runs
its steps at tiny sizes through Triton's interpreter / the reference on the CPU, so that a typo
or a broken step shows up here, not on the device. The construction benchmark's step is left
out to keep the file under a minute (its ``--smoke`` mode is the same code path; the full dry
run, ``--part all --dry-run``, runs it too).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "gpu_session.py"


def _module():
    spec = importlib.util.spec_from_file_location("gpu_session", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_parts_cover_every_step_and_fit_the_device_limits():
    gs = _module()
    steps = {s for g in gs.PARTS["all"] for s in g}
    assert steps == {"tests", "exact", "construction", "model", "cli"}
    for part in ("1", "2", "3"):
        for group in gs.PARTS[part]:
            assert set(group) <= steps
    assert {s for p in ("1", "2", "3") for g in gs.PARTS[p] for s in g} == steps
    # one device command may run 600 s: every step limit and the default budget stay below
    assert max(gs.LIMITS.values()) < 600
    assert gs.EXACT_LENGTH == 10 ** 6


def test_dry_run_runs_every_step_and_writes_returnable_files(tmp_path):
    out = tmp_path / "out"
    cmd = [sys.executable, str(SCRIPT), "--part", "all", "--dry-run", "--out", str(out),
           "--steps", "tests,exact,model,cli",
           "--exact-only", "parity", "symmetric(5)", "symmetric(6)", "dihedral(4)"]
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=170)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    files = sorted(p.name for p in out.iterdir())
    # what comes back from the device's $OUT: at most 8 plain files with simple names
    assert len(files) <= 8 and all(p.is_file() for p in out.iterdir())
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+", f) for f in files)
    summary = json.loads((out / "summary_pall.json").read_text())
    assert [s["step"] for s in summary["steps"]] == ["tests", "exact", "model", "cli"]
    assert all(s["status"] == "ok" for s in summary["steps"]), summary["steps"]
    assert "installed" in summary["info"]["wheels"] or "no wheels" in summary["info"]["wheels"]
    exact = json.loads((out / "exact_1e6.json").read_text())
    got = {(row["language"], row["path"]): row for row in exact["rows"]}
    # symmetric(5) (K = 120) only through the recurrent kernel; symmetric(6) (K = 720) skipped
    assert set(got) == {("parity", "tabled"), ("parity", "recurrent"), ("dihedral(4)", "tabled"),
                        ("dihedral(4)", "recurrent"), ("symmetric(5)", "recurrent")}
    assert all(row["wrong"] == 0 and row["status"] == "ok" for row in got.values())
    assert exact["meta"]["slow_projection"]["language"] == "symmetric(5)"
    assert {s["language"] for s in exact["skipped"]} == {"symmetric(5)", "symmetric(6)"}
    model = json.loads((out / "kernels_model.json").read_text())
    assert [row["row"] for row in model["rows"]] == ["3u", "1u", "3g", "2g"]
    assert all(row["ours_fwd_ms"] > 0 and row["ours_fwdbwd_ms"] > 0 for row in model["rows"])
    cli = json.loads((out / "cli_check.json").read_text())
    assert any(r["status"] == "ok" and r["mismatches"] == 0 for r in cli["device_rows"])
    # the summary table is printed last
    assert r.stdout.rstrip().splitlines()[-1].startswith("files in")
    assert "| step | status | seconds | result |" in r.stdout


def test_device_mode_installs_the_wheels_where_the_steps_look(tmp_path, monkeypatch):
    """The device-mode install (not the dry run's temp dir) puts fla where PYTHONPATH points."""
    gs = _module()
    wheels = sorted((ROOT / ".whl").glob("*.whl"))
    monkeypatch.setattr(gs, "SITE", str(tmp_path / "site"))
    msg = gs.install_wheels(dry=False)
    if not wheels:
        assert msg.startswith("no wheels")
        return
    assert msg.startswith("installed"), msg
    assert (tmp_path / "site" / "fla").is_dir()
    env = gs.child_env(dry=False)
    assert env["PYTHONPATH"].split(":")[:2] == [str(ROOT), str(tmp_path / "site")]
    assert "TRITON_INTERPRET" not in env or env["TRITON_INTERPRET"] == os.environ.get("TRITON_INTERPRET")
    # every device-mode command line names only files that exist
    for step in ("tests", "exact", "construction", "model", "cli"):
        cmd = gs.step_command(step, tmp_path, dry=False, budget=100)
        scripts = [c for c in cmd if c.endswith(".py")]
        assert all((ROOT / s).exists() or Path(s).exists() for s in scripts), cmd
