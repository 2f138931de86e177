r"""Proposition 1, constructively: matrices as products of generalized Householder factors.

A *GH factor* is ``I - beta k k^T``. With ``k`` unnormalized (the form the kernels use) it is a
generalized Householder matrix when ``beta * ||k||^2`` lies in ``[0, 2]``; its eigenvalues are
``1`` (``n - 1`` times, on ``k``'s orthogonal complement) and ``1 - beta ||k||^2`` (on ``k``),
so they lie in ``[-1, 1]``. Keeping ``k`` unnormalized keeps rational inputs rational: the
reflection taking a unit vector ``x`` to ``e_i`` is ``I - beta k k^T`` with ``k = x - e_i`` and
``beta = 2 / ||k||^2``, both rational when ``x`` is.

Proposition 1 (Grazzi et al., ICLR 2025, arXiv 2411.12537, Sec. 4 and App. C):

1. every product of GH matrices has spectral norm ``<= 1``
   (:func:`spectral_norm_bound_holds`);
2. every orthogonal ``Q`` is a product of at most ``n`` reflections (``beta ||k||^2 = 2``)
   (:func:`reflection_factors`);
3. every ``M`` with ``||M||_2 <= 1`` is a product of at most ``3n`` GH factors
   (:func:`gh_factors`);
4. a permutation matrix is a product of at most ``n - 1`` reflections
   (:func:`permutation_factors`, which uses ``m - c``: ``m`` points moved, ``c`` non-trivial
   cycles; ``m - c = rank(P - I) <= n - 1`` is the least number of reflections whose product
   is ``P``, a sharpening of the proposition, not its statement).

Derivations
-----------
*Reflections* (Householder QR of an orthogonal matrix). Let ``W_0 = Q``. At step ``i`` the first
``i`` columns of ``W_i`` are ``e_0 .. e_{i-1}``; because ``W_i`` is orthogonal its first ``i``
rows are ``e_0^T .. e_{i-1}^T`` too, so its column ``x = W_i e_i`` is a unit vector supported on
rows ``i .. n-1``. If ``x != e_i``, the reflection ``H_i = I - beta k k^T`` with
``k = x - e_i``, ``beta = 2/||k||^2`` satisfies ``k . x = 1 - x_i`` and ``||k||^2 = 2 - 2 x_i``,
hence ``H_i x = x - k = e_i``, and it fixes ``e_0 .. e_{i-1}`` (``k`` is zero there). After
``n - 1`` steps ``W = H_m ... H_1 Q`` is ``diag(1, ..., 1, d)`` with ``d = det Q = +-1``; a
last reflection with ``k = e_{n-1}`` fixes ``d = -1``. Reflections are involutions, so
``Q = H_1 H_2 ... H_m [R]``: at most ``n`` factors. In floats the first entry of ``k`` is
computed as ``-(sum_{j>i} x_j^2) / (x_i + ||x||)`` when ``x_i > 0`` (Golub & Van Loan's
cancellation-free form of ``x_i - ||x||``).

*Contractions*. ``M = U S V^T`` (SVD) with ``S = diag(s)``, ``0 <= s_i <= 1`` when
``||M|| <= 1``. ``U`` and ``V^T`` are orthogonal (``<= n`` reflections each) and
``S = prod_i (I - (1 - s_i) e_i e_i^T)``, ``n`` GH factors with ``beta = 1 - s_i`` in
``[0, 1]`` (eigenvalue ``s_i``). Total ``<= 3n``.

*Permutations*. With ``P e_i = e_{p(i)}`` and the transposition matrix
``T(a, b) = I - (e_a - e_b)(e_a - e_b)^T`` (``beta = 1``, ``beta ||k||^2 = 2``), a cycle
``c_0 -> c_1 -> ... -> c_{L-1} -> c_0`` is the composition, applied first to last, of the swaps
``(c_0 c_1), (c_0 c_2), ..., (c_0 c_{L-1})`` (derivation in
:mod:`statetrack.constructions.group`, whose :func:`~statetrack.constructions.group.
transposition_steps` this module reuses); in matrix order that is
``T(c_0, c_{L-1}) ... T(c_0, c_2) T(c_0, c_1)``. A cycle of length ``L`` costs ``L - 1``
factors; disjoint cycles commute.

*Norm bound*. ``||I - beta k k^T||_2 = max(1, |1 - beta ||k||^2|) = 1`` and the norm is
submultiplicative. The exact check tests ``I - M^T M`` for positive semidefiniteness by
symmetric elimination over the rationals.

Order convention
----------------
Two orders meet here, and the code keeps them apart:

* a list of :class:`GHFactor` (or ``(key, beta)`` pairs) is in *matrix* order: ``[F_1, ...,
  F_m]`` denotes ``F_1 F_2 ... F_m`` as written. Every factorization of this module
  (:func:`reflection_factors`, :func:`gh_factors`, :func:`permutation_factors`) returns this
  order, and :func:`multiply` / :func:`check_factorization` read it by default;
* a sequence of delta sub-steps (:class:`statetrack.constructions.lrnn.DeltaStep`, or any
  object with ``key`` and ``beta`` that is not a :class:`GHFactor`) is in *application* order:
  step 1 is applied to the state first, ``S <- (I - beta_j k_j k_j^T) S`` for ``j = 1..n_h``,
  so the steps compose to ``A = G_{n_h} ... G_1`` -- the order of the kernels and of
  :func:`statetrack.constructions.lrnn.product`.

:func:`multiply` and :func:`check_factorization` take ``order="matrix"`` (default) or
``order="applied"``; a sub-step in a list read in matrix order raises
:class:`~statetrack.theory.errors.FactorOrderError` instead of silently giving the transpose
(for a permutation, its inverse). :func:`as_factor` converts a single sub-step (no order
involved).

Examples
--------
>>> from fractions import Fraction as F
>>> q = [[F(3, 5), F(-4, 5)], [F(4, 5), F(3, 5)]]          # a rational rotation
>>> fs = reflection_factors(q)
>>> len(fs), [f.eigenvalue for f in fs]
(2, [Fraction(-1, 1), Fraction(-1, 1)])
>>> check_factorization(fs, q)                               # exact: no error, zero deviation
Fraction(0, 1)
>>> [f.key for f in permutation_factors([1, 2, 0])]          # the 3-cycle 0 -> 1 -> 2 -> 0
[(Fraction(1, 1), Fraction(0, 1), Fraction(-1, 1)), (Fraction(1, 1), Fraction(-1, 1), Fraction(0, 1))]
>>> from statetrack.constructions.lrnn import DeltaStep
>>> steps = [DeltaStep([1, -1, 0], 1), DeltaStep([1, 0, -1], 1)]   # applied first to last
>>> bool((multiply(steps, order="applied") == permutation_matrix([1, 2, 0])).all())
True
"""

from __future__ import annotations

import math
from dataclasses import FrozenInstanceError
from fractions import Fraction
from typing import Any, Iterable, Sequence

import numpy as np

from statetrack.constructions import group as _group
from statetrack.constructions.lrnn import DeltaStep

from ._linalg import as_matrix, check_tol, exact_scalar, identity, perm_of, to_float
from ._linalg import norm_at_most_one as _norm_le_one
from .errors import (
    EigenvalueRangeError,
    FactorMismatchError,
    FactorOrderError,
    MatrixInputError,
    NormBoundError,
    NotAPermutationError,
    NotOrthogonalError,
)

__all__ = [
    "GHFactor",
    "as_factor",
    "reflection_factors",
    "gh_factors",
    "permutation_factors",
    "permutation_matrix",
    "permutation_cycles",
    "multiply",
    "check_factorization",
    "spectral_norm_bound_holds",
    "norm_at_most_one",
    "DEFAULT_TOL",
]

#: Absolute tolerance of float factorizations (entries of a product vs. the input).
DEFAULT_TOL = 1e-10


class GHFactor:
    """One factor ``I - beta k k^T`` with an unnormalized key ``k``.

    Exact when every key entry and ``beta`` are rational (stored as
    :class:`~fractions.Fraction`); otherwise everything is stored as Python floats.

    An exact factor is held sparsely: its dimension, the indices of the key's non-zero entries
    (:attr:`support`) and those entries (:attr:`values`). Norms, eigenvalues and products are
    computed over the support, so a transposition key ``e_a - e_b`` costs the same at any
    dimension; :attr:`key` is the dense tuple, built on first use. A float factor keeps its
    dense key as given (signed zeros included) and computes as before.

    Parameters
    ----------
    key : sequence of numbers
        The (unnormalized) key ``k``; converted to a tuple.
    beta : number
        The step size; ``beta * ||k||^2`` in ``[0, 2]`` makes it a GH matrix.

    See Also
    --------
    GHFactor.from_support : an exact factor from its support, without the dense key.

    Examples
    --------
    >>> f = GHFactor((1, -1), 1)            # the swap of two coordinates
    >>> f.exact, f.eigenvalue, f.is_gh
    (True, Fraction(-1, 1), True)
    >>> f.matrix().tolist()
    [[Fraction(0, 1), Fraction(1, 1)], [Fraction(1, 1), Fraction(0, 1)]]
    >>> GHFactor((0.6, 0.8), 0.5).eigenvalue
    0.5
    >>> g = GHFactor((0, 3, 0, -1), Fraction(1, 5))
    >>> g.n, g.support, g.values, g.eigenvalue
    (4, (1, 3), (Fraction(3, 1), Fraction(-1, 1)), Fraction(-1, 1))
    >>> g == GHFactor.from_support(4, (1, 3), (3, -1), Fraction(1, 5))
    True
    """

    __slots__ = ("_n", "_support", "_values", "_beta", "_key", "_norm2")
    _n: int
    _support: tuple[int, ...]
    _values: tuple
    _beta: Any
    _key: tuple | None
    _norm2: Any

    def __init__(self, key: Any, beta: Any) -> None:
        try:
            raw = tuple(key)
        except TypeError as e:
            raise MatrixInputError(f"GH key must be a sequence of numbers, got {key!r}") from e
        if not raw:
            raise MatrixInputError("GH key is empty")
        qb = exact_scalar(beta)
        qs = [exact_scalar(v) for v in raw] if qb is not None else None
        if qs is not None and None not in qs:
            support = tuple(i for i, q in enumerate(qs) if q)
            self._set(len(qs), support, tuple(qs[i] for i in support), qb, None)
            return
        try:
            fk = tuple(float(v) for v in raw)
            fb = float(beta)
        except (TypeError, ValueError) as e:
            raise MatrixInputError(f"GH key/beta must be real numbers: {e}") from e
        if not all(math.isfinite(v) for v in (*fk, fb)):
            raise MatrixInputError(f"GH key/beta must be finite, got key={fk}, beta={fb}")
        support = tuple(i for i, v in enumerate(fk) if v != 0.0)
        self._set(len(fk), support, tuple(fk[i] for i in support), fb, fk)

    @classmethod
    def from_support(cls, n: int, support: Sequence[int], values: Sequence[Any],
                     beta: Any) -> "GHFactor":
        """An exact factor of dimension ``n`` whose key is ``values[j]`` at index
        ``support[j]`` and zero elsewhere (the dense key is never built).

        Parameters
        ----------
        n : int
            The dimension (length of the key).
        support : sequence of int
            Distinct indices in ``0..n-1``, in any order.
        values : sequence of rational numbers
            The key's entries there (zeros are allowed and dropped).
        beta : rational number

        Raises
        ------
        MatrixInputError
            ``n < 1``, an index out of range or repeated, ``support`` and ``values`` of
            different lengths, or a value or ``beta`` that is not rational.

        Examples
        --------
        >>> f = GHFactor.from_support(720, (4, 2), (-1, 1), 1)     # a transposition of S_720
        >>> f.support, f.eigenvalue, f.is_gh
        ((2, 4), Fraction(-1, 1), True)
        >>> f.key[:6]
        (Fraction(0, 1), Fraction(0, 1), Fraction(1, 1), Fraction(0, 1), Fraction(-1, 1), Fraction(0, 1))
        >>> GHFactor.from_support(3, (3,), (1,), 1)
        Traceback (most recent call last):
        ...
        statetrack.theory.errors.MatrixInputError: GH support index 3 (position 0) is outside 0..2
        """
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise MatrixInputError(f"GH dimension n must be a positive integer, got {n!r}")
        idx, vals = list(support), list(values)
        if len(idx) != len(vals):
            raise MatrixInputError(f"GH support has {len(idx)} indices but {len(vals)} values")
        seen: dict[int, Fraction] = {}
        for j, (i, v) in enumerate(zip(idx, vals)):
            if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 0 <= i < n:
                raise MatrixInputError(f"GH support index {i!r} (position {j}) is outside "
                                       f"0..{int(n) - 1}")
            if int(i) in seen:
                raise MatrixInputError(f"GH support index {int(i)} is repeated (position {j})")
            q = exact_scalar(v)
            if q is None:
                raise MatrixInputError(f"GH support value {v!r} (position {j}) is not rational; "
                                       "float factors are built from a dense key")
            seen[int(i)] = q
        qb = exact_scalar(beta)
        if qb is None:
            raise MatrixInputError(f"GH beta {beta!r} is not rational; float factors are built "
                                   "from a dense key")
        order = sorted(i for i, q in seen.items() if q)
        out = object.__new__(cls)
        out._set(int(n), tuple(order), tuple(seen[i] for i in order), qb, None)
        return out

    def _set(self, n: int, support: tuple, values: tuple, beta: Any, key: tuple | None) -> None:
        object.__setattr__(self, "_n", n)
        object.__setattr__(self, "_support", support)
        object.__setattr__(self, "_values", values)
        object.__setattr__(self, "_beta", beta)
        object.__setattr__(self, "_key", key)
        object.__setattr__(self, "_norm2", None)

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __reduce__(self):
        return (_rebuild_factor, (self._n, self._support, self._values, self._beta, self._key))

    def __repr__(self) -> str:
        return f"GHFactor(key={self.key!r}, beta={self._beta!r})"

    def __eq__(self, other: Any) -> bool:
        # the dense keys are equal exactly when the supports and the values there are (a
        # non-zero entry never equals a zero one)
        if other.__class__ is not self.__class__:
            return NotImplemented
        return (self._n, self._support, self._values, self._beta) == \
            (other._n, other._support, other._values, other._beta)

    def __hash__(self) -> int:
        return hash((self._n, self._support, self._values, self._beta))

    @property
    def key(self) -> tuple:
        """The dense key ``k`` (a tuple of Fractions when exact, else of floats)."""
        key = self._key
        if key is None:
            k = [_ZERO] * self._n
            for i, v in zip(self._support, self._values):
                k[i] = v
            key = tuple(k)
            object.__setattr__(self, "_key", key)
        return key

    @property
    def beta(self) -> Any:
        """The step size (a Fraction when exact, else a float)."""
        return self._beta

    @property
    def support(self) -> tuple[int, ...]:
        """Indices of the key's non-zero entries, increasing."""
        return self._support

    @property
    def values(self) -> tuple:
        """The key's entries at :attr:`support`."""
        return self._values

    @property
    def exact(self) -> bool:
        """Whether key and beta are rational (the product is then computed exactly)."""
        return isinstance(self._beta, Fraction)

    @property
    def n(self) -> int:
        """Dimension of the factor."""
        return self._n

    @property
    def key_norm2(self):
        """``||k||^2`` (a Fraction when exact), summed over the support."""
        if self._norm2 is None:
            s = sum((v * v for v in self._values), Fraction(0) if self.exact else 0.0)
            object.__setattr__(self, "_norm2", s)
        return self._norm2

    @property
    def eigenvalue(self):
        """The eigenvalue on ``k``: ``1 - beta ||k||^2`` (the others are all 1)."""
        return 1 - self._beta * self.key_norm2

    @property
    def is_gh(self) -> bool:
        """Whether ``beta ||k||^2`` is in ``[0, 2]`` (eigenvalue in ``[-1, 1]``); floats get
        a ``1e-12`` slack."""
        e = self.eigenvalue
        if self.exact:
            return -1 <= e <= 1
        return -1 - 1e-12 <= e <= 1 + 1e-12

    def matrix(self) -> np.ndarray:
        """The dense matrix ``I - beta k k^T`` (object Fractions when exact, else float64)."""
        if self.exact:
            m = identity(self._n, True)
            for i, vi in zip(self._support, self._values):
                bvi = self._beta * vi
                for j, vj in zip(self._support, self._values):
                    m[i, j] = m[i, j] - bvi * vj
            return m
        k = np.array(self.key, dtype=np.float64)
        return identity(self._n, False) - self._beta * np.outer(k, k)

    def normalized(self) -> tuple[np.ndarray, float]:
        """The paper's form ``I - b v v^T`` with ``||v|| = 1``: returns ``(v, b)`` in floats,
        ``b = beta ||k||^2``.

        >>> v, b = GHFactor((1, -1), 1).normalized()
        >>> np.round(v, 4).tolist(), float(b)
        ([0.7071, -0.7071], 2.0)
        """
        k = np.array([float(v) for v in self.key])
        nk = float(np.linalg.norm(k))
        if nk == 0.0:
            return np.zeros_like(k), 0.0
        return k / nk, float(self._beta * self.key_norm2)


_ZERO = Fraction(0)


def _rebuild_factor(n, support, values, beta, key) -> GHFactor:
    out = object.__new__(GHFactor)
    out._set(n, support, values, beta, key)
    return out


def as_factor(obj: Any) -> GHFactor:
    """Coerce ``obj`` to a :class:`GHFactor`: a GHFactor, a ``(key, beta)`` pair, or any object
    with ``key`` and ``beta`` attributes (e.g. a delta sub-step of a constructed LRNN).

    One factor has no order; to multiply a letter's sub-steps use
    ``multiply(steps, order="applied")`` (a list of converted sub-steps is in application
    order, and reading it in matrix order gives the transpose).

    >>> as_factor(((1, 0), 2)).eigenvalue
    Fraction(-1, 1)
    """
    if isinstance(obj, GHFactor):
        return obj
    if isinstance(obj, DeltaStep):
        # read over the step's support (its key is a tuple of sympy numbers, mostly zeros)
        qb = exact_scalar(obj.beta)
        vals = tuple(exact_scalar(obj.key[i]) for i in obj.support)
        if qb is not None and None not in vals:
            return _rebuild_factor(obj.dim, tuple(obj.support), vals, qb, None)
    if hasattr(obj, "key") and hasattr(obj, "beta"):
        return GHFactor(tuple(obj.key), obj.beta)
    try:
        key, beta = obj
    except (TypeError, ValueError) as e:
        raise MatrixInputError(
            f"cannot read a GH factor from {type(obj).__name__}: expected a GHFactor, a "
            "(key, beta) pair or an object with .key and .beta") from e
    return GHFactor(tuple(key), beta)


# ----------------------------------------------------------------------------- products


def _is_substep(obj: Any) -> bool:
    """A delta sub-step (application order): has ``key`` and ``beta`` but is no GHFactor."""
    return not isinstance(obj, (GHFactor, tuple, list)) and hasattr(obj, "key") \
        and hasattr(obj, "beta")


def _in_matrix_order(factors: Iterable[Any], order: str, caller: str) -> list[GHFactor]:
    """The factors as GHFactors in matrix order (``F_1 F_2 ... F_m``)."""
    items = list(factors)
    if order == "applied":
        return [as_factor(f) for f in reversed(items)]
    if order != "matrix":
        raise MatrixInputError(f"{caller}: order must be 'matrix' or 'applied', got {order!r}")
    for i, f in enumerate(items):
        if _is_substep(f):
            raise FactorOrderError(
                f"{caller} reads GH factors in matrix order (F_1 F_2 ... F_m, as written), but "
                f"item {i} is a {type(f).__name__}, a delta sub-step listed in application order "
                "(step 1 applied first); for the matrix G_n ... G_1 of a letter's sub-steps pass "
                "order='applied' (or use statetrack.constructions.lrnn.product(steps))")
    return [as_factor(f) for f in items]


def multiply(factors: Iterable[Any], n: int | None = None, *,
             order: str = "matrix") -> np.ndarray:
    """The product of GH factors: ``F_1 F_2 ... F_m`` in matrix order (default), or
    ``G_m ... G_1`` for delta sub-steps in application order (``order="applied"``, step 1
    applied first; see the module docstring).

    Exact (object array of Fractions) when every factor is exact, float64 otherwise. An empty
    list needs ``n`` and gives the identity.

    Raises
    ------
    FactorOrderError
        A delta sub-step (e.g. a :class:`~statetrack.constructions.lrnn.DeltaStep`) in a list
        read in matrix order.

    Examples
    --------
    >>> multiply([GHFactor((1, -1), 1), GHFactor((0, 1), 1)]).tolist()
    [[Fraction(0, 1), Fraction(0, 1)], [Fraction(1, 1), Fraction(0, 1)]]
    >>> multiply([GHFactor((1, -1), 1), GHFactor((0, 1), 1)], order="applied").tolist()
    [[Fraction(0, 1), Fraction(1, 1)], [Fraction(0, 1), Fraction(0, 1)]]
    """
    fs = _in_matrix_order(factors, order, "multiply()")
    if not fs:
        if n is None:
            raise MatrixInputError("multiply() of an empty factor list needs the dimension n")
        return identity(n, True)
    dims = {f.n for f in fs}
    if len(dims) != 1 or (n is not None and dims != {n}):
        raise MatrixInputError(f"GH factors have mixed dimensions {sorted(dims)}"
                               + (f" (expected {n})" if n is not None else ""))
    exact = all(f.exact for f in fs)
    dim = fs[0].n
    m = identity(dim, exact)
    if exact:
        # M (I - beta k k^T) = M - beta (M k) k^T changes only the columns in k's support
        for f in fs:
            s = list(f.support)
            if not s:
                continue
            v = np.array(f.values, dtype=object)
            cols = m[:, s]                                    # [n, |support|]
            m[:, s] = cols - np.outer(cols.dot(v) * f.beta, v)
        return m
    for f in fs:
        k = np.array(f.key, dtype=np.float64)
        # M (I - beta k k^T) = M - beta (M k) k^T
        m = m - np.outer(m.dot(k) * float(f.beta), k)
    return m


def check_factorization(factors: Iterable[Any], m: Any, *, exact: bool | None = None,
                        tol: float = DEFAULT_TOL, order: str = "matrix"):
    """Verify that the factors multiply to ``m``; return the largest entry deviation.

    Parameters
    ----------
    factors : iterable of GH factors (see :func:`as_factor`)
        In matrix order, or delta sub-steps in application order with ``order="applied"``
        (see :func:`multiply`).
    m : matrix
    exact : bool, optional
        Compare exactly (default when the factors and ``m`` are all exact) or to ``tol``.
        ``exact=True`` with float data is an error.
    tol : float
        Absolute tolerance for float comparison, scaled by ``max(1, max |m_ij|)``.

    order : {"matrix", "applied"}
        How the list is read (module docstring).

    Raises
    ------
    FactorMismatchError
        The product differs from ``m`` (the message names the worst entry).
    FactorOrderError
        A delta sub-step in a list read in matrix order.

    Examples
    --------
    >>> check_factorization([GHFactor((1, -1), 1)], [[0, 1], [1, 0]])
    Fraction(0, 1)
    >>> check_factorization([GHFactor((1, -1), 1)], [[1, 0], [0, 1]])
    Traceback (most recent call last):
    ...
    statetrack.constructions.errors.FactorMismatchError: product of 1 GH factor(s) differs from the claimed matrix at [0, 0]: product has 0, matrix has 1 (exact comparison)
    """
    tol = check_tol(tol, "check_factorization")
    target, t_exact = as_matrix(m, name="claimed matrix")
    fs = _in_matrix_order(factors, order, "check_factorization()")
    prod = multiply(fs) if fs else multiply(fs, n=target.shape[0])
    p_exact = prod.dtype == object
    if prod.shape != target.shape:
        raise FactorMismatchError(f"product of {len(fs)} GH factor(s) has shape {prod.shape}, "
                                  f"the claimed matrix {target.shape}")
    can_exact = t_exact and p_exact
    if exact is None:
        exact = can_exact
    if exact and not can_exact:
        raise MatrixInputError("exact=True needs exact (rational) factors and matrix; "
                               f"factors exact: {p_exact}, matrix exact: {t_exact}")
    if exact:
        bad = np.argwhere(prod != target)                  # row-major: the first entry
        if len(bad):
            bi, bj = (int(t) for t in bad[0])
            raise FactorMismatchError(
                f"product of {len(fs)} GH factor(s) differs from the claimed matrix at "
                f"[{bi}, {bj}]: product has {_fmt(prod[bi, bj])}, matrix has "
                f"{_fmt(target[bi, bj])} (exact comparison)")
        return Fraction(0)
    pf, tf = to_float(prod), to_float(target)
    diff = np.abs(pf - tf)
    worst = float(diff.max())
    scale = max(1.0, float(np.abs(tf).max()))
    if not worst <= tol * scale:
        i, j = np.unravel_index(int(np.argmax(diff)), diff.shape)
        raise FactorMismatchError(
            f"product of {len(fs)} GH factor(s) differs from the claimed matrix at [{i}, {j}]: "
            f"product has {float(pf[i, j])!r}, matrix has {float(tf[i, j])!r} (|diff| = "
            f"{worst:.3g} > "
            f"tol {tol * scale:.3g})")
    return worst


def _fmt(q: Any) -> str:
    return str(q) if isinstance(q, Fraction) else repr(q)


# ----------------------------------------------------------------------------- reflections


def reflection_factors(q: Any, *, tol: float = DEFAULT_TOL) -> list[GHFactor]:
    """Factor an orthogonal matrix into at most ``n`` reflections (``beta ||k||^2 = 2``).

    Exact rational input (ints, Fractions, sympy Rationals) gives exact factors whose product
    is ``q`` exactly; float input gives float factors accurate to about ``1e-13``.

    Parameters
    ----------
    q : square matrix with ``q^T q = I``
    tol : float
        Orthogonality tolerance for float input.

    Raises
    ------
    NotOrthogonalError
        ``q^T q != I`` (exactly, or beyond ``tol``).

    Examples
    --------
    >>> fs = reflection_factors([[0, 1, 0], [0, 0, 1], [1, 0, 0]])
    >>> len(fs), all(f.eigenvalue == -1 for f in fs)
    (2, True)
    >>> q = np.linalg.qr(np.random.default_rng(0).normal(size=(4, 4)))[0]
    >>> fs = reflection_factors(q)
    >>> len(fs) <= 4 and check_factorization(fs, q) < 1e-12
    True
    """
    tol = check_tol(tol, "reflection_factors")
    m, exact = as_matrix(q, name="orthogonal matrix")
    n = m.shape[0]
    gram = m.T.dot(m) - identity(n, exact)
    if exact:
        bad = [(i, j) for (i, j), v in np.ndenumerate(gram) if v != 0]
        if bad:
            i, j = bad[0]
            raise NotOrthogonalError(
                f"matrix is not orthogonal: (Q^T Q)[{i}, {j}] = {gram[i, j] + (i == j)}, "
                f"expected {int(i == j)}")
    else:
        worst = float(np.abs(gram).max())
        if worst > tol * n:
            i, j = np.unravel_index(int(np.argmax(np.abs(gram))), gram.shape)
            raise NotOrthogonalError(
                f"matrix is not orthogonal: |Q^T Q - I| = {worst:.3g} at [{i}, {j}] "
                f"(tolerance {tol * n:.3g})")
    return _reflections(m, exact)


def _reflections(m: np.ndarray, exact: bool) -> list[GHFactor]:
    n = m.shape[0]
    w = m.copy()
    out: list[GHFactor] = []
    for i in range(n - 1):
        x = w[i:, i]
        if exact:
            if x[0] == 1 and all(v == 0 for v in x[1:]):
                continue
            k = np.array([Fraction(0)] * n, dtype=object)
            k[i:] = x
            k[i] -= 1
            beta = Fraction(2) / k.dot(k)
        else:
            tail2 = float(np.dot(x[1:], x[1:]))
            norm = math.sqrt(float(x[0]) ** 2 + tail2)
            if tail2 == 0.0 and x[0] > 0:
                continue
            k = np.zeros(n)
            k[i:] = x
            k[i] = -tail2 / (x[0] + norm) if x[0] > 0 else x[0] - norm
            kk = float(k.dot(k))
            if kk == 0.0:  # x == 0 cannot happen for an orthogonal input; guard anyway
                continue
            beta = 2.0 / kk
        w = w - beta * np.outer(k, k.dot(w))
        out.append(GHFactor(tuple(k), beta))
    last = w[n - 1, n - 1]
    if last < 0:
        e = [Fraction(0)] * n if exact else [0.0] * n
        e[n - 1] = Fraction(1) if exact else 1.0
        out.append(GHFactor(tuple(e), Fraction(2) if exact else 2.0))
    return out


# ----------------------------------------------------------------------------- contractions


def _above_one(x: float) -> str:
    """``x`` with the fewest significant digits (6 to 17) that still show it above 1, for
    messages: a norm of 1.0000001 is not "1 > 1".

    >>> _above_one(2.0), _above_one(1.0000001), _above_one(1 + 2 ** -52)
    ('2', '1.0000001', '1.0000000000000002')
    """
    x = float(x)
    for digits in range(6, 18):
        text = f"{x:.{digits}g}"
        if float(text) > 1 or x <= 1:
            return text
    return repr(x)


def gh_factors(m: Any, *, tol: float = DEFAULT_TOL) -> list[GHFactor]:
    """Factor a matrix with spectral norm ``<= 1`` into at most ``3n`` GH factors.

    Exactness guarantee. The factors are exact (rational keys and betas, and their product
    equals ``m`` exactly) for exactly these inputs, all with rational entries:

    * a permutation matrix: ``m - c`` transpositions (:func:`permutation_factors`);
    * an orthogonal matrix: at most ``n`` reflections (:func:`reflection_factors`; a rational
      orthogonal matrix always has rational reflections, module docstring);
    * a diagonal matrix with entries in ``[-1, 1]``: one factor ``I - (1 - d_i) e_i e_i^T``
      per entry ``d_i != 1``.

    Every other input -- float input, and rational input that is none of the above -- goes
    through the float SVD ``U S V^T`` and gives *float* factors (``GHFactor.exact`` is False)
    whose product matches ``m`` to about ``1e-13`` per entry, not exactly: the singular values
    and vectors of a rational matrix are in general irrational. The norm bound of rational
    input is still decided exactly.

    Raises
    ------
    NormBoundError
        ``||m||_2 > 1`` (beyond ``tol`` for floats), so no GH product equals ``m``.

    Examples
    --------
    >>> m = np.array([[0.5, 0.25], [-0.25, 0.5]])
    >>> fs = gh_factors(m)
    >>> len(fs) <= 6 and all(f.is_gh for f in fs) and check_factorization(fs, m) < 1e-12
    True
    >>> [f.eigenvalue for f in gh_factors([[1, 0], [0, -1]])]
    [Fraction(-1, 1)]
    >>> from fractions import Fraction as F
    >>> fs = gh_factors([[F(1, 2), F(1, 3)], [0, F(1, 4)]])      # rational, not exact: SVD
    >>> any(f.exact for f in fs), check_factorization(fs, [[F(1, 2), F(1, 3)], [0, F(1, 4)]]) < 1e-12
    (False, True)
    >>> gh_factors([[2.0]])
    Traceback (most recent call last):
    ...
    statetrack.theory.errors.NormBoundError: matrix has spectral norm 2 > 1 (beyond the tolerance tol = 1e-10), so it is not a product of GH factors (Proposition 1)
    """
    tol = check_tol(tol, "gh_factors")
    a, exact = as_matrix(m, name="matrix")
    n = a.shape[0]
    if exact:
        perm = perm_of(a)
        if perm is not None:
            return permutation_factors(perm)
        if not (a.T.dot(a) - identity(n, True)).any():
            return _reflections(a, True)
        if all(a[i, j] == 0 for i in range(n) for j in range(n) if i != j):
            d = [a[i, i] for i in range(n)]
            for i, v in enumerate(d):
                if not -1 <= v <= 1:
                    raise NormBoundError(f"matrix has spectral norm {abs(v)} > 1 (diagonal "
                                         f"entry [{i}, {i}] = {v}), so it is not a product of "
                                         "GH factors (Proposition 1)")
            return [GHFactor(tuple(Fraction(int(j == i)) for j in range(n)), 1 - v)
                    for i, v in enumerate(d) if v != 1]
        if not _norm_le_one(a, True):
            x = float(np.linalg.norm(to_float(a), 2))
            shown = (f"{_above_one(x)} > 1 (exact test" if x > 1 else
                     "> 1 (by less than float64 resolves; exact test")
            raise NormBoundError(
                f"matrix has spectral norm {shown}: I - M^T M is not positive semidefinite), so "
                "it is not a product of GH factors (Proposition 1)")
        a = to_float(a)
    u, s, vt = np.linalg.svd(a)
    if s[0] > 1 + tol:
        raise NormBoundError(f"matrix has spectral norm {_above_one(s[0])} > 1 (beyond the "
                             f"tolerance tol = {tol:g}), so it is not a product of GH factors "
                             "(Proposition 1)")
    s = np.clip(s, 0.0, 1.0)
    out = _reflections(u, False)
    for i, si in enumerate(s):
        if si < 1.0:
            e = [0.0] * n
            e[i] = 1.0
            out.append(GHFactor(tuple(e), 1.0 - float(si)))
    out += _reflections(vt, False)
    return out


# ----------------------------------------------------------------------------- permutations


def _check_perm(perm: Any) -> list[int]:
    if isinstance(perm, np.ndarray) and perm.ndim == 1 and perm.dtype.kind in "iu":
        p = perm.tolist()                    # integers: only the permutation test is left
        if p and sorted(p) == list(range(len(p))):
            return p
    if isinstance(perm, (str, bytes)):
        raise NotAPermutationError(
            f"permutation must be a sequence of integers, not a {type(perm).__name__} "
            f"({perm!r}); write the images as a list, e.g. [1, 0, 2]")
    try:
        items = list(perm)                   # once: an iterator is read a single time
        bad = [v for v in items if isinstance(v, (str, bytes, bool, np.bool_))]
        if bad:                              # int('1') and int(True) would read them as ints
            raise TypeError(f"entry {bad[0]!r} is a {type(bad[0]).__name__}, not an integer")
        p = [int(v) for v in items]
        ok = all(float(v) == int(v) for v in items)
    except (TypeError, ValueError) as e:
        raise NotAPermutationError(f"permutation must be a sequence of integers: {e}") from e
    if not ok or sorted(p) != list(range(len(p))):
        raise NotAPermutationError(
            f"{items!r} is not a permutation of 0..{len(p) - 1} (it must list every index "
            "exactly once; entry i is the image of i)")
    if not p:
        raise NotAPermutationError("permutation is empty")
    return p


def permutation_cycles(perm: Sequence[int]) -> list[tuple[int, ...]]:
    """The non-trivial cycles of ``perm`` (``perm[i]`` = image of ``i``), each starting at
    its smallest point: :func:`statetrack.constructions.group.permutation_cycles` after
    checking that ``perm`` is a permutation.

    Raises
    ------
    NotAPermutationError
        ``perm`` does not list every index ``0..n-1`` exactly once.

    Examples
    --------
    >>> permutation_cycles([1, 2, 0, 4, 3, 5])
    [(0, 1, 2), (3, 4)]
    """
    return _group.permutation_cycles(_check_perm(perm))


def permutation_matrix(perm: Sequence[int]) -> np.ndarray:
    """The matrix ``P`` with ``P e_i = e_{perm[i]}`` (int64).

    >>> permutation_matrix([1, 2, 0]).tolist()
    [[0, 0, 1], [1, 0, 0], [0, 1, 0]]
    """
    p = _check_perm(perm)
    out = np.zeros((len(p), len(p)), dtype=np.int64)
    out[p, np.arange(len(p))] = 1
    return out


def permutation_factors(perm: Sequence[int]) -> list[GHFactor]:
    """A permutation moving ``m`` points as ``m - c`` transpositions ``I - (e_a - e_b)(e_a -
    e_b)^T`` (integer keys, ``beta = 1``), ``c`` = number of non-trivial cycles.

    ``perm[i]`` is the image of ``i``; the product in list (matrix) order is
    :func:`permutation_matrix` ``(perm)``. These are the swaps of
    :func:`statetrack.constructions.group.transposition_steps` (the Theorem 3 construction),
    listed in matrix order, i.e. reversed.

    Raises
    ------
    NotAPermutationError
        ``perm`` does not list every index ``0..n-1`` exactly once.

    Examples
    --------
    >>> fs = permutation_factors([1, 0, 3, 4, 2])      # (0 1)(2 3 4): 5 points, 2 cycles
    >>> len(fs)
    3
    >>> bool((multiply(fs) == permutation_matrix([1, 0, 3, 4, 2])).all())
    True
    >>> permutation_factors([0, 0])
    Traceback (most recent call last):
    ...
    statetrack.theory.errors.NotAPermutationError: [0, 0] is not a permutation of 0..1 (it must list every index exactly once; entry i is the image of i)
    """
    p = _check_perm(perm)
    return [as_factor(s) for s in reversed(_group.transposition_steps(p))]


# ----------------------------------------------------------------------------- norm bound


def spectral_norm_bound_holds(factors: Iterable[Any], *, tol: float = 1e-12) -> bool:
    """Proposition 1 (first half) on a concrete list: the product of GH factors has spectral
    norm ``<= 1``.

    Exact factors are checked exactly (``I - M^T M`` positive semidefinite, by rational
    elimination); float factors to ``tol``.

    Raises
    ------
    EigenvalueRangeError
        A factor is not a GH matrix (``beta ||k||^2`` outside ``[0, 2]``), so the proposition
        says nothing about the product.

    Examples
    --------
    >>> spectral_norm_bound_holds([GHFactor((1, 2), Fraction(1, 5)), GHFactor((1, -1), 1)])
    True
    >>> spectral_norm_bound_holds([GHFactor((1, 0), 3)])
    Traceback (most recent call last):
    ...
    statetrack.constructions.errors.EigenvalueRangeError: factor 0 is not a GH matrix: beta * ||k||^2 = 3 is outside [0, 2] (eigenvalue -2 outside [-1, 1])
    """
    tol = check_tol(tol, "spectral_norm_bound_holds")
    fs = [as_factor(f) for f in factors]
    for i, f in enumerate(fs):
        if not f.is_gh:
            raise EigenvalueRangeError(
                f"factor {i} is not a GH matrix: beta * ||k||^2 = {_fmt(1 - f.eigenvalue)} is "
                f"outside [0, 2] (eigenvalue {_fmt(f.eigenvalue)} outside [-1, 1])")
    if not fs:
        return True
    m = multiply(fs)
    return _norm_le_one(m, m.dtype == object, tol)


def norm_at_most_one(m: Any, *, tol: float = 1e-12) -> bool:
    """Whether ``||m||_2 <= 1``: exactly for rational ``m`` (``I - m^T m`` positive
    semidefinite), else to ``tol``.

    >>> norm_at_most_one([[Fraction(3, 5), Fraction(4, 5)], [0, 0]])
    True
    >>> norm_at_most_one([[1, 1], [0, 0]])
    False
    """
    tol = check_tol(tol, "norm_at_most_one")
    a, exact = as_matrix(m, name="matrix", square=False)
    return _norm_le_one(a, exact, tol)
