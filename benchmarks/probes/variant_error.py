"""Probe: each launch variant of the chunked DeltaProduct kernel against the float64 reference.

A sweep of ``kernels_model.py`` reports each variant's difference from the default
(``rel_diff_vs_default``), which says how far apart two roundings are, not which one is
nearer the truth: on the ungated row 1u the opt-in ``wy_loop`` moved ``o`` by 8e-3 from the
default in bf16 (session 19, H200). This probe gives the number that decides: the relative
error (norm of the difference over the norm of the reference) of the outputs, the final state
and every input gradient against the float64 reference (``naive.delta_product_ref``, the
tests' oracle), for the default and for each variant, on the model rows' input distribution
(``kernels_model.make_inputs``: Gaussian queries and values, unit keys, ``beta`` uniform in
[0, 2], ``logsigmoid`` gates) at a reduced batch (the reference runs token by token), and
fla's ``chunk_gated_delta_product`` / ``chunk_delta_rule`` beside them when fla imports.

    python benchmarks/probes/variant_error.py --json OUT.json        # rows 1u, 2g, 3u; B 1, H 2
    python benchmarks/probes/variant_error.py --rows 1u --T 1024 --variants wy_loop,lp_bwd
    TRITON_INTERPRET=1 python benchmarks/probes/variant_error.py --device cpu --T 40 --K 16 \\
        --dtype float32                                               # the probe itself, on CPU

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

#: variant name -> ``chunk._CONFIG_OVERRIDE`` entries (the sweeps' names)
VARIANTS = {
    "default": {},
    "wy_loop": {"wy_loop": True, "wy": (0, 4, 3)},
    "lp_bwd": {"lp_bwd": True},
    "wy_loop+lp_bwd": {"wy_loop": True, "wy": (0, 4, 3), "lp_bwd": True},
}
ROWS = {"1u": (1, False), "2g": (2, True), "3u": (3, False)}
DTYPES = ("bfloat16", "float16", "float32")


def _inputs(torch, nh: int, gated: bool, B: int, T: int, H: int, K: int, dtype, dev, seed: int):
    """The model rows' distribution (as ``kernels_model.make_inputs``) at a chosen shape."""
    gen = torch.Generator(device="cpu").manual_seed(seed)
    L = T * nh
    x = {"q": torch.randn(B, T, H, K, generator=gen),
         "k": torch.nn.functional.normalize(torch.randn(B, L, H, K, generator=gen), dim=-1),
         "v": torch.randn(B, L, H, K, generator=gen),
         "beta": 2 * torch.rand(B, L, H, generator=gen),
         "g": (torch.nn.functional.logsigmoid(torch.randn(B, T, H, generator=gen))
               if gated else None)}
    do = torch.randn(B, T, H, K, generator=gen)
    dht = torch.randn(B, H, K, K, generator=gen)
    x = {n: (t.to(dev, dtype if n != "g" else torch.float32) if t is not None else None)
         for n, t in x.items()}
    return x, do.to(dev), dht.to(dev)


def _grads(torch, fn, x: dict, do, dht, names) -> dict:
    leaves = {n: x[n].detach().clone().requires_grad_() for n in names}
    o, s = fn(leaves)
    loss = (o.double() * do.double()).sum() + (s.double() * dht.double()).sum()
    got = torch.autograd.grad(loss, [leaves[n] for n in names])
    out = {"o": o.detach().double(), "final_state": s.detach().double()}
    out.update({"d" + n: g.detach().double() for n, g in zip(names, got)})
    return out


def _rel(a, b) -> float:
    import torch
    if not bool(torch.isfinite(a).all()):
        return float("inf")
    return float((a - b).norm() / b.norm())


def run(rows, variants, B, T, H, K, dtype_name, dev_name, seed, fla: bool) -> list[dict]:
    import torch
    from statetrack.kernels.delta_product import chunk
    from statetrack.kernels.delta_product.naive import delta_product_ref

    dtype = getattr(torch, dtype_name)
    dev = torch.device(dev_name)
    out = []
    for row in rows:
        nh, gated = ROWS[row]
        x, do, dht = _inputs(torch, nh, gated, B, T, H, K, dtype, dev, seed)
        names = [n for n in ("q", "k", "v", "beta", "g") if x[n] is not None]

        def ref_fn(lv):
            return delta_product_ref(lv["q"], lv["k"], lv["v"], lv["beta"], num_householder=nh,
                                     g=lv.get("g"), output_final_state=True)

        x64 = {n: (t.double() if t is not None else None) for n, t in x.items()}
        ref = _grads(torch, ref_fn, x64, do, dht, names)

        def ours(lv):
            return chunk.chunk_delta_product(lv["q"], lv["k"], lv["v"], lv["beta"],
                                             num_householder=nh, g=lv.get("g"),
                                             output_final_state=True)

        for name in variants:
            saved = dict(chunk._CONFIG_OVERRIDE)
            chunk._CONFIG_OVERRIDE.clear()
            chunk._CONFIG_OVERRIDE.update(VARIANTS[name])
            try:
                got = _grads(torch, ours, x, do, dht, names)
            finally:
                chunk._CONFIG_OVERRIDE.clear()
                chunk._CONFIG_OVERRIDE.update(saved)
            err = {t: _rel(got[t], ref[t]) for t in ref}
            out.append({"row": row, "variant": name, "rel_error": err})
            print(json.dumps(out[-1]), flush=True)
        if fla:
            got = _fla(torch, x, do, dht, names, nh)
            if got is not None:
                err = {t: _rel(got[t], ref[t]) for t in got}
                out.append({"row": row, "variant": "fla", "rel_error": err})
                print(json.dumps(out[-1]), flush=True)
    return out


def _fla(torch, x, do, dht, names, nh):
    """fla 0.6.0's chunk_gated_delta_product (or chunk_delta_rule at n_h = 1 ungated) on the
    same inputs; None if fla does not import or refuses the call."""
    try:
        if nh == 1 and x["g"] is None:
            from fla.ops.delta_rule import chunk_delta_rule

            def fn(lv):
                return chunk_delta_rule(lv["q"], lv["k"], lv["v"], lv["beta"],
                                        output_final_state=True)
        else:
            from fla.ops.gated_delta_product import chunk_gated_delta_product

            def fn(lv):
                g = lv.get("g")
                if g is None:
                    g = torch.zeros(lv["q"].shape[:3], device=lv["q"].device)
                return chunk_gated_delta_product(lv["q"], lv["k"], lv["v"], g, lv["beta"],
                                                 num_householder=nh, output_final_state=True)
        return _grads(torch, fn, x, do, dht, names)
    except Exception as exc:                                  # report and go on
        print(json.dumps({"fla": f"{type(exc).__name__}: {exc}"[:300]}), flush=True)
        return None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    ap.add_argument("--rows", default="1u,2g,3u")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--B", type=int, default=1)
    ap.add_argument("--T", type=int, default=4096)
    ap.add_argument("--H", type=int, default=2)
    ap.add_argument("--K", type=int, default=128, help="K = V")
    ap.add_argument("--dtype", default="bfloat16", choices=DTYPES)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-fla", action="store_true")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args(argv)
    rows = [r for r in a.rows.split(",") if r]
    bad = [r for r in rows if r not in ROWS]
    if bad or not rows:
        ap.error(f"--rows: expected names from {sorted(ROWS)}, got {a.rows!r}")
    variants = [v for v in a.variants.split(",") if v]
    bad = [v for v in variants if v not in VARIANTS]
    if bad or not variants:
        ap.error(f"--variants: expected names from {sorted(VARIANTS)}, got {a.variants!r}")
    for name in ("B", "T", "H", "K"):
        if getattr(a, name) < 1:
            ap.error(f"--{name}: expected an int >= 1, got {getattr(a, name)}")
    if a.json is not None and not a.json.parent.is_dir():
        ap.error(f"--json: folder {a.json.parent} does not exist")
    out = run(rows, variants, a.B, a.T, a.H, a.K, a.dtype, a.device, a.seed, not a.no_fla)
    if a.json is not None:
        from benchmarks._machine import describe
        doc = describe(__file__, argv, shape={"B": a.B, "T": a.T, "H": a.H, "K": a.K,
                                              "dtype": a.dtype, "seed": a.seed})
        doc["rows"] = out
        a.json.write_text(json.dumps(doc, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
