"""Mamba's Diag(2s - 1) form: exact constructions of (Z_2)^r languages, their proofs (and
mutations the proof rejects), the refusals that Theorems 1 and 2 demand, and Theorem 1's
certificate on every [0, 1] diagonal model tried."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from statetrack.automata import DFA
from statetrack.automata.families import get
from statetrack.constructions import (
    FormError,
    InputTypeError,
    MambaForm,
    NotAGroupError,
    mamba_construction,
    verify_mamba_form,
)
from statetrack.constructions.diagonal import diagonal_construction
from statetrack.theory.finite_precision import FPModel, parity_counterexample


def xor_dfa(flips: dict[str, int], accept: set[int]) -> DFA:
    return DFA.from_function(0, "".join(flips), lambda q, x: q ^ flips[x], lambda q: q in accept)


LANGS = {
    "parity": lambda: get("parity"),
    "cyclic(2)": lambda: get("cyclic(2)"),
    "klein": lambda: xor_dfa({"a": 1, "b": 2, "c": 3}, {0}),
    "z2^3": lambda: xor_dfa({"a": 1, "b": 2, "c": 4, "d": 7}, {0, 5}),
    "z2^4 two letters each": lambda: xor_dfa({"a": 1, "b": 2, "c": 4, "d": 8, "e": 15, "f": 5},
                                             {3, 12}),
}


@pytest.mark.parametrize("name", LANGS)
def test_construction_is_proved_and_exact(name):
    dfa = LANGS[name]()
    form = mamba_construction(dfa)
    n = dfa.minimize().n_states
    assert 2 ** form.width == n
    assert form.eigen_range == "[-1,1]"
    for x in form.alphabet:
        assert all(v in (0, 1) for v in form.s[form.alphabet.index(x)])
        assert all(v in (-1, 1) for v in form.a(x))
    proof = verify_mamba_form(form, dfa)
    assert proof.ok, proof.reason
    assert proof.reachable_states == n
    assert proof.exact_in == ("bfloat16", "float16", "float32")


@pytest.mark.parametrize("name", LANGS)
def test_agrees_with_dfa_and_delta_step_form_on_random_words(name):
    dfa = LANGS[name]()
    form = mamba_construction(dfa)
    delta = diagonal_construction(dfa)
    rng = np.random.default_rng(0)
    for length in (0, 1, 5, 200):
        for _ in range(5):
            word = "".join(rng.choice(list(dfa.alphabet), size=length))
            assert form.accepts(word) == dfa.accepts(word) == delta.accepts(word), word


def test_parity_weights_are_the_papers():
    form = mamba_construction(get("parity"))
    one, zero = form.alphabet.index("1"), form.alphabet.index("0")
    assert form.s[one] == (0,) and form.s[zero] == (1,)      # a = 2s - 1: -1 and 1
    assert form.b[one] == (1,) and form.b[zero] == (0,)
    assert [int(h[0]) for h in form.run("1101")] == [0, 1, 0, 0, 1]


def test_unit_interval_range_refused_for_every_nontrivial_group():
    for name in LANGS:
        with pytest.raises(FormError, match=r"eigen_range='\[0,1\]'.*Theorem 1"):
            mamba_construction(LANGS[name](), eigen_range="[0,1]")
    # a one-state language needs no negative eigenvalue
    triv = DFA([[0, 0]], accepting=[0], alphabet="ab")
    form = mamba_construction(triv, eigen_range="[0,1]")
    assert verify_mamba_form(form, triv).ok and form.a("a") == (1,)


def test_unit_interval_refusal_only_for_permutation_letters():
    # "contains a 1": the letter 1 is a reset, not a permutation, so Theorem 1's argument (a
    # letter whose orbit cycles) does not apply; the refusal is that the DFA is not a group
    contains1 = DFA([[0, 1], [1, 1]], accepting=[1], alphabet="01")
    with pytest.raises(NotAGroupError):
        mamba_construction(contains1, eigen_range="[0,1]")
    # a reset next to a swap: the swap's orbit cycles, so the [0, 1] refusal names the swap
    swap_reset = DFA([[1, 0], [0, 0]], accepting=[1], alphabet="sr")
    with pytest.raises(FormError, match=r"letter 's' permutes the states.*Theorem 1"):
        mamba_construction(swap_reset, eigen_range="[0,1]")


def test_refusals_name_no_form_argument_and_cite_the_period_bound():
    # mamba_construction has no form= argument: the delta-step advice must not leak in
    for name in ("cyclic(3)", "cyclic(4)", "symmetric(3)"):
        with pytest.raises(FormError) as info:
            mamba_construction(get(name))
        assert "form=" not in str(info.value)
        assert "order > 2" in str(info.value) and "period bound" in str(info.value)
    # diagonal_construction (which has form= through compile) keeps its advice
    with pytest.raises(FormError, match="use form='permutation'"):
        diagonal_construction(get("symmetric(3)"))


def test_refusals_outside_elementary_abelian_2_groups():
    with pytest.raises(FormError, match="order 3.*Theorem 2"):
        mamba_construction(get("cyclic(3)"))
    with pytest.raises(FormError, match="order 4"):
        mamba_construction(get("cyclic(4)"))
    with pytest.raises(FormError, match="do not commute"):
        mamba_construction(get("symmetric(3)"))
    with pytest.raises(NotAGroupError):
        mamba_construction(DFA([[1, 1], [1, 1]], accepting=[1], alphabet="ab"))
    with pytest.raises(FormError, match="eigen_range"):
        mamba_construction(get("parity"), eigen_range="[-2,2]")
    with pytest.raises(InputTypeError, match="mamba_construction: argument 'dfa'"):
        mamba_construction("01")
    with pytest.raises(InputTypeError, match="name must be a str"):
        mamba_construction(get("parity"), name=3)
    with pytest.raises(InputTypeError, match="argument 'form'"):
        verify_mamba_form(diagonal_construction(get("parity")), get("parity"))


def _mutate(form: MambaForm, **changes) -> MambaForm:
    fields = {k: getattr(form, k) for k in ("alphabet", "s", "b", "initial_state", "eigen_range",
                                             "query", "codes", "state_map", "accepting")}
    fields.update(changes)
    return MambaForm(**fields)


def test_verifier_rejects_mutations():
    dfa = LANGS["klein"]()
    form = mamba_construction(dfa)
    s = [list(row) for row in form.s]
    s[0][0] = 1 - s[0][0]                                      # a letter stops flipping a bit
    assert not verify_mamba_form(_mutate(form, s=s), dfa).ok
    b = [list(row) for row in form.b]
    b[1][1] = 0                                                # -h instead of 1 - h
    assert not verify_mamba_form(_mutate(form, b=b), dfa).ok
    acc = list(form.accepting)
    acc[0] = not acc[0]
    assert "accept bit" in verify_mamba_form(_mutate(form, accepting=acc), dfa).reason
    # the same weights read in the [0, 1] range: s = 0 resets instead of flipping
    res = verify_mamba_form(_mutate(form, eigen_range="[0,1]"), dfa)
    assert not res.ok
    half = [[Fraction(1, 2) if v == 0 else v for v in row] for row in form.s]
    with pytest.raises(FormError, match="outside"):
        _mutate(form, s=[[2 * v for v in row] for row in form.s])
    assert not verify_mamba_form(_mutate(form, s=half), dfa, limit=100).ok


def test_float_exactness_is_derived_from_values():
    # a readout weight 1 + 2^-10 needs 11 significand bits: float16 and float32, not bfloat16
    form = mamba_construction(get("parity"))
    w = 1 + Fraction(1, 2 ** 10)
    p = verify_mamba_form(_mutate(form, query=(w,), codes=(0, w)), get("parity"))
    assert p.ok and p.exact_in == ("float16", "float32")


def test_theorem1_negative_form_has_no_parity_certificate():
    A, B, h0 = mamba_construction(get("parity")).matrices()
    model = FPModel.from_matrices(A, B, initial_state=h0)
    for fmt in ("bfloat16", "float16"):
        cert = parity_counterexample(model, fmt)
        assert not cert.found and cert.period == 2 and cert.state_determines_parity


@pytest.mark.parametrize("fmt", ["bfloat16", "float16"])
def test_theorem1_every_unit_interval_form_fails_parity(fmt):
    # random [0, 1] forms (any s, b, h0): the orbit under 1^t is eventually constant, so two
    # words of different parity reach one state (Theorem 1, with the diagonal's period 1)
    rng = np.random.default_rng(12345)
    for _ in range(20):
        r = int(rng.integers(1, 4))
        s = [[float(v) for v in rng.choice([0.0, 0.25, 0.5, 0.9, 1.0], size=r)]
             for _ in range(2)]
        b = [[float(v) for v in rng.normal(size=r)] for _ in range(2)]
        A = {x: np.diag(s[i]).tolist() for i, x in enumerate("01")}
        B = {x: [[v] for v in b[i]] for i, x in enumerate("01")}
        model = FPModel.from_matrices(A, B, initial_state=[[float(v)] for v in rng.normal(size=r)])
        cert = parity_counterexample(model, fmt)
        assert cert.found and cert.kind == "state" and cert.period == 1
        assert cert.nonnegative_eigenvalues is True and cert.verify(model)
