"""The diagonal scan (Triton chunked kernels and the PyTorch fallback) against the float64
reference: outputs and every gradient, relative errors bounded by the one tolerance table.
Every buffer the kernels allocate is NaN-poisoned first, so an element left unwritten fails.
On CPU the Triton path runs through TRITON_INTERPRET=1 on small shapes; the ``gpu`` tests run
full sizes and long words on CUDA."""

from __future__ import annotations

import pytest
import torch

from statetrack.kernels import diagonal_scan, diagonal_scan_reference
from statetrack.kernels import errors as E
from statetrack.kernels._common.tolerances import assert_rel_close
from statetrack.kernels.diagonal_scan.scan import choose_block_d, resolve_backend


def _inputs(gen, B, T, D, dtype, init, *, h0_dtype=None, device="cpu", grads=True):
    a = 2 * torch.rand(B, T, D, generator=gen, dtype=torch.float64) - 1   # [-1, 1]
    b = torch.randn(B, T, D, generator=gen, dtype=torch.float64)
    h0 = torch.randn(B, D, generator=gen, dtype=torch.float64) if init else None
    out = [a.to(dtype), b.to(dtype), h0.to(h0_dtype or dtype) if init else None]
    return [x.to(device).requires_grad_(grads) if x is not None else None for x in out]


def _compare(gen, poison_empty, device, *, B, T, D, dtype, init, backend, chunk_size=16,
             h0_dtype=None):
    a, b, h0 = _inputs(gen, B, T, D, dtype, init, h0_dtype=h0_dtype, device=device)
    with poison_empty():
        h = diagonal_scan(a, b, h0, backend=backend, chunk_size=chunk_size)
    assert h.shape == (B, T, D) and h.dtype == dtype
    ref = [x.detach().double().requires_grad_() if x is not None else None for x in (a, b, h0)]
    h_ref = diagonal_scan_reference(*ref)
    assert_rel_close(h, h_ref, dtype, name="h")
    g = torch.randn(B, T, D, generator=gen, dtype=torch.float64).to(device)
    names = ["a", "b"] + (["h0"] if init else [])
    with poison_empty():
        got = torch.autograd.grad((h.double() * g).sum(),
                                  [x for x in (a, b, h0) if x is not None])
    want = torch.autograd.grad((h_ref * g).sum(), [x for x in ref if x is not None])
    for n, x, y, inp in zip(names, got, want, (a, b, h0)):
        assert x.dtype == inp.dtype and x.shape == inp.shape, n
        assert_rel_close(x, y, dtype, kind="bwd", name=f"d{n}")


CASES = [
    # B, T, D, dtype, init, chunk_size
    (1, 1, 1, torch.float32, False, 16),
    (2, 5, 3, torch.float32, True, 16),
    (1, 16, 4, torch.float32, True, 16),        # exactly one chunk
    (2, 17, 5, torch.float32, True, 16),        # one step into a second chunk
    (1, 70, 7, torch.float32, False, 16),       # five chunks, a partial last one
    (2, 70, 7, torch.float32, True, 32),
    (1, 129, 3, torch.float32, True, 64),
    (1, 40, 6, torch.bfloat16, True, 16),
    (1, 40, 6, torch.float16, False, 16),
    (2, 33, 5, torch.float64, True, 16),
]


@pytest.mark.parametrize("backend", ["triton", "torch"])
@pytest.mark.parametrize("B,T,D,dtype,init,chunk_size", CASES)
def test_scan_matches_reference(gen, poison_empty, device, backend, B, T, D, dtype, init,
                                chunk_size):
    _compare(gen, poison_empty, device, B=B, T=T, D=D, dtype=dtype, init=init,
             backend=backend, chunk_size=chunk_size)


@pytest.mark.parametrize("backend", ["triton", "torch"])
def test_float32_initial_state_with_bfloat16_inputs(gen, poison_empty, device, backend):
    _compare(gen, poison_empty, device, B=2, T=20, D=4, dtype=torch.bfloat16, init=True,
             backend=backend, h0_dtype=torch.float32)


def test_several_channel_blocks(gen, poison_empty, device):
    # more channels than one program holds (256 under the interpreter, 64 on a GPU)
    D = 300
    assert choose_block_d(D, 1) < D
    _compare(gen, poison_empty, device, B=1, T=20, D=D, dtype=torch.float32, init=True,
             backend="triton")


@pytest.mark.parametrize("backend", ["triton", "torch"])
def test_empty_time_axis(backend, device):
    a = torch.zeros(2, 0, 3, device=device, requires_grad=True)
    h0 = torch.ones(2, 3, device=device, requires_grad=True)
    h = diagonal_scan(a, torch.zeros(2, 0, 3, device=device), h0, backend=backend)
    assert h.shape == (2, 0, 3)
    (ga, gh0) = torch.autograd.grad(h.sum(), [a, h0], allow_unused=True)
    assert gh0 is None or float(gh0.abs().sum()) == 0.0


def test_gradcheck_reference_float64(gen):
    a, b, h0 = _inputs(gen, 2, 6, 3, torch.float64, True)
    assert torch.autograd.gradcheck(diagonal_scan_reference, (a, b, h0))


@pytest.mark.parametrize("backend,chunk_size", [("torch", 16), ("triton", 16)])
def test_gradcheck_kernels_float64(gen, device, backend, chunk_size):
    # T = 21 spans two chunks of the Triton path, so the carries' gradients are checked too
    a, b, h0 = _inputs(gen, 1, 21, 2, torch.float64, True, device=device)
    assert torch.autograd.gradcheck(
        lambda a, b, h0: diagonal_scan(a, b, h0, backend=backend, chunk_size=chunk_size),
        (a, b, h0))


@pytest.mark.parametrize("backend", ["triton", "torch"])
def test_parity_long_word_is_exact(backend, device):
    # a = 1 - 2 x in {1, -1}, h0 = 1: h_t = (-1)^(number of ones), exactly, at every t
    T = 3000
    x = torch.randint(0, 2, (2, T), generator=torch.Generator().manual_seed(7))
    a = (1 - 2 * x).to(torch.bfloat16)[..., None].to(device)
    h = diagonal_scan(a, torch.zeros_like(a), torch.ones(2, 1, dtype=torch.bfloat16,
                                                          device=device),
                      backend=backend, chunk_size=128)
    want = 1 - 2 * (x.cumsum(1) % 2)
    assert torch.equal(h[..., 0].float().cpu(), want.float())


def test_auto_backend_and_errors():
    cpu = torch.device("cpu")
    assert resolve_backend("auto", cpu) == "torch"
    assert resolve_backend("torch", cpu) == "torch"
    with pytest.raises(E.KernelInputError, match="backend"):
        resolve_backend("fast", cpu)
    a = torch.zeros(1, 4, 2)
    with pytest.raises(E.KernelInputError, match="chunk_size"):
        diagonal_scan(a, a, chunk_size=48)
    with pytest.raises(E.KernelShapeError, match="b: expected shape"):
        diagonal_scan(a, torch.zeros(1, 4, 3))
    with pytest.raises(E.KernelShapeError, match="h0: expected shape"):
        diagonal_scan(a, a, torch.zeros(2, 2))
    with pytest.raises(E.KernelShapeError, match="a: expected 3 dimensions"):
        diagonal_scan(torch.zeros(4, 2), torch.zeros(4, 2))
    with pytest.raises(E.KernelDtypeError, match="differs from a's"):
        diagonal_scan(a, a.double())
    with pytest.raises(E.KernelDtypeError, match="a: dtype int64"):
        diagonal_scan(a.long(), a.long())
    with pytest.raises(E.KernelDtypeError, match="h0: dtype float64"):
        diagonal_scan(a, a, torch.zeros(1, 2, dtype=torch.float64))
    with pytest.raises(E.NonFiniteInputError, match="b: holds a non-finite"):
        diagonal_scan(a, torch.full_like(a, float("nan")), check_finite=True)
    with pytest.raises(E.KernelDeviceError, match="meta"):
        diagonal_scan(a, torch.zeros(1, 4, 2, device="meta"))


# ----------------------------------------------------------------------------- GPU


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("T,chunk_size", [(64, 64), (4096, 64), (1000, 128)])
def test_full_size_gpu(gen, poison_empty, T, chunk_size, dtype):
    _compare(gen, poison_empty, torch.device("cuda"), B=4, T=T, D=2048, dtype=dtype,
             init=True, backend="triton", chunk_size=chunk_size)


@pytest.mark.gpu
def test_parity_gpu_long():
    T = 100_000
    x = torch.randint(0, 2, (4, T), generator=torch.Generator().manual_seed(3))
    a = (1 - 2 * x).to(torch.bfloat16)[..., None].expand(4, T, 64).contiguous().cuda()
    h = diagonal_scan(a, torch.zeros_like(a), torch.ones(4, 64, dtype=torch.bfloat16,
                                                          device="cuda"), backend="triton")
    want = (1 - 2 * (x.cumsum(1) % 2)).float()
    assert torch.equal(h.float().cpu(), want[..., None].expand(4, T, 64))


@pytest.mark.gpu
def test_triton_and_torch_agree_gpu(gen):
    a, b, h0 = _inputs(gen, 8, 512, 256, torch.float32, True, device="cuda")
    h1 = diagonal_scan(a, b, h0, backend="triton")
    h2 = diagonal_scan(a, b, h0, backend="torch")
    assert_rel_close(h1, h2.double(), torch.float32, name="h")
