"""Hypothesis strategies for DFAs and words (public: use them in your own property tests).

The API follows hypothesis's own style: functions returning a ``SearchStrategy``, every bound
keyword-only, bounds checked when the strategy is created.

Shrinking: a DFA is drawn as a list with one record per state -- a key, its successors on up
to the largest alphabet size, and whether it accepts -- then the alphabet, then the start.
Successors and the start are not state indices but numbers resolved to the state with the
next key (cyclically), so deleting a record, hypothesis's favourite shrink, leaves a valid DFA
in which only the transitions into the deleted state move. Examples therefore shrink toward
fewer states, then a smaller alphabet, then transitions into state 0 (missing transitions for
``complete=False``), start state 0 and no accepting states. :func:`permutation_dfas` draws a
sort key per state and letter (a letter sends each state to the rank of its key), so deletion
keeps the other states' relative order and letters shrink toward the identity. Words shrink
toward shorter words over the first symbol.

* :func:`dfas` -- DFAs with bounded states and alphabet, complete or partial;
* :func:`permutation_dfas` -- DFAs in which every letter permutes the states (their transition
  monoid is a group);
* :func:`words` -- words over a DFA's alphabet, as tuples of symbols;
* :func:`regexes` -- patterns of the regex dialect of :mod:`statetrack.automata.regex`
  (defined in ``statetrack.automata._regex_strategies``, re-exported here).

Examples
--------
>>> from hypothesis import given, settings, strategies as st
>>> from statetrack.automata.strategies import dfas, words
>>> @settings(max_examples=25, derandomize=True, database=None, deadline=None)
... @given(st.data())
... def check_minimize_preserves_language(data):
...     d = data.draw(dfas(max_states=5))
...     w = data.draw(words(d, max_size=6))
...     assert d.minimize().accepts(w) == d.accepts(w)
>>> check_minimize_preserves_language()
"""

from __future__ import annotations

import string
from typing import Any, Sequence

import numpy as np
from hypothesis import strategies as st

from ._regex_strategies import regexes
from .dfa import DFA, _check_alphabet
from .errors import StrategyArgumentError

__all__ = ["dfas", "permutation_dfas", "words", "regexes", "default_alphabet"]


def default_alphabet(size: int) -> tuple[str, ...]:
    """The symbols the strategies use when no alphabet is given: ``a, b, c, ...``.

    Beyond 26 symbols they are ``s0, s1, ...`` (multi-character symbols; words given as text
    are then split on whitespace, see :mod:`statetrack.automata.dfa`).

    Examples
    --------
    >>> default_alphabet(3)
    ('a', 'b', 'c')
    >>> default_alphabet(27)[:2]
    ('s0', 's1')
    """
    _check_int("size", size, 1)
    if size <= 26:
        return tuple(string.ascii_lowercase[:size])
    return tuple(f"s{i}" for i in range(size))


def _check_int(name: str, value: Any, lowest: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise StrategyArgumentError(f"{name} must be an int, got {value!r}")
    if value < lowest:
        raise StrategyArgumentError(f"{name} must be >= {lowest}, got {value}")
    return int(value)


def _check_range(low_name: str, low: Any, high_name: str, high: Any,
                 lowest: int) -> tuple[int, int]:
    low = _check_int(low_name, low, lowest)
    high = _check_int(high_name, high, lowest)
    if low > high:
        raise StrategyArgumentError(f"{low_name}={low} is larger than {high_name}={high}")
    return low, high


def _alphabets(alphabet: Sequence[str] | str | None, alphabet_size: int | None,
               min_alphabet_size: int, max_alphabet_size: int) -> tuple[st.SearchStrategy, int]:
    """A strategy of alphabets (tuples of symbols) and the largest size it can draw."""
    if alphabet is not None:
        symbols = _check_alphabet(alphabet, None)
        if (alphabet_size is not None
                and _check_int("alphabet_size", alphabet_size, 1) != len(symbols)):
            raise StrategyArgumentError(
                f"alphabet_size={alphabet_size} but the alphabet {list(symbols)} has "
                f"{len(symbols)} symbols"
            )
        return st.just(symbols), len(symbols)
    if alphabet_size is not None:
        size = _check_int("alphabet_size", alphabet_size, 1)
        return st.just(default_alphabet(size)), size
    low, high = _check_range("min_alphabet_size", min_alphabet_size, "max_alphabet_size",
                             max_alphabet_size, 1)
    return st.integers(low, high).map(default_alphabet), high


def dfas(
    *,
    alphabet_size: int | None = None,
    min_alphabet_size: int = 1,
    max_alphabet_size: int = 3,
    min_states: int = 1,
    max_states: int = 8,
    complete: bool = True,
    alphabet: Sequence[str] | str | None = None,
) -> st.SearchStrategy[DFA]:
    """A strategy of DFAs (not necessarily minimal, reachable or trim).

    Parameters
    ----------
    alphabet_size : int, optional
        Exact number of symbols (named ``a, b, ...``, see :func:`default_alphabet`).
    min_alphabet_size, max_alphabet_size : int
        Bounds on the number of symbols when neither ``alphabet_size`` nor ``alphabet`` is
        given.
    min_states, max_states : int
        Bounds on the number of states (``1 <= min_states <= max_states``).
    complete : bool
        If False, transitions may be missing (``-1``), as in a trimmed DFA.
    alphabet : str or sequence of str, optional
        The exact symbols (a string means one symbol per character).

    Returns
    -------
    SearchStrategy[DFA]
        Shrinks toward fewer states, then fewer symbols, then transitions into state 0
        (toward missing transitions if ``complete=False``), start 0 and nothing accepting.

    Raises
    ------
    StrategyArgumentError
        If a bound is not an int, is out of range, or the bounds contradict each other.
    AlphabetError
        If ``alphabet`` is empty or has duplicate or non-string symbols.

    Examples
    --------
    >>> from hypothesis import Phase, find, settings
    >>> quick = settings(database=None, derandomize=True, phases=[Phase.generate, Phase.shrink])
    >>> d = find(dfas(alphabet="ab", min_states=2), lambda d: d.accepts("ab"),
    ...          settings=quick)
    >>> d
    DFA(n_states=2, alphabet=['a', 'b'], start=0, accepting=[0])
    >>> d.transitions.tolist()
    [[0, 0], [0, 0]]
    >>> dfas(min_states=3, max_states=2)
    Traceback (most recent call last):
    ...
    statetrack.automata.errors.StrategyArgumentError: min_states=3 is larger than max_states=2
    """
    n_low, n_high = _check_range("min_states", min_states, "max_states", max_states, 1)
    alphabets, max_k = _alphabets(alphabet, alphabet_size, min_alphabet_size, max_alphabet_size)
    span = 4 * n_high  # name space of state keys; wide, so that few keys collide
    # partial: 0 stands for "missing", so transitions shrink toward missing ones
    target = st.integers(0, span - 1) if complete else st.integers(0, span)
    records = st.lists(st.tuples(st.integers(0, span - 1), st.tuples(*[target] * max_k),
                                 st.booleans()),
                       min_size=n_low, max_size=n_high)

    @st.composite
    def build(draw: Any) -> DFA:
        rows = draw(records)
        symbols = draw(alphabets)
        n, k = len(rows), len(symbols)
        resolve = _resolver(np.array([r[0] for r in rows], dtype=np.int64))
        raw = np.array([r[1][:k] for r in rows], dtype=np.int64).reshape(n, k)
        delta = resolve(raw) if complete else np.where(raw == 0, -1, resolve(raw - 1))
        start = int(resolve(np.array(draw(st.integers(0, span - 1)))))
        return DFA(delta, start, np.array([r[2] for r in rows], dtype=bool), symbols)

    return build()


def _resolver(keys: np.ndarray):
    """Map drawn targets to states: t goes to the state with the smallest key >= t (cyclic).

    Ties go to the lowest state index. Deleting a state's record only redirects the targets
    that resolved to it, which is what makes examples shrink toward fewer states.
    """
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]

    def resolve(t: np.ndarray) -> np.ndarray:
        pos = np.searchsorted(sorted_keys, t, side="left")
        return order[np.where(pos == len(keys), 0, pos)]

    return resolve


def permutation_dfas(
    *,
    alphabet_size: int | None = None,
    min_alphabet_size: int = 1,
    max_alphabet_size: int = 3,
    min_states: int = 1,
    max_states: int = 8,
    alphabet: Sequence[str] | str | None = None,
) -> st.SearchStrategy[DFA]:
    """A strategy of complete DFAs in which every letter is a permutation of the states.

    Their transition monoids are groups (permutation automata). Parameters, errors and
    shrinking are those of :func:`dfas`; each letter shrinks toward the identity.

    Examples
    --------
    >>> from hypothesis import Phase, find, settings
    >>> quick = settings(database=None, derandomize=True, phases=[Phase.generate, Phase.shrink])
    >>> d = find(permutation_dfas(alphabet="ab"), lambda d: d.accepts("a") != d.accepts(""),
    ...          settings=quick)
    >>> d.transitions.tolist(), d.accepting_states
    ([[1, 0], [0, 1]], (0,))
    """
    n_low, n_high = _check_range("min_states", min_states, "max_states", max_states, 1)
    alphabets, max_k = _alphabets(alphabet, alphabet_size, min_alphabet_size, max_alphabet_size)
    key = st.integers(0, n_high - 1)
    records = st.lists(st.tuples(st.tuples(*[key] * max_k), st.booleans()),
                       min_size=n_low, max_size=n_high)

    @st.composite
    def build(draw: Any) -> DFA:
        rows = draw(records)
        symbols = draw(alphabets)
        n, k = len(rows), len(symbols)
        keys = np.array([r[0][:k] for r in rows], dtype=np.int64).reshape(n, k)
        # letter a sends q to the rank of q's key in column a (ties by state index)
        delta = np.empty((n, k), dtype=np.int64)
        for a in range(k):
            delta[np.argsort(keys[:, a], kind="stable"), a] = np.arange(n)
        start = draw(st.integers(0, n_high - 1)) % n
        return DFA(delta, start, np.array([r[1] for r in rows], dtype=bool), symbols)

    return build()


def words(
    dfa_or_alphabet: DFA | Sequence[str] | str,
    *,
    min_size: int = 0,
    max_size: int = 20,
) -> st.SearchStrategy[tuple[str, ...]]:
    """A strategy of words (tuples of symbols) over a DFA's alphabet or a given alphabet.

    Every :class:`~statetrack.automata.DFA` method that takes a word accepts these tuples.

    Parameters
    ----------
    dfa_or_alphabet : DFA or str or sequence of str
        Where the symbols come from (a string means one symbol per character).
    min_size, max_size : int
        Bounds on the length.

    Raises
    ------
    StrategyArgumentError
        For bad length bounds or an argument that is neither a DFA nor an alphabet.
    AlphabetError
        If the alphabet is empty or has duplicate or non-string symbols.

    Examples
    --------
    >>> from hypothesis import Phase, find, settings
    >>> quick = settings(database=None, derandomize=True, phases=[Phase.generate, Phase.shrink])
    >>> find(words("ab", min_size=1), lambda w: "b" in w,
    ...      settings=quick)
    ('b',)
    >>> words("ab", min_size=-1)
    Traceback (most recent call last):
    ...
    statetrack.automata.errors.StrategyArgumentError: min_size must be >= 0, got -1
    """
    if isinstance(dfa_or_alphabet, DFA):
        symbols = dfa_or_alphabet.alphabet
    elif isinstance(dfa_or_alphabet, (str, list, tuple)):
        symbols = _check_alphabet(dfa_or_alphabet, None)
    else:
        raise StrategyArgumentError(
            f"words() needs a DFA or an alphabet (str or sequence of str), got "
            f"{type(dfa_or_alphabet).__name__}"
        )
    low, high = _check_range("min_size", min_size, "max_size", max_size, 0)
    return st.lists(st.sampled_from(symbols), min_size=low, max_size=high).map(tuple)
