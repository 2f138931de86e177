"""Tests of minimization (statetrack/automata/minimize.py and DFA.minimize).

Oracles: Moore's refinement (moore_partition), brute-force Myhill–Nerode classes (states told
apart by explicit words), automata-lib's ``minify``, and "blown-up" automata whose minimal
DFA is known by construction (every state of a small DFA copied several times, each transition
going to an arbitrary copy of its target).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from automata.fa.dfa import DFA as LibDFA
from hypothesis import given, settings
from hypothesis import strategies as st

from statetrack.automata import (
    DFA,
    AcceptingStatesError,
    TransitionShapeError,
    TransitionTargetError,
)
from statetrack.automata import minimize as minimize_module
from statetrack.automata.minimize import hopcroft_partition, minimal_partition, moore_partition
from statetrack.automata.strategies import dfas, permutation_dfas, words


# --------------------------------------------------------------------------- helpers
def to_lib(d: DFA) -> LibDFA:
    """The same complete DFA in automata-lib (states 0..n-1, same symbols)."""
    c = d.complete()
    return LibDFA(
        states=set(range(c.n_states)),
        input_symbols=set(c.alphabet),
        transitions={q: {a: int(c.transitions[q, i]) for i, a in enumerate(c.alphabet)}
                     for q in range(c.n_states)},
        initial_state=c.start,
        final_states=set(c.accepting_states),
    )


def brute_force_nerode_classes(d: DFA) -> int:
    """Number of Myhill–Nerode classes of the reachable states of complete(d), by words.

    Two states of an n-state DFA that differ on some word differ on a word of length <= n - 2
    (Moore's round r separates exactly the states told apart by words of length <= r; round 0
    has at most 2 blocks, each round that splits nothing ends the refinement, and each other
    round adds a block), so words of length <= n suffice with room to spare.
    """
    c = d.complete()
    ws = [w for n in range(c.n_states + 1) for w in itertools.product(c.alphabet, repeat=n)]
    signatures = {c.run(ws, start=int(q)).accepted.tobytes() for q in c.reachable_states()}
    return len(signatures)


@st.composite
def redundant_dfas(draw, *, max_small: int = 5, max_copies: int = 4, alphabet=None):
    """(small, big): big has every state of ``small`` copied 1..max_copies times.

    Each copy of q goes on a to a (drawn) copy of delta(q, a), and copies keep q's acceptance,
    so big and small accept the same language and big.minimize() == small.minimize().
    """
    small = draw(dfas(max_states=max_small, alphabet=alphabet) if alphabet
                 else dfas(max_states=max_small))
    copies = draw(st.lists(st.integers(1, max_copies), min_size=small.n_states,
                           max_size=small.n_states))
    owner = np.repeat(np.arange(small.n_states), copies)  # big state -> small state
    perm = np.array(draw(st.permutations(range(len(owner)))))  # shuffle the big states
    owner = owner[perm]
    members = [np.flatnonzero(owner == q) for q in range(small.n_states)]
    n, k = len(owner), small.n_symbols
    choice = draw(st.lists(st.integers(0, max_copies - 1), min_size=n * k, max_size=n * k))
    delta = np.empty((n, k), dtype=np.int64)
    for i, (p, a) in enumerate(itertools.product(range(n), range(k))):
        targets = members[small.transitions[owner[p], a]]
        delta[p, a] = targets[choice[i] % len(targets)]
    start = int(draw(st.sampled_from(members[small.start].tolist())))
    big = DFA(delta, start, small.accepting[owner], small.alphabet)
    return small, big


def random_table(rng: np.random.Generator, n: int, k: int):
    return rng.integers(0, n, size=(n, k)), rng.random(n) < rng.random()


# --------------------------------------------------------------------------- properties
@settings(max_examples=100)
@given(dfas(max_states=8, complete=False))
def test_minimize_is_idempotent_complete_and_canonical(d):
    m = d.minimize()
    assert m.minimize() == m
    assert m.is_minimal() and m.is_complete
    assert m.canonical() == m and m.start == 0
    assert m.alphabet == d.alphabet
    assert m.n_states <= d.complete().n_states


@settings(max_examples=100)
@given(st.data())
def test_minimize_preserves_the_language(data):
    d = data.draw(dfas(max_states=8, complete=False), label="dfa")
    m = d.minimize()
    assert m.is_equivalent(d) and d.is_equivalent(m)
    assert m.distinguishing_word(d) is None
    ws = data.draw(st.lists(words(d, max_size=16), min_size=1, max_size=30), label="words")
    assert m.run(ws).accepted.tolist() == d.run(ws).accepted.tolist()


@settings(max_examples=60)
@given(dfas(max_states=6, max_alphabet_size=2, complete=False))
def test_state_count_is_the_number_of_myhill_nerode_classes(d):
    assert d.minimize().n_states == brute_force_nerode_classes(d)


@settings(max_examples=30)
@given(dfas(min_states=5, max_states=6, alphabet_size=3))
def test_state_count_is_the_number_of_myhill_nerode_classes_three_letters(d):
    assert d.minimize().n_states == brute_force_nerode_classes(d)


@settings(max_examples=100)
@given(dfas(max_states=12, max_alphabet_size=4))
def test_hopcroft_equals_moore(d):
    # over all states (unreachable ones included), with identical block numbering
    h = hopcroft_partition(d.transitions, d.accepting)
    assert h.tolist() == moore_partition(d.transitions, d.accepting).tolist()
    assert h.tolist() == minimal_partition(d.transitions, d.accepting).tolist()
    assert h[0] == 0 and (np.diff(np.maximum.accumulate(h)) <= 1).all()  # first-occurrence ids


@settings(max_examples=80)
@given(redundant_dfas())
def test_blown_up_dfas_minimize_to_the_small_ones(pair):
    small, big = pair
    assert big.minimize() == small.minimize()
    h = hopcroft_partition(big.transitions, big.accepting)
    assert h.tolist() == moore_partition(big.transitions, big.accepting).tolist()
    assert h.max() + 1 <= small.n_states


@settings(max_examples=60)
@given(permutation_dfas(max_states=7))
def test_permutation_dfas(d):
    m = d.minimize()
    assert m.is_equivalent(d)
    # a quotient of a permutation automaton is a permutation automaton
    assert all(sorted(m.letter(a).tolist()) == list(range(m.n_states)) for a in m.alphabet)
    if d.n_states <= 5:
        assert m.n_states == brute_force_nerode_classes(d)


@settings(max_examples=100)
@given(dfas(max_states=8, max_alphabet_size=3))
def test_state_count_equals_automata_lib(d):
    lib_min = to_lib(d).minify()
    ours = d.minimize()
    assert ours.n_states == len(lib_min.states)
    assert len(lib_min.final_states) == len(ours.accepting_states)


@settings(max_examples=40)
@given(st.data())
def test_languages_agree_with_automata_lib(data):
    d = data.draw(dfas(max_states=8, complete=False), label="dfa")
    lib_min = to_lib(d).minify()
    ours = d.minimize()
    ws = data.draw(st.lists(words(d, max_size=12), min_size=1, max_size=20), label="words")
    assert [lib_min.accepts_input(list(w)) for w in ws] == ours.run(ws).accepted.tolist()


# --------------------------------------------------------------------------- edge cases
@pytest.mark.parametrize("n, k", [(1, 1), (1, 3), (4, 1), (50, 2)])
@pytest.mark.parametrize("kind", ["all", "none"])
def test_uniform_acceptance_gives_one_block(n, k, kind):
    rng = np.random.default_rng(n * 10 + k)
    delta = rng.integers(0, n, size=(n, k))
    acc = np.full(n, kind == "all")
    assert hopcroft_partition(delta, acc).tolist() == [0] * n
    assert moore_partition(delta, acc).tolist() == [0] * n
    m = DFA(delta, 0, acc).minimize()
    assert m.n_states == 1 and m.transitions.tolist() == [[0] * k]
    assert m.accepting.tolist() == [kind == "all"]


def test_single_letter_cycles_and_chains():
    # count a's mod 12 accepting multiples of 4: 4 classes
    delta = (np.arange(12) + 1)[:, None] % 12
    acc = np.arange(12) % 4 == 0
    assert hopcroft_partition(delta, acc).tolist() == [0, 1, 2, 3] * 3
    assert DFA(delta, 0, acc).minimize().n_states == 4
    # a chain of 2000 states, accepting only the last (absorbing) one: nothing merges;
    # Moore needs ~2000 rounds here, Hopcroft is indifferent
    n = 2000
    chain = np.minimum(np.arange(n) + 1, n - 1)[:, None]
    acc = np.arange(n) == n - 1
    assert hopcroft_partition(chain, acc).tolist() == list(range(n))
    # the same chain accepting everything past the middle: the tail merges into one block
    acc2 = np.arange(n) >= n // 2
    h = hopcroft_partition(chain, acc2)
    assert h.tolist() == list(range(n // 2)) + [n // 2] * (n - n // 2)
    assert h.tolist() == moore_partition(chain, acc2).tolist()


def test_known_minimal_sizes():
    # "the third symbol from the end is a": the classic 2^3 states
    k3 = DFA.from_function("", "ab", lambda q, a: (q + a)[-3:], lambda q: len(q) == 3 and q[0] == "a")
    assert k3.minimize().n_states == 8
    # mod-3 counter written with 9 redundant states
    d = DFA.from_function(0, "ab", lambda q, a: (q + (3 if a == "a" else 1)) % 9,
                          lambda q: q % 3 == 0)
    assert d.n_states == 9
    assert d.minimize().n_states == 3
    # partial DFA: a*b accepted; minimal complete DFA has a sink, 3 states
    p = DFA([[0, 1], [-1, -1]], accepting=[1], alphabet="ab")
    m = p.minimize()
    assert m.n_states == 3 and m.is_equivalent(p)


# --------------------------------------------------------------------------- large inputs
@pytest.mark.parametrize("k", [1, 2, 4])
def test_large_random_dfas_agree_with_moore(k):
    rng = np.random.default_rng(1000 + k)
    n = 10_000
    delta, acc = random_table(rng, n, k)
    h = hopcroft_partition(delta, acc)
    assert h.tolist() == moore_partition(delta, acc).tolist()
    assert len(np.unique(h)) == h.max() + 1


def test_large_blown_up_dfa_agrees_with_moore_and_quotient():
    rng = np.random.default_rng(7)
    m, k, n = 300, 4, 10_000
    small_delta = rng.integers(0, m, size=(m, k))
    small_acc = rng.random(m) < 0.5
    owner = np.concatenate([np.arange(m), rng.integers(0, m, size=n - m)])
    # big state p goes on a to a random copy of small_delta[owner[p], a]
    order = np.argsort(owner, kind="stable")
    counts = np.bincount(owner, minlength=m)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    tgt_small = small_delta[owner]  # [n, k]
    pick = (rng.random((n, k)) * counts[tgt_small]).astype(np.int64)
    delta = order[starts[tgt_small] + pick]
    acc = small_acc[owner]
    h = hopcroft_partition(delta, acc)
    assert h.tolist() == moore_partition(delta, acc).tolist()
    big_min = DFA(delta, 0, acc).minimize()
    small_min = DFA(small_delta, 0, small_acc).minimize()
    assert big_min == small_min


# --------------------------------------------------------------------------- errors, plumbing
@pytest.mark.parametrize("func", [hopcroft_partition, moore_partition, minimal_partition])
def test_partition_input_errors(func):
    with pytest.raises(TransitionShapeError, match=r"2-D table .* got shape \(3,\)"):
        func(np.array([0, 1, 2]), np.array([True, False, True]))
    with pytest.raises(TransitionShapeError, match=r"got shape \(0, 2\)"):
        func(np.zeros((0, 2), dtype=int), np.zeros(0, dtype=bool))
    with pytest.raises(TransitionShapeError, match=r"got shape \(2, 0\)"):
        func(np.zeros((2, 0), dtype=int), np.zeros(2, dtype=bool))
    with pytest.raises(TransitionShapeError, match="must hold integers, got dtype float64"):
        func(np.zeros((2, 1)), np.zeros(2, dtype=bool))
    with pytest.raises(TransitionTargetError, match=r"delta\[1, 0\] = -1: minimization needs a complete table"):
        func(np.array([[0], [-1]]), np.zeros(2, dtype=bool))
    with pytest.raises(TransitionTargetError, match=r"delta\[0, 1\] = 2: .* targets in 0\.\.1"):
        func(np.array([[0, 2], [1, 1]]), np.zeros(2, dtype=bool))
    with pytest.raises(AcceptingStatesError, match=r"boolean mask of shape \(2,\), got int64 of shape \(2,\)"):
        func(np.array([[0], [1]]), np.array([0, 1]))
    with pytest.raises(AcceptingStatesError, match=r"got bool of shape \(3,\)"):
        func(np.array([[0], [1]]), np.array([True, False, True]))


def test_input_arrays_are_not_modified():
    rng = np.random.default_rng(3)
    delta, acc = random_table(rng, 200, 3)
    delta32 = delta.astype(np.int32)
    d_copy, a_copy = delta32.copy(), acc.copy()
    h = hopcroft_partition(delta32, acc)  # other integer dtypes are accepted
    assert (delta32 == d_copy).all() and (acc == a_copy).all()
    assert h.dtype == np.int64 and h.tolist() == moore_partition(delta, acc).tolist()


def _py(kernel):
    return getattr(kernel, "py_func", kernel)


def reference_minimize(d: DFA) -> DFA:
    """DFA.minimize() from the definitions, independent of the compiled kernels.

    Completion, the reachable states by a plain breadth-first search, Moore's partition of
    them, the quotient through the smallest member of each block, and a second plain
    breadth-first numbering of the quotient from the start block.
    """
    def bfs(table, start):
        order, seen = [start], {start}
        for q in order:
            for t in table[q]:
                if t >= 0 and int(t) not in seen:
                    seen.add(int(t))
                    order.append(int(t))
        return order

    c = d.complete()
    table = c.transitions
    reach = bfs(table, c.start)
    new = {q: i for i, q in enumerate(reach)}
    sub = np.array([[new[int(t)] for t in table[q]] for q in reach], dtype=np.int64)
    acc = c.accepting[reach]
    blocks = moore_partition(sub, acc)
    m = int(blocks.max()) + 1
    rep = [int(np.flatnonzero(blocks == b)[0]) for b in range(m)]
    quot = blocks[sub[rep]]
    order = bfs(quot, int(blocks[0]))
    renum = {b: i for i, b in enumerate(order)}
    out = np.array([[renum[int(t)] for t in quot[b]] for b in order], dtype=np.int64)
    return DFA(out.reshape(len(order), c.n_symbols), 0, acc[rep][order], c.alphabet)


@settings(max_examples=150)
@given(dfas(max_states=9, max_alphabet_size=3, complete=False))
def test_minimize_equals_the_reference_pipeline(d):
    assert d.minimize() == reference_minimize(d)


def test_large_minimize_equals_the_reference_pipeline():
    # partial, with unreachable states: the BFS restriction path of DFA.minimize
    rng = np.random.default_rng(21)
    n, k = 3000, 3
    delta = rng.integers(-1, n, size=(n, k))
    delta[rng.random((n, k)) < 0.3] = -1
    d = DFA(delta, 5, rng.random(n) < 0.3, "abc")
    assert len(d.reachable_states()) < n
    assert d.minimize() == reference_minimize(d)
    full = DFA(rng.integers(0, n, size=(n, k)), 0, rng.random(n) < 0.5, "abc")
    assert full.minimize() == reference_minimize(full)


def test_the_three_endings_of_minimize():
    # minimal and canonical (the table is shared, read-only), minimal but numbered otherwise,
    # and not minimal (the quotient)
    d = DFA([[1, 0], [2, 0], [2, 2]], 0, [False, False, True], "ab")  # contains "aa"
    assert d.canonical() == d and reference_minimize(d) == d
    m = d.minimize()
    assert m == d and m.transitions is d.transitions and not m.transitions.flags.writeable
    perm = np.array([2, 0, 1])  # old state q becomes perm[q]
    shuffled = DFA(perm[d.transitions][np.argsort(perm)], int(perm[0]),
                   d.accepting[np.argsort(perm)], "ab")
    assert shuffled != d and shuffled.minimize() == d
    # 3 copies state 0 and 4 copies state 2
    doubled = DFA([[1, 3], [2, 0], [4, 2], [1, 0], [4, 2]], 0,
                  [False, False, True, False, True], "ab")
    assert doubled.minimize() == d == reference_minimize(doubled)


@pytest.mark.parametrize("idx", [np.int32, np.int64])
def test_kernels_agree_in_both_index_widths_and_as_python(idx):
    # the int64 path runs only for n * k >= 2^31 states, so it is exercised here directly;
    # the pure-Python path is what runs when numba is unavailable
    rng = np.random.default_rng(11)
    for n, k in [(1, 1), (2, 1), (7, 2), (40, 3), (300, 2)]:
        delta, acc = random_table(rng, n, k)
        want = moore_partition(delta, acc).tolist()
        for kernel in (minimize_module._hopcroft_blocks, _py(minimize_module._hopcroft_blocks)):
            block, n_blocks = kernel(delta, acc, idx)
            assert block.dtype == idx
            numbered = _py(minimize_module._number_by_first_state)(block, n_blocks)
            assert numbered.tolist() == want
        d = DFA(delta, 0, acc)
        order, new = _py(minimize_module._bfs_numbering)(delta, 0, idx)
        assert order.tolist() == d.reachable_states().tolist()
        assert (new[order] == np.arange(len(order))).all() and (new < 0).sum() == n - len(order)
        order2, table = _py(minimize_module._bfs_table)(delta, 0, idx, idx)
        assert order2.tolist() == order.tolist() and table.dtype == idx
        assert table.tolist() == d.canonical().transitions.tolist()
        block, n_blocks = minimize_module._hopcroft_blocks(delta, acc, idx)
        out, acc_q, m = _py(minimize_module._quotient_bfs)(delta, block, n_blocks, 0, acc, idx)
        ref = reference_minimize(d)
        assert m == ref.n_states and out[:m].tolist() == ref.transitions.tolist()
        assert acc_q[:m].tolist() == ref.accepting.tolist()


def test_jit_falls_back_when_no_cache_location(monkeypatch):
    calls = []

    class FakeNumba:
        @staticmethod
        def njit(cache):
            calls.append(cache)
            if cache:
                raise RuntimeError("cannot cache function: no locator available")
            return lambda f: f

    monkeypatch.setattr(minimize_module, "_numba", FakeNumba)

    def f(x):
        return x + 1

    assert minimize_module._jit(f)(1) == 2
    assert calls == [True, False]
    monkeypatch.setattr(minimize_module, "_numba", None)
    assert minimize_module._jit(f) is f
