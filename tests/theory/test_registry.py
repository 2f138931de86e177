"""The registry of theorems: entries, statuses, columns, and that failures are reported."""

from __future__ import annotations

import pytest

from statetrack.automata import DFA
from statetrack.automata import families
from statetrack.constructions.lrnn import DeltaStep, Layer, LRNN, Readout
from statetrack.theory import registry
from statetrack.theory.errors import NotADFAError, UnknownTheoremError
from statetrack.theory.registry import (
    FAIL,
    NOT_APPLICABLE,
    NOT_IMPLEMENTED,
    PASS,
    REGISTRY,
    check,
    get,
    run_all,
    unary_periods,
)

GROUPS = ["parity", "cyclic(5)", "cyclic(12)", "dihedral(4)", "symmetric(4)", "alternating(4)",
          "quaternion"]
NON_GROUPS = ["at_least(3)", "aa_star", "flip_flop", "dyck(2)"]


def test_entries_are_complete():
    assert list(REGISTRY) == ["prop1", "thm1", "thm2", "thm3", "thm4"]
    for key, thm in REGISTRY.items():
        assert thm.key == key and thm.statement and thm.columns
        assert thm.source.arxiv == "2411.12537" and thm.source.where == thm.name
        assert ">>>" in thm.doc  # a worked example
        assert "2411.12537" in str(thm.source)


def test_unknown_theorem():
    with pytest.raises(UnknownTheoremError, match="known: prop1"):
        get("theorem 5")
    with pytest.raises(KeyError):
        check("nope", DFA([[0]], alphabet="a"))


def test_not_a_dfa():
    with pytest.raises(NotADFAError, match="got str"):
        check("thm3", "not a dfa")


@pytest.mark.parametrize("spec", GROUPS)
def test_group_languages_pass_everything_but_the_cascade(spec):
    dfa = families.get(spec)
    results = {key: check(key, dfa) for key in REGISTRY}
    for key in ("prop1", "thm1", "thm2", "thm3"):
        assert results[key].status == PASS, (key, results[key].detail)
    t3 = results["thm3"].data
    assert t3["layers"] == 1 and t3["width"] == dfa.minimize().n_states
    assert t3["n_h"] <= max(t3["bound"], 1)              # the paper's bound k - 1
    assert t3["reachable"] == dfa.minimize().n_states
    assert results["thm4"].status == NOT_IMPLEMENTED
    assert not results["thm4"].passed and not results["thm4"].failed
    cols = {r.column: r for r in run_all(dfa)}
    assert set(cols) == {"GH", "T1", "T2", "construction", "proof", "fp", "cascade"}
    assert not any(r.failed for r in cols.values())
    assert cols["proof"].summary == f"proved: {t3['reachable']} states"


@pytest.mark.parametrize("spec", NON_GROUPS)
def test_non_group_languages_are_not_applicable(spec):
    dfa = families.get(spec)
    res = check("thm3", dfa)
    assert res.status == NOT_APPLICABLE and "Theorem 4" in res.detail
    assert check("prop1", dfa).status == NOT_APPLICABLE
    assert not any(r.failed for r in run_all(dfa))


def test_theorem_needs_follow_the_periods():
    assert check("thm2", families.get("cyclic(4)")).columns[0][1].startswith("not needed")
    r = check("thm2", families.get("cyclic(6)"))
    assert r.status == PASS and len(r.data["needs"]) == 1 and "has" in r.columns[0][1]
    t1 = check("thm1", families.get("aa_star"))
    assert t1.status == NOT_APPLICABLE and t1.data["needs"] == ("a",)
    assert check("thm1", families.get("at_least(3)")).columns[0][1].startswith("not needed")


def test_unary_periods():
    assert unary_periods(families.get("count_mod(3)"))["a"] == (0, 3, 3)
    for mu, lam, p in unary_periods(families.get("at_least(3)")).values():
        assert lam == 1 and p == 1
    # a partial DFA: the missing transition is a rejecting sink
    assert unary_periods(DFA([[1], [-1]], accepting=[1], alphabet="a")) == {"a": (2, 1, 1)}


def _broken_parity_model() -> LRNN:
    """Claims to be parity, but letter '1' is the identity: Theorems 1 and 3 must fail."""
    layer = Layer(tokens=("0", "1"), steps=((), ()), initial_state=[[1], [0]],
                  readout=Readout(query=[0, 1], codes=[[0], [1]]))
    return LRNN(alphabet=("0", "1"), layers=(layer,), accepting=(False, True),
                state_map=(0, 1))


def _overlong_parity_model() -> LRNN:
    """Parity with the swap written as three transpositions (correct, but over the bound)."""
    sw = DeltaStep(key=[1, -1], beta=1)
    layer = Layer(tokens=("0", "1"), steps=((), (sw, sw, sw)), initial_state=[[1], [0]],
                  readout=Readout(query=[0, 1], codes=[[0], [1]]))
    return LRNN(alphabet=("0", "1"), layers=(layer,), accepting=(False, True),
                state_map=(0, 1))


def test_failures_are_reported_on_their_column(monkeypatch):
    parity = families.get("parity")
    monkeypatch.setattr(registry, "_construction", lambda dfa: (_broken_parity_model(), None))
    monkeypatch.setattr(registry, "_spectrum", registry._spectrum.__wrapped__)
    p1 = check("prop1", parity)
    assert p1.status == FAIL and "compose to" in p1.detail
    t1 = check("thm1", parity)
    assert t1.status == FAIL and "no neg/complex eig" in t1.detail
    t3 = check("thm3", parity)
    assert t3.status == FAIL and t3.failed_column == "proof"
    failed = {r.column for r in run_all(parity) if r.failed}
    assert failed == {"GH", "T1", "proof"}
    monkeypatch.setattr(registry, "_construction", lambda dfa: (_overlong_parity_model(), None))
    over = check("thm3", parity)
    assert over.status == FAIL and over.failed_column == "construction"
    assert "exceeds the bound" in over.detail
    p1 = check("prop1", parity)
    assert p1.status == FAIL and "needs only 1" in p1.detail
