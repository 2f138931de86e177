"""The diagonal scan ``h_t = a_t * h_{t-1} + b_t`` (Mamba's recurrence after state expansion),
one file per algorithm as in :mod:`statetrack.kernels.delta_product`: :mod:`.naive` (the
PyTorch reference :func:`diagonal_scan_reference`, the recurrence and its gradients stated
once) and :mod:`.scan` (:func:`diagonal_scan`: chunked two-level Triton kernels forward and
backward, a PyTorch doubling-scan fallback, one ``autograd.Function``). Tests compare them on
random inputs (``tests/kernels/test_diagonal_scan.py``).
"""

from .naive import diagonal_scan_reference
from .scan import BACKENDS, SUPPORTED_CHUNK_SIZES, diagonal_scan

__all__ = ["diagonal_scan", "diagonal_scan_reference", "BACKENDS", "SUPPORTED_CHUNK_SIZES"]
