"""``benchmarks/probes/train_shape.py`` without a GPU: every bad option is one ``error:`` line
before any group runs, ``--from-json`` remakes the committed table, a group that times out is
a row, and the probe itself on the CPU (Triton's interpreter, a tiny shape: errors against
float64, no timings)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "probes" / "train_shape.py"
COMMITTED = ROOT / "benchmarks" / "results" / "train_shape_h200"

spec = importlib.util.spec_from_file_location("train_shape", SCRIPT)
train_shape = importlib.util.module_from_spec(spec)
spec.loader.exec_module(train_shape)


def _error(argv, capsys) -> str:
    """The one error line of a command line that must exit with status 2."""
    with pytest.raises(SystemExit) as exc:
        train_shape.main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("train_shape.py: error: ")
    return last


@pytest.fixture
def no_run(monkeypatch):
    """No group may start, and there is no CUDA device (even on a GPU machine)."""
    monkeypatch.setattr(train_shape.subprocess, "run", lambda *a, **k: pytest.fail("ran"))
    monkeypatch.setattr(train_shape, "run_group", lambda *a, **k: pytest.fail("ran"))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


@pytest.mark.parametrize("argv, says", [
    (["--shape", "1,2"], "--shape: expected B,T,H,D,n_h (five positive integers), got '1,2'"),
    (["--shape", "a,b,c,d,e"], "--shape: expected B,T,H,D,n_h"),
    (["--shape", "2,20,0,16,1"], "--shape: expected B,T,H,D,n_h"),
    (["--groups", "float32:ieee"], "--groups: expected dtype:precision:chunk"),
    (["--groups", "float32:ieee:16,"], "--groups: expected dtype:precision:chunk"),
    (["--groups", "float32,ieee,16"], "--groups: expected dtype:precision:chunk"),
    (["--groups", "foo:ieee:16"], "--groups: dtype 'foo' of 'foo:ieee:16': expected one of"),
    (["--groups", "float32:fast:16"], "--groups: precision 'fast'"),
    (["--groups", "float32:ieee:8"], "--groups: chunk size '8' of 'float32:ieee:8'"),
    (["--group", "float32,ieee"], "--group: expected dtype,precision,chunk"),
    (["--group", "float32:ieee:128"], "--group: chunk size '128'"),
    (["--bwd-wy", "32:4"], "--bwd-wy: expected comma-separated BV:warps:stages"),
    (["--bwd-wy", "32:0:2"], "--bwd-wy: expected comma-separated BV:warps:stages"),
    (["--reps", "0"], "--reps: expected an int >= 1, got 0"),
    (["--timeout", "0"], "--timeout: expected seconds >= 1, got 0"),
    (["--device", "gpu"], "argument --device: invalid choice: 'gpu'"),
    # the timings need CUDA: said before any group starts, with the CPU check named
    ([], "--device: no CUDA device here"),
    (["--json", "no/such/r.json", "--device", "cpu"], "--json: folder"),
    (["--md", ".", "--device", "cpu"], "--md: '.' is a folder"),
    (["--from-json", "missing.json"], "--from-json: cannot read 'missing.json'"),
    (["--from-json", "text.json"], "--from-json: 'text.json' is not JSON"),
    (["--from-json", "dict.json"], "must hold a JSON list of the probe's rows"),
    (["--from-json", "rows.json"], "'rows.json': row 1 is not one of the probe's rows"),
    (["--from-json", "timed.json"], "row 0 has kernel_ms but not as the probe writes it"),
    (["--from-json", str(COMMITTED) + ".json", "--md", "no/such/t.md"], "--md: folder"),
])
def test_bad_options_are_one_error_line_before_any_run(argv, says, tmp_path, monkeypatch,
                                                      capsys, no_run):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "text.json").write_text("not json\n")
    (tmp_path / "dict.json").write_text('{"group": "float32,ieee,16"}')
    (tmp_path / "rows.json").write_text('[{"group": "float32,ieee,16"}, {"x": 1}]')
    (tmp_path / "timed.json").write_text('[{"group": "g", "kernel_ms": {"k": "fast"}}]')
    line = _error(argv, capsys)
    assert says in line, line


def test_an_output_that_cannot_be_written_is_one_error_line(tmp_path, capsys, no_run,
                                                           monkeypatch):
    # a write refused by the system (a read-only file system, say; root writes read-only
    # files, so the refusal is staged)
    real = open

    def refuse(path, mode="r", *a, **k):
        if "w" in mode:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, mode, *a, **k)
    monkeypatch.setattr(train_shape, "open", refuse, raising=False)
    md = tmp_path / "t.md"
    line = _error(["--from-json", str(COMMITTED) + ".json", "--md", str(md)], capsys)
    assert line.endswith(f"--md: cannot write {str(md)!r}: Permission denied")


def test_from_json_remakes_the_committed_table(tmp_path, capsys):
    assert train_shape.main(["--from-json", str(COMMITTED) + ".json"]) == 0
    want = Path(str(COMMITTED) + ".md").read_text()
    assert capsys.readouterr().out == want
    md = tmp_path / "t.md"
    assert train_shape.main(["--from-json", str(COMMITTED) + ".json", "--md", str(md)]) == 0
    assert md.read_text() == want and capsys.readouterr().out == ""


def test_a_group_that_times_out_is_a_row(tmp_path, monkeypatch, capsys):
    row = {"group": "float32,ieee,16", "bwd_wy": [32, 4, 2], "max_rel_err": 2e-7}

    def slow(cmd, **kw):
        assert kw["timeout"] == 7 and cmd[cmd.index("--bwd-wy") + 1] == "32:4:2,16:2:1"
        raise subprocess.TimeoutExpired(cmd, 7, output=(json.dumps(row) + "\n").encode())
    monkeypatch.setattr(train_shape.subprocess, "run", slow)
    out = tmp_path / "r.json"
    assert train_shape.main(["--device", "cpu", "--shape", "2,20,2,16,1", "--groups",
                             "float32:ieee:16", "--bwd-wy", "32:4:2,16:2:1", "--timeout", "7",
                             "--json", str(out)]) == 0
    rows = json.loads(out.read_text())
    # the setting that finished is kept; the rest is one row saying why it stopped
    assert rows[0] == row
    assert rows[1] == {"group": "float32,ieee,16",
                       "error": "exit -1: timed out after 7 s (--timeout)"}
    assert "timed out after 7 s" in capsys.readouterr().out


def test_the_probe_checks_on_the_cpu_without_timings(tmp_path):
    out, md = tmp_path / "r.json", tmp_path / "r.md"
    env = dict(os.environ, TRITON_INTERPRET="1", CUDA_VISIBLE_DEVICES="",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT),
                                                         os.environ.get("PYTHONPATH")])))
    r = subprocess.run([sys.executable, str(SCRIPT), "--device", "cpu", "--shape",
                        "2,20,2,16,1", "--groups", "float32:ieee:16", "--bwd-wy", "32:4:2",
                        "--json", str(out), "--md", str(md)], cwd=tmp_path,
                       capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    (row,) = json.loads(out.read_text())
    assert (row["group"], row["bwd_wy"], row["B"], row["T"]) == ("float32,ieee,16",
                                                                 [32, 4, 2], 2, 20)
    assert "error" not in row and "fwd_bwd_ms" not in row
    assert row["max_rel_err"] < 1e-5                       # float32 against float64
    assert "(no timing off CUDA)" in r.stdout
    assert f"| float32,ieee,16 | (32, 4, 2) |" in md.read_text()
    assert f"{row['max_rel_err']:.1e} (no timing) |" in md.read_text()


def test_the_probes_find_the_package_without_pythonpath():
    # a device call ran the probe from the repository root without PYTHONPATH on a machine
    # where the package is not installed: ModuleNotFoundError. Both probes now put the root
    # on sys.path themselves, as the other benchmarks do.
    assert train_shape.ROOT == ROOT and (ROOT / "statetrack" / "__init__.py").is_file()
    assert str(ROOT) in sys.path
    fault = importlib.util.module_from_spec(importlib.util.spec_from_file_location(
        "chunk_fault", ROOT / "benchmarks" / "probes" / "chunk_fault.py"))
    saved = list(sys.path)
    try:
        sys.path[:] = [p for p in sys.path if p != str(ROOT)]
        fault.__spec__.loader.exec_module(fault)
        assert fault.ROOT == ROOT and sys.path[0] == str(ROOT)
    finally:
        sys.path[:] = saved
