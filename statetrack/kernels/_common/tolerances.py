r"""The one table of tolerances for every kernel test, keyed by the input dtype.

A kernel run on inputs of dtype ``d`` is compared with the float64 reference
(:func:`statetrack.kernels.delta_product_ref`) run on the *same* inputs upcast to
float64 (so input rounding is not counted), by the relative error

.. math::

    \mathrm{err}(x, x_{\mathrm{ref}}) = \|x - x_{\mathrm{ref}}\|_2 \,/\, \|x_{\mathrm{ref}}\|_2

over the whole tensor. NaN or infinity anywhere in ``x`` fails (``err`` is then ``inf``).

Where the numbers come from (unit roundoff ``u``: float32 ``6e-8``, tf32 ``5e-4``,
bfloat16 ``4e-3``, float16 ``5e-4``):

* ``float64``: the reference against itself through a different summation order; far under
  ``1e-9``.
* ``float32``: the state is float32; plain float32 arithmetic lands near ``1e-6``, but
  Triton's default float32 ``tl.dot`` is tf32 (relative error near ``3e-4``), which the
  chunked kernel may use; ``1e-3`` forward, ``2e-3`` for gradients (longer chains).
* ``bfloat16``: the output ``o`` (and the input gradients) are rounded to bfloat16
  (relative ``2^-9 = 2e-3`` per entry), and a chunked kernel multiplies bfloat16 operands;
  ``1e-2`` forward, ``2e-2`` for gradients.
* ``float16``: three more mantissa bits than bfloat16; ``5e-3`` / ``1e-2``.

The final state is always float32 (float64 for float64 inputs), but inherits the error of
the bfloat16 operands of a chunked kernel, so it uses the same row.

Examples
--------
>>> import torch
>>> tol = TOLERANCES[torch.bfloat16]
>>> tol.fwd, tol.bwd
(0.01, 0.02)
>>> ref = torch.tensor([1.0, 2.0], dtype=torch.float64)
>>> rel_error(torch.tensor([1.0, 2.001]), ref) < TOLERANCES[torch.float32].fwd
True
>>> rel_error(torch.tensor([float("nan"), 2.0]), ref)
inf
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = ["Tolerance", "TOLERANCES", "rel_error", "assert_rel_close"]


@dataclass(frozen=True)
class Tolerance:
    """Relative-error bounds for one input dtype.

    Attributes
    ----------
    fwd : float
        Bound for outputs ``o`` and final states.
    bwd : float
        Bound for gradients.
    """

    fwd: float
    bwd: float


#: The table. Every kernel test reads its bounds from here and nowhere else.
TOLERANCES: dict[torch.dtype, Tolerance] = {
    torch.float64: Tolerance(fwd=1e-9, bwd=1e-9),
    torch.float32: Tolerance(fwd=1e-3, bwd=2e-3),
    torch.float16: Tolerance(fwd=5e-3, bwd=1e-2),
    torch.bfloat16: Tolerance(fwd=1e-2, bwd=2e-2),
}


def rel_error(x: torch.Tensor, ref: torch.Tensor) -> float:
    """Relative error ``||x - ref|| / ||ref||`` in float64; ``inf`` if ``x`` is not finite.

    If ``ref`` is all zeros the absolute error ``||x||`` is returned.

    Examples
    --------
    >>> import torch
    >>> rel_error(torch.ones(4), 2 * torch.ones(4, dtype=torch.float64))
    0.5
    """
    if x.shape != ref.shape:
        raise ValueError(f"shapes differ: {tuple(x.shape)} vs {tuple(ref.shape)}")
    xd = x.detach().to(torch.float64).cpu()
    rd = ref.detach().to(torch.float64).cpu()
    if not bool(torch.isfinite(xd).all()):
        return math.inf
    den = float(torch.linalg.vector_norm(rd))
    num = float(torch.linalg.vector_norm(xd - rd))
    return num / den if den > 0 else num


def assert_rel_close(x: torch.Tensor, ref: torch.Tensor, dtype: torch.dtype, *,
                     kind: str = "fwd", name: str = "output") -> float:
    """Assert ``rel_error(x, ref) <= TOLERANCES[dtype].<kind>``; return the error.

    Parameters
    ----------
    x, ref : torch.Tensor
        Kernel result and float64 reference.
    dtype : torch.dtype
        The input dtype of the kernel run (selects the row of the table).
    kind : {"fwd", "bwd"}
        Which bound.
    name : str
        Named in the assertion message.

    Examples
    --------
    >>> import torch
    >>> assert_rel_close(torch.ones(3), torch.ones(3, dtype=torch.float64), torch.float32)
    0.0
    """
    bound = getattr(TOLERANCES[dtype], kind)
    err = rel_error(x, ref)
    assert err <= bound, (
        f"{name}: relative error {err:.3e} exceeds the {kind} tolerance {bound:.1e} for "
        f"{str(dtype).replace('torch.', '')}")
    return err
