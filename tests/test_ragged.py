"""Words of different lengths behave one way in every batch runner (issue 11).

``DFA.run``, ``LRNN.evaluate_float`` and ``statetrack.kernels.run`` take ragged batches and
return ``lengths``, ``accepted_final`` and ``final_states`` per word, with per-prefix arrays
padded by False / -1 beyond a word's length.
"""

from __future__ import annotations

import numpy as np
import pytest

from statetrack.automata import families, from_regex
from statetrack.constructions import compile
from statetrack.kernels import run
from statetrack.kernels.errors import RaggedWordsError
from statetrack.kernels.runner import encode_batch, encode_words

S3_WORDS = ["t01 t12 t12 t01", "t01 t01", "t01 t12 t01 t12", ""]


def _random_words(rng: np.random.Generator, alphabet, n: int, max_len: int) -> list[list[str]]:
    return [[alphabet[i] for i in rng.integers(0, len(alphabet), size=rng.integers(0, max_len + 1))]
            for _ in range(n)]


def _check_layout(res, dfa, words, per_prefix_accept, per_prefix_states):
    """The common contract, checked against the DFA's accepts/final_state one word at a time."""
    lengths = [len(dfa.encode(w)) for w in words]
    assert res.lengths.tolist() == lengths
    assert res.accepted_final.tolist() == [dfa.accepts(w) for w in words]
    assert res.final_states.tolist() == [dfa.final_state(w) for w in words]
    T = max(lengths, default=0)
    assert per_prefix_accept.shape == per_prefix_states.shape == (len(words), T + 1)
    for i, w in enumerate(words):
        sym = dfa.encode(w)
        for t in range(T + 1):
            if t <= len(sym):
                assert per_prefix_states[i, t] == dfa.final_state(sym[:t])
                assert per_prefix_accept[i, t] == dfa.accepts(sym[:t])
            else:
                assert per_prefix_states[i, t] == -1 and not per_prefix_accept[i, t]


def test_readme_s3_batch_all_three_runners():
    dfa = families.get("symmetric(3)")
    lrnn = compile(dfa)
    want = [True, True, False, True]        # the identity, the identity, a 3-cycle, empty
    r = dfa.run(S3_WORDS)
    assert r.accepted_final.tolist() == want
    _check_layout(r, dfa, S3_WORDS, r.accepted_prefixes, r.states)
    ft = lrnn.evaluate_float(S3_WORDS, "bfloat16")
    assert ft.accepted_final.tolist() == want
    _check_layout(ft, dfa, S3_WORDS, ft.accepted, ft.dfa_states)
    out = run(lrnn, S3_WORDS, device="cpu", kernel="reference")
    assert out.accepted_final.tolist() == want
    _check_layout(out, dfa, S3_WORDS, out.accepted, out.states)


@pytest.mark.parametrize("spec,form", [("parity", "permutation"), ("symmetric(3)", "faithful"),
                                       ("(a|b)*abb", "cascade")])
def test_random_ragged_batches_agree(spec, form):
    rng = np.random.default_rng(11)
    dfa = from_regex(spec).minimize() if "*" in spec else families.get(spec)
    lrnn = compile(dfa, form=form)
    words = _random_words(rng, list(dfa.alphabet), n=6, max_len=9)
    words[0] = []                                   # an empty word among them
    r = dfa.run(words)
    _check_layout(r, dfa, words, r.accepted_prefixes, r.states)
    ft = lrnn.evaluate_float(words, "float32", keep_states=True)
    _check_layout(ft, dfa, words, ft.accepted, ft.dfa_states)
    for layer_states, layer_out in zip(ft.states, ft.outputs):
        for i, n in enumerate(ft.lengths):
            assert np.isnan(layer_states[i, n + 1:]).all() and not np.isnan(layer_states[i, :n + 1]).any()
            assert (layer_out[i, n + 1:] == -1).all() and (layer_out[i, :n + 1] >= 0).all()
    out = run(lrnn, words, device="cpu", kernel="reference")
    _check_layout(out, dfa, words, out.accepted, out.states)
    for c in out.classes:
        for i, n in enumerate(out.lengths):
            assert (c[i, n + 1:] == -1).all() and (c[i, :n + 1] >= 0).all()


def test_kernel_run_ragged_through_triton_interpreter():
    dfa = families.get("parity")
    lrnn = compile(dfa)
    words = ["1101", "1", "", "111"]
    out = run(lrnn, words, device="cpu", kernel="tabled")
    assert out.backend == "triton-interpreter"
    _check_layout(out, dfa, words, out.accepted, out.states)


def test_equal_lengths_and_arrays_keep_their_layout():
    dfa = families.get("parity")
    lrnn = compile(dfa)
    ids = np.array([[1, 1, 0], [0, 1, 0]])
    out = run(lrnn, ids, device="cpu", kernel="reference")
    assert out.lengths.tolist() == [3, 3]
    assert out.accepted_final.tolist() == out.accepted[:, -1].tolist() == [False, True]
    ft = lrnn.evaluate_float(ids)
    assert ft.lengths.tolist() == [3, 3] and ft.accepted_final.tolist() == [False, True]


def test_encode_batch_pads_and_encode_words_stays_strict():
    ids, lengths = encode_batch(("a", "b"), ["ab", "bab", ""])
    assert ids.tolist() == [[0, 1, 0], [1, 0, 1], [0, 0, 0]] and lengths.tolist() == [2, 3, 0]
    ids, lengths = encode_batch(("a", "b"), np.array([[1, 0]]))
    assert ids.tolist() == [[1, 0]] and lengths.tolist() == [2]
    with pytest.raises(RaggedWordsError, match=r"words\[1\] has 3"):
        encode_words(("a", "b"), ["ab", "bab"])


def test_every_runner_refuses_a_single_string_instead_of_reading_its_letters_as_words():
    """``run("abb")`` would otherwise be a batch of three one-letter words, silently."""
    from statetrack.automata.errors import WordTypeError
    from statetrack.constructions.errors import InputTypeError
    from statetrack.kernels.errors import KernelInputError

    dfa = from_regex("(a|b)*abb")
    m = compile(dfa)
    with pytest.raises(WordTypeError, match="single string 'abb'.*wrap a single word in a list"):
        dfa.run("abb")
    with pytest.raises(InputTypeError, match="wrap a single word"):     # a type problem,
        m.evaluate_float("abb", "bfloat16")                             # not an unknown symbol
    with pytest.raises(KernelInputError, match="single string"):
        run(m, "abb", device="cpu")
    assert dfa.run(["abb"]).accepted_final.tolist() == [True]


@pytest.mark.parametrize("words", [None, 5, 2.5])
def test_every_runner_refuses_a_batch_that_is_not_a_collection_with_a_type_error_naming_words(
        words):
    """``dfa.run(None)`` ended in Python's "'NoneType' object is not iterable" from inside the
    alphabet's encoder, where ``evaluate_float`` and ``kernels.run`` name the argument."""
    from statetrack.automata.errors import WordTypeError
    from statetrack.constructions.errors import InputTypeError
    from statetrack.kernels.errors import KernelInputError

    dfa = from_regex("(a|b)*abb")
    m = compile(dfa)
    kind = type(words).__name__
    with pytest.raises(WordTypeError, match=f"^words: expected a batch .*got {kind}$"):
        dfa.run(words)
    with pytest.raises(InputTypeError, match=f"^words: expected a batch .*got {kind}$"):
        m.evaluate_float(words, "bfloat16")
    with pytest.raises(KernelInputError, match=f"^words: expected .*got {kind}$"):
        run(m, words, device="cpu")
