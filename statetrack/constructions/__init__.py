"""DFA -> linear RNN constructions: GH factors, group and cascade constructions, exporters.

>>> from statetrack.automata import DFA
>>> from statetrack.constructions import compile
>>> m = compile(DFA([[0, 1], [1, 0]], accepting=[1], alphabet="01"))
>>> m.width, m.n_h, m.accepts("111")
(2, 1, True)

Modules: :mod:`~statetrack.constructions.lrnn` (the typed model), ``group`` (Theorem 3),
``diagonal`` (diagonal and rotation forms), ``compile``, ``export`` (DeltaProduct tensors,
tables, state dicts), ``io`` (construction files), ``precision`` (float horizons),
``errors``.
"""

from .compile import FORMS, compile, compile_dfa
from .errors import (
    AlphabetMismatchError,
    ConstructionError,
    ConstructionFileError,
    EigenvalueRangeError,
    ExactValueError,
    FactorMismatchError,
    FormError,
    NotAGroupError,
    ReachableLimitError,
    ReadoutError,
    ShapeError,
    UnknownTokenError,
    UnsupportedDtypeError,
)
from .lrnn import LRNN, DeltaStep, ExactTrace, FloatTrace, Layer, Readout

__all__ = [
    "compile", "compile_dfa", "FORMS",
    "LRNN", "Layer", "Readout", "DeltaStep", "ExactTrace", "FloatTrace",
    "AlphabetMismatchError", "ConstructionError", "ConstructionFileError",
    "EigenvalueRangeError", "ExactValueError", "FactorMismatchError", "FormError",
    "NotAGroupError", "ReachableLimitError", "ReadoutError", "ShapeError", "UnknownTokenError",
    "UnsupportedDtypeError",
]
