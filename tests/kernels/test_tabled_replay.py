"""TabledRunner: run_tabled made once and called many times (a CUDA graph replayed on CUDA,
the kernels called directly through Triton's interpreter on the CPU). Its outputs equal
run_tabled's bit for bit call after call; in-place writes to the tables are followed; bad ids
and bad arguments raise with clear messages."""

from __future__ import annotations

import pytest
import torch

from statetrack.kernels import errors as E
from statetrack.kernels.tabled import TabledRunner, run_tabled
from statetrack.kernels.tabled import replay as replay_mod

HAS_CUDA = torch.cuda.is_available()


def _tables(gen, S=3, n_h=2, H=2, K=4, V=3):
    kt = torch.nn.functional.normalize(torch.randn(S, n_h, H, K, generator=gen), dim=-1)
    bt = 2 * torch.rand(S, n_h, H, generator=gen)
    vt = torch.randn(S, n_h, H, V, generator=gen)
    q = torch.randn(H, K, generator=gen)
    return kt, bt, vt, q


def _parity(device, S=2):
    kt = torch.zeros(S, 1, 2)
    bt = torch.zeros(S, 1)
    kt[1::2, 0, 0], kt[1::2, 0, 1], bt[1::2, 0] = 1.0, -1.0, 1.0
    kw = dict(initial_state=torch.tensor([[[1.0], [0.0]]]), query=torch.tensor([0.0, 1.0]),
              codes=torch.tensor([[0.0], [1.0]]))
    return ((kt.to(device), bt.to(device), torch.zeros(S, 1, 1, device=device)),
            {k: v.to(device) for k, v in kw.items()})


def _same(res, ref):
    for name in ("final_state", "o", "code", "states"):
        a, b = getattr(res, name), getattr(ref, name)
        assert (a is None) == (b is None), name
        if a is not None:
            assert torch.equal(a, b), name
    assert res.chunk_size == ref.chunk_size


@pytest.mark.parametrize("output,return_states,chunk", [
    ("o", False, None), ("o", True, 4), ("none", False, 5), ("o", False, 3)])
def test_runner_equals_run_tabled_call_after_call(device, gen, output, return_states, chunk):
    # random tables, per-head keys, a shared initial state; three batches of ids through one
    # runner: every output bit-identical to run_tabled's, in the same buffers every call
    kt, bt, vt, q = (t.to(device) for t in _tables(gen))
    h0 = torch.randn(2, 4, 3, generator=gen).to(device)
    kw = dict(initial_state=h0, query=q, output=output, return_states=return_states,
              chunk_size=chunk)
    runner = TabledRunner(kt, bt, vt, batch=2, length=13, **kw)
    assert runner.graphed == (device.type == "cuda")
    first = None
    for step in range(3):
        sym = torch.randint(0, 3, (2, 13), generator=gen).to(device)
        res = runner(sym)
        _same(res, run_tabled(sym, kt, bt, vt, **kw))
        if first is None:
            first = res
        assert res.final_state is first.final_state and res.o is first.o     # its buffers
    assert runner.calls == 3 and torch.equal(runner.symbols, sym)


def test_runner_code_output_and_ids_written_in_place(device):
    # parity read out as codes through the code table; ids written into runner.symbols and
    # the runner called without arguments
    (kt, bt, vt), kw = _parity(device)
    runner = TabledRunner(kt, bt, vt, batch=2, length=6, output="code",
                          symbols_dtype=torch.int32, **kw)
    runner.symbols.copy_(torch.tensor([[1, 1, 0, 1, 0, 0], [0, 1, 0, 0, 0, 1]]))
    res = runner()
    assert res.code_table is not None
    assert res.code[:, :, 0].tolist() == [[1, 0, 0, 1, 1, 1], [0, 1, 1, 1, 1, 0]]
    _same(res, run_tabled(runner.symbols, kt, bt, vt, output="code", **kw))
    assert res.check() is res


def test_runner_follows_in_place_writes_to_the_tables(device, gen):
    # a write into the value table, the query or the initial state: the next call follows it
    # (the runner is rebuilt), as run_tabled does; a write that makes a table non-finite
    # raises run_tabled's error at the next call, and the runner works again once repaired
    kt, bt, vt, q = (t.to(device) for t in _tables(gen))
    h0 = torch.randn(2, 4, 3, generator=gen).to(device)
    kw = dict(initial_state=h0, query=q, chunk_size=4)
    runner = TabledRunner(kt, bt, vt, batch=1, length=11, **kw)
    sym = torch.randint(0, 3, (1, 11), generator=gen).to(device)
    for write in (lambda: vt.mul_(2.0), lambda: q.add_(1.0), lambda: h0.mul_(-1.0)):
        write()
        _same(runner(sym), run_tabled(sym, kt, bt, vt, **kw))
    vt[0, 0, 0, 0] = float("nan")
    with pytest.raises(E.NonFiniteInputError, match="value_table"):
        runner(sym)
    vt[0, 0, 0, 0] = 0.5
    _same(runner(sym), run_tabled(sym, kt, bt, vt, **kw))


def test_runner_inference_tensors_and_rebuild(device, gen):
    # tables made under inference_mode have no version counter: a write is followed after
    # rebuild() (the graph rereads the values anyway; the checks and plan are made again)
    with torch.inference_mode():
        kt, bt, vt, q = (t.to(device) for t in _tables(gen))
        runner = TabledRunner(kt, bt, vt, batch=2, length=7, query=q)
        sym = torch.randint(0, 3, (2, 7), generator=gen).to(device)
        _same(runner(sym), run_tabled(sym, kt, bt, vt, query=q))
        vt.mul_(3.0)
        runner.rebuild()
        _same(runner(sym), run_tabled(sym, kt, bt, vt, query=q))


@pytest.mark.parametrize("chunk", [None, 3])
def test_runner_bad_id_raises_then_runs_again(device, chunk):
    # a bad id: on the CPU the call raises, on CUDA check() does (or the next call), naming
    # the call and the id's position; the flag is cleared and later calls run
    (kt, bt, vt), kw = _parity(device)
    runner = TabledRunner(kt, bt, vt, batch=2, length=8, chunk_size=chunk, **kw)
    good = torch.tensor([[0, 1, 1, 0, 1, 0, 0, 1]] * 2, device=device)
    ref = run_tabled(good, kt, bt, vt, chunk_size=chunk, **kw)
    _same(runner(good), ref)
    runner.check()
    bad = good.clone()
    bad[1, 5] = 7
    with pytest.raises(E.SymbolRangeError,
                       match=r"TabledRunner, call 2: symbols: ids must lie in 0 \.\. 1 .*"
                             r"got 7 at index \(1, 5\)"):
        runner(bad).check()
    _same(runner(good), ref)
    runner.check()
    assert runner.calls == 3


@pytest.mark.skipif(not HAS_CUDA, reason="the deferred flag of a graph replay needs CUDA")
@pytest.mark.gpu
def test_runner_bad_id_found_by_a_later_call_gpu():
    # on CUDA the flag stays set over later calls: a bad call followed by good ones is
    # reported by check() (or a later call, once the flag is home) with the range of calls,
    # the ids no longer in the buffer
    dev = torch.device("cuda")
    (kt, bt, vt), kw = _parity(dev)
    runner = TabledRunner(kt, bt, vt, batch=2, length=8, **kw)
    assert runner.graphed
    good = torch.zeros(2, 8, dtype=torch.int64, device=dev)
    bad = good.clone()
    bad[0, 3] = -4
    runner(good)
    runner(bad)
    torch.cuda.synchronize()
    with pytest.raises(E.SymbolRangeError, match=r"TabledRunner, one of calls 1 \.\. 2: "
                                                 r"symbols: .*got -4 at index \(0, 3\)"):
        runner(good)                          # the flag is home: raised before this call
    runner(good)
    torch.cuda._sleep(100_000_000)            # the device busy: call 5 finds no flag home
    runner(bad)
    runner(good)
    with pytest.raises(E.SymbolRangeError, match=r"one of calls 3 \.\. 5: an id outside "
                                                 r"0 \.\. 1 .*holds no such id now"):
        runner.check()
    runner(good)
    assert runner.check().calls == 6


def test_runner_code_table_miss(device):
    # parity's code table without its fingerprint (as one made by hand), used with another
    # initial state: the readout 2 is off the table, and the miss raises CodeTableMissError
    # naming the call, as run_tabled's does
    import dataclasses

    from statetrack.kernels.tabled import CodeTableMissError, build_code_table

    (kt, bt, vt), kw = _parity(device)
    ct = build_code_table(kt, bt, vt, H=1, **kw)
    assert ct is not None and ct.fingerprint
    hand = dataclasses.replace(ct, fingerprint=b"")
    kw["initial_state"] = 2 * kw["initial_state"]
    runner = TabledRunner(kt, bt, vt, batch=1, length=4, output="code", code_table=hand,
                          **kw)
    with pytest.raises(CodeTableMissError, match="TabledRunner, call 1: the kernel reached"):
        runner(torch.tensor([[1, 0, 1, 1]], device=device)).check()


@pytest.mark.parametrize("kwargs,match", [
    (dict(batch=0, length=4), r"batch: expected a positive int, got 0"),
    (dict(batch=2, length="4"), r"length: expected a positive int, got '4'"),
    (dict(batch=True, length=4), r"batch: expected a positive int, got True"),
    (dict(batch=2, length=4, symbols_dtype=torch.float32),
     r"symbols_dtype: expected one of int8, uint8, int16, int32, int64, got torch.float32"),
    (dict(batch=2, length=4, cuda_graph="yes"), r"cuda_graph: expected None, True or False"),
    (dict(batch=2, length=4, output="codes"), r"output"),
    (dict(batch=2, length=4, chunk_size=0), r"chunk_size"),
])
def test_runner_bad_arguments(device, kwargs, match):
    (kt, bt, vt), kw = _parity(device)
    with pytest.raises(E.KernelInputError, match=match):
        TabledRunner(kt, bt, vt, **{**kw, **kwargs})


def test_runner_bad_tables_and_graph_on_cpu():
    (kt, bt, vt), kw = _parity("cpu")
    with pytest.raises(E.KernelInputError, match="key_table: expected a torch.Tensor, got list"):
        TabledRunner([[0.0]], bt, vt, batch=1, length=2)
    with pytest.raises(E.KernelInputError, match=r"beta_table"):
        TabledRunner(kt, bt + 3.0, vt, batch=1, length=2, **kw)
    with pytest.raises(E.KernelInputError, match=r"cuda_graph=True: the tables are on cpu"):
        TabledRunner(kt, bt, vt, batch=1, length=2, cuda_graph=True, **kw)


def test_runner_bad_symbols(device):
    (kt, bt, vt), kw = _parity(device)
    runner = TabledRunner(kt, bt, vt, batch=2, length=4, **kw)
    for sym, got in ((torch.zeros(2, 5, dtype=torch.int64, device=device), r"\[2, 5\]"),
                     (torch.zeros(2, 4, dtype=torch.int32, device=device), "torch.int32"),
                     (torch.zeros(2, 4, 1, dtype=torch.int64, device=device), r"\[2, 4, 1\]")):
        with pytest.raises(E.KernelInputError,
                           match=rf"symbols: this runner was made for dense torch.int64 ids of "
                                 rf"shape \[2, 4\] on .*got .*{got}"):
            runner(sym)
    with pytest.raises(E.KernelInputError, match="symbols: expected a torch.Tensor, got list"):
        runner([[0, 1, 0, 1]] * 2)
    sparse = torch.zeros(2, 4, dtype=torch.int64, device=device).to_sparse()
    with pytest.raises(E.KernelInputError, match=r"got torch.sparse_coo torch.int64 \[2, 4\]"):
        runner(sparse)
    with pytest.raises(AttributeError):               # the buffer the graph reads: fixed
        runner.symbols = torch.zeros(2, 4, dtype=torch.int64, device=device)
    assert runner.calls == 0
    if device.type == "cuda":
        with pytest.raises(E.KernelInputError, match="on cpu"):
            runner(torch.zeros(2, 4, dtype=torch.int64))


def test_runner_without_graph_on_cuda_or_cpu_calls_the_kernels(device, gen, monkeypatch):
    # cuda_graph=False: launch() at every call (counted), nothing captured
    kt, bt, vt, q = (t.to(device) for t in _tables(gen))
    runner = TabledRunner(kt, bt, vt, batch=1, length=9, query=q, cuda_graph=False)
    assert not runner.graphed and runner._graph is None
    n = []
    real = replay_mod.launch
    monkeypatch.setattr(replay_mod, "launch", lambda *a, **k: (n.append(1), real(*a, **k)))
    sym = torch.randint(0, 3, (1, 9), generator=gen).to(device)
    for _ in range(2):
        _same(runner(sym), run_tabled(sym, kt, bt, vt, query=q))
    assert len(n) == 2


@pytest.mark.skipif(not HAS_CUDA, reason="a CUDA graph needs CUDA")
@pytest.mark.gpu
def test_runner_replays_without_launching_gpu(gen, monkeypatch):
    # on CUDA the calls replay the captured graph: the runner's launch() is not called again
    # (run_tabled's own is another name), and the outputs follow each call's ids (chunked
    # and sequential; the default stream reads them right after the call)
    dev = torch.device("cuda")
    kt, bt, vt, q = (t.to(dev) for t in _tables(gen, K=8, V=8))
    for chunk in (None, 16, 4096):
        runner = TabledRunner(kt, bt, vt, batch=3, length=300, query=q, chunk_size=chunk)
        assert runner._graph is not None
        monkeypatch.setattr(replay_mod, "launch", None)
        for _ in range(3):
            sym = torch.randint(0, 3, (3, 300), generator=gen).to(dev)
            _same(runner(sym), run_tabled(sym, kt, bt, vt, query=q, chunk_size=chunk))
        runner.check()
        monkeypatch.undo()


def test_runner_keeps_its_buffers_and_is_freed_when_dropped(device, gen):
    # a rebuild (a table written in place) keeps the output tensors a caller holds; a
    # dropped runner is freed at once (no reference cycle through its result)
    import weakref

    kt, bt, vt, q = (t.to(device) for t in _tables(gen))
    runner = TabledRunner(kt, bt, vt, batch=2, length=9, query=q, chunk_size=4)
    sym = torch.randint(0, 3, (2, 9), generator=gen).to(device)
    o = runner(sym).o
    vt.mul_(2.0)
    res = runner(sym)
    assert res.o is o and torch.equal(o, run_tabled(sym, kt, bt, vt, query=q,
                                                     chunk_size=4).o)
    alive = weakref.ref(runner)
    del runner, res
    assert alive() is None
    o.add_(1.0)                                        # the caller's tensor stays usable


def test_runner_made_in_inference_mode_runs_outside_it(device, gen):
    kt, bt, vt, q = (t.to(device) for t in _tables(gen))
    with torch.inference_mode():
        runner = TabledRunner(kt, bt, vt, batch=1, length=6, query=q)
    # what the runner writes in place later (the ids, the flags cleared at every capture;
    # on CUDA a capture raised on inference-mode flags before session 30) is a normal tensor
    assert not runner.symbols.is_inference()
    assert not runner._flags.home.is_inference() and not runner._flags.flags.is_inference()
    sym = torch.randint(0, 3, (1, 6), generator=gen).to(device)
    _same(runner(sym), run_tabled(sym, kt, bt, vt, query=q))
    runner.symbols.fill_(2)
    _same(runner(), run_tabled(runner.symbols, kt, bt, vt, query=q))


def test_runner_device_and_size_errors(gen):
    kt, bt, vt, q = _tables(gen)
    with pytest.raises(E.KernelDeviceError, match=r"query: on meta, but key_table is on cpu"):
        TabledRunner(kt, bt, vt, batch=1, length=4, query=q.to("meta"))
    with pytest.raises(E.KernelInputError, match=r"batch x length = 4096 x 1099511627776: "
                                                 r"the ids buffer does not fit in memory"):
        TabledRunner(kt, bt, vt, batch=4096, length=2 ** 40, query=q)


@pytest.mark.skipif(not HAS_CUDA, reason="deferred flags need CUDA")
@pytest.mark.gpu
def test_runner_rebuild_reports_a_pending_bad_id_gpu(monkeypatch):
    # a bad call, then a table written in place: the next call's rebuild reports the bad id
    # before its warm-up overwrites the flag; likewise an explicit rebuild(); and with the
    # flags copied home from the device (STATETRACK_MAPPED_FLAGS=0)
    from statetrack.kernels._common import checks

    dev = torch.device("cuda")
    for mapped in (True, False):
        monkeypatch.setattr(checks, "MAPPED_FLAGS", mapped)
        (kt, bt, vt), kw = _parity(dev)
        runner = TabledRunner(kt, bt, vt, batch=1, length=8, **kw)
        assert runner._flags.mapped == (mapped and checks.host_writable(dev))
        good = torch.zeros(1, 8, dtype=torch.int64, device=dev)
        bad = good.clone()
        bad[0, 6] = 2
        torch.cuda._sleep(100_000_000)        # the flag not home when the next call looks
        runner(bad)
        vt.mul_(1.0)                          # a write: the next call rebuilds
        with pytest.raises(E.SymbolRangeError, match=r"call 1: symbols: .*got 2 at index "
                                                     r"\(0, 6\)"):
            runner(good)
        _same(runner(good).check(), run_tabled(good, kt, bt, vt, **kw))
        torch.cuda._sleep(100_000_000)
        runner(bad)
        with pytest.raises(E.SymbolRangeError, match=r"call 3: symbols: .*got 2"):
            runner.rebuild()
        runner.rebuild()
        runner(good).check()


@pytest.mark.skipif(not HAS_CUDA, reason="streams need CUDA")
@pytest.mark.gpu
def test_runner_called_from_two_streams_gpu(gen):
    # a call on another stream waits for the previous call's stream: the outputs of each
    # call, read on its own stream, are its own
    dev = torch.device("cuda")
    kt, bt, vt, q = (t.to(dev) for t in _tables(gen, K=8, V=8))
    runner = TabledRunner(kt, bt, vt, batch=4, length=2000, query=q)
    syms = [torch.randint(0, 3, (4, 2000), generator=gen).to(dev) for _ in range(4)]
    refs = [run_tabled(s, kt, bt, vt, query=q).o for s in syms]
    streams = [torch.cuda.Stream(), torch.cuda.Stream()]
    got = []
    for i, s in enumerate(syms):
        st = streams[i % 2]
        st.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(st):
            torch.cuda._sleep(20_000_000 if i % 2 == 0 else 0)
            got.append(runner(s).o.clone())
    torch.cuda.synchronize()
    for a, b in zip(got, refs):
        assert torch.equal(a, b)


@pytest.mark.skipif(not HAS_CUDA, reason="a CUDA graph needs CUDA")
@pytest.mark.gpu
def test_run_tabled_captured_with_checks_raises_clearly_gpu(gen):
    # run_tabled inside the caller's own capture with the default checks: a clear error
    # naming TabledRunner (its flags would be read by nobody), not a broken capture or a
    # process whose later calls fail; with check_ids=False it captures (as before)
    dev = torch.device("cuda")
    kt, bt, vt, q = (t.to(dev) for t in _tables(gen))
    sym = torch.randint(0, 3, (2, 40), generator=gen).to(dev)
    ref = run_tabled(sym, kt, bt, vt, query=q)          # warm-up; its flags stay pending
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    g = torch.cuda.CUDAGraph()
    with pytest.raises(E.KernelInputError, match="inside a CUDA graph capture .*TabledRunner"):
        with torch.cuda.graph(g, stream=side):
            run_tabled(sym, kt, bt, vt, query=q)
    torch.cuda.synchronize()
    _same(run_tabled(sym, kt, bt, vt, query=q).check(), ref)     # later calls unharmed
    with torch.cuda.stream(side):
        run_tabled(sym, kt, bt, vt, query=q, check_ids=False)
    side.synchronize()
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g, stream=side):
        out = run_tabled(sym, kt, bt, vt, query=q, check_ids=False).o
    g.replay()
    torch.cuda.synchronize()
    assert torch.equal(out, ref.o)
