"""Proposition 1, constructively: factorizations checked against their definition."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from statetrack.automata import families
from statetrack.constructions.compile import compile as compile_dfa
from statetrack.constructions.group import permutation_cycles as group_cycles
from statetrack.constructions.group import transposition_steps
from statetrack.constructions.lrnn import DeltaStep
from statetrack.theory._linalg import as_matrix
from statetrack.theory.errors import (
    EigenvalueRangeError,
    FactorMismatchError,
    FactorOrderError,
    MatrixInputError,
    NormBoundError,
    NotAPermutationError,
    NotOrthogonalError,
    TheoryError,
)
from statetrack.theory.factorization import (
    GHFactor,
    as_factor,
    check_factorization,
    gh_factors,
    multiply,
    norm_at_most_one,
    permutation_cycles,
    permutation_factors,
    permutation_matrix,
    reflection_factors,
    spectral_norm_bound_holds,
)

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True, database=None)


# ----------------------------------------------------------------------------- strategies

@st.composite
def float_orthogonal(draw, max_n=8):
    n = draw(st.integers(1, max_n))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.normal(size=(n, n)))
    return q * np.sign(np.diag(r))  # Haar-distributed, both determinants


@st.composite
def rational_orthogonal(draw, max_n=6):
    """Cayley transform (I - K)(I + K)^-1 of a rational skew matrix, times random signs."""
    n = draw(st.integers(1, max_n))
    entries = draw(st.lists(st.fractions(min_value=-3, max_value=3, max_denominator=5),
                            min_size=n * n, max_size=n * n))
    k = sympy.zeros(n, n)
    for i in range(n):
        for j in range(i + 1, n):
            v = sympy.Rational(entries[i * n + j].numerator, entries[i * n + j].denominator)
            k[i, j], k[j, i] = v, -v
    eye = sympy.eye(n)
    q = (eye - k) * (eye + k).inv()
    signs = draw(st.lists(st.sampled_from([1, -1]), min_size=n, max_size=n))
    q = q * sympy.diag(*signs)
    return [[Fraction(int(q[i, j].p), int(q[i, j].q)) for j in range(n)] for i in range(n)]


@st.composite
def contractions(draw, max_n=8):
    n = draw(st.integers(1, max_n))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    kind = draw(st.sampled_from(["scaled", "rank_deficient", "norm_one"]))
    m = rng.normal(size=(n, n))
    if kind == "rank_deficient" and n > 1:
        m[:, 0] = m[:, 1]
    norm = np.linalg.norm(m, 2)
    scale = 1.0 if kind == "norm_one" else draw(st.floats(1.0, 4.0))
    return m / (norm * scale)


@st.composite
def gh_lists(draw, max_n=6, max_len=6, exact=True):
    n = draw(st.integers(1, max_n))
    count = draw(st.integers(1, max_len))
    out = []
    for _ in range(count):
        if exact:
            key = draw(st.lists(st.integers(-3, 3), min_size=n, max_size=n))
            if not any(key):
                key[0] = 1
            kk = sum(v * v for v in key)
            t = draw(st.fractions(min_value=0, max_value=2, max_denominator=7))
            out.append(GHFactor(tuple(key), t / kk))  # beta ||k||^2 = t in [0, 2]
        else:
            key = draw(st.lists(st.floats(-2, 2), min_size=n, max_size=n))
            kk = sum(v * v for v in key)
            if kk < 1e-3:
                key[0], kk = 1.0, 1.0 + sum(v * v for v in key[1:])
            t = draw(st.floats(0, 2))
            out.append(GHFactor(tuple(key), t / kk))
    return out


def _moved_and_cycles(p):
    moved = sum(1 for i, v in enumerate(p) if i != v)
    return moved, len(permutation_cycles(p))


# ----------------------------------------------------------------------------- GHFactor

def test_gh_factor_spectrum_matches_definition():
    f = GHFactor((1, 2, -2), Fraction(1, 9))  # beta ||k||^2 = 1: a projection
    assert f.exact and f.eigenvalue == 0 and f.is_gh
    ev = np.sort(np.linalg.eigvalsh(f.matrix().astype(float)))
    np.testing.assert_allclose(ev, [0.0, 1.0, 1.0], atol=1e-14)
    v, b = f.normalized()
    assert b == 1.0 and np.isclose(np.linalg.norm(v), 1.0)
    g = GHFactor((0.5, 0.5), 2.0)
    assert not g.exact and g.eigenvalue == 0.0
    assert GHFactor((1, 0), 3).is_gh is False


def test_gh_factor_bad_input():
    with pytest.raises(MatrixInputError, match="empty"):
        GHFactor((), 1)
    with pytest.raises(MatrixInputError, match="finite"):
        GHFactor((float("nan"), 1.0), 1)
    with pytest.raises(MatrixInputError, match="sequence"):
        GHFactor(3, 1)
    with pytest.raises(MatrixInputError, match="real numbers"):
        GHFactor(("a", 1), 1)
    with pytest.raises(MatrixInputError, match="cannot read a GH factor"):
        as_factor(5)


def test_as_factor_reads_duck_typed_substeps():
    class Step:
        key = (1, -1)
        beta = Fraction(1)

    assert as_factor(Step()).eigenvalue == -1
    assert as_factor(((0, 1), 2)).eigenvalue == -1


# ----------------------------------------------------------------------------- reflections

@SETTINGS
@given(float_orthogonal())
def test_reflections_float(q):
    fs = reflection_factors(q)
    n = q.shape[0]
    assert len(fs) <= n
    assert all(abs(f.eigenvalue + 1) < 1e-12 for f in fs)  # every factor is a reflection
    assert check_factorization(fs, q, tol=1e-10) <= 1e-10
    # the determinant is the parity of the number of reflections
    assert (-1) ** len(fs) == round(np.linalg.det(q))


@SETTINGS
@given(rational_orthogonal())
def test_reflections_exact(q):
    fs = reflection_factors(q)
    assert len(fs) <= len(q)
    assert all(f.exact and f.eigenvalue == -1 for f in fs)
    assert check_factorization(fs, q) == 0
    assert (multiply(fs, n=len(q)) == np.array(q, dtype=object)).all()


def test_reflections_identity_and_sympy_input():
    assert reflection_factors(np.eye(3, dtype=int)) == []
    fs = reflection_factors(sympy.Matrix([[0, 1], [1, 0]]))
    assert len(fs) == 1 and fs[0].exact
    assert check_factorization(fs, [[0, 1], [1, 0]]) == 0
    fs = reflection_factors([[-1]])
    assert len(fs) == 1 and check_factorization(fs, [[-1]]) == 0


def test_reflections_reject_non_orthogonal():
    with pytest.raises(NotOrthogonalError, match=r"\(Q\^T Q\)\[0, 0\] = 4"):
        reflection_factors([[2, 0], [0, 1]])
    with pytest.raises(NotOrthogonalError, match="tolerance"):
        reflection_factors(np.array([[1.0, 0.1], [0.0, 1.0]]))


# ----------------------------------------------------------------------------- contractions

@SETTINGS
@given(contractions())
def test_gh_factors_float_contractions(m):
    fs = gh_factors(m)
    n = m.shape[0]
    assert len(fs) <= 3 * n
    assert all(f.is_gh for f in fs)
    assert check_factorization(fs, m, tol=1e-10) <= 1e-10
    assert spectral_norm_bound_holds(fs, tol=1e-10)


@SETTINGS
@given(rational_orthogonal(max_n=5))
def test_gh_factors_exact_orthogonal(q):
    fs = gh_factors(q)
    assert all(f.exact for f in fs) and len(fs) <= len(q)
    assert check_factorization(fs, q) == 0


@SETTINGS
@given(st.lists(st.fractions(min_value=-1, max_value=1, max_denominator=9), min_size=1,
                max_size=7))
def test_gh_factors_exact_diagonal(d):
    n = len(d)
    m = [[d[i] if i == j else Fraction(0) for j in range(n)] for i in range(n)]
    fs = gh_factors(m)
    assert len(fs) == sum(1 for v in d if v != 1)
    assert all(f.exact and f.is_gh for f in fs)
    assert check_factorization(fs, m) == 0


def test_gh_factors_exact_general_goes_through_floats():
    m = [[Fraction(1, 2), Fraction(1, 3)], [0, Fraction(1, 4)]]
    fs = gh_factors(m)
    assert not any(f.exact for f in fs) and len(fs) <= 6
    assert check_factorization(fs, m) <= 1e-12


def test_gh_factors_norm_bound_errors():
    with pytest.raises(NormBoundError, match="spectral norm 2 > 1"):
        gh_factors(np.array([[2.0, 0.0], [0.0, 0.5]]))
    with pytest.raises(NormBoundError, match=r"diagonal entry \[1, 1\] = -3/2"):
        gh_factors([[1, 0], [0, Fraction(-3, 2)]])
    with pytest.raises(NormBoundError, match="not positive semidefinite"):
        gh_factors([[1, 1], [0, 1]])
    # a norm just above 1 is printed with the digits that show it (it read "1 > 1")
    with pytest.raises(NormBoundError, match=r"spectral norm 1\.0000001 > 1 \(beyond the "
                                             r"tolerance tol = 1e-10\)"):
        gh_factors(np.array([[1.0000001, 0.0], [0.0, 1.0]]))
    with pytest.raises(NormBoundError, match=r"spectral norm 1\.0000001 > 1 \(exact test"):
        gh_factors([[Fraction(10000001, 10000000), Fraction(1, 10 ** 9)], [0, 1]])
    # closer to 1 than float64 resolves: said so, not "1 > 1"
    with pytest.raises(NormBoundError, match=r"spectral norm > 1 \(by less than float64 "
                                             r"resolves; exact test"):
        gh_factors([[1 + Fraction(1, 10 ** 20), Fraction(1, 10 ** 30)], [0, 1]])


# ----------------------------------------------------------------------------- permutations

@SETTINGS
@given(st.integers(1, 9).flatmap(lambda n: st.permutations(list(range(n)))))
def test_permutation_factors(p):
    fs = permutation_factors(p)
    moved, cycles = _moved_and_cycles(p)
    assert len(fs) == moved - cycles
    assert len(fs) <= len(p) - 1
    for f in fs:  # integer keys e_i - e_j, beta = 1
        assert f.beta == 1 and sorted(f.key) == [-1] + [0] * (len(p) - 2) + [1]
    assert check_factorization(fs, permutation_matrix(p)) == 0
    # P e_i = e_{p(i)}
    pm = permutation_matrix(p)
    for i, v in enumerate(p):
        assert pm[v, i] == 1
    # gh_factors recognizes an exact permutation matrix
    assert gh_factors(pm) == fs
    # one implementation: the Theorem 3 construction's swaps, listed in matrix order
    assert fs == [as_factor(s) for s in reversed(transposition_steps(p))]
    assert permutation_cycles(p) == group_cycles(p)


def test_permutation_errors():
    for bad in ([1, 1], [0, 2], [], [0.5, 1]):
        with pytest.raises(NotAPermutationError):
            permutation_factors(bad)
    with pytest.raises(NotAPermutationError, match="sequence of integers"):
        permutation_matrix(["a"])


# ----------------------------------------------------------------------------- products/checks

def test_multiply_order_is_matrix_product_order():
    a, b = GHFactor((1, -1, 0), 1), GHFactor((0, 1, -1), 1)
    ab = multiply([a, b])
    assert (ab == a.matrix().dot(b.matrix())).all()
    assert not (ab == b.matrix().dot(a.matrix())).all()
    assert (multiply([], n=2) == np.eye(2, dtype=int)).all()


def test_delta_steps_are_read_in_application_order():
    """A letter's delta steps (step 1 applied first) multiply to A(a), not to its transpose:
    for cyclic(3) the transpose is the inverse permutation."""
    dfa = families.get("cyclic(3)")
    lrnn = compile_dfa(dfa)
    layer = lrnn.layers[0]
    for a in dfa.alphabet:
        steps = layer.steps[layer.token_index(a)]
        target = permutation_matrix(dfa.letter(a))           # P e_q = e_{delta(q, a)}
        assert (as_matrix(layer.A(a))[0] == target).all()
        assert (multiply(steps, order="applied") == target).all()
        assert check_factorization(steps, target, order="applied") == 0
        with pytest.raises(FactorOrderError, match="order='applied'"):
            multiply(steps)
        with pytest.raises(FactorOrderError, match=r"lrnn\.product"):
            check_factorization(steps, target)
    steps = layer.steps[layer.token_index("1")]               # the 3-cycle, two swaps
    assert len(steps) == 2
    as_written = multiply([as_factor(s) for s in steps])     # converted: read as written
    applied = multiply(steps, order="applied")
    assert not (as_written == applied).all() and (as_written.T == applied).all()
    with pytest.raises(FactorOrderError):
        multiply([GHFactor((1, -1, 0), 1), DeltaStep([1, 0, -1], 1)])
    with pytest.raises(MatrixInputError, match="order must be"):
        multiply(steps, order="reversed")


def test_float_mismatch_message_shows_plain_numbers():
    with pytest.raises(FactorMismatchError) as e:
        check_factorization([GHFactor((1.0, -1.0), 1.0)], np.eye(2))
    assert "np.float64" not in str(e.value)
    assert "product has 0.0, matrix has 1.0" in str(e.value)


def test_multiply_and_check_errors():
    with pytest.raises(MatrixInputError, match="needs the dimension"):
        multiply([])
    with pytest.raises(MatrixInputError, match="mixed dimensions"):
        multiply([GHFactor((1,), 1), GHFactor((1, 0), 1)])
    with pytest.raises(MatrixInputError, match="exact=True"):
        check_factorization([GHFactor((1.0,), 1.0)], [[0.0]], exact=True)
    with pytest.raises(MatrixInputError, match="square"):
        check_factorization([], [[1, 0]])
    with pytest.raises(MatrixInputError, match="ragged"):
        check_factorization([], [[1, 0], [1]])
    with pytest.raises(MatrixInputError, match="not finite"):
        check_factorization([], [[float("inf")]])
    with pytest.raises(MatrixInputError, match="complex"):
        check_factorization([], np.eye(2, dtype=complex))
    with pytest.raises(MatrixInputError, match="2-D"):
        check_factorization([], [1, 0])


def test_factor_mismatch_is_detected():
    fs = permutation_factors([1, 2, 0])
    wrong = permutation_matrix([2, 0, 1])  # the inverse cycle
    with pytest.raises(FactorMismatchError, match="exact comparison") as e:
        check_factorization(fs, wrong)
    assert isinstance(e.value, ValueError)
    with pytest.raises(FactorMismatchError, match="tol"):
        check_factorization(fs, wrong.astype(float) + 0.0)
    # one ulp-scale perturbation passes the float check, a 1e-6 one does not
    q = np.linalg.qr(np.random.default_rng(1).normal(size=(5, 5)))[0]
    fs = reflection_factors(q)
    check_factorization(fs, q + 1e-14)
    with pytest.raises(FactorMismatchError):
        check_factorization(fs, q + 1e-6)
    with pytest.raises(FactorMismatchError, match="shape"):
        check_factorization(fs, np.eye(4))


# ----------------------------------------------------------------------------- norm bound

@SETTINGS
@given(gh_lists(exact=True))
def test_norm_bound_exact(fs):
    assert spectral_norm_bound_holds(fs)
    m = multiply(fs).astype(float)
    assert np.linalg.norm(m, 2) <= 1 + 1e-12


@SETTINGS
@given(gh_lists(exact=False))
def test_norm_bound_float(fs):
    assert spectral_norm_bound_holds(fs, tol=1e-10)


def test_norm_at_most_one_can_fail():
    assert norm_at_most_one([[Fraction(1, 2), Fraction(1, 2)], [Fraction(1, 2), Fraction(1, 2)]])
    assert not norm_at_most_one([[Fraction(1, 2), Fraction(1, 2)], [Fraction(1, 2), Fraction(3, 5)]])
    assert not norm_at_most_one(np.array([[1.0, 0.01]]))
    assert norm_at_most_one(np.array([[0.6, 0.8]]))


def test_norm_bound_rejects_non_gh():
    with pytest.raises(EigenvalueRangeError, match="factor 1 is not a GH matrix"):
        spectral_norm_bound_holds([GHFactor((1, 0), 1), GHFactor((1, 1), Fraction(3, 2))])
    assert spectral_norm_bound_holds([])


def test_errors_are_theory_or_construction_errors():
    for cls in (NotOrthogonalError, NormBoundError, NotAPermutationError, FactorOrderError):
        assert issubclass(cls, MatrixInputError) and issubclass(cls, TheoryError)
    assert issubclass(FactorMismatchError, ValueError)
    assert issubclass(EigenvalueRangeError, ValueError)


@pytest.mark.parametrize("tol", [-1, -1e-12, float("nan"), float("inf"), "1e-9", None, True])
def test_a_bad_tolerance_is_refused_by_name_before_any_arithmetic(tol):
    """``gh_factors(eye(2), tol=-1)`` said "spectral norm 1 > 1", a NaN tolerance made every
    float comparison pass, and a string failed inside ``1 + tol``."""
    from statetrack.theory import spectra
    from statetrack.theory.factorization import norm_at_most_one, spectral_norm_bound_holds

    swap = [[0, 1], [1, 0]]
    calls = {
        "gh_factors": lambda: gh_factors(np.eye(2), tol=tol),
        "reflection_factors": lambda: reflection_factors(swap, tol=tol),
        "check_factorization": lambda: check_factorization(permutation_factors([1, 0]), swap,
                                                           tol=tol),
        "spectral_norm_bound_holds": lambda: spectral_norm_bound_holds([GHFactor((1, -1), 1)],
                                                                       tol=tol),
        "norm_at_most_one": lambda: norm_at_most_one(swap, tol=tol),
        "eigenvalues": lambda: spectra.eigenvalues([[0.5, 0.1], [0.2, 0.3]], tol=tol),
        "check_spectrum": lambda: spectra.check_spectrum({"a": swap}, tol=tol),
        "word_spectra": lambda: spectra.word_spectra({"a": swap}, [("a",)], tol=tol),
    }
    for name, call in calls.items():
        with pytest.raises(MatrixInputError, match=rf"^{name}: argument 'tol' must be a finite "
                                                   rf"real number >= 0, got "):
            call()


def test_a_zero_tolerance_is_allowed():
    assert len(gh_factors(np.eye(2) * 0.5, tol=0)) == 2
    assert check_factorization(permutation_factors([1, 0]), [[0, 1], [1, 0]], tol=0) == 0


@pytest.mark.parametrize("value", [-1, 2.5, "8", None, True])
def test_a_bad_size_bound_is_refused_by_name(value):
    """``eigenvalues(m, cutoff=-1)`` and ``limit=0`` were accepted without complaint (cold pass
    finding); ``cutoff`` and ``limit`` of every spectrum function are integers >= 0."""
    from statetrack.theory import spectra

    swap = [[0, 1], [1, 0]]
    calls = {
        ("eigenvalues", "cutoff"): lambda: spectra.eigenvalues(swap, cutoff=value),
        ("eigenvalues", "limit"): lambda: spectra.eigenvalues(swap, limit=value),
        ("unit_circle_eigenvalues", "limit"):
            lambda: spectra.unit_circle_eigenvalues(swap, limit=value),
        ("check_spectrum", "cutoff"): lambda: spectra.check_spectrum({"a": swap}, cutoff=value),
        ("word_spectra", "cutoff"):
            lambda: spectra.word_spectra({"a": swap}, [("a",)], cutoff=value),
    }
    for (name, arg), call in calls.items():
        with pytest.raises(MatrixInputError, match=rf"^{name}: argument '{arg}' must be an "
                                                   rf"integer >= 0, got "):
            call()
    assert spectra.eigenvalues(swap, cutoff=0, limit=0).n == 2     # zero bounds are allowed


@pytest.mark.parametrize("perm, what", [("102", "not a str"), (["1", "0"], "entry '1' is a str"),
                                        ([True, False], "entry True is a bool"),
                                        (b"\x01\x00", "not a bytes")])
def test_permutation_entries_that_only_convert_to_ints_are_refused(perm, what):
    """``permutation_factors("102")``, ``["1", "0"]`` and ``[True, False]`` were read as the
    integer permutations they convert to (cold pass finding); integral floats still pass."""
    with pytest.raises(NotAPermutationError, match=what):
        permutation_factors(perm)
    assert len(permutation_factors([1.0, 0.0])) == 1
    assert len(permutation_factors(iter([1, 0, 2]))) == 1    # an iterator is read once
    with pytest.raises(NotAPermutationError, match=r"\[1\.5, 0\] is not a permutation"):
        permutation_factors(iter([1.5, 0]))
