"""Theorem 6's two-layer reflection stack (addition modulo m) through the kernels: the token
map between the layers applied on the device, the PyTorch reference, the tabled and the
recurrent Triton paths (Triton's interpreter on the CPU), and the stack as a torch module.
Its weights are irrational for m > 2, so the runs are float32/float64 runs of bounded length
(the decoded classes must still equal the exact model's and the DFA's)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from statetrack.automata import families
from statetrack.constructions.reflections import modular_addition_construction
from statetrack.kernels import ConstructedLRNN, InexactRunWarning, run
from statetrack.kernels.runner import dfa_states


def _model(m):
    dfa = families.get(f"cyclic({m}, all)")
    lrnn = modular_addition_construction(dfa)
    mini = dfa.minimize()
    perm = np.array([mini.alphabet.index(s) for s in lrnn.alphabet], dtype=np.int64)
    return lrnn, mini, perm


@pytest.mark.parametrize("kernel", ["reference", "tabled", "recurrent"])
@pytest.mark.parametrize("m", [2, 5])
def test_reflection_stack_runs_through_each_kernel(m, kernel, device):
    lrnn, mini, perm = _model(m)
    T = 48 if device.type == "cpu" and kernel != "reference" else 400
    ids = np.random.default_rng(m).integers(0, lrnn.n_symbols, size=(2, T))
    dtype = torch.bfloat16 if m == 2 else torch.float32     # m = 2: dyadic weights
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", InexactRunWarning)
        out = run(lrnn, ids, device=device, dtype=dtype, kernel=kernel)
    # m = 2 is exact in bfloat16 (no warning); m = 5's reflections are irrational
    assert [w.category for w in caught if w.category is InexactRunWarning] == \
        ([] if m == 2 else [InexactRunWarning])
    assert out.kernels == (kernel,) * 2
    want_states, want_acc = dfa_states(mini, perm[ids])
    assert (out.states == want_states).all() and (out.accepted == want_acc).all()
    assert (out.classes[0] == np.arange(T + 1) % 2).all()       # layer 0: the parity
    ref = lrnn.evaluate_float(ids, "float64")
    for got, exact in zip(out.classes, ref.outputs):
        assert (got == exact).all()


def test_reflection_stack_long_float64_reference():
    lrnn, mini, perm = _model(7)
    ids = np.random.default_rng(7).integers(0, 7, size=(2, 5000))
    with pytest.warns(InexactRunWarning):
        out = run(lrnn, ids, device="cpu", dtype=torch.float64, kernel="reference")
    want_states, _ = dfa_states(mini, perm[ids])
    assert (out.states == want_states).all()


def test_reflection_stack_as_a_torch_module():
    lrnn, mini, perm = _model(6)
    with pytest.warns(InexactRunWarning):
        model = ConstructedLRNN.from_construction(lrnn, mode="reference", dtype=torch.float32)
    ids = torch.as_tensor(np.random.default_rng(0).integers(0, 6, size=(3, 60)))
    out = model(ids)
    want = dfa_states(mini, perm[ids.numpy()])[0]
    assert (out.states.numpy() == want).all()
