r"""Minimization: the coarsest partition of a complete DFA's states into Myhill–Nerode classes.

:func:`minimal_partition` takes a complete transition table and an accepting mask and returns
one block id per state such that two states share a block iff no word distinguishes them
(``p ~ q`` iff for every word w, ``delta(p, w)`` is accepting exactly when ``delta(q, w)`` is).
Block ids are ``0..m-1``, numbered in the order of each block's smallest state, so the result
is a function of the partition alone and two algorithms can be compared with ``==``.
:meth:`statetrack.automata.DFA.minimize` builds the quotient automaton from it.

Two algorithms are provided:

* :func:`hopcroft_partition` (used by :func:`minimal_partition`): Hopcroft's algorithm,
  O(k n log n) for n states and k symbols, compiled with numba.
* :func:`moore_partition`: Moore's round-based refinement, vectorized with numpy, O(k n) per
  round and up to n rounds. It is simple enough to trust and serves as the cross-check.

Moore's refinement
------------------
Start from the partition {accepting, rejecting}. In each round give every state the signature
(its block, the blocks of its k successors) and split blocks by signature. After round r two
states share a block iff no word of length <= r distinguishes them; when a round splits
nothing the partition is stable and equals Myhill–Nerode equivalence.

Hopcroft's algorithm
--------------------
A *splitter* is a pair (S, a) of a set of states S and a symbol a. Block B is split by (S, a)
into ``B ∩ pre_a(S)`` and ``B \ pre_a(S)`` where ``pre_a(S) = {p : delta(p, a) in S}``. A
partition is stable (and then is the coarsest one refining {F, Q \ F}) when no splitter made of
its own blocks splits any block.

Hopcroft keeps a worklist W of splitters still to be applied. Here W holds *blocks*, and
popping block S applies the splitters (S, a) for every symbol a in turn (one entry per block
rather than one per block and symbol):
the states of S are copied to a buffer first, then for each a every state of ``pre_a(S)`` is
marked and every block with both marked and unmarked states is split. Initially W holds the
smaller of F and Q \ F (splitting by one side of a two-block split is as good as by the
other, because ``pre_a(Q) = Q``). When B splits into B1 and B2, the smaller part gets a new id
and is pushed. This is enough in every case:

* if B is still in W, B's id now names the other part, so both halves will be applied (the
  union of their splits equals the split by B and more);
* if B was already applied (or is the block being applied: its buffer still holds all of it),
  the partition is already split by B, and splitting by B and by one part yields the split by
  the other part too (``pre_c(B2) = pre_c(B) \ pre_c(B1)``, as ``delta`` is a function), so
  the smaller part suffices.

By induction every block of the current partition is a Boolean combination (differences) of
sets that are applied or in W, so when W is empty the partition is stable under all its blocks.

Cost ("process the smaller half"): a state s enters a pushed block only when that block is at
most half of the block that previously contained s, so s lies in O(log n) applied splitters;
applying S costs ``|S| + sum_a |pre_a(S)|``. Summing the in-degrees gives O(k n log n) in
total. Each block is pushed at most once, so W never holds more than n entries.

Data structures (after Valmari & Lehtinen, STACS 2008, "Efficient minimization of DFAs with
partial transition functions", and Valmari, IPL 2012; re-derived here, not copied):

* Inverse transitions in CSR form by target: the entries of q are ``pred[ptr[q] : ptr[q+1]]``,
  one ``a * n + p`` per transition ``p -a-> q``, sorted ascending and hence by symbol, so the
  predecessors of q on a are the entries in ``a*n .. a*n + n - 1`` of that run. Built by one
  counting sort, O(k n); ``ptr`` has n + 1 entries rather than k n + 1.
* A refinable partition of the states: ``elems`` is a permutation of the states in which every
  block is a contiguous range ``first[b] .. end[b]-1``; ``loc[q]`` is the position of q in
  ``elems`` and ``block[q]`` its block. Marking q swaps it to the front of its block, just
  after the marked ones (``mid[b]`` is the end of the marked prefix), in O(1). A split turns
  the marked prefix or the unmarked suffix, whichever is smaller, into a new block, relabelling
  only its states, so a split costs O(smaller part) and marking O(1) per predecessor.
* Memory layout: ``(block[q], loc[q])`` is one row of an ``[n, 2]`` array and
  ``(first, mid, end)`` one row of an ``[n, 3]`` array, so marking a predecessor touches two
  records (two cache misses on large automata, where the accesses are random) rather than five
  arrays. A state alone in its block is stored with block id ``~b`` and skipped at once; on
  random automata most blocks end as singletons. All index arrays are int32 when
  ``n * k < 2^31`` (half the memory traffic of int64), else int64.

:meth:`DFA.minimize` runs: one breadth-first pass from the start that writes the reachable
part of the completed table renumbered in BFS order (canonical, int32); the partition; then
either that table itself, when every block is a single state (the DFA was minimal already), or
one more breadth-first pass over the blocks that writes the quotient directly in canonical
numbering, reading each block through one representative state. Measured on random complete
DFAs with 4 symbols (``benchmarks/minimize.md``, each size in a fresh subprocess, CPU time on
a 2-core AMD EPYC shared under a load of about 10): 10^7 states in 16.0 s of CPU time and
1.05 GiB peak resident memory during ``minimize()``, against 54.9 s and 2.42 GiB for the
version before (two ``canonical()`` passes around an int64 kernel with a worklist of k n
entries) in the same run, with an identical result; 10^6 states in 1.1 s against 4.3 s. CPU
time under such load varies by a third between runs (a standalone run of the 10^7 size took
11.7 s).

The kernels are compiled with ``numba.njit(cache=True)``. The first call in a fresh environment
pays the compilation (a few seconds for all kernels). Later processes load the cached machine
code from ``__pycache__`` (or numba's user-wide cache directory when the package directory is
read-only) in well under a second. If no cache location is writable the kernels are compiled
without caching, once per process. If numba is missing the same code runs as plain Python:
correct, but about two orders of magnitude slower.

Examples
--------
>>> import numpy as np
>>> delta = np.array([[1, 2], [1, 2], [1, 2]])     # states 0 and 2 behave alike
>>> accepting = np.array([False, True, False])
>>> minimal_partition(delta, accepting).tolist()
[0, 1, 0]
>>> moore_partition(delta, accepting).tolist()
[0, 1, 0]
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .errors import AcceptingStatesError, TransitionShapeError, TransitionTargetError

try:  # numba is a dependency; without it the kernel still runs (slowly) as Python
    import numba as _numba
except ImportError:  # pragma: no cover - exercised only in stripped-down installs
    _numba = None  # type: ignore[assignment]

__all__ = ["minimal_partition", "hopcroft_partition", "moore_partition"]


def _jit(func: Callable) -> Callable:
    """``numba.njit(cache=True)``, falling back to no cache, or to plain Python without numba."""
    if _numba is None:  # pragma: no cover
        return func
    try:
        return _numba.njit(cache=True)(func)
    except RuntimeError:  # numba found no writable cache location ("no locator available")
        return _numba.njit(cache=False)(func)


def _index_dtype(n: int, k: int) -> type:
    """int32 when every index the kernels store (at most ``n * k``) fits, else int64."""
    return np.int32 if n * k < 2**31 - 1 else np.int64


@_jit
def _hopcroft_blocks(delta: np.ndarray, accepting: np.ndarray, idx: Any) -> tuple:  # pragma: no cover
    # (numba-compiled; coverage tools do not see inside.)  See the module docstring.
    # Returns (block id per state, number of blocks); ids are in creation order.
    n, k = delta.shape
    nk = n * k
    # --- inverse transitions, CSR by target: count, prefix sums, fill backwards -------------
    # The entry for p -a-> q is a * n + p, in q's bucket pred[ptr[q] : ptr[q + 1]], which is
    # sorted ascending, so by symbol: the entries of symbol a are the run in a*n .. a*n+n-1.
    ptr = np.zeros(n + 1, dtype=idx)
    for p in range(n):
        for a in range(k):
            ptr[delta[p, a]] += 1
    total = 0
    for q in range(n):
        total += ptr[q]
        ptr[q] = total  # the end of bucket q, for now
    ptr[n] = total
    pred = np.empty(nk, dtype=idx)
    for a in range(k - 1, -1, -1):
        for p in range(n - 1, -1, -1):
            q = delta[p, a]
            ptr[q] -= 1  # ends up at the start of bucket q
            pred[ptr[q]] = a * n + p
    # --- refinable partition, initially {accepting, rejecting} -----------------------------
    # st[q] = (block of q, position of q in elems); blk[b] = (first, end of marked, end).
    # Keeping each record in one row costs one cache miss per record instead of two or three.
    # A state alone in its block (it can never split) has st[q, 0] = ~b = -b - 1, so marking
    # skips it without reading blk.
    elems = np.empty(n, dtype=idx)
    st = np.empty((n, 2), dtype=idx)
    blk = np.empty((n, 3), dtype=idx)
    n_acc = 0
    for q in range(n):
        if accepting[q]:
            elems[n_acc] = q
            n_acc += 1
    pos = n_acc
    for q in range(n):
        if not accepting[q]:
            elems[pos] = q
            pos += 1
    for i in range(n):
        q = elems[i]
        st[q, 0] = 0 if i < n_acc else 1
        st[q, 1] = i
    if n_acc == 1:
        st[elems[0], 0] = ~st[elems[0], 0]
    if n - n_acc == 1:
        st[elems[n - 1], 0] = ~st[elems[n - 1], 0]
    worklist = np.empty(n, dtype=idx)  # block ids; each block is pushed at most once
    top = 0
    if n_acc == 0 or n_acc == n:
        n_blocks = 1
        for q in range(n):
            st[q, 0] = 0 if n > 1 else ~0
        blk[0, 0] = 0
        blk[0, 1] = 0
        blk[0, 2] = n
    else:
        n_blocks = 2
        blk[0, 0] = 0
        blk[0, 1] = 0
        blk[0, 2] = n_acc
        blk[1, 0] = n_acc
        blk[1, 1] = n_acc
        blk[1, 2] = n
        worklist[0] = 0 if n_acc <= n - n_acc else 1
        top = 1
    touched = np.empty(n, dtype=idx)
    buf = np.empty(n // 2 + 1, dtype=idx)  # a pushed block is at most half of its parent
    # --- refinement: pop a block, split by its preimage under every symbol -------------------
    while top > 0:
        top -= 1
        s_block = worklist[top]
        f0 = blk[s_block, 0]
        size = blk[s_block, 2] - f0
        for i in range(size):
            buf[i] = elems[f0 + i]
        for a in range(k):
            n_touched = 0
            lo = a * n
            hi = lo + n
            for i in range(size):
                s = buf[i]
                for t in range(ptr[s], ptr[s + 1]):
                    e = pred[t]
                    if e < lo:
                        continue
                    if e >= hi:
                        break
                    p = e - lo
                    b = st[p, 0]
                    if b < 0:  # alone in its block
                        continue
                    lp = st[p, 1]
                    mb = blk[b, 1]
                    if lp >= mb:  # unmarked: swap it to the end of the marked prefix
                        fb = blk[b, 0]
                        if mb == fb:
                            touched[n_touched] = b
                            n_touched += 1
                        q = elems[mb]
                        elems[mb] = p
                        st[p, 1] = mb
                        elems[lp] = q
                        st[q, 1] = lp
                        blk[b, 1] = mb + 1
            for i in range(n_touched):
                b = touched[i]
                f = blk[b, 0]
                m = blk[b, 1]
                e = blk[b, 2]
                if m == e:  # every state marked: no split
                    blk[b, 1] = f
                    continue
                nb = n_blocks
                n_blocks += 1
                if m - f <= e - m:  # the marked prefix is the smaller part
                    nf, ne = f, m
                    blk[b, 0] = m
                else:
                    nf, ne = m, e
                    blk[b, 2] = m
                blk[b, 1] = blk[b, 0]
                blk[nb, 0] = nf
                blk[nb, 1] = nf
                blk[nb, 2] = ne
                label = nb if ne - nf > 1 else ~nb
                for t in range(nf, ne):
                    st[elems[t], 0] = label
                if blk[b, 2] - blk[b, 0] == 1:
                    st[elems[blk[b, 0]], 0] = ~b
                worklist[top] = nb
                top += 1
    block = elems  # no longer needed: reuse its memory
    for q in range(n):
        b = st[q, 0]
        block[q] = b if b >= 0 else ~b
    return block, n_blocks


@_jit
def _number_by_first_state(block: np.ndarray, n_blocks: int) -> np.ndarray:  # pragma: no cover
    # Block ids 0..m-1 in the order of each block's smallest state.
    remap = np.full(n_blocks, -1, dtype=np.int64)
    out = np.empty(len(block), dtype=np.int64)
    count = 0
    for q in range(len(block)):
        b = block[q]
        if remap[b] < 0:
            remap[b] = count
            count += 1
        out[q] = remap[b]
    return out


@_jit
def _bfs_numbering(delta: np.ndarray, start: int, idx: Any) -> tuple:  # pragma: no cover
    # Reachable states in breadth-first order (symbols in column order; -1 entries skipped):
    # (order [r], new [n] with new[order[i]] = i and -1 for unreachable states).
    n, k = delta.shape
    new = np.full(n, -1, dtype=idx)
    order = np.empty(n, dtype=idx)
    order[0] = start
    new[start] = 0
    m = 1
    i = 0
    while i < m:
        s = order[i]
        for a in range(k):
            t = delta[s, a]
            if t >= 0 and new[t] < 0:
                new[t] = m
                order[m] = t
                m += 1
        i += 1
    return order[:m], new


@_jit
def _bfs_table(delta: np.ndarray, start: int, idx: Any, out: Any) -> tuple:  # pragma: no cover
    # The reachable part renumbered in breadth-first order, in one pass: (order [r], table
    # [r, k] of dtype `out`) with table[i, a] the BFS index of delta[order[i], a] (-1 kept).
    # Both are views of arrays sized for all n states (see bfs_table).
    n, k = delta.shape
    new = np.full(n, -1, dtype=idx)
    order = np.empty(n, dtype=idx)
    table = np.empty((n, k), dtype=out)
    order[0] = start
    new[start] = 0
    m = 1
    i = 0
    while i < m:
        s = order[i]
        for a in range(k):
            t = delta[s, a]
            if t < 0:
                table[i, a] = -1
                continue
            if new[t] < 0:
                new[t] = m
                order[m] = t
                m += 1
            table[i, a] = new[t]
        i += 1
    return order[:m], table[:m]


def bfs_table(delta: np.ndarray, start: int, out: Any = np.int64) -> tuple[np.ndarray, np.ndarray]:
    """The states reachable from ``start`` in breadth-first order, and the table renumbered.

    Compiled, one pass. Returns ``(order, table)``: ``order[i]`` is the i-th state reached
    (symbols taken in column order) and ``table[i, a]`` is the BFS index of
    ``delta[order[i], a]``, or -1 where that is -1. ``order`` is int32 when ``n * k < 2^31``,
    else int64; ``table`` has dtype ``out``.

    Examples
    --------
    >>> import numpy as np
    >>> order, table = bfs_table(np.array([[2, -1], [0, 0], [2, 0]]), 0)
    >>> order.tolist(), table.tolist()
    ([0, 2], [[1, -1], [1, 0]])
    """
    n, k = delta.shape
    order, table = _bfs_table(delta, int(start), _index_dtype(n, k), out)
    if len(order) < 0.9 * n:  # do not keep a large, mostly unused buffer alive
        order, table = order.copy(), table.copy()
    return order, table


@_jit
def _quotient_bfs(delta: np.ndarray, block: np.ndarray, n_blocks: int, start: int,
                  accepting: np.ndarray, idx: Any) -> tuple:  # pragma: no cover
    # The quotient by the partition `block`, its blocks numbered in breadth-first order from
    # block[start]; each block is read through one representative (its smallest state).
    n, k = delta.shape
    rep = np.full(n_blocks, -1, dtype=idx)
    for q in range(n - 1, -1, -1):
        rep[block[q]] = q
    new = np.full(n_blocks, -1, dtype=idx)
    order = np.empty(n_blocks, dtype=idx)
    out = np.empty((n_blocks, k), dtype=np.int64)
    acc = np.empty(n_blocks, dtype=np.bool_)
    b0 = block[start]
    order[0] = b0
    new[b0] = 0
    m = 1
    i = 0
    while i < m:
        r = rep[order[i]]
        acc[i] = accepting[r]
        for a in range(k):
            t = block[delta[r, a]]
            if new[t] < 0:
                new[t] = m
                order[m] = t
                m += 1
            out[i, a] = new[t]
        i += 1
    return out, acc, m


def _check(delta: Any, accepting: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validate a complete transition table and an accepting mask; return contiguous copies."""
    arr = np.asarray(delta)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise TransitionShapeError(
            f"delta must be a 2-D table [n_states >= 1, n_symbols >= 1], got shape {arr.shape}"
        )
    if not np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool:
        raise TransitionShapeError(f"delta must hold integers, got dtype {arr.dtype}")
    n = arr.shape[0]
    d = np.ascontiguousarray(arr, dtype=np.int64)
    if d.min() < 0 or d.max() >= n:
        bad = np.argwhere((d < 0) | (d >= n))[0]
        raise TransitionTargetError(
            f"delta[{int(bad[0])}, {int(bad[1])}] = {int(d[bad[0], bad[1]])}: minimization needs "
            f"a complete table with targets in 0..{n - 1} (use DFA.complete() first)"
        )
    acc = np.asarray(accepting)
    if acc.dtype != bool or acc.shape != (n,):
        raise AcceptingStatesError(
            f"accepting must be a boolean mask of shape ({n},), got {acc.dtype} of shape "
            f"{acc.shape}"
        )
    return d, np.ascontiguousarray(acc)


def hopcroft_partition(delta: Any, accepting: Any) -> np.ndarray:
    """Myhill–Nerode classes by Hopcroft's algorithm, O(k n log n) (see the module docstring).

    Parameters
    ----------
    delta : array_like of int, shape [n, k]
        A complete transition table (every entry in ``0..n-1``).
    accepting : array_like of bool, shape [n]
        The accepting mask.

    Returns
    -------
    np.ndarray
        ``[n]`` int64 block ids ``0..m-1``, numbered by each block's smallest state.

    Raises
    ------
    TransitionShapeError, TransitionTargetError, AcceptingStatesError
        If ``delta`` is not a complete integer table or ``accepting`` not a matching mask.

    Examples
    --------
    >>> import numpy as np
    >>> # count a's mod 4, accept 0 or 2: states {0, 2} and {1, 3} merge
    >>> delta = np.array([[1], [2], [3], [0]])
    >>> hopcroft_partition(delta, np.array([True, False, True, False])).tolist()
    [0, 1, 0, 1]
    """
    d, acc = _check(delta, accepting)
    block, n_blocks = _hopcroft_blocks(d, acc, _index_dtype(*d.shape))
    return _number_by_first_state(block, n_blocks)


def moore_partition(delta: Any, accepting: Any) -> np.ndarray:
    """Myhill–Nerode classes by Moore's round-based refinement (numpy; the cross-check).

    Same parameters, result and errors as :func:`hopcroft_partition`; O(k n) per round, at
    most n rounds (in practice about the depth of the automaton).

    Examples
    --------
    >>> import numpy as np
    >>> delta = np.array([[1], [2], [3], [0]])
    >>> moore_partition(delta, np.array([True, False, True, False])).tolist()
    [0, 1, 0, 1]
    """
    d, acc = _check(delta, accepting)
    blocks = _by_first_occurrence(acc.astype(np.int64))
    n_blocks = int(blocks.max()) + 1
    while True:
        sig = np.column_stack([blocks, blocks[d]])
        _, new = np.unique(sig, axis=0, return_inverse=True)
        new = new.ravel()
        m = int(new.max()) + 1
        if m == n_blocks:
            return _by_first_occurrence(new)
        blocks, n_blocks = new, m


def _by_first_occurrence(labels: np.ndarray) -> np.ndarray:
    """Renumber labels ``0..m-1`` in the order in which they first occur."""
    _, first_idx, inverse = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.empty(len(first_idx), dtype=np.int64)
    rank[np.argsort(first_idx, kind="stable")] = np.arange(len(first_idx))
    return rank[inverse.ravel()]


def minimal_partition(delta: Any, accepting: Any) -> np.ndarray:
    """Block id per state (``[n]`` int64, ids ``0..m-1``) of the coarsest stable partition.

    Runs :func:`hopcroft_partition`; block ids are numbered by each block's smallest state.

    Examples
    --------
    >>> import numpy as np
    >>> delta = np.array([[1, 2], [1, 2], [1, 2]])
    >>> minimal_partition(delta, np.array([False, True, False])).tolist()
    [0, 1, 0]
    """
    return hopcroft_partition(delta, accepting)
