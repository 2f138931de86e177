"""Tests of :mod:`statetrack.kernels.layers.delta_product`: the DeltaProduct layer and its
construction initializer.

The construction tests feed one-hot words to layers initialized from catalogue group
constructions and compare per-position DFA states, accept bits and final states with the
DFA's own run and the exact model; the general-layer tests compare the kernels' modes with
the float64 reference through the one tolerance table.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from statetrack.automata.families import get
from statetrack.constructions import compile
from statetrack.constructions.examples import two_layer_example
from statetrack.constructions.export import state_dict
from statetrack.kernels.errors import (KernelDtypeError, KernelInputError, LayerConfigError,
                                       StateDictError)
from statetrack.kernels.layers.delta_product import (
    ConstructedLRNN,
    DeltaProductConfig,
    DeltaProductLayer,
    ShortConvolution,
    beta_logits,
    nearest_code,
)
from statetrack.kernels._common.triton import INTERPRET
from statetrack.kernels.runner import dfa_states
from statetrack.kernels._common.tolerances import assert_rel_close

GROUPS = ["parity", "cyclic(5)", "symmetric(4)", "quaternion"]


def _model(spec: str):
    dfa = get(spec)
    lrnn = compile(dfa)
    mini = dfa.minimize()
    perm = np.array([mini.alphabet.index(s) for s in lrnn.alphabet], dtype=np.int64)
    return lrnn, mini, perm


# ----------------------------------------------------------------------------- constructions
@pytest.mark.parametrize("spec", GROUPS)
def test_constructed_layer_reproduces_dfa_reference(spec):
    lrnn, mini, perm = _model(spec)
    rng = np.random.default_rng(zlib.crc32(spec.encode()))
    ids = rng.integers(0, lrnn.n_symbols, size=(4, 40))
    model = ConstructedLRNN.from_construction(lrnn, mode="reference", dtype=torch.float32)
    out = model(torch.as_tensor(ids))
    want_states, want_acc = dfa_states(mini, perm[ids])
    np.testing.assert_array_equal(out.states.numpy(), want_states)
    np.testing.assert_array_equal(out.accepted.numpy(), want_acc)
    # and the exact model: final states bit for bit (integer form, float32)
    for b in range(2):
        tr = lrnn.evaluate(ids[b])
        np.testing.assert_array_equal(out.accepted[b].numpy(), np.array(tr.accepted))
        exact = np.array(tr.states[0][-1].tolist(), dtype=np.float64)
        np.testing.assert_array_equal(out.final_states[0][b, 0].double().numpy(), exact)


@pytest.mark.parametrize("spec", GROUPS)
def test_constructed_layer_reproduces_dfa_recurrent_kernel(spec, device):
    lrnn, mini, perm = _model(spec)
    rng = np.random.default_rng(7 + len(spec))
    ids = rng.integers(0, lrnn.n_symbols, size=(2, 7))
    model = ConstructedLRNN.from_construction(lrnn, mode="recurrent", dtype=torch.float32).to(device)
    assert model.layers[0].config.mode == "recurrent"
    out = model(torch.as_tensor(ids, device=device))
    want_states, want_acc = dfa_states(mini, perm[ids])
    np.testing.assert_array_equal(out.states.cpu().numpy(), want_states)
    np.testing.assert_array_equal(out.accepted.cpu().numpy(), want_acc)


def test_layer_fed_one_hot_outputs_the_state_index():
    lrnn, mini, perm = _model("symmetric(3)")
    layer = DeltaProductLayer.from_construction(lrnn, mode="reference")
    rng = np.random.default_rng(3)
    ids = torch.as_tensor(rng.integers(0, lrnn.n_symbols, size=(3, 25)))
    o, s = layer(F.one_hot(ids, lrnn.n_symbols).float(), output_final_state=True)
    assert o.shape == (3, 25, 1) and s.shape == (3, 1, 6, 1)
    want, _ = dfa_states(mini, perm[ids.numpy()])
    # the group readout: query (0, ..., n-1) on the one-hot state e_q gives q itself
    codes = torch.as_tensor(lrnn.layers[0].float_tables()["codes"])
    cls = nearest_code(o, codes).numpy()
    np.testing.assert_array_equal(np.asarray(lrnn.state_map)[cls], want[:, 1:])
    np.testing.assert_array_equal(o[..., 0].detach().numpy(), codes[cls, 0].numpy())


def test_parameters_load_from_export_state_dict():
    lrnn, _, _ = _model("symmetric(4)")
    sd = state_dict(lrnn, dtype="float32", backend="torch")
    layer = DeltaProductLayer.from_state_dict(sd, mode="reference")
    kt, bt, vt = sd["layers.0.key_table"], sd["layers.0.beta_table"], sd["layers.0.value_table"]
    n_sym, n_h, K = kt.shape
    for x in range(n_sym):
        assert torch.equal(layer.k_proj.weight[:, x], kt[x].reshape(-1))
        assert torch.equal(layer.v_proj.weight[:, x], vt[x].reshape(-1))
        assert torch.equal(layer.b_proj.weight[:, x], bt[x])
        assert torch.equal(layer.q_proj.weight[:, x], sd["layers.0.query"])
    assert torch.equal(layer.initial_state[0], sd["layers.0.initial_state"])
    assert layer.config.num_householder == int(sd["layers.0.num_householder"])
    assert layer.config.scale == float(sd["layers.0.scale"])
    # the numpy state dict loads to the same weights, and the whole model runs the same
    sd_np = state_dict(lrnn, dtype="float32", backend="numpy")
    m1 = ConstructedLRNN.from_state_dict(sd, mode="reference")
    m2 = ConstructedLRNN.from_state_dict(sd_np, mode="reference")
    for p1, p2 in zip(m1.parameters(), m2.parameters()):
        assert torch.equal(p1, p2)
    ids = torch.as_tensor(np.random.default_rng(5).integers(0, n_sym, size=(2, 30)))
    assert torch.equal(m1(ids).states, m2(ids).states)


def test_project_layout_is_fla_interleaved():
    cfg = DeltaProductConfig(hidden_size=5, num_heads=2, head_k_dim=3, head_v_dim=2,
                             num_householder=3, activation="none", l2_normalize=False,
                             beta_mode="raw", mode="reference")
    layer = DeltaProductLayer(cfg, generator=torch.Generator().manual_seed(0))
    x = torch.randn(2, 4, 5, generator=torch.Generator().manual_seed(1))
    p = layer.project(x)
    kk = layer.k_proj(x).reshape(2, 4, 3, 2, 3)      # (n, h, d) channel order, as fla
    vv = layer.v_proj(x).reshape(2, 4, 3, 2, 2)
    bb = layer.b_proj(x).reshape(2, 4, 3, 2).clamp(0, 2)
    for t in range(4):
        for j in range(3):
            assert torch.equal(p["k"][:, t * 3 + j], kk[:, t, j])
            assert torch.equal(p["v"][:, t * 3 + j], vv[:, t, j])
            assert torch.equal(p["beta"][:, t * 3 + j], bb[:, t, j])


def test_sigmoid_beta_exact_for_permutation_form():
    lrnn, mini, perm = _model("cyclic(5)")
    model = ConstructedLRNN.from_construction(lrnn, mode="reference", beta_mode="sigmoid")
    layer = model.layers[0]
    # transpositions use beta = 1 = 2 sigmoid(0); zero keys get logit 0 too
    assert torch.equal(layer.b_proj.weight, torch.zeros_like(layer.b_proj.weight))
    ids = np.random.default_rng(11).integers(0, lrnn.n_symbols, size=(3, 50))
    out = model(torch.as_tensor(ids))
    np.testing.assert_array_equal(out.states.numpy(), dfa_states(mini, perm[ids])[0])


def test_sigmoid_beta_cannot_reach_two():
    # the normalized form needs beta = 2 (unit keys): the sigmoid path clamps the logit
    lrnn = compile(get("parity"), normalized=True)
    L = 6.0
    from statetrack.kernels import InexactRunWarning

    with pytest.warns(InexactRunWarning, match="normalized"):   # sqrt(2) keys: not exact
        layer = DeltaProductLayer.from_construction(lrnn, mode="reference", beta_mode="sigmoid",
                                                    max_logit=L, dtype=torch.float64)
    with pytest.warns(InexactRunWarning):
        raw = DeltaProductLayer.from_construction(lrnn, mode="reference", dtype=torch.float64)
    x = F.one_hot(torch.ones(1, 3, dtype=torch.long), 2).double()
    b_sig, b_raw = layer.project(x)["beta"], raw.project(x)["beta"]
    assert torch.equal(b_raw, torch.full_like(b_raw, 2.0))
    assert torch.allclose(b_sig, torch.full_like(b_sig, 2 * torch.sigmoid(torch.tensor(L)).item()))
    assert bool((b_sig < 2).all())
    o_sig, _ = layer(x)
    o_raw, _ = raw(x)
    # unit keys (1, -1)/sqrt 2 are not exact in floats: the raw path is right to rounding
    assert torch.allclose(o_raw[0, :, 0], torch.tensor([1.0, 0.0, 1.0], dtype=torch.float64),
                          rtol=0, atol=1e-12)
    assert float((o_sig - o_raw).detach().abs().max()) > 1e-4      # inexact ...
    assert torch.equal(nearest_code(o_sig, torch.tensor([[0.0], [1.0]])),
                       torch.tensor([[1, 0, 1]]))          # ... but still right this early


def test_beta_logits_inverse_of_sigmoid():
    beta = torch.tensor([0.0, 0.25, 1.0, 1.75, 2.0], dtype=torch.float64)
    lg = beta_logits(beta, max_logit=30.0)
    back = 2 * torch.sigmoid(lg)
    assert torch.allclose(back[1:4], beta[1:4], atol=1e-15)
    assert lg[2] == 0 and lg[0] == -30 and lg[-1] == 30


def test_two_layer_construction_matches_exact_model():
    lrnn = two_layer_example()
    model = ConstructedLRNN.from_construction(lrnn, mode="reference")
    rng = np.random.default_rng(2)
    ids = rng.integers(0, 2, size=(5, 30))
    out = model(torch.as_tensor(ids))
    for b in range(5):
        tr = lrnn.evaluate(ids[b])
        assert out.accepted[b].tolist() == list(tr.accepted)
        assert out.states[b].tolist() == list(tr.dfa_states)
        for layer in range(2):
            assert out.classes[layer][b].tolist() == list(tr.outputs[layer])


# ----------------------------------------------------------------------------- general layer
def _general_cfg(mode: str, **kw) -> DeltaProductConfig:
    base = dict(hidden_size=12, num_heads=2, head_k_dim=16, head_v_dim=16, num_householder=2,
                use_gate=True, use_short_conv=True, learn_initial_state=True, mode=mode)
    base.update(kw)
    return DeltaProductConfig(**base)


@pytest.mark.parametrize("mode", ["recurrent", "chunk"])
def test_layer_forward_runs_no_beta_range_check(mode, gen, device, monkeypatch):
    # beta is in range by construction; the kernels' check would synchronise the device once
    # per layer per training step
    from statetrack.kernels._common import checks

    def refuse(*a, **k):
        raise AssertionError("the layer ran the beta range check")

    monkeypatch.setattr(checks, "check_beta_range", refuse)
    layer = DeltaProductLayer(_general_cfg(mode), generator=gen).to(device)
    x = torch.randn(2, 5, 12, generator=gen).to(device)
    y, _ = layer(x)
    assert y.shape == (2, 5, 12) and bool(torch.isfinite(y).all())


@pytest.mark.parametrize("mode", ["recurrent", "chunk"])
def test_kernel_modes_match_float64_reference(mode, gen, device):
    layer = DeltaProductLayer(_general_cfg(mode), generator=gen)
    with torch.no_grad():
        layer.initial_state.normal_(generator=gen)
    ref = DeltaProductLayer(_general_cfg("reference"), dtype=torch.float64)
    ref.load_state_dict({k: v.double() for k, v in layer.state_dict().items()})
    layer.to(device)
    x = torch.randn(2, 5, 12, generator=gen)
    y, s = layer(x.to(device), output_final_state=True)
    y_ref, s_ref = ref(x.double(), output_final_state=True)
    assert_rel_close(y.cpu(), y_ref, torch.float32, name=f"{mode} output")
    assert_rel_close(s.cpu(), s_ref, torch.float32, name=f"{mode} final state")
    w = torch.randn(y.shape, generator=gen)
    (y * w.to(device)).sum().backward()
    (y_ref * w.double()).sum().backward()
    for (name, p), p_ref in zip(layer.named_parameters(), ref.parameters()):
        assert p.grad is not None, name
        assert_rel_close(p.grad.cpu(), p_ref.grad, torch.float32, kind="bwd", name=f"grad {name}")


def test_beta_modes_and_ranges(gen):
    x = 10 * torch.randn(2, 6, 8, generator=gen)
    for neg, beta_mode in [(True, "sigmoid"), (False, "sigmoid"), (True, "raw"), (False, "raw")]:
        cfg = DeltaProductConfig(hidden_size=8, head_k_dim=4, head_v_dim=4,
                                 allow_neg_eigval=neg, beta_mode=beta_mode, mode="reference")
        layer = DeltaProductLayer(cfg, generator=gen)
        with torch.no_grad():
            layer.b_proj.weight.mul_(20)
        with torch.no_grad():
            b = layer.project(x)["beta"]
            logits = layer.b_proj(x).reshape(b.shape)
        hi = 2.0 if neg else 1.0
        assert float(b.min()) >= 0 and float(b.max()) <= hi
        want = (hi * torch.sigmoid(logits)) if beta_mode == "sigmoid" else logits.clamp(0, hi)
        assert torch.equal(b, want)


def test_keys_l2_normalized_by_default(gen):
    layer = DeltaProductLayer(DeltaProductConfig(hidden_size=8, head_k_dim=4, head_v_dim=4,
                                                 num_householder=2, mode="reference"),
                              generator=gen)
    p = layer.project(torch.randn(2, 3, 8, generator=gen))
    assert torch.allclose(p["k"].norm(dim=-1), torch.ones(2, 6, 1), atol=1e-6)
    assert torch.allclose(p["q"].norm(dim=-1), torch.ones(2, 3, 1), atol=1e-6)
    assert p["g"] is None


def test_short_convolution_is_causal(gen):
    conv = ShortConvolution(3, 4)
    x = torch.randn(1, 10, 3, generator=gen)
    y = conv(x)
    x2 = x.clone()
    x2[:, 6:] = torch.randn(1, 4, 3, generator=gen)
    y2 = conv(x2)
    assert torch.equal(y[:, :6], y2[:, :6])
    assert not torch.equal(y[:, 6:], y2[:, 6:])


def test_gate_and_output_projection_shapes(gen):
    cfg = DeltaProductConfig(hidden_size=10, num_heads=2, head_k_dim=4, head_v_dim=3,
                             use_gate=True, use_output_proj=False, mode="reference")
    layer = DeltaProductLayer(cfg, generator=gen)
    x = torch.randn(2, 4, 10, generator=gen)
    p = layer.project(x)
    assert p["g"].shape == (2, 4, 2) and bool((p["g"] <= 0).all())
    y, s = layer(x)
    assert y.shape == (2, 4, 6) and s is None
    assert cfg.output_size == 6


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize("kw", [{"mode": "fast"}, {"beta_mode": "tanh"},
                                {"activation": "relu"}, {"hidden_size": 0},
                                {"num_householder": True}, {"scale": float("nan")},
                                {"norm_eps": 0.0}, {"chunk_size": -1}])
def test_config_errors(kw):
    base = {"hidden_size": 8}
    base.update(kw)
    with pytest.raises(LayerConfigError, match=next(iter(kw))):
        DeltaProductConfig(**base)


@pytest.mark.parametrize("kw,match", [
    ({"mode": "chunk", "chunk_size": 48}, r"chunk_size: mode='chunk' supports \(16, 32, 64\), got 48"),
    ({"mode": "chunk", "head_k_dim": 512}, "head_k_dim: mode='chunk' supports at most 256, got 512"),
    ({"mode": "chunk", "head_v_dim": 257}, "head_v_dim: mode='chunk' supports at most 256, got 257"),
    ({"mode": "recurrent", "head_k_dim": 512}, "head_k_dim: mode='recurrent' supports at most 256"),
    ({"mode": "recurrent", "head_v_dim": 2048}, "head_v_dim: mode='recurrent' supports at most 1024"),
])
def test_config_errors_for_the_kernels_limits(kw, match):
    """What the chosen kernel cannot run is refused by the config, naming its field, not at the
    first forward by the kernel naming a tensor (q, v) the user never passed."""
    with pytest.raises(LayerConfigError, match=match):
        DeltaProductConfig(hidden_size=8, **kw)


def test_config_kernel_limits_apply_to_their_mode_only():
    assert DeltaProductConfig(hidden_size=8, mode="recurrent", chunk_size=48).chunk_size == 48
    assert DeltaProductConfig(hidden_size=8, mode="reference", head_k_dim=512).head_k_dim == 512
    for c in (16, 32, 64):
        assert DeltaProductConfig(hidden_size=8, mode="chunk", chunk_size=c).chunk_size == c


def test_chunk_layer_in_float64_names_the_mode(gen):
    layer = DeltaProductLayer(DeltaProductConfig(hidden_size=8, head_k_dim=4, head_v_dim=4,
                                                 mode="chunk", chunk_size=16),
                              generator=gen).to(torch.float64)
    with pytest.raises(LayerConfigError, match="mode: 'chunk' does not run float64"):
        layer(torch.zeros(1, 3, 8, dtype=torch.float64))


@pytest.mark.parametrize("mode", ["reference", "recurrent", "chunk"])
def test_nan_input_gives_nan_output_in_every_mode(gen, device, mode):
    """A NaN input propagates like in any torch module, in every mode alike (the reference
    mode used to raise a BetaRangeError about an internal ``beta``)."""
    layer = DeltaProductLayer(DeltaProductConfig(hidden_size=8, head_k_dim=4, head_v_dim=4,
                                                 mode=mode, chunk_size=16),
                              generator=gen).to(device)
    x = torch.randn(1, 3, 8, generator=gen).to(device)
    x[0, 1, 2] = float("nan")
    y, _ = layer(x)
    assert bool(torch.isnan(y[0, 1:]).all())
    # the sequential modes keep the earlier token clean; the chunked one multiplies whole
    # chunks (a NaN times a masked 0 is NaN), so the NaN reaches the chunk's earlier tokens
    assert bool(torch.isfinite(y[0, 0]).all()) == (mode != "chunk")


def test_layer_input_errors(gen):
    layer = DeltaProductLayer(DeltaProductConfig(hidden_size=8, head_k_dim=4, head_v_dim=4,
                                                 mode="reference"), generator=gen)
    with pytest.raises(LayerConfigError, match="hidden_size=8"):
        layer(torch.zeros(2, 3, 7))
    with pytest.raises(LayerConfigError, match="floating"):
        layer(torch.zeros(2, 3, 8, dtype=torch.long))
    with pytest.raises(LayerConfigError, match="config"):
        DeltaProductLayer({"hidden_size": 8})


def test_state_dict_errors():
    lrnn, _, _ = _model("parity")
    sd = state_dict(lrnn, dtype="float32", backend="torch")
    with pytest.raises(StateDictError, match="layers.0.query"):
        DeltaProductLayer.from_state_dict({k: v for k, v in sd.items() if "query" not in k})
    bad = dict(sd)
    bad["layers.0.beta_table"] = torch.zeros(3, 1)
    with pytest.raises(StateDictError, match="beta_table"):
        DeltaProductLayer.from_state_dict(bad)
    bad = dict(sd)
    bad["layers.0.beta_table"] = torch.full((2, 1), 2.5)
    with pytest.raises(StateDictError, match=r"\[0, 2\]"):
        DeltaProductLayer.from_state_dict(bad)
    bad = dict(sd)
    bad["layers.0.query"] = torch.zeros(3)
    with pytest.raises(StateDictError, match="query"):
        DeltaProductLayer.from_state_dict(bad)
    bad = dict(sd)
    bad["layers.0.initial_state"] = torch.zeros(2, 2)
    with pytest.raises(StateDictError, match="initial_state"):
        DeltaProductLayer.from_state_dict(bad)
    with pytest.raises(StateDictError, match="no 'layers.0.key_table'"):
        ConstructedLRNN.from_state_dict({})
    with pytest.raises(StateDictError, match="accepting"):
        ConstructedLRNN.from_state_dict({k: v for k, v in sd.items() if "accepting" not in k})
    with pytest.raises(StateDictError, match="layer"):
        DeltaProductLayer.from_construction(lrnn, layer=1)


def test_from_construction_wants_a_constructed_lrnn():
    # a DFA or a family spec is not a construction: the package's error naming the argument
    for wrong in (get("parity"), "parity"):
        with pytest.raises(KernelInputError,
                           match=rf"lrnn: expected a constructed LRNN, got {type(wrong).__name__}"):
            DeltaProductLayer.from_construction(wrong)


def test_input_of_another_dtype_is_a_layer_error_outside_autocast():
    lrnn, _, _ = _model("parity")
    layer = DeltaProductLayer.from_construction(lrnn, mode="reference")    # float32
    x = F.one_hot(torch.tensor([[1, 1, 0, 1]]), 2)
    for dtype in (torch.float64, torch.bfloat16):
        with pytest.raises(LayerConfigError, match=rf"x: dtype {dtype} differs from the layer's "
                                                   rf"parameters' torch.float32"):
            layer(x.to(dtype))
    want = layer(x.float())[0]
    assert want[0, :, 0].tolist() == [1.0, 0.0, 0.0, 1.0]
    assert torch.equal(layer.to(torch.float64)(x.double())[0], want.double())
    # under autocast the projections cast their inputs: no dtype error
    layer = DeltaProductLayer.from_construction(lrnn, mode="reference")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert layer(x.to(torch.bfloat16))[0][0, :, 0].float().tolist() == [1.0, 0.0, 0.0, 1.0]


def test_constructed_model_symbol_errors():
    lrnn, _, _ = _model("parity")
    model = ConstructedLRNN.from_construction(lrnn, mode="reference")
    with pytest.raises(LayerConfigError, match=r"0 \.\. 1"):
        model(torch.tensor([[0, 2]]))
    with pytest.raises(LayerConfigError, match="integer"):
        model(torch.tensor([[0.0, 1.0]]))


# ----------------------------------------------------------------------------- GPU
@pytest.mark.gpu
@pytest.mark.parametrize("mode", ["recurrent", "chunk"])
@pytest.mark.parametrize("spec", ["parity", "symmetric(4)", "quaternion"])
def test_gpu_constructed_layer_bf16_long(mode, spec):
    lrnn, mini, perm = _model(spec)
    if mode == "chunk" and lrnn.width < 16:
        pytest.skip("the chunked kernel is exercised on K >= 16 here")
    model = ConstructedLRNN.from_construction(lrnn, mode=mode, device="cuda",
                                              dtype=torch.bfloat16).to("cuda")
    ids = np.random.default_rng(0).integers(0, lrnn.n_symbols, size=(4, 4096))
    out = model(torch.as_tensor(ids, device="cuda"))
    np.testing.assert_array_equal(out.states.cpu().numpy(), dfa_states(mini, perm[ids])[0])


@pytest.mark.parametrize("max_logit", [-1.0, 0, float("nan"), "20", None, True])
def test_a_max_logit_that_is_not_positive_is_refused_by_name(max_logit):
    """``from_construction(..., beta_mode="sigmoid", max_logit=-1)`` built a layer that clamped
    every logit to ``[1, -1]``, i.e. to -1: beta 0.54 for every step, a wrong S_3 layer with no
    error; ``max_logit=nan`` failed only at the first forward, as a beta out of range."""
    s3 = compile(get("symmetric(3)"))
    with pytest.raises(LayerConfigError, match=r"^max_logit: expected a real number > 0 .*got "):
        DeltaProductLayer.from_construction(s3, mode="reference", beta_mode="sigmoid",
                                            max_logit=max_logit)
    ids = torch.tensor([[0, 1, 1, 0, 2, 1]])
    x = F.one_hot(ids, 3).float()
    raw = DeltaProductLayer.from_construction(s3, mode="reference")(x)[0]
    wide = DeltaProductLayer.from_construction(s3, mode="reference", beta_mode="sigmoid",
                                               max_logit=float("inf"))(x)[0]
    assert torch.equal(wide, raw)


@pytest.mark.parametrize("dtype", [np.float32, torch.int32, torch.complex64, 32, "float32"])
def test_a_dtype_that_is_not_a_floating_torch_dtype_is_refused_by_name(dtype):
    """``dtype=torch.int32`` ended in torch's "Only Tensors of floating point and complex dtype
    can require gradients", from inside nn.Linear. The layer's constructor takes torch dtypes
    only (PyTorch's convention); from_construction also takes names and aliases, as run does
    (np.float32 and "float32" are float32 there), and names any other value."""
    s3 = compile(get("symmetric(3)"))
    with pytest.raises(LayerConfigError, match=r"^dtype: "):
        DeltaProductLayer(DeltaProductConfig(hidden_size=4, num_heads=1, head_k_dim=4,
                                             head_v_dim=4, mode="reference"), dtype=dtype)
    if dtype in (np.float32, "float32"):
        layer = DeltaProductLayer.from_construction(s3, mode="reference", dtype=dtype)
        assert layer.q_proj.weight.dtype == torch.float32
    elif isinstance(dtype, torch.dtype):
        with pytest.raises(LayerConfigError, match=r"^dtype: expected None or a floating "
                                                   r"torch.dtype .*got "):
            DeltaProductLayer.from_construction(s3, mode="reference", dtype=dtype)
    else:
        with pytest.raises(KernelDtypeError, match=r"^dtype: expected one of .*got 32"):
            DeltaProductLayer.from_construction(s3, mode="reference", dtype=dtype)
    assert DeltaProductLayer.from_construction(s3, mode="reference",
                                               dtype=torch.float64).q_proj.weight.dtype \
        == torch.float64


@pytest.mark.parametrize("name", ["key_table", "beta_table", "value_table", "query",
                                  "initial_state"])
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 1j])
def test_from_tables_refuses_a_table_that_is_not_finite_and_real(name, bad):
    """A NaN key table built a layer without a word (its outputs all NaN), and a complex one
    lost its imaginary part with only torch's UserWarning."""
    tables = {k.removeprefix("layers.0."): v for k, v in
              state_dict(compile(get("symmetric(3)")), dtype="float64", backend="numpy").items()}
    args = {k: np.array(tables[k], dtype=complex if bad == 1j and k == name else np.float64)
            for k in ("key_table", "beta_table", "value_table", "query", "initial_state")}
    args[name].flat[1] = bad
    with pytest.raises(StateDictError, match=rf"^{name}: (values must be finite; got .* at "
                                             rf"index \(|expected real numbers, got dtype)"):
        DeltaProductLayer.from_tables(*args.values(), mode="reference")


@pytest.mark.parametrize("device", ["nope", "cuda:x", True, -1, 2.5, object()])
def test_a_bad_device_is_refused_by_name_in_both_layer_types(device):
    """``device="nope"`` ended in torch's RuntimeError listing every device type it knows, from
    inside nn.Linear (cold pass finding); the Mamba layer did not check its dtype either."""
    from statetrack.kernels import MambaLayer

    s3 = compile(get("symmetric(3)"))
    msg = r"^device: expected None, a torch.device, a device string .*got "
    with pytest.raises(LayerConfigError, match=msg):
        DeltaProductLayer.from_construction(s3, mode="reference", device=device)
    with pytest.raises(LayerConfigError, match=msg):
        MambaLayer(8, device=device)
    with pytest.raises(LayerConfigError, match=r"^dtype: expected None or a floating"):
        MambaLayer(8, dtype=torch.int32)
    assert MambaLayer(8, device=torch.device("cpu")).A_log.device.type == "cpu"
    assert DeltaProductLayer.from_construction(s3, mode="reference", device="cpu") \
        .q_proj.weight.device.type == "cpu"


@pytest.mark.parametrize("scale", ["x", None, float("nan"), float("inf"), True])
def test_from_tables_refuses_a_bad_scale_by_name(scale):
    """``from_tables(..., scale="x")`` ended in a bare ``ValueError`` from ``float("x")``, and
    ``scale=None`` would have been the config's default 1/sqrt(K), silently (cold pass
    finding)."""
    sd = state_dict(compile(get("parity")))
    tables = [sd["layers.0." + n] for n in ("key_table", "beta_table", "value_table", "query",
                                            "initial_state")]
    with pytest.raises(LayerConfigError, match=r"^scale: expected a finite float"):
        DeltaProductLayer.from_tables(*tables, scale=scale)
    assert DeltaProductLayer.from_state_dict(sd, scale=np.float64(1.0)).config.scale == 1.0


def test_from_construction_takes_dtype_names_like_run():
    """DeltaProductLayer/ConstructedLRNN.from_construction take 'bfloat16' as run does (the
    layers' own constructors keep PyTorch's torch-dtype-only convention)."""
    from statetrack.kernels import ConstructedLRNN, DeltaProductLayer, DeltaProductConfig
    from statetrack.kernels.errors import KernelDtypeError, LayerConfigError

    lrnn = compile(get("cyclic(3)"))
    a = DeltaProductLayer.from_construction(lrnn, mode="reference", dtype="bfloat16")
    b = DeltaProductLayer.from_construction(lrnn, mode="reference", dtype=torch.bfloat16)
    assert a.q_proj.weight.dtype == torch.bfloat16
    assert torch.equal(a.k_proj.weight, b.k_proj.weight)
    m = ConstructedLRNN.from_construction(lrnn, mode="reference", dtype="float16")
    assert m.layers[0].q_proj.weight.dtype == torch.float16
    ids = torch.tensor([[1, 1, 1, 0, 1]])
    assert m(ids).states.tolist() == ConstructedLRNN.from_construction(
        lrnn, mode="reference", dtype=torch.float16)(ids).states.tolist()
    with pytest.raises(KernelDtypeError, match="'half-ish'"):
        DeltaProductLayer.from_construction(lrnn, dtype="half-ish")
    with pytest.raises(LayerConfigError, match="floating torch.dtype"):
        DeltaProductLayer(DeltaProductConfig(hidden_size=4, num_heads=1, head_k_dim=2,
                                             head_v_dim=2), dtype="float32")


def test_a_float64_layer_with_the_output_norm_passes_gradcheck():
    """The output RMSNorm ran in float32 whatever the layer's dtype, so a float64 layer's
    outputs were float32 values and its finite differences did not match autograd."""
    cfg = DeltaProductConfig(hidden_size=4, num_heads=1, head_k_dim=2, head_v_dim=2,
                             num_householder=2, mode="reference")
    layer = DeltaProductLayer(cfg, generator=torch.Generator().manual_seed(0),
                              dtype=torch.float64)
    assert cfg.use_output_norm
    x = torch.randn(1, 3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(2),
                    requires_grad=True)
    y = layer(x)[0]
    assert not torch.equal(y.float().double(), y)
    assert torch.autograd.gradcheck(lambda z: layer(z)[0], (x,))


@pytest.mark.parametrize("mode", ["reference", "recurrent", "chunk"])
def test_an_empty_sequence_through_the_short_convolution(mode):
    """T = 0 with use_short_conv=True ended in torch's conv1d error ("Only zero batch or zero
    channel inputs are supported"); it gives an empty output and the initial state."""
    from statetrack.kernels import MambaLayer

    if mode != "reference" and not INTERPRET:
        pytest.skip("needs TRITON_INTERPRET=1 (CPU tensors)")
    layer = DeltaProductLayer(DeltaProductConfig(hidden_size=8, num_heads=2, head_k_dim=4,
                                                 head_v_dim=4, use_short_conv=True, mode=mode))
    y, h = layer(torch.randn(2, 0, 8), output_final_state=True)
    assert y.shape == (2, 0, 8) and h.shape == (2, 2, 4, 4)
    assert MambaLayer(16, num_heads=2, backend="torch")(torch.randn(2, 0, 16)).shape == (2, 0, 16)


@pytest.mark.skipif(torch.cuda.is_available(), reason="the message for a machine without CUDA")
@pytest.mark.parametrize("device", ["cuda", "cuda:1", 0, torch.device("cuda")])
def test_cuda_without_a_gpu_is_a_kernel_unavailable_error_in_the_layers(device):
    """device='cuda' without a GPU ended in torch's AssertionError "Torch not compiled with
    CUDA enabled" (layers, ConstructedLRNN); now the KernelUnavailableError that run gives."""
    from statetrack.kernels import ConstructedLRNN, MambaLayer
    from statetrack.kernels.errors import KernelUnavailableError

    s3 = compile(get("symmetric(3)"))
    for make in (lambda: DeltaProductLayer.from_construction(s3, device=device),
                 lambda: ConstructedLRNN.from_construction(s3, mode="reference", device=device),
                 lambda: MambaLayer(16, device=device)):
        with pytest.raises(KernelUnavailableError, match="no CUDA device is visible"):
            make()


def test_layer_index_and_output_final_state_are_checked():
    """layer=True passed the range check and failed at a missing 'layers.True.key_table';
    output_final_state='yes' was taken as true."""
    s3 = compile(get("symmetric(3)"))
    with pytest.raises(StateDictError, match="layer: expected an index in 0..0, got True"):
        DeltaProductLayer.from_construction(s3, layer=True)
    layer = DeltaProductLayer.from_construction(s3, mode="reference")
    x = F.one_hot(torch.tensor([[0, 1]]), 3).float()
    with pytest.raises(LayerConfigError, match="output_final_state: expected True or False"):
        layer(x, output_final_state="yes")
    assert layer(x, output_final_state=np.bool_(True))[1] is not None
