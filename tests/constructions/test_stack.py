"""Tests of the stack runner (statetrack/constructions/stack.py).

The layer-wise form (numpy and torch) and the step-wise form must give the same classes as a
plain-Python statement of the stacking rule, and every runner built on them must agree with
the exact run on a model where layer 1 really reads layer 0.
"""

from __future__ import annotations

import numpy as np
import pytest

from statetrack.constructions.examples import two_layer_example
from statetrack.constructions.stack import run_stack, step_stack, token_map_arrays


def _random_stack(rng: np.random.Generator, depth: int, n_sym: int):
    """Per layer: a transition table [states, tokens] and a token map [n_sym, classes below]."""
    n_states = [int(rng.integers(1, 5)) for _ in range(depth)]
    n_tokens = [n_sym] + [int(rng.integers(1, 4)) for _ in range(depth - 1)]
    delta = [rng.integers(0, n_states[li], size=(n_states[li], n_tokens[li]))
             for li in range(depth)]
    tmaps = [None] + [rng.integers(0, n_tokens[li], size=(n_sym, n_states[li - 1]))
                      for li in range(1, depth)]
    return delta, tmaps


def _by_definition(delta, tmaps, word):
    """Classes [layer][t] of every layer (class = state), straight from the rule."""
    depth = len(delta)
    state = [0] * depth
    classes = [[0] for _ in range(depth)]
    for x in word:
        below = None
        for li in range(depth):
            tok = x if li == 0 else tmaps[li][x][below]
            state[li] = int(delta[li][state[li], tok])
            below = state[li]
            classes[li].append(below)
    return classes


def _table_layer(delta):
    def run_layer(li, tokens):
        n, t_max = tokens.shape
        out = np.zeros((n, t_max + 1), dtype=np.int64)
        for t in range(t_max):
            out[:, t + 1] = delta[li][out[:, t], tokens[:, t]]
        return out
    return run_layer


@pytest.mark.parametrize("seed", range(8))
def test_layer_wise_and_step_wise_match_the_rule(seed):
    rng = np.random.default_rng(seed)
    depth, n_sym = int(rng.integers(1, 5)), int(rng.integers(1, 4))
    delta, tmaps = _random_stack(rng, depth, n_sym)
    words = rng.integers(0, n_sym, size=(3, int(rng.integers(0, 12))))
    want = [_by_definition(delta, tmaps, w) for w in words.tolist()]
    got = run_stack(tmaps, words, _table_layer(delta))
    assert len(got) == depth
    for li in range(depth):
        assert got[li].tolist() == [w[li] for w in want]
    for b, w in enumerate(words.tolist()):
        states = (0,) * depth
        for t, x in enumerate(w):
            states, outs, toks = step_stack(
                x, states, apply=lambda li, tok, s: int(delta[li][s, tok]),
                output=lambda li, s: s, read=lambda li, x, c: int(tmaps[li][x][c]))
            assert list(outs) == [want[b][li][t + 1] for li in range(depth)]
            assert toks[0] == x


def test_layer_wise_on_torch_tensors():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    delta, tmaps = _random_stack(rng, 3, 2)
    words = rng.integers(0, 2, size=(4, 9))
    want = run_stack(tmaps, words, _table_layer(delta))
    run_np = _table_layer(delta)
    got = run_stack([None if m is None else torch.as_tensor(m) for m in tmaps],
                    torch.as_tensor(words),
                    lambda li, tok: torch.as_tensor(run_np(li, tok.numpy())))
    for a, b in zip(want, got):
        assert isinstance(b, torch.Tensor) and a.tolist() == b.tolist()


def test_every_runner_agrees_with_the_exact_run_on_two_layers():
    """ExactRunner (step-wise), evaluate_float (layer-wise numpy), the finite-precision model
    (step-wise, its own arithmetic) and the kernel runner (layer-wise torch) on a stack where
    layer 1 reads layer 0."""
    torch = pytest.importorskip("torch")
    from statetrack.kernels.runner import run
    from statetrack.theory.finite_precision import from_lrnn
    from statetrack.theory.finite_precision import run as fp_run

    m = two_layer_example()
    assert [t is None for t in token_map_arrays(m.layers)] == [True, False]
    rng = np.random.default_rng(0)
    words = rng.integers(0, 2, size=(3, 25))
    exact = [m.evaluate(w) for w in words]
    ft = m.evaluate_float(words, "bfloat16")
    out = run(m, torch.as_tensor(words), device="cpu", kernel="reference", dtype="float32")
    fp = from_lrnn(m, output="class")
    for b, tr in enumerate(exact):
        for li in range(m.depth):
            assert ft.outputs[li][b].tolist() == list(tr.outputs[li])
            assert out.classes[li][b].tolist() == list(tr.outputs[li])
        assert ft.accepted[b].tolist() == list(tr.accepted)
        assert list(fp_run(fp, [m.alphabet[i] for i in words[b]], "float32").outputs) \
            == list(tr.outputs[-1][1:])
    # layer 1 really depends on layer 0: its tokens are not a function of the symbol alone
    toks = exact[0].tokens[1]
    syms = exact[0].symbols
    assert any(toks[i] != toks[j] for i in range(len(syms)) for j in range(len(syms))
               if syms[i] == syms[j])
