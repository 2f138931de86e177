"""Theorem 6 (Grazzi et al., App. D): addition modulo m with a mod-2 counter layer and one
2x2 reflection per token, proved exactly against the DFA and checked against independent
computations of the running sum."""

from __future__ import annotations

import numpy as np
import pytest
import sympy

from statetrack.automata import DFA, families
from statetrack.constructions import DeltaStep, Layer, Readout
from statetrack.constructions.errors import (
    ConstructionSizeError,
    ExactValueError,
    FormError,
    InputTypeError,
    NotAGroupError,
    ReadoutError,
    StoredNumberSizeError,
)
from statetrack.constructions.lrnn import LRNN
from statetrack.constructions.reflections import (
    letter_exponents,
    modular_addition_construction,
    reflection_class_sum,
    reflection_step,
)
from statetrack.theory.proof import verify

MS = range(2, 9)


def _addition(m):
    return families.get(f"cyclic({m}, all)")


def _running_sums(word, m):
    return list(np.cumsum([0] + [int(a) for a in word]) % m)


@pytest.fixture(scope="module")
def models():
    return {m: modular_addition_construction(_addition(m)) for m in MS}


@pytest.mark.parametrize("m", MS)
def test_proved_exactly_against_the_addition_dfa(models, m):
    lrnn, dfa = models[m], _addition(m)
    cert = verify(lrnn, dfa)
    assert cert.ok, cert.summary()
    # the joint states: the position's parity and one of the 2m angles (its parity is the
    # position's), all reached with every letter available
    assert cert.reachable == 2 * m
    assert lrnn.layers[1].readout.n_classes == 2 * m


@pytest.mark.parametrize("m", MS)
def test_shape_is_the_theorem_s(models, m):
    lrnn = models[m]
    counter, reflect = lrnn.layers
    assert (lrnn.depth, counter.width, counter.value_dim, reflect.width, reflect.value_dim) == \
        (2, 1, 1, 2, 1)
    assert lrnn.n_h == 1 and lrnn.form == "reflections"
    for t in range(counter.n_tokens):             # A(x) = -1 for every input: M_1({-1})
        assert counter.A(t) == sympy.Matrix([[-1]]) and counter.B(t) == sympy.zeros(1, 1)
        assert [s.eigenvalue for s in counter.steps[t]] == [-1]
    run = lrnn.exact()
    dom = run.domain
    for t in range(reflect.n_tokens):             # one GH factor, eigenvalue -1 ...
        (step,) = reflect.steps[t]
        assert step.eigenvalue == -1 and all(v == 0 for v in step.value)
        a = run.transition_matrix(1, t)           # ... and exactly a reflection of the plane
        assert a[0][1] == a[1][0]                                  # symmetric
        assert a[0][0] + a[1][1] == dom.zero                       # trace 0
        sq = [[sum((a[i][k] * a[k][j] for k in range(2)), dom.zero) for j in range(2)]
              for i in range(2)]
        assert sq == [[dom.one, dom.zero], [dom.zero, dom.one]]    # an involution


@pytest.mark.parametrize("m", [3, 5, 8])
def test_layer_states_are_the_claimed_angles(models, m):
    """H_t = u(2 s_t) at even t, u(1 - 2 s_t) at odd t (the module docstring's claim),
    computed with sympy independently of the exact runner."""
    lrnn = models[m]
    rng = np.random.default_rng(m)
    word = [str(int(x)) for x in rng.integers(0, m, size=9)]
    tr = lrnn.evaluate(word)
    sums = _running_sums(word, m)
    theta = sympy.pi / m
    for t, (h, s) in enumerate(zip(tr.states[1], sums)):
        k = 2 * s if t % 2 == 0 else 1 - 2 * s
        want = sympy.Matrix([[sympy.cos(k * theta)], [sympy.sin(k * theta)]])
        assert all(sympy.simplify(x - y) == 0 for x, y in zip(h, want)), (t, h, want)
        assert tr.outputs[0][t] == t % 2
    assert list(tr.dfa_states) == sums


@pytest.mark.parametrize("m", MS)
def test_float64_run_equals_the_running_sum(models, m):
    lrnn = models[m]
    rng = np.random.default_rng(100 + m)
    ids = rng.integers(0, m, size=(4, 300))
    ft = lrnn.evaluate_float(ids, "float64")
    want = np.concatenate([np.zeros((4, 1), int), np.cumsum(ids, axis=1) % m], axis=1)
    assert list(lrnn.alphabet) == [str(i) for i in range(m)]
    d = _addition(m).minimize()
    state_sum = np.asarray([int(d.state_label(q)) for q in range(m)])   # state -> its sum
    assert (state_sum[ft.dfa_states] == want).all()
    assert (ft.outputs[0] == np.arange(301) % 2).all()


def test_exact_in_floats_only_for_rational_weights(models):
    for m in (1, 2):
        lrnn = modular_addition_construction(_addition(m))
        assert lrnn.exact_in_floats and lrnn.is_rational
        ids = np.random.default_rng(m).integers(0, m, size=(3, 500))
        for fmt in ("bfloat16", "float16"):
            ft = lrnn.evaluate_float(ids, fmt)
            want = np.concatenate([np.zeros((3, 1), int), np.cumsum(ids, axis=1) % m], axis=1)
            assert (ft.dfa_states == want).all()
    for m in range(3, 9):
        assert not models[m].exact_in_floats and not models[m].is_rational


@pytest.mark.parametrize("spec", ["cyclic(6)", "count_mod(3)", "count_mod(4, 1)",
                                  "cycle_navigation(5)", "parity", "cyclic(1)"])
def test_every_cyclic_group_dfa(spec):
    dfa = families.get(spec)
    lrnn = modular_addition_construction(dfa)
    cert = verify(lrnn, dfa)
    assert cert.ok, cert.summary()
    words = [list(w) for w in ["", "0", "+", "1", "a"]]
    for w in words:
        if all(a in dfa.alphabet for a in w):
            assert lrnn.accepts(w) == dfa.accepts(w)


def test_the_verifier_catches_a_wrong_parity():
    """Mutation: the second layer reading the parity the wrong way round is caught, with a
    shortest counterexample."""
    good = modular_addition_construction(_addition(5))
    counter, reflect = good.layers
    swapped = Layer(tokens=reflect.tokens, steps=reflect.steps,
                    initial_state=reflect.initial_state, readout=reflect.readout,
                    token_map=[row[::-1] for row in reflect.token_map])
    bad = LRNN(alphabet=good.alphabet, layers=(counter, swapped), accepting=good.accepting,
               state_map=good.state_map, form="custom", field_generators=good.field_generators)
    cex = verify(bad, _addition(5))
    assert not cex.ok and len(cex.word) == 1


def test_reflection_step_is_the_reflection_across_its_line():
    for m in (3, 4, 7):
        for j in range(2 * m):
            step = reflection_step(j, m)
            assert step.eigenvalue == -1
            assert -1 <= float(min(step.key)) and float(max(step.key)) <= 1
            phi = sympy.pi * j / (2 * m)
            want = sympy.Matrix([[sympy.cos(2 * phi), sympy.sin(2 * phi)],
                                 [sympy.sin(2 * phi), -sympy.cos(2 * phi)]])
            got = step.matrix()
            assert all(abs(complex(sympy.N(x - y, 40))) < 1e-35 for x, y in zip(got, want))


def test_class_sums_are_a_bijection_per_parity():
    for m in range(1, 13):
        even = sorted(reflection_class_sum(k, m) for k in range(0, 2 * m, 2))
        odd = sorted(reflection_class_sum(k, m) for k in range(1, 2 * m, 2))
        assert even == odd == list(range(m))


def test_letter_exponents_of_addition():
    d = _addition(6).minimize()
    m, e, s = letter_exponents(d)
    g = e[d.alphabet.index("1")]          # the exponent of +1: a unit mod 6
    assert m == 6 and np.gcd(g, 6) == 1
    for a, ea in zip(d.alphabet, e):      # letter i acts as i times +1
        assert ea == int(a) * g % 6
    for q in range(6):                    # state q (sum label(q)) is label(q) times +1
        assert s[q] == int(d.state_label(q)) * g % 6


def test_refusals():
    with pytest.raises(FormError, match="cyclic transition group"):
        modular_addition_construction(families.get("symmetric(3)"))
    with pytest.raises(FormError, match="abelian but not cyclic"):
        modular_addition_construction(DFA.from_function(
            (0, 0), "ab", lambda q, a: ((q[0] + (a == "a")) % 2, (q[1] + (a == "b")) % 2),
            lambda q: q == (0, 0)))
    with pytest.raises(NotAGroupError):
        modular_addition_construction(families.get("flip_flop"))
    with pytest.raises(InputTypeError, match="'dfa'"):
        modular_addition_construction("cyclic(5, all)")
    with pytest.raises(InputTypeError, match="name"):
        modular_addition_construction(_addition(3), name=3)


def test_readout_finds_equal_irrational_codes():
    """The sorted distinctness check still finds equal codes written differently."""
    with pytest.raises(ReadoutError, match="codes 0 and 2 are equal"):
        Readout(query=[1, 1], codes=[[sympy.sqrt(2)], [sympy.sqrt(3)], [2 / sympy.sqrt(2)]])
    Readout(query=[1, 1], codes=[[sympy.sqrt(2)], [sympy.sqrt(2) + sympy.Rational(1, 10 ** 30)]])


def test_exact_conversion_by_field_arithmetic_matches_from_sympy():
    m = modular_addition_construction(_addition(7))
    run = m.exact()
    dom = run.domain
    pi = sympy.pi
    for e in [sympy.cos(3 * pi / 7), sympy.sin(5 * pi / 7) / (1 + sympy.cos(5 * pi / 7)),
              2 * sympy.cos(12 * pi / 7) + sympy.sin(13 * pi / 7), sympy.cos(pi / 7) ** -3]:
        assert run.convert(e) == dom.from_sympy(e)
    with pytest.raises(ExactValueError, match="not in the model's number field"):
        run.convert(sympy.sqrt(2))
    # a product of two numbers outside the field (Q(cos pi/5, sin pi/5)) that lies inside it
    run5 = modular_addition_construction(_addition(5)).exact()
    inside = sympy.sqrt(2) * sympy.sqrt(5 - sympy.sqrt(5))              # = 4 sin(pi/5)
    assert inside.is_Mul
    assert run5.convert(inside) == run5.domain.from_sympy(4 * sympy.sin(pi / 5))


@pytest.mark.parametrize("m", [3, 4, 5, 8])
def test_construction_file_round_trips_and_reverifies(models, m):
    """Every weight is stored exactly (printed and read back to the same expression) and the
    loaded model re-verifies."""
    from statetrack.constructions import io as cio
    from statetrack.theory.proof import loads_verified

    lrnn, dfa = models[m], _addition(m)
    text = cio.dumps(lrnn, dfa=dfa, certificate=verify(lrnn, dfa))
    back = loads_verified(text)
    assert back.verified and back.lrnn.form == "reflections"
    assert back.lrnn.layers[1].steps == lrnn.layers[1].steps


@pytest.mark.parametrize("j, m", [(1, 60), (7, 60), (1, 120)])
def test_a_reflection_over_the_stored_number_limit_raises_a_size_error(j, m):
    """sympy writes tan(j pi/120) and tan(j pi/240) in nested radicals beyond what a
    construction file stores (and what the exact checks prove in reasonable time): a clear
    ConstructionSizeError naming m, at once, not a parse error from deep inside."""
    with pytest.raises(StoredNumberSizeError, match=rf"m = {m}: the (key|beta) of the reflection "
                       r"across the line at angle .*too large to store"):
        reflection_step(j, m)
    assert issubclass(StoredNumberSizeError, ConstructionSizeError)
    reflection_step(j, 59)                       # a neighbour is built


def test_only_the_readers_size_refusals_become_the_size_error(monkeypatch):
    """_storable turns the parser's size refusals (ExactSizeError, with its reason) into
    StoredNumberSizeError; any other ExactValueError of the round trip passes unchanged."""
    from statetrack.constructions import reflections
    from statetrack.constructions.errors import ExactSizeError, ExactValueError
    from statetrack.constructions.exact_text import parse_exact

    with pytest.raises(ExactSizeError) as e:
        parse_exact("+".join(["1"] * 300))
    assert e.value.reason.endswith("syntax nodes (at most 400)")
    with pytest.raises(StoredNumberSizeError, match=r"m = 60: .*\(\d+ syntax nodes \(at most "
                                                    r"400\)\)"):
        reflection_step(1, 60)

    def refuse(text, where="value"):
        raise ExactValueError(f"{where}: something else went wrong")

    monkeypatch.setattr(reflections, "parse_exact", refuse)
    with pytest.raises(ExactValueError, match="something else went wrong") as e:
        reflection_step(1, 7)
    assert not isinstance(e.value, StoredNumberSizeError)


@pytest.mark.parametrize("m", [60, 240])
def test_no_theorem_6_construction_over_the_size_limit_and_says_why(m):
    """m = 60 fails at a reflection, m = 240 (reflections fine) at a readout code, cos(pi/120):
    both a StoredNumberSizeError naming m, not the parser's ExactValueError."""
    what = "the (key|beta) of the reflection" if m == 60 else "the readout code of class"
    with pytest.raises(StoredNumberSizeError, match=rf"m = {m}: {what}"):
        modular_addition_construction(families.get(f"cyclic({m})"))


def test_every_size_refusal_of_the_reader_is_an_exact_size_error():
    """Digits, exponents and bits over the reader's limits are ExactSizeError too (with the
    reason), as characters and syntax nodes are; a grammar refusal is not; it pickles with
    its reason and notes."""
    import pickle

    from statetrack.constructions.errors import ExactSizeError, ExactValueError
    from statetrack.constructions.exact_text import parse_exact

    for text, why in (("1" * 250, "digits"), ("2**300", "exponent 300 is too large"),
                      ("(2**200)**30", "bits"), ("1+" * 400 + "1", "syntax nodes")):
        with pytest.raises(ExactSizeError) as e:
            parse_exact(text)
        assert why in e.value.reason
    with pytest.raises(ExactValueError) as e:
        parse_exact("log(2)")
    assert not isinstance(e.value, ExactSizeError)
    err = ExactSizeError("value: too big", "too big")
    err.add_note("a note")
    back = pickle.loads(pickle.dumps(err))
    assert (type(back), str(back), back.reason, back.__notes__) == \
        (ExactSizeError, "value: too big", "too big", ["a note"])
