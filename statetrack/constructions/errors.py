"""Exception classes of :mod:`statetrack.constructions` (and of the exact verifier).

Every error a user can trigger through the public API of the constructions, the exporters,
the construction file format and :mod:`statetrack.theory.proof` is one of these, with a
message that says what was wrong and where. They subclass ``ValueError`` so generic handlers
keep working. :class:`ConstructionError`, :class:`UnknownTokenError` (shared with
:mod:`statetrack.theory`) and :class:`UnsupportedDtypeError` (raised by
:mod:`statetrack.floats`; ``UnsupportedFormatError`` in the theory) are defined in
:mod:`statetrack.errors`, under the package's root :class:`~statetrack.errors.StatetrackError`.
"""

from __future__ import annotations

from statetrack.errors import ConstructionError, UnknownTokenError, UnsupportedDtypeError


class ShapeError(ConstructionError):
    """A key, value, initial state, query or code has the wrong shape for its layer."""


class EigenvalueRangeError(ConstructionError):
    """A delta step has ``beta * ||k||^2`` outside [0, 2] (eigenvalue outside [-1, 1]) or
    ``beta`` outside [0, 2] (the range the kernels accept)."""


class ExactValueError(ConstructionError):
    """A weight is not an exact real number (a float, NaN, a symbol, a complex number), or
    is not in the number field the model computes in."""


class ExactSizeError(ExactValueError):
    """A stored exact number is over the reader's size limits (characters, syntax nodes,
    nesting, digits of a literal, an exponent, the bits of a power or a rational);
    ``reason`` says which, e.g. ``"404 syntax nodes (at most 400)"``."""

    def __init__(self, message: str, reason: str = ""):
        super().__init__(message)
        self.reason = reason or message

    def __reduce__(self):
        return (type(self), (str(self), self.reason), self.__dict__)


class ReadoutError(ConstructionError):
    """An exact output ``H^T q`` is not one of the readout's codes (the model left the
    states its decoder knows), or the codes are not distinct."""


class ConstructionSizeError(ConstructionError):
    """The construction asked for would be too large to build exactly (its size is given in
    the message, with the budget and what to try instead)."""


class StoredNumberSizeError(ConstructionSizeError):
    """A weight of the construction is an exact number too large to store or prove exactly
    (Theorem 6 at ``m = 60``: sympy writes ``cos(pi/120)`` in nested radicals)."""


class NotAGroupError(ConstructionError):
    """The DFA's transition monoid is not a group (some letter is not a permutation of the
    minimal DFA's states), so the one-layer group construction (Theorem 3) does not apply.
    Such languages need the Krohn-Rhodes cascade construction (Theorem 4)."""


class FormError(ConstructionError):
    """A construction form (``"permutation"``, ``"rotation"``, ``"diagonal"``) does not exist
    for this automaton, or is unknown."""


class FactorMismatchError(ConstructionError):
    """A list of GH factors does not multiply to the matrix it is claimed to equal."""


class ConstructionFileError(ConstructionError):
    """A construction file is corrupt, foreign, of an unsupported version, or does not
    describe a valid construction."""


class ReachableLimitError(ConstructionError):
    """The exact verifier met more reachable states than its ``limit`` allows."""


class AlphabetMismatchError(ConstructionError):
    """A model and a DFA (or a word) do not share the same alphabet."""


class LayerIndexError(ConstructionError, IndexError):
    """A layer index (``layer=``, ``index=``) is not one of the model's layers."""


class BackendError(ConstructionError):
    """An exporter was asked for an unknown array backend (``backend=`` must be ``"auto"``,
    ``"numpy"`` or ``"torch"``)."""


class InputTypeError(ConstructionError, TypeError):
    """An argument has the wrong type: e.g. ``None`` where a model, a DFA or a word is
    expected, or a seed where a ``numpy.random.Generator`` is expected."""


class ArgumentValueError(ConstructionError):
    """A plain argument (a limit, a count) has the right type but a value out of range."""


class MissingGeneratorError(InputTypeError):
    """A function that draws random words was not given its random generator (``rng``):
    randomness is always passed in, never global."""


class FormatRangeError(UnsupportedDtypeError):
    """A model's weights or readout codes overflow a float format (e.g. the permutation
    readout's codes above float16's largest value 65504): runs in that format are refused,
    since ``inf`` weights give NaN outputs that decode to class 0."""


class CascadeError(ConstructionError):
    """A cascade cannot be compiled: a level map that is neither a permutation nor a
    constant, a level too large for exact bfloat16 registers, or a reachable cascade state
    that covers no DFA state."""


class CascadeLimitError(CascadeError):
    """A cascade is over a size limit (more reachable states than ``limit``, a level wider
    than bfloat16's exact integers): not a wrong cascade, one too large to build. Checks
    report it as skipped; every other :class:`CascadeError` is a failure."""
