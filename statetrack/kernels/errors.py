"""Exception classes of :mod:`statetrack.kernels`.

Every error a user can trigger through the kernels' public API is one of these, with a
message that names the argument and says what was wrong. Input errors subclass
:class:`KernelInputError` (itself a ``ValueError``), so ``except KernelInputError`` catches
every bad-input case of every kernel (reference, recurrent, chunked, tabled).
:class:`KernelError`, :class:`KernelInputError` and :class:`UnknownSymbolError` (shared with
:mod:`statetrack.automata`) are defined in :mod:`statetrack.errors`, under the package's root
:class:`~statetrack.errors.StatetrackError`.

Examples
--------
>>> from statetrack.kernels.errors import KernelInputError, KernelShapeError
>>> issubclass(KernelShapeError, KernelInputError), issubclass(KernelInputError, ValueError)
(True, True)
"""

from __future__ import annotations

from statetrack.errors import KernelError, KernelInputError, StatetrackError, UnknownSymbolError


class KernelShapeError(KernelInputError):
    """A tensor has the wrong number of dimensions or a size that does not match the others
    (for example ``k`` is not ``[B, T * n_h, H, K]`` for the ``q`` and ``num_householder``
    given)."""


class KernelDtypeError(KernelInputError):
    """A tensor has a dtype the kernel does not support, or dtypes that must agree differ
    (``q``, ``k``, ``v``), or an index tensor is not an integer tensor."""


class KernelDeviceError(KernelInputError):
    """Tensors live on different devices, or on a device the kernel cannot run on."""


class BetaRangeError(KernelInputError):
    """A ``beta`` is outside [0, 2] (the GH eigenvalue ``1 - beta ||k||^2`` would leave
    [-1, 1] for unit keys) or is NaN."""


class NonFiniteInputError(KernelInputError):
    """An input holds NaN or infinity (checked only on request, ``check_finite=True``)."""


class SymbolRangeError(KernelInputError):
    """A symbol id of the tabled path is negative or not below the table's number of
    symbols."""


class KernelUnavailableError(KernelError, RuntimeError):
    """The Triton kernel cannot run here: the tensors are on the CPU and the Triton
    interpreter (``TRITON_INTERPRET=1``) is off, or Triton is missing."""


class RaggedWordsError(KernelShapeError):
    """Words of different lengths where one rectangular ``[B, T]`` batch is required
    (:func:`~statetrack.kernels.runner.encode_words` and the fla export;
    :func:`~statetrack.kernels.run` pads ragged words instead)."""


class LayerConfigError(KernelInputError):
    """A :class:`~statetrack.kernels.DeltaProductConfig` field, or an argument of the
    layer built from it, is invalid (unknown mode, sizes < 1, mismatched input size)."""


class StateDictError(KernelInputError):
    """A construction state dict (``statetrack.constructions.export.state_dict``) lacks a key
    or holds a tensor of the wrong shape for the layer being initialized."""


class UnsupportedConstructionError(KernelInputError):
    """A constructed LRNN is outside what an exporter or runner supports (for example a
    multi-layer model, or non-zero values, in the fla exporter)."""


class InexactRunWarning(StatetrackError, UserWarning):
    """A constructed model runs through the kernels in a float format where its float run is
    not proved exact (irrational weights: the ``"rotation"`` and ``"reflections"`` forms,
    normalized keys); its outputs can drift from the DFA's on long words. A warning, not an
    error: such runs are legitimate experiments (see
    :func:`statetrack.constructions.precision.float_horizon`)."""
