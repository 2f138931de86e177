r"""Pure-PyTorch sequential reference of the diagonal (Mamba-style) scan.

The recurrence
--------------
Per batch entry ``b`` and channel ``d``, with ``h_{-1} = h0[b, d]`` (or 0)::

    h_t = a_t * h_{t-1} + b_t          t = 0 .. T-1

elementwise over ``[B, D]``. This is a linear RNN layer whose transition matrix is diagonal,
``A(x_t) = Diag(a_t)``: Mamba's selective scan after its state expansion (the channels ``D``
are then heads x head dim x state size), and the form of Grazzi et al.'s Theorems 1 and 2
for diagonal matrices. With ``a_t`` in [0, 1] (Mamba's ``exp(-Delta A)``) no
finite-precision model of this form recognizes parity (Theorem 1); with ``a_t = 2 s_t - 1``
in [-1, 1] one channel does (``a = -1`` on the letter '1'; see
:mod:`statetrack.constructions.mamba`).

Gradients (used by the kernels; derived once here)
--------------------------------------------------
With ``g_t = dL/dh_t`` the loss's direct gradient, the total adjoint of ``h_t`` is
``dh_t = g_t + a_{t+1} dh_{t+1}`` (``dh_T = 0``): the same scan, reversed in time, with the
factors shifted by one. Then ``db_t = dh_t``, ``da_t = dh_t h_{t-1}`` and
``dh0 = a_0 dh_0``.

Layout: ``a``, ``b`` ``[B, T, D]`` (one dtype), ``h0`` ``[B, D]`` (that dtype or float32);
``h`` ``[B, T, D]`` in ``a``'s dtype, accumulated in float32 (float64 for float64 inputs).
The reference has no in-place updates of tensors that need gradients, so the float64
reference is the gradient oracle of the kernel tests.

Examples
--------
Parity in one channel: ``h0 = 1``; the letter '1' has ``a = -1``, '0' has ``a = 1``; the
sign of ``h_t`` is ``(-1)^(number of 1s)``.

>>> import torch
>>> word = torch.tensor([1, 1, 0, 1])
>>> a = (1 - 2 * word).float().view(1, 4, 1)
>>> diagonal_scan_reference(a, torch.zeros(1, 4, 1), torch.ones(1, 1))[0, :, 0].tolist()
[-1.0, 1.0, 1.0, -1.0]
"""

from __future__ import annotations

import torch

from statetrack.kernels._common.checks import FLOAT_DTYPES, check_diagonal_scan_inputs

__all__ = ["diagonal_scan_reference"]


def diagonal_scan_reference(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None,
                            *, check_finite: bool = False) -> torch.Tensor:
    """Run ``h_t = a_t * h_{t-1} + b_t`` step by step in PyTorch.

    Parameters
    ----------
    a, b : torch.Tensor
        ``[B, T, D]``, one dtype (float16, bfloat16, float32 or float64).
    h0 : torch.Tensor, optional
        ``[B, D]`` (``a``'s dtype or float32); zeros when None.
    check_finite : bool
        Check every input for NaN and infinity.

    Returns
    -------
    torch.Tensor
        ``h``, ``[B, T, D]`` in ``a``'s dtype (accumulated in float32, float64 for float64).

    Raises
    ------
    KernelInputError
        (a subclass of it) for bad shapes, dtypes, devices, and non-finite inputs when
        ``check_finite``.

    Examples
    --------
    >>> import torch
    >>> a = torch.full((1, 3, 2), 0.5, dtype=torch.float64)
    >>> b = torch.ones(1, 3, 2, dtype=torch.float64)
    >>> diagonal_scan_reference(a, b)[0, :, 0].tolist()
    [1.0, 1.5, 1.75]
    """
    d = check_diagonal_scan_inputs(a, b, h0, dtypes=FLOAT_DTYPES, check_finite=check_finite)
    sd = d.state_dtype
    af, bf = a.to(sd), b.to(sd)
    h = torch.zeros(d.B, d.D, dtype=sd, device=d.device) if h0 is None else h0.to(sd)
    outs = []
    for t in range(d.T):
        h = af[:, t] * h + bf[:, t]
        outs.append(h)
    if not outs:
        return torch.zeros(d.B, 0, d.D, dtype=a.dtype, device=d.device)
    return torch.stack(outs, dim=1).to(a.dtype)
