"""The minimal faithful degree mu(G) (Theorem 3's width): the exhaustive search over the
transitive actions closes the block search's gaps, checked against a brute-force mu from the
group's subgroups; above the order limit the gap is reported."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest

from statetrack.automata import DFA, families
from statetrack.constructions.errors import InputTypeError
from statetrack.constructions.faithful import (
    EXHAUSTIVE_MAX_ORDER,
    faithful_action,
    faithful_construction,
    transitive_actions,
)
from statetrack.theory.proof import verify
from statetrack.theory.registry import check


def _on_sets(n, k, gens):
    sets = list(combinations(range(n), k))
    f = lambda p: [sets.index(tuple(sorted(p[a] for a in s))) for s in sets]  # noqa: E731
    return DFA(np.array([f(g) for g in gens]).T, accepting=[0],
               alphabet=[f"g{i}" for i in range(len(gens))])


def _a5_on_projective_line():
    """PSL(2, 5) = A_5 on the 6 points of F_5 and infinity (5): x + 1 and -1/x."""
    t = [1, 2, 3, 4, 0, 5]
    s = [5] + [(-pow(x, -1, 5)) % 5 for x in range(1, 5)] + [0]
    return DFA(np.array([t, s]).T, accepting=[0], alphabet="ts")


def _brute_mu(dfa):
    """mu(G) from the definition: list G, its subgroups (closures of at most two elements:
    enough for the small groups here) and their cores, and the least index sum of a set of
    subgroups whose cores meet in 1."""
    perms = [tuple(int(x) for x in p) for p in dfa.minimize().transitions.T]
    n = len(perms[0])
    ident = tuple(range(n))
    mul = lambda a, b: tuple(b[a[i]] for i in range(n))  # noqa: E731  (first a, then b)
    elems = {ident}
    frontier = [ident]
    while frontier:
        x = frontier.pop()
        for p in perms:
            y = mul(x, p)
            if y not in elems:
                elems.add(y)
                frontier.append(y)
    elems = sorted(elems)

    def closure(gs):
        h = {ident}
        frontier = [ident]
        while frontier:
            x = frontier.pop()
            for g in gs:
                y = mul(x, g)
                if y not in h:
                    h.add(y)
                    frontier.append(y)
        return frozenset(h)

    subs = {closure([a, b]) for a in elems for b in elems}
    inv = {x: next(y for y in elems if mul(x, y) == ident) for x in elems}
    order = len(elems)

    def core(h):
        return frozenset.intersection(*[frozenset(mul(mul(inv[g], x), g) for x in h)
                                        for g in elems])

    pieces = sorted({(order // len(h), core(h)) for h in subs}, key=lambda p: p[0])
    best = [order]

    def dfs(start, total, kern):
        for j in range(start, len(pieces)):
            idx, c = pieces[j]
            if total + idx >= best[0]:
                return
            k = kern & c
            if len(k) == 1:
                best[0] = total + idx
                continue
            if k != kern:
                dfs(j + 1, total + idx, k)

    dfs(0, 0, frozenset(elems))
    return best[0]


def test_s4_on_pairs_reaches_mu():
    dfa = _on_sets(4, 2, [[1, 0, 2, 3], [1, 2, 3, 0]])
    act = faithful_action(dfa, np.random.default_rng(0))
    assert (act.m, act.minimal_degree, act.lower_bound, act.pieces) == (4, 4, 4, (4,))
    assert _brute_mu(dfa) == 4
    m = faithful_construction(dfa)
    assert m.width == 4 and verify(m, dfa).ok
    # without the exhaustive search: the block search's width, and the gap is reported
    act0 = faithful_action(dfa, np.random.default_rng(0), exhaustive_max_order=0)
    assert (act0.m, act0.minimal_degree, act0.lower_bound) == (6, None, 4)


def test_a5_on_six_points_reaches_mu():
    dfa = _a5_on_projective_line()
    act = faithful_action(dfa, np.random.default_rng(0))
    assert act.group_order == 60 <= EXHAUSTIVE_MAX_ORDER
    assert (act.m, act.minimal_degree) == (5, 5)
    m = faithful_construction(dfa)
    assert m.width == 5 and verify(m, dfa).ok


@pytest.mark.parametrize("spec", ["cyclic(12)", "dihedral(6)", "dihedral(4)", "quaternion",
                                  "symmetric(3)", "alternating(4)"])
def test_minimal_degree_equals_brute_force(spec):
    dfa = families.get(spec)
    act = faithful_action(dfa, np.random.default_rng(1))
    assert act.minimal_degree == act.m == _brute_mu(dfa)


def test_transitive_actions_are_the_coset_actions():
    s3 = np.array([[1, 0, 2], [1, 2, 0]])
    acts = transitive_actions(s3, 7)
    assert sorted(a.shape[1] for a in acts) == [2, 3, 6]      # Z_2 quotient, 3 points, regular
    for a in acts:
        assert a.shape[0] == 2 and all(sorted(row) == list(range(a.shape[1])) for row in a)
    assert sorted(a.shape[1] for a in transitive_actions(s3, 6)) == [2, 3]
    # identity and repeated letters share the generators' actions
    s3x = np.array([[0, 1, 2], [1, 0, 2], [1, 2, 0], [1, 0, 2]])
    for a in transitive_actions(s3x, 4):
        assert (a[0] == np.arange(a.shape[1])).all() and (a[1] == a[3]).all()


def test_gap_reported_above_the_order_limit():
    dfa = _on_sets(5, 2, [[1, 0, 2, 3, 4], [1, 2, 3, 4, 0]])      # S_5 on 10 pairs
    act = faithful_action(dfa, np.random.default_rng(0))
    assert act.group_order == 120 > EXHAUSTIVE_MAX_ORDER
    assert (act.m, act.lower_bound, act.minimal_degree) == (10, 5, None)
    r = check("thm3w", dfa)
    assert r.status == "pass" and r.columns == (("width", "K=10, mu in [5,10]"),)
    assert r.data["minimal_degree"] is None and "5 <= mu(G) <= 10" in r.detail


def test_registry_width_row_on_the_catalogue_groups():
    for spec in ["cyclic(10)", "dihedral(6)", "quaternion", "symmetric(4)", "alternating(4)"]:
        r = check("thm3w", families.get(spec))
        assert r.status == "pass", r.detail
        assert r.data["minimal_degree"] == r.data["width"] <= r.data["states"]
        assert r.columns == (("width", f"K={r.data['width']} = mu(G)"),)
    assert check("thm3w", families.get("tomita(3)")).columns == (("width", "not a group"),)


def test_bad_search_arguments():
    dfa = families.get("cyclic(6)")
    for bad in (-1, 2.5, True, None):
        with pytest.raises(InputTypeError, match="exhaustive_max_order"):
            faithful_action(dfa, np.random.default_rng(0), exhaustive_max_order=bad)
    with pytest.raises(InputTypeError, match="readout"):
        faithful_action(dfa, np.random.default_rng(0), readout="no")
