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


# --- size budgets: symmetric(8)'s Cayley DFA (40320 states) ran for hours before -----------

@pytest.mark.parametrize("spec", ["parity", "cyclic(6)", "symmetric(3)", "symmetric(4)",
                                  "dihedral(5)", "quaternion", "dihedral(4)"])
def test_permutation_form_size_is_the_built_models(spec):
    from statetrack.constructions.group import permutation_form_size

    dfa = families.get(spec)
    perm = compile(dfa, form="permutation")
    assert permutation_form_size(dfa) == (perm.width, perm.n_h)


def test_permutation_form_past_its_budget_is_refused_before_building(monkeypatch):
    from statetrack.constructions import group as group_mod
    from statetrack.constructions.errors import ConstructionSizeError

    s3 = families.get("symmetric(3)")            # 6 states, n_h 3, 3 letters: 54 entries
    monkeypatch.setattr(group_mod, "MAX_KEY_ENTRIES", 54)
    assert compile(s3, form="permutation").width == 6
    monkeypatch.setattr(group_mod, "MAX_KEY_ENTRIES", 53)
    monkeypatch.setattr(group_mod, "transposition_steps",
                        lambda *a, **k: pytest.fail("built past the budget"))
    with pytest.raises(ConstructionSizeError, match=r"width 6 and n_h 3: 54 exact key entries "
                                                    r"over 3 letters, past the budget of 5e\+01"):
        compile(s3, form="permutation")


def test_faithful_action_past_its_budget_is_refused_before_schreier_sims(monkeypatch):
    from statetrack.automata.errors import MonoidLimitError
    from statetrack.constructions import faithful as faithful_mod

    s4 = families.get("symmetric(4)")            # 24 states: 576 entries
    monkeypatch.setattr(faithful_mod, "MAX_GROUP_ENTRIES", 576)
    assert compile(s4, form="faithful").width == 4
    monkeypatch.setattr(faithful_mod, "MAX_GROUP_ENTRIES", 575)
    monkeypatch.setattr(faithful_mod, "_group", lambda *a: pytest.fail("group built"))
    with pytest.raises(MonoidLimitError, match="acts on the 24 states .* 5.8e\\+02 entries"):
        compile(s4, form="faithful")


def test_auto_builds_only_the_form_it_returns(monkeypatch):
    from statetrack.constructions import group as group_mod

    built = []
    real = compile_mod.group_construction
    monkeypatch.setattr(compile_mod, "group_construction",
                        lambda *a, **k: (built.append(1), real(*a, **k))[1])
    assert compile(families.get("symmetric(4)"), form="auto").form == "faithful"
    assert built == []                           # the 24-wide permutation form never built
    assert compile(families.get("cyclic(5)"), form="auto").form == "permutation"
    assert built == [1]


def test_auto_past_both_budgets_says_why_for_both(monkeypatch):
    from statetrack.constructions import faithful as faithful_mod
    from statetrack.constructions import group as group_mod
    from statetrack.constructions.errors import ConstructionSizeError

    monkeypatch.setattr(group_mod, "MAX_KEY_ENTRIES", 100)
    monkeypatch.setattr(faithful_mod, "MAX_GROUP_ENTRIES", 100)
    with pytest.raises(ConstructionSizeError) as info:
        compile(families.get("symmetric(4)"), form="auto")
    text = str(info.value)
    assert "width 24 and n_h 12" in text
    assert "nor could form='auto' build the faithful form: faithful_action: the group acts " \
           "on the 24 states" in text


def test_the_key_budget_holds_for_the_faithful_form_too(monkeypatch):
    """cyclic(n)'s faithful form is its permutation form (Z_n has no smaller faithful action):
    under a budget below its entries both forms are refused alike, before building. Before,
    form='faithful' built past the budget a model whose file the reader refuses, and
    form='auto' built it, discarded it and raised the permutation form's error
    (cyclic(4096): 50 s, then 'past the budget'; form='faithful' built it)."""
    from statetrack.constructions import faithful as faithful_mod
    from statetrack.constructions import group as group_mod
    from statetrack.constructions import io as cio
    from statetrack.constructions.errors import ConstructionSizeError

    c5 = families.get("cyclic(5)")               # width 5, n_h 4, 2 letters: 40 entries
    monkeypatch.setattr(group_mod, "MAX_KEY_ENTRIES", 40)
    for form in ("faithful", "auto"):
        m = compile(c5, form=form)
        assert (m.width, m.n_h) == (5, 4)
        assert cio.loads(cio.dumps(m)).lrnn.width == 5    # built within it: reads back
    monkeypatch.setattr(group_mod, "MAX_KEY_ENTRIES", 39)
    monkeypatch.setattr(faithful_mod, "transposition_steps",
                        lambda *a, **k: pytest.fail("faithful form built past the budget"))
    with pytest.raises(ConstructionSizeError, match=r"faithful form .* width 5 .*and n_h 4: "
                                                    r"40 exact key entries .* 4e\+01"):
        compile(c5, form="faithful")
    with pytest.raises(ConstructionSizeError) as info:
        compile(c5, form="auto")
    assert "width 5 and n_h 4: 40 exact key entries" in str(info.value)
    assert "nor could form='auto' build the faithful form" in str(info.value)


def test_the_budget_keeps_large_cyclic_groups():
    """The key budget refuses symmetric(8)'s 2.3e10 entries, not models that build in
    seconds: cyclic(4096)'s permutation form (3.4e7 dense entries, ~2 s) is built."""
    from statetrack.constructions.group import MAX_KEY_ENTRIES, permutation_form_size

    c = families.get("cyclic(4096)")
    width, n_h = permutation_form_size(c)
    assert width * n_h * len(c.alphabet) <= MAX_KEY_ENTRIES
    m = compile(c, form="permutation")
    assert (m.width, m.n_h) == (4096, 4095)


def test_auto_takes_a_large_faithful_readout_when_the_permutation_form_is_too_large(
        monkeypatch):
    """symmetric(7): the permutation form is past its budget (2.7e8 entries) and the faithful
    readout has 5040 classes (past AUTO_FAITHFUL_LIMIT); auto gave up, though
    form='faithful' builds and proves it in about a minute. The auto limit only bounds a form
    that may lose: with no permutation form to fall back on, the faithful form gets the
    construction's own limit. Here symmetric(3) under small limits."""
    from statetrack.constructions import group as group_mod

    s3 = families.get("symmetric(3)")            # permutation: 54 entries; faithful: 6 classes
    monkeypatch.setattr(compile_mod, "AUTO_FAITHFUL_LIMIT", 2)
    assert compile(s3, form="auto").form == "permutation"     # fits: the auto limit holds
    monkeypatch.setattr(group_mod, "MAX_KEY_ENTRIES", 53)
    m = compile(s3, form="auto")
    assert (m.form, m.width) == ("faithful", 3) and verify(m, s3).ok
