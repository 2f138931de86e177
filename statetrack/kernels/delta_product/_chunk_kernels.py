"""Triton kernels of the chunked DeltaProduct (see :mod:`statetrack.kernels.delta_product.chunk`).

The derivation, the buffer layouts and the meaning of every symbol are in the docstring of
:mod:`statetrack.kernels.delta_product.chunk`; this module holds only the kernels. Naming:
``BT`` is the chunk size (tokens per token chunk = sub-steps per sub-chunk), ``NH`` the number
of Householder sub-steps per token, ``BK``/``BVF`` the key/value widths rounded up to a power
of two, ``BV`` a block of value columns, ``MM`` the operand dtype of matrix products (the input dtype),
``PREC`` the ``input_precision`` of float32 products, ``EMU`` (interpreter only) multiply the
``MM``-rounded operands in float32, because the interpreter's ``tl.dot`` mishandles bfloat16.

Internal buffers are head-major (``[B*H, rows, cols]``) and padded to whole chunks, so that every
row a kernel reads was written by an earlier kernel (tests fill them with NaN first).
"""

from __future__ import annotations

from statetrack.kernels._common.triton import tl, triton


@triton.jit
def _inv_unit_lower16(a):
    """Inverse of ``I + a`` for a strictly lower triangular ``[16, 16]`` float32 block.

    Forward substitution, one row per step: row ``i`` of the inverse is
    ``e_i - sum_{m < i} a[i, m] * row_m``.
    """
    r = tl.arange(0, 16)
    ti = (r[:, None] == r[None, :]).to(tl.float32)
    for i in tl.static_range(1, 16):
        a_i = tl.sum(tl.where(r[:, None] == i, a, 0.0), 0)
        new = -tl.sum(a_i[:, None] * ti, 0) + (r == i).to(tl.float32)
        ti = tl.where(r[:, None] == i, new[None, :], ti)
    return ti


@triton.jit
def _inv_unit_lower16_rows(a, scratch):
    """Inverse of ``I + a`` (``a`` strictly lower triangular ``[16, 16]`` float32) by forward
    substitution on the transpose, reading the rows of ``a`` back from a float32 scratch block.

    The same arithmetic as :func:`_inv_unit_lower16` (row ``i`` of the inverse is
    ``e_i - sum_{m < i} a[i, m] * row_m``), but it keeps ``U = T^T``: then a step needs one
    reduction along the tile's second axis, which lies inside a warp, and the row ``a[i, :]``
    is a load instead of a reduction across warps. One synchronization per block (the scratch
    store) instead of two per step.
    """
    r = tl.arange(0, 16)
    tl.store(scratch + r[:, None] * 16 + r[None, :], a)
    tl.debug_barrier()
    return _inv16_ld(scratch, 16)


@triton.jit
def _inv16_ld(p, LD: tl.constexpr):
    """``(I + a)^{-1}`` of the strictly lower ``[16, 16]`` float32 block ``a`` stored at ``p``
    (leading dimension ``LD``): the substitution of :func:`_inv_unit_lower16_rows`, reading
    the rows where they are (``wy_loop_kernel`` keeps the whole ``A`` in its scratch)."""
    r = tl.arange(0, 16)
    u = (r[:, None] == r[None, :]).to(tl.float32)
    for i in tl.static_range(1, 16):
        a_i = tl.load(p + i * LD + r[None, :] + 0 * r[:, None])           # a[i, :] on every row
        col = (r == i).to(tl.float32) - tl.sum(u * a_i, 1)
        u = tl.where(r[None, :] == i, col[:, None], u)
    return tl.trans(u)


@triton.jit
def _inv16_stacked(p, LD: tl.constexpr):
    """The substitution of :func:`_inv16_ld` for the four diagonal ``[16, 16]`` blocks of the
    strictly lower ``[64, 64]`` float32 ``A`` at ``p`` at once: a ``[64, 16]`` tile whose rows
    ``16 b .. 16 b + 15`` hold ``U_b = ((I + A_bb)^{-1})^T``, each step reading row ``i`` of
    every block (the same arithmetic per block; :func:`_store_stacked` writes them back)."""
    r = tl.arange(0, 64)
    x = tl.arange(0, 16)
    rb = r % 16
    base = p + (r // 16) * (16 * LD + 16)           # each row's block's top-left corner
    u = (rb[:, None] == x[None, :]).to(tl.float32)
    for i in tl.static_range(1, 16):
        a_i = tl.load((base + i * LD)[:, None] + x[None, :])   # A_bb[i, :] on block b's rows
        col = (rb == i).to(tl.float32) - tl.sum(u * a_i, 1)
        u = tl.where(x[None, :] == i, col[:, None], u)
    return u


@triton.jit
def _store_stacked(p, u, LD: tl.constexpr):
    """Write the stacked ``U_b`` of :func:`_inv16_stacked` as the diagonal blocks
    ``T_bb = U_b^T`` of the ``[64, 64]`` float32 block at ``p`` (leading dimension ``LD``)."""
    r = tl.arange(0, 64)
    x = tl.arange(0, 16)
    corner = p + (r // 16) * (16 * LD + 16)
    tl.store((corner + r % 16)[:, None] + x[None, :] * LD, u)


@triton.jit
def _inv16(a, scratch, INV: tl.constexpr):
    """``(I + a)^{-1}``: substitution with rows from ``scratch`` (``INV == 1``) or with rows
    extracted by reductions (``INV == 0``)."""
    if INV == 1:
        return _inv_unit_lower16_rows(a, scratch)
    else:
        return _inv_unit_lower16(a)


@triton.jit
def _cvt(x, DT: tl.constexpr, EMU: tl.constexpr):
    """``x.to(DT)`` rounding to nearest even, also under the interpreter (``EMU``).

    The interpreter truncates float32 -> bfloat16 (twice the error of the GPU's rounding, and
    biased); with ``EMU`` the rounding is done on the bits first, so the cast is exact.
    """
    if EMU:
        if DT == tl.bfloat16:
            u = x.to(tl.float32).to(tl.uint32, bitcast=True)
            u = (u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000
            return u.to(tl.float32, bitcast=True).to(DT)
        else:
            return x.to(DT)
    else:
        return x.to(DT)


@triton.jit
def _mma(a, b, MM: tl.constexpr, PREC: tl.constexpr, EMU: tl.constexpr):
    """Matrix product of operands rounded to ``MM``, float32 accumulation.

    With ``EMU`` the rounded operands are multiplied in float32 (the interpreter's ``tl.dot``
    mishandles bfloat16); the result is the same up to summation order.
    """
    if EMU:
        return tl.dot(_cvt(a, MM, EMU).to(tl.float32), _cvt(b, MM, EMU).to(tl.float32),
                      input_precision="ieee")
    else:
        return tl.dot(a.to(MM), b.to(MM), input_precision=PREC)


@triton.jit
def _mm32(a, b):
    """float32 product of two small float32 blocks in full precision."""
    return tl.dot(a, b, input_precision="ieee")


@triton.jit
def _opnd(x, HI: tl.constexpr, MM: tl.constexpr, EMU: tl.constexpr):
    """A product operand formed in float32: kept in float32 with ``HI``, else rounded to ``MM``."""
    if HI:
        return x.to(tl.float32)
    else:
        return _cvt(x, MM, EMU)


@triton.jit
def _mmh(a, b, HI: tl.constexpr, MM: tl.constexpr, PREC: tl.constexpr, EMU: tl.constexpr):
    """:func:`_mma`, or with ``HI`` the exact float32 product of the operands as they are.

    ``HI`` (small ``K``, 16-bit inputs; see ``_Plan.hi`` in ``chunk.py``) is for the products
    whose sums over a chunk's rows cancel: ``W``, ``U`` from ``T``, the state update
    ``K^T D`` and the outputs' ``(Q K^T) D``. A chunk longer than the key width writes and
    overwrites each key direction several times, so those sums are much larger than their
    results, and one 16-bit rounding per term (of ``T``, ``U``, ``D``) is an error relative to
    the terms, not to the result.
    """
    if HI:
        return tl.dot(a.to(tl.float32), b.to(tl.float32), input_precision="ieee")
    else:
        return _mma(a, b, MM, PREC, EMU)


@triton.jit
def _a_block(ka, kb, ba, ga, gb, DIAG: tl.constexpr, USE_G: tl.constexpr, MM: tl.constexpr,
             PREC: tl.constexpr, EMU: tl.constexpr):
    """Block ``A_ab = diag(beta_a) (exp(G_a - G_b) * k_a k_b^T)``, strictly lower if ``DIAG``."""
    r = tl.arange(0, 16)
    kk = _mma(ka, tl.trans(kb), MM, PREC, EMU)
    a = kk * ba[:, None]
    if USE_G:
        a = a * tl.exp(ga[:, None] - gb[None, :])
    if DIAG:
        a = tl.where(r[:, None] > r[None, :], a, 0.0)
    return a


@triton.jit
def _store_block(ptr, blk, ld, EMU: tl.constexpr):
    """Store a ``[16, 16]`` float32 block at ``ptr`` with leading dimension ``ld``."""
    r = tl.arange(0, 16)
    tl.store(ptr + r[:, None] * ld + r[None, :], _cvt(blk, ptr.dtype.element_ty, EMU))


@triton.jit
def _wide(i, ROW64: tl.constexpr):
    """``i`` as a 64-bit integer when ``ROW64``: a chunk or sub-chunk index whose products with
    row widths may pass 2**31 elements within one batch row (issue 12). The launch sets
    ``ROW64`` only for such rows, so every other call compiles exactly as before."""
    if ROW64:
        return tl.cast(i, tl.int64)
    else:
        return i


@triton.jit
def wy_fwd_kernel(
    k, v, beta, gsub, w, u, tmat, scr,
    L,
    H: tl.constexpr, K: tl.constexpr, V: tl.constexpr, BK: tl.constexpr, BVF: tl.constexpr,
    BT: tl.constexpr, USE_G: tl.constexpr, STORE_T: tl.constexpr, MM: tl.constexpr,
    PREC: tl.constexpr, EMU: tl.constexpr, INV: tl.constexpr = 1,
    ROW64: tl.constexpr = False, HI: tl.constexpr = False,
):
    """Per sub-chunk: T = (I + A)^{-1} by 16-blocks, W = T diag(beta e^G) K, U = T diag(beta) V.

    Grid ``(NS, B*H)``. Writes ``w [B*H, Lp, K]``, ``u [B*H, Lp, V]`` and, if ``STORE_T``,
    ``tmat [B*H, Lp, BT]`` (row ``i`` of the chunk's T, in the input dtype: the backward pass
    rounds T to that dtype for its products anyway), for every row of the padded chunk.
    """
    i_c = _wide(tl.program_id(0), ROW64)
    i_bh = tl.program_id(1).to(tl.int64)
    i_b = i_bh // H
    i_h = i_bh % H
    Lp = tl.num_programs(0) * BT
    r16 = tl.arange(0, 16)
    ck = tl.arange(0, BK)
    cv = tl.arange(0, BVF)
    # input layout [B, L, H, *]; row stride H*K
    k_base = k + (i_b * L * H + i_h) * K
    v_base = v + (i_b * L * H + i_h) * V
    b_base = beta + i_b * L * H + i_h
    if USE_G:
        g_base = gsub + i_bh * Lp
    w_base = w + i_bh * Lp * K
    u_base = u + i_bh * Lp * V
    if STORE_T:
        t_base = tmat + i_bh * Lp * BT
    row0 = i_c * BT
    # float32 scratch of this program's diagonal blocks: [B*H, NS, BT // 16, 16, 16]
    scr_base = scr + (i_bh * tl.num_programs(0) + i_c) * (BT * 16)

    # block 0
    p0 = row0 + r16
    m0 = p0 < L
    k0 = tl.load(k_base + p0[:, None] * (H * K) + ck[None, :],
                 mask=m0[:, None] & (ck[None, :] < K), other=0.0)
    v0 = tl.load(v_base + p0[:, None] * (H * V) + cv[None, :],
                 mask=m0[:, None] & (cv[None, :] < V), other=0.0)
    b0 = tl.load(b_base + p0 * H, mask=m0, other=0.0).to(tl.float32)
    g0 = tl.zeros([16], dtype=tl.float32)
    if USE_G:
        g0 = tl.load(g_base + p0)
    t00 = _inv16(_a_block(k0, k0, b0, g0, g0, True, USE_G, MM, PREC, EMU), scr_base + 0, INV)
    s0 = b0
    if USE_G:
        s0 = b0 * tl.exp(g0)
    kb0 = _opnd(k0.to(tl.float32) * s0[:, None], HI, MM, EMU)
    vb0 = _opnd(v0.to(tl.float32) * b0[:, None], HI, MM, EMU)
    w0 = _mmh(t00, kb0, HI, MM, PREC, EMU)
    u0 = _mmh(t00, vb0, HI, MM, PREC, EMU)
    tl.store(w_base + p0[:, None] * K + ck[None, :], _cvt(w0, w.dtype.element_ty, EMU), mask=ck[None, :] < K)
    tl.store(u_base + p0[:, None] * V + cv[None, :], _cvt(u0, u.dtype.element_ty, EMU), mask=cv[None, :] < V)
    if STORE_T:
        zero = tl.zeros([16, 16], dtype=tl.float32)
        _store_block(t_base + row0 * BT, t00, BT, EMU)
        if BT > 16:
            _store_block(t_base + row0 * BT + 16, zero, BT, EMU)
        if BT > 32:
            _store_block(t_base + row0 * BT + 32, zero, BT, EMU)
            _store_block(t_base + row0 * BT + 48, zero, BT, EMU)

    if BT > 16:
        p1 = row0 + 16 + r16
        m1 = p1 < L
        k1 = tl.load(k_base + p1[:, None] * (H * K) + ck[None, :],
                     mask=m1[:, None] & (ck[None, :] < K), other=0.0)
        v1 = tl.load(v_base + p1[:, None] * (H * V) + cv[None, :],
                     mask=m1[:, None] & (cv[None, :] < V), other=0.0)
        b1 = tl.load(b_base + p1 * H, mask=m1, other=0.0).to(tl.float32)
        g1 = tl.zeros([16], dtype=tl.float32)
        if USE_G:
            g1 = tl.load(g_base + p1)
        a10 = _a_block(k1, k0, b1, g1, g0, False, USE_G, MM, PREC, EMU)
        t11 = _inv16(_a_block(k1, k1, b1, g1, g1, True, USE_G, MM, PREC, EMU), scr_base + 256, INV)
        t10 = -_mm32(t11, _mm32(a10, t00))
        s1 = b1
        if USE_G:
            s1 = b1 * tl.exp(g1)
        kb1 = _opnd(k1.to(tl.float32) * s1[:, None], HI, MM, EMU)
        vb1 = _opnd(v1.to(tl.float32) * b1[:, None], HI, MM, EMU)
        w1 = _mmh(t10, kb0, HI, MM, PREC, EMU) + _mmh(t11, kb1, HI, MM, PREC, EMU)
        u1 = _mmh(t10, vb0, HI, MM, PREC, EMU) + _mmh(t11, vb1, HI, MM, PREC, EMU)
        tl.store(w_base + p1[:, None] * K + ck[None, :], _cvt(w1, w.dtype.element_ty, EMU), mask=ck[None, :] < K)
        tl.store(u_base + p1[:, None] * V + cv[None, :], _cvt(u1, u.dtype.element_ty, EMU), mask=cv[None, :] < V)
        if STORE_T:
            _store_block(t_base + (row0 + 16) * BT, t10, BT, EMU)
            _store_block(t_base + (row0 + 16) * BT + 16, t11, BT, EMU)
            if BT > 32:
                _store_block(t_base + (row0 + 16) * BT + 32, zero, BT, EMU)
                _store_block(t_base + (row0 + 16) * BT + 48, zero, BT, EMU)

    if BT > 32:
        p2 = row0 + 32 + r16
        m2 = p2 < L
        k2 = tl.load(k_base + p2[:, None] * (H * K) + ck[None, :],
                     mask=m2[:, None] & (ck[None, :] < K), other=0.0)
        v2 = tl.load(v_base + p2[:, None] * (H * V) + cv[None, :],
                     mask=m2[:, None] & (cv[None, :] < V), other=0.0)
        b2 = tl.load(b_base + p2 * H, mask=m2, other=0.0).to(tl.float32)
        p3 = row0 + 48 + r16
        m3 = p3 < L
        k3 = tl.load(k_base + p3[:, None] * (H * K) + ck[None, :],
                     mask=m3[:, None] & (ck[None, :] < K), other=0.0)
        v3 = tl.load(v_base + p3[:, None] * (H * V) + cv[None, :],
                     mask=m3[:, None] & (cv[None, :] < V), other=0.0)
        b3 = tl.load(b_base + p3 * H, mask=m3, other=0.0).to(tl.float32)
        g2 = tl.zeros([16], dtype=tl.float32)
        g3 = tl.zeros([16], dtype=tl.float32)
        if USE_G:
            g2 = tl.load(g_base + p2)
            g3 = tl.load(g_base + p3)
        a20 = _a_block(k2, k0, b2, g2, g0, False, USE_G, MM, PREC, EMU)
        a21 = _a_block(k2, k1, b2, g2, g1, False, USE_G, MM, PREC, EMU)
        a30 = _a_block(k3, k0, b3, g3, g0, False, USE_G, MM, PREC, EMU)
        a31 = _a_block(k3, k1, b3, g3, g1, False, USE_G, MM, PREC, EMU)
        a32 = _a_block(k3, k2, b3, g3, g2, False, USE_G, MM, PREC, EMU)
        t22 = _inv16(_a_block(k2, k2, b2, g2, g2, True, USE_G, MM, PREC, EMU), scr_base + 512, INV)
        t33 = _inv16(_a_block(k3, k3, b3, g3, g3, True, USE_G, MM, PREC, EMU), scr_base + 768, INV)
        t21 = -_mm32(t22, _mm32(a21, t11))
        t32 = -_mm32(t33, _mm32(a32, t22))
        t20 = -_mm32(t22, _mm32(a20, t00) + _mm32(a21, t10))
        t31 = -_mm32(t33, _mm32(a31, t11) + _mm32(a32, t21))
        t30 = -_mm32(t33, _mm32(a30, t00) + _mm32(a31, t10) + _mm32(a32, t20))
        s2 = b2
        s3 = b3
        if USE_G:
            s2 = b2 * tl.exp(g2)
            s3 = b3 * tl.exp(g3)
        kb2 = _opnd(k2.to(tl.float32) * s2[:, None], HI, MM, EMU)
        vb2 = _opnd(v2.to(tl.float32) * b2[:, None], HI, MM, EMU)
        kb3 = _opnd(k3.to(tl.float32) * s3[:, None], HI, MM, EMU)
        vb3 = _opnd(v3.to(tl.float32) * b3[:, None], HI, MM, EMU)
        w2 = (_mmh(t20, kb0, HI, MM, PREC, EMU) + _mmh(t21, kb1, HI, MM, PREC, EMU)
              + _mmh(t22, kb2, HI, MM, PREC, EMU))
        u2 = (_mmh(t20, vb0, HI, MM, PREC, EMU) + _mmh(t21, vb1, HI, MM, PREC, EMU)
              + _mmh(t22, vb2, HI, MM, PREC, EMU))
        w3 = (_mmh(t30, kb0, HI, MM, PREC, EMU) + _mmh(t31, kb1, HI, MM, PREC, EMU)
              + _mmh(t32, kb2, HI, MM, PREC, EMU) + _mmh(t33, kb3, HI, MM, PREC, EMU))
        u3 = (_mmh(t30, vb0, HI, MM, PREC, EMU) + _mmh(t31, vb1, HI, MM, PREC, EMU)
              + _mmh(t32, vb2, HI, MM, PREC, EMU) + _mmh(t33, vb3, HI, MM, PREC, EMU))
        tl.store(w_base + p2[:, None] * K + ck[None, :], _cvt(w2, w.dtype.element_ty, EMU), mask=ck[None, :] < K)
        tl.store(u_base + p2[:, None] * V + cv[None, :], _cvt(u2, u.dtype.element_ty, EMU), mask=cv[None, :] < V)
        tl.store(w_base + p3[:, None] * K + ck[None, :], _cvt(w3, w.dtype.element_ty, EMU), mask=ck[None, :] < K)
        tl.store(u_base + p3[:, None] * V + cv[None, :], _cvt(u3, u.dtype.element_ty, EMU), mask=cv[None, :] < V)
        if STORE_T:
            _store_block(t_base + (row0 + 32) * BT, t20, BT, EMU)
            _store_block(t_base + (row0 + 32) * BT + 16, t21, BT, EMU)
            _store_block(t_base + (row0 + 32) * BT + 32, t22, BT, EMU)
            _store_block(t_base + (row0 + 32) * BT + 48, zero, BT, EMU)
            _store_block(t_base + (row0 + 48) * BT, t30, BT, EMU)
            _store_block(t_base + (row0 + 48) * BT + 16, t31, BT, EMU)
            _store_block(t_base + (row0 + 48) * BT + 32, t32, BT, EMU)
            _store_block(t_base + (row0 + 48) * BT + 48, t33, BT, EMU)


@triton.jit
def _blk(p, LD: tl.constexpr):
    """The ``[16, 16]`` float32 block at ``p`` (leading dimension ``LD``)."""
    r = tl.arange(0, 16)
    return tl.load(p + r[:, None] * LD + r[None, :])


@triton.jit
def _rows_product(t, src, dst, rows, mr, cb, H: tl.constexpr, N: tl.constexpr,
                  BC: tl.constexpr, HI: tl.constexpr, MM: tl.constexpr, PREC: tl.constexpr,
                  EMU: tl.constexpr):
    """``dst[rows] = t @ src[rows]`` a ``BC``-wide column block at a time: ``src`` in the
    input layout (row stride ``H * N``), ``dst`` a per-head buffer (row stride ``N``)."""
    for c0 in range(0, N, BC):
        cc = c0 + cb
        x = tl.load(src + rows[:, None] * (H * N) + cc[None, :],
                    mask=mr[:, None] & (cc < N)[None, :], other=0.0)
        tl.store(dst + rows[:, None] * N + cc[None, :],
                 _cvt(_mmh(t, x, HI, MM, PREC, EMU), dst.dtype.element_ty, EMU),
                 mask=(cc < N)[None, :])


@triton.jit
def wy_loop_kernel(
    k, v, beta, gsub, w, u, tmat, scr,
    L,
    H: tl.constexpr, K: tl.constexpr, V: tl.constexpr, BK: tl.constexpr, BVF: tl.constexpr,
    BT: tl.constexpr, USE_G: tl.constexpr, STORE_T: tl.constexpr, MM: tl.constexpr,
    PREC: tl.constexpr, EMU: tl.constexpr, BC: tl.constexpr,
    ROW64: tl.constexpr = False, HI: tl.constexpr = False,
    q=None, gtok=None, qk=None, T=0, NH: tl.constexpr = 1, QK: tl.constexpr = False,
    WU: tl.constexpr = True, STACK: tl.constexpr = False,
):
    """:func:`wy_fwd_kernel` for 64-row sub-chunks in loop form (``wy_loop``; the 16-bit default since session 19).

    Grid ``(NS, B*H)``. The keys and values are read only inside loops over ``BC``-wide
    column blocks, so Triton can pipeline them into shared memory without staging them in
    registers (the default kernel's eight staging stores each wait on their own load):
    ``A = diag(beta) (E o K K^T)`` by one product a block of key columns, written to a
    float32 scratch ``[BT, BT]`` of the program; ``T`` by 16 x 16 blocks as in
    :func:`wy_fwd_kernel` (diagonal blocks by substitution on rows read from the scratch,
    the others by exact float32 products), written back over ``A``; then
    ``W = (T diag(beta e^G)) K`` and ``U = (T diag(beta)) V`` a column block at a time. The
    row scalings sit on ``T``'s columns instead of on ``K``'s and ``V``'s rows, so the
    products' 16-bit operands are rounded in different places: equal to the default within
    rounding, not bitwise.

    With ``QK`` it also writes the sub-chunk's scores for the forward state pass (``qk``
    ``[B*H, Lp, BT]`` in the input dtype): ``Q_c K_i^T`` for sub-chunk ``i`` of token chunk
    ``c = i // NH``, times the gate factors ``e^{G_r - G_j}`` (token-level cumulative gates
    ``gtok``), causally masked; the keys' column blocks are the ones ``A`` reads, so the scores
    cost a load of ``Q`` and a product, once for every value block of the state pass.
    Without ``WU`` it writes ``T`` only (``STORE_T``), for a state pass that applies it
    itself (``TFUSED`` in :func:`fwd_state_kernel`). With ``STACK`` the four diagonal blocks'
    substitutions run as one on a ``[64, 16]`` tile (:func:`_inv16_stacked`): 15 dependent
    steps instead of four chains of 15 that the compiler may not interleave.
    """
    i_c = _wide(tl.program_id(0), ROW64)
    i_bh = tl.program_id(1).to(tl.int64)
    i_b = i_bh // H
    i_h = i_bh % H
    Lp = tl.num_programs(0) * BT
    r = tl.arange(0, BT)
    cb = tl.arange(0, BC)
    rows = i_c * BT + r
    mr = rows < L
    k_base = k + (i_b * L * H + i_h) * K
    v_base = v + (i_b * L * H + i_h) * V
    b = tl.load(beta + i_b * L * H + i_h + rows * H, mask=mr, other=0.0).to(tl.float32)
    g = tl.zeros([BT], dtype=tl.float32)
    if USE_G:
        g = tl.load(gsub + i_bh * Lp + rows)
    sp = scr + (i_bh * tl.num_programs(0) + i_c) * (BT * BT)
    # A = diag(beta) (E o K K^T), strictly lower, to the scratch
    kk = tl.zeros([BT, BT], dtype=tl.float32)
    if QK:
        tc = i_c // NH                              # the token chunk
        tq = tc * BT + r
        q_base = q + (i_b * T * H + i_h) * K
        sq = tl.zeros([BT, BT], dtype=tl.float32)
    for c0 in range(0, K, BC):
        cc = c0 + cb
        kt = tl.load(k_base + rows[:, None] * (H * K) + cc[None, :],
                     mask=mr[:, None] & (cc < K)[None, :], other=0.0)
        kk += _mma(kt, tl.trans(kt), MM, PREC, EMU)
        if QK:
            qt = tl.load(q_base + tq[:, None] * (H * K) + cc[None, :],
                         mask=(tq < T)[:, None] & (cc < K)[None, :], other=0.0)
            sq += _mma(qt, tl.trans(kt), MM, PREC, EMU)
    if QK:
        tokc = ((i_c % NH) * BT + r) // NH          # each key row's token in the chunk
        causal = tokc[None, :] <= r[:, None]
        if USE_G:
            gt_base = gtok + i_bh * (Lp // NH) + tc * BT
            gq = tl.load(gt_base + r)
            gkk = tl.load(gt_base + tokc)
            sq = tl.where(causal, sq * tl.exp(gq[:, None] - gkk[None, :]), 0.0)
        else:
            sq = tl.where(causal, sq, 0.0)
        tl.store(qk + (i_bh * Lp + rows[:, None]) * BT + r[None, :], _cvt(sq, qk.dtype.element_ty, EMU))
    a = kk * b[:, None]
    if USE_G:
        a = a * tl.exp(g[:, None] - g[None, :])
    a = tl.where(r[:, None] > r[None, :], a, 0.0)
    tl.store(sp + r[:, None] * BT + r[None, :], a)
    tl.debug_barrier()
    # T = (I + A)^{-1} by 16 x 16 blocks (the arithmetic of wy_fwd_kernel)
    if STACK:
        ustk = _inv16_stacked(sp, BT)
    else:
        t00 = _inv16_ld(sp, BT)
        t11 = _inv16_ld(sp + 16 * BT + 16, BT)
        t22 = _inv16_ld(sp + 32 * BT + 32, BT)
        t33 = _inv16_ld(sp + 48 * BT + 48, BT)
    a10 = _blk(sp + 16 * BT, BT)
    a20 = _blk(sp + 32 * BT, BT)
    a21 = _blk(sp + 32 * BT + 16, BT)
    a30 = _blk(sp + 48 * BT, BT)
    a31 = _blk(sp + 48 * BT + 16, BT)
    a32 = _blk(sp + 48 * BT + 32, BT)
    if STACK:
        # the diagonal blocks of T over A's (every row of A's read first), read back as blocks
        tl.debug_barrier()
        _store_stacked(sp, ustk, BT)
        tl.debug_barrier()
        t00 = _blk(sp, BT)
        t11 = _blk(sp + 16 * BT + 16, BT)
        t22 = _blk(sp + 32 * BT + 32, BT)
        t33 = _blk(sp + 48 * BT + 48, BT)
    t10 = -_mm32(t11, _mm32(a10, t00))
    t21 = -_mm32(t22, _mm32(a21, t11))
    t32 = -_mm32(t33, _mm32(a32, t22))
    t20 = -_mm32(t22, _mm32(a20, t00) + _mm32(a21, t10))
    t31 = -_mm32(t33, _mm32(a31, t11) + _mm32(a32, t21))
    t30 = -_mm32(t33, _mm32(a30, t00) + _mm32(a31, t10) + _mm32(a32, t20))
    tl.debug_barrier()                              # every A block read before T overwrites it
    # T over A's lower blocks; the blocks above the diagonal hold A's zeros, which are T's
    if not STACK:
        _store_block(sp, t00, BT, False)
        _store_block(sp + 16 * BT + 16, t11, BT, False)
        _store_block(sp + 32 * BT + 32, t22, BT, False)
        _store_block(sp + 48 * BT + 48, t33, BT, False)
    _store_block(sp + 16 * BT, t10, BT, False)
    _store_block(sp + 32 * BT, t20, BT, False)
    _store_block(sp + 32 * BT + 16, t21, BT, False)
    _store_block(sp + 48 * BT, t30, BT, False)
    _store_block(sp + 48 * BT + 16, t31, BT, False)
    _store_block(sp + 48 * BT + 32, t32, BT, False)
    tl.debug_barrier()
    tt = tl.load(sp + r[:, None] * BT + r[None, :])
    if STORE_T:
        tl.store(tmat + i_bh * Lp * BT + rows[:, None] * BT + r[None, :],
                 _cvt(tt, tmat.dtype.element_ty, EMU))
    if WU:
        s_k = b
        if USE_G:
            s_k = b * tl.exp(g)
        ts = _opnd(tt * s_k[None, :], HI, MM, EMU)
        tb = _opnd(tt * b[None, :], HI, MM, EMU)
        _rows_product(ts, k_base, w + i_bh * Lp * K, rows, mr, cb, H, K, BC, HI, MM, PREC, EMU)
        _rows_product(tb, v_base, u + i_bh * Lp * V, rows, mr, cb, H, V, BC, HI, MM, PREC, EMU)


@triton.jit
def _chunk_start(s, q_base, gt_base, c, r, ck, mk, T, H: tl.constexpr, K: tl.constexpr,
                 BT: tl.constexpr, USE_G: tl.constexpr, MM: tl.constexpr, PREC: tl.constexpr,
                 EMU: tl.constexpr):
    """A token chunk's queries and the share of its outputs from the state ``s`` at its start
    (gated by the token-level cumulative gates, which it returns): ``(b_q, acc, gt)``."""
    tq = c * BT + r
    b_q = tl.load(q_base + tq[:, None] * (H * K) + ck[None, :],
                  mask=(tq < T)[:, None] & mk[None, :], other=0.0)
    acc = _mma(b_q, s, MM, PREC, EMU)
    gt = tl.zeros([BT], dtype=tl.float32)
    if USE_G:
        gt = tl.load(gt_base + c * BT + r)
        acc = acc * tl.exp(gt)[:, None]
    return b_q, acc, gt


@triton.jit
def _chunk_store(acc, o_base, c, r, cv, mv, T, H: tl.constexpr, V: tl.constexpr,
                 BT: tl.constexpr, scale, EMU: tl.constexpr):
    """A token chunk's outputs, ``scale * acc``, in the outputs' dtype."""
    tq = c * BT + r
    tl.store(o_base + tq[:, None] * (H * V) + cv[None, :],
             _cvt(acc * scale, o_base.dtype.element_ty, EMU),
             mask=(tq < T)[:, None] & mv[None, :])


@triton.jit
def _fwd_sub(s, b_q, acc, gt, i, c, m, r, ck, cv, mk, mv, q_base, k_base, o_base, w_base, u_base,
             gs_base, gt_base, hbuf, dbuf, qkin, i_bh, T, L, NS, Lp, scale, t_base, v_base,
             b_base, H: tl.constexpr, K: tl.constexpr, V: tl.constexpr, BT: tl.constexpr,
             NH: tl.constexpr, USE_G: tl.constexpr, COMPUTE_O: tl.constexpr,
             STORE_H: tl.constexpr, STORE_D: tl.constexpr, MM: tl.constexpr, PREC: tl.constexpr,
             EMU: tl.constexpr, HI: tl.constexpr, EARLY: tl.constexpr, QKIN: tl.constexpr,
             TFUSED: tl.constexpr, HOIST: tl.constexpr = False):
    """One sub-chunk ``i`` (sub-step ``m`` of token chunk ``c``) of :func:`fwd_state_kernel`.

    ``m`` is a run-time value in the flat loop and a constant in the nested one (``NEST``),
    where the branches on ``m`` (a new token chunk, its last sub-chunk) are resolved when the
    kernel compiles. With ``HOIST`` the caller starts and stores the token chunk's outputs
    itself (:func:`_chunk_start`, :func:`_chunk_store`) around a run-time loop over ``m``
    without branches. Returns the updated ``(s, b_q, acc, gt)``."""
    rows = i * BT + r
    if USE_G and EARLY:
        # EARLY (the 16-bit default): the gate loads first, issued before this step's stores
        # (which the compiler may not move loads across), so their latency can hide
        # behind the products; the same arithmetic, bitwise the same results
        gs = tl.load(gs_base + rows)
        gl = tl.load(gs_base + i * BT + BT - 1)
        if COMPUTE_O and not QKIN:                  # QKIN reads the scores already gated
            gc = tl.load(gt_base + c * BT + (m * BT + r) // NH)
    if STORE_H:
        tl.store(hbuf + (i_bh * NS + i) * K * V + ck[:, None] * V + cv[None, :],
                 _cvt(s, hbuf.dtype.element_ty, EMU), mask=mk[:, None] & mv[None, :])
    if TFUSED:
        # D = T diag(beta) (V - diag(e^G) K S): T, the values and beta instead of W and U
        b_t = tl.load(t_base + rows[:, None] * BT + r[None, :])
        b_v = tl.load(v_base + rows[:, None] * (H * V) + cv[None, :],
                      mask=(rows < L)[:, None] & mv[None, :], other=0.0)
        b_b = tl.load(b_base + rows * H, mask=rows < L, other=0.0).to(tl.float32)
    else:
        b_w = tl.load(w_base + rows[:, None] * K + ck[None, :], mask=mk[None, :], other=0.0)
        b_u = tl.load(u_base + rows[:, None] * V + cv[None, :], mask=mv[None, :], other=0.0)
    b_k = tl.load(k_base + rows[:, None] * (H * K) + ck[None, :],
                  mask=(rows < L)[:, None] & mk[None, :], other=0.0)
    if COMPUTE_O and not HOIST:
        if m == 0:
            # a new token chunk: its outputs start from the state at its start
            b_q, acc, gt = _chunk_start(s, q_base, gt_base, c, r, ck, mk, T, H, K, BT, USE_G,
                                        MM, PREC, EMU)
    if TFUSED:
        ks = _mma(b_k, s, MM, PREC, EMU)
        if USE_G:
            if not EARLY:
                gs = tl.load(gs_base + rows)        # loaded once: the decay below reuses it
            ks = ks * tl.exp(gs)[:, None]
        b_d = _mma(b_t, (b_v.to(tl.float32) - ks) * b_b[:, None], MM, PREC, EMU)
    else:
        b_d = b_u.to(tl.float32) - _mma(b_w, s, MM, PREC, EMU)
    if STORE_D:
        tl.store(dbuf + i_bh * Lp * V + rows[:, None] * V + cv[None, :],
                 _cvt(b_d, dbuf.dtype.element_ty, EMU), mask=mv[None, :])
    if COMPUTE_O:
        if QKIN:
            # the sub-chunk's gated, causally masked scores, computed once for every value
            # block by the parallel pass (qkin [B*H, Lp, BT], rows as the sub-chunk's)
            qk = tl.load(qkin + (i_bh * Lp + rows[:, None]) * BT + r[None, :])
        else:
            qk = _mma(b_q, tl.trans(b_k), MM, PREC, EMU)
            tokc = (m * BT + r) // NH
            causal = tokc[None, :] <= r[:, None]
            if USE_G:
                if not EARLY:
                    gc = tl.load(gt_base + c * BT + tokc)
                qk = tl.where(causal, qk * tl.exp(gt[:, None] - gc[None, :]), 0.0)
            else:
                qk = tl.where(causal, qk, 0.0)
        acc += _mmh(qk, b_d, HI, MM, PREC, EMU)
        if not HOIST:
            if m == NH - 1:
                _chunk_store(acc, o_base, c, r, cv, mv, T, H, V, BT, scale, EMU)
    if USE_G:
        if not EARLY:
            if not TFUSED:
                gs = tl.load(gs_base + rows)
            gl = tl.load(gs_base + i * BT + BT - 1)
        s = s * tl.exp(gl)
        b_d = b_d * tl.exp(gl - gs)[:, None]
    s += _mmh(tl.trans(b_k), b_d, HI, MM, PREC, EMU)
    return s, b_q, acc, gt


@triton.jit
def fwd_state_kernel(
    q, k, w, u, gsub, gtok, h0, o, ht, hbuf, dbuf,
    T, L, NC, scale,
    H: tl.constexpr, K: tl.constexpr, V: tl.constexpr, BK: tl.constexpr, BV: tl.constexpr,
    BT: tl.constexpr, NH: tl.constexpr, USE_G: tl.constexpr, USE_H0: tl.constexpr,
    STORE_HT: tl.constexpr, COMPUTE_O: tl.constexpr, STORE_H: tl.constexpr,
    STORE_D: tl.constexpr, MM: tl.constexpr, PREC: tl.constexpr, EMU: tl.constexpr,
    ROW64: tl.constexpr = False, HI: tl.constexpr = False, EARLY: tl.constexpr = False,
    qkin=None, QKIN: tl.constexpr = False, NEST: tl.constexpr = False,
    tmat=None, vin=None, beta=None, TFUSED: tl.constexpr = False, HOIST: tl.constexpr = False,
):
    """Sequential pass over the chunks for one block of value columns.

    Grid ``(cdiv(V, BV), B*H)``. For every sub-chunk: ``D = U - W S`` (the corrected values
    ``delta``), then ``S <- e^{G_last} S + (K e^{G_last - G})^T D``. With ``COMPUTE_O`` it also
    forms the outputs of each token chunk from the state at its start and the ``D`` of its
    ``NH`` sub-chunks, never writing states; ``STORE_H``/``STORE_D`` save every sub-chunk's
    starting state and ``D`` for the backward pass. With ``TFUSED`` (``w``, ``u`` unused)
    it forms ``D = T diag(beta) (V - diag(e^G) K S)`` from ``T`` (``tmat``, as the WY pass
    stores it), the values ``vin`` and ``beta`` in their input layouts: equal to
    ``U - W S`` within rounding, without writing and reading ``W`` and ``U``.

    Three loop forms, the same arithmetic in the same order: flat (one run-time loop over the
    sub-chunks, branching on the sub-step for a token chunk's start and end), ``NEST`` (token
    chunks outer, their sub-chunks unrolled: no branches, ``NH`` copies of the step) and
    ``HOIST`` (token chunks outer, the start and end of a chunk's outputs around a run-time
    loop over its sub-chunks: no branches, one copy of the step).
    """
    i_v = tl.program_id(0)
    i_bh = tl.program_id(1).to(tl.int64)
    i_b = i_bh // H
    i_h = i_bh % H
    NS = NC * NH
    Lp = NS * BT
    r = tl.arange(0, BT)
    ck = tl.arange(0, BK)
    cv = i_v * BV + tl.arange(0, BV)
    mk = ck < K
    mv = cv < V
    k_base = k + (i_b * L * H + i_h) * K
    q_base = q + (i_b * T * H + i_h) * K
    w_base = w
    u_base = u
    t_base = tmat
    v_base = vin
    b_base = beta
    if TFUSED:
        t_base = tmat + i_bh * Lp * BT
        v_base = vin + (i_b * L * H + i_h) * V
        b_base = beta + i_b * L * H + i_h
    else:
        w_base = w + i_bh * Lp * K
        u_base = u + i_bh * Lp * V
    o_base = o
    gs_base = gsub
    gt_base = gtok
    if COMPUTE_O:
        o_base = o + (i_b * T * H + i_h) * V
    if USE_G:
        gs_base = gsub + i_bh * Lp
        gt_base = gtok + i_bh * NC * BT
    s = tl.zeros([BK, BV], dtype=tl.float32)
    if USE_H0:
        s += tl.load(h0 + i_bh * K * V + ck[:, None] * V + cv[None, :],
                     mask=mk[:, None] & mv[None, :], other=0.0).to(tl.float32)
    b_q = tl.zeros([BT, BK], dtype=q.dtype.element_ty)
    acc = tl.zeros([BT, BV], dtype=tl.float32)
    gt = tl.zeros([BT], dtype=tl.float32)
    if NEST:
        # token chunks outer, their NH sub-chunks unrolled: every branch on the sub-step
        # resolved at compile time (the flat loop keeps them as run-time branches, which
        # the software pipeliner does not see through); the same arithmetic in the same order
        for c0 in range(NC):
            c = _wide(c0, ROW64)
            for m in tl.static_range(NH):
                s, b_q, acc, gt = _fwd_sub(
                    s, b_q, acc, gt, c * NH + m, c, m, r, ck, cv, mk, mv, q_base, k_base,
                    o_base, w_base, u_base, gs_base, gt_base, hbuf, dbuf, qkin, i_bh, T, L, NS,
                    Lp, scale, t_base, v_base, b_base, H, K, V, BT, NH, USE_G, COMPUTE_O,
                    STORE_H, STORE_D, MM, PREC, EMU, HI, EARLY, QKIN, TFUSED)
    elif HOIST:
        for c0 in range(NC):
            c = _wide(c0, ROW64)
            if COMPUTE_O:
                b_q, acc, gt = _chunk_start(s, q_base, gt_base, c, r, ck, mk, T, H, K, BT,
                                            USE_G, MM, PREC, EMU)
            for m in range(NH):
                s, b_q, acc, gt = _fwd_sub(
                    s, b_q, acc, gt, c * NH + m, c, m, r, ck, cv, mk, mv, q_base, k_base,
                    o_base, w_base, u_base, gs_base, gt_base, hbuf, dbuf, qkin, i_bh, T, L, NS,
                    Lp, scale, t_base, v_base, b_base, H, K, V, BT, NH, USE_G, COMPUTE_O,
                    STORE_H, STORE_D, MM, PREC, EMU, HI, EARLY, QKIN, TFUSED, True)
            if COMPUTE_O:
                _chunk_store(acc, o_base, c, r, cv, mv, T, H, V, BT, scale, EMU)
    else:
        for i0 in range(NS):
            i = _wide(i0, ROW64)
            s, b_q, acc, gt = _fwd_sub(
                s, b_q, acc, gt, i, i // NH, i % NH, r, ck, cv, mk, mv, q_base, k_base,
                o_base, w_base, u_base, gs_base, gt_base, hbuf, dbuf, qkin, i_bh, T, L, NS,
                Lp, scale, t_base, v_base, b_base, H, K, V, BT, NH, USE_G, COMPUTE_O,
                STORE_H, STORE_D, MM, PREC, EMU, HI, EARLY, QKIN, TFUSED)
    if STORE_HT:
        tl.store(ht + i_bh * K * V + ck[:, None] * V + cv[None, :], s, mask=mk[:, None] & mv[None, :])


@triton.jit
def bwd_o_kernel(
    q, k, do, hbuf, dbuf, gtok, dq, dko, dvloc, dgtok,
    T, L, NC, scale,
    H: tl.constexpr, K: tl.constexpr, V: tl.constexpr, BK: tl.constexpr, BV: tl.constexpr,
    BT: tl.constexpr, NH: tl.constexpr, USE_G: tl.constexpr, MM: tl.constexpr,
    PREC: tl.constexpr, EMU: tl.constexpr,
    ROW64: tl.constexpr = False,
):
    """Backward of the output formula, one token chunk per program (grid ``(NC, B*H)``).

    Writes ``dq`` (final), ``dko`` (the keys' share from the outputs), ``dvloc`` (the deltas'
    share from the outputs of their own token chunk) and ``dgtok`` (gradient of the token-level
    cumulative gate). Value columns are visited in blocks of ``BV``.
    """
    i_c = _wide(tl.program_id(0), ROW64)
    i_bh = tl.program_id(1).to(tl.int64)
    i_b = i_bh // H
    i_h = i_bh % H
    NS = NC * NH
    Lp = NS * BT
    r = tl.arange(0, BT)
    ck = tl.arange(0, BK)
    mk = ck < K
    tq = i_c * BT + r
    mq = tq < T
    do_base = do + (i_b * T * H + i_h) * V
    s0_base = hbuf + (i_bh * NS + i_c * NH) * K * V
    b_q = tl.load(q + (i_b * T * H + i_h) * K + tq[:, None] * (H * K) + ck[None, :],
                  mask=mq[:, None] & mk[None, :], other=0.0)
    b_dq = tl.zeros([BT, BK], dtype=tl.float32)
    for i_v in range(tl.cdiv(V, BV)):
        cv = i_v * BV + tl.arange(0, BV)
        mv = cv < V
        b_do = tl.load(do_base + tq[:, None] * (H * V) + cv[None, :], mask=mq[:, None] & mv[None, :], other=0.0)
        b_s0 = tl.load(s0_base + ck[:, None] * V + cv[None, :], mask=mk[:, None] & mv[None, :], other=0.0)
        b_dq += _mma(b_do, tl.trans(b_s0), MM, PREC, EMU)
    if USE_G:
        gt = tl.load(gtok + i_bh * NC * BT + i_c * BT + r)
        b_dq = b_dq * tl.exp(gt)[:, None]
        dgt = tl.sum(b_dq * b_q.to(tl.float32), 1)
    for m in tl.static_range(NH):
        i = i_c * NH + m
        rows = i * BT + r
        b_k = tl.load(k + (i_b * L * H + i_h) * K + rows[:, None] * (H * K) + ck[None, :],
                      mask=(rows < L)[:, None] & mk[None, :], other=0.0)
        qk = _mma(b_q, tl.trans(b_k), MM, PREC, EMU)
        dd = tl.zeros([BT, BT], dtype=tl.float32)
        for i_v in range(tl.cdiv(V, BV)):
            cv = i_v * BV + tl.arange(0, BV)
            mv = cv < V
            b_do = tl.load(do_base + tq[:, None] * (H * V) + cv[None, :], mask=mq[:, None] & mv[None, :], other=0.0)
            b_dl = tl.load(dbuf + i_bh * Lp * V + rows[:, None] * V + cv[None, :], mask=mv[None, :], other=0.0)
            dd += _mma(b_do, tl.trans(b_dl), MM, PREC, EMU)
        tokc = (m * BT + r) // NH
        causal = tokc[None, :] <= r[:, None]
        if USE_G:
            gc = tl.load(gtok + i_bh * NC * BT + i_c * BT + tokc)
            dec = tl.where(causal, tl.exp(gt[:, None] - gc[None, :]), 0.0)
        else:
            dec = tl.where(causal, 1.0, 0.0)
        p = qk * dec
        x = dd * dec
        pt = tl.trans(p * scale)
        for i_v in range(tl.cdiv(V, BV)):
            cv = i_v * BV + tl.arange(0, BV)
            mv = cv < V
            b_do = tl.load(do_base + tq[:, None] * (H * V) + cv[None, :], mask=mq[:, None] & mv[None, :], other=0.0)
            b_dv = _mma(pt, b_do, MM, PREC, EMU)
            tl.store(dvloc + i_bh * Lp * V + rows[:, None] * V + cv[None, :],
                     _cvt(b_dv, dvloc.dtype.element_ty, EMU), mask=mv[None, :])
        b_dq += _mma(x, b_k, MM, PREC, EMU)
        b_dk = _mma(tl.trans(x * scale), b_q, MM, PREC, EMU)
        tl.store(dko + i_bh * Lp * K + rows[:, None] * K + ck[None, :],
                 _cvt(b_dk, dko.dtype.element_ty, EMU), mask=mk[None, :])
        if USE_G:
            xg = x * qk
            dgt += tl.sum(xg, 1)
            col = tl.sum(xg, 0)
            dgt -= tl.sum(tl.where(tokc[None, :] == r[:, None], col[None, :], 0.0), 1)
    tl.store(dq + (i_b * T * H + i_h) * K + tq[:, None] * (H * K) + ck[None, :],
             _cvt(b_dq * scale, dq.dtype.element_ty, EMU), mask=mq[:, None] & mk[None, :])
    if USE_G:
        tl.store(dgtok + i_bh * NC * BT + i_c * BT + r, dgt * scale)


@triton.jit
def bwd_state_kernel(
    q, k, w, do, gsub, gtok, dht, dh0, dvloc, dhbuf, ddbuf,
    T, L, NC, scale,
    H: tl.constexpr, K: tl.constexpr, V: tl.constexpr, BK: tl.constexpr, BV: tl.constexpr,
    BT: tl.constexpr, NH: tl.constexpr, USE_G: tl.constexpr, USE_DHT: tl.constexpr,
    STORE_DH0: tl.constexpr, MM: tl.constexpr, PREC: tl.constexpr, EMU: tl.constexpr,
    ROW64: tl.constexpr = False,
    EARLY: tl.constexpr = False,
):
    """Reverse sequential pass: gradients of the chunk-boundary states and total ``dD``.

    Grid ``(cdiv(V, BV), B*H)``. ``dS`` holds the gradient of the state at the end of the
    sub-chunk being processed; it is saved to ``dhbuf``, then
    ``dD = dvloc + e^{G_last - G} K dS`` and ``dS <- e^{G_last} dS - W^T dD``; at the start of
    each token chunk ``dS += scale (Q e^{G_tok})^T dO``.
    """
    i_v = tl.program_id(0)
    i_bh = tl.program_id(1).to(tl.int64)
    i_b = i_bh // H
    i_h = i_bh % H
    NS = NC * NH
    Lp = NS * BT
    r = tl.arange(0, BT)
    ck = tl.arange(0, BK)
    cv = i_v * BV + tl.arange(0, BV)
    mk = ck < K
    mv = cv < V
    k_base = k + (i_b * L * H + i_h) * K
    w_base = w + i_bh * Lp * K
    if USE_G:
        gs_base = gsub + i_bh * Lp
    ds = tl.zeros([BK, BV], dtype=tl.float32)
    if USE_DHT:
        ds += tl.load(dht + i_bh * K * V + ck[:, None] * V + cv[None, :],
                      mask=mk[:, None] & mv[None, :], other=0.0).to(tl.float32)
    for ii in range(NS):
        i = _wide(NS - 1 - ii, ROW64)
        c = i // NH
        m = i % NH
        rows = i * BT + r
        if EARLY:
            # EARLY (the 16-bit default): the loads that feed no product first, issued before
            # this step's stores (see fwd_state_kernel); bitwise the same results
            b_dl = tl.load(dvloc + i_bh * Lp * V + rows[:, None] * V + cv[None, :],
                           mask=mv[None, :], other=0.0).to(tl.float32)
            if USE_G:
                gs = tl.load(gs_base + rows)
                gl = tl.load(gs_base + i * BT + BT - 1)
        tl.store(dhbuf + (i_bh * NS + i) * K * V + ck[:, None] * V + cv[None, :],
                 _cvt(ds, dhbuf.dtype.element_ty, EMU), mask=mk[:, None] & mv[None, :])
        b_k = tl.load(k_base + rows[:, None] * (H * K) + ck[None, :],
                      mask=(rows < L)[:, None] & mk[None, :], other=0.0)
        b_w = tl.load(w_base + rows[:, None] * K + ck[None, :], mask=mk[None, :], other=0.0)
        if not EARLY:
            b_dl = tl.load(dvloc + i_bh * Lp * V + rows[:, None] * V + cv[None, :],
                           mask=mv[None, :], other=0.0).to(tl.float32)
        b_dd = _mma(b_k, ds, MM, PREC, EMU)
        if USE_G:
            if not EARLY:
                gs = tl.load(gs_base + rows)
                gl = tl.load(gs_base + i * BT + BT - 1)
            b_dd = b_dd * tl.exp(gl - gs)[:, None]
            ds = ds * tl.exp(gl)
        b_dd += b_dl
        tl.store(ddbuf + i_bh * Lp * V + rows[:, None] * V + cv[None, :],
                 _cvt(b_dd, ddbuf.dtype.element_ty, EMU), mask=mv[None, :])
        ds -= _mma(tl.trans(b_w), b_dd, MM, PREC, EMU)
        if m == 0:
            # start of token chunk c: its outputs read the state here
            tq = c * BT + r
            mq = tq < T
            b_q = tl.load(q + (i_b * T * H + i_h) * K + tq[:, None] * (H * K) + ck[None, :],
                          mask=mq[:, None] & mk[None, :], other=0.0).to(tl.float32)
            b_do = tl.load(do + (i_b * T * H + i_h) * V + tq[:, None] * (H * V) + cv[None, :],
                           mask=mq[:, None] & mv[None, :], other=0.0)
            if USE_G:
                gt = tl.load(gtok + i_bh * NC * BT + c * BT + r)
                b_q = b_q * tl.exp(gt)[:, None]
            ds += _mma(tl.trans(b_q * scale), b_do, MM, PREC, EMU)
    if STORE_DH0:
        tl.store(dh0 + i_bh * K * V + ck[:, None] * V + cv[None, :], ds, mask=mk[:, None] & mv[None, :])


@triton.jit
def bwd_wy_kernel(
    k, v, beta, gsub, tmat, hbuf, dhbuf, dbuf, ddbuf, dko, dk, dv, dbeta, dgsub,
    L,
    H: tl.constexpr, K: tl.constexpr, V: tl.constexpr, BK: tl.constexpr, BV: tl.constexpr,
    BT: tl.constexpr, USE_G: tl.constexpr, MM: tl.constexpr, PREC: tl.constexpr,
    EMU: tl.constexpr,
    ROW64: tl.constexpr = False,
):
    """Per sub-chunk: gradients of keys, values, betas and the sub-step cumulative gate.

    Grid ``(NS, B*H)``. Combines ``dW = -dD S^T``, ``dU = dD``, the keys' share from the state
    update, and the backward of ``W = T diag(beta e^G) K``, ``U = T diag(beta) V``,
    ``T = (I + A)^{-1}``: ``dA = -T^T dT T^T`` on the strictly lower triangle.
    """
    i_c = _wide(tl.program_id(0), ROW64)
    i_bh = tl.program_id(1).to(tl.int64)
    i_b = i_bh // H
    i_h = i_bh % H
    NS = tl.num_programs(0)
    Lp = NS * BT
    r = tl.arange(0, BT)
    ck = tl.arange(0, BK)
    mk = ck < K
    rows = i_c * BT + r
    mr = rows < L
    b_b = tl.load(beta + i_b * L * H + i_h + rows * H, mask=mr, other=0.0).to(tl.float32)
    b_tt = _cvt(tl.trans(tl.load(tmat + i_bh * Lp * BT + rows[:, None] * BT + r[None, :])), MM, EMU)
    dw = tl.zeros([BT, BK], dtype=tl.float32)
    dsd = tl.zeros([BT, BK], dtype=tl.float32)
    dT = tl.zeros([BT, BT], dtype=tl.float32)
    db = tl.zeros([BT], dtype=tl.float32)
    sdot = tl.zeros([BK], dtype=tl.float32)
    h_base = (i_bh * NS + i_c) * K * V
    for i_v in range(tl.cdiv(V, BV)):
        cv = i_v * BV + tl.arange(0, BV)
        mv = cv < V
        b_s = tl.load(hbuf + h_base + ck[:, None] * V + cv[None, :], mask=mk[:, None] & mv[None, :], other=0.0)
        b_ds = tl.load(dhbuf + h_base + ck[:, None] * V + cv[None, :], mask=mk[:, None] & mv[None, :], other=0.0)
        b_d = tl.load(dbuf + i_bh * Lp * V + rows[:, None] * V + cv[None, :], mask=mv[None, :], other=0.0)
        b_dd = tl.load(ddbuf + i_bh * Lp * V + rows[:, None] * V + cv[None, :], mask=mv[None, :], other=0.0)
        b_v = tl.load(v + (i_b * L * H + i_h) * V + rows[:, None] * (H * V) + cv[None, :],
                      mask=mr[:, None] & mv[None, :], other=0.0)
        dw -= _mma(b_dd, tl.trans(b_s), MM, PREC, EMU)
        dsd += _mma(b_d, tl.trans(b_ds), MM, PREC, EMU)
        if USE_G:
            sdot += tl.sum(b_s.to(tl.float32) * b_ds.to(tl.float32), 1)
        dT += _mma(b_dd, tl.trans(b_v.to(tl.float32) * b_b[:, None]), MM, PREC, EMU)
        dvb = _mma(b_tt, b_dd, MM, PREC, EMU)
        tl.store(dv + (i_b * L * H + i_h) * V + rows[:, None] * (H * V) + cv[None, :],
                 _cvt(dvb * b_b[:, None], dv.dtype.element_ty, EMU), mask=mr[:, None] & mv[None, :])
        db += tl.sum(dvb * b_v.to(tl.float32), 1)
    b_k = tl.load(k + (i_b * L * H + i_h) * K + rows[:, None] * (H * K) + ck[None, :],
                  mask=mr[:, None] & mk[None, :], other=0.0)
    b_dk = tl.load(dko + i_bh * Lp * K + rows[:, None] * K + ck[None, :], mask=mk[None, :],
                   other=0.0).to(tl.float32)
    if USE_G:
        gs = tl.load(gsub + i_bh * Lp + rows)
        gl = tl.load(gsub + i_bh * Lp + i_c * BT + BT - 1)
        eg = tl.exp(gs)
        el = tl.exp(gl - gs)
        gst = el * tl.sum(b_k.to(tl.float32) * dsd, 1)
        b_dk += el[:, None] * dsd
        dglast = tl.sum(gst, 0) + tl.exp(gl) * tl.sum(sdot, 0)
    else:
        eg = tl.full([BT], 1.0, dtype=tl.float32)
        b_dk += dsd
    sc = b_b * eg
    kb = _cvt(b_k.to(tl.float32) * sc[:, None], MM, EMU)
    dT += _mma(dw, tl.trans(kb), MM, PREC, EMU)
    dkb = _mma(b_tt, dw, MM, PREC, EMU)
    b_dk += dkb * sc[:, None]
    dkbk = tl.sum(dkb * b_k.to(tl.float32), 1)
    db += dkbk * eg
    if USE_G:
        dg = dkbk * sc - gst
    lower = r[:, None] > r[None, :]
    dT = tl.where(lower, dT, 0.0)
    da = -_mma(b_tt, _mma(dT, b_tt, MM, PREC, EMU), MM, PREC, EMU)
    if USE_G:
        da = tl.where(lower, da * tl.exp(gs[:, None] - gs[None, :]), 0.0)
    else:
        da = tl.where(lower, da, 0.0)
    pk = da * _mma(b_k, tl.trans(b_k), MM, PREC, EMU)
    db += tl.sum(pk, 1)
    pb = da * b_b[:, None]
    b_dk += _mma((pb + tl.trans(pb)), b_k, MM, PREC, EMU)
    tl.store(dk + (i_b * L * H + i_h) * K + rows[:, None] * (H * K) + ck[None, :],
             _cvt(b_dk, dk.dtype.element_ty, EMU), mask=mr[:, None] & mk[None, :])
    tl.store(dbeta + i_b * L * H + i_h + rows * H, _cvt(db, dbeta.dtype.element_ty, EMU), mask=mr)
    if USE_G:
        daa = pk * b_b[:, None]
        dg += tl.sum(daa, 1) - tl.sum(daa, 0)
        dg += tl.where(r == BT - 1, dglast, 0.0)
        tl.store(dgsub + i_bh * Lp + rows, dg)


@triton.jit
def bwd_wy_v_kernel(
    k, v, beta, gsub, tmat, hbuf, dhbuf, dbuf, ddbuf, dko, dv, dwbuf, dtbuf, dbbuf, dlast, dgsub,
    L,
    H: tl.constexpr, K: tl.constexpr, V: tl.constexpr, BK: tl.constexpr, BV: tl.constexpr,
    BT: tl.constexpr, USE_G: tl.constexpr, MM: tl.constexpr, PREC: tl.constexpr,
    EMU: tl.constexpr,
    ROW64: tl.constexpr = False,
):
    """First half of the split ``bwd_wy`` (non-default): the value-block loop.

    Grid ``(NS, B*H)``. The loop of :func:`bwd_wy_kernel` (``dV`` final), then the sums over
    the value columns for :func:`bwd_wy_t_kernel`: ``dW = -dD S^T`` to ``dwbuf`` (the input
    dtype: its only uses are products, which round it to that dtype anyway), the values'
    share of ``dT`` to ``dtbuf`` and of ``dbeta`` to ``dbbuf`` (float32). The state update's
    key share ``diag(e^{G_l - G}) D dS^T`` is added to ``dko`` in place (each program owns
    its sub-chunk's rows); with the gate, ``-y`` goes to ``dgsub`` and ``dG_l``'s share to
    ``dlast [B*H, NS]``.
    """
    i_c = _wide(tl.program_id(0), ROW64)
    i_bh = tl.program_id(1).to(tl.int64)
    i_b = i_bh // H
    i_h = i_bh % H
    NS = tl.num_programs(0)
    Lp = NS * BT
    r = tl.arange(0, BT)
    ck = tl.arange(0, BK)
    mk = ck < K
    rows = i_c * BT + r
    mr = rows < L
    b_b = tl.load(beta + i_b * L * H + i_h + rows * H, mask=mr, other=0.0).to(tl.float32)
    b_tt = _cvt(tl.trans(tl.load(tmat + i_bh * Lp * BT + rows[:, None] * BT + r[None, :])), MM, EMU)
    dw = tl.zeros([BT, BK], dtype=tl.float32)
    dsd = tl.zeros([BT, BK], dtype=tl.float32)
    dT = tl.zeros([BT, BT], dtype=tl.float32)
    db = tl.zeros([BT], dtype=tl.float32)
    sdot = tl.zeros([BK], dtype=tl.float32)
    h_base = (i_bh * NS + i_c) * K * V
    for i_v in range(tl.cdiv(V, BV)):
        cv = i_v * BV + tl.arange(0, BV)
        mv = cv < V
        b_s = tl.load(hbuf + h_base + ck[:, None] * V + cv[None, :], mask=mk[:, None] & mv[None, :], other=0.0)
        b_ds = tl.load(dhbuf + h_base + ck[:, None] * V + cv[None, :], mask=mk[:, None] & mv[None, :], other=0.0)
        b_d = tl.load(dbuf + i_bh * Lp * V + rows[:, None] * V + cv[None, :], mask=mv[None, :], other=0.0)
        b_dd = tl.load(ddbuf + i_bh * Lp * V + rows[:, None] * V + cv[None, :], mask=mv[None, :], other=0.0)
        b_v = tl.load(v + (i_b * L * H + i_h) * V + rows[:, None] * (H * V) + cv[None, :],
                      mask=mr[:, None] & mv[None, :], other=0.0)
        dw -= _mma(b_dd, tl.trans(b_s), MM, PREC, EMU)
        dsd += _mma(b_d, tl.trans(b_ds), MM, PREC, EMU)
        if USE_G:
            sdot += tl.sum(b_s.to(tl.float32) * b_ds.to(tl.float32), 1)
        dT += _mma(b_dd, tl.trans(b_v.to(tl.float32) * b_b[:, None]), MM, PREC, EMU)
        dvb = _mma(b_tt, b_dd, MM, PREC, EMU)
        tl.store(dv + (i_b * L * H + i_h) * V + rows[:, None] * (H * V) + cv[None, :],
                 _cvt(dvb * b_b[:, None], dv.dtype.element_ty, EMU), mask=mr[:, None] & mv[None, :])
        db += tl.sum(dvb * b_v.to(tl.float32), 1)
    tl.store(dwbuf + i_bh * Lp * K + rows[:, None] * K + ck[None, :],
             _cvt(dw, dwbuf.dtype.element_ty, EMU), mask=mk[None, :])
    tl.store(dtbuf + i_bh * Lp * BT + rows[:, None] * BT + r[None, :], dT)
    tl.store(dbbuf + i_bh * Lp + rows, db)
    dko_ptr = dko + i_bh * Lp * K + rows[:, None] * K + ck[None, :]
    b_dk = tl.load(dko_ptr, mask=mk[None, :], other=0.0).to(tl.float32)
    if USE_G:
        b_k = tl.load(k + (i_b * L * H + i_h) * K + rows[:, None] * (H * K) + ck[None, :],
                      mask=mr[:, None] & mk[None, :], other=0.0)
        gs = tl.load(gsub + i_bh * Lp + rows)
        gl = tl.load(gsub + i_bh * Lp + i_c * BT + BT - 1)
        el = tl.exp(gl - gs)
        gst = el * tl.sum(b_k.to(tl.float32) * dsd, 1)
        b_dk += el[:, None] * dsd
        tl.store(dgsub + i_bh * Lp + rows, -gst)
        tl.store(dlast + i_bh * NS + i_c, tl.sum(gst, 0) + tl.exp(gl) * tl.sum(sdot, 0))
    else:
        b_dk += dsd
    tl.store(dko_ptr, _cvt(b_dk, dko.dtype.element_ty, EMU), mask=mk[None, :])


@triton.jit
def bwd_wy_t_kernel(
    k, beta, gsub, tmat, dko, dwbuf, dtbuf, dbbuf, dlast, dk, dbeta, dgsub,
    L,
    H: tl.constexpr, K: tl.constexpr, BK: tl.constexpr, BT: tl.constexpr, USE_G: tl.constexpr,
    MM: tl.constexpr, PREC: tl.constexpr, EMU: tl.constexpr,
    ROW64: tl.constexpr = False,
):
    """Second half of the split ``bwd_wy`` (non-default): the ``dT`` / ``dA`` chain.

    Grid ``(NS, B*H)``. Reads what :func:`bwd_wy_v_kernel` left (``dW``, the partial ``dT``
    and ``dbeta``, ``dko`` with the state update's share, the gate's partial ``dG``) and
    finishes ``dK``, ``dbeta`` and ``dG`` with the same arithmetic, in the same order, as the
    part of :func:`bwd_wy_kernel` after its value-block loop. No value column is read.
    """
    i_c = _wide(tl.program_id(0), ROW64)
    i_bh = tl.program_id(1).to(tl.int64)
    i_b = i_bh // H
    i_h = i_bh % H
    NS = tl.num_programs(0)
    Lp = NS * BT
    r = tl.arange(0, BT)
    ck = tl.arange(0, BK)
    mk = ck < K
    rows = i_c * BT + r
    mr = rows < L
    b_b = tl.load(beta + i_b * L * H + i_h + rows * H, mask=mr, other=0.0).to(tl.float32)
    b_tt = _cvt(tl.trans(tl.load(tmat + i_bh * Lp * BT + rows[:, None] * BT + r[None, :])), MM, EMU)
    dw = tl.load(dwbuf + i_bh * Lp * K + rows[:, None] * K + ck[None, :], mask=mk[None, :], other=0.0)
    dT = tl.load(dtbuf + i_bh * Lp * BT + rows[:, None] * BT + r[None, :])
    db = tl.load(dbbuf + i_bh * Lp + rows)
    b_k = tl.load(k + (i_b * L * H + i_h) * K + rows[:, None] * (H * K) + ck[None, :],
                  mask=mr[:, None] & mk[None, :], other=0.0)
    if USE_G:
        gs = tl.load(gsub + i_bh * Lp + rows)
        eg = tl.exp(gs)
    else:
        eg = tl.full([BT], 1.0, dtype=tl.float32)
    sc = b_b * eg
    kb = _cvt(b_k.to(tl.float32) * sc[:, None], MM, EMU)
    dT += _mma(dw, tl.trans(kb), MM, PREC, EMU)
    dkb = _mma(b_tt, dw, MM, PREC, EMU)
    b_dk = tl.load(dko + i_bh * Lp * K + rows[:, None] * K + ck[None, :], mask=mk[None, :],
                   other=0.0).to(tl.float32)
    b_dk += dkb * sc[:, None]
    dkbk = tl.sum(dkb * b_k.to(tl.float32), 1)
    db += dkbk * eg
    if USE_G:
        dg = dkbk * sc + tl.load(dgsub + i_bh * Lp + rows)
    lower = r[:, None] > r[None, :]
    dT = tl.where(lower, dT, 0.0)
    da = -_mma(b_tt, _mma(dT, b_tt, MM, PREC, EMU), MM, PREC, EMU)
    if USE_G:
        da = tl.where(lower, da * tl.exp(gs[:, None] - gs[None, :]), 0.0)
    else:
        da = tl.where(lower, da, 0.0)
    pk = da * _mma(b_k, tl.trans(b_k), MM, PREC, EMU)
    db += tl.sum(pk, 1)
    pb = da * b_b[:, None]
    b_dk += _mma((pb + tl.trans(pb)), b_k, MM, PREC, EMU)
    tl.store(dk + (i_b * L * H + i_h) * K + rows[:, None] * (H * K) + ck[None, :],
             _cvt(b_dk, dk.dtype.element_ty, EMU), mask=mr[:, None] & mk[None, :])
    tl.store(dbeta + i_b * L * H + i_h + rows * H, _cvt(db, dbeta.dtype.element_ty, EMU), mask=mr)
    if USE_G:
        daa = pk * b_b[:, None]
        dg += tl.sum(daa, 1) - tl.sum(daa, 0)
        dg += tl.where(r == BT - 1, tl.load(dlast + i_bh * NS + i_c), 0.0)
        tl.store(dgsub + i_bh * Lp + rows, dg)



@triton.jit
def _gate_program(H: tl.constexpr, BT: tl.constexpr, NH: tl.constexpr):
    """A gate kernel's program over grid ``(NC, B*H)``: ``(i_c, i_bh, i_b, i_h, NC, Lp, r)``
    (token chunk, batch-head, batch, head, chunks, padded sub-steps, ``arange(BT)``)."""
    i_c = tl.program_id(0).to(tl.int64)
    i_bh = tl.program_id(1).to(tl.int64)
    NC = tl.num_programs(0)
    return i_c, i_bh, i_bh // H, i_bh % H, NC, NC * NH * BT, tl.arange(0, BT)


@triton.jit
def gate_cumsum_kernel(g, gsub, gtok, T, L, H: tl.constexpr, BT: tl.constexpr,
                       NH: tl.constexpr, SKIP_FIRST: tl.constexpr):
    """The chunk-local cumulative log-gates of token chunk ``c`` (one launch for what took
    six PyTorch kernels: a fill, a scatter, two pads and two scans).

    Grid ``(NC, B*H)``. ``gtok[bh, c*BT + r]`` = sum of ``g`` over tokens ``c*BT .. c*BT + r``;
    ``gsub`` for each of the chunk's ``NH`` sub-chunks ``i = c*NH + m``: the sum over its rows
    ``i*BT .. i*BT + r`` of ``g'`` (``g_t`` at token ``t``'s first sub-step ``t*NH``, else 0).
    Rows past the sequence count 0; with ``SKIP_FIRST`` the first token's gate too.
    """
    i_c, i_bh, i_b, i_h, NC, Lp, r = _gate_program(H, BT, NH)
    g_base = g + i_b * T * H + i_h
    tok = i_c * BT + r
    keep = tok < T
    if SKIP_FIRST:
        keep = keep & (tok > 0)
    gv = tl.load(g_base + tok * H, mask=keep, other=0.0).to(tl.float32)
    tl.store(gtok + i_bh * NC * BT + tok, tl.cumsum(gv, 0))
    for m in tl.static_range(NH):
        row = (i_c * NH + m) * BT + r               # sub-step rows of sub-chunk c*NH + m
        t = row // NH
        keep = (row % NH == 0) & (row < L)
        if SKIP_FIRST:
            keep = keep & (t > 0)
        gv = tl.load(g_base + t * H, mask=keep, other=0.0).to(tl.float32)
        tl.store(gsub + i_bh * Lp + row, tl.cumsum(gv, 0))


@triton.jit
def gate_grad_kernel(dgsub, dgtok, dg, T, L, H: tl.constexpr, BT: tl.constexpr,
                     NH: tl.constexpr):
    """The log-gate gradient from the per-row partials of the backward kernels.

    Grid ``(NC, B*H)``. ``dg[b, t, h]`` = the reverse cumulative sum of ``dgsub`` within
    token ``t``'s first sub-step's sub-chunk, taken at that sub-step, plus the reverse
    cumulative sum of ``dgtok`` within its token chunk, taken at ``t`` (``dg`` is
    ``[B, T, H]`` float32). The token chunk's ``NH`` sub-chunks of ``dgsub`` are overwritten
    in place by their reverse sums, which the same program then reads back by token.
    """
    i_c, i_bh, i_b, i_h, NC, Lp, r = _gate_program(H, BT, NH)
    for m in tl.static_range(NH):
        row = (i_c * NH + m) * BT + r
        x = tl.load(dgsub + i_bh * Lp + row)
        tl.store(dgsub + i_bh * Lp + row, tl.cumsum(x, 0, reverse=True))
    tl.debug_barrier()                              # the sums stored before they are read by token
    tok = i_c * BT + r
    keep = tok < T
    first = tl.load(dgsub + i_bh * Lp + tok * NH, mask=keep, other=0.0)
    x = tl.load(dgtok + i_bh * NC * BT + tok)
    tl.store(dg + i_b * T * H + i_h + tok * H, first + tl.cumsum(x, 0, reverse=True), mask=keep)

# The sequential passes compiled without Triton's specialization of their length arguments
# (an int argument equal to 1 becomes a constant, one divisible by 16 is marked so). A call of
# one token chunk (NC = 1) with 16-bit inputs and a 16-wide value block at K = 128 faulted in
# ``fwd_state_kernel``'s specialization on the H200 (illegal address; Triton 3.6, session 20,
# ``benchmarks/probes/launch_trace.py``). T = L = 64 there; two chunks of the same shape
# (128 tokens, T and L divisible by 16 too) ran clean through these specializations on an
# H100 (session 21), so the fault needs NC = 1, and ``chunk._Plan`` picks these compiles for
# every GPU call of one token chunk.
fwd_state_kernel_ns = triton.jit(fwd_state_kernel.fn, do_not_specialize=["T", "L", "NC"])
bwd_o_kernel_ns = triton.jit(bwd_o_kernel.fn, do_not_specialize=["T", "L", "NC"])
bwd_state_kernel_ns = triton.jit(bwd_state_kernel.fn, do_not_specialize=["T", "L", "NC"])
