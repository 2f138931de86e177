"""Tests of the DFA core (statetrack/automata/dfa.py).

Validation (every error class, with its message), running words, structure-preserving
operations, boolean operations, equivalence with shortest distinguishing words, JSON, DOT and
drawing. Property tests draw automata from statetrack.automata.strategies and compare with
brute force: explicit enumeration of words, or a plain-Python run of the transition table.
"""

from __future__ import annotations

import itertools
import json
import re

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from statetrack.automata import (
    DFA,
    AcceptingStatesError,
    AlphabetError,
    AutomatonError,
    AutomatonLabelError,
    AutomatonSizeError,
    SerializationError,
    StartStateError,
    TransitionShapeError,
    TransitionTargetError,
    UnknownSymbolError,
)
from statetrack.automata.strategies import dfas, words

PARITY = DFA([[0, 1], [1, 0]], start=0, accepting=[1], alphabet="01")


def naive_accepts(d: DFA, word) -> bool:
    """Run the transition table one symbol at a time in plain Python (the oracle)."""
    q = d.start
    for s in word:
        q = int(d.transitions[q, d.alphabet.index(s)])
        if q < 0:
            return False
    return bool(d.accepting[q])


# --------------------------------------------------------------------------- validation
class TestValidation:
    @pytest.mark.parametrize("table, pattern", [
        ([0, 1], r"2-D table .* got shape \(2,\)"),
        ([[0, 1], [0]], r"ragged rows: row 0 has 2 entries, row 1 has 1 entry$"),
        ([[0, 1], 1], r"ragged rows: row 0 has 2 entries, row 1 is not a list$"),
        ([[0, 1], [1, None]], r"must hold integers: row 1, column 1 is None$"),
        ([[0, 1], [1, True]], r"must hold integers: row 1, column 1 is True$"),
        ([[2 ** 70, 0]], r"must hold integers: row 0, column 0 is 1180591620717411303424$"),
        (np.zeros((0, 2), dtype=int), r"at least one state \(transitions has 0 rows\)"),
        ([[0.5, 0]], r"must hold integers, got dtype float64"),
        ([[True, False]], r"must hold integers: row 0, column 0 is True"),
        (np.array([[True, False]]), r"must hold integers, got dtype bool"),
        ([["a", "b"]], r"must hold integers: row 0, column 0 is 'a'"),
        (np.array([["a", "b"]]), r"must hold integers, got dtype <U1"),
        (None, r"2-D table .* got shape \(\)"),
    ])
    def test_transition_shape(self, table, pattern):
        with pytest.raises(TransitionShapeError, match=pattern):
            DFA(table)

    def test_integral_floats_are_accepted(self):
        d = DFA([[0.0, 1.0], [1.0, 0.0]], accepting=[1])
        assert d.transitions.dtype == np.int64 and d.transitions.tolist() == [[0, 1], [1, 0]]

    @pytest.mark.parametrize("table, pattern", [
        ([[0, 5]], r"transition from state 0 on '1' goes to 5, but states are 0\.\.0"),
        ([[0, 0], [1, -2]], r"transition from state 1 on '1' goes to -2, but states are 0\.\.1"),
    ])
    def test_transition_target(self, table, pattern):
        with pytest.raises(TransitionTargetError, match=pattern):
            DFA(table)

    @pytest.mark.parametrize("start, pattern", [
        (2, r"start state 2 is not a state \(states are 0\.\.1\)"),
        (-1, r"start state -1 is not a state"),
        ("0", r"start state must be an int, got str"),
        (True, r"start state must be an int, got bool"),
        (1.0, r"start state must be an int, got float"),
    ])
    def test_start_state(self, start, pattern):
        with pytest.raises(StartStateError, match=pattern):
            DFA([[0], [1]], start=start)

    @pytest.mark.parametrize("accepting, pattern", [
        ([True], r"an accepting mask must have shape \(2,\), got \(1,\)"),
        (np.array([True, False, True]), r"mask must have shape \(2,\), got \(3,\)"),
        ([2], r"accepting state 2 is not a state \(states are 0\.\.1\)"),
        ([-1], r"accepting state -1 is not a state"),
        ([0.5], r"boolean mask or a list of state indices, got float64"),
        ([[0]], r"boolean mask or a list of state indices, got int64 of shape \(1, 1\)"),
        (5, r"boolean mask or a list of state indices, got int"),
        (None, r"boolean mask or a list of state indices, got NoneType"),
    ])
    def test_accepting(self, accepting, pattern):
        with pytest.raises(AcceptingStatesError, match=pattern):
            DFA([[0], [1]], accepting=accepting)

    def test_accepting_forms_agree(self):
        by_index = DFA([[0], [1], [2]], accepting=[2, 0, 2])
        by_mask = DFA([[0], [1], [2]], accepting=[True, False, True])
        by_set = DFA([[0], [1], [2]], accepting={0, 2})
        assert by_index == by_mask == by_set
        assert by_index.accepting_states == (0, 2)

    @pytest.mark.parametrize("alphabet, pattern", [
        ("aa", r"duplicate symbol 'a' in the alphabet"),
        (["x", "y", "x"], r"duplicate symbol 'x'"),
        ([], r"the alphabet is empty"),
        (["a", 1], r"symbol 1 must be a non-empty string, got 1"),
        (["a", ""], r"symbol 1 must be a non-empty string, got ''"),
        (["a", "b c"], r"symbol 'b c' contains whitespace"),
        ("abc", r"the alphabet has 3 symbols but transitions has 2 columns"),
        (5, r"the alphabet must be a sequence of strings, got int"),
    ])
    def test_alphabet(self, alphabet, pattern):
        with pytest.raises(AlphabetError, match=pattern):
            DFA([[0, 0]], alphabet=alphabet)

    def test_alphabet_required_by_from_function(self):
        with pytest.raises(AlphabetError, match="an alphabet is required"):
            DFA.from_function(0, None, lambda q, a: q, lambda q: True)

    def test_alphabets_must_match_for_comparisons(self):
        other = DFA([[0, 0]], alphabet="ab")
        for op in (PARITY.union, PARITY.intersection, PARITY.distinguishing_word,
                   PARITY.is_equivalent):
            with pytest.raises(AlphabetError, match=r"alphabets differ: \['0', '1'\] vs \['a', 'b'\]"):
                op(other)
        with pytest.raises(TypeError, match="expected a DFA, got str"):
            PARITY.union("01")

    def test_labels(self):
        with pytest.raises(AutomatonLabelError, match="labels has 1 entries for 2 states"):
            DFA([[0], [1]], labels=["x"])
        with pytest.raises(AutomatonLabelError, match="labels must be a sequence of 2 strings, got int"):
            DFA([[0], [1]], labels=5)
        assert DFA([[0], [1]], labels=["x", 7]).labels == ("x", "7")

    def test_size_limit_of_from_function(self):
        with pytest.raises(AutomatonSizeError, match="more than max_states=10 states are reachable"):
            DFA.from_function(0, "a", lambda q, a: q + 1, lambda q: False, max_states=10)
        # exactly max_states reachable states is fine
        d = DFA.from_function(0, "a", lambda q, a: (q + 1) % 10, lambda q: q == 0, max_states=10)
        assert d.n_states == 10

    def test_draw_size_limit(self):
        big = DFA(np.arange(1, 62).reshape(61, 1) % 61)
        with pytest.raises(AutomatonSizeError, match="61 states is too many to draw"):
            big.draw()

    def test_every_error_is_an_automaton_error_and_value_error(self):
        for cls in (TransitionShapeError, TransitionTargetError, StartStateError,
                    AcceptingStatesError, AlphabetError, UnknownSymbolError, SerializationError,
                    AutomatonLabelError, AutomatonSizeError):
            assert issubclass(cls, AutomatonError) and issubclass(cls, ValueError)

    def test_immutable(self):
        d = DFA([[0, 1], [1, 0]], accepting=[1])
        with pytest.raises(ValueError):
            d.transitions[0, 0] = 1
        with pytest.raises(ValueError):
            d.accepting[0] = True
        with pytest.raises(AttributeError):
            d.foo = 1  # __slots__
        table = np.array([[0, 1], [1, 0]])
        d2 = DFA(table)
        table[0, 0] = 1  # the DFA holds a private copy
        assert d2.transitions[0, 0] == 0


# --------------------------------------------------------------------------- symbols and words
class TestWords:
    def test_unknown_symbols(self):
        ab = DFA([[0, 0]], alphabet="ab")
        with pytest.raises(UnknownSymbolError, match=r"symbol 'c' at position 2 is not in the alphabet \['a', 'b'\]"):
            ab.accepts("abc")
        with pytest.raises(UnknownSymbolError, match=r"symbol 'z' is not in the alphabet"):
            ab.symbol_index("z")
        with pytest.raises(UnknownSymbolError, match=r"symbol index 2 out of range 0\.\.1"):
            ab.symbol_index(2)
        with pytest.raises(UnknownSymbolError, match=r"symbol index 5 at position 1 out of range 0\.\.1"):
            ab.encode(np.array([0, 5]))
        with pytest.raises(UnknownSymbolError, match=r"1-D integer symbol indices, got shape \(1, 2\)"):
            ab.encode(np.array([[0, 1]]))
        with pytest.raises(UnknownSymbolError, match=r"got shape \(2,\) dtype float64"):
            ab.encode(np.array([0.0, 1.0]))
        with pytest.raises(UnknownSymbolError, match=r"symbol True at position 0"):
            ab.encode([True])
        with pytest.raises(UnknownSymbolError, match=r"symbol index 3 out of range"):
            ab.decode([0, 3])
        with pytest.raises(UnknownSymbolError, match=r"symbol 'q' at position 0"):
            ab.run(["ab", "q"])
        with pytest.raises(UnknownSymbolError, match=r"symbol 'c'"):
            ab.letter("c")

    def test_unknown_symbol_error_is_key_error_with_plain_message(self):
        ab = DFA([[0, 0]], alphabet="ab")
        with pytest.raises(KeyError) as info:
            ab.symbol_index("z")
        assert str(info.value) == "symbol 'z' is not in the alphabet ['a', 'b']"

    def test_bad_word_types(self):
        with pytest.raises(TypeError, match="a word must be a str, a sequence .* got NoneType"):
            PARITY.accepts(None)
        with pytest.raises(TypeError, match="got int"):
            PARITY.accepts(5)

    def test_bad_states(self):
        with pytest.raises(StartStateError, match=r"state 7 is not a state \(states are 0\.\.1\)"):
            PARITY.step(7, "0")
        with pytest.raises(StartStateError, match=r"state -1 is not a state"):
            PARITY.final_state("1", state=-1)
        with pytest.raises(StartStateError, match=r"start 2 is not a state"):
            PARITY.run(["1"], start=2)
        with pytest.raises(StartStateError, match=r"start must be an int, got str"):
            PARITY.run(["1"], start="0")

    def test_word_forms_agree(self):
        d = DFA([[1, 0], [0, 1]], accepting=[1], alphabet="ab")
        forms = ["aab", ["a", "a", "b"], ("a", "a", "b"), [0, 0, 1], np.array([0, 0, 1])]
        assert {d.accepts(w) for w in forms} == {False}
        assert all(d.encode(w).tolist() == [0, 0, 1] for w in forms)
        assert d.format_word([0, 1]) == "ab"
        assert d.decode(np.array([1, 0])) == ("b", "a")

    def test_multi_character_symbols(self):
        stack = DFA([[1, 2], [2, 0], [2, 2]], accepting=[0], alphabet=["push", "pop"])
        assert stack.encode("push pop").tolist() == [0, 1]
        assert stack.accepts("push pop") and not stack.accepts("push")
        assert stack.format_word([0, 1, 0]) == "push pop push"
        assert stack.accepts(["push", "pop", "push", "pop"])

    def test_step_final_state_letter(self):
        d = DFA([[1, -1], [1, 0]], accepting=[0], alphabet="ab")
        assert d.step(0, "a") == 1 and d.step(0, "b") == -1 and d.step(1, 1) == 0
        assert d.final_state("ab") == 0 and d.final_state("b") == -1
        assert d.final_state("ba", state=1) == 1
        assert d.letter("b").tolist() == [-1, 0] and d.letter(0).tolist() == [1, 1]
        assert not d.accepts("bab")  # falls off a partial DFA

    def test_run_unequal_lengths(self):
        d = DFA([[1, 0], [2, 1], [2, 2]], accepting=[1], alphabet="ab")
        r = d.run(["", "a", "abab", "bb", "aab"])
        assert r.lengths.tolist() == [0, 1, 4, 2, 3]
        assert r.final_states.tolist() == [0, 1, 2, 0, 2]
        assert r.accepted.tolist() == [False, True, False, False, False]
        assert r.states.shape == (5, 5)
        assert r.states.tolist() == [
            [0, -1, -1, -1, -1],
            [0, 1, -1, -1, -1],
            [0, 1, 1, 2, 2],
            [0, 0, 0, -1, -1],
            [0, 1, 2, 2, -1],
        ]

    def test_run_partial_and_start(self):
        d = DFA([[1, -1], [1, 0]], accepting=[1], alphabet="ab")
        r = d.run(["b", "ba", "ab", "a"])
        assert r.final_states.tolist() == [-1, -1, 0, 1]
        assert r.accepted.tolist() == [False, False, False, True]
        assert r.states.tolist() == [[0, -1, -1], [0, -1, -1], [0, 1, 0], [0, 1, -1]]
        r1 = d.run(["b", ""], start=1)
        assert r1.final_states.tolist() == [0, 1] and r1.accepted.tolist() == [False, True]

    def test_run_empty_batch_and_2d_array(self):
        r = PARITY.run([])
        assert r.final_states.shape == (0,) and r.states.shape == (0, 1)
        r2 = PARITY.run(np.array([[1, 1, 0], [1, 0, 0]]))
        assert r2.accepted.tolist() == [False, True]

    @settings(max_examples=60)
    @given(st.data())
    def test_accepts_agrees_with_run_and_naive(self, data):
        d = data.draw(dfas(max_states=6, complete=False), label="dfa")
        ws = data.draw(st.lists(words(d, max_size=12), max_size=10), label="words")
        r = d.run(ws)
        expected = [naive_accepts(d, w) for w in ws]
        assert [d.accepts(w) for w in ws] == expected
        assert r.accepted.tolist() == expected
        for i, w in enumerate(ws):
            # per-position states agree with final_state on prefixes
            assert r.states[i, len(w)] == r.final_states[i] == d.final_state(w)
            for t in range(len(w) + 1):
                assert r.states[i, t] == d.final_state(w[:t])
            assert (r.states[i, len(w) + 1:] == -1).all()


# --------------------------------------------------------------------------- structure
class TestStructure:
    def test_complete_adds_sink_once(self):
        d = DFA([[1, -1], [-1, -1]], accepting=[1], alphabet="ab", labels=["p", "q"])
        c = d.complete()
        assert c.n_states == 3 and c.is_complete and not d.is_complete
        assert c.transitions.tolist() == [[1, 2], [2, 2], [2, 2]]
        assert c.labels == ("p", "q", "sink") and not c.accepting[2]
        assert c.complete() is c

    def test_trim_and_empty_language(self):
        # state 2 unreachable, state 3 is a dead end
        d = DFA([[1, 3], [1, 0], [0, 0], [3, 3]], accepting=[1], alphabet="ab")
        t = d.trim()
        assert t.n_states == 2 and t.transitions.tolist() == [[1, -1], [1, 0]]
        empty = DFA([[1], [1]], accepting=[])
        assert empty.is_empty() and not d.is_empty()
        te = empty.trim()
        assert te.n_states == 1 and te.transitions.tolist() == [[-1]] and te.is_empty()

    def test_canonical_is_bfs_order(self):
        d = DFA([[2, 3], [1, 1], [1, 0], [3, 3]], start=0, accepting=[1], alphabet="ab")
        c = d.canonical()
        # BFS from 0: 0, then 2 (a), 3 (b), then 1 (from 2 on a)
        assert c.transitions.tolist() == [[1, 2], [3, 0], [2, 2], [3, 3]]
        assert c.accepting_states == (3,)
        assert c.canonical() == c

    @settings(max_examples=80)
    @given(dfas(max_states=9, max_alphabet_size=3, complete=False))
    def test_canonical_equals_a_plain_bfs(self, d):
        order = [d.start]
        for q in order:  # queue BFS, symbols in column order
            for t in d.transitions[q]:
                if t >= 0 and int(t) not in order:
                    order.append(int(t))
        assert d.reachable_states().tolist() == order
        new = {q: i for i, q in enumerate(order)}
        c = d.canonical()
        assert c.start == 0 and c.alphabet == d.alphabet
        assert c.transitions.tolist() == [[new[int(t)] if t >= 0 else -1 for t in d.transitions[q]]
                                          for q in order]
        assert c.accepting.tolist() == d.accepting[order].tolist()
        labelled = DFA(d.transitions, d.start, d.accepting, d.alphabet,
                       labels=[f"s{q}" for q in range(d.n_states)])
        assert [labelled.canonical().state_label(i) for i in range(len(order))] == \
            [f"s{q}" for q in order]
        assert not c.transitions.flags.writeable and not c.accepting.flags.writeable

    def test_reachable_and_coreachable(self):
        d = DFA([[1, 3], [1, 0], [0, 0], [3, 3]], accepting=[1], alphabet="ab")
        assert d.reachable_states().tolist() == [0, 1, 3]
        assert d.coreachable_mask().tolist() == [True, True, True, False]

    @settings(max_examples=60)
    @given(st.data())
    def test_complete_trim_canonical_preserve_language(self, data):
        d = data.draw(dfas(max_states=6, complete=False), label="dfa")
        ws = data.draw(st.lists(words(d, max_size=10), max_size=15), label="words")
        expected = [naive_accepts(d, w) for w in ws]
        for op in (DFA.complete, DFA.trim, DFA.canonical):
            e = op(d)
            assert e.alphabet == d.alphabet
            assert [e.accepts(w) for w in ws] == expected, op.__name__
            assert e.is_equivalent(d) and d.is_equivalent(e)
        t = d.trim()
        assert t.n_states <= d.n_states
        useful = t.coreachable_mask()
        useful[t.start] = True
        assert useful.all()  # every kept state is co-reachable (or the start)
        assert len(t.reachable_states()) == t.n_states
        assert len(d.canonical().reachable_states()) == d.canonical().n_states

    def test_from_function_is_canonical(self):
        mod3 = DFA.from_function(0, "ab", lambda q, a: (q + (a == "a")) % 3, lambda q: q == 0,
                                 label=lambda q: f"r{q}")
        assert mod3.labels == ("r0", "r1", "r2")
        assert mod3.canonical() == mod3
        assert [mod3.accepts("a" * i + "b") for i in range(6)] == [True, False, False] * 2


# --------------------------------------------------------------------------- boolean ops
BOOLEAN_OPS = {
    "union": (DFA.union, lambda x, y: x or y),
    "intersection": (DFA.intersection, lambda x, y: x and y),
    "difference": (DFA.difference, lambda x, y: x and not y),
    "symmetric_difference": (DFA.symmetric_difference, lambda x, y: x != y),
}


@settings(max_examples=40)
@given(st.data())
def test_products_are_pointwise_boolean_ops(data):
    a = data.draw(dfas(alphabet="ab", max_states=5, complete=False), label="a")
    b = data.draw(dfas(alphabet="ab", max_states=5, complete=False), label="b")
    if data.draw(st.booleans(), label="reorder b's alphabet"):
        # same symbols, other column order: products align columns by symbol
        b = DFA(b.transitions[:, ::-1], b.start, b.accepting, b.alphabet[::-1])
    ws = data.draw(st.lists(words("ab", max_size=10), min_size=1, max_size=25), label="words")
    in_a = [naive_accepts(a, w) for w in ws]
    in_b = [naive_accepts(b, w) for w in ws]
    for name, (op, pointwise) in BOOLEAN_OPS.items():
        p = op(a, b)
        assert p.alphabet == a.alphabet and p.is_complete
        assert p.run(ws).accepted.tolist() == [pointwise(x, y) for x, y in zip(in_a, in_b)], name
    comp = a.complement()
    assert [comp.accepts(w) for w in ws] == [not x for x in in_a]
    assert comp.complement().is_equivalent(a)


def test_product_with_custom_rule_and_sizes():
    a = DFA([[1, 0], [0, 1]], accepting=[1], alphabet="ab")  # odd number of a's
    b = DFA([[0, 1], [1, 0]], accepting=[1], alphabet="ab")  # odd number of b's
    both_odd = a.intersection(b)
    assert both_odd.n_states == 4
    assert both_odd.accepts("ab") and not both_odd.accepts("aab")
    xnor = a.product(b, lambda x, y: x == y)
    assert xnor.accepts("") and xnor.accepts("ab") and not xnor.accepts("a")


# --------------------------------------------------------------------------- equivalence
def brute_force_shortest(a: DFA, b: DFA):
    """Length of the shortest word on which a and b disagree, by enumerating words; or None.

    Inequivalent DFAs with n1 and n2 states (after completion) disagree on a word of length
    <= n1 + n2 - 2: Moore's refinement of their disjoint union separates the two start states
    within n1 + n2 - 2 rounds. So enumerating up to that length decides equivalence.
    """
    bound = a.complete().n_states + b.complete().n_states - 2
    for n in range(bound + 1):
        ws = list(itertools.product(a.alphabet, repeat=n))
        if (a.run(ws).accepted != b.run(ws).accepted).any():
            return n
    return None


def check_distinguishing_word(a: DFA, b: DFA):
    w = a.distinguishing_word(b)
    shortest = brute_force_shortest(a, b)
    if w is None:
        assert shortest is None
        assert a.is_equivalent(b) and b.is_equivalent(a)
    else:
        assert naive_accepts(a, w) != naive_accepts(b, w)  # it is distinguishing
        assert len(w) == shortest  # and no shorter word is
        assert not a.is_equivalent(b)
        assert len(b.distinguishing_word(a)) == shortest


@settings(max_examples=150)
@given(dfas(alphabet="ab", max_states=4), dfas(alphabet="ab", max_states=4))
def test_distinguishing_word_is_shortest(a, b):
    check_distinguishing_word(a, b)


@settings(max_examples=60)
@given(dfas(alphabet="ab", max_states=3, complete=False),
       dfas(alphabet="ab", max_states=3, complete=False))
def test_distinguishing_word_is_shortest_partial(a, b):
    check_distinguishing_word(a, b)


def test_distinguishing_word_is_shortest_on_seeded_random_pairs():
    rng = np.random.default_rng(2024)
    for _ in range(300):
        na, nb = (int(x) for x in rng.integers(1, 6, size=2))
        a = DFA(rng.integers(0, na, (na, 2)), 0, rng.random(na) < 0.5, "ab")
        b = DFA(rng.integers(0, nb, (nb, 2)), 0, rng.random(nb) < 0.5, "ab")
        check_distinguishing_word(a, b)
    # equivalent but structurally different: a 2-state parity and its 4-state unrolling
    par = DFA([[1, 0], [0, 1]], accepting=[1], alphabet="ab")
    unrolled = DFA([[1, 0], [2, 1], [3, 2], [0, 3]], accepting=[1, 3], alphabet="ab")
    check_distinguishing_word(par, unrolled)
    assert par.distinguishing_word(unrolled) is None


def test_distinguishing_word_examples():
    even = DFA([[0, 1], [1, 0]], accepting=[0], alphabet="ab")
    assert even.distinguishing_word(even.complement()) == ()
    # a^3 vs a^3 with a detour: "aaa" accepted by both; "ab..." differs
    ends_ab = DFA([[1, 0], [1, 2], [1, 0]], accepting=[2], alphabet="ab")
    ends_b = DFA([[0, 1], [0, 1]], accepting=[1], alphabet="ab")
    assert ends_ab.distinguishing_word(ends_b) == ("b",)
    assert ends_ab.intersection(ends_b).is_equivalent(ends_ab)


# --------------------------------------------------------------------------- serialization
class TestSerialization:
    @settings(max_examples=60)
    @given(dfas(max_states=6, complete=False), st.booleans())
    def test_json_round_trip_is_exact(self, d, with_labels):
        if with_labels:
            d = DFA(d.transitions, d.start, d.accepting, d.alphabet,
                    labels=[f"s{q}\"'\\ é" for q in range(d.n_states)])
        text = d.to_json()
        back = DFA.from_json(text)
        assert back == d and back.labels == d.labels
        assert back.transitions.dtype == np.int64
        assert back.to_json() == text
        assert DFA.from_dict(json.loads(text)) == d

    def test_file_round_trip(self, tmp_path):
        d = DFA([[1, -1], [1, 0]], accepting=[1], alphabet=["push", "pop"], labels=["a", "b"])
        path = tmp_path / "d.json"
        d.to_json(path, indent=2)
        assert DFA.from_json(path) == d and DFA.from_json(str(path)).labels == ("a", "b")
        assert path.read_text().endswith("\n")

    VALID = {"format": "statetrack.dfa", "version": 1, "alphabet": ["a", "b"], "n_states": 2,
             "start": 0, "accepting": [1], "transitions": [[1, 0], [0, 1]]}

    @pytest.mark.parametrize("change, pattern", [
        ({"format": "other"}, r"not a statetrack DFA \(field 'format' is 'other'"),
        ({"format": None}, r"field 'format' is None"),
        ({"version": 2}, r"unsupported version 2 \(this reader knows 1\)"),
        ({"version": "1"}, r"unsupported version '1'"),
        ({"version": True}, r"unsupported version True"),  # true == 1 in Python
        ({"version": 1.0}, r"unsupported version 1\.0"),
        ({"alphabet": None}, r"missing field 'alphabet'"),
        ({"start": None}, r"missing field 'start'"),
        ({"start": 0.0}, r"field 'start' must be an int, got float"),
        ({"start": True}, r"field 'start' must be an int, got bool"),
        ({"n_states": "2"}, r"field 'n_states' must be an int, got str"),
        ({"accepting": 1}, r"field 'accepting' must be a list, got int"),
        ({"transitions": {"0": [1, 0]}}, r"field 'transitions' must be a list, got dict"),
        ({"n_states": 3}, r"field 'transitions' has 2 rows but n_states is 3"),
        ({"transitions": [[1, 0], [0]]}, r"transitions row 1 must be a list of 2 integers"),
        ({"transitions": [[1, 0], [0, "1"]]}, r"transitions row 1 must be a list of 2 integers"),
        ({"transitions": [[1, 0], [0, 1.5]]}, r"transitions row 1 must be a list of 2 integers"),
        ({"transitions": [[1, 0], [0, 7]]}, r"input: transition from state 1 on 'b' goes to 7"),
        ({"transitions": [[1, 0], [0, 2 ** 70]]}, r"does not fit in 64 bits"),
        ({"accepting": ["1"]}, r"field 'accepting' must list state indices"),
        ({"accepting": [5]}, r"accepting state 5 is not a state"),
        ({"start": 9}, r"start state 9 is not a state"),
        ({"alphabet": ["a", "a"]}, r"duplicate symbol 'a'"),
        ({"alphabet": [], "transitions": [[], []]},
         r"input: field 'alphabet' is empty \(a DFA needs at least one symbol\)"),
        ({"alphabet": []}, r"input: field 'alphabet' is empty"),
        ({"alphabet": ["a", 1]}, r"symbol 1 must be a non-empty string"),
        ({"labels": ["x"]}, r"labels has 1 entries for 2 states"),
        ({"labels": "xy"}, r"field 'labels' must be a list of strings"),
        ({"labels": [1, 2]}, r"field 'labels' must be a list of strings"),
    ])
    def test_malformed_dicts(self, change, pattern):
        d = dict(self.VALID)
        for key, value in change.items():
            if value is None and key in ("alphabet", "start"):
                del d[key]
            else:
                d[key] = value
        with pytest.raises(SerializationError, match=pattern):
            DFA.from_json(json.dumps(d))

    def test_valid_reference_dict(self):
        d = DFA.from_json(json.dumps(self.VALID))
        assert d.accepts("a") and d.accepts("ab") and not d.accepts("aa") and d.labels is None

    @pytest.mark.parametrize("text, pattern", [
        ('{"format": "statetrack.dfa",', r"input: invalid JSON at line 1 column 29"),
        ("[1, 2]", r"input: expected a JSON object, got list"),
        ('{"format": "statetrack.dfa", "version": 1}\n{}', r"invalid JSON at line 2 column 1: Extra data"),
    ])
    def test_malformed_text(self, text, pattern):
        with pytest.raises(SerializationError, match=pattern):
            DFA.from_json(text)

    def test_malformed_and_foreign_files(self, tmp_path):
        truncated = tmp_path / "truncated.json"
        truncated.write_text(PARITY.to_json(indent=2)[:40])
        with pytest.raises(SerializationError, match=re.escape(str(truncated)) + r": invalid JSON at line \d+"):
            DFA.from_json(truncated)
        binary = tmp_path / "binary.json"
        binary.write_bytes(b"\xff\xfe\x00{garbage")
        with pytest.raises(SerializationError, match=r"binary\.json: not UTF-8 text \(byte 0"):
            DFA.from_json(binary)
        foreign = tmp_path / "foreign.json"
        foreign.write_text(json.dumps({"states": ["q0"], "input_symbols": ["a"]}))
        with pytest.raises(SerializationError, match=r"foreign\.json: not a statetrack DFA \(field 'format' is None"):
            DFA.from_json(str(foreign))
        future = tmp_path / "future.json"
        future.write_text(json.dumps(dict(PARITY.to_dict(), version=99)))
        with pytest.raises(SerializationError, match=r"future\.json: unsupported version 99"):
            DFA.from_json(future)
        with pytest.raises(SerializationError, match=r"missing\.json: cannot read \(No such file"):
            DFA.from_json(tmp_path / "missing.json")
        with pytest.raises(SerializationError, match=r"cannot read"):
            DFA.from_json(tmp_path)  # a directory
        # text that is neither JSON nor a file: said so, not "cannot read (No such file ...)"
        # about a path the user never meant (cold pass finding)
        with pytest.raises(SerializationError, match=r"^not json: neither JSON text \(which "
                                                      r"starts with '\{'\) nor the path of an "
                                                      r"existing file$"):
            DFA.from_json("not json")
        with pytest.raises(SerializationError, match=r"input: expected a JSON object, got str"):
            DFA.from_dict("not a dict")

    @pytest.mark.parametrize("value, pattern", [
        (PARITY.to_dict(), r"expected JSON text or a path, got dict; load a parsed JSON object with DFA\.from_dict"),
        (None, r"expected JSON text or a path, got NoneType"),
        (3, r"expected JSON text or a path, got int"),
    ])
    def test_from_json_of_a_non_text_names_the_argument(self, value, pattern):
        with pytest.raises(SerializationError, match="text_or_path: " + pattern):
            DFA.from_json(value)


# --------------------------------------------------------------------------- display
class TestDisplay:
    def test_dot(self):
        d = DFA([[1, 1], [1, -1]], accepting=[1], alphabet="ab", labels=['q"0', "q1"])
        assert d.to_dot(name="g") == "\n".join([
            "digraph g {",
            "  rankdir=LR;",
            "  __start [shape=point];",
            "  __start -> q0;",
            '  q0 [label="q\\"0", shape=circle];',
            '  q1 [label="q1", shape=doublecircle];',
            '  q0 -> q1 [label="a,b"];',
            '  q1 -> q1 [label="a"];',
            "}",
        ])

    def test_dot_edges_match_transitions(self):
        d = DFA([[1, 2, 0], [2, 2, 2], [0, 1, 1]], start=2, accepting=[0, 2], alphabet="xyz")
        dot = d.to_dot()
        assert "__start -> q2;" in dot
        assert dot.count("doublecircle") == 2
        edges = re.findall(r"q(\d+) -> q(\d+) \[label=\"([^\"]*)\"\]", dot)
        rebuilt = np.full((3, 3), -1)
        for p, q, syms in edges:
            for s in syms.split(","):
                rebuilt[int(p), "xyz".index(s)] = int(q)
        assert rebuilt.tolist() == d.transitions.tolist()

    def test_networkx(self):
        g = DFA([[1, -1], [1, 0]], accepting=[1], alphabet="ab").to_networkx()
        assert g.number_of_nodes() == 2 and g.number_of_edges() == 3
        assert g.nodes[1]["accepting"] and g.nodes[0]["start"]
        assert sorted((u, v, d["symbol"]) for u, v, d in g.edges(data=True)) == [
            (0, 1, "a"), (1, 0, "b"), (1, 1, "a")]

    @pytest.mark.parametrize("layout", ["kamada_kawai", "circular", "spring", "shell"])
    def test_draw_returns_axes(self, layout):
        import matplotlib.pyplot as plt
        from matplotlib.axes import Axes

        d = DFA([[1, 0], [2, 1], [2, 2]], accepting=[2], alphabet="ab", labels=["x", "y", "z"])
        ax = d.draw(layout=layout)
        assert isinstance(ax, Axes)
        assert {t.get_text() for t in ax.texts} >= {"x", "y", "z", "a", "b", "a,b"}
        plt.close(ax.figure)

    def test_draw_on_given_axes_and_single_state(self):
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots()
        assert DFA([[0]], accepting=[0]).draw(ax=ax) is ax
        with pytest.raises(ValueError, match="unknown layout 'grid'"):
            PARITY.draw(ax=ax, layout="grid")
        plt.close(fig)

    def test_repr_eq_hash(self):
        d = DFA([[0, 1], [1, 0]], accepting=[1], alphabet="01")
        assert repr(d) == "DFA(n_states=2, alphabet=['0', '1'], start=0, accepting=[1])"
        assert d == PARITY and hash(d) == hash(PARITY)
        assert d != DFA([[0, 1], [1, 0]], accepting=[0], alphabet="01")
        assert d != DFA([[0, 1], [1, 0]], start=1, accepting=[1], alphabet="01")
        assert d != DFA([[0, 1], [1, 0]], accepting=[1], alphabet="ab")
        assert (d == "parity") is False
        many = DFA(np.zeros((12, 1), dtype=int), accepting=range(12))
        assert repr(many).endswith("accepting=[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]...)")


def test_a_dfa_file_with_a_field_the_format_does_not_have_is_refused():
    """A typo in the optional 'labels' ("label") was silently dropped (fuzz campaign finding)."""
    d = PARITY.to_dict()
    d["label"] = ["even", "odd"]
    with pytest.raises(SerializationError, match=r"^input: unknown field 'label' \(did you mean "
                                                 r"'labels'\?\); the fields are format, "):
        DFA.from_dict(d)
    del d["label"]
    assert DFA.from_dict(d) == PARITY


def test_from_json_reads_an_existing_file_whose_name_starts_with_a_brace(tmp_path,
                                                                         monkeypatch):
    """'{x}.json', an existing relative file, was parsed as JSON text (invalid JSON)."""
    from statetrack.automata import families

    d = families.get("parity")
    monkeypatch.chdir(tmp_path)
    d.to_json("{x}.json")
    assert DFA.from_json("{x}.json") == d
    assert DFA.from_json(d.to_json()) == d          # JSON text still read as text
