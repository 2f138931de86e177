"""DeltaProduct kernels: PyTorch reference, Triton kernels (fused recurrent, chunked, per-symbol
tables), the layer module, and running constructed LRNNs (:func:`run`, defined in
:mod:`statetrack.kernels.runner`).

Importing this package chooses Triton's interpreter when no CUDA device is present (see
:mod:`statetrack.kernels._common.triton`), so the same kernels run on CPU-only machines, slowly.

>>> import torch
>>> from statetrack.kernels import delta_product_ref
>>> q = torch.ones(1, 2, 1, 2); k = torch.tensor([1., -1.]).expand(1, 2, 1, 2)
>>> v = torch.zeros(1, 2, 1, 1); beta = torch.ones(1, 2, 1)
>>> s0 = torch.tensor([[1.], [0.]]).expand(1, 1, 2, 1)
>>> o, s = delta_product_ref(q, k, v, beta, initial_state=s0, scale=1.0, output_final_state=True)
>>> s[0, 0, :, 0].tolist()   # two swaps of e_0 and e_1: back to e_0
[1.0, 0.0]
"""

from ._common import triton as _triton  # noqa: F401  (first: picks the interpreter without CUDA)
from .delta_product import chunk_delta_product, delta_product_ref, fused_recurrent_delta_product
from .errors import (
    BetaRangeError,
    KernelDeviceError,
    KernelDtypeError,
    KernelError,
    KernelInputError,
    KernelShapeError,
    KernelUnavailableError,
    LayerConfigError,
    NonFiniteInputError,
    RaggedWordsError,
    StateDictError,
    SymbolRangeError,
    UnknownSymbolError,
    UnsupportedConstructionError,
)
from .tabled import TabledResult, choose_chunk, gather_tables, run_tabled
from .layers import (
    ConstructedLRNN,
    ConstructedOutput,
    DeltaProductConfig,
    DeltaProductLayer,
    Horizon,
    ShortConvolution,
    decode_exported,
    export_fla,
    fla_tables,
    horizon,
    logit_for_length,
    run_exported,
)
from .runner import DeviceCheckRow, RunOutput, device_check, format_device_rows, run
from ._common.tolerances import TOLERANCES, assert_rel_close, rel_error

__all__ = [
    "chunk_delta_product", "fused_recurrent_delta_product", "delta_product_ref",
    "run_tabled", "TabledResult", "choose_chunk", "gather_tables",
    "TOLERANCES", "assert_rel_close", "rel_error",
    "BetaRangeError", "KernelDeviceError", "KernelDtypeError", "KernelError",
    "KernelInputError", "KernelShapeError", "KernelUnavailableError", "NonFiniteInputError",
    "SymbolRangeError", "LayerConfigError", "RaggedWordsError", "StateDictError",
    "UnknownSymbolError", "UnsupportedConstructionError",
    "Horizon", "decode_exported", "export_fla", "fla_tables", "horizon", "logit_for_length",
    "run_exported",
    "ConstructedLRNN", "ConstructedOutput", "DeltaProductConfig", "DeltaProductLayer",
    "ShortConvolution",
    "DeviceCheckRow", "RunOutput", "device_check", "format_device_rows", "run",
]
