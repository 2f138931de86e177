"""Where the host's time goes in one ``run_tabled`` call (session 24).

At (64, 65536) the kernels of a chunked call took 0.214 ms of device time on the H100 in
session 24 (values' basis summaries) while the host took 0.37 ms to return from a call
(``kernels_construction.py``'s ``host ms``): the call is host-bound, and the wall time a user
sees is the host's. This probe profiles back-to-back calls of the default API call
(``run_tabled`` with its defaults: checks on, ``chunk_size`` chosen) with :mod:`cProfile`
and prints the functions by their own time and by cumulative time, per call, beside the
host's time to return from a call without the profiler (synchronised once at the end).

    python3 benchmarks/probes/host_profile.py --json OUT.json [--shape 64,65536] [--calls 200]
        [--checks on|off] [--ab ROUNDS]

``--checks off`` profiles the call with the input checks off (``check_beta=False,
check_ids=False``: no device flags). ``--ab ROUNDS`` (session 25) adds an interleaved A/B of
the host time and the back-to-back wall time a call, each round in an order rotated by one:
the checks off; on with the device flags copied home; on with them written by the kernels
into pinned host memory (:data:`~statetrack.kernels._common.checks.MAPPED_FLAGS`); and the
latter with the chunked passes reading the caller's ids
(:data:`~statetrack.kernels.tabled._launch.NARROW_CHUNKED` off: one launch fewer), and with
the narrowing inside the summary pass (``NARROW_IN_SUMMARY``: one launch fewer too); and
(session 26) the mapped flags launched through Triton's own dispatch instead of the direct
launch of :mod:`~statetrack.kernels._common.fast_launch` (every other variant launches
directly, the default); and (session 28) the checks off without the narrowing pass, the
fair baseline of the variant without it.
``kernels_construction.py``'s 32-call host rows disagreed with this probe by more than the
checks' cost (0.538 against 0.396 ms, session 25, H100).

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

import numpy as np  # noqa: E402
import torch  # noqa: E402

import triton  # noqa: E402

from benchmarks._machine import check_outputs, describe, write_json  # noqa: E402
from benchmarks.probes.deep_ab import problems  # noqa: E402
from statetrack.kernels._common import checks as checks_mod  # noqa: E402
from statetrack.kernels._common import fast_launch  # noqa: E402
from statetrack.kernels.tabled import _launch, check_pending, run_tabled  # noqa: E402

#: the variants of ``--ab``: (name, checks on, mapped flags, narrowing of chunked calls' ids:
#: True a pass of its own, False none, "summary" in the summary pass; direct launches of the
#: compiled kernels, :mod:`~statetrack.kernels._common.fast_launch`)
AB_VARIANTS = (("checks off", False, False, True, True),
               ("checks on, flags copied", True, False, True, True),
               ("checks on, flags mapped", True, True, True, True),
               ("checks on, flags mapped, ids not narrowed", True, True, False, True),
               ("checks off, ids not narrowed", False, False, False, True),
               ("checks on, flags mapped, narrowing in summary", True, True, "summary", True),
               ("checks on, flags mapped, Triton's dispatch", True, True, True, False))


def _sync(dev: str) -> None:
    if dev == "cuda":
        torch.cuda.synchronize()


def host_ms(fn, calls: int, dev: str) -> float:
    """The host's time to return from ``calls`` back-to-back calls, a call (ms)."""
    return host_loop_ms(fn, calls, dev)[0]


def host_loop_ms(fn, calls: int, dev: str) -> tuple[float, float]:
    """``(host, loop)`` ms a call of ``calls`` back-to-back calls: the host's time to return
    and the wall time until their work is done (synchronised once at the end)."""
    _sync(dev)
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    t1 = time.perf_counter()
    _sync(dev)
    t2 = time.perf_counter()
    return (t1 - t0) * 1e3 / calls, (t2 - t0) * 1e3 / calls


def checks_ab(make_fn, rounds: int, calls: int, dev: str) -> dict:
    """The interleaved A/B of ``--ab``: ``rounds`` rounds, each timing every variant of
    :data:`AB_VARIANTS` (``make_fn(checks_on)`` gives the call) in an order rotated by one a
    round, :data:`checks_mod.MAPPED_FLAGS` (pending flags drained first: the setting picks
    the flag ring of the calls made from then on), :data:`_launch.NARROW_CHUNKED` and
    :data:`_launch.NARROW_IN_SUMMARY` switched between them.

    Returns ``{"rounds": [{variant: [host, loop]}], "median": {variant: {"host_ms",
    "loop_ms"}}, "cost_pct": {variant: {"host", "loop"}}}`` (medians over the rounds, cost
    against the checks off)."""
    saved = (checks_mod.MAPPED_FLAGS, _launch.NARROW_CHUNKED, _launch.NARROW_IN_SUMMARY,
             fast_launch.MODE)
    per_round = []
    n = len(AB_VARIANTS)
    try:
        for i in range(rounds):
            got = {}
            for name, on, mapped, narrow, direct in AB_VARIANTS[i % n:] + AB_VARIANTS[:i % n]:
                check_pending()
                fast_launch.MODE = saved[3] if direct else "off"
                checks_mod.MAPPED_FLAGS = mapped
                _launch.NARROW_CHUNKED = bool(narrow)
                _launch.NARROW_IN_SUMMARY = narrow == "summary"
                fn = make_fn(on)
                for _ in range(3):                   # the mode's ring made, compiled
                    fn()
                got[name] = list(host_loop_ms(fn, calls, dev))
            check_pending()
            per_round.append(got)
    finally:
        check_pending()
        (checks_mod.MAPPED_FLAGS, _launch.NARROW_CHUNKED, _launch.NARROW_IN_SUMMARY,
         fast_launch.MODE) = saved
    med = {n: {"host_ms": float(np.median([r[n][0] for r in per_round])),
               "loop_ms": float(np.median([r[n][1] for r in per_round]))}
           for n, *_ in AB_VARIANTS}
    off = med["checks off"]
    cost = {n: {"host": 100 * (med[n]["host_ms"] / off["host_ms"] - 1),
                "loop": 100 * (med[n]["loop_ms"] / off["loop_ms"] - 1)}
            for n, *_ in AB_VARIANTS if n != "checks off"}
    return {"rounds": per_round, "median": med, "cost_pct": cost}


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


#: the stages ``--breakdown`` times: (module, attribute, label); each wrapped by a timer
#: (inclusive: a stage's time holds the stages it calls)
def _stages():
    from statetrack.kernels.tabled import tabled as tabled_mod
    return ((tabled_mod, "check_inputs", "check_inputs"),
            (tabled_mod, "allocate_outputs", "allocate_outputs"),
            (tabled_mod, "cached_plan", "cached_plan"),
            (tabled_mod, "_proj_keys", "_proj_keys"),
            (tabled_mod, "_code_table", "_code_table"),
            (tabled_mod, "DeviceFlags", "DeviceFlags()"),
            (checks_mod.DeviceFlags, "arm", "flags.arm"),
            (tabled_mod, "_poll_pending", "_poll_pending"),
            (tabled_mod, "launch", "launch (all passes)"),
            (_launch, "to_uint8_ids", "to_uint8_ids"),
            (fast_launch.FastKernel, "run", "kernel launches"),
            (torch, "empty", "torch.empty"))


def breakdown(fn, calls: int, dev: str) -> dict:
    """The host's time a call in each stage of :func:`_stages` (inclusive, ms a call, and
    calls a call), beside the whole call's, with one timer around each stage (about a
    microsecond a timed stage on a fast host: cProfile's per-function cost spread over
    every function inflated the small ones). Launches are also split per kernel."""
    acc: dict = {}
    saved = []

    def wrap(owner, attr, label):
        orig = getattr(owner, attr)
        per_kernel = attr == "run" and owner is fast_launch.FastKernel

        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return orig(*args, **kwargs)
            finally:
                dt = time.perf_counter() - t0
                names = [label]
                if per_kernel:
                    names.append(f"  launch {args[0].fn.__name__}")
                for n in names:
                    tot, cnt = acc.get(n, (0.0, 0))
                    acc[n] = (tot + dt, cnt + 1)
        saved.append((owner, attr, orig))
        setattr(owner, attr, timed)

    for owner, attr, label in _stages():
        wrap(owner, attr, label)
    try:
        for _ in range(3):
            fn()
        acc.clear()
        whole = host_ms(fn, calls, dev)
    finally:
        for owner, attr, orig in reversed(saved):
            setattr(owner, attr, orig)
    rows = {n: {"ms": tot * 1e3 / calls, "calls_per_call": cnt / calls}
            for n, (tot, cnt) in sorted(acc.items(), key=lambda kv: -kv[1][0])}
    return {"whole_ms": whole, "stages": rows}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", type=Path, required=True)
    ap.add_argument("--shape", default=None, help="B,T (default 64,65536; smoke 2,9)")
    ap.add_argument("--calls", type=int, default=200, help="calls profiled (at most 2 with --smoke)")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--problem", default="random K=16 V=16, o",
                    help="a problem of benchmarks/probes/deep_ab.py (default the o row)")
    ap.add_argument("--checks", choices=("on", "off"), default="on",
                    help="the profiled call's input checks (default on, the API's default)")
    ap.add_argument("--ab", type=int, default=0, metavar="ROUNDS",
                    help="also an interleaved A/B: checks off; on with flags copied; mapped; "
                         "mapped without the chunked ids' narrowing pass; off without it; "
                         "mapped with the narrowing in the summary pass; mapped through "
                         "Triton's dispatch")
    ap.add_argument("--breakdown", action="store_true",
                    help="also time the call's stages with one timer each (check_inputs, "
                         "allocation, plan, flags, each kernel's launch)")
    ap.add_argument("--smoke", action="store_true", help="tiny CPU run (interpreter)")
    a = ap.parse_args(argv)
    check_outputs(ap, {"--json": a.json})
    if a.calls < 1 or a.top < 1:
        ap.error("--calls and --top must be positive")
    if a.ab < 0:
        ap.error(f"--ab: expected a number of rounds >= 0, got {a.ab}")
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

    def make_fn(on: bool):
        kw_call = kw if on else dict(kw, check_beta=False, check_ids=False)
        return lambda: run_tabled(sym, *tabs, **kw_call)

    fn = make_fn(a.checks == "on")

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
    bd = None
    if a.breakdown:
        bd = breakdown(fn, calls, dev)
        print(f"\nstages (one timer each, inclusive): ms a call, calls a call; whole call "
              f"{bd['whole_ms']:.3f} ms with the timers")
        for name, r in bd["stages"].items():
            print(f"  {name:34s} {r['ms']:8.4f} {r['calls_per_call']:6.1f}")
    ab = None
    if a.ab:
        ab = checks_ab(make_fn, a.ab, calls, dev)
        print(f"\ninterleaved A/B ({a.ab} rounds of {calls} calls): medians, cost against "
              "the checks off")
        for name, m in ab["median"].items():
            c = ab["cost_pct"].get(name)
            extra = "" if c is None else f"  ({c['host']:+.1f} % host, {c['loop']:+.1f} % loop)"
            print(f"  {name:46s} host {m['host_ms']:.3f} ms, loop {m['loop_ms']:.3f} ms{extra}")
    meta = describe(__file__, argv, B=B, T=T, problem=a.problem, calls=calls, checks=a.checks,
                    device=dev if a.smoke else torch.cuda.get_device_name(),
                    torch=torch.__version__, triton=triton.__version__)
    write_json(ap, "--json", a.json, {"meta": meta, "host_ms": plain, "profile": prof,
                                      "checks_ab": ab, "breakdown": bd})
    return 0


if __name__ == "__main__":
    sys.exit(main())
