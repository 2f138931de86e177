"""``benchmarks/roofline.py`` without a GPU: ncu's CSV read in both its layouts, the verdicts,
the metric filter, the driver against a stand-in ``ncu``, and every workload's Python on tiny
CPU shapes (the counters themselves come from the GPU machine)."""

from __future__ import annotations

import importlib.util
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "roofline.py"

spec = importlib.util.spec_from_file_location("roofline", SCRIPT)
roofline = importlib.util.module_from_spec(spec)
spec.loader.exec_module(roofline)

RAW = """==PROF== Connected to process 42
some program output
"ID","Process ID","Kernel Name","gpu__time_duration.sum","dram__bytes_read.sum",\
"dram__bytes_write.sum","dram__throughput.avg.pct_of_peak_sustained_elapsed",\
"l1tex__throughput.avg.pct_of_peak_sustained_active",\
"smsp__issue_active.avg.pct_of_peak_sustained_active",\
"smsp__average_warps_issue_stalled_long_scoreboard_per_issue_active.ratio",\
"smsp__average_warps_issue_stalled_barrier_per_issue_active.ratio"
"","","","nsecond","byte","byte","%","%","%","",""
"0","42","cols_kernel","2,000","4,000,000","1,000,000","12.5","20","10","5.5","0.5"
"1","42","cols_kernel","1,000","2,000,000","1,000,000","10","22","11","4.5","0.7"
"2","42","cols_kernel","3,000","6,000,000","1,000,000","15","24","12","6.5","0.6"
"3","42","vectorized_elementwise_kernel","500","1,000,000","1,000,000","80","10","5","1","0"
"""


def test_raw_page_is_read_per_launch_and_summarized_by_median():
    launches = roofline.parse_ncu_csv(RAW)
    assert [r["kernel"] for r in launches] == ["cols_kernel"] * 3 + [
        "vectorized_elementwise_kernel"]
    assert launches[0]["ns"] == 2000.0 and launches[0]["dram_read"] == 4e6
    rows = roofline.summarize(launches)
    cols, elem = rows
    assert cols["launches"] == 3 and cols["ns"] == 2000.0 and cols["dram_read"] == 4e6
    assert cols["dram_GBps"] == pytest.approx((4e6 + 1e6) / 2000.0)   # bytes / ns = GB/s
    assert (cols["verdict"], cols["stall"]) == ("latency", "long_scoreboard")
    assert elem["verdict"] == "memory"
    assert cols["l2_pct"] is None                 # a metric ncu did not write stays None


def test_details_page_is_read_too():
    details = ('"ID","Kernel Name","Section Name","Metric Name","Metric Unit","Metric Value"\n'
               '"0","bwd_wy_kernel","","gpu__time_duration.sum","nsecond","9,000"\n'
               '"0","bwd_wy_kernel","","smsp__issue_active.avg.pct_of_peak_sustained_active",'
               '"%","71.5"\n'
               '"1","fwd_state_kernel","","gpu__time_duration.sum","nsecond","4,000"\n')
    rows = roofline.summarize(roofline.parse_ncu_csv(details))
    assert [(r["kernel"], r["ns"], r["verdict"]) for r in rows] == [
        ("bwd_wy_kernel", 9000.0, "issue"), ("fwd_state_kernel", 4000.0, "unknown")]


def test_output_without_a_table_is_an_error():
    with pytest.raises(ValueError, match="no ncu CSV table"):
        roofline.parse_ncu_csv("==ERROR== Failed to find metric smsp__x\n")


@pytest.mark.parametrize("metrics, bound", [
    ({"dram_pct": 60.0}, "memory"),
    ({"dram_pct": 59.0, "l2_pct": 70.0}, "L2"),
    ({"dram_pct": 10.0, "l1_pct": 65.0, "issue_pct": 80.0}, "L1"),
    ({"dram_pct": 10.0, "l1_pct": 20.0, "issue_pct": 80.0}, "issue"),
    ({}, "unknown"),
    ({"dram_pct": 10.0}, "latency"),
])
def test_verdicts(metrics, bound):
    assert roofline.verdict(metrics)[0] == bound


def test_unknown_metrics_are_dropped_before_profiling():
    listing = "\n".join(["Device NVIDIA H200 (GH100)", "Metric Name   Metric Description",
                         "gpu__time_duration   duration", "dram__bytes_read   read bytes"])
    kept = roofline.available_metrics(listing)
    assert set(kept) == {"gpu__time_duration.sum", "dram__bytes_read.sum"}
    assert roofline.available_metrics("") == roofline.METRICS     # no listing: keep all


def _fake_ncu(tmp_path: Path) -> Path:
    """A stand-in ``ncu``: lists two metrics, prints the RAW table for a profiled run."""
    fake = tmp_path / "ncu"
    data = tmp_path / "raw.csv"
    data.write_text(RAW)
    fake.write_text("#!/bin/sh\n"
                    'case "$1" in\n'
                    '  --version) echo "NVIDIA (R) Nsight Compute Command Line Profiler";'
                    ' echo "Version 2025.3.1";;\n'
                    '  --query-metrics) echo "Metric Name  Description"; '
                    'echo "gpu__time_duration  d"; echo "dram__bytes_read  r";;\n'
                    f'  *) echo "$@" > {tmp_path}/args; cat {data};;\n'
                    "esac\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    return fake


def test_driver_profiles_each_workload_and_writes_the_tables(tmp_path):
    fake = _fake_ncu(tmp_path)
    out, md = tmp_path / "r.json", tmp_path / "r.md"
    r = subprocess.run([sys.executable, str(SCRIPT), "--ncu", str(fake), "--workloads",
                        "tabled_o_1024x4096", "--json", str(out), "--md", str(md)],
                       cwd=ROOT, capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, STATETRACK_COMMIT="feedbee"))
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(out.read_text())
    # what ran is recorded: the commit a GPU machine is told (its .git may be older)
    assert res["commit"] == "feedbee" and res["torch"]
    assert "commit feedbee, torch " in md.read_text()
    assert set(res["metrics"]) == {"gpu__time_duration.sum", "dram__bytes_read.sum"}
    assert "smsp__issue_active.avg.pct_of_peak_sustained_active" in res["metrics_not_available"]
    assert res["ncu_version"] == "Version 2025.3.1"
    (w,) = res["workloads"]
    assert [k["kernel"] for k in w["kernels"]] == ["cols_kernel", "vectorized_elementwise_kernel"]
    args = (tmp_path / "args").read_text().split()
    assert args[:2] == ["--clock-control", "none"]
    assert args[args.index("--metrics") + 1] == "gpu__time_duration.sum,dram__bytes_read.sum"
    assert args[-4:] == ["--workload", "tabled_o_1024x4096", "--repeats", "3"]
    assert "| `cols_kernel` | 3 | 2.0 |" in md.read_text()


@pytest.mark.parametrize("argv, says", [
    (["--workloads", "nope"], "--workloads: unknown ['nope']"),
    (["--workload", "nope"], "--workload: expected one of"),
    (["--repeats", "0"], "--repeats: expected an int >= 1"),
    (["--ncu", "/nonexistent/ncu"], "not found"),
    (["--parse", "x.csv"], "--parse needs --workload"),
])
def test_bad_options_are_one_error_line(argv, says):
    r = subprocess.run([sys.executable, str(SCRIPT), *argv], cwd=ROOT, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert says in r.stderr.strip().splitlines()[-1]


def test_dry_run_without_ncu_prints_the_commands_and_says_ncu_is_not_here(tmp_path):
    r = subprocess.run([sys.executable, str(SCRIPT), "--dry-run", "--ncu", "/nonexistent/ncu",
                        "--workloads", "tabled_o_1024x4096,model_1u_fwd_bwd"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "Traceback" not in r.stderr
    assert r.stderr.strip() == ("note: '/nonexistent/ncu' (Nsight Compute) is not found here: "
                                "these commands are for the GPU machine, nothing was profiled")
    cmds = r.stdout.strip().splitlines()
    assert [c.split()[0] for c in cmds] == ["/nonexistent/ncu"] * 2
    assert [c.split()[-3] for c in cmds] == ["tabled_o_1024x4096", "model_1u_fwd_bwd"]
    fake = _fake_ncu(tmp_path)                    # where ncu is there: no note
    r = subprocess.run([sys.executable, str(SCRIPT), "--dry-run", "--ncu", str(fake)],
                       cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stderr == ""
    assert len(r.stdout.strip().splitlines()) == len(roofline.WORKLOADS)


@pytest.mark.parametrize("workload", sorted(roofline.WORKLOADS))
def test_every_workload_runs_on_the_cpu(workload):
    env = dict(os.environ, TRITON_INTERPRET="1")
    r = subprocess.run([sys.executable, str(SCRIPT), "--workload", workload, "--smoke",
                        "--repeats", "1"], cwd=ROOT, capture_output=True, text=True,
                       timeout=300, env=env)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]


def test_tables_without_kernel_rows_or_id_column_are_errors():
    with pytest.raises(ValueError, match="no kernel rows"):
        roofline.parse_ncu_csv('"ID","Kernel Name","gpu__time_duration.sum"\n"","","nsecond"\n')
    with pytest.raises(ValueError, match="no kernel rows"):
        roofline.parse_ncu_csv('"ID","Kernel Name","Metric Name","Metric Value"\n')
    with pytest.raises(ValueError, match="no 'ID' column"):
        roofline.parse_ncu_csv('"Kernel Name","gpu__time_duration.sum"\n"k","5"\n')


def test_an_unquoted_header_is_found():
    rows = roofline.parse_ncu_csv('ID,Kernel Name,gpu__time_duration.sum\n,,nsecond\n0,k,"1,500"\n')
    assert [(r["kernel"], r["ns"]) for r in rows] == [("k", 1500.0)]


def test_parse_prints_and_writes_the_tables(tmp_path):
    (tmp_path / "raw.csv").write_text(RAW)
    r = subprocess.run([sys.executable, str(SCRIPT), "--parse", "raw.csv", "--workload",
                        "model_1u_fwd_bwd", "--json", "r.json"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "| `cols_kernel` | 3 | 2.0 |" in r.stdout           # the table without --md too
    (w,) = json.loads((tmp_path / "r.json").read_text())["workloads"]
    assert w["workload"] == "model_1u_fwd_bwd" and len(w["kernels"]) == 2


@pytest.mark.parametrize("argv, says", [
    (["--parse", "missing.csv", "--workload", "model_1u_fwd_bwd"],
     "--parse: cannot read 'missing.csv': No such file"),
    (["--parse", ".", "--workload", "model_1u_fwd_bwd"], "--parse: cannot read '.'"),
    (["--parse", "empty.csv", "--workload", "model_1u_fwd_bwd"], "no ncu CSV table"),
    (["--parse", "log.csv", "--workload", "model_1u_fwd_bwd"], "no ncu CSV table"),
    (["--parse", "head.csv", "--workload", "model_1u_fwd_bwd"], "has no kernel rows"),
    (["--parse", "raw.csv", "--workload", "nope"], "--workload: expected one of"),
    (["--parse", "raw.csv", "--workload", "model_1u_fwd_bwd", "--json", "no/r.json"],
     "--json: folder '{tmp}/no' does not exist"),
    (["--parse", "raw.csv", "--workload", "model_1u_fwd_bwd", "--json", "raw.csv/r.json"],
     "--json: '{tmp}/raw.csv' is a file, not a folder"),
    (["--dry-run", "--csv-dir", "raw.csv/csv"], "--csv-dir: '{tmp}/raw.csv' is a file, not a "
                                                 "folder"),
    (["--parse", "raw.csv", "--workload", "model_1u_fwd_bwd", "--md", "."],
     "--md: '.' is a folder"),
    (["--dry-run", "--csv-dir", "raw.csv"], "--csv-dir: 'raw.csv' exists and is not a folder"),
    (["--dry-run", "--timeout", "0"], "--timeout: expected seconds >= 1"),
    (["--repeats", "-1"], "--repeats: expected an int >= 1, got -1"),
    (["--repeats", "abc"], "invalid int value: 'abc'"),
    (["--smoke"], "--smoke needs --workload"),
    (["--workload", "model_1u_fwd_bwd", "--dry-run"], "--dry-run prints the ncu commands"),
    (["--workload", "tabled_o_1024x4096"], "needs a CUDA device"),
])
def test_bad_files_and_paths_are_one_error_line(tmp_path, argv, says):
    (tmp_path / "raw.csv").write_text(RAW)
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "log.csv").write_text("==PROF== Disconnected from process 1\n")
    (tmp_path / "head.csv").write_text('"ID","Kernel Name","gpu__time_duration.sum"\n'
                                       '"","","nsecond"\n')
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="")        # no device, even on a GPU machine
    r = subprocess.run([sys.executable, str(SCRIPT), *argv], cwd=tmp_path, capture_output=True,
                       text=True, timeout=60, env=env)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-2000:]
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("roofline.py: error: ") and says.format(tmp=tmp_path) in last, last


@pytest.mark.parametrize("argv, says", [
    (["--json", "no/r.json"], "--json: folder '{tmp}/no' does not exist"),
    (["--md", "f/r.md"], "--md: '{tmp}/f' is a file, not a folder"),
    (["--json", "."], "--json: '.' is a folder (expected a file name)"),
    (["--csv-dir", "f/csv"], "--csv-dir: '{tmp}/f' is a file, not a folder"),
])
def test_a_bad_output_path_is_refused_before_anything_is_profiled(tmp_path, argv, says):
    # were: --md inside a file, or a --csv-dir below a file, a traceback after the first
    # workload's profile; now output_problem's line before ncu is asked anything
    fake = _fake_ncu(tmp_path)
    (tmp_path / "f").write_text("")
    r = subprocess.run([sys.executable, str(SCRIPT), "--ncu", str(fake), "--workloads",
                        "tabled_o_1024x4096", *argv], cwd=tmp_path, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-2000:]
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("roofline.py: error: ") and says.format(tmp=tmp_path) in last, last
    assert not (tmp_path / "args").exists() and r.stdout == ""          # nothing profiled
