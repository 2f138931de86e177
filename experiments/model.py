r"""The model: token embedding, a stack of residual blocks around a linear-RNN layer, a head.

The architecture of the paper's models (flash-linear-attention's ``DeltaNetForCausalLM``, which
Grazzi et al. modify; Mamba likewise), for ``L`` blocks of width ``D``::

    h = Embedding(tokens)                                   # [B, T, D]
    for each block:
        h = h + Layer(RMSNorm(h))                           # DeltaProduct / DeltaNet / Mamba
        h = h + MLP(RMSNorm(h))                             # SwiGLU: down(silu(gate) * up)
    logits = Head(RMSNorm(h))                               # [B, T, num_classes]

The MLP's hidden size is fla's: ``2/3 * mlp_ratio * D`` rounded up to a multiple of 256.
Initialization as fla's ``_init_weights``: every linear map and the embedding drawn from
``N(0, 0.02^2)``, the output projections of the layer and of the MLP then divided by
``sqrt(2 L)``; convolutions keep PyTorch's default; all drawn from a ``torch.Generator``.

Layers (``ModelConfig.layer``):

* ``"deltaproduct"`` — :class:`statetrack.kernels.layers.DeltaProductLayer` with
  ``num_householder`` sub-steps (1 = DeltaNet), L2-normalized keys and queries,
  ``beta = R sigmoid(b)`` with ``R = 2`` for ``eigen_range="[-1,1]"`` and ``R = 1`` for
  ``"[0,1]"`` (eigenvalues of each GH factor in [-1, 1] or [0, 1]);
* ``"mamba"`` — ``statetrack.kernels.layers.MambaLayer`` (the diagonal scan, ``a_t`` in
  [0, 1] or ``2 s - 1`` in [-1, 1]), imported on first use.

Examples
--------
>>> import torch
>>> cfg = ModelConfig(vocab_size=3, num_classes=3, num_layers=1, hidden_size=16, num_heads=2)
>>> model = build_model(cfg, generator=torch.Generator().manual_seed(0))
>>> model(torch.tensor([[1, 2, 2, 1]])).shape
torch.Size([1, 4, 3])
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
from torch import nn

__all__ = ["ModelConfig", "Block", "SwiGLU", "LRNNModel", "build_model", "ModelConfigError",
           "LAYERS", "EIGEN_RANGES", "resolve_kernel", "mamba_backend"]

LAYERS = ("deltaproduct", "mamba")
EIGEN_RANGES = ("[-1,1]", "[0,1]")
_KERNELS = ("auto", "recurrent", "chunk", "reference")
#: chunk sizes of the chunked kernel (``statetrack.kernels.delta_product.SUPPORTED_CHUNK_SIZES``,
#: not imported here: that module imports Triton)
CHUNK_SIZES = (16, 32, 64)


def valid_chunk_size(value: Any) -> bool:
    """Whether ``value`` is one of :data:`CHUNK_SIZES` as an int (not a bool, not 16.0).

    >>> valid_chunk_size(16), valid_chunk_size(16.0), valid_chunk_size(True)
    (True, False, False)
    """
    return isinstance(value, int) and not isinstance(value, bool) and value in CHUNK_SIZES


class ModelConfigError(ValueError):
    """A :class:`ModelConfig` field is invalid (the message names it)."""


@dataclass(frozen=True)
class ModelConfig:
    """Configuration of :class:`LRNNModel`.

    Attributes
    ----------
    vocab_size, num_classes : int
        Input tokens and output classes.
    layer : {"deltaproduct", "mamba"}
    num_layers : int
        Blocks.
    hidden_size : int
        ``D``.
    num_heads : int
        Heads of each layer (head size ``D / num_heads`` for DeltaProduct).
    num_householder : int
        ``n_h`` of DeltaProduct (1 = DeltaNet).
    eigen_range : {"[-1,1]", "[0,1]"}
    use_short_conv : bool
        Short causal convolution on q, k, v (size ``conv_size``).
    conv_size : int
    activation : {"silu", "none"}
        On q, k, v (DeltaProduct); ``"none"`` for construction initializers.
    use_output_norm : bool
        Per-head RMSNorm of the layer output (DeltaProduct).
    learn_initial_state : bool
        A learned initial state (DeltaProduct; needed by construction initializers).
    mamba_state_size : int
        ``state_size`` of the Mamba layer.
    mlp_ratio : int
        0 for no MLP.
    norm_eps : float
    kernel : {"auto", "recurrent", "chunk", "reference"}
        DeltaProduct kernel; ``"auto"`` is ``"chunk"`` on CUDA and ``"reference"`` (PyTorch)
        on the CPU.
    chunk_size : {16, 32, 64}
        Chunk size of the chunked DeltaProduct kernel. 16 by default: at the training shape
        (batch 256, length <= 40, float32) a training step's backward spent 63 % of the
        step in the chunk-64 ``bwd_wy_kernel`` (2.6 ms a call on the H200, against 0.10 ms at
        chunk 16; same function, ``benchmarks/probes/train_shape.py``). Runs before session 9
        used 64 (their results JSON lack this field).

    Examples
    --------
    >>> ModelConfig(vocab_size=3, num_classes=3, eigen_range="[0,2]")
    Traceback (most recent call last):
    ...
    experiments.model.ModelConfigError: eigen_range: expected one of ('[-1,1]', '[0,1]'), got '[0,2]'
    """

    vocab_size: int
    num_classes: int
    layer: str = "deltaproduct"
    num_layers: int = 2
    hidden_size: int = 128
    num_heads: int = 4
    num_householder: int = 1
    eigen_range: str = "[-1,1]"
    use_short_conv: bool = True
    conv_size: int = 4
    activation: str = "silu"
    use_output_norm: bool = True
    learn_initial_state: bool = False
    mamba_state_size: int = 16
    mlp_ratio: int = 4
    norm_eps: float = 1e-5
    kernel: str = "auto"
    chunk_size: int = 16

    def __post_init__(self) -> None:
        for name in ("vocab_size", "num_classes", "num_layers", "hidden_size", "num_heads",
                     "num_householder", "conv_size", "mamba_state_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ModelConfigError(f"{name}: expected an int >= 1, got {v!r}")
        if isinstance(self.mlp_ratio, bool) or not isinstance(self.mlp_ratio, int) \
                or self.mlp_ratio < 0:
            raise ModelConfigError(f"mlp_ratio: expected an int >= 0, got {self.mlp_ratio!r}")
        for name, allowed in (("layer", LAYERS), ("eigen_range", EIGEN_RANGES),
                              ("activation", ("silu", "none")), ("kernel", _KERNELS)):
            if getattr(self, name) not in allowed:
                raise ModelConfigError(
                    f"{name}: expected one of {allowed}, got {getattr(self, name)!r}")
        if not valid_chunk_size(self.chunk_size):
            raise ModelConfigError(f"chunk_size: expected one of {CHUNK_SIZES}, "
                                   f"got {self.chunk_size!r}")
        if self.layer == "mamba" and self.num_householder != 1:
            # the diagonal layer has one transition a token, no Householder sub-steps: the
            # value would be ignored (and still name the run as if it mattered)
            raise ModelConfigError(f"num_householder: the mamba layer has no Householder "
                                   f"sub-steps; expected 1, got {self.num_householder}")
        if self.hidden_size % self.num_heads:
            raise ModelConfigError(f"hidden_size: {self.hidden_size} is not a multiple of "
                                   f"num_heads={self.num_heads}")

    @property
    def intermediate_size(self) -> int:
        """The MLP's hidden size (fla's rule)."""
        return 256 * ((int(self.hidden_size * self.mlp_ratio * 2 / 3) + 255) // 256)

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelConfig":
        """Inverse of :meth:`to_dict` (unknown keys rejected)."""
        known = {f.name for f in fields(cls)}
        bad = sorted(set(d) - known)
        if bad:
            raise ModelConfigError(f"unknown ModelConfig fields {bad}")
        return cls(**d)


def resolve_kernel(kernel: str, device: torch.device | str) -> str:
    """``"auto"`` -> ``"chunk"`` on CUDA, ``"reference"`` elsewhere; other names unchanged.

    >>> resolve_kernel("auto", "cpu"), resolve_kernel("recurrent", "cpu")
    ('reference', 'recurrent')
    """
    if kernel != "auto":
        return kernel
    return "chunk" if torch.device(device).type == "cuda" else "reference"


class SwiGLU(nn.Module):
    """``down(silu(gate(x)) * up(x))`` (fla's gated MLP, one fused gate/up projection)."""

    def __init__(self, hidden_size: int, intermediate_size: int):
        super().__init__()
        self.gate_proj = nn.Linear(hidden_size, 2 * intermediate_size, bias=False)
        self.down_proj = nn.Linear(intermediate_size, hidden_size, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g, u = self.gate_proj(x).chunk(2, dim=-1)
        return self.down_proj(nn.functional.silu(g) * u)


class _DeltaProductBlockLayer(nn.Module):
    """Adapter: a DeltaProductLayer returning only its output."""

    def __init__(self, cfg: ModelConfig, kernel: str, generator: torch.Generator | None):
        super().__init__()
        from statetrack.kernels.layers import DeltaProductConfig, DeltaProductLayer

        head = cfg.hidden_size // cfg.num_heads
        self.inner = DeltaProductLayer(DeltaProductConfig(
            hidden_size=cfg.hidden_size, num_heads=cfg.num_heads, head_k_dim=head,
            head_v_dim=head, num_householder=cfg.num_householder,
            allow_neg_eigval=cfg.eigen_range == "[-1,1]", beta_mode="sigmoid", use_gate=False,
            use_short_conv=cfg.use_short_conv, conv_size=cfg.conv_size,
            activation=cfg.activation, l2_normalize=True, use_output_norm=cfg.use_output_norm,
            use_output_proj=True, learn_initial_state=cfg.learn_initial_state, mode=kernel,
            norm_eps=cfg.norm_eps, chunk_size=cfg.chunk_size), generator=generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x)[0]


def mamba_backend(kernel: str) -> str:
    """The Mamba layer's backend for a resolved ``kernel``: the PyTorch scan for
    ``"reference"`` (the plain definition), the state-space-duality readout ``"ssd"`` for
    ``"chunk"`` (and ``"auto"``: it never forms the ``[B, T, H, P, N]`` states; 8–19x faster
    than the PyTorch scan for a training step on the CPU at the experiments' shape), the
    Triton scan for ``"recurrent"``.

    >>> mamba_backend("reference"), mamba_backend("chunk"), mamba_backend("recurrent")
    ('torch', 'ssd', 'triton')
    """
    return {"reference": "torch", "recurrent": "triton"}.get(kernel, "ssd")


def _mamba_layer(cfg: ModelConfig, kernel: str, generator: torch.Generator | None) -> nn.Module:
    from statetrack.kernels.layers import MambaLayer

    backend = mamba_backend(kernel)
    return MambaLayer(cfg.hidden_size, num_heads=cfg.num_heads, state_size=cfg.mamba_state_size,
                      eigen_range=cfg.eigen_range, conv_size=cfg.conv_size, backend=backend,
                      generator=generator)


class Block(nn.Module):
    """``h + Layer(norm(h))`` then ``h + MLP(norm(h))``."""

    def __init__(self, cfg: ModelConfig, kernel: str, generator: torch.Generator | None):
        super().__init__()
        self.attn_norm = nn.RMSNorm(cfg.hidden_size, eps=cfg.norm_eps)
        if cfg.layer == "deltaproduct":
            self.mixer: nn.Module = _DeltaProductBlockLayer(cfg, kernel, generator)
        else:
            self.mixer = _mamba_layer(cfg, kernel, generator)
        if cfg.mlp_ratio:
            self.mlp_norm: nn.Module | None = nn.RMSNorm(cfg.hidden_size, eps=cfg.norm_eps)
            self.mlp: nn.Module | None = SwiGLU(cfg.hidden_size, cfg.intermediate_size)
        else:
            self.mlp_norm = self.mlp = None

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        h = h + self.mixer(self.attn_norm(h))
        if self.mlp is not None:
            h = h + self.mlp(self.mlp_norm(h))
        return h


class LRNNModel(nn.Module):
    """Embedding, :class:`Block` s, final RMSNorm, linear head (no bias); see the module
    docstring. ``forward(tokens [B, T]) -> logits [B, T, num_classes]``."""

    def __init__(self, cfg: ModelConfig, *, kernel: str = "reference",
                 generator: torch.Generator | None = None):
        super().__init__()
        self.config = cfg
        self.kernel = kernel
        self.embedding = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.blocks = nn.ModuleList(Block(cfg, kernel, generator) for _ in range(cfg.num_layers))
        self.norm = nn.RMSNorm(cfg.hidden_size, eps=cfg.norm_eps)
        self.head = nn.Linear(cfg.hidden_size, cfg.num_classes, bias=False)
        self.reset_parameters(generator)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """fla's initialization (module docstring), drawn from ``generator``."""
        scale = 1.0 / math.sqrt(2 * self.config.num_layers)
        with torch.no_grad():
            for name, mod in self.named_modules():
                if isinstance(mod, (nn.Linear, nn.Embedding)):
                    nn.init.normal_(mod.weight, 0.0, 0.02, generator=generator)
                    if getattr(mod, "bias", None) is not None:
                        mod.bias.zero_()
                    if name.endswith(("o_proj", "down_proj", "out_proj")):
                        mod.weight.mul_(scale)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        h = self.embedding(tokens)
        for block in self.blocks:
            h = block(h)
        return self.head(self.norm(h))


def build_model(cfg: ModelConfig, *, device: Any = None,
                generator: torch.Generator | None = None) -> LRNNModel:
    """The model of ``cfg`` on ``device`` (kernel resolved for it), weights drawn from
    ``generator`` on the CPU (so that CPU and GPU runs of one seed start alike).

    Raises
    ------
    ModelConfigError
        ``layer="mamba"`` without the diagonal-scan layer in this checkout.
    """
    dev = torch.device(device) if device is not None else torch.device("cpu")
    model = LRNNModel(cfg, kernel=resolve_kernel(cfg.kernel, dev), generator=generator)
    return model.to(dev)
