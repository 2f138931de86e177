"""The kernel benchmarks' ``--smoke`` modes: their logic on tiny CPU shapes (interpreter).

The numbers come from the H100; these runs only catch a broken script before device time is
spent on it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(args, timeout=170):
    r = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                       timeout=timeout)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r


def test_tabled_variants_smoke(tmp_path):
    out = tmp_path / "tv.json"
    _run(["benchmarks/tabled_variants.py", "--smoke", "--json", str(out),
          "--construction", "cyclic(4)"])
    every = json.loads(out.read_text())["rows"]
    rows = [r for r in every if "cyclic" not in r["impl"]]
    cons = [r for r in every if "cyclic" in r["impl"]]
    # the construction's codes (= DFA states) agree exactly across the four paths
    assert len(cons) == 4 and all(r["codes_differing"] == 0 for r in cons)
    # every variant with both id dtypes (smoke shape: no extra chunk sizes); each computed
    # the legacy kernel's outputs: exactly for legacy itself, to float32 rounding for the
    # others (they sum S^T k in another order)
    assert len(rows) == 2 + 5
    assert all(r["max_abs_diff_o"] is not None and r["max_abs_diff_o"] < 1e-4 for r in rows)
    assert [r["max_abs_diff_o"] for r in rows if "legacy" in r["impl"]] == [0.0]


def test_kernels_model_sweep_smoke(tmp_path):
    out = tmp_path / "km.json"
    _run(["benchmarks/kernels_model.py", "--smoke", "--rows", "1u", "--sweep", "--sweep-row",
          "1u", "--out", str(out)])
    d = json.loads(out.read_text())
    assert [r["row"] for r in d["rows"]] == ["1u"]
    assert len(d["sweep"]) >= 1 and all("error" not in e for e in d["sweep"])


@pytest.mark.parametrize("sweep_set, cfgs", [
    # session 9: bwd_wy value blocks of 16
    ("bwd_wy", [{"bwd_wy": [16, 8, 2]}, {"bwd_wy": [16, 8, 1]}, {"bwd_wy": [16, 16, 2]},
                {"bwd_wy": [32, 8, 1]}]),
    # issue 12, session 11: bwd_wy split in two kernels
    ("bwd_wy_split", [{"wy_split": True}, {"wy_split": True, "bwd_wy_v": [32, 4, 2]},
                      {"wy_split": True, "bwd_wy_v": [64, 4, 1]},
                      {"wy_split": True, "bwd_wy_v": [32, 4, 2], "bwd_wy_t": [0, 8, 2]}]),
    # issue 12, session 12: states and D kept from the forward pass
    ("save_states", [{"save_states": True}, {"save_states": True, "state": [64, 4, 2]},
                     {"save_states": True, "wy_split": True}]),
])
def test_kernels_model_bwd_wy_sweep_sets_smoke(tmp_path, sweep_set, cfgs):
    """A bwd_wy sweep set runs, one entry per setting in its order, no errors."""
    out = tmp_path / "km.json"
    _run(["benchmarks/kernels_model.py", "--smoke", "--rows", "1u", "--fla", "", "--sweep",
          "--sweep-row", "1u", "--sweep-set", sweep_set, "--out", str(out)])
    d = json.loads(out.read_text())
    assert [e["cfg"] for e in d["sweep"]] == cfgs
    assert all("error" not in e and e["fwdbwd_ms"] > 0 for e in d["sweep"])


def test_kernels_model_fwd_paths_sweep_smoke(tmp_path):
    """The fwd_paths sweep set (sessions 21-22) runs the forward with each of its default
    paths off, in its order, with no error, and each variant's outputs (of the forward
    without autograd too, the path those settings change) and gradients stay within bf16
    rounding of the default's."""
    out = tmp_path / "km.json"
    _run(["benchmarks/kernels_model.py", "--smoke", "--rows", "2g", "--fla", "", "--sweep",
          "--sweep-row", "2g", "--sweep-set", "fwd_paths", "--out", str(out)])
    sweep = json.loads(out.read_text())["sweep"]
    assert [sorted(e["cfg"]) for e in sweep] == [
        ["qkin", "wy_loop"], ["tfused", "wy_loop"], ["qkin", "tfused", "wy_loop"]]
    assert all("error" not in e and e["fwdbwd_ms"] > 0 for e in sweep)
    assert all("o_fwd" in e["rel_diff_vs_default"] for e in sweep)
    assert all(v < 2e-2 for e in sweep for v in e["rel_diff_vs_default"].values())


def test_kernels_model_lp_bwd_sweep_smoke(tmp_path):
    """The lp_bwd sweep set (session 18) runs, and each variant's ``rel_diff_vs_default``
    says what changed: under the interpreter the one-value-block ``bwd_wy`` is clipped to
    the padded V (the default's arithmetic: no difference), while ``lp_bwd`` rounds the
    partial ``dko`` (so ``dk`` differs) and leaves the outputs (of the forward without
    autograd too, ``o_fwd``) and ``dq`` alone."""
    out = tmp_path / "km.json"
    _run(["benchmarks/kernels_model.py", "--smoke", "--rows", "1u", "--fla", "", "--sweep",
          "--sweep-row", "1u", "--sweep-set", "lp_bwd", "--out", str(out)])
    sweep = json.loads(out.read_text())["sweep"]
    assert [e["cfg"] for e in sweep] == [{"lp_bwd": True}, {"bwd_wy": [128, 8, 2]},
                                         {"lp_bwd": True, "bwd_wy": [128, 8, 2]}]
    assert all("error" not in e and e["fwdbwd_ms"] > 0 for e in sweep)
    diffs = [e["rel_diff_vs_default"] for e in sweep]
    assert all(set(d) == {"o_fwd", "o", "dq", "dk", "dv", "dbeta"} for d in diffs)
    assert all(v == 0.0 for v in diffs[1].values())
    for d in (diffs[0], diffs[2]):
        assert d["o_fwd"] == 0.0 and d["o"] == 0.0 and d["dq"] == 0.0
        assert 0.0 < d["dk"] < 2e-2          # one more bfloat16 rounding of a partial


def test_faithful_benchmark_smoke(tmp_path):
    out, md = tmp_path / "f.json", tmp_path / "f.md"
    _run(["benchmarks/faithful.py", "--smoke", "--json", str(out), "--markdown", str(md)])
    rows = json.loads(out.read_text())["rows"]
    assert rows and all(r["proof_ok"] for r in rows)
    assert all(r["lower_bound"] <= r["degree"] for r in rows)
    # the block search's gap (6 against mu = 4), closed by the exhaustive search
    assert [(r["degree"], r["minimal_proved"]) for r in rows
            if r["case"] == "S_4 on 6 pairs"] == [(4, True)]
    assert "| case |" in md.read_text()


def test_monoid_benchmark_writes_outside_the_repository(tmp_path):
    # issue 12: a --json path outside the repository was written and then the final message
    # failed (Path.relative_to); the smoke mode checks the script on T_5 and S_5
    out, md = tmp_path / "m.json", tmp_path / "m.md"
    r = _run(["benchmarks/monoid.py", "--smoke", "--json", str(out), "--markdown", str(md)])
    assert f"wrote {out} and {md}" in r.stdout
    rows = json.loads(out.read_text())["results"]
    assert [r["case"] for r in rows] == ["T_5", "S_5", "maximal subgroups of T_5"]
    assert all(r["correct"] for r in rows)
    assert rows[-1]["subgroup_orders"] == [1, 2, 6, 24, 120]
    assert "not judged (--smoke)" in md.read_text()


def test_long_word_smoke(tmp_path):
    # one word through the chunked tabled path (chunks of 64) with one-byte ids and codes,
    # every layer of a stack, checked position by position against the DFA on the host
    out = tmp_path / "lw.json"
    _run(["benchmarks/long_word.py", "--smoke", "--json", str(out)], timeout=600)
    rows = json.loads(out.read_text())["rows"]
    assert [r["language"] for r in rows] == ["parity", "symmetric(5):faithful",
                                            "flip_flop_language"]
    assert all(r["status"] == "run" and r["chunk_size"] == 64 and r["wrong"] == 0
               for r in rows)
    assert rows[1]["K"] == "5" and rows[2]["layers"] == 7      # a Theorem 4 cascade, 7 layers


def test_long_word_counts_a_wrong_code():
    # the host check is what makes the row "exact": it must see a single corrupted code
    import numpy as np

    sys.path.insert(0, str(ROOT))
    from benchmarks.long_word import _count_wrong

    delta = np.array([[0, 1], [1, 0]])                  # parity
    ids = np.array([1, 1, 0, 1], dtype=np.uint8)
    codes = np.array([1, 0, 0, 1], dtype=np.uint8)      # states after each symbol
    assert _count_wrong(delta, 0, ids, codes, np.arange(2)) == (0, -1)
    codes[2] = 1
    assert _count_wrong(delta, 0, ids, codes, np.arange(2)) == (1, 2)


def test_kernels_construction_smoke(tmp_path):
    """The construction benchmark's rows at a tiny CPU shape, incl. the readout-order rows
    (late `o`; the code table's early order, late being its default since session 11), which
    give the default's outputs bit for bit in the interpreter."""
    # the Markdown in a folder not there yet: made, as the JSON's is (was: a traceback after
    # the run); --chunks is the caller's under --smoke too (was: replaced by auto,T,4)
    out, md = tmp_path / "kc.json", tmp_path / "new" / "kc.md"
    _run(["benchmarks/kernels_construction.py", "--smoke", "--skip-exact", "--json", str(out),
          "--md", str(md), "--chunks", "auto,T,3"])
    d = json.loads(out.read_text())
    variants = {r["variant"] for r in d["rows"]}
    assert {"chunk=auto, late readout", "perm K=16 V=1, late readout",
            "perm K=16 V=1 C=16, code table, early readout"} <= variants
    assert [r["variant"] for r in d["rows"] if r["impl"] == "ours tabled o"][:3] == [
        "chunk=auto", "chunk=sequential", "chunk=3"]
    assert all(r["ms"] > 0 for r in d["rows"])
    # host time a call and wall time a call in a loop (the loop's includes the host's)
    assert all(0 < r["host_ms"] <= r["loop_ms"] for r in d["rows"])
    (chk,) = d["checks"]
    assert chk["late_o_bit_identical"] is True and chk["perm_early_codes_mismatches"] == 0
    assert chk["late_o_rel_error"] == 0.0
    assert chk["perm_code_table_vs_argmin_mismatches"] == 0
    # the default (proj, session 23) against cols_kernel: the same codes, o to rounding
    assert chk["perm_proj_codes_mismatches"] == 0 and chk["proj_o_rel_error_vs_cols"] < 1e-5
    assert "chunk=auto, cols_kernel" in variants
    assert "chunk=auto, checks on, narrowing in summary" in variants     # opt-in, session 25
    # the runner's rows (session 29) and its outputs: the call's, bit for bit
    assert {"chunk=auto, checks on, TabledRunner", "chunk=auto, TabledRunner, ids in place",
            "chunk=auto, checks on, TabledRunner, "
            "ids in place", "perm K=16 V=1 C=16, code table, checks on, TabledRunner, ids in "
            "place"} <= variants
    assert chk["runner_o_bit_identical"] is True and chk["runner_perm_codes_mismatches"] == 0
    assert d["meta"]["mapped_flags"] is True         # the default since session 25
    assert "late readout" in md.read_text() and "| host ms | loop ms |" in md.read_text()
    assert d["flags_ab"] == []                        # not asked for


def test_kernels_construction_flags_ab_smoke(tmp_path, monkeypatch):
    """--flags-ab: every variant timed in every round, in rotated orders, the flag mode
    switched for each and restored after; the Markdown table."""
    out, md = tmp_path / "kc.json", tmp_path / "kc.md"
    _run(["benchmarks/kernels_construction.py", "--smoke", "--skip-exact", "--json", str(out),
          "--md", str(md), "--chunks", "auto", "--flags-ab", "3"])
    (ab,) = json.loads(out.read_text())["flags_ab"]
    names = ["checks off", "checks on, copy flags", "checks on, mapped flags"]
    assert len(ab["rounds"]) == 3 and all(list(r) == names[i:] + names[:i]
                                          for i, r in enumerate(ab["rounds"]))
    assert all(ab["median_ms"][n] > 0 for n in names) and list(ab["cost_pct"]) == names[1:]
    assert "| copy cost | mapped cost |" in md.read_text()

    # in process: the mode each call ran under, and the module flag restored
    import importlib.util
    spec = importlib.util.spec_from_file_location("kc_ab", ROOT / "benchmarks" /
                                                  "kernels_construction.py")
    kc = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(kc)
    monkeypatch.setattr(kc, "SMOKE", True)
    monkeypatch.setattr(kc, "bench", lambda fn, rep: fn() or 1.0)
    monkeypatch.setattr(kc.checks_mod, "MAPPED_FLAGS", "sentinel")   # put back afterwards
    seen = []
    res = kc.flags_ab(lambda: seen.append(("off", kc.checks_mod.MAPPED_FLAGS)),
                      lambda: seen.append(("on", kc.checks_mod.MAPPED_FLAGS)), rounds=1)
    assert seen == [("off", False), ("off", False), ("on", False), ("on", False),
                    ("on", True), ("on", True)]
    assert kc.checks_mod.MAPPED_FLAGS == "sentinel" and res["cost_pct"] == {
        "checks on, copy flags": 0.0, "checks on, mapped flags": 0.0}


@pytest.mark.parametrize("argv, says", [
    (["--json", "."], "--json: '.' is a folder (expected a file name)"),
    (["--md", "f/kc.md"], "is a file, not a folder"),
    (["--compare", "no_such_tabled.py"], "--compare: no file 'no_such_tabled.py'"),
    ([], "no CUDA device here (--smoke runs the logic on the CPU)"),
    (["--md", "f/new/kc.md"], "/f' is a file, not a folder"),
    # --chunks: checked before the CUDA check and any timing (a GPU run with --chunks foo
    # timed the fla and general rows, then stopped at int('foo') with a traceback)
    (["--chunks", "foo"], "--chunks: 'foo' is not auto, T or an integer >= 1"),
    (["--chunks", "auto,0"], "--chunks: '0' is not auto, T or an integer >= 1"),
    (["--chunks", "auto,-64"], "--chunks: '-64' is not auto, T or an integer >= 1"),
    (["--chunks", "auto,,T"], "--chunks: '' is not auto, T or an integer >= 1"),
    (["--chunks", "T,1024"], "--chunks: 'T,1024' has no 'auto' (the summary compares"),
    (["--flags-ab", "-1"], "--flags-ab: expected a number of rounds >= 0, got -1"),
])
def test_kernels_construction_bad_options_are_one_error_line(tmp_path, argv, says):
    # were tracebacks at the end of the run (outputs), an assert (no CUDA), or silence
    # (--compare of a missing file timed nothing and said nothing)
    (tmp_path / "f").write_text("")
    smoke = ["--smoke", "--skip-exact"] if argv else []
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "kernels_construction.py"),
                        *smoke, "--json", "kc.json", "--md", "kc.md", *argv], cwd=tmp_path,
                       capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, CUDA_VISIBLE_DEVICES=""))
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-2000:]
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("kernels_construction.py: error: ") and says in last, last
    assert not (tmp_path / "kc.json").exists() and r.stdout == ""      # nothing timed


def test_kernels_construction_bad_chunks_before_the_cuda_check(tmp_path):
    # a GPU run (no --smoke) is told of a bad --chunks, not of a missing device first
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "kernels_construction.py"),
                        "--json", "kc.json", "--md", "kc.md", "--chunks", "auto,512,1e3"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, CUDA_VISIBLE_DEVICES=""))
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert r.stderr.strip().splitlines()[-1] == (
        "kernels_construction.py: error: --chunks: '1e3' is not auto, T or an integer >= 1 "
        "(tokens a chunk)")
    sys.path.insert(0, str(ROOT))
    from benchmarks.kernels_construction import chunk_sizes

    assert chunk_sizes("auto,T,4096,100") == ["auto", "T", 4096, 100]   # no power of two
    assert chunk_sizes("7,auto") == [7, "auto"]
