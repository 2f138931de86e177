"""Theorem 4's cascade stacks through the kernels: every layer, the token maps between them
applied on the device, the PyTorch reference, the tabled and the recurrent Triton paths
(through Triton's interpreter on the CPU in CI, on CUDA where there is one), and the stack as
a torch module."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from statetrack.automata import families, from_regex
from statetrack.constructions import compile
from statetrack.kernels import ConstructedLRNN, run
from statetrack.kernels.runner import dfa_states

SPECS = ["contains(abb)", "tomita(3)", "modular_arithmetic(5)", "flip_flop_language"]
#: Through Triton's interpreter on the CPU (slow): two stacks, 7 and 5 layers.
CPU_SPECS = ["contains(abb)", "modular_arithmetic(5)"]


def _model(spec):
    dfa = families.get(spec)
    lrnn = compile(dfa)
    assert lrnn.form == "cascade" and lrnn.depth > 1 or spec == "flip_flop"
    mini = dfa.minimize()
    perm = np.array([mini.alphabet.index(s) for s in lrnn.alphabet], dtype=np.int64)
    return lrnn, mini, perm


@pytest.mark.parametrize("kernel", ["reference", "tabled", "recurrent"])
@pytest.mark.parametrize("spec", CPU_SPECS)
def test_cascade_stack_runs_exactly_through_each_kernel(spec, kernel, device):
    lrnn, mini, perm = _model(spec)
    T = 48 if device.type == "cpu" and kernel != "reference" else 400
    ids = np.random.default_rng(len(spec)).integers(0, lrnn.n_symbols, size=(2, T))
    out = run(lrnn, ids, device=device, dtype=torch.bfloat16, kernel=kernel)
    assert out.kernels == (kernel,) * lrnn.depth
    want_states, want_acc = dfa_states(mini, perm[ids])
    assert (out.states == want_states).all() and (out.accepted == want_acc).all()
    # every layer's classes are what the exact float64 model gives
    ref = lrnn.evaluate_float(ids, "float64")
    for got, exact in zip(out.classes, ref.outputs):
        assert (got == exact).all()


def test_cascade_stack_as_a_torch_module():
    d = from_regex("(a|b)*abb")
    model = ConstructedLRNN.from_construction(compile(d), mode="reference")
    ids = torch.as_tensor(np.random.default_rng(0).integers(0, 2, size=(3, 50)))
    out = model(ids)
    want = d.minimize().run(ids.numpy())
    assert (out.states.numpy() == want.states).all()
    assert (out.accepted.numpy()[:, -1] == want.accepted).all()


@pytest.mark.gpu
@pytest.mark.parametrize("kernel", ["tabled", "recurrent"])
@pytest.mark.parametrize("spec", SPECS)
def test_gpu_cascade_long_words_exact(spec, kernel):
    lrnn, mini, perm = _model(spec)
    ids = np.random.default_rng(0).integers(0, lrnn.n_symbols, size=(2, 10 ** 6))
    out = run(lrnn, ids, device="cuda", dtype=torch.bfloat16, kernel=kernel)
    assert out.backend == "triton" and out.kernels == (kernel,) * lrnn.depth
    want_states, want_acc = dfa_states(mini, perm[ids])
    assert int((out.states != want_states).sum()) == 0
    assert int((out.accepted != want_acc).sum()) == 0


def _theorem4_stack(spec):
    """The stack the thm4 check proves: a layer per holonomy component, packed (d = 1)."""
    from statetrack.automata import holonomy_decomposition
    from statetrack.constructions.cascade import ComponentCascade, cascade_construction

    mini = families.get(spec).minimize()
    casc = holonomy_decomposition(mini)
    split = ComponentCascade(casc, len(mini.alphabet), max_width=mini.n_states)
    lrnn = cascade_construction(split, mini,
                                minimize=False, packed=True)
    assert max(layer.value_dim for layer in lrnn.layers) == 1
    perm = np.array([mini.alphabet.index(s) for s in lrnn.alphabet], dtype=np.int64)
    return lrnn, mini, perm


@pytest.mark.parametrize("kernel", ["reference", "tabled"])
@pytest.mark.parametrize("spec", ["tomita(3)", "modular_arithmetic(5)"])
def test_theorem4_packed_stack_runs_exactly_through_the_kernels(spec, kernel, device):
    """Theorem 4's own stack (d = 1, a layer per component; tomita(3) 11 layers) runs through
    the kernels in bfloat16 and gives the DFA's states at every position."""
    lrnn, mini, perm = _theorem4_stack(spec)
    T = 40 if device.type == "cpu" and kernel != "reference" else 400
    ids = np.random.default_rng(len(spec)).integers(0, lrnn.n_symbols, size=(2, T))
    out = run(lrnn, ids, device=device, dtype=torch.bfloat16, kernel=kernel)
    assert out.kernels == (kernel,) * lrnn.depth
    want_states, want_acc = dfa_states(mini, perm[ids])
    assert (out.states == want_states).all() and (out.accepted == want_acc).all()


@pytest.mark.gpu
@pytest.mark.parametrize("spec", SPECS)
def test_gpu_theorem4_packed_stack_long_words_exact(spec):
    lrnn, mini, perm = _theorem4_stack(spec)
    ids = np.random.default_rng(0).integers(0, lrnn.n_symbols, size=(2, 10 ** 6))
    out = run(lrnn, ids, device="cuda", dtype=torch.bfloat16, kernel="tabled")
    want_states, _ = dfa_states(mini, perm[ids])
    assert int((out.states != want_states).sum()) == 0
