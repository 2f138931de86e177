r"""A Mamba-style diagonal layer (``nn.Module``) on the diagonal scan, with transitions in
[0, 1] or, as Grazzi et al.'s ``Diag(2 s - 1)``, in [-1, 1]; and its construction initializer.

The layer
---------
:class:`MambaLayer` follows Mamba-2's block (one scalar transition per head, state expansion,
gated output), on :func:`statetrack.kernels.diagonal_scan`. For ``x`` ``[B, T, D]``
(``D = hidden_size``), ``H`` heads of size ``P`` (``d_inner = H P``, by default
``expand * D``) and state size ``N``:

* one input projection ``W_in x`` split into the gate ``z`` (``d_inner``, when ``gate``), the
  stream ``xBC = (u, B, C)`` (``d_inner + 2 H N``) and ``dt`` (``H``);
* a short causal depthwise convolution on ``xBC`` (kernel ``conv_size``, as
  :class:`~statetrack.kernels.layers.delta_product.ShortConvolution`), then the activation
  (SiLU; ``"none"`` for constructions);
* the gate value ``s`` in [0, 1] per head and token, by ``a_mode``:
  ``"exp"`` (Mamba's): ``Delta = softplus(dt + dt_bias)``, ``s = exp(-Delta exp(A_log))``,
  and the input is scaled by ``Delta``; ``"sigmoid"``: ``s = sigmoid(dt + dt_bias)``;
  ``"raw"``: ``s = clamp(dt + dt_bias, 0, 1)`` (exact table values, for constructions);
* the transition ``a = s`` (``eigen_range="[0,1]"``, Mamba as published) or ``a = 2 s - 1``
  (``"[-1,1]"``);
* the state ``h`` ``[H, P, N]`` per batch entry: ``h_t = a_t h_{t-1} + u_t B_t^T`` per head
  (``a_t`` broadcast over ``P`` and ``N``), run as one diagonal scan over ``H P N`` channels
  (float32 for 16-bit inputs), from a learned initial state (``learn_initial_state``) or
  zeros;
* the readout ``o_t = h_t C_t + D u_t`` per head (``D`` a learned skip, ``use_d_skip``), then
  ``o * silu(z)`` (``gate``), an RMSNorm (``use_output_norm``) and the output projection back
  to ``hidden_size`` (``use_output_proj``).

With ``backend="ssd"`` the readout is computed in the state-space-duality (Mamba-2) form,
per chunk of ``Q = chunk_size`` tokens, never forming the states of every token:
``o_t = sum_{s <= t} (prod_{r=s+1..t} a_r) (C_t . B_s) u_s`` inside a chunk, plus the state
carried in from the previous chunk, ``(prod_{r=start..t} a_r) h_start C_t`` (see
:func:`ssd_readout`). The products of transitions are cumulative products, and their
gradients products of those (never divisions, and no host read: the step can be captured in
a CUDA graph), so transitions of 0 and negative transitions are exact cases, not special
ones.

The call ``layer(x)`` returns ``y`` ``[B, T, hidden_size]`` (``[B, T, d_inner]`` without the
output projection); ``layer(x, return_state=True)`` returns ``(y, h_T)`` with the final state
``[B, H, P, N]``.

Exact initialization from a construction
----------------------------------------
:meth:`MambaLayer.from_construction` loads a :class:`statetrack.constructions.mamba.MambaForm`
(per letter ``x`` and channel ``i``: ``s[x][i]``, ``b[x][i]``; initial state ``h_0``). Fed
one-hot letters (``hidden_size`` = the alphabet size), with ``H = r`` heads of size ``P = 1``
and ``N = 1``, ``a_mode="raw"``, no activation, gate, norm, skip or output projection:

* the rows of ``W_in`` for ``u`` are all ones (``u = 1``), for ``B`` the table ``b``
  (``W[i, x] = b[x][i]``), for ``C`` all ones, for ``dt`` the table ``s``, ``dt_bias = 0``;
* the convolution passes its input through (last tap 1, the others 0);
* the initial state is ``h_0``.

A linear map of a one-hot vector returns one column exactly, so ``s``, ``b`` and the state
follow the form's exact recurrence in the layer's float format whenever the form is exact in
it (:func:`statetrack.constructions.mamba.verify_mamba_form` decides that); the output
``o = h`` is the state itself, decoded by :func:`decode_mamba`. The parity form is all 0 and
±1, exact in every format, so the loaded layer recognizes parity on words of every length.

Examples
--------
>>> import torch
>>> from statetrack.automata.families import get
>>> from statetrack.constructions.mamba import mamba_construction
>>> form = mamba_construction(get("parity"))
>>> layer = MambaLayer.from_construction(form, backend="torch")
>>> x = torch.nn.functional.one_hot(torch.tensor([[1, 1, 0, 1]]), 2).float()
>>> y = layer(x)
>>> y[0, :, 0].tolist()                      # the parity bit after each prefix
[1.0, 0.0, 0.0, 1.0]
>>> decode_mamba(form, y)[1][0].tolist()     # accepted prefixes
[True, False, False, True]
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from statetrack.kernels._common.checks import (FLOAT_DTYPES, check_same_device, check_shape,
                                               check_tensor, state_dtype_for)
from statetrack.kernels.errors import KernelDtypeError, LayerConfigError, StateDictError

from .delta_product import ShortConvolution, check_factory_kwargs, check_input_like, nearest_code

__all__ = ["MambaConfig", "MambaLayer", "decode_mamba", "EIGEN_RANGES", "A_MODES",
           "LAYER_BACKENDS", "ssd_readout"]

#: Ranges of the transition entries.
EIGEN_RANGES = ("[-1,1]", "[0,1]")
#: How the gate value ``s`` in [0, 1] is computed.
A_MODES = ("exp", "sigmoid", "raw")
#: Scans a layer can run through: the kernel's three and the sequential reference.
LAYER_BACKENDS = ("auto", "triton", "torch", "reference", "ssd")
_ACTIVATIONS = ("silu", "none")


@dataclass(frozen=True)
class MambaConfig:
    """Configuration of a :class:`MambaLayer` (see the module docstring for each part).

    Attributes
    ----------
    hidden_size : int
    num_heads : int
        ``H``.
    state_size : int
        ``N``.
    eigen_range : {"[-1,1]", "[0,1]"}
        ``a = 2 s - 1`` or ``a = s``.
    conv_size : int
    backend : {"auto", "triton", "torch", "reference", "ssd"}
        The scan (:func:`~statetrack.kernels.diagonal_scan` backends, or the sequential
        :func:`~statetrack.kernels.diagonal_scan_reference`), or ``"ssd"``: the readout
        computed without the ``[B, T, H, P, N]`` states (:func:`ssd_readout`, PyTorch; the
        same function, a fraction of the memory traffic at short lengths).
    expand : int
        ``d_inner = expand * hidden_size`` when ``head_dim`` is None.
    head_dim : int or None
        ``P``; ``d_inner = H P``.
    a_mode : {"exp", "sigmoid", "raw"}
    activation : {"silu", "none"}
    use_short_conv, gate, use_d_skip, use_output_norm, use_output_proj, learn_initial_state : bool
    chunk_size : int
        Chunk of the Triton scan, and of ``"ssd"``: one of
        :data:`~statetrack.kernels.diagonal_scan.SUPPORTED_CHUNK_SIZES` whatever the backend
        (the layer can switch backends; :func:`ssd_readout` alone takes any ``Q >= 1``).
    norm_eps : float
    bias : bool
        Biases on the projections.

    Examples
    --------
    >>> cfg = MambaConfig(hidden_size=32, num_heads=4, state_size=8)
    >>> cfg.d_inner, cfg.head_size, cfg.channels
    (64, 16, 512)
    >>> MambaConfig(hidden_size=32, eigen_range="[-2,2]")
    Traceback (most recent call last):
    ...
    statetrack.kernels.errors.LayerConfigError: eigen_range: expected one of ('[-1,1]', '[0,1]'), got '[-2,2]'
    """

    hidden_size: int
    num_heads: int = 4
    state_size: int = 16
    eigen_range: str = "[-1,1]"
    conv_size: int = 4
    backend: str = "auto"
    expand: int = 2
    head_dim: int | None = None
    a_mode: str = "exp"
    activation: str = "silu"
    use_short_conv: bool = True
    gate: bool = True
    use_d_skip: bool = True
    use_output_norm: bool = True
    use_output_proj: bool = True
    learn_initial_state: bool = False
    chunk_size: int = 64
    norm_eps: float = 1e-5
    bias: bool = False

    def __post_init__(self) -> None:
        for name in ("hidden_size", "num_heads", "state_size", "conv_size", "expand",
                     "chunk_size"):
            val = getattr(self, name)
            if isinstance(val, bool) or not isinstance(val, int) or val < 1:
                raise LayerConfigError(f"{name}: expected an int >= 1, got {val!r}")
        if self.head_dim is not None and (isinstance(self.head_dim, bool)
                                          or not isinstance(self.head_dim, int)
                                          or self.head_dim < 1):
            raise LayerConfigError(f"head_dim: expected an int >= 1 or None, got "
                                   f"{self.head_dim!r}")
        for name, allowed in (("eigen_range", EIGEN_RANGES), ("a_mode", A_MODES),
                              ("activation", _ACTIVATIONS), ("backend", LAYER_BACKENDS)):
            if getattr(self, name) not in allowed:
                raise LayerConfigError(
                    f"{name}: expected one of {allowed}, got {getattr(self, name)!r}")
        if self.head_dim is None and (self.expand * self.hidden_size) % self.num_heads:
            raise LayerConfigError(
                f"num_heads: {self.num_heads} does not divide d_inner = expand * hidden_size "
                f"= {self.expand * self.hidden_size}; pass head_dim or another num_heads")
        from statetrack.kernels.diagonal_scan.scan import SUPPORTED_CHUNK_SIZES
        if self.chunk_size not in SUPPORTED_CHUNK_SIZES:
            raise LayerConfigError(f"chunk_size: expected one of {SUPPORTED_CHUNK_SIZES}, got "
                                   f"{self.chunk_size!r}")
        if not (isinstance(self.norm_eps, (int, float)) and self.norm_eps > 0):
            raise LayerConfigError(f"norm_eps: expected a positive float, got {self.norm_eps!r}")

    @property
    def head_size(self) -> int:
        """``P``."""
        if self.head_dim is not None:
            return self.head_dim
        return self.expand * self.hidden_size // self.num_heads

    @property
    def d_inner(self) -> int:
        """``H P``."""
        return self.num_heads * self.head_size

    @property
    def channels(self) -> int:
        """``H P N``, the channels of the scan."""
        return self.d_inner * self.state_size

    @property
    def output_size(self) -> int:
        """``hidden_size`` with the output projection, else ``d_inner``."""
        return self.hidden_size if self.use_output_proj else self.d_inner


class _SegmentProducts(torch.autograd.Function):
    """``L[..., t, s] = prod_{r=s+1..t} a[..., r]`` for ``s <= t`` (1 on the diagonal), 0 above.

    The backward is products of ``L`` with itself, no division: with ``X = L^T dL``,
    ``da[r] = sum_{s < r} L[r-1, s] X[r, s]``. (PyTorch's own ``cumprod`` backward tests
    the input for zeros with a host read, a synchronisation a CUDA graph cannot hold.)
    """

    @staticmethod
    def forward(ctx, a):
        n = a.shape[-1]
        below = torch.ones(n, n, dtype=torch.bool, device=a.device).tril(-1)
        m = torch.where(below, a[..., :, None], torch.ones((), dtype=a.dtype, device=a.device))
        lmat = torch.cumprod(m, dim=-2).tril()
        ctx.save_for_backward(lmat)
        return lmat

    @staticmethod
    def backward(ctx, g):
        (lmat,) = ctx.saved_tensors
        x = lmat.transpose(-1, -2) @ g.tril()                 # X[r, s] = sum_t L[t, r] g[t, s]
        shifted = torch.cat([torch.zeros_like(lmat[..., :1, :]), lmat[..., :-1, :]], dim=-2)
        return (shifted * x).sum(-1)


def ssd_readout(a: torch.Tensor, u: torch.Tensor, Bm: torch.Tensor, Cm: torch.Tensor,
                h0: torch.Tensor | None = None, *, chunk_size: int = 64,
                return_state: bool = False
                ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """The readout ``o_t = h_t C_t`` of ``h_t = a_t h_{t-1} + u_t B_t^T`` without the states.

    Per head the transition ``a_t`` is a scalar, so the readout is a masked "attention"
    ``o = (L o (C B^T)) u`` with ``L[t, s] = prod_{r=s+1..t} a_r`` (``s <= t``), computed per
    chunk of ``chunk_size`` tokens; the state at each chunk's end carries the rest. Memory is
    ``O(B H T Q)`` for chunks of ``Q`` tokens instead of the ``O(B T H P N)`` of the states.

    Everything is computed in float32 (float64 for float64 inputs), autocast or not: the
    products of 16-bit inputs and the state carried from chunk to chunk are not rounded to
    16 bits (as in :func:`~statetrack.kernels.diagonal_scan`).

    Parameters
    ----------
    a : torch.Tensor
        ``[B, T, H]`` transitions (any real values); float16, bfloat16, float32 or float64.
    u : torch.Tensor
        ``[B, T, H, P]`` inputs (already scaled by ``Delta`` where the layer does that).
    Bm, Cm : torch.Tensor
        ``[B, T, H, N]``.
    h0 : torch.Tensor, optional
        ``[B, H, P, N]`` initial state (zeros if omitted), of the inputs' dtype or float32.
    chunk_size : int
        Tokens per chunk ``Q`` (the quadratic part is ``Q x Q``).
    return_state : bool
        Also return the final state ``[B, H, P, N]``.

    Returns
    -------
    o : torch.Tensor
        ``[B, T, H, P]`` in the inputs' dtype.
    final_state : torch.Tensor
        Only with ``return_state``; float32 (float64 for float64 inputs).

    Raises
    ------
    KernelShapeError, KernelDtypeError, KernelDeviceError
        ``a``, ``u``, ``Bm``, ``Cm`` are not ``[B, T, H]``, ``[B, T, H, P]`` and
        ``[B, T, H, N]`` tensors of one floating dtype on one device, or ``h0`` is not
        ``[B, H, P, N]`` of their dtype or float32 there.
    LayerConfigError
        ``chunk_size`` is not an int >= 1.

    Examples
    --------
    Against the states of the recurrence:

    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> a = 2 * torch.rand(2, 7, 3, generator=g, dtype=torch.float64) - 1
    >>> u = torch.randn(2, 7, 3, 4, generator=g, dtype=torch.float64)
    >>> Bm, Cm = torch.randn(2, 2, 7, 3, 5, generator=g, dtype=torch.float64)
    >>> h = torch.zeros(2, 3, 4, 5, dtype=torch.float64)
    >>> outs = []
    >>> for t in range(7):
    ...     h = a[:, t, :, None, None] * h + u[:, t, :, :, None] * Bm[:, t, :, None, :]
    ...     outs.append((h * Cm[:, t, :, None, :]).sum(-1))
    >>> o, hT = ssd_readout(a, u, Bm, Cm, chunk_size=3, return_state=True)
    >>> bool(torch.allclose(o, torch.stack(outs, 1))), bool(torch.allclose(hT, h))
    (True, True)
    """
    B, T, H, P, N = _check_ssd_inputs(a, u, Bm, Cm, h0)
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise LayerConfigError(f"chunk_size: expected an int >= 1, got {chunk_size!r}")
    dtype = a.dtype
    sd = state_dtype_for(dtype)
    # autocast would run the einsums' products in 16 bits; the recurrence is float32 here as
    # in the scans (a context manager: nothing read from the device, capturable)
    dev = a.device.type
    off = (torch.autocast(dev, enabled=False) if torch.amp.is_autocast_available(dev)
           else contextlib.nullcontext())
    with off:
        o, state = _ssd_chunks(a.to(sd), u.to(sd), Bm.to(sd), Cm.to(sd),
                               None if h0 is None else h0.to(sd), chunk_size, return_state)
    o = o.to(dtype)
    return (o, state) if return_state else o


def _check_ssd_inputs(a, u, Bm, Cm, h0) -> tuple[int, int, int, int, int]:
    """``B, T, H, P, N`` of :func:`ssd_readout`'s arguments, checked (metadata only)."""
    check_tensor(a, "a", ndim=3, dtypes=FLOAT_DTYPES)
    for name, t in (("u", u), ("Bm", Bm), ("Cm", Cm)):
        check_tensor(t, name, ndim=4)
        if t.dtype != a.dtype:
            raise KernelDtypeError(
                f"{name}: dtype {str(t.dtype).replace('torch.', '')} differs from a's "
                f"{str(a.dtype).replace('torch.', '')}; a, u, Bm and Cm must share one dtype")
    B, T, H = (int(s) for s in a.shape)
    P, N = int(u.shape[-1]), int(Bm.shape[-1])
    origin = f"B={B}, T={T}, H={H} from a"
    check_shape(u, "u", (B, T, H, P), "[B, T, H, P]", origin)
    check_shape(Bm, "Bm", (B, T, H, N), "[B, T, H, N]", f"{origin}, N={N} from Bm")
    check_shape(Cm, "Cm", (B, T, H, N), "[B, T, H, N]", f"{origin}, N={N} from Bm")
    if h0 is not None:
        check_tensor(h0, "h0", ndim=4,
                     dtypes=tuple(dict.fromkeys((a.dtype, torch.float32))))
        check_shape(h0, "h0", (B, H, P, N), "[B, H, P, N]", f"B={B}, H={H} from a, P={P} "
                    f"from u, N={N} from Bm")
    check_same_device({"a": a, "u": u, "Bm": Bm, "Cm": Cm, "h0": h0})
    return B, T, H, P, N


def _ssd_chunks(a, u, Bm, Cm, h0, chunk_size, return_state):
    """:func:`ssd_readout`'s computation on checked inputs of one dtype: ``(o, state)``."""
    B, T, H = a.shape
    P, N = u.shape[-1], Bm.shape[-1]
    state = torch.zeros(B, H, P, N, dtype=u.dtype, device=u.device) if h0 is None else h0
    outs = []
    for t0 in range(0, T, chunk_size):
        t1 = min(T, t0 + chunk_size)
        Q = t1 - t0
        ac = a[:, t0:t1].permute(0, 2, 1)                            # [B, H, Q]
        # segment products over the chunk with a leading 1: column 0 of the result is
        # prod_{r=t0..t} a_r (what the carried-in state is multiplied by), the rest
        # L[t, s] = prod_{r=s+1..t} a_r
        lall = _SegmentProducts.apply(torch.cat([torch.ones_like(ac[..., :1]), ac], -1))
        lmat, pref = lall[..., 1:, 1:], lall[..., 1:, 0]               # [B,H,Q,Q], [B,H,Q]
        uc, bc, cc = u[:, t0:t1], Bm[:, t0:t1], Cm[:, t0:t1]
        w = lmat * torch.einsum("bthn,bshn->bhts", cc, bc)
        o = torch.einsum("bhts,bshp->bthp", w, uc)
        # the state carried in: (prod_{r=t0..t} a_r) C_t . h
        o = o + pref.permute(0, 2, 1)[..., None] * torch.einsum("bthn,bhpn->bthp", cc, state)
        outs.append(o)
        if t1 < T or return_state:
            # state at the chunk's end: sum_s L[Q-1, s] u_s B_s^T + (prod of the chunk) h
            state = (torch.einsum("bhs,bshp,bshn->bhpn", lmat[..., Q - 1, :], uc, bc)
                     + pref[..., Q - 1, None, None] * state)
    o = torch.cat(outs, 1) if outs else u.new_zeros(B, 0, H, P)
    return o, state


class _Default:
    """A keyword default that shows as its value and tells "not given" apart from "given the
    default's value" (a :class:`MambaConfig` passed whole refuses fields beside it)."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return repr(self.value)


class MambaLayer(nn.Module):
    """Mamba-style diagonal layer with transitions in [0, 1] or ``Diag(2 s - 1)`` in [-1, 1].

    Parameters
    ----------
    hidden_size : int or MambaConfig
        The model width, or a whole :class:`MambaConfig` (as :class:`DeltaProductLayer` takes
        its config; then no other configuration argument may be given).
    num_heads, state_size, eigen_range, conv_size, backend
        See :class:`MambaConfig` (the contract's arguments).
    generator : torch.Generator, optional
        Source of the random initialization (Mamba-2's: ``A`` uniform in [1, 16],
        ``Delta`` log-uniform in [1e-3, 1e-1] through ``dt_bias``, ``D = 1``; the projections
        and the convolution uniform in ``±1/sqrt(fan_in)``).
    device, dtype : optional
        Of the parameters.
    **options
        The other fields of :class:`MambaConfig` (``expand``, ``head_dim``, ``a_mode``,
        ``activation``, ``use_short_conv``, ``gate``, ``use_d_skip``, ``use_output_norm``,
        ``use_output_proj``, ``learn_initial_state``, ``chunk_size``, ``norm_eps``, ``bias``).

    Raises
    ------
    LayerConfigError
        A bad option (the message names it).

    Examples
    --------
    >>> layer = MambaLayer(16, num_heads=2, state_size=4, backend="torch",
    ...                    generator=torch.Generator().manual_seed(0))
    >>> x = torch.randn(3, 5, 16, generator=torch.Generator().manual_seed(1))
    >>> layer(x).shape
    torch.Size([3, 5, 16])
    >>> a = layer.transitions(x)
    >>> a.shape, bool((a > -1).all() and (a < 1).all())
    (torch.Size([3, 5, 2]), True)
    >>> MambaLayer(MambaConfig(hidden_size=16, num_heads=2), backend="torch").config.num_heads
    Traceback (most recent call last):
    ...
    statetrack.kernels.errors.LayerConfigError: MambaLayer: give either a MambaConfig or its fields, not both (got backend)
    >>> MambaLayer(MambaConfig(hidden_size=16, num_heads=2)).config.num_heads
    2
    """

    def __init__(self, hidden_size: int | MambaConfig, *, num_heads: int = _Default(4),
                 state_size: int = _Default(16), eigen_range: str = _Default("[-1,1]"),
                 conv_size: int = _Default(4), backend: str = _Default("auto"),
                 generator: torch.Generator | None = None, device: Any = None,
                 dtype: torch.dtype | None = None, **options: Any):
        super().__init__()
        fields = {"num_heads": num_heads, "state_size": state_size, "eigen_range": eigen_range,
                  "conv_size": conv_size, "backend": backend}
        if isinstance(hidden_size, MambaConfig):
            extra = [n for n, v in fields.items() if not isinstance(v, _Default)] + list(options)
            if extra:
                raise LayerConfigError(f"MambaLayer: give either a MambaConfig or its fields, "
                                       f"not both (got {', '.join(extra)})")
            cfg = hidden_size
        else:
            try:
                cfg = MambaConfig(hidden_size=hidden_size, **{
                    n: v.value if isinstance(v, _Default) else v for n, v in fields.items()},
                    **options)
            except TypeError as err:
                raise LayerConfigError(f"MambaLayer: {err}") from None
        check_factory_kwargs(device, dtype)
        self.config = c = cfg
        kw = {"device": device, "dtype": dtype}
        H, N, E = c.num_heads, c.state_size, c.d_inner
        self.xbc_size = E + 2 * H * N
        self.in_size = (E if c.gate else 0) + self.xbc_size + H
        self.in_proj = nn.Linear(c.hidden_size, self.in_size, bias=c.bias, **kw)
        self.conv = (ShortConvolution(self.xbc_size, c.conv_size).to(**kw)
                     if c.use_short_conv else None)
        self.A_log = nn.Parameter(torch.empty(H, **kw))
        self.dt_bias = nn.Parameter(torch.empty(H, **kw))
        self.D = nn.Parameter(torch.empty(H, **kw)) if c.use_d_skip else None
        self.norm_weight = nn.Parameter(torch.empty(E, **kw)) if c.use_output_norm else None
        self.out_proj = (nn.Linear(E, c.hidden_size, bias=c.bias, **kw)
                         if c.use_output_proj else None)
        self.initial_state = (nn.Parameter(torch.empty(H, c.head_size, N, **kw))
                              if c.learn_initial_state else None)
        self.reset_parameters(generator)

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Mamba-2's initialization, drawn from ``generator`` (see the class docstring)."""
        c = self.config
        for lin in (self.in_proj, self.out_proj):
            if lin is None:
                continue
            bound = 1.0 / math.sqrt(lin.in_features)
            lin.weight.uniform_(-bound, bound, generator=generator)
            if lin.bias is not None:
                lin.bias.zero_()
        if self.conv is not None:
            bound = 1.0 / math.sqrt(c.conv_size)
            self.conv.conv.weight.uniform_(-bound, bound, generator=generator)
        H = c.num_heads
        u = torch.rand(H, generator=generator, dtype=torch.float64)
        self.A_log.copy_(torch.log(1 + 15 * u))
        if c.a_mode == "exp":
            dt = torch.exp(math.log(1e-3) + torch.rand(H, generator=generator,
                                                      dtype=torch.float64)
                           * (math.log(1e-1) - math.log(1e-3)))
            self.dt_bias.copy_(dt + torch.log(-torch.expm1(-dt)))     # softplus^-1(dt)
        elif c.a_mode == "sigmoid":
            self.dt_bias.copy_(torch.full((H,), 3.0))                 # s near 0.95
        else:
            self.dt_bias.copy_(torch.full((H,), 0.95))
        if self.D is not None:
            self.D.fill_(1.0)
        if self.norm_weight is not None:
            self.norm_weight.fill_(1.0)
        if self.initial_state is not None:
            self.initial_state.zero_()

    # ------------------------------------------------------------------ forward
    def _check_x(self, x: Any) -> None:
        c = self.config
        if not isinstance(x, torch.Tensor) or x.ndim != 3 or x.shape[-1] != c.hidden_size \
                or not x.is_floating_point():
            got = (f"{type(x).__name__}" if not isinstance(x, torch.Tensor)
                   else f"{x.dtype} tensor of shape {list(x.shape)}")
            raise LayerConfigError(
                f"x: expected a floating [B, T, hidden_size={c.hidden_size}] tensor, got {got}")
        check_input_like(x, self.in_proj.weight)

    def _split(self, x: torch.Tensor):
        c = self.config
        E = c.d_inner
        zxbcdt = self.in_proj(x)
        z = zxbcdt[..., :E] if c.gate else None
        off = E if c.gate else 0
        xbc = zxbcdt[..., off:off + self.xbc_size]
        dt = zxbcdt[..., off + self.xbc_size:]
        if self.conv is not None:
            xbc = self.conv(xbc)
        if c.activation == "silu":
            xbc = F.silu(xbc)
        return z, xbc, dt

    def _gate(self, dt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``s`` in [0, 1] ``[B, T, H]`` and Mamba's ``Delta`` (``"exp"`` only), in float32
        (float64 for float64 parameters)."""
        c = self.config
        sd = torch.float64 if dt.dtype == torch.float64 else torch.float32
        pre = dt.to(sd) + self.dt_bias.to(sd)
        if c.a_mode == "exp":
            delta = F.softplus(pre)
            return torch.exp(-delta * torch.exp(self.A_log.to(sd))), delta
        if c.a_mode == "sigmoid":
            return torch.sigmoid(pre), None
        return pre.clamp(0.0, 1.0), None

    def transitions(self, x: torch.Tensor) -> torch.Tensor:
        """The transition entries ``a`` ``[B, T, H]`` for ``x`` (``s`` or ``2 s - 1``).

        Raises
        ------
        LayerConfigError
            ``x`` is not a floating ``[B, T, hidden_size]`` tensor.
        """
        self._check_x(x)
        s, _ = self._gate(self._split(x)[2])
        return s if self.config.eigen_range == "[0,1]" else 2 * s - 1

    def _recurrence(self, x: torch.Tensor, initial_state: torch.Tensor | None):
        """The recurrence's parts: ``a`` ``[B, T, H]``, ``uf`` (the input, times ``Delta``
        where the mode has it) ``[B, T, H, P]``, ``B``, ``C`` ``[B, T, H, N]``, the initial
        state ``[B, H, P, N]`` or None, and ``z``, ``u`` for the output."""
        self._check_x(x)
        c = self.config
        B, T, _ = x.shape
        H, P, N = c.num_heads, c.head_size, c.state_size
        z, xbc, dt = self._split(x)
        u = xbc[..., :c.d_inner].reshape(B, T, H, P)
        Bm = xbc[..., c.d_inner:c.d_inner + H * N].reshape(B, T, H, N)
        Cm = xbc[..., c.d_inner + H * N:].reshape(B, T, H, N)
        s, delta = self._gate(dt)                                   # [B, T, H]
        sd = s.dtype
        a = s if c.eigen_range == "[0,1]" else 2 * s - 1
        uf = u.to(sd) if delta is None else u.to(sd) * delta[..., None]
        h0 = initial_state
        if h0 is not None:
            if not isinstance(h0, torch.Tensor) or tuple(h0.shape) != (B, H, P, N):
                raise LayerConfigError(f"initial_state: expected [B={B}, H={H}, P={P}, N={N}], "
                                       f"got {getattr(h0, 'shape', type(h0).__name__)}")
        elif self.initial_state is not None:
            h0 = self.initial_state[None].expand(B, H, P, N)
        if h0 is not None:
            h0 = h0.to(sd)
        return a, uf, Bm.to(sd), Cm.to(sd), h0, z, u

    def _scan(self, x: torch.Tensor, initial_state: torch.Tensor | None):
        """The scan's states ``[B, T, H, P, N]`` and what the readout needs."""
        from statetrack.kernels.diagonal_scan import diagonal_scan, diagonal_scan_reference

        c = self.config
        a, uf, Bm, Cm, h0, z, u = self._recurrence(x, initial_state)
        B, T, H, P = uf.shape
        N = Bm.shape[-1]
        a_full = a[..., None, None].expand(B, T, H, P, N).reshape(B, T, H * P * N)
        b_full = (uf[..., :, None] * Bm[..., None, :]).reshape(B, T, H * P * N)
        h0f = h0.reshape(B, H * P * N) if h0 is not None else None
        if c.backend == "reference":
            h = diagonal_scan_reference(a_full.contiguous(), b_full.contiguous(), h0f)
        else:
            # "ssd" asks for the states only through states(): they come from the scan
            backend = "auto" if c.backend == "ssd" else c.backend
            h = diagonal_scan(a_full, b_full, h0f, backend=backend, chunk_size=c.chunk_size)
        return h.reshape(B, T, H, P, N), h0f, z, u, Cm

    def states(self, x: torch.Tensor, *, initial_state: torch.Tensor | None = None
               ) -> torch.Tensor:
        """The states ``h_t`` after every token, ``[B, T, H, P, N]`` (float32; float64 for
        float64 parameters).

        Raises
        ------
        LayerConfigError
            ``x`` or ``initial_state`` has the wrong shape or type.
        """
        return self._scan(x, initial_state)[0]

    def forward(self, x: torch.Tensor, *, initial_state: torch.Tensor | None = None,
                return_state: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Run the layer on ``x`` ``[B, T, hidden_size]``.

        Parameters
        ----------
        x : torch.Tensor
        initial_state : torch.Tensor, optional
            ``[B, H, P, N]``; overrides the learned initial state (if any); zeros otherwise.
        return_state : bool
            Also return the final state ``[B, H, P, N]`` (float32; float64 for float64).

        Returns
        -------
        y : torch.Tensor
            ``[B, T, output_size]`` in ``x``'s dtype.
        final_state : torch.Tensor
            Only with ``return_state``.

        Raises
        ------
        LayerConfigError
            ``x`` or ``initial_state`` has the wrong shape or type.
        """
        c = self.config
        B, T = x.shape[0], x.shape[1]
        final = None
        if c.backend == "ssd":
            a, uf, Bm, Cm, h0s, z, u = self._recurrence(x, initial_state)
            sd = uf.dtype
            r = ssd_readout(a, uf, Bm, Cm, h0s, chunk_size=c.chunk_size,
                            return_state=return_state)
            o, final = r if return_state else (r, None)
        else:
            h, h0, z, u, Cm = self._scan(x, initial_state)
            sd = h.dtype
            o = (h * Cm.to(sd)[..., None, :]).sum(-1)               # [B, T, H, P]
        if self.D is not None:
            o = o + self.D.to(sd)[:, None] * u.to(sd)
        o = o.reshape(B, T, c.d_inner)
        if z is not None:
            o = o * F.silu(z.to(sd))
        if self.norm_weight is not None:
            o = o * torch.rsqrt(o.pow(2).mean(-1, keepdim=True) + c.norm_eps)
            o = o * self.norm_weight.to(sd)
        y = o.to(x.dtype)
        if self.out_proj is not None:
            y = self.out_proj(y)
        if return_state and final is not None:
            return y, final
        if return_state:
            H, P, N = c.num_heads, c.head_size, c.state_size
            final = h[:, -1] if T else (h0.reshape(B, H, P, N) if h0 is not None else
                                        torch.zeros(B, H, P, N, dtype=sd, device=x.device))
            return y, final
        return y

    # ------------------------------------------------------------------ constructions
    @classmethod
    def from_construction(cls, form: Any, *, backend: str = "auto", conv_size: int = 4,
                          use_short_conv: bool = True, dtype: torch.dtype = torch.float32,
                          device: Any = None, chunk_size: int = 64) -> "MambaLayer":
        """A layer that, fed one-hot letters, runs the Mamba form ``form`` (see the module
        docstring); its output ``[B, T, r]`` is the state, decoded by :func:`decode_mamba`.

        Parameters
        ----------
        form : statetrack.constructions.mamba.MambaForm
        backend : {"auto", "triton", "torch", "reference", "ssd"}
        conv_size : int
            The (pass-through) convolution's size.
        use_short_conv : bool
            Keep the convolution (pass-through) in the layer.
        dtype, device : optional
            Of the parameters.
        chunk_size : int

        Raises
        ------
        StateDictError
            ``form`` is not a :class:`~statetrack.constructions.mamba.MambaForm`.

        Examples
        --------
        >>> from statetrack.automata.families import get
        >>> from statetrack.constructions.mamba import mamba_construction
        >>> layer = MambaLayer.from_construction(mamba_construction(get("parity")))
        >>> layer.config.eigen_range, layer.config.num_heads, layer.config.a_mode
        ('[-1,1]', 1, 'raw')
        """
        from statetrack.constructions.mamba import MambaForm

        if not isinstance(form, MambaForm):
            raise StateDictError(f"form: expected a MambaForm, got {type(form).__name__}")
        S, r = len(form.alphabet), form.width
        layer = cls(S, num_heads=r, state_size=1, eigen_range=form.eigen_range,
                    conv_size=conv_size, backend=backend, head_dim=1, a_mode="raw",
                    activation="none", use_short_conv=use_short_conv, gate=False,
                    use_d_skip=False, use_output_norm=False, use_output_proj=False,
                    learn_initial_state=True, chunk_size=chunk_size, dtype=dtype,
                    device=device)

        def table(rows: Any) -> torch.Tensor:                       # [S, r] -> [r, S]
            return torch.tensor([[float(v) for v in row] for row in rows],
                                dtype=torch.float64).T

        with torch.no_grad():
            w = torch.zeros(layer.in_size, S, dtype=torch.float64)
            w[0:r] = 1.0                                            # u = 1
            w[r:2 * r] = table(form.b)                              # B = b[x]
            w[2 * r:3 * r] = 1.0                                    # C = 1
            w[3 * r:4 * r] = table(form.s)                          # dt = s[x]
            layer.in_proj.weight.copy_(w)
            layer.dt_bias.zero_()
            if layer.conv is not None:
                layer.conv.conv.weight.zero_()
                layer.conv.conv.weight[:, 0, -1] = 1.0              # pass-through
            layer.initial_state.copy_(torch.tensor([float(v) for v in form.initial_state],
                                                   dtype=torch.float64).view(r, 1, 1))
        return layer


def decode_mamba(form: Any, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Classes and accept bits of a constructed layer's output ``y`` ``[B, T, r]``: the readout
    ``y @ query`` (float64) matched to the nearest code of ``form``.

    Returns
    -------
    classes : torch.Tensor
        ``[B, T]`` int64.
    accepted : torch.Tensor
        ``[B, T]`` bool.

    Raises
    ------
    LayerConfigError
        ``y``'s last dimension is not the form's width.

    Examples
    --------
    >>> from statetrack.automata.families import get
    >>> from statetrack.constructions.mamba import mamba_construction
    >>> form = mamba_construction(get("parity"))
    >>> decode_mamba(form, torch.tensor([[[0.0], [1.0]]]))[1].tolist()
    [[False, True]]
    """
    if not isinstance(y, torch.Tensor) or y.ndim != 3 or y.shape[-1] != form.width:
        raise LayerConfigError(f"y: expected [B, T, r={form.width}], got "
                               f"{getattr(y, 'shape', type(y).__name__)}")
    q = torch.tensor([float(v) for v in form.query], dtype=torch.float64, device=y.device)
    o = (y.to(torch.float64) * q).sum(-1, keepdim=True)
    codes = torch.tensor([[float(v)] for v in form.codes], dtype=torch.float64)
    classes = nearest_code(o, codes)
    acc = torch.tensor(form.accepting, dtype=torch.bool, device=y.device)[classes]
    return classes, acc
