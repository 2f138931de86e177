"""Probe: which 16-bit rounding of the chunked kernel makes the gate gradient's error, strong gates.

The chunked kernel's forward (the ``D`` and the sub-chunk states the backward reads) and its
whole backward (``bwd_o_kernel``, ``bwd_state_kernel``, ``bwd_wy_kernel``; the math in the
module docstring of ``statetrack/kernels/delta_product/chunk.py``) are emulated in float64,
one head at a time, with each rounding to the input dtype switched on or off (the approach of
``chunk_roundings.py``, whose ``_r`` this imports). The roundings:

forward
    ``T``, ``kb``, ``vb`` (the operands of ``W = T (beta e^G K)``, ``U = T (beta V)``), ``W``,
    ``U`` (stored), ``S`` (the state as the operand of ``W S`` and as stored for the
    backward), ``D`` (``D`` as stored for the backward), ``Dst`` (the state update's operand);
backward
    ``dO`` (the output gradient: autograd hands the kernel a bfloat16 ``dO``; the tests'
    reference got the float64 one until session 20, so this rounding was the test's, not the
    kernel's; ``--rounded-do`` gives the reference the rounded one, as the tests now do),
    ``pt`` (the operand of ``dD_loc = (M o Q K^T)^T dO``), ``dS`` (the state gradient as stored and as the
    operand of ``K dS``), ``dD`` (stored), ``qg`` (the gated queries of ``bwd_state``), ``Tb``
    (the stored ``T``), ``vbb``, ``kbb``, ``dw`` (operands of ``dT``), ``dT``, ``dTT`` (the
    operands of ``dA = -T^T (dT T^T)``); the dot products of the unit keys with themselves and
    the queries are exact in any format (16-bit inputs, float32 sums).

It prints the gate gradient's relative error (as the tests measure it) for every switch alone,
all on, all on but one, and the kernel itself, over draws of the tests' strong-gate inputs
(``tests/kernels/test_chunk.py``, ``_strong_first_gate_inputs``: gates scaled 60-fold, the
first at -30, ``T = 33``, two heads, ``K = 32``, ``V = 16``, ``n_h = 2``, chunk 16).
The seeds are ``torch.Generator`` seeds exactly as the tests' ``gen`` fixture uses them, so
a CI failure's printed seed replays here.

    TRITON_INTERPRET=1 python benchmarks/probes/dg_roundings.py --seeds 156823565,0,1,2
    TRITON_INTERPRET=1 python benchmarks/probes/dg_roundings.py --tail 1000:3000 --rounded-do

The finding (bfloat16, the shape above): on the CI draw 156823565 the kernel's ``dg`` error,
5.8e-2, is the emulation's with every rounding on; alone, ``vb`` makes 1.3e-2, ``dO`` 8.4e-3,
``dD`` 6.1e-3, ``pt`` 5.9e-3, ``D`` (and ``U``, the same rounding there: ``W`` is 0 under the
strong gates) 5.6e-3, the others under 2e-3. Over 2000 draws (``--tail 1000:3000``) ``dg``
is past the table's 2e-2 in 40 (29 with ``--rounded-do``), and the rounding that leads
differs from draw to draw; only float32 in the forward and the backward together
(``fwd+bwd f32``) bring the count to 0 (largest 1.3e-2, ``--rounded-do``), and ``dO``'s own
rounding alone puts 14 past it when the reference keeps the float64 ``dO``
(docs/kernels.rst, "Precision of the chunked kernel").
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TRITON_INTERPRET", "1")
ROOT = Path(__file__).resolve().parents[2]
for p in (ROOT, ROOT / "tests" / "kernels", ROOT / "benchmarks" / "probes"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

import torch  # noqa: E402

from chunk_roundings import _r  # noqa: E402

FWD = ("T", "kb", "vb", "W", "U", "S", "D", "Dst")
BWD = ("dO", "pt", "dS", "dD", "qg", "Tb", "vbb", "kbb", "dw", "dT", "dTT")
ROUNDINGS = FWD + BWD


def _strict_lower_exp(G: torch.Tensor) -> torch.Tensor:
    """``E_ij = e^{G_i - G_j}`` below the diagonal, 0 elsewhere (no overflow above it)."""
    low = torch.tril(torch.ones(len(G), len(G), dtype=torch.bool), -1)
    return torch.where(low, torch.exp(torch.where(low, G[:, None] - G[None, :], 0.0)), 0.0)


def _revcum(x: torch.Tensor, n: int) -> torch.Tensor:
    """Reverse cumulative sum within consecutive blocks of ``n``."""
    y = x.reshape(-1, n)
    return y.flip(-1).cumsum(-1).flip(-1).reshape(-1)


def emulate_dg(x: dict, do: torch.Tensor, dht: torch.Tensor, h: int, n_h: int, BT: int,
               on: tuple[str, ...], dt: torch.dtype, loop: bool = False) -> torch.Tensor:
    """The gate gradient ``[T]`` of head ``h`` (batch 0) by the kernel's chunk algorithm in
    float64, rounding to ``dt`` where ``on`` names it; ``do`` ``[T, V]`` and ``dht``
    ``[K, V]`` float64 (head ``h``). ``loop``: ``W`` and ``U`` as ``wy_loop_kernel`` forms
    them, ``(T diag(beta e^G)) K`` and ``(T diag(beta)) V``, with ``T`` naming the rounding
    of those scaled ``T`` (``kb``, ``vb`` then round nothing)."""
    R = lambda t, name: _r(t, name in on, dt)  # noqa: E731
    f = lambda t: t.detach().to(torch.float64)[0, :, h]  # noqa: E731
    q, k, v, beta, g = f(x["q"]), f(x["k"]), f(x["v"]), f(x["beta"]), f(x["g"])
    T, K = q.shape
    L, V = v.shape
    NC = -(-T // BT)
    NS = NC * n_h
    Lp = NS * BT
    scale = K ** -0.5
    pad = lambda t, n: torch.cat([t, t.new_zeros((n - len(t),) + t.shape[1:])])  # noqa: E731
    k, v, beta = pad(k, Lp), pad(v, Lp), pad(beta, Lp)
    q, gt_raw, do = pad(q, NC * BT), pad(g, NC * BT), pad(R(do, "dO"), NC * BT)
    gp = torch.zeros(Lp, dtype=torch.float64)
    gp[: L: n_h] = g
    Gs = gp.reshape(NS, BT).cumsum(-1)                     # sub-step cumulative gate
    Gt = gt_raw.reshape(NC, BT).cumsum(-1)                 # token cumulative gate
    S = x["initial_state"].detach().double()[0, h].clone()
    r = torch.arange(BT)
    # forward: the states at sub-chunk starts and D, as the backward reads them
    hbuf, dbuf, Ts, Ws = [], [], [], []
    for i in range(NS):
        R_ = slice(i * BT, (i + 1) * BT)
        kc, vc, bc, G = k[R_], v[R_], beta[R_], Gs[i]
        E = _strict_lower_exp(G)
        Tm = torch.linalg.inv(torch.eye(BT, dtype=torch.float64)
                              + bc[:, None] * (kc @ kc.T) * E)
        if loop:
            W = R(R(Tm * (bc * torch.exp(G))[None, :], "T") @ kc, "W")
            U = R(R(Tm * bc[None, :], "T") @ vc, "U")
        else:
            Tr = R(Tm, "T")
            W = R(Tr @ R(kc * (bc * torch.exp(G))[:, None], "kb"), "W")
            U = R(Tr @ R(vc * bc[:, None], "vb"), "U")
        Sr = R(S, "S")
        D = U - W @ Sr
        hbuf.append(Sr)
        dbuf.append(R(D, "D"))
        Ts.append(Tm)
        Ws.append(W)
        S = torch.exp(G[-1]) * S + kc.T @ R(D * torch.exp(G[-1] - G)[:, None], "Dst")
    # bwd_o: dgtok and dvloc
    dgtok = torch.zeros(NC * BT, dtype=torch.float64)
    dvloc = torch.zeros(Lp, V, dtype=torch.float64)
    for c in range(NC):
        tq = slice(c * BT, (c + 1) * BT)
        Qc, dOc, gt = q[tq], do[tq], Gt[c]
        bdq = (dOc @ hbuf[c * n_h].T) * torch.exp(gt)[:, None]
        dgt = (bdq * Qc).sum(1)
        for m in range(n_h):
            i = c * n_h + m
            R_ = slice(i * BT, (i + 1) * BT)
            kc = k[R_]
            qk = Qc @ kc.T
            dd = dOc @ dbuf[i].T
            tokc = (m * BT + r) // n_h
            causal = tokc[None, :] <= r[:, None]
            dec = torch.where(causal, torch.exp(torch.where(causal, gt[:, None] - gt[tokc][None, :],
                                                            0.0)), 0.0)
            dvloc[R_] = R((qk * dec * scale).T, "pt") @ dOc
            xg = dd * dec * qk
            dgt = dgt + xg.sum(1)
            dgt = dgt - torch.zeros(BT, dtype=torch.float64).index_add_(0, tokc, xg.sum(0))
        dgtok[tq] = dgt * scale
    # bwd_state: dS at every sub-chunk's end, dD
    ds = dht.clone()
    dhbuf, ddbuf = [None] * NS, [None] * NS
    for i in reversed(range(NS)):
        c, m = divmod(i, n_h)
        R_ = slice(i * BT, (i + 1) * BT)
        G = Gs[i]
        dsr = R(ds, "dS")
        dhbuf[i] = dsr
        bdd = (k[R_] @ dsr) * torch.exp(G[-1] - G)[:, None] + dvloc[R_]
        ds = ds * torch.exp(G[-1])
        bdd = R(bdd, "dD")
        ddbuf[i] = bdd
        ds = ds - Ws[i].T @ bdd
        if m == 0:
            tq = slice(c * BT, (c + 1) * BT)
            ds = ds + R(q[tq] * torch.exp(Gt[c])[:, None] * scale, "qg").T @ do[tq]
    # bwd_wy: dgsub
    dgsub = torch.zeros(Lp, dtype=torch.float64)
    for i in range(NS):
        R_ = slice(i * BT, (i + 1) * BT)
        kc, vc, bc, G = k[R_], v[R_], beta[R_], Gs[i]
        Sb, dSb, Dd, dd = hbuf[i], dhbuf[i], dbuf[i], ddbuf[i]
        Tt = R(Ts[i], "Tb")
        dw = -dd @ Sb.T
        dsd = Dd @ dSb.T
        dT = dd @ R(vc * bc[:, None], "vbb").T
        el = torch.exp(G[-1] - G)
        gst = el * (kc * dsd).sum(1)
        dglast = gst.sum() + torch.exp(G[-1]) * (Sb * dSb).sum()
        sc = bc * torch.exp(G)
        dwr = R(dw, "dw")
        dT = dT + dwr @ R(kc * sc[:, None], "kbb").T
        dkbk = ((Tt.T @ dwr) * kc).sum(1)
        dg = dkbk * sc - gst
        dT = torch.tril(dT, -1)
        da = -(Tt.T @ R(R(dT, "dT") @ Tt.T, "dTT"))
        da = da * _strict_lower_exp(G)
        daa = da * (kc @ kc.T) * bc[:, None]
        dg = dg + daa.sum(1) - daa.sum(0)
        dg[-1] += dglast
        dgsub[R_] = dg
    first = _revcum(dgsub, BT)[: L: n_h]
    return first + _revcum(dgtok, BT)[:T]


def strong_gate_inputs(seed: int, dtype: torch.dtype, T: int = 33, H: int = 2, K: int = 32,
                       V: int = 16, n_h: int = 2, fold: float = 60.0):
    """The inputs of ``_strong_first_gate_inputs`` and the cotangents the tests draw next
    (``do``, ``dht``, float64), from ``torch.Generator().manual_seed(seed)``."""
    from conftest import _make_inputs

    gen = torch.Generator().manual_seed(seed)
    x = _make_inputs(gen, B=1, T=T, H=H, K=K, V=V, n_h=n_h, dtype=dtype, gate=True,
                     initial_state=True)
    g = x["g"] * fold
    g[:, 0] = -30.0
    x["g"] = g
    do = torch.randn(1, T, H, V, generator=gen, dtype=torch.float64)
    dht = torch.randn(1, H, K, V, generator=gen, dtype=torch.float64)
    return x, do, dht


def reference_dg(x, do, dht, n_h):
    from statetrack.kernels.delta_product.naive import delta_product_ref
    from conftest import _as_float64

    ref = _as_float64(x, requires_grad=True)
    o, s = delta_product_ref(ref["q"], ref["k"], ref["v"], ref["beta"], num_householder=n_h,
                             g=ref["g"], initial_state=ref["initial_state"],
                             output_final_state=True)
    (dg,) = torch.autograd.grad((o * do).sum() + (s * dht).sum(), [ref["g"]])
    return dg[0]                                            # [T, H]


def kernel_grads(x, do, dht, n_h, chunk, over=None):
    """Every gradient of the kernel under ``_CONFIG_OVERRIDE`` entries ``over``."""
    from statetrack.kernels.delta_product import chunk as chunk_mod

    names = ["q", "k", "v", "beta", "g", "initial_state"]
    xs = {n: x[n].detach().clone().requires_grad_(True) for n in names}
    saved = dict(chunk_mod._CONFIG_OVERRIDE)
    chunk_mod._CONFIG_OVERRIDE.update(over or {})
    try:
        o, s = chunk_mod.chunk_delta_product(
            xs["q"], xs["k"], xs["v"], xs["beta"], num_householder=n_h, g=xs["g"],
            initial_state=xs["initial_state"], output_final_state=True, chunk_size=chunk)
        got = torch.autograd.grad((o.double() * do).sum() + (s.double() * dht).sum(),
                                  [xs[n] for n in names])
    finally:
        chunk_mod._CONFIG_OVERRIDE.clear()
        chunk_mod._CONFIG_OVERRIDE.update(saved)
    return dict(zip(names, got))


#: groups of roundings switched off together in ``--tail`` (each on top of the loop form but
#: ``now``): what float32 operands (and buffers) there would remove
GROUPS = {
    "now": (ROUNDINGS, False),
    "loop form": (ROUNDINGS, True),
    "loop, U D f32": (tuple(n for n in ROUNDINGS if n not in ("U", "D")), True),
    "fwd f32": (tuple(n for n in ROUNDINGS if n not in ("T", "vb", "U", "S", "D", "Dst")), True),
    "bwd f32": (tuple(n for n in ROUNDINGS if n not in ("pt", "dS", "dD", "vbb", "dT", "dTT")),
                True),
    "fwd+bwd f32": (("kb", "W", "dO", "qg", "Tb", "kbb", "dw"), True),
    "only dO": (("dO",), False),
}


def _emulated_error(x, do, dht, want, chunk, on, dt, loop=False) -> float:
    from statetrack.kernels._common.tolerances import rel_error

    H = want.shape[1]
    got = torch.stack([emulate_dg(x, do[0, :, h], dht[0, h], h, 2, chunk, on, dt, loop)
                       for h in range(H)], 1)
    return rel_error(got, want)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default="156823565,0,1,2,3,4,5,6,7",
                    help="comma-separated seeds: every rounding alone and all but one")
    ap.add_argument("--tail", default=None, metavar="START:STOP",
                    help="instead: the distribution over the seeds START..STOP-1 of the "
                         "groups of roundings in GROUPS (emulated only)")
    ap.add_argument("--K", type=int, default=32)
    ap.add_argument("--chunk", type=int, default=16)
    ap.add_argument("--fold", type=float, default=60.0)
    ap.add_argument("--dtype", default="bfloat16", choices=("bfloat16", "float16"))
    ap.add_argument("--rounded-do", action="store_true",
                    help="the reference's cotangent rounded to the dtype, as the kernel gets it")
    ap.add_argument("--no-kernel", action="store_true", help="skip the kernel runs")
    a = ap.parse_args(argv)
    import warnings

    import statetrack.kernels._common.triton  # noqa: F401  (before triton)
    from statetrack.kernels._common.tolerances import TOLERANCES, rel_error

    warnings.filterwarnings("ignore")
    dt = getattr(torch, a.dtype)
    n_h = 2

    def draw(seed):
        x, do, dht = strong_gate_inputs(seed, dt, K=a.K, fold=a.fold)
        want = reference_dg(x, do.to(dt).double() if a.rounded_do else do, dht, n_h)
        return x, do, dht, want

    head = (f"{a.dtype} K={a.K} chunk {a.chunk}, gates x{a.fold:g}, reference cotangent "
            f"{'rounded' if a.rounded_do else 'float64'}: relative error of dg")
    if a.tail:
        start, stop = (int(t) for t in a.tail.split(":"))
        tol = TOLERANCES[dt].bwd
        rows = {name: [] for name in GROUPS}
        for seed in range(start, stop):
            x, do, dht, want = draw(seed)
            for name, (on, loop) in GROUPS.items():
                rows[name].append(_emulated_error(x, do, dht, want, a.chunk, on, dt, loop))
        print(f"{head}; seeds {start}..{stop - 1}")
        for name, errs in rows.items():
            e = torch.tensor(errs)
            print(f"  {name:14s} median {e.median():.1e}  p90 {e.quantile(0.9):.1e}  max "
                  f"{e.max():.1e} (seed {start + int(e.argmax())})  over {tol:g}: "
                  f"{int((e > tol).sum())}")
        return 0
    settings = ([("none", (), False), ("all", ROUNDINGS, False), ("loop form", ROUNDINGS, True)]
                + [(n, (n,), False) for n in ROUNDINGS]
                + [(f"all but {n}", tuple(m for m in ROUNDINGS if m != n), False)
                   for n in ROUNDINGS])
    rows: dict[str, list[float]] = {}
    for seed in (int(s) for s in a.seeds.split(",")):
        x, do, dht, want = draw(seed)
        for name, on, loop in settings:
            rows.setdefault(f"emulated: {name}", []).append(
                _emulated_error(x, do, dht, want, a.chunk, on, dt, loop))
        if not a.no_kernel:
            got = kernel_grads(x, do, dht, n_h, a.chunk)["g"][0]
            rows.setdefault("kernel", []).append(rel_error(got, want))
    print(f"{head}; seeds {a.seeds.replace(',', ' ')}")
    for name, errs in rows.items():
        print(f"  {name:24s} " + " ".join(f"{e:.1e}" for e in errs)
              + f"   max {max(errs):.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
