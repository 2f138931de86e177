"""The 16x16 diagonal-block inverses of the chunked kernel's UT transform.

``wy_fwd_kernel`` inverts ``I + A`` for each strictly lower triangular 16x16 diagonal block of
``A = diag(beta) K K^T``. The default (``INV == 1``) substitutes on the transpose and reads the
rows of ``A`` back from a float32 scratch copy; the earlier routine (``INV == 0``) extracts the
rows by reductions. Both must match the float64 inverse to float32 accuracy, also for strongly
correlated keys, where the entries of the inverse grow and a product formula
``(I - A)(I + A^2)(I + A^4)(I + A^8)`` loses up to 6e-4 relative (measured while choosing the
method; that is why it was not taken).
"""

from __future__ import annotations

import pytest
import torch

from statetrack.kernels.delta_product._chunk_kernels import _inv16
from statetrack.kernels._common.triton import tl, triton
from statetrack.kernels._common.tolerances import rel_error


@triton.jit
def _inverse_kernel(a_ptr, out_ptr, scr_ptr, INV: tl.constexpr):
    i = tl.program_id(0)
    r = tl.arange(0, 16)
    a = tl.load(a_ptr + i * 256 + r[:, None] * 16 + r[None, :])
    t = _inv16(a, scr_ptr + i * 256, INV)
    tl.store(out_ptr + i * 256 + r[:, None] * 16 + r[None, :], t)


def _blocks(gen: torch.Generator, n: int, correlation: float) -> torch.Tensor:
    """``n`` blocks ``tril(diag(beta) k k^T, -1)``: unit keys sharing a common direction."""
    k = torch.randn(n, 16, 64, generator=gen, dtype=torch.float64)
    k = k + correlation * torch.randn(n, 1, 64, generator=gen, dtype=torch.float64)
    k = k / k.norm(dim=-1, keepdim=True)
    beta = 2 * torch.rand(n, 16, 1, generator=gen, dtype=torch.float64)
    return torch.tril(beta * (k @ k.transpose(1, 2)), -1)


@pytest.mark.parametrize("inv", [1, 0])
@pytest.mark.parametrize("correlation", [0.0, 3.0, 10.0])
def test_diagonal_block_inverse(gen, device, poison_empty, inv, correlation):
    n = 6
    a = _blocks(gen, n, correlation).to(torch.float32)
    exact = torch.linalg.inv(torch.eye(16, dtype=torch.float64) + a.double())   # of the input
    a = a.to(device)
    with poison_empty():
        out = torch.empty(n, 16, 16, dtype=torch.float32, device=device)
        scr = torch.empty(n, 16, 16, dtype=torch.float32, device=device)
    _inverse_kernel[(n,)](a, out, scr, INV=inv)
    for i in range(n):
        err = rel_error(out[i], exact[i])
        # float32 substitution: a few ulps of the inverse's size (observed <= 3e-7)
        assert err < 2e-6, f"block {i}: relative error {err:.2e} (INV={inv})"
    # the scratch holds the blocks of A (what the substitution read back)
    if inv == 1:
        assert torch.equal(scr.cpu(), a.cpu())


def test_inverse_methods_agree(gen, device):
    a = _blocks(gen, 4, 3.0).to(torch.float32).to(device)
    outs = []
    for inv in (0, 1):
        out = torch.empty(4, 16, 16, dtype=torch.float32, device=device)
        scr = torch.empty(4, 16, 16, dtype=torch.float32, device=device)
        _inverse_kernel[(4,)](a, out, scr, INV=inv)
        outs.append(out)
    assert rel_error(outs[1], outs[0].double()) < 2e-6
