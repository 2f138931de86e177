"""Tests of :mod:`statetrack.automata.holonomy`.

Oracles used here, independent of the decomposition's own code:

* :func:`verify_cover` (covering, from the definition, over the reachable cascade states) --
  and a check that it can fail (perturbed actions, a wrong initial state);
* a brute-force recomputation from the full transition monoid (:func:`transition_monoid`):
  the skeleton ``{Q·s} ∪ singletons``, subduction ``P ≤ X iff P ⊆ X·s``, the longest chain of
  strict subductions (the number of levels), the tiles of each representative, and the
  holonomy group as the set of ALL permutations of the tiles induced by the elements s with
  ``R·s = R`` (not only the round-trip generators the module uses);
* published SgpDec output (the GAP package by Egri-Nagy and Nehaniv), quoted with the file it
  comes from, at github.com/gap-packages/sgpdec commit be43bb4074ba9b11c2c8f834c5d77f4a614d5035;
* group theory for the names (orders n!, n!/2, 2n, ...).

SgpDec numbers points from 1 and writes ``Transformation([i_1, ..., i_n])`` for ``k -> i_k``;
:func:`gap_dfa` turns such generators into a DFA on points 0..n-1 (one letter per generator,
start 0; SgpDec decomposes the action on all points, as :func:`holonomy_decomposition` does).
"""

from __future__ import annotations

import functools
import itertools
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from statetrack.automata import DFA, families, transition_monoid
from statetrack.automata.errors import (
    AlphabetError,
    CascadeStateError,
    DecompositionLimitError,
    HolonomyInputError,
)
from statetrack.automata.holonomy import (
    Cascade,
    CoverProof,
    GroupName,
    holonomy_decomposition,
    verify_cover,
)
from statetrack.automata.strategies import dfas, words

ROOT = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------------------- helpers
def gap_dfa(*gens: list[int], degree: int | None = None) -> DFA:
    """A DFA whose letters are SgpDec/GAP transformations (1-based image lists)."""
    n = degree or max(len(g) for g in gens)
    cols = [[x - 1 for x in g] + list(range(len(g), n)) for g in gens]
    return DFA(np.array(cols, dtype=np.int64).T, alphabet=[f"s{i}" for i in range(len(gens))])


def full_transformation_dfa(n: int) -> DFA:
    """Letters generating T_n: an n-cycle, a transposition, a map of rank n - 1."""
    cycle = [(i + 1) % n for i in range(n)]
    swap = [1, 0] + list(range(2, n))
    collapse = [0, 0] + list(range(2, n))
    return DFA(np.array([cycle, swap, collapse]).T, alphabet="abc")


def is_perm_or_constant(t, n: int) -> bool:
    t = list(t)
    return len(t) == n and (sorted(t) == list(range(n)) or len(set(t)) == 1)


def brute_force(dfa: DFA):
    """Skeleton, strict subduction and the longest chain, from the full transition monoid."""
    d = dfa.complete()
    n = d.n_states
    els = [tuple(int(x) for x in e) for e in transition_monoid(d).elements]
    Q = frozenset(range(n))
    images = {frozenset(e[q] for q in Q) for e in els}
    skeleton = images | {frozenset([q]) for q in range(n)}
    nonsingle = sorted((x for x in images if len(x) >= 2), key=lambda s: (-len(s), sorted(s)))

    @functools.lru_cache(None)
    def orbit(X):
        return frozenset(frozenset(e[q] for q in X) for e in els)

    def le(P, X):  # P is subducted by X
        return any(P <= Y for Y in orbit(X))

    def lt(P, X):
        return le(P, X) and not le(X, P)

    @functools.lru_cache(None)
    def depth(X):  # longest chain of strict subductions from Q down to X, counting sets
        return 1 + max((depth(Y) for Y in nonsingle if lt(X, Y)), default=0)

    def tiles(X):
        inside = [Y for Y in skeleton if Y < X]
        return {Y for Y in inside if not any(Y < Z for Z in inside)}

    def holonomy_group(R, ordered_tiles):
        pos = {t: i for i, t in enumerate(ordered_tiles)}
        perms = set()
        for e in els:
            if frozenset(e[q] for q in R) == R:
                perms.add(tuple(pos[frozenset(e[q] for q in t)] for t in ordered_tiles))
        return perms

    height = max((depth(X) for X in nonsingle), default=0)
    return dict(els=els, skeleton=skeleton, images=images, depth=depth, height=height,
                tiles=tiles, group=holonomy_group, le=le)


def group_elements(gens, degree):
    identity = tuple(range(degree))
    seen, todo = {identity}, [identity]
    while todo:
        x = todo.pop()
        for g in gens:
            y = tuple(g[i] for i in x)
            if y not in seen:
                seen.add(y)
                todo.append(y)
    return seen


# ---------------------------------------------------------------------------- (1) properties
@settings(max_examples=200, deadline=None)
@given(d=dfas(max_states=8, max_alphabet_size=3, complete=False),
       mode=st.sampled_from(["reset", "identity"]))
def test_random_dfas_are_covered(d, mode):
    # with dont_care="identity" a don't-care level keeps its stale value, so the reachable
    # cascade states multiply across deep decompositions (an 8-state DFA of ~20 levels took
    # minutes and 8 GB); "reset" (the default, SgpDec's) reaches only the tile chains
    assume(mode == "reset" or d.minimize().n_states <= 5)
    c = holonomy_decomposition(d, dont_care=mode)
    proof = verify_cover(c, d)
    assert proof.ok, proof.reason
    assert proof.reachable == len(c.reachable())
    # every action used by a reachable state is a permutation or a constant (checked here
    # directly, not only through the verifier), and so is a don't-care context's
    for x in c.reachable():
        for a in range(len(c.alphabet)):
            for li, lv in enumerate(c.levels):
                assert is_perm_or_constant(c.action(li, a, x[:li]), lv.n_states)
    # the level structure: every tile of a representative sits on a deeper level
    for lv in c.levels:
        assert lv.n_states == sum(comp.degree for comp in lv.components)
        offsets = [comp.offset for comp in lv.components]
        assert offsets == [sum(x.degree for x in lv.components[:i]) for i in range(len(offsets))]
        for comp in lv.components:
            assert c.depth_of(comp.representative) == lv.depth
            assert frozenset().union(*comp.tiles) == comp.representative
            for t in comp.tiles:
                assert c.depth_of(t) > lv.depth
    # with resets for don't cares the reachable states are the tile chains: all don't cares 0
    if mode == "reset":
        for x in c.reachable():
            chain = c.chain(x)
            used = {c.depth_of(s) - 1 for s in chain[:-1]}
            assert all(x[li] == 0 for li in range(c.n_levels) if li not in used)
    # the height is the number of levels; NOT bounded by |Q| - 1 in general (see below)
    assert c.height == c.n_levels == len(c.widths)
    assert c.height <= len([s for s in c.skeleton if len(s) >= 2])


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_runs_agree_with_the_dfa(data):
    d = data.draw(dfas(max_states=8, max_alphabet_size=3))
    w = data.draw(words(d, max_size=12))
    c = holonomy_decomposition(d)
    states = c.run(w)
    assert len(states) == len(w) + 1
    assert [c.cover(x) for x in states] == d.run([w]).states[0].tolist()


@settings(max_examples=60, deadline=None)
@given(d=dfas(max_states=5, max_alphabet_size=3))
def test_against_brute_force_from_the_monoid(d):
    """Skeleton, number of levels, depths, tiles and holonomy groups from the definitions."""
    b = brute_force(d)
    c = holonomy_decomposition(d)
    assert set(c.skeleton) == b["skeleton"]
    assert len(c.skeleton) == len(b["skeleton"])
    assert c.n_images == len(b["images"])
    assert c.height == b["height"]
    for X in b["images"]:
        if len(X) >= 2:
            assert c.depth_of(X) == b["depth"](X)
            assert set(c.tiles_of(X)) == b["tiles"](X)
    for lv in c.levels:
        for comp in lv.components:
            R = comp.representative
            # the class: the sets subduction-equivalent to R
            assert set(comp.class_sets) == {X for X in b["images"]
                                            if b["le"](X, R) and b["le"](R, X)}
            assert set(comp.tiles) == b["tiles"](R)
            full_group = b["group"](R, comp.tiles)
            assert group_elements(comp.group.generators, comp.degree) == full_group
            assert comp.group.order == len(full_group)
            assert comp.is_reset == (len(full_group) == 1)


def test_deterministic():
    d = families.get("tomita(3)")
    c1, c2 = holonomy_decomposition(d), holonomy_decomposition(d)
    assert str(c1) == str(c2) and c1.initial == c2.initial
    assert c1.reachable() == c2.reachable()
    assert [[c1.action(li, a, x[:li]) for li in range(c1.n_levels) for a in range(2)]
            for x in c1.reachable()] == \
        [[c2.action(li, a, x[:li]) for li in range(c2.n_levels) for a in range(2)]
         for x in c2.reachable()]
    assert [comp.tiles for lv in c1.levels for comp in lv.components] == \
        [comp.tiles for lv in c2.levels for comp in lv.components]


def test_height_can_exceed_states_minus_one():
    """The holonomy height is the longest chain of strict subductions, and an image can be
    strictly subducted by another image of the SAME size, so "height <= |Q| - 1" is false in
    general. Smallest witness here: words containing ``ab`` (3 states, 3 levels):
    ``Q > {0, 2} > {1, 2} > {2}`` with ``{0, 2}·a = {1, 2}`` and no way back. SgpDec's manual
    shows the same for a semigroup on 6 points with 6 levels (see test_sgpdec_manual_display).
    """
    d = DFA([[1, 0], [1, 2], [2, 2]], accepting=[2], alphabet="ab")
    c = holonomy_decomposition(d)
    assert c.height == 3 == brute_force(d)["height"]
    assert [c.depth_of(s) for s in ({0, 1, 2}, {0, 2}, {1, 2}, {2})] == [1, 2, 3, 4]
    assert verify_cover(c, d).ok


# ---------------------------------------------------------------------------- (2) known results
def test_full_transformation_monoid_T3():
    # SgpDec tst/holonomy.tst: HolonomyCascadeSemigroup(FullTransformationSemigroup(3))
    #   -> "<cascade semigroup with 3 generators, 2 levels with (3, 2) pts>"
    c = holonomy_decomposition(full_transformation_dfa(3))
    assert c.widths == (3, 2)
    assert str(c) == "1: (3,S3)\n2: (2,C2)"
    assert [comp.group.name for lv in c.levels for comp in lv.components] == ["S3", "C2"]
    assert [comp.group.order for lv in c.levels for comp in lv.components] == [6, 2]
    assert len(c.reachable()) == 6  # 3! tile chains
    assert verify_cover(c, full_transformation_dfa(3)).ok


def test_full_transformation_monoid_T4():
    # SgpDec doc/mansections.xml (HolonomyCascadeSemigroup, example with T4):
    #   "<cascade semigroup with 3 generators, 3 levels with (4, 3, 2) pts>"; the groups are
    #   S4, S3, S2 = C2 as the pattern of doc/basic.xml's T5 display below (each level's
    #   representative has every permutation of its tiles: T_n contains Sym of every subset)
    d = full_transformation_dfa(4)
    c = holonomy_decomposition(d)
    assert c.widths == (4, 3, 2)
    assert str(c) == "1: (4,S4)\n2: (3,S3)\n3: (2,C2)"
    assert [comp.group.order for lv in c.levels for comp in lv.components] == [24, 6, 2]
    assert verify_cover(c, d).ok


def test_full_transformation_monoid_T5():
    # SgpDec doc/basic.xml: S := HolonomyCascadeSemigroup(T5);
    #   "<cascade semigroup with 3 generators, 4 levels with (5, 4, 3, 2) pts>" and
    #   DisplayHolonomyComponents -> "1: (5,S5) / 2: (4,S4) / 3: (3,S3) / 4: (2,C2)";
    # doc/mansections.xml: Size(DomainOf(hcs)) = 120 coordinate tuples.
    d = full_transformation_dfa(5)
    c = holonomy_decomposition(d)
    assert str(c) == "1: (5,S5)\n2: (4,S4)\n3: (3,S3)\n4: (2,C2)"
    proof = verify_cover(c, d)
    assert proof.ok and proof.reachable == 120


def test_sgpdec_tst_six_generators():
    # SgpDec tst/holonomy.tst: the semigroup of 6 transformations below;
    #   "<cascade semigroup with 6 generators, 5 levels with (2, 7, 5, 2, 2) pts>" and
    #   Display(hcs) -> "1: 2 / 2: (3,S3) (4,C3) / 3: (3,C3) (2,C2) / 4: (2,C2) / 5: 2";
    #   AllHolonomyCoords(1, sk) has 3 coordinate tuples (3 tile chains end at point 1).
    d = gap_dfa([1, 2, 3, 1, 1, 1], [4, 4, 4, 5, 4, 6], [4, 4, 4, 5, 6, 4], [4, 4, 4, 4, 5, 5],
                [4, 4, 4, 1, 2, 3], [2, 3, 1, 4, 4, 4])
    c = holonomy_decomposition(d)
    assert c.widths == (2, 7, 5, 2, 2)
    assert str(c) == "1: 2\n2: (3,S3) (4,C3)\n3: (3,C3) (2,C2)\n4: (2,C2)\n5: 2"

    def chains(X, q):
        if X == frozenset([q]):
            return 1
        return sum(chains(t, q) for t in c.tiles_of(X) if q in t)

    assert chains(frozenset(range(6)), 0) == 3
    assert verify_cover(c, d).ok


def test_sgpdec_tst_eight_generators():
    # SgpDec tst/holonomy.tst (SMALL_GROUPS): DisplayHolonomyComponents(Skeleton(S)) ->
    #   "1: 5 / 2: 4 / 3: 4 3 / 4: (4,C2) 3 / 5: (3,C3) 2 / 6: (2,C2)"
    d = gap_dfa([1, 1], [2, 2], [3, 2, 3], [1, 2, 3, 3, 5, 5], [1, 2, 4, 4, 6, 6],
                [1, 2, 3, 4, 3, 4], [1, 2, 5, 6, 5, 6], [1, 2, 3, 4, 5, 2], degree=6)
    c = holonomy_decomposition(d)
    assert str(c) == "1: 5\n2: 4\n3: 4 3\n4: (4,C2) 3\n5: (3,C3) 2\n6: (2,C2)"
    assert c.height == 6 > d.n_states - 1
    assert verify_cover(c, d).ok


def test_sgpdec_manual_display():
    # SgpDec doc/mansections.xml, DisplayHolonomyComponents example:
    #   Semigroup([Transformation([1,1,2,3,5,4]), Transformation([3,4,1,6,1,5])]) ->
    #   "1: 2 / 2: 3 / 3: 3 / 4: 3 (4,A4) / 5: (3,S3) / 6: (2,C2)" (6 levels on 6 points)
    d = gap_dfa([1, 1, 2, 3, 5, 4], [3, 4, 1, 6, 1, 5])
    c = holonomy_decomposition(d)
    assert str(c) == "1: 2\n2: 3\n3: 3\n4: 3 (4,A4)\n5: (3,S3)\n6: (2,C2)"
    a4 = c.levels[3].components[1].group
    assert (a4.name, a4.order, a4.degree) == ("A4", 12, 4)
    assert verify_cover(c, d).ok


def test_sgpdec_manual_as_holonomy_cascade():
    # SgpDec doc/mansections.xml, AsHolonomyCascade example:
    #   S := Semigroup([Transformation([2,2,1,3,4]), Transformation([2,1,4,3,5])]);
    #   "<trans cascade with 5 levels with (2, 2, 2, 2, 2) pts, 17 dependencies>"
    d = gap_dfa([2, 2, 1, 3, 4], [2, 1, 4, 3, 5])
    c = holonomy_decomposition(d)
    assert c.widths == (2, 2, 2, 2, 2)
    assert verify_cover(c, d).ok


def test_catalogue_groups():
    assert str(holonomy_decomposition(families.get("flip_flop"))) == "1: 2"
    flip = holonomy_decomposition(families.get("flip_flop")).levels[0].components[0]
    assert flip.is_reset and flip.group.order == 1
    assert str(holonomy_decomposition(families.get("parity"))) == "1: (2,C2)"
    for m in range(2, 9):
        assert str(holonomy_decomposition(families.get(f"cyclic({m})"))) == f"1: ({m},C{m})"
    # the word problem of S_3 acts on its 6 elements (regularly): one level, S3 on 6 states
    c = holonomy_decomposition(families.get("symmetric(3)"))
    assert str(c) == "1: (6,S3)" and c.levels[0].components[0].group.order == 6
    assert str(holonomy_decomposition(families.get("symmetric(4)"))) == "1: (24,S4)"
    assert str(holonomy_decomposition(families.get("alternating(5)"))) == "1: (60,A5)"
    assert str(holonomy_decomposition(families.get("dihedral(5)"))) == "1: (10,D5)"
    assert str(holonomy_decomposition(families.get("quaternion"))) == "1: (8,Q8)"


@pytest.mark.parametrize("spec", [
    "contains(abb)", "tomita(3)", "even_pairs", "ab_star", "dyck(2)", "grid_world(5)",
    "flip_flop_language", "modular_arithmetic(5)", "at_least(3)", "first_symbol", "no_run(2)",
    "binary_divisible(6)", "dyck(3, 2)",
])
def test_catalogue_non_group_languages(spec):
    d = families.get(spec)
    c = holonomy_decomposition(d)
    proof = verify_cover(c, d)
    assert proof.ok, proof.reason
    assert c.height >= 1 and proof.reachable >= d.n_states


def test_every_catalogue_language_is_covered():
    for entry in families.catalogue():
        c = holonomy_decomposition(entry.dfa)
        assert verify_cover(c, entry.dfa).ok, entry.name


# ---------------------------------------------------------------------------- group names
def test_group_names():
    assert GroupName.of(5, []).name == "1"
    assert GroupName.of(6, [(1, 2, 3, 4, 5, 0)]).name == "C6"
    assert GroupName.of(4, [(1, 0, 2, 3), (0, 1, 3, 2)]).name == "C2 x C2"
    assert GroupName.of(4, [(1, 2, 3, 0), (3, 2, 1, 0)]).name == "D4"
    assert GroupName.of(5, [(1, 2, 3, 4, 0), (4, 3, 2, 1, 0)]).name == "D5"
    assert GroupName.of(5, [(1, 2, 3, 4, 0), (1, 0, 2, 3, 4)]).name == "S5"
    assert GroupName.of(5, [(1, 2, 3, 4, 0), (1, 2, 0, 3, 4)]).name == "A5"
    assert GroupName.of(9, [tuple((i + 1) % 9 for i in range(9)),
                            (1, 0) + tuple(range(2, 9))]).name == "S9"  # past enumeration
    # S4 acting on the 6 pairs of 4 points: order 24, identified abstractly (Coxeter)
    pairs = list(itertools.combinations(range(4), 2))

    def on_pairs(p):
        return tuple(pairs.index(tuple(sorted((p[a], p[b])))) for a, b in pairs)

    g = GroupName.of(6, [on_pairs((1, 2, 3, 0)), on_pairs((1, 0, 2, 3))])
    assert (g.name, g.order, g.degree) == ("S4", 24, 6)
    # order 24 but not S4 (C2 x A4): no wrong name
    g = GroupName.of(6, [(1, 2, 0, 3, 4, 5), (1, 0, 3, 2, 4, 5), (0, 1, 2, 3, 5, 4)])
    assert g.order == 24 and g.name.startswith("order 24 <")
    # C4 x C2, order 8, abelian, not cyclic
    g = GroupName.of(8, [(1, 2, 3, 0, 5, 6, 7, 4), (4, 5, 6, 7, 0, 1, 2, 3)])
    assert g.name == "order 8 <(0 1 2 3)(4 5 6 7), (0 4)(1 5)(2 6)(3 7)>"
    # generators are a small generating set of the same group
    g = GroupName.of(4, [(1, 0, 2, 3), (0, 2, 1, 3), (0, 1, 3, 2), (1, 2, 3, 0)])
    assert g.name == "S4" and len(group_elements(g.generators, 4)) == 24
    with pytest.raises(HolonomyInputError, match="not a permutation"):
        GroupName.of(3, [(0, 0, 1)])


# ---------------------------------------------------------------------------- (3) bad input
def test_bad_input():
    with pytest.raises(HolonomyInputError, match="'dfa' must be a statetrack DFA"):
        holonomy_decomposition([[0, 1], [1, 0]])
    with pytest.raises(HolonomyInputError, match="max_skeleton must be a positive int"):
        holonomy_decomposition(families.get("parity"), max_skeleton=0)
    with pytest.raises(HolonomyInputError, match="dont_care"):
        holonomy_decomposition(families.get("parity"), dont_care="zero")
    c = holonomy_decomposition(families.get("parity"))
    with pytest.raises(HolonomyInputError, match="'cascade' must be a Cascade"):
        verify_cover("cascade", families.get("parity"))
    with pytest.raises(HolonomyInputError, match="'dfa' must be a statetrack DFA"):
        verify_cover(c, None)
    with pytest.raises(AlphabetError, match="alphabet"):
        verify_cover(c, families.get("flip_flop"))
    with pytest.raises(CascadeStateError, match="has 2 entries, expected 1"):
        c.cover((0, 0))
    with pytest.raises(CascadeStateError, match=r"state\[0\] = 2 is not a state of level 0"):
        c.step((2,), 0)
    with pytest.raises(CascadeStateError, match="level 1 out of range"):
        c.action(1, 0, (0,))
    with pytest.raises(CascadeStateError, match="letter 'x'"):
        c.action(0, "x", ())
    with pytest.raises(CascadeStateError, match="not in the skeleton"):
        holonomy_decomposition(families.get("contains(abb)")).tiles_of({0, 1})


def test_skeleton_limit():
    d = full_transformation_dfa(6)  # 63 images (every non-empty subset)
    with pytest.raises(DecompositionLimitError,
                       match=r"more than max_skeleton=20 sets .* max_skeleton=200"):
        holonomy_decomposition(d, max_skeleton=20)
    c = holonomy_decomposition(d, max_skeleton=63)
    assert len(c.skeleton) == 63
    with pytest.raises(DecompositionLimitError):
        holonomy_decomposition(d, max_skeleton=62)


def test_partial_dfa_is_completed():
    d = DFA([[1, -1], [-1, 0]], accepting=[0], alphabet="ab")  # (ab)*, partial
    c = holonomy_decomposition(d)
    assert c.dfa.n_states == 3 and c.dfa.is_complete
    assert verify_cover(c, d).ok and verify_cover(c, d.complete()).ok


def test_one_state_dfa():
    d = DFA([[0, 0]], accepting=[0], alphabet="ab")
    c = holonomy_decomposition(d)
    assert c.n_levels == 0 and c.initial == () and c.cover(()) == 0
    assert str(c) == "(no levels)"
    assert verify_cover(c, d) == CoverProof(True, 1)


def test_progress_bar(capsys):
    d = families.get("tomita(3)")
    assert str(holonomy_decomposition(d, progress=True)) == str(holonomy_decomposition(d))
    assert "holonomy" in capsys.readouterr().err


def test_random_ten_state_three_letter_dfa_is_fast():
    # issue 9: a random 10-state, 3-letter DFA decomposes in under a minute (here: ~10 ms)
    rng = np.random.default_rng(20261201)
    for _ in range(5):
        d = DFA(rng.integers(0, 10, size=(10, 3)), alphabet="abc")
        t = time.perf_counter()
        holonomy_decomposition(d)
        assert time.perf_counter() - t < 60.0


# ---------------------------------------------------------------------------- (4) broken cascades
def test_verifier_rejects_a_perturbed_action():
    d = families.get("parity")
    c = holonomy_decomposition(d)
    assert c.action(0, 1, ()) == (1, 0)
    c._actions[(0, 1, ())] = (0, 0)  # a constant instead of the swap: still perm-or-constant
    proof = verify_cover(c, d)
    assert not proof.ok
    assert proof.counterexample.state == (0,) and proof.counterexample.letter == 1
    assert (proof.counterexample.expected, proof.counterexample.got) == (1, 0)
    assert "cover(step" in proof.reason


def test_verifier_rejects_a_non_permutation_reset_action():
    d = full_transformation_dfa(3)
    c = holonomy_decomposition(d)
    c._actions[(0, 0, ())] = (0, 0, 1)
    proof = verify_cover(c, d)
    assert not proof.ok and "neither a permutation nor a constant" in proof.reason


def test_verifier_rejects_a_multi_level_perturbation():
    """Change one lower level's action, in a context where that level's coordinate matters
    (changing it changes the state covered), to a constant map: the proof must fail there."""
    d = families.get("tomita(3)")
    c = holonomy_decomposition(d)
    target = None
    for x in c.reachable():
        for a in range(2):
            y = c.step(x, a)
            for li in range(1, c.n_levels):
                for v in range(c.widths[li]):
                    z = y[:li] + (v,) + y[li + 1:]
                    if v != y[li] and c.cover(z) != c.cover(y):
                        target = (x, a, li, v)
                        break
                if target:
                    break
            if target:
                break
        if target:
            break
    assert target is not None
    x, a, li, v = target
    c._actions[(li, a, x[:li])] = (v,) * c.widths[li]
    proof = verify_cover(c, d)
    assert not proof.ok
    assert proof.counterexample.letter == a and proof.counterexample.state[:li] == x[:li]


def test_verifier_rejects_a_wrong_initial_state():
    d = full_transformation_dfa(3)  # start 0
    c = holonomy_decomposition(d)
    c._initial = c.encode(1)
    proof = verify_cover(c, d)
    assert not proof.ok and proof.counterexample.expected == 0
    assert proof.counterexample.got == 1


def test_verifier_rejects_a_step_that_disagrees_with_the_actions():
    class Skewed(Cascade):
        def step(self, state, letter):
            y = super().step(state, letter)
            return (1 - y[0],) + y[1:]

    d = families.get("parity")
    c = holonomy_decomposition(d)
    c.__class__ = Skewed
    proof = verify_cover(c, d)
    assert not proof.ok and "actions give" in proof.reason


# ---------------------------------------------------------------------------- benchmark script
def test_benchmark_smoke(tmp_path):
    out = tmp_path / "h.json"
    r = subprocess.run([sys.executable, "benchmarks/holonomy.py", "--smoke", "--json", str(out),
                        "--md", str(tmp_path / "h.md")], cwd=ROOT, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    import json

    rows = json.loads(out.read_text())["rows"]
    assert rows and all(row["covered"] for row in rows)
    assert math.isfinite(sum(row["seconds"] for row in rows))
