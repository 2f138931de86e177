"""Where the host's time goes in one ``run_tabled`` call (session 24).

At (64, 65536) the kernels of a chunked call took 0.214 ms of device time on the H100 in
session 24 (values' basis summaries) while the host took 0.37 ms to return from a call
(``kernels_construction.py``'s ``host ms``): the call is host-bound, and the wall time a user
sees is the host's. This probe profiles back-to-back calls of the default API call
(``run_tabled`` with its defaults: checks on, ``chunk_size`` chosen) with :mod:`cProfile`
and prints the functions by their own time and by cumulative time, per call, beside the
host's time to return from a call without the profiler (synchronised once at the end).

    python3 benchmarks/probes/host_profile.py --json OUT.json [--shape 64,65536] [--calls 200]

``--smoke`` runs a tiny shape on the CPU (the interpreter) for the tests.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import statetrack.kernels._common.triton  # noqa: F401,E402

import torch  # noqa: E402

import triton  # noqa: E402

from benchmarks._machine import check_outputs, describe, write_json  # noqa: E402
from benchmarks.probes.deep_ab import problems  # noqa: E402
from statetrack.kernels.tabled import run_tabled  # noqa: E402


def _sync(dev: str) -> None:
    if dev == "cuda":
        torch.cuda.synchronize()


def host_ms(fn, calls: int, dev: str) -> float:
    """The host's time to return from ``calls`` back-to-back calls, a call (ms)."""
    _sync(dev)
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    t1 = time.perf_counter()
    _sync(dev)
    return (t1 - t0) * 1e3 / calls


def profile_rows(fn, calls: int, dev: str, top: int) -> dict:
    """cProfile over ``calls`` calls: the ``top`` functions by own time and by cumulative
    time, each as ``{function, calls_per_call, own_ms, cum_ms}`` a call."""
    _sync(dev)
    pr = cProfile.Profile()
    pr.enable()
    for _ in range(calls):
        fn()
    pr.disable()
    _sync(dev)
    st = pstats.Stats(pr, stream=io.StringIO())
    rows = []
    for (file, line, name), (cc, nc, tt, ct, _) in st.stats.items():
        rows.append({"function": f"{Path(file).name}:{line}({name})",
                     "calls_per_call": nc / calls, "own_ms": tt * 1e3 / calls,
                     "cum_ms": ct * 1e3 / calls})
    return {"by_own": sorted(rows, key=lambda r: -r["own_ms"])[:top],
            "by_cumulative": sorted(rows, key=lambda r: -r["cum_ms"])[:top],
            "total_ms": sum(r["own_ms"] for r in rows)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", type=Path, required=True)
    ap.add_argument("--shape", default=None, help="B,T (default 64,65536; smoke 2,9)")
    ap.add_argument("--calls", type=int, default=200, help="calls profiled (at most 2 with --smoke)")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--problem", default="random K=16 V=16, o",
                    help="a problem of benchmarks/probes/deep_ab.py (default the o row)")
    ap.add_argument("--smoke", action="store_true", help="tiny CPU run (interpreter)")
    a = ap.parse_args(argv)
    check_outputs(ap, {"--json": a.json})
    if a.calls < 1 or a.top < 1:
        ap.error("--calls and --top must be positive")
    dev = "cpu" if a.smoke else "cuda"
    if dev == "cuda" and not torch.cuda.is_available():
        ap.error("needs a CUDA device (or --smoke on the CPU)")
    try:
        B, T = (int(x) for x in (a.shape or ("2,9" if a.smoke else "64,65536")).split(","))
    except ValueError:
        ap.error(f"--shape: expected B,T (two integers), got {a.shape!r}")
    if B < 1 or T < 1:
        ap.error(f"--shape: B and T must be positive, got {a.shape!r}")
    gen = torch.Generator().manual_seed(0)
    sym, probs = problems(gen, B, T, dev)
    if a.problem not in probs:
        ap.error(f"--problem: one of {sorted(probs)}, got {a.problem!r}")
    tabs, kw = probs[a.problem]

    def fn():
        return run_tabled(sym, *tabs, **kw)

    for _ in range(3):                               # compile, caches
        fn()
    calls = min(a.calls, 2) if a.smoke else a.calls       # the interpreter is slow
    plain = host_ms(fn, calls, dev)
    prof = profile_rows(fn, calls, dev, a.top)
    print(f"{a.problem}, B {B}, T {T}: host {plain:.3f} ms a call without the profiler, "
          f"{prof['total_ms']:.3f} ms with it")
    for key in ("by_own", "by_cumulative"):
        print(f"\n{key}: calls a call, own ms, cumulative ms")
        for r in prof[key]:
            print(f"  {r['calls_per_call']:6.1f} {r['own_ms']:8.4f} {r['cum_ms']:8.4f}  "
                  f"{r['function']}")
    meta = describe(__file__, argv, B=B, T=T, problem=a.problem, calls=calls,
                    device=dev if a.smoke else torch.cuda.get_device_name(),
                    torch=torch.__version__, triton=triton.__version__)
    write_json(ap, "--json", a.json, {"meta": meta, "host_ms": plain, "profile": prof})
    return 0


if __name__ == "__main__":
    sys.exit(main())
