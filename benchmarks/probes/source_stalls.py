"""Summarise Nsight Compute source-page CSVs (``source_stalls.sh``): per SASS instruction the
sampled warp stalls, the hottest instructions and the stall reasons in total.

    python3 benchmarks/probes/source_stalls.py FILE.source.csv [--top 40] [--loop]

``--loop`` prints every instruction of the hottest executed block range (instructions executed
at least half as often as the most executed one): the body of the kernel's main loop.
"""
from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter


def read(path: str) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        lines = f.read().splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith('"Address"'))
    return list(csv.DictReader(lines[start:]))


def num(x: str) -> float:
    try:
        return float(x.replace(",", ""))
    except ValueError:
        return 0.0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("csv")
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--loop", action="store_true")
    a = ap.parse_args(argv)
    rows = read(a.csv)
    stall_cols = [c for c in rows[0] if c.startswith("stall_") and "Not Issued" not in c]
    total = sum(num(r["Warp Stall Sampling (All Samples)"]) for r in rows)
    tot = Counter()
    for r in rows:
        for c in stall_cols:
            tot[c] += num(r[c])
    print(f"{len(rows)} instructions, {total:.0f} samples")
    for c, v in tot.most_common(10):
        print(f"  {c:28s} {v:8.0f} {100 * v / max(total, 1):5.1f} %")

    def line(i, r):
        s = num(r["Warp Stall Sampling (All Samples)"])
        top = sorted(((num(r[c]), c[6:]) for c in stall_cols), reverse=True)[:2]
        why = " ".join(f"{c}:{v:.0f}" for v, c in top if v)
        return (f"{i:5d} {s:6.0f} {100 * s / max(total, 1):5.1f}% ex={num(r['Instructions Executed']):9.0f} "
                f"{r['Source'].strip()[:60]:60s} {why}")

    print("\nhottest instructions:")
    order = sorted(range(len(rows)), key=lambda i: -num(rows[i]["Warp Stall Sampling (All Samples)"]))
    for i in order[: a.top]:
        print(line(i, rows[i]))
    if a.loop:
        ex = [num(r["Instructions Executed"]) for r in rows]
        mx = max(ex)
        print("\nloop body (executed >= half the max):")
        for i, r in enumerate(rows):
            if ex[i] >= mx / 2:
                print(line(i, r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
