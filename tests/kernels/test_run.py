"""Tests of :mod:`statetrack.kernels.runner`: running constructed LRNNs through the kernels and
the ``statetrack check --device`` rows.

Every result is compared with the DFA's own run (``dfa_states``, itself checked against
``DFA.run``) or with the exact model (``LRNN.evaluate``), on random words from seeded numpy
Generators. The Triton paths run through the interpreter on tiny shapes; the long runs are
``gpu`` tests.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch
from statetrack.automata import DFA
from statetrack.automata.families import catalogue, get
from statetrack.constructions import compile
from statetrack.constructions.examples import two_layer_example
from statetrack.kernels._common.triton import INTERPRET
from statetrack.kernels.errors import (
    KernelDeviceError,
    KernelDtypeError,
    KernelInputError,
    KernelShapeError,
    KernelUnavailableError,
    RaggedWordsError,
    SymbolRangeError,
    UnknownSymbolError,
)
from statetrack.cli.device import DeviceCheckRow, device_check, format_device_rows
from statetrack.kernels.runner import (
    INTERPRETER_MAX_TOKENS,
    choose_kernel,
    dfa_states,
    encode_words,
    run,
)

# the module itself (the package may export the function ``run`` under the same name)
run_module = importlib.import_module("statetrack.kernels.runner")

GROUPS = ["parity", "cyclic(5)", "symmetric(4)", "quaternion"]
HAS_CUDA = torch.cuda.is_available()
needs_interpreter = pytest.mark.skipif(not INTERPRET, reason="needs TRITON_INTERPRET=1 (CPU)")


def _model(spec: str):
    dfa = get(spec)
    lrnn = compile(dfa)
    mini = dfa.minimize()
    perm = np.array([mini.alphabet.index(s) for s in lrnn.alphabet], dtype=np.int64)
    return lrnn, mini, perm


# ----------------------------------------------------------------------------- the oracle
def test_dfa_states_equals_dfa_run():
    rng = np.random.default_rng(0)
    partial = DFA([[1, -1], [0, 1]], accepting=[1], alphabet="ab")   # 'b' from 0 falls off
    for dfa in (get("symmetric(3)"), partial):
        ids = rng.integers(0, dfa.n_symbols, size=(6, 15))
        st, acc = dfa_states(dfa, ids)
        ref = dfa.run(ids)
        np.testing.assert_array_equal(st, ref.states)
        np.testing.assert_array_equal(acc[:, -1], ref.accepted)
        want_acc = np.where(ref.states >= 0,
                            np.asarray(dfa.accepting)[np.maximum(ref.states, 0)], False)
        np.testing.assert_array_equal(acc, want_acc)


# ----------------------------------------------------------------------------- reference path
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
@pytest.mark.parametrize("spec", GROUPS)
def test_reference_backend_matches_dfa(spec, dtype):
    lrnn, mini, perm = _model(spec)
    rng = np.random.default_rng(100 + len(spec))
    ids = rng.integers(0, lrnn.n_symbols, size=(3, 300))
    out = run(lrnn, ids, device="cpu", dtype=dtype)
    assert out.backend == "reference" and out.kernels == ("reference",)
    assert out.dtype == str(dtype).replace("torch.", "") and out.device == "cpu"
    want_states, want_acc = dfa_states(mini, perm[ids])
    np.testing.assert_array_equal(out.states, want_states)
    np.testing.assert_array_equal(out.accepted, want_acc)
    assert out.accepted.dtype == bool and out.accepted.shape == (3, 301)
    # the exact model agrees on one word
    tr = lrnn.evaluate(ids[0, :40])
    assert out.accepted[0, :41].tolist() == list(tr.accepted)
    assert out.states[0, :41].tolist() == list(tr.dfa_states)


def test_long_reference_run_in_segments(monkeypatch):
    lrnn, mini, perm = _model("cyclic(5)")
    # a tiny budget forces many segments, each starting from the last final state
    monkeypatch.setitem(run_module.SEGMENT_BYTES, "cpu", 4096)
    ids = np.random.default_rng(4).integers(0, 2, size=(2, 500))
    seg = run_module._segment_tokens(2, 500, lrnn.n_h, lrnn.width, 1, 5, 2, 4096)
    assert seg < 50
    out = run(lrnn, ids, device="cpu", kernel="reference")
    np.testing.assert_array_equal(out.states, dfa_states(mini, perm[ids])[0])


# ----------------------------------------------------------------------------- interpreter
@needs_interpreter
@pytest.mark.parametrize("spec", GROUPS)
def test_interpreter_backends_match_dfa(spec):
    lrnn, mini, perm = _model(spec)
    rng = np.random.default_rng(200 + len(spec))
    ids = rng.integers(0, lrnn.n_symbols, size=(2, 6))
    want_states, want_acc = dfa_states(mini, perm[ids])
    for kernel, expect in (("auto", "tabled"), ("recurrent", "recurrent")):
        out = run(lrnn, ids, device="cpu", kernel=kernel)
        assert out.backend == "triton-interpreter" and out.kernels == (expect,)
        np.testing.assert_array_equal(out.states, want_states)
        np.testing.assert_array_equal(out.accepted, want_acc)


def test_auto_picks_reference_above_the_interpreter_size():
    lrnn, _, _ = _model("parity")
    T = INTERPRETER_MAX_TOKENS // 2 + 1
    out = run(lrnn, np.zeros((2, T), dtype=np.int64), device="cpu")
    assert out.backend == "reference"
    assert choose_kernel(2, 1, 2 * T, torch.device("cpu")) == ("reference", "reference")


@needs_interpreter
def test_two_layer_model_matches_exact_model():
    lrnn = two_layer_example()
    rng = np.random.default_rng(9)
    words = ["".join(rng.choice(["a", "b"], size=10)) for _ in range(3)]
    for kernel in ("reference", "auto"):
        out = run(lrnn, words, device="cpu", kernel=kernel)
        assert len(out.kernels) == 2
        for b, w in enumerate(words):
            tr = lrnn.evaluate(w)
            assert out.accepted[b].tolist() == list(tr.accepted)
            assert out.states[b].tolist() == list(tr.dfa_states)
            for layer in range(2):
                assert out.classes[layer][b].tolist() == list(tr.outputs[layer])
    assert out.backend == "triton-interpreter"


@pytest.mark.parametrize("accepting", [[0], []])
@pytest.mark.parametrize("kernel", ["reference", "recurrent", "tabled"])
def test_layers_without_sub_steps_run_in_every_kernel(kernel, accepting):
    """Sigma* and the empty language: one state, every A = I, so n_h = 0 (the exporters pad
    one identity step). The reference and recurrent paths used to pass n_h = 0 on to the
    kernel, which refused it (on a CPU without the interpreter every run of Sigma* failed)."""
    if kernel != "reference" and not INTERPRET:
        pytest.skip("needs TRITON_INTERPRET=1 (CPU)")
    dfa = DFA([[0, 0]], accepting=accepting, alphabet="ab")
    words = ["abba", "", "b"]
    for form in ("permutation", "cascade", "rotation"):
        lrnn = compile(dfa, form=form)
        assert lrnn.n_h == 0
        out = run(lrnn, words, device="cpu", kernel=kernel, dtype="float32")
        assert out.kernels == (kernel,)
        assert out.accepted_final.tolist() == [bool(accepting)] * 3
        assert out.states.tolist() == [[0] * 5, [0, -1, -1, -1, -1], [0, 0, -1, -1, -1]]


# ----------------------------------------------------------------------------- words
def test_word_forms_agree():
    lrnn, mini, perm = _model("symmetric(3)")
    rng = np.random.default_rng(12)
    ids = rng.integers(0, lrnn.n_symbols, size=(3, 20))
    assert lrnn.alphabet[0] == "t01"                    # multi-character symbols
    strings = [" ".join(lrnn.alphabet[i] for i in row) for row in ids]
    seqs = [[lrnn.alphabet[i] for i in row] for row in ids]
    ref = run(lrnn, ids, device="cpu", kernel="reference")
    for words in (strings, seqs, [list(r) for r in ids], torch.as_tensor(ids, dtype=torch.int32)):
        out = run(lrnn, words, device="cpu", kernel="reference")
        np.testing.assert_array_equal(out.states, ref.states)
        np.testing.assert_array_equal(out.accepted, ref.accepted)
    assert [mini.accepts(w) for w in seqs] == ref.accepted[:, -1].tolist()


def test_multi_character_symbols_split_on_whitespace():
    lrnn = compile(DFA([[1, 0], [0, 1]], accepting=[1], alphabet=["push", "nop"]))
    out = run(lrnn, ["push nop push push", "nop nop nop nop"], device="cpu", kernel="reference")
    assert out.accepted[:, -1].tolist() == [True, False]


def test_empty_batches():
    lrnn, _, _ = _model("parity")
    out = run(lrnn, [], device="cpu")
    assert out.accepted.shape == (0, 1)
    out = run(lrnn, ["", ""], device="cpu")
    assert out.accepted.tolist() == [[False], [False]] and out.states.tolist() == [[0], [0]]


# ----------------------------------------------------------------------------- bad input
def test_bad_words():
    lrnn, _, _ = _model("parity")
    with pytest.raises(UnknownSymbolError, match=r"words\[1\]: symbol '2' at position 1"):
        run(lrnn, ["01", "02"], device="cpu")
    with pytest.raises(UnknownSymbolError, match="'x' at position 0"):
        run(lrnn, [["x", "0"]], device="cpu")
    # ragged words are padded by run (tests/test_ragged.py); the rectangular encoder refuses them
    assert run(lrnn, ["01", "10", "011"], device="cpu").accepted_final.tolist() == [True, True, False]
    with pytest.raises(RaggedWordsError, match=r"words\[2\] has 3"):
        encode_words(lrnn.alphabet, ["01", "10", "011"])
    with pytest.raises(RaggedWordsError):
        encode_words(lrnn.alphabet, [[0, 1], [1]])
    with pytest.raises(SymbolRangeError, match=r"got 2 at index \(1, 0\)"):
        run(lrnn, np.array([[0, 1], [2, 0]]), device="cpu")
    with pytest.raises(SymbolRangeError, match=r"got -1 at index \(0, 1\)"):
        run(lrnn, torch.tensor([[0, -1]]), device="cpu")
    with pytest.raises(SymbolRangeError, match="id 5 at position 0"):
        run(lrnn, [[5, 0]], device="cpu")
    with pytest.raises(KernelDtypeError, match="different lengths"):
        run(lrnn, np.array([np.array([0, 1]), np.array([1])], dtype=object), device="cpu")
    with pytest.raises(KernelDtypeError, match="integers"):
        run(lrnn, np.zeros((2, 3)), device="cpu")
    with pytest.raises(KernelDtypeError, match="integer tensor"):
        run(lrnn, torch.zeros(2, 3), device="cpu")
    with pytest.raises(KernelShapeError, match=r"\[B, T\]"):
        run(lrnn, np.zeros(3, dtype=np.int64), device="cpu")
    with pytest.raises(KernelInputError, match="single string"):
        run(lrnn, "0101", device="cpu")
    with pytest.raises(KernelInputError, match="lrnn"):
        run(get("parity"), ["01"], device="cpu")


def test_bad_dtype_device_kernel():
    lrnn, _, _ = _model("parity")
    for dt in (torch.int32, "float8", np.int32, torch.complex64, "bfloat"):
        with pytest.raises(KernelDtypeError, match="dtype"):
            run(lrnn, ["01"], device="cpu", dtype=dt)
    # the aliases of statetrack.floats (the one table) name the same dtypes
    for alias, name in (("bf16", "bfloat16"), ("half", "float16"), (np.float32, "float32"),
                        ("torch.float64", "float64")):
        assert run(lrnn, ["01"], device="cpu", dtype=alias, kernel="reference").dtype == name
    for dev in ("tpu", "meta", 3):
        with pytest.raises(KernelDeviceError, match="device"):
            run(lrnn, ["01"], device=dev)
    if not HAS_CUDA:
        with pytest.raises(KernelUnavailableError, match="no CUDA device"):
            run(lrnn, ["01"], device="cuda")
    with pytest.raises(KernelInputError, match="kernel"):
        run(lrnn, ["01"], device="cpu", kernel="fast")
    big = compile(get("symmetric(5)"))
    with pytest.raises(KernelShapeError, match="K=120"):
        run(big, np.zeros((1, 2), dtype=np.int64), device="cpu", kernel="tabled")


def test_encode_words_direct():
    assert encode_words(("x", "y"), ["xyyx"]).tolist() == [[0, 1, 1, 0]]
    assert encode_words(("x", "y"), np.array([[1, 0]], dtype=np.int8)).dtype == np.int64
    assert encode_words(("x", "y"), np.array(["xy", "yy"])).tolist() == [[0, 1], [1, 1]]
    with pytest.raises(KernelInputError, match="sequence"):
        encode_words(("x", "y"), [3.5])


# ----------------------------------------------------------------------------- device check
def _entries(*names):
    wanted = set(names)
    return [e for e in catalogue() if e.name in wanted]


def test_device_check_cpu_rows():
    entries = _entries("parity", "symmetric(3)", "cyclic(5)", "at_least(3)")
    rows = device_check(entries, "cpu", length=60, batch=3, kernel="reference",
                        rng=np.random.default_rng(1))
    assert [r.name for r in rows] == [e.name for e in entries]
    for r in rows:
        # at_least(3) is not a group: it runs as the cascade stack (5 layers)
        assert r.status == "ok" and r.mismatches == 0 and r.ok
        assert (r.length, r.batch, r.backend) == (60, 3, "reference")
        assert set(r.kernel.split("+")) == {"reference"}   # one name per layer
        assert r.symbols_per_s > 0 and r.seconds > 0
        assert (r.form == "cascade") == (r.name == "at_least(3)")
    text = format_device_rows(rows)
    assert "symmetric(3)" in text and "cascade" in text and "mismatches" in text


def test_device_check_caps_cpu_length_and_defaults():
    rows = device_check(_entries("symmetric(4)"), "cpu", batch=1, kernel="reference",
                        rng=np.random.default_rng(2), cpu_substep_budget=240,
                        form="permutation")
    (r,) = rows
    assert r.length == 20 and "capped from 2000 to 20" in r.note and r.mismatches == 0
    (r,) = device_check(_entries("symmetric(5)"), "cpu", length=100, batch=1,
                        kernel="reference", rng=np.random.default_rng(2),
                        cpu_substep_budget=60 * 2 * 20,        # K = 120 <= 128: 40 tokens
                        form="permutation")
    assert r.length == 40 and "K=120" in r.note and r.mismatches == 0


def test_device_check_of_a_one_state_language():
    """cyclic(1) has one state and n_h = 0: the CPU length cap divided by zero
    (``statetrack check --only 'cyclic(1)' --device cpu`` crashed)."""
    from types import SimpleNamespace

    entry = SimpleNamespace(name="cyclic(1)", dfa=get("cyclic(1)"))
    (r,) = device_check([entry], "cpu", length=30, batch=2, rng=np.random.default_rng(3))
    assert r.status == "ok" and r.mismatches == 0 and r.length == 30


def test_device_check_picks_the_narrower_form():
    entries = _entries("parity", "symmetric(4)", "symmetric(5)", "dihedral(5)")
    rows = device_check(entries, "cpu", length=300, batch=2, kernel="reference",
                        rng=np.random.default_rng(4))
    forms = {r.name: r.form for r in rows}
    # parity: both forms are the 2-point action (ties keep the permutation form); S_4, S_5 and
    # D_5 act faithfully on 4, 5 and 5 points instead of 24, 120 and 10 states
    assert forms == {"parity": "permutation", "symmetric(4)": "faithful",
                     "symmetric(5)": "faithful", "dihedral(5)": "faithful"}
    assert all(r.status == "ok" and r.mismatches == 0 and r.length == 300 for r in rows)
    assert "faithful" in format_device_rows(rows)
    (r,) = device_check(_entries("symmetric(4)"), "cpu", length=50, batch=1,
                        kernel="reference", rng=np.random.default_rng(4), form="faithful")
    assert r.form == "faithful" and r.mismatches == 0
    with pytest.raises(KernelInputError, match="form: expected"):
        device_check(entries, "cpu", rng=np.random.default_rng(0), form="rotation")


def test_device_check_large_groups_do_not_stop_the_check():
    # binary_divisible(163): a transition group of 26,406 elements (x -> 2x + b mod 163); its
    # faithful form (never listed; it contains a 163-cycle, so mu = 163) ties with the
    # permutation form, which "auto" keeps; "faithful" builds it (issue 13: it was skipped)
    from statetrack.automata import families
    from statetrack.automata.families import CatalogueEntry

    e = CatalogueEntry("binary_divisible(163)", "binary_divisible",
                       families.get("binary_divisible(163)").minimize())
    (r,) = device_check([e], "cpu", length=20, batch=1, kernel="reference",
                        rng=np.random.default_rng(6))
    assert r.status == "ok" and r.mismatches == 0 and r.form == "permutation"
    (r,) = device_check([e], "cpu", length=20, batch=1, kernel="reference",
                        rng=np.random.default_rng(6), form="faithful")
    assert r.status == "ok" and r.mismatches == 0 and r.form == "faithful"


def test_device_check_warmup_runs_once_more_untimed(monkeypatch):
    calls = []
    real_run = run_module.run

    def counting(*args, **kwargs):
        calls.append(kwargs.get("kernel"))
        return real_run(*args, **kwargs)

    monkeypatch.setattr(run_module, "run", counting)
    entries = _entries("parity", "cyclic(3)")
    rows = device_check(entries, "cpu", length=40, batch=2, kernel="reference",
                        rng=np.random.default_rng(5), warmup=True)
    assert len(calls) == 4 and all(r.status == "ok" and r.mismatches == 0 for r in rows)
    calls.clear()
    device_check(entries, "cpu", length=40, batch=2, kernel="reference",
                 rng=np.random.default_rng(5))          # default on the CPU: no warm-up
    assert len(calls) == 2


def test_device_check_reports_mismatches(monkeypatch):
    real_run = run_module.run

    def broken(*args, **kwargs):
        out = real_run(*args, **kwargs)
        acc = out.accepted.copy()
        acc[0, 3] = ~acc[0, 3]
        states = out.states.copy()
        states[1, 5] = states[1, 5] + 1
        return run_module.RunOutput(acc, states, out.classes, out.backend, out.kernels,
                                    out.device, out.dtype, out.lengths)

    monkeypatch.setattr(run_module, "run", broken)
    (r,) = device_check(_entries("parity"), "cpu", length=10, batch=2, kernel="reference",
                        rng=np.random.default_rng(3))
    assert r.status == "FAIL" and r.mismatches == 2 and not r.ok


def test_device_check_reports_errors(monkeypatch):
    def failing(*args, **kwargs):
        raise KernelUnavailableError("no kernel here")

    monkeypatch.setattr(run_module, "run", failing)
    (r,) = device_check(_entries("parity"), "cpu", length=10, batch=2,
                        rng=np.random.default_rng(3))
    assert r.status == "error" and "no kernel here" in r.note and not r.ok


def test_device_check_bad_arguments():
    with pytest.raises(KernelInputError, match="rng"):
        device_check(_entries("parity"), "cpu", rng=0)
    with pytest.raises(KernelInputError, match="length"):
        device_check(_entries("parity"), "cpu", length=0, rng=np.random.default_rng(0))
    with pytest.raises(KernelDeviceError):
        device_check(_entries("parity"), "tpu", rng=np.random.default_rng(0))


def test_row_status_property():
    assert DeviceCheckRow("x", "-", 0, 0, None, None, status="skipped").ok
    assert not DeviceCheckRow("x", "reference", 5, 1, 1, 1.0, status="FAIL").ok


# ----------------------------------------------------------------------------- GPU
@pytest.mark.gpu
@pytest.mark.parametrize("kernel", ["tabled", "recurrent"])
@pytest.mark.parametrize("spec", ["parity", "symmetric(5)"])
def test_gpu_long_words_exact(spec, kernel):
    lrnn, mini, perm = _model(spec)
    if kernel == "tabled" and lrnn.width > 64:
        pytest.skip("the tabled path supports K <= 64")
    T = 10 ** 6 if spec == "parity" else 10 ** 5
    ids = np.random.default_rng(0).integers(0, lrnn.n_symbols, size=(2, T))
    out = run(lrnn, ids, device="cuda", dtype=torch.bfloat16, kernel=kernel)
    assert out.backend == "triton" and out.kernels == (kernel,)
    want_states, want_acc = dfa_states(mini, perm[ids])
    assert int((out.states != want_states).sum()) == 0
    assert int((out.accepted != want_acc).sum()) == 0


@pytest.mark.gpu
def test_gpu_device_check_small():
    rows = device_check(_entries("parity", "cyclic(5)", "quaternion", "symmetric(6)"), "cuda",
                        length=10 ** 5, batch=2, rng=np.random.default_rng(0))
    by = {r.name: r for r in rows}
    for name in ("parity", "cyclic(5)", "quaternion", "symmetric(6)"):
        assert by[name].status == "ok" and by[name].backend == "triton", by[name]
        assert by[name].mismatches == 0, by[name]
    # form auto: S_6 on its 6 points; the Theorem 3 permutation form (K = 720) is past the
    # tabled path's limit and is skipped with a note
    assert by["symmetric(6)"].form == "faithful"
    row, = device_check(_entries("symmetric(6)"), "cuda", length=10 ** 3, batch=2,
                        rng=np.random.default_rng(0), form="permutation")
    assert row.status == "skipped" and "K=720" in row.note


# ----------------------------------------------------------------------------- inexact forms
def test_inexact_forms_warn_and_exact_forms_do_not():
    """run / from_construction warn (InexactRunWarning) where the float run is not proved
    exact in the table format (the rotation form's irrational keys), never for the integer
    forms; a float64 run of the same rotation model still warns (irrational in every
    format)."""
    import warnings

    from statetrack.kernels import ConstructedLRNN, DeltaProductLayer, InexactRunWarning

    c5 = get("cyclic(5)")
    exact, rot = compile(c5), compile(c5, form="rotation")
    words = ["1111", "10"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", InexactRunWarning)
        for dt in ("bfloat16", "float64"):
            run(exact, words, device="cpu", dtype=dt, kernel="reference")
        ConstructedLRNN.from_construction(exact, mode="reference", dtype=torch.bfloat16)
        DeltaProductLayer.from_construction(exact, mode="reference", dtype=torch.bfloat16)
    for dt in ("bfloat16", "float64"):
        with pytest.warns(InexactRunWarning, match=f"'rotation' model's float run with {dt} "
                                                   "weights .* not proved exact .*irrational"):
            out = run(rot, words, device="cpu", dtype=dt, kernel="reference")
        assert out.accepted_final.tolist() == [c5.accepts(list(w)) for w in words]
    with pytest.warns(InexactRunWarning, match="ConstructedLRNN.from_construction"):
        ConstructedLRNN.from_construction(rot, mode="reference", dtype=torch.bfloat16)
    with pytest.warns(InexactRunWarning, match="DeltaProductLayer.from_construction"):
        DeltaProductLayer.from_construction(rot, mode="reference", dtype=torch.bfloat16)
    with pytest.raises(KernelInputError, match="expected a constructed LRNN"):
        ConstructedLRNN.from_construction(c5)
    # a layer alone: layer 0 of the reflections stack (the -1 counter) is exact, layer 1 not
    refl = compile(c5, form="reflections")
    with warnings.catch_warnings():
        warnings.simplefilter("error", InexactRunWarning)
        DeltaProductLayer.from_construction(refl, layer=0, mode="reference")
    with pytest.warns(InexactRunWarning, match=r"layer 1 of the 'reflections' model: its float "
                                               r"run .*\(weights: layer 1, .*evaluate_float"):
        DeltaProductLayer.from_construction(refl, layer=1, mode="reference")
    # normalized keys: the permutation form, inexact; the message does not call it exact
    with pytest.warns(InexactRunWarning) as rec:
        run(compile(c5, normalized=True), words, device="cpu", dtype="float32",
            kernel="reference")
    assert "'permutation' and 'faithful' without normalized keys" in str(rec[0].message)


def test_one_dimensional_tensors_are_words_of_ids():
    """A list of 1-D integer tensors is a batch of id words (as 1-D numpy arrays are; it was
    'symbol tensor(1) ... is not in the alphabet'); DFA.accepts takes one too; a tensor on the
    meta device is named (a RuntimeError from Tensor.item() before)."""
    lrnn, mini, perm = _model("parity")
    p = get("parity")
    assert p.accepts(torch.tensor([1, 1, 1])) == p.accepts(np.array([1, 1, 1])) == p.accepts("111")
    words = [torch.tensor([1, 1]), torch.tensor([1]), torch.tensor([], dtype=torch.long)]
    out = run(lrnn, words, device="cpu", kernel="reference")
    ref = run(lrnn, [w.numpy() for w in words], device="cpu", kernel="reference")
    assert out.accepted_final.tolist() == ref.accepted_final.tolist()
    assert out.lengths.tolist() == [2, 1, 0]
    with pytest.raises(KernelInputError, match="meta device"):
        run(lrnn, [torch.ones(2, dtype=torch.long, device="meta")], device="cpu")
    with pytest.raises(KernelInputError, match="1-D integer symbol indices, got a tensor of "
                                               "torch.bfloat16"):       # numpy has no bf16
        run(lrnn, [torch.tensor([0, 1], dtype=torch.bfloat16)], device="cpu")
    with pytest.raises(KernelDeviceError, match="meta device"):
        run(lrnn, torch.ones(1, 3, dtype=torch.long, device="meta"), device="cpu")
