"""Probe of the chunked kernel's H200 fault (issue 12): ``test_chunk_full_size_gpu`` at
T = 1, K = V = 128, float32, n_h = 1, no gate, no initial state faults in
``fwd_state_kernel`` (compute-sanitizer, session 7). Each launch configuration runs in its own
process (an illegal access poisons the process) and prints one line: OK with the largest
relative error against the float64 reference, or the error.

    python benchmarks/probes/chunk_fault.py            # every variant
    python benchmarks/probes/chunk_fault.py --one NAME # one variant, in this process
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

#: the repository root, so that the package imports without PYTHONPATH (as the other
#: benchmarks do; a device call that ran the probe from the root without it failed)
ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

VARIANTS = {
    # name: overrides of chunk._CONFIG_OVERRIDE (value block, num_warps, num_stages)
    "default": {},
    "stages1": {"state": (32, 4, 1), "state_rec": (32, 4, 1)},
    "bv16": {"state": (16, 4, 2), "state_rec": (16, 4, 2)},
    "warps8": {"state": (32, 8, 2), "state_rec": (32, 8, 2)},
    "bv64": {"state": (64, 4, 2), "state_rec": (64, 4, 2)},
    "warps2": {"state": (32, 2, 2), "state_rec": (32, 2, 2)},
}


def one(name: str, T: int = 1, device: str = "cuda", final_state: bool = True,
        poison: bool = True, dtype: str = "bfloat16") -> str:
    import torch

    from statetrack.kernels.delta_product import chunk
    from statetrack.kernels.delta_product.naive import delta_product_ref

    if poison:                 # as the tests do: every buffer the kernels allocate is NaN
        real = chunk._alloc
        chunk._alloc = lambda shape, dtype, dev: real(shape, dtype, dev).fill_(float("nan"))
    chunk._CONFIG_OVERRIDE.clear()
    chunk._CONFIG_OVERRIDE.update(VARIANTS[name])
    g = torch.Generator().manual_seed(0)
    B, H, K, V = 1, 2, 128, 128
    q = torch.randn(B, T, H, K, generator=g, dtype=torch.float64)
    k = torch.nn.functional.normalize(torch.randn(B, T, H, K, generator=g,
                                                  dtype=torch.float64), dim=-1)
    v = torch.randn(B, T, H, V, generator=g, dtype=torch.float64)
    beta = 2 * torch.rand(B, T, H, generator=g, dtype=torch.float64)
    # the failing test's parameter id says dtype0: bfloat16 (the first of its dtypes)
    ins = [t.to(getattr(torch, dtype)).to(device).requires_grad_() for t in (q, k, v, beta)]
    o, ht = chunk.chunk_delta_product(*ins, chunk_size=64, output_final_state=final_state)
    (o.sum() + (ht.sum() if final_state else 0)).backward()
    if device == "cuda":
        torch.cuda.synchronize()
    ref = [t.detach().clone().requires_grad_() for t in (q, k, v, beta)]
    o_ref, ht_ref = delta_product_ref(*ref, output_final_state=final_state)
    (o_ref.sum() + (ht_ref.sum() if final_state else 0)).backward()
    errs = [float((a.detach().cpu().double() - b.detach()).norm() / b.detach().norm())
            for a, b in [(o, o_ref)] + [(x.grad, y.grad) for x, y in zip(ins, ref)]]
    return f"{name}: OK, max relative error {max(errs):.2e}"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--one")
    p.add_argument("--T", type=int, default=1)
    p.add_argument("--device", default="cuda", help="cpu: through TRITON_INTERPRET=1 (a check)")
    p.add_argument("--no-final-state", action="store_true")
    p.add_argument("--no-poison", action="store_true")
    p.add_argument("--dtype", default="bfloat16", choices=("bfloat16", "float32"))
    a = p.parse_args()
    if a.one:
        print(one(a.one, a.T, a.device, not a.no_final_state, not a.no_poison, a.dtype),
              flush=True)
        return 0
    for name in VARIANTS:
        r = subprocess.run([sys.executable, __file__, "--one", name, "--T", str(a.T),
                            "--device", a.device, "--dtype", a.dtype]
                           + ["--no-final-state"] * a.no_final_state
                           + ["--no-poison"] * a.no_poison,
                           capture_output=True, text=True, timeout=120)
        tail = (r.stdout + r.stderr).strip().splitlines()
        print(tail[-1] if r.returncode == 0 else f"{name}: FAILED: {tail[-1] if tail else r.returncode}",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
