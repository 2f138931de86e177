"""compile(dfa, form="auto"): the narrower of the permutation and faithful forms."""

from __future__ import annotations

import importlib

import pytest

from statetrack.automata import DFA, families
from statetrack.constructions import NotAGroupError
from statetrack.constructions.compile import AUTO_FAITHFUL_LIMIT, compile
from statetrack.theory.proof import verify

# the module (the package exports the function ``compile`` under the same name)
compile_mod = importlib.import_module("statetrack.constructions.compile")


@pytest.mark.parametrize("spec", ["parity", "cyclic(6)", "symmetric(3)", "symmetric(4)",
                                  "dihedral(5)", "quaternion"])
def test_auto_is_the_narrower_form_and_proves(spec):
    dfa = families.get(spec)
    perm, faithful = compile(dfa, form="permutation"), compile(dfa, form="faithful")
    auto = compile(dfa, form="auto", name=spec)
    want = faithful if (faithful.width, faithful.n_h) < (perm.width, perm.n_h) else perm
    assert (auto.form, auto.width, auto.n_h) == (want.form, want.width, want.n_h)
    assert (auto.width, auto.n_h) <= (perm.width, perm.n_h)
    assert auto.name == spec
    assert verify(auto, dfa).ok


def test_auto_forms_of_known_groups():
    # ties keep the permutation form (parity: both act on 2 points); S_4 acts on 4 points
    assert compile(families.get("parity"), form="auto").form == "permutation"
    s4 = compile(families.get("symmetric(4)"), form="auto")
    assert (s4.form, s4.width) == ("faithful", 4)


def test_auto_skips_the_search_for_large_groups(monkeypatch):
    calls = []
    real = compile_mod.faithful_construction

    def spy(dfa, **kwargs):
        calls.append(kwargs.get("limit"))
        return real(dfa, **kwargs)

    monkeypatch.setattr(compile_mod, "faithful_construction", spy)
    # binary_divisible(163): a transition group of 26,406 elements whose faithful form is no
    # narrower (163 points: it contains a 163-cycle), so the permutation form wins the tie
    m = compile(families.get("binary_divisible(163)"), form="auto")
    assert m.form == "permutation" and calls == [AUTO_FAITHFUL_LIMIT]


def test_auto_with_normalized_keys_is_the_permutation_form():
    m = compile(families.get("symmetric(4)"), form="auto", normalized=True)
    assert m.form == "permutation" and not m.exact_in_floats


def test_auto_on_a_non_group_is_the_cascade():
    d = DFA([[1, 1], [1, 1]], accepting=[1], alphabet="ab")
    m = compile(d, form="auto")
    assert m.form == "cascade" and verify(m, d).ok
    with pytest.raises(NotAGroupError):
        compile(d, form="permutation")
