"""Exception classes of :mod:`statetrack.theory` (spectra, factorizations, finite precision,
the registry of theorems, figures).

Every error a user can trigger through these modules is one of the classes below, or one of the
classes of :mod:`statetrack.constructions.errors` that mean the same thing there and are
re-exported here so that one ``except`` works for both packages:

* :class:`FactorMismatchError` -- a list of GH factors does not multiply to the matrix it is
  claimed to equal (raised by :func:`statetrack.theory.factorization.check_factorization`);
* :class:`EigenvalueRangeError` -- a claimed GH factor ``I - beta k k^T`` has
  ``beta * ||k||^2`` outside ``[0, 2]``, so it is not a GH matrix.

:class:`TheoryError` and the two classes shared with the constructions are defined in
:mod:`statetrack.errors`, under the package's root :class:`~statetrack.errors.StatetrackError`:

* :class:`UnknownTokenError` -- a token (input symbol, or a decoder output fed to the next
  layer) is not in a layer's alphabet; the same class as
  :class:`statetrack.constructions.errors.UnknownTokenError`;
* :class:`UnsupportedFormatError` -- a number format (dtype) that :mod:`statetrack.floats`
  does not know; another name of
  :class:`statetrack.constructions.errors.UnsupportedDtypeError`.

All of them subclass ``ValueError`` (the lookup errors also ``KeyError``, the dtype error also
``TypeError``) so generic handlers keep working.

Examples
--------
>>> from statetrack.theory.errors import TheoryError, UnsupportedFormatError
>>> issubclass(UnsupportedFormatError, TheoryError) and issubclass(UnsupportedFormatError, TypeError)
True
"""

from __future__ import annotations

from statetrack.constructions.errors import EigenvalueRangeError, FactorMismatchError
from statetrack.errors import PlainKeyMessage, TheoryError, UnknownTokenError
from statetrack.errors import UnsupportedDtypeError as UnsupportedFormatError

__all__ = [
    "TheoryError",
    "MatrixInputError",
    "NotOrthogonalError",
    "NormBoundError",
    "NotAPermutationError",
    "FactorOrderError",
    "FactorMismatchError",
    "EigenvalueRangeError",
    "UnsupportedFormatError",
    "FiniteSetError",
    "ModelError",
    "UnknownTokenError",
    "DecoderError",
    "PeriodLimitError",
    "FormatOverflowError",
    "UnknownTheoremError",
    "NotADFAError",
]


class MatrixInputError(TheoryError):
    """A matrix argument is not a finite, real, square 2-D matrix of the expected size, or a
    mapping of matrices is empty or mixes sizes."""


class NotOrthogonalError(MatrixInputError):
    """:func:`~statetrack.theory.factorization.reflection_factors` got a matrix ``Q`` with
    ``Q^T Q != I`` (exactly, for exact input; beyond the tolerance, for floats)."""


class NormBoundError(MatrixInputError):
    """:func:`~statetrack.theory.factorization.gh_factors` got a matrix whose spectral norm
    exceeds 1, so it is not a product of GH matrices (Proposition 1)."""


class NotAPermutationError(MatrixInputError):
    """A sequence is not a permutation of ``0 .. n-1`` (or a matrix is not a permutation
    matrix)."""


class FactorOrderError(MatrixInputError):
    """A list mixes the two factor orders: GH factors in *matrix* order (``F_1 F_2 ... F_m``,
    as written; what :func:`~statetrack.theory.factorization.multiply` reads by default) and
    delta sub-steps in *application* order (step 1 applied first, so ``A = G_n ... G_1``; the
    order of :func:`statetrack.constructions.lrnn.product` and of the kernels)."""


class FiniteSetError(TheoryError):
    """The value set ``D`` of a :class:`~statetrack.theory.finite_precision.FiniteSet` format is
    empty, not one-dimensional, not finite, or has repeated values."""


class ModelError(TheoryError):
    """A finite-precision model is inconsistent: matrices of the wrong shape, layers with
    different alphabets for ``A`` and ``B``, no layers, or a word that is empty."""


class DecoderError(TheoryError):
    """A layer's decoder raised, or returned something that is not hashable."""


class PeriodLimitError(TheoryError):
    """The state sequence under a periodic input did not repeat within ``max_steps`` steps
    (the format has so many values that the orbit is too long to walk; try a coarser format or
    a larger limit)."""


class FormatOverflowError(TheoryError):
    """A finite-precision run left the finite values of its number format: a weight, a rounded
    term or the state rounded to an infinity (or became NaN). The number model of Theorems 1
    and 2 (Grazzi et al., App. B.1: every quantity in a finite set ``D`` of reals, values beyond
    ``D`` going to its nearest end) has no infinity, so neither theorem says anything about
    such a run: it is outside their hypothesis.

    Attributes
    ----------
    step : int or None
        The first step (symbols read) whose state is not finite; ``0`` for the initial state,
        ``None`` for a weight.
    layer : int or None
    rounding : str or None
        The rounding model of the run (``"paper"`` or ``"sequential"``).
    """

    def __init__(self, message: str, step: int | None = None, layer: int | None = None,
                 rounding: str | None = None):
        super().__init__(message)
        self.step, self.layer, self.rounding = step, layer, rounding


class UnknownTheoremError(PlainKeyMessage, TheoryError, KeyError):
    """A name is not in the registry of theorems (:mod:`statetrack.theory.registry`)."""


class NotADFAError(TheoryError, TypeError):
    """A theorem check (:mod:`statetrack.theory.registry`) got something that is not a
    :class:`statetrack.automata.DFA`."""
