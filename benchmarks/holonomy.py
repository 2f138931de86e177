"""Benchmark: holonomy decomposition time against the number of states (issue 9).

Random complete DFAs (every transition drawn uniformly from a seeded ``numpy`` Generator) with
5..14 states and 2..3 letters, ``--samples`` of each size. For each DFA the row records the
decomposition time (:func:`statetrack.automata.holonomy_decomposition`, best of ``--repeat``
runs, wall clock), the skeleton size, the holonomy height and the level widths, and the result
and time of the exact covering proof (:func:`statetrack.automata.verify_cover`, one run, over
the reachable cascade states). Target from issue 9: a random 10-state, 3-letter DFA decomposes
in under a minute on the 2-core development machine.

Run from the repository root::

    python benchmarks/holonomy.py            # writes benchmarks/results/holonomy.json and benchmarks/holonomy.md
    python benchmarks/holonomy.py --samples 10 --seed 7
    python benchmarks/holonomy.py --smoke    # 5..6 states, 2 samples (a test runs this)

The machine load (1-minute load average) is recorded before and after, because the machine may
be shared. Exits with status 1 if a covering proof fails or a 10-state DFA misses the target.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _machine import check_outputs, cpu_name, git_commit  # noqa: E402

from statetrack.automata import DFA, holonomy_decomposition, verify_cover  # noqa: E402

TARGET_S = 60.0


def _load() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def run(states: list[int], letters: list[int], samples: int, seed: int, repeat: int,
        verify: bool) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    for n in states:
        for k in letters:
            for s in range(samples):
                table = rng.integers(0, n, size=(n, k))
                dfa = DFA(table, alphabet="abc"[:k])
                best = float("inf")
                for _ in range(repeat):
                    t = time.perf_counter()
                    c = holonomy_decomposition(dfa, max_skeleton=1 << 16)
                    best = min(best, time.perf_counter() - t)
                row = dict(states=n, letters=k, sample=s, seconds=best,
                           skeleton=len(c.skeleton), images=c.n_images, height=c.height,
                           widths=list(c.widths), components=sum(len(lv.components)
                                                                 for lv in c.levels),
                           levels=str(c).replace("\n", " | "),
                           transitions=table.tolist())
                if verify:
                    t = time.perf_counter()
                    proof = verify_cover(c, dfa)
                    row.update(covered=proof.ok, reachable=proof.reachable,
                               verify_seconds=time.perf_counter() - t)
                rows.append(row)
                print(f"n={n} k={k} #{s}: {best * 1e3:8.2f} ms  skeleton={row['skeleton']:5d} "
                      f"height={row['height']:3d} widths={row['widths']}"
                      + (f"  proof={'ok' if row['covered'] else 'FAILED'} "
                         f"({row['reachable']} states, {row['verify_seconds']:.2f} s)"
                         if verify else ""), flush=True)
    return rows


def summary(rows: list[dict]) -> list[dict]:
    out = []
    for n, k in sorted({(r["states"], r["letters"]) for r in rows}):
        g = [r for r in rows if (r["states"], r["letters"]) == (n, k)]
        sec = np.array([r["seconds"] for r in g])
        hts = np.array([r["height"] for r in g])
        out.append(dict(states=n, letters=k, samples=len(g), median_s=float(np.median(sec)),
                        max_s=float(sec.max()), median_height=float(np.median(hts)),
                        max_height=int(hts.max()),
                        above_n_minus_1=int((hts > n - 1).sum()),
                        median_skeleton=float(np.median([r["skeleton"] for r in g])),
                        max_width=int(max(max(r["widths"], default=0) for r in g))))
    return out


def markdown(meta: dict, rows: list[dict], summ: list[dict]) -> str:
    lines = [
        "# Holonomy decomposition: time against the number of states",
        "",
        f"Command: `{meta['command']}` (from the repository root). Generated {meta['date']} "
        f"at commit `{meta['commit']}`.",
        "",
        f"Machine: {meta['cpu']}, {meta['cores']} cores, shared: 1-minute load average "
        f"{meta['load_before']:.2f} before, {meta['load_after']:.2f} after. Python "
        f"{meta['python']}, numpy {meta['numpy']}. Decomposition time: best of "
        f"{meta['repeat']} run(s), wall clock; proof: one run of `verify_cover`.",
        "",
        f"DFAs: every transition uniform in `0..n-1` from `numpy.random.default_rng"
        f"({meta['seed']})`, {meta['samples']} per size, drawn in the order of the rows. "
        f"Height = number of levels (SgpDec's depth of the skeleton minus 1); widths = states "
        f"per level. \"height > n-1\" counts the DFAs whose holonomy height exceeds |Q| - 1 "
        f"(the longest chain of strict subductions can pass through several images of the "
        f"same size).",
        "",
        f"Target (issue 9): a random 10-state, 3-letter DFA within {TARGET_S:.0f} s -- "
        f"{meta['target']}.",
        "",
        "## Summary per size",
        "",
        "| states | letters | samples | median s | max s | median skeleton | median height "
        "| max height | height > n-1 | widest level |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in summ:
        lines.append(f"| {s['states']} | {s['letters']} | {s['samples']} | {s['median_s']:.4f} "
                     f"| {s['max_s']:.4f} | {s['median_skeleton']:.0f} | "
                     f"{s['median_height']:.1f} | {s['max_height']} | {s['above_n_minus_1']} | "
                     f"{s['max_width']} |")
    lines += [
        "",
        "## Every DFA",
        "",
        "| states | letters | # | seconds | skeleton | height | level widths | reachable "
        "cascade states | proof s | covered |",
        "|---:|---:|---:|---:|---:|---:|---|---:|---:|:---:|",
    ]
    for r in rows:
        lines.append(f"| {r['states']} | {r['letters']} | {r['sample']} | {r['seconds']:.4f} | "
                     f"{r['skeleton']} | {r['height']} | {' '.join(map(str, r['widths']))} | "
                     f"{r.get('reachable', '')} | {r.get('verify_seconds', float('nan')):.2f} | "
                     f"{'yes' if r.get('covered') else 'NO'} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--min-states", type=int, default=5)
    p.add_argument("--max-states", type=int, default=14)
    p.add_argument("--letters", type=int, nargs="+", default=[2, 3])
    p.add_argument("--samples", type=int, default=5)
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--no-verify", action="store_true", help="skip the covering proofs")
    p.add_argument("--smoke", action="store_true", help="5..6 states, 2 samples, 1 repeat")
    p.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "holonomy.json"))
    p.add_argument("--md", default=str(ROOT / "benchmarks" / "holonomy.md"))
    args = p.parse_args(argv)
    for opt, value, least in (("--min-states", args.min_states, 1),
                              ("--samples", args.samples, 1), ("--repeat", args.repeat, 1)):
        if value < least:
            p.error(f"{opt}: expected an int >= {least}, got {value}")
    if args.max_states < args.min_states:
        p.error(f"--max-states: expected >= --min-states ({args.min_states}), got "
                f"{args.max_states}")
    if not all(1 <= k <= 3 for k in args.letters):
        p.error(f"--letters: expected ints in 1..3 (the letters of 'abc'), got {args.letters}")
    check_outputs(p, {"--json": args.json, "--md": args.md})   # before the runs, not after
    if args.smoke:
        args.min_states, args.max_states, args.samples, args.repeat = 5, 6, 2, 1
    load_before = _load()
    rows = run(list(range(args.min_states, args.max_states + 1)), args.letters, args.samples,
               args.seed, args.repeat, not args.no_verify)
    load_after = _load()
    ten = [r["seconds"] for r in rows if r["states"] == 10 and r["letters"] == 3]
    target = ("not measured" if not ten else
              f"{'met' if max(ten) < TARGET_S else 'MISSED'} (slowest {max(ten):.3f} s)")
    meta = dict(command="python " + " ".join([Path(sys.argv[0]).as_posix()] + sys.argv[1:]),
                date=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                commit=git_commit(), cpu=cpu_name(), cores=os.cpu_count(), load_before=load_before,
                load_after=load_after, python=platform.python_version(),
                numpy=np.__version__, seed=args.seed, samples=args.samples,
                repeat=args.repeat, target=target)
    summ = summary(rows)
    Path(args.json).write_text(json.dumps(dict(meta=meta, summary=summ, rows=rows), indent=1))
    Path(args.md).write_text(markdown(meta, rows, summ))
    print(f"wrote {args.json} and {args.md}; target: {target}")
    failed = [r for r in rows if r.get("covered") is False]
    if failed:
        print(f"{len(failed)} covering proof(s) FAILED", file=sys.stderr)
        return 1
    return 1 if ten and max(ten) >= TARGET_S else 0


if __name__ == "__main__":
    raise SystemExit(main())
