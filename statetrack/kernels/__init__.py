"""DeltaProduct kernels, one folder per op with its PyTorch reference beside the Triton code
(flash-linear-attention's layout), the torch modules, and running constructed LRNNs.

- :mod:`.delta_product`: ``naive.py`` (:func:`delta_product_ref`, the reference),
  ``fused_recurrent.py`` and ``chunk.py`` (Triton, forward and backward);
- :mod:`.diagonal_scan`: :func:`diagonal_scan` (``h_t = a_t h_{t-1} + b_t``, chunked Triton
  kernels forward and backward, a PyTorch fallback) and its reference
  :func:`diagonal_scan_reference`;
- :mod:`.tabled`: :func:`run_tabled`, the construction path (symbol ids and per-symbol
  tables gathered in the kernel); its reference is the general op on :func:`gather_tables`;
  :class:`TabledRunner` the same call made once and replayed (a CUDA graph) on many batches;
- :mod:`.layers`: :class:`DeltaProductLayer`, :class:`ConstructedLRNN` and the export for
  fla's own layers (:func:`export_fla`); :class:`MambaLayer` (diagonal transitions in [0, 1]
  or Diag(2s - 1) in [-1, 1]);
- :mod:`.runner`: :func:`run`, a constructed LRNN on a batch of words;
- :mod:`._common`: Triton's import, input checks, the tolerance table, device and dtype
  resolution; :mod:`.errors`.

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
from ._common.tolerances import TOLERANCES, assert_rel_close, rel_error
from .delta_product import chunk_delta_product, delta_product_ref, fused_recurrent_delta_product
from .diagonal_scan import diagonal_scan, diagonal_scan_reference
from .errors import (
    BetaRangeError,
    InexactRunWarning,
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
from .layers import (
    ConstructedLRNN,
    ConstructedOutput,
    DeltaProductConfig,
    DeltaProductLayer,
    Horizon,
    MambaConfig,
    MambaLayer,
    ShortConvolution,
    decode_exported,
    decode_mamba,
    export_fla,
    fla_export_horizon,
    fla_tables,
    logit_for_length,
    run_exported,
    ssd_readout,
)
from .runner import RunOutput, run
from .tabled import TabledResult, TabledRunner, choose_chunk, gather_tables, run_tabled

__all__ = [
    "chunk_delta_product", "fused_recurrent_delta_product", "delta_product_ref",
    "diagonal_scan", "diagonal_scan_reference",
    "run_tabled", "TabledResult", "TabledRunner", "choose_chunk", "gather_tables",
    "TOLERANCES", "assert_rel_close", "rel_error",
    "BetaRangeError", "InexactRunWarning", "KernelDeviceError", "KernelDtypeError", "KernelError",
    "KernelInputError", "KernelShapeError", "KernelUnavailableError", "NonFiniteInputError",
    "SymbolRangeError", "LayerConfigError", "RaggedWordsError", "StateDictError",
    "UnknownSymbolError", "UnsupportedConstructionError",
    "Horizon", "decode_exported", "export_fla", "fla_export_horizon", "fla_tables",
    "logit_for_length", "run_exported",
    "ConstructedLRNN", "ConstructedOutput", "DeltaProductConfig", "DeltaProductLayer",
    "ShortConvolution", "MambaConfig", "MambaLayer", "decode_mamba", "ssd_readout",
    "DeviceCheckRow", "RunOutput", "device_check", "format_device_rows", "run",
]

#: Names that moved to :mod:`statetrack.cli.device` (``statetrack check --device`` is CLI
#: reporting); still importable from here, loaded on first use so that the kernels do not
#: import the command line.
_FROM_CLI = ("DeviceCheckRow", "device_check", "format_device_rows")


def __getattr__(name: str):
    if name in _FROM_CLI:
        from statetrack.cli import device

        return getattr(device, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
