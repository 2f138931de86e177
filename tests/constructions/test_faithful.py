"""The faithful coset form: small permutation-matrix states, exact proofs, exact bf16 runs."""

from __future__ import annotations

import numpy as np
import pytest
import sympy
from hypothesis import given, settings

from statetrack.automata import DFA
from statetrack.automata.families import get, names
from statetrack.automata.monoid import transition_monoid
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
    GroupTables,
    coset_action,
    core_free_subgroup,
    faithful_construction,
)
from statetrack.constructions.group import is_group_dfa, readout_codes
from statetrack.theory.proof import Certificate, check_words, loads_verified, verify

#: spec -> the width the search must reach (the least faithful transitive degree, except
#: where noted: S_n and A_5 act on n points, D_m on the m vertices, Q_8 and cyclic groups
#: only regularly).
EXPECTED_WIDTH = {
    "symmetric(3)": 3, "symmetric(4)": 4, "symmetric(5)": 5, "symmetric(6)": 6,
    "symmetric(5, generators=star)": 5, "symmetric(5, generators=adjacent)": 5,
    "symmetric(5, generators=pair)": 5,
    "alternating(4)": 4, "alternating(5)": 5,
    "dihedral(4)": 4, "dihedral(5)": 5, "dihedral(6)": 6, "dihedral(8)": 8,
    "quaternion": 8,
    "cyclic(2)": 2, "cyclic(6)": 6, "cyclic(12)": 12, "parity": 2,
}


def _group_order(dfa: DFA) -> int:
    return transition_monoid(dfa.minimize()).size


def _check_model(dfa: DFA, m) -> None:
    """Shape, matrices and proof of a faithful model (exact)."""
    d = dfa.minimize()
    order = _group_order(d)
    layer = m.layers[0]
    w = m.width
    assert m.form == "faithful" and m.depth == 1 and m.exact_in_floats
    assert layer.value_dim == w and layer.readout.dim == w
    assert layer.readout.n_classes == order and len(m.state_map) == order
    assert order % w == 0  # m is an index |G : H|
    assert w <= d.n_states  # never wider than Theorem 3's form
    assert w <= compile(d).width
    assert sympy.Matrix(layer.initial_state) == sympy.eye(w)
    assert list(layer.readout.query) == readout_codes(w)
    assert m.n_h <= max(w - 1, 0)
    for a in range(layer.n_tokens):  # A(a) is a permutation matrix, B(a) = 0
        mat = sympy.Matrix(layer.A(a))
        assert all(x in (0, 1) for x in mat) and all(sum(mat.row(i)) == 1 for i in range(w))
        assert all(sum(mat.col(j)) == 1 for j in range(w))
        assert not any(layer.B(a))
        for s in layer.steps[a]:
            if not s.is_identity:
                assert s.is_integer_form and s.beta == 1 and s.eigenvalue == -1
    cert = verify(m, dfa)
    assert isinstance(cert, Certificate) and cert.ok, cert
    assert cert.reachable == order  # one model state per group element


@pytest.mark.parametrize("spec", sorted(EXPECTED_WIDTH))
def test_catalogue_groups_get_small_faithful_widths(spec):
    dfa = get(spec)
    m = compile(dfa, form="faithful")
    _check_model(dfa, m)
    assert m.width == EXPECTED_WIDTH[spec], (spec, m.width)
    words = np.random.default_rng(7).integers(0, dfa.n_symbols, size=(6, 40))
    ft = m.evaluate_float(words, "bfloat16")
    assert (ft.dfa_states == dfa.minimize().run(list(words)).states).all()


def test_symmetric_n_natural_degree_is_found_for_every_seed():
    for n in (4, 5, 6):
        t = GroupTables(transition_monoid(get(f"symmetric({n})").minimize()))
        for seed in range(3):
            sub = core_free_subgroup(t, np.random.default_rng(seed))
            assert t.order // sub.size <= n
            label, reps = t.cosets(sub)
            assert len(reps) == t.order // sub.size and t.is_core_free(sub, label, reps)


def test_word_problems_shrink_from_group_order_to_degree():
    """S_5: K = 120 and n_h = 60 in Theorem 3's form, K = 5 and n_h = 1 here."""
    d = get("symmetric(5)")
    p, f = compile(d), compile(d, form="faithful")
    assert (p.width, p.n_h) == (120, 60)
    assert (f.width, f.n_h, f.layers[0].value_dim) == (5, 1, 5)


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
@given(permutation_dfas(max_states=5, max_alphabet_size=3))
def test_random_permutation_automata(dfa):
    """Up to 5 states (groups up to S_5: random letters on 6-7 points mostly generate
    S_6/A_6/S_7/A_7, whose searches would dominate the run time)."""
    m = faithful_construction(dfa, rng=np.random.default_rng(1), restarts=2)
    _check_model(dfa, m)
    d = dfa.minimize()
    words = np.random.default_rng(2).integers(0, dfa.n_symbols, size=(8, 30))
    ft = m.evaluate_float(words, "bfloat16")
    assert (ft.dfa_states == d.run(list(words)).states).all()


def test_readout_code_is_the_query_permuted_by_the_group_element():
    """o = S^T q with S the product of the letters' matrices; its class is q_0 . g."""
    d = get("dihedral(5)").minimize()
    m = compile(d, form="faithful")
    q = sympy.Matrix(list(m.layers[0].readout.query))
    rng = np.random.default_rng(3)
    for _ in range(10):
        word = [d.alphabet[i] for i in rng.integers(0, d.n_symbols, size=int(rng.integers(0, 9)))]
        s = sympy.eye(m.width)
        for a in word:
            s = sympy.Matrix(m.A(a)) * s
        c = m.layers[0].readout.codes.index(tuple(s.T * q))
        assert m.state_map[c] == d.run([word]).states[0, -1]
        assert m.accepts(word) == d.accepts(word)


def test_quaternion_and_cyclic_fall_back_to_the_states():
    for spec in ("quaternion", "cyclic(7)"):
        act = coset_action(get(spec), np.random.default_rng(0))
        assert act.source == "states" and act.m == get(spec).minimize().n_states
        assert act.subgroup_order == 1
    act = coset_action(get("symmetric(4)"), np.random.default_rng(0))
    assert act.source == "search" and act.m == 4 and act.subgroup_order == 6
    # the element permutations are distinct (faithful) and the letters' are among them
    assert len({tuple(p) for p in act.element_perms.tolist()}) == 24


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
    """cyclic(260) falls back to its 260 states: the query then has codes above 256, all
    bfloat16 numbers, and float32 runs decode exactly."""
    d = get("cyclic(260)")
    m = compile(d, form="faithful")
    query = np.array([float(x) for x in m.layers[0].readout.query])
    assert m.width == 260 and query.max() > 256
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


def test_group_tables_arithmetic():
    mon = transition_monoid(get("symmetric(4)").minimize())
    t = GroupTables(mon)
    els = np.asarray(mon.elements)
    rng = np.random.default_rng(9)
    for _ in range(20):
        x, y = (int(v) for v in rng.integers(0, t.order, size=2))
        xy = mon.index(els[y][els[x]])  # first x, then y
        assert t.multiply(np.array([x]), y)[0] == xy == t.left_multiply(x, np.array([y]))[0]
        assert t.multiply(np.array([x]), t.inverse(x))[0] == 0
    # the class of a transposition in S_4 has 6 elements, all of order 2
    cls = t.conjugacy_class(int(t.right[0, 0]))
    assert cls.size == 6 and (t.multiply(cls, 0) == cls).all()
    assert all(t.multiply(np.array([c]), c)[0] == 0 for c in cls.tolist())
    assert t.closure([int(t.right[0, a]) for a in range(t.k)]).size == 24


def test_exports_run_in_the_numpy_reference_recurrence():
    """S_5 exports with K = V = 5, n_h = 1 (Theorem 3: K = 120, n_h = 60) and decodes to the
    DFA's states."""
    from statetrack.constructions.export import decode_outputs, export_tensors, run_numpy

    d = get("symmetric(5)")
    m = compile(d, form="faithful")
    idx = np.random.default_rng(0).integers(0, d.n_symbols, size=(4, 30))
    words = [[d.alphabet[i] for i in row] for row in idx]
    for dtype in ("float32", "float16"):  # numpy has no bfloat16 (evaluate_float covers it)
        t = export_tensors(m, words, dtype=dtype, backend="numpy")
        assert t["k"].shape == (4, 30, 1, 5) and t["initial_state"].shape == (4, 1, 5, 5)
        dec = decode_outputs(m, run_numpy(t), lengths=t["lengths"])
        assert (np.asarray(dec["dfa_states"]) == d.minimize().run(list(idx)).states[:, 1:]).all()
