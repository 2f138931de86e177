r"""The registry of theorems: each entry states a result of the papers and checks it on a DFA.

Entries (:data:`THEOREMS`, keyed by a short id):

=========  ==============================================================  ==================
id         result                                                          columns
=========  ==============================================================  ==================
``prop1``  Proposition 1: GH products, norms, factor counts                ``GH``
``thm1``   Theorem 1: parity needs an eigenvalue that is not a             ``T1``
           non-negative real
``thm2``   Theorem 2: counting mod m (m not a power of 2) needs a           ``T2``
           non-real eigenvalue
``thm3``   Theorem 3: group automata in one layer of GH products           ``construction``,
                                                                           ``proof``, ``fp``
``thm4``   Theorem 4: every regular language, by a cascade                 the same three
                                                                           (non-groups)
``thm3w``  Theorem 3's width: a faithful action of the group, against      ``width`` (not in
           the minimal faithful degree mu(G)                               the table)
``thm6``   Theorem 6 (App. D): addition modulo m (cyclic groups) in two    ``T6``
           layers, a mod-2 counter and one 2x2 reflection per token
=========  ==============================================================  ==================

A check takes a DFA and returns a :class:`TheoremResult` whose ``status`` is one of
:data:`PASS`, :data:`FAIL`, :data:`NOT_APPLICABLE` (e.g. Theorem 3 on a DFA that is not a group),
:data:`SKIPPED` (the transition monoid is larger than :data:`MONOID_LIMIT`, or a cascade or
Theorem 6's weights over a size limit); :data:`NOT_IMPLEMENTED` is kept for entries whose check
does not exist yet (none today). :func:`run_all` runs the entries of the table (Theorem 3's one-layer form for group
languages, Theorem 4's cascade stack for the others) and flattens the results into one
:class:`ColumnResult` per column, which is what
``statetrack check`` prints: a short ``summary`` (at most :data:`SUMMARY_WIDTH` characters) in
the cell, the long text in ``detail``, and :data:`COLUMN_LEGEND` explains the columns.

How Theorems 1 and 2 are checked on a DFA
-----------------------------------------
Let ``D`` be the minimal complete DFA of the language ``L`` and ``M`` its transition monoid
(the syntactic monoid of ``L``; :func:`statetrack.automata.monoid.transition_monoid`). An
element ``x`` of ``M`` is the map ``q -> q.w`` of some word ``w`` (we take its shortlex-least
word). Its powers ``x, x^2, x^3, ...`` are eventually periodic: ``x^(i + p) = x^i`` for
``i >= iota``, with least *period* ``p`` (the lcm of the cycle lengths of the map) and *index*
``iota`` (:func:`element_periods`).

*The language sees the period.* Let ``q`` be a state and ``p_q`` the least eventual period of
its orbit ``q.x^t``. Every state is reachable, ``q = q_0.u``, and distinct states are
distinguished by some suffix ``v``; so the vector of membership bits ``[u w^t v in L]`` over
the finitely many distinguishing suffixes ``v`` determines ``q.x^t`` and has least eventual
period exactly ``p_q``. Over all states, ``p = lcm_q p_q``.

*What an LRNN can do with ``w^t``.* Take a one-layer finite-precision LRNN (state ``H``,
transition ``H <- A(a) H + B(a)`` per letter) and write ``A(w) = A(w_m) ... A(w_1)``. After
the prefix ``u`` it reads ``w w w ...``; when its output on ``u w^t v`` is eventually periodic
in ``t`` with period ``lambda`` (for every ``v``), each ``p_q`` divides ``lambda``. The
papers' arguments bound ``lambda`` in the papers' rounding model (Grazzi et al. App. B.1: the
state is one cast of a sum of cast terms, not a recursion on cast states, so the bound is
proved for ``u w^t v`` directly: :mod:`statetrack.theory.mod_counting`). With a cast after
every sub-step (the sequential model, what kernels do) the state after each copy of ``w``
takes finitely many values, so ``lambda`` exists, but the bounds below are proved there only
for triangular (e.g. diagonal) matrices; other real spectra can escape them
(:func:`~statetrack.theory.mod_counting.sequential_mod3_example`). The bounds:

* Theorem 1 (Grazzi et al., Thm. 1): if ``A(w)`` has only non-negative real eigenvalues, the
  rounded state under ``w^t`` becomes constant, ``lambda = 1``. Hence **if some element has
  period** ``p > 1``, **a one-layer LRNN for** ``L`` **needs, for its word** ``w``, **an**
  ``A(w)`` **with an eigenvalue that is not a non-negative real** (negative or non-real; with
  several layers, the paper's induction puts the need on some layer). Parity is
  ``w = 1``, ``p = 2``; but ``Z_3`` needs it too (``p = 3``), and so does any ``w`` of
  period > 1, not only single letters. All periods are 1 exactly when ``M`` is aperiodic,
  i.e. (Schutzenberger, McNaughton-Papert) ``L`` is star-free: only star-free languages need
  nothing.
* Theorem 2 (Thm. 2): if ``A(w)`` has only real eigenvalues, ``A(w)^2`` has only non-negative
  ones and ``lambda`` divides 2 in one layer; in a stack of ``L`` layers whose layer ``i``
  has real spectra for its products over ``2^(i-1)`` copies of ``w``, ``lambda`` divides
  ``2^L`` (:mod:`statetrack.theory.mod_counting`). Hence **one layer needs a non-real
  eigenvalue of** ``A(w)`` **for every element of period** ``p > 2`` (``Z_4`` included), and
  **a stack needs one at every depth when some period has an odd factor, and below** ``k``
  **layers when the largest period is** ``2^k`` (``k`` real layers count modulo ``2^k``:
  :func:`~statetrack.theory.mod_counting.binary_counter_stack`). A period with an odd prime
  factor ``r`` exists exactly when some subgroup of ``M`` has order divisible by ``r``
  (Cauchy), e.g. the 3-cycle ``t01 t12`` of ``S_3`` although every letter of
  ``symmetric(3)`` is a swap.

The check lists the elements with the need (the *witnesses*), and, when Theorem 3 gives a
one-layer construction, computes the exact spectrum of the construction's ``A(w)`` for every
witness ``w`` (:func:`statetrack.theory.spectra.word_spectra`) and fails if one lacks the
eigenvalue. (The argument is the papers' model of rounding; for general non-triangular
matrices rounded at every step see the caveat in :mod:`statetrack.theory.finite_precision`.)
Monoids with more than :data:`MONOID_LIMIT` elements (or :func:`run_all`'s ``monoid_limit``;
``statetrack check --monoid-limit``) are not enumerated: both columns then say ``skipped``.

Sources: Grazzi, Siems, Zela, Franke, Hutter, Pontil, "Unlocking State-Tracking in Linear RNNs
Through Negative Eigenvalues", ICLR 2025, arXiv 2411.12537.

Examples
--------
>>> from statetrack.automata import DFA
>>> parity = DFA([[0, 1], [1, 0]], accepting=[1], alphabet="01")
>>> for r in run_all(parity):
...     print(f"{r.column:12s} {r.status:6s} {r.summary}")
GH           pass   ok (1 factor)
T1           pass   needed, has
T2           pass   not needed
construction pass   1x2 n_h=1/1
proof        pass   proved (2)
fp           pass   bf16 exact
T6           pass   2 layers, proved (4)
>>> THEOREMS["thm1"].source.arxiv
'2411.12537'
>>> print(COLUMN_LEGEND["T2"])
Thm 2: 1L needs a non-real eig. of A(w), w of period > 2 (has/MISSING); stacks: all L need one, or real >=kL allowed
"""

from __future__ import annotations

import contextvars
import dataclasses
import functools
import math
import numbers
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from statetrack.floats import SHORT_NAMES

from .errors import NotADFAError, TheoryError, UnknownTheoremError

__all__ = [
    "PASS", "FAIL", "NOT_APPLICABLE", "NOT_IMPLEMENTED", "SKIPPED",
    "MONOID_LIMIT", "SUMMARY_WIDTH", "COLUMN_LEGEND",
    "Source", "Theorem", "TheoremResult", "ColumnResult", "ElementPeriod",
    "THEOREMS", "theorem", "check", "run_all", "element_periods", "unary_periods",
]

PASS = "pass"
FAIL = "fail"
NOT_APPLICABLE = "not applicable"
NOT_IMPLEMENTED = "not implemented"
SKIPPED = "skipped"

#: Largest transition monoid that the T1/T2 checks enumerate; larger ones are ``skipped``.
MONOID_LIMIT = 100_000
#: The limit of the T1/T2 columns inside one :func:`run_all` call (``None``: :data:`MONOID_LIMIT`);
#: a context variable, so that concurrent calls do not see each other's limit.
_RUN_LIMIT: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "statetrack_registry_monoid_limit", default=None)


def _monoid_limit() -> int:
    """The monoid limit of the T1/T2 columns now: :func:`run_all`'s, else
    :data:`MONOID_LIMIT`."""
    v = _RUN_LIMIT.get()
    return MONOID_LIMIT if v is None else v

#: Longest ``summary`` of a table cell (the long text is in ``detail``).
SUMMARY_WIDTH = 22

#: Column name -> one-line meaning, for the legend under ``statetrack check``'s table.
COLUMN_LEGEND: dict[str, str] = {
    "GH": "Prop. 1: every step is a GH factor (eig in [-1,1]); a letter's steps multiply exactly "
          "to A(a) (groups)",
    "T1": "Thm 1 (paper's rounding model), 1L: w of period > 1 needs an eig. of A(w) not real"
          " >= 0; has/MISSING: in construction",
    "T2": "Thm 2: 1L needs a non-real eig. of A(w), w of period > 2 (has/MISSING); "
          "stacks: all L need one, or real >=kL allowed",
    "construction": "Thm 3 (groups): layers x width, n_h / bound k-1 (k: most states a letter "
                    "moves); Thm 4 (d = 1): layers x max width",
    "proof": "exact proof that the construction implements the DFA (number of reachable states)",
    "fp": "exact: proved, the bf16 run is the exact run on every word (all sums and products "
          "exact); unproved: a^t and 1 word run",
    "T6": "Thm 6 (App. D): cyclic groups (addition mod m) in 2 layers: A = -1, then one 2x2 "
          "reflection per token; exact proof",
}

_SHORT = SHORT_NAMES

#: Formats in which the construction is run by Theorem 3's ``fp`` column.
DEFAULT_FORMATS = ("bfloat16",)


@dataclass(frozen=True)
class Source:
    """Where a result is stated.

    >>> str(Source("Grazzi et al.", "2411.12537", "Theorem 1"))
    'Grazzi et al., arXiv 2411.12537, Theorem 1'
    """

    paper: str
    arxiv: str
    where: str

    def __str__(self) -> str:
        return f"{self.paper}, arXiv {self.arxiv}, {self.where}"


_GRAZZI = "Grazzi et al., Unlocking State-Tracking in Linear RNNs Through Negative Eigenvalues (ICLR 2025)"


@dataclass(frozen=True)
class TheoremResult:
    """The outcome of one theorem's check on one DFA.

    Attributes
    ----------
    theorem : str
        The registry id.
    status : str
        :data:`PASS`, :data:`FAIL`, :data:`NOT_APPLICABLE`, :data:`SKIPPED` or
        :data:`NOT_IMPLEMENTED`.
    columns : tuple of (column, summary)
        Short texts for the table (at most :data:`SUMMARY_WIDTH` characters).
    detail : str
        What was checked or what went wrong, in words.
    data : mapping
        Numbers behind the summary (e.g. ``reachable``, ``n_h``, ``bound``; for Theorems 1
        and 2 ``needed``, ``witness``, ``witness_period``, ``periods``, ``checked``; for
        Theorem 2 ``needed`` is the one-layer need, and ``any_depth`` / ``real_depth`` say
        what stacks need).
    failed_column : str or None
        The column a failure belongs to (the others are informative).

    Examples
    --------
    >>> from statetrack.automata import DFA
    >>> z3 = DFA([[1], [2], [0]], accepting=[0], alphabet="a")      # counting mod 3
    >>> r = check("thm2", z3)
    >>> r.status, r.passed, r.failed, r.columns
    ('pass', True, False, (('T2', '1L has; all L need'),))
    >>> r.data["witness"], r.data["witness_period"], r.data["checked"]
    (('a',), 3, 2)
    """

    theorem: str
    status: str
    columns: tuple
    detail: str
    data: Mapping = field(default_factory=dict)
    failed_column: str | None = None

    @property
    def passed(self) -> bool:
        return self.status == PASS

    @property
    def failed(self) -> bool:
        return self.status == FAIL


@dataclass(frozen=True)
class ColumnResult:
    """One table cell from :func:`run_all` (the interface ``statetrack check`` reads).

    ``name`` is the theorem's name, ``column`` the column (a key of :data:`COLUMN_LEGEND`),
    ``summary`` the cell (at most :data:`SUMMARY_WIDTH` characters), ``detail`` the long
    text, ``failed`` whether this cell is where the theorem's check failed.
    """

    name: str
    column: str
    summary: str
    detail: str
    status: str
    failed: bool


@dataclass(frozen=True)
class Theorem:
    """A registry entry: a result, where it is stated, and the function that checks it.

    The worked example of each entry is the docstring of its check (:attr:`doc`), which runs
    as a doctest. ``in_table`` says whether :func:`run_all` (the ``statetrack check`` table)
    runs it.
    """

    key: str
    name: str
    statement: str
    source: Source
    check: Callable[[Any], TheoremResult]
    columns: tuple[str, ...]
    in_table: bool = True

    @property
    def doc(self) -> str:
        return self.check.__doc__ or ""

    def __call__(self, dfa: Any) -> TheoremResult:
        return self.check(dfa)


# ============================================================================ shared work


def _minimal(dfa: Any) -> Any:
    from statetrack.automata import DFA

    if not isinstance(dfa, DFA):
        raise NotADFAError(f"theorem checks take a statetrack DFA, got {type(dfa).__name__}")
    return dfa.minimize()


@functools.lru_cache(maxsize=16)
def _construction(dfa: Any) -> tuple[Any, str | None]:
    """``(lrnn, None)`` from Theorem 3's compiler, or ``(None, reason)``."""
    from statetrack.constructions.compile import compile as compile_dfa
    from statetrack.constructions.errors import NotAGroupError

    _minimal(dfa)
    try:
        return compile_dfa(dfa, form="permutation"), None
    except NotAGroupError as e:
        return None, str(e)


@functools.lru_cache(maxsize=16)
def _spectrum(dfa: Any) -> Any:
    from .spectra import check_spectrum

    lrnn, _ = _construction(dfa)
    return None if lrnn is None else check_spectrum(lrnn, word_length=1)


def _clip(text: str) -> str:
    return text if len(text) <= SUMMARY_WIDTH else text[:SUMMARY_WIDTH - 3] + "..."


def _fmt_word(w: Sequence[str]) -> str:
    sep = "" if all(len(a) == 1 for a in w) else " "
    return repr(sep.join(w))


def _limit_name() -> str:
    """Where the monoid limit came from, for a message."""
    return "MONOID_LIMIT" if _RUN_LIMIT.get() is None else "this run's monoid_limit"


def _fmt_limit(limit: int) -> str:
    k = round(math.log10(limit)) if limit > 0 else 0
    return f"10^{k}" if limit >= 1000 and 10 ** k == limit else str(limit)


# ============================================================================ periods


@dataclass(frozen=True)
class ElementPeriod:
    """One element ``x`` of the transition monoid of the minimal DFA, with the powers of ``x``.

    Attributes
    ----------
    element : int
        Its index in :func:`statetrack.automata.monoid.transition_monoid` (BFS order).
    word : tuple of str
        Its shortlex-least word ``w`` (``x`` is ``q -> q.w``).
    index : int
        The least ``i >= 1`` with ``x^i = x^(i + period)``.
    period : int
        The least ``p >= 1`` with ``x^(i + p) = x^i`` for all ``i >= index``: the lcm of the
        cycle lengths of ``x``.

    Examples
    --------
    >>> from statetrack.automata import DFA
    >>> [(e.word, e.period) for e in element_periods(DFA([[1], [2], [0]], accepting=[0], alphabet="a"))]
    [((), 1), (('a',), 3), (('a', 'a'), 3)]
    """

    element: int
    word: tuple[str, ...]
    index: int
    period: int


def _power_periods(elements: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(index, period)`` of every row of ``elements`` ``[m, n]`` (transformations).

    ``x^(2^j)`` by squaring until ``2^j >= n`` has the cyclic points as its image; the cycle
    length of a cyclic point is the first ``L`` with ``x^L(q) = q``; the period is their lcm;
    the index is the first ``i`` at which ``x^i`` maps every point onto a cycle (at least 1).
    """
    e = elements.astype(np.int64)
    m, n = e.shape
    rows = np.arange(m)[:, None]
    p, k = e.copy(), 1
    while k < n:
        p = np.take_along_axis(p, p, axis=1)            # x^(2k)(q) = x^k(x^k(q))
        k *= 2
    cyc = np.zeros((m, n), dtype=bool)
    cyc[rows, p] = True
    length = np.zeros((m, n), dtype=np.int64)
    y = e.copy()
    ident = np.arange(n)[None, :]
    for L in range(1, n + 1):
        hit = cyc & (length == 0) & (y == ident)
        length[hit] = L
        if not (cyc & (length == 0)).any():
            break
        y = np.take_along_axis(e, y, axis=1)
    period = np.lcm.reduce(np.where(cyc, length, 1), axis=1)
    index = np.zeros(m, dtype=np.int64)
    active = np.ones(m, dtype=bool)
    y = np.broadcast_to(ident, (m, n)).copy()
    i = 0
    while active.any():
        ok = np.take_along_axis(cyc, y, axis=1).all(axis=1)
        index[active & ok] = i
        active &= ~ok
        y = np.take_along_axis(e, y, axis=1)
        i += 1
    return np.maximum(index, 1), period


@functools.lru_cache(maxsize=32)
def _element_periods(d: Any, limit: int) -> tuple[ElementPeriod, ...]:
    from statetrack.automata.monoid import transition_monoid

    mon = transition_monoid(d, limit=limit)
    words = mon.words
    out = []
    chunk = max(1, 2_000_000 // max(mon.n_points, 1))   # bounded memory for wide monoids
    for s in range(0, mon.size, chunk):
        idx, per = _power_periods(np.asarray(mon.elements[s:s + chunk]))
        out += [ElementPeriod(s + j, words[s + j], int(idx[j]), int(per[j]))
                for j in range(len(idx))]
    return tuple(out)


def element_periods(dfa: Any, *, limit: int | None = None) -> tuple[ElementPeriod, ...]:
    """Every element of the transition monoid of the minimal DFA with its index and period
    under powers (BFS order: shortest words first; the identity is first, with period 1).

    Parameters
    ----------
    dfa : DFA
    limit : int, optional
        The most monoid elements to enumerate (default :data:`MONOID_LIMIT`).

    Raises
    ------
    MonoidLimitError
        The monoid has more than ``limit`` elements
        (:class:`statetrack.automata.errors.MonoidLimitError`).
    NotADFAError
        ``dfa`` is not a DFA.

    Examples
    --------
    >>> from statetrack.automata import families
    >>> sorted({e.period for e in element_periods(families.get("modular_arithmetic(5)"))})
    [1, 2, 4, 5]
    >>> [e.word for e in element_periods(families.get("symmetric(3)")) if e.period == 3][:1]
    [('t01', 't02')]
    """
    return _element_periods(_minimal(dfa), MONOID_LIMIT if limit is None else int(limit))


def unary_periods(dfa: Any) -> dict[str, tuple[int, int, int]]:
    """Per letter ``a``: ``(pre_period, state_period, accept_period)`` of the minimal DFA's run
    on ``a^t`` from the start state (``accept_period`` = least eventual period of the accept
    bits; a missing transition counts as a rejecting sink).

    This is what Theorem 3's ``fp`` column compares a finite-precision run of ``a^t`` with. It
    does *not* decide what Theorems 1 and 2 need: a period can show only from another state or
    only for a word of several letters (:func:`element_periods`).

    >>> from statetrack.automata import DFA
    >>> unary_periods(DFA([[1, 0], [2, 1], [0, 2]], accepting=[0], alphabet="ab"))
    {'a': (0, 3, 3), 'b': (0, 1, 1)}
    """
    d = _minimal(dfa)
    delta, acc = d.transitions, d.accepting
    out = {}
    for ai, a in enumerate(d.alphabet):
        seen: dict[int, int] = {}
        q, t, bits = int(d.start), 0, []
        while q not in seen:
            seen[q] = t
            bits.append(bool(acc[q]) if q >= 0 else False)
            q = int(delta[q, ai]) if q >= 0 else -1
            if q < 0:
                q = -1
            t += 1
        mu = seen[q]
        lam = t - mu
        cyc = bits[mu:]
        p = next(p for p in range(1, lam + 1)
                 if lam % p == 0 and all(cyc[i] == cyc[(i + p) % lam] for i in range(lam)))
        out[a] = (mu, lam, p)
    return out


# ============================================================================ Proposition 1


def _check_prop1(dfa: Any) -> TheoremResult:
    """Proposition 1 on Theorem 3's construction: every delta step is a GH factor (eigenvalue
    in ``[-1, 1]``), the factors of each letter multiply exactly (applied first to last) to its
    permutation matrix, and every ``A(x)`` has spectral norm ``<= 1``. The factor count is held
    to ``m - c`` (points moved minus non-trivial cycles, ``= rank(P - I)``, the least number of
    reflections whose product is ``P``), sharper than the proposition's ``n - 1`` for
    permutation matrices.

    Examples
    --------
    >>> from statetrack.automata import DFA
    >>> z3 = DFA([[1], [2], [0]], accepting=[0], alphabet="a")
    >>> r = _check_prop1(z3)
    >>> r.status, r.columns, r.data
    ('pass', (('GH', 'ok (2 factors)'),), {'factors': 2})
    """
    from statetrack.constructions.group import letter_permutations

    from .errors import FactorMismatchError
    from .factorization import (
        as_factor,
        check_factorization,
        permutation_cycles,
        permutation_factors,
        permutation_matrix,
    )

    lrnn, why = _construction(dfa)
    if lrnn is None:
        return _prop1_cascade(dfa, why)
    d = _minimal(dfa)
    perms = letter_permutations(d)
    layer = lrnn.layers[0]
    total = 0
    problems = []
    for ai, a in enumerate(d.alphabet):
        steps = [s for s in layer.steps[layer.token_index(a)] if not s.is_identity]
        facs = [as_factor(s) for s in steps]
        total += len(facs)
        bad = [i for i, f in enumerate(facs) if not f.is_gh]
        if bad:
            problems.append(f"letter {a!r}: step {bad[0] + 1} is not a GH factor")
            continue
        perm = [int(x) for x in perms[ai]]
        moved = sum(1 for i, v in enumerate(perm) if i != v)
        expected = moved - len(permutation_cycles(perm))
        if len(facs) > expected:
            problems.append(f"letter {a!r}: {len(facs)} factors, more than the least number "
                            f"{expected} = rank(P - I) (= {moved} moved - "
                            f"{len(permutation_cycles(perm))} cycles; Proposition 1's bound is "
                            f"n - 1 = {d.n_states - 1})")
        got = _compose_transpositions(facs, d.n_states)
        if got is not None:
            if got != perm:
                problems.append(f"letter {a!r}: the factors compose to {got}, the DFA letter is "
                                f"{perm}")
        else:  # not all transpositions: multiply densely (exact), steps applied first-to-last
            try:
                check_factorization(steps, permutation_matrix(perm), order="applied")
            except FactorMismatchError as e:
                problems.append(f"letter {a!r}: {e}")
        if d.n_states <= 12:  # the constructive side: our own factorization agrees
            own = permutation_factors(perm)
            check_factorization(own, permutation_matrix(perm))
            if len(own) != expected:
                problems.append(f"letter {a!r}: permutation_factors gave {len(own)} factors, "
                                f"expected {expected}")
    spec = _spectrum(dfa)
    if spec.factors_in_range is False:
        problems.append("a GH factor has an eigenvalue outside [-1, 1]")
    if not spec.norms_at_most_one:
        problems.append("some A(x) has spectral norm > 1")
    if problems:
        return TheoremResult("prop1", FAIL, (("GH", "FAIL"),), "; ".join(problems),
                             failed_column="GH")
    return TheoremResult("prop1", PASS, (("GH", f"ok ({total} factor{'' if total == 1 else 's'})"),),
                         f"{total} GH factors over {d.n_symbols} letters multiply exactly to the "
                         "letters' permutation matrices with m - c = rank(P - I) factors each "
                         f"(the least; Proposition 1 bounds it by n - 1 = {d.n_states - 1}); "
                         "every factor's "
                         "eigenvalue is in [-1, 1] and every A(x) has norm <= 1 ("
                         f"{'exact' if spec.exact else 'numeric'} spectra)",
                         {"factors": total})


def _compose_transpositions(facs: Sequence[Any], n: int) -> list[int] | None:
    """The permutation ``pi`` (``A e_i = e_{pi[i]}``) of steps applied first-to-last, when
    every factor is a transposition ``I - (e_a - e_b)(e_a - e_b)^T``; else None. Reads each
    :class:`~statetrack.theory.factorization.GHFactor` over its support: O(1) per factor.

    >>> from statetrack.theory.factorization import GHFactor
    >>> _compose_transpositions([GHFactor((1, -1, 0), 1), GHFactor((1, 0, -1), 1)], 3)
    [1, 2, 0]
    >>> _compose_transpositions([GHFactor((1, 1, 0), 1)], 3) is None
    True
    """
    pi = list(range(n))
    where = list(range(n))              # where[v] = the i with pi[i] == v
    for f in facs:
        if not (f.beta == 1 and len(f.support) == 2 and sorted(f.values) == [-1, 1]):
            return None
        a, b = f.support
        ia, ib = where[a], where[b]     # pi <- (a b) o pi: the values a and b trade places
        pi[ia], pi[ib] = b, a
        where[a], where[b] = ib, ia
    return pi


# ============================================================================ Theorems 1, 2


def _needs_period(key: str, p: int) -> bool:
    from .finite_precision import is_power_of_two

    return p > 1 if key == "thm1" else not is_power_of_two(p)


@functools.lru_cache(maxsize=16)
def _witness_spectra(dfa: Any, words: tuple[tuple[str, ...], ...]
                     ) -> dict[tuple[str, ...], Any]:
    """word -> spectrum of the construction's ``A(w)`` (layer 0) for ``words``, the words of
    the monoid elements of period > 1 (the witnesses of both theorems; :func:`_witnesses`)."""
    from .spectra import word_spectra

    lrnn, _ = _construction(dfa)
    return dict(zip(words, word_spectra(lrnn, list(words))))


def _witnesses(elems: Sequence[ElementPeriod]) -> tuple[tuple[str, ...], ...]:
    """The words of the elements of period > 1, the key of :func:`_witness_spectra`."""
    return tuple(e.word for e in elems if e.period > 1)


_WHAT = {"thm1": "an eigenvalue that is not a non-negative real",
         "thm2": "a non-real eigenvalue"}
_CONDITION = {"thm1": "> 1", "thm2": "not a power of two"}


def _spectral_check(dfa: Any, key: str, column: str, has: Callable[[Any], bool]) -> TheoremResult:
    from statetrack.automata.errors import MonoidLimitError

    what, cond = _WHAT[key], _CONDITION[key]
    limit = _monoid_limit()
    try:
        elems = element_periods(dfa, limit=limit)
    except MonoidLimitError:
        return TheoremResult(key, SKIPPED, ((column, f"skipped (|M|>{_fmt_limit(limit)})"),),
                             f"the transition monoid of the minimal DFA has more than "
                             f"{limit} elements ({_limit_name()}); its element periods, which "
                             f"decide whether {what} is needed, were not computed",
                             {"needed": None})
    periods = tuple(sorted({e.period for e in elems}))
    need = [e for e in elems if _needs_period(key, e.period)]
    data: dict[str, Any] = {"needed": bool(need), "periods": periods, "witness": None,
                            "witness_period": None, "checked": 0}
    if not need:
        which = ("period 1 (the monoid is aperiodic: the language is star-free)"
                 if key == "thm1" else
                 f"a period that is a power of two (periods {', '.join(map(str, periods))})")
        return TheoremResult(key, PASS, ((column, "not needed"),),
                             f"every element of the transition monoid ({len(elems)} "
                             f"element{'s' if len(elems) != 1 else ''}) "
                             f"has {which} under powers, so no A(w) needs {what}", data)
    w0, p0 = need[0].word, need[0].period
    data.update(witness=w0, witness_period=p0)
    why_needed = (f"{len(need)} of the {len(elems)} monoid elements have a period {cond} "
                  f"(periods {', '.join(map(str, periods))}; shortest: w = {_fmt_word(w0)}, "
                  f"period {p0}), so a one-layer LRNN needs {what} in A(w) for such w (the "
                  f"theorem as stated: for parity, a stack needs one in some layer's letter "
                  f"matrix; this one-layer form extends it to every such word and is about the "
                  f"product A(w), not the letters' matrices, which can each lack it while A(w) "
                  f"has it)")
    lrnn, why = _construction(dfa)
    if lrnn is None:
        return TheoremResult(key, NOT_APPLICABLE, ((column, "needed, n/a"),),
                             f"{why_needed}; no one-layer construction to check ({why})", data)
    if lrnn.depth != 1:
        return TheoremResult(key, NOT_APPLICABLE, ((column, "needed, n/a"),),
                             f"{why_needed}; the construction has {lrnn.depth} layers, and the "
                             "one-layer argument says nothing about one layer of several", data)
    spectra = _witness_spectra(dfa, _witnesses(elems))
    data["checked"] = len(need)
    missing = [e for e in need if not has(spectra[e.word].spectrum)]
    if missing:
        e = missing[0]
        nums = spectra[e.word].spectrum.numeric
        ev = ", ".join(f"{z.real:.3g}" if abs(z.imag) < 1e-12 else f"{z:.3g}" for z in nums[:8])
        return TheoremResult(key, FAIL, ((column, "needed, MISSING"),),
                             f"{why_needed}; but the construction's A(w) for w = "
                             f"{_fmt_word(e.word)} (period {e.period}) has no {what} "
                             f"(eigenvalues {ev}{', ...' if len(nums) > 8 else ''}); "
                             f"{len(missing)} of {len(need)} such words lack it", data,
                             failed_column=column)
    return TheoremResult(key, PASS, ((column, "needed, has"),),
                         f"{why_needed}; the construction's A(w) has one for every such w "
                         f"({len(need)} words, exact spectra)", data)


def _check_thm1(dfa: Any) -> TheoremResult:
    """Theorem 1 on a DFA: every word ``w`` whose transformation has period ``> 1`` under
    powers (the language is not star-free; parity: ``w = 1``, period 2) needs ``A(w)`` to have
    an eigenvalue that is not a non-negative real; the construction (when there is one) is
    checked to have it for every such ``w``.

    Examples
    --------
    >>> from statetrack.automata import DFA
    >>> parity = DFA([[0, 1], [1, 0]], accepting=[1], alphabet="01")
    >>> r = _check_thm1(parity)
    >>> r.status, r.data["witness"], r.data["periods"], r.columns[0][1], r.data["model"]
    ('pass', ('1',), (1, 2), 'needed, has', 'paper')
    >>> "in the paper's rounding model" in r.detail
    True
    """
    res = _spectral_check(dfa, "thm1", "T1", lambda s: not s.all_nonnegative_real)
    return dataclasses.replace(res, detail=res.detail + _THM1_MODEL,
                               data={**res.data, "model": "paper"})


#: Which model the Theorem 1 column checks (the model of the theorem's proof).
_THM1_MODEL = (
    ". Checked in the paper's rounding model (Grazzi et al., App. B.1: the state after k tokens "
    "is cast(sum_{i<k} cast(A^i B) + cast(A^k H_0)), weights not cast; "
    "statetrack.theory.finite_precision, rounding='paper'); rounding after every sub-step, as "
    "kernels do, is another model, in which a non-triangular A(w) with non-negative "
    "eigenvalues can keep a period-2 cycle (rounding_cycle_example)")


def _check_thm2(dfa: Any) -> TheoremResult:
    """Theorem 2 on a DFA, for one layer and for stacks. A real layer (``A(w)`` with only real
    eigenvalues) has state period dividing 2 under ``w^t``, and a real stack of ``L`` layers
    (layer ``i``'s products over ``2^(i-1)`` copies of ``w`` real) has period dividing
    ``2^L`` (:mod:`statetrack.theory.mod_counting`). So every word ``w`` of period ``p > 2``
    needs a non-real eigenvalue of ``A(w)`` in one layer (the construction, when there is a
    one-layer one, is checked to have it for every such ``w``); a stack needs one at every
    depth when some period has an odd factor, and below depth ``k`` when the largest period
    is ``2^k``.

    Examples
    --------
    >>> from statetrack.automata import families
    >>> r = _check_thm2(families.get("symmetric(3)"))        # every letter is a swap
    >>> r.status, r.data["witness"], r.data["witness_period"], r.columns[0][1]
    ('pass', ('t01', 't02'), 3, '1L has; all L need')
    >>> r = _check_thm2(families.get("cyclic(4)"))           # one layer needs it, 2 need not
    >>> r.columns[0][1], r.data["needed"], r.data["real_depth"]
    ('1L has; real >=2L', True, 2)
    >>> _check_thm2(families.get("parity")).columns[0][1]
    'not needed'
    """
    from statetrack.automata.errors import MonoidLimitError

    from .mod_counting import one_layer_needs_nonreal, real_depth

    what = "a non-real eigenvalue"
    limit = _monoid_limit()
    try:
        elems = element_periods(dfa, limit=limit)
    except MonoidLimitError:
        return TheoremResult("thm2", SKIPPED, (("T2", f"skipped (|M|>{_fmt_limit(limit)})"),),
                             f"the transition monoid of the minimal DFA has more than "
                             f"{limit} elements ({_limit_name()}); its element periods, which "
                             f"decide whether {what} is needed, were not computed",
                             {"needed": None, "real_depth": None, "any_depth": None})
    periods = tuple(sorted({e.period for e in elems}))
    need = [e for e in elems if one_layer_needs_nonreal(e.period)]
    odd = [e for e in elems if real_depth(e.period) is None]
    depth = None if odd else max(real_depth(p) for p in periods)
    data: dict[str, Any] = {"needed": bool(need), "any_depth": bool(odd), "real_depth": depth,
                            "periods": periods, "witness": None, "witness_period": None,
                            "checked": 0}
    plist = ", ".join(map(str, periods))
    if not need:
        return TheoremResult("thm2", PASS, (("T2", "not needed"),),
                             f"every element of the transition monoid ({len(elems)} "
                             f"element{'s' if len(elems) != 1 else ''}) has period 1 or 2 under "
                             f"powers (periods {plist}), which one layer with real spectra "
                             f"reaches: no A(w) needs {what}", data)
    w0, p0 = need[0].word, need[0].period
    data.update(witness=w0, witness_period=p0)
    if odd:
        stack = "all L need"
        why_stack = (f"a period with an odd factor (w = {_fmt_word(odd[0].word)}, period "
                     f"{odd[0].period}) divides no 2^L, so a stack of any depth needs {what} in "
                     "some layer i's product over 2^(i-1) copies of such a w")
    else:
        top = max(elems, key=lambda e: e.period)
        stack = f"real >={depth}L"
        why_stack = (f"the largest period is 2^{depth} (w = {_fmt_word(top.word)}), so a stack "
                     f"of fewer than {depth} layers needs {what} in some layer i's product over "
                     f"2^(i-1) copies of such a w, while a stack of {depth} layers with real "
                     "spectra is not excluded")
    why_needed = (f"{len(need)} of the {len(elems)} monoid elements have a period that does not "
                  f"divide 2 (periods {plist}; shortest: w = {_fmt_word(w0)}, period {p0}), so "
                  f"one layer needs {what} in A(w) for such w; {why_stack}")
    lrnn, why = _construction(dfa)
    if lrnn is None or lrnn.depth != 1:
        reason = why if lrnn is None else f"the construction has {lrnn.depth} layers"
        return TheoremResult("thm2", NOT_APPLICABLE, (("T2", f"1L n/a; {stack}"),),
                             f"{why_needed}; no one-layer construction to check ({reason})",
                             data)
    spectra = _witness_spectra(dfa, _witnesses(elems))
    data["checked"] = len(need)
    missing = [e for e in need if not spectra[e.word].spectrum.has_complex]
    if missing:
        e = missing[0]
        nums = spectra[e.word].spectrum.numeric
        ev = ", ".join(f"{z.real:.3g}" if abs(z.imag) < 1e-12 else f"{z:.3g}" for z in nums[:8])
        return TheoremResult("thm2", FAIL, (("T2", f"1L MISSING; {stack}"),),
                             f"{why_needed}; but the construction's A(w) for w = "
                             f"{_fmt_word(e.word)} (period {e.period}) has no {what} "
                             f"(eigenvalues {ev}{', ...' if len(nums) > 8 else ''}); "
                             f"{len(missing)} of {len(need)} such words lack it", data,
                             failed_column="T2")
    return TheoremResult("thm2", PASS, (("T2", f"1L has; {stack}"),),
                         f"{why_needed}; the one-layer construction's A(w) has one for every "
                         f"such w ({len(need)} words, exact spectra)", data)


# ============================================================================ Theorem 3


def _check_thm3(dfa: Any, formats: Sequence[str] = DEFAULT_FORMATS) -> TheoremResult:
    """Theorem 3: a DFA whose transition monoid is a group is implemented by one layer with
    ``A(a)`` a product of at most ``k - 1`` GH factors (``k`` = most states moved by a letter)
    and ``B = 0``. Compiles the DFA, checks ``B(a) = 0`` and the factor count, proves the
    construction exactly (:func:`statetrack.theory.proof.verify`:
    the reachable set and the map ``g``), and runs it in finite precision (eventual periods and
    outputs under every ``a^t`` equal the DFA's).

    Examples
    --------
    >>> from statetrack.automata import DFA
    >>> z3 = DFA([[1, 0], [2, 1], [0, 2]], accepting=[0], alphabet="ab")
    >>> r = _check_thm3(z3)
    >>> r.status, dict(r.columns)
    ('pass', {'construction': '1x3 n_h=2/2', 'proof': 'proved (3)', 'fp': 'bf16 exact'})
    >>> _check_thm3(DFA([[1, 1], [1, 1]], accepting=[1], alphabet="ab")).status
    'not applicable'
    """
    from statetrack.constructions.group import letter_permutations

    lrnn, why = _construction(dfa)
    cols_na = (("construction", "not a group"), ("proof", "-"), ("fp", "-"))
    if lrnn is None:
        return TheoremResult("thm3", NOT_APPLICABLE, cols_na,
                             f"Theorem 3 does not apply: {why}")
    d = _minimal(dfa)
    perms = letter_permutations(d)
    k = max(int(np.sum(p != np.arange(d.n_states))) for p in perms)
    bound = max(k - 1, 0)
    used = max(sum(1 for s in st if not s.is_identity) for layer in lrnn.layers
               for st in layer.steps)
    construction = f"{lrnn.depth}x{lrnn.width} n_h={lrnn.n_h}/{bound}"
    data = {"layers": lrnn.depth, "width": lrnn.width, "n_h": lrnn.n_h, "bound": bound,
            "factors_per_letter": used}
    nonzero_b = [layer.tokens[t] for layer in lrnn.layers for t in range(layer.n_tokens)
                 if any(x != 0 for x in layer.B(t))]
    if nonzero_b:
        return TheoremResult("thm3", FAIL, (("construction", _clip(construction + " B!=0")),
                                            ("proof", "-"), ("fp", "-")),
                             f"token {nonzero_b[0]!r} has B(x) != 0; Theorem 3's layer has B = 0 "
                             f"(a pure product of GH factors)", data,
                             failed_column="construction")
    if used > bound:
        return TheoremResult("thm3", FAIL, (("construction", _clip(construction + " OVER")),
                                            ("proof", "-"), ("fp", "-")),
                             f"a letter uses {used} GH factors (n_h = {lrnn.n_h}); that exceeds "
                             f"the bound k - 1 = {bound} (k = {k} states moved)", data,
                             failed_column="construction")
    return _prove_and_run(
        "thm3", lrnn, dfa, construction, data, lambda: _fp_against_dfa(lrnn, d, formats),
        formats,
        lambda cert: f"one layer, width {lrnn.width}, n_h = {lrnn.n_h} <= k - 1 = {bound}; "
                     f"{cert.summary()}; in {', '.join(formats)} every a^t has the DFA's "
                     "eventual period and outputs, bit for bit")


def _prove_and_run(key: str, lrnn: Any, dfa: Any, construction: str, data: dict,
                   fp_problems: Any, formats: Sequence[str],
                   passed: Callable[[Any], str]) -> TheoremResult:
    """The construction, proof and fp columns of Theorems 3 and 4: the exact proof
    (:func:`statetrack.theory.proof.verify`), then the float check ``fp_problems`` (a callable
    returning the problems found, run only when the proof holds); ``passed(cert)`` is the
    detail of a pass."""
    from .proof import verify

    cert = verify(lrnn, dfa)
    if not cert.ok:
        return TheoremResult(key, FAIL, (("construction", _clip(construction)),
                                         ("proof", _clip(f"FAIL ({cert.kind})")), ("fp", "-")),
                             cert.summary(), data, failed_column="proof")
    data["reachable"] = cert.reachable
    problems = fp_problems()
    proofs = {f: lrnn.float_exactness((f,)) for f in formats}
    unproved = [f for f in formats if not proofs[f].proved(f)]
    short = '/'.join(_SHORT.get(f, f) for f in formats)
    fp_text = "FAIL" if problems else (f"{short} exact" if not unproved
                                       else f"{short} a^t ok, unproved")
    data["fp"] = {f: ("every length" if not proofs[f].reason(f) else proofs[f].reason(f))
                  for f in formats}
    fp_detail = (f"in {', '.join(formats)} the float run equals the exact run on every word of "
                 f"every length (proved: every weight, product and sum of the recurrence is "
                 f"representable on all {proofs[formats[0]].reachable} reachable states), so "
                 f"it recognizes the DFA's language" if not unproved else
                 "; ".join(f"{f}: float exactness not proved ({proofs[f].reason(f)}); tested "
                           f"only every a^t and the word where the proof stopped"
                           for f in unproved))
    cols = (("construction", _clip(construction)), ("proof", f"proved ({cert.reachable})"),
            ("fp", _clip(fp_text)))
    if problems:
        return TheoremResult(key, FAIL, cols, "; ".join(problems), data, failed_column="fp")
    return TheoremResult(key, PASS, cols, f"{passed(cert)}; {fp_detail}", data)


def _fp_against_dfa(lrnn: Any, d: Any, formats: Sequence[str], *,
                    same_period: bool = True) -> list[str]:
    """Problems of the float run against the DFA (empty: none), in each format.

    First the proof (:func:`statetrack.constructions.float_exact.float_exactness`): when
    every weight, product and sum of the float recurrence is representable on every reachable
    state, the float run *is* the exact run on every word of every length, and the exact run
    implements the DFA (the proof column): nothing is left to test. Otherwise the check can
    only test words: the word on which the proof stopped (a non-representable value occurs on
    its last step; its float run must still equal the DFA at every prefix), and every letter
    power ``a^t``:

    With ``same_period`` (a one-layer construction whose state is the DFA's) the model's state
    must have the DFA's pre-period ``mu_d`` and period ``lam_d`` under ``a^t``, and its
    outputs must equal the DFA's up to ``mu_d + lam_d``. Without it (a stack: its state also
    holds the delay layers' previous states, so its pre-period may start later) the outputs
    must equal the DFA's up to ``max(mu, mu_d) + lcm(lam, lam_d)``, with ``mu``, ``lam`` the
    model's own (:func:`statetrack.theory.finite_precision.eventual_period`). Both runs are
    eventually periodic, so either way agreeing up there is agreeing for every ``t``."""
    from .finite_precision import eventual_period, from_lrnn, run

    periods = unary_periods(d)
    delta, acc = d.transitions, d.accepting
    problems = []
    fp = None
    for fmt in formats:
        ex = lrnn.float_exactness((fmt,))
        if ex.proved(fmt):
            continue
        first = {x.word: x for x in reversed(ex.failures.values()) if x.horizon >= 0}
        for f in reversed(first.values()):  # one run per word, the first failure's reason
            tr = lrnn.evaluate_float([f.word], fmt)
            q = int(d.start)
            for t in range(len(f.word) + 1):
                if t:
                    q = int(delta[q, d.alphabet.index(f.word[t - 1])])
                if bool(tr.accepted[0, t]) != bool(acc[q]):
                    w = " ".join(f.word[:t]) or "(empty word)"
                    problems.append(f"{fmt}: the float run "
                                    f"{'accepts' if tr.accepted[0, t] else 'rejects'}"
                                    f" {w}, the DFA {'accepts' if acc[q] else 'rejects'} "
                                    f"(the exactness proof stopped there: {f.where})")
                    break
        if fp is None:
            fp = from_lrnn(lrnn, output="accept")
        for ai, a in enumerate(d.alphabet):
            mu_d, lam_d, _ = periods[a]
            r = eventual_period(fp, (a,), fmt)
            if same_period:
                if (r.pre_period, r.period) != (mu_d, lam_d):
                    problems.append(f"{fmt}: state under {a}^t has pre-period {r.pre_period} "
                                    f"and period {r.period}, the DFA {mu_d} and {lam_d}")
                    continue
                horizon = mu_d + lam_d + 1
            else:
                horizon = max(r.pre_period, mu_d) + math.lcm(r.period, lam_d)
            tr = run(fp, (a,) * horizon, fmt)
            q = int(d.start)
            for t, out in enumerate(tr.outputs, start=1):
                q = int(delta[q, ai])
                if out != bool(acc[q]):
                    problems.append(f"{fmt}: output on {a}^{t} is {out}, the DFA says "
                                    f"{bool(acc[q])}")
                    break
    return problems


# ============================================================================ Theorem 4


def _prop1_cascade(dfa: Any, why: str | None) -> TheoremResult:
    """Proposition 1 on Theorem 4's stack (a language whose monoid is not a group): every
    sub-step of every token of every layer is a GH factor, its eigenvalue ``1 - beta ||k||^2``
    computed exactly in [-1, 1]; by the proposition every ``A(token)`` then has spectral norm
    ``<= 1``. (There is no letter matrix to compare the product with: a token's ``A`` is
    defined by its factors.)

    Examples
    --------
    >>> from statetrack.automata import families
    >>> r = _prop1_cascade(families.get("contains(abb)"), "not a group")
    >>> r.status, r.columns, sorted(r.data["eigenvalues"])
    ('pass', (('GH', 'ok (95 factors)'),), ['-1', '0'])
    """
    lrnn, _, why4, _ = _cascade(dfa)
    if lrnn is None:
        return TheoremResult("prop1", NOT_APPLICABLE, (("GH", "n/a"),),
                             f"no one-layer construction ({why}) and no cascade ({why4})")
    total, eigs, bad = 0, set(), []
    for li, layer in enumerate(lrnn.layers):
        for t, row in enumerate(layer.steps):
            for j, st in enumerate(row):
                if st.is_identity:
                    continue
                total += 1
                e = st.eigenvalue
                eigs.add(str(e))
                if not (-1 <= e <= 1 and 0 <= st.beta <= 2):
                    bad.append(f"layer {li}, token {layer.tokens[t]!r}, step {j + 1}: "
                               f"eigenvalue {e}")
    data = {"factors": total, "eigenvalues": tuple(sorted(eigs)), "layers": lrnn.depth}
    if bad:
        return TheoremResult("prop1", FAIL, (("GH", _clip(f"FAIL ({len(bad)} steps)")),),
                             "; ".join(bad[:3]), data)
    return TheoremResult("prop1", PASS, (("GH", _clip(f"ok ({total} factor{'' if total == 1 else 's'})")),),
                         f"Theorem 4's stack: all {total} sub-steps over {lrnn.depth} layers are "
                         f"GH factors (eigenvalues {', '.join(sorted(eigs))}); by Proposition 1 "
                         f"every A(token) has spectral norm <= 1", data)


@functools.lru_cache(maxsize=16)
def _cascade(dfa: Any, paper: bool = True) -> tuple[Any, Any, str | None, bool]:
    """``(lrnn, cascade, None, False)`` from Theorem 4's compiler (the holonomy cascade of
    the minimal DFA as a stack; ``paper``: the theorem's form, one layer per component
    (:class:`~statetrack.constructions.cascade.ComponentCascade`) and ``d = 1``; else the
    stack :func:`~statetrack.constructions.compile.compile` gives, a layer per level and the
    registers in columns), or ``(None, None, reason, over_limit)`` when it cannot be built:
    ``over_limit`` is true for a size limit (the decomposition's skeleton, the reachable
    cascade states, a level wider than bfloat16's integers), false for any other
    :class:`~statetrack.constructions.errors.CascadeError` (a construction that went wrong:
    checks report it as a failure, not as skipped)."""
    from statetrack.automata.errors import DecompositionLimitError
    from statetrack.automata.holonomy import holonomy_decomposition
    from statetrack.constructions.cascade import ComponentCascade, cascade_construction
    from statetrack.constructions.errors import CascadeError, CascadeLimitError

    d = _minimal(dfa)
    try:
        casc = holonomy_decomposition(d)
        split = (ComponentCascade(casc, len(d.alphabet), max_width=d.n_states) if paper
                 else casc)
        return cascade_construction(split, d, minimize=False, packed=paper), casc, None, False
    except (DecompositionLimitError, CascadeLimitError) as e:
        return None, None, str(e), True
    except CascadeError as e:
        return None, None, str(e), False


def _thm4_bound_problems(lrnn: Any, n_states: int) -> list[str]:
    """What keeps a stack from Theorem 4's conclusion for a minimal DFA of ``n_states``
    states (empty: nothing): at most ``2^|Q|`` layers; every layer of width ``n <= |Q|`` and
    value width ``d = 1`` (a state that is a vector); every ``A(x)`` in ``M_n([-1, 1])`` (at
    most ``n`` GH factors, each with eigenvalue in ``[-1, 1]``); every ``B(x)`` with
    non-negative integer entries.

    Examples
    --------
    >>> from statetrack.automata import families
    >>> lrnn, *_ = _cascade(families.get("contains(abb)"))     # 7 layers of width <= 3
    >>> _thm4_bound_problems(lrnn, 4)
    []
    >>> for p in _thm4_bound_problems(lrnn, 2):
    ...     print(p)
    7 layers > 2^|Q| = 4
    layer 1 has width 3 > |Q| = 2
    >>> cols, *_ = _cascade(families.get("contains(abb)"), paper=False)
    >>> _thm4_bound_problems(cols, 4)     # the register columns: d = 7
    ['layer 6 has d = 7 value columns > 1']
    """
    problems = []
    if lrnn.depth > 2 ** n_states:
        problems.append(f"{lrnn.depth} layers > 2^|Q| = {2 ** n_states}")
    for li, layer in enumerate(lrnn.layers):
        if layer.width > n_states:
            problems.append(f"layer {li} has width {layer.width} > |Q| = {n_states}")
            break
    wide = [(layer.value_dim, li) for li, layer in enumerate(lrnn.layers) if layer.value_dim > 1]
    if wide:
        v, li = max(wide)
        problems.append(f"layer {li} has d = {v} value columns > 1")
    for li, layer in enumerate(lrnn.layers):
        for t, row in enumerate(layer.steps):
            live = [st for st in row if not st.is_identity]
            where = f"layer {li}, token {layer.tokens[t]!r}"
            if len(live) > layer.width:
                problems.append(f"{where}: A is a product of {len(live)} GH factors > n = "
                                f"{layer.width} (not in M_n)")
                return problems
            if any(not (-1 <= st.eigenvalue <= 1) for st in live):
                problems.append(f"{where}: a GH factor with an eigenvalue outside [-1, 1]")
                return problems
            if not all(x.is_integer and x >= 0 for x in layer.B(t)):
                problems.append(f"{where}: B has an entry that is not a non-negative integer")
                return problems
    return problems


def _check_thm4(dfa: Any, formats: Sequence[str] = DEFAULT_FORMATS) -> TheoremResult:
    """Theorem 4: every regular language is recognized by a stack of LRNN layers of value
    width ``d = 1`` whose matrices are products of GH factors with eigenvalues in [-1, 1].
    Decomposes the minimal DFA (:func:`statetrack.automata.holonomy.holonomy_decomposition`),
    compiles the cascade as the proof does, a layer per component
    (:class:`~statetrack.constructions.cascade.ComponentCascade`; ``2L - 1`` layers for ``L``
    levels: one per component, several for a component narrowed or lifted, a delay layer
    between two) of ``d = 1`` (the packed registers of
    :func:`statetrack.constructions.cascade.cascade_construction`), checks the conclusion's
    counts (:func:`_thm4_bound_problems`: at most ``2^|Q|`` layers of width ``n <= |Q|`` and
    ``d = 1``, every ``A(x)`` in ``M_n([-1, 1])``, every ``B(x)`` non-negative integer; a
    stack outside them fails), proves the stack exactly (:func:`statetrack.theory.proof.verify`)
    and runs it in finite precision (proved exact, or every ``a^t`` against the DFA). A
    cascade over a size limit (a level wider than bfloat16's exact integers, a skeleton over
    the decomposition's limit) is ``skipped`` with the reason.

    The fp column: the theorem is a statement in exact arithmetic, and a ``d = 1`` stack
    packs each register into one number, which can outgrow a float format's integers
    (bfloat16 holds them up to 256). When the packed stack's float run is not proved exact in
    every format of ``formats``, the fp column is that of the stack
    :func:`~statetrack.constructions.compile.compile` gives (the registers in ``V`` value
    columns, each number a level state), itself proved exactly first; the detail and
    ``data["fp_form"]`` say which.

    In ``statetrack check``'s table it fills the construction, proof and fp columns of the
    languages whose monoid is not a group (Theorem 3 fills them for groups).

    Examples
    --------
    >>> from statetrack.automata import families
    >>> r = _check_thm4(families.get("contains(abb)"))
    >>> r.status, dict(r.columns)
    ('pass', {'construction': 'cascade 7x3 n_h=3', 'proof': 'proved (11)', 'fp': 'bf16 exact'})
    >>> r.data["levels"], r.data["paper_bound_layers"]
    (['1: 2', '2: 2', '3: 2', '4: 2'], '2^4')
    >>> r.data["value_dim"], r.data["paper_value_dim"], r.data["fp_form"]
    (1, 1, 'packed')
    """
    from .proof import verify

    lrnn, casc, why, over_limit = _cascade(dfa)
    d = _minimal(dfa)
    if lrnn is None and over_limit:
        return TheoremResult("thm4", SKIPPED, (("construction", "cascade: over limit"),
                                                ("proof", "-"), ("fp", "-")),
                             f"the cascade construction is over a size limit: {why}")
    if lrnn is None:
        return TheoremResult("thm4", FAIL, (("construction", "cascade: ERROR"),
                                             ("proof", "-"), ("fp", "-")),
                             f"the cascade construction failed: {why} (a failure of the "
                             "toolkit's construction, not a counterexample to the theorem)",
                             {"method": "cascade"}, failed_column="construction")
    levels = str(casc).splitlines()
    value_dim = max(layer.value_dim for layer in lrnn.layers)
    data = {"method": "cascade", "levels": levels, "height": len(levels),
            "components": sum(len(lv.components) for lv in casc.levels),
            "layers": lrnn.depth, "widths": [layer.width for layer in lrnn.layers],
            "n_h": [layer.n_h for layer in lrnn.layers],
            "paper_bound_layers": f"2^{d.n_states}", "paper_bound_width": d.n_states,
            "value_dim": value_dim, "paper_value_dim": 1, "fp_form": "packed"}
    construction = f"cascade {lrnn.depth}x{lrnn.width} n_h={lrnn.n_h}"
    problems = _thm4_bound_problems(lrnn, d.n_states)
    if problems:
        return TheoremResult("thm4", FAIL, (("construction", _clip(construction + " OVER")),
                                            ("proof", "-"), ("fp", "-")),
                             "the toolkit's stack is outside Theorem 4's conclusion: "
                             + "; ".join(problems) + " (a failure of this construction, one "
                             "layer per holonomy component, split along classes of tiles or of "
                             "lifted points (ordered atom images, group elements) its group "
                             "preserves, here not narrow enough or over max_group; "
                             "not a counterexample to the "
                             "theorem, whose proof cites Maler and Pnueli's cascade)", data,
                             failed_column="construction")
    run_model, fp_note = lrnn, ""
    unproved = [f for f in formats if not lrnn.float_exactness((f,)).proved(f)]
    if unproved:
        cols, _, why_cols, _ = _cascade(dfa, paper=False)
        cert = verify(lrnn, dfa)           # the theorem's stack, proved before the swap
        if not cert.ok:
            return TheoremResult("thm4", FAIL, (("construction", _clip(construction)),
                                                ("proof", _clip(f"FAIL ({cert.kind})")),
                                                ("fp", "-")),
                                 cert.summary(), data, failed_column="proof")
        top = max(abs(float(c[0])) for layer in lrnn.layers for c in layer.readout.codes)
        if cols is None:
            fp_note = (f"; the d = 1 stack is proved exactly ({cert.summary()}), its packed "
                       f"codes (up to {top:g}) are not proved exact in {', '.join(unproved)}, "
                       f"and compile()'s register-column stack could not be built ({why_cols}): "
                       f"the fp column runs the packed stack against the DFA")
        else:
            v = max(layer.value_dim for layer in cols.layers)
            run_model, data["fp_form"] = cols, "columns"
            fp_note = (f"; the d = 1 stack is proved exactly ({cert.summary()}), but its packed "
                       f"codes (up to {top:g}) are not proved exact in {', '.join(unproved)}, so "
                       f"the proof and fp columns are those of compile()'s register-column "
                       f"stack (d = {v}, every number a level state)")
    return _prove_and_run(
        "thm4", run_model, dfa, construction, data,
        lambda: _fp_against_dfa(run_model, d, formats, same_period=False), formats,
        lambda cert: f"holonomy cascade {' / '.join(levels)} ({len(levels)} "
                     f"level{'s' if len(levels) != 1 else ''}) as {lrnn.depth} "
                     f"layer{'s' if lrnn.depth != 1 else ''}, one per component (a component "
                     f"wider than |Q| split into levels along classes of tiles its group "
                     f"preserves: orbits, blocks; or, where the tiles have too few, lifted: "
                     f"the ordered images of a tile's atoms, or the group acting on itself "
                     f"along cosets of subgroups) and a delay "
                     f"layer between two "
                     f"(widths {data['widths']}, n_h {data['n_h']}, "
                     f"d = 1: "
                     f"{'one component, no register' if lrnn.depth == 1 else 'each register packed into one number'}"
                     f"), within the paper's bound "
                     f"of 2^{d.n_states} layers of width <= {d.n_states}, every A(x) in "
                     f"M_n([-1, 1]) and every B(x) a non-negative integer matrix{fp_note}; "
                     f"{cert.summary()}")


# ============================================================================ Theorem 3's widths


def _check_thm3_width(dfa: Any) -> TheoremResult:
    """Theorem 3's width: the one layer of a group automaton can carry any faithful
    permutation action of its transition group ``G`` instead of the action on the ``|Q|``
    states; the least width is the minimal faithful degree ``mu(G)``. Builds the faithful
    form (:func:`statetrack.constructions.faithful.faithful_construction`), proves it
    (:func:`statetrack.theory.proof.verify`) and reports its width ``K = m`` against
    ``mu(G)``: ``m = mu(G)`` when it is proved (``m`` meets a proven lower bound, or the
    exhaustive search over the transitive actions of smaller degree found none faithful),
    else the gap ``lower bound <= mu(G) <= m``. Not in ``statetrack check``'s table (the
    search costs seconds on the catalogue's larger groups); every catalogue group reaches
    ``mu(G)``.

    Examples
    --------
    >>> from statetrack.automata import families
    >>> r = _check_thm3_width(families.get("cyclic(6)"))        # Z_6 on 2 + 3 points
    >>> r.status, r.columns, r.data["states"], r.data["pieces"]
    ('pass', (('width', 'K=5 = mu(G)'),), 6, (2, 3))
    >>> _check_thm3_width(families.get("aa_star")).status
    'not applicable'
    """
    import numpy as np

    from statetrack.constructions.errors import NotAGroupError
    from statetrack.constructions.faithful import faithful_action, faithful_construction

    from .proof import verify

    d = _minimal(dfa)
    try:
        act = faithful_action(d, np.random.default_rng(0), minimize=False, readout=False)
    except NotAGroupError as e:
        return TheoremResult("thm3w", NOT_APPLICABLE, (("width", "not a group"),),
                             f"Theorem 3 does not apply: {e}")
    lrnn = faithful_construction(d, rng=np.random.default_rng(0))
    m, mu, lb = lrnn.width, act.minimal_degree, act.lower_bound
    data = {"states": d.n_states, "group_order": act.group_order, "width": m,
            "minimal_degree": mu, "lower_bound": lb, "pieces": act.pieces}
    cert = verify(lrnn, d)
    if not cert.ok or m != act.m or m > d.n_states:
        why = cert.summary() if not cert.ok else f"width {m} (search: {act.m}, |Q| = {d.n_states})"
        return TheoremResult("thm3w", FAIL, (("width", "FAIL"),), why, data,
                             failed_column="width")
    data["reachable"] = cert.reachable
    if mu is not None and mu == m:
        return TheoremResult("thm3w", PASS, (("width", _clip(f"K={m} = mu(G)")),),
                             f"|G| = {act.group_order} acts faithfully on {m} points "
                             f"(pieces {'+'.join(map(str, act.pieces))}) instead of "
                             f"|Q| = {d.n_states}; m = mu(G) is proved (a lower bound or an "
                             f"exhaustive search); {cert.summary()}", data)
    return TheoremResult("thm3w", PASS, (("width", _clip(f"K={m}, mu in [{lb},{m}]")),),
                         f"|G| = {act.group_order} acts faithfully on {m} points instead of "
                         f"|Q| = {d.n_states}; the gap: {lb} <= mu(G) <= {m} (the exhaustive "
                         f"search runs for |G| <= exhaustive_max_order only); {cert.summary()}",
                         data)


# ============================================================================ Theorem 6


@functools.lru_cache(maxsize=16)
def _reflection_stack(dfa: Any) -> tuple[Any, str | None, bool]:
    """``(lrnn, None, False)`` from Theorem 6's construction, ``(None, reason, False)`` when
    the minimal DFA's transition monoid is not a cyclic group, ``(None, reason, True)`` when
    its weights are over a size limit (``m = 60``: nested radicals)."""
    from statetrack.constructions.errors import FormError, NotAGroupError, StoredNumberSizeError
    from statetrack.constructions.reflections import modular_addition_construction

    d = _minimal(dfa)
    try:
        return modular_addition_construction(d), None, False
    except StoredNumberSizeError as e:
        return None, str(e), True
    except (FormError, NotAGroupError) as e:
        return None, str(e), False


def _reflection_problems(lrnn: Any) -> list[str]:
    """What keeps the stack from being Theorem 6's (empty: nothing): two layers; layer 0 of
    width 1 with ``A(x) = -1`` (one GH factor, eigenvalue -1, zero value) for every input;
    layer 1 of width 2 whose every token is one GH factor with eigenvalue -1 and zero value
    and whose ``A`` is, exactly in the model's number field, a reflection of the plane
    (symmetric, trace 0, ``A^2 = I``)."""
    if lrnn.depth != 2 or [layer.width for layer in lrnn.layers] != [1, 2]:
        return [f"the stack has {lrnn.depth} layers of widths "
                f"{[layer.width for layer in lrnn.layers]}, not 2 layers of widths [1, 2]"]
    problems = []
    run = lrnn.exact()
    dom = run.domain
    for li, layer in enumerate(lrnn.layers):
        for t, row in enumerate(layer.steps):
            live = [s for s in row if not s.is_identity]
            where = f"layer {li}, token {layer.tokens[t]!r}"
            if len(live) != 1 or live[0].eigenvalue != -1 or any(v != 0 for v in live[0].value):
                problems.append(f"{where}: not one GH factor with eigenvalue -1 and B = 0")
                continue
            a = run.transition_matrix(li, t)
            if li == 0:
                if a != [[-dom.one]]:
                    problems.append(f"{where}: A is not -1")
                continue
            square = [[a[i][0] * a[0][j] + a[i][1] * a[1][j] for j in range(2)]
                      for i in range(2)]
            if a[0][1] != a[1][0] or a[0][0] + a[1][1] != dom.zero or \
                    square != [[dom.one, dom.zero], [dom.zero, dom.one]]:
                problems.append(f"{where}: A is not a reflection of the plane")
    return problems


def _check_thm6(dfa: Any) -> TheoremResult:
    """Theorem 6 (Appendix D): addition modulo m is implemented by two layers whose every
    transition matrix is one reflection (``M_1({-1})``): a mod-2 counter (width 1,
    ``A(x) = -1``) and a layer of 2x2 reflections chosen by the input and the position's
    parity, with ``2m`` states (:mod:`statetrack.constructions.reflections`). Applies to every
    DFA whose minimal automaton's transition monoid is a cyclic group ``Z_m`` (addition
    modulo m is ``cyclic(m, all)``: one letter per residue; the DFA's state is the running
    sum). Builds the stack, checks exactly that every factor is a reflection (layer 1's ``A``
    in the number field ``Q(cos pi/m, sin pi/m)``), and proves it against the DFA
    (:func:`statetrack.theory.proof.verify`; ``state_map`` gives the running sum at every
    prefix). The weights are irrational for ``m > 2``: no float claim is made.

    Examples
    --------
    >>> from statetrack.automata import families
    >>> r = _check_thm6(families.get("cyclic(5, all)"))     # addition modulo 5
    >>> r.status, r.columns, r.data["states"], r.data["reachable"]
    ('pass', (('T6', '2 layers, proved (10)'),), 10, 10)
    >>> _check_thm6(families.get("symmetric(3)")).columns
    (('T6', 'n/a'),)
    """
    from .proof import verify

    lrnn, why, over_limit = _reflection_stack(dfa)
    if over_limit:
        return TheoremResult("thm6", SKIPPED, (("T6", "skipped (size)"),),
                             f"Theorem 6's construction is over a size limit: {why}")
    if lrnn is None:
        return TheoremResult("thm6", NOT_APPLICABLE, (("T6", "n/a"),),
                             f"Theorem 6 does not apply: {why}")
    m = _minimal(dfa).n_states
    data: dict[str, Any] = {"m": m, "layers": lrnn.depth,
                            "widths": [layer.width for layer in lrnn.layers],
                            "n_h": lrnn.n_h, "states": lrnn.layers[1].readout.n_classes,
                            "exact_in_floats": lrnn.exact_in_floats}
    problems = _reflection_problems(lrnn)
    if problems:
        return TheoremResult("thm6", FAIL, (("T6", "FAIL (not reflections)"),),
                             "; ".join(problems[:3]), data, failed_column="T6")
    cert = verify(lrnn, dfa)
    if not cert.ok:
        return TheoremResult("thm6", FAIL, (("T6", _clip(f"FAIL ({cert.kind})")),),
                             cert.summary(), data, failed_column="T6")
    data["reachable"] = cert.reachable
    floats = ("its weights are dyadic rationals, exact in every float format" if
              lrnn.exact_in_floats else f"its weights lie in Q(cos pi/{m}, sin pi/{m}) and "
              "are rounded in floats, so float runs are correct only up to some length "
              "(no float claim)")
    return TheoremResult("thm6", PASS, (("T6", _clip(f"2 layers, proved ({cert.reachable})")),),
                         f"Z_{m}: layer 0 (width 1) has A(x) = -1 for every input, layer 1 "
                         f"(width 2) one reflection per token (checked exactly), "
                         f"{data['states']} states; {cert.summary()}; {floats}", data)


# ============================================================================ the registry


THEOREMS: dict[str, Theorem] = {
    "prop1": Theorem(
        "prop1", "Proposition 1",
        "Every product of GH matrices has spectral norm <= 1; every matrix of norm <= 1 is a "
        "product of at most 3n GH factors; orthogonal matrices of at most n reflections; "
        "permutation matrices of at most n - 1. (The check holds each letter to the sharper "
        "m - c = rank(P - I) reflections, m points moved, c non-trivial cycles: the least "
        "number, not the proposition's n - 1.)",
        Source(_GRAZZI, "2411.12537", "Proposition 1"), _check_prop1, ("GH",)),
    "thm1": Theorem(
        "thm1", "Theorem 1",
        "A finite-precision LRNN (any depth) recognizes parity only if in some layer some A(x) "
        "has an eigenvalue that is not a non-negative real. For a language and a one-layer "
        "LRNN: every word w whose transformation has period > 1 needs such an eigenvalue in "
        "A(w).",
        Source(_GRAZZI, "2411.12537", "Theorem 1"), _check_thm1, ("T1",)),
    "thm2": Theorem(
        "thm2", "Theorem 2",
        "A finite-precision LRNN counts modulo m (m not a power of 2) only if in some layer i "
        "some product A(x_1)...A(x_{2^(i-1)}) has a non-real eigenvalue; real diagonal or "
        "triangular matrices cannot, even with negative entries. The proof bounds the period "
        "of an L-layer real stack by 2^L: for a language, one layer needs a non-real "
        "eigenvalue of A(w) for every word w of period > 2, and a stack for every period "
        "that does not divide 2^L.",
        Source(_GRAZZI, "2411.12537", "Theorem 2"), _check_thm2, ("T2",)),
    "thm3": Theorem(
        "thm3", "Theorem 3",
        "An automaton whose transition monoid is a group is implemented by one LRNN layer with "
        "A(a) in M_{k-1}({-1, 1}) (k = most states moved by one letter) and B = 0. (The "
        "paper starts from H_0 = (1, ..., n)^T; the toolkit from the one-hot initial state, "
        "with a one-hot readout.)",
        Source(_GRAZZI, "2411.12537", "Theorem 3"), _check_thm3, ("construction", "proof", "fp")),
    "thm3w": Theorem(
        "thm3w", "Theorem 3",
        "(Width.) The one layer of Theorem 3 can carry any faithful permutation action of the "
        "transition group G; its least width is the minimal faithful degree mu(G) <= |Q| "
        "(for abelian G the sum of the prime powers of a primary decomposition).",
        Source(_GRAZZI, "2411.12537", "Theorem 3"), _check_thm3_width, ("width",),
        in_table=False),
    "thm4": Theorem(
        "thm4", "Theorem 4",
        "Every regular language is recognized by an LRNN with at most 2^|Q| layers of width "
        "<= |Q|, d = 1, A(x) in M_n([-1, 1]) and non-negative integer B, via a Krohn-Rhodes "
        "cascade of permutation-reset automata.",
        Source(_GRAZZI, "2411.12537", "Theorem 4"), _check_thm4, ("construction", "proof", "fp")),
    "thm6": Theorem(
        "thm6", "Theorem 6",
        "Addition modulo m is implemented by an LRNN with two layers whose transition matrices "
        "are reflections: a mod-2 counter layer with A(x) = -1 (width 1), then a layer of 2x2 "
        "reflections (A in M_1({-1})) with 2m states. Checked on every DFA whose transition "
        "monoid is a cyclic group.",
        Source(_GRAZZI, "2411.12537", "Theorem 6"), _check_thm6, ("T6",)),
}


def theorem(key: str) -> Theorem:
    """The theorem registered as ``key`` (an entry of :data:`THEOREMS`).

    >>> theorem("thm3").name
    'Theorem 3'
    >>> theorem("thm9")
    Traceback (most recent call last):
    ...
    statetrack.theory.errors.UnknownTheoremError: no theorem 'thm9' in the registry; known: prop1, thm1, thm2, thm3, thm3w, thm4, thm6
    """
    try:
        return THEOREMS[key]
    except (KeyError, TypeError):
        raise UnknownTheoremError(f"no theorem {key!r} in the registry; known: "
                                  f"{', '.join(THEOREMS)}") from None


def check(key: str, dfa: Any) -> TheoremResult:
    """Run one theorem's check on a DFA (any entry, Theorem 4 included).

    Raises
    ------
    UnknownTheoremError
        ``key`` is not in :data:`THEOREMS`.
    NotADFAError
        ``dfa`` is not a :class:`statetrack.automata.DFA`.

    Examples
    --------
    >>> from statetrack.automata import families
    >>> r = check("thm1", families.get("tomita(3)"))     # not a group: nothing to check
    >>> r.status, r.columns, r.data["witness"], r.data["witness_period"]
    ('not applicable', (('T1', 'needed, n/a'),), ('0',), 2)
    >>> check("thm4", families.get("parity")).status   # Theorem 4 holds for groups too
    'pass'
    """
    return theorem(key).check(dfa)


def run_all(dfa: Any, *, monoid_limit: int | None = None) -> list[ColumnResult]:
    """Run the entries of the table on ``dfa``; one :class:`ColumnResult` per column, in the
    order of :data:`COLUMN_LEGEND`. The construction, proof and fp columns come from
    Theorem 3 for a language whose monoid is a group, else from Theorem 4 (the cascade).

    ``monoid_limit`` (a positive int; default :data:`MONOID_LIMIT`) is the most transition
    monoid elements the T1 and T2 columns enumerate; past it they read ``skipped``.
    ``statetrack check --monoid-limit N`` passes ``min(N, MONOID_LIMIT)`` after its memory
    cap (``None`` where that is ``MONOID_LIMIT``).

    A failure is attached to the column it concerns (``failed`` is True there only); every
    ``summary`` is at most :data:`SUMMARY_WIDTH` characters.

    Examples
    --------
    >>> from statetrack.automata import families
    >>> for r in run_all(families.get("aa_star")):
    ...     print(f"{r.column:12s} {r.summary:12s} {r.failed}")
    GH           ok (4 factors) False
    T1           needed, n/a  False
    T2           not needed   False
    construction cascade 1x3 n_h=3 False
    proof        proved (3)   False
    fp           bf16 exact   False
    T6           n/a          False
    """
    if monoid_limit is not None and (isinstance(monoid_limit, (bool, np.bool_))
                                     or not isinstance(monoid_limit, numbers.Integral)
                                     or monoid_limit < 1):
        raise TheoryError(f"run_all: monoid_limit must be a positive int or None, got "
                          f"{monoid_limit!r}")
    token = _RUN_LIMIT.set(None if monoid_limit is None else int(monoid_limit))
    try:
        return _run_all(dfa)
    finally:
        _RUN_LIMIT.reset(token)


def _run_all(dfa: Any) -> list[ColumnResult]:
    out = []
    group = None
    for thm in THEOREMS.values():
        if not thm.in_table:
            continue
        if thm.key == "thm4":
            if group:      # Theorem 3 filled the construction columns of a group language
                continue
        res = thm.check(dfa)
        if thm.key == "thm3":
            group = res.status != NOT_APPLICABLE
            if not group:  # Theorem 4 fills them instead
                continue
        for col, summary in res.columns:
            failed = res.failed and (res.failed_column in (None, col))
            out.append(ColumnResult(thm.name, col, _clip(summary), res.detail, res.status,
                                    failed))
    return out
