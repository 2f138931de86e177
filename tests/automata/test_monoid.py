"""Tests of :mod:`statetrack.automata.monoid`.

Oracles used here, independent of the vectorized closure:

* known sizes: the full transformation monoid T_n has n^n elements, S_n has n!, Z_m has m;
* a naive breadth-first closure in pure Python over tuples (:func:`naive_closure`), which also
  yields the shortlex-least words, so the element order is compared exactly;
* maximal subgroups from their definition ``H_e = {x in eMe : exists y in eMe, xy = yx = e}``
  over the full multiplication table (small monoids);
* aperiodicity from the power criterion ``x^n == x^(n+1)`` for every element;
* the DFA itself: the element of a word maps each state q to ``dfa.run(word, start=q)``.
"""

from __future__ import annotations

import json
import math
import re
from collections import deque

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from statetrack.automata import DFA
from statetrack.automata.errors import (
    AutomatonError,
    ElementIndexError,
    MonoidLimitError,
    NotInMonoidError,
    TransformationError,
    UnknownSymbolError,
)
from statetrack.automata.monoid import (
    MonoidClass,
    TransitionMonoid,
    classify,
    compose,
    transition_monoid,
)


# ----------------------------------------------------------------------------- helpers
def cycle(n: int) -> list[int]:
    return [(q + 1) % n for q in range(n)]


def transposition(n: int) -> list[int]:
    t = list(range(n))
    if n >= 2:
        t[0], t[1] = 1, 0
    return t


def rank_drop(n: int) -> list[int]:
    """A map of rank n - 1 (1 -> 0, others fixed); the identity when n == 1."""
    t = list(range(n))
    if n >= 2:
        t[1] = 0
    return t


def naive_closure(gens: list[tuple[int, ...]]) -> tuple[list[tuple[int, ...]], list[tuple[int, ...]]]:
    """Pure-Python BFS closure: elements (as tuples) and shortlex-least words (letter indices)."""
    n = len(gens[0])
    ident = tuple(range(n))
    elems = [ident]
    words: list[tuple[int, ...]] = [()]
    seen = {ident: 0}
    queue = deque([0])
    while queue:
        i = queue.popleft()
        x = elems[i]
        for a, g in enumerate(gens):
            y = tuple(g[x[q]] for q in range(n))  # first x, then g
            if y not in seen:
                seen[y] = len(elems)
                elems.append(y)
                words.append(words[i] + (a,))
                queue.append(seen[y])
    return elems, words


def full_table(m: TransitionMonoid) -> np.ndarray:
    i, j = np.meshgrid(np.arange(m.size), np.arange(m.size), indexing="ij")
    return m.multiply(i, j)


def definition_subgroup(table: np.ndarray, e: int) -> set[int]:
    """H_e as the units of eMe, straight from the definition."""
    eme = np.unique(table[table[e, :], e])  # {e x e : x in M}
    sub = table[np.ix_(eme, eme)]
    inverse_exists = ((sub == e) & (sub.T == e)).any(axis=1)
    return set(eme[inverse_exists].tolist())


def power_aperiodic(m: TransitionMonoid) -> bool:
    x = m.elements.astype(np.int64)
    p = x.copy()
    for _ in range(m.n_points - 1):
        p = compose(p, x)  # p = x^k
    return bool((compose(p, x) == p).all())  # x^n == x^(n+1)


@st.composite
def random_dfas(draw, max_states: int = 5, max_symbols: int = 3) -> DFA:
    n = draw(st.integers(1, max_states))
    k = draw(st.integers(1, max_symbols))
    table = draw(st.lists(st.lists(st.integers(0, n - 1), min_size=k, max_size=k),
                          min_size=n, max_size=n))
    acc = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    return DFA(table, 0, np.array(acc, dtype=bool), [chr(ord("a") + i) for i in range(k)])


# ----------------------------------------------------------------------------- known sizes
@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_full_transformation_monoid_has_n_to_the_n_elements(n):
    m = transition_monoid([cycle(n), transposition(n), rank_drop(n)])
    assert m.size == n ** n
    assert m.n_points == n
    assert len(np.unique(m.elements, axis=0)) == n ** n
    assert m.group_of_units().size == math.factorial(n)
    # maximal subgroups of T_n: one S_k for each rank k = 1..n
    assert m.maximal_subgroup_orders() == tuple(sorted({math.factorial(k) for k in range(1, n + 1)}))
    # idempotents of T_n: sum over k of C(n, k) k^(n - k)
    assert m.idempotents().size == sum(math.comb(n, k) * k ** (n - k) for k in range(1, n + 1))


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6])
def test_symmetric_group_has_n_factorial_elements(n):
    m = transition_monoid({"c": cycle(n), "t": transposition(n)})
    assert m.size == math.factorial(n)
    assert m.is_group()
    assert m.group_of_units().tolist() == list(range(m.size))
    assert m.idempotents().tolist() == [0]
    assert m.maximal_subgroup_orders() == (math.factorial(n),)
    assert m.is_aperiodic() == (n == 1)


@pytest.mark.parametrize("m_order", [1, 2, 3, 7, 12])
def test_cyclic_group(m_order):
    m = transition_monoid({"a": cycle(m_order)})
    assert m.size == m_order
    assert [len(m.word_of(i)) for i in range(m.size)] == list(range(m_order))
    assert m.is_group()
    assert m.evaluate("a" * m_order) == 0
    c = classify(m)
    assert c.kind == ("trivial" if m_order == 1 else "group")
    assert c.short() == f"{c.kind}({m_order})"


@pytest.mark.parametrize("n", [1, 2, 4, 6])
def test_reset_automaton(n):
    # one reset letter per state, plus the identity letter: monoid = {1} ∪ {constants}
    gens = {f"r{t}": [t] * n for t in range(n)}
    gens["id"] = list(range(n))
    m = transition_monoid(gens)
    assert m.size == (n + 1 if n > 1 else 1)  # for n = 1 the only reset is the identity
    assert m.is_aperiodic()
    assert m.is_permutation_reset()
    assert m.idempotents().size == m.size  # every element of {1} ∪ constants is idempotent
    c = classify(m)
    assert c.kind == ("trivial" if n == 1 else "aperiodic")
    assert c.is_permutation_reset and c.is_aperiodic
    assert c.maximal_subgroup_orders == (1,)


def test_large_point_sets_use_byte_keys():
    # 20 points: n^n does not fit an int64, so keys are raw bytes; S_5 acting on points 0..4
    n = 20
    c5 = list(range(n))
    c5[:5] = [1, 2, 3, 4, 0]
    m = transition_monoid([c5, transposition(n), rank_drop(n)])
    elems, _ = naive_closure([tuple(c5), tuple(transposition(n)), tuple(rank_drop(n))])
    assert m.size == len(elems) == 5 ** 5
    assert [tuple(r) for r in m.elements.tolist()] == elems
    assert m.index(elems[-1]) == m.size - 1
    # 300 points: uint16 storage
    big = transition_monoid({"a": cycle(300)})
    assert big.size == 300 and big.elements.dtype == np.uint16
    assert big.index(np.roll(np.arange(300), -5)) == 5


# ----------------------------------------------------------------------------- known languages
def parity() -> DFA:
    return DFA([[0, 1], [1, 0]], accepting=[1], alphabet="01")


def ab_star() -> DFA:
    return DFA([[1, 2], [2, 0], [2, 2]], accepting=[0], alphabet="ab")


def aa_star_over_ab() -> DFA:
    return DFA([[1, 2], [0, 2], [2, 2]], accepting=[0], alphabet="ab")


def test_parity_is_the_group_of_order_two():
    m = transition_monoid(parity())
    assert m.size == 2 and m.is_group() and not m.is_aperiodic()
    assert m.letters == ("0", "1")
    assert m.word_of(1) == ("1",)
    c = classify(parity())
    assert (c.kind, c.size, c.group_of_units_order) == ("group", 2, 2)
    assert c.is_permutation_automaton and c.is_group and not c.is_aperiodic
    assert c.short() == "group(2)"


def test_ab_star_is_aperiodic():
    m = transition_monoid(ab_star())
    # {1, a, b, ab, ba, 0}: aa = bb = 0, aba = a, bab = b
    assert m.size == 6
    assert m.is_aperiodic() and power_aperiodic(m)
    assert not m.is_group()
    assert m.evaluate("aba") == m.evaluate("a") and m.evaluate("aa") == m.evaluate("bb")
    c = classify(ab_star())
    assert c.short() == "aperiodic(6)" and not c.is_permutation_reset
    assert c.group_of_units_order == 1


def test_aa_star_is_not_aperiodic_with_z2_subgroup():
    m = transition_monoid(aa_star_over_ab())
    assert not m.is_aperiodic() and not power_aperiodic(m)
    assert m.maximal_subgroup_orders() == (1, 2)
    (units,) = [h for h in m.maximal_subgroups() if h.idempotent == 0]
    assert units.order == 2 and units.elements.tolist() == [0, m.evaluate("a")]
    c = classify(aa_star_over_ab())
    assert c.kind == "permutation-reset" and c.is_permutation_reset
    assert not c.is_group and not c.is_aperiodic
    one_letter = classify(DFA([[1], [0]], accepting=[0], alphabet="a"))
    assert one_letter.short() == "group(2)" and one_letter.maximal_subgroup_orders == (2,)


def test_classification_of_small_automata():
    flip_flop = DFA([[0, 0, 1], [1, 0, 1]], accepting=[1], alphabet=["n", "r", "s"])
    trivial = DFA([[0, 0]], accepting=[0], alphabet="ab")
    mod3 = DFA([[1, 0], [2, 1], [0, 2]], accepting=[0], alphabet="ab")
    s3 = DFA.from_function((0, 1, 2), "st", lambda p, a: (p[1], p[0], p[2]) if a == "s"
                           else (p[1], p[2], p[0]), lambda p: p == (0, 1, 2))
    first_is_a = DFA([[1, 2], [1, 1], [2, 2]], accepting=[1], alphabet="ab")
    t3 = DFA([cycle(3)[q:q + 1] + transposition(3)[q:q + 1] + rank_drop(3)[q:q + 1]
              for q in range(3)], accepting=[0], alphabet="ctr")
    got = {name: classify(d) for name, d in [("flip_flop", flip_flop), ("trivial", trivial),
                                             ("mod3", mod3), ("s3", s3), ("first", first_is_a),
                                             ("t3", t3)]}
    assert {k: v.short() for k, v in got.items()} == {
        "flip_flop": "aperiodic(3)", "trivial": "trivial(1)", "mod3": "group(3)",
        "s3": "group(6)", "first": "aperiodic(3)", "t3": "general(27)",
    }
    assert got["flip_flop"].is_permutation_reset
    assert not got["first"].is_permutation_reset  # a = [1, 1, 2]: neither a permutation nor a reset
    assert got["trivial"].is_group and got["trivial"].is_aperiodic
    assert got["t3"].maximal_subgroup_orders == (1, 2, 6)
    assert not got["t3"].is_permutation_reset
    # only the trivial monoid is both a group and aperiodic
    for c in got.values():
        assert not (c.is_group and c.is_aperiodic) or c.size == 1
    d = got["t3"].to_dict()
    assert json.loads(json.dumps(d)) == d and d["kind"] == "general"
    assert isinstance(got["t3"], MonoidClass)


def test_partial_dfa_is_completed_with_a_sink():
    partial = DFA([[1, -1], [-1, 0]], accepting=[0], alphabet="ab")  # (ab)* without its sink
    m = transition_monoid(partial)
    assert m.n_points == 3 and m.size == 6


def test_compose_convention():
    x, y = [1, 2, 0], [0, 0, 2]
    assert compose(x, y).tolist() == [y[x[q]] for q in range(3)]
    m = transition_monoid({"x": x, "y": y})
    assert m.elements[m.evaluate("xy")].tolist() == compose(x, y).tolist()
    assert m.multiply(m.evaluate("x"), m.evaluate("y")) == m.evaluate("xy")
    stack = np.array([x, y])
    assert compose(stack, stack).tolist() == [compose(x, x).tolist(), compose(y, y).tolist()]
    assert compose(x, stack).tolist() == [compose(x, x).tolist(), compose(x, y).tolist()]
    assert compose(stack, y).tolist() == [compose(x, y).tolist(), compose(y, y).tolist()]


# ----------------------------------------------------------------------------- properties
@settings(max_examples=150)
@given(random_dfas())
def test_random_dfa_consistency(dfa):
    m = transition_monoid(dfa)
    n, size = dfa.n_states, m.size
    gens = [tuple(int(v) for v in dfa.letter(a)) for a in dfa.alphabet]

    # identity first; same elements, same (BFS / shortlex) order, same words as the oracle
    assert m.elements[0].tolist() == list(range(n))
    elems, words = naive_closure(gens)
    assert size == len(elems)
    assert [tuple(r) for r in m.elements.tolist()] == elems
    assert [m.word_of(i) for i in range(size)] == [tuple(dfa.alphabet[a] for a in w) for w in words]
    assert m.words == tuple(m.word_of(i) for i in range(size))
    assert m.word_lengths().tolist() == [len(w) for w in words]

    # each element is the composition along its word, and acts as the DFA does on that word
    for i in range(size):
        t = np.arange(n)
        for s in m.word_of(i):
            t = compose(t, dfa.letter(s))
        assert t.tolist() == m.elements[i].tolist()
        assert m.evaluate(m.word_of(i)) == i
    for q in range(n):
        assert dfa.run([m.word_of(size - 1)], start=q).final_states[0] == m.elements[size - 1][q]

    # closure: every product is an element, and equals the composition of the rows
    table = full_table(m) if size <= 400 else None
    if table is not None:
        assert table.min() >= 0
        i, j = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
        assert (m.elements[table] == compose(m.elements[i].astype(np.int64),
                                             m.elements[j].astype(np.int64))).all()
    for a in range(len(gens)):
        assert m.right_cayley[:, a].tolist() == [
            m.index(compose(m.elements[i].astype(np.int64), gens[a])) for i in range(size)]

    # units are exactly the permutation elements
    perm = [i for i in range(size) if sorted(elems[i]) == list(range(n))]
    assert m.group_of_units().tolist() == perm
    assert m.is_group() == (len(perm) == size)

    # maximal subgroups: closed, contain their idempotent, and match the definition
    idem = [i for i in range(size) if m.multiply(i, i) == i]
    assert m.idempotents().tolist() == idem
    subgroups = m.maximal_subgroups()
    assert [h.idempotent for h in subgroups] == idem
    for h in subgroups:
        members = h.elements
        assert h.idempotent in members.tolist()
        prods = m.multiply(members[:, None], members[None, :])
        assert set(prods.ravel().tolist()) <= set(members.tolist())
        assert h.rank == len(set(elems[h.idempotent]))
        if table is not None:
            assert set(members.tolist()) == definition_subgroup(table, h.idempotent)
    assert [h for h in subgroups if h.idempotent == 0][0].elements.tolist() == perm

    # aperiodicity: H-classes vs. the power criterion
    assert m.is_aperiodic() == power_aperiodic(m)
    c = classify(dfa)
    assert c.size == size and c.is_aperiodic == m.is_aperiodic()
    assert c.group_of_units_order == len(perm)
    assert c.kind in ("trivial", "group", "aperiodic", "permutation-reset", "general")
    assert (c.kind == "trivial") == (size == 1)


@settings(max_examples=40)
@given(random_dfas(max_states=6, max_symbols=2),
       st.lists(st.lists(st.integers(0, 1), max_size=12), min_size=1, max_size=5))
def test_word_elements_match_dfa_runs(dfa, raw_words):
    m = transition_monoid(dfa)
    words = [[dfa.alphabet[min(s, dfa.n_symbols - 1)] for s in w] for w in raw_words]
    for w in words:
        x = m.elements[m.evaluate(w)]
        for q in range(dfa.n_states):
            assert int(x[q]) == dfa.final_state(w, state=q)


@settings(max_examples=30)
@given(st.integers(1, 6), st.data())
def test_random_permutation_generators_give_groups(n, data):
    k = data.draw(st.integers(1, 3))
    perms = [data.draw(st.permutations(list(range(n)))) for _ in range(k)]
    m = transition_monoid(perms)
    elems, _ = naive_closure([tuple(p) for p in perms])
    assert m.size == len(elems) and m.is_group()
    assert math.factorial(n) % m.size == 0  # Lagrange: a subgroup of S_n
    assert classify(m).kind == ("trivial" if m.size == 1 else "group")


# ----------------------------------------------------------------------------- the catalogue
GROUP_WORD_PROBLEMS = {"parity", "cyclic", "dihedral", "symmetric", "alternating", "quaternion"}
STAR_FREE = {"ab_star", "first_symbol", "last_symbol", "flip_flop", "even_pairs", "dyck",
             "at_least", "grid_world"}
COUNTING = {"parity", "count_mod", "aa_star", "cyclic", "counter_reset"}


def test_classification_of_the_catalogue():
    from statetrack.automata.families import catalogue

    seen = set()
    for entry in catalogue():
        dfa, fam = entry.dfa, entry.family
        m = transition_monoid(dfa)
        c = classify(m)
        assert c.is_aperiodic == power_aperiodic(m), entry.name
        assert c.is_group == all(sorted(dfa.letter(a).tolist()) == list(range(dfa.n_states))
                                 for a in dfa.alphabet), entry.name
        assert c.group_of_units_order == len(
            [r for r in m.elements.tolist() if len(set(r)) == dfa.n_states]), entry.name
        if fam in GROUP_WORD_PROBLEMS:
            # the group acts simply transitively on its own elements: |M| = |G| = n_states
            assert (c.kind, c.size) == ("group", dfa.n_states), entry.name
            assert c.maximal_subgroup_orders == (dfa.n_states,), entry.name
            seen.add(fam)
        if fam in STAR_FREE:
            assert c.kind == "aperiodic" and c.is_aperiodic, entry.name
            seen.add(fam)
        if fam in COUNTING:
            assert not c.is_aperiodic and max(c.maximal_subgroup_orders) > 1, entry.name
            seen.add(fam)
    assert seen == GROUP_WORD_PROBLEMS | STAR_FREE | COUNTING


# ----------------------------------------------------------------------------- limits
def test_limit_error_fails_fast_with_a_clear_message():
    gens = [cycle(7), transposition(7), rank_drop(7)]
    with pytest.raises(MonoidLimitError) as info:
        transition_monoid(gens, limit=1000)
    msg = str(info.value)
    assert "limit=1000" in msg and "larger limit" in msg and "limit=10000" in msg
    found = int(re.search(r"found (\d+)", msg).group(1))
    assert 1000 < found < 7 ** 7 // 4  # stopped early, long before the 823,543 elements


def test_limit_boundary():
    gens = {"c": cycle(4), "t": transposition(4)}
    assert transition_monoid(gens, limit=24).size == 24
    with pytest.raises(MonoidLimitError, match="more than limit=23"):
        transition_monoid(gens, limit=23)
    with pytest.raises(MonoidLimitError, match="more than limit=1"):
        classify(DFA([[1], [0]], alphabet="a"), limit=1)


@pytest.mark.parametrize("limit", [0, -5, True, 2.5, "100"])
def test_bad_limit(limit):
    with pytest.raises(MonoidLimitError, match="limit must be a positive int"):
        transition_monoid({"a": [0]}, limit=limit)


def test_progress_bar(capsys):
    m = transition_monoid({"c": cycle(4), "t": transposition(4)}, progress=True)
    assert m.size == 24
    assert "transition monoid" in capsys.readouterr().err


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("source, pattern", [
    ([[1, 0], [0, 1, 2]], r"generator '1' has length 3, but the transformations act on 2"),
    ([[0, 2]], r"generator '0' maps point 1 to 2, outside the points 0..1"),
    ([[0, -1]], r"generator '0' maps point 1 to -1"),
    ([[0.0, 1.0]], r"must hold integers, got dtype float64"),
    ([[True, False]], r"must hold integers, got dtype bool"),
    ([[[0, 1]]], r"must be a 1-D array of ints, got shape \(1, 2\)"),
    ([[]], r"is empty"),
    ([], r"no generators given"),
    ({}, r"no generators given"),
    ({1: [0]}, r"generator names must be non-empty strings, got 1"),
    ({"": [0]}, r"generator names must be non-empty strings"),
    ("ab", r"expected a DFA, a mapping"),
    (42, r"expected a DFA, a mapping .* got int"),
    ([["a", "b"]], r"must hold integers"),
    ([[0, None]], r"must be a 1-D array of ints"),
    ([[[0], [1, 2]]], r"not an array of ints|ragged"),
    ({"a": "01"}, r"generator 'a' must be an array of ints, got a string"),
])
def test_bad_generators(source, pattern):
    with pytest.raises(TransformationError, match=pattern):
        transition_monoid(source)


def test_error_classes_are_automaton_errors():
    m = transition_monoid({"a": [1, 0, 2]})
    with pytest.raises(TransformationError, match="has length 2, but the transformations act on 3"):
        m.index([0, 1])
    with pytest.raises(TransformationError, match="maps point 0 to 3"):
        m.index([3, 1, 2])
    with pytest.raises(NotInMonoidError, match=r"\[0, 0, 0\] is not an element") as info:
        m.index([0, 0, 0])
    assert isinstance(info.value, KeyError) and isinstance(info.value, AutomatonError)
    assert [0, 0, 0] not in m and [1, 0, 2] in m and [7] not in m
    with pytest.raises(ElementIndexError, match=r"element index j 2 out of range: .* 0..1"):
        m.multiply(0, 2)
    with pytest.raises(ElementIndexError, match=r"element index i -1 out of range"):
        m.multiply(-1, 0)
    with pytest.raises(ElementIndexError, match="out of range"):
        m.multiply([0, 1], [1, 5])
    with pytest.raises(ElementIndexError, match="must be an int"):
        m.multiply(0.5, 0)
    with pytest.raises(ElementIndexError, match=r"shapes \(2,\) and \(3,\) do not broadcast"):
        m.multiply([0, 1], [0, 1, 1])
    with pytest.raises(ElementIndexError, match="must be an int"):
        m.word_of(True)
    with pytest.raises(ElementIndexError, match="element index 9 out of range"):
        m.h_class(9)
    assert isinstance(ElementIndexError("x"), IndexError)
    with pytest.raises(UnknownSymbolError, match="letter 'b' at position 1 is not a generator"):
        m.evaluate("ab")
    with pytest.raises(UnknownSymbolError, match="letter 3 at position 0"):
        m.evaluate([3])


def test_results_are_read_only():
    m = transition_monoid({"a": [1, 0, 2], "r": [0, 0, 2]})
    for arr in (m.elements, m.right_cayley, m.generators, m.idempotents(), m.ranks()):
        with pytest.raises(ValueError):
            arr[0] = 0
    with pytest.raises(AttributeError, match="immutable"):
        m.elements = None
    assert repr(m) == "TransitionMonoid(size=4, n_points=3, letters=['a', 'r'])"
    assert len(m) == 4
    assert m.ranks().tolist() == [3, 3, 2, 2]
    # r = [0, 0, 2] and ra = [1, 1, 2] share a kernel but not an image
    assert m.h_class(2).tolist() == [2] and m.h_class(0).tolist() == [0, 1]


def test_compose_names_bad_maps():
    """compose([0, 1], [0, 1, 2]) returned [0, 1] silently and compose([0, 5], [0, 1]) raised
    numpy's IndexError."""
    from statetrack.automata.errors import TransformationError
    from statetrack.automata.monoid import compose

    with pytest.raises(TransformationError, match="x maps 2 points and y 3"):
        compose([0, 1], [0, 1, 2])
    with pytest.raises(TransformationError, match="x has an entry outside 0 .. 1"):
        compose([0, 5], [0, 1])
    with pytest.raises(TransformationError, match="integer array"):
        compose([0.5, 1.0], [0, 1])
    assert compose([[1, 0], [0, 0]], [1, 0]).tolist() == [[0, 1], [1, 1]]
