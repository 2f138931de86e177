"""A bounds check for kernels run by Triton's interpreter.

Compiled on a GPU, a load or store outside its tensor is an illegal memory access (or, worse,
a silent read of a neighbour); run by the interpreter on the CPU it reads or writes host
memory and usually goes unnoticed. While a :class:`BoundsCheck` is active, every load and
store a kernel issues in the interpreter is checked lane by lane: each lane whose mask is
true must address a whole element inside one of *that launch's* tensor arguments (the span
of the view passed, not its storage), and all the active lanes of one access must fall inside
the same tensor. Violations are recorded (kernel, program id, kind, the tensor the access was
meant for and the offending element offsets relative to it, the kernel source line) and
reported when the context exits; the lanes out of bounds are masked off before the access is
carried out (a load gives them its ``other``), so a bad store cannot corrupt host memory and
crash the run before the report.

What it cannot see: an access that stays inside *some* tensor of the launch (a pointer
walking from one argument into another, a row read past its end into the next row of the
same tensor, the gaps of a strided view, which lie inside its span); pointers carry no
provenance in the interpreter. Atomics are not checked (the package's kernels use none).

It hooks three methods of ``triton.runtime.interpreter`` (Triton 3.x): the launcher's
``GridExecutor._init_args_hst`` (which makes the host copies of a launch's tensors: their
spans are recorded there) and the interpreter builder's ``create_masked_load`` /
``create_masked_store`` (which every ``tl.load`` / ``tl.store`` goes through, masked or not).
If a Triton release renames them, :class:`BoundsCheck` raises at entry instead of checking
nothing.

>>> import torch
>>> from statetrack.kernels._common.triton import INTERPRET, tl, triton
>>> @triton.jit
... def _copy(src, dst, n, BLOCK: tl.constexpr):
...     i = tl.arange(0, BLOCK)
...     tl.store(dst + i, tl.load(src + i, mask=i < n), mask=i < n)
>>> if INTERPRET:
...     x, y = torch.arange(8.0), torch.empty(8)
...     with BoundsCheck() as bc:
...         _copy[(1,)](x, y, 8, BLOCK=16)          # masked to 8 lanes: fine
...     assert not bc.violations
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import traceback
from typing import Any

import numpy as np

#: the package's kernel sources: frames from these files name the violating line
_KERNEL_DIR = "statetrack/kernels/"


@dataclasses.dataclass
class Violation:
    """One load or store with active lanes outside the launch's tensors."""

    kernel: str
    kind: str                 # "load" or "store"
    program: tuple            # the program id (x, y, z)
    tensor: str | None        # the argument meant: holding most of its lanes, else nearest
    numel: int | None         # that argument's span, in elements
    offsets: list             # a few offending element offsets relative to it
    n_bad: int                # active lanes outside every tensor (or outside the owner's)
    n_active: int
    where: str                # the kernel source lines, innermost first

    def __str__(self) -> str:
        return (f"{self.kernel}: {self.kind} at program {self.program}, {self.n_bad} of "
                f"{self.n_active} active lanes out of bounds of {self.tensor} "
                f"({self.numel} elements; offsets e.g. {self.offsets}) [{self.where}]")


def _interp():
    from triton.runtime import interpreter
    return interpreter


def _span(t: Any) -> tuple[int, int]:
    """Byte range ``[lo, hi)`` of a tensor view: from its first element to one past its
    last (strides > 0; expanded dimensions add nothing)."""
    if t.numel() == 0:
        return t.data_ptr(), t.data_ptr()
    last = sum((n - 1) * s for n, s in zip(t.shape, t.stride()) if s > 0)
    return t.data_ptr(), t.data_ptr() + (last + 1) * t.element_size()


#: the active checks, innermost last (only it records)
_ACTIVE: list = []


class BoundsCheck:
    """Check every load and store of the interpreter's launches while active (see the
    module docstring). ``violations``: what was found; ``launches``: the kernels checked,
    with how many accesses each; ``raise_on_exit``: raise an ``AssertionError`` listing the
    violations when the context exits (default). Checks nest: while one is active inside
    another, the inner one alone sees the launches."""

    max_per_launch = 4        # violations recorded per launch (the count goes on)

    def __init__(self, raise_on_exit: bool = True) -> None:
        self.raise_on_exit = raise_on_exit
        self.violations: list[Violation] = []
        self._closed: list[tuple[str, int, int]] = []    # (kernel, accesses, violations)
        self._launch: dict | None = None
        self._saved: list = []

    # ------------------------------------------------------------------ hooks
    def __enter__(self) -> "BoundsCheck":
        it = _interp()
        grid, builder = getattr(it, "GridExecutor", None), getattr(it, "InterpreterBuilder", None)
        names = ((grid, "_init_args_hst"), (builder, "create_masked_load"),
                 (builder, "create_masked_store"))
        if any(owner is None or not hasattr(owner, n) for owner, n in names):
            raise RuntimeError("BoundsCheck: this Triton's interpreter lacks the hooks it "
                               "patches (GridExecutor._init_args_hst, InterpreterBuilder."
                               "create_masked_load / create_masked_store): update "
                               "statetrack/kernels/_common/bounds.py")
        check = self
        real_init, real_load, real_store = (getattr(o, n) for o, n in names)

        def init_args_hst(ex, args_dev, kwargs):
            args_hst, kwargs_hst = real_init(ex, args_dev, kwargs)
            if _ACTIVE[-1] is not check:              # an inner check sees this launch
                return args_hst, kwargs_hst
            bound = inspect.getcallargs(ex.fn, *args_hst, **kwargs_hst)
            spans: dict = {}
            for name, a in bound.items():
                _spans_of(name, a, spans)
            if check._launch is not None:
                check._close()
            check._launch = dict(kernel=ex.fn.__name__, spans=spans, accesses=0, bad=0)
            return args_hst, kwargs_hst

        def masked_load(b, ptrs, mask, other, *rest, **kw):
            if _ACTIVE[-1] is check:
                mask = check._check("load", ptrs, mask)
            return real_load(b, ptrs, mask, other, *rest, **kw)

        def masked_store(b, ptrs, value, mask, *rest, **kw):
            if _ACTIVE[-1] is check:
                mask = check._check("store", ptrs, mask)
            return real_store(b, ptrs, value, mask, *rest, **kw)

        self._saved = [(grid, "_init_args_hst", real_init),
                       (builder, "create_masked_load", real_load),
                       (builder, "create_masked_store", real_store)]
        grid._init_args_hst = init_args_hst
        builder.create_masked_load = masked_load
        builder.create_masked_store = masked_store
        _ACTIVE.append(self)
        return self

    def __exit__(self, *exc) -> None:
        _ACTIVE.remove(self)
        for owner, name, real in self._saved:
            setattr(owner, name, real)
        self._saved = []
        if self._launch is not None:
            self._close()
        if not self.violations:
            return
        shown = "\n  ".join(str(v) for v in self.violations[:12])
        report = (f"{len(self.violations)} out-of-bounds access(es) recorded in the "
                  f"interpreter:\n  {shown}")
        if exc[1] is not None and hasattr(exc[1], "add_note"):
            exc[1].add_note(report)                 # the body's own error, with the report
        elif self.raise_on_exit and exc[0] is None:
            raise AssertionError(report)

    @property
    def launches(self) -> list[tuple[str, int, int]]:
        """``(kernel, accesses checked, accesses out of bounds)`` of every launch seen."""
        L = self._launch
        return self._closed + ([] if L is None else [(L["kernel"], L["accesses"], L["bad"])])

    def _close(self) -> None:
        self._closed = self.launches
        self._launch = None

    # ------------------------------------------------------------------ the check
    def _check(self, kind: str, ptrs: Any, mask: Any) -> Any:
        """Check one access; returns the mask to carry it out with (the lanes inside some
        tensor of the launch)."""
        L = self._launch
        if L is None:
            return mask
        L["accesses"] += 1
        addr = np.asarray(ptrs.data).astype(np.int64)
        active = np.broadcast_to(np.asarray(mask.data), addr.shape).astype(bool)
        a = addr[active]
        if a.size == 0:
            return mask
        esize = max(1, ptrs.get_element_ty().primitive_bitwidth // 8)
        inside = [(addr >= lo) & (addr + esize <= hi) for lo, hi, _ in L["spans"].values()]
        if any(ins[active].all() for ins in inside):
            return mask
        safe = active & np.logical_or.reduce(inside) if inside else np.zeros_like(active)
        safe_mask = type(mask)(safe, mask.dtype)
        L["bad"] += 1
        if L["bad"] > self.max_per_launch:
            return safe_mask
        # the argument meant: the one holding most of the active lanes, else the nearest
        name = _owner(a, esize, L["spans"])
        numel, offsets, n_bad = None, [], int(a.size)
        if name is not None:
            lo, hi, es = L["spans"][name]
            numel = (hi - lo) // es
            out = a[(a < lo) | (a + esize > hi)]
            n_bad = int(out.size)
            offsets = sorted({int(x) for x in (out - lo) // es})[:6]
        self.violations.append(Violation(
            kernel=L["kernel"], kind=kind, program=tuple(_interp().interpreter_builder.grid_idx),
            tensor=name, numel=numel, offsets=offsets, n_bad=n_bad, n_active=int(a.size),
            where=_kernel_lines()))
        return safe_mask


def _spans_of(name: str, a: Any, spans: dict) -> None:
    """Record the byte spans of argument ``name``: a tensor (or a wrapper with a ``base``
    tensor, as ``triton.reinterpret`` and tensor descriptors make), or a tuple of them."""
    if isinstance(a, tuple):
        for i, x in enumerate(a):
            _spans_of(f"{name}[{i}]", x, spans)
        return
    if not hasattr(a, "stride") and hasattr(a, "base"):
        a = a.base
    if hasattr(a, "data_ptr") and hasattr(a, "stride"):
        spans[name] = (*_span(a), a.element_size())


def _owner(a: np.ndarray, esize: int, spans: dict) -> str | None:
    """The tensor an access was meant for: the one holding most of its lanes, or, when none
    holds any, the one nearest to them."""
    def key(item):
        lo, hi, _ = item[1]
        inside = int(((a >= lo) & (a + esize <= hi)).sum())
        gap = 0 if inside else min(abs(int(a.min()) - hi), abs(lo - int(a.max())))
        return (-inside, gap)

    return min(spans.items(), key=key)[0] if spans else None


def _kernel_lines() -> str:
    """The kernel source lines of the current access, innermost first: frames in the
    package's kernels or in a test file (kernels defined there), not this module's."""
    frames = []
    for f in traceback.extract_stack():
        path = f.filename.replace("\\", "/")
        if (_KERNEL_DIR in path or "/tests/" in path) and not path.endswith("_common/bounds.py"):
            frames.append(f"{os.path.basename(path)}:{f.lineno} {f.name}")
    return " <- ".join(reversed(frames[-3:]))
