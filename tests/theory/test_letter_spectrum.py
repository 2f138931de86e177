"""letter_spectrum: the eigenvalues of one letter's matrix, named exactly, checked against
numpy's eigenvalues of the same matrix and against A^Q = I computed independently."""

from __future__ import annotations

import cmath
from collections import Counter
from fractions import Fraction

import numpy as np
import pytest

from statetrack.automata import families
from statetrack.constructions.compile import compile as compile_dfa
from statetrack.constructions.lrnn import LRNN, DeltaStep, Layer, Readout
from statetrack.theory import letter_spectrum as ls
from statetrack.theory.factorization import permutation_cycles


def _dense(lrnn, li, token):
    layer = lrnn.layers[li]
    a = np.zeros((layer.width, layer.width))
    for (i, j), x in layer.A(token).todok().items():
        a[i, j] = float(x.evalf(30))
    return a


def _close_multisets(xs, ys, tol=1e-7):
    xs, ys = list(xs), list(ys)
    if len(xs) != len(ys):
        return False
    for x in xs:
        j = min(range(len(ys)), key=lambda k: abs(ys[k] - x))
        if abs(ys[j] - x) > tol:
            return False
        ys.pop(j)
    return True


@pytest.mark.parametrize("spec,form", [("parity", "permutation"), ("cyclic(5)", "permutation"),
                                       ("symmetric(3)", "permutation"),
                                       ("dihedral(4)", "faithful"), ("quaternion", "faithful")])
def test_permutation_letters_from_their_cycle_type(spec, form):
    m = compile_dfa(families.get(spec), form=form)
    for token in range(m.layers[0].n_tokens):
        s = ls.letter_spectrum(m, 0, token)
        assert s.kind == "permutation" and s.exact and s.numeric == ()
        perm = list(s.permutation)
        a = _dense(m, 0, token)
        # A e_q = e_perm[q]
        assert all(a[perm[q], q] == 1 for q in range(len(perm)))
        want = [1.0] * (len(perm) - sum(len(c) for c in permutation_cycles(perm)))
        for c in permutation_cycles(perm):
            want += [cmath.exp(2j * cmath.pi * k / len(c)) for k in range(len(c))]
        assert _close_multisets(np.linalg.eigvals(a), want)
        # the summary counts every eigenvalue once: multiplicities add up to the width
        text = s.summary()
        if "exp(" not in text:
            mult = sum(int(p.split("(x")[1].rstrip(")")) if "(x" in p else 1
                       for p in text.split(", "))
            assert mult == len(perm)


@pytest.mark.parametrize("n", [3, 4, 5, 6, 7, 12])
def test_rotation_letters_are_roots_of_unity_proved_by_a_power(n):
    m = compile_dfa(families.get(f"cyclic({n})"), form="rotation")
    s = ls.letter_spectrum(m, 0, m.layers[0].tokens.index("1"))
    assert s.kind == "roots of unity" and s.exact and s.order == n
    assert sorted(s.angles) == [Fraction(1, n), Fraction(n - 1, n)]
    a = _dense(m, 0, m.layers[0].tokens.index("1"))
    assert np.allclose(np.linalg.matrix_power(a, n), np.eye(2), atol=1e-12)
    assert not np.allclose(np.linalg.matrix_power(a, n - 1), np.eye(2), atol=1e-6)
    assert _close_multisets([cmath.exp(2j * cmath.pi * t) for t in s.angles], s.numeric)
    assert s.summary().endswith(f"(exact: A^{n} = I)")
    # the identity letter: both eigenvalues 1, A^1 = I
    e = ls.letter_spectrum(m, 0, m.layers[0].tokens.index("0"))
    assert e.kind == "permutation" and e.summary() == "1 (x2)"


def test_rotation_summary_text():
    m = compile_dfa(families.get("cyclic(5)"), form="rotation")
    assert ls.letter_spectrum(m, 0, 1).summary() == \
        "exp(+-2 pi i 1/5) = 0.309017 +- 0.951057i (exact: A^5 = I)"


def _half_step_model():
    half = DeltaStep(key=[1, 0], beta=Fraction(1, 2))          # A = diag(1/2, 1)
    layer = Layer(tokens=("a",), steps=((half,),), initial_state=[[0], [1]],
                  readout=Readout(query=[0, 1], codes=[[1]]))
    return LRNN(alphabet=("a",), layers=(layer,), accepting=(True,))


def test_off_the_unit_circle_is_numeric():
    s = ls.letter_spectrum(_half_step_model(), 0, 0)
    assert s.kind == "numeric" and not s.exact and s.angles is None and s.order is None
    assert _close_multisets(s.numeric, [0.5, 1.0])
    assert s.summary() == "0.5, 1 (numeric)"


def test_wider_than_the_exact_limit_stays_numeric(monkeypatch):
    m = compile_dfa(families.get("cyclic(5)"), form="rotation")
    monkeypatch.setattr(ls, "EXACT_MAX_WIDTH", 1)
    s = ls.letter_spectrum(m, 0, 1)
    assert s.kind == "numeric" and s.summary().endswith("(numeric)")
    assert Counter(round(abs(z), 9) for z in s.numeric) == Counter({1.0: 2})
