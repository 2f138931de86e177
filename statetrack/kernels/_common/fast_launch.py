"""Launch a compiled Triton kernel again without Triton's per-call dispatch.

``kernel[grid](*args, **kwargs)`` costs tens of microseconds of host time in Triton: it
binds the arguments, specializes each one (dtype, 16-byte alignment, divisibility by 16,
integer width), builds a cache key string, looks the compiled kernel up, checks the globals
it read and then calls the CUDA launcher. A tabled run is a few short kernels, so at
host-bound shapes that dispatch is most of the call's time.

:func:`fast` wraps a ``@triton.jit`` function in a :class:`FastKernel`: the same
``[grid](*args, **kwargs)`` call, which keeps the compiled kernel Triton returned under a key
of its own and, when a later call's key matches, calls the compiled kernel's launcher
directly. The key holds, for every parameter, at least what Triton specializes on (checked
against Triton's own ``native_specialize_impl`` by ``tests/kernels/test_fast_launch.py``):

* a constexpr: its type and value;
* a tensor: its dtype and whether its data pointer is a multiple of 16 bytes;
* an ``int``: its width class (i32, i64 or u64), whether it equals 1 and whether it is a
  multiple of 16 (only the width for a ``do_not_specialize`` parameter);
* a ``bool``, a ``float`` or ``None``: its type;

and the launch options (each with its type: Triton keys their text), the current device and
Triton's ``debug`` and ``instrumentation_mode`` knobs. Anything else (a callable grid, an
argument of another type, a profiler's launch hook, a kernel's pre-run hook, a kernel that
reads module globals, Triton's interpreter) takes Triton's own path, unchanged. What the
direct launch skips: Triton's check that the module globals a kernel read have not changed
since it was compiled, so a kernel that reads any (``used_global_vals`` not empty) is never
launched directly (the kernels of this package read none).

**Where it applies**: CUDA (not ROCm: its backend also specializes on a tensor's storage size)
with the Triton versions whose dispatch this key was checked against (:data:`VERIFIED`:
3.6, the device's; a fuzz of Triton's own binder and key, ``tests/kernels/test_fast_launch.py``,
runs on each). Elsewhere :func:`fast` returns the kernel itself and every launch goes through
Triton: a newer Triton may key more (3.9 adds options and a pipeline hook to its key).

``STATETRACK_FAST_LAUNCH`` (read at the import): ``1`` / ``on`` / ``true`` / ``yes`` or unset
for the direct launches, ``0`` / ``off`` / ``false`` / ``no`` for every launch through
Triton, ``check`` to keep them on and, at every direct launch, also compute Triton's own
specialization and key and raise :class:`AssertionError` if Triton would have launched
another compiled kernel (the GPU tests' procedure in ``benchmarks/GPU_SESSION.md``). Any
other value warns and turns them off.

Examples
--------
>>> from statetrack.kernels._common.fast_launch import fast
>>> class NotAKernel:                   # anything but a compiled Triton kernel comes back
...     pass
>>> k = NotAKernel()
>>> fast(k) is k
True
"""

from __future__ import annotations

import os

import torch

from statetrack.errors import StatetrackError
from statetrack.kernels._common.env import env_switch
from statetrack.kernels._common.triton import INTERPRET, triton

__all__ = ["FastKernel", "fast", "MODE", "SUPPORTED", "VERIFIED", "arg_key", "supported"]

def _mode(raw: str | None) -> str:
    """``STATETRACK_FAST_LAUNCH``'s value as "on", "off" or "check" (an unknown value: a
    warning, and "off")."""
    on = env_switch("STATETRACK_FAST_LAUNCH", True, extra={"check": "check"},
                    environ={} if raw is None else {"STATETRACK_FAST_LAUNCH": raw})
    return on if on == "check" else ("on" if on else "off")


#: "on" (the default), "off" (every launch through Triton) or "check" (direct launches also
#: compare Triton's own key), from ``STATETRACK_FAST_LAUNCH``.
MODE = _mode(os.environ.get("STATETRACK_FAST_LAUNCH"))

#: the Triton versions (major.minor) whose dispatch the key was checked against
VERIFIED = ("3.6",)


def supported(triton_version: str, hip: str | None) -> bool:
    """Whether the direct launch applies: a :data:`VERIFIED` Triton, and CUDA, not ROCm.

    Examples
    --------
    >>> supported("3.6.0", None), supported("3.9.0", None), supported("3.6.0", "6.2")
    (True, False, False)
    """
    return hip is None and ".".join(triton_version.split(".")[:2]) in VERIFIED


#: this process's :func:`supported`
SUPPORTED = supported(triton.__version__, torch.version.hip)

#: at most this many compiled kernels a :class:`FastKernel` keeps (then it starts again)
MAX_KEYS = 512

_I32 = (-(1 << 31), 1 << 31)
_I64_MAX = 1 << 63
_U64_END = 1 << 64


class _Unsupported(StatetrackError):
    """An argument the key does not describe: the call goes through Triton (internal, never
    raised to a caller; under the package's root as every exception of the package)."""


def _int_width(v: int) -> str:
    if _I32[0] <= v < _I32[1]:
        return "i32"
    if -_I64_MAX <= v < _I64_MAX:
        return "i64"
    if _I64_MAX <= v < _U64_END:
        return "u64"
    raise _Unsupported


def arg_key(v, specialize: bool = True, align: bool = True):
    """What the direct launch keys a non-constexpr argument ``v`` by: at least what Triton
    specializes it on (``native_specialize_impl(backend, v, is_const, specialize, align)``),
    so that two arguments with one key get one compiled kernel. Raises ``_Unsupported``
    for a type it does not describe.

    Examples
    --------
    >>> arg_key(16), arg_key(17), arg_key(1), arg_key(2 ** 40)
    (('i32', False, True), ('i32', False, False), ('i32', True, False), ('i64', False, True))
    >>> arg_key(16, specialize=False)
    ('i32',)
    >>> import torch
    >>> arg_key(torch.zeros(8)), arg_key(torch.zeros(8)[1:])
    ((torch.float32, True), (torch.float32, False))
    """
    t = type(v)
    if t is torch.Tensor or (isinstance(v, torch.Tensor)):
        return (v.dtype, (v.data_ptr() & 15) == 0 if align else None)
    if t is bool:
        return ("u1",)
    if t is int:
        w = _int_width(v)
        return (w, v == 1, (v & 15) == 0) if specialize else (w,)
    if t is float:
        return ("fp32",)
    if v is None:
        return (None,)
    raise _Unsupported


_TENSOR = object()          # marks a plain tensor's key (its dtype and alignment follow)
_I32_KEY = ("i32",)


def _make_binder(params):
    """A function binding a kernel's arguments as Python binds a call (the parameters' names,
    order and defaults; extra keywords are the launch options) and returning ``(key,
    arguments)``: the key of :func:`arg_key`'s rules, written out per parameter so that a
    call costs one Python call (the generic loop cost 4-12 us a launch), and every
    parameter's value in the kernel's order (what the launcher takes).

    Examples
    --------
    >>> import inspect
    >>> class P:                                  # a stand-in for Triton's KernelParam
    ...     def __init__(self, name, const=False, default=inspect.Parameter.empty):
    ...         self.name, self.is_constexpr, self.default = name, const, default
    ...         self.has_default = default is not inspect.Parameter.empty
    ...         self.do_not_specialize = self.do_not_specialize_on_alignment = False
    >>> bind = _make_binder([P("x"), P("n"), P("BLOCK", True), P("FLAG", True, False)])
    >>> key, args = bind(7, 32, BLOCK=64, num_warps=4)
    >>> args
    (7, 32, 64, False)
    >>> bind(8, 48, BLOCK=64, num_warps=4)[0] == key    # 48, like 32, a multiple of 16
    True
    >>> bind(8, 49, BLOCK=64, num_warps=4)[0] == key, bind(8, 48, BLOCK=128)[0] == key
    (False, False)
    """
    ns = {"__fl_T": torch.Tensor, "__fl_ak": arg_key, "__fl_TS": _TENSOR,
          "__fl_I32": _I32_KEY}
    sig, keys, names = [], [], []
    for i, p in enumerate(params):
        x = p.name
        if not x.isidentifier() or x.startswith("__fl_"):
            raise ValueError(f"fast launch: parameter name {x!r} not supported")
        names.append(x)
        if p.has_default:
            ns[f"__fl_d{i}"] = p.default
            sig.append(f"{x}=__fl_d{i}")
        else:
            sig.append(x)
        if p.is_constexpr:
            keys.append(f"{x}, type({x})")
            continue
        spec, align = not p.do_not_specialize, not p.do_not_specialize_on_alignment
        tensor = (f"(__fl_TS, {x}.dtype, ({x}.data_ptr() & 15) == 0)" if align
                  else f"(__fl_TS, {x}.dtype)")
        small = f"(({x} == 1), ({x} & 15) == 0)" if spec else "__fl_I32"
        keys.append(f"{tensor} if type({x}) is __fl_T else {small} if type({x}) is int and "
                    f"-2147483648 <= {x} < 2147483648 else __fl_ak({x}, {spec}, {align})")
    src = (f"def __fl_bind({', '.join(sig + ['**__fl_options'])}):\n"
           f"    return ({''.join(k + ', ' for k in keys)}"
           f"tuple([(k, v, type(v)) for k, v in __fl_options.items()])), "
           f"({''.join(n + ', ' for n in names)})\n")
    exec(compile(src, "<fast_launch binder>", "exec"), ns)
    return ns["__fl_bind"]


class FastKernel:
    """A ``@triton.jit`` function's ``[grid](*args, **kwargs)`` launch with the direct path
    (the module's docstring says what it keys and when it falls back to Triton).

    ``compiled`` counts the keys it holds; ``direct`` the launches that skipped Triton's
    dispatch (for tests and probes).
    """

    def __init__(self, fn):
        self.fn = fn
        params = list(fn.params)
        self.names = [p.name for p in params]
        self.bind = _make_binder(params)
        self.cache: dict = {}
        self.direct = 0

    @property
    def compiled(self) -> int:
        return len(self.cache)

    def __getitem__(self, grid):
        return lambda *args, **kwargs: self.run(grid, args, kwargs)

    def run(self, grid, args, kwargs):
        fn = self.fn
        knobs = triton.knobs
        rt = knobs.runtime
        if (type(grid) is not tuple or not 1 <= len(grid) <= 3
                or getattr(fn, "pre_run_hooks", None)
                or not _idle(rt.launch_enter_hook) or not _idle(rt.launch_exit_hook)):
            return fn[grid](*args, **kwargs)
        try:
            # TypeError: arguments that do not bind (Triton raises its own error), or an
            # unhashable constexpr
            key, full = self.bind(*args, **kwargs)
            key = (key, _current_device(), rt.debug, knobs.compilation.instrumentation_mode)
            kernel = self.cache.get(key)
        except (_Unsupported, TypeError):
            return fn[grid](*args, **kwargs)
        if kernel is None:
            kernel = fn[grid](*args, **kwargs)
            if kernel is not None and not hasattr(kernel, "result") \
                    and getattr(kernel, "function", None) is not None \
                    and not getattr(fn, "used_global_vals", None):
                if len(self.cache) >= MAX_KEYS:     # a constexpr that never compares equal
                    self.cache.clear()
                self.cache[key] = kernel
            return kernel
        if MODE == "check":
            self._check(kernel, args, kwargs)
        device = key[1]
        stream = _current_stream(device)
        g1 = grid[1] if len(grid) > 1 else 1
        g2 = grid[2] if len(grid) > 2 else 1
        kernel.run(grid[0], g1, g2, stream, kernel.function, kernel.packed_metadata, None,
                   None, None, *full)
        self.direct += 1
        return kernel

    def _check(self, kernel, args, kwargs):
        """Triton's own key for these arguments must name ``kernel`` (``check`` mode)."""
        from triton.runtime.jit import compute_cache_key
        fn = self.fn
        kw = dict(kwargs)
        kw["debug"] = kw.get("debug", fn.debug) or triton.knobs.runtime.debug
        kw["instrumentation_mode"] = triton.knobs.compilation.instrumentation_mode
        device = _current_device()
        kernel_cache, kernel_key_cache, _, _, binder = fn.device_caches[device]
        _, specialization, options = binder(*args, **kw)
        theirs = kernel_cache.get(compute_cache_key(kernel_key_cache, specialization, options))
        if theirs is not kernel:        # raised, not asserted: python -O keeps it
            raise AssertionError(
                f"fast launch of {fn.__name__}: Triton would launch another compiled kernel "
                f"for these arguments (specialization {specialization})")


def _idle(hook) -> bool:
    """Whether a launch hook of Triton's knobs calls nothing (``None``, or a ``HookChain``
    without calls: Triton 3.6's default)."""
    if hook is None:
        return True
    calls = getattr(hook, "calls", None)
    return type(calls) is list and not calls


def _current_device() -> int:
    return torch.cuda.current_device()


def _current_stream(device: int) -> int:
    return torch._C._cuda_getCurrentRawStream(device)


_FAST: dict[int, tuple[object, object]] = {}   # the kernel, and its FastKernel or itself


def fast(kernel):
    """``kernel`` (a ``@triton.jit`` function) wrapped in a :class:`FastKernel`, one per
    kernel and process; ``kernel`` itself where the direct launch does not apply (Triton's
    interpreter, ``STATETRACK_FAST_LAUNCH=0``, a Triton or backend not :func:`supported`, or
    not a compiled-kernel function: a test's stand-in, say)."""
    if INTERPRET or MODE == "off" or not SUPPORTED:
        return kernel
    hit = _FAST.get(id(kernel))
    if hit is not None and hit[0] is kernel:
        return hit[1]
    if not isinstance(kernel, triton.runtime.JITFunction):
        return kernel
    try:
        fk = FastKernel(kernel)
    except ValueError:          # a parameter name the binder cannot take: Triton's path
        _FAST[id(kernel)] = (kernel, kernel)
        return kernel
    _FAST[id(kernel)] = (kernel, fk)
    return fk
