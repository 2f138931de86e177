"""The sparse paths of the theory checks against the dense definitions they replace.

An exact :class:`GHFactor` is held as its support and values; a runner casts a token's
sub-steps on first use; a construction's matrix is read over its keys' supports. Each is
compared here, exactly, with a dense computation written from the definition.
"""

from __future__ import annotations

import copy
import pickle
from dataclasses import FrozenInstanceError
from fractions import Fraction

import numpy as np
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from statetrack.automata import families
from statetrack.constructions.compile import compile as compile_dfa
from statetrack.constructions.lrnn import DeltaStep
from statetrack.theory._linalg import as_matrix
from statetrack.theory.errors import FactorMismatchError, MatrixInputError
from statetrack.theory.factorization import (
    GHFactor,
    as_factor,
    check_factorization,
    multiply,
)
from statetrack.theory.finite_precision import (
    BFLOAT16,
    FLOAT16,
    DeltaSubstep,
    FiniteSet,
    FPLayer,
    FPModel,
    _runner,
    run,
)
from statetrack.theory.registry import _compose_transpositions
from statetrack.theory.spectra import _steps_matrix

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True, database=None)

F0, F1 = Fraction(0), Fraction(1)


# ----------------------------------------------------------------------------- strategies

fractions = st.fractions(min_value=-3, max_value=3, max_denominator=6)


@st.composite
def sparse_keys(draw, max_n=30, max_nonzeros=4):
    """``(n, support, values, beta, dense key)``: a rational key with a few non-zeros (the
    support in a random order; some values may be zero), and a rational beta."""
    n = draw(st.integers(1, max_n))
    m = draw(st.integers(0, min(n, max_nonzeros)))
    support = draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m, unique=True))
    values = draw(st.lists(fractions, min_size=m, max_size=m))
    beta = draw(st.fractions(min_value=0, max_value=2, max_denominator=9))
    dense = [F0] * n
    for i, v in zip(support, values):
        dense[i] = v
    return n, support, values, beta, tuple(dense)


# ----------------------------------------------------------------------------- references

def _dense_matrix(key, beta):
    """``I - beta k k^T`` from the definition, entry by entry, in Fractions."""
    n = len(key)
    return [[F1 * (i == j) - beta * key[i] * key[j] for j in range(n)] for i in range(n)]


def _matmul(a, b):
    n, m, p = len(a), len(b), len(b[0])
    return [[sum((a[i][l] * b[l][j] for l in range(m)), F0) for j in range(p)] for i in range(n)]


def _dense_product(pairs, n):
    """``F_1 F_2 ... F_m`` (matrix order) of ``(dense key, beta)`` pairs."""
    out = [[F1 * (i == j) for j in range(n)] for i in range(n)]
    for key, beta in pairs:
        out = _matmul(out, _dense_matrix(key, beta))
    return out


def _compose_dense(keys, n):
    """The dense permutation composition that ``_compose_transpositions`` replaced."""
    pi = list(range(n))
    for key in keys:
        nz = [(i, v) for i, v in enumerate(key) if v != 0]
        a, b = nz[0][0], nz[1][0]
        pi = [b if v == a else a if v == b else v for v in pi]
    return pi


# ----------------------------------------------------------------------------- GHFactor

@SETTINGS
@given(sparse_keys())
def test_sparse_and_dense_factors_agree_exactly(case):
    n, support, values, beta, dense = case
    d = GHFactor(dense, beta)
    s = GHFactor.from_support(n, support, values, beta)
    norm2 = sum((v * v for v in dense), F0)
    for f in (d, s):
        assert f.exact and f.n == n and f.beta == beta
        assert f.key == dense and all(type(v) is Fraction for v in f.key)
        assert f.support == tuple(i for i in range(n) if dense[i] != 0)
        assert f.values == tuple(dense[i] for i in f.support)
        assert f.key_norm2 == norm2 and type(f.key_norm2) is Fraction
        assert f.eigenvalue == 1 - beta * norm2 and type(f.eigenvalue) is Fraction
        assert f.is_gh == (-1 <= 1 - beta * norm2 <= 1)
        assert f.matrix().tolist() == _dense_matrix(dense, beta)
    assert d == s and hash(d) == hash(s) and repr(d) == repr(s)
    assert as_factor((dense, beta)) == d


@SETTINGS
@given(st.lists(sparse_keys(max_n=7), min_size=0, max_size=5), st.integers(1, 7))
def test_sparse_products_equal_the_dense_product(cases, n):
    cases = [c for c in cases if c[0] == n] or [(n, [0], [F1], F1, (F1,) + (F0,) * (n - 1))]
    fs = [GHFactor.from_support(n, sup, vals, beta) for _, sup, vals, beta, _ in cases]
    ref = _dense_product([(dense, beta) for *_, beta, dense in cases], n)
    prod = multiply(fs)
    assert prod.tolist() == ref
    assert all(type(x) is Fraction for x in prod.ravel())
    assert multiply(fs, order="applied").tolist() == _dense_product(
        [(dense, beta) for *_, beta, dense in reversed(cases)], n)
    assert check_factorization(fs, ref) == 0


@SETTINGS
@given(st.lists(sparse_keys(max_n=6), min_size=1, max_size=4), st.data())
def test_exact_mismatch_names_the_first_entry_in_row_major_order(cases, data):
    n = cases[0][0]
    cases = [c for c in cases if c[0] == n]
    fs = [GHFactor.from_support(n, sup, vals, beta) for _, sup, vals, beta, _ in cases]
    ref = _dense_product([(dense, beta) for *_, beta, dense in cases], n)
    cells = data.draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)),
                               min_size=1, max_size=3, unique=True))
    wrong = [row[:] for row in ref]
    for i, j in cells:
        wrong[i][j] += Fraction(1, 7)
    i, j = min(cells)
    with pytest.raises(FactorMismatchError, match=rf"at \[{i}, {j}\]: product has "):
        check_factorization(fs, wrong)


@SETTINGS
@given(st.lists(st.tuples(st.integers(-2, 2), st.integers(0, 2)), min_size=1, max_size=12),
       st.fractions(min_value=0, max_value=2, max_denominator=5))
def test_delta_steps_read_over_their_support(entries, t):
    """A DeltaStep (sympy key, mostly zeros) converts to the factor of its dense key."""
    key = [sympy.Rational(p, q + 1) for p, q in entries]
    strength = sum(k * k for k in key)
    t = sympy.Rational(t.numerator, t.denominator)
    beta = min(t / strength, sympy.Integer(2)) if strength else sympy.Integer(1)
    step = DeltaStep(key, beta)
    dense = GHFactor(tuple(Fraction(int(k.p), int(k.q)) for k in key),
                     Fraction(int(beta.p), int(beta.q)))
    f = as_factor(step)
    assert f == dense and f.key == dense.key and f.eigenvalue == dense.eigenvalue
    assert f.eigenvalue == Fraction(int(step.eigenvalue.p), int(step.eigenvalue.q))


def test_irrational_delta_step_falls_back_to_the_float_factor():
    step = DeltaStep([sympy.sqrt(2), 0, 0], sympy.Rational(1, 2))
    f = as_factor(step)
    assert not f.exact and f.key == (float(sympy.sqrt(2)), 0.0, 0.0)
    assert f.eigenvalue == pytest.approx(0.0, abs=1e-15)


@SETTINGS
@given(st.integers(2, 40), st.integers(0, 30), st.integers(0, 2**32 - 1))
def test_compose_transpositions_matches_the_dense_composition(n, m, seed):
    rng = np.random.default_rng(seed)
    keys, facs = [], []
    for _ in range(m):
        a, b = (int(x) for x in rng.choice(n, size=2, replace=False))
        sa = int(rng.choice([-1, 1]))
        key = [0] * n
        key[a], key[b] = sa, -sa
        keys.append(key)
        facs.append(GHFactor(tuple(key), 1) if rng.random() < 0.5
                    else GHFactor.from_support(n, (b, a), (-sa, sa), 1))
    assert _compose_transpositions(facs, n) == _compose_dense(keys, n)
    assert _compose_transpositions(facs + [GHFactor((1,) + (0,) * (n - 1), 2)], n) is None


def test_float_factors_keep_their_dense_key():
    f = GHFactor((-0.0, 0.6, 0.0, 0.8), 0.5)
    assert not f.exact and f.key == (-0.0, 0.6, 0.0, 0.8)
    assert np.signbit(f.key[0]) and f.support == (1, 3) and f.values == (0.6, 0.8)
    assert f.eigenvalue == 1 - 0.5 * (0.6 * 0.6 + 0.8 * 0.8)
    assert f == GHFactor((0.0, 0.6, 0.0, 0.8), 0.5)


def test_factor_is_frozen_and_round_trips():
    f = GHFactor.from_support(500, (7, 3), (1, -1), 1)
    with pytest.raises(FrozenInstanceError):
        f.beta = 2
    with pytest.raises(FrozenInstanceError):
        f.key = (1,)
    for g in (pickle.loads(pickle.dumps(f)), copy.deepcopy(f), copy.copy(f)):
        assert g == f and g.support == (3, 7) and g.n == 500
    assert repr(GHFactor((1, 0), 1)) == \
        "GHFactor(key=(Fraction(1, 1), Fraction(0, 1)), beta=Fraction(1, 1))"
    assert GHFactor.from_support(3, (), (), 1).matrix().tolist() == _dense_matrix((F0,) * 3, F1)


@pytest.mark.parametrize("args, match", [
    ((0, (), (), 1), "positive integer"),
    ((3, (3,), (1,), 1), r"index 3 \(position 0\) is outside 0..2"),
    ((3, (-1,), (1,), 1), "outside"),
    ((3, (1, 1), (1, 2), 1), r"index 1 is repeated \(position 1\)"),
    ((3, (1,), (1, 2), 1), "1 indices but 2 values"),
    ((3, (1,), (0.5,), 1), r"value 0.5 \(position 0\) is not rational"),
    ((3, (1,), (1,), 0.5), "beta 0.5 is not rational"),
])
def test_from_support_rejects_bad_input(args, match):
    with pytest.raises(MatrixInputError, match=match):
        GHFactor.from_support(*args)


# ----------------------------------------------------------------------------- spectra

@pytest.mark.parametrize("spec", ["symmetric(4)", "dihedral(5)", "quaternion", "tomita(5)"])
def test_steps_matrix_over_supports_equals_the_sympy_matrix(spec):
    lrnn = compile_dfa(families.get(spec), form="permutation")
    layer = lrnn.layers[0]
    for t in layer.tokens:
        steps = layer.steps[layer.token_index(t)]
        got, exact = _steps_matrix(layer, t, steps)
        ref, _ = as_matrix(layer.A(t))
        assert exact and got.dtype == np.int64
        assert (got == ref).all()


# ----------------------------------------------------------------------------- runner

def _random_model(rng, n=5, d=2, tokens="abc", steps=4):
    layer_steps = {}
    for t in tokens:
        layer_steps[t] = tuple(DeltaSubstep(rng.normal(size=n) / 2, float(rng.uniform(0, 1)),
                                            rng.normal(size=d)) for _ in range(steps))
    layer_steps[tokens[-1]] = ((np.eye(n)[::-1] * 0.75, rng.normal(size=(n, d))),)  # dense
    return FPModel((FPLayer(tuple(tokens), layer_steps, rng.normal(size=(n, d))),))


@pytest.mark.parametrize("fmt", [BFLOAT16, FLOAT16, FiniteSet(np.linspace(-2, 2, 33))])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_runner_casts_each_token_as_the_eager_casts_did(fmt, seed):
    model = _random_model(np.random.default_rng(seed))
    layer = model.layers[0]
    r = _runner(model, fmt, None)
    for ti, t in enumerate(layer.tokens):
        row = r.steps[0][ti]
        assert r.steps[0][ti] is row                     # cast once, then kept
        assert len(row) == len(layer.steps[t])
        for st_, (kind, a, b, v, ex) in zip(layer.steps[t], row):
            if isinstance(st_, DeltaSubstep):
                assert kind == "delta"
                assert np.array_equal(a, fmt.cast(st_.key))
                assert b == float(fmt.cast(np.array([st_.beta]))[0])
                assert np.array_equal(v, fmt.cast(st_.value))
            else:
                assert kind == "dense" and np.array_equal(a, fmt.cast(st_[0]))
    # the whole run against eagerly cast weights, stepped by the rule of the module docstring
    h = fmt.cast(layer.initial_state)
    ref = [h]
    for t in "abcab":
        for st_ in layer.steps[t]:
            if isinstance(st_, DeltaSubstep):
                k, v = fmt.cast(st_.key), fmt.cast(st_.value)
                b = float(fmt.cast(np.array([st_.beta]))[0])
                h = fmt.cast(h + b * np.outer(k, v - k @ h))
            else:
                h = fmt.cast(fmt.cast(st_[0]) @ h + fmt.cast(st_[1]))
        ref.append(h)
    got = run(model, "abcab", fmt, exact=False).states[0]
    assert np.array_equal(got, np.stack(ref))


# ----------------------------------------------------------------------------- permutations

@SETTINGS
@given(st.lists(st.integers(0, 9), min_size=0, max_size=10),
       st.sampled_from([np.int64, np.int32, np.uint8]), st.booleans())
def test_integer_array_permutations_checked_as_lists_are(values, dtype, shuffle_perm):
    from statetrack.theory.errors import NotAPermutationError
    from statetrack.theory.factorization import _check_perm

    if shuffle_perm:      # half the cases are permutations
        values = list(np.random.default_rng(len(values)).permutation(len(values)))
    arr = np.array(values, dtype=dtype)
    as_list = [int(v) for v in values]
    try:
        expected = _check_perm([float(v) for v in as_list])     # the generic path
    except NotAPermutationError:
        with pytest.raises(NotAPermutationError):
            _check_perm(arr)
        return
    got = _check_perm(arr)
    assert got == expected == as_list and all(type(v) is int for v in got)
