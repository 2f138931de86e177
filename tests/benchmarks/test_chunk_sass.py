"""benchmarks/chunk_sass.py: the WY kernels cross-compiled for sm_90 without a GPU."""

from __future__ import annotations

import doctest
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "chunk_sass.py"


def _run(*argv, timeout=300):
    return subprocess.run([sys.executable, str(SCRIPT), *argv], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.parametrize("kernel", ["bwd_wy", "wy_fwd", "bwd_wy_v", "bwd_wy_t", "fwd_state",
                                    "fwd_state_save", "state_rec", "bwd_state", "bwd_o"])
def test_compiles_for_sm90_and_reports_resources(tmp_path, kernel):
    out = tmp_path / "r.json"
    r = _run("--kernel", kernel, "--dtype", "float32", "--K", "16", "--chunk", "16",
             "--configs", "16:4:1", "--json", str(out))
    assert r.returncode == 0, r.stderr[-2000:]
    doc = json.loads(out.read_text())
    # self-describing, as tabled_sass's: which tool, kernel, pass, shape and command made it
    assert doc["tool"] == "benchmarks/chunk_sass.py"
    if kernel in ("fwd_state", "fwd_state_save", "state_rec"):   # one function, three passes
        assert doc["kernel"] == "fwd_state_kernel" and doc["variant"] == kernel
    else:
        assert doc["kernel"] == f"{kernel}_kernel" and "variant" not in doc
    assert doc["pass"] == ("backward" if kernel.startswith("bwd") or kernel == "state_rec"
                           else "forward")
    assert doc["shape"] == {"dtype": "float32", "K": 16, "V": 16, "chunk": 16, "gate": False,
                            "L": 4096, "lp_bwd": False, "row64": False, "nc1": False, "nh": 1, "nest": False,
                            "qkin": False, "tfused": False}
    assert doc["command"].startswith(f"python benchmarks/chunk_sass.py --kernel {kernel} ")
    assert doc["command"].endswith(f"--json {out}") and doc["commit"] and doc["triton"]
    (row,) = doc["rows"]
    assert row["kernel"] == kernel and row["num_warps"] == 4 and row["chunk"] == 16
    assert 16 <= row["registers"] <= 255          # a real sm_90 resource report
    assert row["stack_bytes"] >= 0 and row["LDL"] >= 0 and row["STL"] >= 0
    assert row["shared_bytes"] > 0                # both kernels stage tl.dot operands
    assert row["L"] == 4096                       # the model rows' (divisible by 16)
    assert row["instructions"] > 0
    assert row["blocks_by_regs"] == 65536 // (-(-row["registers"] * 32 // 256) * 256 * 4)
    assert row["blocks_by_shared"] == 228 * 1024 // (row["shared_bytes"] + 1024)
    assert f"{kernel} float32 K=16 V=16 chunk=16" in r.stdout


@pytest.mark.parametrize("kernel", ["bwd_wy", "bwd_wy_v", "bwd_wy_t", "bwd_o", "bwd_state"])
def test_lp_bwd_compiles_the_partials_in_the_input_dtype(tmp_path, kernel):
    # --lp-bwd (session 18): the kernels that read or write dko / dvloc compiled with them in
    # bfloat16 (the opt-in _CONFIG_OVERRIDE["lp_bwd"]); the report says so
    out = tmp_path / "r.json"
    r = _run("--kernel", kernel, "--dtype", "bfloat16", "--K", "16", "--chunk", "16",
             "--configs", "16:4:1", "--lp-bwd", "--json", str(out))
    assert r.returncode == 0, r.stderr[-2000:]
    doc = json.loads(out.read_text())
    assert doc["shape"]["lp_bwd"] is True and doc["shape"]["dtype"] == "bfloat16"
    (row,) = doc["rows"]
    assert 16 <= row["registers"] <= 255 and row["instructions"] > 0


def test_nc1_compiles_the_one_chunk_specialization(tmp_path):
    # --nc1 (session 20): the forward state pass as Triton specializes a one-chunk call (NC a
    # constant 1): a loop of one step, so no software pipelining and less shared memory than
    # the compile with NC an argument (bf16, K = 128, V = 16: 55,296 B vs 107,268 B under
    # Triton 3.6)
    rows = {}
    for flag in ([], ["--nc1"]):
        out = tmp_path / f"r{len(flag)}.json"
        r = _run("--kernel", "fwd_state_save", "--K", "128", "--V", "16", "--gate", "--early",
                 "--configs", "16:4:2", "--json", str(out), *flag)
        assert r.returncode == 0, r.stderr[-2000:]
        doc = json.loads(out.read_text())
        assert doc["shape"]["nc1"] is bool(flag)
        (rows[bool(flag)],) = doc["rows"]
    assert rows[True]["nc1"] and not rows[False]["nc1"]
    assert rows[True]["shared_bytes"] < rows[False]["shared_bytes"]
    assert rows[True]["instructions"] < rows[False]["instructions"]


def test_wy_loop_compiles_at_chunk_64_without_more_spills_than_the_unrolled_kernel(tmp_path):
    # the opt-in loop form of wy_fwd (session 18) at the model's head size in bf16, against the
    # unrolled kernel compiled by the same Triton (under Triton 3.6: 0 B of stack against 48 B)
    rows = {}
    for kernel in ("wy_loop", "wy_fwd"):
        out = tmp_path / f"{kernel}.json"
        r = _run("--kernel", kernel, "--dtype", "bfloat16", "--K", "128", "--chunk", "64",
                 "--configs", "16:4:2", "--json", str(out))
        assert r.returncode == 0, r.stderr[-2000:]
        (rows[kernel],) = json.loads(out.read_text())["rows"]
    assert rows["wy_loop"]["kernel"] == "wy_loop" and rows["wy_loop"]["chunk"] == 64
    assert rows["wy_loop"]["stack_bytes"] <= rows["wy_fwd"]["stack_bytes"]
    assert rows["wy_loop"]["instructions"] < rows["wy_fwd"]["instructions"]


@pytest.mark.parametrize("kernel, flags", [
    ("fwd_state", ["--nh", "2", "--nest", "--qkin"]), ("fwd_state", ["--nh", "3", "--tfused"]),
    ("fwd_state_save", ["--nh", "2", "--nest", "--qkin", "--tfused"]),
    ("wy_loop", ["--nh", "2", "--qkin"]), ("wy_loop", ["--tfused"]),
    ("fwd_state", ["--nh", "3", "--tfused", "--hoist"]),
    ("fwd_state_save", ["--nh", "3", "--hoist"]), ("wy_loop", ["--tfused", "--inv-stack"])])
def test_the_forward_paths_of_session_21_compile(tmp_path, kernel, flags):
    """The unrolled state pass, the scores read from (or, by wy_loop, written to) a buffer and
    the pass applying T itself compile for sm_90, and the JSON says which was compiled."""
    out = tmp_path / "r.json"
    r = _run("--kernel", kernel, "--K", "32", "--chunk", "64", "--gate", "--configs", "32:4:1",
             *flags, "--json", str(out))
    assert r.returncode == 0, r.stderr[-2000:]
    doc = json.loads(out.read_text())
    row = doc["rows"][0]
    nh = int(flags[flags.index("--nh") + 1]) if "--nh" in flags else 1
    assert (row["nh"], row["nest"], row["qkin"], row["tfused"], row["hoist"],
            row["inv_stack"]) == (nh, "--nest" in flags, "--qkin" in flags, "--tfused" in flags,
                                  "--hoist" in flags, "--inv-stack" in flags)
    assert doc["shape"]["tfused"] == ("--tfused" in flags) and row["instructions"] > 100


@pytest.mark.parametrize("argv, says", [
    (["--configs", "32:4"], "expected BV:WARPS:STAGES"),
    (["--configs", "24:4:2"], "power of two"),
    (["--configs", "32:3:2"], "warps one of"),
    (["--configs", "a:b:c"], "expected BV:WARPS:STAGES"),
    (["--K", "0"], "--K/--V: expected 1..256"),
    (["--L", "0"], "--L: expected an int >= 1"),
    (["--chunk", "8"], "invalid choice"),
    (["--kernel", "wy_loop", "--chunk", "32"], "runs at --chunk 64 only"),
    (["--kernel", "nope"], "invalid choice"),
    (["--kernel", "bwd_wy", "--nc1"], "only the sequential passes take NC"),
    (["--kernel", "bwd_wy", "--nh", "2"], "--nh: only the state passes"),
    (["--nh", "0", "--kernel", "fwd_state"], "--nh: expected 1..8"),
    (["--kernel", "wy_loop", "--nest"], "--nest: fwd_state / fwd_state_save only"),
    (["--kernel", "bwd_o", "--qkin"], "--qkin: fwd_state / fwd_state_save / wy_loop only"),
    (["--kernel", "state_rec", "--tfused"], "--tfused: fwd_state / fwd_state_save / wy_loop"),
    # said before the compiles (was: after all of them)
    (["--json", str(ROOT / "benchmarks" / "chunk_sass.py" / "r.json")], "is a file, not a folder"),
    (["--json", "/no/such/folder/r.json"], "--json: folder '/no/such/folder' does not exist"),
])
def test_bad_options_are_one_error_line(argv, says):
    r = _run(*argv, timeout=60)
    assert r.returncode == 2
    assert says in r.stderr and "Traceback" not in r.stderr and r.stdout == ""


def test_help_says_the_whole_first_paragraph():
    # the description was the docstring's first line, cut mid-sentence ("... without a GPU and")
    r = _run("--help", timeout=60)
    assert r.returncode == 0
    assert "without a GPU and report registers, stack (spills) and local-memory" in " ".join(
        r.stdout.split())


def test_tabled_sass_reports_the_per_token_loop(tmp_path):
    # benchmarks/tabled_sass.py: cols_kernel compiled for sm_90 with aligned pointers (as at
    # run time), every variant incl. the late readout, with the per-token loop's length
    out = tmp_path / "t.json"
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "tabled_sass.py"), "--json",
                        str(out)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    doc = json.loads(out.read_text())
    rows = doc["rows"]
    # self-describing: which tool, pass, shape and command made it
    assert doc["tool"] == "benchmarks/tabled_sass.py" and doc["pass"] == "sequential"
    assert doc["shape"]["K"] == doc["shape"]["V"] == 16 and doc["shape"]["n_h"] == 1
    assert doc["command"].endswith(f"--json {out}") and doc["triton"]
    assert {"o", "o, late readout", "code (table)", "code (table), early readout"} <= set(rows)
    for name, row in rows.items():
        assert 0 < row["loop"] < row["instructions"], name
        assert row["STG"] > 0 and row["LDG"] > 0, name
    # a token's loop reads its table row: the outputs' loops are longer than the final
    # state's alone
    assert rows["o"]["loop"] > rows["none (final state)"]["loop"]


def test_tabled_sass_variants_name_every_constexpr():
    # every variant of benchmarks/tabled_sass.py gives each compile-time constant of its
    # kernel (the compile's signature is built from the kernel's parameters: a constexpr
    # added to a kernel and not to the variants broke `--proj`, session 30); no compile
    code = ("import sys; sys.path.insert(0, 'benchmarks'); import tabled_sass as ts; "
            "from statetrack.kernels.tabled import _tabled_kernels as k; "
            "need = lambda f: {p.name for p in f.params if p.is_constexpr}; "
            "bad = [(n, sorted(need(f) - set(v))) for f, vs in "
            "((k.cols_kernel, ts.variants(c)) for c in (False, True)) "
            "for n, v in vs.items() if need(f) - set(v)]; "
            "bad += [(n, sorted(need(k.proj_kernel) - set(v))) for c in (False, True) "
            "for n, v in ts.proj_variants(c).items() if need(k.proj_kernel) - set(v)]; "
            "print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]


def test_tabled_sass_loop_length_parser():
    # benchmarks/tabled_sass.loop_length's doctest (in a subprocess: importing the script
    # unsets TRITON_INTERPRET): the longest backward branch, the trap's self-loop and forward
    # branches aside, addresses past 0xffff counted
    code = ("import doctest, sys; sys.path.insert(0, 'benchmarks'); import tabled_sass; "
            "r = doctest.testmod(tabled_sass); assert r.attempted >= 2, r; "
            "sys.exit(1 if r.failed else 0)")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]


def _chunk_sass():
    spec = importlib.util.spec_from_file_location("chunk_sass", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_local_memory_is_counted_past_address_0xffff():
    # the instruction filter matched four-digit addresses only: a kernel longer than 4096
    # instructions (float32 K=128 bwd_wy at (64, 4, 2): 102616) had its LDL/STL counted in
    # its first 64 KB alone (717 / 1537 of 40826 / 22750)
    sass = "\n".join([f"        /*{16 * i:04x}*/  {'LDL' if i % 3 else 'STL'} R1, [R1] ;"
                      for i in range(5000)] + ["        /*13880*/  EXIT ;"])
    counts = _chunk_sass().sass_counts(sass)
    assert counts == {"instructions": 5001, "LDL": 3333, "STL": 1667}
    r = doctest.testmod(_chunk_sass())
    assert r.attempted >= 2 and r.failed == 0


@pytest.mark.parametrize("where, says", [
    (".", "--json: '.' is a folder (expected a file name)"),
    ("no/such/t.json", "--json: folder "),
    ("file/t.json", "is a file, not a folder"),
])
def test_tabled_sass_bad_json_path_is_one_error_line_before_compiling(tmp_path, where, says):
    # a folder, a missing folder, a path inside a file: a traceback at the end before
    (tmp_path / "file").write_text("")
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "tabled_sass.py"), "--json",
                        where], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith("tabled_sass.py: error: --json: ")
    assert says in r.stderr and r.stdout == ""              # nothing compiled


@pytest.mark.parametrize("kernel", ["wy_fwd", "wy_loop", "fwd_state", "state_rec"])
def test_small_k_compiles_the_forward_with_float32_sums(tmp_path, kernel):
    # 16-bit inputs at K <= chunk.HI_MAX_K compile the forward kernels with HI (float32 U and
    # float32 operands of the cancelling sums), as chunk.py runs them; K = 32 without it
    for K, want in ((8, True), (32, False)):
        out = tmp_path / f"{K}.json"
        r = _run("--kernel", kernel, "--dtype", "bfloat16", "--K", str(K), "--chunk", "64",
                 "--configs", "16:4:2", "--json", str(out))
        assert r.returncode == 0, r.stderr[-2000:]
        (row,) = json.loads(out.read_text())["rows"]
        assert row["hi"] is want and row["instructions"] > 0
