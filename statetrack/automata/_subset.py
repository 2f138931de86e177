r"""The subset construction of :func:`statetrack.automata.regex.from_regex`, compiled.

A set of Glushkov positions ``0..n`` is a bit set of ``W = ceil((n + 1) / 64)`` uint64 words
(bit p of word ``p // 64`` at ``p % 64``). Inputs: ``follow[p]`` (``[n + 1, W]``), ``pos[a]``
(``[k, W]``, the positions labelled with symbol a) and ``last`` (``[W]``, the accepting
positions). From the start set {0}, each subset S gets the successors
``delta(S, a) = F(S) & pos[a]`` with ``F(S) = OR of follow[p] for p in S``, in breadth-first
order (symbols in column order); the empty set is a state like any other (the sink), so the
table is complete. Subsets are interned in an open-addressing hash table (linear probing,
load <= 1/2, doubled when full) whose slots hold a subset id and the subset's 64-bit hash; the
subsets themselves lie in one growing ``[capacity, W]`` array. A probe compares hashes first
and then the words; with one word (at most 63 positions) the hash is a bijection of the word
(an odd multiply and splitmix64's finalizer, each invertible), so equal hashes mean equal
subsets and the subset array is not read at all. Bits of a word are visited lowest first with a de Bruijn
multiplication for the index of the lowest set bit.

The kernel stops as soon as it has more than ``max_states`` non-empty subsets (the guard of
``from_regex``; the sink is not counted, as the Python construction left missing transitions
``-1`` and counted only the non-empty subsets).

Examples
--------
>>> import numpy as np
>>> # positions of "a*": 0 (start) and 1 (a); follow(0) = follow(1) = {1}
>>> follow = np.array([[0b10], [0b10]], dtype=np.uint64)
>>> pos = np.array([[0b10], [0]], dtype=np.uint64)            # a at position 1, b nowhere
>>> delta, accepting, m, overflow = subset_construction(
...     follow, pos, np.array([0b11], dtype=np.uint64), 10)
>>> delta[:m].tolist(), accepting[:m].tolist(), overflow
([[1, 2], [1, 2], [2, 2]], [True, True, False], False)
"""

from __future__ import annotations

import numpy as np

from .minimize import _jit

__all__ = ["subset_construction", "bitsets"]

_DEBRUIJN = np.uint64(0x03F79D71B4CA8B09)
_DEBRUIJN_INDEX = np.zeros(64, dtype=np.int64)  # bit index of 1 << i, by its de Bruijn product
for _i in range(64):
    _DEBRUIJN_INDEX[(((1 << _i) * 0x03F79D71B4CA8B09) % 2**64) >> 58] = _i
del _i


def bitsets(sets: list[int], n_bits: int) -> np.ndarray:
    """Python-int bit sets as a ``[len(sets), ceil(n_bits / 64)]`` uint64 array.

    Examples
    --------
    >>> bitsets([0b101, 1 << 64], 65).tolist()
    [[5, 0], [0, 1]]
    """
    w = max(1, (n_bits + 63) // 64)
    raw = b"".join(s.to_bytes(8 * w, "little") for s in sets)
    return np.frombuffer(raw, dtype="<u8").reshape(len(sets), w).astype(np.uint64)


@_jit
def _hash(words: np.ndarray) -> np.uint64:  # pragma: no cover
    # each word folded in by a multiply, then splitmix64's finalizer (all bits reach the low
    # ones, which index the table)
    h = np.uint64(0x9E3779B97F4A7C15)
    for w in range(len(words)):
        h = (h ^ words[w]) * np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(30)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(27)
    h *= np.uint64(0x94D049BB133111EB)
    h ^= h >> np.uint64(31)
    return h


@_jit
def subset_construction(follow: np.ndarray, pos: np.ndarray, last: np.ndarray,
                        max_states: int) -> tuple:  # pragma: no cover
    """(delta ``[cap, k]`` int64, accepting ``[cap]`` bool, m, overflow); rows ``:m`` are the
    complete subset DFA, start 0. See the module docstring."""
    n_words = follow.shape[1]
    k = pos.shape[0]
    cap = 1024
    sets = np.zeros((cap, n_words), dtype=np.uint64)
    delta = np.empty((cap, k), dtype=np.int64)
    accepting = np.zeros(cap, dtype=np.bool_)
    t_size = 2 * cap
    table = np.zeros((t_size, 2), dtype=np.uint64)  # (subset id + 1, hash) per slot; 0: free
    reach = np.empty(n_words, dtype=np.uint64)
    t_set = np.empty(n_words, dtype=np.uint64)
    zero = np.uint64(0)
    one = np.uint64(1)
    # the start subset {0}
    sets[0, 0] = one
    acc = False
    for w in range(n_words):
        if sets[0, w] & last[w]:
            acc = True
    accepting[0] = acc
    h0 = _hash(sets[0])
    table[h0 & np.uint64(t_size - 1), 0] = one
    table[h0 & np.uint64(t_size - 1), 1] = h0
    m = 1
    non_empty = 1
    i = 0
    while i < m:
        for w in range(n_words):
            reach[w] = zero
        for w in range(n_words):
            x = sets[i, w]
            while x != zero:
                low = x & (~x + one)
                p = w * 64 + _DEBRUIJN_INDEX[(low * _DEBRUIJN) >> np.uint64(58)]
                for v in range(n_words):
                    reach[v] |= follow[p, v]
                x ^= low
        for a in range(k):
            empty = True
            for w in range(n_words):
                t_set[w] = reach[w] & pos[a, w]
                if t_set[w] != zero:
                    empty = False
            mask = np.uint64(t_size - 1)
            h = _hash(t_set)
            slot = h & mask
            found = -1
            while True:
                if table[slot, 0] == zero:
                    break
                j = np.int64(table[slot, 0]) - 1
                if table[slot, 1] == h:
                    # one word: the hash is a bijection of the word, so equal hashes suffice
                    same = True
                    if n_words > 1:
                        for w in range(n_words):
                            if sets[j, w] != t_set[w]:
                                same = False
                                break
                    if same:
                        found = j
                        break
                slot = (slot + one) & mask
            if found < 0:
                if not empty:
                    non_empty += 1
                    if non_empty > max_states:
                        return delta, accepting, m, True
                if m == cap:  # grow the subset arrays
                    cap *= 2
                    sets2 = np.zeros((cap, n_words), dtype=np.uint64)
                    sets2[:m] = sets[:m]
                    sets = sets2
                    delta2 = np.empty((cap, k), dtype=np.int64)
                    delta2[:m] = delta[:m]
                    delta = delta2
                    acc2 = np.zeros(cap, dtype=np.bool_)
                    acc2[:m] = accepting[:m]
                    accepting = acc2
                found = m
                for w in range(n_words):
                    sets[m, w] = t_set[w]
                acc = False
                for w in range(n_words):
                    if t_set[w] & last[w]:
                        acc = True
                accepting[m] = acc
                m += 1
                if 2 * m > t_size:  # rehash into a table twice as large
                    t_size *= 2
                    table = np.zeros((t_size, 2), dtype=np.uint64)
                    mask = np.uint64(t_size - 1)
                    for j in range(m):
                        h2 = _hash(sets[j])
                        s2 = h2 & mask
                        while table[s2, 0] != zero:
                            s2 = (s2 + one) & mask
                        table[s2, 0] = np.uint64(j + 1)
                        table[s2, 1] = h2
                else:
                    table[slot, 0] = np.uint64(found + 1)
                    table[slot, 1] = h
            delta[i, a] = found
        i += 1
    return delta, accepting, m, False
