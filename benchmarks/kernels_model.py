"""Benchmark: the chunked DeltaProduct kernel against fla 0.6.0 at model shapes.

Shapes: B=8, T=4096, H=16, K=V=128, bfloat16 inputs (keys L2-normalized, beta uniform in
[0, 2], log-gate ``logsigmoid(N(0,1))`` as float32 where gated). Rows:

* ``1u``: n_h = 1, no gate: ours vs ``fla.ops.delta_rule.chunk_delta_rule``;
* ``2g``, ``3g``: n_h = 2, 3, gated: ours vs ``fla.ops.gated_delta_product.chunk_gated_delta_product``;
* ``2u``, ``3u``: n_h = 2, 3, no gate: ours vs ``chunk_gated_delta_product`` with ``g=None``.

fla 0.6.0 refuses the *gated* backward under Triton < 3.7.1 on Hopper (it raises, citing its
issue #640: wrong results in ``chunk_bwd_dqkwg``); where it refuses, the row records the
message and the forward+backward comparison uses the ungated rows. ``--fla-bypass-guard``
switches that guard off (fla's module flag ``TRITON_ABOVE_3_7_1`` set to True, nothing else
changed) to *time* fla's gated backward anyway; the row then says so, and its
``rel_diff_vs_fla`` shows how far fla's gradients are from ours on this Triton.

Each row is timed forward (inputs without ``requires_grad``) and forward+backward (``o``'s
gradient a fixed random tensor, gradients of every input), as the median of
``triton.testing.do_bench`` (CUDA-event timings after warm-up). Ours runs with
``check_beta=False`` (fla checks nothing; the check is one reduction and one synchronization).

The memory floor of a row is the time to read every input once and write every output once at
the copy bandwidth measured in the same run (a large device-to-device copy, bytes read plus
written): forward reads q, k, v, beta (and g) and writes o; backward reads those and dO and
writes every gradient. ``floor_frac = floor / measured``.

Also reported: a per-kernel breakdown (``torch.profiler``) for ours and fla, the relative
difference between our outputs/gradients and fla's on the same inputs, and, with ``--sweep``,
per-kernel timings of our launch configurations.

Usage (on a CUDA machine; fla-core 0.6.0 importable)::

    python benchmarks/kernels_model.py --out benchmarks/results/kernels_model.json \
        [--rows 1u,2g,3g,2u,3u] [--fla 1u,2g,3g,2u,3u] [--sweep --sweep-row 1u [--sweep-set configs|inv|bwd_wy|bwd_wy_split|save_states|bwd_wy_one|lp_bwd|wy_loop|wy_loop_lp|fwd_paths]]

``--smoke`` runs every row at tiny shapes on the CPU (Triton interpreter, one timed call per
measurement, no fla, no profiler): a check of the script's logic, not a measurement.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._machine import check_outputs, kernel_ms, model_rows  # noqa: E402
from statetrack.kernels.delta_product import chunk as chunk_mod  # noqa: E402
from statetrack.kernels.delta_product.chunk import chunk_delta_product  # noqa: E402

B, T, H, K, V = 8, 4096, 16, 128, 128
DT = torch.bfloat16
DEV = "cuda"
SMOKE = False  # --smoke: tiny shapes on the CPU through the interpreter (logic check only)


def _smoke_bench(fn, warmup=0, rep=0, grad_to_none=None, return_mode="median"):
    """Stand-in for ``triton.testing.do_bench`` under ``--smoke``: one wall-clock call (ms)."""
    if grad_to_none:
        for t in grad_to_none:
            t.grad = None
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1e3


def copy_bandwidth(do_bench) -> float:
    """Device-to-device copy bandwidth in bytes/s (bytes read + bytes written)."""
    n = 1 << 12 if SMOKE else 1 << 30  # 1 GiB each way
    x = torch.randint(0, 255, (n,), dtype=torch.uint8, device=DEV)
    y = torch.empty_like(x)
    ms = do_bench(lambda: y.copy_(x), warmup=50, rep=300, return_mode="median")
    del x, y
    return 2 * n / (ms * 1e-3)


def make_inputs(nh: int, gated: bool, seed: int) -> dict:
    gen = torch.Generator(device=DEV).manual_seed(seed)
    L = T * nh
    q = torch.randn(B, T, H, K, generator=gen, device=DEV).to(DT)
    k = torch.nn.functional.normalize(torch.randn(B, L, H, K, generator=gen, device=DEV), dim=-1).to(DT)
    v = torch.randn(B, L, H, V, generator=gen, device=DEV).to(DT)
    beta = (2 * torch.rand(B, L, H, generator=gen, device=DEV)).to(DT)
    g = torch.nn.functional.logsigmoid(torch.randn(B, T, H, generator=gen, device=DEV)) if gated else None
    do = torch.randn(B, T, H, V, generator=gen, device=DEV).to(DT)
    return dict(q=q, k=k, v=v, beta=beta, g=g, do=do)


def floor_bytes(x: dict, nh: int) -> tuple[int, int]:
    """(forward, backward) bytes: every input read once, every output written once."""
    ins = [x["q"], x["k"], x["v"], x["beta"]] + ([x["g"]] if x["g"] is not None else [])
    nb = lambda ts: sum(t.numel() * t.element_size() for t in ts)  # noqa: E731
    o_bytes = x["do"].numel() * x["do"].element_size()
    fwd = nb(ins) + o_bytes
    bwd = nb(ins) + o_bytes + nb(ins)  # read inputs and dO, write one gradient per input
    return fwd, bwd


def ours(x: dict, nh: int):
    return lambda q, k, v, beta, g: chunk_delta_product(q, k, v, beta, num_householder=nh, g=g,
                                                        check_beta=False)


def fla_fn(nh: int):
    if nh == 1:
        from fla.ops.delta_rule import chunk_delta_rule
        return lambda q, k, v, beta, g: chunk_delta_rule(q, k, v, beta)
    from fla.ops.gated_delta_product import chunk_gated_delta_product
    return lambda q, k, v, beta, g: chunk_gated_delta_product(q, k, v, g, beta, num_householder=nh)


def time_fwd(fn, x: dict, do_bench) -> float:
    plain = {n: x[n] for n in ["q", "k", "v", "beta", "g"]}
    with torch.no_grad():
        return do_bench(lambda: fn(**plain), warmup=25, rep=250, return_mode="median")


def fwd_bwd_step(fn, x: dict):
    """``(step, leaves, names)``: ``step()`` runs one forward+backward of ``fn`` on leaf copies
    of ``x``'s inputs (``leaves``; ``names`` those requiring grad), their gradients dropped
    first, as ``do_bench(grad_to_none=...)`` does for the timed rows. Kept, autograd would add
    each new gradient into the old one: an elementwise kernel per input that is not part of
    the path (it showed in earlier breakdowns as 0.28 ms at 1u and 0.46 ms at 2g, exactly the
    bytes of q, k, v read twice and written once)."""
    names = ["q", "k", "v", "beta"] + (["g"] if x["g"] is not None else [])
    leaves = {n: (x[n].detach().clone().requires_grad_(True) if n in names else None)
              for n in ["q", "k", "v", "beta", "g"]}

    def step():
        for n in names:
            leaves[n].grad = None
        o, _ = fn(**leaves)
        o.backward(x["do"])
        return o

    return step, leaves, names


def time_fwd_bwd(fn, x: dict, do_bench) -> tuple[float, float]:
    plain = {n: x[n] for n in ["q", "k", "v", "beta", "g"]}
    with torch.no_grad():
        fwd = do_bench(lambda: fn(**plain), warmup=25, rep=250, return_mode="median")
    step, leaves, names = fwd_bwd_step(fn, x)
    fb = do_bench(step, warmup=25, rep=250, grad_to_none=[leaves[n] for n in names],
                  return_mode="median")
    return fwd, fb


def grads_of(fn, x: dict) -> dict:
    """The outputs and gradients of one forward+backward of ``fn``, and ``o_fwd``: the outputs
    of a forward without autograd (the path the forward-only settings ``qkin`` and ``tfused``
    take; the forward for a backward keeps ``W`` and ``U`` and does not)."""
    with torch.no_grad():
        o_fwd = fn(**{n: x[n] for n in ["q", "k", "v", "beta", "g"]})
    o_fwd = o_fwd[0] if isinstance(o_fwd, tuple) else o_fwd
    out = {"o_fwd": o_fwd.detach().double()}
    del o_fwd
    step, leaves, names = fwd_bwd_step(fn, x)
    o = step()
    out["o"] = o.detach().double()
    out.update({"d" + n: leaves[n].grad.detach().double() for n in names})
    return out


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    if not bool(torch.isfinite(a).all()):
        return float("inf")
    return float((a - b).norm() / b.norm())


def kernel_breakdown(fn, x: dict, iters: int = 5) -> dict:
    """Mean CUDA time per call of each kernel (by name) over ``iters`` forward+backward steps."""
    step, _, _ = fwd_bwd_step(fn, x)
    per = kernel_ms(step, iters, warmup=2, key_len=60)[1]
    return {k: round(v, 4) for k, v in sorted(per.items(), key=lambda kv: -kv[1])}


def fwd_kernel_breakdown(fn, x: dict, iters: int = 5) -> dict:
    """Mean CUDA time per call of each kernel (by name) over ``iters`` forwards without
    autograd (the path of the timed forward rows)."""
    plain = {n: x[n] for n in ["q", "k", "v", "beta", "g"]}

    def step():
        with torch.no_grad():
            fn(**plain)
    per = kernel_ms(step, iters, warmup=2, key_len=60)[1]
    return {k: round(v, 4) for k, v in sorted(per.items(), key=lambda kv: -kv[1])}


SWEEP = [
    # one kernel's launch configuration (value block, warps, stages) changed at a time, so
    # that one run's per-kernel breakdowns compare every kernel's options
    {"bwd_wy": (32, 8, 2)},
    {"bwd_wy": (64, 4, 2)},
    {"bwd_o": (64, 4, 2)},
    {"bwd_o": (32, 8, 2)},
    {"bwd_state": (32, 4, 2)},
    {"state": (64, 4, 2)},
    {"state_rec": (32, 4, 2)},
    {"wy": (0, 8, 2)},
]
#: ``--sweep-set inv`` (run 4, results/kernels_model_inv.json): the earlier diagonal inverses
SWEEP_INV = [{"inv": 0}]
#: ``--sweep-set bwd_wy`` (session 9): ``bwd_wy`` value blocks of 16, whose sm_90 compile has
#: the fewest spills (``benchmarks/chunk_sass.py`` under Triton 3.9: 192 B of stack at
#: (16, 8, 2) vs 816 B at the default (64, 8, 2)); never timed yet. Spills did not predict
#: speed everywhere (``wy`` at 8 warps has none and was 1.8x slower on the H100): time it.
SWEEP_BWD_WY = [{"bwd_wy": (16, 8, 2)}, {"bwd_wy": (16, 8, 1)}, {"bwd_wy": (16, 16, 2)},
                {"bwd_wy": (32, 8, 1)}]
#: ``--sweep-set bwd_wy_split`` (issue 12, session 11): ``bwd_wy`` split in two kernels, the
#: value-block loop (``bwd_wy_v``) and the ``dT`` / ``dA`` chain (``bwd_wy_t``), never timed
#: yet. sm_90 compiles under Triton 3.6 at the model shape (bf16, K = V = 128, chunk 64,
#: no gate; ``benchmarks/chunk_sass.py --kernel bwd_wy_v|bwd_wy_t``): ``bwd_wy_v`` (64, 8, 2)
#: 220 registers, 128 KB shared (1 block a SM); (32, 4, 2) 255 registers, 176 B stack,
#: 68 KB (2 a SM); (64, 4, 1) 255, 424 B, 64 KB (2 a SM); ``bwd_wy_t`` at 4 warps 255
#: registers, 96 B stack, 64 KB (2 a SM). The first entry keeps the loop at the default's
#: launch settings, so it times the split alone.
SWEEP_BWD_WY_SPLIT = [
    {"wy_split": True},
    {"wy_split": True, "bwd_wy_v": (32, 4, 2)},
    {"wy_split": True, "bwd_wy_v": (64, 4, 1)},
    {"wy_split": True, "bwd_wy_v": (32, 4, 2), "bwd_wy_t": (0, 8, 2)},
]
#: ``--sweep-set save_states`` (issue 12, session 12): the forward pass stores the sub-chunk
#: states and ``D`` when gradients are wanted, so the backward skips its recomputing
#: ``fwd_state_kernel`` (``state_rec``, ~0.28 ms of the 1u step on the H200 in session 9)
#: at the price of the stores in the forward and 384 MiB of activations at 1u; never timed
#: yet. With the split ``bwd_wy`` too, and with the forward's state pass at the recompute's
#: 64-wide value blocks (its stores then match the recompute's layout of work).
SWEEP_SAVE_STATES = [
    {"save_states": True},
    {"save_states": True, "state": (64, 4, 2)},
    {"save_states": True, "wy_split": True},
]
#: ``--sweep-set bwd_wy_one`` (issue 12, session 17): ``bwd_wy`` with one value block (BV =
#: V = 128: the loop runs once, every load of the sub-chunk issued together; Nsight
#: Compute's per-instruction stalls put 32 % of ``bwd_wy``'s samples on long_scoreboard,
#: most at the loop's first barrier and the tail's first use of ``K``/``dko``). sm_90 under
#: Triton 3.6 (bf16, K = V = 128, chunk 64): (128, 8, 1) 255 registers, 24 B stack, 120 KB
#: shared (1 block a SM, as the default)
SWEEP_BWD_WY_ONE = [{"bwd_wy": (128, 8, 1)}, {"bwd_wy": (128, 8, 2)}]
#: ``--sweep-set lp_bwd`` (issue 12, session 18): the backward's partial gradients ``dko`` and
#: ``dvloc`` in the input dtype (fla keeps its partials in bf16; ours are float32 by default),
#: alone and with the one-value-block ``bwd_wy``
SWEEP_LP_BWD = [{"lp_bwd": True}, {"bwd_wy": (128, 8, 2)}, {"lp_bwd": True, "bwd_wy": (128, 8, 2)}]
#: ``--sweep-set wy_loop`` (issue 12, session 18): the forward WY step in loop form (keys and
#: values through pipelined asynchronous copies, wgmma products; sm_90 under Triton 3.6 at
#: 4 warps: 248 registers and no stack against the unrolled kernel's 255 and 48 B)
SWEEP_WY_LOOP = [{"wy_loop": True}, {"wy_loop": True, "wy": (0, 4, 3)},
                 {"wy_loop": True, "wy": (0, 8, 2)}]
#: ``--sweep-set wy_loop_lp`` (issue 12, session 19): the two candidates of the H200 sweeps
#: above (``wy_loop`` at 3 stages: forward+backward -2.8 % / -4.8 % / -3.2 % at 1u / 2g / 3u;
#: ``lp_bwd``: -4.3 % / -2.4 % at 1u / 2g), alone and together, against fla in one run;
#: then also with ``early`` (the state passes' gate and ``dvloc`` loads before the stores)
SWEEP_WY_LOOP_LP = [{"wy_loop": True, "wy": (0, 4, 3)},
                    {"wy_loop": True, "wy": (0, 4, 3), "lp_bwd": True},
                    {"wy_loop": True, "wy": (0, 4, 3), "lp_bwd": True, "early": True}]
#: ``--sweep-set fwd_paths`` (issue 12, sessions 21-22): the forward's paths against the
#: default. ``qkin``: the sub-chunks' scores from the WY pass, read by the unrolled state pass
#: (two factors: 2g forward 1.706 -> 1.543 ms on an H100); ``tfused``: the WY pass writes ``T`` alone and
#: the state pass forms ``D = T diag(beta) (V - diag(e^G) K S)`` (no ``W``, ``U`` written
#: or read; sm_90 under Triton 3.6, three factors, 32:4:2: 94,724 B of shared memory against
#: 111,108, ``wy_loop`` 2,232 SASS instructions against 2,776); both. Both are 16-bit
#: defaults since session 22, so the set times them off (alone and together). The unrolled pass at
#: one stage (``"nest": True, "state": (32, 4, 1)``) was in this set until session 22: it
#: faults on the H100 under Triton 3.6 (an illegal memory access at 1u, 3g and 3u, and in
#: the saving forward at 2g; ``qk_in.py`` found the same), and a fault ends the process
SWEEP_FWD_PATHS = [dict(wy_loop=True, **c) for c in (
    {"qkin": False}, {"tfused": False}, {"tfused": False, "qkin": False})]
#: ``--sweep-set fwd_nh3`` (issue 12, session 27): the three-factor forward (3g: 1.19x fla on
#: the H200, goal 1.25x): the state pass's launch settings (the default 32:4:2), the loop form
#: ``hoist`` (token chunks outer, a run-time loop over their sub-chunks: no branches, no
#: unrolling), with the WY pass's scores (``qkin``; the flat loop reading them compiled wrong
#: in session 21, so it comes last: a fault ends the process), the WY pass's settings and
#: ``inv_stack`` (its four diagonal substitutions as one on a stacked tile: sm_90 under
#: Triton 3.6, three factors, T alone, 4 warps: 1,896 instructions against 2,232)
SWEEP_FWD_NH3 = [{"inv_stack": True}, {"inv_stack": True, "wy": (0, 8, 3)},
                 {"inv_stack": True, "wy": (0, 4, 2)},
                 {"state": (64, 4, 2)}, {"state": (32, 4, 3)}, {"state": (64, 4, 3)},
                 {"state": (32, 8, 2)}, {"state": (16, 4, 2)}, {"wy": (0, 4, 2)},
                 {"wy": (0, 8, 3)}, {"hoist": True}, {"hoist": True, "state": (64, 4, 2)},
                 {"hoist": True, "state": (64, 4, 3)}, {"hoist": True, "qkin": True},
                 {"hoist": True, "qkin": True, "state": (64, 4, 2)}]
#: ``--sweep-set fwd_combo`` (session 27): the winners of ``fwd_nh3`` on an H100 together
SWEEP_FWD_COMBO = [{"inv_stack": True}, {"inv_stack": True, "hoist": True, "state": (64, 4, 2)},
                   {"inv_stack": True, "hoist": True, "qkin": True, "state": (64, 4, 2)}]
#: ``--sweep-set fwd_nh2`` (session 27): two factors hoisted instead of unrolled, with and
#: without the scores
SWEEP_FWD_NH2 = [{"nest": False, "hoist": True, "qkin": False, "state": (64, 4, 2)},
                 {"nest": False, "hoist": True, "qkin": True, "state": (64, 4, 2)}]
SWEEP_SETS = {"configs": SWEEP, "inv": SWEEP_INV, "bwd_wy": SWEEP_BWD_WY,
              "bwd_wy_split": SWEEP_BWD_WY_SPLIT, "save_states": SWEEP_SAVE_STATES,
              "bwd_wy_one": SWEEP_BWD_WY_ONE, "lp_bwd": SWEEP_LP_BWD,
              "wy_loop": SWEEP_WY_LOOP, "wy_loop_lp": SWEEP_WY_LOOP_LP,
              "fwd_paths": SWEEP_FWD_PATHS, "fwd_nh3": SWEEP_FWD_NH3,
              "fwd_combo": SWEEP_FWD_COMBO, "fwd_nh2": SWEEP_FWD_NH2}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/kernels_model.json")
    ap.add_argument("--sweep", action="store_true", help="time our launch-configuration variants")
    ap.add_argument("--rows", default="1u,2g,3g,2u,3u", help="rows: n_h then u (no gate) or g")
    ap.add_argument("--fla", default="1u,2g,3g,2u,3u", help="rows also run through fla")
    ap.add_argument("--sweep-row", default="1u", help="rows of the --sweep (comma-separated)")
    ap.add_argument("--sweep-set", choices=sorted(SWEEP_SETS), default="configs",
                    help="what --sweep varies (SWEEP_SETS: launch configurations, kernel variants)")
    ap.add_argument("--smoke", action="store_true",
                    help="tiny shapes on the CPU (interpreter), no fla: checks the logic only")
    ap.add_argument("--fla-bypass-guard", action="store_true",
                    help="time fla's gated backward although fla refuses it on this Triton "
                         "(its results there are wrong, per fla #640)")
    args = ap.parse_args()
    # before the copy bandwidth and the rows (a bad row was an int('x') mid-run, or a row
    # silently taken as ungated; a bad --out a traceback at the end of the first row)
    try:
        rows_run = model_rows("--rows", args.rows)
        model_rows("--fla", args.fla, empty=True)
        sweep_rows = model_rows("--sweep-row", args.sweep_row)
    except ValueError as exc:
        ap.error(str(exc))
    if args.sweep and not set(sweep_rows) & set(rows_run):
        ap.error(f"--sweep-row: none of {args.sweep_row!r} is in --rows {args.rows!r} (the "
                 "sweep would time nothing)")
    check_outputs(ap, {"--out": args.out}, make_folder=True)
    if not args.smoke and not torch.cuda.is_available():
        ap.error("no CUDA device here (--smoke runs the logic on the CPU)")
    global B, T, H, K, V, DEV, SMOKE
    if args.smoke:
        import statetrack.kernels._common.triton  # noqa: F401  (interpreter on a CPU-only machine)
        B, T, H, K, V, DEV, SMOKE = 1, 20, 1, 16, 16, "cpu", True
        args.fla = ""
    import triton
    from triton.testing import do_bench
    if SMOKE:
        do_bench = _smoke_bench  # noqa: F811
    try:
        import fla
        fla_version = getattr(fla, "__version__", "?")
    except ImportError as exc:
        fla = None
        fla_version = None
        if args.fla:
            # said first and loudly: session 10's call ran a minute of device time without
            # fla (the wheel was not carried) and only its table showed nan ratios
            print(f"WARNING: --fla {args.fla}: fla is not importable ({exc}); every fla column "
                  f"will be nan. On the device: carry .whl and pip install --no-index "
                  f"--no-deps .whl/fla_core-0.6.0-py3-none-any.whl", file=sys.stderr,
                  flush=True)
    info = {
        "device": "cpu (smoke)" if SMOKE else torch.cuda.get_device_name(),
        "torch": torch.__version__, "triton": triton.__version__, "fla": fla_version,
        "python": platform.python_version(), "cuda": torch.version.cuda,
        "shape": dict(B=B, T=T, H=H, K=K, V=V, dtype=str(DT).replace("torch.", "")),
        "timing": "triton.testing.do_bench median (CUDA events), warmup 25 ms, rep 250 ms",
        "command": "python " + " ".join(sys.argv),
    }
    if args.fla_bypass_guard and fla is not None:
        import fla.ops.common.chunk_o as fla_chunk_o
        info["fla_guard_bypassed"] = (f"fla.ops.common.chunk_o.TRITON_ABOVE_3_7_1 was "
                                      f"{fla_chunk_o.TRITON_ABOVE_3_7_1}, set to True")
        fla_chunk_o.TRITON_ABOVE_3_7_1 = True
    args.out.parent.mkdir(parents=True, exist_ok=True)
    bw = copy_bandwidth(do_bench)
    info["copy_bandwidth_TBps"] = round(bw / 1e12, 3)
    print(f"copy bandwidth {bw / 1e12:.2f} TB/s", flush=True)
    rows = []
    sweep = []
    fla_rows = set(args.fla.split(",")) if fla is not None and args.fla else set()
    for spec in rows_run:
        nh, gated = int(spec[:-1]), spec[-1] == "g"
        x = make_inputs(nh, gated, seed=1000 + nh)
        fb_bytes = floor_bytes(x, nh)
        row = {"row": spec, "n_h": nh, "gated": gated,
               "peer": "chunk_delta_rule" if nh == 1 else "chunk_gated_delta_product",
               "floor_fwd_ms": fb_bytes[0] / bw * 1e3, "floor_fwdbwd_ms": sum(fb_bytes) / bw * 1e3}
        t0 = time.time()
        row["ours_fwd_ms"], row["ours_fwdbwd_ms"] = time_fwd_bwd(ours(x, nh), x, do_bench)
        row["ours_compile_and_time_s"] = round(time.time() - t0, 1)
        row["ours_breakdown_ms"] = {} if SMOKE else kernel_breakdown(ours(x, nh), x)
        row["ours_fwd_breakdown_ms"] = {} if SMOKE else fwd_kernel_breakdown(ours(x, nh), x)
        row["floor_frac_fwd"] = row["floor_fwd_ms"] / row["ours_fwd_ms"]
        row["floor_frac_fwdbwd"] = row["floor_fwdbwd_ms"] / row["ours_fwdbwd_ms"]
        print(json.dumps(row), flush=True)
        if args.sweep and spec in sweep_rows:
            base = grads_of(ours(x, nh), x)    # each variant's outputs and gradients against it
            for i, cfg in enumerate(SWEEP_SETS[args.sweep_set]):
                chunk_mod._CONFIG_OVERRIDE.clear()
                chunk_mod._CONFIG_OVERRIDE.update(cfg)
                try:
                    f, fb = time_fwd_bwd(ours(x, nh), x, do_bench)
                    entry = {"row": spec, "variant": i, "cfg": {k_: (list(v_) if isinstance(v_, tuple) else v_) for k_, v_ in cfg.items()},
                             "fwd_ms": f, "fwdbwd_ms": fb,
                             "breakdown_ms": {} if SMOKE else kernel_breakdown(ours(x, nh), x),
                             "fwd_breakdown_ms": {} if SMOKE else fwd_kernel_breakdown(ours(x, nh), x)}
                    var = grads_of(ours(x, nh), x)
                    entry["rel_diff_vs_default"] = {n: rel(var[n], base[n]) for n in base}
                    del var
                except Exception as exc:  # a configuration may not fit (shared memory)
                    entry = {"row": spec, "variant": i, "error": repr(exc)[:300]}
                sweep.append(entry)
                print(json.dumps(entry), flush=True)
            chunk_mod._CONFIG_OVERRIDE.clear()
            del base
        if spec in fla_rows:
            t0 = time.time()
            row["fla_fwd_ms"] = time_fwd(fla_fn(nh), x, do_bench)
            row["ratio_fwd"] = row["fla_fwd_ms"] / row["ours_fwd_ms"]
            a = grads_of(ours(x, nh), x)
            try:
                row["fla_fwdbwd_ms"] = time_fwd_bwd(fla_fn(nh), x, do_bench)[1]
                row["ratio_fwdbwd"] = row["fla_fwdbwd_ms"] / row["ours_fwdbwd_ms"]
                b = grads_of(fla_fn(nh), x)
                row["fla_breakdown_ms"] = kernel_breakdown(fla_fn(nh), x)
            except RuntimeError as exc:
                row["fla_fwdbwd_error"] = str(exc)[:300]
                with torch.no_grad():
                    b = {"o": fla_fn(nh)(**{n: x[n] for n in ["q", "k", "v", "beta", "g"]})[0].double()}
            row["fla_autotune_and_time_s"] = round(time.time() - t0, 1)
            if gated and "fla_guard_bypassed" in info:
                row["fla_note"] = ("fla's gated backward timed with its Triton guard bypassed; "
                                   "fla says its results are wrong on this Triton (#640)")
            row["rel_diff_vs_fla"] = {n: rel(a[n], b[n]) for n in b}
            del a, b
            print(json.dumps({k_: v_ for k_, v_ in row.items() if "breakdown" not in k_}), flush=True)
        rows.append(row)
        args.out.write_text(json.dumps({"info": info, "rows": rows, "sweep": sweep}, indent=1))
        del x
        if not SMOKE:
            torch.cuda.empty_cache()
    result = {"info": info, "rows": rows, "sweep": sweep}
    args.out.write_text(json.dumps(result, indent=1))
    print(f"\n{'row':>3} | {'ours fwd':>8} {'fla fwd':>8} {'ratio':>6} {'floor%':>6} | "
          f"{'ours f+b':>8} {'fla f+b':>8} {'ratio':>6} {'floor%':>6}   (ms; ratio = fla/ours)")
    for r in rows:
        print(f"{r['row']:>3} | {r['ours_fwd_ms']:8.3f} {r.get('fla_fwd_ms', float('nan')):8.3f} "
              f"{r.get('ratio_fwd', float('nan')):6.2f} {100 * r['floor_frac_fwd']:5.1f}% | "
              f"{r['ours_fwdbwd_ms']:8.3f} {r.get('fla_fwdbwd_ms', float('nan')):8.3f} "
              f"{r.get('ratio_fwdbwd', float('nan')):6.2f} {100 * r['floor_frac_fwdbwd']:5.1f}%")


if __name__ == "__main__":
    main()
