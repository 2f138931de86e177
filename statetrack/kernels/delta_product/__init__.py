"""The DeltaProduct op, one file per algorithm (flash-linear-attention's layout):
:mod:`.naive` (the PyTorch reference, :func:`delta_product_ref`: the recurrence stated once,
a float64 autograd oracle), :mod:`.fused_recurrent` (a Triton kernel over the time axis) and
:mod:`.chunk` (the chunked WY/UT Triton kernels, in :mod:`._chunk_kernels`). The three share
one signature and the fla layout ``[B, T*n_h, H, K]``; tests compare them on random inputs.
"""

from .chunk import chunk_delta_product
from .fused_recurrent import fused_recurrent_delta_product
from .naive import delta_product_ref

__all__ = ["chunk_delta_product", "fused_recurrent_delta_product", "delta_product_ref"]
