"""Torch modules over the ops: :mod:`.delta_product` (:class:`DeltaProductLayer`, a trainable
DeltaProduct layer that runs on the reference, fused recurrent or chunked op and loads a
construction; :class:`ConstructedLRNN`, a constructed model's layers stacked),
:mod:`.diagonal` (:class:`MambaLayer`, a Mamba-style diagonal layer on the diagonal scan with
transitions in [0, 1] or ``Diag(2 s - 1)`` in [-1, 1], which loads Mamba-form constructions)
and :mod:`.fla_export` (a construction as inputs to flash-linear-attention's own layers, with the
length up to which the export stays correct).

They sit inside :mod:`statetrack.kernels`, after the ops they call, so that dependencies run
one way (ops <- layers) and the package exports them without an import cycle.
"""

from .delta_product import (
    ConstructedLRNN,
    ConstructedOutput,
    DeltaProductConfig,
    DeltaProductLayer,
    ShortConvolution,
    nearest_code,
)
from .diagonal import MambaConfig, MambaLayer, decode_mamba, ssd_readout
from .fla_export import (
    Horizon,
    decode_exported,
    export_fla,
    fla_export_horizon,
    fla_tables,
    logit_for_length,
    run_exported,
)

__all__ = [
    "ConstructedLRNN", "ConstructedOutput", "DeltaProductConfig", "DeltaProductLayer",
    "ShortConvolution", "nearest_code", "MambaConfig", "MambaLayer", "decode_mamba", "ssd_readout",
    "Horizon", "decode_exported", "export_fla", "fla_export_horizon", "fla_tables",
    "logit_for_length", "run_exported",
]
