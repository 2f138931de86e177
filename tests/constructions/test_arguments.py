"""Plain arguments of the public constructors are checked, not coerced (issue 11).

``bool("no")`` is True and ``LRNN(name=5)`` used to store 5: each such call now raises a
StatetrackError that is also a TypeError (or ValueError), naming the function and argument.
"""

from __future__ import annotations

import numpy as np
import pytest

from statetrack.automata import AutomatonArgumentError, HolonomyInputError, families, from_regex
from statetrack.automata import holonomy_decomposition
from statetrack.constructions import (
    ArgumentValueError,
    InputTypeError,
    FormError,
    LRNN,
    compile,
    compile_cascade,
    cascade_construction,
    faithful_construction,
    group_construction,
)
from statetrack.constructions.diagonal import diagonal_construction, rotation_construction
from statetrack.constructions.faithful import faithful_action
from statetrack.constructions.group import is_group_dfa, transposition_steps
from statetrack.constructions.lrnn import _parity_example
from statetrack.errors import StatetrackError

PARITY = families.get("parity")
C3 = families.get("cyclic(3)")
AB = from_regex("(ab)*")
M = _parity_example()


def _lrnn(**kw):
    base = dict(alphabet=M.alphabet, layers=M.layers, accepting=M.accepting)
    return LRNN(**(base | kw))


CASES = [
    # (call, error class, text the message must contain)
    (lambda: compile(PARITY, normalized="no"), InputTypeError,
     "compile: normalized must be True or False, got 'no' (str)"),
    (lambda: compile(PARITY, normalized=1), InputTypeError, "compile: normalized must be True"),
    (lambda: compile(PARITY, name=5), InputTypeError, "compile: name must be a str, got 5 (int)"),
    (lambda: compile(AB, progress="no"), InputTypeError, "compile: progress must be True"),
    (lambda: compile(PARITY, form=5), FormError, "form must be None or one of"),
    (lambda: group_construction(PARITY, normalized="no"), InputTypeError,
     "group_construction: normalized"),
    (lambda: group_construction(PARITY, minimize=None), InputTypeError,
     "group_construction: minimize"),
    (lambda: group_construction(PARITY, name=5), InputTypeError, "group_construction: name"),
    (lambda: group_construction("parity"), InputTypeError,
     "group_construction: argument 'dfa' must be a statetrack DFA, got str"),
    (lambda: is_group_dfa(PARITY, minimize="yes"), InputTypeError, "is_group_dfa: minimize"),
    (lambda: transposition_steps([1, 0], normalized="no"), InputTypeError,
     "transposition_steps: normalized"),
    (lambda: rotation_construction(C3, name=5), InputTypeError, "rotation_construction: name"),
    (lambda: diagonal_construction(PARITY, name=5), InputTypeError,
     "diagonal_construction: name"),
    (lambda: diagonal_construction(None), InputTypeError, "diagonal_construction: argument 'dfa'"),
    (lambda: faithful_construction(C3, name=5), InputTypeError, "faithful_construction: name"),
    (lambda: faithful_construction(C3, limit="10"), InputTypeError,
     "faithful_construction: limit must be a positive int, got '10' (str)"),
    (lambda: faithful_construction(C3, limit=0), ArgumentValueError,
     "faithful_construction: limit must be a positive int, got 0"),
    (lambda: faithful_action(C3, np.random.default_rng(0), seeds=2.5), InputTypeError,
     "faithful_action: seeds"),
    (lambda: faithful_action(C3, 0), InputTypeError, "faithful_action: rng"),
    (lambda: compile_cascade(AB, name=5), InputTypeError, "compile_cascade: name"),
    (lambda: compile_cascade(AB, progress="no"), InputTypeError, "compile_cascade: progress"),
    (lambda: cascade_construction(holonomy_decomposition(AB), AB, minimize="no"),
     InputTypeError, "cascade_construction: minimize"),
    (lambda: cascade_construction(holonomy_decomposition(AB), AB, name=5), InputTypeError,
     "cascade_construction: name"),
    (lambda: _lrnn(name=5), InputTypeError, "LRNN: name must be a str"),
    (lambda: _lrnn(form=5), InputTypeError, "LRNN: form must be a str"),
    (lambda: _lrnn(accepting=("no", "yes")), InputTypeError,
     "LRNN: accepting[0] must be True or False, got 'no' (str)"),
    (lambda: _lrnn(state_map=("0", 1)), InputTypeError, "LRNN: state_map[0] must be an int"),
    (lambda: _lrnn(state_map=(0, 1.0)), InputTypeError, "LRNN: state_map[1] must be an int"),
    (lambda: M.evaluate_float(["1"], keep_states="no"), InputTypeError,
     "evaluate_float: keep_states"),
    (lambda: holonomy_decomposition(AB, progress="no"), HolonomyInputError,
     "holonomy_decomposition: progress must be True or False"),
    (lambda: PARITY.distinguishing_word(5), AutomatonArgumentError,
     "other: expected a DFA, got int"),
    (lambda: PARITY.to_dot(name=5), AutomatonArgumentError, "to_dot: name must be a str"),
]


@pytest.mark.parametrize("call, cls, text", CASES, ids=[c[2][:40] for c in CASES])
def test_bad_plain_arguments_raise_named_errors(call, cls, text):
    with pytest.raises(cls) as info:
        call()
    assert isinstance(info.value, StatetrackError)
    assert isinstance(info.value, (TypeError, ValueError))
    assert text in str(info.value)


def test_good_arguments_still_work():
    assert compile(PARITY, normalized=np.bool_(False), name="p").name == "p"
    m = _lrnn(accepting=np.array([False, True]), state_map=np.array([0, 1]))
    assert m.accepting == (False, True) and m.state_map == (0, 1)
    assert all(type(x) is bool for x in m.accepting)
    assert faithful_construction(C3, limit=np.int64(10)).width == 3
