"""The cascade construction (Theorem 4's stack) on cascades built by hand and at random.

The holonomy decomposition has its own tests (tests/automata/test_holonomy.py); here the
cascades are random tables, so the construction is tested independently of it: every
random cascade's stack is proved exactly by ``verify`` and run in bfloat16 against the DFA.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from statetrack.constructions.cascade import (
    CascadeStack, MAX_LEVEL_STATES, TableCascade, cascade_construction, classify_map,
)
from statetrack.automata.strategies import dfas
from statetrack.constructions.errors import CascadeError, InputTypeError
from statetrack.theory.proof import verify


def random_cascade(rng: np.random.Generator, *, n_letters: int, sizes: tuple[int, ...],
                   p_reset: float = 0.4) -> TableCascade:
    """A cascade whose level maps are drawn once per (level, letter, lower states)."""
    table: dict = {}

    def act(level, letter, lower):
        key = (level, letter, lower)
        if key not in table:
            n = sizes[level]
            r = rng.random()
            if r < p_reset:
                table[key] = (int(rng.integers(n)),) * n
            elif r < 0.8:
                table[key] = tuple(int(x) for x in rng.permutation(n))
            else:
                table[key] = tuple(range(n))
        return table[key]

    alphabet = "abc"[:n_letters]
    initial = tuple(int(rng.integers(n)) for n in sizes)
    return TableCascade(alphabet, sizes, act, initial)


def _check(c: TableCascade, rng: np.random.Generator) -> None:
    states = c.reachable()
    acc = {x: bool(rng.integers(2)) for x in states}
    dfa = c.as_dfa(lambda x: acc[x])
    m = cascade_construction(c, dfa, minimize=False)
    assert m.depth == 2 * c.n_levels - 1
    assert m.form == "cascade" and m.exact_in_floats
    # the exact proof over every reachable joint state
    cert = verify(m, dfa, minimize=False)
    assert cert.ok, cert
    # every factor a GH matrix with eigenvalue in {-1, 0, 1}, integer keys, beta 1
    for layer in m.layers:
        for row in layer.steps:
            for s in row:
                assert s.is_identity or (s.beta == 1 and s.eigenvalue in (-1, 0))
                assert all(x in (-1, 0, 1) for x in s.key)
    # the covering map through the top layer's state_map, and bfloat16 runs
    words = rng.integers(len(c.alphabet), size=(8, 30))
    tr = m.evaluate_float(words, "bfloat16")
    want = dfa.run(words)
    assert (tr.dfa_states == want.states).all()
    assert (tr.accepted[:, -1] == want.accepted).all()
    p = _check_packed(c, dfa, m)
    if p.exact_in_floats:
        assert (p.evaluate_float(words, "bfloat16").dfa_states == want.states).all()


def _check_packed(c, dfa, m):
    """The packed form (Theorem 4's d = 1) of the same cascade: the same layers, widths and
    factors, one value column everywhere, proved exactly; in bfloat16 when it is proved
    exact there."""
    p = cascade_construction(c, dfa, minimize=False, packed=True)
    assert all(layer.value_dim == 1 for layer in p.layers)
    assert [x.width for x in p.layers] == [x.width for x in m.layers]
    assert [x.n_h for x in p.layers] == [x.n_h for x in m.layers]
    for a, b in zip(p.layers, m.layers):      # the same keys and betas, token by token
        assert [[(s.key, s.beta) for s in row] for row in a.steps] == \
               [[(s.key, s.beta) for s in row] for row in b.steps]
    cert = verify(p, dfa, minimize=False)
    assert cert.ok, cert
    codes = [int(x[0]) for layer in p.layers for x in layer.readout.codes]
    assert min(codes) >= 0
    if max(codes) <= 256:        # every number an integer bfloat16 holds
        assert p.exact_in_floats
    return p


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_letters=st.integers(1, 3),
       sizes=st.lists(st.integers(1, 4), min_size=1, max_size=3))
def test_random_cascades_are_proved(seed, n_letters, sizes):
    rng = np.random.default_rng(seed)
    _check(random_cascade(rng, n_letters=n_letters, sizes=tuple(sizes)), rng)


def test_reset_heavy_four_levels():
    rng = np.random.default_rng(7)
    _check(random_cascade(rng, n_letters=3, sizes=(2, 3, 2, 3), p_reset=0.6), rng)


def test_flip_flop_one_layer():
    # s sets, r resets, n does nothing: a pure reset component, one layer, no registers
    ff = TableCascade("srn", (2,), lambda l, a, low: [(1, 1), (0, 0), (0, 1)][a], (0,))
    dfa = ff.as_dfa(lambda x: x[0] == 1)
    m = cascade_construction(ff, dfa, minimize=False)
    assert (m.depth, m.width, m.n_h) == (1, 2, 2)
    assert verify(m, dfa, minimize=False).ok
    assert m.A("s") == m.A("r") and not any(m.A("s"))  # A = 0: two projections
    assert m.B("s").tolist() == [[0], [1]] and m.B("r").tolist() == [[1], [0]]


def test_timing_needs_the_state_before_the_update():
    # level 1 flips on 'a' only if level 0 WAS set before this letter: 's a' flips once,
    # but 'a' after a reset-to-set in the same step must not see the new value
    def act(level, letter, lower):
        if level == 0:
            return [(1, 1), (0, 0), (0, 1)][letter]        # s, r, a
        return (1, 0) if letter == 2 and lower[0] == 1 else (0, 1)

    c = TableCascade("sra", (2, 2), act, (0, 0))
    dfa = c.as_dfa(lambda x: x[1] == 1)
    m = cascade_construction(c, dfa, minimize=False)
    assert verify(m, dfa, minimize=False).ok
    assert [m.accepts(w) for w in ("sa", "a", "saa", "sra", "ssa")] == \
        [True, False, False, False, True]


def test_bad_level_map_is_refused():
    c = TableCascade("a", (3,), lambda l, a, low: (0, 0, 1), (0,))
    dfa = TableCascade("a", (1,), lambda l, a, low: (0,), (0,)).as_dfa(lambda x: True)
    with pytest.raises(CascadeError, match="neither a permutation nor a constant"):
        cascade_construction(c, dfa, minimize=False)


def test_alphabet_and_type_errors():
    c = TableCascade("ab", (2,), lambda l, a, low: (1, 0), (0,))
    dfa = TableCascade("a", (2,), lambda l, a, low: (1, 0), (0,)).as_dfa(lambda x: x[0] == 1)
    with pytest.raises(CascadeError, match="alphabet"):
        cascade_construction(c, dfa, minimize=False)
    with pytest.raises(InputTypeError, match="dfa"):
        cascade_construction(c, None)


def test_level_too_wide_for_bfloat16_registers():
    n = MAX_LEVEL_STATES + 1
    cyc = tuple((i + 1) % n for i in range(n))
    c = TableCascade("a", (n,), lambda l, a, low: cyc, (0,))
    dfa = TableCascade("a", (1,), lambda l, a, low: (0,), (0,)).as_dfa(lambda x: True)
    with pytest.raises(CascadeError, match="bfloat16"):
        cascade_construction(c, dfa, minimize=False)


def test_uncovered_state_is_refused():
    class Broken(TableCascade):
        def cover(self, state):
            return None if state == (1,) else 0

    c = Broken("a", (2,), lambda l, a, low: (1, 0), (0,))
    with pytest.raises(CascadeError, match="covers no DFA state"):
        cascade_construction(c, c.as_dfa(lambda x: True), minimize=False)


def test_classify_map():
    assert classify_map(()) == "identity"
    assert classify_map((1, 0)) == "permutation"
    assert classify_map((2, 2, 2)) == "constant"
    assert classify_map((0, 2, 2)) == "other"


@settings(max_examples=200, deadline=None)
@given(perm=st.permutations(list(range(7))), live=st.sets(st.integers(0, 6)))
def test_needed_permutation_agrees_where_it_must_and_costs_no_more(perm, live):
    from statetrack.constructions.cascade import _needed_permutation
    from statetrack.constructions.group import transposition_count

    f = tuple(perm)
    g = _needed_permutation(f, sorted(live))
    assert sorted(g) == list(range(7))
    assert all(g[x] == f[x] for x in live)
    assert transposition_count(g) <= transposition_count(f)
    assert transposition_count(g) <= len(live)


NON_GROUP = ["at_least(3)", "aa_star", "counter_reset(3)", "binary_divisible(6)", "flip_flop",
             "flip_flop_language", "even_pairs", "modular_arithmetic(5)", "dyck(2)",
             "dyck(3, 2)", "ab_star", "first_symbol", "last_symbol", "grid_world(5)",
             "contains(abb)", "no_run(2)", "tomita(3)"]


@pytest.mark.parametrize("spec", NON_GROUP)
def test_catalogue_non_group_languages_compile_and_are_proved(spec):
    from statetrack.automata import classify, families, holonomy_decomposition

    dfa = families.get(spec)
    assert classify(dfa).kind != "group"
    d = dfa.minimize()
    casc = holonomy_decomposition(d)
    m = cascade_construction(casc, d)
    cert = verify(m, dfa)            # against the minimal DFA: state_map checked too
    assert cert.ok, cert
    assert m.depth == 2 * len(casc.levels) - 1
    rng = np.random.default_rng(0)
    words = rng.integers(len(d.alphabet), size=(4, 50))
    assert (m.evaluate_float(words, "bfloat16").dfa_states == d.run(words).states).all()
    # Theorem 4's d = 1: the packed stack, proved, exact in every format on the catalogue
    p = cascade_construction(casc, d, packed=True)
    assert max(layer.value_dim for layer in p.layers) == 1 and p.exact_in_floats
    assert verify(p, dfa).ok
    assert (p.evaluate_float(words, "bfloat16").dfa_states == d.run(words).states).all()


@settings(max_examples=300, deadline=None)
@given(groups=st.lists(st.tuples(st.integers(0, 6), st.integers(0, 9)), max_size=40))
def test_pack_keeps_codes_distinct_with_least_registers(groups):
    """``_pack``: the codes ``r(key) + x`` of distinct outputs are distinct, every register
    is a non-negative integer, and each is the least that was free when its key was placed
    (so no register could be lowered without a collision among the keys placed before)."""
    from statetrack.constructions.cascade import _pack

    outs = list(dict.fromkeys(groups))                 # distinct (key, x) outputs
    r = _pack(outs)
    codes = [r[k] + x for k, x in outs]
    assert len(set(codes)) == len(codes) and all(v >= 0 for v in r.values())
    by_key: dict = {}
    for k, x in outs:
        by_key.setdefault(k, set()).add(x)
    for k, xs in by_key.items():
        others = {r[j] + x for j, ys in by_key.items() if j != k for x in ys}
        if r[k] > 0:       # one lower was taken by some key: a collision below r[k]
            assert any(not {r0 + x for x in xs}.isdisjoint(others) for r0 in range(r[k]))


def test_from_regex_examples():
    from statetrack.automata import from_regex, holonomy_decomposition

    for rx in ("(a|b)*abb", "(ab)*"):
        d = from_regex(rx).minimize()
        m = cascade_construction(holonomy_decomposition(d), d)
        assert verify(m, from_regex(rx)).ok


@settings(max_examples=200, deadline=None)
@given(dfa=dfas(
    max_states=8, max_alphabet_size=3, complete=False))
def test_random_dfas_compile_to_a_proved_stack(dfa):
    """Issue 9's property: any DFA (up to 8 states, 3 letters, partial ones completed) is
    compiled by the default form (Theorem 3 for groups, Theorem 4's cascade otherwise) and
    proved exactly against its minimal DFA; the stack also agrees in bfloat16."""
    from statetrack.constructions.compile import compile

    m = compile(dfa)
    cert = verify(m, dfa)
    assert cert.ok, cert
    rng = np.random.default_rng(len(dfa.alphabet) * 100 + dfa.n_states)
    d = dfa.minimize()
    words = rng.integers(len(d.alphabet), size=(3, 40))
    assert (m.evaluate_float(words, "bfloat16").dfa_states == d.run(words).states).all()


@pytest.mark.parametrize("accept", [True, False])
def test_one_state_languages_have_a_one_layer_cascade(accept):
    from statetrack.automata import DFA
    from statetrack.constructions.cascade import compile_cascade

    d = DFA([[0, 0]], start=0, accepting=[0] if accept else [], alphabet="ab")
    m = compile_cascade(d)
    assert (m.form, m.depth, m.width, m.n_h) == ("cascade", 1, 1, 0)
    assert verify(m, d).ok and m.accepts("abba") == accept and m.accepts("") == accept


def test_bad_cascade_arguments_are_refused_clearly():
    from statetrack.automata import from_regex, holonomy_decomposition

    abb = from_regex("(a|b)*abb").minimize()
    with pytest.raises(InputTypeError, match="'cascade' must be a cascade"):
        cascade_construction(None, abb)
    casc = holonomy_decomposition(abb)
    with pytest.raises(InputTypeError, match="'limit' must be a positive integer"):
        cascade_construction(casc, abb, limit="x")
    with pytest.raises(CascadeError, match="does not cover this DFA"):
        cascade_construction(casc, from_regex("(a|b)*bb"))


def _assert_split_simulates(casc, split, seed, n_words, length, n_letters):
    """Along random words the split state decodes to the original cascade's state, step by
    step, and covers the same DFA state."""
    rng = np.random.default_rng(seed)
    for _ in range(n_words):
        x, y = tuple(casc.initial), split.initial
        for a in rng.integers(n_letters, size=length).tolist():
            x = tuple(casc.action(l, a, x[:l])[x[l]] for l in range(len(x)))
            y = split.step(y, a)
            assert split._join(y, len(x)) == x and split.cover(y) == casc.cover(x)


@settings(max_examples=80, deadline=None)
@given(dfa=dfas(max_states=7, max_alphabet_size=3))
def test_a_layer_per_component_simulates_the_holonomy_cascade(dfa):
    """ComponentCascade (a level per holonomy component): its stack is proved against the
    DFA in both register forms, no layer is wider than the per-level stack's widest, and
    every split state decodes to the original cascade's state along any word."""
    from statetrack.automata import holonomy_decomposition
    from statetrack.constructions.cascade import ComponentCascade

    d = dfa.minimize()
    casc = holonomy_decomposition(d)
    # max_width=1: every component whose group preserves a partition of its tiles is split
    # (as far as single merges narrow it: the chain code exercised)
    split = ComponentCascade(casc, len(d.alphabet), max_width=1)
    degrees = [c.degree for lv in casc.levels for c in lv.components]
    assert len(degrees) <= split.n_levels <= sum(degrees)
    assert max(split.sizes, default=0) <= max(degrees, default=0)
    assert ComponentCascade(casc, len(d.alphabet)).sizes == tuple(degrees)
    per_level = cascade_construction(casc, d, minimize=False)
    for packed in (False, True):
        m = cascade_construction(split, d, minimize=False, packed=packed)
        assert verify(m, d, minimize=False).ok
        assert m.width <= max(per_level.width, 1)
    _assert_split_simulates(casc, split, d.n_states, 1, 40, len(d.alphabet))


def test_component_split_needs_components_decided_below():
    from statetrack.automata import families, holonomy_decomposition
    from statetrack.constructions.cascade import ComponentCascade, compile_cascade

    c = TableCascade("a", (3,), lambda l, a, low: (1, 2, 0), (0,))
    with pytest.raises(CascadeError, match="list their components"):
        ComponentCascade(c, 1)
    from statetrack.automata import DFA

    stale = DFA([[1, 2, 1], [3, 2, 4], [0, 0, 1], [1, 2, 0], [5, 5, 2], [2, 0, 1]], start=0,
                accepting=[0], alphabet="abc").minimize()
    ident = holonomy_decomposition(stale, dont_care="identity")  # stale don't-care coordinates
    with pytest.raises(CascadeError, match="slots of two components under the same lower"):
        ComponentCascade(ident, len(stale.alphabet))
    d = families.get("tomita(3)").minimize()
    with pytest.raises(InputTypeError, match="compile_cascade: per_component"):
        compile_cascade(d, per_component="yes")
    m = compile_cascade(d, per_component=True, packed=True)
    assert verify(m, d).ok and m.depth == 11 and m.width == 3


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "3"])
def test_component_split_max_width_is_checked(bad):
    from statetrack.automata import families, holonomy_decomposition
    from statetrack.constructions.cascade import ComponentCascade

    d = families.get("aa_star").minimize()
    with pytest.raises(InputTypeError, match="max_width must be a positive integer or None"):
        ComponentCascade(holonomy_decomposition(d), len(d.alphabet), max_width=bad)
    with pytest.raises(InputTypeError, match="max_group must be a positive integer"):
        ComponentCascade(holonomy_decomposition(d), len(d.alphabet), max_group=bad)
    with pytest.raises(InputTypeError, match="n_letters must be a positive integer"):
        ComponentCascade(holonomy_decomposition(d), bad)
    with pytest.raises(InputTypeError, match="n_letters is 3, but the cascade's alphabet "
                                             "has 2 letters"):
        ComponentCascade(holonomy_decomposition(d), 3)
    # aa_star's (3,C2) has two orbits ({0, 1} and {2}) but fits |Q| = 3: not split at
    # max_width=|Q|; at 2 its orbit split (levels 2, 2, the second under a register row:
    # 3 wide) is no narrower than the whole (3), so it stays whole
    casc = holonomy_decomposition(d)
    assert ComponentCascade(casc, len(d.alphabet), max_width=3).sizes == (3,)
    assert ComponentCascade(casc, len(d.alphabet), max_width=2).sizes == (3,)


def test_component_split_unreachable_context_is_a_map_not_a_key_error():
    """action() under a split context whose lower levels decode to an unreachable prefix of
    the original cascade (each shorter prefix reachable, the whole one not) is the identity,
    as documented; it raised KeyError from the slot table."""
    import itertools

    from statetrack.automata import DFA, holonomy_decomposition
    from statetrack.constructions.cascade import ComponentCascade

    d = DFA([[2, 0, 1], [1, 2, 0], [0, 2, 1]], start=0, accepting=[1, 2],
            alphabet="abc").minimize()
    casc = holonomy_decomposition(d)
    split = ComponentCascade(casc, len(d.alphabet))
    assert split.sizes == (3, 2, 2)
    # (0, 1): level 0 at tile 0 is reachable, level 1 at tile 1 under it is not
    assert all(y[:2] != (0, 1) for y in CascadeStack.explore(split, 3).states)
    assert split._join((0, 1), 2) is None
    assert split.action(2, 0, (0, 1)) == (0, 1)
    for level, size in enumerate(split.sizes):
        for lower in itertools.product(*(range(n) for n in split.sizes[:level])):
            for a in range(len(d.alphabet)):
                f = split.action(level, a, lower)
                assert len(f) == size and classify_map(f) != "other"


def _is_coarser(fine, coarse):
    return all(coarse[x] == coarse[y] for x in range(len(fine)) for y in range(len(fine))
               if fine[x] == fine[y])


@settings(max_examples=120, deadline=None)
@given(n=st.integers(1, 12), data=st.data())
def test_partition_chain_is_preserved_and_names_every_point(n, data):
    """_partition_chain: from the points to one class, each partition strictly coarser than
    the one before and mapped onto itself by every generator; the coordinates name each
    point once, and a level's width is the most classes inside a class."""
    from statetrack.constructions.cascade import _chain_coords, _partition_chain, _step_width

    gens = data.draw(st.lists(st.permutations(range(n)).map(tuple), max_size=3))
    limit = data.draw(st.integers(0, n + 1))
    chain = _partition_chain(n, gens, limit)
    assert chain[0] == tuple(range(n)) and chain[-1] == (0,) * n
    for fine, coarse in zip(chain, chain[1:]):
        assert _is_coarser(fine, coarse)
        assert len(set(coarse)) < len(set(fine)) or n == 1     # one point: one level
    for p in chain:
        for s in gens:
            image = {}
            for t in range(n):                 # class of t -> class of s(t), one-valued
                assert image.setdefault(p[t], p[s[t]]) == p[s[t]]
    coords = _chain_coords(chain)
    assert len(set(coords)) == n and all(len(c) == len(chain) - 1 for c in coords)
    widths = [1 + max(c[i] for c in coords) for i in range(len(chain) - 1)]
    assert widths == [_step_width(f, c) for f, c in zip(chain[-2::-1], chain[:0:-1])]
    if not gens and limit >= 2:                # every partition is preserved: all fit
        assert max(widths) <= limit


def test_partition_chain_follows_blocks_and_stops_at_primitive_groups():
    from itertools import combinations

    from statetrack.constructions.cascade import _partition_chain, _step_width

    def widths(chain):
        return [_step_width(f, c) for f, c in zip(chain, chain[1:])]

    c10 = tuple((t + 1) % 10 for t in range(10))
    assert widths(_partition_chain(10, [c10], 7)) == [5, 2]
    assert widths(_partition_chain(10, [c10], 10)) == [10]      # fits: not split
    assert sorted(widths(_partition_chain(10, [c10], 2))) == [2, 5]   # C5 is primitive
    # S5 on the ten 2-subsets of five points: primitive, no partition to split along
    pairs = list(combinations(range(5), 2))
    idx = {p: i for i, p in enumerate(pairs)}

    def on_pairs(perm):
        return tuple(idx[tuple(sorted((perm[a], perm[b])))] for a, b in pairs)

    s5 = [on_pairs((1, 2, 3, 4, 0)), on_pairs((1, 0, 2, 3, 4))]
    assert widths(_partition_chain(10, s5, 7)) == [10]
    # two orbits of five (C5 on each): orbit, then the place in it
    two = tuple((t + 1) % 5 + 5 * (t // 5) for t in range(10))
    assert widths(_partition_chain(10, [two], 7)) == [5, 2]


def test_a_lifted_component_simulates_its_tiles():
    """(10,S5) on 5 states runs as S5 acting on itself (a tile read off an element): along
    random words the split state decodes to the original cascade's state, and the stack of
    the lifted cascade is proved against the DFA in both register forms."""
    from statetrack.automata import DFA, holonomy_decomposition
    from statetrack.constructions.cascade import ComponentCascade

    cyc, swap = [1, 2, 3, 4, 0], [1, 0, 2, 3, 4]
    d = DFA([[cyc[q], swap[q], q % 2] for q in range(5)], start=0, accepting=[0],
            alphabet="abc").minimize()
    casc = holonomy_decomposition(d)
    split = ComponentCascade(casc, len(d.alphabet), max_width=d.n_states)
    assert split.lifted == [0] and max(split.sizes) <= 5
    _assert_split_simulates(casc, split, 5, 20, 30, 3)
    for packed in (False, True):
        m = cascade_construction(split, d, minimize=False, packed=packed)
        assert verify(m, d, minimize=False).ok and m.width <= 5
    # a context where the component is left alone (the identity, which is not one of the
    # group's generators) keeps every element (CI's hypothesis run found a KeyError-like
    # CascadeError here)
    n_points = len(split._coord[0])
    ident = tuple(range(casc.levels[0].components[0].degree))
    assert [split._moved(0, ident, y) for y in range(n_points)] == list(range(n_points))


def test_partition_chain_of_a_trivial_group_is_the_shortest_radix_chain():
    """A trivial group keeps every partition: the chain is the points' digits (linear a
    level, where the greedy search was cubic: 63 s at 300 points), every step within its
    limit and no chain shorter (top_limit * limit^(L-1) >= n needs L steps)."""
    from statetrack.constructions.cascade import _partition_chain, _step_width

    for n in range(2, 40):
        for limit in range(2, 7):
            for top_limit in (limit, limit + 1):
                for gens in ([], [tuple(range(n))]):          # none, or the identity
                    chain = _partition_chain(n, gens, limit, top_limit)
                    assert chain[0] == tuple(range(n)) and chain[-1] == (0,) * n
                    w = [_step_width(f, c) for f, c in zip(chain, chain[1:])]
                    assert max(w[:-1] + [0]) <= limit and w[-1] <= top_limit
                    least = 1
                    while top_limit * limit ** (least - 1) < n:
                        least += 1
                    assert len(w) == least, (n, limit, top_limit, w)     # (n <= 6: listed)
                    for fine, coarse in zip(chain, chain[1:]):
                        assert _is_coarser(fine, coarse) and len(set(coarse)) < len(set(fine))
    big = _partition_chain(300, [], 6, 7)          # seconds before, now instant
    assert [len(set(p)) for p in big] == [300, 50, 9, 2, 1]


def test_a_lift_tracks_the_complement_where_it_is_smaller():
    """(15,S6) on the 4-subsets of six states (a random DFA of helper-42's fuzz, where the
    component stayed 15 wide): the two atoms outside the leader tile are tracked, 30
    points and levels 6, 5 (the four inside would give 360 points and levels 6, 5, 4, 3);
    the split simulates the cascade and its stack is proved."""
    from statetrack.automata import DFA, holonomy_decomposition
    from statetrack.constructions.cascade import ComponentCascade

    d = DFA([[2, 2, 1], [0, 1, 5], [3, 5, 4], [4, 0, 5], [5, 3, 5], [1, 4, 0]], start=0,
            accepting=[1, 2, 3], alphabet="abc").minimize()
    casc = holonomy_decomposition(d)
    assert str(casc).splitlines()[0] == "1: (15,S6)"
    assert all(len(t) == 4 for t in casc.levels[0].components[0].tiles)
    split = ComponentCascade(casc, 3, max_width=d.n_states)
    assert split.lifted == [0] and split.sizes[:2] == (6, 5) and len(split._coord[0]) == 30
    _assert_split_simulates(casc, split, 11, 10, 30, 3)
    m = cascade_construction(split, d, minimize=False, packed=False)
    assert verify(m, d, minimize=False).ok and m.width <= d.n_states


def test_a_lifted_component_tracks_the_atoms_outside_a_big_tile():
    """S6 on the fifteen 4-subsets of six states and S7 on the twenty-one 5-subsets of
    seven (tiles of more atoms than are left outside them) lift to the ordered pairs of
    states *outside* a tile (30 and 42 points, levels n and n - 1), not to the ordered
    4- and 5-tuples inside (360 points; 2520, over max_group, which left (21,S7) 21 wide
    and thm4 failing before the complement): every generator moves a point to one that
    tells the moved tile, the split state decodes to the original cascade's state along
    random words, and the 6-state stack is proved in both forms."""
    from statetrack.automata import DFA, holonomy_decomposition
    from statetrack.constructions.cascade import ComponentCascade

    for n in (6, 7):
        cyc, swap = [(q + 1) % n for q in range(n)], [1, 0] + list(range(2, n))
        rank = [min(q, n - 3) for q in range(n)]        # image of n - 2 states
        d = DFA([[cyc[q], swap[q], rank[q]] for q in range(n)], start=0, accepting=[0],
                alphabet="abc").minimize()
        casc = holonomy_decomposition(d)
        tiles = casc.levels[0].components[0].tiles
        assert d.n_states == n and len(tiles) == n * (n - 1) // 2
        assert {len(t) for t in tiles} == {n - 2}
        split = ComponentCascade(casc, len(d.alphabet), max_width=n)
        assert split.lifted == [0] and split.sizes[:2] == (n, n - 1)
        assert len(split._coord[0]) == n * (n - 1)      # ordered pairs outside a tile
        assert max(split.sizes) <= n
        _, keys, conv = split._group[0]
        tile_of_point = [split._tile[0][c] for c in split._coord[0]]
        for h in conv:
            for y in range(len(keys)):
                assert tile_of_point[split._moved(0, h, y)] == h[tile_of_point[y]]
        _assert_split_simulates(casc, split, n, 10, 40, 3)
        if n == 6:
            for packed in (False, True):
                m = cascade_construction(split, d, minimize=False, packed=packed)
                assert verify(m, d, minimize=False).ok and m.width <= n


def test_compile_default_cascade_is_the_wider_variant_and_the_theorem_form_fits_q():
    """What README and compile's docstring say: the default cascade of (a|b)*a(a|b){3}
    (16 states) has a layer wider than |Q|, the theorem's form (a layer per component,
    packed registers) keeps every layer within |Q| with d = 1, and both are proved."""
    from statetrack.automata import from_regex
    from statetrack.constructions import compile, compile_cascade
    from statetrack.theory import verify

    d = from_regex("(a|b)*a(a|b){3}")
    q = d.minimize().n_states
    m = compile(d)
    p = compile_cascade(d, per_component=True, packed=True)
    assert q == 16 and m.form == p.form == "cascade"
    assert m.width == 17 > q and max(layer.value_dim for layer in m.layers) > 1
    assert max(layer.width for layer in p.layers) <= q
    assert {layer.value_dim for layer in p.layers} == {1}
    assert verify(m, d).ok and verify(p, d).ok
