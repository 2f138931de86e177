"""The PyTorch reference against an independent float64 formulation; input validation and
every kernel error class; the tolerance table."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from statetrack.kernels import errors as E
from statetrack.kernels._common.checks import check_out_buffer, check_symbols
from statetrack.kernels._common.triton import require_runnable
from statetrack.kernels.delta_product.naive import delta_product_ref
from statetrack.kernels._common.tolerances import TOLERANCES, assert_rel_close, rel_error


def _matrix_form(q, k, v, beta, g, h0, n_h, scale):
    """Independent float64 numpy evaluation: build A_t = G_{n_h-1}..G_0 exp(g_t) and
    B_t = sum_j G_{n_h-1}..G_{j+1} beta_j k_j v_j^T explicitly, then S_t = A_t S + B_t."""
    q, k, v, beta = (np.asarray(x.detach().double()) for x in (q, k, v, beta))
    Bn, T, H, K = q.shape
    V = v.shape[-1]
    o = np.zeros((Bn, T, H, V))
    S_all = np.zeros((Bn, H, K, V)) if h0 is None else h0.detach().double().numpy().copy()
    for b in range(Bn):
        for h in range(H):
            S = S_all[b, h].copy()
            for t in range(T):
                A = np.eye(K) * (math.exp(float(g[b, t, h])) if g is not None else 1.0)
                Bm = np.zeros((K, V))
                for j in range(n_h):
                    i = t * n_h + j
                    kk = k[b, i, h]
                    G = np.eye(K) - beta[b, i, h] * np.outer(kk, kk)
                    A = G @ A
                    Bm = G @ Bm + beta[b, i, h] * np.outer(kk, v[b, i, h])
                S = A @ S + Bm
                o[b, t, h] = S.T @ (scale * q[b, t, h])
            S_all[b, h] = S
    return o, S_all


@pytest.mark.parametrize("n_h", [1, 2, 3, 4])
@pytest.mark.parametrize("gate,init", [(False, False), (True, True), (True, False)])
def test_reference_matches_matrix_form(gen, make_inputs, n_h, gate, init):
    x = make_inputs(gen, B=2, T=5, H=2, K=3, V=4, n_h=n_h, dtype=torch.float64, gate=gate,
                    initial_state=init)
    o, s = delta_product_ref(x["q"], x["k"], x["v"], x["beta"], num_householder=n_h,
                             g=x["g"], initial_state=x["initial_state"],
                             output_final_state=True)
    o_np, s_np = _matrix_form(x["q"], x["k"], x["v"], x["beta"], x["g"], x["initial_state"],
                              n_h, 3 ** -0.5)
    assert o.dtype == torch.float64 and s.dtype == torch.float64
    assert rel_error(o, torch.from_numpy(o_np)) < TOLERANCES[torch.float64].fwd
    assert rel_error(s, torch.from_numpy(s_np)) < TOLERANCES[torch.float64].fwd


def test_reference_output_dtypes_and_no_final_state(gen, make_inputs):
    x = make_inputs(gen, B=1, T=3, H=1, K=4, V=4, dtype=torch.bfloat16)
    o, s = delta_product_ref(x["q"], x["k"], x["v"], x["beta"])
    assert o.dtype == torch.bfloat16 and s is None
    _, s = delta_product_ref(x["q"], x["k"], x["v"], x["beta"], output_final_state=True)
    assert s.dtype == torch.float32


def test_reference_gradcheck(gen, make_inputs):
    x = make_inputs(gen, B=1, T=2, H=1, K=2, V=2, n_h=2, dtype=torch.float64, gate=True,
                    initial_state=True, requires_grad=True)
    # keep beta inside (0, 2) so finite differences do not cross the range check
    with torch.no_grad():
        x["beta"].clamp_(0.1, 1.9)

    def f(q, k, v, beta, g, h0):
        o, s = delta_product_ref(q, k, v, beta, num_householder=2, g=g, initial_state=h0,
                                 output_final_state=True)
        return o, s

    assert torch.autograd.gradcheck(f, tuple(x[n] for n in ("q", "k", "v", "beta", "g",
                                                             "initial_state")))


def test_reference_parity_exact_in_bfloat16():
    rng = np.random.default_rng(0)
    word = rng.integers(0, 2, size=(3, 257))
    B, T = word.shape
    k = torch.tensor([1.0, -1.0], dtype=torch.bfloat16).expand(B, T, 1, 2)
    beta = torch.tensor(word, dtype=torch.bfloat16).view(B, T, 1)
    v = torch.zeros(B, T, 1, 1, dtype=torch.bfloat16)
    q = torch.tensor([0.0, 1.0], dtype=torch.bfloat16).expand(B, T, 1, 2)
    s0 = torch.tensor([[1.0], [0.0]]).expand(B, 1, 2, 1)
    o, _ = delta_product_ref(q, k, v, beta, scale=1.0, initial_state=s0)
    assert torch.equal(o[:, :, 0, 0].float(), torch.tensor(np.cumsum(word, 1) % 2).float())


def test_reference_empty_sequence(gen, make_inputs):
    x = make_inputs(gen, B=2, T=0, H=1, K=3, V=2, initial_state=True)
    o, s = delta_product_ref(x["q"], x["k"], x["v"], x["beta"],
                             initial_state=x["initial_state"], output_final_state=True)
    assert o.shape == (2, 0, 1, 2) and torch.equal(s, x["initial_state"])


# ----------------------------------------------------------------------------- bad input


def _good(gen, **kw):
    x = {"q": torch.randn(2, 3, 1, 4, generator=gen), "k": torch.randn(2, 6, 1, 4, generator=gen),
         "v": torch.randn(2, 6, 1, 5, generator=gen), "beta": torch.rand(2, 6, 1, generator=gen)}
    x.update(kw)
    return x


def _call(x, **kw):
    kw.setdefault("num_householder", 2)
    return delta_product_ref(x["q"], x["k"], x["v"], x["beta"], **kw)


def test_good_inputs_pass(gen):
    o, _ = _call(_good(gen))
    assert o.shape == (2, 3, 1, 5)


@pytest.mark.parametrize("name,shape,pattern", [
    ("k", (2, 5, 1, 4), r"k: expected shape \[B, T\*n_h, H, K\] = \[2, 6, 1, 4\]"),
    ("v", (2, 6, 2, 5), r"v: expected shape \[B, T\*n_h, H, V\]"),
    ("beta", (2, 3, 1), r"beta: expected shape \[B, T\*n_h, H\] = \[2, 6, 1\]"),
    ("q", (2, 3, 4), r"q: expected 4 dimensions, got 3"),
])
def test_shape_errors_name_the_argument(gen, name, shape, pattern):
    x = _good(gen, **{name: torch.rand(*shape, generator=gen)})
    with pytest.raises(E.KernelShapeError, match=pattern):
        _call(x)


def test_gate_and_initial_state_shapes(gen):
    x = _good(gen)
    with pytest.raises(E.KernelShapeError, match=r"g: expected shape \[B, T, H\] = \[2, 3, 1\]"):
        _call(x, g=torch.zeros(2, 6, 1))
    with pytest.raises(E.KernelShapeError, match=r"initial_state: expected shape \[B, H, K, V\]"):
        _call(x, initial_state=torch.zeros(2, 1, 5, 4))


def test_dtype_errors_name_the_argument(gen):
    x = _good(gen, v=torch.randn(2, 6, 1, 5, generator=gen).double())
    with pytest.raises(E.KernelDtypeError, match="v: dtype float64 differs from q's float32"):
        _call(x)
    x = _good(gen, beta=torch.ones(2, 6, 1, dtype=torch.int64))
    with pytest.raises(E.KernelDtypeError, match="beta: dtype int64 is not supported"):
        _call(x)
    with pytest.raises(E.KernelDtypeError, match="q: expected a torch.Tensor, got list"):
        delta_product_ref([1.0], torch.zeros(1), torch.zeros(1), torch.zeros(1))


def test_device_error_names_the_argument(gen):
    x = _good(gen, v=torch.empty(2, 6, 1, 5, device="meta"))
    with pytest.raises(E.KernelDeviceError, match="v: is on device meta, but q is on cpu"):
        _call(x)


def _meta(x):
    return {n: t.to("meta") for n, t in x.items()}


@pytest.mark.parametrize("op", ["reference", "recurrent", "chunk"])
def test_value_checks_on_meta_tensors_name_the_argument(gen, op):
    """Every input on the meta device: the value checks (beta's range, finiteness) cannot
    read values there, and say so naming the argument instead of failing in Tensor.item()."""
    from statetrack.kernels import chunk_delta_product, fused_recurrent_delta_product
    fn = {"reference": delta_product_ref, "recurrent": fused_recurrent_delta_product,
          "chunk": chunk_delta_product}[op]
    x = _meta(_good(gen))
    with pytest.raises(E.KernelDeviceError,
                       match="beta: is on the meta device, which holds no values, so the range"):
        fn(x["q"], x["k"], x["v"], x["beta"], num_householder=2)
    with pytest.raises(E.KernelDeviceError,
                       match="q: is on the meta device, which holds no values, so whether"):
        fn(x["q"], x["k"], x["v"], x["beta"], num_householder=2, check_beta=False,
           check_finite=True)
    if op == "reference":  # pure PyTorch: shapes propagate through meta tensors
        o, s = fn(x["q"], x["k"], x["v"], x["beta"], num_householder=2, check_beta=False,
                  output_final_state=True)
        assert (o.device.type, tuple(o.shape), tuple(s.shape)) == ("meta", (2, 3, 1, 5),
                                                                   (2, 1, 4, 5))
    else:
        with pytest.raises(E.KernelUnavailableError, match="cannot run on device meta"):
            fn(x["q"], x["k"], x["v"], x["beta"], num_householder=2, check_beta=False)


@pytest.mark.parametrize("bad,shown", [(2.5, "2.5"), (-0.25, "-0.25"), (float("nan"), "NaN")])
def test_beta_range_error(gen, bad, shown):
    x = _good(gen)
    x["beta"][1, 4, 0] = bad
    with pytest.raises(E.BetaRangeError, match=rf"beta: values must lie in \[0, 2\]; got {shown} "
                                               r"at index \(1, 4, 0\)"):
        _call(x)


def test_beta_bounds_are_inclusive(gen):
    x = _good(gen)
    x["beta"][0, 0, 0], x["beta"][0, 1, 0] = 0.0, 2.0
    _call(x)


@pytest.mark.parametrize("name", ["q", "k", "v", "g", "initial_state"])
def test_nonfinite_inputs_on_request(gen, name):
    x = _good(gen)
    extra = {"g": torch.zeros(2, 3, 1), "initial_state": torch.zeros(2, 1, 4, 5)}
    tensors = {**x, **extra}
    tensors[name] = tensors[name].clone()
    tensors[name].view(-1)[1] = float("inf") if name == "v" else float("nan")
    kw = {"g": tensors["g"], "initial_state": tensors["initial_state"]}
    _call(tensors, **kw)  # not checked by default
    with pytest.raises(E.NonFiniteInputError, match=rf"{name}: holds a non-finite value"):
        _call(tensors, check_finite=True, **kw)


def test_other_input_errors(gen):
    x = _good(gen)
    with pytest.raises(E.KernelInputError, match="num_householder: expected an int >= 1, got 0"):
        _call(x, num_householder=0)
    with pytest.raises(E.KernelInputError, match="scale: expected a finite float"):
        _call(x, scale=float("nan"))


def test_out_buffer_errors():
    buf = torch.empty(2, 3)
    with pytest.raises(E.KernelShapeError, match=r"out: expected shape \[B, T\] = \[2, 4\]"):
        check_out_buffer(buf, "out", (2, 4), torch.float32, buf.device, "[B, T]")
    with pytest.raises(E.KernelDtypeError, match="out: expected dtype bfloat16, got float32"):
        check_out_buffer(buf, "out", (2, 3), torch.bfloat16, buf.device)
    with pytest.raises(E.KernelShapeError, match="out: must be contiguous"):
        check_out_buffer(torch.empty(3, 2).t(), "out", (2, 3), torch.float32, buf.device)


def test_symbol_range_error():
    with pytest.raises(E.SymbolRangeError, match=r"symbols: ids must lie in 0 \.\. 2 .* got -1 at "
                                                 r"index \(1, 0\)"):
        check_symbols(torch.tensor([[0, 2], [-1, 1]]), "symbols", 3)


def test_unavailable_error():
    with pytest.raises(E.KernelUnavailableError, match="cannot run on device meta"):
        require_runnable(torch.device("meta"), "kernel")


def test_error_hierarchy():
    for cls in (E.KernelShapeError, E.KernelDtypeError, E.KernelDeviceError, E.BetaRangeError,
                E.NonFiniteInputError, E.SymbolRangeError):
        assert issubclass(cls, E.KernelInputError) and issubclass(cls, ValueError)
    assert issubclass(E.KernelUnavailableError, RuntimeError)
    assert issubclass(E.KernelInputError, E.KernelError)


# ----------------------------------------------------------------------------- tolerances


def test_tolerance_table_covers_dtypes_and_orders():
    assert set(TOLERANCES) == {torch.float64, torch.float32, torch.float16, torch.bfloat16}
    order = [torch.float64, torch.float32, torch.float16, torch.bfloat16]
    for a, b in zip(order, order[1:]):
        assert TOLERANCES[a].fwd <= TOLERANCES[b].fwd and TOLERANCES[a].bwd <= TOLERANCES[b].bwd
    for tol in TOLERANCES.values():
        assert tol.fwd <= tol.bwd


def test_rel_error_rejects_nan_and_bounds():
    ref = torch.ones(4, dtype=torch.float64)
    assert rel_error(torch.tensor([1.0, 1.0, float("nan"), 1.0]), ref) == math.inf
    with pytest.raises(AssertionError, match="output: relative error 5.000e-01 exceeds"):
        assert_rel_close(torch.full((4,), 1.5), ref, torch.float32)
