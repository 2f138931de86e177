r"""Fused recurrent Triton kernel of the DeltaProduct recurrence, forward and backward.

Same signature, layout and semantics as :func:`statetrack.kernels.delta_product_ref`
(read its module docstring for the recurrence); keys are not normalized inside.

Forward
-------
One program per (V-block, batch entry, head) keeps its ``[K, BV]`` slice of the state in
registers (float32, float64 for float64 inputs) and walks the ``T * n_h`` sub-steps in order;
the columns of ``S`` evolve independently (``(I - beta k k^T)`` acts on each column), so the
V-blocks need no communication. The loads of sub-step ``i + 1`` are issued before the
arithmetic of sub-step ``i`` (they do not depend on the state), hiding memory latency behind
the serial chain. When gradients are needed the forward also stores
``u_i = v_i - S'^T k_i`` (float32, ``[B, T*n_h, H, V]``), where ``S'`` is the state just before
sub-step ``i``.

Backward (derivation)
---------------------
Write sub-step ``i`` as ``S_i = S' + beta_i k_i u_i^T`` with ``u_i = v_i - S'^T k_i``, i.e.
``S_i = (I - beta_i k_i k_i^T) S' + beta_i k_i v_i^T``, and ``S' = exp(g_t) S_{i-1}`` on the
first sub-step of token ``t`` (else ``S' = S_{i-1}``). With ``dS`` the adjoint of ``S_i``:

* readout ``o_t = S^T (scale q_t)`` after the token: ``dS += scale q_t do_t^T`` and
  ``dq_t = scale S do_t``;
* ``dv_i = beta_i dS^T k_i``,  ``dbeta_i = k_i^T dS u_i``,
  ``dk_i = beta_i dS u_i - S' dv_i``,  ``dS' = (I - beta_i k_i k_i^T) dS = dS - k_i dv_i^T``;
* gate: ``dS_{i-1} = exp(g_t) dS'``; ``dh0`` is the adjoint left after token 0.

The gate gradient has a closed form that needs no product of ``dS`` and ``S``: scaling ``S'``
at token ``t`` by ``lambda`` equals scaling every later output and final state by ``lambda``
while dividing the values of tokens ``>= t`` by ``lambda`` (the map from the state and the
values to later states is linear, the transitions depend only on ``k`` and ``beta``). Hence

.. math::

    \frac{\partial L}{\partial g_t} = \sum_{s \ge t} \langle do_s, o_s\rangle
      - \sum_{i \in \text{tokens} \ge t} \langle dv_i, v_i\rangle
      + \langle dS_T, S_T\rangle ,

a reverse cumulative sum of per-token terms, with ``o_s`` recomputed in float32.

The backward runs two kernels, neither of which inverts a GH factor (``beta ||k||^2 = 2``
with ``beta = 1`` is a reflection, but ``beta ||k||^2 = 1`` is singular, so inversion is not an
option): (1) a reverse pass over the sub-steps that needs only ``dS`` and the saved ``u``:
it writes ``dv``, ``dbeta`` and the ``beta dS u`` part of ``dk`` (per V-block partials), and
``dh0``; (2) a forward pass that recomputes ``S`` from the initial state and adds
``-S' dv`` to ``dk``, writes ``dq`` and the per-token gate terms. Partials over V-blocks are
summed in PyTorch. This is the structure of fla's fused recurrent delta-rule backward
(reverse pass for ``dS``, forward pass for the terms that need ``S``), extended by the
sub-steps, the gate and float32 ``u``.

Block sizes come from a small heuristic (:func:`choose_blocks`); there is no autotuning, so
the same code runs under ``TRITON_INTERPRET=1``.

Examples
--------
>>> import torch
>>> from statetrack.kernels.delta_product.fused_recurrent import fused_recurrent_delta_product
>>> from statetrack.kernels.delta_product.naive import delta_product_ref
>>> gen = torch.Generator().manual_seed(0)
>>> q = torch.randn(1, 3, 1, 4, generator=gen)
>>> k = torch.nn.functional.normalize(torch.randn(1, 6, 1, 4, generator=gen), dim=-1)
>>> v = torch.randn(1, 6, 1, 4, generator=gen)
>>> beta = 2 * torch.rand(1, 6, 1, generator=gen)
>>> o, s = fused_recurrent_delta_product(q, k, v, beta, num_householder=2,
...                                      output_final_state=True)
>>> o_ref, s_ref = delta_product_ref(q.double(), k.double(), v.double(), beta.double(),
...                                  num_householder=2, output_final_state=True)
>>> bool(torch.allclose(o.double(), o_ref, atol=1e-5)), s.dtype
(True, torch.float32)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from statetrack.floats import next_pow2
from statetrack.kernels._common.checks import check_delta_product_inputs, check_out_buffer
from statetrack.kernels._common.device import device_guard
from statetrack.kernels._common.triton import INTERPRET, require_runnable, tl, triton
from statetrack.kernels.errors import KernelInputError

__all__ = ["fused_recurrent_delta_product", "choose_blocks", "Blocks", "SUPPORTED_DTYPES",
           "MAX_K", "MAX_V"]

#: Input dtypes of ``q``, ``k``, ``v`` the kernel accepts.
SUPPORTED_DTYPES = (torch.float32, torch.bfloat16, torch.float16, torch.float64)
#: Largest key and value sizes (the whole K lives in one block).
MAX_K = 256
MAX_V = 1024


@dataclass(frozen=True)
class Blocks:
    """Launch configuration: key block ``BK`` (all of K), value block ``BV``, warps."""

    BK: int
    BV: int
    num_warps: int

    @property
    def elements(self) -> int:
        """State entries per program (``BK * BV``)."""
        return self.BK * self.BV


def choose_blocks(K: int, V: int, BH: int, *, backward: bool = False,
                  block_v: int | None = None) -> Blocks:
    """Pick block sizes and warps for a ``[K, V]`` state and ``BH`` (batch x heads) programs.

    The whole key dimension is one block (``BK = next_pow2(K)``, at least 2). ``BV`` keeps a
    program's state slice at most 1024 entries forward (2048 backward: the reduction over
    K stays inside a warp or two, short serial chain), and, on a GPU, is halved while fewer
    than 256 programs would run and ``BV > 4``, to fill the GPU (under the interpreter,
    where programs run one after another, it is not split). One warp per 1024 entries.

    Parameters
    ----------
    K, V : int
        State shape.
    BH : int
        Batch times heads.
    backward : bool
        Backward kernels (larger blocks: they carry partial sums per V-block).
    block_v : int, optional
        Force ``BV`` (a power of two >= 2); for tests of the multi-block path.

    Examples
    --------
    >>> choose_blocks(128, 128, 8 * 16)
    Blocks(BK=128, BV=8, num_warps=1)
    >>> choose_blocks(128, 128, 8 * 16, backward=True)
    Blocks(BK=128, BV=16, num_warps=2)
    >>> choose_blocks(16, 16, 1024)
    Blocks(BK=16, BV=16, num_warps=1)
    >>> choose_blocks(16, 16, 1, block_v=4)
    Blocks(BK=16, BV=4, num_warps=1)
    """
    BK = next_pow2(K, lo=2)
    if block_v is not None:
        if isinstance(block_v, bool) or not isinstance(block_v, int) or block_v < 2 \
                or block_v & (block_v - 1):
            raise KernelInputError(f"block_v: expected a power of two >= 2, got {block_v!r}")
        BV = block_v
    else:
        cap = 2048 if backward else 1024
        BV = min(next_pow2(V, lo=2), max(2, cap // BK))
        while not INTERPRET and BV > 4 and BH * triton.cdiv(V, BV) < 256:
            BV //= 2
    num_warps = max(1, min(8, (BK * BV) // 1024))
    return Blocks(BK=BK, BV=BV, num_warps=num_warps)


# ----------------------------------------------------------------------------- kernels


@triton.jit(do_not_specialize=["T"])
def _fwd_kernel(q, k, v, beta, g, h0, o, ht, u, scale, T,
                H: tl.constexpr, K: tl.constexpr, V: tl.constexpr,
                BK: tl.constexpr, BV: tl.constexpr, NH: tl.constexpr,
                USE_G: tl.constexpr, USE_H0: tl.constexpr, STORE_HT: tl.constexpr,
                SAVE_U: tl.constexpr, ACC: tl.constexpr):
    i_v = tl.program_id(0)
    i_bh = tl.program_id(1).to(tl.int64)
    i_b = i_bh // H
    i_h = i_bh % H
    TN = T * NH
    o_k = tl.arange(0, BK)
    o_v = i_v * BV + tl.arange(0, BV)
    m_k = o_k < K
    m_v = o_v < V
    m_h = m_k[:, None] & m_v[None, :]

    p_q = q + (i_b * T * H + i_h) * K + o_k          # token 0
    p_o = o + (i_b * T * H + i_h) * V + o_v
    p_g = g + i_b * T * H + i_h
    p_k = k + (i_b * TN * H + i_h) * K + o_k         # sub-step 0
    p_v = v + (i_b * TN * H + i_h) * V + o_v
    p_u = u + (i_b * TN * H + i_h) * V + o_v
    p_b = beta + i_b * TN * H + i_h

    b_h = tl.zeros([BK, BV], dtype=ACC)
    if USE_H0:
        p_h0 = h0 + i_bh * K * V + o_k[:, None] * V + o_v[None, :]
        b_h += tl.load(p_h0, mask=m_h, other=0).to(ACC)

    # the launcher never starts this kernel with TN == 0
    b_k = tl.load(p_k, mask=m_k, other=0).to(ACC)
    b_vv = tl.load(p_v, mask=m_v, other=0).to(ACC)
    b_b = tl.load(p_b).to(ACC)
    for i in range(0, TN):
        # prefetch sub-step i + 1 (independent of the state); masks built with tl.where
        # because the interpreter mishandles `tensor & scalar-bool`
        nxt = i + 1 < TN
        n_k = tl.load(p_k + H * K, mask=o_k < tl.where(nxt, K, 0), other=0).to(ACC)
        n_v = tl.load(p_v + H * V, mask=o_v < tl.where(nxt, V, 0), other=0).to(ACC)
        n_b = tl.load(p_b + H, mask=nxt, other=0).to(ACC)
        j = i % NH
        if USE_G:
            if j == 0:
                b_g = tl.load(p_g).to(ACC)
                b_h = b_h * tl.exp(b_g)
                p_g += H
        b_w = tl.sum(b_h * b_k[:, None], axis=0)         # S'^T k   [BV]
        b_u = b_vv - b_w
        if SAVE_U:
            tl.store(p_u, b_u.to(p_u.dtype.element_ty), mask=m_v)
        b_h += (b_b * b_k)[:, None] * b_u[None, :]
        if j == NH - 1:
            b_q = tl.load(p_q, mask=m_k, other=0).to(ACC) * scale
            b_o = tl.sum(b_h * b_q[:, None], axis=0)    # S^T q    [BV]
            tl.store(p_o, b_o.to(p_o.dtype.element_ty), mask=m_v)
            p_q += H * K
            p_o += H * V
        p_k += H * K
        p_v += H * V
        p_u += H * V
        p_b += H
        b_k = n_k
        b_vv = n_v
        b_b = n_b

    if STORE_HT:
        p_ht = ht + i_bh * K * V + o_k[:, None] * V + o_v[None, :]
        tl.store(p_ht, b_h.to(p_ht.dtype.element_ty), mask=m_h)


@triton.jit(do_not_specialize=["T"])
def _bwd_reverse_kernel(q, k, u, beta, g, do, dht, dv, dkp, dbp, dh0, scale, T,
                        B: tl.constexpr, H: tl.constexpr, K: tl.constexpr, V: tl.constexpr,
                        BK: tl.constexpr, BV: tl.constexpr, NH: tl.constexpr,
                        USE_G: tl.constexpr, USE_DHT: tl.constexpr, STORE_DH0: tl.constexpr,
                        ACC: tl.constexpr):
    # pass 1: adjoint dS backwards; writes dv, the beta*dS*u part of dk, dbeta, dh0
    i_v = tl.program_id(0)
    i_bh = tl.program_id(1).to(tl.int64)
    i_b = i_bh // H
    i_h = i_bh % H
    TN = T * NH
    o_k = tl.arange(0, BK)
    o_v = i_v * BV + tl.arange(0, BV)
    m_k = o_k < K
    m_v = o_v < V
    m_h = m_k[:, None] & m_v[None, :]
    part = i_v.to(tl.int64) * B * TN                   # rows before this V-block's partials

    last_t = tl.maximum(T - 1, 0)
    last_i = tl.maximum(TN - 1, 0)
    p_q = q + ((i_b * T + last_t) * H + i_h) * K + o_k
    p_do = do + ((i_b * T + last_t) * H + i_h) * V + o_v
    p_g = g + (i_b * T + last_t) * H + i_h
    p_k = k + ((i_b * TN + last_i) * H + i_h) * K + o_k
    p_u = u + ((i_b * TN + last_i) * H + i_h) * V + o_v
    p_b = beta + (i_b * TN + last_i) * H + i_h
    p_dv = dv + ((i_b * TN + last_i) * H + i_h) * V + o_v
    p_dk = dkp + ((part + i_b * TN + last_i) * H + i_h) * K + o_k
    p_db = dbp + (part + i_b * TN + last_i) * H + i_h

    b_dh = tl.zeros([BK, BV], dtype=ACC)
    if USE_DHT:
        p_dht = dht + i_bh * K * V + o_k[:, None] * V + o_v[None, :]
        b_dh += tl.load(p_dht, mask=m_h, other=0).to(ACC)

    for r in range(0, TN):
        i = TN - 1 - r
        j = i % NH
        if j == NH - 1:
            b_q = tl.load(p_q, mask=m_k, other=0).to(ACC) * scale
            b_do = tl.load(p_do, mask=m_v, other=0).to(ACC)
            b_dh += b_q[:, None] * b_do[None, :]
            p_q -= H * K
            p_do -= H * V
        b_k = tl.load(p_k, mask=m_k, other=0).to(ACC)
        b_u = tl.load(p_u, mask=m_v, other=0).to(ACC)
        b_b = tl.load(p_b).to(ACC)
        b_w = tl.sum(b_dh * b_k[:, None], axis=0)          # dS^T k  [BV]
        b_dv = b_b * b_w
        tl.store(p_dv, b_dv.to(p_dv.dtype.element_ty), mask=m_v)
        tl.store(p_db, tl.sum(b_w * b_u).to(p_db.dtype.element_ty))
        b_dk = b_b * tl.sum(b_dh * b_u[None, :], axis=1)    # beta dS u  [BK]
        tl.store(p_dk, b_dk.to(p_dk.dtype.element_ty), mask=m_k)
        b_dh -= b_k[:, None] * b_dv[None, :]
        if USE_G:
            if j == 0:
                b_dh = b_dh * tl.exp(tl.load(p_g).to(ACC))
                p_g -= H
        p_k -= H * K
        p_u -= H * V
        p_b -= H
        p_dv -= H * V
        p_dk -= H * K
        p_db -= H

    if STORE_DH0:
        p_dh0 = dh0 + i_bh * K * V + o_k[:, None] * V + o_v[None, :]
        tl.store(p_dh0, b_dh.to(p_dh0.dtype.element_ty), mask=m_h)


@triton.jit(do_not_specialize=["T"])
def _bwd_forward_kernel(q, k, v, beta, g, h0, do, dht, dv, dkp, dqp, dgp, dgc, scale, T,
                        B: tl.constexpr, H: tl.constexpr, K: tl.constexpr, V: tl.constexpr,
                        BK: tl.constexpr, BV: tl.constexpr, NH: tl.constexpr,
                        USE_G: tl.constexpr, USE_H0: tl.constexpr, USE_DHT: tl.constexpr,
                        ACC: tl.constexpr):
    # pass 2: recompute S forwards; adds -S' dv to dk, writes dq and the gate terms
    i_v = tl.program_id(0)
    i_bh = tl.program_id(1).to(tl.int64)
    i_b = i_bh // H
    i_h = i_bh % H
    TN = T * NH
    o_k = tl.arange(0, BK)
    o_v = i_v * BV + tl.arange(0, BV)
    m_k = o_k < K
    m_v = o_v < V
    m_h = m_k[:, None] & m_v[None, :]
    part_n = i_v.to(tl.int64) * B * TN
    part_t = i_v.to(tl.int64) * B * T

    p_q = q + (i_b * T * H + i_h) * K + o_k
    p_do = do + (i_b * T * H + i_h) * V + o_v
    p_g = g + i_b * T * H + i_h
    p_dq = dqp + ((part_t + i_b * T) * H + i_h) * K + o_k
    p_dg = dgp + (part_t + i_b * T) * H + i_h
    p_k = k + (i_b * TN * H + i_h) * K + o_k
    p_v = v + (i_b * TN * H + i_h) * V + o_v
    p_b = beta + i_b * TN * H + i_h
    p_dv = dv + (i_b * TN * H + i_h) * V + o_v
    p_dk = dkp + ((part_n + i_b * TN) * H + i_h) * K + o_k

    b_h = tl.zeros([BK, BV], dtype=ACC)
    if USE_H0:
        p_h0 = h0 + i_bh * K * V + o_k[:, None] * V + o_v[None, :]
        b_h += tl.load(p_h0, mask=m_h, other=0).to(ACC)
    b_a = tl.zeros([BV], dtype=ACC)                       # per-token gate term (this block)

    for i in range(0, TN):
        j = i % NH
        if USE_G:
            if j == 0:
                b_h = b_h * tl.exp(tl.load(p_g).to(ACC))
                p_g += H
        b_k = tl.load(p_k, mask=m_k, other=0).to(ACC)
        b_vv = tl.load(p_v, mask=m_v, other=0).to(ACC)
        b_b = tl.load(p_b).to(ACC)
        b_dv = tl.load(p_dv, mask=m_v, other=0).to(ACC)
        b_dk = tl.load(p_dk, mask=m_k, other=0).to(ACC)
        b_dk -= tl.sum(b_h * b_dv[None, :], axis=1)         # - S' dv
        tl.store(p_dk, b_dk.to(p_dk.dtype.element_ty), mask=m_k)
        b_a -= b_dv * b_vv
        b_u = b_vv - tl.sum(b_h * b_k[:, None], axis=0)
        b_h += (b_b * b_k)[:, None] * b_u[None, :]
        if j == NH - 1:
            b_q = tl.load(p_q, mask=m_k, other=0).to(ACC)
            b_do = tl.load(p_do, mask=m_v, other=0).to(ACC)
            b_sdo = tl.sum(b_h * b_do[None, :], axis=1)     # S do  [BK]
            tl.store(p_dq, (b_sdo * scale).to(p_dq.dtype.element_ty), mask=m_k)
            tl.store(p_dg, (tl.sum(b_a) + scale * tl.sum(b_q * b_sdo)).to(p_dg.dtype.element_ty))
            b_a = tl.zeros([BV], dtype=ACC)
            p_q += H * K
            p_do += H * V
            p_dq += H * K
            p_dg += H
        p_k += H * K
        p_v += H * V
        p_b += H
        p_dv += H * V
        p_dk += H * K

    if USE_DHT:
        p_dht = dht + i_bh * K * V + o_k[:, None] * V + o_v[None, :]
        b_dht = tl.load(p_dht, mask=m_h, other=0).to(ACC)
        tl.store(dgc + i_v.to(tl.int64) * B * H + i_bh, tl.sum(tl.sum(b_dht * b_h, axis=1), axis=0))


# ----------------------------------------------------------------------------- launchers


def _acc(dtype: torch.dtype):
    return tl.float64 if dtype == torch.float64 else tl.float32


def _fwd(q, k, v, beta, g, h0, scale, NH, output_final_state, save_u, block_v, out, ht_out):
    B, T, H, K = q.shape
    V = v.shape[-1]
    sd = torch.float64 if q.dtype == torch.float64 else torch.float32
    blk = choose_blocks(K, V, B * H, block_v=block_v)
    o = out if out is not None else torch.empty(B, T, H, V, dtype=q.dtype, device=q.device)
    ht = None
    if output_final_state:
        ht = ht_out if ht_out is not None else torch.empty(B, H, K, V, dtype=sd, device=q.device)
    u = torch.empty(B, T * NH, H, V, dtype=sd, device=q.device) if save_u else None
    if T == 0:  # nothing to run: the final state is the initial one
        if ht is not None:
            ht.copy_(h0 if h0 is not None else torch.zeros_like(ht))
        return o, ht, u
    dummy = q  # never read: the constexpr flags switch the pointer off
    grid = (triton.cdiv(V, blk.BV), B * H)
    _fwd_kernel[grid](
        q, k, v, beta, g if g is not None else dummy, h0 if h0 is not None else dummy,
        o, ht if ht is not None else dummy, u if u is not None else dummy, scale, T,
        H=H, K=K, V=V, BK=blk.BK, BV=blk.BV, NH=NH,
        USE_G=g is not None, USE_H0=h0 is not None, STORE_HT=ht is not None,
        SAVE_U=u is not None, ACC=_acc(q.dtype), num_warps=blk.num_warps, num_stages=1)
    return o, ht, u


def _bwd(q, k, v, u, beta, g, h0, do, dht, scale, NH, block_v, need_dh0):
    B, T, H, K = q.shape
    V = v.shape[-1]
    TN = T * NH
    sd = torch.float64 if q.dtype == torch.float64 else torch.float32
    blk = choose_blocks(K, V, B * H, backward=True, block_v=block_v)
    NV = triton.cdiv(V, blk.BV)
    dev = q.device
    dv = torch.empty(B, TN, H, V, dtype=sd, device=dev)
    dkp = torch.empty(NV, B, TN, H, K, dtype=sd, device=dev)
    dbp = torch.empty(NV, B, TN, H, dtype=sd, device=dev)
    dqp = torch.empty(NV, B, T, H, K, dtype=sd, device=dev)
    dgp = torch.empty(NV, B, T, H, dtype=sd, device=dev)
    dgc = torch.zeros(NV, B, H, dtype=sd, device=dev)
    dh0 = torch.empty(B, H, K, V, dtype=sd, device=dev) if need_dh0 else None
    if T == 0:
        z = torch.zeros
        dh0v = None
        if need_dh0:
            dh0v = dht.to(sd).clone() if dht is not None else z(B, H, K, V, dtype=sd, device=dev)
        dg = z(B, 0, H, dtype=sd, device=dev) if g is not None else None
        return (z(B, 0, H, K, dtype=sd, device=dev), z(B, 0, H, K, dtype=sd, device=dev),
                z(B, 0, H, V, dtype=sd, device=dev), z(B, 0, H, dtype=sd, device=dev), dg, dh0v)
    dummy = q
    grid = (NV, B * H)
    common = dict(B=B, H=H, K=K, V=V, BK=blk.BK, BV=blk.BV, NH=NH, USE_G=g is not None,
                  ACC=_acc(q.dtype), num_warps=blk.num_warps, num_stages=1)
    _bwd_reverse_kernel[grid](
        q, k, u, beta, g if g is not None else dummy, do,
        dht if dht is not None else dummy, dv, dkp, dbp, dh0 if dh0 is not None else dummy,
        scale, T, USE_DHT=dht is not None, STORE_DH0=dh0 is not None, **common)
    _bwd_forward_kernel[grid](
        q, k, v, beta, g if g is not None else dummy, h0 if h0 is not None else dummy, do,
        dht if dht is not None else dummy, dv, dkp, dqp, dgp, dgc, scale, T,
        USE_H0=h0 is not None, USE_DHT=dht is not None, **common)
    dq = dqp.sum(0)
    dk = dkp.sum(0)
    db = dbp.sum(0)
    dg = None
    if g is not None:
        per_token = dgp.sum(0)                                       # [B, T, H]
        dg = per_token.flip(1).cumsum(1).flip(1) + dgc.sum(0)[:, None, :]
    return dq, dk, dv, db, dg, dh0


class _FusedRecurrentDeltaProduct(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v, beta, g, h0, scale, NH, output_final_state, block_v, out, ht_out):
        save_u = any(ctx.needs_input_grad[:6])
        with device_guard(q.device):
            o, ht, u = _fwd(q, k, v, beta, g, h0, scale, NH, output_final_state, save_u,
                            block_v, out, ht_out)
        dirty = [t for t in (out, ht_out) if t is not None]
        if dirty:
            ctx.mark_dirty(*dirty)
        ctx.save_for_backward(q, k, v, u, beta, g, h0)
        ctx.scale, ctx.NH, ctx.block_v = scale, NH, block_v
        return o, ht

    @staticmethod
    def backward(ctx, do, dht):
        q, k, v, u, beta, g, h0 = ctx.saved_tensors
        do = do.contiguous()
        if dht is not None:
            dht = dht.contiguous()
        need_dh0 = h0 is not None and ctx.needs_input_grad[5]
        with device_guard(q.device):
            dq, dk, dv, db, dg, dh0 = _bwd(q, k, v, u, beta, g, h0, do, dht, ctx.scale, ctx.NH,
                                           ctx.block_v, need_dh0)
        return (dq.to(q.dtype), dk.to(k.dtype), dv.to(v.dtype), db.to(beta.dtype),
                dg.to(g.dtype) if dg is not None else None,
                dh0.to(h0.dtype) if dh0 is not None else None,
                None, None, None, None, None, None)


def fused_recurrent_delta_product(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    beta: torch.Tensor,
    *,
    num_householder: int = 1,
    g: torch.Tensor | None = None,
    scale: float | None = None,
    initial_state: torch.Tensor | None = None,
    output_final_state: bool = False,
    out: torch.Tensor | None = None,
    final_state_out: torch.Tensor | None = None,
    check_beta: bool = True,
    check_finite: bool = False,
    block_v: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """DeltaProduct recurrence through the fused recurrent Triton kernel (differentiable).

    Same arguments and results as :func:`~statetrack.kernels.delta_product_ref`;
    gradients flow to ``q``, ``k``, ``v``, ``beta``, ``g`` and ``initial_state``.

    Parameters
    ----------
    q, k, v, beta, num_householder, g, scale, initial_state, output_final_state
        As in the reference: ``q`` ``[B, T, H, K]``, ``k`` ``[B, T*n_h, H, K]``,
        ``v`` ``[B, T*n_h, H, V]``, ``beta`` ``[B, T*n_h, H]`` in [0, 2], ``g`` ``[B, T, H]``,
        ``initial_state`` ``[B, H, K, V]``. ``q``, ``k``, ``v`` are float32, bfloat16,
        float16 or float64; ``beta``, ``g``, ``initial_state`` that dtype or float32.
    out : torch.Tensor, optional
        Buffer for ``o`` (``[B, T, H, V]``, ``q``'s dtype, contiguous); the kernel writes every
        entry (tests poison it with NaN first).
    final_state_out : torch.Tensor, optional
        Buffer for the final state (``[B, H, K, V]``, float32 or float64 for float64 inputs);
        needs ``output_final_state=True``.
    check_beta : bool
        Check ``beta`` in [0, 2] (one reduction and a device synchronization).
    check_finite : bool
        Check every input for NaN/inf.
    block_v : int, optional
        Force the V-block size (power of two); default: :func:`choose_blocks`.

    Returns
    -------
    o : torch.Tensor
        ``[B, T, H, V]`` in ``q``'s dtype.
    final_state : torch.Tensor or None
        ``[B, H, K, V]`` float32 (float64 for float64 inputs) if ``output_final_state``.

    Raises
    ------
    KernelInputError
        Bad shapes, dtypes, devices, beta range, non-finite inputs (on request), or bad
        output buffers.
    KernelUnavailableError
        The tensors are on the CPU and Triton is not in interpreter mode.

    Examples
    --------
    >>> import torch
    >>> q = torch.zeros(1, 2, 1, 4); k = torch.zeros(1, 2, 1, 4)
    >>> v = torch.ones(1, 2, 1, 4); beta = torch.ones(1, 2, 1)
    >>> out = torch.full((1, 2, 1, 4), float("nan"))
    >>> o, _ = fused_recurrent_delta_product(q, k, v, beta, out=out)
    >>> o is out, bool(torch.isfinite(out).all())
    (True, True)
    """
    d = check_delta_product_inputs(q, k, v, beta, num_householder=num_householder, g=g,
                                   scale=scale, initial_state=initial_state,
                                   dtypes=SUPPORTED_DTYPES, check_beta=check_beta,
                                   check_finite=check_finite, max_K=MAX_K, max_V=MAX_V)
    require_runnable(d.device, "fused_recurrent_delta_product")
    if out is not None:
        check_out_buffer(out, "out", (d.B, d.T, d.H, d.V), d.dtype, d.device, "[B, T, H, V]")
    if final_state_out is not None:
        if not output_final_state:
            from statetrack.kernels.errors import KernelInputError
            raise KernelInputError("final_state_out: given but output_final_state=False")
        check_out_buffer(final_state_out, "final_state_out", (d.B, d.H, d.K, d.V),
                         d.state_dtype, d.device, "[B, H, K, V]")
    q, k, v, beta = (t.contiguous() for t in (q, k, v, beta))
    g = g.contiguous() if g is not None else None
    h0 = initial_state.contiguous() if initial_state is not None else None
    o, ht = _FusedRecurrentDeltaProduct.apply(q, k, v, beta, g, h0, d.scale,
                                              d.num_householder, output_final_state,
                                              block_v, out, final_state_out)
    return o, ht
