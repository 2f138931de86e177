"""DFA -> linear RNN constructions: GH factors, group and cascade constructions, exporters.

>>> from statetrack.automata import DFA
>>> from statetrack.constructions import compile
>>> m = compile(DFA([[0, 1], [1, 0]], accepting=[1], alphabet="01"))
>>> m.width, m.n_h, m.accepts("111")
(2, 1, True)

Modules: :mod:`~statetrack.constructions.lrnn` (the typed model), ``group`` (Theorem 3),
``diagonal`` (diagonal and rotation forms), ``mamba`` (Mamba's ``Diag(2 s - 1)``
parametrization: parity and ``Z_2`` counters, exactly), ``faithful`` (a small faithful permutation
action of the transition group), ``reflections`` (Theorem 6: addition modulo m with two
layers of reflections), ``compile``, ``export`` (DeltaProduct tensors,
tables, state dicts), ``io`` (construction files, read unverified; the safe loader is
:func:`statetrack.theory.proof.load_verified`), ``certificate`` (the proof certificate as
data), ``exact_text`` (the whitelist parser of stored numbers), ``floats`` (re-exports
:mod:`statetrack.floats`, the number formats), ``float_exact`` (the proof that a float run is
the exact run: ``LRNN.exact_in_floats``), ``precision`` (float horizons), ``errors``.
"""

from .cascade import cascade_construction, compile_cascade
from .certificate import Certificate
from .compile import FORMS, compile, compile_dfa
from .errors import (
    AlphabetMismatchError,
    ArgumentValueError,
    BackendError,
    CascadeError,
    CascadeLimitError,
    ConstructionError,
    ConstructionFileError,
    ConstructionSizeError,
    EigenvalueRangeError,
    ExactSizeError,
    ExactValueError,
    FactorMismatchError,
    FormatRangeError,
    FormError,
    InputTypeError,
    LayerIndexError,
    MissingGeneratorError,
    NotAGroupError,
    ReachableLimitError,
    ReadoutError,
    ShapeError,
    StoredNumberSizeError,
    UnknownTokenError,
    UnsupportedDtypeError,
)
from .faithful import faithful_construction
from .group import group_construction
from .reflections import modular_addition_construction
from .lrnn import LRNN, DeltaStep, ExactTrace, FloatTrace, Layer, Readout
from .mamba import MambaForm, MambaProof, mamba_construction, verify_mamba_form

__all__ = [
    "faithful_construction", "group_construction", "cascade_construction", "compile_cascade",
    "modular_addition_construction",
    "compile", "compile_dfa", "FORMS",
    "MambaForm", "MambaProof", "mamba_construction", "verify_mamba_form",
    "LRNN", "Layer", "Readout", "DeltaStep", "ExactTrace", "FloatTrace", "Certificate",
    "AlphabetMismatchError", "ArgumentValueError", "BackendError", "CascadeError", "CascadeLimitError", "ConstructionError", "ConstructionFileError",
    "ConstructionSizeError",
    "EigenvalueRangeError", "ExactSizeError", "ExactValueError", "FactorMismatchError", "FormError", "FormatRangeError",
    "InputTypeError", "LayerIndexError", "MissingGeneratorError", "NotAGroupError", "ReachableLimitError", "ReadoutError", "ShapeError", "StoredNumberSizeError",
    "UnknownTokenError",
    "UnsupportedDtypeError",
]
