r"""Theorem 3: one LRNN layer for every automaton whose transition monoid is a group.

Let ``D`` be a minimal complete DFA with states ``Q = {0, ..., n-1}`` in which every letter
``a`` permutes the states: ``pi_a(q) = delta(q, a)`` is a bijection. (Equivalently, the
transition monoid is a group: a finite monoid of bijections is closed under inverses.)

Construction (Grazzi et al. 2025, Theorem 3, in the unnormalized integer form):

* state ``H`` in ``R^{n x 1}`` (``K = n``, ``V = 1``), ``H_0 = e_{q_0}``;
* ``A(a) = P_a``, the permutation matrix with ``P_a e_q = e_{pi_a(q)}``, ``B(a) = 0``;
* readout ``o = H^T q`` with the query ``q = (c_0, ..., c_{n-1})``, ``c_p`` the p-th
  non-negative integer that bfloat16 represents exactly (:func:`readout_codes`: ``c_p = p``
  for ``p <= 256``, then every second integer up to 512, every fourth up to 1024, ...): for
  ``H = e_p`` the output is ``c_p``, exactly, even when a kernel returns its outputs in
  bfloat16; class ``p`` is DFA state ``p``. For at most 257 states ``o`` is the state index.

By induction ``H_t = e_{delta(q_0, w)}`` after any word ``w``: the map
``g(e_p) = p`` satisfies ``g(A(a) H + B(a)) = delta(g(H), a)`` on the reachable states
``{e_p}``, which is the proof obligation that :func:`statetrack.theory.proof.verify` checks.

Permutations as delta steps. The transposition of ``i`` and ``j`` is the GH factor
``T(i, j) = I - (e_i - e_j)(e_i - e_j)^T`` (integer key ``e_i - e_j``, ``beta = 1``,
``beta ||k||^2 = 2``, eigenvalue -1). A cycle ``c_0 -> c_1 -> ... -> c_{L-1} -> c_0`` of
``pi`` is the composition, *first* ``(c_0 c_1)``, then ``(c_0 c_2)``, ..., *last*
``(c_0 c_{L-1})``: after the first ``s`` swaps, ``c_0`` holds what started at ``c_{s}``'s
predecessor chain — concretely the point starting at ``c_i`` (``i >= 1``) is untouched until
swap ``(c_0 c_i)`` moves it to ``c_0`` and swap ``(c_0 c_{i+1})`` moves it on to
``c_{i+1}``; the point at ``c_0`` goes to ``c_1`` at the first swap and stays; the point at
``c_{L-1}`` reaches ``c_0`` at the last swap. So a cycle of length ``L`` costs ``L - 1``
steps, and ``pi`` costs ``(points moved) - (non-trivial cycles) <= n - 1`` steps. As delta
steps applied in this order (step 1 first) the product is ``A(a) = G_{n_h} ... G_1 = P_a``;
:func:`group_construction` checks every letter's product exactly
(:func:`~statetrack.constructions.lrnn.check_product`) before returning.

All keys are in {0, 1, -1} and all betas are 1, so every float run in any binary format
(bfloat16 included) computes exactly the one-hot states: each sub-step computes
``u = beta (0 - k^T S)`` in {-1, 0, 1} and adds ``k u^T``, all small integers; the output is
the code ``c_p`` itself. :attr:`~statetrack.constructions.lrnn.LRNN.exact_in_floats` proves
this per model (:mod:`statetrack.constructions.float_exact`). One limit: float16's largest
finite value is 65504, and only the first :data:`FLOAT16_READOUT_LIMIT` = 1280 codes are
below it. With more states the query overflows to ``inf`` in float16 (``0 * inf`` is NaN:
every output would decode to class 0), so float16 runs of such a model are refused
(:class:`~statetrack.constructions.errors.FormatRangeError`); bfloat16, float32 and float64
hold every code.

The paper's normalized form (``normalized=True``): keys ``(e_i - e_j)/sqrt(2)``, ``beta = 2``;
the same matrices exactly, but ``1/sqrt(2)`` is rounded in floats, so float runs are no
longer exact (``exact_in_floats`` is False: no binary format holds ``1/sqrt(2)``).

Examples
--------
>>> from statetrack.automata import DFA
>>> from statetrack.constructions.group import group_construction
>>> z3 = DFA.from_function(0, "ab", lambda q, a: (q + (a == "a")) % 3, lambda q: q == 0)
>>> m = group_construction(z3)
>>> m.width, m.n_h, m.A("a")
(3, 2, Matrix([
[0, 0, 1],
[1, 0, 0],
[0, 1, 0]]))
>>> m.accepts("aaab"), m.accepts("ab")
(True, False)
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import sympy

from ..automata import DFA
from ._args import check_dfa, check_flag, check_text
from .errors import ConstructionSizeError, InputTypeError, NotAGroupError
from .lrnn import LRNN, DeltaStep, Layer, Readout, check_product

__all__ = [
    "letter_permutations", "first_non_permutation", "is_group_dfa", "permutation_cycles",
    "transposition_count", "transposition_steps", "permutation_target", "group_construction",
    "readout_codes", "FLOAT16_READOUT_LIMIT", "permutation_form_size", "MAX_KEY_ENTRIES",
    "check_key_budget",
]

#: Most key entries (``width * n_h * letters``) :func:`group_construction` builds: the keys
#: are held dense (a reference an entry: 1.6 GB at the budget; ``cyclic(4096)``'s 3.4e7 build
#: in about 2 s), so ``symmetric(8)``'s Cayley DFA (2.3e10 entries, 184 GB) is refused
#: before anything is built.
MAX_KEY_ENTRIES = 200_000_000

#: Most states whose readout codes (:func:`readout_codes`) float16 holds: the code of state
#: 1280 is 65536, above float16's largest finite value 65504.
FLOAT16_READOUT_LIMIT = 1280


def first_non_permutation(dfa: DFA) -> tuple[int, int, int, int] | None:
    """The first letter of the (complete) DFA that is not a permutation of its states.

    Returns ``(letter, p, q, r)`` with ``p != q`` both sent to ``r`` by the letter, or None
    when every letter is a permutation.

    Examples
    --------
    >>> first_non_permutation(DFA([[1, 0], [0, 0]], alphabet="ab"))
    (1, 0, 1, 0)
    """
    t = dfa.complete().transitions
    for a in range(t.shape[1]):
        col = t[:, a]
        seen: dict[int, int] = {}
        for p, r in enumerate(col.tolist()):
            if r in seen:
                return a, seen[r], p, r
            seen[r] = p
    return None


def is_group_dfa(dfa: DFA, *, minimize: bool = True) -> bool:
    """Whether the transition monoid of the (minimal, by default) DFA is a group.

    Examples
    --------
    >>> is_group_dfa(DFA([[1, 0], [0, 1]], alphabet="ab"))
    True
    >>> is_group_dfa(DFA([[1, 1], [1, 0]], accepting=[1], alphabet="ab"))
    False
    """
    check_dfa(dfa, "is_group_dfa")
    d = dfa.minimize() if check_flag(minimize, "minimize", "is_group_dfa") else dfa.complete()
    return first_non_permutation(d) is None


def letter_permutations(dfa: DFA) -> np.ndarray:
    """``[n_symbols, n_states]``: row ``a`` is the permutation ``q -> delta(q, a)``.

    The DFA is used as given (complete it or minimize it first as needed).

    Raises
    ------
    NotAGroupError
        Naming the first letter that is not a permutation, with two states it merges.

    Examples
    --------
    >>> z3 = DFA.from_function(0, "ab", lambda q, a: (q + (a == "a")) % 3, lambda q: q == 0)
    >>> letter_permutations(z3).tolist()  # 'a' adds 1 mod 3, 'b' is the identity
    [[1, 2, 0], [0, 1, 2]]
    >>> letter_permutations(DFA([[1, 1], [1, 0]], accepting=[1], alphabet="ab"))
    Traceback (most recent call last):
    ...
    statetrack.constructions.errors.NotAGroupError: letter 'a' is not a permutation of the 2 states of the minimal DFA (it sends both states 0 and 1 to state 1), so the transition monoid is not a group and Theorem 3's one-layer construction does not apply; this language needs the Krohn-Rhodes cascade construction (Theorem 4)
    """
    d = dfa.complete()
    bad = first_non_permutation(d)
    if bad is not None:
        a, p, q, r = bad
        raise NotAGroupError(
            f"letter {d.alphabet[a]!r} is not a permutation of the {d.n_states} states of the "
            f"minimal DFA (it sends both states {p} and {q} to state {r}), so the transition "
            f"monoid is not a group and Theorem 3's one-layer construction does not apply; "
            f"this language needs the Krohn-Rhodes cascade construction (Theorem 4)"
        )
    return np.ascontiguousarray(d.transitions.T)


def permutation_cycles(perm: Sequence[int]) -> list[tuple[int, ...]]:
    """The non-trivial cycles ``(c_0, c_1, ...)`` with ``perm[c_i] = c_{i+1}``.

    Stable public API (also used by :mod:`statetrack.theory.factorization`). Conventions:
    ``perm`` is the map ``q -> perm[q]`` (the matrix ``P e_q = e_{perm[q]}``); each cycle
    starts at its smallest point ``c_0`` and follows ``perm``
    (``c_{i+1} = perm[c_i]``, ``perm[c_{L-1}] = c_0``); cycles are listed in increasing
    order of ``c_0``; fixed points are omitted.

    Raises
    ------
    InputTypeError
        ``perm`` is not a permutation of ``0 .. n-1``.

    Examples
    --------
    >>> permutation_cycles([1, 2, 0, 3, 5, 4])
    [(0, 1, 2), (4, 5)]
    """
    perm = _as_permutation(perm)
    seen = [False] * len(perm)
    cycles = []
    for s in range(len(perm)):
        if seen[s]:
            continue
        cyc = [s]
        seen[s] = True
        x = perm[s]
        while x != s:
            cyc.append(x)
            seen[x] = True
            x = perm[x]
        if len(cyc) > 1:
            cycles.append(tuple(cyc))
    return cycles


def _as_permutation(perm: Any) -> list[int]:
    try:
        p = [int(x) for x in perm]
    except (TypeError, ValueError):
        raise InputTypeError(f"perm: expected a sequence of integers, got "
                             f"{type(perm).__name__}") from None
    if sorted(p) != list(range(len(p))):
        raise InputTypeError(f"perm: {p[:20]}{' ...' if len(p) > 20 else ''} is not a "
                             f"permutation of 0..{len(p) - 1}")
    return p


def transposition_count(perm: Sequence[int]) -> int:
    """Points moved minus non-trivial cycles: the number of swaps :func:`transposition_steps`
    uses (the least possible number of transpositions).

    Examples
    --------
    >>> transposition_count([1, 2, 0, 3, 5, 4])
    3
    """
    return sum(len(c) - 1 for c in permutation_cycles(perm))


def _swap_key(n: int, i: int, j: int) -> tuple:
    key = [sympy.S.Zero] * n
    key[i], key[j] = sympy.S.One, sympy.S.NegativeOne
    return tuple(key)


def transposition_steps(perm: Sequence[int], *, normalized: bool = False) -> tuple[DeltaStep, ...]:
    """Delta steps whose GH product is the permutation matrix of ``perm``.

    Stable public API (also used by :mod:`statetrack.theory.factorization`). Conventions:

    * the matrix is ``P`` with ``P e_q = e_{perm[q]}``;
    * the steps are in *application order*: step 1 is applied first, so
      ``P = G_m ... G_2 G_1`` (the order of
      :func:`~statetrack.constructions.lrnn.product` and of the kernels' sub-steps);
    * for each cycle ``(c_0, ..., c_{L-1})`` of :func:`permutation_cycles` (in that order),
      the swaps ``(c_0 c_1), (c_0 c_2), ..., (c_0 c_{L-1})``, in that order (``L - 1``
      steps; see the module docstring for why this composes to the cycle);
    * each step is the swap ``I - (e_i - e_j)(e_i - e_j)^T`` with integer key
      ``e_i - e_j`` (``i = c_0``) and beta 1, or, if ``normalized``, the same matrix with
      unit key ``(e_i - e_j)/sqrt(2)`` and beta 2;
    * the identity gives ``()``; the count is :func:`transposition_count`, the least
      possible.

    Raises
    ------
    InputTypeError
        ``perm`` is not a permutation of ``0 .. n-1``.

    Examples
    --------
    >>> [s.key for s in transposition_steps([1, 2, 0])]
    [(1, -1, 0), (1, 0, -1)]
    >>> from statetrack.constructions.lrnn import product
    >>> product(transposition_steps([1, 2, 0]))  # P e_0 = e_1, P e_1 = e_2, P e_2 = e_0
    Matrix([
    [0, 0, 1],
    [1, 0, 0],
    [0, 1, 0]])
    """
    perm = _as_permutation(perm)
    normalized = check_flag(normalized, "normalized", "transposition_steps")
    n = len(perm)
    steps = []
    for cyc in permutation_cycles(perm):
        c0 = cyc[0]
        for ci in cyc[1:]:
            s = DeltaStep(key=_swap_key(n, c0, ci), beta=1)
            steps.append(s.normalized() if normalized else s)
    return tuple(steps)


def permutation_target(perm: Sequence[int]) -> dict[tuple[int, int], int]:
    """The permutation matrix ``P`` (``P e_q = e_{perm[q]}``) as a sparse dict.

    Examples
    --------
    >>> permutation_target([1, 2, 0])
    {(1, 0): 1, (2, 1): 1, (0, 2): 1}
    """
    return {(int(perm[q]), q): 1 for q in range(len(perm))}


def readout_codes(n: int) -> list[int]:
    """The first ``n`` non-negative integers that bfloat16 (8 significant bits) represents.

    They are also exact in float16 up to 65504 and in float32/float64.

    Examples
    --------
    >>> readout_codes(3), readout_codes(260)[-5:]
    ([0, 1, 2], [255, 256, 258, 260, 262])
    """
    out: list[int] = []
    x = 0
    while len(out) < n:
        out.append(x)
        step = 1 if x < 256 else 1 << (x.bit_length() - 8)
        x += step
    return out


def permutation_form_size(dfa: DFA, *, minimize: bool = True) -> tuple[int, int]:
    """``(width, n_h)`` of :func:`group_construction`'s model, without building it: the
    states of the (minimal) DFA and the most transpositions a letter needs.

    Raises
    ------
    NotAGroupError
        When some letter of the (minimal) DFA is not a permutation.

    Examples
    --------
    >>> from statetrack.automata import families
    >>> permutation_form_size(families.get("symmetric(4)"))   # 24 states; a swap: 12 pairs
    (24, 12)
    """
    check_dfa(dfa, "permutation_form_size")
    d = dfa.minimize() if minimize else dfa.complete()
    return d.n_states, _most_transpositions(letter_permutations(d))


def _most_transpositions(perms: Sequence | np.ndarray) -> int:
    """``n_h`` of the transposition steps of these letter permutations (0 for none)."""
    return max((transposition_count(list(p)) for p in perms), default=0)


def check_key_budget(perms: Sequence | np.ndarray, form: str, hint: str = "") -> int:
    """``n_h`` of the steps of ``perms`` (letter permutations of ``width`` points), or
    :class:`ConstructionSizeError` when those steps would hold more than
    :data:`MAX_KEY_ENTRIES` key entries (``width * n_h * letters``); ``form`` opens the
    message ("the permutation form of ..."), ``hint`` ends it. Checked before any step is
    built, by every form made of transposition steps.

    >>> check_key_budget([[1, 2, 0]], "the permutation form")
    2
    """
    n_h = _most_transpositions(perms)
    width = len(perms[0]) if len(perms) else 0
    entries = width * n_h * len(perms)
    if entries > MAX_KEY_ENTRIES:
        raise ConstructionSizeError(
            f"{form} would have width {width} and n_h {n_h}: {entries:.2g} exact key entries "
            f"over {len(perms)} letters, past "
            f"the budget of {MAX_KEY_ENTRIES:.0e} (MAX_KEY_ENTRIES){hint}")
    return n_h


def group_construction(dfa: DFA, *, normalized: bool = False, minimize: bool = True,
                       name: str = "") -> LRNN:
    """Theorem 3: the one-layer LRNN of a DFA whose transition monoid is a group.

    Parameters
    ----------
    dfa : DFA
    normalized : bool
        Unit keys and beta 2 (the paper's form; inexact in floats) instead of integer keys.
    minimize : bool
        Minimize first (default). With ``False`` the DFA is used as given (completed); it
        must still have only permutation letters.
    name : str
        Stored on the model.

    Returns
    -------
    LRNN
        One layer, ``K = n`` states, ``V = 1``, ``n_h = max_a transposition_count(a)``
        ``<= n - 1`` (0 when every letter is the identity, e.g. a one-state DFA; the
        exporters then pad with one identity step), ``form="permutation"``;
        ``state_map[c] = c`` refers to the states of the minimal (canonically numbered) DFA.

    Raises
    ------
    NotAGroupError
        When some letter of the minimal DFA is not a permutation.
    ConstructionSizeError
        When the model would hold more than :data:`MAX_KEY_ENTRIES` key entries (checked
        before anything is built).

    Examples
    --------
    >>> parity = DFA([[0, 1], [1, 0]], accepting=[1], alphabet="01")
    >>> m = group_construction(parity)
    >>> [s.key for s in m.layers[0].steps[1]], m.layers[0].steps[0][0].is_identity
    ([(1, -1)], True)
    """
    check_dfa(dfa, "group_construction")
    normalized = check_flag(normalized, "normalized", "group_construction")
    minimize = check_flag(minimize, "minimize", "group_construction")
    name = check_text(name, "name", "group_construction")
    d = dfa.minimize() if minimize else dfa.complete()
    perms = letter_permutations(d)
    n = d.n_states
    check_key_budget(perms, f"the permutation form of this {n}-state group DFA",
                     "; the faithful form (form='faithful') is as narrow as the group's least "
                     "faithful permutation representation")
    steps = []
    for a, perm in enumerate(perms):
        st = transposition_steps(perm, normalized=normalized)
        check_product(st, permutation_target(perm), where=f"letter {d.alphabet[a]!r}")
        steps.append(st)
    h0 = sympy.ImmutableMatrix(n, 1, [sympy.S.One if q == d.start else sympy.S.Zero
                                      for q in range(n)])
    labels = [d.state_label(q) for q in range(n)]
    layer = Layer(tokens=d.alphabet, steps=steps, initial_state=h0,
                  readout=Readout(query=readout_codes(n), codes=[[c] for c in readout_codes(n)],
                                  labels=labels))
    return LRNN(alphabet=d.alphabet, layers=(layer,), accepting=tuple(bool(x) for x in d.accepting),
                state_map=tuple(range(n)), form="permutation",
                name=name)
