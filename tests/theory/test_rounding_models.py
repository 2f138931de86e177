"""The two rounding models of finite_precision (issue 13, "Theorem 1 in the paper's
finite-precision model"): the paper's model against its formula, its decided eventual
behaviour against runs, contradicts_theorem only in the theorem's model, and overflow as a
clear answer."""

from __future__ import annotations

import warnings
from fractions import Fraction

import numpy as np
import pytest

from statetrack.floats import BFLOAT16
from statetrack.theory.errors import FormatOverflowError, ModelError, PeriodLimitError
from statetrack.theory.finite_precision import (
    PAPER,
    ROUNDING_MODELS,
    SEQUENTIAL,
    DeltaSubstep,
    FiniteSet,
    FPLayer,
    FPModel,
    eventual_period,
    get_format,
    parity_counterexample,
    random_diagonal_model,
    rounding_cycle_example,
    run,
)


def _dyadic(rng: np.random.Generator, shape, bits: int = 6, scale: float = 1.0) -> np.ndarray:
    return np.round(rng.uniform(-scale, scale, size=shape) * 2**bits) / 2**bits


# ----------------------------------------------------------------------------- the reference

def _mat(a) -> list:
    return [[Fraction(float(x)) for x in row] for row in np.atleast_2d(a)]


def _mul(a: list, b: list) -> list:
    return [[sum((a[i][k] * b[k][j] for k in range(len(b))), Fraction(0))
             for j in range(len(b[0]))] for i in range(len(a))]


def _add(a: list, b: list) -> list:
    return [[x + y for x, y in zip(ra, rb)] for ra, rb in zip(a, b)]


def _cast(fmt, a: list) -> list:
    return [[Fraction(fmt.cast_exact(x)) for x in row] for row in a]


def _token_affine(layer: FPLayer, tok: str) -> tuple[list, list]:
    """``(A(x), B(x))`` of the uncast weights, composed from the sub-steps by hand."""
    n, d = layer.shape
    a = [[Fraction(int(i == j)) for j in range(n)] for i in range(n)]
    b = [[Fraction(0)] * d for _ in range(n)]
    for st in layer.steps[tok]:
        if isinstance(st, DeltaSubstep):
            k = np.asarray(st.key)
            aj = _mat(np.eye(n) - st.beta * np.outer(k, k))     # exact: dyadic test weights
            bj = _mat(st.beta * np.outer(k, st.value))
        else:
            aj, bj = _mat(st[0]), _mat(st[1])
        a, b = _mul(aj, a), _add(_mul(aj, b), bj)
    return a, b


def _paper_reference(model: FPModel, word: str, fmt) -> list:
    """The states of the paper's model on every prefix of ``word``, straight from the formula
    cast(sum_i cast(A(x_k)...A(x_{i+1}) B(x_i)) + cast(A(x_k)...A(x_1) H_0)): each product
    recomputed from scratch (one layer)."""
    layer = model.layers[0]
    h0 = _mat(layer.initial_state)
    aff = {t: _token_affine(layer, t) for t in layer.tokens}
    out = [_cast(fmt, h0)]
    for k in range(1, len(word) + 1):
        def prod(lo: int) -> list:        # A(x_k) ... A(x_{lo+1})
            n = len(h0)
            p = [[Fraction(int(i == j)) for j in range(n)] for i in range(n)]
            for x in word[lo:k]:
                p = _mul(aff[x][0], p)
            return p
        total = _cast(fmt, _mul(prod(0), h0))
        for i in range(1, k + 1):
            total = _add(total, _cast(fmt, _mul(prod(i), aff[word[i - 1]][1])))
        out.append(_cast(fmt, total))
    return [np.array([[float(x) for x in row] for row in h]) for h in out]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("fmt", ["bfloat16", "float16", FiniteSet(np.linspace(-2, 2, 17))])
def test_paper_model_is_the_formula(seed, fmt):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 4))
    dense = {t: ((_dyadic(rng, (n, n), scale=0.8), _dyadic(rng, (n, 1))),) for t in "01"}
    k = _dyadic(rng, n, bits=2)
    k[0] = 1.0
    delta = {"0": dense["0"], "1": (DeltaSubstep(k, 0.5, [0.25]), dense["1"][0])}
    for steps in (dense, delta):
        m = FPModel((FPLayer(("0", "1"), steps, _dyadic(rng, (n, 1))),))
        for word in ("1" * 9, "0110100111"):
            got = run(m, word, fmt, rounding="paper")
            ref = _paper_reference(m, word, get_format(fmt))
            assert got.rounding == "paper" and len(got.states[0]) == len(ref)
            for t, h in enumerate(ref):
                assert np.array_equal(got.states[0][t], h), (word, t)


def test_paper_and_sequential_differ_and_are_named():
    count = FPModel.from_matrices({"1": [[1.0]]}, B={"1": [[1.0]]}, initial_state=[[256.0]])
    seq = run(count, "1111", "bfloat16")
    pap = run(count, "1111", "bfloat16", rounding="paper")
    assert seq.rounding == SEQUENTIAL and pap.rounding == PAPER
    assert seq.states[0][:, 0, 0].tolist() == [256.0] * 5          # 257 rounds to 256
    assert pap.states[0][:, 0, 0].tolist() == [256.0, 256.0, 258.0, 260.0, 260.0]
    assert set(ROUNDING_MODELS) == {"paper", "sequential"}
    with pytest.raises(ModelError, match="rounding must be one of"):
        run(count, "1", rounding="kernel")
    with pytest.raises(ModelError, match="exact=False is for the sequential model"):
        run(count, "1", rounding="paper", exact=False)
    two = random_diagonal_model(np.random.default_rng(0), depth=2)
    with pytest.raises(ModelError, match="one-layer models only"):
        eventual_period(two, "1", rounding="paper")
    assert run(two, "0110", rounding="paper").rounding == "paper"   # any depth runs


# ------------------------------------------------------------------- the rounding-cycle example

def test_rounding_cycle_example_in_both_models():
    m = rounding_cycle_example()
    paper = eventual_period(m, "1", "float16", rounding="paper")
    seq = eventual_period(m, "1", "float16", rounding="sequential")
    assert (paper.period, paper.rounding) == (1, "paper")            # a fixed point
    assert (seq.pre_period, seq.period, seq.rounding) == (9, 2, "sequential")
    # the paper's claim, against a run of the model: constant from the pre-period on
    states = run(m, "1" * 40, "float16", rounding="paper").states[0]
    mu = paper.pre_period
    assert all(np.array_equal(states[t], states[mu]) for t in range(mu, 41))
    assert not np.array_equal(states[mu - 1], states[mu])
    cp = parity_counterexample(m, "float16", rounding="paper")
    cs = parity_counterexample(m, "float16", rounding="sequential")
    assert cp.found and cp.kind == "state" and cp.verify(m) and cp.rounding == "paper"
    assert cp.contradicts_theorem is False and cp.nonnegative_eigenvalues is True
    assert not cs.found and cs.contradicts_theorem is None and cs.rounding == "sequential"
    assert "no contradiction is claimed" in cs.detail and "sequential" in cs.detail


@pytest.mark.parametrize("seed", range(8))
def test_contradicts_theorem_is_claimed_only_in_the_papers_model(seed):
    m = random_diagonal_model(np.random.default_rng(seed), n=2)
    rng = np.random.default_rng(seed)
    # dyadic weights keep the paper's exact walk short
    layer = m.layers[0]
    steps = {t: ((np.diag(np.round(rng.uniform(0, 0.9, 2) * 16) / 16), _dyadic(rng, (2, 1))),)
             for t in layer.tokens}
    m = FPModel((FPLayer(layer.tokens, steps, _dyadic(rng, (2, 1)), layer.decoder),))
    seq = parity_counterexample(m, "bfloat16")
    pap = parity_counterexample(m, "bfloat16", rounding="paper")
    assert seq.contradicts_theorem is None and seq.found
    assert pap.contradicts_theorem is False and pap.found and pap.period == 1
    assert pap.verify(m) and seq.verify(m)


# ----------------------------------------------------------------- decided behaviour vs runs

def _least_period_from_run(states: np.ndarray, horizon: int) -> tuple[int, int]:
    """(mu, lambda) of a state sequence, assuming it is periodic within the first horizon."""
    for lam in range(1, horizon // 3):
        for mu in range(0, horizon - 2 * lam):
            if all(np.array_equal(states[t], states[t + lam]) for t in range(mu, horizon - lam)):
                return mu, lam
    raise AssertionError("not periodic within the horizon")


PAPER_CASES = {
    "contraction": (FPModel.from_matrices({"1": [[0.5, 0.25], [0.0, 0.25]]},
                                          B={"1": [[1.0], [0.5]]}, initial_state=[[0.0], [1.0]]),
                    "float16"),
    "swap": (FPModel.from_matrices({"1": [[0.0, 1.0], [1.0, 0.0]]},
                                   initial_state=[[1.0], [0.0]]), "bfloat16"),
    "3-cycle": (FPModel.from_matrices({"1": [[0, 0, 1], [1, 0, 0], [0, 1, 0]]},
                                      initial_state=[1.0, 0.0, 0.0]), "float16"),
    "swap with drift": (FPModel.from_matrices({"1": [[0.0, 1.0], [1.0, 0.0]]},
                                              B={"1": [[0.5], [0.0]]},
                                              initial_state=[[0.0], [0.0]]),
                        FiniteSet(np.linspace(-2, 2, 33))),
    "eigenvalue 1 with a limit": (FPModel.from_matrices({"1": [[1.0, 0.5], [0.0, 0.5]]},
                                                        initial_state=[[0.0], [1.0]]),
                                  "bfloat16"),
    "eigenvalue 1, saturating": (FPModel.from_matrices({"1": [[1.0, 0.0], [0.0, 0.5]]},
                                                       B={"1": [[0.25], [1.0]]},
                                                       initial_state=[[0.0], [0.0]]),
                                 FiniteSet(np.linspace(-3, 3, 49))),
}


@pytest.mark.parametrize("name", list(PAPER_CASES))
def test_paper_eventual_period_matches_the_run(name):
    m, fmt = PAPER_CASES[name]
    r = eventual_period(m, "1", fmt, rounding="paper")
    assert r.rounding == "paper" and r.proof
    horizon = r.pre_period + 4 * r.period + 12
    states = run(m, "1" * horizon, fmt, rounding="paper").states[0]
    assert (r.pre_period, r.period) == _least_period_from_run(states, horizon + 1), name


def test_paper_model_eigenvalue_one_drift_overflows_at_the_exact_step():
    """h_t = cast(t) in the paper's model (the sequential model sticks at 256): it leaves
    bfloat16 at the first t that rounds to infinity, 2^128 - 2^119 (max + half an ulp, ties to
    even)."""
    count = FPModel.from_matrices({"1": [[1.0]]}, B={"1": [[1.0]]}, initial_state=[[0.0]])
    with pytest.raises(FormatOverflowError, match="overflow at step") as e:
        eventual_period(count, "1", "bfloat16", rounding="paper")
    assert e.value.step == 2**128 - 2**119 and e.value.rounding == "paper"
    assert BFLOAT16.cast_exact(Fraction(2**128 - 2**119)) == np.inf
    assert BFLOAT16.cast_exact(Fraction(2**128 - 2**119 - 1)) == BFLOAT16.max_value
    assert eventual_period(count, "1", "bfloat16").pre_period == 256


# ------------------------------------------------------------------------ extreme inputs

DOUBLE = FPModel.from_matrices({"1": [[2.0]]}, B={"1": [[1.0]]}, initial_state=[[1.0]])


@pytest.mark.parametrize("rounding,exact", [("sequential", False), ("sequential", True),
                                            ("paper", None)])
def test_eigenvalue_above_one_overflows_with_the_step(rounding, exact):
    """A = [[2.0]]: the state 2^(t+1) - 1 leaves bfloat16 at t = 127 in both models; the
    answer is a FormatOverflowError naming the step, never an OverflowError or a numpy
    RuntimeWarning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for call in (lambda: run(DOUBLE, "1" * 200, "bfloat16", exact=exact, rounding=rounding),
                     lambda: eventual_period(DOUBLE, "1", "bfloat16", exact=exact,
                                             rounding=rounding),
                     lambda: parity_counterexample(DOUBLE, "bfloat16", exact=exact,
                                                   rounding=rounding)):
            with pytest.raises(FormatOverflowError, match="overflow at step 127") as e:
                call()
            assert e.value.step == 127 and e.value.layer == 0
            assert e.value.rounding == rounding
            assert "outside the hypothesis" in str(e.value)


def test_overflow_through_nan_and_weights():
    # inf - inf: the sequential float64 path would warn and produce NaN
    m = FPModel.from_matrices({"1": [[2.0, 0.0], [1.0, -2.0]]}, initial_state=[[1.0], [0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(FormatOverflowError, match="overflow at step"):
            parity_counterexample(m, "float16", check_hypothesis=False)
        big = FPModel.from_matrices({"1": [[1e6]]}, initial_state=[[1.0]])
        with pytest.raises(FormatOverflowError, match="a weight: A of sub-step 0") as e:
            run(big, "1", "float16")
        assert e.value.step is None
        assert BFLOAT16.cast_exact(Fraction(2) ** 2000) == np.inf   # was an OverflowError


def test_eigenvalue_above_one_in_a_finite_set_is_undecided_not_a_traceback():
    """In a finite set D the paper's model saturates (no overflow); the toolkit does not prove
    saturation of growing powers and says so."""
    d = FiniteSet([-2.0, -1.0, 0.0, 1.0, 2.0])
    with pytest.raises(PeriodLimitError, match="undecided in the paper's rounding model"):
        eventual_period(DOUBLE, "1", d, rounding="paper")
    r = eventual_period(DOUBLE, "1", d)                   # the sequential model saturates
    assert r.period == 1


# ------------------------------------------------------------------------------- the registry

def test_registry_thm1_column_names_its_model():
    from statetrack.automata import families
    from statetrack.theory.registry import COLUMN_LEGEND, check, run_all

    assert "paper's rounding model" in COLUMN_LEGEND["T1"]
    for name in ("parity", "cyclic(3)", "tomita(3)", "aa_star"):
        r = check("thm1", families.get(name))
        assert "in the paper's rounding model" in r.detail and r.data["model"] == "paper"
    col = next(c for c in run_all(families.get("parity")) if c.column == "T1")
    assert "paper's rounding model" in col.detail and col.summary == "needed, has"


def test_registry_thm1_column_says_it_is_the_one_layer_extension():
    """Theorem 1 speaks of single letters in *some* layer of a stack; the T1 column of every
    word ``w`` and ``A(w)``, which only one layer defines: the legend and the detail say so."""
    from statetrack.automata import families
    from statetrack.theory.registry import COLUMN_LEGEND, check

    assert "1L" in COLUMN_LEGEND["T1"]
    for name in ("parity", "symmetric(3)", "aa_star"):
        r = check("thm1", families.get(name))
        assert r.data["needed"]
        assert "a one-layer LRNN needs" in r.detail and "in some layer" in r.detail
        assert "so an LRNN needs" not in r.detail
    # a star-free language needs nothing, at any depth: no one-layer qualifier to add
    assert check("thm1", families.get("flip_flop")).columns == (("T1", "not needed"),)


@pytest.mark.parametrize("fmt, step", [("bfloat16", 219), ("float32", 219), ("float64", 1751)])
def test_paper_model_growth_overflows_within_max_steps(fmt, step):
    """An eigenvalue above 1 (A = 1.5): the paper's model walks on to max_steps and proves
    the overflow at its step (it stopped after 128 copies, undecided, whatever max_steps)."""
    m = FPModel.from_matrices({"1": [[1.5]]}, B={"1": [[0.0]]}, initial_state=[[1.0]])
    with pytest.raises(FormatOverflowError, match=f"overflow at step {step}:"):
        parity_counterexample(m, fmt, rounding="paper", max_steps=5000)
    with pytest.raises(PeriodLimitError, match=r"grow about 1.5x a copy \(measured\), which "
                       r"would pass the largest value of float64 after about 17\d\d copies"):
        parity_counterexample(m, "float64", rounding="paper", max_steps=1000)


def test_paper_model_slow_or_untouched_growth_stops_early_and_says_why():
    """A radius just above 1 (1.001: about 88,000 copies to overflow) stops after 128 copies
    as before rather than walk max_steps in growing rationals; a growing direction that H_0
    and B do not touch is no growth."""
    m = FPModel.from_matrices({"1": [[1.001]]}, B={"1": [[0.0]]}, initial_state=[[1.0]])
    with pytest.raises(PeriodLimitError, match=r"within 128 copies.*grow about 1.001x"):
        parity_counterexample(m, "bfloat16", rounding="paper")
    m2 = FPModel.from_matrices({"1": [[2.0, 0.0], [0.0, 0.5]]}, B={"1": [[0.0], [0.0]]},
                               initial_state=[[0.0], [1.0]])
    with pytest.raises(PeriodLimitError, match="no convergence certificate") as e:
        parity_counterexample(m2, "bfloat16", rounding="paper")
    assert "grow about" not in str(e.value)


def test_paper_model_limit_on_a_rounding_boundary_says_so():
    m = FPModel.from_matrices({"1": [[0.5, 0.0], [0.0, 1.0]]}, B={"1": [[0.0], [0.0]]},
                              initial_state=[[1.0], [1 + 2 ** -8]])
    with pytest.raises(PeriodLimitError, match="lies on a rounding boundary of bfloat16"):
        parity_counterexample(m, "bfloat16", rounding="paper")


def test_paper_model_defective_eigenvalue_one_is_undecided_and_says_why():
    for a, h0 in (([[1.0, 1.0], [0.0, 1.0]], [[0.0], [1.0]]),
                  ([[1.0, 1.0, 0.0], [-1.0, 1.0, 1.0], [0.0, 1.0, 1.0]], [[0.0], [0.0], [1.0]])):
        m = FPModel.from_matrices({"1": a}, initial_state=h0)    # a Jordan block of 1
        with pytest.raises(PeriodLimitError, match="eigenvalue 1 is defective"):
            parity_counterexample(m, "bfloat16", rounding="paper")
