"""Deterministic finite automata: build, minimize, compare, classify, serialize, draw.

>>> from statetrack.automata import DFA, families, classify
>>> DFA([[0, 1], [1, 0]], accepting=[1], alphabet="01").accepts("111")
True
>>> classify(families.get("symmetric(4)")).short()
'group(24)'
"""

from . import families
from .alphabet import Alphabet, SymbolErrors
from .dfa import DFA, RunResult
from .errors import (
    AcceptingStatesError,
    AutomatonArgumentError,
    AlphabetError,
    AutomatonError,
    AutomatonLabelError,
    AutomatonSizeError,
    CascadeStateError,
    DecompositionLimitError,
    ElementIndexError,
    FamilyParameterError,
    HolonomyInputError,
    MonoidLimitError,
    NotInMonoidError,
    RegexError,
    SerializationError,
    StartStateError,
    StrategyArgumentError,
    TransformationError,
    TransitionShapeError,
    TransitionTargetError,
    UnknownLanguageError,
    UnknownSymbolError,
    WordTypeError,
)
from .regex import from_regex
from .holonomy import (
    Cascade,
    Component,
    CoverCounterexample,
    CoverProof,
    GroupName,
    Level,
    holonomy_decomposition,
    verify_cover,
)
from .monoid import MaximalSubgroup, MonoidClass, TransitionMonoid, classify, compose, transition_monoid

__all__ = [
    "DFA", "RunResult", "Alphabet", "SymbolErrors", "families", "from_regex",
    "transition_monoid", "classify", "compose", "TransitionMonoid", "MonoidClass",
    "MaximalSubgroup",
    "holonomy_decomposition", "verify_cover", "Cascade", "Level", "Component", "GroupName",
    "CoverProof", "CoverCounterexample",
    "AcceptingStatesError", "AlphabetError", "AutomatonArgumentError", "AutomatonError", "AutomatonLabelError",
    "AutomatonSizeError", "CascadeStateError", "DecompositionLimitError", "ElementIndexError",
    "FamilyParameterError", "HolonomyInputError", "MonoidLimitError",
    "NotInMonoidError", "RegexError", "SerializationError", "StartStateError", "StrategyArgumentError",
    "TransformationError", "TransitionShapeError", "TransitionTargetError",
    "UnknownLanguageError", "UnknownSymbolError", "WordTypeError",
]
