"""Input validation shared by every DeltaProduct kernel (reference, recurrent, chunked, tabled).

All kernels take fla's layout::

    q             [B, T, H, K]
    k             [B, T * n_h, H, K]      (n_h = num_householder, sub-steps interleaved)
    v             [B, T * n_h, H, V]
    beta          [B, T * n_h, H]         values in [0, 2]
    g             [B, T, H]               optional log-gate
    initial_state [B, H, K, V]            optional

:func:`check_delta_product_inputs` checks all of it at once and returns the sizes as a
:class:`DeltaProductDims`; the smaller helpers (:func:`check_tensor`, :func:`check_beta_range`,
:func:`check_finite`, :func:`check_out_buffer`, ...) are for kernels with other inputs (the
tabled path). Every failure raises a subclass of
:class:`~statetrack.kernels.errors.KernelInputError` whose message names the argument.

Checks that read tensor *values* (beta range, finiteness) synchronize with the device; the
beta range check is on by default (one ``aminmax`` over ``beta``) and can be switched off
by the caller; the finiteness check (every input) runs only on request.

Two helpers keep value checks off the per-call path of kernels whose calls repeat:

* :class:`VerifiedTensors`: a check run once per tensor *version* (identity and PyTorch's
  version counter, which every in-place write bumps) and remembered, for inputs that stay
  the same across calls (per-symbol tables, a fixed query);
* :class:`DeviceFlags`: a few int32 flags a kernel writes on the device, read back without
  synchronizing (the kernels write them into pinned host memory, :data:`MAPPED_FLAGS`, or
  into a device slot copied home; a CUDA event tells when they are there), and turned
  into an exception by a callback when :meth:`DeviceFlags.check` finds one set. The flags are
  a slot of a per-device :class:`FlagRing` allocated once; a kernel marks a flag by storing
  the call's generation, so no slot is zeroed between calls.

Examples
--------
>>> import torch
>>> from statetrack.kernels._common.checks import check_delta_product_inputs
>>> gen = torch.Generator().manual_seed(0)
>>> q = torch.randn(2, 3, 1, 4, generator=gen)
>>> k = torch.randn(2, 6, 1, 4, generator=gen)
>>> v = torch.randn(2, 6, 1, 5, generator=gen)
>>> beta = torch.rand(2, 6, 1, generator=gen)
>>> d = check_delta_product_inputs(q, k, v, beta, num_householder=2)
>>> (d.B, d.T, d.H, d.K, d.V, d.num_householder, d.scale == 4 ** -0.5)
(2, 3, 1, 4, 5, 2, True)
>>> check_delta_product_inputs(q, k[:, :5], v, beta, num_householder=2)
Traceback (most recent call last):
...
statetrack.kernels.errors.KernelShapeError: k: expected shape [B, T*n_h, H, K] = [2, 6, 1, 4] (B=2, T=3, H=1, K=4 from q, n_h=2), got [2, 5, 1, 4]
"""

from __future__ import annotations

import math
import threading
import warnings
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import torch

from statetrack.kernels._common.env import env_switch
from statetrack.kernels.errors import (
    BetaRangeError,
    KernelDeviceError,
    KernelDtypeError,
    KernelInputError,
    KernelShapeError,
    NonFiniteInputError,
    SymbolRangeError,
)

__all__ = [
    "FLOAT_DTYPES",
    "DeltaProductDims",
    "check_tensor",
    "check_shape",
    "check_same_device",
    "check_num_householder",
    "check_scale",
    "check_beta_range",
    "check_finite",
    "check_out_buffer",
    "check_symbols",
    "check_delta_product_inputs",
    "ScanDims",
    "check_diagonal_scan_inputs",
    "state_dtype_for",
    "VerifiedTensors",
    "DeviceFlags",
    "FlagRing",
    "flag_ring",
]

#: Floating dtypes any kernel may accept (each kernel narrows this with ``dtypes=``).
FLOAT_DTYPES: tuple[torch.dtype, ...] = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def _fmt_shape(shape: Iterable[int]) -> str:
    return "[" + ", ".join(str(int(s)) for s in shape) + "]"


def _fmt_dtypes(dtypes: Iterable[torch.dtype]) -> str:
    return ", ".join(str(d).replace("torch.", "") for d in dtypes)


def state_dtype_for(dtype: torch.dtype) -> torch.dtype:
    """The dtype the state is accumulated in for inputs of ``dtype``.

    float64 inputs keep a float64 state; every other dtype accumulates in float32.

    Examples
    --------
    >>> import torch
    >>> state_dtype_for(torch.bfloat16), state_dtype_for(torch.float64)
    (torch.float32, torch.float64)
    """
    return torch.float64 if dtype == torch.float64 else torch.float32


def check_tensor(x: object, name: str, *, ndim: int | None = None,
                 dtypes: Sequence[torch.dtype] | None = None) -> torch.Tensor:
    """Check that ``x`` is a tensor with ``ndim`` dimensions and a dtype in ``dtypes``.

    Parameters
    ----------
    x : object
        The argument to check.
    name : str
        The argument's name, used in the error message.
    ndim : int, optional
        Required number of dimensions.
    dtypes : sequence of torch.dtype, optional
        Allowed dtypes.

    Returns
    -------
    torch.Tensor
        ``x`` itself.

    Raises
    ------
    KernelDtypeError
        ``x`` is not a tensor, or its dtype is not allowed.
    KernelShapeError
        ``x`` has the wrong number of dimensions.

    Examples
    --------
    >>> import torch
    >>> check_tensor(torch.zeros(2, 3), "beta", ndim=3)
    Traceback (most recent call last):
    ...
    statetrack.kernels.errors.KernelShapeError: beta: expected 3 dimensions, got 2 (shape [2, 3])
    """
    if not isinstance(x, torch.Tensor):
        raise KernelDtypeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if ndim is not None and x.ndim != ndim:
        raise KernelShapeError(
            f"{name}: expected {ndim} dimensions, got {x.ndim} (shape {_fmt_shape(x.shape)})")
    if dtypes is not None and x.dtype not in tuple(dtypes):
        raise KernelDtypeError(
            f"{name}: dtype {str(x.dtype).replace('torch.', '')} is not supported here "
            f"(allowed: {_fmt_dtypes(dtypes)})")
    return x


def check_shape(x: torch.Tensor, name: str, expected: Sequence[int], layout: str,
                origin: str = "") -> None:
    """Check that ``x.shape == expected``; the message shows the layout and where sizes came from.

    Raises
    ------
    KernelShapeError
        The shapes differ.

    Examples
    --------
    >>> import torch
    >>> check_shape(torch.zeros(1, 2), "g", (1, 3), "[B, T]", "from q")
    Traceback (most recent call last):
    ...
    statetrack.kernels.errors.KernelShapeError: g: expected shape [B, T] = [1, 3] (from q), got [1, 2]
    """
    if tuple(x.shape) != tuple(int(e) for e in expected):
        where = f" ({origin})" if origin else ""
        raise KernelShapeError(
            f"{name}: expected shape {layout} = {_fmt_shape(expected)}{where}, "
            f"got {_fmt_shape(x.shape)}")


def check_same_device(tensors: dict[str, torch.Tensor | None]) -> torch.device:
    """Check that all given tensors (``None`` entries skipped) are on one device.

    Returns
    -------
    torch.device
        The common device.

    Raises
    ------
    KernelDeviceError
        Two tensors are on different devices.

    Examples
    --------
    >>> import torch
    >>> check_same_device({"q": torch.zeros(1), "g": None})
    device(type='cpu')
    """
    first_name, device = None, None
    for name, t in tensors.items():
        if t is None:
            continue
        if device is None:
            first_name, device = name, t.device
        elif t.device != device:
            raise KernelDeviceError(
                f"{name}: is on device {t.device}, but {first_name} is on {device}; "
                "all inputs must be on one device")
    if device is None:
        raise KernelInputError("no tensor given")
    return device


def check_num_householder(num_householder: object) -> int:
    """Check that ``num_householder`` (n_h, GH sub-steps per token) is a positive int.

    Raises
    ------
    KernelInputError
        It is not an ``int`` >= 1.

    Examples
    --------
    >>> check_num_householder(3)
    3
    """
    if isinstance(num_householder, bool) or not isinstance(num_householder, int) \
            or num_householder < 1:
        raise KernelInputError(
            f"num_householder: expected an int >= 1, got {num_householder!r}")
    return int(num_householder)


def check_scale(scale: object, K: int) -> float:
    """Return the query scale: ``K ** -0.5`` when ``scale`` is None (as fla), else ``scale``.

    Raises
    ------
    KernelInputError
        ``scale`` is not a finite real number.

    Examples
    --------
    >>> check_scale(None, 16), check_scale(1, 16)
    (0.25, 1.0)
    """
    if scale is None:
        return float(K) ** -0.5
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not math.isfinite(scale):
        raise KernelInputError(f"scale: expected a finite float or None, got {scale!r}")
    return float(scale)


def _require_data(t: torch.Tensor, name: str, what: str) -> None:
    """Raise :class:`KernelDeviceError` when ``t`` holds no values to check (the meta device)."""
    if t.device.type == "meta":
        raise KernelDeviceError(
            f"{name}: is on the meta device, which holds no values, so {what} cannot be "
            "checked; move the inputs to the CPU or a CUDA device (of the DeltaProduct ops "
            "only delta_product_ref runs on meta tensors, with check_beta=False and "
            "check_finite=False)")


def check_beta_range(beta: torch.Tensor, name: str = "beta", lo: float = 0.0,
                     hi: float = 2.0) -> None:
    """Check that every entry of ``beta`` is in ``[lo, hi]`` (and not NaN).

    One ``aminmax`` reduction and one device synchronization.

    Raises
    ------
    BetaRangeError
        An entry is outside the range or NaN; the message gives the first offending index.

    Examples
    --------
    >>> import torch
    >>> check_beta_range(torch.tensor([[0.5, 2.5]]))
    Traceback (most recent call last):
    ...
    statetrack.kernels.errors.BetaRangeError: beta: values must lie in [0, 2]; got 2.5 at index (0, 1)
    """
    if beta.numel() == 0:
        return
    _require_data(beta, name, "the range of its values")
    b = beta.detach()
    lo_v, hi_v = torch.aminmax(b)
    lo_f, hi_f = float(lo_v), float(hi_v)
    if lo_f >= lo and hi_f <= hi:  # False for NaN
        return
    bad = torch.isnan(b) | (b < lo) | (b > hi)
    idx = tuple(int(i) for i in torch.nonzero(bad)[0].tolist())
    val = float(b[idx])
    what = "NaN" if math.isnan(val) else repr(val)
    raise BetaRangeError(
        f"{name}: values must lie in [{lo:g}, {hi:g}]; got {what} at index {idx}")


def check_finite(tensors: dict[str, torch.Tensor | None]) -> None:
    """Check that the given tensors (``None`` skipped) hold no NaN or infinity.

    Raises
    ------
    NonFiniteInputError
        Names the first tensor with a non-finite entry and that entry's index.

    Examples
    --------
    >>> import torch
    >>> check_finite({"q": torch.tensor([1.0, float("nan")])})
    Traceback (most recent call last):
    ...
    statetrack.kernels.errors.NonFiniteInputError: q: holds a non-finite value (nan) at index (1,)
    """
    for name, t in tensors.items():
        if t is None or not t.is_floating_point() or t.numel() == 0:
            continue
        _require_data(t, name, "whether its values are finite")
        ok = torch.isfinite(t.detach())
        if not bool(ok.all()):
            idx = tuple(int(i) for i in torch.nonzero(~ok)[0].tolist())
            raise NonFiniteInputError(
                f"{name}: holds a non-finite value ({float(t.detach()[idx])}) at index {idx}")


def check_out_buffer(out: object, name: str, shape: Sequence[int], dtype: torch.dtype,
                     device: torch.device, layout: str = "") -> torch.Tensor:
    """Check a caller-supplied output buffer: tensor, exact shape, dtype, device, contiguous.

    Raises
    ------
    KernelShapeError, KernelDtypeError, KernelDeviceError
        The buffer does not fit.

    Examples
    --------
    >>> import torch
    >>> buf = torch.empty(1, 2, 1, 3)
    >>> check_out_buffer(buf, "out", (1, 2, 1, 3), torch.float32, buf.device).shape
    torch.Size([1, 2, 1, 3])
    """
    check_tensor(out, name)
    assert isinstance(out, torch.Tensor)
    check_shape(out, name, shape, layout or _fmt_shape(shape))
    if out.dtype != dtype:
        raise KernelDtypeError(
            f"{name}: expected dtype {str(dtype).replace('torch.', '')}, "
            f"got {str(out.dtype).replace('torch.', '')}")
    if out.device != device:
        raise KernelDeviceError(f"{name}: expected device {device}, got {out.device}")
    if not out.is_contiguous():
        raise KernelShapeError(f"{name}: must be contiguous")
    return out


def _byte_span(t: torch.Tensor) -> tuple[int, int]:
    """``[first, last)`` bytes a strided tensor's elements reach (PyTorch strides are
    non-negative)."""
    if t.numel() == 0:
        return (0, 0)
    reach = sum((n - 1) * st for n, st in zip(t.shape, t.stride()))
    return (t.data_ptr(), t.data_ptr() + (reach + 1) * t.element_size())


def check_no_overlap(outputs: dict[str, torch.Tensor | None],
                     inputs: dict[str, torch.Tensor | None]) -> None:
    """Check that no caller-supplied output buffer shares memory with an input or with
    another output (a kernel would read what it writes, or two outputs overwrite each other).

    Byte extents are compared, so a buffer interleaved with an input (disjoint elements within
    one extent) is refused too: pass separate memory.

    Raises
    ------
    KernelInputError
        Naming both tensors.

    Examples
    --------
    >>> import torch
    >>> table = torch.zeros(4, 8)
    >>> check_no_overlap({"o_out": table[2:]}, {"key_table": table})
    Traceback (most recent call last):
    ...
    statetrack.kernels.errors.KernelInputError: o_out: shares memory with key_table; pass a separate buffer
    >>> check_no_overlap({"o_out": torch.zeros(2, 8)}, {"key_table": table})
    """
    from statetrack.kernels.errors import KernelInputError

    given = [(n, t) for n, t in outputs.items() if isinstance(t, torch.Tensor) and t.numel()]
    if not given:
        return
    others = [(n, t) for n, t in inputs.items() if isinstance(t, torch.Tensor) and t.numel()]
    spans = {n: _byte_span(t) for n, t in given + others}
    for i, (name, t) in enumerate(given):
        lo, hi = spans[name]
        for other, u in others + given[:i]:
            olo, ohi = spans[other]
            if u.device == t.device and lo < ohi and olo < hi:
                raise KernelInputError(
                    f"{name}: shares memory with {other}; pass a separate buffer")


def check_symbols(symbols: object, name: str, n_symbols: int) -> torch.Tensor:
    """Check an integer symbol-id tensor ``[B, T]`` with ids in ``0 .. n_symbols - 1``.

    Raises
    ------
    KernelDtypeError
        Not an integer tensor.
    KernelShapeError
        Not two-dimensional.
    SymbolRangeError
        An id is out of range (the message gives its index).

    Examples
    --------
    >>> import torch
    >>> check_symbols(torch.tensor([[0, 3]]), "symbols", 2)
    Traceback (most recent call last):
    ...
    statetrack.kernels.errors.SymbolRangeError: symbols: ids must lie in 0 .. 1 (the table has 2 symbols); got 3 at index (0, 1)
    """
    check_tensor(symbols, name, ndim=2,
                 dtypes=(torch.int8, torch.uint8, torch.int16, torch.int32, torch.int64))
    assert isinstance(symbols, torch.Tensor)
    if symbols.numel() == 0:
        return symbols
    _require_data(symbols, name, "whether its ids are in range")
    lo, hi = torch.aminmax(symbols)
    if int(lo) < 0 or int(hi) >= n_symbols:
        bad = (symbols < 0) | (symbols >= n_symbols)
        idx = tuple(int(i) for i in torch.nonzero(bad)[0].tolist())
        raise SymbolRangeError(
            f"{name}: ids must lie in 0 .. {n_symbols - 1} (the table has {n_symbols} "
            f"symbols); got {int(symbols[idx])} at index {idx}")
    return symbols


_check_finite = check_finite  # the name is shadowed by a keyword argument below


@dataclass(frozen=True)
class DeltaProductDims:
    """Sizes and dtypes of a validated DeltaProduct call.

    Attributes
    ----------
    B, T, H, K, V : int
        Batch, tokens, heads, key size, value size.
    num_householder : int
        n_h, GH sub-steps per token (``k`` has ``T * n_h`` rows).
    scale : float
        The query scale actually used.
    dtype : torch.dtype
        dtype of ``q``, ``k``, ``v`` (and of the output ``o``).
    state_dtype : torch.dtype
        dtype of the state and of the final state (float32, or float64 for float64 inputs).
    device : torch.device
        The common device.
    """

    B: int
    T: int
    H: int
    K: int
    V: int
    num_householder: int
    scale: float
    dtype: torch.dtype
    state_dtype: torch.dtype
    device: torch.device


def check_delta_product_inputs(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    beta: torch.Tensor,
    *,
    num_householder: int = 1,
    g: torch.Tensor | None = None,
    scale: float | None = None,
    initial_state: torch.Tensor | None = None,
    dtypes: Sequence[torch.dtype] = FLOAT_DTYPES,
    check_beta: bool = True,
    check_finite: bool = False,
    max_K: int | None = None,
    max_V: int | None = None,
) -> DeltaProductDims:
    """Validate the arguments of a DeltaProduct kernel call (fla layout).

    Rules: ``q``, ``k``, ``v`` share one dtype from ``dtypes``; ``beta``, ``g`` and
    ``initial_state`` have that dtype or float32; all on one device; shapes as in the module
    docstring; ``beta`` in [0, 2] (when ``check_beta``); no NaN/inf anywhere (when
    ``check_finite``); ``K <= max_K`` and ``V <= max_V`` when given.

    Parameters
    ----------
    q, k, v, beta, num_householder, g, scale, initial_state
        The kernel's arguments (see the module docstring for the layout).
    dtypes : sequence of torch.dtype
        dtypes the calling kernel supports for ``q``, ``k``, ``v``.
    check_beta : bool
        Check that ``beta`` lies in [0, 2] (one reduction, one synchronization).
    check_finite : bool
        Check every input for NaN and infinity.
    max_K, max_V : int, optional
        Largest key / value size the calling kernel supports.

    Returns
    -------
    DeltaProductDims
        The sizes, the scale and the dtypes.

    Raises
    ------
    KernelShapeError, KernelDtypeError, KernelDeviceError, BetaRangeError,
    NonFiniteInputError, KernelInputError
        With a message that names the argument.

    Examples
    --------
    >>> import torch
    >>> q = torch.zeros(1, 2, 1, 4); k = torch.zeros(1, 2, 1, 4); v = torch.zeros(1, 2, 1, 4)
    >>> check_delta_product_inputs(q, k, v, torch.full((1, 2, 1), 3.0))
    Traceback (most recent call last):
    ...
    statetrack.kernels.errors.BetaRangeError: beta: values must lie in [0, 2]; got 3.0 at index (0, 0, 0)
    """
    n_h = check_num_householder(num_householder)
    check_tensor(q, "q", ndim=4, dtypes=dtypes)
    dtype = q.dtype
    check_tensor(k, "k", ndim=4)
    check_tensor(v, "v", ndim=4)
    for name, t in (("k", k), ("v", v)):
        if t.dtype != dtype:
            raise KernelDtypeError(
                f"{name}: dtype {str(t.dtype).replace('torch.', '')} differs from q's "
                f"{str(dtype).replace('torch.', '')}; q, k and v must share one dtype")
    side_dtypes = tuple(dict.fromkeys((dtype, torch.float32)))
    check_tensor(beta, "beta", ndim=3, dtypes=side_dtypes)
    if g is not None:
        check_tensor(g, "g", ndim=3, dtypes=side_dtypes)
    if initial_state is not None:
        check_tensor(initial_state, "initial_state", ndim=4, dtypes=side_dtypes)
    device = check_same_device({"q": q, "k": k, "v": v, "beta": beta, "g": g,
                                "initial_state": initial_state})

    B, T, H, K = (int(s) for s in q.shape)
    V = int(v.shape[-1])
    origin = f"B={B}, T={T}, H={H}, K={K} from q, n_h={n_h}"
    check_shape(k, "k", (B, T * n_h, H, K), "[B, T*n_h, H, K]", origin)
    check_shape(v, "v", (B, T * n_h, H, V), "[B, T*n_h, H, V]", origin + f", V={V} from v")
    check_shape(beta, "beta", (B, T * n_h, H), "[B, T*n_h, H]", origin)
    if g is not None:
        check_shape(g, "g", (B, T, H), "[B, T, H]", f"B={B}, T={T}, H={H} from q")
    if initial_state is not None:
        check_shape(initial_state, "initial_state", (B, H, K, V), "[B, H, K, V]",
                    f"B={B}, H={H}, K={K} from q, V={V} from v")
    if K < 1 or V < 1:
        raise KernelShapeError(f"q, v: K and V must be >= 1, got K={K}, V={V}")
    if max_K is not None and K > max_K:
        raise KernelShapeError(f"q: K={K} exceeds this kernel's maximum K={max_K}")
    if max_V is not None and V > max_V:
        raise KernelShapeError(f"v: V={V} exceeds this kernel's maximum V={max_V}")
    s = check_scale(scale, K)
    if check_finite:
        _check_finite({"q": q, "k": k, "v": v, "beta": beta, "g": g,
                       "initial_state": initial_state})
    if check_beta:
        check_beta_range(beta)
    return DeltaProductDims(B=B, T=T, H=H, K=K, V=V, num_householder=n_h, scale=s,
                            dtype=dtype, state_dtype=state_dtype_for(dtype), device=device)


@dataclass(frozen=True)
class ScanDims:
    """Sizes and dtypes of a diagonal scan call (:func:`check_diagonal_scan_inputs`)."""

    B: int
    T: int
    D: int
    dtype: torch.dtype
    state_dtype: torch.dtype
    device: torch.device


def check_diagonal_scan_inputs(
    a: torch.Tensor,
    b: torch.Tensor,
    h0: torch.Tensor | None = None,
    *,
    dtypes: Sequence[torch.dtype] = FLOAT_DTYPES,
    check_finite: bool = False,
) -> ScanDims:
    """Validate the arguments of a diagonal scan ``h_t = a_t * h_{t-1} + b_t``.

    Rules: ``a`` and ``b`` are ``[B, T, D]`` tensors of one dtype from ``dtypes``; ``h0`` is
    ``[B, D]`` of that dtype or float32; all on one device; no NaN/inf (when
    ``check_finite``). The range of ``a`` is not checked (any real factor is a valid scan).

    Returns
    -------
    ScanDims
        The sizes and dtypes.

    Raises
    ------
    KernelShapeError, KernelDtypeError, KernelDeviceError, NonFiniteInputError
        With a message that names the argument.

    Examples
    --------
    >>> import torch
    >>> check_diagonal_scan_inputs(torch.zeros(2, 3, 4), torch.zeros(2, 3, 4)).D
    4
    >>> check_diagonal_scan_inputs(torch.zeros(2, 3, 4), torch.zeros(2, 3, 5))
    Traceback (most recent call last):
    ...
    statetrack.kernels.errors.KernelShapeError: b: expected shape [B, T, D] = [2, 3, 4] (B=2, T=3, D=4 from a), got [2, 3, 5]
    """
    check_tensor(a, "a", ndim=3, dtypes=dtypes)
    dtype = a.dtype
    check_tensor(b, "b", ndim=3)
    if b.dtype != dtype:
        raise KernelDtypeError(
            f"b: dtype {str(b.dtype).replace('torch.', '')} differs from a's "
            f"{str(dtype).replace('torch.', '')}; a and b must share one dtype")
    if h0 is not None:
        check_tensor(h0, "h0", ndim=2, dtypes=tuple(dict.fromkeys((dtype, torch.float32))))
    device = check_same_device({"a": a, "b": b, "h0": h0})
    B, T, D = (int(s) for s in a.shape)
    origin = f"B={B}, T={T}, D={D} from a"
    check_shape(b, "b", (B, T, D), "[B, T, D]", origin)
    if h0 is not None:
        check_shape(h0, "h0", (B, D), "[B, D]", f"B={B}, D={D} from a")
    if check_finite:
        _check_finite({"a": a, "b": b, "h0": h0})
    return ScanDims(B=B, T=T, D=D, dtype=dtype, state_dtype=state_dtype_for(dtype),
                    device=device)


# ----------------------------------------------------------------------------- cached checks
def _signature(t: torch.Tensor) -> tuple:
    return (t._version, t.data_ptr(), t.shape, t.stride(), t.dtype, t.device)


class VerifiedTensors:
    """Remember which tensors passed a value check, by identity and version counter.

    ``check(key, tensors, fn)`` runs ``fn()`` (which raises on bad values) unless the same
    ``key`` was verified before on these very tensor objects with unchanged version counters,
    data pointers, shapes, strides, dtypes and devices; only passing checks are remembered.
    Any in-place write (``t.add_(1)``, ``t[0] = nan``, ``t.copy_(...)``, also through a view)
    bumps ``t._version`` and so invalidates the entry; a tensor freed and another allocated
    at the same address is a different object (the entries hold weak references and die with
    their tensors). Writes that bypass autograd's counter (through ``t.data``, ``t.numpy()``, the
    array of ``torch.from_numpy``, DLPack, or a kernel writing into the storage) are not seen: such a tensor is checked again only after
    :meth:`clear`. Inference-mode tensors have no version counter and are checked every time.

    Parameters
    ----------
    maxsize : int
        Entries kept (least recently used dropped first).

    Examples
    --------
    >>> import torch
    >>> cache, calls = VerifiedTensors(), []
    >>> t = torch.ones(3)
    >>> for _ in range(3):
    ...     cache.check("finite", (t,), lambda: calls.append(1))
    >>> len(calls)                     # checked once
    1
    >>> t[0] = 2.0                     # an in-place write: checked again
    >>> cache.check("finite", (t,), lambda: calls.append(1)); len(calls)
    2
    """

    def __init__(self, maxsize: int = 1024) -> None:
        self.maxsize = maxsize
        self._entries: OrderedDict[tuple, tuple] = OrderedDict()

    def _key(self, key: object, tensors: Sequence[torch.Tensor | None]) -> tuple | None:
        ids = []
        for t in tensors:
            if t is None:
                ids.append(None)
                continue
            if t.is_inference():
                return None
            ids.append(id(t))
        return (key, tuple(ids))

    def _signatures(self, tensors: Sequence[torch.Tensor | None]) -> tuple:
        return tuple(None if t is None else _signature(t) for t in tensors)

    def lookup(self, key: object, tensors: Sequence[torch.Tensor | None]) -> tuple[bool, object]:
        """``(found, value)``: whether ``key`` was stored for these tensor versions, and the
        value stored with it."""
        k = self._key(key, tensors)
        entry = self._entries.get(k) if k is not None else None
        if entry is None:
            return False, None
        refs, sigs, value = entry
        for r, t, sig in zip(refs, tensors, sigs):      # one pass, first mismatch ends it
            if r is None:
                if t is not None:
                    break
            elif r() is not t or sig != _signature(t):
                break
        else:
            self._entries.move_to_end(k)
            return True, value
        del self._entries[k]
        return False, None

    def store(self, key: object, tensors: Sequence[torch.Tensor | None],
              value: object = None) -> None:
        """Remember ``key`` (and ``value``) for the current versions of ``tensors``."""
        k = self._key(key, tensors)
        if k is None:
            return
        entries = self._entries

        def drop(_ref, k=k):
            entries.pop(k, None)

        refs = tuple(None if t is None else weakref.ref(t, drop) for t in tensors)
        entries[k] = (refs, self._signatures(tensors), value)
        entries.move_to_end(k)
        while len(entries) > self.maxsize:
            entries.popitem(last=False)

    def check(self, key: object, tensors: Sequence[torch.Tensor | None],
              fn: Callable[[], None]) -> None:
        """Run ``fn()`` unless ``key`` passed before on these tensor versions; remember a pass."""
        found, _ = self.lookup(key, tensors)
        if found:
            return
        fn()
        self.store(key, tensors)

    def clear(self) -> None:
        """Forget every entry (the next check of every tensor runs again)."""
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


# ----------------------------------------------------------------------------- device flags
#: Slots a flag ring allocates at once, per device: more than the calls whose flags may be
#: pending together (``tabled.MAX_PENDING``) plus a call in flight in each of a few threads;
#: a ring whose slots are all held grows by one slot at a time.
RING_SLOTS = 72

#: Generations a slot runs through (1 .. GEN_LIMIT, int32) before a fresh, zeroed slot takes
#: its place: within one slot's life no generation repeats, so a value an earlier call left
#: in it can never equal the current one.
GEN_LIMIT = 2 ** 31 - 1

#: Let the kernels write their flags straight into pinned host memory (mapped into the
#: device's address space under UVA) instead of a device slot copied home after the launches.
#: On by default since session 25: in an interleaved A/B on the H100
#: (``benchmarks/probes/host_profile.py --ab``) the checks cost +9.2 % of the host time of a
#: host-bound call at (64, 65536) with it, +15.6 % with the copy, and nothing measurable in
#: the wall time at (1024, 4096) (+0.1 %, +4.1 % with the copy); the kernels write only on
#: bad input. ``STATETRACK_MAPPED_FLAGS=0`` (or ``off``, ``false``, ``no``; read at the
#: import) restores the copy; an unknown value warns and restores it too.
MAPPED_FLAGS = env_switch("STATETRACK_MAPPED_FLAGS", True)


_HOST_WRITABLE: dict[torch.device, bool] = {}
_PROBE: dict[torch.device, torch.Tensor] = {}       # host_writable's probe tensors, kept


def _touch(device: torch.device) -> None:
    """Launch a kernel on ``device`` that reads and rewrites one int32 of pinned host memory
    (Triton refuses, at the launch, a pointer the device cannot reach)."""
    from statetrack.kernels._common.flag_probe import touch_kernel
    probe = _PROBE.get(device)
    if probe is None:        # kept: a launch may still run when the call returns
        probe = _PROBE[device] = torch.zeros(4, dtype=torch.int32, pin_memory=True)
    with torch.cuda.device(device):
        touch_kernel[(1,)](probe)


def host_writable(device: torch.device) -> bool:
    """Whether kernels on the CUDA ``device`` can write pinned host memory (the default
    :data:`MAPPED_FLAGS`): one tiny launch a device and process, remembered (the first
    checked call of a process also compiles that one-line kernel, or reads it from Triton's
    cache). Where they cannot (some virtualised GPUs), the flag rings copy their slots home
    instead, with a warning. While a CUDA graph is being captured no launch is made (it would become part of
    the graph) and the answer is True, not remembered.

    Examples
    --------
    >>> import torch
    >>> if torch.cuda.is_available():
    ...     assert host_writable(torch.device("cuda", torch.cuda.current_device()))
    """
    ok = _HOST_WRITABLE.get(device)
    if ok is not None:
        return ok
    if torch.cuda.is_current_stream_capturing():
        return True
    try:
        _touch(device)
        ok = True
    except Exception as exc:                  # noqa: BLE001 (any refusal: fall back)
        ok = False
        warnings.warn(f"statetrack: kernels on {device} cannot write pinned host memory "
                      f"({type(exc).__name__}: {exc}); the input checks' device flags are "
                      f"copied home instead (STATETRACK_MAPPED_FLAGS=0 chooses that without "
                      f"this probe)", RuntimeWarning, stacklevel=2)
    _HOST_WRITABLE[device] = ok
    return ok


class _Slot:
    """One call's flags: ``dev`` (what the kernels write), ``host`` (where the host reads them;
    ``dev`` itself on the CPU and when mapped), the CUDA event behind the kernels (and the copy
    home when not mapped), the last generation handed out and whether a call holds the
    slot."""

    __slots__ = ("dev", "host", "event", "gen", "held")

    def __init__(self, dev: torch.Tensor, host: torch.Tensor, event: object) -> None:
        self.dev, self.host, self.event, self.gen, self.held = dev, host, event, 0, False


class FlagRing:
    """Reusable slots of ``n`` int32 flags on one device, allocated once.

    A call takes a slot and the slot's next generation ``g`` (:meth:`acquire`), its kernels
    store ``g`` into a flag on error, and it gives the slot back once the host has read it
    (:meth:`release`). Nothing is zeroed between calls: a flag counts as set when it holds
    ``g``, and values older calls left there hold older generations. A slot is never handed
    out twice at once: a call that finds every slot held gets a new one, which joins the
    ring. :meth:`retire` drops a slot whose kernels may still be running (a failed launch).

    Parameters
    ----------
    device : torch.device
        Where the kernels run.
    n : int
        Flags a slot.
    slots : int
        Slots allocated at once.
    mapped : bool
        On CUDA: the kernels write into pinned host memory (:data:`MAPPED_FLAGS`).

    Examples
    --------
    >>> import torch
    >>> ring = FlagRing(torch.device("cpu"), 2, slots=1)
    >>> a, ga = ring.acquire()
    >>> b, gb = ring.acquire()                  # every slot held: the ring grows
    >>> a is b, ring.size
    (False, 2)
    >>> ring.release(a)
    >>> c, gc = ring.acquire()                  # a again, at its next generation
    >>> c is a, (ga, gc)
    (True, (1, 2))
    """

    def __init__(self, device: torch.device, n: int, slots: int = RING_SLOTS,
                 mapped: bool = False) -> None:
        self.device, self.n = device, n
        self.cuda = device.type == "cuda"
        self.mapped = bool(mapped) and self.cuda and host_writable(device)
        self.size = 0
        self._lock = threading.Lock()
        self._free = self._new(slots)
        self._retired: list[_Slot] = []

    def _new(self, count: int) -> list[_Slot]:
        # rows of a multiple of 16 bytes: every slot 16-byte aligned, as a fresh allocation
        # is (Triton specializes a kernel on its pointers' alignment: an 8-byte aligned slot
        # would compile every kernel a second time)
        shape = (count, -(-self.n // 4) * 4)
        if self.cuda:
            host = torch.zeros(shape, dtype=torch.int32, pin_memory=True)
            dev = host if self.mapped else torch.zeros(shape, dtype=torch.int32,
                                                        device=self.device)
        else:
            host = dev = torch.zeros(shape, dtype=torch.int32, device=self.device)
        self.size += count
        return [_Slot(d[:self.n], h[:self.n], torch.cuda.Event() if self.cuda else None)
                for d, h in zip(dev.unbind(0), host.unbind(0))]

    def acquire(self) -> tuple[_Slot, int]:
        """A free slot (a new one when none is) and its next generation."""
        with self._lock:
            slot = self._free.pop() if self._free else self._new(1)[0]
            if slot.gen >= GEN_LIMIT:       # its generations spent: a zeroed slot instead
                self.size -= 1
                slot = self._new(1)[0]
            slot.gen += 1
            slot.held = True
            return slot, slot.gen

    def release(self, slot: _Slot) -> None:
        """Give ``slot`` back (its call's flags have been read)."""
        with self._lock:
            if not slot.held:
                raise RuntimeError("a flag slot given back twice")
            slot.held = False
            self._free.append(slot)

    def retire(self, slot: _Slot) -> None:
        """Take ``slot`` out of use for good: kernels still queued may write into it (a
        failed launch), so it is never handed out again, nor freed (its memory could go to
        another tensor while they run)."""
        with self._lock:
            if not slot.held:
                raise RuntimeError("a flag slot given back twice")
            slot.held = False
            self.size -= 1
            self._retired.append(slot)


_STREAMS: dict[tuple[int, int], torch.cuda.Stream] = {}


def stream_handle(device: torch.device) -> int:
    """The current stream of ``device`` as an integer (0 off CUDA): what Triton launches on.

    Examples
    --------
    >>> import torch
    >>> stream_handle(torch.device("cpu"))
    0
    """
    if device.type != "cuda":
        return 0
    raw = getattr(torch._C, "_cuda_getCurrentRawStream", None)
    if raw is not None:
        return int(raw(device.index if device.index is not None else
                       torch.cuda.current_device()))
    return torch.cuda.current_stream(device).cuda_stream


def current_stream(device: torch.device) -> "torch.cuda.Stream":
    """``torch.cuda.current_stream(device)`` (``device`` with its index), the stream object
    kept per raw stream handle: the call runs once per run_tabled call with its checks on,
    and making the object anew cost a few microseconds of a host-bound call's time.

    Examples
    --------
    >>> import torch
    >>> if torch.cuda.is_available():
    ...     d = torch.device("cuda", torch.cuda.current_device())
    ...     assert current_stream(d) == torch.cuda.current_stream(d)
    """
    idx = device.index if device.index is not None else torch.cuda.current_device()
    raw = stream_handle(torch.device("cuda", idx))
    stream = _STREAMS.get((idx, raw))
    if stream is None:
        if len(_STREAMS) >= 64:          # streams made and dropped by the caller
            _STREAMS.clear()
        stream = _STREAMS[(idx, raw)] = torch.cuda.current_stream(idx)
    return stream


_RINGS: dict[tuple, FlagRing] = {}
_RINGS_LOCK = threading.Lock()


def flag_ring(device: torch.device, n: int) -> FlagRing:
    """The ring of ``n``-flag slots on ``device`` (made at the first call for it).

    Examples
    --------
    >>> import torch
    >>> flag_ring(torch.device("cpu"), 2) is flag_ring(torch.device("cpu"), 2)
    True
    """
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    key = (device, n, MAPPED_FLAGS)
    ring = _RINGS.get(key)
    if ring is None:
        with _RINGS_LOCK:
            ring = _RINGS.get(key)
            if ring is None:
                ring = _RINGS[key] = FlagRing(device, n, slots=RING_SLOTS,
                                              mapped=MAPPED_FLAGS)
    return ring


class DeviceFlags:
    """int32 flags written by kernels on the device, read back without synchronizing.

    ``flags`` is a slot of a per-device :class:`FlagRing` (allocated once, reused, never
    zeroed); the kernels store :attr:`gen`, this call's generation, into entries when
    something is wrong: into pinned host memory (:data:`MAPPED_FLAGS`, the default), or into
    a device slot that :meth:`arm` (after the launches) copies home asynchronously. :meth:`arm`
    records the slot's CUDA event behind the launches (and the copy), so :meth:`ready` can
    tell without waiting whether the values are home; :meth:`check` waits
    for that event only (not for work queued later), gives the slot back, and calls
    ``on_error(hits)`` (``hits[i]``: 1 where flag ``i`` holds :attr:`gen`, else 0) when any
    flag is set, which raises. On the CPU the flags are host memory and ready as soon as the
    kernels returned. Per call on CUDA: one event record (and one 8-byte copy home with
    :data:`MAPPED_FLAGS` off).

    Parameters
    ----------
    n : int
        Number of flags.
    device : torch.device
        Where the kernels run.
    on_error : callable
        ``on_error(list_of_ints)``, called (once) when a flag is set; it raises.
    ring : FlagRing, optional
        The slots to draw from (default: :func:`flag_ring` of ``device``).

    Examples
    --------
    >>> import torch
    >>> def fail(hits):
    ...     raise ValueError(f"flags {hits}")
    >>> ring = FlagRing(torch.device("cpu"), 2, slots=1)
    >>> f = DeviceFlags(2, torch.device("cpu"), fail, ring=ring)
    >>> f.arm().ready(), f.check()
    (True, None)
    >>> g = DeviceFlags(2, torch.device("cpu"), fail, ring=ring)
    >>> g.flags[1] = g.gen              # what a kernel does on bad input
    >>> g.arm().check()
    Traceback (most recent call last):
    ...
    ValueError: flags [0, 1]
    >>> h = DeviceFlags(2, torch.device("cpu"), fail, ring=ring)   # the same slot, reused
    >>> h.flags.tolist(), h.check()     # g's value is stale: h's generation is another
    ([0, 2], None)
    """

    def __init__(self, n: int, device: torch.device, on_error: Callable[[list[int]], None],
                 ring: FlagRing | None = None) -> None:
        self._ring = flag_ring(device, n) if ring is None else ring
        if self._ring.n != n:
            raise ValueError(f"ring: its slots hold {self._ring.n} flags, not n={n}")
        self._slot, self.gen = self._ring.acquire()
        self.flags = self._slot.dev
        #: whether the flags are read after the call returns (CUDA: the kernels still run)
        self.deferred = self._slot.event is not None
        self.on_error = on_error
        self.checked = False
        self._armed = False
        self._home = False               # the event was seen complete (ready())
        self._lock = threading.Lock()

    def arm(self) -> "DeviceFlags":
        """Start bringing the flags home (call after the kernels are launched)."""
        slot = self._slot
        if slot.event is not None and not self.checked:
            if not self._ring.mapped:
                slot.host.copy_(slot.dev, non_blocking=True)
            slot.event.record(current_stream(self._ring.device))
        self._armed = True
        return self

    def ready(self) -> bool:
        """Whether :meth:`check` would return without waiting for the device."""
        if self.checked or self._home:
            return True
        event = self._slot.event
        if event is None or (self._armed and event.query()):
            self._home = True            # check() need not wait on the event again
            return True
        return False

    def check(self) -> None:
        """Wait for the flags (only them), give the slot back, and call ``on_error`` if one
        is set (once; a concurrent call waits for the first)."""
        with self._lock:
            if self.checked:
                return
            if not self._armed:
                self.arm()
            slot = self._slot
            if slot.event is not None and not self._home:
                slot.event.synchronize()
            hits = [int(v == self.gen) for v in slot.host.tolist()]
            self.checked = True
            self._ring.release(slot)
        if any(hits):
            self.on_error(hits)

    def discard(self) -> None:
        """Drop the flags unread (a launch failed: kernels already queued may still write
        into the slot, so the slot leaves the ring for good)."""
        with self._lock:
            if not self.checked:
                self.checked = True
                self._ring.retire(self._slot)
