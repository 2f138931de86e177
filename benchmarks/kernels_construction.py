"""Construction-shape benchmark of the DeltaProduct kernels against fla, plus exactness at 10^6.

Shapes (forward only, H = 1, K = V = 16, n_h = 1, bfloat16 inputs): (B=1024, T=4096) and
(B=64, T=65536). Rows:

* fla 0.6.0 ``fused_recurrent_delta_rule`` and ``chunk_delta_rule`` on dense bf16 q, k, v, beta;
* ours, ``fused_recurrent_delta_product`` (general kernel) on the same dense tensors;
* ours, ``run_tabled`` (construction path) on int32 symbol ids and bf16 per-symbol tables
  (4 symbols), outputs ``o`` (float32) or the code index (int32); several chunk sizes;
  the default call (input checks on: ids checked in the kernels, table checks remembered per
  tensor) against ``check_*=False`` and ``sync_checks=True`` (the synchronizing checks);
* the ``code`` output of a permutation construction (K = 16, V = 1, n_h = 1, 16 codes: what
  ``statetrack check`` reads) through its code table (one lane, no reduction) against the
  argmin (``code_table=None``) and against its ``o`` output.

Times are medians of ``triton.testing.do_bench`` (device events); beside them every row has
the host's time to return from a call and the wall time a call in a loop of back-to-back
calls (:func:`host_times`: is the call host-bound?) and the device time of the kernels a call
launches (``kernel_ms``, torch.profiler: what the kernels cost when the host is slow; session
17 saw host times of 0.2-0.8 ms a call, which made some do_bench rows host-bound). The memory
floor of a row
is (bytes its inputs and outputs must move, each once) / (measured device-to-device copy
bandwidth, bytes read + written); ``floor %`` = floor / time.

Exactness: parity and S_5 (letters: transpositions and products of up to 4 of them, n_h = 4)
at T = 10^6 with bf16 tables / inputs, through the tabled path (chunked and sequential) and
the general kernel; the number of wrong outputs against a numpy oracle must be 0.

Run on a CUDA machine from the repository root::

    python benchmarks/kernels_construction.py --json benchmarks/results/kernels_construction.json \
        --md benchmarks/results/kernels_construction.md
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import statetrack.kernels._common.triton  # noqa: F401,E402  (before triton)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import triton  # noqa: E402
from triton.testing import do_bench  # noqa: E402

from statetrack.kernels.delta_product.fused_recurrent import (  # noqa: E402
    fused_recurrent_delta_product,
)
from statetrack.kernels.tabled import TabledRunner, gather_tables, run_tabled  # noqa: E402
from statetrack.kernels.tabled.tabled import _run_tabled_variant  # noqa: E402
from statetrack.kernels._common.tolerances import rel_error  # noqa: E402
from benchmarks._machine import check_outputs, git_commit, kernel_ms  # noqa: E402
from statetrack.kernels._common import checks as checks_mod  # noqa: E402
from statetrack.kernels._common.checks import MAPPED_FLAGS  # noqa: E402
from statetrack.kernels.tabled import check_pending  # noqa: E402
from statetrack.kernels.tabled import _launch  # noqa: E402

SHAPES = [(1024, 4096), (64, 65536)]
EXACT_T = 10 ** 6
K = V = 16
N_SYMBOLS = 4
DEV = "cuda"
SMOKE = False   # --smoke: tiny shapes on the CPU through the interpreter, one timed call each
#: the "late" readout order of cols_kernel (session 10: a token's readout computed beside the
#: next token's S^T k; since session 11 the default where a code table reads out, EARLY the
#: order before it); the words-a-program rows of session 9 are gone (no setting beat the
#: default: kernels_construction.md, session 10)
#: These rows run cols_kernel (proj off: since session 23 the default where it applies, the
#: rows' tables included, and it has no such orders); COLS is cols_kernel's default order.
COLS = {"proj": False}
LATE = {"late": True, "proj": False}
EARLY = {"late": False, "proj": False}
#: the "deep" order of cols_kernel's sequential run (session 17: four sub-steps an iteration,
#: their table rows loaded first, maxnreg 255 so that ptxas keeps the loads there)
DEEP = {"deep": True, "proj": False}


def chunk_sizes(text: str) -> list[int | str]:
    """The chunk sizes of ``--chunks``: comma-separated ``auto`` (``run_tabled``'s choice),
    ``T`` (the whole sequence: sequential) or tokens a chunk (an integer >= 1, what
    ``run_tabled`` accepts; no power of two needed). ``auto`` must be among them: the summary
    compares its row with fla.

    Raises
    ------
    ValueError
        Naming the item that is none of these, or saying that ``auto`` is missing.

    Examples
    --------
    >>> chunk_sizes("auto,T,4096,100")
    ['auto', 'T', 4096, 100]
    >>> chunk_sizes("auto,0")
    Traceback (most recent call last):
    ...
    ValueError: --chunks: '0' is not auto, T or an integer >= 1 (tokens a chunk)
    """
    out: list[int | str] = []
    for item in text.split(","):
        if item in ("auto", "T"):
            out.append(item)
        elif item.isdigit() and item.isascii() and int(item) >= 1:
            out.append(int(item))
        else:
            raise ValueError(f"--chunks: {item!r} is not auto, T or an integer >= 1 (tokens "
                             "a chunk)")
    if "auto" not in out:
        raise ValueError(f"--chunks: {text!r} has no 'auto' (the summary compares the auto "
                         "row with fla)")
    return out


def bench(fn, rep_ms: int = 300) -> float:
    if SMOKE:
        t0 = time.perf_counter()
        fn()
        return (time.perf_counter() - t0) * 1e3
    return float(do_bench(fn, warmup=50, rep=rep_ms, return_mode="median"))


def switched(module, name: str, value, fn):
    """``fn`` run with ``module.name`` set to ``value`` (put back after every call): a row of
    an opt-in module switch such as ``_launch.NARROW_IN_SUMMARY``.

    Examples
    --------
    >>> import types
    >>> m = types.SimpleNamespace(X=1)
    >>> run = switched(m, "X", 2, lambda: m.X)
    >>> run(), m.X
    (2, 1)
    """
    def run():
        old = getattr(module, name)
        setattr(module, name, value)
        try:
            return fn()
        finally:
            setattr(module, name, old)
    return run


#: calls of the host-time measurement (fewer than ``tabled.MAX_PENDING``, so that no call
#: waits for an earlier call's device flags)
HOST_CALLS = 32


def host_times(fn, calls: int = HOST_CALLS) -> tuple[float, float]:
    """``(host_ms, loop_ms)`` a call of ``fn``: the host's time to return from ``calls``
    back-to-back calls without synchronising, and the wall time until their work is done
    (synchronised once at the end), each divided by ``calls``. ``host_ms`` near or above the
    device time means the call is host-bound: its device time then depends on how fast the
    host is, and do_bench's per-iteration events can see the host's gaps (the suspect for
    checks-on rows that cost +1.5 % in one run and +50 % in another)."""
    if SMOKE:
        calls = 2                 # the interpreter: seconds a call
    else:
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    t1 = time.perf_counter()
    if not SMOKE:
        torch.cuda.synchronize()
    t2 = time.perf_counter()
    return (t1 - t0) * 1e3 / calls, (t2 - t0) * 1e3 / calls


#: the variants of ``--flags-ab``: input checks off, on with flags copied home from a device
#: slot, on with flags the kernels write into pinned host memory (the default since session 25)
FLAG_VARIANTS = ("checks off", "checks on, copy flags", "checks on, mapped flags")


def flags_ab(run_off, run_on, rounds: int, rep_ms: int = 300) -> dict:
    """The input checks' cost with each flag mode, interleaved in one process: ``rounds``
    rounds, each timing :data:`FLAG_VARIANTS` in an order rotated by one every round (no
    variant always first), :data:`checks.MAPPED_FLAGS` switched between them (it picks the
    flag ring of the calls from then on; pending flags are drained first). Separate processes
    on a shared host disagreed by more than the effect (session 11: +0 % mapped in one run,
    the copy's run cut short).

    Returns ``{"rounds": [{variant: ms}], "median_ms": {variant: ms},
    "cost_pct": {variant: % over checks off}}`` (medians over the rounds)."""
    saved = checks_mod.MAPPED_FLAGS
    per_round = []
    try:
        for i in range(rounds):
            order = FLAG_VARIANTS[i % 3:] + FLAG_VARIANTS[:i % 3]
            got = {}
            for name in order:
                check_pending()
                checks_mod.MAPPED_FLAGS = name.endswith("mapped flags")
                fn = run_off if name == "checks off" else run_on
                fn()                                    # the mode's ring made, compiled
                if not SMOKE:
                    torch.cuda.synchronize()
                got[name] = bench(fn, rep_ms)
            check_pending()
            per_round.append(got)
    finally:
        checks_mod.MAPPED_FLAGS = saved
    med = {n: float(np.median([r[n] for r in per_round])) for n in FLAG_VARIANTS}
    return {"rounds": per_round, "median_ms": med,
            "cost_pct": {n: 100 * (med[n] / med["checks off"] - 1) for n in FLAG_VARIANTS[1:]}}


def copy_bandwidth() -> float:
    n = 1 << 12 if SMOKE else 1 << 29  # 1 GiB of float16
    src = torch.randn(n, device=DEV, dtype=torch.float16)
    dst = torch.empty_like(src)
    ms = bench(lambda: dst.copy_(src), 200)
    return 2 * src.numel() * src.element_size() / (ms * 1e-3)  # bytes/s, read + write


def tables(gen: torch.Generator, dtype=torch.bfloat16):
    kt = torch.nn.functional.normalize(torch.randn(N_SYMBOLS, 1, K, generator=gen), dim=-1)
    bt = 2 * torch.rand(N_SYMBOLS, 1, generator=gen)
    vt = torch.randn(N_SYMBOLS, 1, V, generator=gen)
    return kt.to(dtype).to(DEV), bt.to(dtype).to(DEV), vt.to(dtype).to(DEV)


def perm_tables(letters, n, n_h, dtype=torch.bfloat16):
    S = len(letters)
    kt = torch.zeros(S, n_h, n)
    bt = torch.zeros(S, n_h)
    perm = np.tile(np.arange(n), (S, 1))
    for a, swaps in enumerate(letters):
        for j, (i1, i2) in enumerate(swaps):
            kt[a, j, i1], kt[a, j, i2], bt[a, j] = 1.0, -1.0, 1.0
            step = np.arange(n)
            step[i1], step[i2] = i2, i1
            perm[a] = step[perm[a]]
    return (kt.to(dtype).to(DEV), bt.to(dtype).to(DEV), torch.zeros(S, n_h, 1, dtype=dtype).to(DEV),
            perm)


def oracle(perm, sym):
    s_np = sym.cpu().numpy()
    B, T = s_np.shape
    out = np.empty((B, T), dtype=np.int64)
    s = np.zeros(B, dtype=np.int64)
    for t in range(T):
        s = perm[s_np[:, t], s]
        out[:, t] = s
    return out


def exactness(gen) -> list[dict]:
    rows = []
    B, T = 4, EXACT_T
    cases = [("parity", [[], [(0, 1)]], 2, 1),
             ("S_5", [[], [(0, 1)], [(1, 2), (2, 3), (3, 4), (0, 1)], [(0, 4), (1, 3)],
                      [(2, 4)]], 5, 4)]
    for name, letters, n, n_h in cases:
        kt, bt, vt, perm = perm_tables(letters, n, n_h)
        sym = torch.randint(0, len(letters), (B, T), generator=gen).to(torch.int32).to(DEV)
        t0 = time.time()
        want = oracle(perm, sym)
        t_oracle = time.time() - t0
        h0 = torch.zeros(1, n, 1, device=DEV)
        h0[0, 0, 0] = 1
        query = torch.arange(n, dtype=torch.float32, device=DEV)
        for chunk in (None, T):
            r = run_tabled(sym, kt, bt, vt, initial_state=h0, query=query, codes=query[:, None],
                           output="code", chunk_size=chunk)
            wrong = int((r.code[:, :, 0].cpu().numpy() != want).sum())
            rows.append({"language": name, "n_h": n_h, "path": "tabled", "chunk_size": r.chunk_size,
                         "B": B, "T": T, "dtype": "bfloat16 tables", "wrong": wrong})
        k, v, beta = gather_tables(sym, kt, bt, vt, 1)
        q = query.to(torch.bfloat16).view(1, 1, 1, n).expand(B, T, 1, n).contiguous()
        o, _ = fused_recurrent_delta_product(q, k.contiguous(), v.contiguous(),
                                             beta.contiguous(), num_householder=n_h,
                                             scale=1.0, initial_state=h0.expand(B, 1, n, 1)
                                             .to(torch.bfloat16).contiguous())
        wrong = int((o[:, :, 0, 0].float().cpu().numpy() != want).sum())
        rows.append({"language": name, "n_h": n_h, "path": "general", "chunk_size": None,
                     "B": B, "T": T, "dtype": "bfloat16 q/k/v/beta", "wrong": wrong,
                     "oracle_s": round(t_oracle, 1)})
        del k, v, beta, q, o
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", type=Path, required=True)
    ap.add_argument("--md", type=Path, required=True)
    ap.add_argument("--skip-exact", action="store_true")
    ap.add_argument("--chunks", default=None,
                    help="comma-separated chunk sizes of the tabled o rows: auto, T "
                         "(sequential) or tokens a chunk (an integer >= 1); auto among them "
                         "(default auto,T,4096,2048,1024,512,256,128; --smoke: auto,T,4)")
    ap.add_argument("--smoke", action="store_true", help="tiny CPU run (interpreter)")
    ap.add_argument("--flags-ab", type=int, default=0, metavar="ROUNDS",
                    help="also time the default call's input checks with copied and with "
                         "mapped flags against checks off, interleaved in ROUNDS rounds "
                         "(tabled o, chunk=auto, int32 ids; default 0: not run)")
    ap.add_argument("--compare", type=Path, default=None,
                    help="a file holding an earlier version of "
                         "statetrack/kernels/tabled/tabled.py (e.g. from `git show "
                         "<rev>:statetrack/kernels/tabled/tabled.py`; revisions before the "
                         "kernels/ folder layout import modules that no longer exist): its "
                         "run_tabled is timed in the same run as 'earlier tabled o'")
    args = ap.parse_args()
    # before any timing (the results were lost at the end); a missing folder is made
    check_outputs(ap, {"--json": args.json, "--md": args.md}, make_folder=True)
    if args.flags_ab < 0:
        ap.error(f"--flags-ab: expected a number of rounds >= 0, got {args.flags_ab}")
    if args.compare is not None and not args.compare.is_file():
        ap.error(f"--compare: no file {str(args.compare)!r}")
    try:        # checked here, not at the first tabled row after the fla and general rows
        chunks = chunk_sizes(args.chunks or ("auto,T,4" if args.smoke else
                                             "auto,T,4096,2048,1024,512,256,128"))
    except ValueError as exc:
        ap.error(str(exc))
    global SHAPES, EXACT_T, DEV, SMOKE
    if args.smoke:
        SHAPES, EXACT_T, DEV, SMOKE = [(2, 8)], 40, "cpu", True
    elif not torch.cuda.is_available():
        ap.error("no CUDA device here (--smoke runs the logic on the CPU)")
    gen = torch.Generator().manual_seed(20251123)

    try:
        import fla  # noqa: F401
        from fla.ops.delta_rule import chunk_delta_rule, fused_recurrent_delta_rule
        fla_version = getattr(fla, "__version__", "?")
    except Exception as exc:  # report, do not hide
        print(f"WARNING: fla import failed ({exc!r}): no fla rows, no ratios. On the device: "
              f"carry .whl and pip install --no-index --no-deps "
              f".whl/fla_core-0.6.0-py3-none-any.whl", file=sys.stderr, flush=True)
        chunk_delta_rule = fused_recurrent_delta_rule = None
        fla_version = None

    earlier = None
    if args.compare is not None:
        import importlib.util
        spec = importlib.util.spec_from_file_location("statetrack_tabled_earlier", args.compare)
        earlier = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = earlier
        spec.loader.exec_module(earlier)
    bw = copy_bandwidth()
    print(f"copy bandwidth (read + write): {bw / 1e12:.2f} TB/s", flush=True)
    rows: list[dict] = []
    checks: list[dict] = []
    ab: list[dict] = []

    for B, T in SHAPES:
        kt, bt, vt = tables(gen)
        sym = torch.randint(0, N_SYMBOLS, (B, T), generator=gen).to(torch.int32).to(DEV)
        query = torch.nn.functional.normalize(torch.randn(K, generator=gen), dim=0).to(DEV)
        k, v, beta = (t.contiguous() for t in gather_tables(sym, kt, bt, vt, 1))
        q = query.to(torch.bfloat16).view(1, 1, 1, K).expand(B, T, 1, K).contiguous()
        tokens = B * T
        dense_bytes = tokens * (3 * K * 2 + 2 + V * 2)        # q, k, v, beta in; o out (bf16)
        tab_o_bytes = tokens * (4 + V * 4)                     # int32 ids in; float32 o out
        tab_code_bytes = tokens * (4 + 4)                      # int32 ids in; int32 code out
        tab_none_bytes = tokens * 4

        def add(impl, variant, fn, nbytes, rep=300):
            fn()
            if not SMOKE:
                torch.cuda.synchronize()
            ms = bench(fn, rep)
            host_ms, loop_ms = host_times(fn)
            kms = ms if SMOKE else kernel_ms(fn)[0]
            floor = nbytes / bw * 1e3
            rows.append({"B": B, "T": T, "impl": impl, "variant": variant, "ms": ms,
                         "floor_ms": floor, "floor_frac": floor / ms, "host_ms": host_ms,
                         "loop_ms": loop_ms, "kernel_ms": kms,
                         "floor_frac_kernels": floor / kms if kms else None})
            print(f"  B={B} T={T} {impl:28s} {variant:28s} {ms:8.3f} ms  floor {floor:.3f} ms "
                  f"({100 * floor / ms:.1f}%)", flush=True)

        print(f"shape B={B} T={T}", flush=True)
        if fused_recurrent_delta_rule is not None:
            add("fla fused_recurrent_delta_rule", "bf16",
                lambda: fused_recurrent_delta_rule(q, k, v, beta, scale=1.0,
                                                   output_final_state=True), dense_bytes)
            add("fla chunk_delta_rule", "bf16",
                lambda: chunk_delta_rule(q, k, v, beta, scale=1.0, output_final_state=True),
                dense_bytes)
        for bv in (None, 16, 8, 4):
            add("ours fused_recurrent", f"bf16 block_v={bv or 'auto'}",
                lambda bv=bv: fused_recurrent_delta_product(q, k, v, beta, scale=1.0,
                                                            output_final_state=True,
                                                            check_beta=False, block_v=bv),
                dense_bytes)
        for ch in chunks:
            L = None if ch == "auto" else (T if ch == "T" else ch)
            label = "auto" if L is None else ("sequential" if L >= T else str(L))
            add("ours tabled o", f"chunk={label}",
                lambda L=L: run_tabled(sym, kt, bt, vt, query=query, output="o", chunk_size=L,
                                       check_beta=False, check_ids=False), tab_o_bytes)
        add("ours tabled o", "chunk=auto, cols_kernel",
            lambda: _run_tabled_variant(sym, kt, bt, vt, query=query, output="o",
                                        check_beta=False, check_ids=False, _variant=COLS),
            tab_o_bytes)
        add("ours tabled o", "chunk=auto, late readout",
            lambda: _run_tabled_variant(sym, kt, bt, vt, query=query, output="o",
                                        check_beta=False, check_ids=False, _variant=LATE),
            tab_o_bytes)
        add("ours tabled o", "chunk=auto, deep",
            lambda: _run_tabled_variant(sym, kt, bt, vt, query=query, output="o",
                                        check_beta=False, check_ids=False, _variant=DEEP),
            tab_o_bytes)
        sym8 = sym.to(torch.uint8)
        add("ours tabled o", "chunk=auto, uint8 ids",
            lambda: run_tabled(sym8, kt, bt, vt, query=query, output="o", check_beta=False,
                               check_ids=False), tab_o_bytes - 3 * tokens)
        if earlier is not None:
            for L in (None, T, 1024):
                label = "auto" if L is None else ("sequential" if L >= T else str(L))
                add("earlier tabled o", f"chunk={label}",
                    lambda L=L: earlier.run_tabled(sym, kt, bt, vt, query=query, output="o",
                                                   chunk_size=L, check_beta=False,
                                                   check_ids=False), tab_o_bytes)
        add("ours tabled o", "chunk=auto, checks on",
            lambda: run_tabled(sym, kt, bt, vt, query=query, output="o"), tab_o_bytes)
        # the same call made once and replayed (a CUDA graph): ids copied into the runner's
        # buffer (one more device copy, 8 bytes a token), or written there by the caller
        run_o = TabledRunner(kt, bt, vt, batch=B, length=T, symbols_dtype=sym.dtype,
                             query=query, output="o")
        add("ours tabled o", "chunk=auto, checks on, TabledRunner", lambda: run_o(sym),
            tab_o_bytes)
        run_o.symbols.copy_(sym)
        add("ours tabled o", "chunk=auto, checks on, TabledRunner, ids in place",
            lambda: run_o(), tab_o_bytes)
        run_o.check()
        run_o = TabledRunner(kt, bt, vt, batch=B, length=T, symbols_dtype=sym.dtype,
                             query=query, output="o", check_beta=False, check_ids=False)
        run_o.symbols.copy_(sym)
        add("ours tabled o", "chunk=auto, TabledRunner, ids in place", lambda: run_o(),
            tab_o_bytes)
        del run_o
        add("ours tabled o", "chunk=auto, checks on, narrowing in summary",
            switched(_launch, "NARROW_IN_SUMMARY", True,
                     lambda: run_tabled(sym, kt, bt, vt, query=query, output="o")),
            tab_o_bytes)
        add("ours tabled o", "chunk=auto, checks on, uint8 ids",
            lambda: run_tabled(sym8, kt, bt, vt, query=query, output="o"),
            tab_o_bytes - 3 * tokens)
        add("ours tabled o", "chunk=auto, checks on, sync_checks",
            lambda: run_tabled(sym, kt, bt, vt, query=query, output="o", sync_checks=True),
            tab_o_bytes)
        codes = torch.randn(3, V, generator=gen).to(DEV)
        add("ours tabled code", "chunk=auto",
            lambda: run_tabled(sym, kt, bt, vt, query=query, codes=codes, output="code",
                               check_beta=False, check_ids=False), tab_code_bytes)
        add("ours tabled none", "chunk=auto (final state)",
            lambda: run_tabled(sym, kt, bt, vt, output="none", check_beta=False,
                               check_ids=False), tab_none_bytes)

        # the code output of a construction (what `statetrack check` reads): K = 16, V = 1,
        # n_h = 1, one-hot states permuted by transpositions, code = state index (C = 16)
        pk, pb, pv, _ = perm_tables([[(0, 1)], [(1, 2)], [(2, 3)], [(0, 15)]], K, 1)
        ph0 = torch.zeros(1, K, 1, device=DEV)
        ph0[0, 0, 0] = 1
        pq = torch.arange(K, dtype=torch.float32, device=DEV)
        pc = pq[:, None].clone()
        perm = dict(initial_state=ph0, query=pq, check_beta=False, check_ids=False,
                    check_finite_inputs=False)
        add("ours tabled o", "perm K=16 V=1",
            lambda: run_tabled(sym, pk, pb, pv, output="o", **perm), tokens * (4 + 4))
        add("ours tabled code", "perm K=16 V=1 C=16, argmin",
            lambda: run_tabled(sym, pk, pb, pv, codes=pc, output="code", code_table=None,
                               **perm), tab_code_bytes)
        add("ours tabled code", "perm K=16 V=1 C=16, code table",
            lambda: run_tabled(sym, pk, pb, pv, codes=pc, output="code", **perm),
            tab_code_bytes)
        code8 = torch.empty(B, T, 1, dtype=torch.uint8, device=DEV)
        add("ours tabled code", "perm K=16 V=1 C=16, code table, cols_kernel",
            lambda: _run_tabled_variant(sym, pk, pb, pv, codes=pc, output="code",
                                        _variant=COLS, **perm), tab_code_bytes)
        add("ours tabled code", "perm K=16 V=1 C=16, code table, uint8 codes",
            lambda: run_tabled(sym, pk, pb, pv, codes=pc, output="code", code_out=code8,
                               **perm), tab_code_bytes - 3 * tokens)
        add("ours tabled code", "perm K=16 V=1 C=16, code table, checks on",
            lambda: run_tabled(sym, pk, pb, pv, initial_state=ph0, query=pq, codes=pc,
                               output="code"), tab_code_bytes)
        run_c = TabledRunner(pk, pb, pv, batch=B, length=T, symbols_dtype=sym.dtype,
                             initial_state=ph0, query=pq, codes=pc, output="code")
        run_c.symbols.copy_(sym)
        add("ours tabled code", "perm K=16 V=1 C=16, code table, checks on, TabledRunner, "
            "ids in place", lambda: run_c(), tab_code_bytes)
        run_c.check()
        del run_c
        # the readout orders on the perm rows: o late (not the default), the code by table
        # early (the default before session 11; the late order is the default there now)
        add("ours tabled o", "perm K=16 V=1, late readout",
            lambda: _run_tabled_variant(sym, pk, pb, pv, output="o", _variant=LATE, **perm),
            tokens * (4 + 4))
        add("ours tabled code", "perm K=16 V=1 C=16, code table, early readout",
            lambda: _run_tabled_variant(sym, pk, pb, pv, codes=pc, output="code",
                                        _variant=EARLY, **perm), tab_code_bytes)
        add("ours tabled o", "perm K=16 V=1, deep",
            lambda: _run_tabled_variant(sym, pk, pb, pv, output="o", _variant=DEEP, **perm),
            tokens * (4 + 4))
        add("ours tabled code", "perm K=16 V=1 C=16, code table, deep",
            lambda: _run_tabled_variant(sym, pk, pb, pv, codes=pc, output="code",
                                        _variant=DEEP, **perm), tab_code_bytes)

        if args.flags_ab:
            res = flags_ab(lambda: run_tabled(sym, kt, bt, vt, query=query, output="o",
                                              check_beta=False, check_ids=False),
                           lambda: run_tabled(sym, kt, bt, vt, query=query, output="o"),
                           args.flags_ab)
            ab.append({"B": B, "T": T, **res})
            print(f"  flags A/B ({args.flags_ab} rounds): medians "
                  f"{ {n: round(m, 4) for n, m in res['median_ms'].items()} }, cost % "
                  f"{ {n: round(c, 1) for n, c in res['cost_pct'].items()} }", flush=True)

        # correctness on these inputs
        o_gen, s_gen = fused_recurrent_delta_product(q, k, v, beta, scale=1.0,
                                                     output_final_state=True)
        r = run_tabled(sym, kt, bt, vt, query=query, output="o")
        r_seq = run_tabled(sym, kt, bt, vt, query=query, output="o", chunk_size=T)
        r_lut = run_tabled(sym, pk, pb, pv, codes=pc, output="code", **perm)
        r_arg = run_tabled(sym, pk, pb, pv, codes=pc, output="code", code_table=None, **perm)
        r_u8 = run_tabled(sym, pk, pb, pv, codes=pc, output="code", code_out=code8, **perm)
        r_cols = _run_tabled_variant(sym, kt, bt, vt, query=query, output="o", _variant=COLS)
        r_lut_cols = _run_tabled_variant(sym, pk, pb, pv, codes=pc, output="code",
                                         _variant=COLS, **perm)
        r_late = _run_tabled_variant(sym, kt, bt, vt, query=query, output="o", _variant=LATE)
        r_lut_early = _run_tabled_variant(sym, pk, pb, pv, codes=pc, output="code",
                                          _variant=EARLY, **perm)
        r_deep = _run_tabled_variant(sym, kt, bt, vt, query=query, output="o", _variant=DEEP)
        r_lut_deep = _run_tabled_variant(sym, pk, pb, pv, codes=pc, output="code",
                                         _variant=DEEP, **perm)
        chk = {"B": B, "T": T,
               "tabled_vs_general_o": rel_error(r.o[:, :, :, :].to(torch.float64),
                                                o_gen.double()),
               "tabled_vs_general_state": rel_error(r.final_state, s_gen.double()),
               "tabled_chunked_vs_sequential_o": rel_error(r.o, r_seq.o.double()),
               "auto_chunk": r.chunk_size,
               "perm_code_table_used": r_lut.code_table is not None,
               "perm_code_table_vs_argmin_mismatches": int((r_lut.code != r_arg.code).sum()),
               "perm_uint8_codes_mismatches": int((r_u8.code.long() != r_lut.code.long()).sum()),
               # the default (proj where it applies, session 23) against cols_kernel: equal
               # to rounding on float tables, bit-identical on exact ones
               "proj_o_rel_error_vs_cols": rel_error(r.o, r_cols.o.double()),
               "perm_proj_codes_mismatches": int((r_lut_cols.code != r_lut.code).sum()),
               # cols_kernel's orders against its default one. The late order is the same
               # operations: on float tables equal to rounding (bit-identical unless the
               # compiler contracts multiply-adds differently)
               "late_o_bit_identical": bool(torch.equal(r_late.o, r_cols.o)),
               "late_o_rel_error": rel_error(r_late.o, r_cols.o.double()),
               # on exact tables bit-identical: no code may differ
               "perm_early_codes_mismatches": int((r_lut_early.code != r_lut_cols.code).sum()),
               # the deep order: the same sub-steps (equal to rounding on float tables)
               "deep_o_bit_identical": bool(torch.equal(r_deep.o, r_cols.o)),
               "deep_o_rel_error": rel_error(r_deep.o, r_cols.o.double()),
               "perm_deep_codes_mismatches": int((r_lut_deep.code != r_lut_cols.code).sum())}
        # the runner's outputs (a replayed graph on CUDA) against the call's: bit-identical
        runner = TabledRunner(kt, bt, vt, batch=B, length=T, symbols_dtype=sym.dtype,
                              query=query, output="o")
        chk["runner_o_bit_identical"] = bool(torch.equal(runner(sym).check().o, r.o))
        runner = TabledRunner(pk, pb, pv, batch=B, length=T, symbols_dtype=sym.dtype,
                              codes=pc, output="code", **perm)
        chk["runner_perm_codes_mismatches"] = int((runner(sym).check().code
                                                   != r_lut.code).sum())
        del runner
        if fused_recurrent_delta_rule is not None:
            o_fla, s_fla = fused_recurrent_delta_rule(q, k, v, beta, scale=1.0,
                                                      output_final_state=True)
            chk["general_vs_fla_fused_o"] = rel_error(o_gen, o_fla.double())
            chk["general_vs_fla_fused_state"] = rel_error(s_gen, s_fla.double())
        checks.append(chk)
        print("  checks:", {a: (f"{b:.2e}" if isinstance(b, float) else b) for a, b in chk.items()},
              flush=True)
        del k, v, beta, q, o_gen, r, r_seq, r_lut, r_arg, r_cols, r_lut_cols
        if not SMOKE:
            torch.cuda.empty_cache()

    exact = [] if args.skip_exact else exactness(gen)
    for e in exact:
        print("  exact:", e, flush=True)

    # summary: best of ours (tabled) vs faster fla kernel, per shape
    summary = []
    for B, T in SHAPES:
        sel = [r for r in rows if (r["B"], r["T"]) == (B, T)]
        fla_rows = [r for r in sel if r["impl"].startswith("fla")]
        best_fla = min(fla_rows, key=lambda r: r["ms"]) if fla_rows else None
        tab_auto = [r for r in sel if r["impl"] == "ours tabled o" and r["variant"] == "chunk=auto"][0]
        best_tab = min((r for r in sel if r["impl"] == "ours tabled o"
                        and not r["variant"].startswith("perm")), key=lambda r: r["ms"])
        gen_auto = [r for r in sel if r["impl"] == "ours fused_recurrent"][0]
        s = {"B": B, "T": T, "fla_best": best_fla["impl"] if best_fla else None,
             "fla_best_ms": best_fla["ms"] if best_fla else None,
             "tabled_auto_ms": tab_auto["ms"], "tabled_best_ms": best_tab["ms"],
             "tabled_best_variant": best_tab["variant"], "general_auto_ms": gen_auto["ms"]}
        if best_fla:
            s["speedup_tabled_auto"] = best_fla["ms"] / tab_auto["ms"]
            s["speedup_general_auto"] = best_fla["ms"] / gen_auto["ms"]
        summary.append(s)

    commit = git_commit()     # STATETRACK_COMMIT first: the device's copy has a stale .git
    meta = {"device": "cpu (smoke)" if SMOKE else torch.cuda.get_device_name(), "sm_count":
            0 if SMOKE else torch.cuda.get_device_properties(0).multi_processor_count,
            "torch": torch.__version__, "triton": triton.__version__, "fla": fla_version,
            "python": platform.python_version(), "copy_bandwidth_TBps": bw / 1e12,
            "commit": commit, "command": " ".join(["python"] + sys.argv),
            # where the checked calls' flags live (the default: pinned host memory the
            # kernels write; STATETRACK_MAPPED_FLAGS=0: device slots copied home)
            "mapped_flags": MAPPED_FLAGS,
            "timing": "triton.testing.do_bench(warmup=50 ms, rep=300 ms, return_mode='median')"}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.md.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"meta": meta, "rows": rows, "checks": checks,
                                     "exactness": exact, "summary": summary,
                                     "flags_ab": ab}, indent=1))
    lines = [f"Device: {meta['device']} ({meta['sm_count']} SMs); torch {meta['torch']}, "
             f"triton {meta['triton']}, fla {meta['fla']}; copy bandwidth "
             f"{meta['copy_bandwidth_TBps']:.2f} TB/s (read + write).", "",
             f"Host ms: the host's time to return from a call, loop ms: wall time a call in "
             f"{HOST_CALLS} back-to-back calls (no cache flush between them); kernels ms: the "
             f"device time of the kernels a call launches (torch.profiler).", "",
             "| B | T | implementation | variant | median ms | floor ms | floor % | host ms "
             "| loop ms | kernels ms | floor % of kernels |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['B']} | {r['T']} | {r['impl']} | {r['variant']} | {r['ms']:.3f} | "
                     f"{r['floor_ms']:.3f} | {100 * r['floor_frac']:.1f} | "
                     f"{r['host_ms']:.3f} | {r['loop_ms']:.3f} | {r['kernel_ms']:.3f} | "
                     f"{100 * (r['floor_frac_kernels'] or 0):.1f} |")
    lines += ["", "| B | T | faster fla | fla ms | ours tabled (auto) ms | speedup | "
              "ours general (auto) ms | speedup |", "|---|---|---|---|---|---|---|---|"]
    for s in summary:
        lines.append(f"| {s['B']} | {s['T']} | {s['fla_best']} | {s['fla_best_ms']:.3f} | "
                     f"{s['tabled_auto_ms']:.3f} | {s.get('speedup_tabled_auto', math.nan):.1f}x | "
                     f"{s['general_auto_ms']:.3f} | {s.get('speedup_general_auto', math.nan):.1f}x |"
                     if s["fla_best"] else
                     f"| {s['B']} | {s['T']} | fla not installed | — | {s['tabled_auto_ms']:.3f} "
                     f"| — | {s['general_auto_ms']:.3f} | — |")
    if ab:
        lines += ["", f"Input checks by flag mode, interleaved (`--flags-ab {args.flags_ab}`: "
                  f"medians of the rounds' medians; tabled o, chunk=auto, int32 ids):", "",
                  "| B | T | " + " | ".join(f"{n} ms" for n in FLAG_VARIANTS)
                  + " | copy cost | mapped cost |", "|---|---|---|---|---|---|---|"]
        for a in ab:
            m, c = a["median_ms"], a["cost_pct"]
            lines.append(f"| {a['B']} | {a['T']} | "
                         + " | ".join(f"{m[n]:.3f}" for n in FLAG_VARIANTS)
                         + f" | {c[FLAG_VARIANTS[1]]:+.1f} % | {c[FLAG_VARIANTS[2]]:+.1f} % |")
    if exact:
        lines += ["", "| language | n_h | path | chunk | B | T | inputs | wrong outputs |",
                  "|---|---|---|---|---|---|---|---|"]
        for e in exact:
            lines.append(f"| {e['language']} | {e['n_h']} | {e['path']} | {e['chunk_size']} | "
                         f"{e['B']} | {e['T']} | {e['dtype']} | {e['wrong']} |")
    args.md.write_text("\n".join(lines) + "\n")
    print()
    print("\n".join(lines))


if __name__ == "__main__":
    main()
