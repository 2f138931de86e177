"""Theorem 2: the real-eigenvalue hypothesis decided exactly (products of 2^i matrices in
layer i), the period bound 2^depth, its triangular special case in the sequential model, and
the sequential model's escape beyond it."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from statetrack.automata import families
from statetrack.constructions import compile as compile_dfa
from statetrack.theory.errors import FormatOverflowError, ModelError
from statetrack.theory.finite_precision import (
    DeltaSubstep,
    FPLayer,
    FPModel,
    eventual_period,
    from_lrnn,
    mod_counterexample,
    random_diagonal_model,
    random_triangular_model,
    run,
)
from statetrack.theory.mod_counting import (
    binary_counter_stack,
    one_layer_needs_nonreal,
    real_depth,
    real_spectrum,
    sequential_mod3_example,
    triangular_stack,
)
from statetrack.theory.spectra import eigenvalues

FORMATS = ["bfloat16", "float16"]


def _unit(rng, n):
    k = rng.normal(size=n)
    return k / np.linalg.norm(k)


def _delta_model(rng, n, betas, *, n_h=1, depth=1):
    """Every token of every layer: ``n_h`` delta steps ``I - beta k k^T`` with random unit keys.
    Layer ``l + 1`` reads ``t0``/``t1`` from a threshold on the first coordinate."""
    layers = []
    for li in range(depth):
        tokens = ("0", "1") if li == 0 else ("t0", "t1")
        steps = {t: tuple(DeltaSubstep(_unit(rng, n), float(rng.choice(betas)),
                                       rng.uniform(-1, 1, size=1)) for _ in range(n_h))
                 for t in tokens}
        top = li == depth - 1
        dec = (lambda h, tok, s: float(h[0, 0]) > 0) if top else \
            (lambda h, tok, s: "t1" if float(h[0, 0]) > 0 else "t0")
        layers.append(FPLayer(tokens, steps, rng.uniform(-1, 1, size=(n, 1)), dec))
    return FPModel(tuple(layers))


# ============================================================== the hypothesis, decided exactly


# beta = 3.5 (eigenvalue -2.5) overflows the state to inf and then NaN (inf - inf)
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@settings(max_examples=25, deadline=None, derandomize=True, database=None)
@given(st.integers(0, 10_000), st.integers(2, 5), st.sampled_from(FORMATS),
       st.sampled_from([3, 4, 5, 6]))
def test_single_delta_factor_is_flagged_as_unable_to_count(seed, n, fmt, m):
    """One DeltaNet factor I - beta k k^T per token, any beta (negative, in [0, 2], beyond 2):
    symmetric, so a real spectrum: Theorem 2 says one such layer cannot count modulo m > 2.
    The triangular check (the abstract's corollary) misses it."""
    rng = np.random.default_rng(seed)
    model = _delta_model(rng, n, betas=[-0.5, 0.3, 1.0, 1.7, 2.0, 3.5])
    try:
        c = mod_counterexample(model, m, fmt)
    except FormatOverflowError as e:
        # |1 - beta| > 1 can grow the state beyond the format: no certificate on infinities
        # (issue 13: overflow at step k, outside the theorems' number model); the hypothesis
        # is still decided on the weights
        assert e.step is not None and e.step >= 1 and e.rounding == "sequential"
        assert real_spectrum(model, fmt).real is True
        return
    assert c.real_eigenvalues is True and c.theorem_excludes is True
    assert c.triangular is False and not c.contradicts_theorem
    assert c.depth == 1 and c.period_bound == 2 and c.real_witness is None
    assert c.found or c.rounding_escape        # the sequential model: one or the other
    if c.found:
        a, b = c.words
        ra, rb = run(model, a, fmt), run(model, b, fmt)
        assert ra.states[0][-1].tobytes() == rb.states[0][-1].tobytes()
        assert (len(b) - len(a)) % m != 0


def test_delta_product_rotation_has_a_nonreal_eigenvalue():
    """Two reflections per token (DeltaProduct n_h = 2): each factor real, the product a
    rotation by 90 degrees; the hypothesis fails at layer 0 with the token as witness."""
    e1 = DeltaSubstep([1.0, 0.0], 2.0, [0.0])
    swap = DeltaSubstep([1.0, -1.0], 1.0, [0.0])
    model = FPModel((FPLayer(("0", "1"), {"0": (e1,), "1": (e1, swap)}, [[1.0], [0.0]]),))
    rep = real_spectrum(model)
    assert rep.real is False and rep.witness == (0, ("1",))
    c = mod_counterexample(model, 4, "bfloat16")
    assert c.real_eigenvalues is False and c.real_witness == (0, ("1",))
    assert c.theorem_excludes is False and c.period == 4 and not c.found


def test_second_layer_is_judged_on_products_of_two():
    """Layer 1 (0-based) of a stack: its single matrices are reflections (real), the product of
    two of them is a rotation. Theorem 2 asks about products of 2^1 matrices there."""
    e1 = DeltaSubstep([1.0, 0.0], 2.0, [0.0])
    swap = DeltaSubstep([1.0, -1.0], 1.0, [0.0])
    low = FPLayer(("1",), {"1": ((np.array([[-1.0]]), None),)}, [[1.0]],
                  lambda h, t, s: "a" if float(h[0, 0]) > 0 else "b")
    high = FPLayer(("a", "b"), {"a": (e1,), "b": (swap,)}, [[1.0], [0.0]])
    model = FPModel((low, high))
    rep = real_spectrum(model)
    assert [x.real for x in rep.layers] == [True, False]
    assert rep.layers[1].word_length == 2
    layer, word = rep.witness
    assert layer == 1 and sorted(word) == ["a", "b"]
    # the one-matrix-per-layer reading would call it real: every single matrix is symmetric
    assert all(eigenvalues(high.A(t)).n_nonreal == 0 for t in ("a", "b"))
    c = mod_counterexample(model, 3, "bfloat16")
    assert c.real_eigenvalues is False and c.theorem_excludes is False


def test_real_spectrum_is_exact_where_floats_guess():
    """A 3x3 block with eigenvalues 1/4 +- 2^-30 i (non-real; numpy's 1e-9 tolerance calls it
    real) and one with 1/4 +- 2^-29 (real, not symmetric): decided exactly; the 2x2 block alone
    by its discriminant."""
    eps = 2.0 ** -30
    rot = [[0.25, -eps, 0.0], [eps, 0.25, 0.0], [0.0, 0.0, 0.5]]
    real = [[0.25, eps, 0.0], [4 * eps, 0.25, 0.0], [0.0, 0.0, 0.5]]
    for fmt in ("bfloat16", "float64"):
        for a, want in ((rot, False), (real, True)):
            m = FPModel.from_matrices({"1": a}, initial_state=[[1.0], [0.0], [0.0]])
            assert real_spectrum(m, fmt).real is want
            two = FPModel.from_matrices({"1": [r[:2] for r in a[:2]]},
                                        initial_state=[[1.0], [0.0]])
            assert real_spectrum(two, fmt).real is want
    assert eigenvalues(np.array(rot)).n_nonreal == 0       # the float guess is wrong


def test_undecided_when_products_exceed_the_cap():
    rng = np.random.default_rng(3)
    model = random_triangular_model(rng, n=2, depth=3)   # layer 2: products of 4 tokens
    rep = real_spectrum(model, max_products=10)         # 4 distinct of 2 tokens: 16 pairs
    assert rep.layers[0].real is True and rep.layers[2].real is None
    assert "max_products=10" in rep.layers[2].reason
    assert rep.real is None and rep.excludes(16) is None
    assert mod_counterexample(model, 3, "bfloat16").theorem_excludes is True
    assert real_spectrum(model).real is True                 # the default cap decides it
    with pytest.raises(ModelError, match="max_products"):
        real_spectrum(model, max_products=0)


# ============================================================== the period bound 2^depth


@pytest.mark.parametrize("k", [1, 2, 3])
def test_k_real_layers_count_modulo_2_to_the_k(k):
    """binary_counter_stack(k): every matrix +-1, so a real stack; its output is the count of
    1s modulo 2^k on every word; the state's period under 1^t is exactly 2^k = the bound."""
    model = binary_counter_stack(k)
    rng = np.random.default_rng(k)
    for _ in range(20):
        w = "".join(rng.choice(["0", "1"], size=int(rng.integers(1, 40))))
        out = run(model, w, "bfloat16").outputs
        assert list(out) == [w[:i + 1].count("1") % 2 ** k for i in range(len(w))]
    rep = real_spectrum(model)
    assert rep.real is True and rep.period_bound == 2 ** k
    assert eventual_period(model, "1", "bfloat16").period == 2 ** k
    ok = mod_counterexample(model, 2 ** k, "bfloat16")
    assert not ok.found and ok.theorem_excludes is False and ok.real_eigenvalues is True
    for m in (2 ** (k + 1), 3, 6):                   # beyond the bound: excluded and found
        c = mod_counterexample(model, m, "bfloat16")
        assert c.theorem_excludes is True and c.found and not c.rounding_escape


def test_one_real_layer_cannot_count_modulo_4():
    """App. B.2: one layer with real eigenvalues has period at most 2, so Z_4 needs a non-real
    eigenvalue in one layer (the 4-cycle has one)."""
    neg = FPModel.from_matrices({"1": [[-1.0, 0.0], [0.5, -0.5]]}, B={"1": [[1.0], [0.25]]},
                                initial_state=[[0.5], [0.0]])
    c = mod_counterexample(neg, 4, "bfloat16")
    assert c.real_eigenvalues is True and c.theorem_excludes is True and c.found
    assert 2 % c.period == 0
    z4 = FPModel.from_matrices({"1": [[0, 0, 0, 1], [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]]},
                               initial_state=[1.0, 0.0, 0.0, 0.0])
    c = mod_counterexample(z4, 4, "bfloat16")
    assert c.real_eigenvalues is False and not c.found and c.period == 4


@settings(max_examples=20, deadline=None, derandomize=True, database=None)
@given(st.integers(0, 10_000), st.sampled_from(["diag", "upper", "lower"]), st.integers(1, 4),
       st.integers(1, 3), st.sampled_from(FORMATS))
def test_triangular_stacks_have_periods_dividing_2_to_the_depth(seed, kind, n, depth, fmt):
    """The special case proved in the sequential model: period | 2^depth, and the hypothesis
    (real spectra of all products) holds."""
    rng = np.random.default_rng(seed)
    if kind == "diag":
        model = random_diagonal_model(rng, n=n, depth=depth, low=-1.0)
    else:
        model = random_triangular_model(rng, n=n, depth=depth, lower=kind == "lower")
    c = mod_counterexample(model, 2 ** (depth + 1), fmt)
    assert c.triangular is True and c.real_eigenvalues is True
    assert real_spectrum(model, fmt).real is True           # decided on the products too
    assert 2 ** depth % c.period == 0 and not c.contradicts_theorem
    assert c.theorem_excludes is True and c.found


def test_triangular_case_is_per_layer_orientation_and_per_substep():
    """Upper and lower matrices mixed in a layer, or sub-steps that are not triangular
    (two swaps multiply to the identity), are outside the special case the sequential proof
    covers, though each A(x) is triangular."""
    mixed = FPModel.from_matrices({"a": [[1.0, 1.0], [0.0, 1.0]], "b": [[1.0, 0.0], [-1.0, 1.0]]},
                                  initial_state=[[1.0], [0.0]])
    c = mod_counterexample(mixed, 3, "bfloat16", symbol="a")
    assert c.triangular is False and c.real_eigenvalues is True
    swap = DeltaSubstep([1.0, -1.0], 1.0, [0.0])
    twice = FPModel((FPLayer(("1",), {"1": (swap, swap)}, [[1.0], [0.0]]),))
    assert twice.layers[0].A("1").tolist() == [[1.0, 0.0], [0.0, 1.0]]
    c = mod_counterexample(twice, 3, "bfloat16")
    assert c.triangular is False and c.real_eigenvalues is True
    assert triangular_stack(FPModel.from_matrices({"a": [[-1.0, 0.5], [0.0, 1.0]],
                                                   "b": [[0.5, 0.0], [0.0, -1.0]]},
                                                  initial_state=[[1.0], [0.0]]))


def test_sequential_model_escapes_the_bound_beyond_the_triangular_case():
    """Real eigenvalues (both negative, in (-1, 0)), non-triangular: the sequential bfloat16
    model cycles with period 3, so the state tells t mod 3 -- not a contradiction of Theorem 2,
    which is about the paper's model."""
    model = sequential_mod3_example()
    a = model.layers[0].A("1")
    ex = eigenvalues([[int(round(x * 1024)) for x in row] for row in a])   # 1024 A, exact
    assert ex.exact and ex.n_nonreal == 0 and ex.n_negative == 2
    assert all(-1024 < z.real < 0 for z in ex.numeric)
    for exact in (False, True):
        r = eventual_period(model, "1", "bfloat16", exact=exact)
        assert (r.pre_period, r.period) == (10, 3)
    c = mod_counterexample(model, 3, "bfloat16")
    assert c.real_eigenvalues is True and c.theorem_excludes is True
    assert c.triangular is False and not c.contradicts_theorem and c.rounding_escape
    assert not c.found and "rounding escape" in c.detail
    # the state determines t mod 3 on every 1^t: a lookup decoder counts modulo 3
    tr = run(model, "1" * 40, "bfloat16")
    seen = {}
    for t, h in enumerate(tr.states[0]):
        assert seen.setdefault(h.tobytes(), t % 3) == t % 3


# ============================================================== period arithmetic


def test_real_depth_from_the_definition():
    for p in range(1, 70):
        brute = next((L for L in range(1, 12) if 2 ** L % p == 0), None)
        assert real_depth(p) == brute
        assert one_layer_needs_nonreal(p) == (2 % p != 0)
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ModelError, match="period"):
            real_depth(bad)
    with pytest.raises(ModelError, match="k must be"):
        binary_counter_stack(0)


@pytest.mark.parametrize("m", [3, 4, 8])
def test_the_group_construction_of_cyclic_m_is_not_real(m):
    """Theorem 3's one-layer construction of cyclic(m), m > 2, has a non-real eigenvalue in
    A(1) (what the registry's T2 column says one layer needs)."""
    fp = from_lrnn(compile_dfa(families.get(f"cyclic({m})")), output="class")
    c = mod_counterexample(fp, m, "bfloat16")
    assert c.real_eigenvalues is False and c.real_witness[0] == 0
    assert not c.found and c.period % m == 0


@pytest.mark.parametrize("bad", [None, "3", True, 2.5, 1, float("nan"), float("inf"),
                                 Fraction(5, 2), Decimal("NaN"), Decimal("sNaN"),
                                 Decimal("Infinity"), 3 + 0j])
def test_mod_counterexample_names_a_bad_modulus(bad):
    """Every bad m is a ModelError naming it (None gave a TypeError from int(), NaN and
    infinity a ValueError / OverflowError)."""
    m = FPModel.from_matrices({"1": [[-1.0]]}, initial_state=[[1.0]])
    with pytest.raises(ModelError, match="m must be an integer >= 2"):
        mod_counterexample(m, bad)


@pytest.mark.parametrize("good", [3, np.int64(3), 3.0, Fraction(3), Decimal(3), Decimal("3.0")])
def test_mod_counterexample_takes_any_integral_number(good):
    """An integral Fraction / Decimal / float / numpy int is m = 3 (Fraction(3) and Decimal(3)
    were refused for a while)."""
    m = FPModel.from_matrices({"1": [[-1.0]]}, initial_state=[[1.0]])
    assert mod_counterexample(m, good).m == 3
