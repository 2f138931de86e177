"""``benchmarks/probes/launch_trace.py`` on the CPU (Triton's interpreter, a small case): the
child names every kernel launch in order, the parent reports one ``OK`` line with a bf16-level
error, a failing child is reported as a fault in the last kernel it launched, and bad
options are one ``error:`` line."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "probes" / "launch_trace.py"


def test_the_child_names_every_launch_of_a_forward_and_backward(run_interpreted):
    r = run_interpreted(SCRIPT, "--child", "--device", "cpu", "--case", "16,16,bfloat16,g,h0,20")
    assert r.returncode == 0, r.stderr[-2000:]
    lines = r.stdout.strip().splitlines()
    names = [ln.split()[1] for ln in lines if ln.startswith("launch ")]
    # the gated call: the gate sums first, the gate gradient last
    assert names[0] == "gate_cumsum_kernel" and names[1].startswith("wy_"), names
    assert names[2] == "fwd_state_kernel", names
    assert names[-2] == "bwd_wy_kernel" and names[-1] == "gate_grad_kernel", names
    assert "bwd_state_kernel" in names, names
    launches = [ln for ln in lines if ln.startswith("launch ")]
    assert "'USE_G': True" in launches[2] and "'USE_H0': True" in launches[2]
    err = float(lines[-1].split("error ")[1].split()[0])
    assert lines[-1].startswith("OK") and 0 < err < 2e-2


def test_the_parent_reports_a_failing_child_at_its_last_launch(tmp_path, run_interpreted):
    out = tmp_path / "t.txt"
    # a 7-wide value block for the backward WY kernel: its launch fails (tl.arange needs a
    # power of two) after the forward and the other backward kernels ran
    r = run_interpreted(SCRIPT, "--device", "cpu", "--case", "16,16,bfloat16,-,-,20",
                        "--override", '{"bwd_wy": [7, 0, 0]}', "--out", str(out))
    assert r.returncode == 0, r.stderr[-2000:]
    first = r.stdout.strip().splitlines()[0]
    assert first.startswith("16,16,bfloat16,-,-,20 {'bwd_wy': [7, 0, 0]}: FAULT in bwd_wy_kernel")
    assert "'BV': 7" in first
    assert out.read_text().splitlines()[0] == first


def test_bad_options_are_one_error_line(run_interpreted):
    for args in (["--override", "{not json"], ["--override", "[1]"],
                 ["--case", "128,16"], ["--case", "128,16,bf16,g,h0,64"],
                 ["--case", "128,x,bfloat16,g,h0,64"], ["--case", "128,16,bfloat16,gate,h0,64"],
                 ["--case", "128,16,bfloat16,g,h0,0"], ["--child"], ["--cases", "0"]):
        r = run_interpreted(SCRIPT, "--device", "cpu", *args)
        assert r.returncode == 2 and "error:" in r.stderr and "Traceback" not in r.stderr, args
        assert r.stdout == "", args               # refused before any case ran


def test_a_missing_sanitizer_is_an_error(monkeypatch, capsys):
    import importlib.util

    import pytest

    spec = importlib.util.spec_from_file_location("launch_trace", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    monkeypatch.setattr(mod.shutil, "which", lambda *a, **k: None)
    monkeypatch.setattr(sys, "argv", ["launch_trace.py", "--device", "cpu", "--sanitizer"])
    with pytest.raises(SystemExit) as e:
        mod.main()
    assert e.value.code == 2
    assert "compute-sanitizer is neither on PATH" in capsys.readouterr().err
