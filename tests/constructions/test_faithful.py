"""The faithful form: small faithful permutation actions, exact proofs, exact bf16 runs."""

from __future__ import annotations

import time

import numpy as np
import pytest
import sympy
from hypothesis import given, settings
from sympy.combinatorics import Permutation, PermutationGroup

from statetrack.automata import DFA
from statetrack.automata.errors import MonoidLimitError
from statetrack.automata.families import get, names
from statetrack.automata.strategies import permutation_dfas
from statetrack.constructions import io as cio
from statetrack.constructions.compile import FORMS, compile
from statetrack.constructions.errors import (
    FormError,
    InputTypeError,
    MissingGeneratorError,
    NotAGroupError,
)
from statetrack.constructions.floats import round_to_dtype
from statetrack.constructions.faithful import (
    block_system,
    faithful_action,
    faithful_construction,
    minimal_degree_lower_bound,
)
from statetrack.constructions.group import is_group_dfa, letter_permutations, readout_codes
from statetrack.theory.proof import Certificate, check_words, loads_verified, verify

#: spec -> the minimal faithful degree mu(G) (S_n, A_n: n; D_m: the sum of the prime powers of
#: m, except that a 2-part 2 (m = 2 mod 4) adds 2 beside the odd part's sum (D_6 = S_3 x Z_2
#: on 3 + 2); Q_8 only regularly; Z_m: the sum of the prime powers of m).
EXPECTED_WIDTH = {
    "symmetric(3)": 3, "symmetric(4)": 4, "symmetric(5)": 5, "symmetric(6)": 6,
    "symmetric(5, generators=star)": 5, "symmetric(5, generators=adjacent)": 5,
    "symmetric(5, generators=pair)": 5,
    "alternating(4)": 4, "alternating(5)": 5,
    "dihedral(4)": 4, "dihedral(5)": 5, "dihedral(6)": 5, "dihedral(8)": 8,
    "dihedral(12)": 7,
    "quaternion": 8,
    "cyclic(2)": 2, "cyclic(6)": 5, "cyclic(12)": 7, "cyclic(30)": 10, "parity": 2,
}


def _group_order(dfa: DFA) -> int:
    p = letter_permutations(dfa.minimize())
    return int(PermutationGroup([Permutation([int(x) for x in r]) for r in p]).order())


def _perm_dfa(perms) -> DFA:
    letters = "abcdefgh"[:len(perms)]
    return DFA.from_function(0, letters, lambda q, a: perms[letters.index(a)][q],
                             lambda q: q == 0)


def _check_model(dfa: DFA, m) -> None:
    """Shape, matrices and proof of a faithful model (exact)."""
    d = dfa.minimize()
    order = _group_order(d)
    layer = m.layers[0]
    w = m.width
    assert m.form == "faithful" and m.depth == 1 and m.exact_in_floats
    v = layer.value_dim
    assert 1 <= v <= w and layer.readout.dim == w
    n_cls = layer.readout.n_classes
    assert len(m.state_map) == n_cls and order % n_cls == 0  # |G : T|
    assert set(m.state_map) == set(range(d.n_states))       # every state is read out
    assert w <= d.n_states  # never wider than Theorem 3's form
    assert w <= compile(d).width
    s0 = sympy.Matrix(layer.initial_state)
    assert s0.shape == (w, v) and all(sum(s0.col(j)) == 1 for j in range(v))
    assert list(layer.readout.query) == readout_codes(w)
    assert m.n_h <= max(w - 1, 0)
    gens = []
    for a in range(layer.n_tokens):  # A(a) is a permutation matrix, B(a) = 0
        mat = sympy.Matrix(layer.A(a))
        assert all(x in (0, 1) for x in mat) and all(sum(mat.row(i)) == 1 for i in range(w))
        assert all(sum(mat.col(j)) == 1 for j in range(w))
        gens.append(Permutation([list(mat.col(j)).index(1) for j in range(w)]))
        assert not any(layer.B(a))
        for s in layer.steps[a]:
            if not s.is_identity:
                assert s.is_integer_form and s.beta == 1 and s.eigenvalue == -1
    # the action on the m points is faithful: the letters generate a group of order |G|
    assert PermutationGroup(gens).order() == order
    cert = verify(m, dfa)
    assert isinstance(cert, Certificate) and cert.ok, cert
    assert cert.reachable == n_cls  # one model state per image of the base


@pytest.mark.parametrize("spec", sorted(EXPECTED_WIDTH))
def test_catalogue_groups_get_small_faithful_widths(spec):
    dfa = get(spec)
    m = compile(dfa, form="faithful")
    _check_model(dfa, m)
    assert m.width == EXPECTED_WIDTH[spec], (spec, m.width)
    words = np.random.default_rng(7).integers(0, dfa.n_symbols, size=(6, 40))
    ft = m.evaluate_float(words, "bfloat16")
    assert (ft.dfa_states == dfa.minimize().run(list(words)).states).all()


def test_word_problems_shrink_from_group_order_to_degree():
    """S_5: K = 120 and n_h = 60 in Theorem 3's form, K = 5 and n_h = 1 here; the readout
    reads a base of 4 points (one class per element)."""
    d = get("symmetric(5)")
    p, f = compile(d), compile(d, form="faithful")
    assert (p.width, p.n_h) == (120, 60)
    assert (f.width, f.n_h, f.layers[0].value_dim, f.layers[0].readout.n_classes) == (5, 1, 4,
                                                                                      120)


@pytest.mark.parametrize("name", names())
def test_every_catalogue_group_language_verifies(name):
    dfa = get(name)
    if not is_group_dfa(dfa):
        return
    m = compile(dfa, form="faithful")
    _check_model(dfa, m)
    wc = check_words(m, dfa, max_length=3, n_random=8, random_length=64,
                     rng=np.random.default_rng(0), dtype="bfloat16")
    assert wc.ok and wc.mismatches == 0


def test_catalogue_contains_group_languages():
    assert sum(is_group_dfa(get(n)) for n in names()) >= 5


@settings(max_examples=40, deadline=None)
@given(permutation_dfas(max_states=8, max_alphabet_size=3))
def test_random_permutation_automata(dfa):
    """Up to 8 states (groups up to S_8, 40,320 elements: never listed)."""
    m = faithful_construction(dfa, rng=np.random.default_rng(1))
    _check_model(dfa, m)
    act = faithful_action(dfa, np.random.default_rng(1))
    assert act.lower_bound <= act.m == m.width
    d = dfa.minimize()
    words = np.random.default_rng(2).integers(0, dfa.n_symbols, size=(8, 30))
    ft = m.evaluate_float(words, "bfloat16")
    assert (ft.dfa_states == d.run(list(words)).states).all()


def test_readout_code_is_the_query_read_at_the_base_images():
    """o = S^T q with S the product of the letters' matrices times S_0; its class is q_0 . g."""
    d = get("dihedral(5)").minimize()
    m = compile(d, form="faithful")
    q = sympy.Matrix(list(m.layers[0].readout.query))
    rng = np.random.default_rng(3)
    for _ in range(10):
        word = [d.alphabet[i] for i in rng.integers(0, d.n_symbols, size=int(rng.integers(0, 9)))]
        s = sympy.Matrix(m.layers[0].initial_state)
        for a in word:
            s = sympy.Matrix(m.A(a)) * s
        c = m.layers[0].readout.codes.index(tuple(s.T * q))
        assert m.state_map[c] == d.run([word]).states[0, -1]
        assert m.accepts(word) == d.accepts(word)


def test_deterministic_given_the_generator():
    d = get("alternating(5)")
    a = faithful_construction(d, rng=np.random.default_rng(4))
    b = faithful_construction(d, rng=np.random.default_rng(4))
    assert a == b


def test_construction_file_round_trip():
    d = get("symmetric(4)")
    m = compile(d, form="faithful")
    text = cio.dumps(m, dfa=d.minimize(), certificate=verify(m, d))
    c = loads_verified(text)
    assert c.lrnn == m and c.lrnn.form == "faithful" and c.certificate.ok


def test_large_width_query_is_bf16_exact_above_256():
    """Z_263 (263 is prime) needs all its 263 points: the query then has codes above 256, all
    bfloat16 numbers, and float32 runs decode exactly."""
    d = get("cyclic(263)")
    m = compile(d, form="faithful")
    query = np.array([float(x) for x in m.layers[0].readout.query])
    assert m.width == 263 and query.max() > 256
    assert (round_to_dtype(query, "bfloat16") == query).all()
    words = np.random.default_rng(5).integers(0, d.n_symbols, size=(3, 20))
    ft = m.evaluate_float(words, "float32")
    assert (ft.dfa_states == d.minimize().run(list(words)).states).all()


def test_errors():
    assert "faithful" in FORMS
    with pytest.raises(NotAGroupError, match="not a permutation"):
        compile(DFA([[1, 0], [1, 1]], accepting=[1], alphabet="ab"), form="faithful")
    with pytest.raises(FormError, match="no normalized variant"):
        compile(get("parity"), form="faithful", normalized=True)
    with pytest.raises(InputTypeError, match="must be a statetrack DFA"):
        faithful_construction("parity")  # type: ignore[arg-type]
    with pytest.raises(MissingGeneratorError, match="numpy.random.Generator"):
        faithful_construction(get("parity"), rng=0)  # type: ignore[arg-type]


def test_one_state_and_non_minimal_dfas():
    for acc in ([], [0]):
        d = DFA([[0, 0]], accepting=acc, alphabet="ab")
        m = compile(d, form="faithful")
        assert m.width == 1 and m.n_h == 0 and verify(m, d).ok
        assert m.accepts("abba") == bool(acc)
    # parity with a duplicated odd state: the model refers to the minimal DFA (2 states)
    d = DFA([[0, 1], [1, 2], [2, 3], [3, 0]], accepting=[1, 3], alphabet="ab")
    m = compile(d, form="faithful")
    assert m.width == 2 and verify(m, d).ok and set(m.state_map) == {0, 1}


def test_exports_run_in_the_numpy_reference_recurrence():
    """S_5 exports with K = 5, V = 4, n_h = 1 (Theorem 3: K = 120, n_h = 60) and decodes to
    the DFA's states."""
    from statetrack.constructions.export import decode_outputs, export_tensors, run_numpy

    d = get("symmetric(5)")
    m = compile(d, form="faithful")
    idx = np.random.default_rng(0).integers(0, d.n_symbols, size=(4, 30))
    words = [[d.alphabet[i] for i in row] for row in idx]
    for dtype in ("float32", "float16"):  # numpy has no bfloat16 (evaluate_float covers it)
        t = export_tensors(m, words, dtype=dtype, backend="numpy")
        assert t["k"].shape == (4, 30, 1, 5) and t["initial_state"].shape == (4, 1, 5, 4)
        dec = decode_outputs(m, run_numpy(t), lengths=t["lengths"])
        assert (np.asarray(dec["dfa_states"]) == d.minimize().run(list(idx)).states[:, 1:]).all()


# ------------------------------------------------------------------ issue 13: widths, speed


def _brute_force_mu(dfa: DFA) -> int:
    """mu(G) by listing every subgroup (small groups only): the least sum of indices of
    subgroups whose cores intersect trivially (a shortest path over intersections of cores)."""
    p = letter_permutations(dfa.minimize())
    g = PermutationGroup([Permutation([int(x) for x in r]) for r in p])
    els = list(g.generate())
    ident = els[0] ** 0
    subs = {frozenset([ident])}
    frontier = list(subs)
    cyclic = [frozenset(x ** k for k in range(x.order())) for x in els]
    while frontier:
        new = []
        for h in frontier:
            for c in cyclic:
                if c <= h:
                    continue
                gen = PermutationGroup(list(h | c))
                k = frozenset(gen.generate())
                if k not in subs:
                    subs.add(k)
                    new.append(k)
        frontier = new
    order = len(els)

    def core(h):
        out = set(h)
        for x in els:
            out &= {x ** -1 * y * x for y in h}
        return frozenset(out)

    cores = [(core(h), order // len(h)) for h in subs]
    dist = {frozenset(els): 0}
    todo = [frozenset(els)]
    while todo:
        todo.sort(key=lambda n: dist[n])
        n = todo.pop(0)
        for c, idx in cores:
            m = n & c
            if dist[n] + idx < dist.get(m, 10 ** 9):
                dist[m] = dist[n] + idx
                todo.append(m)
    return dist[frozenset([ident])]


@pytest.mark.parametrize("spec", ["cyclic(6)", "cyclic(12)", "dihedral(4)", "dihedral(6)",
                                  "quaternion", "alternating(4)", "symmetric(4)", "cyclic(8)",
                                  "cycle_navigation"])
def test_widths_are_the_brute_force_minimal_degree(spec):
    """Failed before for Z_6, Z_12, D_6 (transitive actions only: 6, 12, 6)."""
    d = get(spec)
    act = faithful_action(d, np.random.default_rng(0))
    mu = _brute_force_mu(d)
    assert act.lower_bound <= mu <= act.m
    assert act.m == mu == act.lower_bound


def test_catalogue_widths_are_proved_minimal():
    """Every group language of the catalogue (defaults) reaches its proven lower bound."""
    for name in names():
        d = get(name)
        if not is_group_dfa(d):
            continue
        act = faithful_action(d, np.random.default_rng(0))
        assert act.m == act.lower_bound, (name, act.m, act.lower_bound, act.pieces)


def test_lower_bounds():
    rng = np.random.default_rng(0)
    z = lambda n: np.array([list(range(1, n)) + [0]])      # noqa: E731
    assert [minimal_degree_lower_bound(z(n), rng) for n in (2, 4, 6, 12, 30, 7)] == \
        [2, 4, 5, 7, 10, 7]
    s = lambda n: np.array([[1, 0] + list(range(2, n)), list(range(1, n)) + [0]])  # noqa: E731
    assert [minimal_degree_lower_bound(s(n), rng) for n in (3, 4, 5, 8)] == [3, 4, 5, 8]
    assert block_system(z(12)[0:1], [0, 4]).max() + 1 == 4


def test_big_groups_compile_prove_and_run():
    """S_8 on 8 states (40,320 elements) failed before with MonoidLimitError; S_12 on 12
    states (479,001,600 elements) is compiled without listing it."""
    for n in (8, 12):
        d = _perm_dfa([[1, 0] + list(range(2, n)), list(range(1, n)) + [0]])
        t = time.perf_counter()
        m = compile(d, form="faithful")
        secs = time.perf_counter() - t
        assert secs < 20, secs          # before: minutes (the group was listed)
        act = faithful_action(d, np.random.default_rng(0))
        assert act.group_order == sympy.factorial(n) and act.m == act.lower_bound == n
        assert m.width == n and m.layers[0].value_dim == 1 and m.layers[0].readout.n_classes == n
        cert = verify(m, d)
        assert cert.ok and cert.reachable == n
        words = np.random.default_rng(n).integers(0, 2, size=(4, 50))
        ft = m.evaluate_float(words, "bfloat16")
        assert (ft.dfa_states == d.minimize().run(list(words)).states).all()


def test_random_7_state_automata_are_fast():
    """Before: about 5.5 minutes for one (S_7 was listed and searched)."""
    rng = np.random.default_rng(7)
    for _ in range(5):
        d = _perm_dfa([rng.permutation(7).tolist(), rng.permutation(7).tolist()])
        t = time.perf_counter()
        m = compile(d, form="faithful")
        assert time.perf_counter() - t < 20
        assert verify(m, d).ok


def test_intransitive_actions_and_relative_base():
    """Z_6 on 2 + 3 points; D_12 (24 elements) on 3 + 4; the base takes one point per piece."""
    act = faithful_action(get("cyclic(6)"), np.random.default_rng(0))
    assert sorted(act.pieces) == [2, 3] and len(act.base) == 2 and act.orbit.shape == (6, 2)
    m = compile(get("dihedral(12)"), form="faithful")
    assert m.width == 7
    _check_model(get("dihedral(12)"), m)


def test_readout_limit_is_a_clear_error():
    with pytest.raises(MonoidLimitError, match="limit=10"):
        faithful_construction(get("symmetric(4)"), limit=10)
