"""A bad word in a batch is named by its index and its text (issue 11): evaluate_float, and
DFA.run, which reads batches the same way."""

from __future__ import annotations

import numpy as np
import pytest

from statetrack.automata import UnknownSymbolError, WordTypeError, families
from statetrack.constructions import InputTypeError, UnknownTokenError, compile

S3 = families.get("symmetric(3)")
M = compile(S3)


@pytest.mark.parametrize("words, cls, text", [
    (["t01 t12", "t01 t13"], UnknownTokenError,
     "words[1] = 't01 t13': symbol 't13' at position 1 is not in the alphabet"),
    (["t01", None], InputTypeError, "words[1] = None: expected a string"),
    (["t01", 5], InputTypeError, "words[1] = 5: expected a string"),
    ([["t01", 3.5]], UnknownTokenError, "words[0] = ['t01', 3.5]: symbol 3.5 at position 1"),
    ([np.array([0, 7])], UnknownTokenError, "words[0] = [0, 7]: symbol index 7 at position 1"),
    (np.array([[0, 1], [0, 9]]), UnknownTokenError,
     "got 9 at index (1, 1), in words[1] = [0, 9]"),
    (["t01", "t01 " * 30 + "x"], UnknownTokenError,
     "words[1] = 't01 t01 t01 t01 t01 t01 t01 t01 t01 ...: symbol 'x' at position 30"),
])
def test_evaluate_float_names_the_bad_word(words, cls, text):
    with pytest.raises(cls) as info:
        M.evaluate_float(words)
    assert text in str(info.value)


def test_dfa_run_names_the_bad_word():
    with pytest.raises(UnknownSymbolError, match=r"words\[2\] = 't01 x': symbol 'x' at position 1"):
        S3.run(["t01", "", "t01 x"])
    with pytest.raises(WordTypeError, match=r"words\[0\] = None: "):
        S3.run([None])
