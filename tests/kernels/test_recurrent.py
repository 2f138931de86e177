"""The fused recurrent Triton kernel against the float64 reference: outputs, final states and
every gradient, relative errors bounded by the one tolerance table. On CPU the kernels run
through TRITON_INTERPRET=1 on tiny shapes; ``gpu`` tests run the full sizes on CUDA."""

from __future__ import annotations

import pytest
import torch

from statetrack.kernels import errors as E
from statetrack.kernels.delta_product.fused_recurrent import (
    choose_blocks,
    fused_recurrent_delta_product,
)
from statetrack.kernels.delta_product.naive import delta_product_ref
from statetrack.kernels._common.tolerances import assert_rel_close



def _compare(gen, make_inputs, check_against_reference, poison_empty, device, *, B, T, H, K, V, n_h,
             dtype, gate, init, final=True, block_v=None, grads=True):
    x = make_inputs(gen, B=B, T=T, H=H, K=K, V=V, n_h=n_h, dtype=dtype, gate=gate,
                    initial_state=init, device=device, requires_grad=grads)
    o_buf = torch.full((B, T, H, V), float("nan"), dtype=dtype, device=device)
    s_buf = torch.full((B, H, K, V), float("nan"), dtype=torch.float64 if dtype == torch.float64
                       else torch.float32, device=device) if final else None
    with poison_empty():
        o, s = fused_recurrent_delta_product(
            x["q"], x["k"], x["v"], x["beta"], num_householder=n_h, g=x["g"],
            initial_state=x["initial_state"], output_final_state=final, out=o_buf,
            final_state_out=s_buf, block_v=block_v)
    assert o.data_ptr() == o_buf.data_ptr() and o.dtype == dtype
    assert s is None or s.data_ptr() == s_buf.data_ptr()
    check_against_reference(o, s, x, gen, n_h=n_h, dtype=dtype, final=final, grads=grads)


CASES = [
    # B, T, H, K, V, n_h, dtype, gate, init
    (1, 1, 1, 4, 4, 1, torch.float32, False, False),
    (2, 3, 2, 8, 4, 2, torch.float32, True, True),
    (1, 17, 1, 4, 8, 1, torch.float32, True, False),
    (1, 17, 1, 8, 8, 3, torch.float32, False, True),
    (2, 3, 1, 16, 16, 4, torch.float32, True, True),
    (1, 17, 2, 8, 8, 2, torch.bfloat16, True, True),
    (2, 3, 1, 4, 4, 4, torch.bfloat16, False, False),
    (1, 3, 1, 5, 3, 3, torch.float32, True, True),       # K, V not powers of two
    (1, 3, 1, 4, 4, 2, torch.float64, True, True),
]


@pytest.mark.parametrize("B,T,H,K,V,n_h,dtype,gate,init", CASES)
def test_kernel_matches_reference(gen, make_inputs, check_against_reference, poison_empty, device,
                                  B, T, H, K, V, n_h, dtype, gate, init):
    _compare(gen, make_inputs, check_against_reference, poison_empty, device, B=B, T=T, H=H, K=K, V=V,
             n_h=n_h, dtype=dtype, gate=gate, init=init)


@pytest.mark.parametrize("block_v", [2, 4])
def test_several_value_blocks(gen, make_inputs, check_against_reference, poison_empty, device, block_v):
    # V split over programs: partial sums of dq, dk, dbeta and the gate terms
    _compare(gen, make_inputs, check_against_reference, poison_empty, device, B=1, T=3, H=1, K=4, V=7,
             n_h=2, dtype=torch.float32, gate=True, init=True, block_v=block_v)


def test_without_final_state(gen, make_inputs, check_against_reference, poison_empty, device):
    _compare(gen, make_inputs, check_against_reference, poison_empty, device, B=1, T=3, H=1, K=4, V=4,
             n_h=2, dtype=torch.float32, gate=True, init=True, final=False)


def test_forward_only_float16(gen, make_inputs, check_against_reference, poison_empty, device):
    _compare(gen, make_inputs, check_against_reference, poison_empty, device, B=1, T=17, H=1, K=8, V=8,
             n_h=1, dtype=torch.float16, gate=False, init=True, grads=False)


def test_gradient_of_some_inputs_only(gen, make_inputs, device):
    x = make_inputs(gen, B=1, T=3, H=1, K=4, V=4, n_h=2, gate=True, initial_state=True,
                    device=device)
    x["v"].requires_grad_(True)
    o, _ = fused_recurrent_delta_product(x["q"], x["k"], x["v"], x["beta"], num_householder=2,
                                         g=x["g"], initial_state=x["initial_state"])
    (dv,) = torch.autograd.grad(o.sum(), [x["v"]])
    ref_v = x["v"].detach().double().requires_grad_(True)
    o_ref, _ = delta_product_ref(x["q"].double(), x["k"].double(), ref_v, x["beta"].double(),
                                 num_householder=2, g=x["g"].double(),
                                 initial_state=x["initial_state"].double())
    (dv_ref,) = torch.autograd.grad(o_ref.sum(), [ref_v])
    assert_rel_close(dv, dv_ref, torch.float32, kind="bwd", name="dv")


def test_empty_sequence(gen, make_inputs, device):
    x = make_inputs(gen, B=2, T=0, H=1, K=4, V=4, initial_state=True, device=device)
    o, s = fused_recurrent_delta_product(x["q"], x["k"], x["v"], x["beta"],
                                         initial_state=x["initial_state"],
                                         output_final_state=True)
    assert o.shape == (2, 0, 1, 4) and torch.equal(s, x["initial_state"])


def test_parity_is_exact_in_bfloat16(gen, device):
    B, T = 2, 33
    word = torch.randint(0, 2, (B, T), generator=gen)
    k = torch.tensor([1.0, -1.0], dtype=torch.bfloat16).expand(B, T, 1, 2).contiguous()
    beta = word.to(torch.bfloat16).view(B, T, 1)
    v = torch.zeros(B, T, 1, 1, dtype=torch.bfloat16)
    q = torch.tensor([0.0, 1.0], dtype=torch.bfloat16).expand(B, T, 1, 2).contiguous()
    s0 = torch.tensor([[1.0], [0.0]]).expand(B, 1, 2, 1).contiguous()
    o, _ = fused_recurrent_delta_product(*(t.to(device) for t in (q, k, v, beta)), scale=1.0,
                                         initial_state=s0.to(device))
    assert torch.equal(o[:, :, 0, 0].float().cpu(), (word.cumsum(1) % 2).float())


def test_kernel_input_errors(gen, make_inputs, device):
    x = make_inputs(gen, B=1, T=3, H=1, K=4, V=4, n_h=2, device=device)
    args = (x["q"], x["k"], x["v"], x["beta"])
    with pytest.raises(E.KernelShapeError, match=r"k: expected shape"):
        fused_recurrent_delta_product(*args)          # num_householder missing: k has 6 rows
    bad = x["beta"].clone()
    bad[0, 0, 0] = 3.0
    with pytest.raises(E.BetaRangeError, match="beta: values must lie in"):
        fused_recurrent_delta_product(x["q"], x["k"], x["v"], bad, num_householder=2)
    with pytest.raises(E.KernelShapeError, match=r"out: expected shape \[B, T, H, V\]"):
        fused_recurrent_delta_product(*args, num_householder=2,
                                      out=torch.empty(1, 2, 1, 4, device=device))
    with pytest.raises(E.KernelInputError, match="final_state_out: given but"):
        fused_recurrent_delta_product(*args, num_householder=2,
                                      final_state_out=torch.empty(1, 1, 4, 4, device=device))
    with pytest.raises(E.KernelDtypeError, match="final_state_out: expected dtype float32"):
        fused_recurrent_delta_product(*args, num_householder=2, output_final_state=True,
                                      final_state_out=torch.empty(1, 1, 4, 4, device=device,
                                                                  dtype=torch.bfloat16))
    with pytest.raises(E.KernelShapeError, match="q: K=300 exceeds"):
        fused_recurrent_delta_product(torch.zeros(1, 1, 1, 300, device=device),
                                      torch.zeros(1, 1, 1, 300, device=device),
                                      torch.zeros(1, 1, 1, 4, device=device),
                                      torch.zeros(1, 1, 1, device=device))


def test_choose_blocks():
    for K, V in [(2, 2), (5, 3), (16, 16), (64, 64), (128, 128)]:
        for bwd in (False, True):
            blk = choose_blocks(K, V, 4, backward=bwd)
            assert blk.BK >= K and blk.BK & (blk.BK - 1) == 0
            assert 2 <= blk.BV and blk.BV & (blk.BV - 1) == 0
            assert blk.elements <= (2048 if bwd else 1024) or blk.BV == 2
    from statetrack.kernels.errors import KernelInputError

    for bad in (3, 1, 4.0, True, "4"):
        with pytest.raises(KernelInputError, match="^block_v:"):
            choose_blocks(4, 4, 1, block_v=bad)


# ----------------------------------------------------------------------------- GPU, full size


@pytest.mark.gpu
@pytest.mark.parametrize("T", [1, 63, 1000])
@pytest.mark.parametrize("n_h", [1, 2, 3])
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
def test_full_size_on_gpu(gen, make_inputs, check_against_reference, poison_empty, T, n_h, dtype):
    _compare(gen, make_inputs, check_against_reference, poison_empty, torch.device("cuda"), B=2, T=T, H=2,
             K=128, V=128, n_h=n_h, dtype=dtype, gate=True, init=True)


@pytest.mark.gpu
@pytest.mark.parametrize("T", [63, 1000])
def test_full_size_on_gpu_n_h_4_no_gate(gen, make_inputs, check_against_reference, poison_empty, T):
    _compare(gen, make_inputs, check_against_reference, poison_empty, torch.device("cuda"), B=2, T=T, H=2,
             K=128, V=128, n_h=4, dtype=torch.bfloat16, gate=False, init=False)
