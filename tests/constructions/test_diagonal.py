"""Diagonal (Mamba-style) and rotation forms, and the float horizons of inexact forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy

from statetrack.automata import DFA
from statetrack.automata.families import get
from statetrack.constructions.compile import compile
from statetrack.constructions.diagonal import (
    diagonal_construction,
    is_cyclic_group,
    is_elementary_abelian_2,
    rotation_construction,
)
from statetrack.constructions.errors import FormError, NotAGroupError, UnsupportedDtypeError
from statetrack.constructions.precision import (
    float_horizon,
    horizon_bound,
    simulate_letter_powers,
)
from statetrack.theory.proof import check_words, verify


def klein_four() -> DFA:
    """Z_2 x Z_2: letter a flips bit 0, b flips bit 1, c flips both."""
    flips = {"a": 1, "b": 2, "c": 3}
    return DFA.from_function(0, "abc", lambda q, x: q ^ flips[x], lambda q: q == 0)


def z2_cubed() -> DFA:
    flips = {"a": 1, "b": 2, "c": 4, "d": 7}
    return DFA.from_function(0, "abcd", lambda q, x: q ^ flips[x], lambda q: q in (0, 5))


# ------------------------------------------------------------------ diagonal form
@pytest.mark.parametrize("make", [lambda: get("parity"), lambda: get("cyclic(2)"), klein_four,
                                  z2_cubed])
def test_diagonal_form_verifies_with_pm1_diagonals(make):
    dfa = make()
    m = diagonal_construction(dfa)
    n = dfa.minimize().n_states
    assert 2 ** m.width == n or (n == 1 and m.width == 1)
    for a in m.alphabet:
        a_mat = sympy.Matrix(m.A(a))
        assert a_mat.is_diagonal() and all(x in (-1, 1) for x in a_mat.diagonal())
        assert all(s.eigenvalue == -1 for s in m.layers[0].steps[m.symbol_index(a)]
                   if not s.is_identity)
    assert m.exact_in_floats and m.form == "diagonal"
    assert verify(m, dfa).ok
    assert check_words(m, dfa, max_length=5, n_random=8, random_length=100,
                       rng=np.random.default_rng(0), dtype="bfloat16").ok


def test_parity_diagonal_is_minus_one():
    m = compile(get("parity"), form="diagonal")
    sym = [s for s in get("parity").alphabet]
    mats = {s: m.A(s)[0, 0] for s in sym}
    assert sorted(mats.values()) == [-1, 1] and m.width == 1 and m.n_h == 1


def test_diagonal_form_refused_for_other_groups():
    with pytest.raises(FormError, match="order 3.*Theorem 2.*modulo 3.*rotation"):
        diagonal_construction(get("cyclic(3)"))
    with pytest.raises(FormError, match="order 4") as info:
        diagonal_construction(get("cyclic(4)"))
    assert "Theorem 2" not in str(info.value)  # 4 is a power of two: Theorem 2 says nothing
    with pytest.raises(FormError, match="do not commute"):
        diagonal_construction(get("symmetric(3)"))
    with pytest.raises(NotAGroupError):
        diagonal_construction(DFA([[1, 1], [1, 1]], accepting=[1], alphabet="ab"))
    assert is_elementary_abelian_2(klein_four()) and not is_elementary_abelian_2(get("cyclic(4)"))


# ------------------------------------------------------------------ rotation form
@pytest.mark.parametrize("m", range(1, 13))
def test_rotation_form_of_cyclic_groups_verifies_exactly(m):
    dfa = get(f"cyclic({m})")
    r = rotation_construction(dfa)
    assert r.width == 2 and r.layers[0].value_dim == 1 and r.n_h == (2 if m > 1 else 0)
    assert r.exact_in_floats == (m <= 2)
    for a in r.alphabet:
        for s in r.layers[0].steps[r.symbol_index(a)]:
            if not s.is_identity:
                assert s.eigenvalue == -1  # reflections
    if m > 2:
        # A('1') is the rotation by 2 pi / m (exact, in the number field)
        a_mat = sympy.Matrix(r.A("1"))
        want = sympy.Matrix([[sympy.cos(2 * sympy.pi / m), -sympy.sin(2 * sympy.pi / m)],
                             [sympy.sin(2 * sympy.pi / m), sympy.cos(2 * sympy.pi / m)]])
        assert all(abs(complex(sympy.N(x, 40))) < 1e-30 for x in a_mat - want)
    cert = verify(r, dfa)
    assert cert.ok and cert.reachable == m
    assert check_words(r, dfa, max_length=6, n_random=0, dtype="float64").ok


def test_rotation_with_several_letters_and_other_generators():
    dfa = get("cyclic(6, generators=all)")
    r = compile(dfa, form="rotation")
    assert verify(r, dfa).ok and is_cyclic_group(dfa)


def test_rotation_form_refused_for_non_cyclic_groups():
    with pytest.raises(FormError, match="abelian but not cyclic.*diagonal"):
        rotation_construction(klein_four())
    with pytest.raises(FormError, match="do not commute"):
        rotation_construction(get("dihedral(4)"))
    assert not is_cyclic_group(get("quaternion"))


# ------------------------------------------------------------------ float horizons
def test_float_horizon_bound_holds_and_simulation_finds_the_failure():
    r = compile(get("cyclic(5)"), form="rotation")
    h32 = float_horizon(r, "float32", max_length=20_000)
    hb = float_horizon(r, "bfloat16", max_length=20_000)
    assert h32.bound > 10_000 and h32.simulated is None
    assert 0 <= hb.bound < 10 and hb.simulated is not None and hb.bound < hb.simulated
    # the proven bound: every word of length <= bound runs correctly in float32 (random words)
    dfa = get("cyclic(5)")
    length = int(min(h32.bound, 3000))
    assert check_words(r, dfa, max_length=0, n_random=16, random_length=length,
                       rng=np.random.default_rng(0), dtype="float32").ok
    # a bfloat16 failure is real: long bf16 runs of the rotation form do go wrong
    wc = check_words(r, dfa, max_length=0, n_random=8, random_length=400,
                     rng=np.random.default_rng(1), dtype="bfloat16")
    assert not wc.ok and wc.first_mismatch is not None
    assert "proven" in h32.summary() and h32.to_dict()["dtype"] == "float32"


def test_bound_grows_with_precision_and_simulation_agrees_with_it():
    r = compile(get("cyclic(7)"), form="rotation")
    b = {dt: horizon_bound(r, dt) for dt in ("bfloat16", "float16", "float32", "float64")}
    assert b["bfloat16"] < b["float16"] < b["float32"] < b["float64"]
    assert horizon_bound(r, "bfloat16", state_dtype="float32") <= b["float32"]
    for dt in ("float16", "float32"):
        sim = simulate_letter_powers(r, dt, max_length=int(min(b[dt], 5000)))
        assert sim is None or sim > b[dt]


def test_integer_forms_have_unbounded_horizons():
    m = compile(get("symmetric(3)"))
    h = float_horizon(m, "bfloat16", max_length=5000)
    assert math.isinf(h.bound) and h.simulated is None and h.to_dict()["bound"] == "inf"
    n = compile(get("symmetric(3)"), normalized=True)
    hn = float_horizon(n, "float32", max_length=2000)
    assert 0 < hn.bound < math.inf


def test_horizon_errors():
    r = compile(get("cyclic(5)"), form="rotation")
    with pytest.raises(UnsupportedDtypeError):
        float_horizon(r, "int8")
    from statetrack.constructions.lrnn import LRNN, DeltaStep, Layer, Readout

    lay = Layer(tokens=("a",), steps=((DeltaStep([1, 0], sympy.Rational(1, 2)),),),
                initial_state=[[1], [1]], readout=Readout(query=[1, 0], codes=[[1], [0]]))
    m = LRNN(alphabet=("a",), layers=(lay,), accepting=(True, False))
    with pytest.raises(FormError, match="reflections with zero values"):
        horizon_bound(m, "float32")
    two = LRNN(alphabet=("a",), layers=(lay, Layer(tokens=("x",), steps=((),),
                                                     initial_state=[[1]],
                                                     readout=Readout(query=[1], codes=[[1]]),
                                                     token_map=[[0, 0]])),
               accepting=(True,))
    with pytest.raises(FormError, match="one-layer"):
        float_horizon(two, "float32")


def test_horizon_summary_wording():
    from statetrack.constructions.precision import FloatHorizon

    assert FloatHorizon("bfloat16", "bfloat16", -1.0, 30, 100).summary() == (
        "bfloat16 weights / bfloat16 state: the proven bound guarantees no length (too coarse "
        "at this precision); simulated letter powers: first failure at length 30")
    assert "proven correct up to length 7;" in FloatHorizon("float32", "float32", 7.0, None,
                                                            100).summary()
    assert "proven correct at every length" in FloatHorizon("float32", "float32", math.inf,
                                                            None, 5).summary()
    assert "no length guaranteed" not in FloatHorizon("f", "f", -1.0, None, 1).summary()


def test_simulation_rounds_with_the_one_rounding_function():
    """The numba simulation rounds with statetrack.floats' compiled round_scalar (it had a
    twin of its own, without the exponent range, until issue 14), and that function agrees
    with round_to_dtype on values of every magnitude (more in tests/test_floats.py)."""
    from statetrack.constructions.floats import round_to_dtype
    from statetrack.floats import FORMATS, jitted_round_scalar

    rnd = jitted_round_scalar()
    rng = np.random.default_rng(4)
    x = rng.normal(size=3000) * np.exp(rng.uniform(-100, 100, size=3000))
    x[:4] = [1 + 2.0 ** -8, 1 + 3 * 2.0 ** -8, 1 + 2.0 ** -11, -(1 + 3 * 2.0 ** -11)]  # ties
    for name in ("float64", "float32", "bfloat16", "float16"):
        got = np.array([rnd(float(v), *FORMATS[name].params) for v in x])
        assert np.array_equal(got, round_to_dtype(x, name)), name
