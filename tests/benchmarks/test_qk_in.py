"""``benchmarks/probes/qk_in.py`` on the CPU (Triton's interpreter, a small shape): the forward
state pass reading the scores from a buffer (flat and unrolled) gives the default's outputs
(float32 there: within 1e-5), the JSON holds every configuration, and bad options are one
``error:`` line."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "probes" / "qk_in.py"


def test_the_scores_from_a_buffer_give_the_default_outputs(tmp_path, run_interpreted):
    out = tmp_path / "q.json"
    r = run_interpreted(SCRIPT, "--device", "cpu", "--shape", "1,70,1,32,32", "--rows", "2g,1u",
                        "--configs", "32:4:2:0:0,32:4:2:1:0,16:4:2:1:1,32:4:2:0:1", "--json",
                        str(out))
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(out.read_text())
    assert [row["row"] for row in res["rows"]] == ["2g", "1u"]
    for row in res["rows"]:
        cfgs = row["configs"]
        assert [(c["bv"], c["qkin"], c["nest"]) for c in cfgs] == [
            (32, False, False), (32, True, False), (16, True, True), (32, False, True)]
        assert all("error" not in c and c["ms"] is None for c in cfgs)
        assert cfgs[0]["rel_diff_vs_default"] == 0.0 and cfgs[3]["rel_diff_vs_default"] == 0.0
        assert all(c["rel_diff_vs_default"] < 1e-5 for c in cfgs)


def test_the_saving_pass_gives_the_same_outputs(tmp_path, run_interpreted):
    out = tmp_path / "q.json"
    r = run_interpreted(SCRIPT, "--device", "cpu", "--shape", "1,40,1,32,16", "--rows", "3g",
                        "--save", "--configs", "16:4:2:0:0,16:4:2:1:1", "--json", str(out))
    assert r.returncode == 0, r.stderr[-2000:]
    row = json.loads(out.read_text())["rows"][0]
    assert row["save"] and all(c["rel_diff_vs_default"] < 1e-5 for c in row["configs"])


def test_bad_options_are_one_error_line(run_interpreted):
    for args, word in ((["--rows", "9z"], "--rows"), (["--shape", "1,2"], "--shape"),
                       (["--configs", "24:4:2:0"], "--configs")):
        r = run_interpreted(SCRIPT, "--device", "cpu", *args, timeout=120)
        assert r.returncode == 2, (args, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and word in lines[0], lines
