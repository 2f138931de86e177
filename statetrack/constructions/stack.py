r"""Running a stack of layers: the one rule that connects them, whatever the arithmetic.

The rule (see :mod:`statetrack.constructions.lrnn`): layer 0 reads the input symbols; layer
``l > 0`` reads at time ``t`` the token

.. math::

    x^{(l)}_t = \mathrm{token\_map}_l[x_t][c_{l-1}(t)],

a function of the input symbol ``x_t`` and of the output class ``c_{l-1}(t)`` of layer
``l - 1`` at the *same* time ``t``, after its update (never an earlier time); the top layer's
class decides acceptance (``accepting[c]``) and the DFA state (``state_map[c]``).

Every runner of stacked layers is a use of one of the two functions here; they differ only in
the arithmetic of one layer, which the caller passes in:

* :func:`run_stack`, layer-wise over whole sequences: the caller's ``run_layer(l, tokens)``
  runs layer ``l`` on a batch of token sequences ``[N, T]`` and returns its output classes
  ``[N, T + 1]`` (position 0: the initial state's class). Arrays are numpy arrays or torch
  tensors (anything that supports ``a[i, j]`` indexing with integer arrays), so it serves the
  float reference (:meth:`~statetrack.constructions.lrnn.LRNN.evaluate_float`), the kernel
  runner (:func:`statetrack.kernels.runner.run`) and the torch module
  (``ConstructedLRNN.forward``) alike. Layer-wise is possible because a layer's tokens
  depend on lower layers only at the same time step.
* :func:`step_stack`, step-wise, one input symbol through every layer: for the exact stepper
  (:class:`~statetrack.constructions.exact.ExactRunner`, whose hashable joint states the
  breadth-first proof in :func:`statetrack.theory.proof.verify` explores) and the
  finite-precision models of :mod:`statetrack.theory.finite_precision`. The caller passes
  ``apply(l, token, state) -> state``, ``output(l, state) -> class`` and
  ``read(l, symbol, class) -> token``.

Examples
--------
Two layers as lookup tables: layer 0 counts its tokens mod 2, layer 1 is told by its token
map to read ``"odd"`` (token 1) exactly when layer 0's class is 1, and counts those mod 3:

>>> import numpy as np
>>> def run_layer(l, tokens):                      # classes [N, T + 1]
...     m = 2 if l == 0 else 3
...     counts = np.concatenate([np.zeros((len(tokens), 1), int), np.cumsum(tokens, 1)], 1)
...     return counts % m
>>> token_maps = [None, np.array([[0, 1], [0, 1]])]  # [symbol][class of layer 0]
>>> classes = run_stack(token_maps, np.array([[1, 1, 1, 0, 1]]), run_layer)
>>> classes[0].tolist(), classes[1].tolist()
([[0, 1, 0, 1, 1, 0]], [[0, 1, 1, 2, 0, 0]])

The same stack, one symbol at a time (states are the counts):

>>> states, outs = (0, 0), []
>>> for a in [1, 1, 1, 0, 1]:
...     states, cls, toks = step_stack(
...         a, states, apply=lambda l, tok, s: s + tok,
...         output=lambda l, s: s % (2 if l == 0 else 3),
...         read=lambda l, a, c: int(token_maps[l][a][c]))
...     outs.append(cls[1])
>>> outs
[1, 1, 2, 0, 0]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Sequence, TypeVar

if TYPE_CHECKING:
    import numpy as np

    from .model import Layer

__all__ = ["run_stack", "step_stack", "token_map_arrays"]

A = TypeVar("A")  # an integer array type: numpy.ndarray or torch.Tensor
S = TypeVar("S")  # one layer's state in the caller's arithmetic
T = TypeVar("T")  # a token
C = TypeVar("C")  # an output (class)


def run_stack(token_maps: Sequence[A | None], symbols: A,
              run_layer: Callable[[int, A], A]) -> list[A]:
    """Run every layer over whole sequences; returns each layer's classes ``[N, T + 1]``.

    Parameters
    ----------
    token_maps : sequence, one entry per layer
        ``None`` for layer 0; for layer ``l > 0`` an integer array ``[n_symbols,
        n_classes of layer l - 1]`` of the same kind (and device) as ``symbols``
        (:func:`token_map_arrays` gives them as numpy arrays).
    symbols : integer array ``[N, T]``
        Input symbol indices.
    run_layer : callable ``(l, tokens [N, T]) -> classes [N, T + 1]``
        One layer in the caller's arithmetic; it may record more (states, kernel names) on
        the side.

    Returns
    -------
    list of arrays
        Per layer, its output classes; the last is the top layer's.

    Examples
    --------
    >>> import numpy as np
    >>> one = run_stack([None], np.array([[1, 0]]), lambda l, tok: np.pad(tok, ((0, 0), (1, 0))))
    >>> [c.tolist() for c in one]
    [[[0, 1, 0]]]
    """
    classes: list[A] = []
    tokens = symbols
    for li, tm in enumerate(token_maps):
        if li:
            tokens = tm[symbols, classes[-1][:, 1:]]  # type: ignore[index]
        classes.append(run_layer(li, tokens))
    return classes


def step_stack(symbol: Any, states: Sequence[S], apply: Callable[[int, Any, S], S],
               output: Callable[[int, S], C],
               read: Callable[[int, Any, C], Any]) -> tuple[tuple[S, ...], tuple[C, ...],
                                                            tuple[Any, ...]]:
    """One input symbol through every layer: ``(new states, outputs, tokens read)``.

    Layer ``l`` reads ``symbol`` (``l = 0``) or ``read(l, symbol, output of layer l - 1)``,
    updates its state with ``apply(l, token, state)`` and outputs ``output(l, new state)``.

    Examples
    --------
    >>> step_stack("a", ("",), apply=lambda l, tok, s: s + tok, output=lambda l, s: len(s),
    ...            read=None)
    (('a',), (1,), ('a',))
    """
    new = []
    outs: list[C] = []
    toks = []
    tok = symbol
    for li, s in enumerate(states):
        if li:
            tok = read(li, symbol, outs[-1])
        s = apply(li, tok, s)
        new.append(s)
        outs.append(output(li, s))
        toks.append(tok)
    return tuple(new), tuple(outs), tuple(toks)


def token_map_arrays(layers: Sequence[Layer]) -> list[np.ndarray | None]:
    """The layers' token maps as int64 numpy arrays (``None`` for layer 0).

    Examples
    --------
    >>> from statetrack.constructions.examples import two_layer_example
    >>> [None if t is None else t.shape for t in token_map_arrays(two_layer_example().layers)]
    [None, (2, 2)]
    """
    import numpy as np

    return [None if li == 0 or layer.token_map is None
            else np.asarray(layer.token_map, dtype=np.int64) for li, layer in enumerate(layers)]
