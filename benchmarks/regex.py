"""Benchmark: a regular expression to its minimal DFA, ``from_regex("(a|b)*a(a|b){k}", "ab")``.

The minimal DFA of ``(a|b)*a(a|b){k}`` (the (k+1)-th symbol from the end is an a) has
``2^(k+1)`` states, and so does the subset construction: the worst case of the determinization
step. Each k runs in a fresh subprocess (``max_states = 2^(k+2)``), which reports wall and CPU
time (``time.process_time``; on a shared machine the wall clock mostly measures the other
processes) of the whole ``from_regex`` call (parse, Glushkov automaton, subset construction,
minimization), after one warm-up call that compiles or loads the numba kernels.

With ``--baseline-rev REV`` the package as of git revision REV (``git archive`` into a temporary
directory) runs the same sizes in the same session, and the two minimal DFAs must be identical
(same table and accepting mask). ``--baseline-max-k`` caps the baseline's k (the pure-Python
subset construction before issue 12 is slow at k = 20).

Run from the repository root::

    python benchmarks/regex.py --ks 10 15 18 20 --baseline-rev 3ebe3d9

It writes ``benchmarks/results/regex.json`` and ``benchmarks/regex.md`` and exits with status 1
if a result differs from the baseline or if the target of issue 12 is missed: k = 20
(2^21 states) within 10 s of CPU time. The target is judged only when k = 20 is run.
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
import tempfile
import time
import zlib
from importlib.metadata import version
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from minimize import cpu_model, export_revision, fmt_ratio, fmt_s, load_average  # noqa: E402

TARGET_K = 20
TARGET_S = 10.0  # CPU seconds (issue 12)


def pattern(k: int) -> str:
    return f"(a|b)*a(a|b){{{k}}}"


def child(k: int) -> None:
    from statetrack.automata.regex import from_regex

    from_regex("(a|b)*a(a|b){2}", "ab")  # compile or load the kernels
    t0, c0 = time.perf_counter(), time.process_time()
    d = from_regex(pattern(k), "ab", max_states=2 ** (k + 2))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(json.dumps({
        "k": k, "n_states": d.n_states, "wall_s": wall, "cpu_s": cpu,
        "crc32_transitions": zlib.crc32(d.transitions.tobytes()),
        "crc32_accepting": zlib.crc32(d.accepting.tobytes()),
        "package": str(Path(sys.modules["statetrack"].__file__).parent),
    }))


def run_child(k: int, package_root: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(package_root))
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", str(k)],
                         env=env, check=True, capture_output=True, text=True, cwd=package_root)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ks", type=int, nargs="+", default=[10, 15, 18, 20])
    ap.add_argument("--baseline-rev", default=None)
    ap.add_argument("--baseline-max-k", type=int, default=20)
    ap.add_argument("--out-json", type=Path, default=ROOT / "benchmarks" / "results" / "regex.json")
    ap.add_argument("--out-md", type=Path, default=ROOT / "benchmarks" / "regex.md")
    ap.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child is not None:
        child(args.child)
        return 0
    from _machine import check_outputs

    if any(k < 0 for k in args.ks):
        ap.error(f"--ks: expected ints >= 0, got {' '.join(map(str, args.ks))}")
    # before the runs (were written, or failed, at the end); missing folders are made
    check_outputs(ap, {"--out-json": args.out_json, "--out-md": args.out_md}, make_folder=True)

    rows, ok, commit = [], True, None
    with tempfile.TemporaryDirectory() as tmp:
        if args.baseline_rev:
            commit = export_revision(args.baseline_rev, Path(tmp))
        for k in args.ks:
            row = {"k": k, "pattern": pattern(k), "load_before": load_average(),
                   "new": run_child(k, ROOT), "baseline": None, "identical": None}
            assert row["new"]["n_states"] == 2 ** (k + 1)
            if commit and k <= args.baseline_max_k:
                row["baseline"] = run_child(k, Path(tmp))
                row["identical"] = all(row["new"][key] == row["baseline"][key] for key in
                                       ("n_states", "crc32_transitions", "crc32_accepting"))
                ok &= row["identical"]
            row["load_after"] = load_average()
            rows.append(row)
            b = row["baseline"]
            print(f"k={k:>2}  states {row['new']['n_states']:>9,}  new: wall "
                  f"{fmt_s(row['new']['wall_s'])} cpu {fmt_s(row['new']['cpu_s'])}"
                  + (f"  baseline: wall {fmt_s(b['wall_s'])} cpu {fmt_s(b['cpu_s'])}"
                     if b else "") + f"  load {row['load_before']}->{row['load_after']}"
                  + ("  DIFFERENT" if row["identical"] is False else ""), flush=True)

    targets = {}
    by_k = {r["k"]: r for r in rows}
    if TARGET_K in by_k:
        cpu = by_k[TARGET_K]["new"]["cpu_s"]
        targets["k20_cpu_s"] = {"target": f"<= {TARGET_S:.0f} s", "value": cpu,
                                "met": cpu <= TARGET_S}
    ok &= all(t["met"] for t in targets.values())
    meta = {
        "command": "python " + shlex.join(
            ["benchmarks/regex.py", *(argv if argv is not None else sys.argv[1:])]),
        "date_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cpu": cpu_model(), "cpu_count": os.cpu_count(),
        "python": platform.python_version(), "numpy": np.__version__,
        "numba": version("numba"), "baseline_rev": args.baseline_rev, "baseline_commit": commit,
    }
    for path in (args.out_json, args.out_md):
        path.parent.mkdir(parents=True, exist_ok=True)
    args.out_json.write_text(json.dumps({"meta": meta, "results": rows, "targets": targets,
                                         "ok": bool(ok)}, indent=2) + "\n")
    args.out_md.write_text(render_md(meta, rows, targets, ok))
    print(f"wrote {args.out_json} and {args.out_md}")
    return 0 if ok else 1


def render_md(meta: dict, rows: list[dict], targets: dict, ok: bool) -> str:
    base = meta["baseline_commit"]
    lines = [
        "# Regex to minimal DFA: `from_regex(\"(a|b)*a(a|b){k}\", \"ab\")`",
        "",
        "The minimal DFA (and the subset construction) has 2^(k+1) states. Each k runs in a "
        "fresh subprocess after a warm-up call; wall and CPU time (`time.process_time`) of the "
        "whole call: parse, Glushkov automaton, subset construction, minimization. "
        + (f"Baseline: the package at `{base[:10]}` (pure-Python subset construction), run in "
           "the same session; its minimal DFA must be identical." if base else ""),
        "",
        f"Command: `{meta['command']}`  ",
        f"Date: {meta['date_utc']}; CPU: {meta['cpu']} ({meta['cpu_count']} logical cores, "
        f"shared: see the load column)  ",
        f"Python {meta['python']}, numpy {meta['numpy']}, numba {meta['numba']}",
        "",
        "| k | states | load (1 min) | wall | CPU | " + (
            "baseline wall | baseline CPU | CPU speedup | identical |" if base else ""),
        "|---:|---:|---:|---:|---:|" + ("---:|---:|---:|:---:|" if base else ""),
    ]
    for r in rows:
        new, old = r["new"], r["baseline"]
        cells = (f"| {r['k']} | {new['n_states']:,} | {r['load_before']} → {r['load_after']} "
                 f"| {fmt_s(new['wall_s'])} | {fmt_s(new['cpu_s'])} |")
        if base:
            cells += (f" {fmt_s(old['wall_s'])} | {fmt_s(old['cpu_s'])} | "
                      f"{fmt_ratio(old['cpu_s'] / new['cpu_s'])} | "
                      f"{'yes' if r['identical'] else '**NO**'} |" if old else
                      " — | — | — | — |")
        lines.append(cells)
    lines.append("")
    for name, t in targets.items():
        lines.append(f"Target (issue 12) `{name}`: {fmt_s(t['value'])} (target {t['target']}): "
                     f"{'met' if t['met'] else '**missed**'}")
        lines.append("")
    lines.append(f"Overall: {'ok' if ok else '**FAILED**'}")
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
