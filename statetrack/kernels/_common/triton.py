"""Import Triton for the kernels, choosing the interpreter where no GPU exists.

Triton's interpreter (``TRITON_INTERPRET=1``) is chosen when Triton is *imported*, not when a
kernel is called, so this module decides before the first import: if the environment does
not set ``TRITON_INTERPRET`` and no CUDA device is visible, it sets ``TRITON_INTERPRET=1``
(on such a machine Triton can only interpret). Every kernel module imports ``triton`` and
``tl`` from here, and this module must be imported before anything else imports Triton.

:func:`require_runnable` turns "these tensors cannot be run here" into a clear
:class:`~statetrack.kernels.errors.KernelUnavailableError`.

Examples
--------
>>> from statetrack.kernels._common.triton import INTERPRET, triton
>>> isinstance(INTERPRET, bool)
True
"""

from __future__ import annotations

import os
import sys

import torch

from statetrack.kernels.errors import KernelUnavailableError

__all__ = ["INTERPRET", "triton", "tl", "require_runnable", "interpreter_active"]


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "on", "yes"}


if "TRITON_INTERPRET" not in os.environ and "triton" not in sys.modules \
        and not torch.cuda.is_available():
    os.environ["TRITON_INTERPRET"] = "1"

import triton  # noqa: E402
import triton.language as tl  # noqa: E402


def interpreter_active() -> bool:
    """Whether Triton's ``@jit`` currently builds interpreted kernels.

    Examples
    --------
    >>> isinstance(interpreter_active(), bool)
    True
    """
    try:
        return bool(triton.knobs.runtime.interpret)
    except AttributeError:  # older Triton without knobs
        return _truthy(os.environ.get("TRITON_INTERPRET"))


#: True when the kernels in this process run through Triton's interpreter (CPU tensors).
INTERPRET: bool = interpreter_active()


def require_runnable(device: torch.device, what: str = "kernel") -> None:
    """Raise :class:`KernelUnavailableError` if a Triton kernel cannot run on ``device``.

    CUDA tensors run compiled kernels (or interpreted ones, slowly, under
    ``TRITON_INTERPRET=1``); CPU tensors need the interpreter.

    Examples
    --------
    >>> import torch
    >>> require_runnable(torch.device("meta"))
    Traceback (most recent call last):
    ...
    statetrack.kernels.errors.KernelUnavailableError: kernel: cannot run on device meta (tensors must be on a CUDA device, or on the CPU with TRITON_INTERPRET=1)
    """
    if device.type == "cuda" or (device.type == "cpu" and INTERPRET):
        return
    if device.type == "cpu":
        raise KernelUnavailableError(
            f"{what}: the tensors are on the CPU but Triton was imported without the "
            "interpreter; set TRITON_INTERPRET=1 before importing triton (or use "
            "statetrack.kernels.delta_product.naive)")
    raise KernelUnavailableError(
        f"{what}: cannot run on device {device} (tensors must be on a CUDA device, or on "
        "the CPU with TRITON_INTERPRET=1)")
