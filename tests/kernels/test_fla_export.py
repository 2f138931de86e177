"""Tests of :mod:`statetrack.kernels.layers.fla_export`: the fla export (unit keys, beta logits) and
its stated horizon.

The exported tensors run through statetrack's float64 reference with ``beta = 2 sigmoid``;
the tests check (1) correct readouts on random and worst-case words up to the stated length
for parity and S_3, (2) the bound's inequality itself at every position, (3) that S_3 fails
within a small factor beyond the stated length, and (4) that for parity the bound is loose
(the closed form of the 2-state chain never crosses the decision boundary).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from statetrack.automata.families import get
from statetrack.constructions import compile
from statetrack.constructions.lrnn import LRNN, DeltaStep, Layer, Readout
from statetrack.kernels.errors import KernelInputError, UnsupportedConstructionError
from statetrack.kernels.layers.fla_export import (
    decode_exported,
    export_fla,
    fla_tables,
    logit_for_length,
    run_exported,
)
from statetrack.kernels.layers.fla_export import fla_export_horizon as horizon
from statetrack.kernels.runner import dfa_states


def _model(spec: str, form: str = "permutation"):
    dfa = get(spec)
    lrnn = compile(dfa, form=form)
    mini = dfa.minimize()
    perm = np.array([mini.alphabet.index(s) for s in lrnn.alphabet], dtype=np.int64)
    return lrnn, mini, perm


def _states(lrnn, t) -> np.ndarray:
    """DFA states read out of the exported run (float64 reference), ``[B, T]``."""
    cls = decode_exported(t, run_exported(t)).numpy()
    return np.asarray(lrnn.state_map)[cls]


# ----------------------------------------------------------------------------- the horizon
def test_horizon_numbers():
    parity, _, _ = _model("parity")
    s3, _, _ = _model("symmetric(3)")
    rot, _, _ = _model("cyclic(5)", form="rotation")
    tr = rot.layers[0].float_tables()
    d = np.abs(tr["codes"][:, None, 0] - tr["codes"][None, :, 0])
    d_min = d[~np.eye(5, dtype=bool)].min()
    rot_margin = d_min / (2 * np.linalg.norm(tr["initial_state"]) * np.linalg.norm(tr["query"]))
    for m, r, margin, kind in ((parity, 1, 1.0, "stochastic"), (s3, 3, 0.2, "stochastic"),
                               (rot, 2, rot_margin, "spectral")):
        h = horizon(m, 9.0)
        assert h.reflections_per_token == r and h.eps == pytest.approx(2 / (1 + math.exp(9)))
        assert h.bound == kind and h.margin == pytest.approx(margin)
        assert h.eps * h.max_reflections < h.margin <= h.eps * (h.max_reflections + 1)
        assert h.max_length == h.max_reflections // r
    # a huge logit gives eps = 0 in float64: no limit
    assert horizon(parity, 800.0).max_length == np.iinfo(np.int64).max


def test_logit_for_length_is_minimal():
    for spec in ("parity", "symmetric(3)"):
        m, _, _ = _model(spec)
        for n in (10, 1000, 10 ** 6):
            L = logit_for_length(m, n)
            assert horizon(m, L).max_length >= n
            assert horizon(m, round(L - 0.001, 3)).max_length < n


# ----------------------------------------------------------------------------- the layout
def test_export_layout_and_tables():
    m, _, _ = _model("symmetric(3)")
    ids = np.random.default_rng(0).integers(0, m.n_symbols, size=(2, 5))
    t = export_fla(m, ids, logit=6.0, dtype=torch.float32)
    n_h, K = m.n_h, m.width
    assert t["k"].shape == (2, 5 * n_h, 1, K) and t["v"].shape == (2, 5 * n_h, 1, 1)
    assert t["beta_logit"].shape == (2, 5 * n_h, 1) and t["q"].shape == (2, 5, 1, K)
    assert t["initial_state"].shape == (2, 1, K, 1) and t["k"].dtype == torch.float32
    norms = t["k"].double().norm(dim=-1)
    assert torch.allclose(norms[norms > 0], torch.ones_like(norms[norms > 0]), atol=1e-6)
    tb = fla_tables(m, logit=6.0)
    for b in range(2):
        for s in range(5):
            rows = slice(s * n_h, (s + 1) * n_h)
            assert torch.equal(t["k"][b, rows, 0].double(),
                               tb["key_table"][ids[b, s]].float().double())
            assert torch.equal(t["beta_logit"][b, rows, 0].double(),
                               tb["logit_table"][ids[b, s]].float().double())
    # every S_3 letter is three disjoint transpositions: three reflections at logit 6
    assert tb["logit_table"].tolist() == [[6.0] * 3] * m.n_symbols
    # the same matrices: with L = 40, 2 sigmoid(L) rounds to 2 in float64 and the product of
    # a symbol's GH factors is its permutation matrix A(x) (to the rounding of 1/sqrt 2)
    tb40 = fla_tables(m, logit=40.0)
    beta = 2 * torch.sigmoid(torch.tensor(40.0, dtype=torch.float64))
    assert float(beta) == 2.0
    for x in range(m.n_symbols):
        A = torch.eye(K, dtype=torch.float64)
        for j in range(n_h):
            u = tb40["key_table"][x, j]
            A = (torch.eye(K, dtype=torch.float64) - beta * torch.outer(u, u)) @ A
        exact = torch.as_tensor(np.array(m.A(x).tolist(), dtype=np.float64))
        assert torch.allclose(A, exact, rtol=0, atol=1e-15)


def test_export_of_a_layer_without_sub_steps():
    """One state, every A = I (n_h = 0): exported with one identity step, as kernel_n_h
    pads (it used to export num_householder = 0, which the kernels refuse)."""
    from statetrack.automata import DFA

    m = compile(DFA([[0, 0]], accepting=[0], alphabet="ab"))
    assert m.n_h == 0
    t = export_fla(m, ["abb", "bab"])
    assert t["num_householder"] == 1 and t["k"].shape == (2, 3, 1, 1)
    assert not t["k"].any()
    assert _states(m, t).tolist() == [[0] * 3] * 2


def test_length_argument_chooses_the_logit():
    m, _, _ = _model("parity")
    t = export_fla(m, ["0110" * 5], dtype=torch.float64)
    assert t["horizon"].max_length >= 20
    assert t["horizon"].logit == pytest.approx(logit_for_length(m, 20))
    t = export_fla(m, ["01"], length=5000)
    assert t["horizon"].max_length >= 5000


# ----------------------------------------------------------------------------- correctness
@pytest.mark.parametrize("spec,length", [("parity", 400), ("symmetric(3)", 150)])
def test_correct_up_to_the_stated_length(spec, length):
    m, mini, perm = _model(spec)
    L = logit_for_length(m, length)
    N = horizon(m, L).max_length
    assert length <= N < 1.01 * length + 2
    rng = np.random.default_rng(17)
    ids = rng.integers(0, m.n_symbols, size=(6, N))
    if spec == "parity":
        ids[0] = 1                                   # the worst word: a reflection every token
    t = export_fla(m, ids, logit=L, dtype=torch.float64)
    want, _ = dfa_states(mini, perm[ids])
    np.testing.assert_array_equal(_states(m, t), want[:, 1:])


@pytest.mark.parametrize("spec", ["parity", "symmetric(3)", "quaternion"])
def test_bound_inequality_holds_at_every_position(spec):
    """``|o' - o| <= span(q) eps R_t / 2`` (the stochastic bound), also far beyond the
    stated length."""
    m, mini, perm = _model(spec)
    L = 5.0
    h = horizon(m, L)
    rng = np.random.default_rng(23)
    T = 200
    ids = rng.integers(0, m.n_symbols, size=(4, T))
    t = export_fla(m, ids, logit=L, dtype=torch.float64)
    o = run_exported(t)[:, :, 0, 0].numpy()                        # [B, T]
    want, _ = dfa_states(mini, perm[ids])
    q = m.layers[0].float_tables()["query"]
    exact = q[want[:, 1:]]                                         # o of the exact model
    refl = fla_tables(m, logit=L)["logit_table"].numpy() == L      # [S, n_h]
    R = np.cumsum(refl[ids].sum(-1), axis=1)                       # reflections so far
    bound = (q.max() - q.min()) * h.eps * R / 2
    assert np.all(np.abs(o - exact) <= bound + 1e-12)
    assert np.abs(o - exact).max() > 0.01 * bound.max()            # and not vacuous


def test_s3_fails_within_a_small_factor_beyond_the_bound():
    m, mini, perm = _model("symmetric(3)")
    L = logit_for_length(m, 30)
    N = horizon(m, L).max_length
    rng = np.random.default_rng(5)
    ids = rng.integers(0, m.n_symbols, size=(8, 10 * N))
    t = export_fla(m, ids, logit=L, dtype=torch.float64)
    want, _ = dfa_states(mini, perm[ids])
    wrong = _states(m, t) != want[:, 1:]
    first = np.array([np.flatnonzero(w)[0] + 1 if w.any() else np.inf for w in wrong])
    # every word reads out wrongly somewhere beyond the guarantee, within 10x of it
    # (measured: about 6-8x for S_3, whose letters all make 3 reflections)
    assert np.all(first > N) and np.all(first <= 10 * N), (N, first)


def test_parity_bound_is_loose():
    """The 2-state chain keeps mass ``1/2 + (1 - eps)^R / 2`` on the true state: the readout
    never crosses 1/2 in exact arithmetic, far beyond the stated length."""
    m, mini, perm = _model("parity")
    L = 2.0
    h = horizon(m, L)
    assert h.max_length == 4
    T = 60
    t = export_fla(m, np.ones((1, T), dtype=np.int64), logit=L, dtype=torch.float64)
    o = run_exported(t)[0, :, 0, 0].numpy()
    R = np.arange(1, T + 1)
    truth = R % 2                                                   # state after R swaps
    dist = np.where(truth == 1, o - 0.5, 0.5 - o)                   # signed margin
    np.testing.assert_allclose(dist, (1 - h.eps) ** R / 2, rtol=1e-9, atol=1e-15)
    np.testing.assert_array_equal(_states(m, t)[0], truth)          # 15x the bound, right


def test_rotation_form_spectral_bound_holds():
    m, mini, perm = _model("cyclic(5)", form="rotation")
    L = logit_for_length(m, 100)
    N = horizon(m, L).max_length
    ids = np.random.default_rng(8).integers(0, m.n_symbols, size=(4, N))
    reflections = (fla_tables(m, logit=L)["logit_table"] == L).sum(-1)
    ids[0] = int(torch.argmax(reflections))          # the worst word: most reflections
    t = export_fla(m, ids, logit=L, dtype=torch.float64)
    want, _ = dfa_states(mini, perm[ids])
    np.testing.assert_array_equal(_states(m, t), want[:, 1:])


# ----------------------------------------------------------------------------- errors
def test_errors():
    m, _, _ = _model("parity")
    for bad in (0.0, -1.0, float("nan"), float("inf"), True, "5"):
        with pytest.raises(KernelInputError, match="logit"):
            horizon(m, bad)
    with pytest.raises(KernelInputError, match="at most one"):
        export_fla(m, ["01"], logit=5.0, length=10)
    with pytest.raises(KernelInputError, match="length"):
        logit_for_length(m, 0)
    with pytest.raises(KernelInputError, match="LRNN"):
        horizon(get("parity"), 5.0)
    swap = DeltaStep(key=[1, -1], beta=1)
    l0 = Layer(tokens=("a", "b"), steps=((), (swap,)), initial_state=[[1], [0]],
               readout=Readout(query=[0, 1], codes=[[0], [1]]))
    l1 = Layer(tokens=("x",), steps=((),), initial_state=[[1]],
               readout=Readout(query=[1], codes=[[1]]), token_map=[[0, 0], [0, 0]])
    deep = LRNN(alphabet=("a", "b"), layers=(l0, l1), accepting=(True,))
    with pytest.raises(UnsupportedConstructionError, match="2 layers"):
        export_fla(deep, ["ab"], logit=5.0)
    write = DeltaStep(key=[1, 0], beta=1, value=[1])
    lw = Layer(tokens=("a", "b"), steps=((), (write,)), initial_state=[[0], [0]],
               readout=Readout(query=[1, 0], codes=[[0], [1]]))
    valued = LRNN(alphabet=("a", "b"), layers=(lw,), accepting=(False, True))
    with pytest.raises(UnsupportedConstructionError, match="zero values"):
        horizon(valued, 5.0)


# ----------------------------------------------------------------------------- GPU, fla
@pytest.mark.gpu
def test_gpu_fla_delta_rule_runs_export_up_to_the_horizon():
    """fla's own fused recurrent delta rule (n_h = 1) on the parity export, float32."""
    fla_ops = pytest.importorskip("fla.ops.delta_rule")
    m, mini, perm = _model("parity")
    L = logit_for_length(m, 2000)
    N = horizon(m, L).max_length
    ids = np.random.default_rng(0).integers(0, 2, size=(4, N))
    ids[0] = 1
    t = export_fla(m, ids, logit=L, dtype=torch.float32)
    dev = "cuda"
    o, _ = fla_ops.fused_recurrent_delta_rule(
        q=t["q"].to(dev), k=t["k"].to(dev), v=t["v"].to(dev),
        beta=(2 * torch.sigmoid(t["beta_logit"])).to(dev), scale=1.0,
        initial_state=t["initial_state"].to(dev), output_final_state=False)
    cls = decode_exported(t, o.float().cpu()).numpy()
    want, _ = dfa_states(mini, perm[ids])
    np.testing.assert_array_equal(np.asarray(m.state_map)[cls], want[:, 1:])


# ------------------------------------------------------------- the weights' dtype (rounding)
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float32])
@pytest.mark.parametrize("spec", ["parity", "symmetric(3)"])
def test_rounded_weights_correct_up_to_their_stated_length(spec, dtype):
    """The horizon of weights rounded to ``dtype`` (exact arithmetic on them: the float64
    reference run on the rounded tensors) holds at every position up to its length, which
    is at most the exact weights' length."""
    m, mini, perm = _model(spec)
    L = 12.0
    h, exact = horizon(m, L, dtype=dtype), horizon(m, L)
    assert h.dtype == str(dtype).replace("torch.", "") and exact.dtype == "float64"
    assert h.max_length <= exact.max_length and h.eps >= exact.eps
    N = min(h.max_length, 2000)
    rng = np.random.default_rng(29)
    ids = rng.integers(0, m.n_symbols, size=(6, N))
    if spec == "parity":
        ids[0] = 1
    t = export_fla(m, ids, logit=L, dtype=dtype)
    assert t["horizon"] == h and t["k"].dtype == dtype
    want, _ = dfa_states(mini, perm[ids])
    np.testing.assert_array_equal(_states(m, t), want[:, 1:])


def test_bfloat16_s3_fails_within_a_small_factor_of_its_horizon():
    """The exact weights' horizon at logit 12 is 5,425 tokens; rounded to bfloat16 the keys
    alone perturb every reflection by about 4e-4, so the readout goes wrong within a few
    hundred tokens (as a user found): the stated horizon (151) is below that, within 10x."""
    m, mini, perm = _model("symmetric(3)")
    h = horizon(m, 12.0, dtype=torch.bfloat16)
    assert h.max_length < horizon(m, 12.0).max_length // 10
    N = h.max_length
    rng = np.random.default_rng(31)
    ids = rng.integers(0, m.n_symbols, size=(8, 10 * N))
    t = export_fla(m, ids, logit=12.0, dtype=torch.bfloat16)
    want, _ = dfa_states(mini, perm[ids])
    wrong = _states(m, t) != want[:, 1:]
    first = np.array([np.flatnonzero(w)[0] + 1 if w.any() else np.inf for w in wrong])
    assert np.all(first > N) and np.all(first <= 10 * N), (N, first)


def test_export_dtype_errors():
    from statetrack.kernels.errors import KernelDtypeError

    m, _, _ = _model("symmetric(3)")
    for bad in (torch.int32, torch.bool, "int8", "float8", None):   # names, aliases: accepted
        with pytest.raises(KernelDtypeError, match="dtype"):
            export_fla(m, [[0, 1]], dtype=bad)
        with pytest.raises(KernelDtypeError, match="dtype"):
            horizon(m, 12.0, dtype=bad)
    # a length no logit can guarantee in the dtype: a clear error, not an endless search
    floor = horizon(m, 40.0, dtype=torch.bfloat16).max_length
    with pytest.raises(KernelInputError, match=f"at most {floor}"):
        export_fla(m, [[0, 1]], length=10 * floor, dtype=torch.bfloat16)
    L = logit_for_length(m, floor // 2, dtype=torch.bfloat16)
    assert horizon(m, L, dtype=torch.bfloat16).max_length >= floor // 2
    assert horizon(m, round(L - 1e-3, 3), dtype=torch.bfloat16).max_length < floor // 2


def test_export_takes_dtype_names_like_run():
    """dtype='bfloat16' is the same export as torch.bfloat16 (it was refused); a bad name is a
    KernelDtypeError naming it."""
    from statetrack.kernels.errors import KernelDtypeError
    from statetrack.kernels.layers.fla_export import run_exported

    m = compile(get("parity"))
    by_name = export_fla(m, ["1101", "0111"], logit=12.0, dtype="bfloat16")
    by_dtype = export_fla(m, ["1101", "0111"], logit=12.0, dtype=torch.bfloat16)
    for n in ("q", "k", "v", "beta_logit", "initial_state"):
        assert by_name[n].dtype == torch.bfloat16 and torch.equal(by_name[n], by_dtype[n])
    assert by_name["horizon"] == by_dtype["horizon"]
    assert torch.equal(run_exported(by_name, dtype="float64"),
                       run_exported(by_name, dtype=torch.float64))
    assert torch.equal(export_fla(m, ["1101"], logit=12.0, dtype="bf16")["k"], by_name["k"][:1])
    for bad in ("bfloat", "int8"):
        with pytest.raises(KernelDtypeError, match=repr(bad)):
            export_fla(m, ["1101"], dtype=bad)


def test_large_logits_return_at_once_and_the_horizon_is_monotone():
    """Logits of 55 to 745 ran for minutes (a float loop stepping R by one past 2^53); the
    horizon is now computed exactly: non-decreasing in the logit, capped at 2^63 - 1, and
    logit_for_length finds the largest length by bisection."""
    top = 2 ** 63 - 1
    s3 = compile(get("symmetric(3)"))
    logits = [12.0, 36.0, 50.0, 55.0, 58.66, 60.0, 100.0, 745.0, 800.0]
    lengths = [horizon(s3, L).max_length for L in logits]
    assert lengths == sorted(lengths) and lengths[0] == 5425 and lengths[-1] == top
    for L, n in zip(logits, lengths):
        h = horizon(s3, L)
        if h.eps > 0:                                  # the largest R with eps * R < margin
            from fractions import Fraction
            R = h.max_reflections
            assert Fraction(h.eps) * R < Fraction(h.margin) or R == top
            assert R == top or not Fraction(h.eps) * (R + 1) < Fraction(h.margin)
    t = export_fla(s3, [[0, 1]], logit=100.0)
    assert t["horizon"].max_length == horizon(s3, 100.0, dtype=torch.float32).max_length
    L = logit_for_length(s3, top)                     # the cap is on the length, after / r
    assert horizon(s3, L).max_length == top > horizon(s3, round(L - 0.001, 3)).max_length
    assert L < 50
    with pytest.raises(KernelInputError, match="at most 2\\^63 - 1"):
        logit_for_length(s3, top + 1)


def test_logit_for_length_stops_below_the_logits_that_break_the_rounded_weights():
    """The rotation form in float32: from logit 19.466 on, a rounded step is no longer a
    contraction (KernelDtypeError); the search checked logit 40 first and so failed for every
    length (export_fla with the default float32 too). Now the largest logit below that is
    the limit, and every length up to its horizon is found."""
    from statetrack.kernels.errors import KernelDtypeError

    rot = compile(get("cyclic(5)"), form="rotation")
    with pytest.raises(KernelDtypeError, match="no longer a contraction"):
        horizon(rot, 19.466, dtype=torch.float32)
    for n in (1, 10, 1000):
        L = logit_for_length(rot, n, dtype=torch.float32)
        assert horizon(rot, L, dtype=torch.float32).max_length >= n
        assert horizon(rot, round(L - 0.001, 3), dtype=torch.float32).max_length < n
    best = horizon(rot, 19.465, dtype=torch.float32).max_length
    assert logit_for_length(rot, best, dtype=torch.float32) <= 19.465
    with pytest.raises(KernelInputError, match=f"at most {best} at any logit up to 19.465"):
        logit_for_length(rot, best + 1, dtype=torch.float32)
    assert export_fla(rot, [[0] * 10])["horizon"].max_length >= 10
