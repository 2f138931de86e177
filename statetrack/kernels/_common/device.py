"""Where and in what a kernel runs: the device (``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"``)
and the floating dtype of its inputs (a torch dtype or its name), with errors that name the
argument. :func:`statetrack.kernels.run` resolves its ``device`` and ``dtype`` here.

>>> resolve_device("cpu"), resolve_dtype("bfloat16")
(device(type='cpu'), torch.bfloat16)
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch

from statetrack.kernels.errors import KernelDeviceError, KernelDtypeError, KernelUnavailableError

__all__ = ["device_guard", "resolve_device", "resolve_dtype", "torch_dtype_name"]

_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32,
           "float64": torch.float64}


def resolve_device(device: Any = "auto") -> torch.device:
    """The device to run on: ``"auto"`` (CUDA when available, else CPU), ``"cpu"``,
    ``"cuda"``, ``"cuda:N"`` or a ``torch.device``.

    Raises
    ------
    KernelDeviceError
        An unknown or unsupported device.
    KernelUnavailableError
        CUDA asked for but not available.

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    >>> resolve_device("tpu")
    Traceback (most recent call last):
    ...
    statetrack.kernels.errors.KernelDeviceError: device: unknown device 'tpu'; use 'auto', 'cpu', 'cuda' or 'cuda:N'
    """
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if isinstance(device, torch.device):
        dev = device
    elif isinstance(device, str):
        try:
            dev = torch.device(device)
        except (RuntimeError, ValueError):
            raise KernelDeviceError(
                f"device: unknown device {device!r}; use 'auto', 'cpu', 'cuda' or 'cuda:N'") \
                from None
    else:
        raise KernelDeviceError(
            f"device: expected a str or torch.device, got {type(device).__name__}")
    if dev.type not in ("cpu", "cuda"):
        raise KernelDeviceError(
            f"device: {dev} is not supported; use 'auto', 'cpu', 'cuda' or 'cuda:N'")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise KernelUnavailableError(f"device: {dev} was asked for, but no CUDA device is "
                                     "visible (use device='cpu' or 'auto')")
    return dev


def resolve_dtype(dtype: Any) -> torch.dtype:
    """The table dtype: a torch floating dtype, its name (``"bfloat16"``, ...) or any alias
    of :data:`statetrack.floats.ALIASES` (``"bf16"``, ``"half"``, ``np.float32``, ...).

    Raises
    ------
    KernelDtypeError
        Anything else.

    Examples
    --------
    >>> resolve_dtype("float32"), resolve_dtype(torch.bfloat16), resolve_dtype("bf16")
    (torch.float32, torch.bfloat16, torch.bfloat16)
    >>> resolve_dtype(torch.int32)
    Traceback (most recent call last):
    ...
    statetrack.kernels.errors.KernelDtypeError: dtype: expected one of ['bfloat16', 'float16', 'float32', 'float64'] or an alias of statetrack.floats.ALIASES (such as 'bf16'), got torch.int32
    """
    if isinstance(dtype, str) and dtype in _DTYPES:
        return _DTYPES[dtype]
    if isinstance(dtype, torch.dtype) and dtype in _DTYPES.values():
        return dtype
    from statetrack.errors import UnsupportedDtypeError
    from statetrack.floats import dtype_name

    try:
        return _DTYPES[dtype_name(dtype)]
    except (UnsupportedDtypeError, KeyError, TypeError):
        pass
    raise KernelDtypeError(f"dtype: expected one of {list(_DTYPES)} or an alias of "
                           f"statetrack.floats.ALIASES (such as 'bf16'), got {dtype!r}")


def torch_dtype_name(dtype: torch.dtype) -> str:
    """``torch.bfloat16`` -> ``"bfloat16"``.

    >>> torch_dtype_name(torch.float32)
    'float32'
    """
    return str(dtype).replace("torch.", "")


def device_guard(device: torch.device) -> contextlib.AbstractContextManager:
    """A context in which ``device`` is the current CUDA device, for launching kernels.

    Triton launches a kernel on the *current* CUDA device's stream, whatever device its
    tensors live on: a call with tensors on ``cuda:1`` while ``cuda:0`` is current would run
    on the wrong device. Every entry point of the package that launches Triton kernels runs
    them inside this guard. It switches the device only when ``device`` is a CUDA device other
    than the current one (the single-GPU call pays one query); for the CPU (the Triton
    interpreter) it does nothing.

    Examples
    --------
    >>> with device_guard(torch.device("cpu")):
    ...     pass
    """
    if device.type != "cuda" or device.index is None \
            or device.index == torch.cuda.current_device():
        return contextlib.nullcontext()
    return torch.cuda.device(device)
