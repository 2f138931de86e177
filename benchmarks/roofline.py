r"""What bounds each kernel (issue 12's roofline): Nsight Compute's counters for every kernel of
the construction rows and the model rows, each kernel's DRAM traffic against its time, and a
one-word verdict (memory, L1, L2, issue, latency) with the stall reason that dominates.

How it works. The script runs itself under ``ncu`` once per workload (``--workload NAME``: the
rows of ``kernels_construction.py`` and ``kernels_model.py``, built by those scripts' own
functions, each run a few times after a warm-up call), reads ncu's CSV, keeps the median of
every metric per kernel name, and writes a JSON and a Markdown table. Every kernel of the
workload is listed, ours and PyTorch's (an id conversion, an allocation fill), so that
nothing the row spends hides.

Run on the GPU machine (Nsight Compute is there; keep the clocks alone, as the device notes
say: ``--clock-control none``)::

    python3 benchmarks/roofline.py --json $OUT/roofline.json --md $OUT/roofline.md
    python3 benchmarks/roofline.py --workloads tabled_o_1024x4096 --json ... --md ...

Here (no GPU): ``--dry-run`` prints the ncu commands; ``--parse FILE.csv --workload NAME``
makes the tables from a saved ncu CSV; ``--smoke`` runs one workload's Python on the CPU
(Triton's interpreter, tiny shapes) to check that it runs.

Verdicts (:func:`verdict`), from the Speed-of-Light percentages of the kernel's peak:
``unknown`` when ncu wrote none of the throughput counters; ``memory`` when DRAM
throughput is at least 60 %, ``L2`` / ``L1`` when that cache's throughput is (and above
DRAM's), ``issue`` when the schedulers issue at least 60 % of the
cycles (instruction-bound), otherwise ``latency``: the warps wait, and the largest stall
reason says on what (``long_scoreboard``: global loads; ``barrier``; ``short_scoreboard``:
shared memory; ``wait``: fixed-latency dependencies; ``mio_throttle``, ``lg_throttle``:
memory instruction queues; ``math_pipe_throttle``; ``not_selected``: enough warps).
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:                     # run as a script: benchmarks/ is importable
    sys.path.insert(0, str(ROOT))
from benchmarks._machine import check_outputs, git_commit  # noqa: E402


def _triton_version() -> str | None:
    """Triton's version, None where it is not installed."""
    if importlib.util.find_spec("triton") is None:
        return None
    import triton

    return triton.__version__

#: ncu metric name -> short name in the results
METRICS = {
    "gpu__time_duration.sum": "ns",
    "dram__bytes_read.sum": "dram_read",
    "dram__bytes_write.sum": "dram_write",
    "dram__throughput.avg.pct_of_peak_sustained_elapsed": "dram_pct",
    "lts__throughput.avg.pct_of_peak_sustained_elapsed": "l2_pct",
    "l1tex__throughput.avg.pct_of_peak_sustained_active": "l1_pct",
    "sm__throughput.avg.pct_of_peak_sustained_elapsed": "sm_pct",
    "smsp__issue_active.avg.pct_of_peak_sustained_active": "issue_pct",
    "sm__warps_active.avg.pct_of_peak_sustained_active": "occupancy_pct",
    "launch__registers_per_thread": "registers",
    "launch__grid_size": "grid",
    "launch__block_size": "block",
}
#: stall reasons read (warps stalled per issued instruction, ``..._per_issue_active.ratio``)
STALLS = ("long_scoreboard", "barrier", "short_scoreboard", "wait", "mio_throttle",
          "lg_throttle", "math_pipe_throttle", "not_selected", "membar", "branch_resolving",
          "dispatch_stall", "drain", "imc_miss", "no_instruction", "sleeping", "tex_throttle",
          "selected")
for _s in STALLS:
    METRICS[f"smsp__average_warps_issue_stalled_{_s}_per_issue_active.ratio"] = f"stall_{_s}"

#: the workloads: name -> (script whose functions build it, shape, description)
WORKLOADS = {
    "tabled_o_1024x4096": "construction row: run_tabled output o, B 1024, T 4096, K = V = 16",
    "tabled_o_64x65536": "construction row: run_tabled output o, B 64, T 65536, K = V = 16",
    "tabled_code_1024x4096": "construction row: run_tabled code (perm K 16, code table), "
                             "B 1024, T 4096",
    "model_1u_fwd_bwd": "model row 1u: chunk_delta_product forward + backward, B 8, T 4096, "
                        "H 16, K = V = 128, n_h = 1, bf16",
    "model_2g_fwd_bwd": "model row 2g: the same with n_h = 2 and a forget gate",
}


def _load(name: str):
    """A benchmark script as a module (its functions build the rows: one definition of each
    row for the timing and for the counters)."""
    spec = importlib.util.spec_from_file_location(f"_roofline_{name}",
                                                  ROOT / "benchmarks" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(ROOT))
    spec.loader.exec_module(mod)
    return mod


def build_workload(name: str, smoke: bool = False) -> Callable[[], Any]:
    """A function that runs workload ``name`` once (after this call has built its inputs)."""
    import torch

    dev = "cpu" if smoke else "cuda"
    if name.startswith("tabled_"):
        kc = _load("kernels_construction")
        kc.DEV = dev
        from statetrack.kernels.tabled import run_tabled

        B, T = (2, 8) if smoke else tuple(int(x) for x in name.rsplit("_", 1)[1].split("x"))
        gen = torch.Generator().manual_seed(20251123)
        sym = torch.randint(0, kc.N_SYMBOLS, (B, T), generator=gen).to(torch.int32).to(dev)
        if name.startswith("tabled_o"):
            kt, bt, vt = kc.tables(gen)
            query = torch.nn.functional.normalize(torch.randn(kc.K, generator=gen), dim=0).to(dev)
            return lambda: run_tabled(sym, kt, bt, vt, query=query, output="o")
        letters = [[(0, 1)], [(1, 2)], [(2, 3)], [(3, 0)]]
        pk, pb, pv, _ = kc.perm_tables(letters, 16, 1)
        ph0 = torch.zeros(1, 16, 1, device=dev)
        ph0[0, 0, 0] = 1.0
        pq = torch.zeros(16, device=dev)
        pc = torch.zeros(16, 1, device=dev)
        return lambda: run_tabled(sym, pk, pb, pv, initial_state=ph0, query=pq, codes=pc,
                                  output="code")
    if name.startswith("model_"):
        km = _load("kernels_model")
        km.DEV = dev
        if smoke:
            km.B, km.T, km.H, km.K, km.V = 1, 16, 1, 16, 16
            km.DT = torch.float32
        nh, gated = int(name[6]), name[7] == "g"
        x = km.make_inputs(nh, gated, seed=0)
        return km.fwd_bwd_step(km.ours(x, nh), x)[0]
    raise ValueError(f"workload: expected one of {sorted(WORKLOADS)}, got {name!r}")


def run_workload(name: str, repeats: int, smoke: bool = False) -> None:
    """Build, warm up (compiles), then run ``repeats`` times: what ncu profiles."""
    import torch

    fn = build_workload(name, smoke)
    fn()
    if torch.cuda.is_available() and not smoke:
        torch.cuda.synchronize()
    for _ in range(repeats):
        fn()
    if torch.cuda.is_available() and not smoke:
        torch.cuda.synchronize()


def available_metrics(query_output: str, wanted: dict[str, str] = METRICS) -> dict[str, str]:
    """The metrics of ``wanted`` whose base name (before the first dot) ``ncu
    --query-metrics`` lists; all of them when the listing is empty (ncu rejects a whole run
    over one unknown name, so the names are checked first).

    >>> listing = chr(10).join(["Device NVIDIA H200", "Metric Name  Description",
    ...                         "dram__bytes  bytes of DRAM traffic"])
    >>> available_metrics(listing, {"dram__bytes_read.sum": "a", "dram__bytes.sum": "b",
    ...                             "smsp__x.ratio": "c"})
    {'dram__bytes.sum': 'b'}
    """
    names = {ln.split()[0] for ln in query_output.splitlines() if ln.strip()}
    if not any("__" in n for n in names):
        return dict(wanted)
    return {m: s for m, s in wanted.items() if m.split(".")[0] in names}


def ncu_command(ncu: str, workload: str, repeats: int,
                metrics: dict[str, str] = METRICS) -> list[str]:
    """The ncu command line that profiles one workload (its CSV on stdout)."""
    return [ncu, "--clock-control", "none", "--csv", "--page", "raw",
            "--metrics", ",".join(metrics), "--target-processes", "all",
            sys.executable, str(Path(__file__).resolve()), "--workload", workload,
            "--repeats", str(repeats)]


def _number(text: str) -> float | None:
    t = text.strip().replace(",", "")
    if t in ("", "n/a", "N/A", "-"):
        return None
    try:
        return float(t)
    except ValueError:
        return None


def parse_ncu_csv(text: str) -> list[dict[str, Any]]:
    """One dict per profiled kernel launch: ``kernel`` (name) and the short names of
    :data:`METRICS` found (floats; None where ncu wrote none).

    Reads ncu's ``--csv --page raw`` output (one row per launch, a metric per column, a
    units row under the header) and its ``--page details`` form (one row per metric, with
    ``Metric Name`` and ``Metric Value`` columns); lines ncu prints before the table (its
    ``==PROF==`` log, the program's own output) are skipped.

    Raises
    ------
    ValueError
        When the text holds no table (no ``Kernel Name`` header), its header has no ``ID``
        column, or the table has no kernel rows (ncu profiled nothing).

    Examples
    --------
    >>> raw = '''==PROF== Connected to process 1
    ... "ID","Kernel Name","gpu__time_duration.sum","dram__bytes_read.sum"
    ... "","","nsecond","byte"
    ... "0","cols_kernel","1,024","2048"
    ... "1","cols_kernel","1,000","n/a"
    ... '''
    >>> [(r["kernel"], r["ns"], r["dram_read"]) for r in parse_ncu_csv(raw)]
    [('cols_kernel', 1024.0, 2048.0), ('cols_kernel', 1000.0, None)]
    """
    lines = text.splitlines()
    start = next((i for i, ln in enumerate(lines)
                  if "Kernel Name" in ln and "Kernel Name" in next(csv.reader([ln]), [])), None)
    if start is None:
        raise ValueError("no ncu CSV table (no 'Kernel Name' header) in the output")
    rows = list(csv.reader(io.StringIO("\n".join(lines[start:]))))
    head = rows[0]
    col = {h: i for i, h in enumerate(head)}
    if "ID" not in col:
        raise ValueError(f"the ncu CSV header (line {start + 1}) has no 'ID' column")
    out: list[dict[str, Any]] = []
    if "Metric Name" in col:                                   # --page details
        by_id: dict[str, dict[str, Any]] = {}
        for r in rows[1:]:
            if len(r) < len(head):
                continue
            rec = by_id.setdefault(r[col["ID"]], {"kernel": r[col["Kernel Name"]]})
            short = METRICS.get(r[col["Metric Name"]])
            if short:
                rec[short] = _number(r[col["Metric Value"]])
        if not by_id:
            raise ValueError("the ncu CSV table has no kernel rows")
        return list(by_id.values())
    for r in rows[1:]:
        if len(r) < len(head) or not r[col["ID"]].strip():   # the units row, blank lines
            continue
        rec: dict[str, Any] = {"kernel": r[col["Kernel Name"]]}
        for name, short in METRICS.items():
            if name in col:
                rec[short] = _number(r[col[name]])
        out.append(rec)
    if not out:
        raise ValueError("the ncu CSV table has no kernel rows")
    return out


def summarize(launches: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per kernel name (in order of first launch): launches, and the median of each metric."""
    order: list[str] = []
    groups: dict[str, list[dict[str, Any]]] = {}
    for rec in launches:
        if rec["kernel"] not in groups:
            order.append(rec["kernel"])
        groups.setdefault(rec["kernel"], []).append(rec)
    res = []
    for k in order:
        g = groups[k]
        row: dict[str, Any] = {"kernel": k, "launches": len(g)}
        for short in METRICS.values():
            vals = [r[short] for r in g if r.get(short) is not None]
            row[short] = statistics.median(vals) if vals else None
        row["verdict"], row["stall"] = verdict(row)
        if row.get("ns") and row.get("dram_read") is not None and row.get("dram_write") is not None:
            row["dram_GBps"] = (row["dram_read"] + row["dram_write"]) / row["ns"]
        res.append(row)
    return res


def verdict(m: dict[str, Any], high: float = 60.0) -> tuple[str, str | None]:
    """``(bound, top stall reason)`` of one kernel's metrics (module docstring).

    >>> verdict({"dram_pct": 85.0, "l1_pct": 30.0, "issue_pct": 20.0})
    ('memory', None)
    >>> verdict({"dram_pct": 5.0, "l1_pct": 20.0, "issue_pct": 15.0,
    ...          "stall_long_scoreboard": 3.1, "stall_barrier": 0.4})
    ('latency', 'long_scoreboard')
    >>> verdict({"dram_pct": 5.0, "l1_pct": 75.0, "issue_pct": 40.0})
    ('L1', None)
    >>> verdict({"ns": 1000.0})              # ncu wrote no throughput counter
    ('unknown', None)
    """
    def get(k: str) -> float:
        v = m.get(k)
        return -1.0 if v is None else float(v)

    stalls = {s: get(f"stall_{s}") for s in STALLS if s != "selected"}
    top = max(stalls, key=stalls.get) if any(v > 0 for v in stalls.values()) else None
    if all(m.get(k) is None for k in ("dram_pct", "l2_pct", "l1_pct", "issue_pct")):
        return "unknown", top                 # no throughput counter: nothing to judge by
    dram, l2, l1, issue = get("dram_pct"), get("l2_pct"), get("l1_pct"), get("issue_pct")
    if dram >= high:
        return "memory", None
    if l2 >= high and l2 >= dram:
        return "L2", None
    if l1 >= high and l1 >= dram:
        return "L1", None
    if issue >= high:
        return "issue", None
    return "latency", top


def markdown(results: dict[str, Any]) -> str:
    lines = [f"Device: {results.get('device', '?')}; ncu {results.get('ncu_version', '?')}; "
             f"commit {results.get('commit', '?')}, torch {results.get('torch', '?')}, "
             f"triton {results.get('triton', '?')}; "
             "medians over the profiled launches; `%` = percent of that unit's peak.", ""]
    for w in results["workloads"]:
        lines += [f"### {w['workload']}: {WORKLOADS.get(w['workload'], '')}", ""]
        if w.get("error"):
            lines += [f"not profiled: {w['error']}", ""]
            continue
        lines += ["| kernel | launches | us | DRAM GB/s | DRAM % | L2 % | L1 % | SM % | issue % "
                  "| occupancy % | regs | bound | top stall |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]

        def f(v, fmt="{:.1f}"):
            return "" if v is None else fmt.format(v)
        for k in w["kernels"]:
            lines.append(
                f"| `{k['kernel'][:48]}` | {k['launches']} | {f(k.get('ns') and k['ns'] / 1e3)} | "
                f"{f(k.get('dram_GBps'), '{:.0f}')} | {f(k.get('dram_pct'))} | "
                f"{f(k.get('l2_pct'))} | {f(k.get('l1_pct'))} | {f(k.get('sm_pct'))} | "
                f"{f(k.get('issue_pct'))} | {f(k.get('occupancy_pct'))} | "
                f"{f(k.get('registers'), '{:.0f}')} | {k['verdict']} | {k['stall'] or ''} |")
        lines.append("")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    ap.add_argument("--workloads", default=",".join(WORKLOADS),
                    help=f"comma-separated, of {', '.join(WORKLOADS)}")
    ap.add_argument("--workload", help="(internal) run one workload: what ncu profiles")
    ap.add_argument("--repeats", type=int, default=3, help="profiled runs after the warm-up")
    ap.add_argument("--ncu", default=os.environ.get("NCU", "ncu"))
    ap.add_argument("--json", type=Path)
    ap.add_argument("--md", type=Path)
    ap.add_argument("--csv-dir", type=Path, help="keep ncu's raw CSV per workload here")
    ap.add_argument("--parse", type=Path, help="make the tables from this saved ncu CSV "
                    "(with --workload naming it)")
    ap.add_argument("--dry-run", action="store_true",
                    help="print the ncu commands only (runs nothing; ncu need not be here)")
    ap.add_argument("--smoke", action="store_true",
                    help="run one workload's Python on the CPU (interpreter, tiny shapes)")
    ap.add_argument("--timeout", type=int, default=240, help="seconds per workload")
    a = ap.parse_args(argv)
    if a.repeats < 1:
        ap.error(f"--repeats: expected an int >= 1, got {a.repeats}")
    if a.timeout < 1:
        ap.error(f"--timeout: expected seconds >= 1, got {a.timeout}")
    # before anything runs (a file, a missing folder, no permission: one line, not a
    # traceback after the profiles); --csv-dir is made where missing
    check_outputs(ap, {"--json": a.json, "--md": a.md})
    if a.csv_dir is not None and a.csv_dir.exists() and not a.csv_dir.is_dir():
        ap.error(f"--csv-dir: {str(a.csv_dir)!r} exists and is not a folder")
    if a.csv_dir is not None and a.csv_dir.is_dir() and not os.access(a.csv_dir,
                                                                       os.W_OK | os.X_OK):
        ap.error(f"--csv-dir: cannot write in {str(a.csv_dir)!r} (permission denied)")
    if a.csv_dir is not None and not a.csv_dir.exists():
        check_outputs(ap, {"--csv-dir": a.csv_dir / "w.csv"}, make_folder=True)
    if a.workload is not None and a.workload not in WORKLOADS:
        ap.error(f"--workload: expected one of {sorted(WORKLOADS)}, got {a.workload!r}")
    if a.smoke and not a.workload:
        ap.error("--smoke needs --workload NAME (the one workload to run on the CPU)")
    if a.workload and not a.parse:
        if a.dry_run:
            ap.error("--dry-run prints the ncu commands of --workloads; --workload runs one "
                     "workload (leave it out)")
        if a.smoke:
            os.environ.setdefault("TRITON_INTERPRET", "1")
        else:
            import torch

            if not torch.cuda.is_available():
                ap.error(f"--workload {a.workload}: needs a CUDA device (--smoke runs it on "
                         "the CPU)")
        run_workload(a.workload, a.repeats, a.smoke)
        return 0
    names = [w for w in a.workloads.split(",") if w]
    bad = [w for w in names if w not in WORKLOADS]
    if bad or not names:
        ap.error(f"--workloads: unknown {bad or names}; known: {', '.join(WORKLOADS)}")
    if a.parse:
        if not a.workload:
            ap.error("--parse needs --workload (the workload the CSV profiled)")
        try:
            text = a.parse.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            ap.error(f"--parse: cannot read {str(a.parse)!r}: "
                     f"{getattr(exc, 'strerror', None) or exc}")
        try:
            launches = parse_ncu_csv(text)
        except ValueError as exc:
            ap.error(f"--parse: {str(a.parse)!r}: {exc}")
        results = {"workloads": [{"workload": a.workload, "kernels": summarize(launches)}]}
        _write(results, a)
        print(markdown(results), end="")
        return 0
    if a.dry_run:
        if shutil.which(a.ncu) is None:
            print(f"note: {a.ncu!r} (Nsight Compute) is not found here: these commands are "
                  "for the GPU machine, nothing was profiled", file=sys.stderr)
        for w in names:
            print(" ".join(ncu_command(a.ncu, w, a.repeats)))
        return 0
    if shutil.which(a.ncu) is None:
        ap.error(f"--ncu: {a.ncu!r} not found (Nsight Compute is on the GPU machine)")
    import torch

    query = subprocess.run([a.ncu, "--query-metrics"], capture_output=True, text=True)
    metrics = available_metrics(query.stdout if query.returncode == 0 else "")
    results: dict[str, Any] = {
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "ncu_version": " ".join(subprocess.run([a.ncu, "--version"], capture_output=True,
                                               text=True).stdout.strip().splitlines()[-1:]),
        "metrics": metrics, "metrics_not_available": sorted(set(METRICS) - set(metrics)),
        "repeats": a.repeats, "commit": git_commit(), "torch": torch.__version__,
        "triton": _triton_version(), "workloads": []}
    for w in names:
        cmd = ncu_command(a.ncu, w, a.repeats, metrics)
        entry: dict[str, Any] = {"workload": w, "command": " ".join(cmd)}
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=a.timeout,
                               cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)))
            if a.csv_dir:
                a.csv_dir.mkdir(parents=True, exist_ok=True)
                (a.csv_dir / f"{w}.csv").write_text(r.stdout)
            entry["kernels"] = summarize(parse_ncu_csv(r.stdout))
            if r.returncode:
                entry["note"] = f"ncu exit {r.returncode}: {r.stderr.strip()[-300:]}"
        except (subprocess.TimeoutExpired, ValueError) as exc:
            entry["error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
        results["workloads"].append(entry)
        _write(results, a)                  # after every workload: a time limit keeps the rest
        print(f"{w}: " + (entry.get("error") or f"{len(entry['kernels'])} kernels"), flush=True)
    print(markdown(results))
    return 0


def _write(results: dict[str, Any], a: argparse.Namespace) -> None:
    if a.json:
        a.json.write_text(json.dumps(results, indent=1) + "\n")
    if a.md:
        a.md.write_text(markdown(results))


if __name__ == "__main__":
    sys.exit(main())
