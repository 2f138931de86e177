r"""The registry of theorems: each entry states a result of the papers and checks it on a DFA.

Entries (:data:`REGISTRY`, keyed by a short id):

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
``thm4``   Theorem 4: every regular language, by a cascade                 ``cascade``
=========  ==============================================================  ==================

A check takes a DFA and returns a :class:`TheoremResult` whose ``status`` is one of
:data:`PASS`, :data:`FAIL`, :data:`NOT_APPLICABLE` (e.g. Theorem 3 on a DFA that is not a group)
or :data:`NOT_IMPLEMENTED` (Theorem 4: the cascade construction is a later issue; reported as
such, never as a pass). :func:`run_all` runs every entry and flattens the results into one
:class:`ColumnResult` per table column, which is what ``statetrack check`` prints.

How Theorems 1 and 2 are checked on a DFA
-----------------------------------------
For each letter ``a`` the minimal DFA's run on ``a^t`` is eventually periodic; let ``p_a`` be
the least eventual period of its accept bits. The proofs of both theorems show that, in finite
precision, a one-layer LRNN reading ``a^t`` has an eventually constant output when ``A(a)`` has
only non-negative real eigenvalues, and an output whose eventual period is a power of two when
``A(a)`` is real triangular (only real eigenvalues); see
:mod:`statetrack.theory.finite_precision` for the derivation (and for the caveat about general
matrices when every step is rounded). So a letter with ``p_a > 1`` *needs* an eigenvalue of
``A(a)`` that is not a non-negative real (Theorem 1; parity is ``p = 2``), and a letter with
``p_a`` not a power of two *needs* a non-real eigenvalue (Theorem 2, first layer). The check
computes these needs from the DFA alone and, when Theorem 3 gives a construction, verifies
that the construction's exact spectra meet them.

Sources: Grazzi, Siems, Zela, Franke, Hutter, Pontil, "Unlocking State-Tracking in Linear RNNs
Through Negative Eigenvalues", ICLR 2025, arXiv 2411.12537.

Examples
--------
>>> from statetrack.automata import DFA
>>> parity = DFA([[0, 1], [1, 0]], accepting=[1], alphabet="01")
>>> for r in run_all(parity):
...     print(f"{r.column:12s} {r.status:15s} {r.summary}")
GH           pass            1 exact, eig in [-1,1], ||A||<=1
T1           pass            needed: 1(p=2); has
T2           pass            not needed (p=1,2)
construction pass            1x2 n_h=1 (bound 1)
proof        pass            proved: 2 states
fp           pass            bf16 = DFA
cascade      not implemented not implemented
>>> REGISTRY["thm1"].source.arxiv
'2411.12537'
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .errors import NotADFAError, UnknownTheoremError

__all__ = [
    "PASS", "FAIL", "NOT_APPLICABLE", "NOT_IMPLEMENTED",
    "Source", "Theorem", "TheoremResult", "ColumnResult",
    "REGISTRY", "get", "check", "run_all", "unary_periods",
]

PASS = "pass"
FAIL = "fail"
NOT_APPLICABLE = "not applicable"
NOT_IMPLEMENTED = "not implemented"

_SHORT = {"bfloat16": "bf16", "float16": "fp16", "float32": "fp32", "float64": "fp64"}

#: Formats in which the construction is run by Theorem 3's ``fp`` column.
DEFAULT_FORMATS = ("bfloat16",)


@dataclass(frozen=True)
class Source:
    """Where a result is stated."""

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
        :data:`PASS`, :data:`FAIL`, :data:`NOT_APPLICABLE` or :data:`NOT_IMPLEMENTED`.
    columns : tuple of (column, summary)
        Short texts for the table.
    detail : str
        What was checked or what went wrong, in words.
    data : mapping
        Numbers behind the summary (e.g. ``reachable``, ``n_h``, ``bound``).
    failed_column : str or None
        The column a failure belongs to (the others are informative).
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
    """One table cell from :func:`run_all` (the interface ``statetrack check`` reads)."""

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
    as a doctest.
    """

    key: str
    name: str
    statement: str
    source: Source
    check: Callable[[Any], TheoremResult]
    columns: tuple[str, ...]

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
        return compile_dfa(dfa), None
    except NotAGroupError as e:
        return None, str(e)


@functools.lru_cache(maxsize=16)
def _spectrum(dfa: Any) -> Any:
    from .spectra import check_spectrum

    lrnn, _ = _construction(dfa)
    return None if lrnn is None else check_spectrum(lrnn, word_length=1)


def unary_periods(dfa: Any) -> dict[str, tuple[int, int, int]]:
    """Per letter ``a``: ``(pre_period, state_period, accept_period)`` of the minimal DFA's run
    on ``a^t`` from the start state (``accept_period`` = least eventual period of the accept
    bits; a missing transition counts as a rejecting sink).

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
    in ``[-1, 1]``), the factors of each letter multiply exactly to its permutation matrix,
    their number is ``m - c`` (points moved minus cycles), and every ``A(x)`` has spectral
    norm ``<= 1``.

    Examples
    --------
    >>> from statetrack.automata import DFA
    >>> z3 = DFA([[1], [2], [0]], accepting=[0], alphabet="a")
    >>> r = _check_prop1(z3)
    >>> r.status, r.columns
    ('pass', (('GH', '2 exact, eig in [-1,1], ||A||<=1'),))
    """
    from statetrack.constructions.group import letter_permutations

    from .factorization import as_factor, check_factorization, permutation_cycles, \
        permutation_factors, permutation_matrix
    from .errors import FactorMismatchError

    lrnn, why = _construction(dfa)
    if lrnn is None:
        return TheoremResult("prop1", NOT_APPLICABLE, (("GH", "n/a (no construction)"),),
                             f"no one-layer construction: {why}")
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
            problems.append(f"letter {a!r}: {len(facs)} factors, Proposition 1 needs only "
                            f"{expected} (= {moved} moved - {len(permutation_cycles(perm))} "
                            "cycles)")
        got = _compose_transpositions(facs, d.n_states)
        if got is not None:
            if got != perm:
                problems.append(f"letter {a!r}: the factors compose to {got}, the DFA letter is "
                                f"{perm}")
        else:  # not all transpositions: multiply densely (exact), steps applied first-to-last
            try:
                check_factorization(list(reversed(facs)), permutation_matrix(perm))
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
    summary = f"{total} {'exact' if spec.exact else 'float'}, eig in [-1,1], ||A||<=1"
    return TheoremResult("prop1", PASS, (("GH", summary),),
                         f"{total} GH factors over {d.n_symbols} letters multiply exactly to the "
                         "letters' permutation matrices with m - c factors each; every factor's "
                         "eigenvalue is in [-1, 1] and every A(x) has norm <= 1 (exact)",
                         {"factors": total})


def _compose_transpositions(facs: Sequence[Any], n: int) -> list[int] | None:
    """The permutation ``pi`` (``A e_i = e_{pi[i]}``) of steps applied first-to-last, when
    every factor is a transposition ``I - (e_a - e_b)(e_a - e_b)^T``; else None."""
    pi = list(range(n))
    for f in facs:
        nz = [(i, v) for i, v in enumerate(f.key) if v != 0]
        if not (f.beta == 1 and len(nz) == 2 and sorted(v for _, v in nz) == [-1, 1]):
            return None
        a, b = nz[0][0], nz[1][0]
        pi = [b if v == a else a if v == b else v for v in pi]
    return pi


# ============================================================================ Theorems 1, 2


def _needs(dfa: Any, which: str) -> tuple[list[str], dict]:
    periods = unary_periods(dfa)
    from .finite_precision import is_power_of_two

    if which == "thm1":
        need = [a for a, (_, _, p) in periods.items() if p > 1]
    else:
        need = [a for a, (_, _, p) in periods.items() if not is_power_of_two(p)]
    return need, periods


def _spectral_check(dfa: Any, key: str, column: str, what: str,
                    has: Callable[[Any], bool]) -> TheoremResult:
    need, periods = _needs(dfa, key)
    ps = sorted({p for _, _, p in periods.values()})
    data = {"needs": tuple(need), "periods": {a: p for a, (_, _, p) in periods.items()}}
    if not need:
        return TheoremResult(key, PASS, ((column, f"not needed (p={','.join(map(str, ps))})"),),
                             f"every letter's accept bits on a^t have eventual period "
                             f"{'1' if key == 'thm1' else 'a power of two'}: no {what} needed",
                             data)
    shown = ", ".join(f"{a}(p={periods[a][2]})" for a in need[:2]) + (",..." if len(need) > 2 else "")
    lrnn, why = _construction(dfa)
    if lrnn is None:
        return TheoremResult(key, NOT_APPLICABLE, ((column, f"needed: {shown}"),),
                             f"the language needs {what} for {need}; no one-layer construction "
                             f"to check ({why})", data)
    spec = _spectrum(dfa)
    by_token = {ms.word[0]: ms.spectrum for ms in spec.layers[0].tokens}
    missing = [a for a in need if not has(by_token[a])]
    if missing:
        return TheoremResult(key, FAIL, ((column, f"needed: {shown}; MISSING"),),
                             f"the construction's A({missing[0]!r}) has no {what} although the "
                             f"letter's accept period is {periods[missing[0]][2]}", data,
                             failed_column=column)
    return TheoremResult(key, PASS, ((column, f"needed: {shown}; has"),),
                         f"letters {need} need {what} and the construction's A(a) has one "
                         "(exact spectra)", data)


def _check_thm1(dfa: Any) -> TheoremResult:
    """Theorem 1 on a DFA: letters whose accept bits on ``a^t`` are not eventually constant
    (parity: period 2) need ``A(a)`` to have an eigenvalue that is not a non-negative real; the
    construction (when there is one) is checked to have it.

    Examples
    --------
    >>> from statetrack.automata import DFA
    >>> parity = DFA([[0, 1], [1, 0]], accepting=[1], alphabet="01")
    >>> r = _check_thm1(parity)
    >>> r.status, r.data["needs"], r.columns[0][1]
    ('pass', ('1',), 'needed: 1(p=2); has')
    """
    return _spectral_check(dfa, "thm1", "T1", "neg/complex eig",
                           lambda s: not s.all_nonnegative_real)


def _check_thm2(dfa: Any) -> TheoremResult:
    """Theorem 2 on a DFA: letters whose accept bits on ``a^t`` have an eventual period that
    is not a power of two (counting mod 3, 5, ...) need a non-real eigenvalue of ``A(a)``;
    real diagonal or triangular matrices cannot provide it.

    Examples
    --------
    >>> from statetrack.automata import DFA
    >>> mod3 = DFA([[1], [2], [0]], accepting=[0], alphabet="a")
    >>> r = _check_thm2(mod3)
    >>> r.status, r.columns[0][1]
    ('pass', 'needed: a(p=3); has')
    """
    return _spectral_check(dfa, "thm2", "T2", "complex eig", lambda s: s.has_complex)


# ============================================================================ Theorem 3


def _check_thm3(dfa: Any, formats: Sequence[str] = DEFAULT_FORMATS) -> TheoremResult:
    """Theorem 3: a DFA whose transition monoid is a group is implemented by one layer with
    ``A(a)`` a product of at most ``k - 1`` GH factors (``k`` = most states moved by a letter).
    Compiles the DFA, proves the construction exactly (:func:`statetrack.theory.verify.verify`:
    the reachable set and the map ``g``), and runs it in finite precision (eventual periods and
    outputs under every ``a^t`` equal the DFA's).

    Examples
    --------
    >>> from statetrack.automata import DFA
    >>> z3 = DFA([[1, 0], [2, 1], [0, 2]], accepting=[0], alphabet="ab")
    >>> r = _check_thm3(z3)
    >>> r.status, dict(r.columns)["construction"], dict(r.columns)["proof"]
    ('pass', '1x3 n_h=2 (bound 2)', 'proved: 3 states')
    >>> _check_thm3(DFA([[1, 1], [1, 1]], accepting=[1], alphabet="ab")).status
    'not applicable'
    """
    from statetrack.constructions.group import letter_permutations

    from .verify import verify

    lrnn, why = _construction(dfa)
    cols_na = (("construction", "not a group"), ("proof", "-"), ("fp", "-"))
    if lrnn is None:
        return TheoremResult("thm3", NOT_APPLICABLE, cols_na,
                             f"Theorem 3 does not apply: {why}")
    d = _minimal(dfa)
    perms = letter_permutations(d)
    k = max(int(np.sum(p != np.arange(d.n_states))) for p in perms)
    bound = max(k - 1, 1)
    construction = f"{lrnn.depth}x{lrnn.width} n_h={lrnn.n_h} (bound {max(k - 1, 0)})"
    data = {"layers": lrnn.depth, "width": lrnn.width, "n_h": lrnn.n_h, "bound": k - 1}
    if lrnn.n_h > bound:
        return TheoremResult("thm3", FAIL, (("construction", construction + " OVER BOUND"),
                                            ("proof", "-"), ("fp", "-")),
                             f"n_h = {lrnn.n_h} exceeds the bound k - 1 = {k - 1}", data,
                             failed_column="construction")
    cert = verify(lrnn, dfa)
    if not cert.ok:
        return TheoremResult("thm3", FAIL, (("construction", construction),
                                            ("proof", f"FAIL ({cert.kind})"), ("fp", "-")),
                             cert.summary(), data, failed_column="proof")
    data["reachable"] = cert.reachable
    fp_problems = _fp_against_dfa(lrnn, d, formats)
    fp_text = "FAIL" if fp_problems else f"{'/'.join(_SHORT.get(f, f) for f in formats)} = DFA"
    cols = (("construction", construction), ("proof", f"proved: {cert.reachable} states"),
            ("fp", fp_text))
    if fp_problems:
        return TheoremResult("thm3", FAIL, cols, "; ".join(fp_problems), data,
                             failed_column="fp")
    return TheoremResult("thm3", PASS, cols,
                         f"{cert.summary()}; in {', '.join(formats)} every a^t has the DFA's "
                         "eventual period and outputs", data)


def _fp_against_dfa(lrnn: Any, d: Any, formats: Sequence[str]) -> list[str]:
    from .finite_precision import eventual_period, from_lrnn, run

    periods = unary_periods(d)
    fp = from_lrnn(lrnn, output="accept")
    delta, acc = d.transitions, d.accepting
    problems = []
    for fmt in formats:
        for ai, a in enumerate(d.alphabet):
            mu_d, lam_d, _ = periods[a]
            r = eventual_period(fp, (a,), fmt)
            if (r.pre_period, r.period) != (mu_d, lam_d):
                problems.append(f"{fmt}: state under {a}^t has pre-period {r.pre_period} and "
                                f"period {r.period}, the DFA {mu_d} and {lam_d}")
                continue
            tr = run(fp, (a,) * (mu_d + lam_d + 1), fmt)
            q = int(d.start)
            for t, out in enumerate(tr.outputs, start=1):
                q = int(delta[q, ai])
                if out != bool(acc[q]):
                    problems.append(f"{fmt}: output on {a}^{t} is {out}, the DFA says "
                                    f"{bool(acc[q])}")
                    break
    return problems


# ============================================================================ Theorem 4


def _check_thm4(dfa: Any) -> TheoremResult:
    """Theorem 4 (every regular language by a Krohn-Rhodes cascade of permutation-reset
    layers) is not implemented yet: the check says so, with its own status (never a pass).

    Examples
    --------
    >>> from statetrack.automata import DFA
    >>> r = _check_thm4(DFA([[0, 1], [1, 0]], accepting=[1], alphabet="01"))
    >>> r.status, r.passed, r.failed
    ('not implemented', False, False)
    """
    _minimal(dfa)
    return TheoremResult("thm4", NOT_IMPLEMENTED, (("cascade", "not implemented"),),
                         "the Krohn-Rhodes cascade construction (Theorem 4) is a later issue")


# ============================================================================ the registry


REGISTRY: dict[str, Theorem] = {
    "prop1": Theorem(
        "prop1", "Proposition 1",
        "Every product of GH matrices has spectral norm <= 1; every matrix of norm <= 1 is a "
        "product of at most 3n GH factors; orthogonal matrices of at most n reflections; a "
        "permutation moving m points of m - c reflections (c = non-trivial cycles).",
        Source(_GRAZZI, "2411.12537", "Proposition 1"), _check_prop1, ("GH",)),
    "thm1": Theorem(
        "thm1", "Theorem 1",
        "A finite-precision LRNN (any depth) recognizes parity only if in some layer some A(x) "
        "has an eigenvalue that is not a non-negative real.",
        Source(_GRAZZI, "2411.12537", "Theorem 1"), _check_thm1, ("T1",)),
    "thm2": Theorem(
        "thm2", "Theorem 2",
        "A finite-precision LRNN counts modulo m (m not a power of 2) only if in some layer i "
        "some product A(x_1)...A(x_{2^(i-1)}) has a non-real eigenvalue; real diagonal or "
        "triangular matrices cannot, even with negative entries.",
        Source(_GRAZZI, "2411.12537", "Theorem 2"), _check_thm2, ("T2",)),
    "thm3": Theorem(
        "thm3", "Theorem 3",
        "An automaton whose transition monoid is a group is implemented by one LRNN layer with "
        "A(a) in M_{k-1}({-1, 1}) (k = most states moved by one letter), B = 0, and a one-hot "
        "readout.",
        Source(_GRAZZI, "2411.12537", "Theorem 3"), _check_thm3, ("construction", "proof", "fp")),
    "thm4": Theorem(
        "thm4", "Theorem 4",
        "Every regular language is recognized by an LRNN with at most 2^|Q| layers of width "
        "<= |Q|, A(x) in M_n([-1, 1]) and non-negative integer B, via a Krohn-Rhodes cascade of "
        "permutation-reset automata.",
        Source(_GRAZZI, "2411.12537", "Theorem 4"), _check_thm4, ("cascade",)),
}


def get(key: str) -> Theorem:
    """The registry entry ``key``.

    >>> get("thm3").name
    'Theorem 3'
    >>> get("thm9")
    Traceback (most recent call last):
    ...
    statetrack.theory.errors.UnknownTheoremError: no theorem 'thm9' in the registry; known: prop1, thm1, thm2, thm3, thm4
    """
    try:
        return REGISTRY[key]
    except (KeyError, TypeError):
        raise UnknownTheoremError(f"no theorem {key!r} in the registry; known: "
                                  f"{', '.join(REGISTRY)}") from None


def check(key: str, dfa: Any) -> TheoremResult:
    """Run one theorem's check on a DFA."""
    return get(key).check(dfa)


def run_all(dfa: Any) -> list[ColumnResult]:
    """Run every registry entry on ``dfa``; one :class:`ColumnResult` per table column.

    A failure is attached to the column it concerns (``failed`` is True there only).
    """
    out = []
    for thm in REGISTRY.values():
        res = thm.check(dfa)
        for col, summary in res.columns:
            failed = res.failed and (res.failed_column in (None, col))
            out.append(ColumnResult(thm.name, col, summary, res.detail, res.status, failed))
    return out
