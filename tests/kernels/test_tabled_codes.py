"""The ``code`` output through a code table (one lane, no cross-lane reduction): identical to
the nearest-code argmin on the catalogue's constructions (sequential and chunked), a table
only where the module's conditions hold, and a miss reported instead of a wrong code."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import triton
import triton.language as tl

from statetrack.automata.families import catalogue
from statetrack.constructions import compile
from statetrack.constructions.export import symbol_tables
from statetrack.kernels import errors as E
from statetrack.kernels._common.triton import INTERPRET
from statetrack.kernels.tabled import (
    COLS_MAX_K,
    CodeTable,
    CodeTableMissError,
    build_code_table,
    run_tabled,
)
from statetrack.kernels.tabled._tabled_kernels import _lut_code


def _layers():
    out = []
    for entry in catalogue():
        if entry.name == "symmetric(6)":          # K = 720: beyond the tabled path
            continue
        for i, layer in enumerate(compile(entry.dfa).layers):
            out.append((f"{entry.name}[{i}]", layer))
    return out


LAYERS = _layers()


def _tables(layer, dtype="bfloat16", device="cpu"):
    tb = symbol_tables(layer, dtype=dtype, backend="torch")
    return tuple(t.to(device) for t in (
        tb["key_table"], tb["beta_table"], tb["value_table"], tb["initial_state"][None],
        tb["query"], torch.as_tensor(tb["codes"], dtype=torch.float32)))


def _exact_codes(kt, bt, vt, h0, q, codes, sym):
    """The nearest code of every prefix, in float64 on the host (exact for these integers)."""
    k, b, v = (t.double().cpu().numpy() for t in (kt, bt, vt))
    S = h0[0].double().cpu().numpy().copy()
    qn, cn = q.double().cpu().numpy(), codes.double().cpu().numpy()
    sym = sym.cpu()
    out = np.empty(sym.shape, dtype=np.int64)
    for w in range(sym.shape[0]):
        s = S.copy()
        for t, x in enumerate(sym[w].tolist()):
            for j in range(k.shape[1]):
                kk = k[x, j]
                s = s - b[x, j] * np.outer(kk, kk @ s) + b[x, j] * np.outer(kk, v[x, j])
            o = s.T @ qn
            out[w, t] = int(((cn - o) ** 2).sum(-1).argmin())
    return out


def test_every_group_layer_and_some_cascade_layers_have_a_table():
    have = {name: build_code_table(*_tables(layer)[:3], initial_state=_tables(layer)[3],
                                   query=_tables(layer)[4], codes=_tables(layer)[5], H=1)
            for name, layer in LAYERS}
    v1 = [name for name, layer in LAYERS if layer.value_dim == 1]
    assert v1 and all(have[n] is not None for n in v1)      # one column: the readout itself
    assert all(have[n].column == 0 and have[n].n_states >= 2 for n in v1)
    # cascade layers (V > 1) where one column decides the code exist too
    assert any(have[n] is not None for n, layer in LAYERS if layer.value_dim > 1)
    # the table maps each layer's own codes: the group languages' readout is the state index
    ct = have["cyclic(5)[0]"]
    assert ct.table.tolist() == [[0, 1, 2, 3, 4]] and ct.n_states == 5


def _has_table(layer):
    kt, bt, vt, h0, q, codes = _tables(layer)
    return build_code_table(kt, bt, vt, initial_state=h0, query=q, codes=codes,
                            H=1) is not None


TABLED = [(n, ly) for n, ly in LAYERS if ly.width <= COLS_MAX_K and _has_table(ly)]


@pytest.mark.parametrize("name,layer", TABLED, ids=[n for n, _ in TABLED])
def test_codes_through_the_table_equal_the_argmin_on_the_catalogue(gen, device, name, layer):
    # every catalogue layer with a code table that cols_kernel runs (K <= 32), bfloat16
    # tables as `statetrack check` runs them, chunked (summaries, scan, run pass), against
    # the argmin of the exact readout: what the argmin path computes on exact integers
    # (test_table_and_argmin_agree_* compares the two kernel paths directly)
    kt, bt, vt, h0, q, codes = _tables(layer, device=device)
    sym = torch.randint(0, kt.shape[0], (2, 7), generator=gen).to(device)
    lut = run_tabled(sym, kt, bt, vt, chunk_size=3, initial_state=h0, query=q, codes=codes,
                     output="code")
    assert lut.check().code_table is not None
    want = _exact_codes(kt, bt, vt, h0, q, codes, sym)
    assert np.array_equal(lut.code[:, :, 0].cpu().numpy(), want)


@pytest.mark.parametrize("name,dtype,chunk", [
    ("parity[0]", "float32", None), ("symmetric(4)[0]", "bfloat16", 5),
    ("flip_flop_language[1]", "float32", 4), ("dihedral(8)[0]", "bfloat16", None),
    ("modular_arithmetic(5)[1]", "bfloat16", 3)])
def test_table_and_argmin_paths_agree(gen, device, name, dtype, chunk):
    layer = dict(LAYERS)[name]
    kt, bt, vt, h0, q, codes = _tables(layer, dtype=dtype, device=device)
    sym = torch.randint(0, kt.shape[0], (3, 11), generator=gen).to(device)
    kw = dict(initial_state=h0, query=q, codes=codes, output="code", chunk_size=chunk)
    a = run_tabled(sym, kt, bt, vt, **kw).check()
    b = run_tabled(sym, kt, bt, vt, code_table=None, **kw)
    assert a.code_table is not None and b.code_table is None
    assert torch.equal(a.code, b.code)
    assert torch.equal(a.final_state, b.final_state)


def _unchecked(ct):
    """``ct`` without its fingerprint: a table ``run_tabled`` uses as given even for other
    inputs (as one made by hand), so that the kernels' own miss report can be provoked."""
    import dataclasses

    assert ct is not None and ct.fingerprint
    return dataclasses.replace(ct, fingerprint=b"")


@pytest.mark.usefixtures("cols_kernel")
@pytest.mark.parametrize("name,chunk", [("parity[0]", None), ("symmetric(4)[0]", 5),
                                        ("cyclic(3)[0]", None)])
def test_late_readout_codes_through_the_table(gen, device, name, chunk):
    # the "late" order (a token's code computed at the next token's step; the default at
    # n_h = 1 where the readout is a code table) stores the same codes through the code
    # table as the early order, and a table miss still raises. Only
    # parity[0] is n_h = 1; at symmetric(4)[0] (n_h = 12) and cyclic(3)[0] (n_h = 2) the
    # order is inert (the kernel runs as the default): the late order's misses, heads and
    # chunks are in the two tests below
    from statetrack.kernels.tabled.tabled import _run_tabled_variant

    layer = dict(LAYERS)[name]
    kt, bt, vt, h0, q, codes = _tables(layer, device=device)
    sym = torch.randint(0, kt.shape[0], (3, 17), generator=gen).to(device)
    kw = dict(initial_state=h0, query=q, codes=codes, output="code", chunk_size=chunk)
    a = _run_tabled_variant(sym, kt, bt, vt, _variant={"late": False}, **kw).check()
    b = _run_tabled_variant(sym, kt, bt, vt, _variant={"late": True}, **kw).check()
    d = _run_tabled_variant(sym, kt, bt, vt, **kw).check()
    assert a.code_table is not None and b.code_table is not None
    assert torch.equal(a.code, b.code) and torch.equal(a.final_state, b.final_state)
    assert torch.equal(d.code, b.code) and torch.equal(d.final_state, b.final_state)
    assert torch.equal(b.code[:, :, 0].cpu(), torch.as_tensor(
        _exact_codes(kt, bt, vt, h0, q, codes, sym), dtype=b.code.dtype))
    if name == "cyclic(3)[0]":
        ct = _unchecked(build_code_table(kt, bt, vt, initial_state=h0, query=q, codes=codes,
                                         H=1))
        with pytest.raises(CodeTableMissError, match="code table does not hold"):
            _run_tabled_variant(sym, kt, bt, vt, initial_state=2 * h0, query=q, codes=codes,
                                output="code", code_table=ct, _variant={"late": True}).check()


@pytest.mark.usefixtures("cols_kernel")
@pytest.mark.parametrize("words,h0_kind", [(None, "shared"), (2, "batch")])
def test_late_readout_codes_table_heads_chunks_one_byte(gen, device, words, h0_kind):
    # the late order through the code table at n_h = 1 (binary_divisible(3)[0]; the layers
    # above are n_h > 1 but parity, where the late order is inert), on two heads whose codes
    # differ, several words a program or two, chunks that do not divide T, int32 and uint8
    # code buffers: the default's codes, which are the exact ones
    from statetrack.kernels.tabled.tabled import _run_tabled_variant

    kt, bt, vt, h0, q, codes = _tables(dict(LAYERS)["binary_divisible(3)[0]"], device=device)
    assert kt.shape[1] == 1                                      # n_h = 1: the late order runs
    kt, bt, vt = (torch.stack([t, t], 2) for t in (kt, bt, vt))  # [S, 1, 2, ...]
    q2, codes2 = torch.stack([q, q]), torch.stack([codes, codes.flip(0)])
    h0 = h0.expand(2, *h0.shape[1:]).contiguous()                 # [H, K, V]
    if h0_kind == "batch":
        h0 = h0[None].expand(5, *h0.shape).contiguous()
    sym = torch.randint(0, kt.shape[0], (5, 11), generator=gen).to(device)
    want = torch.as_tensor(_exact_codes(kt[:, :, 0], bt[:, :, 0], vt[:, :, 0], h0.reshape(
        -1, *h0.shape[-2:])[:1], q, codes, sym), dtype=torch.int32)
    knobs = {} if words is None else {"words": words}
    for chunk in (None, 4, 1):
        kw = dict(initial_state=h0, query=q2, codes=codes2, output="code", chunk_size=chunk)
        a = _run_tabled_variant(sym, kt, bt, vt, _variant=dict(knobs, late=False), **kw).check()
        b = _run_tabled_variant(sym, kt, bt, vt, _variant=dict(knobs, late=True), **kw).check()
        buf = torch.full((5, 11, 2), 77, dtype=torch.uint8, device=device)
        n = _run_tabled_variant(sym, kt, bt, vt, _variant=dict(knobs, late=True, proj=True),
                                code_out=buf, **kw).check()      # proj: per-head tables too
        assert a.code_table is not None and b.code_table is not None and n.code is buf
        assert torch.equal(a.code, b.code) and torch.equal(a.final_state, b.final_state)
        assert torch.equal(buf.int(), b.code), chunk
        assert torch.equal(b.code[:, :, 0].cpu(), want), chunk
        assert torch.equal(b.code[:, :, 1].cpu(), 2 - want), chunk     # head 1: codes flipped


@pytest.mark.usefixtures("cols_kernel")
def test_late_order_is_the_default_exactly_where_a_code_table_reads_out(device, monkeypatch):
    # the default late order (session 11: the code table's readout 17 % faster on the
    # H200, o 19 % slower): the run pass launches LATE=True for a code table, False for o
    # and for argmin codes, and an explicit variant wins either way
    from statetrack.kernels.tabled import _launch
    from statetrack.kernels.tabled.tabled import _run_tabled_variant

    seen = []
    real = _launch._kern.cols_kernel

    class Spy:
        def __getitem__(self, grid):
            def launch(*args, **meta):
                if "LATE" in meta:                                   # the run pass
                    seen.append((meta["LATE"], meta["CODE_LUT"]))
                return real[grid](*args, **meta)
            return launch

    monkeypatch.setattr(_launch._kern, "cols_kernel", Spy())
    kt, bt, vt, h0, q, codes = _tables(dict(LAYERS)["binary_divisible(3)[0]"], device=device)
    sym = torch.randint(0, kt.shape[0], (2, 9), generator=torch.Generator().manual_seed(0))
    sym = sym.to(device)
    kw = dict(initial_state=h0, query=q)
    cases = [(dict(codes=codes, output="code"), {}, (True, True)),
             (dict(codes=codes, output="code", code_table=None), {}, (False, False)),
             (dict(output="o"), {}, (False, False)),
             (dict(codes=codes, output="code"), {"late": False}, (False, True)),
             (dict(output="o"), {"late": True}, (True, False))]
    for extra, var, want in cases:
        seen.clear()
        _run_tabled_variant(sym, kt, bt, vt, _variant=var, **kw, **extra).check()
        assert seen == [want], (extra, var, seen)


@pytest.mark.usefixtures("cols_kernel")
def test_deep_order_compiles_a_code_table_readout_without_maxnreg(device, monkeypatch):
    # the deep order is the sequential default (session 17); its maxnreg = 255 is for o and
    # argmin codes only: a code table's readout was faster without it on the H100
    from statetrack.kernels.tabled import _launch
    from statetrack.kernels.tabled.tabled import _run_tabled_variant

    seen = []
    real = _launch._kern.cols_kernel

    class Spy:
        def __getitem__(self, grid):
            def launch(*args, **meta):
                seen.append((meta["PF"], meta["CODE_LUT"], meta.get("maxnreg")))
                return real[grid](*args, **meta)
            return launch

    monkeypatch.setattr(_launch._kern, "cols_kernel", Spy())
    kt, bt, vt, h0, q, codes = _tables(dict(LAYERS)["binary_divisible(3)[0]"], device=device)
    sym = torch.randint(0, kt.shape[0], (2, 9), generator=torch.Generator().manual_seed(0))
    reg = None if INTERPRET else 255
    for extra, want in ((dict(codes=codes, output="code"), (2, True, None)),
                        (dict(codes=codes, output="code", code_table=None), (2, False, reg)),
                        (dict(output="o"), (2, False, reg))):
        seen.clear()
        r = _run_tabled_variant(sym.to(device), kt, bt, vt, initial_state=h0, query=q,
                                chunk_size=9, **extra).check()
        assert seen == [want], (extra, seen)
        assert (r.code_table is not None) == want[1]


@pytest.mark.usefixtures("cols_kernel")
@pytest.mark.skipif(not INTERPRET, reason="spies on the kernel's body: Triton's interpreter")
def test_the_late_order_moves_the_readout(monkeypatch):
    # what the launcher picks really changes the loop (the outputs cannot tell, they are the
    # same): in the late order every readout is gated (computed at the next token's step,
    # the first skipped: T + 1 of them), in the early one none is; at n_h = 2 the order is
    # inert. Counted in the interpreter, which runs the kernel's body as Python
    from statetrack.kernels.tabled import _tabled_kernels as kern
    from statetrack.kernels.tabled.tabled import _run_tabled_variant

    gated, real = [], kern._cols_out

    def spy(*args):
        gated.append(args[-3])                      # GATE (then ACC, LUT_ID)
        return real(*args)

    monkeypatch.setattr(kern, "_cols_out", spy)
    for name, n_h in (("parity[0]", 1), ("cyclic(3)[0]", 2)):
        kt, bt, vt, h0, q, codes = _tables(dict(LAYERS)[name])
        assert kt.shape[1] == n_h
        sym = torch.randint(0, kt.shape[0], (1, 7), generator=torch.Generator().manual_seed(1))
        kw = dict(initial_state=h0, query=q, chunk_size=7)
        for extra, var, want in ((dict(codes=codes, output="code"), {}, [True] * 8),
                                 (dict(codes=codes, output="code"), {"late": False}, [False] * 7),
                                 (dict(output="o"), {}, [False] * 7),
                                 (dict(output="o"), {"late": True}, [True] * 8)):
            gated.clear()
            r = _run_tabled_variant(sym, kt, bt, vt, _variant=var, **kw, **extra).check()
            assert r.code_table is not None or extra["output"] == "o"
            assert gated == (want if n_h == 1 else [False] * 7), (name, extra, var, gated)


def _write_swap_tables(device):
    # n_h = 1, K = 2, V = 1, readout S[0, 0]: symbol 0 writes 1 into S[0, 0], symbol 1 swaps
    # rows 0 and 1, symbol 2 is the identity; from the zero state S[:, 0] is 0/1 in each row
    e = torch.eye(2)
    kt = torch.stack([e[0], e[0] - e[1], e[0]])[:, None]
    bt = torch.tensor([[1.0], [1.0], [0.0]])
    vt = torch.tensor([[[1.0]], [[0.0]], [[0.0]]])
    q, codes = e[0], torch.tensor([[0.0], [1.0]])
    return tuple(t.to(device) for t in (kt, bt, vt, q, codes))


@pytest.mark.usefixtures("cols_kernel")
@pytest.mark.parametrize("chunk", [None, 2])
def test_late_readout_misses_exactly_where_the_default_does(device, chunk):
    # the late order's first iteration reads out the initial state, which is no token's:
    # its gate keeps an off-table initial state from reporting a miss; the last token's
    # readout (after the loop) still reports one. Both as the default does
    from statetrack.kernels.tabled.tabled import _run_tabled_variant

    kt, bt, vt, q, codes = _write_swap_tables(device)
    ct = _unchecked(build_code_table(kt, bt, vt,
                                     initial_state=torch.zeros(1, 2, 1, device=device),
                                     query=q, codes=codes, H=1))
    assert ct is not None and ct.n_states == 4 and ct.table.tolist() == [[0, 1]]
    kw = dict(query=q, codes=codes, output="code", code_table=ct, chunk_size=chunk)
    # readout 0.5 of the initial state is off the table; the first token writes S[0, 0] = 1
    off = torch.tensor([[[[0.5], [0.0]]]], device=device)
    sym = torch.tensor([[0, 2, 1, 1, 2]], device=device)
    for var in ({"late": False}, {}, {"late": True}):
        r = _run_tabled_variant(sym, kt, bt, vt, initial_state=off, _variant=var, **kw).check()
        assert r.code.flatten().tolist() == [1, 1, 0, 1, 1], var
    # S[1, 0] = 5 reaches the readout only at the last token (the swap): a miss there only
    far = torch.tensor([[[[0.0], [5.0]]]], device=device)
    sym = torch.tensor([[2, 2, 2, 1]], device=device)
    for var in ({"late": False}, {}, {"late": True}):
        with pytest.raises(CodeTableMissError, match="code table does not hold"):
            _run_tabled_variant(sym, kt, bt, vt, initial_state=far, _variant=var, **kw).check()
        r = _run_tabled_variant(sym[:, :3], kt, bt, vt, initial_state=far, _variant=var, **kw)
        assert r.check().code.flatten().tolist() == [0, 0, 0], var


@pytest.mark.parametrize("code_table", ["auto", None])
@pytest.mark.parametrize("name,chunk", [("symmetric(4)[0]", None), ("symmetric(4)[0]", 5),
                                        ("dihedral(8)[0]", 4)])
def test_one_byte_codes(gen, device, name, chunk, code_table):
    # a uint8 code_out (at most 256 codes) gets the same indices as the int32 output, through
    # the code table and the argmin, sequential and chunked: one byte a position
    layer = dict(LAYERS)[name]
    kt, bt, vt, h0, q, codes = _tables(layer, device=device)
    sym = torch.randint(0, kt.shape[0], (2, 13), generator=gen).to(device)
    kw = dict(initial_state=h0, query=q, codes=codes, output="code", chunk_size=chunk,
              code_table=code_table)
    wide = run_tabled(sym, kt, bt, vt, **kw).check()
    buf = torch.full((2, 13, 1), 77, dtype=torch.uint8, device=device)
    narrow = run_tabled(sym, kt, bt, vt, code_out=buf, **kw).check()
    assert narrow.code is buf and buf.dtype == torch.uint8
    assert torch.equal(buf.long(), wide.code.long())
    assert torch.equal(buf.long().cpu(), torch.as_tensor(
        _exact_codes(kt, bt, vt, h0, q, codes, sym))[..., None])


def test_one_byte_codes_refused_past_256_codes(device):
    kt = torch.zeros(2, 1, 2, device=device)
    bt = torch.zeros(2, 1, device=device)
    vt = torch.zeros(2, 1, 1, device=device)
    codes = torch.arange(257, dtype=torch.float32, device=device)[:, None]
    with pytest.raises(E.KernelDtypeError, match="code_out: a uint8 buffer .* C = 257"):
        run_tabled(torch.zeros(1, 3, dtype=torch.long, device=device), kt, bt, vt,
                   query=torch.ones(2, device=device), codes=codes, output="code",
                   code_out=torch.empty(1, 3, 1, dtype=torch.uint8, device=device))
    with pytest.raises(E.KernelDtypeError, match="code_out: expected dtype int32, got int16"):
        run_tabled(torch.zeros(1, 3, dtype=torch.long, device=device), kt, bt, vt,
                   query=torch.ones(2, device=device), codes=codes[:3], output="code",
                   code_out=torch.empty(1, 3, 1, dtype=torch.int16, device=device))


def test_no_table_where_the_conditions_fail(gen, device):
    kt, bt, vt, h0, q, codes = _tables(dict(LAYERS)["cyclic(3)[0]"], dtype="float32")
    ok = build_code_table(kt, bt, vt, initial_state=h0, query=q, codes=codes, H=1)
    assert ok is not None
    assert build_code_table(kt, bt, vt, initial_state=h0 + 0.5, query=q, codes=codes,
                            H=1) is None                       # not integer-valued
    assert build_code_table(kt, bt * 1.5, vt, initial_state=h0, query=q, codes=codes,
                            H=1) is None                       # beta ||k||^2 = 3 > 2
    assert build_code_table(kt, bt, vt, initial_state=h0, query=q, codes=codes, H=1,
                            max_states=2) is None              # 3 reachable states
    assert build_code_table(kt, bt, vt, initial_state=h0, query=q, codes=codes, H=1,
                            scale=0.5) is None                 # readout not integer
    r = run_tabled(torch.randint(0, 2, (1, 5), generator=gen).to(device), kt.to(device),
                   bt.to(device), vt.to(device), initial_state=h0.to(device), query=q.to(device),
                   codes=codes.to(device), output="code", scale=0.5)
    assert r.code_table is None


def test_a_table_miss_raises_instead_of_a_wrong_code(device):
    kt, bt, vt, h0, q, codes = _tables(dict(LAYERS)["cyclic(3)[0]"], dtype="float32",
                                       device=device)
    ct = _unchecked(build_code_table(kt, bt, vt, initial_state=h0, query=q, codes=codes, H=1))
    sym = torch.tensor([[1, 1, 0, 1]], device=device)
    # a table for other inputs is refused before anything runs (its fingerprint differs),
    # whichever input differs; for the same inputs it is used
    built = build_code_table(kt, bt, vt, initial_state=h0, query=q, codes=codes, H=1)
    for other in (dict(initial_state=2 * h0, query=q, codes=codes),
                  dict(initial_state=h0, query=2 * q, codes=codes),
                  dict(initial_state=h0, query=q, codes=codes + 1),
                  dict(initial_state=h0, query=q, codes=codes, scale=0.5)):
        with pytest.raises(E.KernelInputError, match="code_table: built for other inputs"):
            run_tabled(sym, kt, bt, vt, output="code", code_table=built, **other)
    with pytest.raises(E.KernelInputError, match="code_table: built for other inputs"):
        run_tabled(sym, kt, bt, vt.clone().add_(1), initial_state=h0, query=q, codes=codes,
                   output="code", code_table=built)
    same = run_tabled(sym, kt.clone(), bt, vt, initial_state=h0, query=q, codes=codes,
                      output="code", code_table=built).check()
    # tables shared by two heads, passed unexpanded (run_tabled expands them): the same inputs
    h2 = h0.expand(2, 3, 1)
    k3, b3, v3 = (kt[:, :, 0], bt[:, :, 0], vt[:, :, 0]) if kt.ndim == 4 else (kt, bt, vt)
    assert k3.ndim == 3
    two = build_code_table(k3, b3, v3, initial_state=h2, query=q, codes=codes, H=2)
    r2 = run_tabled(sym, k3, b3, v3, initial_state=h2, query=q, codes=codes, output="code",
                    code_table=two).check()
    assert torch.equal(r2.code, run_tabled(sym, k3, b3, v3, initial_state=h2, query=q,
                                           codes=codes, output="code").check().code)
    assert torch.equal(same.code, run_tabled(sym, kt, bt, vt, initial_state=h0, query=q,
                                             codes=codes, output="code").check().code)
    # unchecked, another initial state leaves the table's reachable set (o = 0, 2, 4: 4 is
    # off the table): the kernels report the miss
    with pytest.raises(CodeTableMissError, match="code table does not hold"):
        run_tabled(sym, kt, bt, vt, initial_state=2 * h0, query=q, codes=codes, output="code",
                   code_table=ct).check()
    with pytest.raises(E.KernelInputError, match=r"code_table: built for K=3, V=1, H=1, this "
                                                 r"run has K=3, V=1, H=2"):
        run_tabled(sym, kt, bt, vt, initial_state=h0.expand(2, 3, 1), query=q, codes=codes,
                   output="code", code_table=ct)
    with pytest.raises(E.KernelInputError, match="code_table: expected 'auto', a CodeTable"):
        run_tabled(sym, kt, bt, vt, initial_state=h0, query=q, codes=codes, output="code",
                   code_table="lut")
    # a CodeTable with another output is a mistake, said so (it would be ignored); 'auto'
    # and None stay usable with every output
    for out in ("o", "none"):
        with pytest.raises(E.KernelInputError, match="code_table: a CodeTable is read only "
                                                     "with output='code'"):
            run_tabled(sym, kt, bt, vt, initial_state=h0, query=q, codes=codes, output=out,
                       code_table=built)
        for ok in ("auto", None):
            run_tabled(sym, kt, bt, vt, initial_state=h0, query=q, codes=codes, output=out,
                       code_table=ok).check()
    assert isinstance(ct, CodeTable)


def test_heads_with_their_own_tables(gen, device):
    # two heads: Z_3 on head 0, parity embedded in K = 3 on head 1 (tables with a head axis)
    e = torch.eye(3)
    k = torch.zeros(2, 2, 2, 3)
    k[1, 0, 0], k[1, 1, 0] = e[1] - e[2], e[0] - e[1]          # head 0: 3-cycle
    k[1, 0, 1] = e[0] - e[1]                                   # head 1: swap 0 and 1
    b = torch.zeros(2, 2, 2)
    b[1, :, 0], b[1, 0, 1] = 1.0, 1.0
    v = torch.zeros(2, 2, 2, 1)
    h0 = e[:, :1].reshape(1, 3, 1).expand(2, 3, 1).contiguous()
    q = torch.tensor([[0.0, 1.0, 2.0], [0.0, 1.0, 2.0]])
    codes = torch.tensor([[[0.0], [1.0], [2.0]], [[1.0], [0.0], [2.0]]])
    sym = torch.randint(0, 2, (2, 7), generator=gen)
    kw = dict(initial_state=h0.to(device), query=q.to(device), codes=codes.to(device),
              output="code")
    k, b, v = k.to(device), b.to(device), v.to(device)
    a = run_tabled(sym.to(device), k, b, v, **kw).check()
    c = run_tabled(sym.to(device), k, b, v, code_table=None, **kw)
    assert a.code_table is not None and a.code_table.table.shape[0] == 2
    assert torch.equal(a.code, c.code)
    # head 1's code of state 0 is 1 (codes are swapped there)
    counts = sym.cumsum(1)
    assert torch.equal(a.code[:, :, 1].cpu(), torch.where(counts % 2 == 0, 1, 0).int())


def _proj_applies(layer):
    from statetrack.kernels.tabled._plan import proj_keys_independent

    kt = _tables(layer)[0]
    return (kt.shape[0] * kt.shape[1] <= min(layer.width, 16)
            and proj_keys_independent(kt, 1, layer.width))


#: the catalogue layers the proj variant applies to (table rows a head S * n_h <= K, K <= 16,
#: the nonzero keys linearly independent)
PROJ_LAYERS = [n for n, ly in TABLED if _proj_applies(ly)]


def test_proj_layers_are_the_expected_ones():
    # among the catalogue's layers with a code table: most constructions spend more
    # sub-steps a symbol than they have key dimensions (S * n_h > K), and tomita(5)[0] has
    # dependent keys (k_0 - k_1 - k_2 + k_3 = 0): proj is inert there
    assert PROJ_LAYERS == ["parity[0]", "cyclic(2)[0]", "binary_divisible(3)[0]"]
    ly = dict(LAYERS)["tomita(5)[0]"]
    kt = _tables(ly)[0]
    assert kt.shape[0] * kt.shape[1] <= ly.width and not _proj_applies(ly)


@pytest.mark.parametrize("name", PROJ_LAYERS)
@pytest.mark.parametrize("chunk", [None, 3])
@pytest.mark.parametrize("opt_in", [False, True])
def test_proj_is_bit_identical_on_constructions(gen, device, monkeypatch, name, chunk, opt_in):
    # the proj variant (the default here) on integer constructions (bfloat16 tables as
    # `statetrack check` runs them): o, the final state and the codes through the code
    # table bit-identical to cols_kernel's, and the codes the exact ones; sequential and
    # chunked (summaries and run pass through proj, spied; the summaries over the keys'
    # basis, their maps by proj_maps_kernel, and over the K columns of [I | 0] too); and
    # with session 31's opt-in loop orders (PROJ_PINGPONG, PROJ_IDS_BLOCK) and session 33's
    # shorter chain (PROJ_CHAIN: d by one multiply-add, exact here as beta v and beta p_r are)
    from statetrack.kernels.tabled import _launch
    from statetrack.kernels.tabled.tabled import _run_tabled_variant

    monkeypatch.setattr(_launch, "PROJ_PINGPONG", opt_in)
    monkeypatch.setattr(_launch, "PROJ_IDS_BLOCK", opt_in)
    monkeypatch.setattr(_launch, "PROJ_CHAIN", opt_in)

    ran = []
    for meth in ("_run_proj", "_summary_proj"):
        orig = getattr(_launch.ColsLauncher, meth)
        monkeypatch.setattr(_launch.ColsLauncher, meth,
                            lambda self, *a, _o=orig, _n=meth, **k: (ran.append(_n),
                                                                     _o(self, *a, **k))[1])
    maps = _launch._kern.proj_maps_kernel

    class Spy:
        def __getitem__(self, grid):
            ran.append("maps")
            return maps[grid]

    monkeypatch.setattr(_launch._kern, "proj_maps_kernel", Spy())
    kt, bt, vt, h0, q, codes = _tables(dict(LAYERS)[name], device=device)
    sym = torch.randint(0, kt.shape[0], (3, 23), generator=gen).to(device)
    kw = dict(initial_state=h0, query=q, chunk_size=chunk)
    for out, basis in (("o", True), ("code", True), ("o", False), ("code", False)):
        monkeypatch.setattr(_launch, "PROJ_BASIS", basis)
        extra = dict(codes=codes, output="code") if out == "code" else {}
        a = _run_tabled_variant(sym, kt, bt, vt, _variant={"proj": False}, **kw,
                                **extra).check()
        assert ran == []
        b = run_tabled(sym, kt, bt, vt, **kw, **extra).check()
        want = ["_summary_proj"] + ["maps"] * basis + ["_run_proj"]
        assert ran == (["_run_proj"] if chunk is None else want), (out, basis)
        ran.clear()
        assert torch.equal(a.final_state, b.final_state), out
        if out == "o":
            assert torch.equal(a.o, b.o)
        else:
            assert b.code_table is not None and torch.equal(a.code, b.code)
            assert torch.equal(b.code[:, :, 0].cpu(), torch.as_tensor(
                _exact_codes(kt, bt, vt, h0, q, codes, sym), dtype=b.code.dtype))


def _perm_tables_nh3(device):
    # two symbols, each three transpositions (sub-steps: beta 1, keys e_i - e_j), K = 16,
    # V = 1, the state e_0: the state stays a basis vector e_pos and o = q . e_pos = pos
    swaps = [[(0, 1), (1, 2), (2, 3)], [(0, 15), (3, 4), (4, 5)]]
    kt = torch.zeros(2, 3, 16)
    for a, row in enumerate(swaps):
        for j, (x, y) in enumerate(row):
            kt[a, j, x], kt[a, j, y] = 1.0, -1.0
    h0 = torch.zeros(1, 16, 1)
    h0[0, 0, 0] = 1.0
    q = torch.arange(16, dtype=torch.float32)
    tabs = tuple(t.to(device) for t in (kt, torch.ones(2, 3), torch.zeros(2, 3, 1), h0, q))
    return tabs, swaps


@pytest.mark.parametrize("chunk", [None, 4])
@pytest.mark.parametrize("chain", [False, True])
def test_end_pred_and_rows_ahead_codes_at_three_substeps(gen, device, launch_spy, chunk, chain):
    # proj_kernel's END_PRED (session 30, the n_h = 3 probe's: a token's end by masked stores;
    # what the launcher passes with the rows ahead where n_h does not divide four, if
    # _launch.AHEAD_NH is widened to n_h = 3) with the rows ahead (not with PINGPONG: wrong
    # on CUDA in session 32, never passed with END_PRED), forced on every proj launch: the codes through the code table
    # equal the plain order's and the exact ones (a permutation tracked), sequential and
    # chunked, and a state the table does not hold still raises the miss (masked miss flag);
    # with CHAIN (session 33) too: six rows (R = 6), so its tree of selects has a pair short
    (kt, bt, vt, h0, q), swaps = _perm_tables_nh3(device)
    sym = torch.randint(0, 2, (3, 23), generator=gen).to(device)
    kw = dict(initial_state=h0, query=q, codes=q[:, None].clone(), output="code",
              chunk_size=chunk, check_finite_inputs=False)
    want = run_tabled(sym, kt, bt, vt, **kw).check()
    exact = torch.empty(sym.shape, dtype=torch.int64)
    for w, word in enumerate(sym.tolist()):
        pos = 0
        for t, x in enumerate(word):
            for a, b in swaps[x]:
                pos = b if pos == a else a if pos == b else pos
            exact[w, t] = pos
    assert want.code_table is not None
    assert torch.equal(want.code[:, :, 0].cpu().long(), exact)
    forced = []
    launch_spy("proj_kernel", lambda grid, meta: forced.append(meta["H0_MODE"]),
               lambda meta: {**{k: x for k, x in meta.items() if k != "maxnreg"},
                             "END_PRED": True, "AHEAD": True, "CHAIN": chain})
    got = run_tabled(sym, kt, bt, vt, **kw).check()
    assert forced and torch.equal(got.code, want.code)
    ct = _unchecked(build_code_table(kt, bt, vt, initial_state=h0, query=q,
                                     codes=q[:, None].clone(), H=1))
    with pytest.raises(CodeTableMissError, match="code table does not hold"):
        run_tabled(sym, kt, bt, vt, **dict(kw, initial_state=2 * h0), code_table=ct).check()


def test_proj_reports_a_code_table_miss(device):
    # a state the code table does not hold (parity from twice its initial state) raises the
    # miss through the proj kernel, as through the default
    from statetrack.kernels.tabled.tabled import _run_tabled_variant

    kt, bt, vt, h0, q, codes = _tables(dict(LAYERS)["parity[0]"], device=device)
    ct = _unchecked(build_code_table(kt, bt, vt, initial_state=h0, query=q, codes=codes, H=1))
    sym = torch.tensor([[0, 1, 1, 0]], device=device)
    for knobs in ({"proj": False}, {"proj": True}):
        with pytest.raises(CodeTableMissError, match="code table does not hold"):
            _run_tabled_variant(sym, kt, bt, vt, initial_state=2 * h0, query=q, codes=codes,
                                output="code", code_table=ct, _variant=knobs).check()


def test_identity_code_tables_store_z_without_the_table(gen, device, monkeypatch):
    # a code table that maps every z it holds to itself is launched with LUT_ID (z stored as
    # the code, no table load) by both kernels: -1 where it holds every z (the group
    # languages'), a bit mask of the z held where the rest are -1 (the construction
    # benchmark's permutation tables: states 0-3 and 15 of 16), 0 (the table load) for other
    # tables; the codes are the exact ones either way, and a miss (a state the table does not
    # hold) still raises under LUT_ID, full or masked
    from statetrack.kernels.tabled import _launch
    from statetrack.kernels.tabled.tabled import _run_tabled_variant

    seen = []

    def spy(kname):
        real = getattr(_launch._kern, kname)

        class Spy:
            def __getitem__(self, grid):
                def launch(*args, **meta):
                    if meta.get("OUT_CODE"):
                        seen.append(meta.get("LUT_ID", 0))
                    return real[grid](*args, **meta)
                return launch
        return Spy()

    for kname in ("cols_kernel", "proj_kernel"):
        monkeypatch.setattr(_launch._kern, kname, spy(kname))

    def perm_tables():
        kt = torch.zeros(4, 1, 16)
        for a, (i, j) in enumerate([(0, 1), (1, 2), (2, 3), (0, 15)]):
            kt[a, 0, i], kt[a, 0, j] = 1.0, -1.0
        h0 = torch.zeros(1, 16, 1)
        h0[0, 0, 0] = 1.0
        q = torch.arange(16.0)
        return tuple(t.to(device) for t in (kt.bfloat16(), torch.ones(4, 1).bfloat16(),
                                            torch.zeros(4, 1, 1).bfloat16(), h0, q, q[:, None]))

    cases = [(name, _tables(dict(LAYERS)[name], device=device), want) for name, want in (
        ("cyclic(5)[0]", -1), ("parity[0]", -1), ("first_symbol[0]", 0),
        ("modular_arithmetic(5)[1]", 0))]
    cases.append(("permutations", perm_tables(), 1 + 2 + 4 + 8 + 2 ** 15))
    for name, (kt, bt, vt, h0, q, codes), want_mask in cases:
        ct = build_code_table(kt, bt, vt, initial_state=h0, query=q, codes=codes, H=1)
        assert (ct.id_mask, ct.identity) == (want_mask, want_mask == -1), name
        sym = torch.randint(0, kt.shape[0], (2, 13), generator=gen).to(device)
        want = torch.as_tensor(_exact_codes(kt, bt, vt, h0, q, codes, sym), dtype=torch.int32)
        for var in ({"proj": False}, {"proj": True}):
            for chunk in (None, 4):
                seen.clear()
                r = _run_tabled_variant(sym, kt, bt, vt, initial_state=h0, query=q, codes=codes,
                                        output="code", chunk_size=chunk, _variant=var).check()
                assert r.code_table is not None and seen and set(seen) == {want_mask}, name
                assert torch.equal(r.code[:, :, 0].cpu(), want), (name, var, chunk)
    for name, h_off in (("cyclic(5)[0]", None), ("permutations", 5)):
        kt, bt, vt, h0, q, codes = (_tables(dict(LAYERS)[name], device=device)
                                    if h_off is None else perm_tables())
        ct = _unchecked(build_code_table(kt, bt, vt, initial_state=h0, query=q, codes=codes,
                                         H=1))
        if h_off is None:
            h_bad = 3 * h0                                   # z past the table
        else:
            h_bad = torch.zeros_like(h0)
            h_bad[0, h_off, 0] = 1.0                         # state 5: a z the table lacks
        sym = torch.randint(0, kt.shape[0], (1, 6), generator=gen)
        # the word opens with symbol 1 twice: under 3 * h0, cyclic(5)'s z is 3 times the
        # count of 1s (mod 5), a held z (0 or 3) until the second 1; a word with fewer than two
        # 1s never leaves the table (a seed in about nine drew one); the permutation tables
        # never move state 5, so every word misses there
        sym[0, :2] = 1
        sym = sym.to(device)
        for var in ({"proj": False}, {"proj": True}):
            seen.clear()
            with pytest.raises(CodeTableMissError, match="code table does not hold"):
                _run_tabled_variant(sym, kt, bt, vt, initial_state=h_bad, query=q, codes=codes,
                                    output="code", code_table=ct, _variant=var).check()
            assert seen and set(seen) == {ct.id_mask} and ct.id_mask != 0, (name, var)


def test_build_code_table_names_the_bad_argument():
    # as run_tabled: a typed error naming the argument, never one from inside NumPy
    import numpy as np

    from statetrack.kernels.errors import KernelInputError
    from statetrack.kernels.tabled import build_code_table

    kt, bt, vt = torch.eye(3)[:2, None], torch.ones(2, 1) * 2, torch.zeros(2, 1, 2)
    ok = dict(initial_state=None, query=torch.ones(3), codes=torch.zeros(1, 2), H=1)
    assert build_code_table(kt, bt, vt, **ok) is not None
    for bad, name in ((dict(H=0), "H"), (dict(H=True), "H"), (dict(max_states=0), "max_states"),
                      (dict(query=torch.ones(5)), "query"), (dict(query=np.ones(3)), "query"),
                      (dict(codes=None), "codes"), (dict(codes=torch.zeros(1, 3)), "codes"),
                      (dict(codes=torch.zeros(3, 1, 2), H=2), "codes"),
                      (dict(initial_state=torch.zeros(1, 3, 2), H=2), "initial_state"),
                      (dict(initial_state=torch.zeros(3, 2)), "initial_state")):
        with pytest.raises(KernelInputError, match=f"^{name}:"):
            build_code_table(kt, bt, vt, **dict(ok, **bad))
    for args, name in (((kt[0], bt, vt), "key_table"), ((kt, bt[:1], vt), "beta_table"),
                       ((kt, bt, vt[..., None]), "value_table"),
                       ((kt, bt, torch.zeros(3, 1, 2)), "value_table")):
        with pytest.raises(KernelInputError, match=f"^{name}:"):
            build_code_table(*args, **ok)
    # the dtypes run_tabled takes (float tables of one dtype), as run_tabled says it
    for args, name in (((kt.long(), bt, vt), "key_table"), ((kt, bt.long(), vt), "beta_table"),
                       ((kt, bt, vt.double()), "value_table")):
        with pytest.raises(KernelInputError, match=f"^{name}: (dtype|expected)"):
            build_code_table(*args, **ok)
        with pytest.raises(KernelInputError, match=f"^{name}: (dtype|expected)"):
            run_tabled(torch.zeros(1, 2, dtype=torch.long), *args, output="code",
                       **{k: v for k, v in ok.items() if k != "H"})
    for args, name in (((kt, None, vt), "beta_table"), ((kt, bt, None), "value_table")):
        with pytest.raises(KernelInputError, match=f"^{name}:"):
            build_code_table(*args, **ok)
    for bad, name in ((dict(query=torch.ones(3, dtype=torch.long)), "query"),
                      (dict(codes=torch.zeros(1, 2, dtype=torch.int32)), "codes"),
                      (dict(initial_state=torch.zeros(1, 3, 2, dtype=torch.long)),
                       "initial_state")):
        with pytest.raises(KernelInputError, match=f"^{name}:"):
            build_code_table(kt, bt, vt, **dict(ok, **bad))
    # per-head tables: H must be their head count
    with pytest.raises(KernelInputError, match="^H:"):
        build_code_table(kt[:, :, None], bt[:, :, None], vt[:, :, None], **dict(ok, H=2))


@triton.jit
def _lut_code_probe(z, m, lut, cls, miss_out, NZ, N: tl.constexpr, LUT_ID: tl.constexpr,
                    M_FIXED: tl.constexpr, ACC: tl.constexpr):
    # _lut_code on N values of z (head 1 of the table), its stored codes and minimum
    i = tl.arange(0, N)
    zz = tl.load(z + i).to(ACC)
    mm = tl.load(m + i) != 0
    miss = _lut_code(zz, mm, lut, cls, i, tl.zeros([N], dtype=tl.int32), 1, NZ, ACC, LUT_ID,
                     M_FIXED)
    tl.store(miss_out + i, miss)


@pytest.mark.parametrize("acc", ["float32", "float64"])
def test_lut_code_readout_of_every_kind_of_z(device, acc):
    # the code table's readout (_lut_code, both kernels') on the values z can take: an integer
    # in 0 .. NZ - 1 reads its code; -1, past the table, not an integer, infinite or NaN is a
    # miss (-1 stored, the minimum < 0); lanes outside the mask store nothing and, unless the
    # mask is fixed (M_FIXED: masked once by the caller), leave the minimum alone. For the
    # table load (LUT_ID 0), the identity (-1) and a mask of held z (the others miss), below
    # 2^31 (tested in 32 bits, z clamped below 31: z = 32 must not read bit 0 under NZ = 45)
    # and above (64 bits)
    probe = _lut_code_probe
    vals = [0.0, -0.0, 1.0, 5.0, 2.0, 3.0, -1.0, -0.5, -1.5, 0.5, 5.5, 6.0, 7.0, 1e10, -1e10,
            float("inf"), float("-inf"), float("nan"), 4.0, 2.0 ** 31, -(2.0 ** 31), 4.25,
            33.0, 40.0, 44.0, 45.0, 32.0, -2.0, 6.5, 1e-30, -1e-30, 3.0]
    N = len(vals)
    dt = getattr(torch, acc)
    z = torch.tensor(vals, dtype=dt, device=device)
    lut = torch.full((2, 6), -5, dtype=torch.int32)
    lut[1] = torch.tensor([10, -1, 12, 13, -1, 15], dtype=torch.int32)
    lut = lut.to(device)
    wide = (1 << 40) | (1 << 33) | 45
    for NZ, lut_id in ((6, 0), (6, -1), (6, 45), (45, 45), (45, wide), (45, -1)):
        for m_fixed in (False, True):
            m = torch.ones(N, dtype=torch.int32)
            m[::5] = 0
            m = m.to(device)
            cls = torch.full((N,), -7, dtype=torch.int32, device=device)
            miss = torch.empty(N, dtype=torch.int32, device=device)
            probe[(1,)](z, m, lut, cls, miss, NZ, N=N, LUT_ID=lut_id, M_FIXED=m_fixed,
                        ACC=tl.float32 if acc == "float32" else tl.float64)
            want = []
            for v, mk in zip(vals, m.tolist()):
                held = v == v and v in range(NZ) and float(int(v)) == v
                if held:
                    k = int(v)
                    code = (int(lut[1, k]) if lut_id == 0 else
                            k if lut_id == -1 or (lut_id >> k) & 1 else -1)
                else:
                    code = -1
                want.append((code, mk))
            got_cls, got_miss = cls.cpu().tolist(), miss.cpu().tolist()
            for i, ((code, mk), c, mi) in enumerate(zip(want, got_cls, got_miss)):
                ctx = (NZ, lut_id, m_fixed, vals[i])
                assert c == (code if mk else -7), ctx
                if mk:
                    assert (mi < 0) == (code < 0) and mi <= 0, ctx
                elif not m_fixed:               # (fixed: the caller masks these lanes)
                    assert mi == 0, ctx


def test_lut_code_float32_table_past_exact_integers_misses(device):
    # a float32 readout of a table wider than 2^24 (by hand, or max_entries > 2^24): z past
    # 2^24 - 1 is no exact integer of the float32 state, so it misses instead of reading the
    # entry after the table (NZ - 1 rounds up in float32: session 32's review)
    NZ = 2 ** 24 + 4
    vals = [2.0 ** 24 + 4, 2.0 ** 24 + 2, 2.0 ** 24, 5.0, 2.0 ** 24 - 1, -1.0, 0.0, 7.0]
    z = torch.tensor(vals, dtype=torch.float32, device=device)
    m = torch.ones(len(vals), dtype=torch.int32, device=device)
    lut = torch.zeros(1, dtype=torch.int32, device=device)     # the identity: never loaded
    cls = torch.full((len(vals),), -7, dtype=torch.int32, device=device)
    miss = torch.empty(len(vals), dtype=torch.int32, device=device)
    _lut_code_probe[(1,)](z, m, lut, cls, miss, NZ, N=len(vals), LUT_ID=-1, M_FIXED=True,
                          ACC=tl.float32)
    want = [-1, -1, -1, 5, 2 ** 24 - 1, -1, 0, 7]
    assert cls.cpu().tolist() == want
    assert [x < 0 for x in miss.cpu().tolist()] == [c < 0 for c in want]


def _hand_table(K, V, column, NZ, w):
    # an identity code table made by hand (z = the state's column `column` . w)
    return CodeTable(column=column, weights=torch.tensor([w + [0.0]], dtype=torch.float64),
                     table=torch.arange(NZ, dtype=torch.int32)[None], n_states=2, K=K, V=V,
                     H=1)


def test_proj_code_ignores_the_other_columns_off_the_table(device, launch_spy):
    # V = 2, the code read from column 0; column 1 holds values whose z would be off the
    # table: proj's miss minimum takes every lane's code and masks the code column only at
    # the end, so those lanes never raise a miss (session 32's review: no test had V > 1)
    kt = torch.zeros(2, 1, 4)
    kt[0, 0, 0], kt[0, 0, 1] = 1.0, -1.0                 # symbol 0 swaps rows 0 and 1
    bt = torch.tensor([[1.0], [0.0]])
    vt = torch.zeros(2, 1, 2)
    h0 = torch.tensor([[[1.0, 50.0], [0.0, -50.0], [0.0, 0.0], [0.0, 0.0]]])
    ct = _hand_table(4, 2, 0, 2, [1.0, 0.0, 0.0, 0.0])   # z = S[0, 0]: 0 or 1
    seen = []
    launch_spy("proj_kernel", lambda grid, meta: seen.append(meta.get("OUT_CODE")))
    from statetrack.kernels.tabled.tabled import _run_tabled_variant

    sym = torch.tensor([[0, 1, 0], [1, 1, 0], [0, 0, 1]], device=device)
    r = _run_tabled_variant(sym, *(t.to(device) for t in (kt, bt, vt)),
                            initial_state=h0.to(device), query=torch.ones(4, device=device),
                            codes=torch.zeros(2, 2, device=device), output="code",
                            code_table=ct, _variant={"proj": True}).check()
    assert seen and all(seen)
    assert r.code[:, :, 0].cpu().tolist() == [[0, 0, 1], [1, 1, 0], [0, 1, 1]]


@pytest.mark.parametrize("chain", [False, True])
def test_end_pred_codes_ignore_mid_token_states_off_the_table(device, launch_spy, chain):
    # n_h = 3 with the token's end by masks (END_PRED, rows ahead, forced): the states
    # between a token's sub-steps (z = 7, 8) are off the table (it holds 0 and 1) but are
    # no readouts, so no miss is raised (session 32's review: the mid-token states of the
    # END_PRED test stayed on the table); with CHAIN (session 33) too
    K = 16
    kt = torch.zeros(2, 3, K)
    bt = torch.zeros(2, 3)
    for j, (x, y) in enumerate([(0, 7), (7, 8), (8, 1)]):   # symbol 0: e0 -> e7 -> e8 -> e1
        kt[0, j, x], kt[0, j, y], bt[0, j] = 1.0, -1.0, 1.0
    vt = torch.zeros(2, 3, 1)
    h0 = torch.zeros(1, K, 1)
    h0[0, 0, 0] = 1.0
    ct = _hand_table(K, 1, 0, 2, [float(i) for i in range(K)])   # z = the state's index
    forced = []
    launch_spy("proj_kernel", lambda grid, meta: forced.append(meta["H0_MODE"]),
               lambda meta: {**{k: x for k, x in meta.items() if k != "maxnreg"},
                             "END_PRED": True, "AHEAD": True, "CHAIN": chain})
    from statetrack.kernels.tabled.tabled import _run_tabled_variant

    sym = torch.tensor([[0, 1, 1, 1, 1], [1, 1, 0, 1, 1]], device=device)
    r = _run_tabled_variant(sym, *(t.to(device) for t in (kt, bt, vt)),
                            initial_state=h0.to(device), query=torch.ones(K, device=device),
                            codes=torch.zeros(2, 1, device=device), output="code",
                            code_table=ct, _variant={"proj": True}).check()
    assert forced
    assert r.code[:, :, 0].cpu().tolist() == [[1, 1, 1, 1, 1], [0, 0, 1, 1, 1]]


def test_code_tables_are_at_most_exact_limit_wide():
    # a column key whose z spans more than 2^24 values makes no table, whatever
    # max_entries allows (z - z0 would be no exact float32 integer: the kernels miss there)
    from statetrack.kernels.tabled._codes import EXACT_LIMIT, _column_key

    code = np.array([0, 1])
    w = np.array([1.0])
    wide = np.array([[0.0], [float(EXACT_LIMIT)]])              # 2^24 + 1 values
    edge = np.array([[0.0], [float(EXACT_LIMIT - 1)]])          # 2^24 values
    assert _column_key(wide, w, code, 1 << 30) is None
    assert _column_key(edge, w, code, 1 << 30) == (0.0, EXACT_LIMIT)
    assert _column_key(edge, w, code, EXACT_LIMIT - 1) is None
