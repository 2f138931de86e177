r"""A DeltaProduct layer (``nn.Module``) on the project's kernels, and its construction initializer.

The layer
---------
:class:`DeltaProductLayer` follows flash-linear-attention's ``GatedDeltaProduct`` layer
(layout and conventions), on :mod:`statetrack.kernels`. For an input ``x`` ``[B, T, D]``
(``D = hidden_size``), ``H`` heads, key size ``K``, value size ``V`` and ``n_h`` sub-steps
per token:

* projections ``q = W_q x`` (``H K`` channels), ``k = W_k x`` and ``v = W_v x``
  (``n_h H K`` and ``n_h H V`` channels, ordered ``(n, h, d)`` as in fla, so sub-step ``j`` of
  token ``t`` is row ``t n_h + j`` of the kernel's ``[B, T n_h, H, K]`` keys);
* optionally a short causal depthwise convolution (kernel ``conv_size = 4``) on each of them,
  then the activation (SiLU by default, as fla; ``"none"`` for constructions);
* optionally L2 normalization of ``q`` and ``k`` (default, fla's ``qk_norm='l2'``; switched
  off for the constructions, whose keys are integer vectors such as ``e_i - e_j``);
* ``beta`` from ``b = W_b x`` (``n_h H`` channels): ``beta_mode="sigmoid"`` gives
  ``beta = 2 sigmoid(b)`` in [0, 2] when ``allow_neg_eigval`` (eigenvalue ``1 - beta`` of a
  unit-key GH factor in [-1, 1]) and ``sigmoid(b)`` in [0, 1] otherwise;
  ``beta_mode="raw"`` gives ``beta = clamp(b, 0, 2)`` (or ``[0, 1]``);
* optionally a log-gate ``g = logsigmoid(W_a x)`` per head (``S <- exp(g_t) S`` before the
  token's first sub-step);
* the recurrence through ``mode`` = ``"recurrent"``
  (:func:`~statetrack.kernels.fused_recurrent_delta_product`), ``"chunk"``
  (:func:`~statetrack.kernels.delta_product.chunk.chunk_delta_product`) or ``"reference"``
  (:func:`~statetrack.kernels.delta_product_ref`), from a learned initial state
  (``learn_initial_state``) or zeros;
* optionally an RMSNorm over each head's ``V`` outputs and an output projection back to ``D``.

Exact initialization from a construction
----------------------------------------
A constructed layer (:class:`statetrack.constructions.lrnn.Layer`) has, for each input token
``x`` (one of ``S`` symbols), ``n_h`` keys, betas and values and a fixed query. Feed the
layer the one-hot embedding ``e_x`` (``D = S``): then ``W e_x`` is column ``x`` of ``W``,
so a linear projection *is* a per-symbol table, and

* ``W_k[(j, h, :), x] = key_table[x, j]``, ``W_v[(j, h, :), x] = value_table[x, j]``,
  ``W_q[(h, :), x] = query`` for every ``x``;
* ``beta_mode="raw"``: ``W_b[(j, h), x] = beta_table[x, j]``, so ``beta = clamp(b, 0, 2)``
  returns the table entry itself: exact for every ``beta`` in [0, 2];
* no activation, no normalization, no convolution, no gate, no output norm or projection,
  ``scale = 1`` and the initial state ``H_0`` as a parameter.

A matrix-vector product with a one-hot vector is exact in any float format (one product by
1, the rest by 0), so the layer's keys, values and betas are the construction's float
tables; with the integer form (keys in {0, 1, -1}, ``beta`` in {0, 1}) every later
operation is exact too, and the layer reproduces the construction's states bit for bit.

``beta_mode="sigmoid"`` cannot be exact in general: ``beta = 2 sigmoid(b)`` reaches 0 and 2
only at ``b = -inf`` and ``+inf``. It is exact where every ``beta`` that matters is 1
(logit 0): the permutation form, whose transpositions use the unnormalized key
``e_i - e_j`` with ``beta = 1`` (its identity sub-steps have a zero key, for which ``beta``
is irrelevant; they get logit 0). Other betas get the logit ``log(beta / (2 - beta))``,
clamped to ``[-max_logit, max_logit]`` (so ``beta = 2`` becomes ``2 - 2/(1 + e^L)``): an
approximation, whose horizon :mod:`statetrack.kernels.layers.fla_export` bounds. With L2-normalized
keys (fla's layers) a transposition needs ``beta = 2`` and the sigmoid path is never exact;
that is the exporter's subject.

:class:`ConstructedLRNN` stacks the layers of a whole constructed model with the decoders
between them (nearest code, then ``token_map``), loaded from
:func:`statetrack.constructions.export.state_dict`.

Examples
--------
Parity: feed one-hot symbols to the layer initialized from the construction; the output
``o_t = S_t^T q`` is the DFA state's index.

>>> import torch
>>> from statetrack.automata import DFA
>>> from statetrack.constructions import compile
>>> parity = compile(DFA([[0, 1], [1, 0]], accepting=[1], alphabet="01"))
>>> layer = DeltaProductLayer.from_construction(parity, mode="reference")
>>> x = torch.nn.functional.one_hot(torch.tensor([[1, 1, 0, 1]]), 2).float()
>>> o, _ = layer(x)
>>> o[0, :, 0].tolist()
[1.0, 0.0, 0.0, 1.0]
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from statetrack.kernels._common.device import resolve_dtype
from statetrack.kernels._common.exactness import warn_if_inexact
from statetrack.kernels.errors import (KernelInputError, KernelUnavailableError, LayerConfigError,
                                       StateDictError)

__all__ = ["DeltaProductConfig", "DeltaProductLayer", "ShortConvolution", "ConstructedLRNN",
           "ConstructedOutput", "MODES", "BETA_MODES", "beta_logits", "nearest_code"]

#: Kernels a layer can run through.
MODES = ("recurrent", "chunk", "reference")
#: How ``beta`` is computed from its projection.
BETA_MODES = ("sigmoid", "raw")
_ACTIVATIONS = ("silu", "none")


@dataclass(frozen=True)
class DeltaProductConfig:
    """Configuration of a :class:`DeltaProductLayer`.

    Attributes
    ----------
    hidden_size : int
        ``D``, the input (and, with ``use_output_proj``, output) size.
    num_heads : int
        ``H``.
    head_k_dim, head_v_dim : int
        ``K`` and ``V`` per head.
    num_householder : int
        ``n_h``, GH sub-steps per token.
    allow_neg_eigval : bool
        ``beta`` in [0, 2] (eigenvalues of unit-key GH factors in [-1, 1]); else [0, 1].
    beta_mode : {"sigmoid", "raw"}
        ``beta = 2 sigmoid(b)`` (``sigmoid(b)``), or ``clamp(b, 0, 2)`` (``[0, 1]``).
    use_gate : bool
        Log-gate ``g = logsigmoid(W_a x)`` per head.
    use_short_conv : bool
        Causal depthwise convolution on q, k, v.
    conv_size : int
        Its kernel size.
    conv_bias : bool
        Whether the convolution has a bias.
    activation : {"silu", "none"}
        Applied to q, k, v after the projection (and convolution).
    l2_normalize : bool
        L2-normalize q and k (fla's default); False for unnormalized (integer) keys.
    use_output_norm : bool
        RMSNorm over each head's V outputs (learned weight).
    use_output_proj : bool
        Project ``H V`` outputs back to ``hidden_size``; else the layer outputs ``[B, T, H V]``.
    learn_initial_state : bool
        A learned initial state ``[H, K, V]`` (zeros at init); else zeros.
    scale : float or None
        Query scale; ``K ** -0.5`` when None.
    mode : {"recurrent", "chunk", "reference"}
        The kernel.
    chunk_size : int
        Chunk size of ``mode="chunk"``: 16, 32 or 64 (checked only for that mode).
    norm_eps : float
        Epsilon of the RMSNorm.
    bias : bool
        Biases on the projections.

    Examples
    --------
    >>> cfg = DeltaProductConfig(hidden_size=32, num_heads=2, head_k_dim=8, head_v_dim=8,
    ...                          num_householder=2)
    >>> cfg.key_dim, cfg.value_dim, cfg.beta_range
    (16, 16, 2.0)
    >>> DeltaProductConfig(hidden_size=8, mode="fast")
    Traceback (most recent call last):
    ...
    statetrack.kernels.errors.LayerConfigError: mode: expected one of ('recurrent', 'chunk', 'reference'), got 'fast'
    """

    hidden_size: int
    num_heads: int = 1
    head_k_dim: int = 64
    head_v_dim: int = 64
    num_householder: int = 1
    allow_neg_eigval: bool = True
    beta_mode: str = "sigmoid"
    use_gate: bool = False
    use_short_conv: bool = False
    conv_size: int = 4
    conv_bias: bool = False
    activation: str = "silu"
    l2_normalize: bool = True
    use_output_norm: bool = True
    use_output_proj: bool = True
    learn_initial_state: bool = False
    scale: float | None = None
    mode: str = "recurrent"
    chunk_size: int = 64
    norm_eps: float = 1e-5
    bias: bool = False

    def __post_init__(self) -> None:
        for name in ("hidden_size", "num_heads", "head_k_dim", "head_v_dim", "num_householder",
                     "conv_size", "chunk_size"):
            val = getattr(self, name)
            if isinstance(val, bool) or not isinstance(val, int) or val < 1:
                raise LayerConfigError(f"{name}: expected an int >= 1, got {val!r}")
        for name, allowed in (("mode", MODES), ("beta_mode", BETA_MODES),
                              ("activation", _ACTIVATIONS)):
            if getattr(self, name) not in allowed:
                raise LayerConfigError(
                    f"{name}: expected one of {allowed}, got {getattr(self, name)!r}")
        if self.scale is not None and (isinstance(self.scale, bool)
                                       or not isinstance(self.scale, (int, float))
                                       or not math.isfinite(self.scale)):
            raise LayerConfigError(f"scale: expected a finite float or None, got {self.scale!r}")
        if not (isinstance(self.norm_eps, (int, float)) and self.norm_eps > 0):
            raise LayerConfigError(f"norm_eps: expected a positive float, got {self.norm_eps!r}")
        self._check_kernel_limits()

    def _check_kernel_limits(self) -> None:
        """What the chosen kernel supports, checked here so that the error names the config
        field rather than a tensor the user never passed, at the first forward."""
        if self.mode == "reference":
            return
        if self.mode == "chunk":
            from statetrack.kernels.delta_product.chunk import MAX_KV, SUPPORTED_CHUNK_SIZES
            if self.chunk_size not in SUPPORTED_CHUNK_SIZES:
                raise LayerConfigError(
                    f"chunk_size: mode='chunk' supports {SUPPORTED_CHUNK_SIZES}, "
                    f"got {self.chunk_size!r}")
            max_k = max_v = MAX_KV
        else:
            from statetrack.kernels.delta_product.fused_recurrent import MAX_K, MAX_V
            max_k, max_v = MAX_K, MAX_V
        for name, val, top in (("head_k_dim", self.head_k_dim, max_k),
                               ("head_v_dim", self.head_v_dim, max_v)):
            if val > top:
                raise LayerConfigError(
                    f"{name}: mode={self.mode!r} supports at most {top}, got {val} "
                    "(mode='reference' has no limit)")

    @property
    def key_dim(self) -> int:
        """``H K``, the query channels."""
        return self.num_heads * self.head_k_dim

    @property
    def value_dim(self) -> int:
        """``H V``, the output channels before the output projection."""
        return self.num_heads * self.head_v_dim

    @property
    def beta_range(self) -> float:
        """The largest ``beta``: 2 with ``allow_neg_eigval``, else 1."""
        return 2.0 if self.allow_neg_eigval else 1.0

    @property
    def output_size(self) -> int:
        """Size of the layer's output: ``hidden_size`` with the output projection, else
        ``H V``."""
        return self.hidden_size if self.use_output_proj else self.value_dim


class ShortConvolution(nn.Module):
    """Causal depthwise 1-D convolution over time on ``[B, T, C]`` (fla's short convolution,
    without its decoding cache); output at ``t`` depends on inputs ``t - size + 1``, ..., ``t``.

    Examples
    --------
    >>> conv = ShortConvolution(1, 3)
    >>> with torch.no_grad():
    ...     _ = conv.conv.weight.fill_(1.0)
    >>> conv(torch.arange(1.0, 5.0).view(1, 4, 1))[0, :, 0].tolist()   # running sums of 3
    [1.0, 3.0, 6.0, 9.0]
    """

    def __init__(self, channels: int, size: int = 4, bias: bool = False):
        super().__init__()
        self.size = size
        self.conv = nn.Conv1d(channels, channels, size, groups=channels, padding=size - 1,
                              bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        T = x.shape[1]
        if T == 0:      # torch's conv1d refuses a zero-length input: the output is empty too
            return x[..., :0, :] * self.conv.weight.sum()
        return self.conv(x.transpose(1, 2))[..., :T].transpose(1, 2)


def beta_logits(beta: torch.Tensor, *, beta_range: float = 2.0,
                max_logit: float = 20.0) -> torch.Tensor:
    """Logits ``b`` with ``beta_range * sigmoid(b) = beta``, clamped to ``[-L, L]``.

    ``beta = beta_range / 2`` maps to 0 exactly; ``beta = 0`` and ``beta = beta_range`` (which
    need infinite logits) become ``-L`` and ``L``.

    Examples
    --------
    >>> beta_logits(torch.tensor([0.0, 1.0, 2.0]), max_logit=10.0).tolist()
    [-10.0, 0.0, 10.0]
    >>> beta_logits(torch.tensor([0.0]), max_logit=-1.0)
    Traceback (most recent call last):
    ...
    statetrack.kernels.errors.LayerConfigError: max_logit: expected a real number > 0 (the logits are clamped to [-max_logit, max_logit]), got -1.0
    """
    if (isinstance(max_logit, bool) or not isinstance(max_logit, numbers.Real)
            or not max_logit > 0):
        raise LayerConfigError(f"max_logit: expected a real number > 0 (the logits are clamped "
                               f"to [-max_logit, max_logit]), got {max_logit!r}")
    b = beta.to(torch.float64) / beta_range
    logit = torch.log(b) - torch.log1p(-b)
    logit = torch.where(b == 0.5, torch.zeros_like(logit), logit)
    return logit.clamp(-max_logit, max_logit)


def check_factory_kwargs(device: Any, dtype: Any) -> None:
    """Check a layer's ``device`` and ``dtype`` arguments before any parameter is built.

    Without it a bad ``dtype`` failed inside ``nn.Linear`` with torch's own message, and a
    bad device string with a ``RuntimeError`` listing every device type torch knows.

    Raises
    ------
    LayerConfigError
        ``dtype`` is not None or a floating ``torch.dtype``, or ``device`` is not None, a
        ``torch.device``, a device string or a CUDA index.
    KernelUnavailableError
        A CUDA device without one (torch's "Torch not compiled with CUDA enabled").

    Examples
    --------
    >>> check_factory_kwargs("cpu", torch.float32)
    >>> check_factory_kwargs("nope", None)
    Traceback (most recent call last):
    ...
    statetrack.kernels.errors.LayerConfigError: device: expected None, a torch.device, a device string such as 'cpu' or 'cuda:0', or a CUDA index, got 'nope'
    """
    if dtype is not None and not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise LayerConfigError(f"dtype: expected None or a floating torch.dtype (e.g. "
                               f"torch.float32), got {dtype!r}")
    if device is None:
        return
    ok = isinstance(device, (str, torch.device)) or (
        isinstance(device, (int, np.integer)) and not isinstance(device, (bool, np.bool_))
        and device >= 0)
    if ok:
        try:
            dev = (torch.device("cuda", int(device)) if isinstance(device, (int, np.integer))
                   else torch.device(device))
        except (RuntimeError, TypeError, ValueError):
            ok = False
    if not ok:
        raise LayerConfigError(f"device: expected None, a torch.device, a device string such as "
                               f"'cpu' or 'cuda:0', or a CUDA index, got {device!r}")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise KernelUnavailableError(f"device: {dev} was asked for, but no CUDA device is "
                                     "visible (use device='cpu' or None)")


def check_input_like(x: torch.Tensor, weight: torch.Tensor) -> None:
    """A layer's input ``x`` on its parameters' device and, outside ``torch.autocast``, of
    their dtype (the first projection would fail with torch's own message otherwise).

    Raises
    ------
    LayerConfigError
        Naming ``x``, both devices or dtypes and the fix.

    Examples
    --------
    >>> w = torch.zeros(2, 2)
    >>> check_input_like(torch.zeros(1, 3, 2), w)
    >>> check_input_like(torch.zeros(1, 3, 2, dtype=torch.float64), w)
    Traceback (most recent call last):
    ...
    statetrack.kernels.errors.LayerConfigError: x: dtype torch.float64 differs from the layer's parameters' torch.float32; cast one of them (layer.to(torch.float64) or x.to(torch.float32)), or run under torch.autocast
    """
    if x.device != weight.device:
        raise LayerConfigError(f"x: is on device {x.device}, but the layer's parameters are on "
                               f"{weight.device}; move one of them (layer.to(x.device))")
    if x.dtype != weight.dtype and not torch.is_autocast_enabled(x.device.type):
        raise LayerConfigError(f"x: dtype {x.dtype} differs from the layer's parameters' "
                               f"{weight.dtype}; cast one of them (layer.to({x.dtype}) or "
                               f"x.to({weight.dtype})), or run under torch.autocast")


def nearest_code(o: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
    """Index of the nearest code (squared Euclidean distance, first index on ties).

    Parameters
    ----------
    o : torch.Tensor
        ``[..., V]`` outputs.
    codes : torch.Tensor
        ``[C, V]``.

    Returns
    -------
    torch.Tensor
        ``[...]`` int64 class indices (computed in float64).

    Examples
    --------
    >>> codes = torch.tensor([[0.0], [1.0], [2.0]])
    >>> nearest_code(torch.tensor([[0.2], [0.5], [1.9]]), codes).tolist()
    [0, 0, 2]
    """
    c = codes.to(device=o.device, dtype=torch.float64)
    d = ((o.to(torch.float64)[..., None, :] - c) ** 2).sum(-1)
    return torch.argmin(d, dim=-1)


class DeltaProductLayer(nn.Module):
    """DeltaProduct layer: projections, optional convolution and gate, a kernel, output
    projection (see the module docstring).

    Parameters
    ----------
    config : DeltaProductConfig
    generator : torch.Generator, optional
        Source of the random initialization (``xavier_uniform`` with gain ``2 ** -2.5`` on
        the projections, as fla; the convolutions keep PyTorch's initialization drawn from
        ``generator`` too).
    device, dtype : optional
        Of the parameters.

    Examples
    --------
    >>> cfg = DeltaProductConfig(hidden_size=16, num_heads=2, head_k_dim=4, head_v_dim=4,
    ...                          num_householder=2, use_gate=True, use_short_conv=True,
    ...                          mode="reference")
    >>> layer = DeltaProductLayer(cfg, generator=torch.Generator().manual_seed(0))
    >>> y, s = layer(torch.randn(3, 5, 16, generator=torch.Generator().manual_seed(1)),
    ...              output_final_state=True)
    >>> y.shape, s.shape
    (torch.Size([3, 5, 16]), torch.Size([3, 2, 4, 4]))
    """

    def __init__(self, config: DeltaProductConfig, *, generator: torch.Generator | None = None,
                 device: Any = None, dtype: torch.dtype | None = None):
        super().__init__()
        if not isinstance(config, DeltaProductConfig):
            raise LayerConfigError(
                f"config: expected a DeltaProductConfig, got {type(config).__name__}")
        check_factory_kwargs(device, dtype)
        self.config = config
        c = config
        kw = {"device": device, "dtype": dtype}
        D, H, K, V, NH = c.hidden_size, c.num_heads, c.head_k_dim, c.head_v_dim, \
            c.num_householder
        self.q_proj = nn.Linear(D, H * K, bias=c.bias, **kw)
        self.k_proj = nn.Linear(D, NH * H * K, bias=c.bias, **kw)
        self.v_proj = nn.Linear(D, NH * H * V, bias=c.bias, **kw)
        self.b_proj = nn.Linear(D, NH * H, bias=c.bias, **kw)
        self.a_proj = nn.Linear(D, H, bias=c.bias, **kw) if c.use_gate else None
        if c.use_short_conv:
            self.q_conv = ShortConvolution(H * K, c.conv_size, c.conv_bias).to(**kw)
            self.k_conv = ShortConvolution(NH * H * K, c.conv_size, c.conv_bias).to(**kw)
            self.v_conv = ShortConvolution(NH * H * V, c.conv_size, c.conv_bias).to(**kw)
        else:
            self.q_conv = self.k_conv = self.v_conv = None
        self.o_norm_weight = nn.Parameter(torch.ones(V, **kw)) if c.use_output_norm else None
        self.o_proj = nn.Linear(H * V, D, bias=c.bias, **kw) if c.use_output_proj else None
        self.initial_state = nn.Parameter(torch.zeros(H, K, V, **kw)) \
            if c.learn_initial_state else None
        self.reset_parameters(generator)

    # ------------------------------------------------------------------ init
    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Draw the projections (xavier uniform, gain ``2 ** -2.5``), zero the biases, set the
        output-norm weight to 1 and the initial state to 0."""
        with torch.no_grad():
            for lin in (self.q_proj, self.k_proj, self.v_proj, self.b_proj, self.a_proj,
                        self.o_proj):
                if lin is None:
                    continue
                nn.init.xavier_uniform_(lin.weight, gain=2 ** -2.5, generator=generator)
                if lin.bias is not None:
                    lin.bias.zero_()
            for conv in (self.q_conv, self.k_conv, self.v_conv):
                if conv is not None:
                    bound = 1.0 / math.sqrt(conv.size)
                    nn.init.uniform_(conv.conv.weight, -bound, bound, generator=generator)
                    if conv.conv.bias is not None:
                        conv.conv.bias.zero_()
            if self.o_norm_weight is not None:
                self.o_norm_weight.fill_(1.0)
            if self.initial_state is not None:
                self.initial_state.zero_()

    # ------------------------------------------------------------------ forward
    def _act(self, x: torch.Tensor) -> torch.Tensor:
        return F.silu(x) if self.config.activation == "silu" else x

    def project(self, x: torch.Tensor) -> dict[str, torch.Tensor | None]:
        """The kernel inputs for ``x`` ``[B, T, D]``: ``q`` ``[B, T, H, K]``, ``k``
        ``[B, T n_h, H, K]``, ``v`` ``[B, T n_h, H, V]``, ``beta`` ``[B, T n_h, H]``, ``g``
        ``[B, T, H]`` or None.

        Raises
        ------
        LayerConfigError
            ``x`` is not a ``[B, T, hidden_size]`` floating tensor, or not on the parameters'
            device, or (outside ``torch.autocast``) not of their dtype.
        """
        c = self.config
        if not isinstance(x, torch.Tensor) or x.ndim != 3 or x.shape[-1] != c.hidden_size \
                or not x.is_floating_point():
            got = (f"{type(x).__name__}" if not isinstance(x, torch.Tensor)
                   else f"{x.dtype} tensor of shape {list(x.shape)}")
            raise LayerConfigError(
                f"x: expected a floating [B, T, hidden_size={c.hidden_size}] tensor, got {got}")
        check_input_like(x, self.q_proj.weight)
        if c.mode == "chunk" and self.q_proj.weight.dtype == torch.float64:
            raise LayerConfigError(
                "mode: 'chunk' does not run float64 (float32, float16, bfloat16 only); cast the "
                "layer (layer.to(torch.float32)) or use mode='recurrent' or 'reference'")
        B, T, _ = x.shape
        H, K, V, NH = c.num_heads, c.head_k_dim, c.head_v_dim, c.num_householder
        q, k, v = self.q_proj(x), self.k_proj(x), self.v_proj(x)
        if self.q_conv is not None:
            q, k, v = self.q_conv(q), self.k_conv(k), self.v_conv(v)
        q, k, v = self._act(q), self._act(k), self._act(v)
        q = q.reshape(B, T, H, K)
        k = k.reshape(B, T * NH, H, K)          # '(n h d)' -> rows t*n_h + j
        v = v.reshape(B, T * NH, H, V)
        if c.l2_normalize:
            q = F.normalize(q, dim=-1, eps=1e-6)
            k = F.normalize(k, dim=-1, eps=1e-6)
        b = self.b_proj(x).reshape(B, T * NH, H)
        if c.beta_mode == "sigmoid":
            beta = torch.sigmoid(b) * c.beta_range
        else:
            beta = b.clamp(0.0, c.beta_range)
        g = F.logsigmoid(self.a_proj(x)) if self.a_proj is not None else None
        return {"q": q, "k": k, "v": v, "beta": beta, "g": g}

    def forward(self, x: torch.Tensor, *, initial_state: torch.Tensor | None = None,
                output_final_state: bool = False
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Run the layer on ``x`` ``[B, T, hidden_size]``.

        Parameters
        ----------
        x : torch.Tensor
            Input, ``[B, T, hidden_size]``.
        initial_state : torch.Tensor, optional
            ``[B, H, K, V]``; overrides the learned initial state (if any); zeros otherwise.
        output_final_state : bool
            Also return the final state ``[B, H, K, V]`` (float32; float64 for float64).

        Returns
        -------
        y : torch.Tensor
            ``[B, T, output_size]`` in ``x``'s dtype.
        final_state : torch.Tensor or None
        """
        if not isinstance(output_final_state, (bool, np.bool_)):
            raise LayerConfigError(f"output_final_state: expected True or False, got "
                                   f"{output_final_state!r}")
        from statetrack.kernels.delta_product.chunk import chunk_delta_product
        from statetrack.kernels.delta_product.fused_recurrent import fused_recurrent_delta_product
        from statetrack.kernels.delta_product.naive import delta_product_ref

        c = self.config
        p = self.project(x)
        B, T = x.shape[0], x.shape[1]
        h0 = initial_state
        if h0 is None and self.initial_state is not None:
            h0 = self.initial_state[None].expand(B, -1, -1, -1)
        if h0 is not None and h0.dtype != p["q"].dtype and h0.dtype != torch.float32:
            h0 = h0.to(p["q"].dtype)
        args = dict(num_householder=c.num_householder, g=p["g"], scale=c.scale,
                    initial_state=h0, output_final_state=output_final_state)
        if p["g"] is not None and p["g"].dtype not in (p["q"].dtype, torch.float32):
            args["g"] = p["g"].float()
        # beta is in range by construction (a sigmoid or a clamp), so the kernels' range
        # check (one reduction and a device synchronisation per call) is skipped: in a
        # training step it would stall the host once per layer; a NaN input gives NaN
        # outputs in every mode, as in any torch module
        kernel_args = dict(args, check_beta=False)
        if c.mode == "reference":
            o, ht = delta_product_ref(p["q"], p["k"], p["v"], p["beta"], **kernel_args)
        elif c.mode == "recurrent":
            o, ht = fused_recurrent_delta_product(p["q"], p["k"], p["v"], p["beta"],
                                                  **kernel_args)
        else:
            o, ht = chunk_delta_product(p["q"], p["k"], p["v"], p["beta"],
                                        chunk_size=c.chunk_size, **kernel_args)
        if self.o_norm_weight is not None:
            # in float32 at least (16-bit outputs), in float64 for float64 layers: a float32
            # norm rounded every float64 output to float32 (gradcheck failed)
            acc = torch.promote_types(o.dtype, torch.float32)
            of = o.to(acc)
            of = of * torch.rsqrt(of.pow(2).mean(-1, keepdim=True) + c.norm_eps)
            o = (of * self.o_norm_weight.to(acc)).to(o.dtype)
        y = o.reshape(B, T, c.num_heads * c.head_v_dim)
        if self.o_proj is not None:
            y = self.o_proj(y)
        return y, ht

    # ------------------------------------------------------------------ constructions
    @classmethod
    def from_tables(cls, key_table: Any, beta_table: Any, value_table: Any, query: Any,
                    initial_state: Any, *, mode: str = "recurrent", beta_mode: str = "raw",
                    max_logit: float = 20.0, scale: float = 1.0,
                    dtype: torch.dtype = torch.float32, device: Any = None,
                    chunk_size: int = 64) -> "DeltaProductLayer":
        """A layer that, fed one-hot symbols, runs the DeltaProduct recurrence of these tables.

        Parameters
        ----------
        key_table : array-like
            ``[S, n_h, K]`` or ``[S, n_h, H, K]`` (row = symbol id).
        beta_table : array-like
            ``[S, n_h]`` or ``[S, n_h, H]``, in [0, 2].
        value_table : array-like
            ``[S, n_h, V]`` or ``[S, n_h, H, V]``.
        query : array-like
            ``[K]`` or ``[H, K]``: the fixed readout query.
        initial_state : array-like
            ``[K, V]`` or ``[H, K, V]``.
        mode : {"recurrent", "chunk", "reference"}
        beta_mode : {"raw", "sigmoid"}
            ``"raw"`` is exact for every beta; ``"sigmoid"`` stores logits (exact only for
            betas equal to 1 or irrelevant; see the module docstring).
        max_logit : float
            Clamp of the logits in ``"sigmoid"`` mode.
        scale : float
            Query scale (the constructions read ``o = S^T q``: 1).
        dtype, device : optional
            Of the parameters.

        Raises
        ------
        StateDictError
            The tables' shapes do not fit together.

        Examples
        --------
        >>> layer = DeltaProductLayer.from_tables([[[0, 0]], [[1, -1]]], [[0], [1]],
        ...                                       [[[0]], [[0]]], [0, 1], [[1], [0]],
        ...                                       mode="reference")
        >>> layer.config.hidden_size, layer.config.head_k_dim, layer.config.num_householder
        (2, 2, 1)
        """
        def tens(a: Any, name: str) -> torch.Tensor:
            try:
                t = torch.as_tensor(np.asarray(a) if not isinstance(a, torch.Tensor) else a)
            except (TypeError, ValueError) as err:
                raise StateDictError(f"{name}: not an array ({err})") from None
            if t.is_complex():
                raise StateDictError(f"{name}: expected real numbers, got dtype {t.dtype}")
            t = t.detach().to(torch.float64).cpu()
            bad = torch.nonzero(~torch.isfinite(t))
            if len(bad):
                at = tuple(int(i) for i in bad[0])
                raise StateDictError(f"{name}: values must be finite; got {float(t[at])} at "
                                     f"index {at}")
            return t

        kt, bt, vt = tens(key_table, "key_table"), tens(beta_table, "beta_table"), \
            tens(value_table, "value_table")
        qv, h0 = tens(query, "query"), tens(initial_state, "initial_state")
        if kt.ndim == 3:
            kt, bt, vt = kt[:, :, None], bt[:, :, None] if bt.ndim == 2 else bt, \
                vt[:, :, None] if vt.ndim == 3 else vt
        if kt.ndim != 4:
            raise StateDictError(
                f"key_table: expected [S, n_h, K] or [S, n_h, H, K], got {list(kt.shape)}")
        S, NH, H, K = (int(s) for s in kt.shape)
        if bt.shape != (S, NH, H):
            raise StateDictError(f"beta_table: expected shape {[S, NH] if H == 1 else [S, NH, H]}"
                                 f" (from key_table), got {list(bt.shape)}")
        if vt.ndim != 4 or vt.shape[:3] != (S, NH, H):
            raise StateDictError(f"value_table: expected [S={S}, n_h={NH}, (H={H},) V], got "
                                 f"{list(vt.shape)}")
        V = int(vt.shape[-1])
        if qv.ndim == 1:
            qv = qv[None].expand(H, -1)
        if qv.shape != (H, K):
            raise StateDictError(f"query: expected [K={K}] or [H={H}, K={K}], got "
                                 f"{list(qv.shape)}")
        if h0.ndim == 2:
            h0 = h0[None].expand(H, -1, -1)
        if h0.shape != (H, K, V):
            raise StateDictError(f"initial_state: expected [K={K}, V={V}] or [H, K, V], got "
                                 f"{list(h0.shape)}")
        if beta_mode not in BETA_MODES:
            raise LayerConfigError(f"beta_mode: expected one of {BETA_MODES}, got {beta_mode!r}")
        if bt.numel() and (float(bt.min()) < 0 or float(bt.max()) > 2):
            raise StateDictError("beta_table: values must lie in [0, 2]")
        if scale is None:                  # the config would read None as 1/sqrt(K)
            raise LayerConfigError("scale: expected a finite float (the tables' query scale; "
                                   "the constructions read o = S^T q: 1), got None")
        cfg = DeltaProductConfig(
            hidden_size=S, num_heads=H, head_k_dim=K, head_v_dim=V, num_householder=NH,
            allow_neg_eigval=True, beta_mode=beta_mode, use_gate=False, use_short_conv=False,
            activation="none", l2_normalize=False, use_output_norm=False,
            use_output_proj=False, learn_initial_state=True,
            scale=float(scale) if isinstance(scale, numbers.Real) and not isinstance(scale, bool)
            else scale, mode=mode,
            chunk_size=chunk_size)
        layer = cls(cfg, device=device, dtype=dtype)
        with torch.no_grad():
            # W[(j, h, d), s] = table[s, j, h, d]
            layer.k_proj.weight.copy_(kt.permute(1, 2, 3, 0).reshape(NH * H * K, S))
            layer.v_proj.weight.copy_(vt.permute(1, 2, 3, 0).reshape(NH * H * V, S))
            layer.q_proj.weight.copy_(qv.reshape(H * K, 1).expand(H * K, S))
            if beta_mode == "raw":
                b = bt
            else:
                # zero keys make beta irrelevant: give them logit 0 (exact beta 1)
                dead = (kt == 0).all(-1)
                b = beta_logits(torch.where(dead, torch.ones_like(bt), bt), beta_range=2.0,
                                max_logit=max_logit)
            layer.b_proj.weight.copy_(b.permute(1, 2, 0).reshape(NH * H, S))
            layer.initial_state.copy_(h0)
        return layer

    @classmethod
    def from_state_dict(cls, sd: Mapping[str, Any], *, prefix: str = "layers.0.",
                        **kwargs: Any) -> "DeltaProductLayer":
        """A layer from one layer's entries of
        :func:`statetrack.constructions.export.state_dict` (keys ``prefix + "key_table"``,
        ``"beta_table"``, ``"value_table"``, ``"query"``, ``"initial_state"``, ``"scale"``).

        Other keyword arguments go to :meth:`from_tables`.

        Raises
        ------
        StateDictError
            A key is missing or a table has the wrong shape.

        Examples
        --------
        >>> from statetrack.constructions.lrnn import _parity_example
        >>> from statetrack.constructions.export import state_dict
        >>> layer = DeltaProductLayer.from_state_dict(state_dict(_parity_example()))
        >>> layer.b_proj.weight.tolist()
        [[0.0, 1.0]]
        """
        need = ("key_table", "beta_table", "value_table", "query", "initial_state")
        missing = [prefix + n for n in need if prefix + n not in sd]
        if missing:
            raise StateDictError(f"state dict: missing {missing} (have {sorted(sd)[:8]}...)")
        scale = kwargs.pop("scale", None)
        if scale is None:
            scale = float(np.asarray(sd[prefix + "scale"])) if prefix + "scale" in sd else 1.0
        return cls.from_tables(*(sd[prefix + n] for n in need), scale=scale, **kwargs)

    @classmethod
    def from_construction(cls, lrnn: Any, *, layer: int = 0, mode: str = "recurrent",
                          beta_mode: str = "raw", max_logit: float = 20.0,
                          dtype: torch.dtype = torch.float32, device: Any = None
                          ) -> "DeltaProductLayer":
        """The layer ``layer`` of a constructed LRNN, through its exported state dict.

        The weights are the construction's exact values rounded to ``dtype`` (through
        :func:`statetrack.constructions.export.state_dict` in float64); the returned layer
        reads one-hot token embeddings (``hidden_size`` = the layer's number of tokens) and
        outputs ``o_t = S_t^T q`` ``[B, T, V]`` (``H = 1``). ``dtype`` is a floating torch
        dtype or its name (``"bfloat16"``), as :func:`statetrack.kernels.run` takes it (the
        layer's own constructor follows PyTorch: torch dtypes only). When this layer's float
        run in ``dtype`` (on every token sequence) is not proved exact (the rotation and
        reflections forms, normalized keys), an
        :class:`~statetrack.kernels.errors.InexactRunWarning` says so.

        Raises
        ------
        KernelInputError
            ``lrnn`` is not a constructed LRNN.
        StateDictError
            ``layer`` is not a layer index of ``lrnn``.
        """
        from statetrack.constructions.export import state_dict
        from statetrack.constructions.lrnn import LRNN

        if not isinstance(lrnn, LRNN):
            raise KernelInputError(f"lrnn: expected a constructed LRNN, got {type(lrnn).__name__}")
        if isinstance(layer, bool) or not (isinstance(layer, int) and 0 <= layer < lrnn.depth):
            raise StateDictError(f"layer: expected an index in 0..{lrnn.depth - 1}, got {layer!r}")
        if dtype is not None and not isinstance(dtype, torch.dtype):
            dtype = resolve_dtype(dtype)          # names and aliases, as run takes them
        sd = state_dict(lrnn, dtype="float64", backend="torch")
        out = cls.from_state_dict(sd, prefix=f"layers.{layer}.", mode=mode,
                                  beta_mode=beta_mode, max_logit=max_logit, dtype=dtype,
                                  device=device)
        warn_if_inexact(lrnn, out.q_proj.weight.dtype, "DeltaProductLayer.from_construction",
                        layer=layer)
        return out


@dataclass(frozen=True)
class ConstructedOutput:
    """What :class:`ConstructedLRNN` returns for symbol ids ``[B, T]``.

    Attributes
    ----------
    classes : tuple of torch.Tensor
        Per layer, ``[B, T + 1]`` int64 output classes (position 0: the initial state).
    accepted : torch.Tensor
        ``[B, T + 1]`` bool accept bits of every prefix.
    states : torch.Tensor or None
        ``[B, T + 1]`` int64 DFA states (through ``state_map``), when known.
    final_states : tuple of torch.Tensor
        Per layer, the final state ``[B, 1, K, V]``.
    """

    classes: tuple[torch.Tensor, ...]
    accepted: torch.Tensor
    states: torch.Tensor | None
    final_states: tuple[torch.Tensor, ...]


class ConstructedLRNN(nn.Module):
    """A whole constructed LRNN as stacked :class:`DeltaProductLayer` s with decoders.

    Layer 0 reads one-hot input symbols; its output is decoded to the nearest code (its class),
    and layer ``l > 0`` reads the one-hot token ``token_map[x_t, c_{l-1}(t)]`` (the layer
    semantics of :mod:`statetrack.constructions.lrnn`). The top layer's classes give the accept
    bits and DFA states.

    Examples
    --------
    >>> from statetrack.constructions.lrnn import _parity_example
    >>> model = ConstructedLRNN.from_construction(_parity_example(), mode="reference")
    >>> out = model(torch.tensor([[1, 1, 0, 1]]))
    >>> out.accepted[0].tolist(), out.states[0].tolist()
    ([False, True, False, False, True], [0, 1, 0, 0, 1])
    """

    def __init__(self, layers: list[DeltaProductLayer], codes: list[torch.Tensor],
                 token_maps: list[torch.Tensor | None], accepting: torch.Tensor,
                 state_map: torch.Tensor | None):
        super().__init__()
        self.layers = nn.ModuleList(layers)
        for i, (c, tm) in enumerate(zip(codes, token_maps)):
            self.register_buffer(f"codes_{i}", torch.as_tensor(c, dtype=torch.float64))
            if tm is not None:
                self.register_buffer(f"token_map_{i}", torch.as_tensor(tm, dtype=torch.int64))
        self.register_buffer("accepting", torch.as_tensor(accepting, dtype=torch.bool))
        if state_map is not None:
            self.register_buffer("state_map", torch.as_tensor(state_map, dtype=torch.int64))
        else:
            self.state_map = None

    @classmethod
    def from_state_dict(cls, sd: Mapping[str, Any], **kwargs: Any) -> "ConstructedLRNN":
        """Build from :func:`statetrack.constructions.export.state_dict`; keyword arguments go
        to :meth:`DeltaProductLayer.from_tables` (``mode``, ``beta_mode``, ``dtype``, ...).

        Raises
        ------
        StateDictError
            No ``layers.0.`` entries, a missing key, or mismatched shapes.
        """
        n = 0
        while f"layers.{n}.key_table" in sd:
            n += 1
        if n == 0:
            raise StateDictError("state dict: no 'layers.0.key_table' entry")
        layers, codes, tmaps = [], [], []
        for i in range(n):
            p = f"layers.{i}."
            layers.append(DeltaProductLayer.from_state_dict(sd, prefix=p, **kwargs))
            if p + "codes" not in sd:
                raise StateDictError(f"state dict: missing {p}codes")
            codes.append(torch.as_tensor(np.asarray(sd[p + "codes"]), dtype=torch.float64))
            tm = sd.get(p + "token_map")
            if i > 0 and tm is None:
                raise StateDictError(f"state dict: missing {p}token_map")
            tmaps.append(None if tm is None else torch.as_tensor(np.asarray(tm)))
        top = f"layers.{n - 1}."
        if top + "accepting" not in sd:
            raise StateDictError(f"state dict: missing {top}accepting")
        acc = torch.as_tensor(np.asarray(sd[top + "accepting"]))
        sm = sd.get(top + "state_map")
        return cls(layers, codes, tmaps, acc, None if sm is None else
                   torch.as_tensor(np.asarray(sm)))

    @classmethod
    def from_construction(cls, lrnn: Any, **kwargs: Any) -> "ConstructedLRNN":
        """Build from a constructed LRNN (through its float64 state dict); an
        :class:`~statetrack.kernels.errors.InexactRunWarning` when its float run in the
        layers' dtype is not proved exact.

        Keyword arguments go to every layer's :meth:`DeltaProductLayer.from_tables`:
        ``mode`` (``"recurrent"``, ``"chunk"``, ``"reference"``), ``beta_mode``
        (``"raw"``, ``"sigmoid"``), ``max_logit``, ``dtype`` (a torch dtype, its name or an
        alias such as ``"bf16"``) and ``device``.

        Raises
        ------
        KernelInputError
            ``lrnn`` is not a constructed LRNN.
        """
        from statetrack.constructions.export import state_dict
        from statetrack.constructions.lrnn import LRNN

        if not isinstance(lrnn, LRNN):
            raise KernelInputError(f"lrnn: expected a constructed LRNN, got {type(lrnn).__name__}")
        if kwargs.get("dtype") is not None and not isinstance(kwargs["dtype"], torch.dtype):
            kwargs["dtype"] = resolve_dtype(kwargs["dtype"])
        out = cls.from_state_dict(state_dict(lrnn, dtype="float64", backend="torch"), **kwargs)
        warn_if_inexact(lrnn, out.layers[0].q_proj.weight.dtype,
                        "ConstructedLRNN.from_construction")
        return out

    @torch.no_grad()
    def forward(self, symbols: torch.Tensor) -> ConstructedOutput:
        """Run symbol ids ``[B, T]`` (int) through every layer; see :class:`ConstructedOutput`.

        Inference only (no gradients: the decoders between layers are argmins); train the
        :class:`DeltaProductLayer` s themselves.

        Raises
        ------
        LayerConfigError
            ``symbols`` is not a 2-D integer tensor with ids below the alphabet size.
        """
        if not isinstance(symbols, torch.Tensor) or symbols.ndim != 2 \
                or symbols.is_floating_point() or symbols.dtype == torch.bool:
            raise LayerConfigError("symbols: expected a [B, T] integer tensor")
        n_sym = self.layers[0].config.hidden_size
        if symbols.numel() and (int(symbols.min()) < 0 or int(symbols.max()) >= n_sym):
            raise LayerConfigError(f"symbols: ids must lie in 0 .. {n_sym - 1}")
        from statetrack.constructions.stack import run_stack

        sym = symbols.long()
        B, T = sym.shape
        finals = []

        def run_layer(i: int, tok: torch.Tensor) -> torch.Tensor:
            layer = self.layers[i]
            c = layer.config
            dt = layer.q_proj.weight.dtype
            x = F.one_hot(tok, c.hidden_size).to(dt)
            o, ht = layer(x, output_final_state=True)
            codes = getattr(self, f"codes_{i}")
            cls_t = nearest_code(o.reshape(B, T, c.num_heads * c.head_v_dim), codes)
            q0 = layer.q_proj.weight[:, 0].reshape(c.num_heads, c.head_k_dim)
            o0 = torch.einsum("hkv,hk->hv", layer.initial_state.to(torch.float64),
                              q0.to(torch.float64) * (c.scale if c.scale is not None else 1.0))
            c0 = nearest_code(o0.reshape(1, -1), codes).expand(B, 1)
            finals.append(ht)
            return torch.cat([c0.to(cls_t.device), cls_t], dim=1)

        token_maps = [getattr(self, f"token_map_{i}") if i else None
                      for i in range(len(self.layers))]
        classes = run_stack(token_maps, sym, run_layer)
        top = classes[-1]
        acc = self.accepting[top]
        states = self.state_map[top] if self.state_map is not None else None
        return ConstructedOutput(classes=tuple(classes), accepted=acc, states=states,
                                 final_states=tuple(finals))
