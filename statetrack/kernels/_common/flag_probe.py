"""The kernel of :func:`statetrack.kernels._common.checks.host_writable`: one program reads
and rewrites an int32 of pinned host memory, so that a launch tells whether the device can
reach that memory (Triton checks every pointer argument at the launch)."""
from __future__ import annotations

from statetrack.kernels._common.triton import tl, triton

__all__ = ["touch_kernel"]


@triton.jit
def touch_kernel(p):
    tl.store(p, tl.load(p))
