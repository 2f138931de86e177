r"""Spectra of state-transition matrices: exact where possible, checked against the theory.

What the theorems need from a spectrum
--------------------------------------
* Theorem 1 (parity) asks whether some ``A(x)`` has an eigenvalue that is *not a non-negative
  real* -- a negative real or a non-real eigenvalue (:attr:`Spectrum.all_nonnegative_real`).
* Theorem 2 (counting mod ``m``) asks whether some product ``A(x_1) ... A(x_j)`` has a
  *non-real* eigenvalue (:attr:`Spectrum.has_complex` of the products in
  :func:`check_spectrum`).
* Proposition 1: a product of GH factors has spectral norm ``<= 1``, hence every eigenvalue
  lies in the closed unit disk, and each factor's non-trivial eigenvalue
  ``1 - beta ||k||^2`` lies in ``[-1, 1]``.

How eigenvalues are computed (:func:`eigenvalues`)
--------------------------------------------------
1. *Permutation matrices* (exact 0/1 input, any size): a cycle of length ``L`` contributes the
   ``L``-th roots of unity ``exp(2 pi i k / L)``, ``k = 0 .. L-1``. A cycle of even length has
   exactly one negative eigenvalue (``-1``); a cycle of length ``L`` has ``L - 1 - [L even]``
   non-real ones.
2. *Triangular exact matrices*: the diagonal.
3. *Other rational matrices of size <= limit* (default :data:`EXACT_LIMIT` = 64): the
   characteristic polynomial over ``QQ`` (sympy's ``DomainMatrix.charpoly``, exact), whose real
   roots are isolated exactly with multiplicities (``Poly.intervals``: continued fractions,
   exact rational interval ends; with ``sup=0`` for the roots ``<= 0``). The number of
   negative eigenvalues is the number of real roots in ``(-inf, 0]`` minus the multiplicity
   of the root 0; the number of non-real ones is the degree minus the number of real roots.
   Both are exact whatever the size of the roots (an eigenvalue ``-2^-40`` is negative).
   Up to size ``cutoff`` (default 8) the eigenvalues themselves are returned as exact sympy
   numbers (rationals, quadratic surds, ``CRootOf``; method ``"charpoly"``); above it
   (method ``"isolation"``) the counts are exact but ``values`` are floats: the real roots
   from intervals refined to width ``1e-30`` (so their signs are right), the non-real ones
   from a numerical root finder (``values_exact=False``).
4. Anything else (float input, irrational entries, exact matrices larger than ``limit``):
   ``numpy.linalg.eigvals``, flagged ``exact=False``: the counts are then a numerical guess
   with a tolerance, and :attr:`Spectrum.nonnegative_real` is ``None`` ("undecided").
   Callers that must not guess read :attr:`Spectrum.nonnegative_real` (a tri-state) or
   :meth:`Spectrum.require_exact` (raises :class:`UndecidedSpectrumError`).

Examples
--------
>>> s = eigenvalues([[0, 1, 0], [0, 0, 1], [1, 0, 0]])      # a 3-cycle
>>> s.exact, s.method, s.has_negative, s.has_complex
(True, 'permutation', False, True)
>>> sorted(round(abs(z), 12) for z in s.numeric)
[1.0, 1.0, 1.0]
>>> eigenvalues([[0, 1], [1, 0]]).values
(1, -1)
>>> r = check_spectrum({"0": [[1, 0], [0, 1]], "1": [[0, 1], [1, 0]]})
>>> r.has_negative, r.has_complex, r.norms_at_most_one, r.ok
(True, False, True, True)
"""

from __future__ import annotations

import cmath
import functools
import itertools
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import sympy
from mpmath.libmp.libhyper import NoConvergence

from ._linalg import as_matrix, check_size, check_tol, identity, norm_at_most_one, perm_of, to_float
from .errors import FactorOrderError, MatrixInputError, TheoryError, UnknownTokenError
from .factorization import GHFactor, _is_substep, as_factor, multiply, permutation_cycles

__all__ = [
    "Spectrum",
    "eigenvalues",
    "permutation_spectrum",
    "MatrixSpectrum",
    "LayerSpectrum",
    "SpectrumReport",
    "check_spectrum",
    "word_spectra",
    "EXACT_CUTOFF",
    "EXACT_LIMIT",
    "UndecidedSpectrumError",
    "UnitCircleCount",
    "unit_circle_eigenvalues",
]

#: Largest size for which a general rational matrix gets its eigenvalues as exact sympy numbers.
EXACT_CUTOFF = 8

#: Largest size for which a general rational matrix gets its eigenvalue counts (negative,
#: non-real) decided exactly; larger ones are "undecided" (``exact=False``). A 64 x 64 rational
#: matrix with small entries takes about a second (charpoly 1 s, root isolation 0.1 s).
EXACT_LIMIT = 64


class UndecidedSpectrumError(TheoryError):
    """A question about a spectrum could not be decided exactly (float or irrational input, or
    an exact matrix larger than the exact limit) and the caller asked not to guess."""

_X = sympy.Symbol("x")


@dataclass(frozen=True)
class Spectrum:
    """The eigenvalues of one matrix (with multiplicity) and the facts the theorems use.

    Attributes
    ----------
    values : tuple
        Exact sympy numbers when ``values_exact``, else Python floats / complex numbers.
    numeric : tuple of complex
        The same eigenvalues as complex floats (same order).
    exact : bool
        Whether the counts below (hence :attr:`has_negative`, :attr:`has_complex`,
        :attr:`all_nonnegative_real`) were decided exactly. When False they are a numerical
        guess (numpy with a tolerance) and :attr:`nonnegative_real` is None.
    method : str
        ``"permutation"``, ``"triangular"``, ``"charpoly"``, ``"isolation"`` or ``"numpy"``.
    n_negative : int
        Eigenvalues that are negative reals.
    n_nonreal : int
        Eigenvalues with non-zero imaginary part.
    values_exact : bool
        Whether ``values`` are exact sympy numbers (False for ``"isolation"``, whose counts
        are exact but whose values are floats, and for ``"numpy"``).
    """

    values: tuple
    numeric: tuple
    exact: bool
    method: str
    n_negative: int
    n_nonreal: int
    values_exact: bool | None = None

    def __post_init__(self) -> None:
        if self.values_exact is None:
            object.__setattr__(self, "values_exact", bool(self.exact))

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def has_negative(self) -> bool:
        """Some eigenvalue is a negative real number."""
        return self.n_negative > 0

    @property
    def has_complex(self) -> bool:
        """Some eigenvalue is not real."""
        return self.n_nonreal > 0

    @property
    def all_nonnegative_real(self) -> bool:
        """Every eigenvalue is a non-negative real (Theorem 1's hypothesis)."""
        return not (self.has_negative or self.has_complex)

    @property
    def nonnegative_real(self) -> bool | None:
        """Theorem 1's hypothesis as a tri-state: True (every eigenvalue is a non-negative
        real, decided exactly), False (some eigenvalue is negative or non-real, decided
        exactly) or None (undecided: the counts are a numerical guess).

        >>> eigenvalues([[0.0, 1.0], [1.0, 0.0]]).nonnegative_real is None
        True
        >>> eigenvalues([[0, 1], [1, 0]]).nonnegative_real
        False
        """
        return self.all_nonnegative_real if self.exact else None

    def require_exact(self, what: str = "the spectrum") -> "Spectrum":
        """``self`` when its counts were decided exactly, else :class:`UndecidedSpectrumError`.

        >>> eigenvalues([[2, 1], [1, 2]]).require_exact().n_negative
        0
        >>> eigenvalues([[0.5]]).require_exact("A(a)")
        Traceback (most recent call last):
        ...
        statetrack.theory.spectra.UndecidedSpectrumError: A(a): the eigenvalue counts are a numerical guess (method 'numpy', size 1); give exact (rational) entries, or a matrix of size <= EXACT_LIMIT
        """
        if not self.exact:
            raise UndecidedSpectrumError(
                f"{what}: the eigenvalue counts are a numerical guess (method {self.method!r}, "
                f"size {self.n}); give exact (rational) entries, or a matrix of size "
                f"<= EXACT_LIMIT")
        return self

    @property
    def min_real(self) -> float:
        """The smallest real part."""
        return min(z.real for z in self.numeric)

    @property
    def max_abs(self) -> float:
        """The spectral radius (numerically)."""
        return max(abs(z) for z in self.numeric)


@functools.lru_cache(maxsize=4096)
def _root_of_unity(k: int, L: int) -> tuple[sympy.Expr, complex]:
    """``exp(2 pi i k / L)`` exactly and as a complex float (exact for L in 1, 2, 4)."""
    e = sympy.exp(2 * sympy.pi * sympy.I * sympy.Rational(k, L))
    if (4 * k) % L == 0:
        z = complex(e)
    else:
        z = cmath.exp(2j * cmath.pi * k / L)
    return e, z


def _num(e: Any) -> complex:
    return complex(sympy.N(e, 30))


def eigenvalues(m: Any, *, cutoff: int = EXACT_CUTOFF, tol: float = 1e-9,
                limit: int = EXACT_LIMIT) -> Spectrum:
    """Eigenvalues of a square matrix, exactly where possible (see the module docstring).

    Parameters
    ----------
    m : square matrix (nested lists, numpy array, sympy matrix; ints/Fractions for exact)
    cutoff : int
        Largest size of a general rational matrix whose eigenvalues are returned as exact
        sympy numbers (method ``"charpoly"``).
    tol : float
        Tolerance of the numpy fallback when guessing "negative" and "non-real".
    limit : int
        Largest size of a general rational matrix whose counts are decided exactly (method
        ``"isolation"`` above ``cutoff``); larger ones, and irrational or float input, use
        numpy and are flagged ``exact=False`` (undecided, see
        :attr:`Spectrum.nonnegative_real`).

    Examples
    --------
    >>> from fractions import Fraction as F
    >>> s = eigenvalues([[F(1, 2), F(1, 2)], [F(1, 2), F(1, 2)]])
    >>> s.method, s.values, s.all_nonnegative_real
    ('charpoly', (0, 1), True)
    >>> eigenvalues([[0.0, -1.0], [1.0, 0.0]]).exact
    False

    A 9 x 9 rational matrix (a companion matrix, not triangular) with the eigenvalue
    ``-2^-40``: decided exactly.

    >>> x = sympy.Symbol("x")
    >>> p = sympy.Poly((x + sympy.Rational(1, 2**40)) * sympy.prod([x - k for k in range(1, 9)]))
    >>> s = eigenvalues(sympy.Matrix.companion(p))
    >>> s.method, s.exact, s.n_negative, s.nonnegative_real, s.min_real < 0
    ('isolation', True, 1, False, True)
    """
    tol = check_tol(tol, "eigenvalues")
    cutoff = check_size(cutoff, "eigenvalues", "cutoff")
    limit = check_size(limit, "eigenvalues", "limit")
    fast = perm_of(m)                 # numpy input: before the (slow) conversion to Fractions
    if fast is not None:
        return permutation_spectrum(fast)
    a, exact = as_matrix(m, name="matrix")
    n = a.shape[0]
    if exact:
        perm = perm_of(a)
        if perm is not None:
            return permutation_spectrum(perm)
        upper = all(a[i, j] == 0 for i in range(n) for j in range(i))
        lower = all(a[i, j] == 0 for i in range(n) for j in range(i + 1, n))
        if upper or lower:
            vals = [sympy.Rational(a[i, i].numerator, a[i, i].denominator) for i in range(n)]
            return Spectrum(tuple(vals), tuple(complex(float(v)) for v in vals), True,
                            "triangular", sum(1 for v in vals if v < 0), 0)
        if n <= limit:
            return _charpoly_spectrum(a) if n <= cutoff else _isolation_spectrum(a)
    f = to_float(a)
    ev = np.linalg.eigvals(f)
    scale = max(1.0, float(np.abs(ev).max()) if len(ev) else 1.0)
    nonreal = [abs(z.imag) > tol * scale for z in ev]
    neg = [(not nr) and z.real < -tol * scale for z, nr in zip(ev, nonreal)]
    vals = tuple(complex(z) for z in ev)
    return Spectrum(vals, vals, False, "numpy", int(sum(neg)), int(sum(nonreal)))


def permutation_spectrum(perm: Sequence[int]) -> Spectrum:
    """The exact spectrum of the permutation matrix ``P e_i = e_{perm[i]}``: the ``L``-th roots
    of unity for each cycle of length ``L``, longest cycles first, fixed points (eigenvalue 1)
    last.

    The spectrum depends only on the cycle type, which is cached: the witnesses of a large
    group (:func:`word_spectra`) share a few cycle types.

    Raises
    ------
    NotAPermutationError
        ``perm`` does not list every index ``0..n-1`` exactly once.

    Examples
    --------
    >>> permutation_spectrum([1, 0, 2]).values
    (1, -1, 1)
    >>> permutation_spectrum([1, 2, 0]).n_nonreal
    2
    """
    p = [int(i) for i in perm]
    lengths = sorted((len(c) for c in permutation_cycles(p)), reverse=True)
    return _cycle_type_spectrum(tuple(lengths), len(p) - sum(lengths))


@functools.lru_cache(maxsize=1024)
def _cycle_type_spectrum(lengths: tuple[int, ...], fixed: int) -> Spectrum:
    vals, nums, neg, nonreal = [], [], 0, 0
    for L in lengths + (1,) * fixed:
        for k in range(L):
            e, z = _root_of_unity(k, L)
            vals.append(e)
            nums.append(z)
        neg += int(L % 2 == 0)
        nonreal += L - 1 - int(L % 2 == 0)
    return Spectrum(tuple(vals), tuple(nums), True, "permutation", neg, nonreal)


def _charpoly_spectrum(a: np.ndarray) -> Spectrum:
    n = a.shape[0]
    mat = sympy.Matrix(n, n, lambda i, j: sympy.Rational(a[i, j].numerator, a[i, j].denominator))
    poly = sympy.Poly(mat.charpoly(_X).as_expr(), _X, domain=sympy.QQ)
    _, parts = poly.sqf_list()
    pairs: list[tuple[Any, complex]] = []
    neg = nonreal = 0
    for part, mult in parts:
        deg = part.degree()
        n_real = part.count_roots()
        n_neg = part.count_roots(None, 0) - int(part.eval(0) == 0)
        neg += mult * n_neg
        nonreal += mult * (deg - n_real)
        if deg <= 2:
            roots = sympy.roots(part, multiple=True)
            approx = [_num(r) for r in roots]
        else:
            # CRootOf objects (exact); their canonical order -- real roots ascending, then
            # complex ones by real part, then imaginary part -- is also the order of nroots.
            roots = part.all_roots()
            approx = _nroots(part)
        pairs += list(zip(roots, approx)) * mult
    pairs.sort(key=lambda p: (p[1].real, p[1].imag))
    return Spectrum(tuple(v for v, _ in pairs), tuple(z for _, z in pairs), True, "charpoly",
                    neg, nonreal)


def _exact_charpoly(a: np.ndarray) -> sympy.Poly:
    """The characteristic polynomial of an exact (Fraction) matrix, over ``QQ``."""
    from sympy.polys.matrices import DomainMatrix

    n = a.shape[0]
    qq = sympy.QQ
    dm = DomainMatrix([[qq(a[i, j].numerator, a[i, j].denominator) for j in range(n)]
                       for i in range(n)], (n, n), qq)
    return sympy.Poly(dm.charpoly(), _X, domain=qq)


def _isolation_spectrum(a: np.ndarray) -> Spectrum:
    """Exact counts (real-root isolation of the exact characteristic polynomial), float values.

    ``Poly.intervals`` returns disjoint isolating intervals with rational ends and the
    multiplicity of each real root; the root 0 comes as ``(0, 0)`` and the negative and
    positive roots are isolated separately (so an interval of a non-zero root does not
    contain 0 in its interior; an interval that did would be decided by the sign of the
    polynomial at its ends). The float values come from a numerical root finder on each
    square-free part; an approximation of a real root that falls outside its isolating
    interval is replaced by the interval's midpoint, so signs always agree with the counts.
    """
    poly = _exact_charpoly(a)
    deg = poly.degree()
    n_neg = n_real = 0
    vals: list[complex] = []
    for part, mult in poly.sqf_list()[1]:
        real = []
        for lo, hi in part.intervals(sqf=True):
            lo, hi = sympy.Rational(lo), sympy.Rational(hi)
            if lo < 0 < hi:                   # never seen; decide by a sign change on [lo, 0]
                lo, hi = (lo, sympy.Integer(0)) if part.eval(lo) * part.eval(0) <= 0 else \
                    (sympy.Integer(0), hi)
            n_neg += mult * int(bool(hi <= 0) and not lo == hi == 0)
            real.append((lo, hi))
        n_real += mult * len(real)
        zs = sorted(_nroots(part), key=lambda z: abs(z.imag))
        approx_real = sorted(zs[:len(real)], key=lambda z: z.real)
        for (lo, hi), z in zip(sorted(real), approx_real):
            x = z.real
            vals += [complex(x if float(lo) <= x <= float(hi) and (x < 0) == bool(lo < 0)
                             else float((lo + hi) / 2))] * mult
        vals += [complex(z) for z in zs[len(real):]] * mult
    vals.sort(key=lambda z: (z.real, z.imag))
    nums = tuple(vals)
    return Spectrum(nums, nums, True, "isolation", n_neg, deg - n_real, values_exact=False)


def _nroots(part: sympy.Poly) -> list[complex]:
    try:
        return [complex(z) for z in part.nroots(n=17, maxsteps=200)]
    except (NoConvergence, sympy.polys.polyerrors.PolynomialError):
        roots = np.roots([float(c) for c in part.all_coeffs()])
        return sorted((complex(z) for z in roots),
                      key=lambda z: (abs(z.imag) > 1e-12, z.real, z.imag))


@dataclass(frozen=True)
class UnitCircleCount:
    """The eigenvalues of modulus exactly 1 of a rational matrix, counted with multiplicity.

    Attributes
    ----------
    n : int
        The size of the matrix.
    n_one : int
        Eigenvalues equal to 1.
    n_minus_one : int
        Eigenvalues equal to -1.
    n_other : int
        Other eigenvalues of modulus 1 (non-real; they come in conjugate pairs).
    """

    n: int
    n_one: int
    n_minus_one: int
    n_other: int

    @property
    def n_unit(self) -> int:
        """All eigenvalues of modulus 1."""
        return self.n_one + self.n_minus_one + self.n_other


def unit_circle_eigenvalues(m: Any, *, limit: int = EXACT_LIMIT) -> UnitCircleCount:
    r"""Count the eigenvalues on the unit circle of a rational matrix, exactly.

    With ``p`` the characteristic polynomial (over ``QQ``) stripped of its factor ``x^z`` and
    ``p*(x) = x^{deg p} p(1/x)`` its reversal, every root ``lambda`` of ``p`` with
    ``|lambda| = 1`` is a root of ``p*`` of the same multiplicity (``1/lambda`` is the
    conjugate of ``lambda``, and ``p`` is real), so it is a root of ``g = gcd(p, p*)`` of the
    same multiplicity. The roots ``1`` and ``-1`` are split off ``g`` by division; what is
    left, ``g_0``, has its roots closed under ``lambda -> 1/lambda`` with equal multiplicities,
    no root ``±1``, even degree ``2d``, constant term 1, and is palindromic:
    ``g_0(x) = x^d h(x + 1/x)`` for a rational ``h`` of degree ``d`` (``x^k + x^{-k}`` is a
    polynomial in ``y = x + 1/x``). A root ``lambda`` of ``g_0`` lies on the unit circle
    exactly when ``y = lambda + 1/lambda = 2 Re(lambda)`` is real with ``|y| < 2`` (real
    ``lambda`` off the circle give real ``|y| > 2``; non-real ``lambda`` off the circle give
    non-real ``y``), and each such root ``y`` of ``h`` stands for the conjugate pair
    ``lambda, conj(lambda)``. So the other unit-circle eigenvalues number twice the real roots
    of ``h`` in ``(-2, 2)`` (exact real-root isolation; ``±2`` are not roots).

    Parameters
    ----------
    m : square matrix with rational entries (ints, Fractions, sympy Rationals)
    limit : int
        The largest size handled.

    Raises
    ------
    UndecidedSpectrumError
        Float or irrational entries, or a matrix larger than ``limit``.

    Examples
    --------
    >>> unit_circle_eigenvalues([[0, 0, 1], [1, 0, 0], [0, 1, 0]])   # 1, exp(±2 pi i / 3)
    UnitCircleCount(n=3, n_one=1, n_minus_one=0, n_other=2)
    >>> from fractions import Fraction as F
    >>> unit_circle_eigenvalues([[F(1, 2), 0], [0, -1]])
    UnitCircleCount(n=2, n_one=0, n_minus_one=1, n_other=0)
    >>> unit_circle_eigenvalues([[F(3, 5), F(-4, 5)], [F(4, 5), F(3, 5)]]).n_other  # rotation
    2
    """
    limit = check_size(limit, "unit_circle_eigenvalues", "limit")
    a, exact = as_matrix(m, name="matrix")
    n = a.shape[0]
    if not exact or n > limit:
        why = "float or irrational entries" if not exact else f"size {n} > limit {limit}"
        raise UndecidedSpectrumError(f"unit_circle_eigenvalues: cannot decide exactly ({why})")
    qq = sympy.QQ
    coeffs = _exact_charpoly(a).all_coeffs()
    while coeffs and coeffs[-1] == 0:                       # strip x^z
        coeffs.pop()
    p = sympy.Poly(coeffs, _X, domain=qq)
    g = sympy.gcd(p, sympy.Poly(coeffs[::-1], _X, domain=qq)).monic()
    counts = []
    for r in (1, -1):
        k = 0
        lin = sympy.Poly(_X - r, _X, domain=qq)
        while g.degree() > 0 and g.eval(r) == 0:
            g = g.quo(lin)
            k += 1
        counts.append(k)
    c = g.all_coeffs()[::-1]                                 # c[i]: coefficient of x^i
    two_d = len(c) - 1
    if two_d % 2 or c != c[::-1]:                            # cannot happen (see above)
        raise AssertionError(f"unit_circle_eigenvalues: gcd part {g} is not palindromic")
    d = two_d // 2
    y = sympy.Poly(_X, _X, domain=qq)
    s_prev, s_cur = sympy.Poly(2, _X, domain=qq), y           # s_0 = 2, s_1 = y
    h = sympy.Poly(c[d], _X, domain=qq)
    for k in range(1, d + 1):
        h = h + s_cur * c[d + k]
        s_prev, s_cur = s_cur, y * s_cur - s_prev
    inside = sum(mult for _, mult in h.intervals(inf=-2, sup=2)) if d else 0
    return UnitCircleCount(n, counts[0], counts[1], 2 * inside)


# ----------------------------------------------------------------------------- reports


@dataclass(frozen=True)
class MatrixSpectrum:
    """The spectrum of ``A(w)`` for a word ``w`` of tokens (one token: ``A(x)`` itself).

    ``norm_at_most_one`` is decided exactly for rational matrices (``I - A^T A`` positive
    semidefinite), to tolerance otherwise.
    """

    word: tuple[str, ...]
    spectrum: Spectrum
    norm_at_most_one: bool


@dataclass(frozen=True)
class LayerSpectrum:
    """One layer: per token and per product word, the spectrum; per token the GH factors'
    non-trivial eigenvalues (when the layer is given as factors)."""

    layer: int
    tokens: tuple[MatrixSpectrum, ...]
    products: tuple[MatrixSpectrum, ...]
    factor_eigenvalues: dict[str, tuple] | None
    products_truncated: bool

    @property
    def all(self) -> tuple[MatrixSpectrum, ...]:
        return self.tokens + self.products


@dataclass(frozen=True)
class SpectrumReport:
    """What :func:`check_spectrum` found, over every layer, token and product word.

    Attributes
    ----------
    layers : tuple of :class:`LayerSpectrum`
    min_real : float
        Smallest real part of any eigenvalue (of single tokens and of products).
    max_abs : float
        Largest modulus of any eigenvalue.
    has_negative, has_complex : bool
        Some ``A(x)`` or product has a negative real / a non-real eigenvalue.
    tokens_have_negative, tokens_have_complex : bool
        The same over single tokens only.
    factors_in_range : bool or None
        Every GH factor's eigenvalue ``1 - beta ||k||^2`` is in ``[-1, 1]`` (None: the input
        had no factors, only matrices).
    norms_at_most_one : bool
        Every ``A(x)`` (and product) has spectral norm ``<= 1``.
    in_unit_disk : bool
        Every eigenvalue has modulus ``<= 1`` (implied exactly by the norm bound; otherwise
        decided numerically).
    exact : bool
        Every spectrum and norm bound was decided exactly.
    """

    layers: tuple[LayerSpectrum, ...]
    min_real: float
    max_abs: float
    has_negative: bool
    has_complex: bool
    tokens_have_negative: bool
    tokens_have_complex: bool
    factors_in_range: bool | None
    norms_at_most_one: bool
    in_unit_disk: bool
    exact: bool

    @property
    def ok(self) -> bool:
        """Proposition 1's conclusions hold: factors in ``[-1, 1]`` (when known), norms
        ``<= 1``, eigenvalues in the closed unit disk."""
        return self.factors_in_range is not False and self.norms_at_most_one and self.in_unit_disk

    @property
    def tokens_all_nonnegative_real(self) -> bool:
        """Theorem 1's hypothesis: every ``A(x)`` has only non-negative real eigenvalues."""
        return not (self.tokens_have_negative or self.tokens_have_complex)

    def summary(self) -> str:
        """One short line for a table (``statetrack check``).

        >>> check_spectrum({"a": [[0, 1], [1, 0]]}).summary()
        'eig in [-1, 1] (neg) |eig|<=1 ||A||<=1 exact'
        """
        if self.has_complex:
            where = f"|eig|<={self.max_abs:.3g} complex"
        else:
            where = f"eig in [{self.min_real:.3g}, {self.max_abs:.3g}]"
        parts = [where]
        if self.has_negative:
            parts.append("(neg)")
        parts.append("|eig|<=1" if self.in_unit_disk else "|eig|>1!")
        parts.append("||A||<=1" if self.norms_at_most_one else "||A||>1!")
        if self.factors_in_range is False:
            parts.append("GH factor outside [-1,1]!")
        parts.append("exact" if self.exact else "numeric")
        return " ".join(parts)


def _layers_of(model: Any) -> list[tuple[tuple[str, ...], dict[str, np.ndarray], dict | None]]:
    """Normalize the accepted inputs to ``[(tokens, {token: matrix}, {token: factors}|None)]``."""
    if hasattr(model, "layers") and hasattr(model, "alphabet"):  # a constructed LRNN
        out = []
        for layer in model.layers:
            mats, facs = {}, {}
            for t in layer.tokens:
                steps = layer.steps[layer.token_index(t)]
                mats[t] = _steps_matrix(layer, t, steps)
                facs[t] = tuple(s.eigenvalue for s in steps)
            out.append((tuple(layer.tokens), mats, facs))
        return out
    if isinstance(model, Mapping):
        return [_layer_from_mapping(model, 0)]
    if isinstance(model, (list, tuple)) and model and all(isinstance(x, Mapping) for x in model):
        return [_layer_from_mapping(x, i) for i, x in enumerate(model)]
    raise MatrixInputError(
        f"check_spectrum takes a constructed LRNN, a mapping token -> matrix (or -> list of GH "
        f"factors), or a list of such mappings (one per layer); got {type(model).__name__}")


def _steps_matrix(layer: Any, token: str, steps: Sequence[Any]) -> tuple[np.ndarray, bool]:
    """``A(x) = G_{n_h} ... G_1``: in int64 (exact) when every key and beta is an integer,
    without sympy (constructions of large groups have K in the hundreds); else via sympy."""
    # a DeltaStep's key is zero (an exact Integer) off its support: read it there only
    nonzero = [tuple(s.support) if hasattr(s, "support") else range(len(s.key)) for s in steps]
    ints = all(getattr(s.beta, "is_Integer", False) and all(getattr(s.key[i], "is_Integer", False)
                                                           for i in sup)
               for s, sup in zip(steps, nonzero))
    if not ints:
        return as_matrix(layer.A(token), name=f"A({token!r})")
    k = layer.width
    a = np.eye(k, dtype=np.int64)
    for s, sup in zip(steps, nonzero):
        key = np.zeros(len(s.key), dtype=np.int64)
        for i in sup:
            key[i] = int(s.key[i])
        beta = int(s.beta)
        if beta == 0 or not key.any():
            continue
        nz = np.flatnonzero(key)
        if beta == 1 and len(nz) == 2 and sorted(key[nz].tolist()) == [-1, 1]:
            a[[nz[0], nz[1]]] = a[[nz[1], nz[0]]]          # a transposition: swap two rows
        else:
            a = a - beta * np.outer(key, key @ a)
    return a, True


def _layer_from_mapping(mp: Mapping, li: int):
    if not mp:
        raise MatrixInputError(f"layer {li}: the mapping of tokens to matrices is empty")
    mats, facs = {}, {}
    any_factors = False
    for t, v in mp.items():
        name = f"layer {li}, A({t!r})"
        if _is_factor_list(v):
            items = list(v)
            any_factors = True
            if not items:
                raise MatrixInputError(f"{name}: an empty factor list has no dimension")
            sub = [_is_substep(x) for x in items]
            if any(sub) and not all(sub):
                raise FactorOrderError(
                    f"{name}: the list mixes delta sub-steps (application order, step 1 applied "
                    "first) with GH factors (matrix order, as written); give one kind per token")
            m = multiply(items, order="applied" if all(sub) else "matrix")
            mats[str(t)] = (m, m.dtype == object)
            facs[str(t)] = tuple(as_factor(f).eigenvalue for f in items)
        else:
            mats[str(t)] = as_matrix(v, name=name)
            facs[str(t)] = ()
    sizes = {m.shape for m, _ in mats.values()}
    if len(sizes) != 1:
        raise MatrixInputError(f"layer {li}: the matrices have different shapes {sorted(sizes)}")
    return tuple(mats), mats, (facs if any_factors else None)


def _is_factor_list(v: Any) -> bool:
    if isinstance(v, (np.ndarray,)) or type(v).__module__.startswith("sympy"):
        return False
    try:
        items = list(v)
    except TypeError:
        return False
    return all(isinstance(x, GHFactor) or (hasattr(x, "key") and hasattr(x, "beta"))
               or (isinstance(x, tuple) and len(x) == 2 and not np.isscalar(x[0]))
               for x in items)


def _factor_in_range(e: Any) -> bool:
    if isinstance(e, (Fraction, int)):
        return -1 <= e <= 1
    if isinstance(e, float):
        return -1 - 1e-12 <= e <= 1 + 1e-12
    if getattr(e, "is_Integer", False):      # an integer is in [-1, 1] with or without the slack
        return -1 <= int(e) <= 1
    v = sympy.N(e, 40)
    return bool(-1 - sympy.Float("1e-35") <= v <= 1 + sympy.Float("1e-35"))


def check_spectrum(model: Any, *, word_length: int = 2, max_products: int = 256,
                   cutoff: int = EXACT_CUTOFF, tol: float = 1e-10) -> SpectrumReport:
    """Eigenvalues and norms of every ``A(x)`` and of products of up to ``word_length`` tokens.

    Parameters
    ----------
    model : constructed LRNN, or mapping token -> matrix / list of GH factors, or a list of
        such mappings (one per layer). A list of :class:`GHFactor` (or ``(key, beta)``
        pairs) is read in matrix order (``F_1 F_2 ... F_m``); a list of delta sub-steps
        (:class:`~statetrack.constructions.lrnn.DeltaStep`) in application order
        (``A = G_n ... G_1``, step 1 first), as the kernels apply them.
    word_length : int
        Products ``A(w) = A(w_L) ... A(w_1)`` (``w_1`` applied first) of every word of length
        2 .. ``word_length`` are checked too, deduplicated by value (Theorem 2 looks at products
        of up to ``2^(i-1)`` matrices in layer ``i``).
    max_products : int
        Cap on the number of distinct product matrices per layer
        (:attr:`LayerSpectrum.products_truncated` says if it was hit).
    cutoff : int
        See :func:`eigenvalues`.
    tol : float
        Tolerance of float norm checks and of the numeric unit-disk check.

    Raises
    ------
    MatrixInputError
        Unreadable input; :class:`~statetrack.theory.errors.FactorOrderError` when one
        token's list mixes sub-steps and GH factors.

    Examples
    --------
    >>> from fractions import Fraction as F
    >>> from statetrack.theory.factorization import GHFactor
    >>> r = check_spectrum({"a": [GHFactor((1, 0), F(1, 2))], "b": [GHFactor((1, 1), F(1, 4))]})
    >>> r.factors_in_range, r.tokens_all_nonnegative_real, r.exact
    (True, True, True)
    >>> check_spectrum({"a": [[2, 0], [0, 1]]}).ok
    False
    """
    if word_length < 1:
        raise MatrixInputError(f"word_length must be >= 1, got {word_length}")
    tol = check_tol(tol, "check_spectrum")
    cutoff = check_size(cutoff, "check_spectrum", "cutoff")
    layers = _layers_of(model)
    reports = []
    for li, (tokens, mats, facs) in enumerate(layers):
        perms = {t: perm_of(mats[t][0]) for t in tokens}
        if all(p is not None for p in perms.values()):
            tok_specs, prods, truncated = _permutation_layer(tokens, perms, word_length,
                                                             max_products)
        else:
            mats = {t: (as_matrix(m, name=f"A({t!r})") if m.dtype.kind in "iub" else (m, ex))
                    for t, (m, ex) in mats.items()}
            layers[li] = (tokens, mats, facs)
            tok_specs, prods, truncated = _general_layer(tokens, mats, word_length,
                                                         max_products, cutoff, tol)
        fe = None if facs is None else {t: facs[t] for t in tokens}
        reports.append(LayerSpectrum(li, tuple(tok_specs), tuple(prods), fe, truncated))
    every = [ms for r in reports for ms in r.all]
    toks = [ms for r in reports for ms in r.tokens]
    factor_vals = [e for r in reports if r.factor_eigenvalues is not None
                   for es in r.factor_eigenvalues.values() for e in es]
    has_factors = any(r.factor_eigenvalues is not None for r in reports)
    norms = all(ms.norm_at_most_one for ms in every)
    max_abs = max(ms.spectrum.max_abs for ms in every)
    exact = all(ms.spectrum.exact for ms in every) and all(
        mats[t][1] for _, mats, _ in layers for t in mats)
    return SpectrumReport(
        layers=tuple(reports),
        min_real=min(ms.spectrum.min_real for ms in every),
        max_abs=max_abs,
        has_negative=any(ms.spectrum.has_negative for ms in every),
        has_complex=any(ms.spectrum.has_complex for ms in every),
        tokens_have_negative=any(ms.spectrum.has_negative for ms in toks),
        tokens_have_complex=any(ms.spectrum.has_complex for ms in toks),
        factors_in_range=(all(_factor_in_range(e) for e in factor_vals) if has_factors else None),
        norms_at_most_one=norms,
        in_unit_disk=norms or max_abs <= 1 + tol,
        exact=exact,
    )


def _permutation_layer(tokens, perms, word_length, max_products):
    """Every ``A(x)`` is a permutation: spectra by cycles, norms are 1, products compose."""
    tok_specs = [MatrixSpectrum((t,), permutation_spectrum(perms[t]), True) for t in tokens]
    seen = {perms[t].tobytes() for t in tokens}
    prods: list[MatrixSpectrum] = []
    for L in range(2, word_length + 1):
        for w in itertools.product(tokens, repeat=L):
            c = perms[w[0]]
            for t in w[1:]:
                c = perms[t][c]          # (P_b P_a) e_i = e_{b[a[i]]}
            k = c.tobytes()
            if k in seen:
                continue
            if len(prods) >= max_products:
                return tok_specs, prods, True
            seen.add(k)
            prods.append(MatrixSpectrum(w, permutation_spectrum(c), True))
    return tok_specs, prods, False


def _general_layer(tokens, mats, word_length, max_products, cutoff, tol):
    tok_specs = []
    for t in tokens:
        m, ex = mats[t]
        tok_specs.append(MatrixSpectrum((t,), eigenvalues(m, cutoff=cutoff),
                                        norm_at_most_one(m, ex, tol)))
    prods: list[MatrixSpectrum] = []
    seen = {_key(mats[t][0]) for t in tokens}
    for L in range(2, word_length + 1):
        for w in itertools.product(tokens, repeat=L):
            m, ex = mats[w[0]]
            for t in w[1:]:
                b, bex = mats[t]
                if ex and bex:
                    m = b.dot(m)
                else:
                    m = to_float(b).dot(to_float(m))
                    ex = False
            k = _key(m)
            if k in seen:
                continue
            if len(prods) >= max_products:
                return tok_specs, prods, True
            seen.add(k)
            prods.append(MatrixSpectrum(w, eigenvalues(m, cutoff=cutoff),
                                        norm_at_most_one(m, ex, tol)))
    return tok_specs, prods, False


def _key(m: np.ndarray) -> bytes | tuple:
    if m.dtype == object:
        return tuple(m.ravel().tolist())
    return np.round(m, 12).tobytes()


def word_spectra(model: Any, words: Iterable[Sequence[str]], *, layer: int = 0,
                 cutoff: int = EXACT_CUTOFF, tol: float = 1e-10) -> tuple[MatrixSpectrum, ...]:
    """The spectrum of ``A(w)``, the product ``A(w_m) A(w_{m-1})`` down to ``A(w_1)``
    (``w_1`` applied first), for each given word.

    The products are built incrementally from the longest already computed prefix, so a list of
    shortlex-least words (the words of a transition monoid,
    :attr:`statetrack.automata.monoid.TransitionMonoid.words`) costs one matrix product per
    word. When every ``A(x)`` of the layer is a permutation matrix the products are composed as
    permutations and their spectra read off the cycle type (exact, any width).

    Parameters
    ----------
    model : as for :func:`check_spectrum`
    words : iterable of words (sequences of tokens; the empty word gives the identity)
    layer : int
        Which layer's matrices.
    cutoff, tol : see :func:`check_spectrum`.

    Raises
    ------
    UnknownTokenError
        A word uses a token that the layer does not have.
    MatrixInputError
        ``layer`` out of range, unreadable ``model``, ``words`` not a list of words (a single
        string is refused rather than read as a list of one-letter words), or a bad ``tol``.

    Examples
    --------
    >>> from statetrack.constructions.lrnn import _parity_example
    >>> [ms.spectrum.values for ms in word_spectra(_parity_example(), [("1",), ("1", "1")])]
    [(1, -1), (1, 1)]
    >>> z3 = {"a": [[0, 0, 1], [1, 0, 0], [0, 1, 0]]}
    >>> word_spectra(z3, [("a",), ("a", "a", "a")])[1].spectrum.n_nonreal
    0
    """
    tol = check_tol(tol, "word_spectra")
    cutoff = check_size(cutoff, "word_spectra", "cutoff")
    if isinstance(words, (str, bytes)) or words is None or not hasattr(words, "__iter__"):
        raise MatrixInputError(
            f"word_spectra: argument 'words' must be a list of words (each a sequence of "
            f"tokens), got {type(words).__name__} {words!r:.40}"
            + ("; wrap a single word in a list" if isinstance(words, (str, bytes)) else ""))
    layers = _layers_of(model)
    if not isinstance(layer, (int, np.integer)) or not 0 <= layer < len(layers):
        raise MatrixInputError(f"layer must be in 0..{len(layers) - 1}, got {layer!r}")
    tokens, mats, _ = layers[layer]
    words = [tuple(str(t) for t in w) for w in words]
    for w in words:
        for t in w:
            if t not in mats:
                raise UnknownTokenError(f"word {w!r}: token {t!r} is not one of layer {layer}'s "
                                        f"tokens {list(tokens)}")
    n = next(iter(mats.values()))[0].shape[0]
    perms = {t: perm_of(m) for t, (m, _) in mats.items()}
    if all(p is not None for p in perms.values()):
        cache: dict[tuple, Any] = {(): np.arange(n)}

        def perm(w: tuple) -> np.ndarray:
            if w not in cache:
                cache[w] = perms[w[-1]][perm(w[:-1])]     # (P_b P_w) e_i = e_{b[w[i]]}
            return cache[w]

        return tuple(MatrixSpectrum(w, permutation_spectrum(_iterative(perm, w, cache)), True)
                     for w in words)
    exact_mats = {t: (as_matrix(m, name=f"A({t!r})") if m.dtype.kind in "iub" else (m, ex))
                  for t, (m, ex) in mats.items()}
    mcache: dict[tuple, tuple[np.ndarray, bool]] = {(): (identity(n, True), True)}

    def prod(w: tuple) -> tuple[np.ndarray, bool]:
        if w not in mcache:
            m, ex = prod(w[:-1])
            b, bex = exact_mats[w[-1]]
            mcache[w] = (b.dot(m), True) if ex and bex else (to_float(b).dot(to_float(m)), False)
        return mcache[w]

    out = []
    for w in words:
        m, ex = _iterative(prod, w, mcache)
        out.append(MatrixSpectrum(w, eigenvalues(m, cutoff=cutoff, tol=tol),
                                  norm_at_most_one(m, ex, tol)))
    return tuple(out)


def _iterative(f: Any, w: tuple, cache: dict) -> Any:
    """``f(w)`` after filling the cache along ``w``'s prefixes from the shortest missing one
    up (no deep recursion for long words)."""
    k = len(w)
    while k > 0 and w[:k] not in cache:
        k -= 1
    for j in range(k + 1, len(w) + 1):
        f(w[:j])
    return f(w)
