"""A/B of cols_kernel's "deep" order (session 17) at (B = 1024, T = 4096), sequential: which of
its two parts (four sub-steps an iteration with their rows loaded first; ``maxnreg = 255``,
without which ptxas sinks those loads to their uses) helps where, and whether the words a
warp decide it (random tables at V = 16: 2 words a warp; at V = 4 and the permutation tables
at V = 1: 8 words a warp).

Each row's time is the device time of the call's kernels (torch.profiler, summed over the
kernels a call launches, mean of ``--iters`` calls): the wall time of back-to-back calls is
host-bound for this path (a call's Python costs 0.2-0.8 ms on the device's CPU, as much as
its kernels; the first run of this probe measured that). ``do_bench`` medians are kept
beside them. Rows, timed in rounds interleaved with the default (median over rounds):
default, deep, deep without maxnreg, default with maxnreg 255; for random float tables at
V = 16 and V = 4 (output ``o``), permutation tables K = 16, V = 1 (``o`` and ``code`` through
the code table, the construction path of ``statetrack check``). Each variant's outputs are
compared with the default's (bit-identical expected on the permutation tables).

    python3 benchmarks/probes/deep_ab.py --json OUT.json [--rounds 5]

``--set proj`` (session 22) times the ``proj`` variant instead (the run pass in the
coordinates of the table keys, ``proj_kernel``: every problem here has 4 table rows a head,
at most K = 16) against the default, with and without ``maxnreg``; its outputs are compared
with the default's as a relative difference too (``rel_diff``: not bit-identical on float
tables, bit-identical expected on the permutation tables). ``--shape B,T`` and ``--chunk auto``
(the default ``choose_chunk``, e.g. at the chunked shape 64,65536) or ``--chunk L`` widen it
to the chunked run,
whose summary and run passes proj replaces (``proj, run pass only``: the summaries stay on
``cols_kernel``; in a sequential run it is the same as ``proj``; ``proj, K-column
summaries``: the summaries over the K + V columns of ``[I | 0]``, not the keys' R basis
columns of session 23; ``proj, value columns``: the keys' basis with the V value columns,
not the values' R basis columns where R < V, the default since session 24; up to session 23
``proj`` was that row and ``proj, values' basis`` the candidate).

    python3 benchmarks/probes/deep_ab.py --set proj --json OUT.json
    python3 benchmarks/probes/deep_ab.py --set proj --shape 64,65536 --chunk auto --json OUT2.json

Since session 23 ``proj`` is the default where it applies (all the problems here): each set's
``default`` row, its baseline, and every row not named ``proj`` run ``cols_kernel`` (``proj``
off), the path measured before.

``--set ahead`` (session 28) times ``proj_kernel`` with the next iteration's table rows
loaded during this one (``_launch.PROJ_AHEAD``; sequential runs only, compiled without
``maxnreg``, and with 255) against the plain order (its ``default`` row: the rows ahead off,
the default until session 30), and a chunked call's scan making each
chunk's map from proj's sums (``_launch.SCAN_FROM_SUMS``: no ``proj_maps_kernel`` launch;
inert in sequential runs); bit-identical expected on every problem.

``--set prefetch`` (session 30) times, on top of the rows ahead, ``proj_kernel`` prefetching
the ids into L1 64 or 256 tokens ahead (``_launch.PROJ_PREFETCH_IDS``) and the sequential
call without its narrowing launch, the run pass reading the int32 ids
(``_launch.NARROW_SEQUENTIAL`` off), alone and with the prefetch; bit-identical expected.
(Session 31 made the prefetch 64 ahead the default where V >= 4: the "default" row here sets
it to 0. The rows' one-hot, also timed in session 31, was slower and removed.)

``--set nh3`` (session 31) times the rows ahead with ``END_PRED`` (a token's end by masked
stores, what the launcher passes with the rows ahead at n_h = 3) on problems of three
sub-steps a token, ``_launch.AHEAD_NH`` widened to 3 for the run (n_h = 3 is not in it by
default: 1.035x on the H100, session 31), against the plain order; bit-identical expected.

``--set pingpong`` (session 31) times the rows ahead in two buffers, two iterations a trip
(``_launch.PROJ_PINGPONG``), and the loop's ids read a block from one clamped start
(``_launch.PROJ_IDS_BLOCK``), alone and together, against the default (rows ahead, ids
prefetched where V >= 4); bit-identical expected.

The prefetch applies only where V >= ``_launch.PREFETCH_MIN_WC`` (4): on the V = 1
problems the prefetch rows of ``--set prefetch`` run without it since session 31.

``--set current`` (session 33) is the launcher's defaults as imported, and the same call
with proj's run passes compiled without the final state (``no final state``: ``FINAL = 0``,
the sequential loop keeps no sums of its rows; its final state is not written); with
``--earlier FILE`` (an earlier revision's ``_tabled_kernels.py``, e.g. ``git show
bcb7d82:statetrack/kernels/tabled/_tabled_kernels.py > benchmarks/_kernels_earlier.py``) it
times those kernels against the current ones under the same launcher (``--earlier`` adds its
row to any set); bit-identical expected where a change is only the code's form.

``--set chain`` (session 33) times proj's shorter chain from token to token
(``_launch.PROJ_CHAIN``: each sub-step's ``p_r`` by a tree of selects, its ``d`` by one
multiply-add) against the launcher's defaults; bit-identical expected on the permutation
tables, within float32 rounding on the random ones (``rel_diff``).

``--set lut`` times the code table's readout by its held ``z`` (``LUT_ID``, the default since
session 22: no table load) against its load, with and without ``proj`` (the permutation
tables' code problem; the other problems have no code table, so their rows only repeat).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import statetrack.kernels._common.triton  # noqa: F401,E402

import torch  # noqa: E402
from triton.testing import do_bench  # noqa: E402

from benchmarks._machine import kernel_ms  # noqa: E402
from statetrack.kernels.tabled import _launch, build_code_table  # noqa: E402
from statetrack.kernels.tabled.tabled import _run_tabled_variant  # noqa: E402

#: name -> (_variant, maxnreg override: None = the launcher's rule, 0 = unset[, whether proj
#: takes the summary pass too: _launch.PROJ_SUMMARY, True unless given[, whether a code
#: table is read by its load even where the kernels could test z (id_mask forced to 0)[,
#: whether proj's summaries take the keys' basis: _launch.PROJ_BASIS, True unless given[,
#: whether they take the values' basis where R < V: _launch.PROJ_VBASIS, True unless
#: given[, whether proj loads the next iteration's rows during this one:
#: _launch.PROJ_AHEAD, False unless given[, whether the scan makes the maps from proj's
#: sums: _launch.SCAN_FROM_SUMS, False unless given[, whether sequential calls narrow the
#: ids: _launch.NARROW_SEQUENTIAL, True unless given[, the tokens ahead proj prefetches the
#: ids: _launch.PROJ_PREFETCH_IDS, 0 unless given[, whether chunked run passes prefetch
#: them too: _launch.PREFETCH_CHUNKED, False unless given[, whether the rows ahead run in two
#: buffers: _launch.PROJ_PINGPONG, False unless given[, whether the loop reads each block's
#: ids from one clamped start: _launch.PROJ_IDS_BLOCK, False unless given[, whether proj's
#: sub-steps take the shorter chain: _launch.PROJ_CHAIN, False unless given]]]]]]]]]]]]]).
#: Each set's "default" row is its baseline, and every row but the proj ones runs
#: cols_kernel (proj off: the default where it applies since session 23, it would replace
#: cols_kernel's orders here)
COLS = {"proj": False}
#: the launcher's ids prefetch as imported (64 tokens ahead since session 31); every row but
#: those naming a prefetch (and the pingpong set's) runs without it
PREFETCH_DEFAULT = _launch.PROJ_PREFETCH_IDS
#: the sub-steps a token where the rows ahead apply, as imported
AHEAD_NH_DEFAULT = _launch.AHEAD_NH
SETS = {"deep": {"default": (dict(COLS, deep=False), None), "deep": (dict(COLS, deep=True), None),
                 "deep, no maxnreg": (dict(COLS, deep=True), 0),
                 "default, maxnreg 255": (dict(COLS, deep=False), 255)},
        "proj": {"default": (COLS, None), "proj": ({"proj": True}, None),
                 "proj, no maxnreg": ({"proj": True}, 0),
                 "proj, run pass only": ({"proj": True}, None, False),
                 "proj, K-column summaries": ({"proj": True}, None, True, False, False),
                 "proj, value columns": ({"proj": True}, None, True, False, True, False)},
        # the code table read by its held z (LUT_ID, session 22) against its load
        "lut": {"default": (COLS, None), "table load": (COLS, None, True, True),
                "proj": ({"proj": True}, None), "proj, table load": ({"proj": True}, None, True, True)},
        # proj's rows of the next iteration loaded during this one (PROJ_AHEAD, session 28)
        # against the default (proj, since session 23)
        # and the chunked scan making the maps from proj's sums (SCAN_FROM_SUMS, session 28)
        "ahead": {"default": ({}, None),
                  "rows ahead": ({}, None, True, False, True, True, True),
                  "rows ahead, maxnreg 255": ({}, 255, True, False, True, True, True),
                  "scan from sums": ({}, None, True, False, True, True, False, True),
                  "rows ahead, scan from sums": ({}, None, True, False, True, True, True,
                                                 True)},
        # the ids prefetched into L1 ahead (PROJ_PREFETCH_IDS, session 30) and the run pass
        # reading the int32 ids itself (NARROW_SEQUENTIAL off: no narrowing launch), on top of
        # the rows ahead (the default since session 30)
        "prefetch": {"default": ({}, None, True, False, True, True, True),
                     "ids prefetched 64 ahead": ({}, None, True, False, True, True, True, False,
                                                 True, 64),
                     "ids prefetched 256 ahead": ({}, None, True, False, True, True, True,
                                                  False, True, 256),
                     "int32 ids read, not narrowed": ({}, None, True, False, True, True, True,
                                                      False, False),
                     "int32 ids, prefetched 64": ({}, None, True, False, True, True, True,
                                                  False, False, 64),
                     "int32 ids, prefetched 256": ({}, None, True, False, True, True, True,
                                                   False, False, 256),
                     # chunked run passes prefetching too (PREFETCH_CHUNKED, session 31;
                     # with --chunk auto; sequential calls: the same as 64 ahead)
                     "chunked runs prefetch 64": ({}, None, True, False, True, True, True,
                                                  False, True, 64, True)},
        # the rows ahead at three sub-steps a token, with END_PRED (AHEAD_NH widened to 3
        # for this set) against the plain order, on n_h = 3 problems
        "nh3": {"default": ({}, None, True, False, True, True, False),
                "rows ahead, END_PRED": ({}, None, True, False, True, True, True)},
        # the rows ahead in two buffers, two iterations a trip (PROJ_PINGPONG, session 31),
        # against session 31's default (rows ahead, ids prefetched 64 ahead where V >= 4;
        # "ids a block" is the default since session 32)
        "pingpong": {"default": ({}, None, True, False, True, True, True, False, True,
                                 PREFETCH_DEFAULT),
                     "ping-pong": ({}, None, True, False, True, True, True, False, True,
                                   PREFETCH_DEFAULT, False, True),
                     "ping-pong, no prefetch": ({}, None, True, False, True, True, True, False,
                                                True, 0, False, True),
                     # each block's ids from one clamped start (PROJ_IDS_BLOCK, session 31)
                     "ids a block": ({}, None, True, False, True, True, True, False, True,
                                     PREFETCH_DEFAULT, False, False, True),
                     "ping-pong, ids a block": ({}, None, True, False, True, True, True, False,
                                                True, PREFETCH_DEFAULT, False, True, True)}}
VARIANTS = SETS["deep"]
#: the launcher switches a variant's rest sets: name -> (its position in rest, its value
#: where the variant does not give it); rest[1] is the code table's load, not a switch
KNOBS = {"PROJ_SUMMARY": (0, True), "PROJ_BASIS": (2, True), "PROJ_VBASIS": (3, True),
         "PROJ_AHEAD": (4, False), "SCAN_FROM_SUMS": (5, False), "NARROW_SEQUENTIAL": (6, True),
         "PROJ_PREFETCH_IDS": (7, 0), "PREFETCH_CHUNKED": (8, False),
         "PROJ_PINGPONG": (9, False), "PROJ_IDS_BLOCK": (10, False),
         "PROJ_CHAIN": (11, False)}
#: the launcher's rows-ahead switch as imported (on since session 30); every row but
#: those naming "rows ahead" runs with it off (the order each set was written against)
AHEAD_DEFAULT = _launch.PROJ_AHEAD


def _launcher_rest(**override) -> tuple:
    """A variant's rest for the launcher's switches as imported (every knob of KNOBS; the
    code table read by its held z), ``override`` (knob name -> value) set on top."""
    rest = [False] * (1 + max(at for at, _ in KNOBS.values()))
    for knob, (at, _) in KNOBS.items():
        rest[at] = override.get(knob, getattr(_launch, knob))
    return tuple(rest)


#: the row of ``--set current`` whose proj run passes skip the final state (``FINAL = 0``:
#: the loop keeps no sums of its rows, 155 -> 126 sm_90 instructions at V = 16; the returned
#: final state is then not written; session 33: no faster on the H100)
NO_FINAL = "no final state"
#: the launcher's defaults (the baseline of ``--set current``; ``--earlier`` adds its row),
#: and the shorter chain from token to token (PROJ_CHAIN, session 33) against them
SETS["current"] = {"default": ({}, None, *_launcher_rest()),
                   NO_FINAL: ({}, None, *_launcher_rest())}
SETS["chain"] = {"default": ({}, None, *_launcher_rest()),
                 "chain": ({}, None, *_launcher_rest(PROJ_CHAIN=True))}
#: the row ``--earlier`` adds to a set: its default with an earlier revision's kernels
EARLIER = "earlier kernels"


def load_earlier(path: Path):
    """An earlier revision's ``_tabled_kernels.py`` (``git show
    REV:statetrack/kernels/tabled/_tabled_kernels.py > FILE``) as a module of its own, to
    swap in for ``_launch._kern`` (its kernels compile and cache apart from the current
    ones; the launcher's arguments must still fit them)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("_tabled_kernels_earlier", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def problems(gen, B, T, dev, n_h=1):
    sym = torch.randint(0, 4, (B, T), generator=gen).to(torch.int32).to(dev)
    out = {}
    for V in (16, 4):
        kt = torch.nn.functional.normalize(torch.randn(4, n_h, 16, generator=gen), dim=-1)
        kw = dict(query=torch.randn(16, generator=gen).to(dev), output="o")
        name = f"random K=16 V={V}" + (f" n_h={n_h}" if n_h > 1 else "") + ", o"
        out[name] = ((kt.bfloat16().to(dev),
                      (2 * torch.rand(4, n_h, generator=gen)).bfloat16().to(dev),
                      torch.randn(4, n_h, V, generator=gen).bfloat16().to(dev)), kw)
    if n_h > 1:
        return sym, out
    kt = torch.zeros(4, 1, 16)
    for a, (i, j) in enumerate([(0, 1), (1, 2), (2, 3), (0, 15)]):
        kt[a, 0, i], kt[a, 0, j] = 1.0, -1.0
    tabs = (kt.bfloat16().to(dev), torch.ones(4, 1).bfloat16().to(dev),
            torch.zeros(4, 1, 1).bfloat16().to(dev))
    h0 = torch.zeros(1, 16, 1, device=dev)
    h0[0, 0, 0] = 1.0
    q = torch.arange(16, dtype=torch.float32, device=dev)
    base = dict(initial_state=h0, query=q, check_finite_inputs=False)
    out["perm K=16 V=1, o"] = (tabs, dict(base, output="o"))
    out["perm K=16 V=1, code table"] = (tabs, dict(base, output="code", codes=q[:, None].clone()))
    return sym, out


_LOADING = {}


def loading_table(tabs, kw):
    """The code table of a problem with ``id_mask`` forced to 0: the kernels load every
    entry (the readout before session 22), the same codes."""
    key = id(tabs)
    if key not in _LOADING:
        ct = build_code_table(*tabs, initial_state=kw["initial_state"], query=kw["query"],
                              codes=kw["codes"], H=1)
        _LOADING[key] = dataclasses.replace(ct, _on_device={"id_mask": 0})
    return _LOADING[key]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", type=Path, required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--smoke", action="store_true", help="tiny CPU run (interpreter)")
    ap.add_argument("--set", choices=sorted(SETS), default="deep",
                    help="which variants: the deep order's (session 17), proj (session 22), the "
                         "code table's readout (lut), proj's rows ahead (session 28) or the "
                         "ids prefetched / read wide (prefetch, session 30), or the rows "
                         "ahead at n_h = 3 with END_PRED (nh3, session 31), or the rows "
                         "ahead in two buffers (pingpong, session 31), or the launcher's "
                         "defaults alone (current, for --earlier), or proj's shorter chain "
                         "(chain, session 33)")
    ap.add_argument("--earlier", type=Path, default=None,
                    help="an earlier revision's _tabled_kernels.py: adds the row 'earlier "
                         "kernels', the set's default run by them (with --set current: the "
                         "launcher's defaults, old kernels against new)")
    ap.add_argument("--shape", default=None, help="B,T (default 1024,4096; smoke 2,9)")
    ap.add_argument("--chunk", default=None,
                    help="tokens a chunk: 'auto' (choose_chunk) or a positive integer "
                         "(default: T, one sequential chunk)")
    a = ap.parse_args(argv)
    variants = SETS[a.set]
    earlier = None
    if a.earlier is not None:
        if not a.earlier.is_file():
            ap.error(f"--earlier: no file {a.earlier}")
        earlier = load_earlier(a.earlier)
        variants = dict(variants, **{EARLIER: variants["default"]})
    dev = "cpu" if a.smoke else "cuda"
    B, T = (2, 9) if a.smoke else (1024, 4096)
    if a.shape is not None:
        try:
            B, T = (int(x) for x in a.shape.split(","))
            if B < 1 or T < 1:
                raise ValueError
        except ValueError:
            ap.error(f"--shape: expected two positive integers B,T, got {a.shape!r}")
    chunk = T
    if a.chunk == "auto":
        chunk = None
    elif a.chunk is not None:
        if not a.chunk.isdigit() or int(a.chunk) < 1:
            ap.error(f"--chunk: expected 'auto' or a positive integer, got {a.chunk!r}")
        chunk = int(a.chunk)
    gen = torch.Generator().manual_seed(20261205)
    sym, probs = problems(gen, B, T, dev, n_h=3 if a.set == "nh3" else 1)
    bench = (lambda f: (f(), 0.0)[1]) if a.smoke else \
        (lambda f: do_bench(f, warmup=25, rep=100, return_mode="median"))
    rows = []
    for pname, (tabs, kw) in probs.items():
        def call(name, _tabs=tabs, _kw=kw):
            var, reg, *rest = variants[name]
            saved = {k: getattr(_launch, k) for k in (*KNOBS, "MAXNREG_OVERRIDE", "AHEAD_NH",
                                                      "_kern")}
            if name == EARLIER:
                _launch._kern = earlier
            _launch.MAXNREG_OVERRIDE = reg
            for knob, (at, unset) in KNOBS.items():
                setattr(_launch, knob, rest[at] if len(rest) > at else unset)
            _launch.AHEAD_NH = (1, 2, 3, 4) if a.set == "nh3" else AHEAD_NH_DEFAULT
            extra = {}
            if len(rest) > 1 and rest[1] and _kw["output"] == "code":
                extra["code_table"] = loading_table(_tabs, _kw)
            run_proj = _launch.ColsLauncher._run_proj
            if name == NO_FINAL:            # the run passes' last argument: final
                _launch.ColsLauncher._run_proj = lambda self, *args: run_proj(
                    self, *args[:-1], False)
            try:
                return _run_tabled_variant(sym, *_tabs, chunk_size=chunk, check_beta=False,
                                           check_ids=False, _variant=var, **_kw, **extra)
            finally:
                for knob, value in saved.items():
                    setattr(_launch, knob, value)
                _launch.ColsLauncher._run_proj = run_proj
        ref = call("default")
        field = "o" if kw["output"] == "o" else "code"
        outs = {n: getattr(call(n), field) for n in variants}
        same = {n: bool(torch.equal(x, getattr(ref, field))) for n, x in outs.items()}
        base = getattr(ref, field).double()
        rel = {n: (float((x.double() - base).norm() / base.norm()) if field == "o" and
                   base.norm() > 0 else None) for n, x in outs.items()}
        del outs
        times = {n: [] for n in variants}
        dev_t = {n: [] for n in variants}
        kernels = {}
        for r in range(a.rounds):
            names = list(variants)[r % len(variants):] + list(variants)[:r % len(variants)]
            for n in names:
                times[n].append(bench(lambda n=n: call(n)))
                if not a.smoke:
                    t, kernels[n] = kernel_ms(lambda n=n: call(n), a.iters)
                    dev_t[n].append(t)
        med = {n: statistics.median(t) for n, t in times.items()}
        dmed = {n: statistics.median(t) if t else 0.0 for n, t in dev_t.items()}
        for n in variants:
            rows.append({"problem": pname, "variant": n, "device_ms": dmed[n],
                         "vs_default": dmed[n] / dmed["default"] if dmed["default"] else None,
                         "wall_ms": med[n], "equal_to_default": same[n], "rel_diff": rel[n],
                         "rounds_device_ms": dev_t[n], "rounds_wall_ms": times[n],
                         "kernels_ms": kernels.get(n)})
            print(f"{pname:28s} {n:22s} device {dmed[n]:.4f} ms  x{rows[-1]['vs_default'] or 0:.3f}"
                  f"  (wall {med[n]:.4f})  equal {same[n]}", flush=True)
    meta = {"device": dev if a.smoke else torch.cuda.get_device_name(), "torch": torch.__version__,
            "triton": __import__("triton").__version__, "B": B, "T": T, "rounds": a.rounds, "iters": a.iters,
            "set": a.set, "chunk_size": chunk,
            "command": " ".join(["python3"] + sys.argv)}
    a.json.parent.mkdir(parents=True, exist_ok=True)
    a.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
