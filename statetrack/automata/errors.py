"""Exception classes of :mod:`statetrack.automata`.

Every error a user can trigger through the public API is one of these (or a subclass of
:class:`AutomatonError`), with a message that says what was wrong and where. They subclass
``ValueError`` (or ``KeyError`` for lookups) so generic handlers keep working.
:class:`AutomatonError` and :class:`UnknownSymbolError` (shared with the kernels) are defined
in :mod:`statetrack.errors`, under the package's root :class:`~statetrack.errors.StatetrackError`.
"""

from __future__ import annotations

from statetrack.errors import AutomatonError, PlainKeyMessage, UnknownSymbolError


#: The caret line shows at most this many characters of the text either side of the column.
_CARET_CONTEXT = 30


def _at_column(message: str, text: str, column: int | None) -> str:
    """``message`` with " at column N" and, when ``text`` is given, a caret under column N
    (a long text shown as a window around the column, ``...`` where it is cut).

    >>> print(_at_column("bad", "a" * 100 + "(" + "b" * 100, 101))
    bad at column 101
      ...aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa(bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb...
                                       ^
    """
    if column is None:
        return message
    out = f"{message} at column {column}"
    if text:
        lo = max(0, column - 1 - _CARET_CONTEXT)
        hi = min(len(text), column + _CARET_CONTEXT)
        head = "..." if lo > 0 else ""
        shown = head + text[lo:hi] + ("..." if hi < len(text) else "")
        out += f"\n  {shown}\n  {' ' * (len(head) + column - 1 - lo)}^"
    return out


class TransitionShapeError(AutomatonError):
    """The transition table is not a 2-D integer array ``[n_states, n_symbols]``."""


class TransitionTargetError(AutomatonError):
    """A transition points outside ``[0, n_states)`` (``-1`` marks a missing one)."""


class StartStateError(AutomatonError):
    """The start state is not one of the automaton's states."""


class AcceptingStatesError(AutomatonError):
    """The accepting set names states that do not exist or has the wrong shape."""


class AlphabetError(AutomatonError):
    """The alphabet is empty, has duplicate symbols, non-string symbols, or does not match."""


class SerializationError(AutomatonError):
    """A serialized automaton is malformed, foreign, or of an unsupported version."""


class RegexError(AutomatonError):
    """A regular expression cannot be parsed; ``column`` is the 1-based position."""

    def __init__(self, message: str, pattern: str = "", column: int | None = None):
        self.pattern = pattern
        self.column = column
        super().__init__(_at_column(message, pattern, column))


class MonoidLimitError(AutomatonError):
    """The transition monoid has more elements than the ``limit`` allowed."""


class UnknownLanguageError(PlainKeyMessage, AutomatonError, KeyError):
    """A name is not in the registry of languages (:mod:`statetrack.automata.families`)."""

    #: Close matches of the unknown name (set by :func:`statetrack.automata.families.get`).
    suggestions: list[str]


class AutomatonSizeError(AutomatonError):
    """More states are reachable than a builder's ``max_states`` allows."""


class AutomatonLabelError(AutomatonError):
    """State labels do not match the number of states."""


class StrategyArgumentError(AutomatonError):
    """A hypothesis strategy of :mod:`statetrack.automata.strategies` got inconsistent bounds."""


class FamilyParameterError(AutomatonError):
    """A family of :mod:`statetrack.automata.families` got a bad parameter or a bad spec.

    ``param`` names the parameter (when one is at fault); ``column`` is the 1-based position
    in ``spec`` (when the error comes from parsing a spec string such as ``"cyclic(m=0)"``).
    """

    def __init__(self, message: str, spec: str = "", column: int | None = None,
                 param: str | None = None):
        self.spec = spec
        self.column = column
        self.param = param
        super().__init__(_at_column(message, spec, column))


class TransformationError(AutomatonError):
    """A transformation (or a set of generators) is malformed: not a 1-D integer array,
    lengths that disagree, or values outside ``[0, n)``."""


class NotInMonoidError(PlainKeyMessage, AutomatonError, KeyError):
    """A transformation is well formed but is not an element of the monoid asked."""


class ElementIndexError(AutomatonError, IndexError):
    """An element index of a :class:`~statetrack.automata.monoid.TransitionMonoid` is out of
    range."""


class DecompositionLimitError(AutomatonError):
    """The holonomy decomposition needs a skeleton (images of the state set, plus singletons)
    larger than the ``max_skeleton`` allowed."""


class HolonomyInputError(AutomatonError, TypeError):
    """An argument of :mod:`statetrack.automata.holonomy` has the wrong type or value: not a
    DFA, not a :class:`~statetrack.automata.holonomy.Cascade`, a bad ``max_skeleton``."""


class CascadeStateError(AutomatonError):
    """A cascade state, level, letter or context (tuple of lower-level states) is malformed
    or out of range for the :class:`~statetrack.automata.holonomy.Cascade` asked."""


class AutomatonArgumentError(AutomatonError, TypeError):
    """An argument of a :class:`~statetrack.automata.DFA` method is of the wrong kind: not a
    DFA where one is compared or combined with this one, an unknown drawing layout."""


class WordTypeError(AutomatonError, TypeError):
    """A word is not a str, a sequence of symbols or indices, or a 1-D integer array (e.g.
    None or an int)."""
