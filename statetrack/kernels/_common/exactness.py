"""A warning when a constructed model runs through the kernels in a format where its float run
is not proved exact (:class:`~statetrack.kernels.errors.InexactRunWarning`).

The integer forms (``"permutation"``, ``"faithful"``, ``"cascade"``, ``"diagonal"`` while its
codes fit) are proved exact in every format; the ``"rotation"`` and ``"reflections"`` forms
and normalized keys are not (irrational weights), and their kernel runs drift from the DFA
after some length (:func:`statetrack.constructions.precision.float_horizon`). The proof is
:meth:`statetrack.constructions.model.LRNN.float_exactness` (cached on the model), with the
weights in the table format and the arithmetic in the kernels' state format (float32, or
float64 for float64 tables).
"""

from __future__ import annotations

import warnings
from typing import Any

from ..errors import InexactRunWarning

__all__ = ["warn_if_inexact"]


def warn_if_inexact(lrnn: Any, dtype: Any, where: str, *, stacklevel: int = 3) -> bool:
    """Warn (:class:`InexactRunWarning`) when ``lrnn``'s float run with weights in ``dtype``
    and the kernels' state format is not proved exact; return whether it is proved.

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
    """
    from statetrack.floats import dtype_name

    w = dtype_name(dtype)
    s = "float64" if w == "float64" else "float32"
    ex = lrnn.float_exactness(formats=tuple(dict.fromkeys((w, s))))
    if ex.proved(w, s):
        return True
    warnings.warn(
        f"{where}: the {lrnn.form!r} model's float run with {w} weights and {s} state is not "
        f"proved exact ({ex.reason(w, s)}); its outputs can differ from the DFA's on long "
        f"words (statetrack.constructions.precision.float_horizon(lrnn, {w!r}, "
        f"state_dtype={s!r}) gives the proven and simulated lengths); the integer forms "
        f"('permutation', 'faithful', 'cascade') are exact in every format",
        InexactRunWarning, stacklevel=stacklevel)
    return False
