"""The tabled op: DeltaProduct on symbol ids with per-symbol tables gathered inside the kernel
(the construction path). :mod:`.tabled` holds the entry point :func:`run_tabled` and its
derivation; :mod:`.replay` :class:`TabledRunner` (one construction called many times on words
of one shape: checks and plan once, a CUDA graph replayed); :mod:`._tabled_kernels` the Triton
kernels. Its reference is the general op on the
gathered dense tensors (:func:`gather_tables`, then
:func:`~statetrack.kernels.fused_recurrent_delta_product` or
:func:`~statetrack.kernels.delta_product_ref`), which the tests compare it with.
"""

from ._codes import CodeTable, CodeTableMissError, build_code_table
from .tabled import (
    COLS_MAX_K,
    MAX_KV,
    MAX_PENDING,
    TabledResult,
    check_pending,
    choose_chunk,
    gather_tables,
    run_tabled,
)
from .replay import TabledRunner

__all__ = ["run_tabled", "TabledResult", "choose_chunk", "gather_tables", "MAX_KV",
           "COLS_MAX_K", "check_pending", "MAX_PENDING", "CodeTable", "CodeTableMissError",
           "build_code_table", "TabledRunner"]
