"""Small exact/float matrix helpers shared by :mod:`statetrack.theory` (private).

A matrix is *exact* when every entry is an ``int`` (numpy integers and ``bool`` included), a
:class:`fractions.Fraction`, or a sympy ``Rational``; exact matrices are held as numpy object
arrays of :class:`~fractions.Fraction`. Anything with a float entry is held as ``float64``.

>>> m, exact = as_matrix([[1, 0], [0, 1]])
>>> exact, m[0, 0]
(True, Fraction(1, 1))
>>> as_matrix([[0.5]])[1]
False
"""

from __future__ import annotations

import numbers
from fractions import Fraction
from typing import Any

import numpy as np

from .errors import MatrixInputError


def exact_scalar(x: Any) -> Fraction | None:
    """``x`` as a Fraction when it is an exact rational number, else ``None``."""
    if isinstance(x, Fraction):
        return x
    if isinstance(x, (bool, np.bool_)):
        return Fraction(int(x))
    if isinstance(x, (int, np.integer)):
        return Fraction(int(x))
    mod = type(x).__module__
    if mod.startswith("sympy"):
        if getattr(x, "is_Rational", False):
            return Fraction(int(x.p), int(x.q))
        return None
    return None


def as_matrix(m: Any, *, name: str = "matrix", square: bool = True) -> tuple[np.ndarray, bool]:
    """Convert ``m`` to ``(array, exact)``: an object array of Fractions or a float64 array.

    Raises :class:`MatrixInputError` for ragged, non-2-D, complex, non-finite or (when
    ``square``) non-square input.
    """
    if type(m).__module__.startswith("sympy"):
        try:
            m = [[m[i, j] for j in range(m.cols)] for i in range(m.rows)]
        except AttributeError as e:
            raise MatrixInputError(f"{name}: cannot read sympy object {type(m).__name__}") from e
    try:
        arr = np.asarray(m, dtype=object) if not isinstance(m, np.ndarray) else m
    except ValueError as e:
        raise MatrixInputError(f"{name} is ragged (rows of different lengths)") from e
    if arr.dtype == object and arr.ndim == 1 and any(
            isinstance(e, (list, tuple, np.ndarray)) for e in arr):
        raise MatrixInputError(f"{name} is ragged (rows of different lengths)")
    if arr.ndim != 2:
        raise MatrixInputError(f"{name} must be a 2-D matrix, got {arr.ndim} dimension(s) "
                               f"(shape {arr.shape})")
    if square and arr.shape[0] != arr.shape[1]:
        raise MatrixInputError(f"{name} must be square, got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise MatrixInputError(f"{name} is empty (shape {arr.shape})")
    if arr.dtype.kind in "iub":
        return np.vectorize(lambda v: Fraction(int(v)), otypes=[object])(arr), True
    if arr.dtype.kind == "f":
        out = arr.astype(np.float64)
        _check_finite(out, name)
        return out, False
    if arr.dtype.kind == "c":
        raise MatrixInputError(f"{name} must be real, got complex dtype {arr.dtype}")
    if arr.dtype.kind != "O":
        raise MatrixInputError(f"{name} has unsupported dtype {arr.dtype}")
    fr = np.empty(arr.shape, dtype=object)
    exact = True
    for idx, v in np.ndenumerate(arr):
        q = exact_scalar(v)
        if q is None:
            exact = False
            break
        fr[idx] = q
    if exact:
        return fr, True
    try:
        out = np.array([[float(v) for v in row] for row in arr], dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise MatrixInputError(f"{name} has an entry that is not a real number: {e}") from e
    _check_finite(out, name)
    return out, False


def check_tol(tol: Any, where: str, name: str = "tol") -> float:
    """``tol`` as a float, after checking that it is a finite non-negative real number.

    A negative tolerance made the float tests fail with false messages ("spectral norm 1 > 1"),
    a NaN made every comparison pass, and a string failed inside the arithmetic.

    >>> check_tol(1e-10, "gh_factors")
    1e-10
    >>> check_tol(-1, "gh_factors")
    Traceback (most recent call last):
    ...
    statetrack.theory.errors.MatrixInputError: gh_factors: argument 'tol' must be a finite real number >= 0, got -1
    """
    if (isinstance(tol, (bool, np.bool_)) or not isinstance(tol, numbers.Real)
            or not np.isfinite(float(tol)) or tol < 0):
        raise MatrixInputError(f"{where}: argument {name!r} must be a finite real number >= 0, "
                               f"got {tol!r}")
    return float(tol)


def check_size(value: Any, where: str, name: str) -> int:
    """``value`` as an int, after checking that it is an integer >= 0 (a matrix size bound).

    ``eigenvalues(m, cutoff=-1)`` and ``limit=0`` were taken without complaint (every matrix
    then silently fell to the numpy fallback).

    >>> check_size(8, "eigenvalues", "cutoff")
    8
    >>> check_size(-1, "eigenvalues", "cutoff")
    Traceback (most recent call last):
    ...
    statetrack.theory.errors.MatrixInputError: eigenvalues: argument 'cutoff' must be an integer >= 0, got -1
    """
    if (isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer))
            or value < 0):
        raise MatrixInputError(f"{where}: argument {name!r} must be an integer >= 0, "
                               f"got {value!r}")
    return int(value)


def _check_finite(a: np.ndarray, name: str) -> None:
    bad = np.argwhere(~np.isfinite(a))
    if len(bad):
        i, j = (int(t) for t in bad[0])
        raise MatrixInputError(f"{name}[{i}, {j}] = {a[i, j]} is not finite")


def to_float(m: np.ndarray) -> np.ndarray:
    """Float64 copy of an exact or float matrix."""
    if m.dtype == object:
        return np.array([[float(v) for v in row] for row in m], dtype=np.float64).reshape(m.shape)
    return np.asarray(m, dtype=np.float64)


def identity(n: int, exact: bool) -> np.ndarray:
    if exact:
        out = np.full((n, n), Fraction(0), dtype=object)
        for i in range(n):
            out[i, i] = Fraction(1)
        return out
    return np.eye(n)


def is_psd_exact(s: np.ndarray) -> bool:
    """Whether a symmetric exact matrix is positive semidefinite (symmetric elimination).

    The Schur complement of a PSD matrix with respect to a positive pivot is PSD, and a PSD
    matrix with a zero diagonal entry has a zero row there; conversely a run of the elimination
    that meets only non-negative pivots (and zero rows at zero pivots) writes ``s = L D L^T``
    with ``D >= 0``.

    >>> from fractions import Fraction as F
    >>> is_psd_exact(np.array([[F(1), F(1)], [F(1), F(1)]], dtype=object))
    True
    >>> is_psd_exact(np.array([[F(0), F(1)], [F(1), F(0)]], dtype=object))
    False
    """
    a = [list(row) for row in s]
    n = len(a)
    for k in range(n):
        p = a[k][k]
        if p < 0:
            return False
        if p == 0:
            if any(a[k][j] != 0 for j in range(k + 1, n)):
                return False
            continue
        for i in range(k + 1, n):
            f = a[i][k] / p
            if f:
                for j in range(k + 1, n):
                    a[i][j] -= f * a[k][j]
    return True


def norm_at_most_one(m: np.ndarray, exact: bool, tol: float = 1e-10) -> bool:
    """``||m||_2 <= 1``: exactly (``I - m^T m`` PSD) for exact ``m``, else to ``tol``."""
    if exact:
        n = m.shape[1]
        s = identity(n, True) - m.T.dot(m)
        return is_psd_exact(s)
    return bool(np.linalg.norm(m, 2) <= 1.0 + tol)


def perm_of(m: Any) -> np.ndarray | None:
    """The permutation ``p`` of a permutation matrix (``m e_j = e_{p[j]}``), else None.

    Accepts integer/bool numpy arrays and exact object arrays (Fractions, ints); anything
    else (floats, nested lists, non-square) gives None. Vectorized, so it is cheap for the
    wide permutation constructions (``K`` in the hundreds).

    >>> perm_of(np.array([[0, 0, 1], [1, 0, 0], [0, 1, 0]])).tolist()
    [1, 2, 0]
    >>> perm_of(np.array([[1, 1], [0, 0]])) is None
    True
    """
    if not isinstance(m, np.ndarray) or m.ndim != 2 or m.shape[0] != m.shape[1] or m.size == 0:
        return None
    if m.dtype.kind not in "iub" and m.dtype != object:
        return None
    try:
        ones = np.asarray(m == 1, dtype=bool)
        zeros = np.asarray(m == 0, dtype=bool)
    except (TypeError, ValueError):
        return None
    if ones.shape != m.shape or not (ones | zeros).all() or not (ones.sum(axis=0) == 1).all() \
            or not (ones.sum(axis=1) == 1).all():
        return None
    return np.argmax(ones, axis=0)
