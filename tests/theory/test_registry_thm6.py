"""Theorem 6's registry entry: addition modulo m in two layers of reflections, its T6 column,
and that broken stacks fail it."""

from __future__ import annotations

import pytest

from statetrack.automata import DFA, families
from statetrack.constructions import reflections
from statetrack.constructions.lrnn import LRNN, DeltaStep, Layer
from statetrack.theory import registry
from statetrack.theory.registry import FAIL, NOT_APPLICABLE, PASS, THEOREMS, check, run_all


@pytest.mark.parametrize("m", range(2, 9))
def test_addition_modulo_m_passes(m):
    r = check("thm6", families.get(f"cyclic({m}, all)"))
    assert r.status == PASS, r.detail
    assert r.data["states"] == 2 * m == r.data["reachable"]
    assert (r.data["layers"], r.data["widths"], r.data["n_h"]) == (2, [1, 2], 1)
    assert r.columns == (("T6", f"2 layers, proved ({2 * m})"),)
    assert r.data["exact_in_floats"] == (m <= 2)
    assert ("no float claim" in r.detail) == (m > 2)


@pytest.mark.parametrize("spec", ["symmetric(3)", "quaternion", "aa_star", "flip_flop",
                                  "dihedral(4)"])
def test_not_applicable_beyond_cyclic_groups(spec):
    r = check("thm6", families.get(spec))
    assert r.status == NOT_APPLICABLE and r.columns == (("T6", "n/a"),)
    assert "Theorem 6 does not apply" in r.detail


def test_klein_four_is_not_cyclic():
    klein = DFA.from_function((0, 0), "ab", lambda q, a: ((q[0] + (a == "a")) % 2,
                                                          (q[1] + (a == "b")) % 2),
                              lambda q: q == (0, 0))
    r = check("thm6", klein)
    assert r.status == NOT_APPLICABLE and "not cyclic" in r.detail


def test_the_table_has_the_column():
    assert THEOREMS["thm6"].columns == ("T6",) and THEOREMS["thm6"].in_table
    cols = {r.column: r for r in run_all(families.get("cycle_navigation(5)"))}
    assert cols["T6"].summary == "2 layers, proved (10)" and not cols["T6"].failed
    assert cols["T6"].name == "Theorem 6"
    assert run_all(families.get("tomita(3)"))[-1].summary == "n/a"


def _swap_layer(lrnn, layer):
    return LRNN(alphabet=lrnn.alphabet, layers=(lrnn.layers[0], layer),
                accepting=lrnn.accepting, state_map=lrnn.state_map,
                field_generators=lrnn.field_generators, form="custom")


def test_a_stack_that_is_not_reflections_fails(monkeypatch):
    """Layer 1 with two reflections per token (a rotation: eigenvalues e^{+-i...}, not -1) is
    caught by the exact reflection check before any proof."""
    real = reflections.modular_addition_construction

    def rotations(dfa, **kw):
        good = real(dfa, **kw)
        top = good.layers[1]
        steps = [list(row) + [DeltaStep(key=[0, 1], beta=2)] for row in top.steps]
        return _swap_layer(good, Layer(tokens=top.tokens, steps=steps,
                                       initial_state=top.initial_state, readout=top.readout,
                                       token_map=top.token_map))

    monkeypatch.setattr(reflections, "modular_addition_construction", rotations)
    registry._reflection_stack.cache_clear()
    try:
        r = check("thm6", families.get("cyclic(3, all)"))
    finally:
        registry._reflection_stack.cache_clear()
    assert r.status == FAIL and r.failed_column == "T6"
    assert r.columns == (("T6", "FAIL (not reflections)"),)
    assert "not one GH factor with eigenvalue -1" in r.detail


def test_a_wrong_stack_fails_the_proof(monkeypatch):
    real = reflections.modular_addition_construction

    def swapped(dfa, **kw):
        good = real(dfa, **kw)
        top = good.layers[1]
        return _swap_layer(good, Layer(tokens=top.tokens, steps=top.steps,
                                       initial_state=top.initial_state, readout=top.readout,
                                       token_map=[row[::-1] for row in top.token_map]))

    monkeypatch.setattr(reflections, "modular_addition_construction", swapped)
    registry._reflection_stack.cache_clear()
    try:
        r = check("thm6", families.get("cyclic(4, all)"))
    finally:
        registry._reflection_stack.cache_clear()
    assert r.status == FAIL and r.columns[0][1].startswith("FAIL (")
    assert "counterexample" in r.detail


def test_weights_over_the_size_limit_are_skipped_with_the_reason():
    """m = 60: sympy writes tan(pi/120) in nested radicals over the stored-number limit. The
    check says so (skipped, the reason in the detail) instead of raising or hanging."""
    from statetrack.theory.registry import SKIPPED

    r = check("thm6", families.get("cyclic(60)"))
    assert r.status == SKIPPED and r.columns == (("T6", "skipped (size)"),)
    assert "over a size limit" in r.detail and "m = 60" in r.detail and "pi/120" in r.detail
