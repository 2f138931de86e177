"""Tests of the typed LRNN model: validation, exact algebra, exact and float runs."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import numpy as np
import pytest
import sympy

from statetrack.constructions.errors import (
    ConstructionError,
    EigenvalueRangeError,
    ExactValueError,
    FactorMismatchError,
    InputTypeError,
    LayerIndexError,
    ReadoutError,
    ShapeError,
    UnknownTokenError,
    UnsupportedDtypeError,
)
from statetrack.constructions.lrnn import (
    LRNN,
    DeltaStep,
    Layer,
    Readout,
    check_product,
    product,
    to_exact,
    to_matrix,
)


def parity_model() -> LRNN:
    swap = DeltaStep(key=[1, -1], beta=1)
    layer = Layer(tokens=("0", "1"), steps=((), (swap,)), initial_state=[[1], [0]],
                  readout=Readout(query=[0, 1], codes=[[0], [1]]))
    return LRNN(alphabet=("0", "1"), layers=(layer,), accepting=(False, True), state_map=(0, 1))


def rotation_z3() -> LRNN:
    """Z_3 as a 2-D rotation by 2 pi / 3 = two reflections (one with an irrational key)."""
    r1 = DeltaStep(key=[0, 1], beta=2)  # diag(1, -1)
    r2 = DeltaStep(key=[-sympy.sqrt(3) / 2, sympy.Rational(1, 2)], beta=2)  # reflection at pi/3
    codes = []
    for i in range(3):
        c, s = sympy.cos(2 * sympy.pi * i / 3), sympy.sin(2 * sympy.pi * i / 3)
        codes.append([2 * c + s])
    layer = Layer(tokens=("a", "e"), steps=((r1, r2), ()), initial_state=[[1], [0]],
                  readout=Readout(query=[2, 1], codes=codes))
    return LRNN(alphabet=("a", "e"), layers=(layer,), accepting=(True, False, False),
                state_map=(0, 1, 2), form="rotation")


def delta_reference(steps, s):
    """S <- (I - beta k k^T) S + beta k v^T, directly from the definition (sympy)."""
    for st in steps:
        k = sympy.Matrix(st.key)
        s = (sympy.eye(k.rows) - st.beta * k * k.T) * s + st.beta * k * sympy.Matrix([st.value])
    return s


# ------------------------------------------------------------------ exact values
def test_to_exact_accepts_exact_and_refuses_floats():
    assert to_exact(Fraction(-3, 4)) == sympy.Rational(-3, 4)
    assert to_exact("5/6") == sympy.Rational(5, 6)
    assert to_exact(np.int64(3)) == 3
    for bad in (0.5, np.float32(1.0), True, "x + 1", "1/0", sympy.I, object(), "((("):
        with pytest.raises(ExactValueError):
            to_exact(bad, "w")


def test_to_exact_never_executes_strings(tmp_path, monkeypatch):
    marker = tmp_path / "pwned"
    payloads = [f"__import__('os').system('touch {marker}') + 1",
                f"open('{marker}', 'w').write('x')",
                f"(lambda: __import__('os').system('touch {marker}'))()",
                "().__class__.__base__.__subclasses__()",
                f"exec(\"open('{marker}', 'w')\")",
                "Symbol('x')", "Float('0.5')", "1.5", "2**10**10", "sqrt(2, 3)",
                "S(1)", "pi.evalf()"]
    for bad in payloads:
        with pytest.raises(ExactValueError, match="cannot read|characters"):
            to_exact(bad, "initial_state")
    assert not marker.exists()
    # the parser builds sympy objects itself: sympify is never called on text

    import sys

    module = sys.modules["sympy.core.sympify"]
    original = module.sympify

    def guarded(a, *args, **kwargs):
        if isinstance(a, str):
            raise AssertionError(f"sympify was called on the text {a!r}")
        return original(a, *args, **kwargs)

    monkeypatch.setattr(sympy, "sympify", guarded)
    monkeypatch.setattr(module, "sympify", guarded)
    assert to_exact("-2*cos(pi/7) + sin(pi/7)") == -2 * sympy.cos(sympy.pi / 7) + \
        sympy.sin(sympy.pi / 7)
    assert to_exact("sqrt(2)/2 - 3/4") == sympy.sqrt(2) / 2 - sympy.Rational(3, 4)
    assert to_exact("exp(1) - E") == 0 and to_exact("-(2**(1/2))**2") == -2


def test_to_matrix_shapes():
    assert to_matrix([[1, 2], [3, 4]]).shape == (2, 2)
    assert to_matrix([[1], [2]], column=True).shape == (2, 1)
    with pytest.raises(ShapeError):
        to_matrix([])
    with pytest.raises(ShapeError):
        to_matrix([[1, 2], [3]])
    with pytest.raises(ShapeError):
        to_matrix([[1, 2]], column=True)


# ------------------------------------------------------------------ delta steps
def test_step_range_is_enforced():
    assert DeltaStep([1, -1], 1).eigenvalue == -1
    assert DeltaStep([1, 0], Fraction(1, 2)).eigenvalue == sympy.Rational(1, 2)
    assert DeltaStep([2, 0], Fraction(1, 2)).eigenvalue == -1
    with pytest.raises(EigenvalueRangeError, match=r"outside \[0, 2\]"):
        DeltaStep([1, 1], 2)
    with pytest.raises(EigenvalueRangeError, match="beta = -1"):
        DeltaStep([1, 0], -1)
    with pytest.raises(EigenvalueRangeError, match="kernels"):
        DeltaStep([Fraction(1, 2), 0], 3)  # beta * ||k||^2 = 3/4 but beta > 2
    with pytest.raises(EigenvalueRangeError):
        DeltaStep([sympy.sqrt(2), 1], 1)  # strength 3, irrational key


def test_step_matrix_and_normalized_form_agree():
    s = DeltaStep([1, -1, 0], 1, value=[3])
    n = s.normalized()
    assert n.beta == 2 and sum(x ** 2 for x in n.key) == 1
    assert n.matrix() == s.matrix()
    # same additive term beta k v^T
    kv = n.key_vector() * sympy.Matrix([n.value])
    assert sympy.simplify(n.beta * kv - s.beta * s.key_vector() * sympy.Matrix([s.value])) == \
        sympy.zeros(3, 1)
    z = DeltaStep([0, 0], 2).normalized()
    assert z.is_identity and z.beta == 0


def test_frozen():
    s = DeltaStep([1, -1], 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.beta = 0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        parity_model().accepting = (True, True)  # type: ignore[misc]


def test_product_order_is_last_step_leftmost():
    a, b = DeltaStep([1, -1, 0], 1), DeltaStep([0, 1, -1], 1)
    assert product([a, b]) == b.matrix() * a.matrix()
    assert product([a, b]) != a.matrix() * b.matrix()
    big = [DeltaStep([1 if i == j else (-1 if i == j + 1 else 0) for i in range(300)], 1)
           for j in range(299)]  # a 300-cycle, computed sparsely
    p = product(big)
    assert p.shape == (300, 300) and len(p.todok()) == 300
    assert all(p[(j + 1) % 300, j] == 1 for j in range(300)) or \
        all(p[j, (j + 1) % 300] == 1 for j in range(300))


def test_check_product_raises_factor_mismatch():
    steps = [DeltaStep([1, -1, 0], 1), DeltaStep([1, 0, -1], 1)]
    check_product(steps, product(steps))
    with pytest.raises(FactorMismatchError, match=r"entry \(0, 0\) is 0, the claim says 1"):
        check_product(steps, sympy.eye(3))
    with pytest.raises(FactorMismatchError, match="entry"):
        check_product(steps[::-1], product(steps))
    with pytest.raises(FactorMismatchError, match="key of length 3"):
        check_product(steps, sympy.eye(2))
    with pytest.raises(FactorMismatchError, match="not square"):
        check_product(steps, [[1, 0, 0]])
    # irrational factors (the rotation by 2 pi / 3 as two reflections)
    rot = rotation_z3().layers[0].steps[0]
    check_product(rot, rotation_z3().A("a"))
    with pytest.raises(FactorMismatchError):
        check_product(rot[::-1], rotation_z3().A("a"))


# ------------------------------------------------------------------ layers and readouts
def test_layer_pads_and_fills_values():
    layer = Layer(tokens=("a", "b"), steps=((DeltaStep([1, 0], 1), DeltaStep([0, 1], 1)), ()),
                  initial_state=[[1, 0], [0, 1]],
                  readout=Readout(query=[1, 0], codes=[[1, 0], [0, 1]]))
    assert layer.n_h == 2 and layer.width == 2 and layer.value_dim == 2
    assert all(s.is_identity for s in layer.steps[1])
    assert layer.steps[0][0].value == (0, 0)
    assert layer.A("b") == sympy.eye(2) and layer.B("b") == sympy.zeros(2, 2)
    assert layer.factor_eigenvalues("a") == (0, 0)
    tables = layer.float_tables()
    assert tables["keys"].shape == (2, 2, 2) and tables["betas"].tolist() == [[1, 1], [0, 0]]


@pytest.mark.parametrize("kwargs, msg", [
    (dict(steps=((DeltaStep([1, 0, 0], 1),),)), "key of length 3"),
    (dict(steps=((DeltaStep([1, 0], 1, value=[1, 2]),),)), "value of length 2"),
    (dict(steps=((), ())), "2 step lists for 1 tokens"),
    (dict(tokens=()), "at least one token"),
    (dict(readout=Readout(query=[1, 0, 0], codes=[[0]])), "query has 3"),
    (dict(readout=Readout(query=[1, 0], codes=[[0, 1]])), "codes have 2"),
    (dict(steps=(("not a step",),)), "not a DeltaStep"),
])
def test_layer_shape_errors(kwargs, msg):
    base = dict(tokens=("a",), steps=((),), initial_state=[[1], [0]],
                readout=Readout(query=[0, 1], codes=[[0], [1]]))
    base.update(kwargs)
    with pytest.raises(ShapeError, match=msg):
        Layer(**base)


def test_duplicate_tokens_and_codes():
    with pytest.raises(ShapeError, match="duplicate"):
        Layer(tokens=("a", "a"), steps=((), ()), initial_state=[[1]],
              readout=Readout(query=[1], codes=[[1]]))
    with pytest.raises(ReadoutError, match="codes 0 and 1 are equal"):
        Readout(query=[1], codes=[[1], [Fraction(2, 2)]])


def test_readout_decode():
    r = Readout(query=[0, 1, 2], codes=[[0], [1], [2]], labels=["x", "y", "z"])
    assert r.decode_exact([[0], [1], [0]]) == 1
    with pytest.raises(ReadoutError, match="none of the 3 codes"):
        r.decode_exact([[0], [1], [1]])


def test_A_B_match_the_delta_recurrence():
    rng = np.random.default_rng(0)
    for _ in range(20):
        k, v, nh = int(rng.integers(1, 4)), int(rng.integers(1, 3)), int(rng.integers(1, 4))
        steps = []
        for _ in range(nh):
            key = [int(x) for x in rng.integers(-1, 2, size=k)]
            nk = sum(x * x for x in key)
            beta = Fraction(int(rng.integers(0, 3)), max(nk, 1))
            steps.append(DeltaStep(key, beta, value=[int(x) for x in rng.integers(-2, 3, v)]))
        h0 = sympy.Matrix(rng.integers(-2, 3, size=(k, v)).tolist())
        layer = Layer(tokens=("a",), steps=(tuple(steps),), initial_state=h0,
                      readout=Readout(query=[1] * k, codes=[[0] * v]))
        assert layer.A("a") * h0 + layer.B("a") == delta_reference(layer.steps[0], h0)


# ------------------------------------------------------------------ the model
@pytest.mark.parametrize("entry", [1.5, float("inf"), True, "1"])
def test_token_map_entries_must_be_integers(entry):
    # int() read 1.5 and True as token 1 and raised a bare OverflowError on inf
    lay = parity_model().layers[0]
    with pytest.raises(ShapeError, match=r"token_map must be a table of token indices"):
        dataclasses.replace(lay, token_map=[[0, entry], [0, 1]])


def test_token_map_takes_numpy_integers():
    lay = parity_model().layers[0]
    assert dataclasses.replace(lay, token_map=np.array([[0, 1], [1, 0]])).token_map == (
        (0, 1), (1, 0))


def test_model_validation():
    lay = parity_model().layers[0]
    with pytest.raises(ShapeError, match="must be the alphabet"):
        LRNN(alphabet=("1", "0"), layers=(lay,), accepting=(False, True))
    with pytest.raises(ShapeError, match="accepting has 3"):
        LRNN(alphabet=("0", "1"), layers=(lay,), accepting=(False, True, True))
    with pytest.raises(ShapeError, match="state_map has 1"):
        LRNN(alphabet=("0", "1"), layers=(lay,), accepting=(False, True), state_map=(0,))
    with pytest.raises(ShapeError, match="token_map"):
        LRNN(alphabet=("0", "1"), layers=(lay, lay), accepting=(False, True))
    with pytest.raises(ShapeError, match="at least one layer"):
        LRNN(alphabet=("0", "1"), layers=(), accepting=())
    with pytest.raises(ConstructionError):
        LRNN(alphabet=(), layers=(lay,), accepting=(False, True))


def test_parity_exact_and_float_runs():
    m = parity_model()
    assert m.is_rational and m.n_h == 1 and m.width == 2 and m.depth == 1
    rng = np.random.default_rng(1)
    words = ["".join(rng.choice(["0", "1"], size=int(n))) for n in rng.integers(0, 40, 30)]
    for w in words[:10]:
        tr = m.evaluate(w)
        ones = np.cumsum([0] + [c == "1" for c in w]) % 2
        assert list(tr.outputs[0]) == ones.tolist()
        assert list(tr.accepted) == (ones == 1).tolist()
        assert tr.states[0][-1] == sympy.Matrix([[1 - ones[-1]], [ones[-1]]])
        assert m.accepts(w) == bool(ones[-1])
    for dt in ("float64", "float32", "float16", "bfloat16"):
        ft = m.evaluate_float(words, dtype=dt, keep_states=True)
        for i, w in enumerate(words):
            ones = np.cumsum([0] + [c == "1" for c in w]) % 2
            assert ft.outputs[0][i, : len(w) + 1].tolist() == ones.tolist()
            assert ft.accepted[i, : len(w) + 1].tolist() == (ones == 1).tolist()
            assert not ft.accepted[i, len(w) + 1:].any()
            assert ft.dfa_states[i, len(w)] == ones[-1]
        assert ft.states[0].shape == (len(words), ft.accepted.shape[1], 2, 1)


def test_float_batch_array_and_errors():
    m = parity_model()
    arr = np.array([[1, 1, 0], [0, 1, 0]])
    ft = m.evaluate_float(arr, "float32")
    assert ft.accepted[:, -1].tolist() == [False, True]
    with pytest.raises(UnsupportedDtypeError, match="int32"):
        m.evaluate_float(arr, "int32")
    with pytest.raises(UnsupportedDtypeError):
        m.evaluate_float(arr, np.dtype("float128") if hasattr(np, "float128") else "float8")
    with pytest.raises(UnknownTokenError, match="position 2"):
        m.evaluate("012")
    with pytest.raises(UnknownTokenError):
        m.evaluate_float(np.array([[0, 2]]))
    with pytest.raises(InputTypeError, match="single str; evaluate_float takes a batch.*wrap"):
        m.evaluate_float("0101")
    with pytest.raises(InputTypeError, match="symbol indices.*float64"):
        m.evaluate_float(np.array([[0.0, 1.0]]))


def test_bad_layer_indices_and_words_are_package_errors():
    m = parity_model()
    for call in (lambda: m.A("1", layer=5), lambda: m.B("1", layer=5),
                 lambda: m.A("1", layer=-2), lambda: m.A("1", layer="0"),
                 lambda: m.layer(1), lambda: m.exact().transition_matrix(3, 0)):
        with pytest.raises(LayerIndexError, match=r"the model has 1 layer \(valid: 0\.\.0"):
            call()
    assert issubclass(LayerIndexError, IndexError)
    assert m.A("1", layer=-1) == m.A("1")
    for call in (lambda: m.accepts(None), lambda: m.evaluate(None), lambda: m.encode(3),
                 lambda: m.evaluate_float(None), lambda: m.evaluate_float(7)):
        with pytest.raises(InputTypeError, match="got (NoneType|int)"):
            call()


def bf16(x: Fraction) -> Fraction:
    """x rounded to bfloat16 (8 significant bits, ties to even), exactly, with Fractions
    (normal range): an oracle independent of the float64 bit trick."""
    if x == 0:
        return Fraction(0)
    e = abs(x).numerator.bit_length() - abs(x).denominator.bit_length()
    if Fraction(2) ** e > abs(x):
        e -= 1
    ulp = Fraction(2) ** (e - 7)
    return round(x / ulp) * ulp  # Fraction.__round__ rounds half to even


def test_bfloat16_runs_without_torch_and_rounds_every_operation(monkeypatch):
    """The rotation form of Z_5 (inexact in floats) in bfloat16, with torch made
    unimportable, against an exact-rational oracle that rounds after every operation (dot
    products summed exactly, then rounded once)."""
    import sys

    from statetrack.automata.families import get
    from statetrack.constructions.compile import compile

    monkeypatch.setitem(sys.modules, "torch", None)  # import torch -> ImportError
    m = compile(get("cyclic(5)"), form="rotation")
    layer = m.layers[0]
    word = "1101" * 40
    ft = m.evaluate_float([word], "bfloat16", keep_states=True)
    tb = layer.float_tables()
    F = lambda a: [bf16(Fraction(float(x))) for x in a]  # noqa: E731
    keys = [[F(tb["keys"][t, j]) for j in range(layer.n_h)] for t in range(2)]
    betas = [[bf16(Fraction(float(b))) for b in tb["betas"][t]] for t in range(2)]
    s = F(tb["initial_state"][:, 0])
    q = F(tb["query"])
    want = [list(s)]
    for ch in word:
        t = int(ch)
        for j in range(layer.n_h):
            k, b = keys[t][j], betas[t][j]
            sk = bf16(sum(ki * si for ki, si in zip(k, s)))
            u = bf16(b * bf16(0 - sk))
            s = [bf16(si + bf16(ki * u)) for si, ki in zip(s, k)]
        want.append(list(s))
    got = ft.states[0][0, :, :, 0]
    assert [[Fraction(float(x)) for x in row] for row in got] == want
    # and the decoded classes follow the oracle's outputs
    codes = tb["codes"][:, 0]
    cls = [int(np.argmin((float(bf16(sum(qi * si for qi, si in zip(q, st)))) - codes) ** 2))
           for st in want]
    assert ft.outputs[0][0].tolist() == cls
    assert cls != [i % 5 for i in np.cumsum([0] + [int(c) for c in word])]  # it does drift


def test_constructions_import_neither_theory_nor_torch():
    """Dependency direction (automata <- constructions <- theory) and no torch: checked on
    the source of every module, so a lazy import inside a function is caught too."""
    import ast
    import pathlib

    import statetrack.constructions as pkg

    for path in pathlib.Path(pkg.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        funcs = {}
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for sub in ast.walk(node):
                    funcs.setdefault(id(sub), node.name)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                mods = [("." * node.level) + (node.module or "")]
            else:
                continue
            for mod in mods:
                assert "theory" not in mod, f"{path.name} imports {mod}"
                if mod.split(".")[0] == "torch":
                    assert (path.name, funcs.get(id(node))) == ("export.py", "_torch"), \
                        f"{path.name} imports torch"


def test_algebraic_rotation_model_is_exact_in_its_field():
    m = rotation_z3()
    assert not m.is_rational and not m.exact_in_floats
    assert sympy.Matrix(m.A("a")) == sympy.Matrix([[-sympy.Rational(1, 2), -sympy.sqrt(3) / 2],
                                     [sympy.sqrt(3) / 2, -sympy.Rational(1, 2)]])
    tr = m.evaluate("aeaa")
    assert tr.outputs[0] == (0, 1, 1, 2, 0)
    assert tr.states[0][-1] == sympy.Matrix([[1], [0]])
    r = m.exact()
    s = r.initial()
    seen = {s}
    for _ in range(6):
        s, _, _ = r.step(s, 0)
        seen.add(s)
    assert len(seen) == 3  # canonical field elements: the orbit closes exactly
    ft = m.evaluate_float(["a" * 30], "float64")
    assert ft.outputs[0][0].tolist() == [i % 3 for i in range(31)]


def test_two_layer_model_reads_lower_output_at_the_same_time():
    """Layer 1 counts mod 2 the positions at which layer 0's parity is odd."""
    lower = parity_model().layers[0]
    swap = DeltaStep(key=[1, -1], beta=1)
    upper = Layer(tokens=("even", "odd"), steps=((), (swap,)), initial_state=[[1], [0]],
                  readout=Readout(query=[0, 1], codes=[[0], [1]]),
                  token_map=[[0, 1], [0, 1]])  # token = lower parity after the update
    m = LRNN(alphabet=("0", "1"), layers=(lower, upper), accepting=(False, True))
    rng = np.random.default_rng(2)
    words = ["".join(rng.choice(["0", "1"], size=int(n))) for n in rng.integers(0, 25, 20)]
    ft = m.evaluate_float(words, "bfloat16")
    for i, w in enumerate(words):
        par = np.cumsum([c == "1" for c in w]) % 2
        cnt = np.concatenate([[0], np.cumsum(par) % 2])
        tr = m.evaluate(w)
        assert list(tr.outputs[1]) == cnt.tolist()
        assert tr.tokens[1] == tuple(par.tolist())
        assert ft.outputs[1][i, : len(w) + 1].tolist() == cnt.tolist()
        assert ft.accepted[i, len(w)] == bool(cnt[-1])


def test_exact_runner_detects_leaving_the_codes():
    """A model whose state leaves the decoder's codes fails loudly in exact runs."""
    lay = Layer(tokens=("a",), steps=((DeltaStep([1, 0], 1, value=[5]),),),
                initial_state=[[0], [1]], readout=Readout(query=[1, 0], codes=[[0]]))
    m = LRNN(alphabet=("a",), layers=(lay,), accepting=(True,))
    assert m.accepts("")
    with pytest.raises(ReadoutError, match="none of the readout"):
        m.evaluate("a")


def test_field_mismatch_is_an_exact_value_error():
    lay = rotation_z3().layers[0]
    with pytest.raises(ExactValueError, match="number field"):
        LRNN(alphabet=("a", "e"), layers=(lay,), accepting=(True, False, False),
             field_generators=(sympy.sqrt(2),)).exact()


def test_error_classes_are_value_errors_and_exported():
    import statetrack.constructions as c
    from statetrack.constructions import errors

    classes = [v for v in vars(errors).values()
               if isinstance(v, type) and issubclass(v, Exception)]
    assert len(classes) >= 17
    for cls in classes:
        assert issubclass(cls, errors.ConstructionError) and issubclass(cls, ValueError)
        assert getattr(c, cls.__name__) is cls
    assert issubclass(errors.UnknownTokenError, KeyError)
    assert issubclass(errors.UnsupportedDtypeError, TypeError)
    assert issubclass(errors.LayerIndexError, IndexError)
    assert issubclass(errors.InputTypeError, TypeError)
    assert issubclass(errors.MissingGeneratorError, errors.InputTypeError)
    assert not issubclass(errors.BackendError, TypeError)
    assert str(errors.UnknownTokenError("no such token")) == "no such token"


@pytest.mark.parametrize("labels", ["ab", b"ab", 5])
def test_readout_labels_that_are_a_string_or_not_a_sequence_are_refused(labels):
    """``Readout(labels="ab")`` was read as one label per character (fuzz campaign finding,
    the file reader already refused it)."""
    with pytest.raises(InputTypeError, match=r"^readout: labels must be None or a sequence of "
                                             r"strings, one per code, got "):
        Readout(query=[0, 1], codes=[[0], [1]], labels=labels)
    assert Readout(query=[0, 1], codes=[[0], [1]], labels=("a", "b")).labels == ("a", "b")
