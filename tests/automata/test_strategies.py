"""Tests of the public hypothesis strategies (statetrack/automata/strategies.py)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st

from statetrack.automata import DFA, AlphabetError
from statetrack.automata.errors import StrategyArgumentError
from statetrack.automata.strategies import default_alphabet, dfas, permutation_dfas, words

# no explain phase: it only annotates failure reports and costs seconds per find()
FIND = settings(database=None, max_examples=2000, phases=[Phase.generate, Phase.shrink])


def is_permutation_dfa(d: DFA) -> bool:
    return all(sorted(d.letter(a).tolist()) == list(range(d.n_states)) for a in d.alphabet)


# --------------------------------------------------------------------------- bounds
@settings(max_examples=80)
@given(st.data())
def test_dfas_respect_bounds(data):
    lo = data.draw(st.integers(1, 6), label="min_states")
    hi = data.draw(st.integers(lo, 9), label="max_states")
    klo = data.draw(st.integers(1, 3), label="min_alphabet_size")
    khi = data.draw(st.integers(klo, 4), label="max_alphabet_size")
    complete = data.draw(st.booleans(), label="complete")
    d = data.draw(dfas(min_states=lo, max_states=hi, min_alphabet_size=klo,
                       max_alphabet_size=khi, complete=complete), label="dfa")
    assert isinstance(d, DFA)
    assert lo <= d.n_states <= hi
    assert klo <= d.n_symbols <= khi
    assert d.alphabet == default_alphabet(d.n_symbols)
    assert d.transitions.min() >= (0 if complete else -1)
    if complete:
        assert d.is_complete
    assert 0 <= d.start < d.n_states


@settings(max_examples=30)
@given(dfas(alphabet_size=5, max_states=3), dfas(alphabet=["push", "pop"], max_states=3),
       dfas(alphabet="xy", alphabet_size=2))
def test_exact_alphabets(d5, dpp, dxy):
    assert d5.alphabet == ("a", "b", "c", "d", "e")
    assert dpp.alphabet == ("push", "pop")
    assert dxy.alphabet == ("x", "y")


@settings(max_examples=60)
@given(permutation_dfas(min_states=2, max_states=7, max_alphabet_size=4))
def test_permutation_dfas_are_permutation_automata(d):
    assert 2 <= d.n_states <= 7 and 1 <= d.n_symbols <= 4
    assert d.is_complete and is_permutation_dfa(d)


@settings(max_examples=60)
@given(st.data())
def test_words_respect_bounds_and_alphabet(data):
    d = data.draw(dfas(max_alphabet_size=4), label="dfa")
    lo = data.draw(st.integers(0, 5), label="min_size")
    hi = data.draw(st.integers(lo, 12), label="max_size")
    w = data.draw(words(d, min_size=lo, max_size=hi), label="word")
    assert isinstance(w, tuple) and lo <= len(w) <= hi
    assert set(w) <= set(d.alphabet)
    d.accepts(w)  # usable as a word
    w2 = data.draw(words(["push", "pop"], max_size=4), label="word over a list")
    assert set(w2) <= {"push", "pop"} and len(w2) <= 4
    w3 = data.draw(words("xyz", min_size=2, max_size=2), label="word over a str")
    assert len(w3) == 2 and set(w3) <= set("xyz")


def test_large_alphabets_use_multi_character_symbols():
    assert default_alphabet(26)[-1] == "z"
    assert default_alphabet(27) == tuple(f"s{i}" for i in range(27))
    d = find(dfas(alphabet_size=30, max_states=2), lambda d: True, settings=FIND)
    assert d.n_symbols == 30 and d.alphabet[29] == "s29"
    assert d.accepts("s0 s29") == d.accepts(["s0", "s29"])


# --------------------------------------------------------------------------- shrinking
def test_shrinks_to_fewest_states():
    d = find(dfas(max_states=8), lambda d: d.n_states >= 5, settings=FIND)
    assert d.n_states == 5
    assert d.n_symbols == 1  # then the smallest alphabet
    assert d.transitions.tolist() == [[0]] * 5 and d.start == 0 and d.accepting_states == ()


def test_shrinks_to_a_minimal_witness():
    # the smallest DFA whose language needs 3 states has exactly 3 states
    d = find(dfas(max_states=8, max_alphabet_size=2), lambda d: d.minimize().n_states >= 3,
             settings=FIND)
    assert d.n_states == 3 and d.minimize().n_states == 3


def test_shrinks_toward_min_states_and_partial_transitions_exist():
    d = find(dfas(min_states=3, max_states=8), lambda d: True, settings=FIND)
    assert d.n_states == 3
    p = find(dfas(complete=False, max_states=4), lambda d: not d.is_complete, settings=FIND)
    assert p.n_states == 1 and p.transitions.tolist() == [[-1]]


def test_permutation_dfas_shrink_toward_identity():
    d = find(permutation_dfas(max_states=6), lambda d: d.n_states >= 4, settings=FIND)
    assert d.n_states == 4 and d.transitions.tolist() == [[0], [1], [2], [3]]
    nontrivial = find(permutation_dfas(alphabet="ab", max_states=6),
                      lambda d: not d.minimize().n_states < 3, settings=FIND)
    assert nontrivial.n_states == 3 and is_permutation_dfa(nontrivial)


def test_words_shrink_toward_short_words_over_the_first_symbol():
    w = find(words("abc", max_size=10), lambda w: len(w) >= 3, settings=FIND)
    assert w == ("a", "a", "a")
    assert find(words("abc"), lambda w: "c" in w, settings=FIND) == ("c",)


# --------------------------------------------------------------------------- bad arguments
@pytest.mark.parametrize("kwargs, pattern", [
    (dict(min_states=0), r"min_states must be >= 1, got 0"),
    (dict(min_states=4, max_states=3), r"min_states=4 is larger than max_states=3"),
    (dict(max_states=2.5), r"max_states must be an int, got 2\.5"),
    (dict(max_states=True), r"max_states must be an int, got True"),
    (dict(min_alphabet_size=0), r"min_alphabet_size must be >= 1, got 0"),
    (dict(min_alphabet_size=3, max_alphabet_size=2), r"min_alphabet_size=3 is larger than max_alphabet_size=2"),
    (dict(alphabet_size=0), r"alphabet_size must be >= 1, got 0"),
    (dict(alphabet_size="2"), r"alphabet_size must be an int, got '2'"),
    (dict(alphabet="ab", alphabet_size=3), r"alphabet_size=3 but the alphabet \['a', 'b'\] has 2 symbols"),
])
@pytest.mark.parametrize("strategy", [dfas, permutation_dfas])
def test_bad_bounds_raise_at_creation(strategy, kwargs, pattern):
    with pytest.raises(StrategyArgumentError, match=pattern):
        strategy(**kwargs)


@pytest.mark.parametrize("strategy", [dfas, permutation_dfas])
def test_bad_alphabets(strategy):
    with pytest.raises(AlphabetError, match="duplicate symbol 'a'"):
        strategy(alphabet="aba")
    with pytest.raises(AlphabetError, match="the alphabet is empty"):
        strategy(alphabet="")


def test_keyword_only():
    with pytest.raises(TypeError):
        dfas(2)  # type: ignore[misc]
    with pytest.raises(TypeError):
        words("ab", 1, 2)  # type: ignore[misc]


@pytest.mark.parametrize("args, kwargs, error, pattern", [
    (("ab",), dict(min_size=3, max_size=2), StrategyArgumentError, r"min_size=3 is larger than max_size=2"),
    (("ab",), dict(min_size=-1), StrategyArgumentError, r"min_size must be >= 0, got -1"),
    (("ab",), dict(max_size=None), StrategyArgumentError, r"max_size must be an int, got None"),
    ((5,), {}, StrategyArgumentError, r"words\(\) needs a DFA or an alphabet .* got int"),
    ((np.array(["a"]),), {}, StrategyArgumentError, r"got ndarray"),
    (("",), {}, AlphabetError, r"the alphabet is empty"),
    ((["a", "a"],), {}, AlphabetError, r"duplicate symbol 'a'"),
])
def test_bad_word_arguments(args, kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        words(*args, **kwargs)
