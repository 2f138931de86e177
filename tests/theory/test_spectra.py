"""Spectra: exact eigenvalue facts checked against constructions with a known spectrum."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from statetrack.constructions.lrnn import DeltaStep, Layer, LRNN, Readout
from statetrack.automata import families
from statetrack.constructions.compile import compile as compile_dfa
from statetrack.theory import spectra
from statetrack.theory._linalg import as_matrix
from statetrack.theory.errors import (
    FactorOrderError,
    MatrixInputError,
    NotAPermutationError,
    UnknownTokenError,
)
from statetrack.theory.factorization import GHFactor, permutation_cycles, permutation_matrix
from statetrack.theory.spectra import (
    UndecidedSpectrumError,
    check_spectrum,
    eigenvalues,
    permutation_spectrum,
    word_spectra,
)

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True, database=None)


def _sorted(zs):
    return sorted(zs, key=lambda z: (round(z.real, 8), round(z.imag, 8)))


@SETTINGS
@given(st.integers(1, 9).flatmap(lambda n: st.permutations(list(range(n)))))
def test_permutation_spectrum(p):
    s = eigenvalues(permutation_matrix(p))
    assert s.exact and s.method == "permutation" and s.n == len(p)
    lengths = [len(c) for c in permutation_cycles(p)]
    assert s.n_negative == sum(1 for L in lengths if L % 2 == 0)
    assert s.n_nonreal == sum(L - 1 - (L % 2 == 0) for L in lengths)
    ev = np.linalg.eigvals(permutation_matrix(p).astype(float))
    np.testing.assert_allclose(_sorted(s.numeric), _sorted(ev), atol=1e-9)
    assert all(abs(abs(z) - 1) < 1e-12 for z in s.numeric)
    for v, z in zip(s.values, s.numeric):  # exact values are the numeric ones
        assert abs(complex(sympy.N(v)) - z) < 1e-12


@st.composite
def known_spectrum(draw):
    """P J P^-1 with P unimodular (integer inverse) and J block diagonal: rational reals and
    2x2 blocks [[a, -b], [b, a]] (eigenvalues a +- bi, b != 0)."""
    n_real = draw(st.integers(0, 4))
    n_pairs = draw(st.integers(0, 2))
    if n_real + n_pairs == 0:
        n_real = 1
    frac = st.fractions(min_value=-1, max_value=1, max_denominator=6)
    reals = draw(st.lists(frac, min_size=n_real, max_size=n_real))
    pairs = draw(st.lists(st.tuples(frac, frac.filter(lambda b: b != 0)),
                          min_size=n_pairs, max_size=n_pairs))
    n = n_real + 2 * n_pairs
    j = sympy.zeros(n, n)
    for i, r in enumerate(reals):
        j[i, i] = sympy.Rational(r.numerator, r.denominator)
    for t, (a, b) in enumerate(pairs):
        i = n_real + 2 * t
        ra, rb = sympy.Rational(a.numerator, a.denominator), sympy.Rational(b.numerator, b.denominator)
        j[i, i], j[i, i + 1], j[i + 1, i], j[i + 1, i + 1] = ra, -rb, rb, ra
    up = draw(st.lists(st.integers(-2, 2), min_size=n * n, max_size=n * n))
    lo = draw(st.lists(st.integers(-2, 2), min_size=n * n, max_size=n * n))
    u = sympy.Matrix(n, n, lambda r, c: 1 if r == c else (up[r * n + c] if c > r else 0))
    lm = sympy.Matrix(n, n, lambda r, c: 1 if r == c else (lo[r * n + c] if c < r else 0))
    p = u * lm
    m = p * j * p.inv()
    expected = [complex(float(r)) for r in reals]
    for a, b in pairs:
        expected += [complex(float(a), float(b)), complex(float(a), -float(b))]
    mat = [[Fraction(int(m[r, c].p), int(m[r, c].q)) for c in range(n)] for r in range(n)]
    return mat, expected, sum(1 for r in reals if r < 0), 2 * n_pairs


@settings(max_examples=25, deadline=None, derandomize=True, database=None)
@given(known_spectrum())
def test_exact_counts_on_known_spectra(case):
    mat, expected, n_neg, n_nonreal = case
    s = eigenvalues(mat)
    assert s.exact
    assert s.n_negative == n_neg
    assert s.n_nonreal == n_nonreal
    np.testing.assert_allclose(_sorted(s.numeric), _sorted(expected), atol=1e-7)


@SETTINGS
@given(st.integers(1, 5).flatmap(lambda n: st.lists(
    st.tuples(st.lists(st.integers(-2, 2), min_size=n, max_size=n),
              st.fractions(min_value=0, max_value=1, max_denominator=8)),
    min_size=1, max_size=2)))
def test_two_gh_factors_in_0_1_have_eigenvalues_in_0_1(raw):
    """Proposition 1, last claim: k <= 2 GH factors with eigenvalues in [0, 1] multiply to a
    matrix whose eigenvalues all lie in [0, 1]."""
    fs = []
    for key, t in raw:
        if not any(key):
            key[0] = 1
        fs.append(GHFactor(tuple(key), t / sum(v * v for v in key)))
    m = np.eye(len(raw[0][0]), dtype=object)
    for f in fs:
        m = m.dot(f.matrix())
    s = eigenvalues(m)
    assert s.exact
    assert s.all_nonnegative_real
    assert all(-1e-12 <= z.real <= 1 + 1e-12 for z in s.numeric)


def test_three_gh_factors_in_0_1_can_have_complex_eigenvalues():
    """...and the claim stops at k = 2: three projections can rotate."""
    fs = [GHFactor((1, 0), 1), GHFactor((1, 1), Fraction(1, 2)), GHFactor((0, 1), 1)]
    r = check_spectrum({"a": [GHFactor((1, 1, 0), Fraction(1, 2)),
                              GHFactor((0, 1, 1), Fraction(1, 2)),
                              GHFactor((1, 0, 1), Fraction(1, 2))]})
    assert r.factors_in_range and r.tokens_have_complex and r.exact and r.ok
    assert check_spectrum({"a": fs}).factors_in_range


def test_triangular_and_fallbacks():
    s = eigenvalues([[Fraction(-1, 2), 5, 7], [0, Fraction(1, 3), 1], [0, 0, 1]])
    assert s.method == "triangular" and s.values == (sympy.Rational(-1, 2), sympy.Rational(1, 3), 1)
    assert s.n_negative == 1 and not s.has_complex and s.min_real == -0.5
    f = eigenvalues(np.array([[0.0, -1.0], [1.0, 0.0]]))
    assert not f.exact and f.method == "numpy" and f.n_nonreal == 2 and f.max_abs == pytest.approx(1)
    irr = eigenvalues(sympy.Matrix([[0, sympy.sqrt(2)], [sympy.sqrt(2), 0]]))
    assert not irr.exact and irr.n_negative == 1
    big = eigenvalues([[1, 1, 0], [1, 0, 1], [0, 1, 1]], limit=2)
    assert not big.exact and big.method == "numpy" and big.n_negative == 1
    assert big.nonnegative_real is None
    with pytest.raises(UndecidedSpectrumError, match="numerical guess"):
        big.require_exact()
    mid = eigenvalues([[1, 1, 0], [1, 0, 1], [0, 1, 1]], cutoff=2)
    assert mid.exact and mid.method == "isolation" and mid.n_negative == 1
    assert not mid.values_exact and mid.nonnegative_real is False
    small = eigenvalues([[1, 1, 0], [1, 0, 1], [0, 1, 1]])
    assert small.exact and small.method == "charpoly" and small.n_negative == 1
    assert sorted(small.values, key=float) == [-1, 1, 2]


def test_eigenvalue_input_errors():
    with pytest.raises(NotAPermutationError, match="not a permutation"):
        permutation_spectrum([0, 0])
    with pytest.raises(MatrixInputError, match="square"):
        eigenvalues([[1, 2]])
    with pytest.raises(MatrixInputError, match="not finite"):
        eigenvalues([[float("nan")]])


def _parity_lrnn() -> LRNN:
    swap = DeltaStep(key=[1, -1], beta=1)
    layer = Layer(tokens=("0", "1"), steps=((), (swap,)), initial_state=[[1], [0]],
                  readout=Readout(query=[0, 1], codes=[[0], [1]]))
    return LRNN(alphabet=("0", "1"), layers=(layer,), accepting=(False, True))


def test_check_spectrum_on_constructed_lrnn():
    r = check_spectrum(_parity_lrnn(), word_length=3)
    assert r.exact and r.ok and r.has_negative and not r.has_complex
    assert r.layers[0].factor_eigenvalues == {"0": (1,), "1": (-1,)}
    assert r.min_real == -1 and r.max_abs == 1
    # the products of I and the swap are I and the swap again: nothing new
    assert r.layers[0].products == ()
    assert r.summary() == "eig in [-1, 1] (neg) |eig|<=1 ||A||<=1 exact"


def test_check_spectrum_products_and_truncation():
    z3 = {"a": permutation_matrix([1, 2, 0]), "b": permutation_matrix([1, 0, 2])}
    r = check_spectrum(z3, word_length=3)
    assert r.tokens_have_complex and r.tokens_have_negative and r.ok and r.exact
    words = {ms.word for ms in r.layers[0].products}
    assert ("a", "a") in words and len(words) == 4  # S_3 has 6 elements; 2 are the letters
    assert not r.layers[0].products_truncated
    t = check_spectrum(z3, word_length=3, max_products=1)
    assert t.layers[0].products_truncated and len(t.layers[0].products) == 1
    # Theorem 2's picture: products of real diagonal matrices never have complex eigenvalues
    d = check_spectrum({"a": [[-1, 0], [0, Fraction(1, 2)]], "b": [[Fraction(1, 3), 0], [0, -1]]},
                       word_length=4)
    assert d.has_negative and not d.has_complex


def test_check_spectrum_flags_violations():
    bad = check_spectrum({"a": [[2, 0], [0, 1]]})
    assert not bad.ok and not bad.norms_at_most_one and not bad.in_unit_disk
    assert "||A||>1!" in bad.summary()
    out = check_spectrum({"a": [GHFactor((1, 0), 3)]})
    assert out.factors_in_range is False and not out.ok
    sheared = check_spectrum({"a": [[1, 1], [0, 1]]})  # eigenvalues 1, but norm > 1
    assert sheared.in_unit_disk and not sheared.norms_at_most_one and not sheared.ok
    layered = check_spectrum([{"a": [[1]]}, {"x": np.array([[0.5]])}])
    assert len(layered.layers) == 2 and not layered.exact and layered.ok


def test_check_spectrum_input_errors():
    with pytest.raises(MatrixInputError, match="empty"):
        check_spectrum({})
    with pytest.raises(MatrixInputError, match="different shapes"):
        check_spectrum({"a": [[1]], "b": [[1, 0], [0, 1]]})
    with pytest.raises(MatrixInputError, match="check_spectrum takes"):
        check_spectrum(42)
    with pytest.raises(MatrixInputError, match="word_length"):
        check_spectrum({"a": [[1]]}, word_length=0)
    with pytest.raises(MatrixInputError, match="empty factor list"):
        check_spectrum({"a": []})


def test_mapping_of_delta_steps_is_read_in_application_order():
    """check_spectrum({token: steps}) builds A(a) = G_n ... G_1 (cyclic(3): not the inverse)."""
    dfa = families.get("cyclic(3)")
    layer = compile_dfa(dfa).layers[0]
    mapping = {a: layer.steps[layer.token_index(a)] for a in dfa.alphabet}
    _, mats, facs = spectra._layer_from_mapping(mapping, 0)
    for a in dfa.alphabet:
        assert (mats[a][0] == as_matrix(layer.A(a))[0]).all()
        assert (mats[a][0] == permutation_matrix(dfa.letter(a))).all()
    assert facs["1"] == (-1, -1)
    with pytest.raises(FactorOrderError, match="mixes"):
        check_spectrum({"a": [mapping["1"][0], GHFactor((1, -1, 0), 1)]})


def test_word_spectra_of_products():
    # S_3 on 6 states: every letter is a swap (real spectrum), a product of two is a 3-cycle
    lrnn = compile_dfa(families.get("symmetric(3)"))
    a, b, c = lrnn.alphabet
    s = word_spectra(lrnn, [(a,), (a, b), (a, b, a), (), (a, a)])
    assert [ms.word for ms in s] == [(a,), (a, b), (a, b, a), (), (a, a)]
    assert s[0].spectrum.has_negative and not s[0].spectrum.has_complex
    assert s[1].spectrum.has_complex and s[1].spectrum.n_nonreal == 4   # two 3-cycles on 6
    assert s[2].spectrum.has_negative and not s[2].spectrum.has_complex  # a swap again
    assert s[3].spectrum.values == (1,) * 6 and s[4].spectrum.values == (1,) * 6
    assert all(ms.spectrum.exact and ms.norm_at_most_one for ms in s)
    # the general (non-permutation) path agrees with dense products, w_1 applied first
    m = {"x": [[Fraction(1, 2), 0], [0, 1]], "y": [[0, 1], [1, 0]]}
    got = word_spectra(m, [("x", "y"), ("y", "x", "x")])
    xy = np.array([[0, 1], [1, 0]], dtype=object).dot(np.array(m["x"], dtype=object))
    assert got[0].spectrum.values == eigenvalues(xy).values and got[0].norm_at_most_one
    assert sorted(got[1].spectrum.values) == [-sympy.Rational(1, 2), sympy.Rational(1, 2)]
    with pytest.raises(UnknownTokenError, match="'z'"):
        word_spectra(m, [("x", "z")])
    with pytest.raises(MatrixInputError, match="layer must be"):
        word_spectra(m, [("x",)], layer=1)


@pytest.mark.parametrize("words", ["11", b"11", None, 3])
def test_word_spectra_refuses_words_that_are_not_a_list_of_words(words):
    """``word_spectra(model, "11")`` read the string as two one-letter words and returned the
    spectrum of ``A(1)`` twice, not that of ``A(1 1)``."""
    model = {"1": [[0, 1], [1, 0]]}
    with pytest.raises(MatrixInputError, match=r"^word_spectra: argument 'words' must be a list "
                                               r"of words"):
        word_spectra(model, words)
    assert [ms.spectrum.values for ms in word_spectra(model, ["11"])] == [(1, 1)]
