"""Probe: what the forward state pass would gain if the chunks' scores came precomputed (issue 12).

``fwd_state_kernel`` runs one program per (value block, batch, head); every program forms the
sub-chunk's scores ``Q K^T`` (a 64 x 64 x K product, then the gate factors and the causal
mask) for itself, so at ``V = 128`` with 32-wide value blocks four programs compute the same
scores, about a third of the pass's products. This probe times the pass as it is against the
pass reading those scores from a buffer (``QKIN``: ``[B*H, Lp, BT]`` in the input dtype, made
here by PyTorch outside the timing) at the model rows' shape, for several value-block widths
and warp counts, and reports each pass's device time, the outputs' largest difference from
the default's and how long PyTorch takes to make the buffer (an upper bound for a kernel that
would). A gain here is what a production path (the scores written by the parallel WY pass)
could at most win in the forward state pass. The fifth field of a configuration unrolls a
token chunk's sub-chunks (``NEST``). Session 21 (H100): reading the scores pays only at
64-wide blocks and, for two factors, unrolled; the flat loop reading them faulted once at
2g (32-wide blocks) and compiled wrong in a GPU test, so ``chunk.py`` reads them unrolled
only (``benchmarks/kernels_model.md``, "Session 21").

    python benchmarks/probes/qk_in.py --rows 1u,2g,3g --json OUT.json
    python benchmarks/probes/qk_in.py --rows 2g --save --configs 32:4:2:0:0,32:4:2:1:1
    TRITON_INTERPRET=1 python benchmarks/probes/qk_in.py --device cpu --shape 1,130,2,32,32

A bad option ends in one ``error:`` line naming it (exit status 2).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

ROWS = {"1u": (1, False), "1g": (1, True), "2u": (2, False), "2g": (2, True), "3u": (3, False),
        "3g": (3, True)}


def scores(q, k, gtok, p):
    """The sub-chunks' gated, causally masked scores ``[B*H, Lp, BT]`` (float32), rows as
    ``fwd_state_kernel`` visits them (sub-chunk ``i`` of token chunk ``c = i // NH``)."""
    import torch

    B, T, H, K = q.shape
    BT, NH, NC = p.BT, p.NH, p.NC
    qp = torch.nn.functional.pad(q.float(), (0, 0, 0, 0, 0, NC * BT - T))
    kp = torch.nn.functional.pad(k.float(), (0, 0, 0, 0, 0, p.Lp - p.L))
    qc = qp.reshape(B, NC, BT, H, K).permute(0, 3, 1, 2, 4)                 # b h c r k
    kc = kp.reshape(B, NC, NH, BT, H, K).permute(0, 4, 1, 2, 3, 5)          # b h c m j k
    qk = torch.einsum("bhcrk,bhcmjk->bhcmrj", qc, kc)
    tokc = (torch.arange(NH, device=q.device)[:, None] * BT
            + torch.arange(BT, device=q.device)[None, :]) // NH             # m j
    r = torch.arange(BT, device=q.device)
    causal = tokc[:, None, :] <= r[None, :, None]                           # m r j
    if p.use_g:
        gt = gtok.reshape(B, H, NC, BT)
        gc = gt[..., tokc]                                                  # b h c m j
        fac = torch.exp(gt[:, :, :, None, :, None] - gc[:, :, :, :, None, :])
        qk = qk * fac
    qk = torch.where(causal, qk, torch.zeros((), device=q.device))
    return qk.reshape(B * H, p.Lp, BT).contiguous()


def run_row(name, shape, device, configs, reps_ms, save=False):
    import torch
    import triton.testing

    from statetrack.kernels.delta_product import _chunk_kernels as kern
    from statetrack.kernels.delta_product import chunk

    nh, gated = ROWS[name]
    B, T, H, K, V = shape
    gen = torch.Generator(device="cpu").manual_seed(0)
    dt = torch.bfloat16 if device == "cuda" else torch.float32
    q = torch.randn(B, T, H, K, generator=gen).to(device, dt)
    k = torch.nn.functional.normalize(torch.randn(B, T * nh, H, K, generator=gen), dim=-1).to(device, dt)
    v = torch.randn(B, T * nh, H, V, generator=gen).to(device, dt)
    beta = torch.rand(B, T * nh, H, generator=gen).to(device, dt)
    g = (-torch.rand(B, T, H, generator=gen) * 0.1).to(device, torch.float32) if gated else None
    p = chunk._Plan(q, v, nh, 64, gated)
    if gated:
        gsub, gtok = chunk._gate_cumsums(g, p)
    else:
        gsub = gtok = None
    w, u, _ = chunk._wy(k, v, beta, gsub, p, store_t=False)
    scale = K ** -0.5
    t0 = torch.cuda.Event(enable_timing=True) if device == "cuda" else None
    if t0 is not None:
        t1 = torch.cuda.Event(enable_timing=True)
        t0.record()
    qkbuf = scores(q, k, gtok, p).to(dt)
    torch_ms = None
    if t0 is not None:
        t1.record()
        torch.cuda.synchronize()
        torch_ms = t0.elapsed_time(t1)

    def launch(bv, warps, stages, qkin, nest=False):
        o = torch.empty(B, T, H, V, dtype=dt, device=device)
        # with --save, the pass also stores every sub-chunk's state and D (a training forward)
        hbuf, dbuf = chunk._state_buffers(p) if save else (None, None)
        opts = {} if device != "cuda" else {"num_warps": warps, "num_stages": stages}
        bv = min(bv, p.BVF)

        def go():
            kern.fwd_state_kernel[(triton.cdiv(V, bv), B * H)](
                q, k, w, u, gsub, gtok, None, o, None, hbuf, dbuf, p.T, p.L, p.NC, scale,
                BV=bv, NH=nh, USE_G=gated, USE_H0=False, STORE_HT=False, COMPUTE_O=True,
                STORE_H=save, STORE_D=save, HI=p.HI, EARLY=p.early, **p.common(),
                qkin=qkbuf if qkin else None, QKIN=qkin, NEST=nest, **opts)
        return o, go

    out = {"row": name, "shape": shape, "save": save, "torch_scores_ms": torch_ms, "configs": []}
    o_ref, go = launch(*chunk._GPU_CONFIG[True]["state"], False)
    go()
    for bv, warps, stages, qkin, nest in configs:
        o, go = launch(bv, warps, stages, qkin, nest)
        try:
            go()
            if device == "cuda":
                torch.cuda.synchronize()
            diff = ((o.float() - o_ref.float()).abs().max() / o_ref.float().abs().max()).item()
            ms = None
            if device == "cuda":
                ms = triton.testing.do_bench(go, warmup=25, rep=reps_ms)
            out["configs"].append({"bv": bv, "warps": warps, "stages": stages, "qkin": qkin,
                                   "nest": nest, "ms": ms, "rel_diff_vs_default": diff})
        except Exception as exc:  # a compile or launch failure is a result of the probe
            out["configs"].append({"bv": bv, "warps": warps, "stages": stages, "qkin": qkin,
                                   "nest": nest, "error": f"{type(exc).__name__}: {str(exc)[:200]}"})
        print(json.dumps(out["configs"][-1]), flush=True)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", default="1u,2g,3g")
    ap.add_argument("--shape", default="8,4096,16,128,128", help="B,T,H,K,V")
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    ap.add_argument("--configs", default="32:4:2:0,64:4:3:0,64:4:2:1:1,32:4:1:1:1",
                    help="BV:warps:stages:qkin[:nest], comma-separated (session 21's first "
                         "run: 32:4:2:0,32:4:2:1,16:4:2:1,16:2:2:1,32:8:2:1,64:4:2:1,64:8:2:1; "
                         "the flat loop with qkin compiled wrong once on an H100)")
    ap.add_argument("--rep", type=int, default=200, help="do_bench rep in ms")
    ap.add_argument("--save", action="store_true",
                    help="the pass also stores the sub-chunks' states and D (a training forward)")
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    try:
        rows = a.rows.split(",")
        bad = [r for r in rows if r not in ROWS]
        if bad:
            raise ValueError(f"--rows: unknown row(s) {bad}; known: {sorted(ROWS)}")
        shape = tuple(int(x) for x in a.shape.split(","))
        if len(shape) != 5 or min(shape) < 1:
            raise ValueError("--shape: five positive integers B,T,H,K,V")
        configs = []
        for c in a.configs.split(","):
            f = [int(x) for x in c.split(":")]
            if len(f) not in (4, 5) or f[0] not in (16, 32, 64, 128):
                raise ValueError(f"--configs: {c!r} is not BV:warps:stages:qkin[:nest] with BV in 16..128")
            configs.append((f[0], f[1], f[2], bool(f[3]), bool(f[4]) if len(f) == 5 else False))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    import torch
    if a.device == "cuda" and not torch.cuda.is_available():
        print("error: --device cuda: no CUDA device (use --device cpu under TRITON_INTERPRET=1)",
              file=sys.stderr)
        return 2
    res = {"device": torch.cuda.get_device_name() if a.device == "cuda" else "cpu",
           "torch": torch.__version__, "rows": []}
    import triton
    res["triton"] = triton.__version__
    for r in rows:
        print(f"# row {r}", flush=True)
        res["rows"].append(run_row(r, shape, a.device, configs, a.rep, a.save))
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=1))
    for row in res["rows"]:
        base = next((c["ms"] for c in row["configs"] if not c.get("qkin") and c.get("ms")), None)
        for c in row["configs"]:
            rel = f"{c['ms'] / base:.3f}x" if base and c.get("ms") else "-"
            print(row["row"], c.get("bv"), c.get("warps"), c.get("stages"), int(c["qkin"]), int(c["nest"]),
                  c.get("ms"), rel, c.get("rel_diff_vs_default", c.get("error")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
