"""Theorem 3: every group language compiles, verifies exactly, and has the right spectrum."""

from __future__ import annotations

import numpy as np
import pytest
import sympy
from hypothesis import given, settings

from statetrack.automata import DFA
from statetrack.automata.families import get
from statetrack.automata.strategies import permutation_dfas
from statetrack.constructions.compile import compile
from statetrack.constructions.errors import (
    FactorMismatchError,
    FormError,
    InputTypeError,
    NotAGroupError,
)
from statetrack.constructions.export import (
    decode_outputs,
    export_tensors,
    kernel_n_h,
    run_numpy,
    state_dict,
    symbol_tables,
)
from statetrack.constructions.group import (
    first_non_permutation,
    group_construction,
    is_group_dfa,
    letter_permutations,
    permutation_cycles,
    permutation_target,
    readout_codes,
    transposition_count,
    transposition_steps,
)
from statetrack.constructions.lrnn import check_product, product
from statetrack.theory.proof import Certificate, check_words, verify

GROUP_SPECS = (["parity"] + [f"cyclic({m})" for m in range(2, 13)]
               + [f"dihedral({m})" for m in range(4, 9)]
               + [f"symmetric({n})" for n in range(3, 7)]
               + ["alternating(4)", "alternating(5)", "quaternion"])


def _moved(perm) -> int:
    return int((np.asarray(perm) != np.arange(len(perm))).sum())


def _check_construction(dfa: DFA, m) -> None:
    d = dfa.minimize()
    perms = letter_permutations(d)
    n = d.n_states
    layer = m.layers[0]
    assert m.depth == 1 and m.width == n and layer.value_dim == 1
    # n_h: the largest transposition count, <= k - 1 (k = most points moved, k >= 2 unless
    # every letter is the identity, and then n_h = 0), <= |Q| - 1
    k = max(_moved(p) for p in perms)
    assert m.n_h == max(transposition_count(p) for p in perms)
    assert (m.n_h <= k - 1) if k > 0 else (m.n_h == 0)
    assert m.n_h <= n - 1
    for a, p in enumerate(perms):
        steps = [s for s in layer.steps[a] if not s.is_identity]
        assert len(steps) == transposition_count(p)
        for s in steps:  # integer keys e_i - e_j, beta 1, GH eigenvalue -1 in [-1, 1]
            assert s.is_integer_form and s.beta == 1 and s.eigenvalue == -1
            assert sorted(s.key[i] for i in s.support) == [-1, 1]
        if n <= 24:  # A(a) is the permutation matrix, exactly (checked sparsely for all n
            # by the construction itself)
            a_mat = sympy.Matrix(layer.A(a))
            assert a_mat == sympy.Matrix(n, n, lambda i, j: int(p[j] == i))
            if n <= 8:
                for ev in a_mat.eigenvals():
                    assert abs(complex(ev)) == pytest.approx(1.0)
                    assert -1 <= complex(ev).real <= 1
    assert not any(any(b) for b in (layer.B(t) for t in range(min(3, layer.n_tokens))))


@pytest.mark.parametrize("spec", GROUP_SPECS)
def test_catalogue_group_languages_compile_and_verify(spec):
    dfa = get(spec)
    m = compile(dfa)
    _check_construction(dfa, m)
    cert = verify(m, dfa)
    assert isinstance(cert, Certificate) and cert.ok
    assert cert.reachable == dfa.minimize().n_states
    assert sorted(cert.g) == list(range(cert.reachable))  # g is a bijection here
    assert cert.transitions_checked == cert.reachable * len(dfa.alphabet)
    if dfa.n_states <= 120:
        wc = check_words(m, dfa, max_length=3, n_random=8, random_length=64,
                         rng=np.random.default_rng(0), dtype="bfloat16")
        assert wc.ok and wc.mismatches == 0


@settings(max_examples=60, deadline=None)
@given(permutation_dfas(max_states=8, max_alphabet_size=4))
def test_random_permutation_automata_compile_and_verify(dfa):
    m = compile(dfa)
    _check_construction(dfa, m)
    cert = verify(m, dfa)
    assert cert.ok, cert
    d = dfa.minimize()
    words = np.random.default_rng(1).integers(0, dfa.n_symbols, size=(16, 40))
    ft = m.evaluate_float(words, "float32")
    assert (ft.dfa_states == d.run([w for w in words]).states).all()


def test_transposition_steps_multiply_to_the_permutation():
    rng = np.random.default_rng(3)
    for n in range(1, 10):
        for _ in range(5):
            p = rng.permutation(n)
            st = transposition_steps(p)
            assert len(st) == transposition_count(p) == sum(len(c) - 1 for c in permutation_cycles(p))
            check_product(st, permutation_target(p))
            prod = product(st, n)
            assert all(prod[int(p[q]), q] == 1 for q in range(n))
            # normalized form: the same matrix, unit keys, beta 2
            stn = transposition_steps(p, normalized=True)
            for s in stn:
                assert s.beta == 2 and sympy.simplify(sum(x ** 2 for x in s.key) - 1) == 0
            check_product(stn, permutation_target(p))


def test_wrong_factor_order_is_a_factor_mismatch():
    p = [1, 2, 0]
    st = transposition_steps(p)
    with pytest.raises(FactorMismatchError, match="do not multiply"):
        check_product(st[::-1], permutation_target(p))


def test_non_group_dfa_is_refused_with_a_pointer_to_the_cascade():
    contains_a = DFA([[1, 0], [1, 1]], accepting=[1], alphabet="ab")
    assert not is_group_dfa(contains_a)
    assert first_non_permutation(contains_a) == (0, 0, 1, 1)
    with pytest.raises(NotAGroupError, match=r"letter 'a' is not a permutation.*cascade"):
        compile(contains_a, form="permutation")
    for form in ("rotation", "diagonal"):
        with pytest.raises(NotAGroupError):
            compile(contains_a, form=form)
    with pytest.raises(FormError, match="unknown form"):
        compile(get("parity"), form="spiral")
    with pytest.raises(InputTypeError, match="argument 'dfa' must be a statetrack DFA"):
        compile("not a dfa")  # type: ignore[arg-type]
    with pytest.raises(InputTypeError):
        compile(None)  # type: ignore[arg-type]


def test_minimization_first_and_state_map_refers_to_the_minimal_dfa():
    # parity with a duplicated odd state: not minimal, but a group after minimization
    d = DFA([[0, 1], [1, 2], [2, 3], [3, 0]], accepting=[1, 3], alphabet="ab")
    m = compile(d)
    assert m.width == 2 and verify(m, d).ok
    # without minimization the letter 'b' on the duplicate is still a permutation here
    m2 = group_construction(DFA([[0, 1], [1, 0]], accepting=[1], alphabet="ab"),
                            minimize=False)
    assert m2.width == 2


def test_one_state_dfa_has_no_steps():
    """A one-state DFA: every A = I, so n_h = 0 (no padding step in the model itself)."""
    for acc in ([], [0]):
        d = DFA([[0, 0]], accepting=acc, alphabet="ab")
        for form in ("permutation", "rotation", "diagonal"):
            m = compile(d, form=form)
            assert m.n_h == 0 and m.layers[0].steps == ((), ())
            assert m.width == 1 or form == "rotation"
            assert m.A("a") == sympy.eye(m.width) and not any(m.B("b"))
            cert = verify(m, d)
            assert cert.ok and cert.reachable == 1
            assert m.accepts("abba") == bool(acc)
            ft = m.evaluate_float(["", "ab", "bbb"], "bfloat16")
            assert ft.accepted.tolist() == [[bool(acc), False, False, False],
                                            [bool(acc)] * 3 + [False], [bool(acc)] * 4]


def test_one_state_dfa_exports_with_one_identity_step():
    m = compile(DFA([[0, 0]], accepting=[0], alphabet="ab"))
    t = export_tensors(m, ["ab", "b"], dtype="float32", backend="numpy")
    assert t["n_h"] == 1 and kernel_n_h(m.layers[0]) == 1
    assert t["k"].shape == (2, 2, 1, 1) and not t["beta"].any() and not t["k"].any()
    dec = decode_outputs(m, run_numpy(t), lengths=t["lengths"])
    assert dec["accepted"].tolist() == [[True, True], [True, False]]
    tab = symbol_tables(m, backend="numpy")
    assert tab["key_table"].shape == (2, 1, 1) and tab["n_h"] == 1
    sd = state_dict(m, backend="numpy")
    assert int(sd["layers.0.num_householder"]) == 1


def test_permutation_cycles_convention():
    rng = np.random.default_rng(11)
    for n in range(0, 12):
        p = rng.permutation(n).tolist()
        cycles = permutation_cycles(p)
        starts = [c[0] for c in cycles]
        assert starts == sorted(starts)
        for c in cycles:
            assert len(c) >= 2 and c[0] == min(c)
            for i, x in enumerate(c):  # perm[c_i] = c_{i+1}, cyclically
                assert p[x] == c[(i + 1) % len(c)]
        covered = sorted(x for c in cycles for x in c)
        assert covered == [q for q in range(n) if p[q] != q]
        # application order: sub-step 1 first, i.e. P = G_m ... G_1 with P e_q = e_{p[q]}
        st = transposition_steps(p)
        pos = list(range(n))  # pos[x] = where the point starting at x is now
        for s in st:
            i, j = s.support
            pos = [j if y == i else i if y == j else y for y in pos]
        assert pos == p
    with pytest.raises(InputTypeError, match="not a permutation"):
        permutation_cycles([0, 0, 1])
    with pytest.raises(InputTypeError, match="not a permutation"):
        transposition_steps([1, 2])
    with pytest.raises(InputTypeError, match="sequence of integers"):
        transposition_count(None)


def test_readout_codes_are_exact_in_bfloat16():
    torch = pytest.importorskip("torch")
    c = readout_codes(800)
    assert c[:257] == list(range(257)) and len(set(c)) == 800
    t = torch.tensor(c, dtype=torch.float64)
    assert torch.equal(t.to(torch.bfloat16).to(torch.float64), t)


def test_large_group_runs_exactly_in_bfloat16_through_its_readout():
    """S_6 (720 states): outputs above 256 still decode exactly after a bf16 cast."""
    d = get("symmetric(6)")
    m = compile(d)
    words = np.random.default_rng(5).integers(0, d.n_symbols, size=(4, 12))
    ft = m.evaluate_float(words, "bfloat16")
    assert (ft.dfa_states == d.run(list(words)).states).all()
    assert max(m.layers[0].readout.query) > 256


def test_normalized_form_verifies_exactly_but_is_flagged_inexact():
    d = get("symmetric(3)")
    m = compile(d, normalized=True)
    assert not m.exact_in_floats and not m.is_rational
    assert verify(m, d).ok
    assert all(s.beta == 2 for row in m.layers[0].steps for s in row if not s.is_identity)
    wc = check_words(m, d, max_length=4, n_random=0, dtype="float64")
    assert wc.ok
