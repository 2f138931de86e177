"""Exported DeltaProduct tensors reproduce the DFA exactly, through two sequential references."""

from __future__ import annotations

import numpy as np
import pytest

from statetrack.automata.families import get
from statetrack.constructions.compile import compile
from statetrack.automata import DFA
from statetrack.constructions.errors import (
    BackendError,
    InputTypeError,
    LayerIndexError,
    ShapeError,
    UnsupportedDtypeError,
)
from statetrack.constructions.export import (
    decode_outputs,
    export_tensors,
    layer_tensors,
    round_to_dtype,
    run_numpy,
    state_dict,
    symbol_tables,
)
from statetrack.constructions.lrnn import LRNN, DeltaStep, Layer, Readout

torch = pytest.importorskip("torch")
from statetrack.kernels.delta_product.naive import delta_product_ref  # noqa: E402

SPECS = ["parity", "cyclic(5)", "symmetric(3)", "dihedral(4)", "alternating(4)", "quaternion",
         "symmetric(5)"]


def random_words(dfa, rng, n=12, max_len=40):
    lengths = rng.integers(1, max_len + 1, size=n)
    lengths[0] = max_len
    return [rng.integers(0, dfa.n_symbols, size=int(L)) for L in lengths]


def expected(dfa, words):
    """DFA accept bits and states after tokens 1..T (the kernel's output positions)."""
    r = dfa.run(words)
    q = r.states[:, 1:]
    acc = np.where(q >= 0, dfa.accepting[np.maximum(q, 0)], False)
    return acc, q


@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize("dtype", ["bfloat16", "float32"])
def test_exported_tensors_through_the_kernel_reference_reproduce_the_dfa(spec, dtype):
    dfa = get(spec).minimize()
    m = compile(dfa)
    rng = np.random.default_rng(abs(hash((spec, dtype))) % 2 ** 32)
    words = random_words(dfa, rng)
    t = export_tensors(m, words, dtype=dtype, backend="torch")
    b, T = len(words), max(len(w) for w in words)
    assert t["k"].shape == (b, T * m.n_h, 1, m.width) and t["k"].dtype == getattr(torch, dtype)
    assert t["v"].shape == (b, T * m.n_h, 1, 1) and t["beta"].shape == (b, T * m.n_h, 1)
    assert t["q"].shape == (b, T, 1, m.width) and t["initial_state"].shape == (b, 1, m.width, 1)
    o, _ = delta_product_ref(t["q"], t["k"], t["v"], t["beta"], num_householder=t["n_h"],
                             scale=t["scale"], initial_state=t["initial_state"])
    dec = decode_outputs(m, o, lengths=t["lengths"])
    acc, q = expected(dfa, words)
    assert np.array_equal(dec["accepted"], acc)
    assert np.array_equal(dec["dfa_states"], q)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_numpy_export_and_numpy_recurrence(dtype):
    dfa = get("dihedral(5)").minimize()
    m = compile(dfa)
    words = random_words(dfa, np.random.default_rng(7), n=6, max_len=30)
    t = export_tensors(m, words, dtype=dtype, backend="numpy")
    assert t["k"].dtype == np.dtype(dtype)
    dec = decode_outputs(m, run_numpy(t), lengths=t["lengths"])
    acc, q = expected(dfa, words)
    assert np.array_equal(dec["accepted"], acc) and np.array_equal(dec["dfa_states"], q)


def test_symbol_tables_gather_to_the_dense_tensors():
    dfa = get("symmetric(4)").minimize()
    m = compile(dfa)
    tab = symbol_tables(m, dtype="float32", backend="numpy")
    n_h, K = m.n_h, m.width
    assert tab["key_table"].shape == (dfa.n_symbols, n_h, K)
    assert tab["beta_table"].shape == (dfa.n_symbols, n_h)
    assert tab["value_table"].shape == (dfa.n_symbols, n_h, 1)
    assert tab["n_h"] == n_h and tab["scale"] == 1.0
    words = np.random.default_rng(2).integers(0, dfa.n_symbols, size=(3, 9))
    t = export_tensors(m, words, dtype="float32", backend="numpy")
    assert np.array_equal(tab["key_table"][words].reshape(3, 9 * n_h, 1, K), t["k"])
    assert np.array_equal(tab["beta_table"][words].reshape(3, 9 * n_h, 1), t["beta"])
    # integer form: every weight is exact in bfloat16
    tb = symbol_tables(m, dtype="bfloat16", backend="torch")
    assert torch.equal(tb["key_table"].double(), torch.from_numpy(tab["key_table"]).double())


def test_padding_keeps_the_state_after_a_word_ends():
    dfa = get("cyclic(3)").minimize()
    m = compile(dfa)
    t = export_tensors(m, ["1", "1111"], dtype="float32", backend="numpy")
    beta = t["beta"].reshape(2, 4, m.n_h)
    assert (beta[0, 1:] == 0).all() and (t["k"].reshape(2, 4, m.n_h, -1)[0, 1:] == 0).all()
    o = run_numpy(t)
    dec = decode_outputs(m, o)  # without lengths: the state simply stays put
    assert dec["dfa_states"][0].tolist() == [1, 1, 1, 1]
    assert dec["dfa_states"][1].tolist() == [1, 2, 0, 1]


def test_state_dict_keys_and_shapes():
    m = compile(get("symmetric(3)"))
    sd = state_dict(m, dtype="bfloat16", backend="torch")
    p = "layers.0."
    assert set(sd) == {p + k for k in ("key_table", "beta_table", "value_table", "query",
                                       "initial_state", "codes", "num_householder", "scale",
                                       "accepting", "state_map")}
    assert sd[p + "key_table"].dtype == torch.bfloat16
    assert sd[p + "key_table"].shape == (m.n_symbols, m.n_h, m.width)
    assert int(sd[p + "num_householder"]) == m.n_h and float(sd[p + "scale"]) == 1.0
    assert sd[p + "accepting"].tolist() == list(m.accepting)
    assert sd[p + "codes"].dtype == torch.float64


def test_diagonal_and_rotation_forms_export():
    dfa = get("parity").minimize()
    m = compile(dfa, form="diagonal")
    words = random_words(dfa, np.random.default_rng(3))
    t = export_tensors(m, words, dtype="bfloat16", backend="torch")
    o, _ = delta_product_ref(t["q"], t["k"], t["v"], t["beta"], num_householder=t["n_h"],
                             scale=t["scale"], initial_state=t["initial_state"])
    acc, _ = expected(dfa, words)
    assert np.array_equal(decode_outputs(m, o, lengths=t["lengths"])["accepted"], acc)
    z5 = get("cyclic(5)").minimize()
    r = compile(z5, form="rotation")
    words = random_words(z5, np.random.default_rng(4), max_len=60)
    t = export_tensors(r, words, dtype="float64", backend="torch")
    o, _ = delta_product_ref(t["q"], t["k"], t["v"], t["beta"], num_householder=t["n_h"],
                             scale=t["scale"], initial_state=t["initial_state"])
    acc, _ = expected(z5, words)
    assert np.array_equal(decode_outputs(r, o, lengths=t["lengths"])["accepted"], acc)


def test_round_to_dtype_matches_torch_bfloat16():
    # torch rounds float64 -> bfloat16 through float32 (two roundings), so compare on float32
    # inputs, where its conversion is a single correct rounding; include subnormals, the
    # overflow edge, infinities and NaN
    rng = np.random.default_rng(0)
    with np.errstate(over="ignore"):
        x = (rng.normal(size=20000) * np.exp(rng.normal(size=20000) * 20)).astype(np.float32)
    x = np.concatenate([x, np.float32([3.3e38, 3.4e38, -3.39e38, 1e-39, -7e-41, 2.0 ** -133,
                                       3 * 2.0 ** -134, np.inf, -np.inf, np.nan, 0.0, -0.0])])
    x = x.astype(np.float64)
    got = round_to_dtype(x, "bfloat16")
    want = torch.from_numpy(x).to(torch.bfloat16).double().numpy()
    assert np.array_equal(got, want, equal_nan=True)
    assert np.array_equal(np.signbit(got), np.signbit(want))
    # from float64 ours is one correct rounding: 1 + 2^-8 + 2^-30 is above the tie
    assert round_to_dtype([1 + 2.0 ** -8 + 2.0 ** -30], "bfloat16")[0] == 1 + 2.0 ** -7
    assert round_to_dtype([1 + 2.0 ** -8], "bf16")[0] == 1.0  # the tie goes to even
    small = np.clip(x, -6e4, 6e4)
    with np.errstate(over="ignore"):
        assert np.array_equal(round_to_dtype(small, "float16"),
                              small.astype(np.float16).astype(np.float64), equal_nan=True)


def test_export_errors():
    m = compile(get("parity"))
    with pytest.raises(UnsupportedDtypeError, match="numpy has no bfloat16"):
        export_tensors(m, ["01"], dtype="bfloat16", backend="numpy")
    with pytest.raises(UnsupportedDtypeError, match="int8"):
        export_tensors(m, ["01"], dtype="int8")
    for call in (lambda: symbol_tables(m, backend="jax"),
                 lambda: export_tensors(m, ["01"], backend="jax"),
                 lambda: layer_tensors(m.layers[0], np.array([[0]]), backend="jax"),
                 lambda: state_dict(m, backend=None)):
        with pytest.raises(BackendError, match=r"backend=('jax'|None) is not supported; "
                                               r"choose one of \['auto', 'numpy', 'torch'\]"):
            call()
    with pytest.raises(LayerIndexError, match=r"index=3: the model has 1 layer"):
        symbol_tables(m, index=3)
    with pytest.raises(LayerIndexError, match=r"layer=5"):
        decode_outputs(m, np.zeros((1, 2, 1, 1)), layer=5)
    with pytest.raises(InputTypeError, match="lrnn: expected an LRNN"):
        export_tensors(None, ["01"])
    with pytest.raises(InputTypeError, match="layer: expected a Layer"):
        layer_tensors(m, np.array([[0]]))
    with pytest.raises(ShapeError, match="2-D integer"):
        layer_tensors(m.layers[0], np.zeros(3, dtype=np.int64))
    with pytest.raises(ShapeError, match="token ids"):
        layer_tensors(m.layers[0], np.array([[0, 5]]))
    with pytest.raises(ShapeError, match="lengths"):
        layer_tensors(m.layers[0], np.array([[0, 1]]), lengths=np.array([3]))
    with pytest.raises(ShapeError, match=r"\[B, T, 1, V=1\]"):
        decode_outputs(m, np.zeros((1, 2, 1)))
    lower = m.layers[0]
    upper = Layer(tokens=("x",), steps=((),), initial_state=[[1]],
                  readout=Readout(query=[1], codes=[[1]]), token_map=[[0, 0], [0, 0]])
    deep = LRNN(alphabet=m.alphabet, layers=(lower, upper), accepting=(True,))
    with pytest.raises(ShapeError, match="one-layer"):
        export_tensors(deep, ["01"])
    sd = state_dict(deep, backend="numpy")
    assert sd["layers.1.token_map"].shape == (2, 2) and "layers.0.accepting" not in sd


def test_one_state_automaton_runs_through_the_kernel_reference():
    """n_h = 0 in the model; the exporters pad one identity step for the kernels."""
    d = DFA([[0, 0, 0]], accepting=[0], alphabet="abc")
    m = compile(d)
    assert m.n_h == 0
    t = export_tensors(m, ["abc", "a"], dtype="bfloat16", backend="torch")
    assert t["n_h"] == 1 and t["k"].shape == (2, 3, 1, 1) and not t["beta"].any()
    o, _ = delta_product_ref(t["q"], t["k"], t["v"], t["beta"], num_householder=t["n_h"],
                             scale=t["scale"], initial_state=t["initial_state"])
    dec = decode_outputs(m, o, lengths=t["lengths"])
    assert dec["accepted"].tolist() == [[True] * 3, [True, False, False]]
    sd = state_dict(m, dtype="bfloat16", backend="torch")
    assert int(sd["layers.0.num_householder"]) == 1
    assert sd["layers.0.key_table"].shape == (3, 1, 1)


def test_inexact_weights_are_correctly_rounded_in_torch_tensors():
    """The rotation form's irrational keys: the bfloat16 tensors hold round_to_dtype's
    (single, correct) rounding of the exact values, not torch's float64 -> float32 ->
    bfloat16 double rounding."""
    m = compile(get("cyclic(7)"), form="rotation")
    tab = symbol_tables(m, dtype="bfloat16", backend="torch")
    exact = m.layers[0].float_tables()["keys"]
    assert np.array_equal(tab["key_table"].double().numpy(), round_to_dtype(exact, "bfloat16"))
