"""Exact spectra above the old 8 x 8 cutoff (issue 13, "exact means exact"), unit-circle
eigenvalues, and Proposition 1.3's first half on products of GH factors."""

from __future__ import annotations

from fractions import Fraction as F

import numpy as np
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from statetrack.theory._linalg import norm_at_most_one
from statetrack.theory.factorization import GHFactor, multiply, permutation_cycles
from statetrack.theory.spectra import (
    EXACT_LIMIT,
    UndecidedSpectrumError,
    eigenvalues,
    unit_circle_eigenvalues,
)

SETTINGS = settings(max_examples=15, deadline=None, derandomize=True, database=None)


def _similar(d: sympy.Matrix, rng: np.random.Generator) -> sympy.Matrix:
    """``T d T^{-1}`` for a random rational ``T`` that is dense (no zero entry), so that the
    result is neither triangular nor a permutation matrix."""
    n = d.rows
    while True:
        t = sympy.Matrix(n, n, lambda i, j: sympy.Rational(int(rng.integers(-4, 5)) or 1,
                                                           int(rng.integers(1, 4))))
        if t.det() != 0:
            break
    m = t * d * t.inv()
    assert any(m[i, j] != 0 for i in range(n) for j in range(i))      # not triangular
    assert any(m[i, j] != 0 for i in range(n) for j in range(i + 1, n))
    return m


def test_9x9_with_eigenvalue_minus_2_to_the_minus_40_is_negative():
    """Failed before: above 8 x 8 the check fell back to numpy with a 1e-9 tolerance and
    called this matrix's spectrum non-negative."""
    d = sympy.diag(*([-sympy.Rational(1, 2 ** 40)] + [sympy.Rational(k, 3) for k in range(1, 9)]))
    m = _similar(d, np.random.default_rng(0))
    s = eigenvalues(m)
    assert s.exact and s.method == "isolation"
    assert s.n_negative == 1 and s.n_nonreal == 0 and s.has_negative
    assert s.nonnegative_real is False and not s.all_nonnegative_real
    assert s.require_exact() is s
    assert min(z.real for z in s.numeric) == pytest.approx(-2.0 ** -40, rel=1e-6)
    # the same with a plain Fraction / numpy object matrix
    fr = np.array([[F(int(x.p), int(x.q)) for x in m.row(i)] for i in range(9)], dtype=object)
    assert eigenvalues(fr).n_negative == 1


def test_tiny_imaginary_parts_are_non_real():
    """Eigenvalues ``1 ± 2^-40 i`` in a 10 x 10 matrix: two non-real eigenvalues (numpy's
    tolerance called them real)."""
    e = sympy.Rational(1, 2 ** 40)
    d = sympy.diag(sympy.Matrix([[1, -e], [e, 1]]), *[sympy.Integer(k) for k in range(2, 10)])
    s = eigenvalues(_similar(d, np.random.default_rng(1)))
    assert s.exact and s.n_nonreal == 2 and s.n_negative == 0 and s.has_complex
    assert s.nonnegative_real is False


def test_multiplicities_and_zero_eigenvalues_are_counted():
    d = sympy.diag(-1, -1, -1, 0, 0, sympy.Rational(1, 7), 2, 2, 5, -sympy.Rational(1, 9))
    s = eigenvalues(_similar(d, np.random.default_rng(2)))
    assert (s.exact, s.n_negative, s.n_nonreal, s.n) == (True, 4, 0, 10)


def test_above_the_limit_is_undecided_not_guessed():
    d = sympy.diag(*([-sympy.Rational(1, 2 ** 40)] + [sympy.Integer(k) for k in range(1, 9)]))
    m = _similar(d, np.random.default_rng(3))
    s = eigenvalues(m, limit=8)
    assert not s.exact and s.method == "numpy" and s.nonnegative_real is None
    with pytest.raises(UndecidedSpectrumError, match="numerical guess"):
        s.require_exact("A(x)")
    with pytest.raises(UndecidedSpectrumError, match="size 9 > limit 8"):
        unit_circle_eigenvalues(m, limit=8)
    with pytest.raises(UndecidedSpectrumError, match="float"):
        unit_circle_eigenvalues([[0.5]])
    assert EXACT_LIMIT >= 64


@SETTINGS
@given(st.lists(st.tuples(st.integers(-6, 6), st.integers(1, 2 ** 45)), min_size=7, max_size=9),
       st.integers(0, 2 ** 32 - 1))
def test_counts_of_random_rational_spectra(eigs, seed):
    """Random rational eigenvalues (some tiny, some repeated), hidden by a dense similarity."""
    vals = [sympy.Rational(a, b) for a, b in eigs] + [sympy.Rational(1, 3), sympy.Integer(-5)]
    s = eigenvalues(_similar(sympy.diag(*vals), np.random.default_rng(seed)))
    assert s.exact and s.n == len(vals)
    assert s.n_negative == sum(bool(v < 0) for v in vals) and s.n_nonreal == 0


@SETTINGS
@given(st.lists(st.tuples(st.integers(-5, 5), st.integers(1, 2 ** 40)), min_size=1, max_size=4),
       st.lists(st.integers(-3, 3), min_size=9, max_size=9), st.integers(0, 2 ** 32 - 1))
def test_counts_with_complex_pairs(pairs, reals, seed):
    """Blocks [[a, -b], [b, a]] (eigenvalues a ± bi, b > 0 possibly tiny) and real ones."""
    blocks = [sympy.Matrix([[sympy.Rational(a, 7), -sympy.Rational(1, b)],
                            [sympy.Rational(1, b), sympy.Rational(a, 7)]]) for a, b in pairs]
    rs = [sympy.Rational(r, 2) for r in reals[: 12 - 2 * len(pairs)]]
    s = eigenvalues(_similar(sympy.diag(*blocks, *rs), np.random.default_rng(seed)))
    assert s.exact
    assert s.n_nonreal == 2 * len(pairs) and s.n_negative == sum(bool(r < 0) for r in rs)


# ----------------------------------------------------------------- unit-circle eigenvalues


@SETTINGS
@given(st.permutations(list(range(9))))
def test_unit_circle_counts_of_permutation_matrices(perm):
    """A cycle of length L: L-th roots of unity (one 1, one -1 when L is even)."""
    n = len(perm)
    p = np.zeros((n, n), dtype=np.int64)
    p[perm, np.arange(n)] = 1
    cyc = [len(c) for c in permutation_cycles(perm)] + [1] * (n - sum(
        len(c) for c in permutation_cycles(perm)))
    u = unit_circle_eigenvalues(p)
    assert (u.n_one, u.n_minus_one, u.n_unit) == (len(cyc), sum(L % 2 == 0 for L in cyc), n)


def test_unit_circle_excludes_reciprocal_pairs_and_counts_irrational_angles():
    x = sympy.Symbol("x")
    # roots 2, 1/2 (real reciprocal pair), 1 ± i, (1 ± i)/2 (complex reciprocal pairs):
    # none on the circle although gcd(p, p*) contains them all
    p = sympy.Poly((x - 2) * (x - sympy.Rational(1, 2)) * (x ** 2 - 2 * x + 2)
                   * (x ** 2 - x + sympy.Rational(1, 2)), x)
    assert unit_circle_eigenvalues(sympy.Matrix.companion(p)).n_unit == 0
    # a rotation by an angle that is no rational multiple of pi, 1 twice, -1, 0
    r = sympy.Matrix([[sympy.Rational(3, 5), -sympy.Rational(4, 5)],
                      [sympy.Rational(4, 5), sympy.Rational(3, 5)]])
    d = sympy.diag(r, 1, 1, -1, 0, sympy.Rational(1, 3))
    u = unit_circle_eigenvalues(_similar(d, np.random.default_rng(4)))
    assert (u.n_one, u.n_minus_one, u.n_other, u.n) == (2, 1, 2, 7)


# --------------------------------------------------------- Proposition 1.3 (first half)


def _gh_factors(rng: np.random.Generator, n: int, count: int, *, allow_minus_one: bool):
    """Random GH factors ``I - beta k k^T`` with integer keys and rational beta such that the
    eigenvalue ``1 - beta ||k||^2`` is in ``(-1, 1]`` (or ``[-1, 1]``)."""
    out = []
    for _ in range(count):
        k = rng.integers(-3, 4, size=n)
        if not k.any():
            k[int(rng.integers(0, n))] = 1
        nk = int(k @ k)
        den = int(rng.integers(1, 9))
        top = den if allow_minus_one else den - 1      # beta ||k||^2 = 2 j / den, j <= top
        j = int(rng.integers(0, top + 1))
        out.append(GHFactor(tuple(int(v) for v in k), F(2 * j, den * nk)))
    return out


def _prop_1_3_holds(factors) -> bool:
    """Every eigenvalue of the product is 1 or of modulus < 1 (decided exactly): the norm is
    <= 1 (so every eigenvalue is in the closed disk) and the only unit-circle eigenvalue is 1."""
    m = multiply(factors)
    assert norm_at_most_one(m, True)           # Proposition 1.1, exactly
    u = unit_circle_eigenvalues(m)
    return u.n_minus_one == 0 and u.n_other == 0


def test_proposition_1_3_first_half_on_random_gh_products():
    rng = np.random.default_rng(13)
    with_one = 0
    for _ in range(60):
        n = int(rng.integers(2, 6))
        fs = _gh_factors(rng, n, int(rng.integers(1, 7)), allow_minus_one=False)
        assert all(-1 < f.eigenvalue <= 1 for f in fs)
        assert _prop_1_3_holds(fs)
        with_one += unit_circle_eigenvalues(multiply(fs)).n_one > 0
    assert with_one > 0      # the statement's first alternative occurs


def test_proposition_1_3_needs_the_open_end():
    """With eigenvalue -1 allowed (Omega = [-1, 1]) products leave the conclusion: the check
    above is not vacuous."""
    rng = np.random.default_rng(14)
    broken = 0
    for _ in range(40):
        fs = _gh_factors(rng, int(rng.integers(2, 5)), int(rng.integers(1, 5)),
                         allow_minus_one=True)
        broken += not _prop_1_3_holds(fs)
    assert broken > 0
    swap = GHFactor((1, -1, 0), 1)                     # eigenvalue -1: a reflection
    assert not _prop_1_3_holds([swap])


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(st.integers(2, 5), st.lists(st.tuples(st.lists(st.integers(-3, 3), min_size=5,
                                                      max_size=5),
                                             st.integers(0, 15), st.integers(1, 8)),
                                   min_size=1, max_size=6))
def test_proposition_1_3_property(n, raw):
    fs = []
    for key, j, den in raw:
        k = [v for v in key[:n]]
        if not any(k):
            k[0] = 1
        nk = sum(v * v for v in k)
        j = j % den                                      # beta ||k||^2 = 2 j / den < 2
        fs.append(GHFactor(tuple(k), F(2 * j, den * nk)))
    assert _prop_1_3_holds(fs)
