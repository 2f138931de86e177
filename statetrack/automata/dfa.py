"""Deterministic finite automata.

A :class:`DFA` is immutable. Its transition table is a numpy integer array
``[n_states, n_symbols]``; entry ``-1`` marks a missing transition (a *partial* DFA, as
:meth:`DFA.trim` produces); :meth:`DFA.complete` adds a sink. Symbols are strings.

Words
-----
Every method that takes a word accepts

* a ``str`` -- one symbol per character when every symbol is one character long, otherwise
  the string is split on whitespace (``"push pop"``);
* a sequence of symbols (``["a", "b"]``) or of symbol indices (``[0, 1]``);
* a 1-D numpy integer array of symbol indices.

Examples
--------
>>> from statetrack.automata import DFA
>>> parity = DFA([[0, 1], [1, 0]], start=0, accepting=[1], alphabet=["0", "1"])
>>> parity.accepts("1101")
True
>>> parity.run(["", "1", "11"]).final_states.tolist()
[0, 1, 0]
>>> parity.complement().accepts("11")
True
"""

from __future__ import annotations

import json
import os
from collections import deque
from dataclasses import dataclass
from os import PathLike
from typing import Any, Callable, Hashable, Iterable, Sequence

import numpy as np

from .alphabet import Alphabet, show_word
from ..errors import type_phrase, unknown_field
from .errors import (
    AcceptingStatesError,
    AutomatonArgumentError,
    AlphabetError,
    AutomatonLabelError,
    AutomatonSizeError,
    SerializationError,
    StartStateError,
    TransitionShapeError,
    TransitionTargetError,
    WordTypeError,
)

Word = "str | Sequence[str] | Sequence[int] | np.ndarray"

FORMAT_NAME = "statetrack.dfa"
FORMAT_VERSION = 1
SINK_LABEL = "sink"


@dataclass(frozen=True)
class RunResult:
    """What :meth:`DFA.run` returns for a batch of N words (of any lengths).

    Every batch runner of statetrack (:meth:`DFA.run`,
    :meth:`~statetrack.constructions.model.LRNN.evaluate_float` and
    :func:`statetrack.kernels.run`) takes words of different lengths and returns the same
    three things: ``lengths`` (``[N]``), ``accepted_final`` (``[N]`` bool, the verdict on each
    whole word) and ``final_states`` (``[N]``, the DFA state after each whole word), beside
    per-prefix arrays ``[N, T + 1]`` (T the longest length) that hold ``-1`` (states) or
    False (accept bits) beyond a word's length. Read a batch's verdicts from
    ``accepted_final``: the last column of a per-prefix array is only the verdict for the
    words of length T.

    Attributes
    ----------
    final_states : np.ndarray
        ``[N]`` state after each whole word (``-1``: fell off a partial DFA).
    states : np.ndarray
        ``[N, L + 1]`` with L the longest length; ``states[i, t]`` is the state after the
        first t symbols of word i for ``t <= lengths[i]``, and ``-1`` beyond.
    lengths : np.ndarray
        ``[N]`` word lengths.
    accepted : np.ndarray
        ``[N]`` bool, whether each word is accepted (the same array as
        :attr:`accepted_final`).
    accepted_prefixes : np.ndarray
        ``[N, L + 1]`` bool, the accept bit of every prefix, False beyond a word's length
        (the layout of ``accepted`` in the float and kernel runs).

    Examples
    --------
    >>> d = DFA([[1, 0], [0, 1]], accepting=[1], alphabet="ab")
    >>> r = d.run(["ab", "a", ""])
    >>> r.accepted_final.tolist(), r.lengths.tolist(), r.final_states.tolist()
    ([True, True, False], [2, 1, 0], [1, 1, 0])
    >>> r.accepted_prefixes.tolist()
    [[False, True, True], [False, True, False], [False, False, False]]
    """

    final_states: np.ndarray
    states: np.ndarray
    lengths: np.ndarray
    accepted: np.ndarray
    accepted_prefixes: np.ndarray

    @property
    def accepted_final(self) -> np.ndarray:
        """``[N]`` bool: whether each whole word is accepted (the name every batch runner
        uses; :attr:`accepted` is the same array)."""
        return self.accepted


def _readonly(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


class DFA:
    """An immutable deterministic finite automaton.

    Parameters
    ----------
    transitions : array_like of int, shape [n_states, n_symbols]
        ``transitions[q, a]`` is the successor of state q on symbol a, or -1 if missing.
    start : int
        The start state.
    accepting : array_like
        Either a boolean mask of length n_states or an iterable of accepting state indices.
    alphabet : sequence of str, optional
        The symbols, in column order. Defaults to ``"0", "1", ...``.
    labels : sequence of str, optional
        Display names of the states (kept by :meth:`complete` and :meth:`trim`).

    Raises
    ------
    TransitionShapeError, TransitionTargetError, StartStateError, AcceptingStatesError,
    AlphabetError
        When the arguments do not describe a DFA; the message says which entry is wrong.

    Examples
    --------
    >>> d = DFA([[1, 0], [1, 1]], start=0, accepting=[1], alphabet="ab")
    >>> d.n_states, d.alphabet
    (2, ('a', 'b'))
    >>> DFA([[0, 5]], start=0, accepting=[], alphabet="ab")
    Traceback (most recent call last):
    ...
    statetrack.automata.errors.TransitionTargetError: transition from state 0 on 'b' goes to 5, but states are 0..0 (-1 marks a missing transition)
    """

    __slots__ = ("_delta", "_start", "_accepting", "_alphabet", "_alpha", "_labels")

    def __init__(
        self,
        transitions: Any,
        start: int = 0,
        accepting: Any = (),
        alphabet: Sequence[str] | str | None = None,
        *,
        labels: Sequence[str] | None = None,
    ):
        delta = _check_transitions(transitions)
        n, k = delta.shape
        self._alphabet = _check_alphabet(alphabet, k)
        bad = np.argwhere((delta < -1) | (delta >= n))
        if bad.size:
            q, a = (int(x) for x in bad[0])
            raise TransitionTargetError(
                f"transition from state {q} on {self._alphabet[a]!r} goes to {int(delta[q, a])}, "
                f"but states are 0..{n - 1} (-1 marks a missing transition)"
            )
        if isinstance(start, (bool, np.bool_)) or not isinstance(start, (int, np.integer)):
            raise StartStateError(f"start state must be an int, got {type(start).__name__}")
        if not 0 <= int(start) < n:
            raise StartStateError(f"start state {int(start)} is not a state (states are 0..{n - 1})")
        self._delta = _readonly(delta)
        self._start = int(start)
        self._accepting = _readonly(_check_accepting(accepting, n))
        self._alpha = Alphabet(self._alphabet)
        if labels is not None:
            if isinstance(labels, str) or not isinstance(labels, Iterable):
                raise AutomatonLabelError(
                    f"labels must be a sequence of {n} strings, got {type(labels).__name__}"
                )
            labels = tuple(str(x) for x in labels)
            if len(labels) != n:
                raise AutomatonLabelError(f"labels has {len(labels)} entries for {n} states")
        self._labels = labels

    # ------------------------------------------------------------------ construction
    @classmethod
    def _trusted(cls, delta: np.ndarray, start: int, accepting: np.ndarray,
                 alphabet: tuple[str, ...], labels: tuple[str, ...] | None = None) -> "DFA":
        """A DFA from parts already known to be valid, without the checks or copies of
        ``__init__`` (internal: ``delta`` int64 ``[n, k]`` with entries in ``-1..n-1``,
        ``accepting`` a bool ``[n]`` array, both owned by the result from now on)."""
        self = object.__new__(cls)
        self._delta = _readonly(delta)
        self._start = int(start)
        self._accepting = _readonly(accepting)
        self._alphabet = alphabet
        self._alpha = Alphabet(alphabet)
        self._labels = labels
        return self

    @classmethod
    def from_function(
        cls,
        start: Hashable,
        alphabet: Sequence[str] | str,
        step: Callable[[Hashable, str], Hashable],
        accept: Callable[[Hashable], bool],
        *,
        max_states: int = 1_000_000,
        label: Callable[[Hashable], str] = str,
    ) -> "DFA":
        """Build the DFA of the states reachable from ``start`` under ``step``.

        States are numbered in breadth-first order (symbols in alphabet order), so the
        result is canonical for its reachable part.

        Examples
        --------
        >>> mod3 = DFA.from_function(0, "ab", lambda q, a: (q + (a == "a")) % 3, lambda q: q == 0)
        >>> mod3.n_states, mod3.accepts("aaab")
        (3, True)
        """
        alphabet = _check_alphabet(alphabet, None)
        ids: dict[Hashable, int] = {start: 0}
        order = [start]
        rows: list[list[int]] = []
        i = 0
        while i < len(order):
            q = order[i]
            row = []
            for a in alphabet:
                r = step(q, a)
                j = ids.get(r)
                if j is None:
                    j = ids[r] = len(order)
                    order.append(r)
                    if len(order) > max_states:
                        raise AutomatonSizeError(
                            f"more than max_states={max_states} states are reachable"
                        )
                row.append(j)
            rows.append(row)
            i += 1
        accepting = np.array([bool(accept(q)) for q in order], dtype=bool)
        return cls(np.array(rows, dtype=np.int64).reshape(len(order), len(alphabet)), 0,
                   accepting, alphabet, labels=[label(q) for q in order])

    # ------------------------------------------------------------------ properties
    @property
    def transitions(self) -> np.ndarray:
        """Read-only ``[n_states, n_symbols]`` int64 table (``-1``: missing)."""
        return self._delta

    @property
    def start(self) -> int:
        return self._start

    @property
    def accepting(self) -> np.ndarray:
        """Read-only boolean mask ``[n_states]``."""
        return self._accepting

    @property
    def accepting_states(self) -> tuple[int, ...]:
        return tuple(int(q) for q in np.flatnonzero(self._accepting))

    @property
    def alphabet(self) -> tuple[str, ...]:
        return self._alphabet

    @property
    def labels(self) -> tuple[str, ...] | None:
        return self._labels

    @property
    def n_states(self) -> int:
        return int(self._delta.shape[0])

    @property
    def n_symbols(self) -> int:
        return int(self._delta.shape[1])

    @property
    def is_complete(self) -> bool:
        return bool((self._delta >= 0).all())

    def state_label(self, q: int) -> str:
        return self._labels[q] if self._labels is not None else str(q)

    def letter(self, symbol: str | int) -> np.ndarray:
        """The transformation of one symbol: ``[n_states]`` array ``q -> delta(q, symbol)``."""
        return self._delta[:, self.symbol_index(symbol)]

    # ------------------------------------------------------------------ words
    @property
    def symbols(self) -> Alphabet:
        """The alphabet as an :class:`~statetrack.automata.alphabet.Alphabet` (the rule that
        splits words into symbols)."""
        return self._alpha

    def symbol_index(self, symbol: str | int) -> int:
        """Column of ``symbol`` (a symbol or an index); :class:`UnknownSymbolError` if absent."""
        return self._alpha.index(symbol)

    def encode(self, word: Any) -> np.ndarray:
        """A word as an int64 array of symbol indices.

        Examples
        --------
        >>> DFA([[0, 0]], alphabet="ab").encode("abba").tolist()
        [0, 1, 1, 0]
        >>> DFA([[0, 0]], alphabet="ab").encode("abc")
        Traceback (most recent call last):
        ...
        statetrack.automata.errors.UnknownSymbolError: symbol 'c' at position 2 is not in the alphabet ['a', 'b']
        """
        return self._alpha.encode(word)

    def decode(self, indices: Iterable[int]) -> tuple[str, ...]:
        """Symbol indices back to a tuple of symbols."""
        return self._alpha.decode(indices)

    def format_word(self, word: Any) -> str:
        """A word as display text: concatenated for one-character symbols, else spaced."""
        return self._alpha.format(self.encode(word))

    def _state(self, state: Any, what: str = "state") -> int:
        """``state`` as an int in range, else :class:`StartStateError`."""
        if isinstance(state, (bool, np.bool_)) or not isinstance(state, (int, np.integer)):
            raise StartStateError(f"{what} must be an int, got {type(state).__name__}")
        if not 0 <= int(state) < self.n_states:
            raise StartStateError(
                f"{what} {int(state)} is not a state (states are 0..{self.n_states - 1})"
            )
        return int(state)

    def step(self, state: int, symbol: str | int) -> int:
        """``delta(state, symbol)`` (``-1`` if missing)."""
        return int(self._delta[self._state(state), self.symbol_index(symbol)])

    def final_state(self, word: Any, state: int | None = None) -> int:
        """State reached from ``state`` (default: start) after ``word``; -1 if it falls off."""
        q = self._start if state is None else self._state(state)
        delta = self._delta
        for a in self.encode(word):
            q = int(delta[q, a])
            if q < 0:
                return -1
        return q

    def accepts(self, word: Any) -> bool:
        """Whether the DFA accepts ``word``."""
        q = self.final_state(word)
        return q >= 0 and bool(self._accepting[q])

    def run(self, words: Iterable[Any], *, start: int | None = None) -> RunResult:
        """Run a batch of words (any lengths) at once, vectorized over the batch.

        The result has the layout of every batch runner (:class:`RunResult`): ``lengths``,
        ``accepted_final`` and ``final_states`` per word, per-prefix arrays padded with -1 or
        False beyond a word's length. A bad word raises :class:`UnknownSymbolError` or
        :class:`WordTypeError` naming it (``words[i] = 'text'``) and the position in it; a
        single string is refused (:class:`WordTypeError`) rather than read as a batch of
        one-letter words, as in :meth:`LRNN.evaluate_float
        <statetrack.constructions.LRNN.evaluate_float>` and :func:`statetrack.kernels.run`.

        Examples
        --------
        >>> d = DFA([[1, 0], [0, 1]], accepting=[1], alphabet="ab")
        >>> d.run("ab")
        Traceback (most recent call last):
        ...
        statetrack.automata.errors.WordTypeError: words: got a single string 'ab'; run takes a batch (a list of words): wrap a single word in a list, or use accepts(word) for one verdict
        >>> d.run(["ab", "abc"])
        Traceback (most recent call last):
        ...
        statetrack.automata.errors.UnknownSymbolError: words[1] = 'abc': symbol 'c' at position 2 is not in the alphabet ['a', 'b']
        >>> r = d.run(["a", "ab", ""])
        >>> r.accepted.tolist(), r.states.tolist()
        ([True, True, False], [[0, 1, -1], [0, 1, 1], [0, -1, -1]])
        """
        if isinstance(words, str):
            raise WordTypeError(f"words: got a single string {show_word(words)}; run takes a "
                                f"batch (a list of words): wrap a single word in a list, or "
                                f"use accepts(word) for one verdict")
        if words is None or not hasattr(words, "__iter__"):
            raise WordTypeError(f"words: expected a batch (a list of words or a 2-D integer "
                                f"array), got {type(words).__name__}")
        sym, lengths = self._alpha.encode_batch(words, where="words[{i}] = {word}: ")
        return self._run_codes(sym, lengths, start)

    def _run_codes(self, sym: np.ndarray, lengths: np.ndarray, start: int | None) -> RunResult:
        n = self.n_states
        n_words, L = sym.shape
        dead = n  # an extra absorbing row stands for "fell off"
        table = np.vstack([np.where(self._delta < 0, dead, self._delta),
                           np.full((1, self.n_symbols), dead, dtype=np.int64)])
        states = np.full((n_words, L + 1), -1, dtype=np.int64)
        cur = np.full(n_words, self._start if start is None else self._state(start, "start"),
                      dtype=np.int64)
        states[:, 0] = cur
        for t in range(L):
            live = t < lengths
            cur = np.where(live, table[cur, sym[:, t]], cur)
            states[:, t + 1] = np.where(live, cur, -1)
        final = np.where(cur == dead, -1, cur)
        states[states == dead] = -1
        acc = np.concatenate([self._accepting, [False]])
        # acc[-1] is False: a state of -1 (beyond a word's end, or fell off) is not accepted
        return RunResult(final, states, lengths, acc[final], acc[states])

    # ------------------------------------------------------------------ structure
    def reachable_states(self) -> np.ndarray:
        """Indices of the states reachable from the start, in breadth-first order."""
        return self._bfs_numbering()[0].astype(np.int64)

    def _bfs_numbering(self) -> tuple[np.ndarray, np.ndarray]:
        """(order, new): reachable states in BFS order, and each state's BFS index or -1.

        Compiled (see :mod:`statetrack.automata.minimize`); both arrays are int32 when the
        table is small enough (``n * k < 2^31``), else int64.
        """
        from .minimize import _bfs_numbering, _index_dtype

        return _bfs_numbering(self._delta, self._start, _index_dtype(*self._delta.shape))

    def coreachable_mask(self) -> np.ndarray:
        """Boolean mask of the states from which an accepting state can be reached."""
        n = self.n_states
        src, sym = np.nonzero(self._delta >= 0)
        dst = self._delta[src, sym]
        order = np.argsort(dst, kind="stable")
        src, dst = src[order], dst[order]
        ptr = np.searchsorted(dst, np.arange(n + 1))
        mask = self._accepting.copy()
        stack: list[int] = np.flatnonzero(mask).tolist()
        while stack:
            q = stack.pop()
            for p in src[ptr[q]: ptr[q + 1]]:
                if not mask[p]:
                    mask[p] = True
                    stack.append(int(p))
        return mask

    def complete(self) -> "DFA":
        """The same language with every transition defined (adds a sink only if needed)."""
        if self.is_complete:
            return self
        n = self.n_states
        delta = np.vstack([np.where(self._delta < 0, n, self._delta),
                           np.full((1, self.n_symbols), n, dtype=np.int64)])
        labels = None if self._labels is None else self._labels + (SINK_LABEL,)
        return DFA._trusted(delta, self._start, np.append(self._accepting, False),
                            self._alphabet, labels)

    def trim(self) -> "DFA":
        """Keep only useful states (reachable and co-reachable); may return a partial DFA.

        The start state is always kept, so the empty language trims to one rejecting state
        with no transitions.
        """
        reach = np.zeros(self.n_states, dtype=bool)
        reach[self.reachable_states()] = True
        keep = reach & self.coreachable_mask()
        keep[self._start] = True
        return self._restrict(np.flatnonzero(keep))

    def _restrict(self, keep: np.ndarray) -> "DFA":
        new_id = np.full(self.n_states + 1, -1, dtype=np.int64)
        new_id[keep] = np.arange(len(keep))
        delta = new_id[self._delta[keep]]  # -1 indexes the trailing -1
        labels = None if self._labels is None else tuple(self._labels[i] for i in keep)
        return DFA._trusted(delta, int(new_id[self._start]), self._accepting[keep],
                            self._alphabet, labels)

    def canonical(self) -> "DFA":
        """Reachable part, states renumbered in breadth-first order from the start.

        Two minimal DFAs of the same language over the same alphabet order are equal
        (``==``) after :meth:`canonical`.
        """
        from .minimize import bfs_table

        order, delta = bfs_table(self._delta, self._start)
        labels = None if self._labels is None else tuple(self._labels[i] for i in order)
        return DFA._trusted(delta, 0, self._accepting[order], self._alphabet, labels)

    def minimize(self) -> "DFA":
        """The minimal complete DFA of the same language, canonically numbered.

        Uses Hopcroft's partition refinement (see :mod:`statetrack.automata.minimize`).

        Examples
        --------
        >>> d = DFA([[1, 2], [1, 2], [1, 2]], accepting=[1], alphabet="ab")
        >>> d.minimize().n_states
        2
        """
        from .minimize import _hopcroft_blocks, _index_dtype, _quotient_bfs, bfs_table

        c = self.complete()
        n, k = c._delta.shape
        idx = _index_dtype(n, k)
        order, table = bfs_table(c._delta, c._start, idx)  # the reachable part, canonical
        accepting = c._accepting[order]
        r = len(order)
        canonical = r == n and bool((order == np.arange(n)).all())
        del order
        block, n_blocks = _hopcroft_blocks(table, accepting, idx)
        if n_blocks == r:  # already minimal: the canonical table is the answer
            if canonical:
                return DFA._trusted(c._delta, 0, c._accepting, c._alphabet)  # (read-only)
            return DFA._trusted(table.astype(np.int64), 0, accepting, c._alphabet)
        delta, acc, m = _quotient_bfs(table, block, n_blocks, 0, accepting, idx)
        assert m == n_blocks  # every block holds a reachable state
        return DFA._trusted(delta, 0, acc, c._alphabet)

    def is_minimal(self) -> bool:
        """Whether this DFA is complete, all reachable, and has no equivalent states."""
        return self.is_complete and len(self.reachable_states()) == self.n_states and \
            self.minimize().n_states == self.n_states

    # ------------------------------------------------------------------ comparison
    def _aligned(self, other: "DFA") -> np.ndarray:
        """Other's transition table with columns in this DFA's alphabet order."""
        if not isinstance(other, DFA):
            raise AutomatonArgumentError(f"other: expected a DFA, got {type(other).__name__}")
        if set(other._alphabet) != set(self._alphabet):
            raise AlphabetError(
                f"alphabets differ: {sorted(self._alphabet)} vs {sorted(other._alphabet)}"
            )
        return other._delta[:, [other._alpha.index(s) for s in self._alphabet]]

    def distinguishing_word(self, other: "DFA") -> tuple[str, ...] | None:
        """A shortest word accepted by exactly one of the two DFAs, or None if equivalent.

        Breadth-first search over reachable pairs of states of the completed DFAs.

        Examples
        --------
        >>> even = DFA([[0, 1], [1, 0]], accepting=[0], alphabet="ab")
        >>> odd = even.complement()
        >>> even.distinguishing_word(odd)
        ()
        >>> even.distinguishing_word(even.minimize()) is None
        True
        """
        self._aligned(other)  # type and alphabet check first
        a, b = self.complete(), other.complete()
        da, db = a._delta, a._aligned(b)
        acc_a, acc_b = a._accepting, b._accepting
        nb = b.n_states
        k = a.n_symbols
        s0 = a._start * nb + b._start
        parent = {s0: (-1, -1)}
        queue = deque([s0])
        hit = None
        while queue:
            s = queue.popleft()
            p, q = divmod(s, nb)
            if acc_a[p] != acc_b[q]:
                hit = s
                break
            rp, rq = da[p], db[q]
            for c in range(k):
                t = int(rp[c]) * nb + int(rq[c])
                if t not in parent:
                    parent[t] = (s, c)
                    queue.append(t)
        if hit is None:
            return None
        word = []
        while parent[hit][0] != -1:
            hit, c = parent[hit]
            word.append(self._alphabet[c])
        return tuple(reversed(word))

    def is_equivalent(self, other: "DFA") -> bool:
        """Whether both DFAs accept the same language (see :meth:`distinguishing_word`)."""
        return self.distinguishing_word(other) is None

    def product(self, other: "DFA", accept: Callable[[bool, bool], bool]) -> "DFA":
        """Reachable product automaton, accepting where ``accept(in_self, in_other)``."""
        self._aligned(other)  # type and alphabet check first
        a, b = self.complete(), other.complete()
        db = a._aligned(b)
        pairs: dict[tuple[int, int], int] = {}
        order: list[tuple[int, int]] = []

        def ident(p: int, q: int) -> int:
            key = (p, q)
            i = pairs.get(key)
            if i is None:
                i = pairs[key] = len(order)
                order.append(key)
            return i

        ident(a._start, b._start)
        rows = []
        i = 0
        while i < len(order):
            p, q = order[i]
            rows.append([ident(int(x), int(y)) for x, y in zip(a._delta[p], db[q])])
            i += 1
        acc = np.array([bool(accept(bool(a._accepting[p]), bool(b._accepting[q])))
                        for p, q in order])
        return DFA(np.array(rows, dtype=np.int64).reshape(len(order), a.n_symbols), 0, acc,
                   a._alphabet)

    def union(self, other: "DFA") -> "DFA":
        return self.product(other, lambda x, y: x or y)

    def intersection(self, other: "DFA") -> "DFA":
        return self.product(other, lambda x, y: x and y)

    def difference(self, other: "DFA") -> "DFA":
        return self.product(other, lambda x, y: x and not y)

    def symmetric_difference(self, other: "DFA") -> "DFA":
        return self.product(other, lambda x, y: x != y)

    def complement(self) -> "DFA":
        """Same alphabet, accepting exactly the words this DFA rejects."""
        c = self.complete()
        return DFA(c._delta, c._start, ~c._accepting, c._alphabet, labels=c._labels)

    def is_empty(self) -> bool:
        """Whether the language is empty."""
        return not self._accepting[self.reachable_states()].any()

    # ------------------------------------------------------------------ equality, display
    def __eq__(self, other: object) -> bool:
        """Structural equality (same table, start, accepting set, alphabet order).

        For language equality use :meth:`is_equivalent`.
        """
        if not isinstance(other, DFA):
            return NotImplemented
        return (self._alphabet == other._alphabet and self._start == other._start
                and self._delta.shape == other._delta.shape
                and bool((self._delta == other._delta).all())
                and bool((self._accepting == other._accepting).all()))

    def __hash__(self) -> int:
        return hash((self._alphabet, self._start, self._delta.tobytes(),
                     self._accepting.tobytes()))

    def __repr__(self) -> str:
        return (f"DFA(n_states={self.n_states}, alphabet={list(self._alphabet)}, "
                f"start={self._start}, accepting={list(self.accepting_states)[:10]}"
                f"{'...' if self._accepting.sum() > 10 else ''})")

    # ------------------------------------------------------------------ serialization
    def to_dict(self) -> dict:
        """A JSON-ready dict (see :meth:`from_dict` for the format)."""
        d = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "alphabet": list(self._alphabet),
            "n_states": self.n_states,
            "start": self._start,
            "accepting": list(self.accepting_states),
            "transitions": self._delta.tolist(),
        }
        if self._labels is not None:
            d["labels"] = list(self._labels)
        return d

    def to_json(self, path: str | PathLike | None = None, *, indent: int | None = None) -> str:
        """Serialize; write to ``path`` if given. Round-trips exactly via :meth:`from_json`."""
        text = json.dumps(self.to_dict(), indent=indent)
        if path is not None:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text + "\n")
        return text

    @classmethod
    def from_dict(cls, d: Any, *, source: str = "input") -> "DFA":
        """Load the dict written by :meth:`to_dict`.

        Format (version 1): ``{"format": "statetrack.dfa", "version": 1, "alphabet": [str],
        "n_states": int, "start": int, "accepting": [int], "transitions": [[int]],
        "labels": [str] (optional)}``.

        Raises
        ------
        SerializationError
            Naming the field that is missing or malformed.
        """
        if not isinstance(d, dict):
            raise SerializationError(f"{source}: expected a JSON object, got {type(d).__name__}")
        if d.get("format") != FORMAT_NAME:
            raise SerializationError(
                f"{source}: not a statetrack DFA (field 'format' is {d.get('format')!r}, "
                f"expected {FORMAT_NAME!r})"
            )
        if type(d.get("version")) is not int or d["version"] != FORMAT_VERSION:  # not true, 1.0
            raise SerializationError(
                f"{source}: unsupported version {d.get('version')!r} (this reader knows "
                f"{FORMAT_VERSION})"
            )
        bad = unknown_field(d, ("format", "version", "alphabet", "n_states", "start",
                                "accepting", "transitions", "labels"), source)
        if bad:
            raise SerializationError(bad)
        for key, typ in (("alphabet", list), ("n_states", int), ("start", int),
                         ("accepting", list), ("transitions", list)):
            if key not in d:
                raise SerializationError(f"{source}: missing field {key!r}")
            if not isinstance(d[key], typ) or isinstance(d[key], bool):
                raise SerializationError(
                    f"{source}: field {key!r} must be {type_phrase(typ)}, got "
                    f"{type(d[key]).__name__}"
                )
        if not d["alphabet"]:
            raise SerializationError(
                f"{source}: field 'alphabet' is empty (a DFA needs at least one symbol)")
        n = d["n_states"]
        rows = d["transitions"]
        if len(rows) != n:
            raise SerializationError(
                f"{source}: field 'transitions' has {len(rows)} rows but n_states is {n}"
            )
        k = len(d["alphabet"])
        for i, row in enumerate(rows):
            if not isinstance(row, list) or len(row) != k or not all(
                    isinstance(x, int) and not isinstance(x, bool) for x in row):
                raise SerializationError(
                    f"{source}: transitions row {i} must be a list of {k} integers"
                )
        if not all(isinstance(x, int) and not isinstance(x, bool) for x in d["accepting"]):
            raise SerializationError(f"{source}: field 'accepting' must list state indices")
        labels = d.get("labels")
        if labels is not None and not (isinstance(labels, list)
                                       and all(isinstance(x, str) for x in labels)):
            raise SerializationError(f"{source}: field 'labels' must be a list of strings")
        try:
            delta = np.array(rows, dtype=np.int64).reshape(n, k)
            return cls(delta, d["start"], np.array(d["accepting"], dtype=np.int64),
                       d["alphabet"], labels=labels)
        except SerializationError:
            raise
        except OverflowError as e:
            raise SerializationError(
                f"{source}: an integer in 'transitions' or 'accepting' does not fit in 64 bits"
            ) from e
        except (ValueError, TypeError) as e:
            raise SerializationError(f"{source}: {e}") from e

    @classmethod
    def from_json(cls, text_or_path: str | PathLike) -> "DFA":
        """Load a DFA from JSON text or from a path to a JSON file.

        Examples
        --------
        >>> d = DFA([[0, 1], [1, 0]], accepting=[1], alphabet="01")
        >>> DFA.from_json(d.to_json()) == d
        True
        >>> DFA.from_json('{"format": "other"}')
        Traceback (most recent call last):
        ...
        statetrack.automata.errors.SerializationError: input: not a statetrack DFA (field 'format' is 'other', expected 'statetrack.dfa')
        >>> DFA.from_json(d.to_dict())
        Traceback (most recent call last):
        ...
        statetrack.automata.errors.SerializationError: text_or_path: expected JSON text or a path, got dict; load a parsed JSON object with DFA.from_dict
        """
        if isinstance(text_or_path, dict):
            raise SerializationError("text_or_path: expected JSON text or a path, got dict; "
                                     "load a parsed JSON object with DFA.from_dict")
        if not isinstance(text_or_path, (str, bytes, bytearray, PathLike)):
            raise SerializationError(f"text_or_path: expected JSON text or a path, got "
                                     f"{type(text_or_path).__name__}")
        source = "input"
        text: Any = text_or_path
        if isinstance(text_or_path, PathLike) or (
                isinstance(text_or_path, str)
                and (not text_or_path.lstrip().startswith(("{", "["))
                     or ("\n" not in text_or_path and os.path.isfile(text_or_path)))):
            source = str(text_or_path)
            try:
                with open(text_or_path, encoding="utf-8") as f:
                    text = f.read()
            except FileNotFoundError as e:
                if isinstance(text_or_path, str):    # text that is neither JSON nor a file
                    raise SerializationError(
                        f"{source}: neither JSON text (which starts with '{{') nor the path of "
                        f"an existing file") from e
                raise SerializationError(f"{source}: cannot read ({e.strerror})") from e
            except OSError as e:
                raise SerializationError(f"{source}: cannot read ({e.strerror})") from e
            except UnicodeDecodeError as e:
                raise SerializationError(
                    f"{source}: not UTF-8 text (byte {e.start}: {e.reason})"
                ) from e
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise SerializationError(
                f"{source}: invalid JSON at line {e.lineno} column {e.colno}: {e.msg}"
            ) from e
        return cls.from_dict(data, source=source)

    def to_dot(self, *, name: str = "dfa") -> str:
        """Graphviz DOT text (one edge per state pair, symbols joined by commas).

        Examples
        --------
        >>> print(DFA([[0, 1], [1, 0]], accepting=[1], alphabet="01").to_dot())
        digraph dfa {
          rankdir=LR;
          __start [shape=point];
          __start -> q0;
          q0 [label="0", shape=circle];
          q1 [label="1", shape=doublecircle];
          q0 -> q0 [label="0"];
          q0 -> q1 [label="1"];
          q1 -> q1 [label="0"];
          q1 -> q0 [label="1"];
        }
        """
        if not isinstance(name, str):
            raise AutomatonArgumentError(f"to_dot: name must be a str, got {name!r} "
                                         f"({type(name).__name__})")
        lines = [f"digraph {name} {{", "  rankdir=LR;", "  __start [shape=point];",
                 f"  __start -> q{self._start};"]
        for q in range(self.n_states):
            shape = "doublecircle" if self._accepting[q] else "circle"
            lab = json.dumps(self.state_label(q))
            lines.append(f"  q{q} [label={lab}, shape={shape}];")
        for q, edges in enumerate(self._grouped_edges()):
            for r, syms in edges.items():
                lines.append(f"  q{q} -> q{r} [label={json.dumps(','.join(syms))}];")
        lines.append("}")
        return "\n".join(lines)

    def _grouped_edges(self) -> list[dict[int, list[str]]]:
        out = []
        for q in range(self.n_states):
            edges: dict[int, list[str]] = {}
            for a, r in enumerate(self._delta[q]):
                if r >= 0:
                    edges.setdefault(int(r), []).append(self._alphabet[a])
            out.append(edges)
        return out

    def to_networkx(self):
        """A ``networkx.MultiDiGraph`` with one edge per transition (attribute ``symbol``)."""
        import networkx as nx

        g = nx.MultiDiGraph()
        for q in range(self.n_states):
            g.add_node(q, label=self.state_label(q), accepting=bool(self._accepting[q]),
                       start=q == self._start)
        for q, a in zip(*np.nonzero(self._delta >= 0)):
            g.add_edge(int(q), int(self._delta[q, a]), symbol=self._alphabet[a])
        return g

    def draw(self, ax=None, *, layout: str = "kamada_kawai", max_states: int = 60):
        """Draw the DFA with matplotlib (networkx layout); returns the Axes.

        Accepting states have a double ring, the start state an incoming arrow.
        """
        import matplotlib.pyplot as plt
        import networkx as nx
        from matplotlib.patches import Circle, FancyArrowPatch

        if self.n_states > max_states:
            raise AutomatonSizeError(
                f"{self.n_states} states is too many to draw (max_states={max_states})"
            )
        if ax is None:
            _, ax = plt.subplots(figsize=(1.6 + 1.1 * min(self.n_states, 12),) * 2)
        g = nx.DiGraph()
        g.add_nodes_from(range(self.n_states))
        grouped = self._grouped_edges()
        for q, edges in enumerate(grouped):
            for r in edges:
                g.add_edge(q, r)
        layouts = {"kamada_kawai": nx.kamada_kawai_layout, "circular": nx.circular_layout,
                   "spring": lambda gg: nx.spring_layout(gg, seed=0), "shell": nx.shell_layout}
        if layout not in layouts:
            raise AutomatonArgumentError(f"draw: unknown layout {layout!r}; choose from "
                                         f"{sorted(layouts)}")
        pos = layouts[layout](g) if self.n_states > 1 else {0: np.zeros(2)}
        rad = 0.09
        for q, (x, y) in pos.items():
            ax.add_patch(Circle((x, y), rad, fill=False, lw=1.4))
            if self._accepting[q]:
                ax.add_patch(Circle((x, y), rad * 0.8, fill=False, lw=1.0))
            ax.text(x, y, self.state_label(q), ha="center", va="center", fontsize=8)
        sx, sy = pos[self._start]
        ax.annotate("", xy=(sx - rad, sy), xytext=(sx - 3 * rad, sy),
                    arrowprops=dict(arrowstyle="->", lw=1.2))
        for q, edges in enumerate(grouped):
            for r, syms in edges.items():
                label = ",".join(syms)
                (x0, y0), (x1, y1) = pos[q], pos[r]
                if q == r:
                    ax.add_patch(Circle((x0, y0 + 1.6 * rad), 0.7 * rad, fill=False, lw=1.0))
                    ax.text(x0, y0 + 2.6 * rad, label, ha="center", fontsize=7, color="tab:blue")
                    continue
                curved = q in grouped[r]
                ax.add_patch(FancyArrowPatch((x0, y0), (x1, y1), arrowstyle="-|>",
                                             mutation_scale=10, shrinkA=22, shrinkB=22, lw=1.0,
                                             connectionstyle=f"arc3,rad={0.2 if curved else 0}"))
                mx, my = (x0 + x1) / 2, (y0 + y1) / 2
                if curved:
                    mx, my = mx + 0.1 * (y1 - y0), my - 0.1 * (x1 - x0)
                ax.text(mx, my, label, fontsize=7, color="tab:blue", ha="center")
        xs = np.array([p[0] for p in pos.values()])
        ys = np.array([p[1] for p in pos.values()])
        ax.set_xlim(xs.min() - 0.4, xs.max() + 0.4)
        ax.set_ylim(ys.min() - 0.4, ys.max() + 0.5)
        ax.set_aspect("equal")
        ax.axis("off")
        return ax


def _refuse_entry(rows: Sequence[Any], bad: Callable[[Any], bool]) -> None:
    """Raise naming the first entry of a table (a sequence of rows) for which ``bad``
    holds."""
    for q, row in enumerate(rows):
        if isinstance(row, (list, tuple)):
            for a, x in enumerate(row):
                if bad(x):
                    raise TransitionShapeError(f"transitions must hold integers: "
                                               f"row {q}, column {a} is {x!r}")


def _check_transitions(transitions: Any) -> np.ndarray:
    if isinstance(transitions, (list, tuple)):
        lengths = [len(r) if isinstance(r, (list, tuple, np.ndarray)) else None
                   for r in transitions]
        if any(n is not None for n in lengths) and len(set(lengths)) > 1:
            q = next(i for i, n in enumerate(lengths) if n != lengths[0])
            raise TransitionShapeError(
                f"transitions has ragged rows: row 0 has {lengths[0]} "
                f"entr{'y' if lengths[0] == 1 else 'ies'}, row {q} "
                + ("is not a list" if lengths[q] is None else
                   f"has {lengths[q]} entr{'y' if lengths[q] == 1 else 'ies'}"))
        # numpy would turn a bool into an int and a str into a string table: name them here
        _refuse_entry(transitions, lambda x: isinstance(x, (bool, np.bool_, str)) or x is None)
    try:
        arr = np.asarray(transitions)
    except (ValueError, TypeError):
        raise TransitionShapeError("transitions is not a rectangular table of integers "
                                   "[n_states, n_symbols]") from None
    if arr.dtype == object and arr.ndim == 2:
        _refuse_entry(arr.tolist(), lambda x: isinstance(x, (bool, np.bool_))
                      or not isinstance(x, (int, np.integer))
                      or not -1 <= x < np.iinfo(np.int64).max)
    if arr.dtype == object or arr.ndim != 2:
        raise TransitionShapeError(
            f"transitions must be a 2-D table [n_states, n_symbols], got shape {arr.shape}"
            + (" with ragged rows" if arr.dtype == object else "")
        )
    if arr.shape[0] == 0:
        raise TransitionShapeError("a DFA needs at least one state (transitions has 0 rows)")
    if arr.dtype.kind == "b" or not (np.issubdtype(arr.dtype, np.integer) or arr.size == 0):
        if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise TransitionShapeError(f"transitions must hold integers, got dtype {arr.dtype}")
    return np.array(arr, dtype=np.int64)  # always a private copy


def _check_alphabet(alphabet: Any, k: int | None) -> tuple[str, ...]:
    if alphabet is None:
        if k is None:
            raise AlphabetError("an alphabet is required")
        alphabet = [str(i) for i in range(k)]
    if isinstance(alphabet, (int, float)) or not isinstance(alphabet, Iterable):
        raise AlphabetError(
            f"the alphabet must be a sequence of strings, got {type(alphabet).__name__}"
        )
    alphabet = tuple(alphabet)
    if not alphabet:
        raise AlphabetError("the alphabet is empty")
    for i, s in enumerate(alphabet):
        if not isinstance(s, str) or not s:
            raise AlphabetError(f"symbol {i} must be a non-empty string, got {s!r}")
        if any(c.isspace() for c in s) and len(s) > 1:
            raise AlphabetError(f"symbol {s!r} contains whitespace")
    if len(set(alphabet)) != len(alphabet):
        dup = next(s for i, s in enumerate(alphabet) if s in alphabet[:i])
        raise AlphabetError(f"duplicate symbol {dup!r} in the alphabet")
    if k is not None and len(alphabet) != k:
        raise AlphabetError(
            f"the alphabet has {len(alphabet)} symbols but transitions has {k} columns"
        )
    return alphabet


def _check_accepting(accepting: Any, n: int) -> np.ndarray:
    if not isinstance(accepting, (np.ndarray, Iterable)) or isinstance(accepting, str):
        raise AcceptingStatesError(
            f"accepting must be a boolean mask or a list of state indices, got "
            f"{type(accepting).__name__}"
        )
    arr = np.asarray(list(accepting) if not isinstance(accepting, np.ndarray) else accepting)
    if arr.dtype == bool:
        if arr.shape != (n,):
            raise AcceptingStatesError(
                f"an accepting mask must have shape ({n},), got {arr.shape}"
            )
        return arr.copy()
    if arr.size == 0:
        return np.zeros(n, dtype=bool)
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise AcceptingStatesError(
            f"accepting must be a boolean mask or a list of state indices, got {arr.dtype} "
            f"of shape {arr.shape}"
        )
    bad = arr[(arr < 0) | (arr >= n)]
    if bad.size:
        raise AcceptingStatesError(
            f"accepting state {int(bad[0])} is not a state (states are 0..{n - 1})"
        )
    mask = np.zeros(n, dtype=bool)
    mask[arr] = True
    return mask

