"""Float exactness is proved from the weights (issue 13, "Exact means exact"), never trusted:
the proof of :mod:`statetrack.constructions.float_exact`, the derived ``exact_in_floats``,
``float_horizon``'s infinite bound, construction files, and the float16 range of readouts."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
import sympy

from statetrack.automata import DFA
from statetrack.automata.families import get
from statetrack.constructions import io as cio
from statetrack.constructions.compile import compile
from statetrack.constructions.diagonal import diagonal_construction
from statetrack.constructions.errors import FormatRangeError, FormError, InputTypeError
from statetrack.constructions.export import symbol_tables
from statetrack.constructions.float_exact import float_exactness
from statetrack.constructions.group import (FLOAT16_READOUT_LIMIT, group_construction,
                                            readout_codes)
from statetrack.constructions.lrnn import LRNN, DeltaStep, Layer, Readout
from statetrack.constructions.precision import float_horizon
from statetrack.floats import FLOAT_DTYPES, FORMATS
from statetrack.theory.proof import load_verified, verify


def reflection_3_4_5() -> LRNN:
    """A reflection with the rational unit normal (3/5, 4/5): exact in exact arithmetic,
    but 3/5 is in no binary format."""
    step = DeltaStep(key=[sympy.Rational(3, 5), sympy.Rational(4, 5)], beta=2)
    m = sympy.Matrix([[1, 0], [0, 1]]) - 2 * sympy.Matrix([[9, 12], [12, 16]]) / 25
    h1 = m * sympy.Matrix([1, 0])
    layer = Layer(tokens=("a",), steps=((step,),), initial_state=[[1], [0]],
                  readout=Readout(query=[1, 0], codes=[[1], [h1[0]]]))
    return LRNN(alphabet=("a",), layers=(layer,), accepting=(True, False))


def halving() -> LRNN:
    """Slot 0 halves at every token (eigenvalue 1/2, infinitely many reachable states), slot
    1 holds the constant the readout sees."""
    layer = Layer(tokens=("a",), steps=((DeltaStep(key=[1, 0], beta=sympy.Rational(1, 2)),),),
                  initial_state=[[1], [1]], readout=Readout(query=[0, 1], codes=[[1]]))
    return LRNN(alphabet=("a",), layers=(layer,), accepting=(True,))


# ------------------------------------------------------------------ derived, not declared
def test_exact_in_floats_is_not_a_constructor_argument():
    layer = reflection_3_4_5().layers[0]
    with pytest.raises(TypeError, match="exact_in_floats"):
        LRNN(alphabet=("a",), layers=(layer,), accepting=(True, False), exact_in_floats=True)


def test_a_model_with_non_dyadic_weights_is_not_exact_in_floats():
    m = reflection_3_4_5()
    assert verify(m, DFA([[1], [0]], accepting=[0], alphabet="a")).ok  # exact: a reflection
    assert not m.exact_in_floats
    ex = m.float_exactness()
    for f in FLOAT_DTYPES:
        assert ex.horizon(f) == -1
        assert "3/5 is not a dyadic rational" in ex.reason(f)


def test_the_integer_constructions_are_proved_exact_in_every_format():
    for m in (compile(get("symmetric(4)")), compile(get("symmetric(4)"), form="faithful"),
              compile(get("parity"), form="diagonal"), compile(get("contains(abb)"))):
        ex = m.float_exactness()
        assert m.exact_in_floats and ex.explored == math.inf, m.form
        assert all(ex.horizon(w, s) == math.inf for w in FLOAT_DTYPES for s in FLOAT_DTYPES)
    assert not compile(get("cyclic(5)"), form="rotation").exact_in_floats
    assert compile(get("cyclic(2)"), form="rotation").exact_in_floats  # keys (0, 1), (-1, 0)
    assert not compile(get("dihedral(4)"), normalized=True).exact_in_floats


def test_diagonal_codes_beyond_8_bits_are_not_exact_in_bfloat16():
    """(Z_2)^9: codes sum_i +-2^i up to 511 need 9 bits. The old flag said exact; the float
    run in fact decodes 127 of the 512 states wrongly in bfloat16."""
    letters = "abcdefghi"
    d = DFA.from_function(0, letters, lambda q, x: q ^ (1 << letters.index(x)),
                          lambda q: q == 0)
    m = diagonal_construction(d)
    assert not m.exact_in_floats
    ex = m.float_exactness()
    assert ex.proved("float16") and ex.proved("float32") and not ex.proved("bfloat16")
    assert "needs 9 significant bits, bfloat16 has 8" in ex.reason("bfloat16")
    words = ["".join(x for i, x in enumerate(letters) if s >> i & 1) for s in range(512)]
    want = [m.evaluate(w).dfa_states[-1] for w in words]
    got = m.evaluate_float(words, "bfloat16").dfa_states
    assert sum(got[i, len(w)] != want[i] for i, w in enumerate(words)) > 0
    got16 = m.evaluate_float(words, "float16").dfa_states
    assert all(got16[i, len(w)] == want[i] for i, w in enumerate(words))


# ------------------------------------------------------------------ the proof is sound
def _dyadic_model(rng: np.random.Generator) -> LRNN:
    """A random one-layer model with dyadic weights (keys in {0, +-1, +-2, +-1/2}, beta
    scaled into range, small values) whose readout lists every reachable output."""
    k, v = int(rng.integers(1, 4)), int(rng.integers(1, 3))
    steps = []
    for _ in range(2):
        row = []
        for _ in range(int(rng.integers(1, 3))):
            key = [sympy.Rational(int(x), 2) for x in rng.integers(-4, 5, size=k)]
            norm2 = sum(x * x for x in key)
            if norm2 == 0:
                continue
            beta = sympy.Rational(int(rng.integers(0, 5)), 4)
            while beta * norm2 > 2:
                beta /= 2
            row.append(DeltaStep(key=key, beta=beta,
                                 value=[sympy.Rational(int(x), 4) for x in
                                        rng.integers(-8, 9, size=v)]))
        steps.append(tuple(row))
    h0 = [[sympy.Rational(int(x), 2) for x in rng.integers(-3, 4, size=v)] for _ in range(k)]
    query = [int(x) for x in rng.integers(-2, 3, size=k)]
    probe = Layer(tokens=("a", "b"), steps=steps, initial_state=h0,
                  readout=Readout(query=query, codes=[[0] * v]))
    # the outputs of all words up to length 4, exactly: the codes of the real model
    codes: dict[tuple, None] = {}
    for n in range(5):
        for w in itertools.product((0, 1), repeat=n):
            s = sympy.Matrix(probe.initial_state)
            for a in w:
                for st in probe.steps[a]:
                    kk = sympy.Matrix(st.key)
                    s = s - st.beta * kk * (kk.T * s) + st.beta * kk * sympy.Matrix(st.value).T
            codes[tuple(s.T * sympy.Matrix(query))] = None
    layer = Layer(tokens=("a", "b"), steps=steps, initial_state=h0,
                  readout=Readout(query=query, codes=list(codes)))
    return LRNN(alphabet=("a", "b"), layers=(layer,), accepting=[True] * len(codes))


@pytest.mark.parametrize("seed", range(12))
def test_a_proved_horizon_means_the_float_run_is_the_exact_run(seed):
    """Builder and verifier: wherever the proof says a format is exact up to length H, the
    float run's states equal the exact states on every word up to min(H, 4)."""
    rng = np.random.default_rng(seed)
    print("seed", seed)
    m = _dyadic_model(rng)
    ex = float_exactness(m, max_length=4)
    words = ["".join(w) for n in range(5) for w in itertools.product("ab", repeat=n)]
    exact = [m.evaluate(w) for w in words]
    checked = 0
    for f in FLOAT_DTYPES:
        h = ex.horizon(f)
        if h < 0:
            continue
        ft = m.evaluate_float(words, f, keep_states=True)
        for i, w in enumerate(words):
            for t in range(min(len(w), int(min(h, 4))) + 1):
                want = np.array(exact[i].states[0][t].tolist(), dtype=float)
                assert np.array_equal(ft.states[0][i, t], want), (f, w, t)
                assert ft.outputs[0][i, t] == exact[i].outputs[0][t]
                checked += 1
    assert checked or all(ex.horizon(f) < 0 for f in FLOAT_DTYPES)


def test_the_horizon_is_sharp_where_underflow_starts():
    """Halving: 2^-t is exact in float16 down to the smallest subnormal 2^-24 (t = 24); the
    proof stops there, and the float16 state does leave the exact one at t = 25."""
    m = halving()
    ex = m.float_exactness(max_length=200)
    assert ex.horizon("float16") == 24 and ex.horizon("bfloat16") == 133
    assert ex.horizon("float16", "float32") == 149 and ex.horizon("float64") == 200
    assert "below float16's smallest subnormal 2^-24" in ex.reason("float16")
    assert ex.failures[("arithmetic", "float16")].word == ("a",) * 25
    ft = m.evaluate_float(["a" * 25], "float16", keep_states=True)
    assert ft.states[0][0, 24, 0, 0] == 2.0 ** -24
    assert ft.states[0][0, 25, 0, 0] != 2.0 ** -25


def test_float_exactness_rejects_bad_arguments():
    with pytest.raises(InputTypeError, match="lrnn"):
        float_exactness(None)
    with pytest.raises(InputTypeError, match="limit"):
        float_exactness(halving(), limit=0)
    with pytest.raises(InputTypeError, match="max_length"):
        float_exactness(halving(), max_length=-1)
    with pytest.raises(InputTypeError, match="was not checked"):
        float_exactness(halving(), formats=("float32",), max_length=3).horizon("float16")


def test_the_limit_bounds_the_search_and_the_horizon():
    ex = float_exactness(halving(), limit=10)
    assert ex.reachable == 11 and ex.explored == 9 and ex.horizon("float64") == 9
    assert "search stopped at length 9" in ex.reason("float64")


# ------------------------------------------------------------------ float_horizon
def test_float_horizon_reports_infinity_only_when_proved():
    """Before: the default flag made every custom model 'proven correct at every length'."""
    m = reflection_3_4_5()
    h = float_horizon(m, "float32", max_length=200)
    assert 0 <= h.bound < math.inf
    assert float_horizon(compile(get("parity")), "bfloat16", max_length=50).bound == math.inf
    hh = float_horizon(halving(), "float16", max_length=60)
    assert hh.bound == 24   # the exactness proof's horizon (no reflection bound applies)


def test_float_horizon_still_refuses_what_no_proof_covers():
    m = LRNN(alphabet=("a",), layers=(Layer(
        tokens=("a",), steps=((DeltaStep(key=[1, 0], beta=sympy.Rational(1, 3)),),),
        initial_state=[[1], [1]], readout=Readout(query=[0, 1], codes=[[1]])),),
        accepting=(True,))
    with pytest.raises(FormError, match="reflections with zero values"):
        float_horizon(m, "float32", max_length=10)


# ------------------------------------------------------------------ files
def test_load_verified_derives_exact_in_floats_instead_of_reading_it(tmp_path):
    for m, dfa, claim in ((compile(get("cyclic(5)"), form="rotation"), get("cyclic(5)"), True),
                          (compile(get("cyclic(5)")), get("cyclic(5)"), False)):
        path = tmp_path / "m.json"
        cio.save(path, m, dfa=dfa, certificate=verify(m, dfa))
        d = json.loads(path.read_text())
        assert "exact_in_floats" not in d
        d["exact_in_floats"] = claim      # a file that lies (or an old file)
        path.write_text(json.dumps(d))
        got = load_verified(path).lrnn
        assert got.exact_in_floats == (not claim) == m.exact_in_floats


# ------------------------------------------------------------------ float16 and big readouts
def cycle(n: int) -> LRNN:
    """Z_n on one letter: class c is the state after a^c, its code readout_codes(n)[c]."""
    return group_construction(DFA.from_function(0, "a", lambda q, x: (q + 1) % n,
                                                lambda q: q == 0))


def test_readout_limit_of_float16():
    codes = readout_codes(FLOAT16_READOUT_LIMIT + 1)
    assert codes[FLOAT16_READOUT_LIMIT - 1] <= FORMATS["float16"].max_value < codes[-1]


def test_float16_refuses_a_permutation_readout_that_overflows():
    """1300 states: the codes pass 65504. Before, float16 ran with an infinite query (0 * inf
    = NaN) and decoded every output to class 0."""
    m = cycle(FLOAT16_READOUT_LIMIT + 20)
    with pytest.raises(FormatRangeError, match=r"float16 cannot run layer 0: readout "
                                               r"query\[1280\] = 65536 is above float16's "
                                               r"largest finite value 65504"):
        m.evaluate_float(["a"], "float16")
    with pytest.raises(FormatRangeError, match="65504"):
        symbol_tables(m, dtype="float16", backend="numpy")
    with pytest.raises(FormatRangeError, match="use bfloat16, float32 or float64"):
        float_horizon(m, "float16", max_length=5)
    ex = m.float_exactness(("float16", "bfloat16"))
    assert not ex.proved("float16") and ex.horizon("float16") == -1
    assert "65504" in ex.reason("float16")
    # bfloat16 holds every code: proved for every word (all 1300 states checked)
    assert ex.proved("bfloat16") and ex.reachable == FLOAT16_READOUT_LIMIT + 20


def test_float16_runs_a_permutation_readout_up_to_the_limit():
    m = cycle(FLOAT16_READOUT_LIMIT)
    assert m.evaluate_float(["a"], "float16").dfa_states[0].tolist() == [0, 1]
    assert m.float_exactness(("float16",)).proved("float16")
