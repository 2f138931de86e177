"""The benchmark tools refuse a bad option or an output path they cannot write before they run
anything: one ``error:`` line, exit status 2, no traceback, no file written.

Before, these were found at the end of a run (an output written last: a traceback, the
results lost) or in its middle (an option first read after other rows were timed).
"""

from __future__ import annotations

import doctest
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("script, argv, says", [
    ("cascades.py", ["--out", "f/c.json"], "--out: '{tmp}/f' is a file, not a folder"),
    ("cascades.py", ["--out", "c.json", "--md", "."],
     "--md: '.' is a folder (expected a file name)"),
    # its default, benchmarks/results/cascades.json, is relative: from the root only
    ("cascades.py", [], "--out: folder '{tmp}/benchmarks/results' does not exist"),
    ("faithful.py", ["--repeat", "0"], "--repeat: expected an int >= 1, got 0"),
    ("faithful.py", ["--markdown", "f/new/f.md"], "--markdown: '{tmp}/f' is a file, not a "
                                                  "folder"),
    ("holonomy.py", ["--letters", "2", "4"], "--letters: expected ints in 1..3"),
    ("holonomy.py", ["--max-states", "4"], "--max-states: expected >= --min-states (5), got 4"),
    ("holonomy.py", ["--json", "no/h.json"], "--json: folder '{tmp}/no' does not exist"),
    ("monoid.py", ["--repeat", "0"], "--repeat: expected an int >= 1, got 0"),
    ("monoid.py", ["--json", "."], "--json: '.' is a folder (expected a file name)"),
    ("minimize.py", ["--sizes", "100", "0"], "--sizes: expected ints >= 1, got 100 0"),
    ("minimize.py", ["--out-md", "f/m.md"], "--out-md: '{tmp}/f' is a file, not a folder"),
    ("regex.py", ["--ks", "10", "-1"], "--ks: expected ints >= 0, got 10 -1"),
    ("regex.py", ["--out-json", "f/a/r.json"], "--out-json: '{tmp}/f' is a file, not a folder"),
    ("long_word.py", ["--chunk", "0"], "--chunk: expected tokens a chunk >= 1, got 0"),
    ("long_word.py", ["--languages", "parity;cylic(5)"],
     "--languages: 'cylic(5)': unknown language 'cylic'; did you mean 'cyclic'?"),
    ("long_word.py", ["--languages", "parity:twisted"],
     "--languages: 'parity:twisted': unknown form 'twisted'; choose one of"),
    ("long_word.py", ["--smoke", "--md", "no/lw.md"], "--md: folder '{tmp}/no' does not exist"),
    ("kernels_model.py", ["--rows", "1u,2x"], "--rows: '2x' is not a row (n_h >= 1 then u"),
    ("kernels_model.py", ["--fla", "3"], "--fla: '3' is not a row"),
    ("kernels_model.py", ["--sweep", "--sweep-row", "2g", "--rows", "1u"],
     "--sweep-row: none of '2g' is in --rows '1u' (the sweep would time nothing)"),
    ("kernels_model.py", ["--out", "f/k.json"], "--out: '{tmp}/f' is a file, not a folder"),
    ("kernels_model.py", [], "no CUDA device here (--smoke runs the logic on the CPU)"),
    ("tabled_variants.py", ["--json", "f/t.json"], "--json: '{tmp}/f' is a file, not a folder"),
    ("tabled_variants.py", ["--json", "t.json", "--construction", "parity;cyclic(0)"],
     "--construction: 'cyclic(0)': cyclic: parameter 'm' must be an integer in 1..10000"),
    ("tabled_variants.py", ["--json", "t.json"], "no CUDA device here"),
    ("gpu_session.py", ["--out", "f"], "--out: 'f' is a file (expected a result folder)"),
    ("gpu_session.py", ["--out", "f/o"], "--out: '{tmp}/f' is a file, not a folder"),
    ("gpu_session.py", ["--out", "o", "--model-rows", "1u,3"],
     "--model-rows: '3' is not a row (n_h >= 1 then u"),
    ("gpu_session.py", ["--out", "o", "--exact-workers", "0"],
     "--exact-workers: expected an int >= 1, got 0"),
])
def test_bad_options_are_one_error_line_before_anything_runs(tmp_path, script, argv, says):
    (tmp_path / "f").write_text("")
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", OUT="")  # no device, even on a GPU machine
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *argv], cwd=tmp_path,
                       capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-2000:]
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith(f"{script}: error: ") and says.format(tmp=tmp_path) in last, last
    assert r.stdout == "" and sorted(p.name for p in tmp_path.iterdir()) == ["f"]


def test_machine_helpers():
    # output_problem (with make_folder), describe and model_rows: their examples
    sys.path.insert(0, str(ROOT))
    import benchmarks._machine as machine

    r = doctest.testmod(machine)
    assert r.attempted >= 12 and r.failed == 0
    assert machine.output_problem(ROOT / "no" / "such" / "r.json", make_folder=True) is None
    assert machine.model_rows("--fla", "", empty=True) == []
    with pytest.raises(ValueError, match="--rows: '' is not a row"):
        machine.model_rows("--rows", "")
