r"""Proving that a float run of a constructed LRNN *is* its exact run: :func:`float_exactness`.

A model is "exact in floats" in a binary format when its float run computes, at every step
of every word, the same numbers as the exact run. That is never taken from the caller or a
file; it is derived from the weights and proved here.

The float model
---------------
The recurrence of :mod:`statetrack.constructions.lrnn` as the kernels and
:meth:`~statetrack.constructions.lrnn.LRNN.evaluate_float` compute it. Weights (keys, betas,
values, the initial state, the query) are rounded once to the *weights* format ``w``; each
sub-step computes, in the *arithmetic* format ``s``,

* ``s_j = sum_i k_i S_ij`` (products ``k_i S_ij``, summed in any order),
* ``u_j = v_j - s_j``, then ``w_j = beta u_j`` and ``S_ij + k_i w_j``, or (the Triton kernel's
  association) ``beta k_i`` and ``S_ij + (beta k_i) u_j`` (the same numbers),

steps with a non-zero key included even when ``beta = 0``; the output is ``o_j = sum_i S_ij
q_i`` (products, summed in any order), rounded to ``w`` and decoded to the nearest code.
Stacked layers read the token chosen by the class decoded below.

The proof
---------
*Lemma (exact sums).* Let ``t_1 .. t_n`` be multiples of ``2^e`` with ``2^e`` at least the
format's smallest subnormal, and ``M = sum |t_i|``. If ``M <= 2^(e + p)`` (``p`` significand
bits) and ``M`` is at most the largest finite value, then every partial sum of every subset,
in any order, is representable. (A partial sum is ``m 2^e`` with ``|m| <= 2^p``: at most
``p`` significant bits whose lowest is at or above the subnormal spacing, and in range.)
So every rounding of the sum is the identity, whatever the order, the association, and
whether a fused multiply-add or a wider accumulator is used.

*Induction.* Breadth-first search over the reachable joint states of the exact run (tuples of
layer states, in rational arithmetic) checks, for every reachable state and input symbol,
that every weight, every product, every sum (by the lemma) and every other intermediate of
the model above is representable in its format. Then the float run of every word starts at
the exact initial state, each rounded operation returns its exact argument, so the float state
after each step is the exact state, the output is the exact code (decoded to its own class:
codes are distinct), and the next layer reads the exact token: the float run equals the exact
run on the word, hence (:func:`statetrack.theory.proof.verify`) the DFA's run. When the
search exhausts the reachable set, this holds for every word of every length; when it stops
early (``limit`` or ``max_length``) it holds for every word up to the depth it finished. A
format whose values include the checked one's (float32 for bfloat16 and float16; float64 for
all) is then exact too: the kernels' float32 state for bfloat16 inputs is covered.

What is not covered: the chunked (WY) kernels compute other intermediates (the UT transform),
and a gate ``exp(g)`` (constructions use none).

Irrational weights (the rotation form, normalized keys) are in no binary format: nothing is
proved. The check is exact integer/rational arithmetic throughout (no floats).

Examples
--------
>>> from statetrack.constructions.lrnn import _parity_example
>>> ex = float_exactness(_parity_example())
>>> ex.proved("bfloat16"), ex.horizon("float16"), ex.reachable
(True, inf, 2)
>>> from statetrack.constructions.lrnn import LRNN, DeltaStep, Layer, Readout
>>> third = Layer(tokens=("a",), steps=((DeltaStep(key=[1], beta="2/3"),),),
...               initial_state=[[1]], readout=Readout(query=[1], codes=[[1], ["1/3"]]))
>>> m = LRNN(alphabet=("a",), layers=(third,), accepting=(True, False))
>>> print(float_exactness(m).reason("float32"))
weights: layer 0, token 'a', step 1: beta = 2/3 is not a dyadic rational (no binary format holds it)
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from statetrack.floats import FLOAT_DTYPES, FORMATS, BinaryFormat, dtype_name

from .errors import InputTypeError

if TYPE_CHECKING:
    from .model import LRNN, Layer

__all__ = ["FloatFailure", "FloatExactness", "float_exactness", "DEFAULT_LIMIT"]

#: Most reachable joint states :func:`float_exactness` explores by default.
DEFAULT_LIMIT = 200_000

WEIGHTS = "weights"
ARITHMETIC = "arithmetic"


@dataclass(frozen=True)
class FloatFailure:
    """The first value that is not representable in a format (in one role).

    Attributes
    ----------
    role : str
        ``"weights"`` (a weight or an output, rounded to the weights format) or
        ``"arithmetic"`` (a product, sum or state entry of the arithmetic format).
    horizon : int
        Words of length ``<= horizon`` are still proved (``-1``: not even the empty word).
    word : tuple of str
        A shortest input word on whose last step (or readout) the value occurs.
    where : str
        The value and where it occurs.
    """

    role: str
    horizon: int
    word: tuple[str, ...]
    where: str

    def summary(self) -> str:
        w = " ".join(self.word) if self.word else "(empty word)"
        at = f" (word {w})" if self.horizon >= 0 else ""
        return f"{self.role}: {self.where}{at}"


@dataclass(frozen=True)
class FloatExactness:
    """What :func:`float_exactness` proved.

    Attributes
    ----------
    formats : tuple of str
        The formats checked.
    reachable : int
        Reachable joint states checked.
    explored : float
        The search covered every word of length ``<= explored`` (``inf``: the reachable set
        was exhausted, every length).
    failures : mapping
        ``(role, format) -> FloatFailure`` for the first value of each role that the format
        does not hold.
    """

    formats: tuple[str, ...]
    reachable: int
    explored: float
    failures: Mapping[tuple[str, str], FloatFailure] = field(default_factory=dict)

    def _pair(self, dtype: Any, state_dtype: Any) -> tuple[str, str]:
        w = dtype_name(dtype)
        s = w if state_dtype is None else dtype_name(state_dtype)
        for f in (w, s):
            if f not in self.formats:
                raise InputTypeError(f"dtype {f!r} was not checked (checked: "
                                     f"{', '.join(self.formats)})")
        return w, s

    def _first(self, dtype: Any, state_dtype: Any) -> FloatFailure | None:
        w, s = self._pair(dtype, state_dtype)
        cands = [f for f in (self.failures.get((WEIGHTS, w)), self.failures.get((ARITHMETIC, s)))
                 if f is not None]
        return min(cands, key=lambda f: f.horizon) if cands else None

    def horizon(self, dtype: Any, state_dtype: Any = None) -> float:
        """Proved: every word of length ``<= horizon`` runs exactly with weights in ``dtype``
        and arithmetic in ``state_dtype`` (default ``dtype``); ``inf`` for every length,
        ``-1`` for none."""
        f = self._first(dtype, state_dtype)
        h = self.explored if f is None else min(self.explored, f.horizon)
        return h if math.isinf(h) else int(h)

    def proved(self, dtype: Any, state_dtype: Any = None) -> bool:
        """Whether the float run equals the exact run on every word of every length."""
        return math.isinf(self.horizon(dtype, state_dtype))

    def reason(self, dtype: Any, state_dtype: Any = None) -> str | None:
        """Why the proof stops (None when :meth:`proved`)."""
        if self.proved(dtype, state_dtype):
            return None
        f = self._first(dtype, state_dtype)
        if f is not None and f.horizon <= self.explored:
            return f.summary()
        return (f"the search stopped at length {int(self.explored)} ({self.reachable} "
                f"reachable states; raise limit or max_length)")

    @property
    def all_proved(self) -> bool:
        """Proved at every length in every checked format (weights and arithmetic alike)."""
        return all(self.proved(f) for f in self.formats)

    def summary(self) -> str:
        """One line per format: proved at every length, up to a length, or why not.

        Examples
        --------
        >>> from statetrack.constructions.lrnn import _parity_example
        >>> print(float_exactness(_parity_example(), formats=("bfloat16",)).summary())
        bfloat16: exact at every length (2 reachable states checked)
        """
        lines: dict[str, list[str]] = {}
        for f in self.formats:
            h = self.horizon(f)
            if math.isinf(h):
                text = (f"exact at every length ({self.reachable} reachable state"
                        f"{'s' if self.reachable != 1 else ''} checked)")
            elif h >= 0:
                text = f"exact up to length {h}; then {self.reason(f)}"
            else:
                text = f"not proved: {self.reason(f)}"
            lines.setdefault(text, []).append(f)
        out = [f"{', '.join(fs)}: {text}" for text, fs in lines.items()]
        return "\n".join(out)


# ---------------------------------------------------------------------- representability
def _footprint(x: int | Fraction) -> tuple[int, int, int | Fraction] | None:
    """``(significant bits, exponent of the lowest bit, |x|)`` of a non-zero dyadic ``x``;
    None if ``x`` is not dyadic."""
    if isinstance(x, int):
        a = -x if x < 0 else x
        lo = (a & -a).bit_length() - 1
        return (a >> lo).bit_length(), lo, a
    num, den = abs(x.numerator), x.denominator
    if den & (den - 1):
        return None
    lo = (num & -num).bit_length() - 1
    return (num >> lo).bit_length(), lo - (den.bit_length() - 1), abs(x)


def _fits(fmt: BinaryFormat, bits: int, lo: int, mag: int | Fraction) -> bool:
    return bits <= fmt.precision and lo >= fmt.emin - fmt.precision + 1 and mag <= fmt.max_value


def _why(fmt: BinaryFormat, x: Any, bits: int, lo: int, mag: Any, *, total: bool = False) -> str:
    if mag > fmt.max_value:
        what = "the sum of magnitudes" if total else "it"
        return (f"{what} exceeds {fmt.name}'s largest finite value {fmt.max_value:g} (overflow "
                f"to inf)")
    if lo < fmt.emin - fmt.precision + 1:
        return (f"its lowest bit 2^{lo} is below {fmt.name}'s smallest subnormal "
                f"2^{fmt.emin - fmt.precision + 1}")
    if total:
        return (f"partial sums may need {bits} significant bits, {fmt.name} has "
                f"{fmt.precision}")
    return f"it needs {bits} significant bits, {fmt.name} has {fmt.precision}"


def _num(x: Any) -> int | Fraction:
    """An exact rational (sympy or domain element) as int or Fraction."""
    if isinstance(x, int):
        return x
    p, q = int(x.p if hasattr(x, "p") else x.numerator), int(x.q if hasattr(x, "q")
                                                            else x.denominator)
    return p if q == 1 else Fraction(p, q)


# ---------------------------------------------------------------------- the search
class _Prover:
    def __init__(self, lrnn: LRNN, formats: Sequence[str]):
        self.lrnn = lrnn
        self.fmts = [FORMATS[f] for f in formats]
        self.alive = {WEIGHTS: list(self.fmts), ARITHMETIC: list(self.fmts)}
        self.failures: dict[tuple[str, str], FloatFailure] = {}
        self.word: Callable[[], tuple[str, ...]] = lambda: ()
        self.horizon = -1
        self.step_memo: dict[tuple, tuple] = {}
        self.irrational = False
        self._small()

    # -- recording
    def _fail(self, role: str, fmt: BinaryFormat, where: str) -> None:
        self.failures[(role, fmt.name)] = FloatFailure(role, self.horizon, self.word(), where)
        self.alive[role] = [f for f in self.alive[role] if f is not fmt]
        self._small()

    def _small(self) -> None:
        # integers of magnitude <= 2^p are held by every format of p or more bits whose
        # range reaches 2^p (all the alive ones: checked below): the fast path of value()
        fmts = self.alive[WEIGHTS] + self.alive[ARITHMETIC]
        self.small = min([1 << f.precision for f in fmts if f.max_value >= 2 ** f.precision]
                         + [0 if any(f.max_value < 2 ** f.precision for f in fmts) else 1 << 53])

    def value(self, roles: tuple[str, ...], x: int | Fraction, where: Callable[[], str]) -> None:
        """``x`` must be representable (in each role's format)."""
        if not x or (type(x) is int and -self.small <= x <= self.small):
            return
        fp = _footprint(x)
        for role in roles:
            for fmt in list(self.alive[role]):
                if fp is None:
                    self._fail(role, fmt, f"{where()} = {x} is not a dyadic rational (no "
                                          f"binary format holds it)")
                elif not _fits(fmt, *fp):
                    self._fail(role, fmt, f"{where()} = {x}: {_why(fmt, x, *fp)}")

    def total(self, terms: list, where: Callable[[], str]) -> None:
        """Every partial sum of ``terms`` (representable each) must be exact (the lemma)."""
        nz = [t for t in terms if t]
        if len(nz) < 2 or (all(type(t) is int for t in nz)
                           and sum(abs(t) for t in nz) <= self.small):
            return
        fps = [fp for fp in map(_footprint, nz) if fp is not None]
        if len(fps) < len(nz):
            return  # a non-dyadic term: value() already failed every format
        lo = min(fp[1] for fp in fps)
        mag: int | Fraction = sum((fp[2] for fp in fps), 0)
        m = mag / Fraction(2) ** lo if lo < 0 else mag // (1 << lo)
        bits = (int(m) - 1).bit_length()
        for fmt in list(self.alive[ARITHMETIC]):
            if not _fits(fmt, bits, lo, mag):
                self._fail(ARITHMETIC, fmt, f"{where()}: sum of {len(nz)} terms "
                                            f"{[str(t) for t in nz][:6]}: "
                                            f"{_why(fmt, None, bits, lo, mag, total=True)}")

    @property
    def done(self) -> bool:
        return not self.alive[WEIGHTS] or not self.alive[ARITHMETIC]

    # -- the model in rationals
    def tables(self) -> None:
        both = (WEIGHTS, ARITHMETIC)
        self.steps: list[list[list[tuple]]] = []
        self.uids: list[str] = []
        self.h0, self.query, self.codes = [], [], []
        for li, layer in enumerate(self.lrnn.layers):
            per_token = []
            for t, row in enumerate(layer.steps):
                ops = []
                for j, st in enumerate(row):
                    at = f"layer {li}, token {layer.tokens[t]!r}, step {j + 1}"
                    ks = tuple((i, self._rat(st.key[i], f"{at}: key[{i}]", both))
                               for i in st.support)
                    beta = self._rat(st.beta, f"{at}: beta", both)
                    val = tuple(self._rat(v, f"{at}: value[{c}]", both)
                                for c, v in enumerate(st.value))
                    if ks:
                        ops.append((ks, beta, val, at, tuple(i for i, _ in ks),
                                    len(self.uids)))
                        self.uids.append(at)
                per_token.append(ops)
            self.steps.append(per_token)
            h0 = layer.initial_state
            self.h0.append(tuple(tuple(self._rat(h0[i, c], f"layer {li}: initial state "
                                                 f"[{i}, {c}]", both)
                                       for c in range(h0.cols)) for i in range(h0.rows)))
            self.query.append(tuple(self._rat(x, f"layer {li}: readout query[{i}]", both)
                                    for i, x in enumerate(layer.readout.query)))
            codes = {}
            for c, code in enumerate(layer.readout.codes):
                if all(x.is_Rational for x in code):
                    codes[tuple(_num(x) for x in code)] = c
            self.codes.append(codes)

    def _rat(self, e: Any, where: str, roles: tuple[str, ...]) -> int | Fraction:
        if not e.is_Rational:
            for role in roles:
                for fmt in list(self.alive[role]):
                    self._fail(role, fmt, f"{where} is irrational (no binary format holds "
                                          f"it)")
            self.irrational = True
            return 0
        x = _num(e)
        self.value(roles, x, lambda: where)
        return x

    def apply(self, li: int, token: int, state: tuple) -> tuple:
        """The token's sub-steps on one layer state, every intermediate checked. A sub-step
        reads and writes only the rows in its key's support, so its checks and result are
        memoized on those rows (a permutation's swap sees a handful of row pairs)."""
        rows = list(state)
        memo = self.step_memo
        for op in self.steps[li][token]:
            idx = op[4]
            key = (op[5], rows[idx[0]], rows[idx[1]]) if len(idx) == 2 else \
                (op[5],) + tuple(map(rows.__getitem__, idx))
            got = memo.get(key)
            if got is None:
                got = memo[key] = self._substep(op[0], op[1], op[2], op[3], key[1:])
            for i, r in zip(idx, got):
                rows[i] = r
        return tuple(rows)

    def _substep(self, ks: tuple, beta: Any, val: tuple, at: str, old: tuple) -> tuple:
        """New rows (of the key's support) after one sub-step, checking its intermediates."""
        n_cols = len(val)
        new = [list(r) for r in old]
        u = []
        for j in range(n_cols):
            terms = []
            for (i, ki), r in zip(ks, old):
                p = ki * r[j]
                self.value((ARITHMETIC,), p, lambda: f"{at}: k[{i}] * S[{i}, {j}]")
                terms.append(p)
            self.total(terms, lambda: f"{at}: (k^T S)[{j}]")
            uj = val[j] - sum(terms)
            self.value((ARITHMETIC,), uj, lambda: f"{at}: v[{j}] - (k^T S)[{j}]")
            u.append(uj)
        w = [beta * x for x in u]
        for j, x in enumerate(w):
            self.value((ARITHMETIC,), x, lambda: f"{at}: beta * u[{j}]")
        for (i, ki), r in zip(ks, new):
            self.value((ARITHMETIC,), beta * ki, lambda: f"{at}: beta * k[{i}]")
            for j in range(n_cols):
                d = ki * w[j]
                self.value((ARITHMETIC,), d, lambda: f"{at}: k[{i}] * beta u[{j}]")
                y = r[j] + d
                self.value((ARITHMETIC,), y, lambda: f"{at}: S[{i}, {j}] + k[{i}] beta u[{j}]")
                r[j] = int(y) if isinstance(y, Fraction) and y.denominator == 1 else y
        return tuple(tuple(r) for r in new)

    def output(self, li: int, state: tuple) -> int | None:
        q = self.query[li]
        nz = [(i, qi) for i, qi in enumerate(q) if qi]
        out = []
        for j in range(len(state[0])):
            terms = []
            for i, qi in nz:
                x = state[i][j]
                if x:
                    p = x * qi
                    self.value((ARITHMETIC,), p,
                               lambda: f"layer {li} readout: S[{i}, {j}] * q[{i}]")
                    terms.append(p)
            self.total(terms, lambda: f"layer {li} readout: (S^T q)[{j}]")
            o = sum(terms)
            o = int(o) if isinstance(o, Fraction) and o.denominator == 1 else o
            self.value((WEIGHTS, ARITHMETIC), o, lambda: f"layer {li} readout: output[{j}]")
            out.append(o)
        return self.codes[li].get(tuple(out))


def float_exactness(lrnn: LRNN, *, formats: Sequence[str] = FLOAT_DTYPES,
                    max_length: int | None = None, limit: int = DEFAULT_LIMIT) -> FloatExactness:
    """Prove (or refute the proof) that float runs of ``lrnn`` equal its exact run.

    See the module docstring for the float model and the proof.

    Parameters
    ----------
    lrnn : LRNN
    formats : sequence of dtype names
        The formats to decide (default: all of :data:`statetrack.floats.FLOAT_DTYPES`).
    max_length : int or None
        Stop the search after words of this length (None: until the reachable set is
        exhausted or ``limit`` is reached).
    limit : int
        Most reachable joint states to explore.

    Returns
    -------
    FloatExactness

    Raises
    ------
    InputTypeError
        ``lrnn`` is not an LRNN, or ``limit``/``max_length`` is not a positive (resp.
        non-negative) integer.
    UnsupportedDtypeError
        An unknown format.

    Examples
    --------
    >>> from statetrack.automata import DFA
    >>> from statetrack.constructions.group import group_construction
    >>> z3 = DFA.from_function(0, "a", lambda q, a: (q + 1) % 3, lambda q: q == 0)
    >>> ex = float_exactness(group_construction(z3))
    >>> ex.all_proved, ex.reachable, ex.explored
    (True, 3, inf)
    >>> from statetrack.constructions.diagonal import rotation_construction
    >>> print(float_exactness(rotation_construction(z3)).reason("float64"))
    weights: layer 0, token 'a', step 2: key[0] is irrational (no binary format holds it)
    """
    from .model import LRNN

    if not isinstance(lrnn, LRNN):
        raise InputTypeError(f"float_exactness: argument 'lrnn' must be an LRNN, got "
                             f"{type(lrnn).__name__}")
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise InputTypeError(f"float_exactness: limit must be a positive integer, got {limit!r}")
    if max_length is not None and (not isinstance(max_length, int) or isinstance(max_length, bool)
                                   or max_length < 0):
        raise InputTypeError(f"float_exactness: max_length must be a non-negative integer or "
                             f"None, got {max_length!r}")
    names = tuple(dict.fromkeys(dtype_name(f) for f in formats))
    pr = _Prover(lrnn, names)
    pr.tables()
    if pr.irrational:
        return FloatExactness(names, 0, -1, dict(pr.failures))
    sym = lrnn.alphabet
    maps = [layer.token_map for layer in lrnn.layers]
    start = tuple(pr.h0)
    parent: dict[tuple, tuple | None] = {start: None}

    def word_of(cfg: tuple, last: int | None = None) -> tuple[str, ...]:
        """A shortest word reaching ``cfg`` (then reading symbol ``last``)."""
        w: list[str] = []
        node = parent[cfg]
        while node is not None:
            cfg, a = node
            w.append(sym[a])
            node = parent[cfg]
        w.reverse()
        if last is not None:
            w.append(sym[last])
        return tuple(w)

    out_memo: dict[tuple, int | None] = {}
    token_memo: dict[tuple, tuple] = {}

    def output(li: int, s: tuple) -> int | None:
        key = (li, s)
        c = out_memo.get(key, -1)
        if c == -1:
            c = out_memo[key] = pr.output(li, s)
        return c

    def bad_readout(li: int, cfg: tuple) -> FloatExactness:
        pr.word = lambda: word_of(cfg)
        for fmt in list(pr.alive[WEIGHTS]):
            pr._fail(WEIGHTS, fmt, f"layer {li}: the exact output is none of the readout's "
                                   f"codes (the model is not a valid construction)")
        return FloatExactness(names, len(parent), max(pr.horizon, -1), dict(pr.failures))

    level = [start]
    depth = 0
    explored: float = 0
    while True:
        # outputs of the states reached by words of length `depth`
        pr.horizon = depth - 1
        classes = {}
        for cfg in level:
            pr.word = functools.partial(word_of, cfg)
            cs = tuple(output(li, s) for li, s in enumerate(cfg))
            if None in cs:
                return bad_readout(cs.index(None), cfg)
            classes[cfg] = cs
        if pr.done:
            explored = depth - 1
            break
        if max_length is not None and depth >= max_length:
            explored = depth
            break
        # steps of words of length depth + 1
        pr.horizon = depth
        nxt = []
        over = False
        for cfg in level:
            for a in range(len(sym)):
                pr.word = functools.partial(word_of, cfg, a)
                new, c_prev = [], None
                for li, s in enumerate(cfg):
                    tok = a if li == 0 else maps[li][a][c_prev]
                    key = (li, s, tok)
                    s2 = token_memo.get(key)
                    if s2 is None:
                        s2 = token_memo[key] = pr.apply(li, tok, s)
                    c_prev = output(li, s2) if li + 1 < len(cfg) else None
                    if li + 1 < len(cfg) and c_prev is None:
                        return bad_readout(li, cfg)
                    new.append(s2)
                new_t = tuple(new)
                if new_t not in parent:
                    parent[new_t] = (cfg, a)
                    nxt.append(new_t)
                    if len(parent) > limit:
                        over = True
                        break
            if over:
                break
        if pr.done:
            explored = depth
            break
        if over:
            explored = depth
            break
        if not nxt:
            explored = math.inf
            break
        level = nxt
        depth += 1
    return FloatExactness(names, len(parent), explored, dict(pr.failures))
