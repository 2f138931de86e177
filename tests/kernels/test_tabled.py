"""The tabled construction path: equal to the general recurrent kernel on the gathered dense
tensors (sequential and chunked, every output kind), exact recognition of group languages
(parity, Z_3, S_5 with n_h up to 4) in bfloat16, poisoned outputs, bad input."""

from __future__ import annotations

import dataclasses
import math
import os

import numpy as np
import pytest
import torch

from statetrack.kernels import errors as E
from statetrack.kernels._common.triton import tl, triton
from statetrack.kernels.delta_product.fused_recurrent import fused_recurrent_delta_product
from statetrack.kernels.tabled import (MAX_KV, TabledRunner, check_pending, choose_chunk,
                                       gather_tables, run_tabled)
from statetrack.kernels.tabled import _tabled_kernels as kern
from statetrack.kernels.tabled.tabled import _run_tabled_variant
from statetrack.kernels._common.tolerances import assert_rel_close


def _random_tables(gen, S, n_h, H, K, V, heads, dtype=torch.float32):
    shape = (S, n_h, H) if heads else (S, n_h)
    kt = torch.nn.functional.normalize(torch.randn(*shape, K, generator=gen), dim=-1)
    bt = 2 * torch.rand(*shape, generator=gen)
    vt = torch.randn(*shape, V, generator=gen)
    return kt.to(dtype), bt.to(dtype), vt.to(dtype)


def _general(symbols, kt, bt, vt, H, h0, query, n_h):
    """The general kernel on the gathered dense inputs (readout: scale 1, fixed query)."""
    B, T = symbols.shape
    k, v, beta = gather_tables(symbols, kt, bt, vt, H)
    K = k.shape[-1]
    q = query.to(k.dtype).reshape(1, 1, -1, K).expand(B, T, H, K).contiguous()
    if h0 is not None and h0.ndim == 3:
        h0 = h0.expand(B, *h0.shape).contiguous()
    return fused_recurrent_delta_product(q, k.contiguous(), v.contiguous(), beta.contiguous(),
                                         num_householder=n_h, scale=1.0, initial_state=h0,
                                         output_final_state=True)


@pytest.mark.parametrize("B,T,H,K,V,n_h,heads,h0_kind,chunk", [
    (2, 9, 2, 8, 4, 2, True, "batch", None),
    (1, 17, 1, 4, 8, 3, False, "shared", 5),
    (1, 9, 2, 4, 4, 1, False, "none", 4),
    (1, 17, 1, 8, 8, 4, True, "batch", 1),
    (2, 3, 1, 5, 3, 1, False, "batch", 2),
    (1, 1, 1, 4, 4, 2, False, "shared", None),
    (2, 7, 1, 1, 1, 2, False, "shared", 3),
    (1, 6, 1, 3, 2, 1, True, "batch", None),
])
def test_tabled_equals_general_kernel(gen, device, poison_empty, B, T, H, K, V, n_h, heads,
                                      h0_kind, chunk):
    S = 3
    kt, bt, vt = (t.to(device) for t in _random_tables(gen, S, n_h, H, K, V, heads))
    sym = torch.randint(0, S, (B, T), generator=gen).to(device)
    h0 = {"batch": torch.randn(B, H, K, V, generator=gen),
          "shared": torch.randn(H, K, V, generator=gen), "none": None}[h0_kind]
    h0 = h0.to(device) if h0 is not None else None
    query = torch.randn(H, K, generator=gen).to(device)
    codes = torch.randn(H, 4, V, generator=gen).to(device)

    nan = float("nan")
    o_buf = torch.full((B, T, H, V), nan, device=device)
    st_buf = torch.full((B, T, H, K, V), nan, device=device)
    ht_buf = torch.full((B, H, K, V), nan, device=device)
    code_buf = torch.full((B, T, H), -1, dtype=torch.int32, device=device)
    with poison_empty():
        r = run_tabled(sym, kt, bt, vt, initial_state=h0, query=query, output="o",
                       return_states=True, chunk_size=chunk, o_out=o_buf, states_out=st_buf,
                       final_state_out=ht_buf)
        rc = run_tabled(sym, kt, bt, vt, initial_state=h0, query=query, codes=codes,
                        output="code", chunk_size=chunk, code_out=code_buf)
        rn = run_tabled(sym, kt, bt, vt, initial_state=h0, query=query, output="none",
                        chunk_size=chunk)
    assert r.o is o_buf and r.states is st_buf and r.final_state is ht_buf and rc.code is code_buf
    assert r.chunk_size == min(T, chunk if chunk is not None else choose_chunk(B, H, T,
                                                                                device=device))
    o, ht = _general(sym, kt, bt, vt, H, h0, query, n_h)
    assert_rel_close(r.o, o.double(), torch.float32, name="o")
    assert_rel_close(r.final_state, ht.double(), torch.float32, name="final_state")
    assert_rel_close(rn.final_state, ht.double(), torch.float32, name="final_state (none)")
    assert_rel_close(r.states[:, -1], ht.double(), torch.float32, name="last state")
    # every state reads out to the stored output
    assert_rel_close(torch.einsum("bthkv,hk->bthv", r.states, query), r.o.double(),
                     torch.float32, name="states vs o")
    # codes: nearest code of the tabled readout (ties impossible for random codes)
    dist = ((r.o[:, :, :, None, :] - codes[None, None]) ** 2).sum(-1)
    assert torch.equal(rc.code, dist.argmin(-1).to(torch.int32))


def test_cols_kernel_float64_and_its_limit(gen, device):
    # the default kernel (cols_kernel) in float64 (two values a 16-byte load) equals the
    # register-tile kernels to float64 rounding, sequential and chunked, every output; past
    # COLS_MAX_K the default is the register-tile kernel itself (bit-identical)
    from statetrack.kernels.tabled import COLS_MAX_K
    kt, bt, vt = (t.to(device) for t in _random_tables(gen, 3, 2, 2, 5, 3, True, torch.float64))
    sym = torch.randint(0, 3, (2, 13), generator=gen).to(device)
    q = torch.randn(2, 5, generator=gen, dtype=torch.float64).to(device)
    h0 = torch.randn(2, 2, 5, 3, generator=gen, dtype=torch.float64).to(device)
    for L in (13, 4):
        a = run_tabled(sym, kt, bt, vt, query=q, initial_state=h0, chunk_size=L,
                       return_states=True)
        b = _run_tabled_variant(sym, kt, bt, vt, query=q, initial_state=h0, chunk_size=L,
                                return_states=True, _variant={"legacy": True})
        assert a.o.dtype == torch.float64
        for name in ("o", "final_state", "states"):
            assert_rel_close(getattr(a, name), getattr(b, name), torch.float64,
                             name=f"{name} (float64, chunk {L})")
    K = COLS_MAX_K + 1
    kt, bt, vt = (t.to(device) for t in _random_tables(gen, 2, 1, 1, K, 2, False))
    sym = torch.randint(0, 2, (1, 6), generator=gen).to(device)
    q = torch.randn(K, generator=gen).to(device)
    for L in (6, 2):
        a = run_tabled(sym, kt, bt, vt, query=q, chunk_size=L)
        b = _run_tabled_variant(sym, kt, bt, vt, query=q, chunk_size=L,
                                _variant={"legacy": True})
        assert torch.equal(a.o, b.o) and torch.equal(a.final_state, b.final_state)


def test_chunked_equals_sequential(gen, device):
    kt, bt, vt = (t.to(device) for t in _random_tables(gen, 4, 2, 1, 6, 5, False))
    sym = torch.randint(0, 4, (2, 11), generator=gen).to(device)
    q = torch.randn(6, generator=gen).to(device)
    seq = run_tabled(sym, kt, bt, vt, query=q, chunk_size=11)
    assert seq.chunk_size == 11
    for L in (1, 3, 10):
        ch = run_tabled(sym, kt, bt, vt, query=q, chunk_size=L)
        assert ch.chunk_size == L
        assert_rel_close(ch.o, seq.o.double(), torch.float32, name=f"o (chunk {L})")
        assert_rel_close(ch.final_state, seq.final_state.double(), torch.float32,
                         name=f"final_state (chunk {L})")


@pytest.mark.usefixtures("cols_kernel")
@pytest.mark.parametrize("variant", [{}, {"words": 1}, {"words": 16, "pf": True},
                                     {"pf": False}, {"mm": True}])
def test_code_variants_compute_the_same(gen, device, variant):
    # against the register-tile kernels ({"legacy": True}): the default (cols_kernel, any
    # number of words a program) sums S^T k in another order, "mm" composes each token's
    # sub-steps into one map (float32 products): equal to float32 rounding, and the codes
    # are the nearest codes of the variant's own readouts
    kt, bt, vt = (t.to(device).bfloat16() for t in _random_tables(gen, 4, 2, 1, 6, 5, False))
    sym = torch.randint(0, 4, (3, 29), generator=gen).to(device)
    q = torch.randn(6, generator=gen).to(device)
    h0 = torch.randn(3, 1, 6, 5, generator=gen).to(device)
    codes = torch.randn(4, 5, generator=gen).to(device)
    for L in (29, 8):
        base = _run_tabled_variant(sym, kt, bt, vt, query=q, initial_state=h0, chunk_size=L,
                                   return_states=True, _variant={"legacy": True})
        var = _run_tabled_variant(sym, kt, bt, vt, query=q, initial_state=h0, chunk_size=L,
                                  return_states=True, _variant=variant)
        for name in ("o", "final_state", "states"):
            assert_rel_close(getattr(var, name), getattr(base, name).double(), torch.float32,
                             name=f"{name} ({variant}, chunk {L})")
        base_c = _run_tabled_variant(sym, kt, bt, vt, query=q, initial_state=h0, codes=codes,
                                     output="code", chunk_size=L, _variant={"legacy": True})
        var_c = _run_tabled_variant(sym, kt, bt, vt, query=q, initial_state=h0, codes=codes,
                                    output="code", chunk_size=L, _variant=variant)
        dist = ((var.o[:, :, :, None, :] - codes[None, None]) ** 2).sum(-1)
        assert torch.equal(var_c.code, dist.argmin(-1).to(torch.int32))
        assert (var_c.code != base_c.code).float().mean() < 0.05   # near-ties may differ
    with pytest.raises(E.KernelInputError, match="_variant: unknown keys"):
        _run_tabled_variant(sym, kt, bt, vt, query=q, _variant={"fast": True})
    with pytest.raises(E.KernelInputError, match="does not combine"):
        _run_tabled_variant(sym, kt, bt, vt, query=q, _variant={"legacy": True, "mm": True})
    for bad in (3, 0, 64, True, 2.0):
        with pytest.raises(E.KernelInputError, match="'words' must be a power of 2"):
            _run_tabled_variant(sym, kt, bt, vt, query=q, _variant={"words": bad})
    with pytest.raises(E.KernelInputError, match="'pf' must be"):
        _run_tabled_variant(sym, kt, bt, vt, query=q, _variant={"pf": 1})
    with pytest.raises(E.KernelInputError, match="float64 tables"):
        _run_tabled_variant(sym, kt.double(), bt.double(), vt.double(), query=q.double(),
                            _variant={"mm": True})


def _exact_tables(gen, S, n_h, H, K, V, heads):
    """Tables whose every run is exact in float32 (and bf16 storage): each sub-step writes
    row i of the state to an integer row v (k = e_i, beta = 1), swaps rows i and j
    (k = e_i - e_j, beta = 1, v = 0), or is the identity (beta = 0). States keep the integer
    values of the initial state and the tables, so any order of the same operations (fused
    multiply-adds or not) gives the same bits."""
    shape = (S, n_h, H) if heads else (S, n_h)
    n = int(np.prod(shape))
    kt, bt, vt = torch.zeros(n, K), torch.ones(n), torch.zeros(n, V)
    kind = torch.randint(0, 3, (n,), generator=gen)
    i = torch.randint(0, K, (n,), generator=gen)
    j = (i + 1 + torch.randint(0, K - 1, (n,), generator=gen)) % K
    for r in range(n):
        kt[r, i[r]] = 1.0
        if kind[r] == 0:                                  # write row i := v
            vt[r] = torch.randint(-3, 4, (V,), generator=gen).float()
        elif kind[r] == 1:                                # swap rows i and j
            kt[r, j[r]] = -1.0
        else:                                             # identity
            bt[r] = 0.0
    return kt.reshape(*shape, K), bt.reshape(shape), vt.reshape(*shape, V)


def _int_like(gen, *shape):
    return torch.randint(-3, 4, shape, generator=gen).float()


@pytest.mark.usefixtures("cols_kernel")
@pytest.mark.parametrize("n_h,H,heads,words", [(1, 1, False, None), (1, 2, True, 1),
                                                 (2, 1, False, None)])
def test_late_readout_is_bit_identical(gen, device, n_h, H, heads, words):
    # the "late" order computes each readout one step later, from the same state with the
    # same operations: on exact tables (as a construction's) o, codes (argmin), states and
    # final state equal bit for bit, sequential and chunked, with an initial state and
    # without; at n_h = 2 the kernel runs as without it
    kt, bt, vt = (t.to(device).bfloat16() for t in _exact_tables(gen, 4, n_h, H, 6, 5, heads))
    sym = torch.randint(0, 4, (3, 29), generator=gen).to(device)
    q = _int_like(gen, 6).to(device)
    h0 = _int_like(gen, 3, H, 6, 5).to(device)
    codes = torch.randn(4, 5, generator=gen).to(device)
    late = {"late": True} if words is None else {"late": True, "words": words}
    early = dict(late, late=False)
    for L, init in ((29, h0), (8, h0), (29, None), (1, None)):
        kw = dict(query=q, initial_state=init, chunk_size=L)
        a = _run_tabled_variant(sym, kt, bt, vt, return_states=True, _variant=early, **kw)
        b = _run_tabled_variant(sym, kt, bt, vt, return_states=True, _variant=late, **kw)
        for name in ("o", "final_state", "states"):
            assert torch.equal(getattr(a, name), getattr(b, name)), (name, L)
        ac = _run_tabled_variant(sym, kt, bt, vt, codes=codes, output="code", _variant=early,
                                 **kw)
        bc = _run_tabled_variant(sym, kt, bt, vt, codes=codes, output="code", _variant=late,
                                 **kw)
        assert torch.equal(ac.code, bc.code) and torch.equal(ac.final_state, bc.final_state)
    for bad in (1, 0, "yes"):
        with pytest.raises(E.KernelInputError, match="'late' must be True, False or None"):
            _run_tabled_variant(sym, kt, bt, vt, query=q, _variant={"late": bad})
    for other in ("mm", "legacy"):
        with pytest.raises(E.KernelInputError, match="'late' is a cols_kernel order"):
            _run_tabled_variant(sym, kt, bt, vt, query=q, _variant={"late": True, other: True})


def test_exact_tables_are_exact(gen, device):
    # the premise of the bit-identity tests: every value a run of _exact_tables takes is an
    # integer, so float32 arithmetic on it is exact (checked against float64)
    kt, bt, vt = (t.to(device) for t in _exact_tables(gen, 5, 1, 2, 6, 5, True))
    sym = torch.randint(0, 5, (2, 40), generator=gen).to(device)
    h0 = _int_like(gen, 2, 2, 6, 5).to(device)
    q = torch.ones(6, device=device)
    r32 = run_tabled(sym, kt, bt, vt, initial_state=h0, query=q, return_states=True)
    r64 = run_tabled(sym, kt.double(), bt.double(), vt.double(), initial_state=h0.double(),
                     query=q.double(), return_states=True)
    assert torch.equal(r32.states.double(), r64.states)
    assert torch.equal(r64.states, r64.states.round())
    assert float(r64.states.abs().max()) <= 3.0


@pytest.mark.usefixtures("cols_kernel")
@pytest.mark.parametrize("words", [None, 2])
def test_late_readout_on_float_tables_agrees_to_rounding(gen, device, words):
    # with arbitrary float tables the two orders are the same operations, but on CUDA the
    # compiler may contract multiply-adds differently in each (seen at 2 words a program:
    # <= 2e-6 of values near 5): the outputs agree to the float32 tolerance
    kt, bt, vt = (t.to(device).bfloat16() for t in _random_tables(gen, 4, 1, 3, 6, 5, False))
    sym = torch.randint(0, 4, (3, 13), generator=gen).to(device)
    q = torch.randn(3, 6, generator=gen).to(device)
    h0 = torch.randn(3, 3, 6, 5, generator=gen).to(device)
    knobs = {} if words is None else {"words": words}
    for L in (13, 4):
        kw = dict(query=q, initial_state=h0, chunk_size=L, return_states=True)
        a = _run_tabled_variant(sym, kt, bt, vt, _variant=dict(knobs, late=False), **kw)
        b = _run_tabled_variant(sym, kt, bt, vt, _variant=dict(knobs, late=True), **kw)
        for name in ("o", "final_state", "states"):
            assert_rel_close(getattr(b, name), getattr(a, name).double(), torch.float32,
                             name=f"{name} L={L}")


@pytest.mark.usefixtures("cols_kernel")
@pytest.mark.parametrize("H,heads,words,h0_kind", [(2, True, None, "shared"),
                                               (3, False, 2, "batch"), (2, True, 4, "none")])
def test_late_readout_across_programs_heads_and_chunks(gen, device, poison_empty, H, heads,
                                                       words, h0_kind):
    # the late order with several words a program (P = 4 by default at V = 5) over several
    # heads, the last program part-filled (B * H = 6 or 9 rows), an initial state per head
    # ([H, K, V]) or per word, chunks that do not divide T (the last one token), prefetch
    # forced either way, states and codes (argmin) at once, on exact tables: bit-identical
    # to the early order, and no output left unwritten (poisoned buffers)
    kt, bt, vt = (t.to(device).bfloat16() for t in _exact_tables(gen, 4, 1, H, 6, 5, heads))
    sym = torch.randint(0, 4, (3, 13), generator=gen).to(device)
    q = _int_like(gen, H, 6).to(device)
    codes = torch.randn(H, 4, 5, generator=gen).to(device)
    h0 = {"shared": _int_like(gen, H, 6, 5),
          "batch": _int_like(gen, 3, H, 6, 5), "none": None}[h0_kind]
    h0 = h0.to(device) if h0 is not None else None
    knobs = {} if words is None else {"words": words}
    for L, pf in ((13, None), (4, None), (1, None), (13, False), (4, True)):
        if pf is not None:
            knobs = dict(knobs, pf=pf)
        kw = dict(query=q, initial_state=h0, chunk_size=L, return_states=True)
        with poison_empty():
            a = _run_tabled_variant(sym, kt, bt, vt, _variant=dict(knobs, late=False), **kw)
            b = _run_tabled_variant(sym, kt, bt, vt, _variant=dict(knobs, late=True), **kw)
            ac = _run_tabled_variant(sym, kt, bt, vt, codes=codes, output="code",
                                     _variant=dict(knobs, late=False), **kw)
            bc = _run_tabled_variant(sym, kt, bt, vt, codes=codes, output="code",
                                     _variant=dict(knobs, late=True), **kw)
        for name in ("o", "final_state", "states"):
            assert torch.equal(getattr(a, name), getattr(b, name)), (name, L, pf)
        for name in ("code", "final_state", "states"):
            assert torch.equal(getattr(ac, name), getattr(bc, name)), (name, L, pf)
        assert bool((bc.code >= 0).all() and (bc.code < 4).all())


@pytest.mark.usefixtures("cols_kernel")
@pytest.mark.parametrize("n_h,T,late", [(1, 29, False), (1, 32, True), (2, 29, False),
                                         (3, 29, True), (1, 3, False), (2, 1, False)])
def test_deep_order_is_bit_identical(gen, device, poison_empty, n_h, T, late):
    # the "deep" order (four sub-steps an iteration, their table rows loaded first; the
    # rest, fewer than four, one at a time) runs the same sub-step on the same state: on
    # exact tables o, codes (argmin), every state and the final state equal the default's
    # bit for bit, with T * n_h leaving every remainder mod 4 (29, 58, 87, 32, 3, 2
    # sub-steps), readouts early and late, an initial state and none, and no output left
    # unwritten (poisoned buffers). Chunked runs keep the default loop (deep is inert)
    kt, bt, vt = (t.to(device).bfloat16() for t in _exact_tables(gen, 4, n_h, 2, 6, 5, True))
    sym = torch.randint(0, 4, (3, T), generator=gen).to(device)
    q = _int_like(gen, 2, 6).to(device)
    h0 = _int_like(gen, 3, 2, 6, 5).to(device)
    codes = torch.randn(2, 4, 5, generator=gen).to(device)
    for L, init in ((T, h0), (T, None), (max(1, T // 3), h0)):
        kw = dict(query=q, initial_state=init, chunk_size=L)
        with poison_empty():
            a = _run_tabled_variant(sym, kt, bt, vt, return_states=True,
                                    _variant={"late": late, "deep": False}, **kw)
            b = _run_tabled_variant(sym, kt, bt, vt, return_states=True,
                                    _variant={"late": late, "deep": True}, **kw)
            ac = _run_tabled_variant(sym, kt, bt, vt, codes=codes, output="code",
                                     _variant={"late": late, "deep": False}, **kw)
            bc = _run_tabled_variant(sym, kt, bt, vt, codes=codes, output="code",
                                     _variant={"late": late, "deep": True}, **kw)
        for name in ("o", "final_state", "states"):
            assert torch.equal(getattr(a, name), getattr(b, name)), (name, L)
        assert torch.equal(ac.code, bc.code) and torch.equal(ac.final_state, bc.final_state)
    for bad in (1, "yes"):
        with pytest.raises(E.KernelInputError, match="'deep' must be True, False or None"):
            _run_tabled_variant(sym, kt, bt, vt, query=q, _variant={"deep": bad})
    for other in ("mm", "legacy"):
        with pytest.raises(E.KernelInputError, match="'deep' is a cols_kernel order"):
            _run_tabled_variant(sym, kt, bt, vt, query=q, _variant={"deep": True, other: True})


@pytest.mark.usefixtures("cols_kernel")
def test_deep_order_on_float_tables_agrees_to_rounding(gen, device):
    # with arbitrary float tables the deep order is the same sub-steps; the compiler may
    # contract multiply-adds differently: equal to the float32 tolerance
    kt, bt, vt = (t.to(device).bfloat16() for t in _random_tables(gen, 4, 2, 3, 6, 5, False))
    sym = torch.randint(0, 4, (3, 15), generator=gen).to(device)
    q = torch.randn(3, 6, generator=gen).to(device)
    h0 = torch.randn(3, 3, 6, 5, generator=gen).to(device)
    kw = dict(query=q, initial_state=h0, chunk_size=15, return_states=True)
    a = _run_tabled_variant(sym, kt, bt, vt, _variant={"deep": False}, **kw)
    b = _run_tabled_variant(sym, kt, bt, vt, _variant={"deep": True}, **kw)
    for name in ("o", "final_state", "states"):
        assert_rel_close(getattr(b, name), getattr(a, name).double(), torch.float32, name=name)


@pytest.mark.usefixtures("cols_kernel")
def test_deep_order_launch(device, monkeypatch):
    # what the launcher passes: PF = 2 only for a sequential run pass with the deep order
    # (asked for, or the default through DEEP_DEFAULT), 1 for other sequential runs, 0 for
    # chunked run passes and summaries unless pf is forced; maxnreg only with PF = 2 on a GPU
    from statetrack.kernels.tabled import _launch, _plan

    seen: list = []
    real = _launch._kern.cols_kernel

    class Spy:
        def __getitem__(self, grid):
            def launch(*args, **meta):
                seen.append((meta["H0_MODE"] == 4, meta["PF"], meta.get("maxnreg")))
                return real[grid](*args, **meta)
            return launch

    monkeypatch.setattr(_launch._kern, "cols_kernel", Spy())
    kt, bt, vt = torch.ones(2, 1, 3), torch.ones(2, 1), torch.zeros(2, 1, 2)
    sym = torch.tensor([[1, 0, 1, 1, 0, 1]]).to(device)
    args = (sym, kt.to(device), bt.to(device), vt.to(device))
    q = torch.ones(3).to(device)
    from statetrack.kernels._common.triton import INTERPRET

    reg = None if INTERPRET else 255
    for default in (False, True):
        monkeypatch.setattr(_plan, "DEEP_DEFAULT", default)
        for L, var, want in ((6, {}, [(False, 2 if default else 1, reg if default else None)]),
                             (6, {"deep": True}, [(False, 2, reg)]),
                             (6, {"deep": False}, [(False, 1, None)]),
                             (6, {"deep": True, "pf": False}, [(False, 0, None)]),
                             (2, {"deep": True}, [(True, 0, None), (False, 0, None)]),
                             (2, {"deep": True, "pf": True}, [(True, 1, None),
                                                              (False, 1, None)])):
            seen.clear()
            _run_tabled_variant(*args, query=q, chunk_size=L, _variant=var).check()
            assert seen == want, (default, L, var, seen)


def test_variants_only_through_the_private_entry_point(device):
    kt, bt, vt = torch.ones(2, 1, 3), torch.ones(2, 1), torch.zeros(2, 1, 2)
    sym = torch.tensor([[1, 0, 1]])
    args = (sym.to(device), kt.to(device), bt.to(device), vt.to(device))
    q = torch.ones(3).to(device)
    with pytest.raises(TypeError, match="_variant"):
        run_tabled(*args, query=q, _variant={"legacy": True})
    # the private entry point binds run_tabled's own signature: its defaults, its TypeError
    with pytest.raises(TypeError, match="chunk"):
        _run_tabled_variant(*args, query=q, chunk=2, _variant={"legacy": True})
    a = _run_tabled_variant(*args, query=q, _variant={"legacy": True})
    b = run_tabled(*args, query=q)
    assert a.chunk_size == b.chunk_size == 3 and a.code is None and a.states is None
    assert torch.equal(a.o, b.o) and torch.equal(a.final_state, b.final_state)


# ----------------------------------------------------------------------------- constructions


def _perm_construction(letters, n, n_h, dtype=torch.bfloat16):
    """Tables of a group construction: letter = list of transpositions (applied first to
    last), padded with identity steps; one-hot state (V = 1), query (0..n-1)."""
    S = len(letters)
    kt = torch.zeros(S, n_h, n)
    bt = torch.zeros(S, n_h)
    perm = np.tile(np.arange(n), (S, 1))
    for a, swaps in enumerate(letters):
        assert len(swaps) <= n_h
        for j, (i1, i2) in enumerate(swaps):
            kt[a, j, i1], kt[a, j, i2], bt[a, j] = 1.0, -1.0, 1.0
            step = np.arange(n)
            step[i1], step[i2] = i2, i1
            perm[a] = step[perm[a]]
    vt = torch.zeros(S, n_h, 1)
    return kt.to(dtype), bt.to(dtype), vt.to(dtype), perm


def _dfa_states(perm, symbols, start=0):
    """Oracle: the state index after every token (numpy, vectorized over the batch)."""
    sym = symbols.cpu().numpy()
    B, T = sym.shape
    out = np.empty((B, T), dtype=np.int64)
    s = np.full(B, start)
    for t in range(T):
        s = perm[sym[:, t], s]
        out[:, t] = s
    return out


S5_LETTERS = [[], [(0, 1)], [(1, 2), (2, 3), (3, 4), (0, 1)], [(0, 4), (1, 3)], [(2, 4)]]
Z3_LETTERS = [[], [(1, 2), (0, 1)]]


@pytest.mark.parametrize("letters,n,n_h", [([[], [(0, 1)]], 2, 1), (Z3_LETTERS, 3, 2),
                                           (S5_LETTERS, 5, 4)])
@pytest.mark.parametrize("chunk", [None, 4])
@pytest.mark.parametrize("variant", [None, {"proj": False}, {"legacy": True}, {"mm": True}])
def test_group_constructions_exact_in_bfloat16(gen, device, letters, n, n_h, chunk, variant):
    kt, bt, vt, perm = _perm_construction(letters, n, n_h)
    kt, bt, vt = kt.to(device), bt.to(device), vt.to(device)
    B, T = 2, 13
    sym = torch.randint(0, len(letters), (B, T), generator=gen).to(device)
    h0 = torch.zeros(1, n, 1)
    h0[0, 0, 0] = 1.0
    query = torch.arange(n, dtype=torch.float32)
    codes = torch.arange(n, dtype=torch.float32)[:, None]
    want = _dfa_states(perm, sym)
    r = _run_tabled_variant(sym, kt, bt, vt, initial_state=h0.to(device), query=query.to(device),
                            codes=codes.to(device), output="code", chunk_size=chunk,
                            _variant=variant)
    assert np.array_equal(r.code[:, :, 0].cpu().numpy(), want)
    ro = _run_tabled_variant(sym, kt, bt, vt, initial_state=h0.to(device), query=query.to(device),
                             chunk_size=chunk, _variant=variant)
    assert np.array_equal(ro.o[:, :, 0, 0].cpu().numpy(), want.astype(np.float32))
    # the general kernel on the gathered bf16 tensors agrees exactly
    o, ht = _general(sym, kt, bt, vt, 1, h0.to(device).to(torch.bfloat16), query.to(device), n_h)
    assert torch.equal(o[:, :, 0, 0].float().cpu(), torch.from_numpy(want).float())
    assert torch.equal(ht, ro.final_state)


def test_state_matrix_construction_with_values(gen, device):
    # V = K: the state is a matrix, and values are written (a reset-like letter that
    # overwrites slot 0 with e_1: key e_0, beta 1, value e_1); exact in float32
    K = 3
    e = torch.eye(K)
    kt = torch.stack([torch.stack([e[0] - e[1]]), torch.stack([e[0]])])   # [2, 1, K]
    bt = torch.tensor([[1.0], [1.0]])
    vt = torch.stack([torch.zeros(1, K), e[1][None]])                     # [2, 1, K]
    sym = torch.randint(0, 2, (3, 15), generator=gen)
    h0 = torch.eye(K)[None]
    query = torch.tensor([1.0, 2.0, 4.0])
    args = [t.to(device) for t in (sym, kt, bt, vt)]
    seq = run_tabled(*args, initial_state=h0.to(device), query=query.to(device), chunk_size=15)
    ch = run_tabled(*args, initial_state=h0.to(device), query=query.to(device), chunk_size=4)
    o, ht = _general(*args, 1, h0.to(device), query.to(device), 1)
    assert torch.equal(seq.o, ch.o) and torch.equal(seq.o, o)
    assert torch.equal(seq.final_state, ch.final_state) and torch.equal(seq.final_state, ht)
    # exact check against explicit matrices
    S = h0[0].double()
    for t in range(15):
        kk, vv = kt[sym[0, t], 0].double(), vt[sym[0, t], 0].double()
        S = S - torch.outer(kk, kk @ S) + torch.outer(kk, vv)
    assert torch.equal(seq.final_state[0, 0].double().cpu(), S)


def test_empty_words(device):
    kt, bt, vt, _ = _perm_construction([[], [(0, 1)]], 2, 1, dtype=torch.float32)
    h0 = torch.tensor([[[1.0], [0.0]]], device=device)
    r = run_tabled(torch.zeros(3, 0, dtype=torch.int64, device=device), kt.to(device),
                   bt.to(device), vt.to(device), initial_state=h0,
                   query=torch.tensor([0.0, 1.0], device=device))
    assert r.o.shape == (3, 0, 1, 1) and torch.equal(r.final_state, h0.expand(3, 1, 2, 1))


def test_choose_chunk():
    cuda = torch.device("cuda")
    assert choose_chunk(1, 1, 100, device=torch.device("cpu")) == 100
    assert choose_chunk(640, 1, 4096, device=cuda) == 4096     # sequential from 640 chains
    assert choose_chunk(639, 1, 4096, device=cuda) < 4096
    for B, T in [(1, 10 ** 6), (64, 65536), (1024, 4096), (5000, 300), (3, 7)]:
        L = choose_chunk(B, 1, T, device=cuda)
        nc = -(-T // L)
        assert 1 <= L <= T
        assert nc == 1 or L >= 256            # chunks are never shorter than 256 tokens
        assert B * nc <= 4096 + B or nc == 1   # no more chains than needed


# ----------------------------------------------------------------------------- bad input


def _parity(device="cpu"):
    kt, bt, vt, _ = _perm_construction([[], [(0, 1)]], 2, 1, dtype=torch.float32)
    return kt.to(device), bt.to(device), vt.to(device)


def test_tabled_input_errors(device):
    kt, bt, vt = _parity(device)
    sym = torch.tensor([[0, 1, 1]], device=device)
    q = torch.tensor([0.0, 1.0], device=device)
    with pytest.raises(E.SymbolRangeError, match=r"symbols: ids must lie in 0 \.\. 1 .* got 2"):
        run_tabled(torch.tensor([[0, 2]], device=device), kt, bt, vt, query=q).check()
    with pytest.raises(E.KernelDtypeError, match="symbols: dtype float32 is not supported"):
        run_tabled(sym.float(), kt, bt, vt, query=q)
    with pytest.raises(E.KernelShapeError, match=r"beta_table: expected shape \[n_symbols, n_h\]"):
        run_tabled(sym, kt, bt[:1], vt, query=q)
    with pytest.raises(E.KernelShapeError, match="key_table: expected"):
        run_tabled(sym, kt[0], bt, vt, query=q)
    with pytest.raises(E.KernelDtypeError, match="value_table: dtype float64 differs"):
        run_tabled(sym, kt, bt, vt.double(), query=q)
    with pytest.raises(E.BetaRangeError, match="beta_table: values must lie in"):
        run_tabled(sym, kt, bt * 3, vt, query=q)
    bad = kt.clone()
    bad[1, 0, 0] = float("nan")
    run_tabled(sym, bad, bt, vt, query=q, check_finite_inputs=False)  # on request only
    with pytest.raises(E.NonFiniteInputError, match="key_table: holds a non-finite value"):
        run_tabled(sym, bad, bt, vt, query=q)                           # checked by default
    with pytest.raises(E.KernelInputError, match="query: required for output='o'"):
        run_tabled(sym, kt, bt, vt)
    with pytest.raises(E.KernelInputError, match="codes: required for output='code'"):
        run_tabled(sym, kt, bt, vt, query=q, output="code")
    with pytest.raises(E.KernelInputError, match="output: expected"):
        run_tabled(sym, kt, bt, vt, query=q, output="argmax")
    with pytest.raises(E.KernelInputError, match="chunk_size: expected an int >= 1"):
        run_tabled(sym, kt, bt, vt, query=q, chunk_size=0)
    # the switches are bools: a truthy "no" must not switch a check on (a cold user trial,
    # session 33); numpy's bools are bools
    for flag in ("return_states", "check_beta", "check_finite_inputs", "check_ids",
                 "sync_checks"):
        for bad in ("no", 1, None):
            with pytest.raises(E.KernelInputError, match=f"^{flag}: expected True or False"):
                run_tabled(sym, kt, bt, vt, query=q, **{flag: bad})
        run_tabled(sym, kt, bt, vt, query=q, **{flag: np.False_})
    with pytest.raises(E.KernelInputError, match="^check_ids: expected True or False"):
        TabledRunner(kt, bt, vt, batch=sym.shape[0], length=sym.shape[1], query=q,
                     check_ids="no", cuda_graph=False)
    with pytest.raises(E.KernelShapeError, match=r"query: expected shape \[K\] = \[2\]"):
        run_tabled(sym, kt, bt, vt, query=torch.zeros(3, device=device))
    with pytest.raises(E.KernelShapeError, match=r"initial_state: expected shape \[B, H, K, V\]"):
        run_tabled(sym, kt, bt, vt, query=q, initial_state=torch.zeros(2, 1, 2, 1, device=device))
    with pytest.raises(E.KernelShapeError, match=r"o_out: expected shape \[B, T, H, V\]"):
        run_tabled(sym, kt, bt, vt, query=q, o_out=torch.empty(1, 2, 1, 1, device=device))
    with pytest.raises(E.KernelInputError, match="code_out: given, but this output is not"):
        run_tabled(sym, kt, bt, vt, query=q,
                   code_out=torch.empty(1, 3, 1, dtype=torch.int32, device=device))


def test_tabled_output_buffers_sharing_memory_are_refused(device):
    """An output buffer that shares memory with a table, the ids, the initial state or
    another output is refused before anything runs, naming both (the kernels would read
    what they write: silently wrong results); separate buffers of the same shapes run."""
    kt, bt, vt = _parity(device)
    sym = torch.tensor([[0, 1, 1]], device=device)
    q = torch.tensor([0.0, 1.0], device=device)
    want = run_tabled(sym, kt, bt, vt, query=q, return_states=True)
    # every buffer a view of one block of memory, placed over what it must not touch
    mem = torch.zeros(64, device=device)
    vtab = mem[:vt.numel()].view(vt.shape)
    vtab.copy_(vt)
    o_over_table = mem[: 3].view(1, 3, 1, 1)                    # over the value table
    with pytest.raises(E.KernelInputError, match="o_out: shares memory with value_table"):
        run_tabled(sym, kt, bt, vtab, query=q, o_out=o_over_table)
    assert torch.equal(vtab, vt)                                  # refused before any write
    h0 = mem[8:10].view(1, 1, 2, 1)
    with pytest.raises(E.KernelInputError, match="final_state_out: shares memory with initial_state"):
        run_tabled(sym, kt, bt, vt, query=q, initial_state=h0, final_state_out=mem[9:11].view(1, 1, 2, 1))
    with pytest.raises(E.KernelInputError, match="states_out: shares memory with o_out"):
        run_tabled(sym, kt, bt, vt, query=q, return_states=True, o_out=mem[20:23].view(1, 3, 1, 1),
                   states_out=mem[22:28].view(1, 3, 1, 2, 1))
    codes = torch.tensor([[1.0], [-1.0]], device=device)
    s32 = sym.to(torch.int32)
    with pytest.raises(E.KernelInputError, match="code_out: shares memory with symbols"):
        run_tabled(s32, kt, bt, vt, query=q, codes=codes, output="code",
                   code_out=s32.view(1, 3, 1))
    # disjoint views of the same block run, and give the plain call's results
    res = run_tabled(sym, kt, bt, vt, query=q, return_states=True, o_out=mem[40:43].view(1, 3, 1, 1),
                     states_out=mem[44:50].view(1, 3, 1, 2, 1))
    assert torch.equal(res.o, want.o) and torch.equal(res.states, want.states)
    big = torch.zeros(2, 1, MAX_KV + 1, device=device)
    with pytest.raises(E.KernelShapeError, match="supports K, V <= 64"):
        run_tabled(sym, big, bt, vt, output="none")
    with pytest.raises(E.KernelDeviceError, match="query: is on device meta"):
        run_tabled(sym, kt, bt, vt, query=torch.zeros(2, device="meta"))
    meta = [t.to("meta") for t in (sym, kt, bt, vt, q)]
    with pytest.raises(E.KernelDeviceError,
                       match="symbols: is on the meta device, which holds no values"):
        run_tabled(*meta[:4], query=meta[4], sync_checks=True)
    with pytest.raises(E.KernelDeviceError,
                       match="key_table: is on the meta device, which holds no values"):
        run_tabled(*meta[:4], query=meta[4])
    with pytest.raises(E.KernelDeviceError,
                       match="beta_table: is on the meta device, which holds no values"):
        run_tabled(*meta[:4], query=meta[4], check_finite_inputs=False)
    with pytest.raises(E.KernelUnavailableError, match="cannot run on device meta"):
        run_tabled(*meta[:4], query=meta[4], check_beta=False, check_finite_inputs=False,
                   check_ids=False)


# ----------------------------------------------------------------------------- GPU, 10^6 tokens


@pytest.mark.gpu
@pytest.mark.parametrize("letters,n,n_h", [([[], [(0, 1)]], 2, 1), (S5_LETTERS, 5, 4)])
def test_exact_recognition_at_a_million_tokens(gen, letters, n, n_h):
    dev = torch.device("cuda")
    kt, bt, vt, perm = _perm_construction(letters, n, n_h)      # bfloat16 tables
    kt, bt, vt = kt.to(dev), bt.to(dev), vt.to(dev)
    B, T = 4, 10 ** 6
    sym = torch.randint(0, len(letters), (B, T), generator=gen).to(dev)
    h0 = torch.zeros(1, n, 1, device=dev)
    h0[0, 0, 0] = 1.0
    query = torch.arange(n, dtype=torch.float32, device=dev)
    codes = query[:, None]
    want = _dfa_states(perm, sym)
    for chunk in (None, T):
        r = run_tabled(sym, kt, bt, vt, initial_state=h0, query=query, codes=codes,
                       output="code", chunk_size=chunk)
        wrong = int((r.code[:, :, 0].cpu().numpy() != want).sum())
        assert wrong == 0, f"tabled (chunk {r.chunk_size}): {wrong} wrong outputs"
    o, _ = _general(sym, kt, bt, vt, 1, h0.to(torch.bfloat16), query, n_h)
    wrong = int((o[:, :, 0, 0].float().cpu().numpy() != want).sum())
    assert wrong == 0, f"general kernel (bf16): {wrong} wrong outputs"


def test_cols_kernel_keeps_its_int32_sub_step_indices_in_range(device):
    # cols_kernel indexes a chunk's sub-steps in int32 and reads ids up to 7 sub-steps
    # ahead before clamping (the deep order's next iteration; u + 2 in the one-ahead loop):
    # a chunk of 2**31 - 16 or more sub-steps takes the 64-bit legacy kernel instead

    from statetrack.kernels.tabled._inputs import check_inputs
    from statetrack.kernels.tabled._plan import make_plan

    sym, kt, bt, vt, q = (t.to(device) for t in (
        torch.zeros(1, 8, dtype=torch.int64), torch.ones(2, 2, 4), torch.ones(2, 2),
        torch.zeros(2, 2, 4), torch.ones(4)))
    inp = check_inputs(sym, kt, bt, vt, initial_state=None,
                       query=q, codes=None, scale=1.0, output="o",
                       return_states=False, chunk_size=None, check_beta=True,
                       check_finite_inputs=False, check_ids=True)
    assert inp.NH == 2
    for T, want in ((2 ** 30 - 9, "cols"), (2 ** 30 - 8, "legacy"), (2 ** 30, "legacy")):
        big = dataclasses.replace(inp, T=T)
        assert make_plan(big, T).kernel == want, T


def _random_run(gen, device, dtype, B, T, H, K, V, S, h0_kind, chunk):
    """The state dtype, random symbols and the keyword arguments (a random query, an
    initial state of ``h0_kind``: per word, shared or none, the chunk size) of a run."""
    sd = torch.float64 if dtype == torch.float64 else torch.float32
    sym = torch.randint(0, S, (B, T), generator=gen).to(device)
    h0 = {"batch": torch.randn(B, H, K, V, generator=gen, dtype=sd),
          "shared": torch.randn(H, K, V, generator=gen, dtype=sd), "none": None}[h0_kind]
    h0 = h0.to(device) if h0 is not None else None
    q = torch.randn(H, K, generator=gen, dtype=sd).to(device)
    return sd, sym, dict(query=q, initial_state=h0, chunk_size=chunk)


def _spy_proj(monkeypatch):
    """The passes that went through ``proj_kernel``: a list, ``"run"`` or ``"summary"`` a
    pass."""
    from statetrack.kernels.tabled import _launch

    seen = []
    for name, tag in (("_run_proj", "run"), ("_summary_proj", "summary")):
        orig = getattr(_launch.ColsLauncher, name)

        def spy(self, *a, _orig=orig, _tag=tag, **k):
            seen.append(_tag)
            return _orig(self, *a, **k)

        monkeypatch.setattr(_launch.ColsLauncher, name, spy)
    return seen


@pytest.mark.parametrize("B,T,H,K,V,S,n_h,heads,h0_kind,chunk,words,dtype", [
    (2, 13, 2, 8, 4, 3, 1, True, "batch", None, None, torch.float32),
    (1, 17, 1, 8, 8, 2, 2, False, "shared", 5, None, torch.float32),
    (3, 11, 2, 4, 3, 2, 2, False, "none", None, 2, torch.float32),   # shared tables, 2 queries
    (2, 9, 1, 6, 2, 3, 1, True, "none", 4, 1, torch.float32),
    (1, 6, 1, 16, 16, 4, 1, False, "batch", None, None, torch.bfloat16),  # the benchmark's kind
    (2, 7, 2, 5, 3, 2, 2, True, "batch", 3, None, torch.float64),    # two values a 16 bytes
])
def test_proj_equals_the_default_on_random_tables(gen, device, poison_empty, monkeypatch, B, T,
                                                  H, K, V, S, n_h, heads, h0_kind, chunk,
                                                  words, dtype):
    # the proj variant (the recurrence in the keys' coordinates: S * n_h <= K here) against
    # the default kernel: sequential and chunked (the summaries from [I | 0] and the run
    # pass from the chunk starts), heads with their own tables or shared ones, per-head
    # queries, every initial-state kind, several words a program; o and the final state to
    # the dtype's rounding, every output buffer NaN-poisoned first; the proj kernel ran
    # (spied) for the run pass, and for the summaries where the run is chunked
    seen = _spy_proj(monkeypatch)
    kt, bt, vt = (t.to(device) for t in _random_tables(gen, S, n_h, H, K, V, heads, dtype))
    sd, sym, kw = _random_run(gen, device, dtype, B, T, H, K, V, S, h0_kind, chunk)
    knobs = {} if words is None else {"words": words}
    a = _run_tabled_variant(sym, kt, bt, vt, _variant=dict(knobs, proj=False), **kw)
    assert seen == []
    nan = float("nan")
    o_buf = torch.full((B, T, H, V), nan, dtype=sd, device=device)
    ht_buf = torch.full((B, H, K, V), nan, dtype=sd, device=device)
    with poison_empty():
        b = _run_tabled_variant(sym, kt, bt, vt, _variant=dict(knobs, proj=True), o_out=o_buf,
                                final_state_out=ht_buf, **kw)
    assert seen == (["run"] if b.chunk_size >= T else ["summary", "run"])
    assert b.o is o_buf and b.final_state is ht_buf
    assert_rel_close(b.o, a.o.double(), sd, name="o")
    assert_rel_close(b.final_state, a.final_state.double(), sd, name="final_state")


@pytest.mark.parametrize("B,T,H,K,V,S,n_h,heads,h0_kind,L,dtype", [
    (2, 13, 2, 8, 4, 3, 1, True, "batch", 4, torch.float32),
    (1, 17, 1, 8, 8, 2, 2, False, "shared", 5, torch.float32),
    (3, 11, 2, 6, 3, 2, 2, False, "none", 3, torch.float32),
    (2, 40, 1, 16, 1, 4, 1, False, "batch", 8, torch.bfloat16),     # the benchmark's kind
    (2, 33, 1, 16, 16, 4, 1, False, "none", 8, torch.bfloat16),     # the same at V = 16
    (2, 9, 1, 5, 2, 2, 2, True, "batch", 4, torch.float64),
    (2, 9, 2, 6, 5, 2, 1, True, "shared", 4, torch.float64),       # values' basis, heads
])
def test_proj_basis_summaries(gen, device, poison_empty, monkeypatch, B, T, H, K, V, S, n_h,
                              heads, h0_kind, L, dtype):
    # a chunked run's summaries over the keys' R basis columns (and the V value columns, or
    # where R < V the values' R basis columns; each chunk's map rebuilt as I + K Psi K^T by
    # proj_maps_kernel) against those over the K + V columns of [I | 0], over the value
    # columns where the values' basis applies, and against cols_kernel: o and the final
    # state to the dtype's rounding, every output buffer NaN-poisoned first; the maps
    # kernel launched (spied, with the values' basis exactly where R < V) only where the
    # keys are well conditioned (PROJ_BASIS_MIN_SV)
    from statetrack.kernels.tabled import _launch, _plan

    monkeypatch.setattr(_launch, "PROJ_VBASIS", True)        # the default (pinned here)
    launched = []
    maps = _launch._kern.proj_maps_kernel

    class Spy:
        def __getitem__(self, grid):
            def launch(*args, **meta):
                launched.append((grid, meta["VBASIS"]))
                return maps[grid](*args, **meta)
            return launch

    monkeypatch.setattr(_launch._kern, "proj_maps_kernel", Spy())
    for _ in range(100):          # random keys well conditioned (R of 4 in K = 5 often not)
        kt, bt, vt = (t.to(device) for t in _random_tables(gen, S, n_h, H, K, V, heads, dtype))
        if _plan.proj_keys_condition(kt, H if heads else 1, K) >= _plan.PROJ_BASIS_MIN_SV:
            break
    else:
        raise AssertionError("no well-conditioned random keys in 100 draws")
    sd, sym, kw = _random_run(gen, device, dtype, B, T, H, K, V, S, h0_kind, L)
    q = kw["query"]
    a = _run_tabled_variant(sym, kt, bt, vt, _variant={"proj": False}, **kw)
    monkeypatch.setattr(_launch, "PROJ_BASIS", False)
    c = _run_tabled_variant(sym, kt, bt, vt, _variant={"proj": True}, **kw)
    assert launched == []
    monkeypatch.setattr(_launch, "PROJ_BASIS", True)
    o_buf = torch.full((B, T, H, V), float("nan"), dtype=sd, device=device)
    ht_buf = torch.full((B, H, K, V), float("nan"), dtype=sd, device=device)
    with poison_empty():
        b = _run_tabled_variant(sym, kt, bt, vt, _variant={"proj": True}, o_out=o_buf,
                                final_state_out=ht_buf, **kw)
    grid = (B * H * -(-T // L),)
    assert launched == [(grid, S * n_h < V)]
    refs = [(a, "cols_kernel"), (c, "K-column summaries")]
    if S * n_h < V:
        monkeypatch.setattr(_launch, "PROJ_VBASIS", False)
        refs.append((_run_tabled_variant(sym, kt, bt, vt, _variant={"proj": True}, **kw),
                     "value columns"))
        monkeypatch.setattr(_launch, "PROJ_VBASIS", True)
        assert launched[1:] == [(grid, False)]
    for ref, what in refs:
        assert_rel_close(b.o, ref.o.double(), sd, name=f"o against {what}")
        assert_rel_close(b.final_state, ref.final_state.double(), sd,
                         name=f"final state against {what}")
    # two keys 0.1 rad apart (sigma_min / sigma_max 0.05): proj, its summaries over [I | 0]
    ang = 0.1
    k2 = torch.zeros(2, 1, K)
    k2[0, 0, 0] = 1.0
    k2[1, 0, 0], k2[1, 0, 1] = math.cos(ang), math.sin(ang)
    assert 1e-3 < _plan.proj_keys_condition(k2, 1, K) < 0.2
    b2, v2 = torch.ones(2, 1), torch.randn(2, 1, V, generator=gen)
    sym2 = torch.randint(0, 2, (B, T), generator=gen).to(device)
    args = [t.to(device) for t in (k2, b2, v2)]
    launched.clear()
    q2 = q[0].float()
    r = _run_tabled_variant(sym2, *args, query=q2, chunk_size=L)
    r0 = _run_tabled_variant(sym2, *args, query=q2, chunk_size=L, _variant={"proj": False})
    assert launched == []
    assert_rel_close(r.o, r0.o.double(), torch.float32, name="o, ill-conditioned keys")


def test_proj_is_inert_where_it_does_not_apply(gen, device, monkeypatch):
    # more table rows a head than K (S * n_h > K): cols_kernel runs every pass,
    # bit-identical results; stored states or a code readout by the argmin (no code table):
    # cols_kernel's run pass (bit-identical sequentially; chunked, the summaries still take
    # proj, equal to rounding); where it applies, proj runs by default (PROJ_DEFAULT) and
    # when asked for; the knob's errors name it
    seen = _spy_proj(monkeypatch)
    kt, bt, vt = (t.to(device) for t in _random_tables(gen, 3, 2, 1, 5, 3, False))   # R 6 > 5
    sym = torch.randint(0, 3, (2, 9), generator=gen).to(device)
    q = torch.randn(5, generator=gen).to(device)
    off = {"proj": False}
    for L in (9, 4):
        a = _run_tabled_variant(sym, kt, bt, vt, query=q, chunk_size=L, _variant=off)
        b = _run_tabled_variant(sym, kt, bt, vt, query=q, chunk_size=L, _variant={"proj": True})
        assert seen == [] and torch.equal(a.o, b.o) and torch.equal(a.final_state, b.final_state)
    kt, bt, vt = (t.to(device) for t in _random_tables(gen, 2, 1, 1, 5, 3, False))   # R 2
    codes = torch.randn(4, 3, generator=gen).to(device)
    for L in (9, 4):
        for kw in (dict(return_states=True), dict(codes=codes, output="code")):
            a = _run_tabled_variant(sym % 2, kt, bt, vt, query=q, chunk_size=L, _variant=off,
                                    **kw)
            b = _run_tabled_variant(sym % 2, kt, bt, vt, query=q, chunk_size=L,
                                    _variant={"proj": True}, **kw)
            assert seen == ([] if L == 9 else ["summary"]), (kw, L)
            seen.clear()
            for name in ("o", "code", "states", "final_state"):
                x, y = getattr(a, name), getattr(b, name)
                if L == 9 or name == "code":
                    assert (x is None and y is None) or torch.equal(x, y), (kw, name)
                elif x is not None:
                    assert_rel_close(y, x.double(), torch.float32, name=f"{name} {kw}")
    b = _run_tabled_variant(sym % 2, kt, bt, vt, query=q, chunk_size=9, _variant={"proj": True})
    assert seen == ["run"]                                  # and where it applies, it runs
    for L, passes in ((9, ["run"]), (4, ["summary", "run"])):   # by default too
        seen.clear()
        c = run_tabled(sym % 2, kt, bt, vt, query=q, chunk_size=L)
        assert seen == passes
        if L == 9:
            assert torch.equal(c.o, b.o)
        else:
            assert_rel_close(c.o, b.o.double(), torch.float32, name="o, chunked by default")
    for bad, words in (({"proj": 1}, "'proj' must be True, False or None"),
                       ({"proj": True, "mm": True}, "'proj' runs proj_kernel")):
        with pytest.raises(E.KernelInputError, match=words):
            _run_tabled_variant(sym, kt, bt, vt, query=q, _variant=bad)


def test_proj_reports_a_bad_symbol_as_the_default_does(device):
    # an id past the tables raises the same error through the proj kernel (int64 and int32
    # ids are narrowed to one byte by a checking pass; one-byte ids the kernel checks itself)
    kt = torch.eye(4)[:2, None].to(device)                    # S 2, n_h 1, K 4: R 2
    bt, vt = torch.ones(2, 1).to(device), torch.ones(2, 1, 1).to(device)
    sym = torch.tensor([[0, 1, 5, 0]], device=device)
    for s in (sym, sym.to(torch.int32), sym.to(torch.uint8)):
        msgs = []
        for knobs in ({"proj": False}, {"proj": True}):
            with pytest.raises(E.KernelInputError) as ei:
                _run_tabled_variant(s, kt, bt, vt, query=torch.ones(4, device=device),
                                    _variant=knobs).check()
            msgs.append(str(ei.value))
        assert msgs[0] == msgs[1] and "5" in msgs[0]


def test_proj_rows_kernel_against_the_host_formula(gen, device):
    # proj_kernel's packed rows (one launch of proj_rows_kernel) against float64 on the host:
    # row y * H + h = [k_y . k_z (z < R) | beta_y, (k_y . q_h) * scale, w_h . k_y | v_y],
    # tables of head h % HT (shared tables: HT = 1 with two queries), the values at columns
    # C_OFF .. (a summary's rows: C_OFF = K) and zeros around them, float32 rounding
    from statetrack.floats import next_pow2
    from statetrack.kernels._common.triton import tl
    from statetrack.kernels.tabled import _tabled_kernels as kern

    for HT, H, c_off, BW in ((2, 2, 0, 4), (1, 2, 0, 4), (2, 2, 7, 16)):   # 7: a summary's
        S, NH, K, V = 3, 2, 7, 3
        R, RP = S * NH, 8
        kt, bt, vt = _random_tables(gen, S, NH, HT, K, V, True)
        q, w = torch.randn(H, K, generator=gen), torch.randn(H, K + 1, generator=gen)
        out = torch.full((R * H, RP + 4 + BW), float("nan"), device=device)
        kern.proj_rows_kernel[(R, H)](kt.to(device), bt.to(device), vt.to(device), q.to(device),
                                      w.to(device), out, 0.5, H=H, HT=HT,
                                      K=K, V=V, R=R, RP=RP, BW=BW, BR=next_pow2(R), BK=8,
                                      OUT_O=True, OUT_CODE=True, ACC=tl.float32, C_OFF=c_off)
        out = out.cpu().double().reshape(R, H, -1)
        k = kt.double().reshape(R, HT, K)[:, torch.arange(H) % HT]           # [R, H, K]
        assert_rel_close(out[:, :, :R], torch.einsum("yhk,zhk->yhz", k, k), torch.float32,
                         name="Gram rows")
        assert_rel_close(out[:, :, RP], bt.double().reshape(R, HT)[:, torch.arange(H) % HT],
                         torch.float32, name="beta")
        assert_rel_close(out[:, :, RP + 1], (k * q.double()[None] * 0.5).sum(-1), torch.float32,
                         name="k . q * scale")
        assert_rel_close(out[:, :, RP + 2], (k * w.double()[None, :, :K]).sum(-1),
                         torch.float32, name="w . k")
        assert (out[:, :, R:RP] == 0).all() and (out[:, :, RP + 3] == 0).all()   # padding
        vals = out[:, :, RP + 4:]
        assert_rel_close(vals[:, :, c_off:c_off + V],
                         vt.double().reshape(R, HT, V)[:, torch.arange(H) % HT], torch.float32,
                         name="v")
        assert (vals[:, :, :c_off] == 0).all() and (vals[:, :, c_off + V:] == 0).all()


def test_proj_rows_kept_per_table_version(gen, device, monkeypatch):
    # proj_kernel's packed rows are built once per version of the tables and query as passed
    # (launch's PROJ_ROWS): a second call with the same tensors launches no
    # proj_rows_kernel and gives the same outputs; an in-place write to any table or the
    # query, a new query tensor, another scale or a code readout builds them again, and
    # the outputs then follow the new values (against cols_kernel, which keeps nothing)
    from statetrack.kernels.tabled import _launch

    rows = _launch._kern.proj_rows_kernel
    built = []

    class Spy:
        def __getitem__(self, grid):
            def launch(*args, **meta):
                built.append(meta["C_OFF"])
                return rows[grid](*args, **meta)
            return launch

    monkeypatch.setattr(_launch._kern, "proj_rows_kernel", Spy())
    monkeypatch.setattr(_launch, "PROJ_ROWS", type(_launch.PROJ_ROWS)())
    kt, bt, vt = (t.to(device) for t in _random_tables(gen, 3, 1, 1, 6, 4, False))   # R 3
    sym = torch.randint(0, 3, (2, 11), generator=gen).to(device)
    q = torch.randn(6, generator=gen).to(device)

    def both(L, **kw):
        a = run_tabled(sym, kt, bt, vt, query=q, chunk_size=L, **kw)
        b = _run_tabled_variant(sym, kt, bt, vt, query=q, chunk_size=L, _variant={"proj": False},
                                **kw)
        assert_rel_close(a.o, b.o.double(), torch.float32, name=f"o, chunk {L}, {kw}")
        return a

    for L, per_call in ((11, 1), (4, 2)):          # sequential: run rows; chunked: + summary
        _launch.PROJ_ROWS.clear()                  # (the run rows are the same at both)
        built.clear()
        first = both(L)
        assert len(built) == per_call
        again = both(L)
        assert len(built) == per_call and torch.equal(again.o, first.o)
        for t in (kt, bt, vt, q):                  # an in-place write: built again
            t.mul_(0.5)
            both(L)
            assert len(built) == 2 * per_call, L
            both(L)
            assert len(built) == 2 * per_call
            built.clear()
            built.extend([0] * per_call)
        q = q.clone()                              # another tensor, the same values
        both(L)
        assert len(built) == 2 * per_call
        del built[per_call:]
        both(L, scale=0.5)
        assert len(built) == 2 * per_call
    built.clear()                                  # a code table (transpositions: exact)
    kt = torch.zeros(3, 1, 4)
    for a, (i, j) in enumerate([(0, 1), (1, 2), (2, 3)]):
        kt[a, 0, i], kt[a, 0, j] = 1.0, -1.0
    kt, bt, vt = kt.to(device), torch.ones(3, 1, device=device), torch.zeros(3, 1, 1, device=device)
    h0 = torch.zeros(1, 4, 1, device=device)
    h0[0, 0, 0] = 1.0
    q = torch.arange(4.0, device=device)
    kw = dict(initial_state=h0, query=q, output="code", codes=q[:, None].clone(), chunk_size=11)
    none = dict(kw, output="none")
    run_tabled(sym, kt, bt, vt, **none)               # no readout: rows without the table's
    assert len(built) == 1
    for calls in (1, 2):                              # the same tensors, read out by codes:
        a = run_tabled(sym, kt, bt, vt, **kw)         # rows with the code table's weights
        assert a.code_table is not None and len(built) == 2
    b = _run_tabled_variant(sym, kt, bt, vt, _variant={"proj": False}, **kw)
    assert torch.equal(a.code, b.code)
    h1 = torch.zeros(1, 4, 1, device=device)          # another initial state: another code
    h1[0, 2, 0] = 1.0                                 # table (its weights), rows again
    kw["initial_state"] = h1
    a = run_tabled(sym, kt, bt, vt, **kw)
    b = _run_tabled_variant(sym, kt, bt, vt, _variant={"proj": False}, **kw)
    assert len(built) == 3 and torch.equal(a.code, b.code)


@pytest.mark.gpu
@pytest.mark.parametrize("L", [64, 16])
def test_proj_rows_not_kept_inside_a_cuda_graph(gen, L):
    # a CUDA graph captured on the stream the tables were warmed on holds proj's rows
    # kernel (PROJ_ROWS keeps nothing while capturing): a replay after an in-place write
    # to the value table follows the new values, as an eager call does; two graphs of two
    # lengths on the same tables each give their eager outputs
    dev = torch.device("cuda")
    kt, bt, vt = (t.to(dev) for t in _random_tables(gen, 3, 1, 1, 6, 4, False))
    q = torch.randn(6, generator=gen).to(dev)
    syms = [torch.randint(0, 3, (2, T), generator=gen).to(dev) for T in (64, 32)]

    def f(sym):
        return run_tabled(sym, kt, bt, vt, query=q, chunk_size=min(L, sym.shape[1]),
                          check_ids=False).o

    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for sym in syms:                               # warm-up: rows cached on `side`
            f(sym)
    torch.cuda.current_stream().wait_stream(side)
    graphs, outs = [torch.cuda.CUDAGraph() for _ in syms], []
    for g, sym in zip(graphs, syms):
        with torch.cuda.graph(g, stream=side):
            outs.append(f(sym))
    for step in range(2):
        for g in reversed(graphs):                     # the second graph replayed first
            g.replay()
        torch.cuda.synchronize()
        for o, sym in zip(outs, syms):
            assert torch.equal(o, f(sym)), (step, sym.shape)
        vt.mul_(2.0)                                   # an in-place write between replays


def test_derived_tables_cache():
    # launch's cache of derived tables: per tensor identity and version, None passing
    # through; entries die with their tensors; the oldest dropped past maxsize; nothing
    # kept for inference-mode tensors; one key's entries apart from another's
    from statetrack.kernels.tabled._launch import DerivedTables

    cache = DerivedTables(maxsize=2)
    a, b, c = torch.ones(2), torch.ones(2), torch.ones(2)
    cache.put(("k",), (a, None), 1)
    assert cache.get(("k",), (a, None)) == 1 and cache.get(("j",), (a, None)) is None
    assert cache.get(("k",), (a.clone(), None)) is None            # another tensor
    a[0] = 2.0                                                      # a write: missed
    assert cache.get(("k",), (a, None)) is None
    cache.put(("k",), (a, None), 2)
    assert cache.get(("k",), (a, None)) == 2 and len(cache) == 1    # replaced, not added
    cache.put(("k",), (b,), 3)
    cache.put(("k",), (c,), 4)
    assert len(cache) == 2 and cache.get(("k",), (a, None)) is None  # the oldest dropped
    del c
    assert len(cache) == 1 and cache.get(("k",), (b,)) == 3          # died with its tensor
    b.data = torch.zeros(2)                     # new storage, same object and version
    assert cache.get(("k",), (b,)) is None
    cache.put(("k",), (b,), 6)
    b.data = b.data.double()                    # a new dtype (module.double() does this)
    assert cache.get(("k",), (b,)) is None
    with torch.inference_mode():
        t = torch.ones(2)
    cache.put(("k",), (t,), 5)
    assert cache.get(("k",), (t,)) is None and len(cache) == 1
    cache.clear()
    assert len(cache) == 0


def test_proj_needs_independent_keys(gen, device, monkeypatch):
    # proj rebuilds the final state from the sums of each row's d, bounded only where the
    # nonzero keys are independent: with dependent keys (tomita(5)-like k_3 = k_1 + k_2 - k_0
    # on integers with a 2**20 + 1 entry; parallel float keys) the default runs (spied) and
    # the results are the default's, exactly; with independent float keys over a longer
    # word proj's final state stays at float32 rounding of the float64 recurrence, as the
    # default's; a zero key (an identity symbol) does not count as dependent
    import numpy as np

    from statetrack.kernels.tabled import _plan

    seen = _spy_proj(monkeypatch)
    e = torch.eye(4)
    kt = torch.stack([e[0] - e[1], e[1] - e[2], e[2] - e[3], e[0] - e[3]])[:, None]
    assert not _plan.proj_keys_independent(kt, 1, 4)
    bt, vt = torch.ones(4, 1), torch.zeros(4, 1, 1)
    h0 = (e[:, :1] * (2 ** 20 + 1))[None]
    sym = torch.tensor([[0, 1, 2, 3] * 40])
    args = [t.to(device) for t in (sym, kt, bt, vt)]
    kw = dict(initial_state=h0.to(device), query=e[0].to(device), chunk_size=160)
    a = _run_tabled_variant(*args, **kw)
    b = _run_tabled_variant(*args, _variant={"proj": True}, **kw)
    assert seen == [] and torch.equal(a.o, b.o) and torch.equal(a.final_state, b.final_state)
    k2 = torch.tensor([[[0.6, 0.8]], [[1.2, 1.6]]])              # parallel keys
    assert not _plan.proj_keys_independent(k2, 1, 2)
    ind = torch.stack([e[0] - e[1], e[1] - e[2], 0 * e[0]])[:, None]
    assert _plan.proj_keys_independent(ind, 1, 4)               # a zero key is fine
    kt, bt, vt = _random_tables(gen, 3, 1, 1, 6, 2, False, torch.float64)
    kt, bt, vt = kt.float(), bt.float(), vt.float()
    h0 = torch.randn(1, 6, 2, generator=gen)
    T = 1500
    sym = torch.randint(0, 3, (1, T), generator=gen)
    S = h0[0].double().numpy().copy()
    for x in sym[0].tolist():
        k, b, v = kt[x, 0].double().numpy(), float(bt[x, 0]), vt[x, 0].double().numpy()
        S = S - b * np.outer(k, k @ S) + b * np.outer(k, v)
    for var in ({"proj": False}, {"proj": True}):
        seen.clear()
        r = _run_tabled_variant(sym.to(device), kt.to(device), bt.to(device), vt.to(device),
                                initial_state=h0.to(device), query=torch.ones(6, device=device),
                                chunk_size=T, _variant=var)
        assert seen == (["run"] if var["proj"] else [])
        assert_rel_close(r.final_state[0, 0].cpu(), torch.as_tensor(S), torch.float32,
                         name=f"final state after {T} tokens {var}")


def test_plans_remembered_per_what_they_read(monkeypatch, device):
    # cached_plan: the same plan object for the same dimensions, chunk size and variant; a
    # new one (equal to make_plan's) when any of them or COLS_MAX_K changes; the cache
    # emptied when full. _proj_keys: its decided plan reused for the same decision
    from statetrack.kernels.tabled import _plan
    from statetrack.kernels.tabled._inputs import check_inputs
    from statetrack.kernels.tabled.tabled import _proj_keys

    monkeypatch.setattr(_plan, "_PLANS", {})

    def inp(B=2, T=100, K=8, V=4, S=2):
        d = device        # check_inputs takes CPU tensors only under the interpreter
        return check_inputs(torch.zeros(B, T, dtype=torch.int64, device=d),
                            torch.eye(K, device=d)[:S, None], torch.ones(S, 1, device=d),
                            torch.zeros(S, 1, V, device=d), initial_state=None,
                            query=torch.ones(K, device=d), codes=None, scale=1.0, output="o",
                            return_states=False, chunk_size=None, check_beta=True,
                            check_finite_inputs=False, check_ids=True)

    a = _plan.cached_plan(inp(), 30)
    assert _plan.cached_plan(inp(), 30) is a and a == _plan.make_plan(inp(), 30)
    for other, args in ((inp(), (31,)), (inp(T=101), (30,)), (inp(B=3), (30,)),
                        (inp(K=6), (30,)), (inp(V=2), (30,)), (inp(S=3), (30,)),
                        (inp(), (30, _plan.Variant(legacy=True)))):
        b = _plan.cached_plan(other, *args)
        assert b is not a and b == _plan.make_plan(other, *args)
    monkeypatch.setattr(_plan, "COLS_MAX_K", 4)                # read by make_plan
    c = _plan.cached_plan(inp(), 30)
    assert c is not a and c.kernel == "legacy" and a.kernel == "cols"
    monkeypatch.setattr(_plan, "PLAN_CACHE_SIZE", len(_plan._PLANS))
    _plan.cached_plan(inp(T=7), 30)                            # full: emptied, then stored
    assert len(_plan._PLANS) == 1
    monkeypatch.setattr(_plan, "COLS_MAX_K", 32)
    i = inp()
    p = _plan.cached_plan(i, 30)
    d1 = _proj_keys(i, p, i.key_table)
    assert d1.proj is True and _proj_keys(i, p, i.key_table) is d1
    assert d1 == dataclasses.replace(p, proj=True, proj_basis=d1.proj_basis)


def _plan_inp(device, B=2, T=100, K=8, V=4, S=2, NH=1, dtype=torch.float32, heads=None,
              Hq=None, output="o", C=2):
    kt = torch.eye(K, dtype=dtype)[:S, None].expand(S, NH, K).contiguous()
    bt, vt = torch.ones(S, NH, dtype=dtype), torch.zeros(S, NH, V, dtype=dtype)
    if heads:
        kt = kt[:, :, None].expand(S, NH, heads, K).contiguous()
        bt = bt[:, :, None].expand(S, NH, heads).contiguous()
        vt = vt[:, :, None].expand(S, NH, heads, V).contiguous()
    q = torch.ones(K, dtype=dtype) if Hq is None else torch.ones(Hq, K, dtype=dtype)
    codes = torch.zeros(C, V, dtype=dtype) if output == "code" else None
    from statetrack.kernels.tabled._inputs import check_inputs
    kt, bt, vt, q = (t.to(device) for t in (kt, bt, vt, q))
    codes = None if codes is None else codes.to(device)
    return check_inputs(torch.zeros(B, T, dtype=torch.int64, device=device), kt, bt, vt,
                        initial_state=None, query=q, codes=codes, scale=1.0, output=output,
                        return_states=False,
                        chunk_size=None, check_beta=True, check_finite_inputs=False,
                        check_ids=True)


def test_plan_key_covers_every_field_make_plan_reads(monkeypatch, device):
    # cached_plan against make_plan on inputs differing in each field make_plan reads (dtype,
    # n_h, codes, table heads, query heads, device type; H only through choose_chunk)
    from statetrack.kernels.tabled import _plan

    monkeypatch.setattr(_plan, "_PLANS", {})
    base = _plan_inp(device)
    _plan.cached_plan(base, 30)                                  # in the cache first
    for other in (_plan_inp(device, dtype=torch.float64), _plan_inp(device, NH=2),
                  _plan_inp(device, output="code", C=5), _plan_inp(device, heads=3),
                  _plan_inp(device, Hq=3),
                  dataclasses.replace(base, device=torch.device(
                      "cpu" if base.device.type == "cuda" else "cuda"))):
        for cs in (30, None):
            b = _plan.cached_plan(other, cs)
            assert b == _plan.make_plan(other, cs), other
    # H alone changes nothing with a chunk size given, but does through choose_chunk
    cuda = dataclasses.replace(base, device=torch.device("cuda"), B=1, T=65536)
    cuda_h = dataclasses.replace(cuda, H=700)
    cpu_same = dataclasses.replace(cuda, device=torch.device("cpu"))
    assert _plan.cached_plan(cpu_same, None).chunk_size == 65536
    assert _plan.cached_plan(cuda, None) == _plan.make_plan(cuda, None)
    huge = dataclasses.replace(base, HT=2 ** 27)      # cols_kernel's 32-bit row offsets
    assert _plan.cached_plan(huge, 30).kernel == "legacy" == _plan.make_plan(huge, 30).kernel
    assert _plan.cached_plan(cuda_h, None) == _plan.make_plan(cuda_h, None)
    assert _plan.make_plan(cuda, None).chunk_size != _plan.make_plan(cuda_h, None).chunk_size


def test_proj_memo_keeps_the_decision_apart(device):
    # _proj_keys' memo: one cached plan, two key tables (dependent keys: no proj;
    # independent: proj), each decision its own plan
    from statetrack.kernels.tabled import _plan
    from statetrack.kernels.tabled._inputs import check_inputs
    from statetrack.kernels.tabled.tabled import _proj_keys

    e = torch.eye(3, device=device)
    dep = torch.stack([e[0] - e[1], e[1] - e[2], e[0] - e[2]])[:, None]   # dependent keys
    ind = torch.stack([e[0], e[1], e[2]])[:, None]

    def inp(kt):
        return check_inputs(torch.zeros(1, 8, dtype=torch.int64, device=device), kt,
                            torch.ones(3, 1, device=device), torch.zeros(3, 1, 1, device=device),
                            initial_state=None, query=torch.ones(3, device=device),
                            codes=None, scale=1.0, output="o", return_states=False,
                            chunk_size=None, check_beta=True, check_finite_inputs=False,
                            check_ids=True)
    i_dep, i_ind = inp(dep), inp(ind)
    p = _plan.cached_plan(i_ind, None)
    assert _plan.cached_plan(i_dep, None) is p
    assert _proj_keys(i_ind, p, ind).proj is True
    assert _proj_keys(i_dep, p, dep).proj is False
    assert _proj_keys(i_ind, p, ind).proj is True


@pytest.mark.parametrize("heads,n_h,L,states", [(False, 2, 5, False), (True, 1, 4, False),
                                                (False, 2, 6, True)])
def test_narrowing_in_the_summary_pass_equals_the_narrowing_pass(gen, device, monkeypatch,
                                                                 narrowing_spy, heads, n_h, L,
                                                                 states):
    # _launch.NARROW_IN_SUMMARY: the proj summary pass writes the one-byte ids the run pass
    # reads (one lane a sequence: column 0 of head 0; each sub-step's id, n_h a token) and
    # the outputs are bit-identical to the narrowing pass's, with two heads, two sub-steps a
    # token, a cols_kernel run pass (stored states) and int64 ids; no narrowing pass launched
    from statetrack.kernels.tabled import _launch

    H, K, V, S = 2, 8, 3, 3
    kt, bt, vt = (t.to(device) for t in _random_tables(gen, S, n_h, H, K, V, heads))
    sym = torch.randint(0, S, (3, 23), generator=gen).to(device)
    q = torch.randn(H, K, generator=gen).to(device)
    kw = dict(query=q, chunk_size=L, return_states=states)
    narrowed, fused = narrowing_spy
    want = run_tabled(sym, kt, bt, vt, **kw)
    assert len(narrowed) == 1 and not any(fused)        # the narrowing pass of its own
    narrowed.clear()
    fused.clear()
    monkeypatch.setattr(_launch, "NARROW_IN_SUMMARY", True)
    got = run_tabled(sym, kt, bt, vt, **kw)
    assert narrowed == [] and fused[0] is True
    assert torch.equal(got.o, want.o) and torch.equal(got.final_state, want.final_state)
    if states:
        assert torch.equal(got.states, want.states)


@pytest.mark.parametrize("heads,n_h,T,L,narrow", [(False, 1, 23, None, False),
                                                  (True, 2, 23, None, False),
                                                  (False, 1, 3, None, False),
                                                  (False, 2, 2, None, False),
                                                  (False, 2, 23, 5, False),
                                                  (True, 1, 31, 8, True),
                                                  (False, 1, 9, 9, False),
                                                  (False, 3, 23, None, False),
                                                  (True, 3, 23, 5, True),
                                                  (False, 4, 23, None, False),
                                                  (True, 4, 9, None, True),
                                                  (False, 1, 16, None, False),
                                                  (True, 2, 20, None, False)])
@pytest.mark.parametrize("pingpong,block", [(False, False), (True, False), (False, True),
                                            (True, True)])
def test_proj_rows_ahead_is_bit_identical(gen, device, monkeypatch, launch_spy, heads, n_h, T, L,
                                          narrow, pingpong, block):
    # _launch.PROJ_AHEAD (session 28): proj_kernel's sequential run passes load the next
    # iteration's rows during this one (chunked calls keep the plain order: on CUDA their run
    # pass went wrong at three sub-steps a token); the same operations in the same order, so
    # o and the final state are bit-identical to the default's: one and two sub-steps a token,
    # words shorter than an iteration (T * n_h < 4) and not a multiple of it, ids narrowed
    # in the summary pass, ids checked (an id out of range still raises); three sub-steps a
    # token (an iteration's four then start at another sub-step of a token: the token's end
    # by masked stores, END_PRED, there); with PINGPONG (session 31, opt-in: two iterations
    # a trip, the rows in two buffers) too: an even and an odd number of iterations, none;
    # and with IDS_BLOCK (session 31; the default since session 32: each block's ids in the
    # loop from one clamped start; every pass, chunked too, where n_h divides four; the same
    # ids read)
    from statetrack.kernels.tabled import _launch

    # R = S n_h rows of random unit keys in K dimensions, well apart from K (proj wants them
    # independent, smallest singular value >= PROJ_MIN_SV: R = K = 8 missed it at times)
    H, V, S = 2, 3, 3 if n_h < 3 else 2
    K = 8 if S * n_h <= 6 else 16
    kt, bt, vt = (t.to(device) for t in _random_tables(gen, S, n_h, H, K, V, heads))
    sym = torch.randint(0, S, (3, T), generator=gen).to(device)
    q = torch.randn(H, K, generator=gen).to(device)
    kw = dict(query=q, chunk_size=L)
    monkeypatch.setattr(_launch, "NARROW_IN_SUMMARY", narrow)
    monkeypatch.setattr(_launch, "PROJ_AHEAD", False)     # whatever STATETRACK_PROJ_AHEAD says
    monkeypatch.setattr(_launch, "PROJ_IDS_BLOCK", False)   # the plain order (before s32's)
    want = run_tabled(sym, kt, bt, vt, **kw)
    want_none = run_tabled(sym, kt, bt, vt, output="none", chunk_size=L)
    monkeypatch.setattr(_launch, "PROJ_AHEAD", True)
    # three sub-steps a token too (right with END_PRED, not the default: slower, session 31)
    monkeypatch.setattr(_launch, "AHEAD_NH", (1, 2, 3, 4))
    monkeypatch.setattr(_launch, "PROJ_PINGPONG", pingpong)
    monkeypatch.setattr(_launch, "PROJ_IDS_BLOCK", block)
    aheads = []
    launch_spy("proj_kernel", lambda grid, meta: aheads.append(
        (grid[1], meta.get("AHEAD", False), meta.get("END_PRED", False),
         meta.get("PINGPONG", False), meta.get("IDS_BLOCK", False))))
    got = run_tabled(sym, kt, bt, vt, **kw)
    sequential = L is None or L >= T
    # one launch a pass: the run pass (sequential, n_h in AHEAD_NH) takes AHEAD, with
    # END_PRED at three sub-steps a token (session 31) and PINGPONG where asked but not
    # with END_PRED (wrong on CUDA at n_h = 3, session 32); a chunked
    # call's passes take none of them; every pass takes IDS_BLOCK where asked (the summary
    # pass too, narrowing the ids there with it where NARROW_IN_SUMMARY)
    C = -(-T // L) if not sequential else 1
    assert aheads == ([(1, True, n_h == 3, pingpong and n_h != 3, block)] if sequential
                      else [(C, False, False, False, block)] * 2)
    assert got.o.abs().sum() > 0
    assert torch.equal(got.o, want.o) and torch.equal(got.final_state, want.final_state)
    got_none = run_tabled(sym, kt, bt, vt, output="none", chunk_size=L)
    assert torch.equal(got_none.final_state, want_none.final_state)
    bad = sym.clone()
    bad[1, T - 1] = S
    with pytest.raises(E.SymbolRangeError):      # on CUDA the flag is read later
        run_tabled(bad, kt, bt, vt, **kw)
        check_pending()


def test_proj_rows_ahead_by_default_where_validated(gen, device, monkeypatch, launch_spy):
    # the defaults (session 31): the rows ahead in sequential run passes with one, two or
    # four sub-steps a token (AHEAD_NH), and those compiled without maxnreg (the others,
    # three or five sub-steps a token, with 255; no maxnreg at all under the interpreter);
    # END_PRED with the rows ahead where 4 % n_h != 0 (only if AHEAD_NH is widened: below);
    # the ids prefetched (compiled code only) where a sequence has four or more columns
    from statetrack.kernels.tabled import _launch

    monkeypatch.setattr(_launch, "PROJ_AHEAD", True)      # whatever STATETRACK_PROJ_AHEAD says
    assert _launch.AHEAD_NH == (1, 2, 4)
    seen = []
    assert _launch.PROJ_IDS_BLOCK and not _launch.PROJ_PINGPONG
    blocks = []
    launch_spy("proj_kernel", lambda grid, meta: (seen.append(
        (meta.get("AHEAD", False), meta.get("END_PRED", False), meta.get("maxnreg"),
         meta["PF_IDS"])), blocks.append(meta.get("IDS_BLOCK", False))))
    for n_h, V in ((1, 3), (2, 4), (3, 4), (4, 1), (5, 5)):
        S = 2 if n_h <= 4 else 1            # proj_kernel wants S * n_h <= K rows
        # (K = 16: the rows' random keys well conditioned, as proj also wants)
        kt, bt, vt = (t.to(device) for t in _random_tables(gen, S, n_h, 1, 16, V, False))
        sym = torch.randint(0, S, (2, 13), generator=gen).to(device)
        run_tabled(sym, kt, bt, vt, query=torch.randn(1, 16, generator=gen).to(device))
        ahead = n_h in (1, 2, 4)
        pf = 64 if V >= 4 and not _launch.INTERPRET else 0
        assert seen == [(ahead, False, None if ahead or _launch.INTERPRET else 255, pf)], n_h
        seen.clear()
    monkeypatch.setattr(_launch, "AHEAD_NH", (1, 2, 3, 4))
    kt, bt, vt = (t.to(device) for t in _random_tables(gen, 2, 3, 1, 16, 3, False))
    run_tabled(torch.randint(0, 2, (2, 13), generator=gen).to(device), kt, bt, vt,
               query=torch.randn(1, 16, generator=gen).to(device))
    assert seen == [(True, True, None, 0)]
    assert blocks and all(blocks)               # the ids a block (session 32's default)


@pytest.mark.parametrize("narrow,prefetch,n_h,dtype", [(True, 64, 1, torch.int32),
                                                     (False, 0, 1, torch.int32),
                                                     (False, 64, 2, torch.int64),
                                                     (False, 16, 1, torch.int16)])
def test_sequential_ids_prefetched_or_read_wide(gen, device, monkeypatch, narrowing_spy, launch_spy,
                                                narrow, prefetch, n_h, dtype):
    # _launch.PROJ_PREFETCH_IDS (session 31's default, 64, where V >= PREFETCH_MIN_WC:
    # proj's sequential run pass prefetches the ids ahead into L1, compiled code only, never
    # under the interpreter, which runs no inline assembly) and _launch.NARROW_SEQUENTIAL =
    # False (opt-in: the run pass reads and checks the caller's wider ids, no narrowing
    # launch): o and the final state bit-identical to those without either, and an id out
    # of range still raises
    from statetrack.kernels.tabled import _launch

    H, K, V, S = 2, 8, 4, 3
    kt, bt, vt = (t.to(device) for t in _random_tables(gen, S, n_h, H, K, V, True))
    sym = torch.randint(0, S, (3, 37), generator=gen).to(dtype).to(device)
    q = torch.randn(H, K, generator=gen).to(device)
    monkeypatch.setattr(_launch, "PROJ_PREFETCH_IDS", 0)
    want = run_tabled(sym, kt, bt, vt, query=q)
    narrowed, _ = narrowing_spy
    assert len(narrowed) == 1
    narrowed.clear()
    monkeypatch.setattr(_launch, "NARROW_SEQUENTIAL", narrow)
    monkeypatch.setattr(_launch, "PROJ_PREFETCH_IDS", prefetch)
    seen = []
    launch_spy("proj_kernel", lambda grid, meta: seen.append((meta["PF_IDS"],
                                                               meta["CHECK_IDS"])))
    got = run_tabled(sym, kt, bt, vt, query=q)
    compiled = not _launch.INTERPRET
    assert seen == [(prefetch if compiled else 0, not narrow)]
    assert len(narrowed) == int(narrow)
    assert torch.equal(got.o, want.o) and torch.equal(got.final_state, want.final_state)
    bad = sym.clone()
    bad[2, 30] = S
    with pytest.raises(E.SymbolRangeError):
        run_tabled(bad, kt, bt, vt, query=q)
        check_pending()


@pytest.mark.parametrize("n_h,chunk", [(1, None), (2, None), (4, None), (1, 9), (2, 6)])
def test_ids_a_block_are_checked_in_the_run_pass(gen, device, monkeypatch, launch_spy, n_h,
                                                 chunk):
    # _launch.PROJ_IDS_BLOCK (session 31, opt-in; with PROJ_PINGPONG): the run pass reads and
    # checks the caller's ids itself (no narrowing launch: NARROW_SEQUENTIAL / NARROW_CHUNKED
    # off), each block of the loop from one clamped start; the outputs equal those without
    # it, and an id out of range anywhere (first block, a block read ahead, the middle, the
    # last full block, the tail) still raises
    from statetrack.kernels.tabled import _launch

    H, K, V, S, T = 2, 16, 4, 2, 37
    kt, bt, vt = (t.to(device) for t in _random_tables(gen, S, n_h, H, K, V, True))
    sym = torch.randint(0, S, (3, T), generator=gen).to(torch.int32).to(device)
    q = torch.randn(H, K, generator=gen).to(device)
    monkeypatch.setattr(_launch, "NARROW_SEQUENTIAL", False)
    monkeypatch.setattr(_launch, "NARROW_CHUNKED", False)
    want = run_tabled(sym, kt, bt, vt, query=q, chunk_size=chunk)
    monkeypatch.setattr(_launch, "PROJ_IDS_BLOCK", True)
    monkeypatch.setattr(_launch, "PROJ_PINGPONG", True)
    seen = []
    launch_spy("proj_kernel", lambda grid, meta: seen.append(
        (meta["H0_MODE"] < 4, meta.get("IDS_BLOCK", False), meta["CHECK_IDS"])))
    got = run_tabled(sym, kt, bt, vt, query=q, chunk_size=chunk)
    assert (True, True, True) in seen                    # the run pass: blocks, checked
    assert torch.equal(got.o, want.o) and torch.equal(got.final_state, want.final_state)
    for pos in (0, 5, 17, 32 // n_h, T - 1):
        bad = sym.clone()
        bad[2, pos] = S if pos % 2 else -1
        with pytest.raises(E.SymbolRangeError):
            run_tabled(bad, kt, bt, vt, query=q, chunk_size=chunk)
            check_pending()


@pytest.mark.parametrize("n_h,L", [(1, 7), (2, 5)])
def test_chunked_run_pass_prefetches_only_if_asked(gen, device, monkeypatch, launch_spy, n_h, L):
    # _launch.PREFETCH_CHUNKED (session 31, opt-in): a chunked call's proj run pass
    # prefetches the ids too (compiled code only); off by default; o and the final state
    # bit-identical either way, the prefetch clamped to each chunk's last id
    from statetrack.kernels.tabled import _launch

    H, K, V, S = 2, 8, 4, 3
    kt, bt, vt = (t.to(device) for t in _random_tables(gen, S, n_h, H, K, V, True))
    sym = torch.randint(0, S, (3, 37), generator=gen).to(device)
    q = torch.randn(H, K, generator=gen).to(device)
    seen = []
    launch_spy("proj_kernel", lambda grid, meta: seen.append((grid[1], meta.get("PF_IDS"))))
    want = run_tabled(sym, kt, bt, vt, query=q, chunk_size=L)
    chunks = -(-37 // L)
    # the summary pass takes no PF_IDS; the run pass's is 0 by default
    assert seen == [(chunks, None), (chunks, 0)]
    seen.clear()
    monkeypatch.setattr(_launch, "PREFETCH_CHUNKED", True)
    got = run_tabled(sym, kt, bt, vt, query=q, chunk_size=L)
    assert seen == [(chunks, None), (chunks, 0 if _launch.INTERPRET else 64)]
    assert torch.equal(got.o, want.o) and torch.equal(got.final_state, want.final_state)


@pytest.mark.parametrize("heads,n_h,V,h0,output", [(False, 1, 5, None, "o"),
                                                   (True, 1, 2, "shared", "o"),
                                                   (False, 2, 8, "per_word", "o"),
                                                   (True, 2, 3, None, "none"),
                                                   (False, 1, 5, "per_word", "states")])
def test_scan_from_sums_is_bit_identical(gen, device, monkeypatch, launch_spy, heads, n_h, V, h0,
                                         output):
    # _launch.SCAN_FROM_SUMS (session 28): the chunked call's scan makes each chunk's map
    # from proj's sums over the keys' basis itself; no proj_maps_kernel launch, and o, the
    # stored states and the final state bit-identical to the maps made by proj_maps_kernel:
    # the values' basis (R < V) and the value columns (R >= V), tables per head, initial
    # states shared and per word, final state only
    from statetrack.kernels.tabled import _launch

    H, K, S = 2, 8, 3
    kt, bt, vt = _random_tables(gen, S, n_h, H, K, V, heads)
    # orthonormal keys (each head's): well conditioned, so the summaries take the basis
    flat = kt.reshape(S * n_h, -1, K).transpose(0, 1)               # [heads, R, K]
    kt = torch.linalg.qr(flat.transpose(1, 2))[0].transpose(1, 2).transpose(0, 1)
    kt = kt.reshape(S, n_h, H, K) if heads else kt.reshape(S, n_h, K)
    kt, bt, vt = (t.contiguous().to(device) for t in (kt, bt, vt))
    sym = torch.randint(0, S, (3, 29), generator=gen).to(device)
    q = torch.randn(H, K, generator=gen).to(device)
    kw = dict(chunk_size=6)
    if output != "none":
        kw["query"] = q
    else:
        kw["output"] = "none"
    if output == "states":
        kw["return_states"] = True
    if h0 == "shared":
        kw["initial_state"] = torch.randn(H, K, V, generator=gen).to(device)
    elif h0 == "per_word":
        kw["initial_state"] = torch.randn(3, H, K, V, generator=gen).to(device)
    maps, scans = [], []
    launch_spy("proj_maps_kernel", lambda grid, meta: maps.append(grid))
    launch_spy("scan_kernel", lambda grid, meta: scans.append(meta.get("FROM_SUMS", False)))
    want = run_tabled(sym, kt, bt, vt, **kw)
    assert len(maps) == 1 and scans == [False]       # proj's basis summaries, maps kernel
    maps.clear()
    scans.clear()
    monkeypatch.setattr(_launch, "SCAN_FROM_SUMS", True)
    got = run_tabled(sym, kt, bt, vt, **kw)
    assert maps == [] and scans == [True]
    assert torch.equal(got.final_state, want.final_state)
    assert got.final_state.abs().sum() > 0
    if output != "none":
        assert torch.equal(got.o, want.o)
    if output == "states":
        assert torch.equal(got.states, want.states)


@pytest.mark.parametrize("value,want", [("1", True), ("on", True), ("", True), ("0", False),
                                        ("off", False)])
def test_proj_ahead_switch_from_the_environment(value, want):
    # STATETRACK_PROJ_AHEAD turns proj's rows-ahead order off (or on) for a whole process;
    # on by default since session 30 (validated on the H100)
    import subprocess
    import sys
    env = dict(os.environ, STATETRACK_PROJ_AHEAD=value)
    r = subprocess.run([sys.executable, "-c", "from statetrack.kernels.tabled import _launch; "
                        "print(_launch.PROJ_AHEAD)"], env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(want)


@pytest.mark.parametrize("value,want", [("", 64), ("yes", 64), ("0", 0), ("off", 0)])
def test_proj_prefetch_switch_from_the_environment(value, want):
    # STATETRACK_PROJ_PREFETCH turns the ids prefetch of proj's sequential run passes off
    # (64 tokens ahead by default since session 31)
    import subprocess
    import sys
    env = dict(os.environ, STATETRACK_PROJ_PREFETCH=value)
    r = subprocess.run([sys.executable, "-c", "from statetrack.kernels.tabled import _launch; "
                        "print(_launch.PROJ_PREFETCH_IDS)"], env=env, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(want)


def test_ids_kernel_compiles_for_one_symbol():
    # on CUDA, Triton passes an integer argument equal to 1 as a Python int unless the kernel
    # keeps it from specialization: with one symbol (S = 1), the ids' clamp S - 1 must not
    # need a tensor method (session 32: ids_u8_kernel failed to compile there; the
    # interpreter passes numbers, so only a compile for a GPU target shows it, which runs
    # without a GPU, in a process of its own without the interpreter)
    import subprocess
    import sys

    script = """
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
from statetrack.kernels.tabled import _tabled_kernels as kern
sig = {"src": "*i32", "dst": "*u8", "flags": "*i32", "gen": "i32", "n": "i32",
       "S": "constexpr", "CHECK": "constexpr", "BLOCK": "constexpr"}
for S in (1, 3):
    src = ASTSource(kern.ids_u8_kernel, sig, {"S": S, "CHECK": True, "BLOCK": 128})
    k = triton.compile(src, target=GPUTarget("cuda", 90, 32), options={"num_warps": 1})
    assert "tt.func" in k.asm["ttir"]
print("compiled")
"""
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["TRITON_DEFAULT_FP_FUSION"] = "1"
    r = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0 and "compiled" in r.stdout, r.stderr[-3000:]


@pytest.mark.parametrize("n_h,S,L", [(1, 1, None), (1, 2, None), (1, 3, 5), (1, 5, None),
                                     (2, 3, None), (3, 2, 4), (1, 7, None), (4, 2, None)])
def test_proj_chain_matches_the_default_order(gen, device, monkeypatch, launch_spy, n_h, S, L):
    # _launch.PROJ_CHAIN (session 33, opt-in): every sub-step's p_r by a tree of selects and
    # its d = beta v - beta p_r by one multiply-add; on random float tables o and the final
    # state within float32 rounding of the default order's (d rounds otherwise), for
    # R = S n_h rows from 1 to 8 (trees with a pair short at 3, 5, 6, 7), sequential (the
    # rows ahead) and chunked; launched with CHAIN on every proj pass
    from statetrack.kernels.tabled import _launch

    K, V, H = 16, 3, 2
    kt, bt, vt = (t.to(device) for t in _random_tables(gen, S, n_h, H, K, V, True))
    sym = torch.randint(0, S, (3, 29), generator=gen).to(device)
    q = torch.randn(H, K, generator=gen).to(device)
    h0 = torch.randn(3, H, K, V, generator=gen).to(device)
    kw = dict(query=q, initial_state=h0, chunk_size=L)
    monkeypatch.setattr(_launch, "PROJ_CHAIN", False)
    want = run_tabled(sym, kt, bt, vt, **kw)
    chains = []
    launch_spy("proj_kernel", lambda grid, meta: chains.append(meta.get("CHAIN", False)))
    monkeypatch.setattr(_launch, "PROJ_CHAIN", True)
    got = run_tabled(sym, kt, bt, vt, **kw)
    assert chains and all(chains), chains
    # (a few float32 roundings apart, ~1e-7: closer than assert_rel_close's float32 bound)
    for name in ("o", "final_state"):
        a, b = getattr(got, name).double(), getattr(want, name).double()
        assert float((a - b).norm() / b.norm()) < 1e-5, name


@pytest.mark.parametrize("T", [1, 4, 5])
def test_proj_chain_rounds_d_its_own_way(device, monkeypatch, T):
    # one key e_0, beta 1.5, v = 1 + 2^-23, h0's column e_0 - e_1, q = e_0 + e_1: token 0's
    # o is d. The default order: d = 1.5 (v - 1) = 3 * 2^-24 exactly; CHAIN: beta v rounds
    # to 1.5 + 2^-22, so d = fma(-1.5, 1, 1.5 + 2^-22) = 4 * 2^-24. Bit for bit, so CHAIN is
    # shown to reach the tail loop (T = 1: no main loop) and the main loop (T = 4: no tail)
    from statetrack.kernels.tabled import _launch

    kt = torch.zeros(1, 1, 4)
    kt[0, 0, 0] = 1.0
    bt = torch.full((1, 1), 1.5)
    vt = torch.full((1, 1, 1), 1.0 + 2.0 ** -23)
    h0 = torch.zeros(1, 4, 1)
    h0[0, 0, 0], h0[0, 1, 0] = 1.0, -1.0
    q = torch.tensor([1.0, 1.0, 0.0, 0.0])
    args = [t.to(device) for t in (torch.zeros(2, T, dtype=torch.int64), kt, bt, vt)]
    kw = dict(initial_state=h0.to(device), query=q.to(device), check_finite_inputs=False)
    for chain, want in ((False, 3.0), (True, 4.0)):
        monkeypatch.setattr(_launch, "PROJ_CHAIN", chain)
        got = run_tabled(*args, **kw).o[:, 0, 0, 0].double().cpu()
        assert got.tolist() == [want * 2.0 ** -24] * 2, (chain, got)


@triton.jit
def _proj_pick_probe(p_ptr, r_ptr, out, R: tl.constexpr, N: tl.constexpr):
    # _proj_pick of R rows (row y: p_ptr[y * N + i]) at the row indices r_ptr[i]
    i = tl.arange(0, N)
    p = ()
    for y in tl.static_range(R):
        p = p + (tl.load(p_ptr + y * N + i),)
    tl.store(out + i, kern._proj_pick(p, tl.load(r_ptr + i), R))


@pytest.mark.parametrize("R", range(1, 17))
def test_proj_pick_is_p_r(device, R):
    # the tree of selects picks exactly p[r] for every r < R (-0.0, inf and NaN kept as they
    # are: a select, no arithmetic)
    N = 64
    p = torch.arange(R * N, dtype=torch.float32).reshape(R, N) + 0.5
    p[:, 1], p[:, 2], p[:, 3] = -0.0, float("inf"), float("nan")
    r = torch.arange(N, dtype=torch.int32) % R
    out = torch.empty(N, dtype=torch.float32)
    p, r, out = p.to(device), r.to(device), out.to(device)
    _proj_pick_probe[(1,)](p, r, out, R=R, N=N)
    want = p[r.long(), torch.arange(N, device=device)]
    assert torch.equal(out.isnan(), want.isnan())
    ok = ~want.isnan()
    assert torch.equal(out[ok], want[ok])
    assert torch.equal(torch.signbit(out[ok]), torch.signbit(want[ok]))
