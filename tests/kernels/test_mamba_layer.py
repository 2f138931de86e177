"""MambaLayer: shapes, the two transition ranges, backends against each other and the
sequential reference, gradients (gradcheck in float64), option errors; the constructed layer
recognizes parity and Z_2 counters exactly on long words; a [0, 1] layer cannot (its state
under a repeated input becomes constant in floats: Theorem 1)."""

from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F

from statetrack.automata import DFA
from statetrack.automata.families import get
from statetrack.constructions.mamba import mamba_construction
from statetrack.kernels import MambaLayer, decode_mamba
from statetrack.kernels import errors as E
from statetrack.kernels._common.tolerances import assert_rel_close


def _layer(gen, **kw):
    opts = dict(num_heads=2, state_size=4, backend="torch", expand=1)
    opts.update(kw)
    return MambaLayer(8, generator=gen, **opts)


@pytest.mark.parametrize("eigen_range", ["[-1,1]", "[0,1]"])
@pytest.mark.parametrize("a_mode", ["exp", "sigmoid", "raw"])
def test_transitions_lie_in_their_range(gen, eigen_range, a_mode):
    layer = _layer(gen, eigen_range=eigen_range, a_mode=a_mode)
    with torch.no_grad():           # large weights push s to both ends of [0, 1]
        layer.in_proj.weight.mul_(50.0)
    x = torch.randn(4, 30, 8, generator=gen)
    a = layer.transitions(x).detach()
    lo = -1.0 if eigen_range == "[-1,1]" else 0.0
    assert float(a.min()) >= lo and float(a.max()) <= 1.0
    if eigen_range == "[-1,1]":
        assert float(a.min()) < 0.0    # negative eigenvalues are reached
    y = layer(x)
    assert y.shape == (4, 30, 8) and bool(torch.isfinite(y).all())


def test_backends_agree_with_the_sequential_reference(gen, device):
    layer = _layer(gen, learn_initial_state=True)
    with torch.no_grad():
        layer.initial_state.normal_(generator=gen)
    layer = layer.to(device)       # Triton needs CUDA tensors where CUDA is (interpreter: CPU)
    x = torch.randn(2, 37, 8, generator=gen).to(device)
    ys = {}
    for backend in ("reference", "torch", "triton", "ssd"):
        layer.config = layer.config.__class__(**{**layer.config.__dict__, "backend": backend,
                                                 "chunk_size": 16})
        ys[backend] = layer(x)
    for backend in ("torch", "triton", "ssd"):
        assert_rel_close(ys[backend], ys["reference"].double(), torch.float32, name=backend)


def test_gradients_reach_every_parameter(gen):
    layer = _layer(gen, learn_initial_state=True)
    x = torch.randn(2, 9, 8, generator=gen, requires_grad=True)
    layer(x).pow(2).sum().backward()
    for name, p in list(layer.named_parameters()) + [("x", x)]:
        assert p.grad is not None and bool(torch.isfinite(p.grad).all()), name
        if name != "initial_state":    # zero at init, and its gradient may vanish with it
            assert float(p.grad.abs().sum()) > 0, name


def test_gradcheck_float64(gen):
    layer = _layer(gen, dtype=torch.float64, state_size=2, learn_initial_state=True)
    x = torch.randn(1, 5, 8, generator=gen, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: layer(x), (x,))


def test_return_state_and_initial_state(gen):
    layer = _layer(gen)
    x = torch.randn(2, 6, 8, generator=gen)
    y, h = layer(x, return_state=True)
    assert h.shape == (2, 2, 4, 4)              # [B, H, P = expand * 8 / H, N]
    # running the second half from the first half's state gives the same outputs, provided
    # the convolution sees the same inputs: switch it off for this check
    layer = _layer(gen, use_short_conv=False)
    y = layer(x)
    _, h3 = layer(x[:, :3], return_state=True)
    y2 = layer(x[:, 3:], initial_state=h3)
    assert_rel_close(y2, y[:, 3:].double(), torch.float32)


def test_a_config_object_as_delta_product_layer_takes_one(gen):
    """``MambaLayer(MambaConfig(...))`` builds the same layer as the fields do; a config with
    fields beside it is an error naming them."""
    from statetrack.kernels.layers.diagonal import MambaConfig

    cfg = MambaConfig(hidden_size=8, num_heads=2, state_size=4, backend="torch", gate=False)
    a = MambaLayer(cfg, generator=torch.Generator().manual_seed(3))
    b = MambaLayer(8, num_heads=2, state_size=4, backend="torch", gate=False,
                   generator=torch.Generator().manual_seed(3))
    assert a.config == b.config == cfg
    x = torch.randn(2, 5, 8, generator=gen)
    assert torch.equal(a(x), b(x))
    for extra, name in [({"num_heads": 4}, "num_heads"),     # the default's value, given
                        ({"expand": 2}, "expand"), ({"eigen_range": "[0,1]"}, "eigen_range")]:
        with pytest.raises(E.LayerConfigError, match=f"not both \\(got {name}\\)"):
            MambaLayer(cfg, **extra)


def test_option_errors(gen):
    with pytest.raises(E.LayerConfigError, match="eigen_range"):
        MambaLayer(8, eigen_range="[-2,2]")
    with pytest.raises(E.LayerConfigError, match="backend"):
        MambaLayer(8, backend="cuda")
    with pytest.raises(E.LayerConfigError, match="num_heads: 3 does not divide"):
        MambaLayer(8, num_heads=3)
    with pytest.raises(E.LayerConfigError, match="a_mode"):
        MambaLayer(8, a_mode="softplus")
    with pytest.raises(E.LayerConfigError, match="unexpected keyword"):
        MambaLayer(8, heads=2)
    with pytest.raises(E.LayerConfigError, match="x: expected"):
        _layer(gen)(torch.zeros(1, 2, 7))
    with pytest.raises(E.LayerConfigError, match="initial_state"):
        _layer(gen)(torch.zeros(1, 2, 8), initial_state=torch.zeros(1, 2))
    # an input of another dtype than the (float32) parameters: the layer's error, not torch's
    with pytest.raises(E.LayerConfigError, match=r"x: dtype torch.float64 differs from the "
                                                 r"layer's parameters' torch.float32"):
        _layer(gen)(torch.zeros(1, 2, 8, dtype=torch.float64))
    with pytest.raises(E.StateDictError, match="MambaForm"):
        MambaLayer.from_construction(get("parity"))


# ----------------------------------------------------------------------------- constructions


def _flips(flips, accept):
    return DFA.from_function(0, "".join(flips), lambda q, x: q ^ flips[x], lambda q: q in accept)


@pytest.mark.parametrize("backend,T,dtype", [("ssd", 20_000, torch.float32),
                                             ("torch", 20_000, torch.float32),
                                             ("torch", 20_000, torch.bfloat16),
                                             ("reference", 2_000, torch.float32),
                                             ("triton", 2_000, torch.float32)])
def test_constructed_layer_recognizes_parity_on_long_words(gen, device, backend, T, dtype):
    dfa = get("parity")
    form = mamba_construction(dfa)
    layer = MambaLayer.from_construction(form, backend=backend, dtype=dtype)
    assert layer.conv is not None        # the pass-through convolution is part of the run
    words = torch.randint(0, 2, (3, T), generator=gen)
    x = F.one_hot(words, 2).to(dtype)
    if backend == "triton":               # CUDA tensors where CUDA is (interpreter: CPU)
        layer, x = layer.to(device), x.to(device)
    with torch.no_grad():
        y = layer(x).cpu()
    _, accepted = decode_mamba(form, y)
    want = (words.cumsum(1) % 2 == 1)     # '1' is symbol 1; accepted = odd number of ones
    assert dfa.alphabet == ("0", "1") and torch.equal(accepted, want)
    assert set(y.float().unique().tolist()) <= {0.0, 1.0}   # exact states


def test_constructed_layer_recognizes_z2_counters(gen):
    flips = {"a": 1, "b": 2, "c": 4, "d": 7}
    dfa = _flips(flips, {0, 5})
    form = mamba_construction(dfa)
    layer = MambaLayer.from_construction(form, backend="torch")
    words = torch.randint(0, 4, (4, 5000), generator=gen)
    with torch.no_grad():
        _, accepted = decode_mamba(form, layer(F.one_hot(words, 4).float()))
    bits = torch.tensor([flips[x] for x in form.alphabet])[words]
    state = torch.zeros(4, dtype=torch.long)
    want = []
    for t in range(words.shape[1]):
        state = state ^ bits[:, t]
        want.append((state == 0) | (state == 5))
    assert torch.equal(accepted, torch.stack(want, 1))


@pytest.mark.parametrize("a_mode", ["exp", "sigmoid"])
def test_unit_interval_layer_cannot_tell_odd_from_even_lengths(gen, a_mode):
    # Theorem 1 in the layer's own float32 arithmetic (the sequential scan): with a in [0, 1]
    # each channel's orbit under a constant input is monotone, so it stops. The certificate:
    # two prefixes of lengths t and t + 1 (different parities) reach bit-identical states,
    # hence identical outputs after any continuation, whatever the readout. (Compared away
    # from the end of the run: PyTorch's vectorized exp computes the tail of a tensor with
    # scalar code, which can round the last few gates differently.)
    layer = _layer(gen, eigen_range="[0,1]", a_mode=a_mode, backend="reference")
    with torch.no_grad():     # s well below 1, so that the orbit stops within T steps
        layer.dt_bias.zero_()
    T = 4000
    x = torch.randn(1, 1, 8, generator=gen).expand(1, T + 1, 8).contiguous()
    with torch.no_grad():
        h = layer.states(x)
    t = T // 2
    assert float(h[:, t].abs().max()) > 0
    assert torch.equal(h[:, t], h[:, t + 1])
    # with [-1, 1] and the parity construction the states alternate for ever instead
    form = mamba_construction(get("parity"))
    ones = F.one_hot(torch.ones(1, T + 1, dtype=torch.long), 2).float()
    with torch.no_grad():
        hp = MambaLayer.from_construction(form, backend="torch").states(ones)
    assert not bool((hp[:, 1:] == hp[:, :-1]).any())


def _sequential(a, u, Bm, Cm, h0):
    """The recurrence step by step (the definition the SSD form must equal)."""
    h = h0.clone()
    outs = []
    for t in range(a.shape[1]):
        h = a[:, t, :, None, None] * h + u[:, t, :, :, None] * Bm[:, t, :, None, :]
        outs.append((h * Cm[:, t, :, None, :]).sum(-1))
    return (torch.stack(outs, 1) if outs else u.new_zeros(u.shape)), h


@pytest.mark.parametrize("T", [0, 1, 5, 16, 37])
@pytest.mark.parametrize("chunk_size", [1, 4, 16, 64])
def test_ssd_readout_is_the_recurrence(gen, T, chunk_size):
    from statetrack.kernels.layers.diagonal import ssd_readout

    B, H, P, N = 2, 3, 4, 5
    a = 2 * torch.rand(B, T, H, generator=gen, dtype=torch.float64) - 1
    if T > 3:                      # exact zeros and both ends of [-1, 1] are ordinary values
        a[:, 1, 0], a[:, 2, 1], a[:, 3, 2] = 0.0, -1.0, 1.0
    u = torch.randn(B, T, H, P, generator=gen, dtype=torch.float64)
    Bm = torch.randn(B, T, H, N, generator=gen, dtype=torch.float64)
    Cm = torch.randn(B, T, H, N, generator=gen, dtype=torch.float64)
    h0 = torch.randn(B, H, P, N, generator=gen, dtype=torch.float64)
    want_o, want_h = _sequential(a, u, Bm, Cm, h0)
    o, h = ssd_readout(a, u, Bm, Cm, h0, chunk_size=chunk_size, return_state=True)
    assert o.shape == (B, T, H, P) and h.shape == (B, H, P, N)
    assert torch.allclose(o, want_o, rtol=1e-12, atol=1e-12)
    assert torch.allclose(h, want_h, rtol=1e-12, atol=1e-12)
    o0 = ssd_readout(a, u, Bm, Cm, chunk_size=chunk_size)         # no initial state: zeros
    assert torch.allclose(o0, _sequential(a, u, Bm, Cm, torch.zeros_like(h0))[0],
                          rtol=1e-12, atol=1e-12)


def test_ssd_readout_gradients_match_the_recurrence(gen):
    from statetrack.kernels.layers.diagonal import ssd_readout

    B, T, H, P, N = 2, 11, 2, 3, 2
    ins = [2 * torch.rand(B, T, H, generator=gen, dtype=torch.float64) - 1,
           torch.randn(B, T, H, P, generator=gen, dtype=torch.float64),
           torch.randn(B, T, H, N, generator=gen, dtype=torch.float64),
           torch.randn(B, T, H, N, generator=gen, dtype=torch.float64),
           torch.randn(B, H, P, N, generator=gen, dtype=torch.float64)]
    ins[0][:, 4, 1] = 0.0          # a zero transition: cumprod's backward must handle it
    a = [t.clone().requires_grad_() for t in ins]
    b = [t.clone().requires_grad_() for t in ins]
    w = torch.randn(B, T, H, P, generator=gen, dtype=torch.float64)
    o, h = ssd_readout(*a, chunk_size=4, return_state=True)
    ((o * w).sum() + h.sum()).backward()
    o2, h2 = _sequential(*b)
    ((o2 * w).sum() + h2.sum()).backward()
    for x, y in zip(a, b):
        assert torch.allclose(x.grad, y.grad, rtol=1e-10, atol=1e-12)
    assert torch.autograd.gradcheck(lambda *t: ssd_readout(*t, chunk_size=3),
                                    [t.clone().requires_grad_() for t in ins])


def test_ssd_backend_states_and_errors(gen):
    from statetrack.kernels.layers.diagonal import ssd_readout

    layer = _layer(gen, backend="ssd", chunk_size=16)
    ref = _layer(gen, backend="torch", chunk_size=16)
    ref.load_state_dict(layer.state_dict())
    x = torch.randn(2, 23, 8, generator=gen)
    y, h = layer(x, return_state=True)
    y2, h2 = ref(x, return_state=True)
    assert_rel_close(y, y2.double(), torch.float32)
    assert_rel_close(h, h2.double(), torch.float32)
    assert layer.states(x).shape == (2, 23, 2, 4, 4)     # states() still runs the scan
    with pytest.raises(E.LayerConfigError, match="chunk_size"):
        ssd_readout(torch.zeros(1, 2, 1), torch.zeros(1, 2, 1, 1), torch.zeros(1, 2, 1, 1),
                    torch.zeros(1, 2, 1, 1), chunk_size=0)


def test_segment_products_and_their_gradient_without_division(gen):
    """L[t, s] = prod_{r=s+1..t} a_r and its gradient by products only: zeros (one, two in a
    row) and -1 are ordinary inputs; gradcheck in float64."""
    from statetrack.kernels.layers.diagonal import _SegmentProducts

    a = 2 * torch.rand(3, 9, generator=gen, dtype=torch.float64) - 1
    a[0, 3] = 0.0
    a[1, 4] = a[1, 5] = 0.0
    a[2, 2] = -1.0
    lmat = _SegmentProducts.apply(a)
    for t in range(9):
        for s in range(9):
            want = torch.prod(a[:, s + 1:t + 1], dim=-1) if s <= t else torch.zeros(3)
            assert torch.equal(lmat[:, t, s], want.to(lmat.dtype)), (t, s)
    assert torch.autograd.gradcheck(_SegmentProducts.apply, (a.clone().requires_grad_(),))


def _ssd_inputs(gen, B=2, T=9, H=3, P=2, N=4, dtype=torch.float64):
    return (2 * torch.rand(B, T, H, generator=gen, dtype=dtype) - 1,
            torch.randn(B, T, H, P, generator=gen, dtype=dtype),
            torch.randn(B, T, H, N, generator=gen, dtype=dtype),
            torch.randn(B, T, H, N, generator=gen, dtype=dtype))


@pytest.mark.parametrize("which, bad, err, says", [
    # sizes that broadcast (a size-1 dimension) or chunks sliced past a short tensor's end
    # ran without an error and returned a wrong readout
    ("u", lambda t: t[:, :5], E.KernelShapeError, "u: expected shape [B, T, H, P]"),
    ("Bm", lambda t: t[:, :, :1], E.KernelShapeError, "Bm: expected shape [B, T, H, N]"),
    ("Bm", lambda t: t[..., :1], E.KernelShapeError, "Cm: expected shape [B, T, H, N]"),
    ("Cm", lambda t: t[:1], E.KernelShapeError, "Cm: expected shape [B, T, H, N]"),
    ("a", lambda t: t[..., :1], E.KernelShapeError, "u: expected shape [B, T, H, P]"),
    ("h0", lambda t: t[..., :1], E.KernelShapeError, "h0: expected shape [B, H, P, N]"),
    ("a", lambda t: t[..., None], E.KernelShapeError, "a: expected 3 dimensions"),
    ("u", lambda t: t.float(), E.KernelDtypeError, "u: dtype float32 differs from a's"),
    ("a", lambda t: t.float(), E.KernelDtypeError, "differs from a's float32"),
    ("h0", lambda t: t.bfloat16(), E.KernelDtypeError, "h0"),
    ("a", lambda t: (t > 0).long(), E.KernelDtypeError, "a: dtype int64"),
    ("Cm", lambda t: t.tolist(), E.KernelDtypeError, "Cm: expected a torch.Tensor"),
])
def test_ssd_readout_rejects_inputs_that_do_not_fit(gen, which, bad, err, says):
    from statetrack.kernels.layers.diagonal import ssd_readout

    args = dict(zip(("a", "u", "Bm", "Cm"), _ssd_inputs(gen)))
    args["h0"] = torch.randn(2, 3, 2, 4, generator=gen, dtype=torch.float64)
    args[which] = bad(args[which])
    with pytest.raises(err, match=re.escape(says)):
        ssd_readout(**args, chunk_size=4, return_state=True)


def test_ssd_readout_accumulates_16bit_inputs_in_float32(gen):
    """bfloat16 inputs: the products and the state carried between chunks in float32 (as the
    scans do); the readout comes back in bfloat16, the state in float32. Accumulated in
    bfloat16, the final state was off by 0.75 % here."""
    from statetrack.kernels.layers.diagonal import ssd_readout

    a, u, Bm, Cm = _ssd_inputs(gen, B=1, T=600, H=2, P=4, N=4)
    a = 0.995 + 0.005 * (a + 1) / 2                  # long memory: the carry matters
    ins = [t.bfloat16() for t in (a, 0.1 * u, Bm, Cm)]
    h0 = torch.randn(1, 2, 4, 4, generator=gen)
    want_o, want_h = _sequential(*[t.double() for t in ins], h0.double())
    o, h = ssd_readout(*ins, h0, chunk_size=64, return_state=True)
    assert o.dtype == torch.bfloat16 and h.dtype == torch.float32
    assert_rel_close(o, want_o, torch.bfloat16)
    assert_rel_close(h, want_h, torch.float32)
    o2, h2 = ssd_readout(*ins, h0.bfloat16(), chunk_size=64, return_state=True)  # 16-bit h0
    assert h2.dtype == torch.float32 and o2.dtype == torch.bfloat16
    # float64 inputs take a float32 initial state too (as diagonal_scan's h0)
    a64, u64, B64, C64 = _ssd_inputs(gen)
    h32 = torch.randn(2, 3, 2, 4, generator=gen)
    o3, h3 = ssd_readout(a64, u64, B64, C64, h32, chunk_size=4, return_state=True)
    w3, wh3 = _sequential(a64, u64, B64, C64, h32.double())
    assert h3.dtype == torch.float64
    assert torch.allclose(o3, w3, rtol=1e-12, atol=1e-12)
    assert torch.allclose(h3, wh3, rtol=1e-12, atol=1e-12)


def test_ssd_readout_stays_float32_under_autocast(gen):
    """Autocast casts einsum's products to bfloat16; the readout and the carried state are
    the float32 recurrence's all the same (the scans' backends are not cast either)."""
    from statetrack.kernels.layers.diagonal import ssd_readout

    a, u, Bm, Cm = (t.float() for t in _ssd_inputs(gen, B=2, T=400, H=2, P=4, N=4))
    a = 0.98 + 0.02 * (a + 1) / 2
    want_o, want_h = _sequential(*[t.double() for t in (a, u, Bm, Cm)],
                                 torch.zeros(2, 2, 4, 4, dtype=torch.float64))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        o, h = ssd_readout(a, u, Bm, Cm, chunk_size=64, return_state=True)
    assert o.dtype == h.dtype == torch.float32
    assert_rel_close(o, want_o, torch.float32)
    assert_rel_close(h, want_h, torch.float32)
