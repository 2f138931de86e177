"""Tests of the Alphabet (statetrack/automata/alphabet.py), the one rule that splits words.

Every reader of words (DFA, transition monoid, constructed LRNN, finite-precision model, kernel
runner) goes through it; these tests check the rule itself against a plain-Python statement of
it, that the five readers agree with each other on random words, and that each keeps its own
exception classes and messages.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from statetrack.automata import DFA, Alphabet, AlphabetError, SymbolErrors, UnknownSymbolError
from statetrack.automata.alphabet import _VECTOR_MIN
from statetrack.automata.monoid import transition_monoid


def _split_by_definition(symbols: tuple[str, ...], word: str) -> list[str]:
    return list(word) if all(len(s) == 1 for s in symbols) else word.split()


single_char_alphabets = st.lists(st.characters(blacklist_categories=("Cs",)), min_size=1,
                                 max_size=6, unique=True)
multi_char_alphabets = st.lists(st.text(alphabet="abcxyz", min_size=1, max_size=3),
                                min_size=1, max_size=5, unique=True).filter(
    lambda syms: any(len(s) > 1 for s in syms))


@settings(max_examples=60, deadline=None)
@given(syms=single_char_alphabets, data=st.data())
def test_single_char_words_by_definition(syms, data):
    a = Alphabet(syms)
    ids = data.draw(st.lists(st.integers(0, len(syms) - 1), max_size=2 * _VECTOR_MIN))
    word = "".join(syms[i] for i in ids)
    # both the dictionary path (short words) and the vectorized path (long words)
    assert a.encode(word).tolist() == ids
    assert a.split(word) == _split_by_definition(tuple(syms), word)
    assert a.encode([syms[i] for i in ids]).tolist() == ids
    assert a.encode(ids).tolist() == ids
    assert a.encode(np.array(ids, dtype=np.int16)).tolist() == ids
    assert a.encode(iter([syms[i] for i in ids])).tolist() == ids
    assert a.format(ids) == word


@settings(max_examples=60, deadline=None)
@given(syms=multi_char_alphabets, data=st.data())
def test_multi_char_words_split_on_whitespace(syms, data):
    a = Alphabet(syms)
    ids = data.draw(st.lists(st.integers(0, len(syms) - 1), max_size=12))
    word = "  ".join(syms[i] for i in ids) + " "
    assert not a.single_char
    assert a.encode(word).tolist() == ids
    assert a.split(word) == _split_by_definition(tuple(syms), word)
    assert a.encode(a.format(ids)).tolist() == ids


@pytest.mark.parametrize("n", [5, _VECTOR_MIN + 3])
def test_unknown_symbol_position_on_both_paths(n):
    word = "ab" * n + "c" + "a"
    with pytest.raises(UnknownSymbolError, match=f"symbol 'c' at position {2 * n} is not"):
        Alphabet("ab").encode(word)


def test_batches_and_id_arrays():
    a = Alphabet("ab")
    ids, lengths = a.encode_batch(["ab", "", "bab"])
    assert ids.tolist() == [[0, 1, 0], [0, 0, 0], [1, 0, 1]] and lengths.tolist() == [2, 0, 3]
    ids, lengths = a.encode_batch([])
    assert ids.shape == (0, 0) and lengths.shape == (0,)
    assert a.check_ids(np.array([[1, 0]], dtype=np.uint8)).dtype == np.int64
    with pytest.raises(UnknownSymbolError, match=r"got -1 at index \(0, 1\)"):
        a.check_ids(np.array([[0, -1]]))


def test_bad_input_and_error_policy():
    a = Alphabet("ab")
    with pytest.raises(TypeError, match="a word must be a str, a sequence .* got NoneType"):
        a.encode(None)
    for bad in (3, b"ab", {"a": 1}, {"a"}, 2.5):
        with pytest.raises(TypeError):
            a.encode(bad)
    with pytest.raises(UnknownSymbolError, match="must be 1-D integer symbol indices"):
        a.encode(np.zeros((2, 2), dtype=np.int64))
    with pytest.raises(UnknownSymbolError, match="must be 1-D integer symbol indices"):
        a.encode(np.array([0.0, 1.0]))
    with pytest.raises(UnknownSymbolError, match=r"symbol index 2 at position 1 out of range 0\.\.1"):
        a.encode(np.array([0, 2]))
    with pytest.raises(UnknownSymbolError, match="symbol 2 at position 0 is not in the alphabet"):
        a.encode([2])
    with pytest.raises(UnknownSymbolError, match="symbol True at position 0"):
        a.encode([True])
    with pytest.raises(UnknownSymbolError, match="symbol 0 at position 0"):
        a.encode([0], indices=False)
    with pytest.raises(UnknownSymbolError, match="symbol 0 at position 0"):
        a.encode(np.array([0]), indices=False)

    class Unknown(KeyError):
        pass

    class Range(ValueError):
        pass

    policy = SymbolErrors(unknown=Unknown, out_of_range=Range, bad_word=RuntimeError,
                          range_message="id {value} at {position} > {last}",
                          bad_word_message="not a word: {type}")
    with pytest.raises(Range, match="w: id 7 at 1 > 1"):
        a.encode([0, 7], errors=policy, where="w: ")
    with pytest.raises(Range, match="id 7 at 0 > 1"):
        a.encode(np.array([7]), errors=policy)
    with pytest.raises(Unknown):
        a.encode("ax", errors=policy)
    with pytest.raises(RuntimeError, match="not a word: NoneType"):
        a.encode(None, errors=policy)
    with pytest.raises(AlphabetError, match="duplicate"):
        Alphabet("aba")
    with pytest.raises(AlphabetError, match="must be strings"):
        Alphabet(["a", 1])  # type: ignore[list-item]


def test_container_protocol():
    a = Alphabet(["push", "pop"])
    assert list(a) == ["push", "pop"] and len(a) == 2 and a[0] == "push"
    assert "pop" in a and "x" not in a and [1] not in a
    assert a == Alphabet(("push", "pop")) and a != Alphabet(["pop", "push"])
    assert hash(a) == hash(Alphabet(["push", "pop"]))
    assert a.index("pop") == 1 and a.decode([1, 0]) == ("pop", "push")
    assert repr(a) == "Alphabet(['push', 'pop'])"


# ------------------------------------------------------------------- the five readers agree
@settings(max_examples=25, deadline=None)
@given(multi=st.booleans(), data=st.data())
def test_every_reader_splits_words_the_same_way(multi, data):
    """DFA, monoid, LRNN, finite-precision model and kernel runner read the same symbols."""
    torch = pytest.importorskip("torch")
    from statetrack.constructions import compile
    from statetrack.kernels.runner import encode_words
    from statetrack.theory.finite_precision import _word, from_lrnn

    syms = ("ab", "c", "de") if multi else ("0", "1", "2")
    perm = [[1, 0, 2], [0, 2, 1], [0, 1, 2]]  # three letters acting on three states
    dfa = DFA(np.array(perm).T, accepting=[0], alphabet=syms)
    model = compile(dfa)
    mon = transition_monoid(dict(zip(syms, perm)))
    fp = from_lrnn(model)
    ids = data.draw(st.lists(st.integers(0, 2), min_size=1, max_size=20))
    sep = " " if multi else ""
    word = sep.join(syms[i] for i in ids)
    want = ids
    assert dfa.encode(word).tolist() == want
    assert model.encode(word).tolist() == want
    assert encode_words(model.alphabet, [word, word]).tolist() == [want, want]
    assert list(_word(fp, word)) == [syms[i] for i in want]
    assert mon.evaluate(word) == mon.evaluate([syms[i] for i in want])
    assert torch.equal(torch.as_tensor(encode_words(model.alphabet, [want])),
                       torch.tensor([want]))
