"""Small hand-built models, for documentation and tests.

>>> from statetrack.constructions.examples import two_layer_example
>>> m = two_layer_example()
>>> m.depth, [layer.width for layer in m.layers]
(2, [2, 3])
"""

from __future__ import annotations

from .lrnn import LRNN, DeltaStep, Layer, Readout

__all__ = ["two_layer_example"]


def two_layer_example() -> LRNN:
    """A two-layer LRNN over ``{a, b}``, the smallest stack in which layer 1 reads layer 0.

    Layer 0 tracks the parity of the ``b``'s (one swap ``I - (e_0 - e_1)(e_0 - e_1)^T`` for
    ``b``); layer 1 counts modulo 3 the ``a``'s read while that parity is odd (a 3-cycle as
    two swaps, token ``inc``; every other (symbol, parity) pair maps to ``id``). The model
    accepts when the count is 0.

    Examples
    --------
    >>> m = two_layer_example()
    >>> m.accepts("ba"), m.accepts("baaa"), m.accepts("aaa")
    (False, True, True)
    """
    swap = DeltaStep(key=[1, -1], beta=1)
    l0 = Layer(tokens=("a", "b"), steps=((), (swap,)), initial_state=[[1], [0]],
               readout=Readout(query=[0, 1], codes=[[0], [1]]))
    cycle = (DeltaStep([0, 1, -1], 1), DeltaStep([1, -1, 0], 1))
    l1 = Layer(tokens=("id", "inc"), steps=((), cycle), initial_state=[[1], [0], [0]],
               readout=Readout(query=[0, 1, 2], codes=[[0], [1], [2]]),
               token_map=[[0, 1], [0, 0]])
    return LRNN(alphabet=("a", "b"), layers=(l0, l1), accepting=(True, False, False),
                state_map=(0, 1, 2))
