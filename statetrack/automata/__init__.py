"""Deterministic finite automata: build, minimize, compare, serialize, draw.

>>> from statetrack.automata import DFA
>>> DFA([[0, 1], [1, 0]], accepting=[1], alphabet="01").accepts("111")
True
"""

from .dfa import DFA, RunResult
from .errors import (
    AcceptingStatesError,
    AlphabetError,
    AutomatonError,
    AutomatonLabelError,
    AutomatonSizeError,
    MonoidLimitError,
    RegexError,
    SerializationError,
    StartStateError,
    TransitionShapeError,
    TransitionTargetError,
    UnknownLanguageError,
    UnknownSymbolError,
)

__all__ = [
    "DFA", "RunResult",
    "AcceptingStatesError", "AlphabetError", "AutomatonError", "AutomatonLabelError",
    "AutomatonSizeError", "MonoidLimitError", "RegexError", "SerializationError",
    "StartStateError", "TransitionShapeError", "TransitionTargetError",
    "UnknownLanguageError", "UnknownSymbolError",
]
