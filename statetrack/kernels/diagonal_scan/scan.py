r"""The diagonal scan ``h_t = a_t * h_{t-1} + b_t``: a chunked Triton kernel (forward and
backward), a pure-PyTorch fallback, one ``autograd.Function`` over both.

Same semantics and layout as :func:`~statetrack.kernels.diagonal_scan.naive.diagonal_scan_reference`
(read its module docstring for the recurrence and the gradient formulas).

The scan as composition of affine maps
--------------------------------------
Step ``t`` is the affine map ``h -> a_t h + b_t``, written ``(a_t, b_t)``. Doing ``(a_1, b_1)``
then ``(a_2, b_2)`` is ``(a_1 a_2, a_2 b_1 + b_2)``, an associative (not commutative) product;
the prefix products ``(P_t, Q_t)`` of a stretch of steps give ``h_t = P_t h_in + Q_t`` for the
state ``h_in`` before the stretch.

Triton kernels (two-level chunked scan)
---------------------------------------
Time is cut into chunks of ``BT`` steps (``chunk_size``, a power of two); a program owns one
chunk of ``BD`` channels of one batch entry (grid ``(T / BT, D / BD, B)``: parallel over time
chunks, channels and batch), loads its ``[BT, BD]`` tiles of ``a`` and ``b`` (accumulating in
float32, float64 for float64 inputs) and computes the prefix products with
``tl.associative_scan`` over the time axis.

1. *Summaries* (only when there is more than one chunk): each chunk writes its total
   ``(P, Q)`` ``[B, NT, D]``.
2. *Carries*: one program per (channel block, batch entry) walks the ``NT`` summaries in
   order, ``h_in(c + 1) = P_c h_in(c) + Q_c`` from ``h_in(0) = h0``: the second level, a
   sequential scan over chunks (``NT = T / BT`` steps, so ``T = 10^5`` needs 1,563 steps).
3. *Apply*: each chunk recomputes its prefix products and writes ``h_t = P_t h_in + Q_t``.

The backward pass is the same three kernels run in reverse (``reverse=True`` scans, chunks
walked from the end, carries from the right) on the pairs ``(a_{t+1}, g_t)``
(``a_T := 0``), which gives ``dh_t = g_t + a_{t+1} dh_{t+1}``; the apply kernel also writes
``da_t = dh_t h_{t-1}`` (``h_{-1} = h0``), reading the forward output ``h`` (saved in the
input dtype; with bfloat16 inputs ``da`` therefore carries one bfloat16 rounding of
``h_{t-1}``). ``db = dh`` and ``dh0 = a_0 dh_0``.

PyTorch fallback
----------------
``backend="torch"`` runs the same prefix products by recursive doubling (Hillis and Steele):
``log2 T`` vectorized rounds, round ``k`` combining each step with the one ``2^k`` earlier;
``O(T log T)`` work, no Python loop over time. Its backward is the reversed doubling scan.
``backend="auto"`` takes Triton for CUDA tensors and the PyTorch path for CPU tensors (where
Triton only runs through its interpreter, which is meant for tests).

Examples
--------
>>> import torch
>>> from statetrack.kernels.diagonal_scan import diagonal_scan, diagonal_scan_reference
>>> gen = torch.Generator().manual_seed(0)
>>> a = 2 * torch.rand(2, 37, 5, generator=gen) - 1        # eigenvalues in [-1, 1]
>>> b = torch.randn(2, 37, 5, generator=gen)
>>> h = diagonal_scan(a, b, backend="triton", chunk_size=16)   # three chunks
>>> ref = diagonal_scan_reference(a.double(), b.double())
>>> bool(torch.allclose(h.double(), ref, atol=1e-5)), h.dtype
(True, torch.float32)
"""

from __future__ import annotations

import torch

from statetrack.floats import next_pow2
from statetrack.kernels._common.checks import check_diagonal_scan_inputs
from statetrack.kernels._common.device import device_guard
from statetrack.kernels._common.triton import INTERPRET, require_runnable, tl, triton
from statetrack.kernels.errors import KernelInputError

__all__ = ["diagonal_scan", "BACKENDS", "SUPPORTED_DTYPES", "SUPPORTED_CHUNK_SIZES",
           "resolve_backend", "choose_block_d"]

#: Values of ``backend=``.
BACKENDS = ("auto", "triton", "torch")
#: Input dtypes of ``a`` and ``b``.
SUPPORTED_DTYPES = (torch.float32, torch.bfloat16, torch.float16, torch.float64)
#: Chunk lengths (time steps per program) the Triton kernels accept.
SUPPORTED_CHUNK_SIZES = (16, 32, 64, 128)


def resolve_backend(backend: object, device: torch.device) -> str:
    """``"triton"`` or ``"torch"`` for ``backend`` on tensors of ``device``.

    ``"auto"`` is Triton on CUDA, PyTorch elsewhere (Triton runs CPU tensors only through its
    interpreter, slowly). An explicit ``"triton"`` on a device Triton cannot run on raises.

    Raises
    ------
    KernelInputError
        ``backend`` is not one of :data:`BACKENDS`.
    KernelUnavailableError
        ``"triton"`` where no Triton kernel can run.

    Examples
    --------
    >>> resolve_backend("auto", torch.device("cpu"))
    'torch'
    >>> resolve_backend("cuda", torch.device("cpu"))
    Traceback (most recent call last):
    ...
    statetrack.kernels.errors.KernelInputError: backend: expected one of ('auto', 'triton', 'torch'), got 'cuda'
    """
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise KernelInputError(f"backend: expected one of {BACKENDS}, got {backend!r}")
    if backend == "auto":
        return "triton" if device.type == "cuda" else "torch"
    if backend == "triton":
        require_runnable(device, "diagonal_scan")
    return backend


def choose_block_d(D: int, programs: int) -> int:
    """Channels per program: up to 64 (under the interpreter: all of ``D`` up to 256, since
    interpreted programs run one after another); on a GPU halved down to 16 while fewer than
    256 programs would run.

    Parameters
    ----------
    D : int
        Channels.
    programs : int
        Programs per channel block (batch times time chunks).

    Examples
    --------
    >>> choose_block_d(5, 1)
    8
    """
    if INTERPRET:
        return min(next_pow2(D, lo=2), 256)
    bd = min(next_pow2(D, lo=16), 64)
    while bd > 16 and programs * triton.cdiv(D, bd) < 256:
        bd //= 2
    return bd


# ----------------------------------------------------------------------------- Triton


@triton.jit
def _compose(p1, q1, p2, q2):
    # (p1, q1) then (p2, q2); with reverse=True the scan feeds the later step first, so the
    # same function gives dh_t = q_t + p_t dh_{t+1}
    return p1 * p2, p2 * q1 + q2


@triton.jit
def _load_pairs(a, b, i_b, i_t, i_d, T, D, BT: tl.constexpr, BD: tl.constexpr,
                REVERSE: tl.constexpr, ACC: tl.constexpr):
    o_t = i_t * BT + tl.arange(0, BT)
    o_d = i_d * BD + tl.arange(0, BD)
    m_d = o_d < D
    m = (o_t < T)[:, None] & m_d[None, :]
    base = i_b.to(tl.int64) * T * D
    p_b = b + base + o_t[:, None] * D + o_d[None, :]
    q = tl.load(p_b, mask=m, other=0).to(ACC)
    if REVERSE:
        # the factor of step t is a_{t+1} (0 past the end: nothing flows back from t = T)
        m_a = (o_t + 1 < T)[:, None] & m_d[None, :]
        p_a = a + base + (o_t + 1)[:, None] * D + o_d[None, :]
        p = tl.load(p_a, mask=m_a, other=0).to(ACC)
        # padding past T must be the identity (1, 0) so that it passes the carry unchanged
        p = tl.where(m, p, 1.0)
    else:
        p_a = a + base + o_t[:, None] * D + o_d[None, :]
        p = tl.load(p_a, mask=m, other=1).to(ACC)
    return p, q, o_t, o_d, m


@triton.jit(do_not_specialize=["T", "NT"])
def _summary_kernel(a, b, sp, sq, T, NT, D, BT: tl.constexpr, BD: tl.constexpr,
                    REVERSE: tl.constexpr, ACC: tl.constexpr):
    i_t = tl.program_id(0)
    i_d = tl.program_id(1)
    i_b = tl.program_id(2)
    p, q, o_t, o_d, m = _load_pairs(a, b, i_b, i_t, i_d, T, D, BT, BD, REVERSE, ACC)
    P, Q = tl.associative_scan((p, q), 0, _compose, reverse=REVERSE)
    # the chunk's total sits in its last row (forward) or first row (reverse)
    row = tl.arange(0, BT)
    end = 0 if REVERSE else BT - 1
    pick = (row == end)[:, None]
    tot_p = tl.sum(tl.where(pick, P, 0.0), axis=0)
    tot_q = tl.sum(tl.where(pick, Q, 0.0), axis=0)
    off = (i_b.to(tl.int64) * NT + i_t) * D + o_d
    tl.store(sp + off, tot_p, mask=o_d < D)
    tl.store(sq + off, tot_q, mask=o_d < D)


@triton.jit(do_not_specialize=["NT"])
def _carry_kernel(sp, sq, h0, carry, NT, D, BD: tl.constexpr, REVERSE: tl.constexpr,
                  USE_H0: tl.constexpr, ACC: tl.constexpr):
    i_d = tl.program_id(0)
    i_b = tl.program_id(1).to(tl.int64)
    o_d = i_d * BD + tl.arange(0, BD)
    m_d = o_d < D
    h = tl.zeros([BD], dtype=ACC)
    if USE_H0:
        h += tl.load(h0 + i_b * D + o_d, mask=m_d, other=0).to(ACC)
    for r in range(0, NT):
        if REVERSE:
            c = NT - 1 - r
        else:
            c = r
        off = (i_b * NT + c) * D + o_d
        tl.store(carry + off, h, mask=m_d)
        h = tl.load(sp + off, mask=m_d, other=1) * h + tl.load(sq + off, mask=m_d, other=0)


@triton.jit(do_not_specialize=["T", "NT"])
def _apply_kernel(a, b, carry, out, hs, h0, da, T, NT, D, BT: tl.constexpr, BD: tl.constexpr,
                  REVERSE: tl.constexpr, USE_CARRY: tl.constexpr, WRITE_DA: tl.constexpr,
                  USE_H0: tl.constexpr, ACC: tl.constexpr):
    i_t = tl.program_id(0)
    i_d = tl.program_id(1)
    i_b = tl.program_id(2)
    p, q, o_t, o_d, m = _load_pairs(a, b, i_b, i_t, i_d, T, D, BT, BD, REVERSE, ACC)
    P, Q = tl.associative_scan((p, q), 0, _compose, reverse=REVERSE)
    if USE_CARRY:
        c = tl.load(carry + (i_b.to(tl.int64) * NT + i_t) * D + o_d, mask=o_d < D,
                    other=0).to(ACC)
        Q += P * c[None, :]
    base = i_b.to(tl.int64) * T * D
    tl.store(out + base + o_t[:, None] * D + o_d[None, :], Q.to(out.dtype.element_ty), mask=m)
    if WRITE_DA:
        # da_t = dh_t h_{t-1}, h_{-1} = h0 (or 0)
        m_prev = ((o_t >= 1) & (o_t < T))[:, None] & (o_d < D)[None, :]
        p_prev = hs + base + (o_t - 1)[:, None] * D + o_d[None, :]
        h_prev = tl.load(p_prev, mask=m_prev, other=0).to(ACC)
        if USE_H0:
            first = tl.load(h0 + i_b.to(tl.int64) * D + o_d, mask=o_d < D, other=0).to(ACC)
            h_prev = tl.where((o_t == 0)[:, None], first[None, :], h_prev)
        tl.store(da + base + o_t[:, None] * D + o_d[None, :], (Q * h_prev).to(da.dtype.element_ty),
                 mask=m)


def _acc(dtype: torch.dtype):
    return tl.float64 if dtype == torch.float64 else tl.float32


def _scan_triton(a, b, h0, *, reverse, chunk_size, hs=None, want_da=False):
    """One Triton scan; ``reverse`` runs the backward form on ``(a_{t+1}, b_t)``. Returns the
    scan (``b``'s shape, ``a``'s dtype) and, with ``want_da``, ``da = out * h_{t-1}``."""
    B, T, D = a.shape
    BT = chunk_size
    NT = triton.cdiv(T, BT)
    BD = choose_block_d(D, B * NT)
    ND = triton.cdiv(D, BD)
    sd = torch.float64 if a.dtype == torch.float64 else torch.float32
    acc = _acc(a.dtype)
    out = torch.empty(B, T, D, dtype=a.dtype, device=a.device)
    da = torch.empty(B, T, D, dtype=a.dtype, device=a.device) if want_da else None
    if T == 0:
        return out, da
    dummy = out
    use_carry = NT > 1 or (h0 is not None and not reverse)
    carry = None
    if NT > 1:
        sp = torch.empty(B, NT, D, dtype=sd, device=a.device)
        sq = torch.empty(B, NT, D, dtype=sd, device=a.device)
        carry = torch.empty(B, NT, D, dtype=sd, device=a.device)
        _summary_kernel[(NT, ND, B)](a, b, sp, sq, T, NT, D, BT=BT, BD=BD, REVERSE=reverse,
                                    ACC=acc, num_warps=4)
        init = h0 if (h0 is not None and not reverse) else None
        _carry_kernel[(ND, B)](sp, sq, init if init is not None else dummy, carry, NT, D,
                               BD=BD, REVERSE=reverse, USE_H0=init is not None, ACC=acc,
                               num_warps=1)
    elif use_carry:
        carry = h0.contiguous()  # one chunk: its carry is h0 itself ([B, 1, D] == [B, D])
    _apply_kernel[(NT, ND, B)](
        a, b, carry if carry is not None else dummy, out, hs if hs is not None else dummy,
        h0 if h0 is not None else dummy, da if da is not None else dummy, T, NT, D,
        BT=BT, BD=BD, REVERSE=reverse, USE_CARRY=use_carry, WRITE_DA=want_da,
        USE_H0=h0 is not None, ACC=acc, num_warps=4)
    return out, da


# ----------------------------------------------------------------------------- PyTorch


def _scan_torch(a, b, h0, *, reverse):
    """Recursive doubling in the accumulation dtype; ``reverse`` as in :func:`_scan_triton`.
    Returns the scan in ``a``'s dtype."""
    sd = torch.float64 if a.dtype == torch.float64 else torch.float32
    p, q = a.to(sd), b.to(sd)
    T = p.shape[1]
    if reverse:
        # step t's factor is a_{t+1}; flip time so that the reverse scan is a forward one
        p = torch.cat([p[:, 1:], torch.zeros_like(p[:, :1])], dim=1).flip(1)
        q = q.flip(1)
    elif h0 is not None and T:
        q = torch.cat([q[:, :1] + p[:, :1] * h0.to(sd)[:, None], q[:, 1:]], dim=1)
    k = 1
    while k < T:
        # combine step t with the prefix ending at t - k: (p', q') then (p, q)
        q = torch.cat([q[:, :k], p[:, k:] * q[:, :-k] + q[:, k:]], dim=1)
        p = torch.cat([p[:, :k], p[:, k:] * p[:, :-k]], dim=1)
        k *= 2
    if reverse:
        q = q.flip(1)
    return q.to(a.dtype)


# ----------------------------------------------------------------------------- autograd


class _DiagonalScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, b, h0, backend, chunk_size):
        if backend == "triton":
            with device_guard(a.device):
                h, _ = _scan_triton(a, b, h0, reverse=False, chunk_size=chunk_size)
        else:
            h = _scan_torch(a, b, h0, reverse=False)
        ctx.save_for_backward(a, h, h0)
        ctx.backend, ctx.chunk_size = backend, chunk_size
        return h

    @staticmethod
    def backward(ctx, g):
        a, h, h0 = ctx.saved_tensors
        g = g.contiguous().to(a.dtype)
        if ctx.backend == "triton":
            with device_guard(a.device):
                dh, da = _scan_triton(a, g, h0, reverse=True, chunk_size=ctx.chunk_size, hs=h,
                                      want_da=True)
        else:
            dh = _scan_torch(a, g, None, reverse=True)
            sd = torch.float64 if a.dtype == torch.float64 else torch.float32
            first = (h0.to(sd) if h0 is not None else
                     torch.zeros_like(h[:, 0], dtype=sd))[:, None]
            h_prev = torch.cat([first, h[:, :-1].to(sd)], dim=1)
            da = (dh.to(sd) * h_prev).to(a.dtype)
        dh0 = None
        if h0 is not None and ctx.needs_input_grad[2]:
            if a.shape[1]:
                dh0 = (a[:, 0].to(torch.float64 if a.dtype == torch.float64 else torch.float32)
                       * dh[:, 0]).to(h0.dtype)
            else:
                dh0 = torch.zeros_like(h0)
        return da, dh, dh0, None, None


def diagonal_scan(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None, *,
                  backend: str = "auto", chunk_size: int = 64,
                  check_finite: bool = False) -> torch.Tensor:
    """``h_t = a_t * h_{t-1} + b_t`` over ``[B, T, D]``, differentiable in ``a``, ``b``, ``h0``.

    Parameters
    ----------
    a, b : torch.Tensor
        ``[B, T, D]``, one dtype: float32, bfloat16, float16 or float64.
    h0 : torch.Tensor, optional
        ``[B, D]`` (``a``'s dtype or float32); zeros when None.
    backend : {"auto", "triton", "torch"}
        The chunked Triton kernels, the PyTorch doubling scan, or ``"auto"``: Triton for CUDA
        tensors, PyTorch otherwise (see the module docstring).
    chunk_size : int
        Time steps per Triton program, one of :data:`SUPPORTED_CHUNK_SIZES` (checked with
        every backend, so that a call does not fail only on the GPU; the PyTorch path does not
        use it).
    check_finite : bool
        Check every input for NaN and infinity.

    Returns
    -------
    torch.Tensor
        ``h`` ``[B, T, D]`` in ``a``'s dtype, accumulated in float32 (float64 for float64).

    Raises
    ------
    KernelInputError
        (a subclass of it) for bad shapes, dtypes, devices, backend or chunk size, and
        non-finite inputs when ``check_finite``.
    KernelUnavailableError
        ``backend="triton"`` for tensors Triton cannot run (CPU without the interpreter).

    Examples
    --------
    >>> import torch
    >>> a = torch.tensor([[[-1.0], [-1.0], [1.0]]], requires_grad=True)
    >>> b = torch.zeros(1, 3, 1)
    >>> h = diagonal_scan(a, b, torch.ones(1, 1), backend="torch")
    >>> h[0, :, 0].tolist()
    [-1.0, 1.0, 1.0]
    >>> h.sum().backward(); a.grad[0, :, 0].tolist()    # dh = (-1, 2, 1) times h_{t-1}
    [-1.0, -2.0, 1.0]
    """
    d = check_diagonal_scan_inputs(a, b, h0, dtypes=SUPPORTED_DTYPES, check_finite=check_finite)
    which = resolve_backend(backend, d.device)
    if isinstance(chunk_size, bool) or chunk_size not in SUPPORTED_CHUNK_SIZES:
        raise KernelInputError(
            f"chunk_size: expected one of {SUPPORTED_CHUNK_SIZES}, got {chunk_size!r}")
    a, b = a.contiguous(), b.contiguous()
    if h0 is not None:
        h0 = h0.contiguous()
    return _DiagonalScan.apply(a, b, h0, which, chunk_size)
