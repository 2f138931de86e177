"""Triton kernels of the construction path (see :mod:`statetrack.kernels.tabled`).

:func:`statetrack.kernels.tabled.run_tabled` documents the recurrence, the table layouts and the
time-parallel evaluation; this module holds only the kernels:

* ``run_kernel``: the recurrence over one chunk of tokens (sequential when the chunk is
  the whole sequence), with per-position readouts, codes or states;
* ``summary_kernel``: a chunk's composite affine map ``[M | C]`` from ``[I | 0]``;
* ``scan_kernel``: ``S_{c+1} = M_c S_c + C_c`` over the chunks;
* ``cols_kernel``: the default replacement of the first two for K <= 32: the state held as
  its K rows, each a tensor over the value columns, one column per thread (no reductions
  across threads);
* ``mm_kernel``: each token's sub-steps composed into one affine map per symbol, one
  tensor-core product a token, behind ``_run_tabled_variant(..., _variant={"mm": True})``,
  timed against the default by ``benchmarks/tabled_variants.py`` (it wins on integer
  constructions with many sub-steps a token).
"""

from __future__ import annotations

from statetrack.kernels._common.triton import tl, triton


# ----------------------------------------------------------------------------- symbol ids
# The device-side id check (CHECK_IDS): every id a kernel reads is taken as an unsigned
# integer of its width (a negative id becomes a huge one), clamped to S - 1 before it
# indexes a table (so a bad id never reads outside the tables) and folded into a running
# maximum; a program whose maximum exceeds S - 1 writes the call's generation ``gen`` (a
# positive int32, a scalar argument the kernels are not specialized on) into flags[0] at its
# end. Two integer operations an id, no reduction, no synchronization; the host reads the
# flag later (:mod:`statetrack.kernels.tabled.tabled`, "When bad input raises"). The flags
# are a slot of a ring reused from call to call, never zeroed: a flag counts as set only
# when it holds this call's generation (:class:`statetrack.kernels._common.checks.DeviceFlags`).


@triton.jit
def _id_unsigned(x):
    # ids as unsigned integers of their width (64-bit ids stay 64-bit: no truncation)
    if x.dtype.primitive_bitwidth == 64:
        u = x.to(tl.uint64)
    else:
        u = x.to(tl.int32).to(tl.uint32)
    return u


@triton.jit
def _id_max0(x, CHECK: tl.constexpr):
    # the running maximum's start value (0, in the unsigned type of the ids)
    return tl.zeros_like(_id_unsigned(x))


@triton.jit
def _id_take(x, mx, S, CHECK: tl.constexpr):
    # (id as int32, clamped into 0 .. S - 1 when CHECK; the running maximum updated). S - 1
    # by tl.cast: a kernel whose S is not kept from specialization gets S = 1 as a Python
    # int on CUDA (session 32: one-symbol tables failed to compile in ids_u8_kernel)
    if CHECK:
        u = _id_unsigned(x)
        mx = tl.maximum(mx, u)
        r = tl.minimum(u, tl.cast(S - 1, u.dtype)).to(tl.int32)
    else:
        r = x.to(tl.int32)
    return r, mx


@triton.jit
def _id_flag(flags, gen, mx, S, CHECK: tl.constexpr):
    # flags[0] = gen when an id above S - 1 was read (every lane with one writes the same gen)
    if CHECK:
        bad = mx > tl.cast(S - 1, mx.dtype)
        zero = tl.zeros_like(mx).to(tl.int32)
        tl.store(flags + zero, zero + gen, mask=bad)


@triton.jit
def _prefetch_l1(p):
    # a hint, no result: the cache line of each lane's address p into L1 (PTX
    # prefetch.global.L1). Compiled code only: the interpreter runs no inline assembly, so
    # the launcher never asks for it there.
    tl.inline_asm_elementwise("prefetch.global.L1 [$1]; mov.u32 $0, 0;", "=r,l", [p],
                              dtype=tl.int32, is_pure=False, pack=1)


@triton.jit(do_not_specialize=["gen"])
def ids_u8_kernel(src, dst, flags, gen, n, S, CHECK: tl.constexpr, BLOCK: tl.constexpr):
    # ids -> uint8 (the tables have at most 256 symbols): a cache line then holds 128 tokens'
    # ids. With CHECK, an id outside 0 .. S - 1 sets flags[0] (to gen) and is clamped into
    # range (the narrowing would otherwise turn 257 into 1, a valid id).
    i = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    m = i < n
    x = tl.load(src + i, mask=m, other=0)
    mx = _id_max0(x, CHECK)
    y, mx = _id_take(x, mx, S, CHECK)
    tl.store(dst + i, y.to(tl.uint8), mask=m)
    _id_flag(flags, gen, tl.where(m, mx, 0), S, CHECK)



@triton.jit
def _token_rows(kt, bt, vt, x, i_h, o_j, o_k, o_c, c_off,
                HT: tl.constexpr, K: tl.constexpr, V: tl.constexpr, NH: tl.constexpr):
    # the n_h rows of symbol x for head i_h (HT == 1: tables shared by the heads)
    # returns keys [NHP, BK], betas [NHP], values [NHP, BC] placed at columns c_off..c_off+V
    h = i_h % HT
    row = (x * NH + o_j) * HT + h                                     # [NHP]
    m_j = o_j < NH
    b_k = tl.load(kt + row[:, None] * K + o_k[None, :],
                  mask=m_j[:, None] & (o_k < K)[None, :], other=0)
    b_b = tl.load(bt + row, mask=m_j, other=0)
    col = o_c - c_off
    b_v = tl.load(vt + row[:, None] * V + col[None, :],
                  mask=m_j[:, None] & ((col >= 0) & (col < V))[None, :], other=0)
    return b_k, b_b, b_v


@triton.jit
def _symbol_ahead(p_sym, t, n_tok):
    # the symbol id of token t + 2 (p_sym: token t's id), as stored; past the end: 0
    return tl.load(p_sym + 2, mask=t + 2 < n_tok, other=0)


@triton.jit
def _program_chunk(T, L, H: tl.constexpr):
    # program (sequence*head i_bh, chunk i_c) of a [B*H, NC] grid: its sequence, head, first
    # token t0 and token count n_tok (all int64)
    i_bh = tl.program_id(0).to(tl.int64)
    i_c = tl.program_id(1).to(tl.int64)
    NC = tl.cdiv(T, L)
    t0 = i_c * L
    return i_bh, i_c, NC, i_bh // H, i_bh % H, t0, tl.minimum(L, T - t0)


@triton.jit
def _token_step(b_s, b_k, b_b, b_v, o_j, NH: tl.constexpr, ACC: tl.constexpr):
    # n_h GH sub-steps of one token on the state tile b_s [BK, BC]
    for j in tl.static_range(NH):
        sel = o_j == j
        k_j = tl.sum(tl.where(sel[:, None], b_k, 0), axis=0).to(ACC)     # [BK]
        v_j = tl.sum(tl.where(sel[:, None], b_v, 0), axis=0).to(ACC)     # [BC]
        beta_j = tl.sum(tl.where(sel, b_b, 0), axis=0).to(ACC)
        w = tl.sum(b_s * k_j[:, None], axis=0)                           # S^T k  [BC]
        b_s += (beta_j * k_j)[:, None] * (v_j - w)[None, :]
    return b_s


@triton.jit(do_not_specialize=["T", "L", "gen"])
def run_kernel(sym, kt, bt, vt, h0, starts, qv, codes, o, cls, states, ht, flags, gen,
               scale, T, L, S,
               H: tl.constexpr, HT: tl.constexpr, K: tl.constexpr, V: tl.constexpr,
               NH: tl.constexpr, NHP: tl.constexpr, BK: tl.constexpr,
               BV: tl.constexpr, C: tl.constexpr, BCC: tl.constexpr,
               H0_MODE: tl.constexpr, OUT_O: tl.constexpr, OUT_CODE: tl.constexpr,
               STORE_STATES: tl.constexpr, STORE_HT: tl.constexpr,
               CHECK_IDS: tl.constexpr, ACC: tl.constexpr):
    # one program per (sequence*head, chunk): run tokens [c*L, min(T, (c+1)*L))
    i_bh, i_c, NC, i_b, i_h, t0, n_tok = _program_chunk(T, L, H)
    o_k = tl.arange(0, BK)
    o_v = tl.arange(0, BV)
    o_j = tl.arange(0, NHP)
    m_k = o_k < K
    m_v = o_v < V
    m_h = m_k[:, None] & m_v[None, :]

    b_s = tl.zeros([BK, BV], dtype=ACC)
    if H0_MODE == 1:        # [B, H, K, V]
        b_s += tl.load(h0 + i_bh * K * V + o_k[:, None] * V + o_v[None, :], mask=m_h,
                       other=0).to(ACC)
    if H0_MODE == 2:        # [H, K, V], shared by the batch
        b_s += tl.load(h0 + i_h * K * V + o_k[:, None] * V + o_v[None, :], mask=m_h,
                       other=0).to(ACC)
    if H0_MODE == 3:        # chunk start states [B*H, NC, K, V]
        b_s += tl.load(starts + (i_bh * NC + i_c) * K * V + o_k[:, None] * V + o_v[None, :],
                       mask=m_h, other=0).to(ACC)

    if OUT_O or OUT_CODE:
        b_q = tl.load(qv + i_h * K + o_k, mask=m_k, other=0).to(ACC) * scale
    if OUT_CODE:
        o_cc = tl.arange(0, BCC)
        m_cc = o_cc < C
        b_codes = tl.load(codes + (i_h * C + o_cc[:, None]) * V + o_v[None, :],
                          mask=m_cc[:, None] & m_v[None, :], other=0).to(ACC)

    p_sym = sym + i_b * T + t0
    p_o = o + ((i_b * T + t0) * H + i_h) * V + o_v
    p_cls = cls + (i_b * T + t0) * H + i_h
    p_st = states + ((i_b * T + t0) * H + i_h) * K * V + o_k[:, None] * V + o_v[None, :]

    # two-deep software pipeline: symbol of t+2 and table rows of t+1 load during step t
    xr = tl.load(p_sym)
    mx = _id_max0(xr, CHECK_IDS)
    x0, mx = _id_take(xr, mx, S, CHECK_IDS)
    x1, mx = _id_take(tl.load(p_sym + 1, mask=1 < n_tok, other=0), mx, S, CHECK_IDS)
    x1 = x1.to(tl.int64)
    c_k, c_b, c_v = _token_rows(kt, bt, vt, x0.to(tl.int64), i_h, o_j, o_k, o_v, 0, HT, K, V,
                                NH)
    for t in range(0, n_tok):
        x2, mx = _id_take(_symbol_ahead(p_sym, t, n_tok), mx, S, CHECK_IDS)
        x2 = x2.to(tl.int64)
        n_k, n_b, n_v = _token_rows(kt, bt, vt, x1, i_h, o_j, o_k, o_v, 0, HT, K, V, NH)
        b_s = _token_step(b_s, c_k, c_b, c_v, o_j, NH, ACC)
        if OUT_O or OUT_CODE:
            b_o = tl.sum(b_s * b_q[:, None], axis=0)                    # [BV]
            if OUT_O:
                tl.store(p_o, b_o.to(p_o.dtype.element_ty), mask=m_v)
            if OUT_CODE:
                diff = b_codes - b_o[None, :]
                dist = tl.sum(diff * diff, axis=1)
                dist = tl.where(m_cc, dist, float("inf"))
                tl.store(p_cls, tl.argmin(dist, axis=0).to(tl.int32))
        if STORE_STATES:
            tl.store(p_st, b_s.to(p_st.dtype.element_ty), mask=m_h)
        p_sym += 1
        p_o += H * V
        p_cls += H
        p_st += H * K * V
        x1 = x2
        c_k = n_k
        c_b = n_b
        c_v = n_v

    if STORE_HT:
        if i_c == NC - 1:
            tl.store(ht + i_bh * K * V + o_k[:, None] * V + o_v[None, :],
                     b_s.to(ht.dtype.element_ty), mask=m_h)
    _id_flag(flags, gen, mx, S, CHECK_IDS)


@triton.jit(do_not_specialize=["T", "L", "gen"])
def summary_kernel(sym, kt, bt, vt, summ, flags, gen, T, L, S,
                   H: tl.constexpr, HT: tl.constexpr, K: tl.constexpr,
                   V: tl.constexpr, NH: tl.constexpr, NHP: tl.constexpr,
                   BK: tl.constexpr, BW: tl.constexpr, CHECK_IDS: tl.constexpr,
                   ACC: tl.constexpr):
    # composite affine map [M | C] (K x (K+V)) of one chunk, from [I | 0]
    i_bh, i_c, NC, i_b, i_h, t0, n_tok = _program_chunk(T, L, H)
    o_k = tl.arange(0, BK)
    o_w = tl.arange(0, BW)
    o_j = tl.arange(0, NHP)
    b_s = tl.where(o_k[:, None] == o_w[None, :], 1.0, 0.0).to(ACC)   # [I | 0]
    p_sym = sym + i_b * T + t0
    xr = tl.load(p_sym)
    mx = _id_max0(xr, CHECK_IDS)
    x0, mx = _id_take(xr, mx, S, CHECK_IDS)
    x1, mx = _id_take(tl.load(p_sym + 1, mask=1 < n_tok, other=0), mx, S, CHECK_IDS)
    x1 = x1.to(tl.int64)
    c_k, c_b, c_v = _token_rows(kt, bt, vt, x0.to(tl.int64), i_h, o_j, o_k, o_w, K, HT, K, V,
                                NH)
    for t in range(0, n_tok):
        x2, mx = _id_take(_symbol_ahead(p_sym, t, n_tok), mx, S, CHECK_IDS)
        x2 = x2.to(tl.int64)
        n_k, n_b, n_v = _token_rows(kt, bt, vt, x1, i_h, o_j, o_k, o_w, K, HT, K, V, NH)
        b_s = _token_step(b_s, c_k, c_b, c_v, o_j, NH, ACC)
        p_sym += 1
        x1 = x2
        c_k = n_k
        c_b = n_b
        c_v = n_v
    W = K + V
    p = summ + (i_bh * NC + i_c) * K * W + o_k[:, None] * W + o_w[None, :]
    tl.store(p, b_s.to(summ.dtype.element_ty), mask=(o_k < K)[:, None] & (o_w < W)[None, :])
    _id_flag(flags, gen, mx, S, CHECK_IDS)


@triton.jit(do_not_specialize=["T", "L"])
def scan_kernel(h0, summ, starts, ht, T, L,
                H: tl.constexpr, K: tl.constexpr, V: tl.constexpr,
                BD: tl.constexpr, BVD: tl.constexpr, H0_MODE: tl.constexpr,
                STORE_STARTS: tl.constexpr, ACC: tl.constexpr,
                kt=None, vt=None, HT: tl.constexpr = 1, R: tl.constexpr = 1,
                FROM_SUMS: tl.constexpr = False, VBASIS: tl.constexpr = False):
    # S_{c+1} = M_c S_c + C_c over the chunks of one (sequence, head). FROM_SUMS (session
    # 28): summ holds proj_kernel's sums over the keys' basis ([B*H, NC, R, R + V], or
    # R + R with VBASIS) and each map is made here as proj_maps_kernel makes it (the same
    # operations: bit-identical), the next chunk's while this chunk's product runs: one
    # launch and one [M | C] round trip through memory fewer
    i_bh = tl.program_id(0).to(tl.int64)
    i_h = i_bh % H
    NC = tl.cdiv(T, L)
    o_k = tl.arange(0, BD)
    o_v = tl.arange(0, BVD)
    m_k = o_k < K
    m_v = o_v < V
    m_h = m_k[:, None] & m_v[None, :]
    m_m = m_k[:, None] & m_k[None, :]
    W = K + V
    b_s = tl.zeros([BD, BVD], dtype=ACC)
    if H0_MODE == 1:
        b_s += tl.load(h0 + i_bh * K * V + o_k[:, None] * V + o_v[None, :], mask=m_h,
                       other=0).to(ACC)
    if H0_MODE == 2:
        b_s += tl.load(h0 + i_h * K * V + o_k[:, None] * V + o_v[None, :], mask=m_h,
                       other=0).to(ACC)
    p_m = summ + i_bh * NC * K * W + o_k[:, None] * W + o_k[None, :]
    p_c = summ + i_bh * NC * K * W + o_k[:, None] * W + K + o_v[None, :]
    p_st = starts + i_bh * NC * K * V + o_k[:, None] * V + o_v[None, :]
    WE: tl.constexpr = R + R if VBASIS else R + V
    p_e = summ + i_bh * NC * (R * WE)
    ks = ()
    vs = ()
    # chunk c + 1's map loads while chunk c's product runs (the chain is the products only)
    if FROM_SUMS:
        ks, vs = _proj_keys_values(kt, vt, i_h % HT, HT, K, V, R, BD, BVD, VBASIS, ACC)
        b_m, b_c = _proj_map(ks, vs, p_e, V, R, BD, BVD, VBASIS, ACC)
    else:
        b_m = tl.load(p_m, mask=m_m, other=0).to(ACC)
        b_c = tl.load(p_c, mask=m_h, other=0).to(ACC)
    for c in range(0, NC):
        if STORE_STARTS:
            tl.store(p_st, b_s.to(starts.dtype.element_ty), mask=m_h)
        p_st += K * V
        if FROM_SUMS:
            nxt_e = tl.minimum(c + 1, NC - 1).to(tl.int64) * (R * WE)
            n_m, n_c = _proj_map(ks, vs, p_e + nxt_e, V, R, BD, BVD, VBASIS, ACC)
        else:
            nxt = tl.minimum(c + 1, NC - 1).to(tl.int64) * (K * W)    # last: reloads itself
            n_m = tl.load(p_m + nxt, mask=m_m, other=0).to(ACC)
            n_c = tl.load(p_c + nxt, mask=m_h, other=0).to(ACC)
        b_s = tl.dot(b_m, b_s, input_precision="ieee", out_dtype=ACC) + b_c
        b_m = n_m
        b_c = n_c
    tl.store(ht + i_bh * K * V + o_k[:, None] * V + o_v[None, :],
             b_s.to(ht.dtype.element_ty), mask=m_h)


@triton.jit
def _st_start(h0, starts, i_bh, i_h, i_c, NC, KW, s_off, m_h, o_k, o_c,
              BC: tl.constexpr, BK: tl.constexpr, H0_MODE: tl.constexpr, ACC: tl.constexpr):
    # the transposed start state S^T [BC, BK] of mm_kernel (H0_MODE: 0 zeros,
    # 1 [B, H, K, WC], 2 [H, K, WC], 3 chunk starts [B*H, NC, K, WC], 4 [I | 0])
    b_s = tl.zeros([BC, BK], dtype=ACC)
    if H0_MODE == 1:
        b_s += tl.load(h0 + i_bh * KW + s_off, mask=m_h, other=0).to(ACC)
    if H0_MODE == 2:
        b_s += tl.load(h0 + i_h * KW + s_off, mask=m_h, other=0).to(ACC)
    if H0_MODE == 3:
        b_s += tl.load(starts + (i_bh * NC + i_c) * KW + s_off, mask=m_h, other=0).to(ACC)
    if H0_MODE == 4:
        b_s += tl.where(o_c[:, None] == o_k[None, :], 1.0, 0.0).to(ACC)
    return b_s


@triton.jit
def _st_readout_inputs(qv, codes, i_h, scale, o_k, m_k, o_c, m_c, K: tl.constexpr,
                       WC: tl.constexpr, C: tl.constexpr, BC: tl.constexpr, BK: tl.constexpr,
                       BCC: tl.constexpr, NEED_Q: tl.constexpr, NEED_CODES: tl.constexpr,
                       ACC: tl.constexpr):
    # query [1, BK] (scaled) and codes [BC, BCC] of the transposed readout (zeros if unused)
    o_cc = tl.arange(0, BCC)
    m_cc = o_cc < C
    b_q = tl.zeros([1, BK], dtype=ACC)
    b_codes = tl.zeros([BC, BCC], dtype=ACC)
    if NEED_Q:
        b_q += tl.load(qv + i_h * K + o_k[None, :], mask=m_k[None, :], other=0).to(ACC) * scale
    if NEED_CODES:
        b_codes += tl.load(codes + (i_h * C + o_cc[None, :]) * WC + o_c[:, None],
                           mask=m_c[:, None] & m_cc[None, :], other=0).to(ACC)
    return b_q, b_codes, m_cc


@triton.jit
def _st_readout(b_s, b_q, b_codes, m_cc, o, cls, row, o_c, m_c, WC: tl.constexpr,
                OUT_O: tl.constexpr, OUT_CODE: tl.constexpr):
    # readout o = S^T q of one token from the transposed state; o and/or its nearest code
    b_o = tl.sum(b_s * b_q, axis=1)                                   # [BC]
    if OUT_O:
        tl.store(o + row * WC + o_c, b_o.to(o.dtype.element_ty), mask=m_c)
    if OUT_CODE:
        diff = b_codes - b_o[:, None]
        dist = tl.sum(diff * diff, axis=0)
        dist = tl.where(m_cc, dist, float("inf"))
        tl.store(cls + row, tl.argmin(dist, axis=0).to(tl.int32))


@triton.jit
def _st_final(b_s, ht, i_bh, i_c, NC, KW, s_off, m_h, FINAL: tl.constexpr):
    # FINAL 1: the last chunk's state into ht [B*H, K, WC]; 2: every chunk's (the summary)
    if FINAL == 1:
        if i_c == NC - 1:
            tl.store(ht + i_bh * KW + s_off, b_s.to(ht.dtype.element_ty), mask=m_h)
    if FINAL == 2:
        tl.store(ht + (i_bh * NC + i_c) * KW + s_off, b_s.to(ht.dtype.element_ty), mask=m_h)


@triton.jit(do_not_specialize=["T", "L", "gen"])
def mm_kernel(sym, at, bt, h0, starts, qv, codes, o, cls, states, ht, flags, gen, scale, T,
              L, S,
              H: tl.constexpr, HT: tl.constexpr, K: tl.constexpr, WC: tl.constexpr,
              BK: tl.constexpr, BC: tl.constexpr, C: tl.constexpr, BCC: tl.constexpr,
              H0_MODE: tl.constexpr, OUT_O: tl.constexpr, OUT_CODE: tl.constexpr,
              STORE_STATES: tl.constexpr, FINAL: tl.constexpr, MMD: tl.constexpr,
              PREC: tl.constexpr, CHECK_IDS: tl.constexpr, ACC: tl.constexpr):
    # The ``mm`` variant: a token's n_h sub-steps composed into one affine map per symbol
    # (host, float64, rounded once): S <- A_x S + B_x, kept transposed,
    # S^T <- S^T A_x^T + B_x^T, one [BC, BK] x [BK, BK] tensor-core product per token whatever
    # n_h is (the product's output layout is its next left operand's, so the state never goes
    # through shared memory). MMD is the operand dtype: bfloat16 when the host proved every
    # value exact in it (integer maps that keep the state integer), else float32 with PREC
    # "tf32x3" (float32-level accuracy). The same function as the sub-step recurrence with
    # another rounding order; bit-identical for integer constructions.
    # at: A_x^T [rows, BK, BK]; bt: B_x^T [rows, BC, BK] (B_x at rows c_off ..);
    # rows = symbol * HT + head. H0_MODE: 0 zeros, 1 [B, H, K, WC], 2 [H, K, WC], 3 chunk
    # starts, 4 [I | 0] (summary); FINAL: 0 none, 1 the last chunk's state into ht, 2 every
    # chunk's state (summary).
    i_bh, i_c, NC, i_b, i_h, t0, n_tok = _program_chunk(T, L, H)
    n_tok = n_tok.to(tl.int32)
    o_k = tl.arange(0, BK)
    o_c = tl.arange(0, BC)
    m_k = o_k < K
    m_c = o_c < WC
    m_h = m_c[:, None] & m_k[None, :]
    hh = (i_h % HT).to(tl.int32)
    KW = K * WC
    s_off = o_k[None, :] * WC + o_c[:, None]              # S[k, c] of a [K, WC] block

    b_s = _st_start(h0, starts, i_bh, i_h, i_c, NC, KW, s_off, m_h, o_k, o_c, BC, BK,
                    H0_MODE, ACC)
    b_q, b_codes, m_cc = _st_readout_inputs(qv, codes, i_h, scale, o_k, m_k, o_c, m_c, K, WC,
                                            C, BC, BK, BCC, OUT_O or OUT_CODE, OUT_CODE, ACC)

    p_sym = sym + i_b * T + t0
    row0 = (i_b * T + t0) * H + i_h
    a_off = o_k[:, None] * BK + o_k[None, :]
    b_off = o_c[:, None] * BK + o_k[None, :]
    last = n_tok - 1
    xr = tl.load(p_sym)
    mx = _id_max0(xr, CHECK_IDS)
    x0, mx = _id_take(xr, mx, S, CHECK_IDS)
    x1, mx = _id_take(tl.load(p_sym + tl.minimum(1, last)), mx, S, CHECK_IDS)
    r0 = x0 * HT + hh
    c_a = tl.load(at + r0 * (BK * BK) + a_off)
    c_b = tl.load(bt + r0 * (BC * BK) + b_off)
    for t in range(0, n_tok):
        x2, mx = _id_take(tl.load(p_sym + tl.minimum(t + 2, last)), mx, S, CHECK_IDS)
        rn = x1 * HT + hh
        n_a = tl.load(at + rn * (BK * BK) + a_off)
        n_b = tl.load(bt + rn * (BC * BK) + b_off)
        b_s = tl.dot(b_s.to(MMD), c_a.to(MMD), input_precision=PREC, out_dtype=ACC) + c_b
        if OUT_O or OUT_CODE:
            _st_readout(b_s, b_q, b_codes, m_cc, o, cls, row0 + t * H, o_c, m_c, WC, OUT_O,
                        OUT_CODE)
        if STORE_STATES:
            tl.store(states + (row0 + t * H) * KW + s_off, b_s.to(states.dtype.element_ty),
                     mask=m_h)
        x1 = x2
        c_a = n_a
        c_b = n_b
    _st_final(b_s, ht, i_bh, i_c, NC, KW, s_off, m_h, FINAL)
    _id_flag(flags, gen, mx, S, CHECK_IDS)



# ----------------------------------------------------------------------------- cols kernel
# The state S [K, WC] is held as a tuple of K tensors over the value columns c (row j of S),
# so a thread owns whole columns of S: S^T k is K fused multiply-adds inside the thread, with
# no shuffle, shared memory or barrier. A program runs P words (or chunk summaries) side by
# side, BW >= WC lanes each (P * BW >= 32 fills a warp). Each sub-step's keys reach a thread
# as 16-byte loads of [BC, G] tiles split into G tensors [BC] (G = 4 float32 or 2 float64
# values per 16 bytes; the split stays in registers).


@triton.jit
def _cols_table(p, K: tl.constexpr, G: tl.constexpr, BC: tl.constexpr):
    # the K values p[r, 0 .. K-1] of each lane r (p [BC] pointers, 16-byte aligned rows padded
    # to a multiple of G) as a tuple of K tensors [BC]
    r = ()
    o_g = tl.arange(0, G)
    for g in tl.static_range(0, K, G):
        x = tl.load(p[:, None] + g + o_g[None, :])                    # [BC, G]: one vector
        if G == 4:
            a, b = tl.split(tl.reshape(x, [BC, 2, 2]))
            a0, a1 = tl.split(a)
            b0, b1 = tl.split(b)
            parts = (a0, b0, a1, b1)
        else:
            a0, a1 = tl.split(x)
            parts = (a0, a1)
        for i in tl.static_range(G):
            if g + i < K:
                r = r + (parts[i],)
    return r


@triton.jit
def _cols_dot(s, k, K: tl.constexpr):
    # sum_j s[j] * k[j] in up to four interleaved partial sums (a shorter dependent chain)
    w = ()
    for j in tl.static_range(min(K, 4)):
        w = w + (s[j] * k[j],)
    for j in tl.static_range(4, K):
        if j % 4 == 0:
            w = (w[0] + s[j] * k[j], w[1], w[2], w[3])
        if j % 4 == 1:
            w = (w[0], w[1] + s[j] * k[j], w[2], w[3])
        if j % 4 == 2:
            w = (w[0], w[1], w[2] + s[j] * k[j], w[3])
        if j % 4 == 3:
            w = (w[0], w[1], w[2], w[3] + s[j] * k[j])
    if K == 1:
        r = w[0]
    elif K == 2:
        r = w[0] + w[1]
    elif K == 3:
        r = (w[0] + w[1]) + w[2]
    else:
        r = (w[0] + w[1]) + (w[2] + w[3])
    return r


@triton.jit
def _cols_load(p, m, WC: tl.constexpr, K: tl.constexpr, ACC: tl.constexpr):
    # rows 0 .. K-1 of [K, WC] blocks (p [BC]: each lane's block + its column) as K tensors
    s = ()
    for j in tl.static_range(K):
        s = s + (tl.load(p + j * WC, mask=m, other=0).to(ACC),)
    return s


@triton.jit
def _cols_store(p, s, m, WC: tl.constexpr, K: tl.constexpr):
    for j in tl.static_range(K):
        tl.store(p + j * WC, s[j].to(p.dtype.element_ty), mask=m)


@triton.jit
def _lut_code(z, m, lut, cls, tok, miss, i_h, NZ, ACC: tl.constexpr, LUT_ID: tl.constexpr,
              M_FIXED: tl.constexpr = False):
    # the code table's readout of z (lane V0's w . S[:, V0] - z0): lut[head, z] where z is an
    # integer in 0 .. NZ - 1, else -1; stored where m. miss: the running minimum of the codes
    # stored (< 0 once one missed); M_FIXED: m is the same at every token, so the minimum
    # takes every lane's code and the caller masks it once, at the end (session 32: one
    # instruction a token instead of three). LUT_ID (CodeTable.id_mask): the table maps every
    # z it holds to itself, so z itself is the code, with no table load: -1 where it holds
    # every z < NZ (the group languages' tables), else a bit mask of the z it holds (NZ <= 62;
    # the others are -1 in the table: a miss).
    # z clamped to [-1, hi] before its conversion (always in range: no undefined
    # conversion), and a hit where the clamped integer is z itself and not -1: out of range,
    # not an integer or NaN all miss (session 32: the range checks folded into the clamp).
    # hi = NZ - 1, at most 2^24 - 1 in float32 (exact there: z past it is no exact integer
    # of the float32 state, a miss; a table so wide is made only by hand or with
    # max_entries > 2^24); for a LUT_ID mask below 2^31 (no z > 30 held) at most 30, so the
    # mask is tested in 32 bits (zi = -1 tests bit 31, which is 0)
    MASK32: tl.constexpr = LUT_ID > 0 and LUT_ID < 2 ** 31
    hi = NZ - 1
    if ACC == tl.float32:
        hi = tl.minimum(hi, 2 ** 24 - 1)
    if MASK32:
        hi = tl.minimum(hi, 30)
    zi = tl.minimum(tl.maximum(z, -1.0), hi).to(tl.int32)
    hit = zi.to(ACC) == z
    if LUT_ID != 0:
        if MASK32:
            held = (tl.full([], LUT_ID, tl.int32) >> (zi & 31)) & 1
            hit = hit & (held != 0)
        elif LUT_ID != -1:
            held = (tl.full([], LUT_ID, tl.int64) >> tl.maximum(zi, 0).to(tl.int64)) & 1
            hit = hit & (held != 0)
        cc = tl.where(hit, zi, -1)
    else:           # (z = -1 is a "hit" above, whose code -1 the identity gives itself)
        cc = tl.load(lut + i_h * NZ + tl.maximum(zi, 0), mask=m, other=0)
        cc = tl.where(hit & (zi >= 0), cc, -1)
    tl.store(cls + tok, cc, mask=m)
    if M_FIXED:
        return tl.minimum(miss, cc)
    return tl.minimum(miss, tl.where(m, cc, 0))


@triton.jit
def _cols_out(s, ok, tok, p_cls, miss, q, w_lut, z0, lut, cls, o, b_codes, m_cc, m_lut, m_c,
              m_g, col, i_h, NZ, H: tl.constexpr, K: tl.constexpr, WC: tl.constexpr,
              P: tl.constexpr, BW: tl.constexpr, BCC: tl.constexpr, OUT_O: tl.constexpr,
              OUT_CODE: tl.constexpr, CODE_LUT: tl.constexpr, GATE: tl.constexpr,
              ACC: tl.constexpr, LUT_ID: tl.constexpr):
    # the readout of state s for token row tok (o, or the code by table or argmin); with
    # GATE, stored only where ok (a scalar: False at the late readout's first iteration, which
    # has no token yet). Returns the updated miss flags and code pointer.
    if OUT_CODE and CODE_LUT:
        z = _cols_dot(s, w_lut, K) - z0                               # [BC], lane V0's
        m = m_lut
        if GATE:
            m = tl.where(ok, m, False)
        miss = _lut_code(z, m, lut, cls, tok, miss, i_h, NZ, ACC, LUT_ID)
    if OUT_O or (OUT_CODE and not CODE_LUT):
        b_o = _cols_dot(s, q, K)                                      # S^T q  [BC]
        if OUT_O:
            m = m_c
            if GATE:
                m = tl.where(ok, m, False)
            tl.store(o + tok * WC + col, b_o.to(o.dtype.element_ty), mask=m)
        if OUT_CODE and not CODE_LUT:
            diff = b_codes - b_o[:, None]
            dist = tl.sum(tl.reshape(diff * diff, [P, BW, BCC]), axis=1)  # [P, BCC]
            dist = tl.where(m_cc[None, :], dist, float("inf"))
            m = m_g
            if GATE:
                m = tl.where(ok, m, False)
            tl.store(p_cls, tl.argmin(dist, axis=1).to(tl.int32), mask=m)
            if GATE:
                p_cls += tl.where(ok, H, 0)
            else:
                p_cls += H
    return miss, p_cls


@triton.jit
def _cols_row(p_r, col, K: tl.constexpr, KP: tl.constexpr, G: tl.constexpr, BC: tl.constexpr):
    # one sub-step's packed table row: its key (K tensors [BC]), beta, and each lane's value
    return _cols_table(p_r, K, G, BC), tl.load(p_r + KP), tl.load(p_r + KP + G + col)


@triton.jit
def _cols_sub(s, u, c_k, c_b, c_v, tok, p_cls, miss, q, w_lut, z0, lut, cls, o, states, b_codes,
              m_cc, m_lut, m_c, m_g, col, i_h, NZ, KW, H: tl.constexpr, K: tl.constexpr,
              WC: tl.constexpr, P: tl.constexpr, BW: tl.constexpr, BCC: tl.constexpr,
              NH: tl.constexpr, OUT_O: tl.constexpr, OUT_CODE: tl.constexpr,
              CODE_LUT: tl.constexpr, STORE_STATES: tl.constexpr, LT: tl.constexpr,
              ACC: tl.constexpr, LUT_ID: tl.constexpr):
    # sub-step u of a run (row c_k, c_b, c_v): the late readout of the previous token (LT),
    # d = beta (v - S^T k) and S += k d^T, then at a token's last sub-step its readout and
    # stored state. Returns the state, the next token row, the code pointer and miss flags.
    if LT:                    # the previous token's readout, beside this token's S^T k
        miss, p_cls = _cols_out(s, u > 0, tok - H, p_cls, miss, q, w_lut, z0, lut, cls, o,
                                b_codes, m_cc, m_lut, m_c, m_g, col, i_h, NZ, H, K, WC, P, BW,
                                BCC, OUT_O, OUT_CODE, CODE_LUT, True, ACC, LUT_ID)
    d = c_b * (c_v - _cols_dot(s, c_k, K))                            # beta (v - S^T k)
    s2 = ()
    for j in tl.static_range(K):
        s2 = s2 + (s[j] + c_k[j] * d,)                                # + k d^T
    s = s2
    if u % NH == NH - 1:
        if not LT:
            miss, p_cls = _cols_out(s, True, tok, p_cls, miss, q, w_lut, z0, lut, cls, o,
                                    b_codes, m_cc, m_lut, m_c, m_g, col, i_h, NZ, H, K, WC, P,
                                    BW, BCC, OUT_O, OUT_CODE, CODE_LUT, False, ACC, LUT_ID)
        if STORE_STATES:
            _cols_store(states + tok * KW + col, s, m_c, WC, K)
        tok += H
    return s, tok, p_cls, miss


@triton.jit
def _words_program(T, L, BH, H: tl.constexpr, HT: tl.constexpr, K: tl.constexpr,
                   WC: tl.constexpr, BW: tl.constexpr, P: tl.constexpr, NH: tl.constexpr):
    # program (i, c) of cols_kernel / proj_kernel: rows i*P .. i*P+P-1 of BH (BW lanes a
    # word), chunk c. Returns the chunk, the chunk count, each lane's column, (sequence*head)
    # row and masks (word in range; column too), sequence, head, first token, tokens,
    # last sub-step, table head and K * WC
    i_c = tl.program_id(1).to(tl.int64)
    NC = tl.cdiv(T, L)
    o_r = tl.arange(0, P * BW)
    col = o_r % BW
    i_bh = tl.program_id(0).to(tl.int64) * P + o_r // BW                 # [BC]
    m_w = i_bh < BH
    i_bh = tl.where(m_w, i_bh, 0)
    m_c = m_w & (col < WC)
    i_b = i_bh // H
    i_h = i_bh % H
    t0 = i_c * L
    n_tok = tl.minimum(L, T - t0).to(tl.int32)
    last = n_tok * NH - 1
    hh = (i_h % HT).to(tl.int32)
    return i_c, NC, col, i_bh, m_w, m_c, i_b, i_h, t0, n_tok, last, hh, K * WC


@triton.jit
def _cols_start(h0, starts, i_bh, i_h, i_c, NC, KW, col, m_c, zero, K: tl.constexpr,
                WC: tl.constexpr, H0_MODE: tl.constexpr, ACC: tl.constexpr):
    # the chunk's start state (K tensors [BC]): zeros, h0 per word or shared, chunk starts,
    # [I | 0] (summaries)
    s = ()
    if H0_MODE == 0:
        for j in tl.static_range(K):
            s = s + (zero,)
    if H0_MODE == 1:
        s = _cols_load(h0 + i_bh * KW + col, m_c, WC, K, ACC)
    if H0_MODE == 2:
        s = _cols_load(h0 + i_h * KW + col, m_c, WC, K, ACC)
    if H0_MODE == 3:
        s = _cols_load(starts + (i_bh * NC + i_c) * KW + col, m_c, WC, K, ACC)
    if H0_MODE == 4:
        for j in tl.static_range(K):
            s = s + (tl.where(col == j, 1.0, 0.0).to(ACC),)
    return s


@triton.jit(do_not_specialize=["T", "L", "BH", "S", "NZ", "gen"])
def cols_kernel(sym, pt, h0, starts, qv, codes, o, cls, states, ht, flags, gen, lut_w, lut,
                scale, T, L, BH, S, NZ,
                H: tl.constexpr, HT: tl.constexpr, K: tl.constexpr, KP: tl.constexpr,
                WC: tl.constexpr, BW: tl.constexpr, P: tl.constexpr, NH: tl.constexpr,
                C: tl.constexpr, BCC: tl.constexpr, G: tl.constexpr, H0_MODE: tl.constexpr,
                OUT_O: tl.constexpr, OUT_CODE: tl.constexpr, STORE_STATES: tl.constexpr,
                FINAL: tl.constexpr, PF: tl.constexpr, CHECK_IDS: tl.constexpr,
                CODE_LUT: tl.constexpr, V0: tl.constexpr, ACC: tl.constexpr,
                LATE: tl.constexpr = False, LUT_ID: tl.constexpr = 0):
    # The recurrence of run_kernel / summary_kernel on [K, WC] states (WC = V for a run,
    # K + V for chunk summaries [M | C] from [I | 0]) of P (sequence*head) rows at once, one
    # chunk each (program (i, c): rows i*P .. i*P+P-1 of BH, chunk c). pt: one packed row
    # per sub-step, [k (KP) | beta, 0 .. (G) | v at columns c_off .. (BW)] in the
    # accumulator dtype, rows (symbol * NH + j) * HT + head. A sub-step: d = v - S^T k (per
    # column, inside the thread), S += k (beta d)^T. Loading beta k instead would double the
    # bytes every lane reads from L1 a sub-step, the summaries' bottleneck on the H100. H0_MODE: 0 zeros, 1 [B, H, K, WC],
    # 2 [H, K, WC], 3 chunk starts [BH, NC, K, WC], 4 [I | 0]. FINAL: 0 none, 1 the last
    # chunk's state into ht [BH, K, WC], 2 every chunk's state [BH, NC, K, WC] (summaries).
    # CODE_LUT (output "code" by a code table, see tabled/_codes.py): lane V0 of a word
    # computes z = w . S[:, V0] - z0 (lut_w [H, K + 1]: w, then z0) in-thread and stores
    # lut[head, z] (lut [H, NZ] int32): no reduction across lanes, no distances; a z that is
    # not an integer in 0 .. NZ - 1, or an entry -1, stores -1 and sets flags[1] (to gen).
    # LUT_ID (with CODE_LUT; CodeTable.id_mask): the table maps every z it holds to itself,
    # z itself is the code (no load); -1 all z < NZ held, else a bit mask of the z held.
    # LATE (n_h = 1 only; the default where the readout is a code table): token t's readout
    # is computed at the top of iteration t + 1, beside S^T k of the next token, which reads
    # the same state: two independent dependency chains in one basic block, which a warp
    # issues interleaved (the sequential run is latency-bound at one warp a scheduler); the
    # last token's after the loop. The same operations on the same state: bit-identical
    # where the arithmetic is exact; with float tables the compiler may contract
    # multiply-adds differently in the two orders (rounding-level differences on CUDA).
    BC: tl.constexpr = P * BW
    LT: tl.constexpr = LATE and NH == 1
    RS: tl.constexpr = KP + G + BW
    UN: tl.constexpr = 4                  # sub-steps an iteration at PF = 2
    i_c, NC, col, i_bh, m_w, m_c, i_b, i_h, t0, n_tok, last, hh, KW = _words_program(
        T, L, BH, H, HT, K, WC, BW, P, NH)

    s = _cols_start(h0, starts, i_bh, i_h, i_c, NC, KW, col, m_c, tl.zeros([BC], dtype=ACC), K,
                    WC, H0_MODE, ACC)
    q = s                     # placeholders where an output does not use them (never read)
    w_lut = s
    z0 = 0.0
    m_lut = m_w
    miss = tl.zeros([BC], dtype=tl.int32)
    b_codes = tl.zeros([BC, BCC], dtype=ACC)
    m_cc = tl.arange(0, BCC) < C
    p_cls = cls
    m_g = tl.arange(0, P) < 0
    if OUT_O or (OUT_CODE and not CODE_LUT):
        q = ()
        for j in tl.static_range(K):
            q = q + (tl.load(qv + i_h * K + j).to(ACC) * scale,)
    if OUT_CODE and CODE_LUT:
        w_lut = ()
        for j in tl.static_range(K):
            w_lut = w_lut + (tl.load(lut_w + i_h * (K + 1) + j).to(ACC),)
        z0 = tl.load(lut_w + i_h * (K + 1) + K).to(ACC)
        m_lut = m_w & (col == V0)
        miss = tl.zeros([BC], dtype=tl.int32)
    if OUT_CODE and not CODE_LUT:
        o_cc = tl.arange(0, BCC)
        m_cc = o_cc < C
        b_codes = tl.load(codes + (i_h[:, None] * C + o_cc[None, :]) * WC + col[:, None],
                          mask=m_c[:, None] & m_cc[None, :], other=0).to(ACC)  # [BC, BCC]
        g_bh = tl.program_id(0).to(tl.int64) * P + tl.arange(0, P)            # [P]
        m_g = g_bh < BH
        g_bh = tl.where(m_g, g_bh, 0)
        p_cls = cls + ((g_bh // H) * T + t0) * H + g_bh % H

    p_sym = sym + i_b * T + t0
    tok = ((i_b * T + t0) * H + i_h)                                  # this token's row
    # PF: 0 each sub-step's table row loads at its sub-step (fewer registers, no copies of
    # the row between iterations: for throughput-bound chunked passes); 1 the next
    # sub-step's row loads during this one; 2 (the "deep" order) UN = 4 sub-steps an
    # iteration, the rows of all four loaded at its top and the ids of the next four
    # (positions clamped to the last sub-step) read during it, then the last < UN sub-steps
    # one at a time, each row loaded at its sub-step (an L1 round trip exposed once in four
    # sub-steps: for latency-bound sequential runs, whose warps waited on the rows loaded
    # one sub-step ahead: Nsight Compute, session 17)
    mx = _id_max0(tl.load(p_sym), CHECK_IDS)
    if PF == 2:
        xs = ()                                   # the ids of the first UN sub-steps
        for i in tl.static_range(UN):
            xi, mx = _id_take(tl.load(p_sym + tl.minimum(i, last) // NH), mx, S, CHECK_IDS)
            xs = xs + (xi,)
        for h in range(0, (last + 1) // UN):
            u = h * UN
            rows = ()                             # this iteration's rows, all loaded first
            for i in tl.static_range(UN):
                rows = rows + (_cols_row(pt + ((xs[i] * NH + (u + i) % NH) * HT + hh) * RS,
                                         col, K, KP, G, BC),)
            nx = ()                               # the next iteration's ids
            for i in tl.static_range(UN):
                xi, mx = _id_take(tl.load(p_sym + tl.minimum(u + UN + i, last) // NH), mx, S,
                                  CHECK_IDS)
                nx = nx + (xi,)
            for i in tl.static_range(UN):
                c_k, c_b, c_v = rows[i]
                s, tok, p_cls, miss = _cols_sub(s, u + i, c_k, c_b, c_v, tok, p_cls, miss, q,
                                                w_lut, z0, lut, cls, o, states, b_codes, m_cc,
                                                m_lut, m_c, m_g, col, i_h, NZ, KW, H, K, WC, P,
                                                BW, BCC, NH, OUT_O, OUT_CODE, CODE_LUT,
                                                STORE_STATES, LT, ACC, LUT_ID)
            xs = nx
        for u in range((last + 1) // UN * UN, last + 1):       # the last < UN sub-steps
            xi, mx = _id_take(tl.load(p_sym + u // NH), mx, S, CHECK_IDS)
            c_k, c_b, c_v = _cols_row(pt + ((xi * NH + u % NH) * HT + hh) * RS, col, K, KP, G,
                                      BC)
            s, tok, p_cls, miss = _cols_sub(s, u, c_k, c_b, c_v, tok, p_cls, miss, q, w_lut, z0,
                                            lut, cls, o, states, b_codes, m_cc, m_lut, m_c, m_g,
                                            col, i_h, NZ, KW, H, K, WC, P, BW, BCC, NH, OUT_O,
                                            OUT_CODE, CODE_LUT, STORE_STATES, LT, ACC, LUT_ID)
    else:
        x0, mx = _id_take(tl.load(p_sym), mx, S, CHECK_IDS)
        x1, mx = _id_take(tl.load(p_sym + tl.minimum(1, last) // NH), mx, S, CHECK_IDS)
        p_r = pt + (x0 * NH * HT + hh) * RS
        if PF == 1:
            c_k, c_b, c_v = _cols_row(p_r, col, K, KP, G, BC)
        for u in range(0, last + 1):
            x2, mx = _id_take(tl.load(p_sym + tl.minimum(u + 2, last) // NH), mx, S, CHECK_IDS)
            if PF == 0:
                c_k, c_b, c_v = _cols_row(p_r, col, K, KP, G, BC)
            p_r = pt + ((x1 * NH + (u + 1) % NH) * HT + hh) * RS
            if PF == 1:
                n_k, n_b, n_v = _cols_row(p_r, col, K, KP, G, BC)
            s, tok, p_cls, miss = _cols_sub(s, u, c_k, c_b, c_v, tok, p_cls, miss, q, w_lut, z0,
                                            lut, cls, o, states, b_codes, m_cc, m_lut, m_c, m_g,
                                            col, i_h, NZ, KW, H, K, WC, P, BW, BCC, NH, OUT_O,
                                            OUT_CODE, CODE_LUT, STORE_STATES, LT, ACC, LUT_ID)
            x1 = x2
            if PF == 1:
                c_k = n_k
                c_b = n_b
                c_v = n_v
    if LT:
        miss, p_cls = _cols_out(s, last >= 0, tok - H, p_cls, miss, q, w_lut, z0, lut, cls, o,
                                b_codes, m_cc, m_lut, m_c, m_g, col, i_h, NZ, H, K, WC, P, BW,
                                BCC, OUT_O, OUT_CODE, CODE_LUT, True, ACC, LUT_ID)
    if FINAL == 1:
        if i_c == NC - 1:
            _cols_store(ht + i_bh * KW + col, s, m_c, WC, K)
    if FINAL == 2:
        _cols_store(ht + (i_bh * NC + i_c) * KW + col, s, m_c, WC, K)
    _id_flag(flags, gen, mx, S, CHECK_IDS)
    if OUT_CODE and CODE_LUT:
        zero = tl.zeros_like(miss).to(tl.int32)
        tl.store(flags + 1 + zero, zero + gen, mask=miss < 0)


# ----------------------------------------------------------------------------- proj kernel
# The sequential recurrence in the coordinates of the table's keys (the ``proj`` variant).
# With R = S * n_h table rows a head (k_y, beta_y, v_y), the state enters a sub-step only
# through S^T k_r of its row r, and the readouts only through S^T q and w . S[:, V0]. So a
# lane (state column c) keeps p_y = (S^T k_y)[c] for every row y, o = (S^T q)[c] and
# z = w . S[:, V0] - z0 instead of S: a sub-step of row r is
#     d = beta_r (v_r - p_r),   p_y += (k_y . k_r) d   (every y),   o += (k_r . q) d,
#     z += (w . k_r) d,
# which is S += k_r d^T seen through those projections: equal in exact arithmetic, so
# bit-identical to cols_kernel wherever the arithmetic is exact (the constructions' integer
# tables), and equal to rounding otherwise. About 5 R operations a sub-step instead of
# about 3 K (R = 4 symbols, K = 16: about 23 against 50), on a dependency chain of a
# selection, a subtraction, a product and one multiply-add. The final state is
# S_0 + sum_y k_y e_y^T with e_y the sum of the d of row y's sub-steps (kept per lane):
# bounded, so exact on integer tables, only where a head's nonzero keys are linearly
# independent, which the launcher requires (_plan.proj_keys_condition).
# Tables (proj_rows_kernel, on the device, in the accumulator dtype): one packed row per
# (row y, head h of H), [k_y . k_z for z < R, 0 (RP) | beta, k . q * scale, w . k, 0 |
# v at columns C_OFF .. C_OFF + V - 1, 0 elsewhere (BW)].


@triton.jit
def proj_rows_kernel(kt, bt, vt, qv, lut_w, pr_t, scale, H: tl.constexpr, HT: tl.constexpr,
                     K: tl.constexpr, V: tl.constexpr, R: tl.constexpr, RP: tl.constexpr,
                     BW: tl.constexpr, BR: tl.constexpr, BK: tl.constexpr,
                     OUT_O: tl.constexpr, OUT_CODE: tl.constexpr, ACC: tl.constexpr,
                     C_OFF: tl.constexpr = 0, VBASIS: tl.constexpr = False):
    # proj_kernel's packed row y * H + h (program (y, h)) from the contiguous tables
    # (kt [R, HT, K], bt [R, HT], vt [R, HT, V]), the query qv [H, K] and the code table's
    # lut_w [H, K + 1], in the accumulator dtype: [k_y . k_z (z < R; RP) | beta_y,
    # (k_y . q_h) * scale, w_h . k_y, 0 | v_y at columns C_OFF .. C_OFF + V - 1 (BW; the
    # summary pass's rows have C_OFF = K, or R over the keys' basis; with VBASIS the value
    # is 1 at column C_OFF + y instead: the values' basis), zeros elsewhere]. One launch a
    # pass.
    y = tl.program_id(0)
    h = tl.program_id(1)
    hh = h % HT
    RS2: tl.constexpr = RP + 4 + BW
    o_k = tl.arange(0, BK)
    m_k = o_k < K
    o_z = tl.arange(0, BR)
    m_z = o_z < R
    k_y = tl.load(kt + (y * HT + hh) * K + o_k, mask=m_k, other=0).to(ACC)
    k_all = tl.load(kt + (o_z[:, None] * HT + hh) * K + o_k[None, :],
                    mask=m_z[:, None] & m_k[None, :], other=0).to(ACC)
    row = pr_t + (y * H + h) * RS2
    o_p = tl.arange(0, BR * 2)                     # the Gram row, zeros up to RP (<= 2 BR)
    gram = tl.sum(k_all * k_y[None, :], 1)
    tl.store(row + o_p, tl.zeros([BR * 2], dtype=ACC), mask=(o_p >= R) & (o_p < RP))
    tl.store(row + o_z, gram, mask=m_z)
    tl.store(row + RP, tl.load(bt + y * HT + hh).to(ACC))
    tl.store(row + RP + 3, tl.zeros([], dtype=ACC))
    kq = tl.zeros([BK], dtype=ACC)
    if OUT_O:
        kq = k_y * (tl.load(qv + h * K + o_k, mask=m_k, other=0).to(ACC) * scale)
    tl.store(row + RP + 1, tl.sum(kq, 0))
    wk = tl.zeros([BK], dtype=ACC)
    if OUT_CODE:
        wk = k_y * tl.load(lut_w + h * (K + 1) + o_k, mask=m_k, other=0).to(ACC)
    tl.store(row + RP + 2, tl.sum(wk, 0))
    o_v = tl.arange(0, BW) - C_OFF
    if VBASIS:     # the values' basis: row y's value 1 at column C_OFF + y, 0 elsewhere
        tl.store(row + RP + 4 + C_OFF + o_v, tl.where(o_v == y, 1.0, 0.0).to(ACC))
    else:
        tl.store(row + RP + 4 + C_OFF + o_v, tl.load(vt + (y * HT + hh) * V + o_v,
                                                     mask=(o_v >= 0) & (o_v < V),
                                                     other=0).to(ACC))


@triton.jit
def _proj_row(p_r, col, R: tl.constexpr, RP: tl.constexpr, G: tl.constexpr, BC: tl.constexpr,
              BW: tl.constexpr):
    # one sub-step's packed row: the Gram row (R tensors [BC]), beta, k . q, w . k, the value
    g = _cols_table(p_r, R, G, BC)
    b, kq, wk = _cols_table(p_r + RP, 3, G, BC)
    return g, b, kq, wk, tl.load(p_r + RP + 4 + col)


@triton.jit
def _proj_pick(p, r, R: tl.constexpr):
    # p[r] by a binary tree of selects on r's bits (ceil(log2 R) selects deep, not R - 1):
    # level j pairs the survivors of level j - 1 by bit j (a pair's missing second member,
    # past R - 1, is its first: never picked for r < R)
    # (level j holds ceil(R / 2^j) values; R <= 2^8, PROJ_MAX_R = 16 in practice)
    tl.static_assert(R <= 256, "_proj_pick: at most 256 rows")
    level = p
    for j in tl.static_range(8):
        if (R + (1 << j) - 1) >> j > 1:
            bit = (r & (1 << j)) != 0
            nxt = ()
            for i in tl.static_range(0, (R + (1 << j) - 1) >> j, 2):
                if i + 1 < (R + (1 << j) - 1) >> j:
                    nxt = nxt + (tl.where(bit, level[i + 1], level[i]),)
                else:
                    nxt = nxt + (level[i],)
            level = nxt
    return level[0]


@triton.jit
def _proj_sub(p, e, orun, zrun, r, g, b, kq, wk, v, R: tl.constexpr, OUT_O: tl.constexpr,
              OUT_CODE: tl.constexpr, CHAIN: tl.constexpr = False):
    # sub-step of row r (lanes' [BC] int32): d = beta (v - p_r), p += G[:, r] d, e_r += d.
    # (Session 30 wrote p_r and e_r by multiply-adds with the row's one-hot instead of the
    # compares and selects: slower on the H100 in session 31, 1.01-1.12x; removed.)
    # CHAIN (session 33, opt-in: _launch.PROJ_CHAIN): the token-to-token chain shortened,
    # p_r by a tree of selects (_proj_pick) and d = beta v - beta p_r as one multiply-add
    # (beta v from the loaded row, off the chain): 4 dependent operations a sub-step from
    # p to p instead of 6 (R = 4); d rounds otherwise (the same on exact constructions,
    # whose beta v and beta p_r are exact)
    if CHAIN:
        d = tl.fma(-b, _proj_pick(p, r, R), b * v)
    else:
        pr = p[0]
        for y in tl.static_range(1, R):
            pr = tl.where(r == y, p[y], pr)
        d = b * (v - pr)
    p2 = ()
    e2 = ()
    for y in tl.static_range(R):
        p2 = p2 + (p[y] + g[y] * d,)
        e2 = e2 + (tl.where(r == y, e[y] + d, e[y]),)
    if OUT_O:
        orun = orun + kq * d
    if OUT_CODE:
        zrun = zrun + wk * d
    return p2, e2, orun, zrun


@triton.jit
def _proj_out(orun, zrun, tok, o, cls, lut, miss, m_c, m_lut, col, i_h, NZ, WC: tl.constexpr,
              OUT_O: tl.constexpr, OUT_CODE: tl.constexpr, ACC: tl.constexpr,
              LUT_ID: tl.constexpr, M_FIXED: tl.constexpr = True):
    # a token's readout: o (every lane's column), the code by the code table (lane V0);
    # M_FIXED: m_lut is the program's fixed code mask (the miss minimum masked at the end)
    if OUT_O:
        tl.store(o + tok * WC + col, orun.to(o.dtype.element_ty), mask=m_c)
    if OUT_CODE:
        miss = _lut_code(zrun, m_lut, lut, cls, tok, miss, i_h, NZ, ACC, LUT_ID, M_FIXED)
    return miss


@triton.jit
def _proj_key(kt, y, hh, HT: tl.constexpr, K: tl.constexpr, ACC: tl.constexpr):
    # key k_y of each lane's table head hh ([BC]) as K tensors [BC] (read at a run's start
    # and end only)
    k = ()
    for j in tl.static_range(K):
        k = k + (tl.load(kt + (y * HT + hh) * K + j).to(ACC),)
    return k


@triton.jit
def _proj_ids4(p_sym, p8, m8, u, last, mx, S, NH: tl.constexpr, UN: tl.constexpr,
               CHECK_IDS: tl.constexpr, NARROW: tl.constexpr, BLOCK: tl.constexpr = False):
    # the ids of sub-steps u .. u + UN - 1 (clamped to the last; stored as one-byte ids too
    # with NARROW), and the running maximum. BLOCK (where n_h divides UN; for reads inside
    # the main loop, which runs only if last + 1 >= UN): the block's start clamped once
    # instead (to last + 1 - UN), each token's id read once (UN / n_h loads at consecutive
    # addresses): the same ids for every block that ends by the last sub-step, and other
    # ids of the sequence for a block beyond it (whose rows the loop never uses)
    xs = ()
    if BLOCK and UN % NH == 0:
        base = tl.minimum(u, last + 1 - UN) // NH
        for j in tl.static_range(UN // NH):
            xj, mx = _id_take(tl.load(p_sym + base + j), mx, S, CHECK_IDS)
            if NARROW:
                tl.store(p8 + base + j, xj.to(tl.uint8), mask=m8)
            for _ in tl.static_range(NH):
                xs = xs + (xj,)
    else:
        for i in tl.static_range(UN):
            pos = tl.minimum(u + i, last) // NH
            xi, mx = _id_take(tl.load(p_sym + pos), mx, S, CHECK_IDS)
            if NARROW:
                tl.store(p8 + pos, xi.to(tl.uint8), mask=m8)
            xs = xs + (xi,)
    return xs, mx


@triton.jit
def _proj_rows4(xs, u, p_row, col, H: tl.constexpr, R: tl.constexpr, RP: tl.constexpr,
                RS2: tl.constexpr, G: tl.constexpr, BC: tl.constexpr, NH: tl.constexpr,
                UN: tl.constexpr, BW: tl.constexpr):
    # the packed rows (with their row index) of sub-steps u .. u + UN - 1 of ids xs
    rows = ()
    for i in tl.static_range(UN):
        r = xs[i] * NH + (u + i) % NH
        rows = rows + ((r,) + _proj_row(p_row + r * (H * RS2), col, R, RP, G, BC, BW),)
    return rows


@triton.jit
def _proj_block(cur, u, p, e, orun, zrun, miss, tok, o, cls, lut, m_c, m_lut, col, i_h, NZ,
                H: tl.constexpr, R: tl.constexpr, WC: tl.constexpr, NH: tl.constexpr,
                UN: tl.constexpr, OUT_O: tl.constexpr, OUT_CODE: tl.constexpr,
                ACC: tl.constexpr, LUT_ID: tl.constexpr, END_PRED: tl.constexpr,
                CHAIN: tl.constexpr):
    # sub-steps u .. u + UN - 1 of their loaded rows cur, each token's readout at its end
    for i in tl.static_range(UN):
        r, g, b, kq, wk, v = cur[i]
        p, e, orun, zrun = _proj_sub(p, e, orun, zrun, r, g, b, kq, wk, v, R, OUT_O, OUT_CODE,
                                     CHAIN)
        if END_PRED and UN % NH != 0:       # the token's end by masks, no branch
            end = (tl.zeros_like(col) + (u + i)) % NH == NH - 1      # [BC], all alike
            miss = _proj_out(orun, zrun, tok, o, cls, lut, miss, m_c & end, m_lut & end,
                             col, i_h, NZ, WC, OUT_O, OUT_CODE, ACC, LUT_ID, False)
            tok += tl.where(end, H, 0)
        elif (u + i) % NH == NH - 1:
            miss = _proj_out(orun, zrun, tok, o, cls, lut, miss, m_c, m_lut, col, i_h, NZ,
                             WC, OUT_O, OUT_CODE, ACC, LUT_ID)
            tok += H
    return p, e, orun, zrun, miss, tok


@triton.jit(do_not_specialize=["T", "L", "BH", "S", "NZ", "gen"])
def proj_kernel(sym, sym8, pr_t, kt, h0, starts, qv, o, cls, ht, flags, gen, lut_w, lut, scale,
                T, L, BH, S, NZ,
                H: tl.constexpr, HT: tl.constexpr, K: tl.constexpr,
                R: tl.constexpr, RP: tl.constexpr, WC: tl.constexpr, BW: tl.constexpr,
                P: tl.constexpr, NH: tl.constexpr, G: tl.constexpr, H0_MODE: tl.constexpr,
                OUT_O: tl.constexpr, OUT_CODE: tl.constexpr, FINAL: tl.constexpr,
                CHECK_IDS: tl.constexpr, V0: tl.constexpr, ACC: tl.constexpr,
                LUT_ID: tl.constexpr = 0, NARROW: tl.constexpr = False,
                AHEAD: tl.constexpr = False, END_PRED: tl.constexpr = False,
                PF_IDS: tl.constexpr = 0, PINGPONG: tl.constexpr = False,
                IDS_BLOCK: tl.constexpr = False, CHAIN: tl.constexpr = False):
    # The run pass of cols_kernel (same grid, words a program, ids, chunks, H0_MODE 0-3,
    # FINAL 0-1, outputs o and the code by a code table; no stored states) in the keys'
    # coordinates (above), and its summary pass (H0_MODE 4: [I | 0] over WC = K + V columns,
    # the values at columns K .. K + V - 1 of the rows; FINAL 2: every chunk's state; or
    # H0_MODE 5: the keys' basis, p = u_j at column j < R, over WC = R + V columns, the
    # values at columns R .. R + V - 1; FINAL 3: every chunk's sums e, proj_maps_kernel
    # makes the maps). pr_t: the packed projected rows, row (y * H + head)
    # (proj_rows_kernel); kt: the key table [R, HT, K] (for the start's projections and the
    # final state). The order of the deep loop: four sub-steps an iteration, their rows loaded
    # first, the ids of the next four read during it, then the last < 4 one at a time.
    # NARROW (a summary pass, session 25): every id read is also stored, as checked (clamped)
    # one-byte ids, into sym8 [B, T] (by one lane a sequence: column 0 of head 0), for the run
    # pass: the narrowing without its own launch.
    # AHEAD (session 28): the rows of the next iteration's four sub-steps are loaded during
    # this one (their ids read two iterations ahead), so no iteration starts by waiting on
    # its rows' loads; the same operations in the same order (bit-identical). The launcher
    # passes it to sequential run passes only (_launch.PROJ_AHEAD says why).
    # END_PRED (session 30): where n_h does not divide the iteration's four sub-steps, a
    # token's end in the main loop by masked stores instead of a branch. With AHEAD, the
    # branch's CUDA build at n_h = 3 gave wrong outputs (benchmarks/probes/ahead_fault.py,
    # H100: every "+pred" mode right, the branch's run passes wrong); the launcher passes
    # END_PRED with AHEAD wherever 4 % n_h != 0.
    # PF_IDS (session 30; _launch.PROJ_PREFETCH_IDS): each iteration of the main loop
    # also prefetches into L1 the cache line of the id PF_IDS tokens ahead (clamped to the
    # last), so the ids' cache misses (a line every 128 one-byte ids, every 32 int32 ids) are
    # not waited on; a hint (no value read), compiled code only.
    # PINGPONG (session 31, opt-in: _launch.PROJ_PINGPONG; with AHEAD only): the main loop
    # runs two iterations a trip, the rows in two buffers (the next trip's first iteration's
    # loaded into the buffer just used), so no rows are moved from buffer to buffer at the
    # back edge; the same operations in the same order.
    # IDS_BLOCK (session 31, opt-in: _launch.PROJ_IDS_BLOCK): the main loop reads each block's
    # ids from one clamped start, a token's id once (_proj_ids4's BLOCK; where n_h divides
    # four): the same ids for every block it uses.
    # CHAIN (session 33, opt-in: _launch.PROJ_CHAIN): every sub-step's p_r by a tree of
    # selects and its d by one multiply-add (_proj_sub): a shorter chain from token to token.
    BC: tl.constexpr = P * BW
    RS2: tl.constexpr = RP + 4 + BW
    UN: tl.constexpr = 4
    i_c, NC, col, i_bh, m_w, m_c, i_b, i_h, t0, n_tok, last, hh, KW = _words_program(
        T, L, BH, H, HT, K, WC, BW, P, NH)
    zero = tl.zeros([BC], dtype=ACC)

    # the projections of the start state s0 (K tensors [BC]; zeros without one)
    s = _cols_start(h0, starts, i_bh, i_h, i_c, NC, KW, col, m_c, zero, K, WC, H0_MODE, ACC)
    p = ()
    e = ()
    for y in tl.static_range(R):
        if H0_MODE == 0:
            p = p + (zero,)
        elif H0_MODE == 5:                 # the keys' basis: column j < R starts at p = u_j
            p = p + (tl.where(col == y, 1.0, 0.0).to(ACC),)
        else:
            p = p + (_cols_dot(s, _proj_key(kt, y, hh, HT, K, ACC), K),)
        e = e + (zero,)
    orun = zero
    zrun = zero
    m_lut = m_w
    if OUT_O and H0_MODE != 0:
        q = ()
        for j in tl.static_range(K):
            q = q + (tl.load(qv + i_h * K + j).to(ACC) * scale,)
        orun = _cols_dot(s, q, K)
    if OUT_CODE:
        z0 = tl.load(lut_w + i_h * (K + 1) + K).to(ACC)
        if H0_MODE != 0:
            w_lut = ()
            for j in tl.static_range(K):
                w_lut = w_lut + (tl.load(lut_w + i_h * (K + 1) + j).to(ACC),)
            zrun = _cols_dot(s, w_lut, K) - z0
        else:
            zrun = zero - z0
        m_lut = m_w & (col == V0)
    miss = tl.zeros([BC], dtype=tl.int32)

    p_sym = sym + i_b * T + t0
    p8 = sym8 + i_b * T + t0
    m8 = m_w & (col == 0) & (i_h == 0)
    tok = ((i_b * T + t0) * H + i_h)                                  # this token's row
    p_row = pr_t + i_h * RS2                                          # row y at y * H * RS2
    mx = _id_max0(tl.load(p_sym), CHECK_IDS)
    xs, mx = _proj_ids4(p_sym, p8, m8, 0, last, mx, S, NH, UN, CHECK_IDS, NARROW)
    rows = ()
    if AHEAD:           # the first iteration's rows, and the ids of the second
        rows = _proj_rows4(xs, 0, p_row, col, H, R, RP, RS2, G, BC, NH, UN, BW)
        xs, mx = _proj_ids4(p_sym, p8, m8, UN, last, mx, S, NH, UN, CHECK_IDS, NARROW)
    if AHEAD and PINGPONG:
        # two iterations a trip: the rows of the second loaded during the first, those of
        # the next trip's first during the second; no rows carried from one buffer to the
        # other (the same operations in the same order as AHEAD's)
        n_it = (last + 1) // UN
        for it2 in range(0, n_it // 2):
            u = it2 * (2 * UN)
            if PF_IDS > 0:
                _prefetch_l1(p_sym + tl.minimum(u // NH + PF_IDS, last // NH))
            rows_b = _proj_rows4(xs, u + UN, p_row, col, H, R, RP, RS2, G, BC, NH, UN, BW)
            nx, mx = _proj_ids4(p_sym, p8, m8, u + 2 * UN, last, mx, S, NH, UN, CHECK_IDS,
                                NARROW, IDS_BLOCK)
            p, e, orun, zrun, miss, tok = _proj_block(
                rows, u, p, e, orun, zrun, miss, tok, o, cls, lut, m_c, m_lut, col, i_h, NZ,
                H, R, WC, NH, UN, OUT_O, OUT_CODE, ACC, LUT_ID, END_PRED, CHAIN)
            if PF_IDS > 0:
                _prefetch_l1(p_sym + tl.minimum((u + UN) // NH + PF_IDS, last // NH))
            rows = _proj_rows4(nx, u + 2 * UN, p_row, col, H, R, RP, RS2, G, BC, NH, UN, BW)
            xs, mx = _proj_ids4(p_sym, p8, m8, u + 3 * UN, last, mx, S, NH, UN, CHECK_IDS,
                                NARROW, IDS_BLOCK)
            p, e, orun, zrun, miss, tok = _proj_block(
                rows_b, u + UN, p, e, orun, zrun, miss, tok, o, cls, lut, m_c, m_lut, col,
                i_h, NZ, H, R, WC, NH, UN, OUT_O, OUT_CODE, ACC, LUT_ID, END_PRED, CHAIN)
        if n_it % 2 == 1:       # an odd last iteration: its rows are loaded
            p, e, orun, zrun, miss, tok = _proj_block(
                rows, (n_it - 1) * UN, p, e, orun, zrun, miss, tok, o, cls, lut, m_c, m_lut,
                col, i_h, NZ, H, R, WC, NH, UN, OUT_O, OUT_CODE, ACC, LUT_ID, END_PRED, CHAIN)
    else:
        for it in range(0, (last + 1) // UN):
            u = it * UN
            if PF_IDS > 0:
                _prefetch_l1(p_sym + tl.minimum(u // NH + PF_IDS, last // NH))
            if AHEAD:
                cur = rows
                rows = _proj_rows4(xs, u + UN, p_row, col, H, R, RP, RS2, G, BC, NH, UN, BW)
                nx, mx = _proj_ids4(p_sym, p8, m8, u + 2 * UN, last, mx, S, NH, UN,
                                    CHECK_IDS, NARROW, IDS_BLOCK)
            else:
                cur = _proj_rows4(xs, u, p_row, col, H, R, RP, RS2, G, BC, NH, UN, BW)
                nx, mx = _proj_ids4(p_sym, p8, m8, u + UN, last, mx, S, NH, UN, CHECK_IDS,
                                    NARROW, IDS_BLOCK)
            p, e, orun, zrun, miss, tok = _proj_block(
                cur, u, p, e, orun, zrun, miss, tok, o, cls, lut, m_c, m_lut, col, i_h, NZ,
                H, R, WC, NH, UN, OUT_O, OUT_CODE, ACC, LUT_ID, END_PRED, CHAIN)
            xs = nx
    for u in range((last + 1) // UN * UN, last + 1):       # the last < UN sub-steps
        xi, mx = _id_take(tl.load(p_sym + u // NH), mx, S, CHECK_IDS)
        if NARROW:
            tl.store(p8 + u // NH, xi.to(tl.uint8), mask=m8)
        r = xi * NH + u % NH
        g, b, kq, wk, v = _proj_row(p_row + r * (H * RS2), col, R, RP, G, BC, BW)
        p, e, orun, zrun = _proj_sub(p, e, orun, zrun, r, g, b, kq, wk, v, R, OUT_O, OUT_CODE,
                                     CHAIN)
        if u % NH == NH - 1:
            miss = _proj_out(orun, zrun, tok, o, cls, lut, miss, m_c, m_lut, col, i_h, NZ, WC,
                             OUT_O, OUT_CODE, ACC, LUT_ID)
            tok += H
    if FINAL == 1 or FINAL == 2:
        if FINAL == 2 or i_c == NC - 1:
            # S = s0 + sum_y k_y e_y^T (s0 read again: not held in registers through the loop)
            s = _cols_start(h0, starts, i_bh, i_h, i_c, NC, KW, col, m_c, zero, K, WC, H0_MODE,
                            ACC)
            for y in tl.static_range(R):
                k_y = _proj_key(kt, y, hh, HT, K, ACC)
                s2 = ()
                for j in tl.static_range(K):
                    s2 = s2 + (s[j] + k_y[j] * e[y],)
                s = s2
            if FINAL == 1:
                _cols_store(ht + i_bh * KW + col, s, m_c, WC, K)
            else:
                _cols_store(ht + (i_bh * NC + i_c) * KW + col, s, m_c, WC, K)
    if FINAL == 3:
        # the chunk's sums e_y of every column ([R, WC] a chunk; proj_maps_kernel)
        for y in tl.static_range(R):
            tl.store(ht + ((i_bh * NC + i_c) * R + y) * WC + col,
                     e[y].to(ht.dtype.element_ty), mask=m_c)
    _id_flag(flags, gen, mx, S, CHECK_IDS)
    if OUT_CODE:
        zero_i = tl.zeros_like(miss).to(tl.int32)
        tl.store(flags + 1 + zero_i, zero_i + gen, mask=(miss < 0) & m_lut)


@triton.jit
def _proj_keys_values(kt, vt, hh, HT: tl.constexpr, K: tl.constexpr, V: tl.constexpr,
                      R: tl.constexpr, BK: tl.constexpr, BV: tl.constexpr,
                      VBASIS: tl.constexpr, ACC: tl.constexpr):
    # table head hh's keys k_y ([BK] each) and, with VBASIS, its values v_y ([BV] each)
    o_k = tl.arange(0, BK)
    o_v = tl.arange(0, BV)
    ks = ()
    vs = ()                                  # the value rows (the values' basis only)
    for y in tl.static_range(R):
        ks = ks + (tl.load(kt + (y * HT + hh) * K + o_k, mask=o_k < K, other=0).to(ACC),)
        if VBASIS:
            vs = vs + (tl.load(vt + (y * HT + hh) * V + o_v, mask=o_v < V, other=0).to(ACC),)
    return ks, vs


@triton.jit
def _proj_map(ks, vs, p_e, V: tl.constexpr, R: tl.constexpr, BK: tl.constexpr,
              BV: tl.constexpr, VBASIS: tl.constexpr, ACC: tl.constexpr):
    # one chunk's map (M [BK, BK], C [BK, BV]) from its sums p_e (proj_maps_kernel's rule;
    # M's diagonal is 1 past K too, C is 0 past K and V)
    WE: tl.constexpr = R + R if VBASIS else R + V
    o_k = tl.arange(0, BK)
    o_v = tl.arange(0, BV)
    m_v = o_v < V
    m = tl.where(o_k[:, None] == o_k[None, :], 1.0, 0.0).to(ACC)
    c = tl.zeros([BK, BV], dtype=ACC)
    for z in tl.static_range(R):
        a = tl.zeros([BK], dtype=ACC)
        for y in tl.static_range(R):
            a += ks[y] * tl.load(p_e + y * WE + z).to(ACC)
        m += a[:, None] * ks[z][None, :]
    for y in tl.static_range(R):
        if VBASIS:
            ev = tl.zeros([BV], dtype=ACC)
            for x in tl.static_range(R):
                ev += tl.load(p_e + y * WE + R + x).to(ACC) * vs[x]
        else:
            ev = tl.load(p_e + y * WE + R + o_v, mask=m_v, other=0).to(ACC)
        c += ks[y][:, None] * ev[None, :]
    return m, c


@triton.jit
def proj_maps_kernel(kt, vt, eb, summ, NC, H: tl.constexpr, HT: tl.constexpr,
                     K: tl.constexpr, V: tl.constexpr, R: tl.constexpr, BK: tl.constexpr,
                     BV: tl.constexpr, VBASIS: tl.constexpr, ACC: tl.constexpr):
    # a chunk's map [M | C] (summ [B*H, NC, K, K + V], scan_kernel's) from proj_kernel's
    # sums over the keys' basis (eb [B*H, NC, R, R + V]: e_y of basis column z < R, Psi,
    # and of value column R + c): a start column s has projections K^T s = sum_z (k_z . s)
    # u_z and the sums are linear in them, so M = I + K Psi K^T and C = K E_val with
    # K = [k_0 .. k_{R-1}] (K x R) of the chunk's head. With VBASIS, eb is [.., R, 2 R]:
    # columns R + x the sums of the values' basis (row x's value 1, the others' 0), and the
    # sums are linear in the values too, so E_val = E_vb Vt (Vt: the head's value table,
    # R x V). One program a chunk. (scan_kernel's FROM_SUMS makes the same maps itself.)
    i = tl.program_id(0).to(tl.int64)
    hh = ((i // NC) % H) % HT
    WE: tl.constexpr = R + R if VBASIS else R + V
    o_k = tl.arange(0, BK)
    m_k = o_k < K
    o_v = tl.arange(0, BV)
    m_v = o_v < V
    ks, vs = _proj_keys_values(kt, vt, hh, HT, K, V, R, BK, BV, VBASIS, ACC)
    m, c = _proj_map(ks, vs, eb + i * (R * WE), V, R, BK, BV, VBASIS, ACC)
    p_s = summ + i * (K * (K + V)) + o_k[:, None] * (K + V)
    tl.store(p_s + o_k[None, :], m.to(summ.dtype.element_ty), mask=m_k[:, None] & m_k[None, :])
    tl.store(p_s + K + o_v[None, :], c.to(summ.dtype.element_ty),
             mask=m_k[:, None] & m_v[None, :])
