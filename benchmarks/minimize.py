"""Benchmark: DFA minimization, statetrack (Hopcroft, numba) against automata-lib's ``minify``.

Inputs: random complete DFAs with n states and 4 symbols (every transition uniform over the
states, each state accepting with probability 1/2, start state 0), drawn from
``numpy.random.default_rng([seed, n])``. Both libraries minimize the same automaton.

Measured, each the best of ``--repeat`` runs (wall clock, ``time.perf_counter``):

* ``partition``: :func:`statetrack.automata.minimize.minimal_partition` on the raw table (all
  n states, the Hopcroft kernel alone);
* ``DFA.minimize()``: the whole method on a prebuilt :class:`~statetrack.automata.DFA`
  (completion, reachable part, partition, quotient, canonical renumbering);
* automata-lib: building its ``DFA`` from our table (``convert``, reported separately) and
  ``minify()`` alone (reachable part + its Hopcroft + building the result). automata-lib runs
  in its fastest configuration (``should_validate_automata = False``,
  ``allow_mutable_automata = True``), so the ratios are conservative.

Both results must have the same number of states. The first call of the numba kernel (JIT
compile, or loading numba's on-disk cache) is timed separately and excluded from the table.

Large sizes (``--process-sizes``, default 10^6 and 10^7) also run ``DFA.minimize()`` in a
fresh subprocess each, which reports wall and CPU time (``time.process_time``; on a shared
machine the wall clock mostly measures the other processes) and memory from
``/proc/self/status``: the resident set with the input DFA built, and the peak resident set
*during* ``minimize()`` (the peak is reset through ``/proc/self/clear_refs`` after the input
is built, so the temporaries of building it do not count; numba's allocations are included,
which ``tracemalloc`` would miss). With ``--baseline-rev REV`` the same subprocess runs the
package as of git revision REV as well (``git archive`` into a temporary directory), and the
two results must be identical (same table, same accepting mask): old and new measured in one
run, on the same load.

Run from the repository root::

    python benchmarks/minimize.py --sizes 1000 10000 100000 1000000 --lib-max 100000 \
        --process-sizes 1000000 10000000 --baseline-rev 3ebe3d9

It writes ``benchmarks/results/minimize.json`` and ``benchmarks/minimize.md`` and exits with
status 1 if the two libraries disagree, if the baseline disagrees, or if a target is missed:
>= 20x faster than automata-lib at 10^5 states (``DFA.minimize()`` against ``minify()``),
10^6 states within 30 s (issue 2), and 10^7 states within 15 s of CPU time and 1.2 GiB of peak
resident memory during ``minimize()`` (issue 12). A target is only judged when its size is run.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import shlex
import subprocess
import sys
import tarfile
import tempfile
import time
import zlib
from importlib.metadata import version
from pathlib import Path
from typing import Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if "--child" not in sys.argv:  # a child imports the package named by its PYTHONPATH
    sys.path.insert(0, str(ROOT))

SYMBOLS = ("a", "b", "c", "d")
SPEEDUP_TARGET = 20.0  # at 10^5 states
SPEEDUP_SIZE = 100_000
MILLION_TARGET_S = 30.0
MILLION = 1_000_000
TEN_MILLION = 10_000_000
TEN_MILLION_TARGET_S = 15.0  # CPU seconds of DFA.minimize() (issue 12)
TEN_MILLION_TARGET_GIB = 1.2  # peak resident memory during DFA.minimize() (issue 12)


def _status_kib(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def child(n: int, seed: int) -> None:
    """One size in this process: print a JSON line with times and memory (see the docstring)."""
    from statetrack.automata import DFA as _DFA

    _DFA([[1, 0], [0, 1]], 0, [1], "ab").minimize()  # compile or load the kernels
    rng = np.random.default_rng([seed, n])
    d = _DFA(rng.integers(0, n, size=(n, len(SYMBOLS)), dtype=np.int64), 0,
             rng.random(n) < 0.5, SYMBOLS)
    del rng
    rss_input = _status_kib("VmRSS")
    with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
        f.write("5")  # reset the peak (VmHWM) to the current resident set
    t0, c0 = time.perf_counter(), time.process_time()
    m = d.minimize()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(json.dumps({
        "n_states": n, "minimal_states": m.n_states, "wall_s": wall, "cpu_s": cpu,
        "rss_with_input_mib": rss_input / 1024, "peak_rss_during_minimize_mib":
            _status_kib("VmHWM") / 1024,
        "crc32_transitions": zlib.crc32(m.transitions.tobytes()),
        "crc32_accepting": zlib.crc32(m.accepting.tobytes()), "start": m.start,
        "package": str(Path(sys.modules["statetrack"].__file__).parent),
    }))


def run_child(n: int, seed: int, package_root: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(package_root))
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", str(n),
                          "--seed", str(seed)], env=env, check=True, capture_output=True,
                         text=True, cwd=package_root)
    return json.loads(out.stdout.strip().splitlines()[-1])


def export_revision(rev: str, dest: Path) -> str:
    """``git archive REV statetrack`` unpacked under dest; returns the full commit hash."""
    commit = subprocess.run(["git", "rev-parse", rev], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout.strip()
    tar = subprocess.run(["git", "archive", commit, "statetrack"], cwd=ROOT, check=True,
                         capture_output=True).stdout
    tar_path = dest / "pkg.tar"
    tar_path.write_bytes(tar)
    with tarfile.open(tar_path) as t:
        t.extractall(dest, filter="data")
    return commit


def random_dfa(n: int, rng: np.random.Generator):
    from statetrack.automata import DFA

    delta = rng.integers(0, n, size=(n, len(SYMBOLS)), dtype=np.int64)
    accepting = rng.random(n) < 0.5
    return DFA(delta, 0, accepting, SYMBOLS)


def best_of(repeat: int, fn: Callable[[], object]) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def to_lib(d):
    from automata.fa.dfa import DFA as LibDFA

    rows = d.transitions.tolist()
    return LibDFA(
        states=set(range(d.n_states)),
        input_symbols=set(d.alphabet),
        transitions={q: dict(zip(d.alphabet, row)) for q, row in enumerate(rows)},
        initial_state=d.start,
        final_states=set(d.accepting_states),
    )


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def fmt_s(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x * 1e3:.1f} ms" if x < 1 else f"{x:.2f} s"


def fmt_ratio(x: float | None) -> str:
    return "—" if x is None else f"{x:.0f}x" if x >= 10 else f"{x:.1f}x"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000, 1_000_000])
    ap.add_argument("--lib-max", type=int, default=100_000,
                    help="run automata-lib only up to this many states (default 100000)")
    ap.add_argument("--repeat", type=int, default=3,
                    help="best of this many runs (sizes above 200000 run once)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out-json", type=Path, default=ROOT / "benchmarks" / "results" / "minimize.json")
    ap.add_argument("--out-md", type=Path, default=ROOT / "benchmarks" / "minimize.md")
    ap.add_argument("--process-sizes", type=int, nargs="*", default=[MILLION, TEN_MILLION],
                    help="sizes also run in a fresh subprocess for CPU time and peak memory")
    ap.add_argument("--baseline-rev", default=None,
                    help="git revision whose package also runs the subprocess sizes")
    ap.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child is not None:
        child(args.child, args.seed)
        return 0
    from _machine import check_outputs

    for opt, values in (("--sizes", args.sizes), ("--process-sizes", args.process_sizes),
                        ("--repeat", [args.repeat])):
        if any(v < 1 for v in values):
            ap.error(f"{opt}: expected ints >= 1, got {' '.join(map(str, values))}")
    # before the runs (were written, or failed, at the end); missing folders are made
    check_outputs(ap, {"--out-json": args.out_json, "--out-md": args.out_md}, make_folder=True)

    import automata.base.config as lib_config

    from statetrack.automata.minimize import minimal_partition

    lib_config.should_validate_automata = False
    lib_config.allow_mutable_automata = True

    t0 = time.perf_counter()
    minimal_partition(np.array([[1, 0], [0, 1]]), np.array([True, False]))
    jit_first_call_s = time.perf_counter() - t0
    print(f"numba kernel first call (compile or cache load): {jit_first_call_s:.2f} s", flush=True)

    load_before = load_average()
    rows = []
    ok = True
    for n in args.sizes:
        repeat = args.repeat if n <= 200_000 else 1
        d = random_dfa(n, np.random.default_rng([args.seed, n]))
        part_s, blocks = best_of(repeat, lambda: minimal_partition(d.transitions, d.accepting))
        min_s, m = best_of(repeat, d.minimize)
        row = {
            "n_states": n, "n_symbols": len(SYMBOLS), "repeat": repeat,
            "minimal_states": m.n_states, "partition_blocks_all_states": int(blocks.max()) + 1,
            "ours_partition_s": part_s, "ours_minimize_s": min_s,
            "lib_convert_s": None, "lib_minify_s": None, "lib_minimal_states": None,
            "speedup_minimize": None, "speedup_partition": None, "agree": None,
        }
        if n <= args.lib_max:
            lib_repeat = repeat if n <= 20_000 else 1
            conv_s, lib_dfa = best_of(lib_repeat, lambda: to_lib(d))
            minify_s, lib_min = best_of(lib_repeat, lib_dfa.minify)
            row.update(lib_convert_s=conv_s, lib_minify_s=minify_s,
                       lib_minimal_states=len(lib_min.states),
                       speedup_minimize=minify_s / min_s, speedup_partition=minify_s / part_s,
                       agree=len(lib_min.states) == m.n_states)
            ok &= row["agree"]
        rows.append(row)
        print(f"n={n:>9,}  minimal={m.n_states:>9,}  partition {fmt_s(part_s):>9}  "
              f"DFA.minimize {fmt_s(min_s):>9}  automata-lib convert {fmt_s(row['lib_convert_s']):>9} "
              f"minify {fmt_s(row['lib_minify_s']):>9}  speedup {fmt_ratio(row['speedup_minimize'])}"
              + ("" if row["agree"] is not False else "  DISAGREE"), flush=True)
    process_rows = []
    baseline_commit = None
    with tempfile.TemporaryDirectory() as tmp:
        if args.baseline_rev:
            baseline_commit = export_revision(args.baseline_rev, Path(tmp))
        for n in args.process_sizes:
            row = {"n_states": n, "load_before": load_average(),
                   "new": run_child(n, args.seed, ROOT)}
            if baseline_commit:
                row["baseline"] = run_child(n, args.seed, Path(tmp))
                same = all(row["new"][key] == row["baseline"][key] for key in
                           ("minimal_states", "crc32_transitions", "crc32_accepting", "start"))
                row["identical"] = same
                ok &= same
            row["load_after"] = load_average()
            process_rows.append(row)
            line = "  ".join(
                f"{name}: wall {r['wall_s']:.2f} s cpu {r['cpu_s']:.2f} s peak "
                f"{r['peak_rss_during_minimize_mib']:.0f} MiB"
                for name, r in (("new", row["new"]), ("baseline", row.get("baseline")))
                if r is not None)
            print(f"subprocess n={n:>10,}  {line}  load {row['load_before']}"
                  f"->{row['load_after']}" + ("  DIFFERENT" if row.get("identical") is False
                                              else ""), flush=True)
    load_after = load_average()

    targets = {}
    by_n = {r["n_states"]: r for r in rows}
    if SPEEDUP_SIZE in by_n and by_n[SPEEDUP_SIZE]["speedup_minimize"] is not None:
        s = by_n[SPEEDUP_SIZE]["speedup_minimize"]
        targets["speedup_at_1e5"] = {"target": f">= {SPEEDUP_TARGET:.0f}x", "value": s,
                                     "met": s >= SPEEDUP_TARGET}
    if MILLION in by_n:
        t = by_n[MILLION]["ours_minimize_s"]
        targets["minimize_1e6_s"] = {"target": f"<= {MILLION_TARGET_S:.0f} s", "value": t,
                                     "met": t <= MILLION_TARGET_S}
    by_p = {r["n_states"]: r for r in process_rows}
    if TEN_MILLION in by_p:
        r = by_p[TEN_MILLION]["new"]
        targets["minimize_1e7_cpu_s"] = {"target": f"<= {TEN_MILLION_TARGET_S:.0f} s",
                                         "value": r["cpu_s"],
                                         "met": r["cpu_s"] <= TEN_MILLION_TARGET_S}
        gib = r["peak_rss_during_minimize_mib"] / 1024
        targets["minimize_1e7_peak_gib"] = {"target": f"<= {TEN_MILLION_TARGET_GIB} GiB",
                                            "value": gib, "met": gib <= TEN_MILLION_TARGET_GIB}
    ok &= all(t["met"] for t in targets.values())

    meta = {
        "command": "python " + shlex.join(
            ["benchmarks/minimize.py", *(argv if argv is not None else sys.argv[1:])]),
        "date_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cpu": cpu_model(), "cpu_count": os.cpu_count(),
        "load_average_1min_before": load_before, "load_average_1min_after": load_after,
        "python": platform.python_version(), "numpy": np.__version__,
        "numba": version("numba"), "automata-lib": version("automata-lib"),
        "seed": args.seed, "numba_first_call_s": jit_first_call_s,
        "automata_lib_config": {"should_validate_automata": False, "allow_mutable_automata": True},
        "baseline_rev": args.baseline_rev, "baseline_commit": baseline_commit,
    }
    for path in (args.out_json, args.out_md):
        path.parent.mkdir(parents=True, exist_ok=True)
    args.out_json.write_text(json.dumps({"meta": meta, "results": rows,
                                         "subprocess_results": process_rows,
                                         "targets": targets, "ok": bool(ok)}, indent=2) + "\n")
    args.out_md.write_text(render_md(meta, rows, targets, ok, process_rows))
    print(f"wrote {args.out_json} and {args.out_md}")
    return 0 if ok else 1


def render_md(meta: dict, rows: list[dict], targets: dict, ok: bool,
              process_rows: list[dict] = ()) -> str:
    lines = [
        "# Minimization benchmark: statetrack vs automata-lib",
        "",
        "Random complete DFAs, 4 symbols, uniform transitions, each state accepting with "
        "probability 1/2 (seeded). `partition` = the numba Hopcroft kernel on all states; "
        "`DFA.minimize()` = the whole method (reachable part, partition, quotient, canonical "
        "numbering); automata-lib: `convert` builds its DFA from our table, `minify` is its "
        "minimization alone (fastest configuration: no validation, mutable automata). "
        "Speedup = automata-lib `minify` / our `DFA.minimize()` (and / our `partition`).",
        "",
        f"Command: `{meta['command']}`  ",
        f"Date: {meta['date_utc']}; CPU: {meta['cpu']} ({meta['cpu_count']} logical cores; "
        f"1-min load {meta['load_average_1min_before']} before, "
        f"{meta['load_average_1min_after']} after)  ",
        f"Python {meta['python']}, numpy {meta['numpy']}, numba {meta['numba']}, "
        f"automata-lib {meta['automata-lib']}; numba kernel first call "
        f"{meta['numba_first_call_s']:.2f} s (compile or cache load, not in the table)",
        "",
        "| states | minimal states | partition | DFA.minimize() | automata-lib convert "
        "| automata-lib minify | speedup (minimize) | speedup (partition) | agree |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|:---:|",
    ]
    for r in rows:
        agree = {None: "—", True: "yes", False: "**NO**"}[r["agree"]]
        lines.append(
            f"| {r['n_states']:,} | {r['minimal_states']:,} | {fmt_s(r['ours_partition_s'])} "
            f"| {fmt_s(r['ours_minimize_s'])} | {fmt_s(r['lib_convert_s'])} "
            f"| {fmt_s(r['lib_minify_s'])} | {fmt_ratio(r['speedup_minimize'])} "
            f"| {fmt_ratio(r['speedup_partition'])} | {agree} |"
        )
    lines.append("")
    if process_rows:
        base = meta.get("baseline_commit")
        lines += [
            "`DFA.minimize()` alone, each size in a fresh subprocess: wall and CPU time "
            "(`time.process_time`), resident memory with the input built, and the peak "
            "resident memory during `minimize()` (VmHWM reset after the input is built). "
            + (f"Baseline: the package at `{base[:10]}`, run in the same session; "
               "its result must be identical (table, accepting mask, start)." if base else ""),
            "",
            "| states | minimal states | load (1 min) | wall | CPU | input RSS | peak RSS "
            "in minimize | " + ("baseline wall | baseline CPU | baseline peak RSS | "
                                "CPU speedup | identical |" if base else ""),
            "|---:|---:|---:|---:|---:|---:|---:|" + ("---:|---:|---:|---:|:---:|" if base
                                                      else ""),
        ]
        for r in process_rows:
            new, old = r["new"], r.get("baseline")
            cells = (f"| {r['n_states']:,} | {new['minimal_states']:,} | "
                     f"{r['load_before']} → {r['load_after']} | {fmt_s(new['wall_s'])} | "
                     f"{fmt_s(new['cpu_s'])} | {new['rss_with_input_mib']:.0f} MiB | "
                     f"{new['peak_rss_during_minimize_mib']:.0f} MiB |")
            if old is not None:
                cells += (f" {fmt_s(old['wall_s'])} | {fmt_s(old['cpu_s'])} | "
                          f"{old['peak_rss_during_minimize_mib']:.0f} MiB | "
                          f"{fmt_ratio(old['cpu_s'] / new['cpu_s'])} | "
                          f"{'yes' if r['identical'] else '**NO**'} |")
            lines.append(cells)
        lines.append("")
    if targets:
        lines.append("Targets (issues 2 and 12):")
        lines.append("")
        for name, t in targets.items():
            value = (fmt_ratio(t["value"]) if name.startswith("speedup")
                     else f"{t['value']:.2f} GiB" if name.endswith("gib") else fmt_s(t["value"]))
            lines.append(f"- `{name}`: {value} (target {t['target']}): "
                         f"{'met' if t['met'] else '**missed**'}")
    else:
        lines.append("Targets (issue 2: >= 20x at 10^5 states, 10^6 states within 30 s) were "
                     "not judged: their sizes were not run.")
    lines.append("")
    lines.append(f"Overall: {'ok' if ok else '**FAILED**'}")
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
