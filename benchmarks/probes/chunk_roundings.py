"""Probe: which 16-bit rounding of the chunked kernel's forward makes its error, at small K.

The chunked kernel (``statetrack/kernels/delta_product/chunk.py``) is emulated in float64
PyTorch, chunk by chunk as its forward kernels compute it (``wy_fwd_kernel``,
``fwd_state_kernel``), with each of its roundings to the input dtype switched on or off:

* ``T``: the UT-transform matrix as the operand of ``W = T (beta e^G K)``, ``U = T (beta V)``;
* ``kb``, ``vb``: those right-hand operands ``beta e^G K`` and ``beta V``;
* ``W``, ``U``: the stored ``W`` and ``U``;
* ``S``: the state as the operand of ``W S`` (in ``D = U - W S``);
* ``Dst``: ``D e^{G_l - G}`` as the operand of the state update ``S += K^T (.)``;
* ``Sq``, ``qk``, ``Dq``: the operands of the outputs ``q S`` and ``(Q K^T) D``.

For each switch setting it prints the relative error (as the tests measure it: norm of the
difference over the norm of the float64 reference run on the same, already rounded, inputs)
of the final state and the outputs, over seeds; beside it the kernel itself (the default, and
``_CONFIG_OVERRIDE["hi"] = False``, the 16-bit operands everywhere), and the *input floor*:
the reference on the 16-bit inputs against the reference on the float64 inputs they were
rounded from. One head, one token per sub-step (``n_h = 1``), the tests' input distribution
(``tests/kernels/conftest.py``: unit keys, ``beta`` uniform in [0, 2], Gaussian ``q``, ``v``
and initial state), no gate unless ``--gate`` (a gate shortens the memory and hides the
effect).

    TRITON_INTERPRET=1 python benchmarks/probes/chunk_roundings.py              # K 8, chunk 16 and 64
    TRITON_INTERPRET=1 python benchmarks/probes/chunk_roundings.py --K 32 --seeds 6

The finding (K = 8, V = 8, T = 130, bf16, chunk 64, initial state, 12 seeds): all
roundings on, the final state's error is 1.2e-2 on average (the kernel's, to two digits);
the roundings of ``T``, ``U`` and ``Dst`` alone make 7.9e-3, 5.8e-3 and 6.2e-3 and grow with
the chunk (chunk 16: 2.8e-3, 2.8e-3, 3.7e-3), the others stay near 2e-3 at both; all on but
those three: 4.2e-3, under the input floor (4-6e-3).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TRITON_INTERPRET", "1")
ROOT = Path(__file__).resolve().parents[2]
for p in (ROOT, ROOT / "tests" / "kernels"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

import torch  # noqa: E402

ROUNDINGS = ("T", "kb", "vb", "W", "U", "S", "Dst", "Sq", "qk", "Dq")


def _r(x: torch.Tensor, on: bool, dt: torch.dtype) -> torch.Tensor:
    return x.to(dt).to(torch.float64) if on else x


def emulate(x: dict, chunk: int, on: tuple[str, ...], dt: torch.dtype
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """Outputs ``[T, V]`` and final state ``[K, V]`` of head 0, batch 0 (``n_h = 1``) by the
    kernel's chunk algorithm in float64, rounding to ``dt`` where ``on`` names it."""
    f = lambda t: t.detach().to(torch.float64)[0, :, 0]  # noqa: E731
    q, k, v, beta = f(x["q"]), f(x["k"]), f(x["v"]), f(x["beta"])
    L, K = k.shape
    g = f(x["g"]) if x.get("g") is not None else torch.zeros(L, dtype=torch.float64)
    S = (x["initial_state"].detach().double()[0, 0].clone() if x.get("initial_state") is not None
         else torch.zeros(K, v.shape[1], dtype=torch.float64))
    outs = []
    for c0 in range(0, L, chunk):
        sl = slice(c0, min(c0 + chunk, L))
        kc, vc, bc, qc = k[sl], v[sl], beta[sl], q[sl]
        G = g[sl].cumsum(0)
        E = torch.exp(G[:, None] - G[None, :])
        A = torch.tril(bc[:, None] * (kc @ kc.T) * E, -1)
        Tm = _r(torch.linalg.inv(torch.eye(len(bc), dtype=torch.float64) + A), "T" in on, dt)
        W = _r(Tm @ _r(kc * (bc * torch.exp(G))[:, None], "kb" in on, dt), "W" in on, dt)
        U = _r(Tm @ _r(vc * bc[:, None], "vb" in on, dt), "U" in on, dt)
        D = U - W @ _r(S, "S" in on, dt)
        o = (qc @ _r(S, "Sq" in on, dt)) * torch.exp(G)[:, None]
        o = o + _r(torch.tril((qc @ kc.T) * E), "qk" in on, dt) @ _r(D, "Dq" in on, dt)
        outs.append(o * K ** -0.5)
        S = torch.exp(G[-1]) * S + kc.T @ _r(D * torch.exp(G[-1] - G)[:, None], "Dst" in on, dt)
    return torch.cat(outs), S


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--K", type=int, default=8)
    ap.add_argument("--V", type=int, default=8)
    ap.add_argument("--T", type=int, default=130)
    ap.add_argument("--chunks", default="16,64")
    ap.add_argument("--seeds", type=int, default=12)
    ap.add_argument("--dtype", default="bfloat16", choices=("bfloat16", "float16"))
    ap.add_argument("--gate", action="store_true")
    a = ap.parse_args(argv)
    import statetrack.kernels._common.triton  # noqa: F401  (before triton)
    from conftest import _as_float64, _make_inputs
    from statetrack.kernels._common.tolerances import rel_error
    from statetrack.kernels.delta_product import chunk as chunk_mod
    from statetrack.kernels.delta_product.naive import delta_product_ref

    dt = getattr(torch, a.dtype)
    settings = [("none", ()), ("all", ROUNDINGS)] + [(n, (n,)) for n in ROUNDINGS[:7]] + [
        ("all but T,U,Dst", tuple(n for n in ROUNDINGS if n not in ("T", "U", "Dst")))]
    rows: dict[str, list[tuple[float, float]]] = {}

    def ref(x):
        r = _as_float64(x)
        o, s = delta_product_ref(r["q"], r["k"], r["v"], r["beta"], g=r["g"],
                                 initial_state=r["initial_state"], output_final_state=True)
        return o[0, :, 0], s[0, 0]

    for seed in range(a.seeds):
        def inputs(dtype):
            gen = torch.Generator().manual_seed(seed)
            return _make_inputs(gen, B=1, T=a.T, H=1, K=a.K, V=a.V, n_h=1, dtype=dtype,
                                gate=a.gate, initial_state=True)
        x = inputs(dt)
        o_ref, s_ref = ref(x)
        o64, s64 = ref(inputs(torch.float64))
        rows.setdefault("input floor", []).append((rel_error(o_ref, o64), rel_error(s_ref, s64)))
        for c in (int(t) for t in a.chunks.split(",")):
            for name, on in settings:
                o, s = emulate(x, c, on, dt)
                rows.setdefault(f"chunk {c} emulated: {name}", []).append(
                    (rel_error(o, o_ref), rel_error(s, s_ref)))
            for name, over in (("kernel, default", {}), ("kernel, hi off", {"hi": False})):
                saved = dict(chunk_mod._CONFIG_OVERRIDE)
                chunk_mod._CONFIG_OVERRIDE.update(over)
                try:
                    o, s = chunk_mod.chunk_delta_product(
                        x["q"], x["k"], x["v"], x["beta"], g=x["g"],
                        initial_state=x["initial_state"], output_final_state=True, chunk_size=c)
                finally:
                    chunk_mod._CONFIG_OVERRIDE.clear()
                    chunk_mod._CONFIG_OVERRIDE.update(saved)
                rows.setdefault(f"chunk {c} {name}", []).append(
                    (rel_error(o[0, :, 0], o_ref), rel_error(s[0, 0], s_ref)))
    print(f"{a.dtype} K={a.K} V={a.V} T={a.T} gate={a.gate}, {a.seeds} seeds: relative error, "
          "mean / max (count over 1e-2)")
    for name, errs in rows.items():
        e = torch.tensor(errs)
        cells = [f"{e[:, i].mean():.2e} / {e[:, i].max():.2e} ({int((e[:, i] > 1e-2).sum())})"
                 for i in (1, 0)]
        print(f"  {name:38s} state {cells[0]}   o {cells[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
