"""The model factory and the construction initializer (exact before any training)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from experiments.initializer import ConstructionInitError, init_from_construction
from experiments.model import ModelConfig, ModelConfigError, build_model
from experiments.tasks import IGNORE, make_task


def _cfg(task, **kw):
    base = dict(vocab_size=task.vocab_size, num_classes=task.num_classes, num_layers=2,
                hidden_size=32, num_heads=2, num_householder=4, activation="none",
                use_output_norm=False, learn_initial_state=True)
    base.update(kw)
    return ModelConfig(**base)


def test_model_shapes_and_seeded_init():
    cfg = ModelConfig(vocab_size=5, num_classes=7, num_layers=2, hidden_size=16, num_heads=4,
                      num_householder=2, eigen_range="[0,1]")
    a = build_model(cfg, generator=torch.Generator().manual_seed(3))
    b = build_model(cfg, generator=torch.Generator().manual_seed(3))
    c = build_model(cfg, generator=torch.Generator().manual_seed(4))
    x = torch.randint(0, 5, (3, 11), generator=torch.Generator().manual_seed(0))
    ya, yb = a(x), b(x)
    assert ya.shape == (3, 11, 7) and torch.equal(ya, yb)
    assert not torch.equal(ya, c(x))
    assert a.blocks[0].mixer.inner.config.beta_range == 1.0       # [0, 1]
    assert cfg.intermediate_size == 256


def test_model_is_causal():
    cfg = ModelConfig(vocab_size=4, num_classes=4, num_layers=2, hidden_size=16, num_heads=2)
    m = build_model(cfg, generator=torch.Generator().manual_seed(0))
    x = torch.randint(0, 4, (2, 9), generator=torch.Generator().manual_seed(1))
    y = x.clone()
    y[:, 6:] = (y[:, 6:] + 1) % 4
    with torch.no_grad():
        assert torch.allclose(m(x)[:, :6], m(y)[:, :6], atol=1e-6)


def test_config_errors():
    with pytest.raises(ModelConfigError, match="hidden_size"):
        ModelConfig(vocab_size=3, num_classes=3, hidden_size=10, num_heads=4)
    with pytest.raises(ModelConfigError, match="layer"):
        ModelConfig(vocab_size=3, num_classes=3, layer="lstm")


@pytest.mark.parametrize("eigen_range", ["[0,1]", "[-1,1]"])
def test_mamba_model_is_seeded_and_trains(eigen_range):
    cfg = ModelConfig(vocab_size=3, num_classes=2, layer="mamba", eigen_range=eigen_range,
                      hidden_size=16, num_heads=2, num_layers=2, kernel="reference")
    a = build_model(cfg, generator=torch.Generator().manual_seed(3))
    b = build_model(cfg, generator=torch.Generator().manual_seed(3))
    c = build_model(cfg, generator=torch.Generator().manual_seed(4))
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)  # one seed, one model
    assert any(not torch.equal(sa[k], sc[k]) for k in sa)  # the seed reaches the layers
    x = torch.randint(0, 3, (2, 9), generator=torch.Generator().manual_seed(0))
    out = a(x)
    assert out.shape == (2, 9, 2) and torch.isfinite(out).all()
    out.square().mean().backward()
    mixer = [p for n, p in a.named_parameters() if "mixer" in n]
    assert mixer and all(p.grad is not None for p in mixer)


@pytest.mark.parametrize("name", ["parity", "s3", "flip_flop"])
@pytest.mark.parametrize("conv", [False, True])
def test_constructed_model_is_exact_at_every_test_length_before_training(name, conv):
    task = make_task(name)
    model = build_model(_cfg(task, use_short_conv=conv),
                        generator=torch.Generator().manual_seed(0))
    before = {n: p.clone() for n, p in model.named_parameters()}
    info = init_from_construction(model, task)
    assert info.margin > 0.01
    # the other heads of layer 0 keep their random projections
    H, K = 2, 16
    k_now = model.blocks[0].mixer.inner.k_proj.weight
    k_was = before["blocks.0.mixer.inner.k_proj.weight"]
    assert torch.equal(k_now[K:2 * K], k_was[K:2 * K])            # sub-step 0, head 1
    for L in (40, 256):
        ex = task.sample(np.random.default_rng(L), 16, L, L)
        with torch.no_grad():
            logits = model(torch.as_tensor(ex.tokens))
        tg = torch.as_tensor(ex.targets)
        scored = tg != IGNORE
        assert torch.equal(logits.argmax(-1)[scored], tg[scored]), (name, L)
        loss = torch.nn.functional.cross_entropy(logits[scored], tg[scored])
        assert loss < 0.01


def test_random_model_is_not_exact():
    task = make_task("s3")
    model = build_model(_cfg(task), generator=torch.Generator().manual_seed(0))
    ex = task.sample(np.random.default_rng(0), 24, 40, 40)
    with torch.no_grad():
        pred = model(torch.as_tensor(ex.tokens)).argmax(-1)
    assert (pred == torch.as_tensor(ex.targets)).float().mean() < 0.5


def test_initializer_refusals():
    task = make_task("parity")
    m = build_model(_cfg(task, activation="silu"))
    with pytest.raises(ConstructionInitError, match="activation"):
        init_from_construction(m, task)
    with pytest.raises(ConstructionInitError, match="no one-layer construction"):
        t = make_task("mod_arith")
        init_from_construction(build_model(_cfg(t)), t)
    t = make_task("s3")
    with pytest.raises(ConstructionInitError, match="num_householder"):
        init_from_construction(build_model(_cfg(t, num_householder=1)), t)
    with pytest.raises(ConstructionInitError, match="eigen_range"):
        init_from_construction(build_model(_cfg(t, eigen_range="[0,1]")), t)
    for bad in (-21.0, float("nan"), "closed"):
        with pytest.raises(ConstructionInitError, match="identity_logit"):
            init_from_construction(build_model(_cfg(t)), t, identity_logit=bad)


def test_identity_logit_sets_only_the_zero_key_gates():
    """``identity_logit`` changes the beta logits of the identity sub-steps of head 0 (zero
    keys) and nothing else; the constructed model's outputs are the same."""
    task = make_task("s3")
    cfg = _cfg(task, num_layers=1, hidden_size=64, num_heads=2, num_householder=5)
    a = build_model(cfg, generator=torch.Generator().manual_seed(0))
    b = build_model(cfg, generator=torch.Generator().manual_seed(0))
    init_from_construction(a, task)
    init_from_construction(b, task, identity_logit=-20.0)
    sa, sb = a.state_dict(), b.state_dict()
    changed = [k for k in sa if not torch.equal(sa[k], sb[k])]
    assert changed == ["blocks.0.mixer.inner.b_proj.weight"]
    layer = b.blocks[0].mixer.inner
    x = b.blocks[0].attn_norm(b.embedding.weight)[None]            # every token once
    with torch.no_grad():
        p, pa = layer.project(x), a.blocks[0].mixer.inner.project(x)
    V, NH, H = task.vocab_size, 5, 2
    raw_k = layer.k_proj(x).reshape(V, NH, H, -1)[:, :, 0].detach()
    zero = raw_k.norm(dim=-1) == 0                                   # [V, n_h]
    assert zero[:, 4].all() and zero.any() and not zero.all()       # sub-step 5 is extra
    beta, beta_a = p["beta"].reshape(V, NH, H)[:, :, 0], pa["beta"].reshape(V, NH, H)[:, :, 0]
    assert torch.all(beta[zero] < 1e-8) and torch.allclose(beta_a[zero], torch.ones(()))
    assert torch.equal(beta[~zero], beta_a[~zero])
    ex = task.sample(np.random.default_rng(1), 8, 64, 64)
    with torch.no_grad():
        tokens = torch.as_tensor(ex.tokens)
        assert torch.equal(a(tokens), b(tokens))


def test_gpu_kernel_path_matches_the_reference_in_the_model():
    """The chunked Triton kernel (the CUDA default), here through the interpreter: the model's
    outputs and gradients agree with the PyTorch reference path."""
    cfg = ModelConfig(vocab_size=3, num_classes=3, num_layers=1, hidden_size=8, num_heads=2,
                      kernel="chunk")
    ref_cfg = ModelConfig(**{**cfg.to_dict(), "kernel": "reference"})
    m = build_model(cfg, generator=torch.Generator().manual_seed(0))
    r = build_model(ref_cfg, generator=torch.Generator().manual_seed(0))
    assert m.blocks[0].mixer.inner.config.mode == "chunk"
    x = torch.randint(0, 3, (2, 7), generator=torch.Generator().manual_seed(1))
    y, yr = m(x), r(x)
    y.square().sum().backward()
    yr.square().sum().backward()
    assert torch.allclose(y, yr, atol=1e-5)
    for (n, p), (_, q) in zip(m.named_parameters(), r.named_parameters()):
        assert torch.allclose(p.grad, q.grad, atol=1e-4, rtol=1e-3), n


def test_chunk_size_is_validated_and_reaches_the_layer():
    from statetrack.kernels.delta_product.chunk import SUPPORTED_CHUNK_SIZES

    from experiments.model import CHUNK_SIZES

    assert CHUNK_SIZES == tuple(SUPPORTED_CHUNK_SIZES)
    for bad in (8, 0, True, "16", 128):
        with pytest.raises(ModelConfigError, match="chunk_size"):
            ModelConfig(vocab_size=3, num_classes=3, chunk_size=bad)
    assert ModelConfig(vocab_size=3, num_classes=3).chunk_size == 16
    cfg = ModelConfig(vocab_size=3, num_classes=3, num_layers=1, hidden_size=16, num_heads=2,
                      chunk_size=32)
    model = build_model(cfg, generator=torch.Generator().manual_seed(0))
    inner = [m for m in model.modules()
             if hasattr(m, "config") and hasattr(m.config, "chunk_size")]
    assert inner and all(m.config.chunk_size == 32 for m in inner)
