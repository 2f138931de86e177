r"""Exact arithmetic of constructed LRNNs: exact numbers, sparse products of GH factors, and
the exact stepper.

* :func:`to_exact`, :func:`to_matrix`, :func:`to_vector`: user input as exact sympy numbers
  (floats refused; strings read by a whitelist parser).
* :func:`product`, :func:`check_product`: ``G_n ... G_1`` of delta steps, computed sparsely
  (only the rows in a key's support change), with Fractions when every weight is rational.
* :class:`ExactRunner`: the number-field stepper (``ZZ``, ``QQ`` or an algebraic field) whose
  canonical, hashable states :func:`statetrack.theory.proof.verify` explores; its
  :meth:`~ExactRunner.step` is :func:`~statetrack.constructions.stack.step_stack` in exact
  arithmetic.

The model these act on is in :mod:`statetrack.constructions.model`; users import everything
from :mod:`statetrack.constructions.lrnn`.
"""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import sympy

from .errors import ExactValueError, FactorMismatchError, ReadoutError, ShapeError
from .exact_text import parse_exact
from .stack import step_stack

if TYPE_CHECKING:
    from .model import LRNN, DeltaStep, Layer

__all__ = ["to_exact", "to_matrix", "to_vector", "product", "check_product", "ExactRunner"]


_ZERO = sympy.Integer(0)
_ONE = sympy.Integer(1)
_TWO = sympy.Integer(2)


# ---------------------------------------------------------------------- exact values
def to_exact(x: Any, where: str = "value") -> sympy.Expr:
    """Convert ``x`` to an exact real sympy number.

    Accepts ``int``, ``fractions.Fraction``, numpy integers, strings such as ``"-3/4"`` or
    ``"sqrt(2)/2"``, and real sympy numbers. Floats are refused: they are not exact. Strings
    are read by :func:`~statetrack.constructions.exact_text.parse_exact`, a whitelist parser
    (integers, ``+ - * / **``, ``sqrt sin cos exp``, ``pi``); they are never evaluated as
    code.

    Raises
    ------
    ExactValueError
        For floats, booleans, symbols, non-real or non-finite numbers; the message names
        ``where``.

    Examples
    --------
    >>> from fractions import Fraction
    >>> to_exact(Fraction(1, 3)), to_exact("sqrt(2)/2"), to_exact(-2)
    (1/3, sqrt(2)/2, -2)
    >>> to_exact(0.5, "beta of step 1")
    Traceback (most recent call last):
    ...
    statetrack.constructions.errors.ExactValueError: beta of step 1: 0.5 is a float; exact weights must be int, Fraction, str or sympy numbers
    """
    if type(x) is int:
        return sympy.Integer(x)
    if isinstance(x, (bool, np.bool_)):
        raise ExactValueError(f"{where}: {x!r} is a bool, not a number")
    if isinstance(x, sympy.Rational):
        return x
    if isinstance(x, (int, np.integer)):
        return sympy.Integer(int(x))
    if isinstance(x, Fraction):
        return sympy.Rational(x.numerator, x.denominator)
    if isinstance(x, (float, np.floating, complex, np.complexfloating)):
        raise ExactValueError(
            f"{where}: {x!r} is a float; exact weights must be int, Fraction, str or sympy numbers"
        )
    if isinstance(x, str):
        e = parse_exact(x, where)  # a whitelist parser: strings are never evaluated
    elif isinstance(x, sympy.Basic):
        e = x
    else:
        raise ExactValueError(f"{where}: {type(x).__name__} {x!r} is not an exact number")
    if not isinstance(e, sympy.Expr) or e.free_symbols:
        raise ExactValueError(f"{where}: {x!r} is not a number (it has free symbols)")
    if isinstance(e, sympy.Float) or e.has(sympy.Float):
        raise ExactValueError(f"{where}: {x!r} contains a float; use exact numbers")
    if e.is_real is False or e.is_finite is False or e.has(sympy.nan, sympy.zoo):
        raise ExactValueError(f"{where}: {x!r} is not a finite real number")
    if e.is_real is None:
        if abs(sympy.im(e).evalf(50)) > 1e-40:
            raise ExactValueError(f"{where}: {x!r} is not a real number")
    return e


def to_matrix(x: Any, where: str = "matrix", *, column: bool = False) -> sympy.ImmutableMatrix:
    """An exact ``sympy.ImmutableMatrix`` from nested sequences (or a flat one if ``column``).

    Examples
    --------
    >>> to_matrix([1, 0, -1], column=True).shape
    (3, 1)
    >>> to_matrix([[1, 2], [3]])
    Traceback (most recent call last):
    ...
    statetrack.constructions.errors.ShapeError: matrix: rows have different lengths [2, 1]
    """
    if isinstance(x, sympy.MatrixBase):
        rows = [[x[i, j] for j in range(x.cols)] for i in range(x.rows)]
    elif isinstance(x, np.ndarray):
        rows = x.tolist()
    else:
        try:
            rows = list(x)
        except TypeError:
            raise ShapeError(f"{where}: expected a sequence, got {type(x).__name__}") from None
    if column:
        if rows and all(isinstance(r, (list, tuple)) and len(r) == 1 for r in rows):
            rows = [r[0] for r in rows]
        if any(isinstance(r, (list, tuple, np.ndarray)) for r in rows):
            raise ShapeError(f"{where}: expected a flat vector")
        rows = [[r] for r in rows]
    else:
        rows = [list(r) if isinstance(r, (list, tuple, np.ndarray)) else [r] for r in rows]
        lengths = sorted({len(r) for r in rows}, reverse=True)
        if len(lengths) > 1:
            raise ShapeError(f"{where}: rows have different lengths {lengths}")
    if not rows or not rows[0]:
        raise ShapeError(f"{where}: is empty")
    vals = [[to_exact(v, f"{where}[{i}, {j}]") for j, v in enumerate(r)] for i, r in enumerate(rows)]
    return sympy.ImmutableMatrix(vals)


def to_vector(x: Any, where: str = "vector") -> tuple[sympy.Expr, ...]:
    """A flat tuple of exact numbers (a key, value, query or code).

    Examples
    --------
    >>> to_vector([1, "1/2", 0])
    (1, 1/2, 0)
    """
    if isinstance(x, tuple) and x and all(isinstance(v, sympy.Rational) for v in x):
        return x
    if isinstance(x, sympy.MatrixBase):
        if x.cols != 1 and x.rows != 1:
            raise ShapeError(f"{where}: expected a vector, got a {x.rows} x {x.cols} matrix")
        items = list(x)
    elif isinstance(x, (str, bytes)):
        raise ShapeError(f"{where}: expected a sequence of numbers, got a string")
    else:
        try:
            items = list(x)
        except TypeError:
            raise ShapeError(f"{where}: expected a sequence, got {type(x).__name__}") from None
    if not items:
        raise ShapeError(f"{where}: is empty")
    if all(type(v) is int for v in items):
        return tuple(sympy.Integer(v) for v in items)
    out = []
    for i, v in enumerate(items):
        if isinstance(v, (list, tuple, np.ndarray, sympy.MatrixBase)):
            raise ShapeError(f"{where}: expected a flat vector (entry {i} is a sequence)")
        out.append(to_exact(v, f"{where}[{i}]"))
    return tuple(out)


def _compare(x: sympy.Expr, bound: sympy.Expr) -> int:
    """Sign of ``x - bound`` decided exactly (rational) or by a verified equality test."""
    d = x - bound
    if d.is_Rational:
        return int(bool(d > 0)) - int(bool(d < 0))
    if d.is_zero:
        return 0
    v = d.evalf(60)
    if abs(v) > sympy.Float("1e-45"):
        return 1 if v > 0 else -1
    try:
        zero = sympy.minimal_polynomial(d, sympy.Dummy("x")).is_Symbol
    except (NotImplementedError, sympy.polys.polyerrors.NotAlgebraic):
        zero = sympy.simplify(d) == 0
    return 0 if zero else (1 if v > 0 else -1)


def _simp(e: sympy.Expr) -> sympy.Expr:
    """A tidier but equal form (never a numerical guess)."""
    return e if e.is_Rational else sympy.radsimp(sympy.expand(e))


def _rational_if_exact(e: sympy.Expr) -> sympy.Expr:
    """``e`` itself, or the rational number it provably equals (e.g. ``2 sin^2 + 2 cos^2``
    -> 2): a rational candidate from 50 digits, confirmed by an exact test."""
    e = _simp(e)
    if e.is_Rational:
        return e
    try:
        cand = sympy.Rational(str(sympy.N(e, 50))).limit_denominator(10 ** 6)
    except (TypeError, ValueError):
        return e
    return cand if _compare(e, cand) == 0 else e


def _as_sympy(x: Any) -> sympy.Expr:
    """An internal number (int, Fraction or sympy) as a sympy number; never parses text."""
    if isinstance(x, sympy.Basic):
        return x
    if isinstance(x, Fraction):
        return sympy.Rational(x.numerator, x.denominator)
    if isinstance(x, (int, np.integer)):
        return sympy.Integer(int(x))
    raise ExactValueError(f"internal: {type(x).__name__} {x!r} is not an exact number")


def _frac(e: sympy.Expr) -> Fraction:
    return Fraction(int(e.p), int(e.q))


# ---------------------------------------------------------------------- sparse exact algebra
def _apply_steps(steps: Sequence[DeltaStep], rows: list[dict[int, Any]], *, additive: bool,
                 rational: bool) -> list[dict[int, Any]]:
    """Apply delta steps to a matrix stored as row dicts ``{col: value}`` (sparse).

    ``S <- S - beta k (k^T S) [+ beta k v^T]``; only the rows in the key's support change, so
    permutation-like products stay cheap whatever K is.
    """
    conv = _frac if rational else (lambda e: e)
    for s in steps:
        if not s.support or s.beta == 0:
            continue
        beta = conv(s.beta)
        ks = [(i, conv(s.key[i])) for i in s.support]
        ktS: dict[int, Any] = {}  # k^T S, a row
        for i, ki in ks:
            for c, x in rows[i].items():
                ktS[c] = ktS.get(c, 0) + ki * x
        if additive and s.value is not None:
            for c, vc in enumerate(s.value):
                if vc != 0:
                    ktS[c] = ktS.get(c, 0) - conv(vc)
        for i, ki in ks:
            row = dict(rows[i])
            f = beta * ki
            for c, x in ktS.items():
                if x != 0:
                    y = row.get(c, 0) - f * x
                    if not rational:
                        y = _simp(_as_sympy(y))
                    if y == 0:
                        row.pop(c, None)
                    else:
                        row[c] = y
            rows[i] = row
    return rows


def _rows_to_sympy(rows: list[dict[int, Any]], n_cols: int,
                   rational: bool) -> sympy.ImmutableSparseMatrix:
    entries = {}
    for i, row in enumerate(rows):
        for c, x in row.items():
            entries[(i, c)] = sympy.Rational(x.numerator, x.denominator) if rational \
                else _simp(_as_sympy(x))
    return sympy.ImmutableSparseMatrix(len(rows), n_cols, entries)


def _product_rows(steps: Sequence[DeltaStep], dim: int | None) -> tuple[list[dict], int, bool]:
    steps = list(steps)
    if dim is None:
        if not steps:
            raise ShapeError("product of no steps needs dim")
        dim = steps[0].dim
    for j, s in enumerate(steps):
        if s.dim != dim:
            raise ShapeError(f"step {j + 1} has a key of length {s.dim}, expected {dim}")
    rational = all(s.is_rational for s in steps)
    one = Fraction(1) if rational else _ONE
    rows = [{i: one} for i in range(dim)]
    return _apply_steps(steps, rows, additive=False, rational=rational), dim, rational


def product(steps: Sequence[DeltaStep], dim: int | None = None) -> sympy.ImmutableSparseMatrix:
    """``G_n ... G_1``, the product of the steps' GH factors (step 1 applied first).

    Computed sparsely (only the rows in each key's support change), exactly: with Fractions
    when every step is rational, else with sympy.

    Examples
    --------
    >>> from statetrack.constructions.lrnn import DeltaStep
    >>> product([DeltaStep([1, -1, 0], 1), DeltaStep([1, 0, -1], 1)])  # (0 1 2) as 2 swaps
    Matrix([
    [0, 0, 1],
    [1, 0, 0],
    [0, 1, 0]])
    """
    rows, dim, rational = _product_rows(steps, dim)
    return _rows_to_sympy(rows, dim, rational)


def _target_rows(target: Any, where: str) -> tuple[list[dict[int, sympy.Expr]], int]:
    if isinstance(target, dict):
        try:
            n = 1 + max(max(int(i), int(j)) for i, j in target)
        except (TypeError, ValueError):
            raise FactorMismatchError(f"{where}: a dict target must map (row, col) to numbers") \
                from None
        rows_d: list[dict[int, sympy.Expr]] = [{} for _ in range(n)]
        for (i, j), x in target.items():
            if x != 0:
                rows_d[int(i)][int(j)] = to_exact(x, f"{where}[{i}, {j}]")
        return rows_d, n
    if isinstance(target, sympy.SparseMatrix) or isinstance(target, sympy.ImmutableSparseMatrix):
        rows: list[dict[int, sympy.Expr]] = [{} for _ in range(target.rows)]
        for (i, j), x in target.todok().items():
            rows[i][j] = to_exact(x, f"{where}[{i}, {j}]")
        return rows, target.cols
    m = to_matrix(target, where)
    return [{j: m[i, j] for j in range(m.cols) if m[i, j] != 0} for i in range(m.rows)], m.cols


def check_product(steps: Sequence[DeltaStep], target: Any, *, where: str = "factors") -> None:
    """Raise :class:`FactorMismatchError` unless ``product(steps) == target`` exactly.

    ``target`` is a matrix (nested lists, numpy, sympy dense or sparse) or a sparse dict
    ``{(row, col): value}`` of a square matrix whose last row or column has a non-zero.

    Examples
    --------
    >>> from statetrack.constructions.lrnn import DeltaStep
    >>> check_product([DeltaStep([1, -1], 1)], [[0, 1], [1, 0]])
    >>> check_product([DeltaStep([1, -1], 1)], [[1, 0], [0, 1]], where="letter 'a'")
    Traceback (most recent call last):
    ...
    statetrack.constructions.errors.FactorMismatchError: letter 'a': the 1 GH factors do not multiply to the claimed 2 x 2 matrix: entry (0, 0) is 0, the claim says 1
    """
    rows, n_cols = _target_rows(target, f"{where}: target")
    n = len(rows)
    if n != n_cols:
        raise FactorMismatchError(f"{where}: the claimed matrix is {n} x {n_cols}, not square")
    for j, s in enumerate(steps):
        if s.dim != n:
            raise FactorMismatchError(
                f"{where}: step {j + 1} has a key of length {s.dim}, the claimed matrix is "
                f"{n} x {n}"
            )
    got, _, rational = _product_rows(steps, n)
    for i in range(n):
        for c in sorted(set(rows[i]) | set(got[i])):
            a, b = got[i].get(c, 0), rows[i].get(c, _ZERO)
            if rational and b.is_Rational:
                same = a == _frac(b)
            else:
                same = _compare(_as_sympy(a), b) == 0
            if not same:
                raise FactorMismatchError(
                    f"{where}: the {len(steps)} GH factors do not multiply to the claimed "
                    f"{n} x {n} matrix: entry ({i}, {c}) is {a}, the claim says {b}"
                )


# ---------------------------------------------------------------------- exact runner
def _layer_is_integer(layer: Layer) -> bool:
    """Every weight an integer: exact runs can use the ring ZZ (fast Python ints)."""
    return all(s.beta.is_Integer and all(s.key[i].is_Integer for i in s.support)
               and all(v.is_Integer for v in s.value) for row in layer.steps for s in row) and \
        all(x.is_Integer for x in layer.initial_state) and \
        all(x.is_Integer for x in layer.readout.query) and \
        all(x.is_Integer for c in layer.readout.codes for x in c)


class ExactRunner:
    """Exact stepping of an :class:`LRNN` in its number field.

    States are tuples (one per layer) of ``K`` rows, each a tuple of ``V`` domain elements:
    hashable and canonical (equal states compare equal). Each token applies its delta steps
    sparsely (only the rows in a key's support change), so large one-hot constructions stay
    cheap. Used by :meth:`LRNN.evaluate` and by :func:`statetrack.theory.proof.verify`.

    Attributes
    ----------
    domain : the sympy domain: ``ZZ`` when every weight is an integer (all operations are
        ring operations, so states stay integers), ``QQ`` when rational, else an algebraic
        field
    rational : whether every weight is rational
    """

    def __init__(self, model: LRNN):
        self.model = model
        self.rational = all(layer.is_rational for layer in model.layers)
        if self.rational:
            self.domain = sympy.ZZ if all(_layer_is_integer(layer) for layer in model.layers) \
                else sympy.QQ
        else:
            gens = list(model.field_generators)
            if not gens:
                irr = []
                for layer in model.layers:
                    irr += list(layer.initial_state) + list(layer.readout.query)
                    for c in layer.readout.codes:
                        irr += list(c)
                    for row in layer.steps:
                        for s in row:
                            irr += [s.key[i] for i in s.support] + [s.beta] + list(s.value)
                gens = list(dict.fromkeys(e for e in irr if not e.is_Rational))
            self.domain = sympy.QQ.algebraic_field(*gens)
        self._generators = [] if self.rational else list(gens)
        dom = self.domain
        self._conv: dict[sympy.Expr, Any] = {}
        self.steps: list[list[list[tuple]]] = []   # [layer][token] -> [(support pairs, beta, value)]
        self.affine: list[list[tuple | None]] = []  # [layer][token] -> sparse (A rows, B rows)
        self.H0: list[tuple] = []
        self.query: list[tuple] = []
        self.codes: list[dict[tuple, int]] = []
        for li, layer in enumerate(model.layers):
            per_token = []
            for row in layer.steps:
                ops = []
                for s in row:
                    if s.is_identity:
                        continue
                    ks = tuple((i, self.convert(s.key[i], f"layer {li} key")) for i in s.support)
                    val = tuple(self.convert(x, f"layer {li} value") for x in s.value)
                    ops.append((ks, self.convert(s.beta, f"layer {li} beta"), val))
                per_token.append(ops)
            self.steps.append(per_token)
            self.affine.append([self._sparse_affine(ops, layer.width, layer.value_dim)
                                for ops in per_token])
            self.H0.append(tuple(tuple(self.convert(x, f"layer {li} initial state") for x in r)
                                 for r in layer.initial_state.tolist()))
            self.query.append(tuple(self.convert(x, f"layer {li} query")
                                    for x in layer.readout.query))
            self.codes.append({tuple(self.convert(x, f"layer {li} code") for x in c): i
                               for i, c in enumerate(layer.readout.codes)})
        self._token_maps = [layer.token_map for layer in model.layers]
        # bound once: step() is the proof's inner loop
        self._apply, self._output, self._read = self.apply, self.output, self.read

    def _sparse_affine(self, ops: list, k: int, v: int) -> tuple | None:
        """``(A rows, B rows)`` as sparse ``[(col, value)]`` lists, when applying them costs
        less than replaying the steps (e.g. permutations: one entry per row)."""
        if not ops:
            return None
        dom = self.domain
        cost_steps = sum(len(ks) for ks, _, _ in ops) * (2 * v + 1)
        a_rows: list[dict] = [{i: dom.one} for i in range(k)]
        b_rows: list[dict] = [{} for _ in range(k)]
        for ks, beta, val in ops:
            # A <- A - beta k (k^T A);  B <- B + beta k (v - k^T B)^T
            for rows, add in ((a_rows, None), (b_rows, val)):
                kt: dict = {}
                for i, ki in ks:
                    for c, x in rows[i].items():
                        kt[c] = kt.get(c, dom.zero) + ki * x
                if add is not None:
                    for c, x in enumerate(add):
                        if x:
                            kt[c] = kt.get(c, dom.zero) - x
                for i, ki in ks:
                    row = dict(rows[i])
                    for c, x in kt.items():
                        if x:
                            y = row.get(c, dom.zero) - beta * ki * x
                            if y:
                                row[c] = y
                            else:
                                row.pop(c, None)
                    rows[i] = row
        if sum(len(r) for r in a_rows) + sum(len(r) for r in b_rows) >= cost_steps:
            return None
        return ([tuple(r.items()) for r in a_rows], [tuple(r.items()) for r in b_rows])

    def convert(self, e: sympy.Expr, where: str = "value") -> Any:
        """A sympy number as an element of the domain.

        In an algebraic field, sums, products and integer powers are computed by the field's
        own (exact) arithmetic from their converted parts, and ``cos(k pi/n)``,
        ``sin(k pi/n)`` by the angle-addition formulas from ``cos(pi/n)``, ``sin(pi/n)`` when
        one of them is a field generator; sympy's ``from_sympy`` (a minimal polynomial and a field
        isomorphism per call, about 0.1-1 s each) is asked only for the remaining atoms
        (square roots, other cosines), each once. Field elements are canonical, so the
        result is the element ``from_sympy`` would give.
        """
        got = self._conv.get(e)
        if got is None:
            try:
                got = self._convert(e)
            except (sympy.polys.polyerrors.CoercionFailed, sympy.polys.polyerrors.NotAlgebraic,
                    ValueError, TypeError, ZeroDivisionError) as err:
                raise ExactValueError(f"{where}: {e} is not in the model's number field "
                                      f"{self.domain} ({type(err).__name__}); pass "
                                      f"field_generators") from None
            self._conv[e] = got
        return got

    def _convert(self, e: sympy.Expr) -> Any:
        dom = self.domain
        if e.is_Rational or dom in (sympy.ZZ, sympy.QQ):
            return dom.from_sympy(e)
        try:
            if e.is_Add or e.is_Mul:
                parts = [self._convert_cached(a) for a in e.args]
                out = parts[0]
                for x in parts[1:]:
                    out = out + x if e.is_Add else out * x
                return out
            if e.is_Pow and e.exp.is_Integer:
                base = self._convert_cached(e.base)
                k = int(e.exp)
                return base ** k if k >= 0 else dom.one / base ** (-k)
        except (sympy.polys.polyerrors.CoercionFailed, sympy.polys.polyerrors.NotAlgebraic):
            pass          # a part outside the field (sqrt(2) sqrt(8)): the whole may be inside
        trig = self._trig(e)
        return dom.from_sympy(e) if trig is None else trig

    def _convert_cached(self, e: sympy.Expr) -> Any:
        got = self._conv.get(e)
        if got is None:
            got = self._conv[e] = self._convert(e)
        return got

    def _trig(self, e: sympy.Expr) -> Any:
        """``cos(k pi/n)`` or ``sin(k pi/n)`` by angle addition in the field from
        ``cos(pi/n)`` and ``sin(pi/n)`` (converted once each), when one of them is a field
        generator; else None (an atom the caller converts with ``from_sympy``)."""
        if e.func not in (sympy.cos, sympy.sin):
            return None
        r = e.args[0] / sympy.pi
        if not r.is_Rational:
            return None
        if not hasattr(self, "_unit_angles"):
            angles = {g.args[0] / sympy.pi for g in self._generators
                      if g.func in (sympy.cos, sympy.sin)}
            self._unit_angles = sorted(int(r0.q) for r0 in angles
                                       if r0.is_Rational and r0.p == 1)
            self._powers: dict[int, list] = {}
        for n in self._unit_angles:
            k = r * n
            if not k.is_Integer:
                continue
            k = int(k) % (2 * n)
            pw = self._powers.get(n)
            if pw is None:
                c1 = self.domain.from_sympy(sympy.cos(sympy.pi / n))
                s1 = self.domain.from_sympy(sympy.sin(sympy.pi / n))
                pw = [(self.domain.one, self.domain.zero)]
                for _ in range(2 * n - 1):
                    c, s = pw[-1]
                    pw.append((c * c1 - s * s1, s * c1 + c * s1))
                self._powers[n] = pw
            return pw[k][0] if e.func is sympy.cos else pw[k][1]
        return None

    def transition_matrix(self, layer: int, token: int) -> list[list[Any]]:
        """``A(token)`` of a layer as a dense K x K list of domain elements (exact and
        canonical: two such matrices are equal iff their entries compare equal).

        Examples
        --------
        >>> from statetrack.constructions.lrnn import _parity_example
        >>> r = _parity_example().exact()
        >>> r.transition_matrix(0, 1) == [[r.domain.zero, r.domain.one], [r.domain.one, r.domain.zero]]
        True
        """
        lay = self.model.layer(layer)  # LayerIndexError if there is no such layer
        li = int(layer) % self.model.depth
        k = lay.width
        dom = self.domain
        rows = [[dom.one if i == j else dom.zero for j in range(k)] for i in range(k)]
        for ks, beta, _ in self.steps[li][lay.token_index(token)]:
            kt = [dom.zero] * k  # k^T A
            for i, ki in ks:
                for j in range(k):
                    if rows[i][j]:
                        kt[j] = kt[j] + ki * rows[i][j]
            for i, ki in ks:
                f = beta * ki
                rows[i] = [rows[i][j] - f * kt[j] if kt[j] else rows[i][j] for j in range(k)]
        return rows

    def to_sympy(self, state: tuple) -> sympy.ImmutableMatrix:
        """A domain state as an exact sympy matrix."""
        dom = self.domain
        return sympy.ImmutableMatrix([[dom.to_sympy(x) for x in row] for row in state])

    def initial(self) -> tuple:
        """The initial states of all layers."""
        return tuple(self.H0)

    def output_value(self, layer: int, state: tuple) -> tuple:
        """The exact output ``S^T q`` of one layer (V domain elements)."""
        zero = self.domain.zero
        out = [zero] * len(state[0])
        for qi, row in zip(self.query[layer], state):
            if qi:
                for j, x in enumerate(row):
                    if x:
                        out[j] = out[j] + qi * x
        return tuple(out)

    def output(self, layer: int, state: tuple) -> int:
        """Exact output class of one layer's state; :class:`ReadoutError` if not a code."""
        o = self.output_value(layer, state)
        c = self.codes[layer].get(o)
        if c is None:
            dom = self.domain
            raise ReadoutError(
                f"layer {layer}: output {[str(dom.to_sympy(x)) for x in o]} is none of the "
                f"readout's {len(self.codes[layer])} codes"
            )
        return c

    def outputs(self, states: tuple) -> tuple[int, ...]:
        return tuple(self.output(i, s) for i, s in enumerate(states))

    def apply(self, layer: int, token: int, state: tuple) -> tuple:
        """``A(token) S + B(token)`` for one layer, as the token's delta steps."""
        ops = self.steps[layer][token]
        if not ops:
            return state
        aff = self.affine[layer][token]
        if aff is not None:
            a_rows, b_rows = aff
            n_cols = len(state[0])
            zero = self.domain.zero
            out = []
            for ar, br in zip(a_rows, b_rows):
                if len(ar) == 1 and not br and ar[0][1] == 1:
                    out.append(state[ar[0][0]])  # a permutation row: copy
                    continue
                row = [zero] * n_cols
                for c, x in ar:
                    src = state[c]
                    for j in range(n_cols):
                        if src[j]:
                            row[j] = row[j] + x * src[j]
                for c, x in br:
                    row[c] = row[c] + x
                out.append(tuple(row))
            return tuple(out)
        rows = list(state)
        n_cols = len(rows[0])
        for ks, beta, val in ops:
            u = list(val)  # u = beta (v - S^T k)
            for i, ki in ks:
                r = rows[i]
                for j in range(n_cols):
                    if r[j]:
                        u[j] = u[j] - ki * r[j]
            if not any(u):
                continue
            u = [beta * x for x in u]
            for i, ki in ks:
                r = rows[i]
                rows[i] = tuple(r[j] + ki * u[j] if u[j] else r[j] for j in range(n_cols))
        return tuple(rows)

    def read(self, layer: int, symbol: int, prev: int) -> int:
        """The token layer ``layer > 0`` reads: ``token_map[symbol][class of layer - 1]``."""
        return self._token_maps[layer][symbol][prev]

    def step(self, states: tuple, symbol: int) -> tuple[tuple, tuple[int, ...], tuple[int, ...]]:
        """One input symbol through every layer: (new states, output classes, tokens read)
        (:func:`~statetrack.constructions.stack.step_stack` in exact arithmetic)."""
        return step_stack(symbol, states, self._apply, self._output, self._read)
