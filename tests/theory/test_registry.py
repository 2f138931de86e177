"""The registry of theorems: entries, statuses, columns, and that failures are reported."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings

from statetrack.automata import DFA
from statetrack.automata import families
from statetrack.automata.monoid import transition_monoid
from statetrack.automata.strategies import dfas
from statetrack.constructions.lrnn import DeltaStep, Layer, LRNN, Readout
from statetrack.theory import registry
from statetrack.theory.errors import NotADFAError, TheoryError, UnknownTheoremError
from statetrack.theory.registry import (
    COLUMN_LEGEND,
    FAIL,
    NOT_APPLICABLE,
    NOT_IMPLEMENTED,
    PASS,
    SKIPPED,
    check,
    element_periods,
    run_all,
    unary_periods,
)
from statetrack.theory.registry import THEOREMS as REGISTRY
from statetrack.theory.registry import theorem as get

GROUPS = ["parity", "cyclic(5)", "cyclic(12)", "dihedral(4)", "symmetric(4)", "alternating(4)",
          "quaternion", "binary_divisible(3)"]
NON_GROUPS = ["at_least(3)", "aa_star", "flip_flop", "dyck(2)", "tomita(3)",
              "modular_arithmetic(5)"]
TABLE_COLUMNS = ["GH", "T1", "T2", "construction", "proof", "fp", "T6"]
SUMMARY_WIDTH = 22


def test_entries_are_complete():
    assert list(REGISTRY) == ["prop1", "thm1", "thm2", "thm3", "thm3w", "thm4", "thm6"]
    for key, thm in REGISTRY.items():
        assert thm.key == key and thm.statement and thm.columns
        assert thm.source.arxiv == "2411.12537" and thm.source.where == thm.name
        assert ">>>" in thm.doc  # a worked example
        assert "2411.12537" in str(thm.source)
    # Theorems 3 and 4 share the construction, proof and fp columns (groups / the others)
    assert list(dict.fromkeys(c for t in REGISTRY.values() if t.in_table
                              for c in t.columns)) == TABLE_COLUMNS
    assert REGISTRY["thm3"].columns == REGISTRY["thm4"].columns


def test_column_legend_covers_the_table():
    assert list(COLUMN_LEGEND) == TABLE_COLUMNS
    for col, text in COLUMN_LEGEND.items():
        assert text and "\n" not in text and len(text) <= 120, col


def test_the_theorem_index_page_names_each_entrys_check_columns():
    """docs/theory/index.rst lists, per result, its ``statetrack check`` columns; Theorem 6's
    row said "(being added)" after its ``T6`` column had landed."""
    import pathlib
    import re

    page = (pathlib.Path(__file__).resolve().parents[2] / "docs" / "theory"
            / "index.rst").read_text()
    rows = re.findall(r"\* - :doc:`(\w+)`\n\s+- .*\n\s+- .*\n\s+- (.*)\n", page)
    assert [key for key, _ in rows] == [k for k, t in REGISTRY.items() if t.in_table]
    for key, cell in rows:
        assert cell == ", ".join(f"``{c}``" for c in REGISTRY[key].columns), key


def test_unknown_theorem():
    with pytest.raises(UnknownTheoremError, match="known: prop1"):
        get("theorem 5")
    with pytest.raises(KeyError):
        check("nope", DFA([[0]], alphabet="a"))


def test_not_a_dfa():
    with pytest.raises(NotADFAError, match="got str"):
        check("thm3", "not a dfa")
    with pytest.raises(NotADFAError):
        element_periods([[0]])


@pytest.mark.parametrize("spec", GROUPS)
def test_group_languages_pass_every_column(spec):
    dfa = families.get(spec)
    results = {key: check(key, dfa) for key in REGISTRY}
    for key in ("prop1", "thm1", "thm2", "thm3"):
        assert results[key].status == PASS, (key, results[key].detail)
    t3 = results["thm3"].data
    assert t3["layers"] == 1 and t3["width"] == dfa.minimize().n_states
    assert t3["n_h"] <= t3["bound"]              # the paper's bound k - 1
    assert t3["reachable"] == dfa.minimize().n_states
    # Theorem 4 holds for group languages too (one level: the group on its tiles), but the
    # table takes Theorem 3's one-layer form for them
    assert results["thm4"].status == PASS and results["thm4"].data["height"] >= 1
    cols = run_all(dfa)
    assert [r.column for r in cols] == TABLE_COLUMNS
    assert {r.name for r in cols if r.column == "construction"} == {"Theorem 3"}
    assert not any(r.failed for r in cols)
    by = {r.column: r for r in cols}
    assert by["proof"].summary == f"proved ({t3['reachable']})"
    assert by["construction"].summary == f"1x{t3['width']} n_h={t3['n_h']}/{t3['bound']}"
    n = results['prop1'].data['factors']
    assert by["GH"].summary == f"ok ({n} factor{'' if n == 1 else 's'})"
    assert by["fp"].summary == "bf16 exact"
    for r in cols:
        assert len(r.summary) <= SUMMARY_WIDTH, (r.column, r.summary)
        assert len(r.detail) > len(r.summary)


def test_trivial_group_needs_no_factors():
    """One state, every letter the identity: k = 0 states moved, so the bound k - 1 allows no
    GH factor and the construction has n_h = 0."""
    dfa = DFA([[0, 0]], accepting=[0], alphabet="ab")
    t3 = check("thm3", dfa)
    assert t3.status == PASS and t3.data["n_h"] == 0 == t3.data["bound"]
    cols = {r.column: r.summary for r in run_all(dfa)}
    assert cols == {"GH": "ok (0 factors)", "T1": "not needed", "T2": "not needed",
                    "construction": "1x1 n_h=0/0", "proof": "proved (1)", "fp": "bf16 exact",
                    "T6": "2 layers, proved (2)"}


@pytest.mark.parametrize("spec", NON_GROUPS)
def test_non_group_languages_get_theorem_4(spec):
    dfa = families.get(spec)
    res = check("thm3", dfa)
    assert res.status == NOT_APPLICABLE and "Theorem 4" in res.detail
    p1 = check("prop1", dfa)      # on the cascade's factors
    assert p1.status == PASS and set(p1.data["eigenvalues"]) <= {"-1", "0"}
    t4 = check("thm4", dfa)
    assert t4.status == PASS, t4.detail
    d = dfa.minimize()
    # a layer per component (Theorem 4's proof), a delay layer between two
    from statetrack.automata import holonomy_decomposition
    from statetrack.constructions.cascade import ComponentCascade

    split = ComponentCascade(holonomy_decomposition(d), len(d.alphabet),
                             max_width=d.n_states)
    assert t4.data["layers"] == 2 * split.n_levels - 1
    assert split.n_levels >= t4.data["components"] >= t4.data["height"]
    assert t4.data["paper_bound_layers"] == f"2^{d.n_states}"
    assert t4.data["reachable"] >= d.n_states
    cols = run_all(dfa)
    assert [r.column for r in cols] == TABLE_COLUMNS
    assert not any(r.failed for r in cols)
    assert all(len(r.summary) <= SUMMARY_WIDTH for r in cols)
    by = {r.column: r for r in cols}
    assert by["construction"].name == "Theorem 4"
    assert by["construction"].summary.startswith(f"cascade {t4.data['layers']}x")
    assert by["proof"].summary == f"proved ({t4.data['reachable']})"
    assert by["fp"].summary == "bf16 exact"


# Two random DFAs whose holonomy cascades have a level of two components: a layer per level
# is wider than |Q| (5 + 1 register > 5; 4 + 2 + 1 > 6), a layer per component is not.
_TWO_COMPONENT_LEVELS = [
    DFA([[1, 1], [0, 2], [3, 3], [4, 3], [2, 4]], start=0, accepting=[0, 3], alphabet="ab"),
    DFA([[0, 1], [2, 3], [4, 3], [0, 2], [5, 3], [1, 4]], start=0, accepting=[1, 2, 5],
        alphabet="ab"),
]


@pytest.mark.parametrize("dfa", _TWO_COMPONENT_LEVELS)
def test_thm4_puts_each_component_in_a_layer_of_its_own(dfa):
    """Theorem 4's width bound n <= |Q| holds with a layer per component, as the proof has
    it, where a layer per holonomy level (the disjoint union of its components' tiles) is too
    wide; the split stack is proved and simulates the cascade."""
    from statetrack.automata import holonomy_decomposition
    from statetrack.constructions.cascade import cascade_construction

    d = dfa.minimize()
    casc = holonomy_decomposition(d)
    assert any(len(lv.components) > 1 for lv in casc.levels)
    per_level = cascade_construction(casc, d, minimize=False, packed=True)
    assert any("width" in p for p in registry._thm4_bound_problems(per_level, d.n_states))
    r = check("thm4", dfa)
    assert r.status == PASS, r.detail
    assert max(r.data["widths"]) <= d.n_states
    from statetrack.constructions.cascade import ComponentCascade

    split = ComponentCascade(casc, len(d.alphabet), max_width=d.n_states)
    assert r.data["layers"] == 2 * split.n_levels - 1 > 2 * len(casc.levels) - 1
    assert split.n_levels >= r.data["components"] > len(casc.levels)
    assert "one per component" in r.detail


def test_thm4_splits_a_component_of_several_orbits():
    """A holonomy component can have more tiles than the DFA has states: (8,C4) on 6 states,
    (10,C5) on 6. Its group has two orbits on the tiles, so the component is two levels (the
    orbit, 2 states; the position in it, 4 or 5) and every layer fits n <= |Q|."""
    from statetrack.automata import holonomy_decomposition
    from statetrack.constructions.cascade import ComponentCascade

    for d, comp, sizes in [
        (DFA([[1, 2, 2], [3, 4, 2], [0, 4, 0], [4, 0, 2], [0, 0, 5], [5, 1, 2]], start=0,
             accepting=[0, 1, 2, 3, 5], alphabet="abc"), "(8,C4)", (2, 4)),
        (DFA([[1, 2, 3], [4, 4, 0], [2, 1, 2], [4, 3, 3], [5, 5, 2], [2, 0, 4]], start=0,
             accepting=[0, 5], alphabet="abc"), "(10,C5)", (2, 5)),
    ]:
        d = d.minimize()
        casc = holonomy_decomposition(d)
        assert comp in str(casc) and d.n_states == 6
        whole = ComponentCascade(casc, len(d.alphabet))
        assert max(whole.sizes) > d.n_states
        split = ComponentCascade(casc, len(d.alphabet), max_width=d.n_states)
        assert sizes in zip(split.sizes, split.sizes[1:])
        r = check("thm4", d)
        assert r.status == PASS, r.detail
        assert max(r.data["widths"]) <= d.n_states


def test_thm4_splits_a_transitive_component_along_blocks():
    """(10,C10) on an 8-state DFA: one orbit of ten tiles, wider than |Q| = 8 (with the
    register row, 11). C10 preserves the partition of the tiles into two blocks of five, so
    the component becomes two levels (which block, 2; the place in it, 5) and the stack
    fits Theorem 4's width bound."""
    from statetrack.automata import holonomy_decomposition
    from statetrack.constructions.cascade import ComponentCascade

    d = DFA([[1, 2], [3, 4], [4, 4], [2, 5], [0, 5], [6, 0], [5, 7], [4, 3]], start=0,
            accepting=[0, 4], alphabet="ab").minimize()
    casc = holonomy_decomposition(d)
    assert "(10,C10)" in str(casc) and d.n_states == 8
    assert 10 in ComponentCascade(casc, len(d.alphabet)).sizes
    split = ComponentCascade(casc, len(d.alphabet), max_width=d.n_states)
    assert 10 not in split.sizes and (2, 5) in zip(split.sizes, split.sizes[1:])
    r = check("thm4", d)
    assert r.status == PASS, r.detail
    assert max(r.data["widths"]) <= d.n_states


def test_thm4_runs_a_primitive_component_as_its_group():
    """(10,S5) on a 5-state DFA (S5 on the ten 2-subsets of five states: primitive, so no
    partition of the tiles narrows it). The component runs as S5 acting on itself, a tile
    read off an element; the cosets of a subgroup chain (index 5 on top, where no register
    row sits) give levels of width <= 5 = |Q|."""
    from statetrack.automata import holonomy_decomposition
    from statetrack.constructions.cascade import ComponentCascade

    cyc, swap = [1, 2, 3, 4, 0], [1, 0, 2, 3, 4]
    d = DFA([[cyc[q], swap[q], q % 2] for q in range(5)], start=0, accepting=[0],
            alphabet="abc").minimize()
    casc = holonomy_decomposition(d)
    assert "(10,S5)" in str(casc) and d.n_states == 5
    split = ComponentCascade(casc, len(d.alphabet), max_width=5)
    assert split.lifted == [0] and split.sizes[0] == 5 and max(split.sizes[1:]) <= 4
    # without the lift (a group cap of 1 element) the component stays ten wide
    assert ComponentCascade(casc, len(d.alphabet), max_width=5, max_group=1).sizes[0] == 10
    r = check("thm4", d)
    assert r.status == PASS, r.detail
    assert max(r.data["widths"]) <= 5 and "acting on itself" in r.detail


def test_thm4_fails_where_a_component_cannot_be_narrowed(monkeypatch):
    """Where a component stays wider than |Q| (no partition of its tiles or of its group
    narrows it enough, or the group is over the size cap), the check fails and says it is this construction's failure,
    not a counterexample to the theorem. Simulated on the (10,C10) DFA by splitting at no
    width (ComponentCascade without max_width)."""
    from statetrack.constructions import cascade as C

    d = DFA([[1, 2], [3, 4], [4, 4], [2, 5], [0, 5], [6, 0], [5, 7], [4, 3]], start=0,
            accepting=[0, 4], alphabet="ab")
    real = C.ComponentCascade

    def no_split(casc, n_letters, *, limit=200_000, max_width=None):
        return real(casc, n_letters, limit=limit)

    monkeypatch.setattr(C, "ComponentCascade", no_split)
    registry._cascade.cache_clear()
    try:
        r = check("thm4", d)
    finally:
        registry._cascade.cache_clear()
    assert r.status == FAIL and r.failed_column == "construction"
    assert "has width 11 > |Q| = 8" in r.detail
    assert "not a counterexample to the theorem" in r.detail


def test_thm4_fails_loudly_on_a_broken_stack(monkeypatch):
    """The check must be able to fail: a stack whose top readout claims wrong DFA states."""
    import dataclasses

    from statetrack.theory import registry as R

    dfa = families.get("contains(abb)")
    lrnn, casc, *_ = R._cascade(dfa)
    bad = dataclasses.replace(lrnn, accepting=tuple(not a for a in lrnn.accepting))
    monkeypatch.setattr(R, "_cascade", lambda d: (bad, casc, None, False))
    r = check("thm4", dfa)
    assert r.status == FAIL and r.failed and dict(r.columns)["proof"].startswith("FAIL")


def test_thm4_lifts_s6_on_pairs_to_ordered_pairs():
    """(15,S6) on a 6-state DFA (S6 on the fifteen 2-subsets of six states; the survey's
    case that stayed too wide while a lift tracked whole elements, 720 of them): lifted to
    the ordered pairs of states (30 points, levels 6 and 5), it passes in well under a
    second. (21,S7) on seven states likewise."""
    from statetrack.automata import holonomy_decomposition
    from statetrack.constructions.cascade import ComponentCascade

    for n in (6, 7):
        cyc, swap = [(q + 1) % n for q in range(n)], [1, 0] + list(range(2, n))
        d = DFA([[cyc[q], swap[q], q % 2] for q in range(n)], start=0, accepting=[0],
                alphabet="abc").minimize()
        casc = holonomy_decomposition(d)
        assert f"({n * (n - 1) // 2},S{n})" in str(casc) and d.n_states == n
        split = ComponentCascade(casc, len(d.alphabet), max_width=n)
        assert split.lifted == [0] and split.sizes[:2] == (n, n - 1)
        assert len(split._coord[0]) == n * (n - 1)          # ordered pairs, not n! elements
        registry._cascade.cache_clear()
        r = check("thm4", d)
        assert r.status == PASS, r.detail
        assert max(r.data["widths"]) <= n


def test_thm4_lifts_s7_on_triples_within_the_default_cap():
    """(35,S7) on a 7-state DFA (S7 on the 3-subsets of seven states): 210 ordered triples,
    within the default max_group (500), levels 7, 6, 5; thm4 passes with every layer at
    most |Q| wide. With a cap below 210 it stays 35 wide and the check fails it with the
    construction's reason."""
    from statetrack.automata import holonomy_decomposition
    from statetrack.constructions.cascade import ComponentCascade

    n = 7
    cyc, swap = [(q + 1) % n for q in range(n)], [1, 0] + list(range(2, n))
    d = DFA([[cyc[q], swap[q], q % 3] for q in range(n)], start=0, accepting=[0],
            alphabet="abc").minimize()
    casc = holonomy_decomposition(d)
    assert "(35,S7)" in str(casc)
    split = ComponentCascade(casc, len(d.alphabet), max_width=n)
    assert split.lifted == [0] and split.sizes[:3] == (7, 6, 5)
    assert len(split._coord[0]) == 210
    assert ComponentCascade(casc, len(d.alphabet), max_width=n, max_group=209).sizes[0] == 35
    registry._cascade.cache_clear()
    r = check("thm4", d)
    assert r.status == PASS, r.detail
    assert max(r.data["widths"]) <= n


def _thm4_with_construction_raising(monkeypatch, exc):
    """thm4 on aa_star with Theorem 4's compiler raising ``exc`` (through the real
    ``registry._cascade``, so its sorting of errors is what is tested)."""
    from statetrack.constructions import cascade as C

    def boom(*args, **kwargs):
        raise exc

    monkeypatch.setattr(C, "cascade_construction", boom)
    registry._cascade.cache_clear()
    try:
        return check("thm4", families.get("aa_star"))
    finally:
        registry._cascade.cache_clear()


def test_thm4_over_a_limit_is_skipped_with_the_reason(monkeypatch):
    from statetrack.constructions.errors import CascadeLimitError

    r = _thm4_with_construction_raising(monkeypatch, CascadeLimitError("level 0 has 720 states"))
    assert r.status == SKIPPED and "720 states" in r.detail and not r.failed
    assert dict(r.columns)["construction"] == "cascade: over limit"


def test_thm4_a_construction_error_is_a_failure_not_a_skip(monkeypatch):
    """A CascadeError that is not a size limit is a construction that went wrong: the check
    must fail with the reason, never report it as skipped."""
    from statetrack.constructions.errors import CascadeError

    r = _thm4_with_construction_raising(
        monkeypatch, CascadeError("level 1: the map (0, 0, 1) is not in the group"))
    assert r.status == FAIL and r.failed and r.failed_column == "construction"
    assert "not in the group" in r.detail and "construction failed" in r.detail
    assert dict(r.columns)["construction"] == "cascade: ERROR"


def test_cascade_limit_errors_are_raised_as_such():
    """The two size limits of the cascade compiler raise CascadeLimitError (a subclass of
    CascadeError, so callers catching CascadeError still catch them)."""
    from statetrack.automata.holonomy import holonomy_decomposition
    from statetrack.constructions.cascade import cascade_construction
    from statetrack.constructions.errors import CascadeError, CascadeLimitError

    d = families.get("contains(abb)").minimize()
    with pytest.raises(CascadeLimitError, match="more than 3 reachable states"):
        cascade_construction(holonomy_decomposition(d), d, limit=3)
    assert issubclass(CascadeLimitError, CascadeError)


# ----------------------------------------------------------------------------- periods


def _brute_periods(dfa):
    """Least eventual period of every monoid element under powers, from the definition."""
    m = transition_monoid(dfa.minimize())
    out = {}
    for i in range(m.size):
        x = m.elements[i]
        seen, p, t = {}, x.copy(), 1
        while p.tobytes() not in seen:
            seen[p.tobytes()] = t
            p, t = x[p], t + 1
        out[m.word_of(i)] = (seen[p.tobytes()], t - seen[p.tobytes()])
    return out


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(dfas(max_states=6, max_alphabet_size=2))
def test_element_periods_match_the_definition(dfa):
    got = {e.word: (e.index, e.period) for e in element_periods(dfa)}
    assert got == _brute_periods(dfa)


def _is_power_of_two(n):
    return n & (n - 1) == 0


@pytest.mark.parametrize("spec", ["parity", "cyclic(4)", "cyclic(6)", "symmetric(3)", "quaternion",
                                  "aa_star", "counter_reset(3)", "binary_divisible(3)",
                                  "binary_divisible(6)", "tomita(3)", "tomita(5)", "at_least(3)",
                                  "flip_flop", "dyck(2)", "contains(abb)", "even_pairs",
                                  "modular_arithmetic(5)"])
def test_needs_follow_the_monoid(spec):
    """T1 is needed iff the monoid is not aperiodic (some element has period > 1). T2 in one
    layer iff some element has a period > 2 (a real layer reaches periods 1 and 2); at every
    depth iff some subgroup has an order that is not a power of two (Cauchy: an element of odd
    prime order); otherwise from log2(largest period) layers on a real stack is not
    excluded."""
    dfa = families.get(spec)
    m = transition_monoid(dfa.minimize())
    t1, t2 = check("thm1", dfa), check("thm2", dfa)
    assert t1.data["needed"] == (not m.is_aperiodic())
    periods = [p for _, p in _brute_periods(dfa).values()]
    odd = any(not _is_power_of_two(o) for o in m.maximal_subgroup_orders())
    assert t2.data["any_depth"] == odd == any(not _is_power_of_two(p) for p in periods)
    assert t2.data["needed"] == any(p > 2 for p in periods)
    assert t2.data["real_depth"] == (None if odd else max(1, int(math.log2(max(periods)))))
    for r in (t1, t2):
        text = r.columns[0][1]
        if not r.data["needed"]:
            assert text == "not needed"
            assert r.status == PASS and r.data["witness"] is None
            continue
        assert text.startswith("needed" if r is t1 else "1L ")
        w, p = r.data["witness"], r.data["witness_period"]
        assert (p > 1) if r is t1 else (p > 2)
        assert _brute_periods(dfa)[w][1] == p
    if t2.data["needed"]:
        stack = "all L need" if odd else f"real >={t2.data['real_depth']}L"
        assert t2.columns[0][1].endswith("; " + stack)


@pytest.mark.parametrize("m", range(2, 13))
def test_theorem2_columns_on_cyclic_groups(m):
    """cyclic(m): one layer needs a non-real eigenvalue iff m > 2 (Z_4 included); stacks need
    one at every depth iff m has an odd factor, else below log2(m) layers."""
    r = check("thm2", families.get(f"cyclic({m})"))
    pow2 = _is_power_of_two(m)
    k = int(math.log2(m)) if pow2 else None
    assert r.data["needed"] == (m > 2)
    assert r.data["any_depth"] == (not pow2)
    assert r.data["real_depth"] == k
    assert r.status == PASS and not r.failed
    expected = ("not needed" if m == 2 else
                "1L has; all L need" if not pow2 else f"1L has; real >={k}L")
    assert r.columns[0][1] == expected
    if m > 2:                               # the generator's word, period m
        assert r.data["witness"] == ("1",) and r.data["witness_period"] == m
        assert r.data["checked"] >= 1 and "one layer needs a non-real" in r.detail
    if pow2 and m > 2:
        assert f"fewer than {k} layers" in r.detail
    elif m > 2:
        assert "any depth" in r.detail


def test_regressions_from_review():
    """Letter powers from the start state missed these (monoid elements find them)."""
    mod5 = check("thm2", families.get("modular_arithmetic(5)"))
    assert mod5.data["needed"] and mod5.data["witness_period"] == 5
    assert mod5.data["periods"] == (1, 2, 4, 5)
    assert mod5.status == NOT_APPLICABLE and mod5.columns[0][1] == "1L n/a; all L need"
    for n in (3, 4):
        s = check("thm2", families.get(f"symmetric({n})"))
        assert s.status == PASS and s.columns[0][1] == "1L has; all L need"
        assert len(s.data["witness"]) == 2 and s.data["witness_period"] == 3  # a 3-cycle
        assert s.data["checked"] >= 2
    t3 = check("thm1", families.get("tomita(3)"))
    assert t3.data["needed"] and t3.data["witness_period"] == 2
    assert t3.status == NOT_APPLICABLE and t3.columns[0][1] == "needed, n/a"
    bd3 = check("thm2", families.get("binary_divisible(3)"))
    assert bd3.status == PASS and bd3.data["needed"] and bd3.data["witness_period"] == 3
    bd6 = check("thm1", families.get("binary_divisible(6)"))
    assert bd6.data["needed"]


@pytest.mark.parametrize("spec", ["at_least(3)", "flip_flop", "dyck(3, 2)", "grid_world(5)",
                                  "flip_flop_language", "first_symbol", "no_run(2)"])
def test_aperiodic_languages_never_need(spec):
    dfa = families.get(spec)
    assert transition_monoid(dfa.minimize()).is_aperiodic()
    assert {e.period for e in element_periods(dfa)} == {1}
    for key in ("thm1", "thm2"):
        r = check(key, dfa)
        assert r.status == PASS and r.columns[0][1] == "not needed" and not r.data["needed"]


def test_large_monoids_are_skipped(monkeypatch):
    monkeypatch.setattr(registry, "MONOID_LIMIT", 10)
    dfa = families.get("symmetric(3)")  # 6 elements: fine
    assert check("thm1", dfa).status == PASS
    big = families.get("tomita(3)")      # 27 elements > 10
    for key in ("thm1", "thm2"):
        r = check(key, big)
        assert r.status == SKIPPED and not r.failed and not r.passed
        assert r.columns[0][1] == "skipped (|M|>10)" and "10 elements" in r.detail
    cols = {c.column: c for c in run_all(big)}
    assert cols["T1"].summary.startswith("skipped") and not cols["T1"].failed
    assert all(len(c.summary) <= SUMMARY_WIDTH for c in cols.values())


def test_run_all_monoid_limit_bounds_t1_and_t2_only_inside_the_call():
    big = families.get("tomita(3)")      # 27 elements
    cols = {c.column: c for c in run_all(big, monoid_limit=20)}
    for col in ("T1", "T2"):
        assert cols[col].status == SKIPPED and cols[col].summary == "skipped (|M|>20)"
        assert "20 elements (this run's monoid_limit)" in cols[col].detail
    assert registry._RUN_LIMIT.get() is None             # reset after the call
    cols = {c.column: c for c in run_all(big, monoid_limit=27)}
    assert cols["T1"].status != SKIPPED and cols["T2"].status != SKIPPED
    for bad in (0, -3, 2.5, True, "10", np.bool_(True)):
        with pytest.raises(TheoryError, match="monoid_limit must be a positive int"):
            run_all(big, monoid_limit=bad)
    cols = {c.column: c for c in run_all(big, monoid_limit=np.int64(20))}
    assert cols["T1"].summary == "skipped (|M|>20)"


def test_full_transformation_monoid_is_skipped_at_the_default_limit():
    """T_7 (a 7-cycle, a swap and a merge generate all 7^7 = 823543 maps) is over 10^5."""
    n = 7
    rows = [[(q + 1) % n, {0: 1, 1: 0}.get(q, q), 0 if q == 1 else q] for q in range(n)]
    dfa = DFA(rows, accepting=[0], alphabet="cts")
    assert registry.MONOID_LIMIT == 100_000
    cols = {r.column: r for r in run_all(dfa)}
    for col in ("T1", "T2"):
        assert cols[col].status == SKIPPED and cols[col].summary == "skipped (|M|>10^5)"
        assert not cols[col].failed and "100000 elements" in cols[col].detail


def test_unary_periods():
    assert unary_periods(families.get("count_mod(3)"))["a"] == (0, 3, 3)
    for mu, lam, p in unary_periods(families.get("at_least(3)")).values():
        assert lam == 1 and p == 1
    # a partial DFA: the missing transition is a rejecting sink
    assert unary_periods(DFA([[1], [-1]], accepting=[1], alphabet="a")) == {"a": (2, 1, 1)}


# ----------------------------------------------------------------------------- failures


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


def _swap_for_z3_model() -> LRNN:
    """Z_3 (count_mod(3)) with A(a) a swap of two of three states: eigenvalues 1, 1, -1, all
    real, so the letter of period 3 lacks the non-real eigenvalue Theorem 2 asks for."""
    sw = DeltaStep(key=[1, -1, 0], beta=1)
    layer = Layer(tokens=("a", "b"), steps=((sw,), ()), initial_state=[[1], [0], [0]],
                  readout=Readout(query=[0, 1, 2], codes=[[0], [1], [2]]))
    return LRNN(alphabet=("a", "b"), layers=(layer,), accepting=(True, False, False),
                state_map=(0, 1, 2))


def test_failures_are_reported_on_their_column(monkeypatch):
    parity = families.get("parity")
    monkeypatch.setattr(registry, "_construction", lambda dfa: (_broken_parity_model(), None))
    monkeypatch.setattr(registry, "_witness_spectra", registry._witness_spectra.__wrapped__)
    monkeypatch.setattr(registry, "_spectrum", registry._spectrum.__wrapped__)
    p1 = check("prop1", parity)
    assert p1.status == FAIL and "compose to" in p1.detail
    t1 = check("thm1", parity)
    assert t1.status == FAIL and t1.columns[0][1] == "needed, MISSING"
    assert "w = '1'" in t1.detail and "not a non-negative real" in t1.detail
    t3 = check("thm3", parity)
    assert t3.status == FAIL and t3.failed_column == "proof"
    cols = run_all(parity)
    assert {r.column for r in cols if r.failed} == {"GH", "T1", "proof"}
    assert all(len(r.summary) <= SUMMARY_WIDTH for r in cols)
    monkeypatch.setattr(registry, "_construction", lambda dfa: (_overlong_parity_model(), None))
    over = check("thm3", parity)
    assert over.status == FAIL and over.failed_column == "construction"
    assert "exceeds the bound" in over.detail
    assert dict(over.columns)["construction"] == "1x2 n_h=3/1 OVER"
    p1 = check("prop1", parity)
    assert p1.status == FAIL and "more than the least number 1 = rank(P - I)" in p1.detail
    assert "Proposition 1's bound is n - 1 = 1" in p1.detail


def test_theorem2_failure_is_reported(monkeypatch):
    z3 = families.get("count_mod(3)")
    monkeypatch.setattr(registry, "_construction", lambda dfa: (_swap_for_z3_model(), None))
    monkeypatch.setattr(registry, "_witness_spectra", registry._witness_spectra.__wrapped__)
    t1, t2 = check("thm1", z3), check("thm2", z3)
    assert t2.status == FAIL and t2.failed_column == "T2"
    assert t2.columns[0][1] == "1L MISSING; all L need" and "w = 'a' (period 3)" in t2.detail
    # every witness is checked, not only letters: A(a) has eigenvalue -1, but A(aa) = I
    assert t1.status == FAIL and "w = 'aa' (period 3)" in t1.detail
    assert "1 of 2 such words" in t1.detail and t1.data["checked"] == 2


def test_prop1_states_the_papers_permutation_bound_and_labels_the_sharper_count():
    """Proposition 1 puts permutation matrices in M_{n-1}({-1, 1}); the check holds letters to
    m - c = rank(P - I), which is the least count (each GH factor differs from I by rank one)
    and at most n - 1. The statement and the pass detail name both, not m - c as the paper's."""
    from statetrack.theory.factorization import permutation_factors

    stmt = REGISTRY["prop1"].statement
    assert "at most n - 1" in stmt and "not the proposition's n - 1" in stmt
    rng = np.random.default_rng(13)
    for n in (2, 5, 9):
        for _ in range(5):
            perm = [int(x) for x in rng.permutation(n)]
            p = np.zeros((n, n))
            p[perm, np.arange(n)] = 1.0
            least = int(np.linalg.matrix_rank(p - np.eye(n)))
            assert len(permutation_factors(perm)) == least <= n - 1
    r = check("prop1", families.get("symmetric(3)"))
    assert r.status == PASS and "Proposition 1 bounds it by n - 1 = 5" in r.detail


def test_thm4_checks_the_conclusions_counts_with_d_equal_one():
    """Theorem 4's conclusion: <= 2^|Q| layers of width n <= |Q|, d = 1, A(x) in
    M_n([-1, 1]), B non-negative integer. The check builds the packed stack (d = 1) and fails
    a stack outside the counts, the register-column stack (d = V > 1) included."""
    d = families.get("contains(abb)")
    lrnn, *_ = registry._cascade(d)
    assert registry._thm4_bound_problems(lrnn, d.minimize().n_states) == []
    problems = registry._thm4_bound_problems(lrnn, 2)       # as if |Q| were 2
    assert problems[0] == "7 layers > 2^|Q| = 4" and "width 3 > |Q| = 2" in problems[1]
    # a token whose B has a negative entry is outside the conclusion
    layer = lrnn.layers[0]
    t = next(i for i, row in enumerate(layer.steps)
             if any(st.value is not None and any(v != 0 for v in st.value) for st in row))
    row = [st.with_value([-v for v in st.value]) if st.value is not None else st
           for st in layer.steps[t]]
    bad = Layer(tokens=layer.tokens, steps=[row if i == t else r
                                            for i, r in enumerate(layer.steps)],
                initial_state=layer.initial_state, readout=layer.readout)
    assert "not a non-negative integer" in registry._thm4_bound_problems(
        LRNN(lrnn.alphabet, [bad], accepting=[False] * bad.readout.n_classes), 4)[0]
    cols, *_ = registry._cascade(d, paper=False)        # compile()'s form: d = 7
    assert registry._thm4_bound_problems(cols, 4) == ["layer 6 has d = 7 value columns > 1"]
    r = check("thm4", d)
    assert r.status == PASS and r.data["value_dim"] == 1 and r.data["paper_value_dim"] == 1
    assert r.data["fp_form"] == "packed" and "variant" not in r.detail
    assert "d = 1: each register packed into one number" in r.detail
    assert "Thm 4 (d = 1)" in COLUMN_LEGEND["construction"]
    assert "d = 1" in REGISTRY["thm4"].statement and "variant" not in REGISTRY["thm4"].statement


def test_thm4_fp_column_falls_back_to_the_register_columns_when_packed_codes_outgrow_bf16():
    """grid_world(9)'s packed codes reach 509, beyond bfloat16's integers: the d = 1 stack is
    proved exactly, and the fp column is the register-column stack's (proved too), said in
    the detail; with float32 alone the packed stack is exact and keeps the column."""
    g = families.get("grid_world(9)")
    packed, *_ = registry._cascade(g)
    assert not packed.float_exactness(("bfloat16",)).proved("bfloat16")
    r = check("thm4", g)
    assert r.status == PASS and r.data["value_dim"] == 1 and r.data["fp_form"] == "columns"
    assert "not proved exact in bfloat16" in r.detail and "register-column stack" in r.detail
    assert dict(r.columns)["fp"] == "bf16 exact"
    r32 = registry._check_thm4(g, formats=("float32",))
    assert r32.status == PASS and r32.data["fp_form"] == "packed"


def test_thm3_fails_a_layer_with_b_nonzero(monkeypatch):
    """Theorem 3's layer has B = 0: a parity layer whose swap also writes a value
    (B(1) != 0) is not the theorem's construction, and the check says so on its column."""
    sw = DeltaStep(key=[1, -1], beta=1, value=[1])       # the swap, plus B(1) = k v^T != 0
    layer = Layer(tokens=("0", "1"), steps=((), (sw,)), initial_state=[[1], [0]],
                  readout=Readout(query=[0, 1], codes=[[0], [1]]))
    model = LRNN(alphabet=("0", "1"), layers=(layer,), accepting=(False, True),
                 state_map=(0, 1))
    assert any(x != 0 for x in layer.B("1"))
    monkeypatch.setattr(registry, "_construction", lambda dfa: (model, None))
    r = check("thm3", families.get("parity"))
    assert r.status == FAIL and r.failed_column == "construction"
    assert "token '1' has B(x) != 0" in r.detail
    assert dict(r.columns)["construction"].endswith("B!=0")
    monkeypatch.undo()
    assert check("thm3", families.get("parity")).status == PASS


def test_thm4_one_component_says_there_is_no_register():
    r = check("thm4", families.get("flip_flop"))
    assert r.status == PASS and r.data["layers"] == 1
    assert "d = 1: one component, no register" in r.detail and "packed" not in r.detail
