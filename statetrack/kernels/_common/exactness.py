"""A warning when a constructed model runs through the kernels in a format where its float run
is not proved exact (:class:`~statetrack.kernels.errors.InexactRunWarning`).

The forms with integer weights (``"permutation"`` and ``"faithful"`` without normalized keys,
``"cascade"``, ``"diagonal"`` while its codes fit) are proved exact in every format; the
``"rotation"`` and ``"reflections"`` forms and normalized keys are not (irrational weights),
and their kernel runs drift from the DFA after some length. The proof is
:meth:`statetrack.constructions.model.LRNN.float_exactness` (cached on the model), with the
weights in the table format and the arithmetic in the kernels' state format (float32, or
float64 for float64 tables). It covers the tables as the construction gives them (``beta``
itself, ``beta_mode="raw"``); a layer that computes ``beta`` through a sigmoid of a logit
adds that rounding, which the proof does not see.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

from ..errors import InexactRunWarning

__all__ = ["warn_if_inexact"]


def _one_layer(lrnn: Any, layer: int) -> Any:
    """Layer ``layer`` of ``lrnn`` as a one-layer model over its own tokens (every token
    sequence, a superset of the sequences the stack feeds it: a proof there holds in the
    stack)."""
    from statetrack.constructions.lrnn import LRNN

    ly = lrnn.layers[layer]
    if layer == 0 and lrnn.depth == 1:
        return lrnn
    return LRNN(alphabet=ly.tokens, layers=[dataclasses.replace(ly, token_map=None)],
                accepting=[False] * ly.readout.n_classes, form=lrnn.form)


def warn_if_inexact(lrnn: Any, dtype: Any, where: str, *, layer: int | None = None,
                    stacklevel: int = 3) -> bool:
    """Warn (:class:`InexactRunWarning`) when ``lrnn``'s float run (or only layer ``layer``'s,
    run on every token sequence) with weights in ``dtype`` and the kernels' state format is
    not proved exact; return whether it is proved.

    Examples
    --------
    >>> import warnings
    >>> from statetrack.automata import families
    >>> from statetrack.constructions import compile
    >>> warn_if_inexact(compile(families.get("cyclic(5)")), "bfloat16", "run")
    True
    >>> with warnings.catch_warnings(record=True) as w:
    ...     warnings.simplefilter("always")
    ...     warn_if_inexact(compile(families.get("cyclic(5)"), form="rotation"), "bfloat16", "run")
    False
    >>> print(w[0].message)                                 # doctest: +ELLIPSIS
    run: the 'rotation' model's float run with bfloat16 weights and float32 state is not proved exact (weights: ... irrational ...); ...
    >>> refl = compile(families.get("cyclic(5)"), form="reflections")   # layer 0: a -1 counter
    >>> warn_if_inexact(refl, "bfloat16", "layer", layer=0)
    True
    """
    from statetrack.floats import dtype_name

    w = dtype_name(dtype)
    s = "float64" if w == "float64" else "float32"
    model = lrnn if layer is None else _one_layer(lrnn, layer)
    ex = model.float_exactness(formats=tuple(dict.fromkeys((w, s))))
    if ex.proved(w, s):
        return True
    reason = ex.reason(w, s)
    if layer is None or lrnn.depth == 1:
        what = f"the {lrnn.form!r} model's"
    else:
        what = f"layer {layer} of the {lrnn.form!r} model: its"
        reason = reason.replace("layer 0, ", f"layer {layer}, ", 1)   # the one-layer model's 0
    if lrnn.depth == 1:
        how = (f"statetrack.constructions.precision.float_horizon(lrnn, {w!r}, "
               f"state_dtype={s!r}) gives the proven and simulated lengths")
    else:
        how = (f"lrnn.evaluate_float(words, {w!r}) against the DFA shows where it drifts; "
               f"float_horizon takes one-layer models only")
    warnings.warn(
        f"{where}: {what} float run with {w} weights and {s} state is not proved exact "
        f"({reason}); its outputs can differ from the DFA's on long words ({how}); "
        f"the forms with integer weights ('permutation' and 'faithful' without normalized "
        f"keys, 'cascade') are proved exact in every format",
        InexactRunWarning, stacklevel=stacklevel)
    return False
