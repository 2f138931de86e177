"""Input checks of the tabled path that cost no synchronization: symbol ids checked in the
kernels (every kernel and id width, raised at the call on the CPU, by ``check()``,
``check_pending()`` or a later call), value checks of the tables remembered per tensor
version (and forgotten on in-place writes), the synchronizing mode, and the messages."""

from __future__ import annotations

import dataclasses
import re
import gc
import warnings

import pytest
import torch

from statetrack.kernels import errors as E
from statetrack.kernels._common import checks
from statetrack.kernels._common.triton import INTERPRET
from statetrack.kernels._common.checks import DeviceFlags, VerifiedTensors
from statetrack.kernels.tabled import (
    CodeTableMissError,
    build_code_table,
    check_pending,
    run_tabled,
)
from statetrack.kernels.tabled import tabled as tabled_mod
from statetrack.kernels.tabled.tabled import _flag_error, _run_tabled_variant


def _parity(S=2, dtype=torch.float32):
    """Parity on symbols 0 .. S-1: odd ids swap, even ids do nothing (K = 2, V = 1)."""
    kt = torch.zeros(S, 1, 2, dtype=dtype)
    bt = torch.zeros(S, 1, dtype=dtype)
    kt[1::2, 0, 0], kt[1::2, 0, 1], bt[1::2, 0] = 1.0, -1.0, 1.0
    return kt, bt, torch.zeros(S, 1, 1, dtype=dtype)


H0 = torch.tensor([[[1.0], [0.0]]])
Q = torch.tensor([0.0, 1.0])
CODES = torch.tensor([[0.0], [1.0]])


#: tests that run CPU tensors through Triton's interpreter to simulate the CUDA pending path:
#: on a GPU machine (no interpreter) the real path is tested by
#: test_cuda_flags_pending_reused_and_mapped instead
_interpreter_only = pytest.mark.skipif(
    not INTERPRET, reason="CPU tensors need Triton's interpreter; the GPU path has its own test")


def _on(device, kw):
    return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in kw.items()}


def _bad_id_run(sym, S=2, device="cpu", **kw):
    """A parity run, checked: on the CPU a bad id raises inside run_tabled, on CUDA in
    ``check()`` (the kernels' flag is read there)."""
    kt, bt, vt = (t.to(device) for t in _parity(S))
    kw = _on(device, {"initial_state": H0, "query": Q, **kw})
    return run_tabled(sym.to(device), kt, bt, vt, **kw).check()


# ----------------------------------------------------------------------------- symbol ids


@pytest.mark.parametrize("bad,dtype,where", [
    (2, torch.int64, (0, 3)), (-1, torch.int64, (1, 0)), (7, torch.int32, (1, 6)),
    (300, torch.int32, (0, 0)), (-128, torch.int8, (0, 5)), (2 ** 33, torch.int64, (1, 2)),
    (200, torch.uint8, (0, 7)),
])
@pytest.mark.parametrize("chunk", [None, 3])
def test_out_of_range_ids_raise(device, bad, dtype, where, chunk):
    # ids narrowed to one byte by the checking pass (<= 256 symbols, not uint8 already) or
    # checked in the passes themselves (uint8 ids); sequential and chunked
    sym = torch.tensor([[0, 1, 1, 0, 1, 0, 0, 1], [1, 1, 0, 0, 1, 1, 0, 1]], dtype=dtype)
    sym[where] = bad
    for output in ("o", "code", "none"):
        with pytest.raises(E.SymbolRangeError,
                           match=rf"symbols: ids must lie in 0 \.\. 1 \(the table has 2 "
                                 rf"symbols\); got {bad} at index \({where[0]}, {where[1]}\)"):
            _bad_id_run(sym, output=output, codes=CODES, chunk_size=chunk, device=device)


@pytest.mark.parametrize("variant", [{"legacy": True}, {"mm": True}])
@pytest.mark.parametrize("chunk", [None, 2])
def test_out_of_range_ids_raise_in_every_kernel(device, variant, chunk):
    kt, bt, vt = (t.to(device) for t in _parity())
    for dtype, bad in ((torch.uint8, 9), (torch.int64, -3)):
        sym = torch.tensor([[1, 0, 1, 1, 0]], dtype=dtype)
        sym[0, 4] = bad
        with pytest.raises(E.SymbolRangeError, match=rf"got {bad} at index \(0, 4\)"):
            _run_tabled_variant(sym.to(device), kt, bt, vt, initial_state=H0.to(device),
                                query=Q.to(device), chunk_size=chunk,
                                _variant=variant).check()


@pytest.mark.parametrize("dtype,bad,where", [(torch.int32, 2, (0, 5)), (torch.int64, -1, (1, 0)),
                                             (torch.int16, 300, (1, 7))])
@pytest.mark.parametrize("switch,value", [("NARROW_CHUNKED", False), ("NARROW_IN_SUMMARY", True)])
def test_chunked_calls_without_the_narrowing_pass(device, monkeypatch, narrowing_spy, dtype, bad,
                                                  where, switch, value):
    # _launch.NARROW_CHUNKED off (chunked passes read and check the caller's ids) or
    # NARROW_IN_SUMMARY on (the proj summary pass checks them and writes the one-byte ids the
    # run pass reads): chunked calls launch no narrowing pass; the outputs equal the narrowed
    # call's; a bad id raises; sequential calls still narrow
    from statetrack.kernels.tabled import _launch

    narrowed, fused = narrowing_spy
    kt, bt, vt = (t.to(device) for t in _parity())
    kw = _on(device, {"initial_state": H0, "query": Q, "codes": CODES})
    sym = torch.tensor([[0, 1, 1, 0, 1, 0, 0, 1], [1, 1, 0, 0, 1, 1, 0, 1]], dtype=dtype)
    for output in ("o", "code", "none"):
        want = run_tabled(sym.to(device), kt, bt, vt, chunk_size=3, output=output, **kw)
        assert len(narrowed) == 1 and not any(fused)
        monkeypatch.setattr(_launch, switch, value)
        fused.clear()
        got = run_tabled(sym.to(device), kt, bt, vt, chunk_size=3, output=output, **kw).check()
        assert len(narrowed) == 1                       # no narrowing pass
        # the summary pass narrows (NARROW_IN_SUMMARY) where a run pass follows
        assert fused[0] is (switch == "NARROW_IN_SUMMARY" and output != "none")
        assert not any(fused[1:])
        assert torch.equal(got.final_state, want.final_state)
        if output != "none":
            assert torch.equal(getattr(got, output), getattr(want, output))
        run_tabled(sym.to(device), kt, bt, vt, output=output, **kw).check()
        assert len(narrowed) == 2                       # sequential: narrowed still
        bad_sym = sym.clone()
        bad_sym[where] = bad
        with pytest.raises(E.SymbolRangeError, match=rf"got {bad} at index \({where[0]}, "
                                                     rf"{where[1]}\)"):
            run_tabled(bad_sym.to(device), kt, bt, vt, chunk_size=3, output=output,
                       **kw).check()
        assert len(narrowed) == 2
        monkeypatch.setattr(_launch, switch, not value)
        narrowed.clear()
        fused.clear()


@pytest.mark.parametrize("variant", [{"proj": False}, {"legacy": True}, {"mm": True}])
def test_every_kernel_checks_wide_ids_when_not_narrowed(device, monkeypatch, narrowing_spy,
                                                        variant):
    # _launch.NARROW_CHUNKED off with cols_kernel, run_kernel / summary_kernel and mm_kernel:
    # their chunked passes read int64 ids, equal the narrowed call and raise on a bad id
    from statetrack.kernels.tabled import _launch

    narrowed, _ = narrowing_spy
    kt, bt, vt = (t.to(device) for t in _parity())
    kw = _on(device, {"initial_state": H0, "query": Q})
    sym = torch.tensor([[0, 1, 1, 0, 1, 0, 0, 1], [1, 1, 0, 0, 1, 1, 0, 1]]).to(device)
    want = _run_tabled_variant(sym, kt, bt, vt, chunk_size=3, _variant=variant, **kw)
    assert len(narrowed) == 1
    monkeypatch.setattr(_launch, "NARROW_CHUNKED", False)
    got = _run_tabled_variant(sym, kt, bt, vt, chunk_size=3, _variant=variant, **kw).check()
    assert len(narrowed) == 1 and torch.equal(got.o, want.o)
    sym[1, 6] = 5
    with pytest.raises(E.SymbolRangeError, match=r"got 5 at index \(1, 6\)"):
        _run_tabled_variant(sym, kt, bt, vt, chunk_size=3, _variant=variant, **kw).check()
    assert len(narrowed) == 1


def test_more_than_256_symbols_are_checked_in_the_kernels(device):
    # no one-byte narrowing: the kernels check int32 ids themselves
    sym = torch.tensor([[299, 3, 0, 298]], dtype=torch.int32)
    r = _bad_id_run(sym, S=300, output="code", codes=CODES, device=device)
    assert r.code[0, :, 0].tolist() == [1, 0, 0, 0]
    sym[0, 2] = 300
    with pytest.raises(E.SymbolRangeError, match=r"0 \.\. 299 .* got 300 at index \(0, 2\)"):
        _bad_id_run(sym, S=300, device=device)
    sym[0, 2] = -5
    with pytest.raises(E.SymbolRangeError, match=r"got -5 at index \(0, 2\)"):
        _bad_id_run(sym, S=300, chunk_size=2, output="none", device=device)


def test_valid_ids_do_not_raise(device):
    sym = torch.tensor([[1, 1, 0, 1]])
    r = _bad_id_run(sym, device=device)
    assert r.check() is r and r.o[0, :, 0, 0].tolist() == [1.0, 0.0, 0.0, 1.0]
    # uint8 ids of a 256-symbol table are all valid: nothing to check, nothing raised
    r = _bad_id_run(torch.tensor([[255, 1, 254]], dtype=torch.uint8), S=256, device=device)
    assert r.o[0, :, 0, 0].tolist() == [1.0, 0.0, 0.0]


@pytest.mark.parametrize("kw", [{"check_ids": False}, {"sync_checks": True}])
def test_runs_without_a_device_flag_return_their_result(device, kw):
    # ids unchecked, or checked on the host before the launch: no flag slot is taken (no code
    # table either), and the call still returns (statetrack.kernels.run does this per layer)
    r = _bad_id_run(torch.tensor([[1, 1, 0, 1]]), device=device, **kw)
    assert r.o[0, :, 0, 0].tolist() == [1.0, 0.0, 0.0, 1.0]
    r = _bad_id_run(torch.zeros(2, 0, dtype=torch.int64), device=device)   # B * T = 0
    assert r.o.shape == (2, 0, 1, 1)


def test_sync_checks_raise_before_any_launch(device):
    sym = torch.tensor([[0, 1, 5, 1]])
    out = torch.full((1, 4, 1, 1), -3.0, device=device)
    with pytest.raises(E.SymbolRangeError, match=r"got 5 at index \(0, 2\)"):
        _bad_id_run(sym, sync_checks=True, o_out=out, device=device)
    assert (out == -3.0).all()            # nothing ran
    with pytest.raises(E.SymbolRangeError, match=r"got 5 at index \(0, 2\)"):
        _bad_id_run(sym, o_out=out, device=device)   # deferred: the kernels ran (clamped ids)
    assert not (out == -3.0).any()


def test_the_message_names_a_temporary_and_says_when_the_ids_changed():
    # the flag's reader keeps the ids alive: a temporary (run_tabled(ids.cuda(), ...), freed
    # before a CUDA flag is read) is still named
    on_error = _flag_error(torch.tensor([[0, 5, 1]]), 4)
    gc.collect()
    with pytest.raises(E.SymbolRangeError, match=r"ids must lie in 0 \.\. 3 \(the table has 4 "
                                                 r"symbols\); got 5 at index \(0, 1\)"):
        on_error([1, 0])
    sym = torch.tensor([[0, 5, 1]])
    on_error = _flag_error(sym, 4)
    sym[0, 1] = 2                                     # written to after the launch
    with pytest.raises(E.SymbolRangeError, match=r"symbols: an id outside 0 \.\. 3 \(the table "
                                                 r"has 4 symbols\) was read by the kernel; the "
                                                 r"ids tensor has been written to in place"):
        on_error([1, 0])
    with pytest.raises(E.KernelError, match="code table does not hold"):
        _flag_error(sym, 4)([0, 1])


def test_pending_flags_raise_at_check_pending_and_at_the_next_call(monkeypatch, device):
    # what a CUDA run leaves behind: flags read later. Simulated with host flags (ready at
    # once), placed where run_tabled puts CUDA ones
    sym = torch.tensor([[0, 1, 9]])
    monkeypatch.setattr(tabled_mod, "_PENDING", [])

    def pending():
        f = DeviceFlags(2, torch.device("cpu"), _flag_error(sym, 2))
        f.flags[0] = f.gen                           # what a kernel stores on a bad id
        tabled_mod._PENDING.append(f.arm())
        return f

    pending()
    with pytest.raises(E.SymbolRangeError,
                       match=r"an earlier run_tabled call: symbols: ids must lie in 0 \.\. 1 "
                             r".* got 9 at index \(0, 2\)"):
        check_pending()
    assert tabled_mod._PENDING == []
    check_pending()                                  # raised once, gone
    pending()
    with pytest.raises(E.SymbolRangeError, match="an earlier run_tabled call"):
        _bad_id_run(torch.tensor([[1, 0]]), device=device)  # a good call reports the earlier
    r = _bad_id_run(torch.tensor([[1, 0]]), device=device)  # and then runs again
    assert r.o[0, :, 0, 0].tolist() == [1.0, 1.0]
    f = pending()
    res = tabled_mod.TabledResult(final_state=r.final_state, o=None, code=None, states=None,
                                  chunk_size=2, _flags=f)
    with pytest.raises(E.SymbolRangeError, match=r"got 9 at index \(0, 2\)"):
        res.check()
    assert tabled_mod._PENDING == []
    res.check()                                      # once


def test_polling_stops_at_the_first_flag_not_home(monkeypatch):
    """The poll at each call queries the oldest pending flags only up to the first that is
    not home (one query per call in the steady state, not one per pending call)."""
    queried = []

    class Fake:
        def __init__(self, name, home):
            self.name, self.home, self.checked = name, home, False

        def ready(self):
            queried.append(self.name)
            return self.home

        def check(self):
            self.checked = True

    fakes = [Fake("a", True), Fake("b", True), Fake("c", False), Fake("d", True)]
    monkeypatch.setattr(tabled_mod, "_PENDING", list(fakes))
    tabled_mod._poll_pending()
    assert queried == ["a", "b", "c"]                    # d not asked
    assert tabled_mod._PENDING == fakes[2:] and fakes[0].checked and fakes[1].checked
    fakes[2].home = True
    tabled_mod._poll_pending()
    assert tabled_mod._PENDING == [] and all(f.checked for f in fakes)


# ----------------------------------------------------------------------------- table values


def test_non_finite_inputs_raise_naming_tensor_and_index(device):
    kt, bt, vt = (t.to(device) for t in _parity())
    sym = torch.tensor([[1, 0, 1]])
    cases = {"key_table": kt, "beta_table": bt, "value_table": vt}
    for name, t in cases.items():
        bad = t.clone()
        bad.view(-1)[-1] = float("inf")
        args = {**cases, name: bad}
        idx = tuple(i - 1 for i in bad.shape)
        with pytest.raises(E.NonFiniteInputError,
                           match=re.escape(f"{name}: holds a non-finite value (inf) at index "
                                           f"{idx}")):
            run_tabled(sym.to(device), args["key_table"], args["beta_table"],
                       args["value_table"], initial_state=H0.to(device), query=Q.to(device))
    for name, kw in (("initial_state", dict(initial_state=torch.full((1, 2, 1), float("nan")))),
                     ("query", dict(query=torch.tensor([0.0, float("-inf")]))),
                     ("codes", dict(codes=torch.tensor([[0.0], [float("nan")]]),
                                    output="code"))):
        kw = _on(device, {"initial_state": H0, "query": Q, "codes": CODES, **kw})
        with pytest.raises(E.NonFiniteInputError, match=rf"{name}: holds a non-finite value"):
            run_tabled(sym.to(device), kt, bt, vt, **kw)


def test_value_checks_run_once_per_tensor_version(monkeypatch, device):
    from statetrack.kernels.tabled import _inputs

    calls = []
    real_finite, real_beta = _inputs.check_finite, _inputs.check_beta_range
    monkeypatch.setattr(_inputs, "check_finite",
                        lambda d: (calls.append(next(iter(d))), real_finite(d))[1])
    monkeypatch.setattr(_inputs, "check_beta_range",
                        lambda t, n: (calls.append(n + " range"), real_beta(t, n))[1])
    kt, bt, vt = (t.to(device) for t in _parity())
    h0, q = H0.to(device), Q.to(device)                # tensors no earlier test verified
    h0, q = (h0.clone(), q.clone()) if h0 is H0 else (h0, q)
    sym = torch.tensor([[1, 0, 1]], device=device)
    for _ in range(3):
        run_tabled(sym, kt, bt, vt, initial_state=h0, query=q)
    assert sorted(calls) == sorted(["key_table", "beta_table", "value_table", "initial_state",
                                    "query", "beta_table range"])        # the first call only
    calls.clear()
    q2 = q.clone()                                     # one new tensor: only it is checked
    for _ in range(2):
        run_tabled(sym, kt, bt, vt, initial_state=h0, query=q2)
    assert calls == ["query"]
    run_tabled(sym, kt, bt, vt, initial_state=h0, query=q2, check_beta=False)
    assert calls == ["query"]                          # the others passed before
    calls.clear()
    bt[1, 0] = 3.0                                     # an in-place write: checked again
    with pytest.raises(E.BetaRangeError, match=r"beta_table: values must lie in \[0, 2\]; "
                                               r"got 3\.0 at index \(1, 0\)"):
        run_tabled(sym, kt, bt, vt, initial_state=h0, query=q)
    vt[0, 0, 0] = float("nan")                         # through an in-place write, too
    with pytest.raises(E.NonFiniteInputError, match=r"value_table: .* at index \(0, 0, 0\)"):
        run_tabled(sym, kt, bt[:, :].clamp(0, 2), vt, initial_state=h0, query=q)
    view = kt[:, :]                                    # a write through a view
    view[0, 0, 1] = float("inf")
    with pytest.raises(E.NonFiniteInputError, match=r"key_table: .* at index \(0, 0, 1\)"):
        run_tabled(sym, kt, bt.clamp(0, 2), vt.nan_to_num(), initial_state=h0, query=q)
    calls.clear()
    with pytest.raises(E.NonFiniteInputError):
        run_tabled(sym, kt, bt.clamp(0, 2), vt.nan_to_num(), initial_state=h0, query=q)
    assert "key_table" in calls                        # failures are not remembered


@pytest.mark.skipif(torch.cuda.is_available() and not INTERPRET,
                    reason="tables sharing a NumPy array's memory are CPU tensors: they run "
                           "only through Triton's interpreter")
def test_a_write_through_numpy_is_caught_by_sync_checks():
    """As docs/kernels.rst says: a write through the NumPy array a table came from bypasses
    the version counter, so the remembered check does not run again; sync_checks does."""
    import numpy as np
    kt, _, vt = _parity()
    arr = np.array([[0.0], [1.0]], dtype=np.float32)
    bt = torch.from_numpy(arr)
    sym = torch.tensor([[1, 0, 1]])
    run_tabled(sym, kt, bt, vt, initial_state=H0, query=Q)
    version = bt._version
    arr[1, 0] = 3.0
    assert bt._version == version                      # PyTorch did not see the write
    run_tabled(sym, kt, bt, vt, initial_state=H0, query=Q)   # remembered: not checked again
    with pytest.raises(E.BetaRangeError, match=r"beta_table: values must lie in \[0, 2\]; "
                                               r"got 3\.0 at index \(1, 0\)"):
        run_tabled(sym, kt, bt, vt, initial_state=H0, query=Q, sync_checks=True)


def test_inference_mode_ids_out_of_range(device):
    # ids made under torch.inference_mode have no version counter: a bad one is still named
    # (the error was once a RuntimeError from reading the counter, session 29)
    with torch.inference_mode():
        sym = torch.tensor([[0, 1, 5, 1]], device=device)
    with pytest.raises(E.SymbolRangeError, match=r"got 5 at index \(0, 2\)"):
        _bad_id_run(sym, device=device)
    with torch.inference_mode():
        res = _bad_id_run(torch.tensor([[0, 1, 1, 1]], device=device), device=device)
    assert res.o[0, :, 0, 0].tolist() == [0.0, 1.0, 0.0, 1.0]


def test_verified_tensors_entries_die_with_their_tensors():
    cache = VerifiedTensors(maxsize=2)
    a, b, c = torch.ones(2), torch.ones(2), torch.ones(2)
    for t in (a, b, c):
        cache.store("k", (t,))
    del t
    assert len(cache) == 2                             # least recently used dropped
    assert cache.lookup("k", (c,)) == (True, None) and cache.lookup("k", (a,))[0] is False
    del c
    assert len(cache) == 1
    with torch.inference_mode():
        t = torch.ones(2)
    cache.store("k", (t,))                             # no version counter: not remembered
    assert cache.lookup("k", (t,))[0] is False


# ----------------------------------------------------------------------------- the flag ring
# run_tabled's flags are a slot of a per-device ring (allocated once, never zeroed); the
# kernels mark a flag with the call's generation. Internals (ring._free, slot.dev) are read
# here to show that a slot is really reused with a stale value in it.


@pytest.fixture
def tiny_rings(monkeypatch):
    """Fresh flag rings of one slot each; returns a function giving the one ring in use."""
    monkeypatch.setattr(checks, "_RINGS", {})
    monkeypatch.setattr(checks, "RING_SLOTS", 1)

    def ring():
        (only,) = checks._RINGS.values()
        return only
    return ring


def _parity_code_table(device):
    kt, bt, vt = (t.to(device) for t in _parity())
    ct = build_code_table(kt, bt, vt, initial_state=H0.to(device), query=Q.to(device),
                          codes=CODES.to(device), H=1)
    assert ct is not None and ct.fingerprint
    # without its fingerprint (as a table made by hand): the tests run it with another
    # initial state to make the kernels report a miss, which the fingerprint would refuse
    return kt, bt, vt, dataclasses.replace(ct, fingerprint=b"")


def test_a_reused_slot_does_not_report_an_earlier_calls_error(tiny_rings, device):
    # call 1 stores its generation into the slot (a bad id); call 2 gets the same slot, the
    # stale value still there, and raises nothing: its generation is another
    with pytest.raises(E.SymbolRangeError, match=r"got 5 at index \(0, 1\)"):
        _bad_id_run(torch.tensor([[1, 5, 0]]), device=device)
    ring = tiny_rings()
    (slot,) = ring._free
    assert ring.size == 1 and slot.gen == 1 and slot.dev.tolist() == [1, 0]
    r = _bad_id_run(torch.tensor([[1, 1, 0]]), device=device)
    assert r.o[0, :, 0, 0].tolist() == [1.0, 0.0, 0.0]
    assert ring._free == [slot] and slot.gen == 2 and slot.dev.tolist() == [1, 0]
    # a code table miss (flag 1), then a good code run and a bad id through the same slot
    kt, bt, vt, ct = _parity_code_table(device)
    sym = torch.tensor([[1, 0, 1]], device=device)
    kw = dict(query=Q.to(device), codes=CODES.to(device), output="code", code_table=ct)
    with pytest.raises(CodeTableMissError, match="code table does not hold"):
        run_tabled(sym, kt, bt, vt, initial_state=2 * H0.to(device), **kw).check()
    assert slot.dev.tolist() == [1, 3]
    r = run_tabled(sym, kt, bt, vt, initial_state=H0.to(device), **kw).check()
    assert r.code[0, :, 0].tolist() == [1, 1, 0]
    with pytest.raises(E.SymbolRangeError, match=r"got 2 at index \(0, 2\)"):
        run_tabled(torch.tensor([[1, 0, 2]], device=device), kt, bt, vt,
                   initial_state=H0.to(device), **kw).check()
    assert ring._free == [slot] and ring.size == 1 and slot.dev.tolist() == [5, 3]


def test_a_slot_whose_generations_are_spent_is_replaced_by_a_zeroed_one(monkeypatch):
    # generations 1 .. GEN_LIMIT, then a fresh slot: a stale value can never equal the
    # generation of a later call of the same slot
    monkeypatch.setattr(checks, "GEN_LIMIT", 2)
    ring = checks.FlagRing(torch.device("cpu"), 2, slots=1)
    raised = []
    f1 = DeviceFlags(2, torch.device("cpu"), raised.append, ring=ring)
    f1.flags[0] = f1.gen                              # generation 1: an error
    f1.check()
    f2 = DeviceFlags(2, torch.device("cpu"), raised.append, ring=ring)
    f2.check()
    f3 = DeviceFlags(2, torch.device("cpu"), raised.append, ring=ring)
    assert (f1.gen, f2.gen, f3.gen) == (1, 2, 1)      # f3's generation is f1's again ...
    assert f3.flags.data_ptr() != f1.flags.data_ptr() and f3.flags.tolist() == [0, 0]
    f3.check()                                        # ... in a new slot: nothing reported
    assert raised == [[1, 0]] and ring.size == 1


def test_more_pending_calls_than_slots(monkeypatch):
    # a ring of 2 slots and 5 calls pending at once: it grows to 5 (no slot handed out
    # twice), each call reports its own error only, and the next 5 calls reuse the 5 slots
    assert checks.RING_SLOTS > tabled_mod.MAX_PENDING      # run_tabled's rings: no growth
    ring = checks.FlagRing(torch.device("cpu"), 2, slots=2)
    raised = []
    fs = [DeviceFlags(2, torch.device("cpu"), lambda h, i=i: raised.append((i, h)), ring=ring)
          for i in range(5)]
    assert ring.size == 5 and len({f.flags.data_ptr() for f in fs}) == 5
    # every slot 16-byte aligned, as a fresh tensor (else Triton compiles each kernel twice)
    assert all(f.flags.data_ptr() % 16 == 0 and f.flags.shape == (2,) for f in fs)
    fs[1].flags[0] = fs[1].gen
    fs[3].flags[1] = fs[3].gen
    for f in fs:
        f.arm().check()
    assert raised == [(1, [1, 0]), (3, [0, 1])]
    fs[3].check()                                     # once
    assert len(raised) == 2
    with pytest.raises(RuntimeError, match="given back twice"):
        ring.release(fs[0]._slot)
    again = [DeviceFlags(2, torch.device("cpu"), lambda h: raised.append(h), ring=ring)
             for _ in range(5)]
    assert ring.size == 5 and {f.flags.data_ptr() for f in again} == {
        f.flags.data_ptr() for f in fs}
    for f in again:
        f.check()                                     # the stale values are not reported
    assert len(raised) == 2


class _Deferred(DeviceFlags):
    """CPU flags read after the call, as CUDA ones are; ``home`` says whether ready()."""

    home = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.deferred = True

    def ready(self):
        return self.checked or _Deferred.home


@_interpreter_only
def test_the_pending_path_with_a_tiny_ring(tiny_rings, monkeypatch):
    # run_tabled's CUDA path on the CPU: flags left pending after the call. MAX_PENDING = 2
    # and one slot: the ring grows to what is pending (MAX_PENDING + 1 at most, in one
    # thread), an error is raised once, by the call that waits for it or check_pending
    monkeypatch.setattr(tabled_mod, "DeviceFlags", _Deferred)
    monkeypatch.setattr(tabled_mod, "_PENDING", [])
    monkeypatch.setattr(tabled_mod, "MAX_PENDING", 2)
    monkeypatch.setattr(_Deferred, "home", False)          # the "device" lags: no polling
    good, bad = torch.tensor([[1, 0, 1]]), torch.tensor([[1, 7, 1]])
    kt, bt, vt = _parity()

    def run(sym):
        return run_tabled(sym, kt, bt, vt, initial_state=H0, query=Q)

    r1 = run(bad)                                          # pending: nothing raised yet
    run(good)
    assert len(tabled_mod._PENDING) == 2 and tiny_rings().size == 2
    with pytest.raises(E.SymbolRangeError, match=r"an earlier run_tabled call: .* got 7 at "
                                                 r"index \(0, 1\)"):
        run(good)                                          # the third waits for the oldest
    ring = tiny_rings()
    assert len(tabled_mod._PENDING) == 2 and ring.size == 3 and len(ring._free) == 1
    r1.check()                                             # already reported: once
    for _ in range(4):
        run(good)                                          # no stale error, no growth
    assert ring.size == 3
    r = run(bad)
    with pytest.raises(E.SymbolRangeError, match=r"^symbols: .* got 7 at index \(0, 1\)"):
        r.check()
    check_pending()                                        # the good ones: nothing
    assert tabled_mod._PENDING == [] and len(ring._free) == 3
    monkeypatch.setattr(_Deferred, "home", True)           # polled by the next call
    run(bad)
    with pytest.raises(E.SymbolRangeError, match="an earlier run_tabled call"):
        run(good)                          # raised by the poll, before this call launched
    assert tabled_mod._PENDING == [] and len(ring._free) == 3


@_interpreter_only
def test_a_failed_launch_retires_its_slot(tiny_rings, monkeypatch):
    # kernels queued before a launch failed may still write into the slot: it is not reused
    with pytest.raises(E.SymbolRangeError):
        _bad_id_run(torch.tensor([[1, 9]]))
    ring = tiny_rings()
    (slot,) = ring._free

    def failing(inp, buf, plan, flags, *rest):
        flags.flags[0] = flags.gen
        raise RuntimeError("launch failed")

    monkeypatch.setattr(tabled_mod, "launch", failing)
    with pytest.raises(RuntimeError, match="launch failed"):
        _bad_id_run(torch.tensor([[1, 0]]))
    assert ring._free == [] and ring.size == 0 and ring._retired == [slot]
    monkeypatch.undo()
    monkeypatch.setattr(checks, "_RINGS", {(torch.device("cpu"), 2, checks.MAPPED_FLAGS): ring})
    r = _bad_id_run(torch.tensor([[1, 0]]))                # a new slot
    assert r.o[0, :, 0, 0].tolist() == [1.0, 1.0] and ring.size == 1
    assert ring._free[0] is not slot


@_interpreter_only
def test_flags_in_threads(tiny_rings, monkeypatch):
    # 4 threads, each a stream of its own on CUDA, calling run_tabled with good and bad ids,
    # their flags pending (the CUDA path) and polled by each other's calls: the error of
    # every bad call that ran reaches a caller once, naming its own call's position, and a
    # slot is never held twice (release would raise). A call that raises an earlier call's
    # error at its start (the poll, before it launches anything) does not run: its own bad
    # id is never read (session 17: in orders where that happened the test expected errors
    # no kernel could have flagged; it failed in about one run in three once the kernels
    # took longer in the interpreter). The interpreter's kernels are not thread-safe (one
    # global grid index): the launches alone are serialized
    import threading

    monkeypatch.setattr(tabled_mod, "DeviceFlags", _Deferred)
    monkeypatch.setattr(tabled_mod, "_PENDING", [])
    monkeypatch.setattr(tabled_mod, "MAX_PENDING", 3)
    real_launch, launch_lock = tabled_mod.launch, threading.Lock()
    launched = []                                # the bad values of the calls that ran

    def serialized(*args):
        with launch_lock:
            top = int(args[0].symbols.max())
            if top >= 10:
                launched.append(top)
            real_launch(*args)

    monkeypatch.setattr(tabled_mod, "launch", serialized)
    kt, bt, vt = _parity()
    caught, results, expected = [], [], []
    lock = threading.Lock()

    def work(i):
        for j in range(8):
            sym = torch.tensor([[1, 0, 1, 1, 0, 1]])
            if (i + j) % 3 == 0:
                sym[0, (i + j) % 6] = 10 + 4 * i + j // 3      # a value unique to the call
                with lock:
                    expected.append((10 + 4 * i + j // 3, (i + j) % 6))
            try:
                r = run_tabled(sym, kt, bt, vt, initial_state=H0, query=Q)
                with lock:
                    results.append(r)
            except E.SymbolRangeError as e:
                with lock:
                    caught.append(str(e))
        try:
            check_pending()
        except E.SymbolRangeError as e:
            with lock:
                caught.append(str(e))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:                                     # what the threads left unread
        try:
            r.check()
        except E.SymbolRangeError as e:
            caught.append(str(e))
    check_pending()
    found = [re.search(r"got (\d+) at index \(0, (\d)\)", c) for c in caught]
    assert None not in found, caught                   # no error without a bad id
    ran = [e for e in expected if e[0] in launched]
    assert len(launched) == len(set(launched)) and set(launched) <= {e[0] for e in expected}
    assert len(ran) >= 4, (launched, expected)       # most bad calls run: not vacuous
    assert sorted((int(m.group(1)), int(m.group(2))) for m in found) == sorted(ran)
    ring = tiny_rings()
    assert tabled_mod._PENDING == [] and len(ring._free) == ring.size


@pytest.mark.gpu
@pytest.mark.parametrize("mapped", [False, True])
def test_cuda_flags_pending_reused_and_mapped(monkeypatch, mapped):
    # on the device: the flags copied home or written by the kernels straight into pinned
    # host memory (MAPPED_FLAGS, the default since session 25); errors deferred past the call,
    # reported once, a reused slot's stale value not reported, the slot never zeroed
    monkeypatch.setattr(checks, "MAPPED_FLAGS", mapped)
    monkeypatch.setattr(checks, "_RINGS", {})
    monkeypatch.setattr(checks, "RING_SLOTS", 2)
    monkeypatch.setattr(tabled_mod, "_PENDING", [])
    kt, bt, vt = (t.cuda() for t in _parity())
    kw = dict(initial_state=H0.cuda(), query=Q.cuda())
    bad = run_tabled(torch.tensor([[1, 0, 6]]).cuda(), kt, bt, vt, **kw)   # no raise here
    (ring,) = checks._RINGS.values()
    assert ring.mapped == mapped and bad._flags.flags.is_cuda != mapped
    with pytest.raises(E.SymbolRangeError, match=r"^an earlier run_tabled call: .* got 6 at "
                                                 r"index \(0, 2\)"):
        check_pending()
    bad.check()                                                      # once
    monkeypatch.setattr(tabled_mod, "_poll_pending", lambda: None)   # 5 pending at once
    for _ in range(2):
        rs = [run_tabled(torch.tensor([[1, 1, 0]]).cuda(), kt, bt, vt, **kw)
              for _ in range(5)]
        assert len(tabled_mod._PENDING) == 5 and ring.size == 5      # grown once, reused
        check_pending()
    assert [r.check().o[0, :, 0, 0].tolist() for r in rs] == [[1.0, 0.0, 0.0]] * 5
    assert sorted(s.dev.tolist()[0] for s in ring._free) == [0] * 4 + [1]   # gen 1's stays
    _, _, _, ct = _parity_code_table("cuda")
    with pytest.raises(CodeTableMissError, match="code table does not hold"):
        run_tabled(torch.tensor([[1, 0, 1]]).cuda(), kt, bt, vt, initial_state=2 * H0.cuda(),
                   query=Q.cuda(), codes=CODES.cuda(), output="code", code_table=ct).check()
    check_pending()


def test_an_error_leaves_the_later_pending_calls_pending(monkeypatch):
    # three pending calls with bad ids: check_pending (and the poll at a call) raises the
    # oldest's error; the others stay pending, each with its slot and its own error, which
    # the next checks report in turn. Dropped unchecked, their slots would stay held for
    # good (the ring growing at every such error) and their errors would be lost
    monkeypatch.setattr(tabled_mod, "_PENDING", [])
    ring = checks.FlagRing(torch.device("cpu"), 2, slots=3)

    def pending(bad):
        f = DeviceFlags(2, torch.device("cpu"), _flag_error(torch.tensor([[0, bad]]), 2),
                        ring=ring)
        f.flags[0] = f.gen
        tabled_mod._PENDING.append(f.arm())

    for bad in (5, 6, 7):
        pending(bad)
    for bad, left in ((5, 2), (6, 1)):
        with pytest.raises(E.SymbolRangeError, match=rf"earlier .* got {bad} at index"):
            check_pending()
        assert len(tabled_mod._PENDING) == left and len(ring._free) == 3 - left
    for bad in (8, 9):
        pending(bad)
    for bad, left in ((7, 2), (8, 1), (9, 0)):                  # the poll: all home
        with pytest.raises(E.SymbolRangeError, match=rf"earlier .* got {bad} at index"):
            tabled_mod._poll_pending()
        assert len(tabled_mod._PENDING) == left
    check_pending()
    assert ring.size == 3 and len(ring._free) == 3


class _Event:
    def __init__(self):
        self.done, self.queries, self.syncs, self.records = True, 0, 0, 0

    def record(self, stream=None):
        self.records += 1

    def query(self):
        self.queries += 1
        return self.done

    def synchronize(self):
        self.syncs += 1


def test_ready_false_before_arm_and_check_does_not_wait_again(monkeypatch):
    # DeviceFlags with a stand-in CUDA event: not ready before arm(); an event seen complete
    # is remembered (no second query) and check() does not wait on it; one not seen
    # complete is waited on
    from statetrack.kernels._common.checks import FlagRing

    monkeypatch.setattr(checks, "current_stream", lambda dev: None)
    ring = FlagRing(torch.device("cpu"), 2, slots=2)
    f = DeviceFlags(2, torch.device("cpu"), lambda h: None, ring=ring)
    f._slot.event = ev = _Event()
    assert not f.ready()                    # not armed: an unrecorded event reads complete
    f.arm()
    ev.done = False
    assert not f.ready() and not f.ready()
    ev.done = True
    assert f.ready()
    n = ev.queries
    assert f.ready() and ev.queries == n    # remembered: no second query
    f.check()
    assert ev.syncs == 0                    # seen complete: not waited on again
    g = DeviceFlags(2, torch.device("cpu"), lambda h: None, ring=ring)
    g._slot.event = ev2 = _Event()
    g.arm()
    ev2.done = False
    assert not g.ready()
    g.check()
    assert ev2.syncs == 1                   # not seen complete: waited on


def test_current_stream_kept_per_device_and_raw_handle(monkeypatch):
    # checks.current_stream: one stream object per (device, raw handle), with stand-ins for
    # torch's stream calls (no GPU needed)
    made = []
    raw = {0: 5, 1: 5}

    def fake_current_stream(idx):
        made.append(idx)
        return ("stream", idx, raw[idx])

    monkeypatch.setattr(checks, "_STREAMS", {})
    monkeypatch.setattr(torch._C, "_cuda_getCurrentRawStream", lambda idx: raw[idx],
                        raising=False)
    monkeypatch.setattr(torch.cuda, "current_stream", fake_current_stream)
    d0, d1 = torch.device("cuda", 0), torch.device("cuda", 1)
    assert checks.current_stream(d0) == ("stream", 0, 5)
    assert checks.current_stream(d1) == ("stream", 1, 5)        # same handle, other device
    assert checks.current_stream(d0) == ("stream", 0, 5) and made == [0, 1]
    raw[0] = 7
    assert checks.current_stream(d0) == ("stream", 0, 7) and made == [0, 1, 0]


def test_host_writable_probe_falls_back_with_a_warning(monkeypatch):
    # checks.host_writable (mapped flags' precondition) with the probe launch stubbed: a
    # refused launch answers False with one warning, remembered per device; a launch that
    # runs answers True; nothing is launched or remembered while a CUDA graph is captured
    launched = []

    def refuse(dev):
        launched.append(dev)
        raise ValueError("Pointer argument (at 0) cannot be accessed from Triton (cpu tensor?)")

    monkeypatch.setattr(checks, "_HOST_WRITABLE", {})
    monkeypatch.setattr(torch.cuda, "is_current_stream_capturing", lambda: False)
    monkeypatch.setattr(checks, "_touch", refuse)
    d0, d1 = torch.device("cuda", 0), torch.device("cuda", 1)
    with pytest.warns(RuntimeWarning, match=r"cuda:0 cannot write pinned host memory .*"
                                            r"cannot be accessed.*copied home"):
        assert checks.host_writable(d0) is False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert checks.host_writable(d0) is False                  # remembered: no warning
    assert launched == [d0]
    monkeypatch.setattr(checks, "_touch", lambda dev: launched.append(dev))
    monkeypatch.setattr(torch.cuda, "is_current_stream_capturing", lambda: True)
    assert checks.host_writable(d1) is True and launched == [d0]  # capturing: no launch
    monkeypatch.setattr(torch.cuda, "is_current_stream_capturing", lambda: False)
    assert checks.host_writable(d1) is True and launched == [d0, d1]
    assert checks.host_writable(d1) is True and launched == [d0, d1]


@pytest.mark.gpu
def test_host_writable_on_this_device():
    # the probe launch runs on a real device (UVA: pinned memory is mapped) and a ring made
    # with mapped flags then hands the kernels host memory
    dev = torch.device("cuda", torch.cuda.current_device())
    assert checks.host_writable(dev) is True
    ring = checks.FlagRing(dev, 2, slots=1, mapped=True)
    assert ring.mapped and not ring.acquire()[0].dev.is_cuda


@pytest.mark.parametrize("change", ["none", "write", "view write", "data", "dtype", "strides",
                                    "another object", "dead"])
def test_verified_tensors_lookup_misses_on_any_change(change):
    # lookup: a hit only for the same objects (None in the same places) with unchanged
    # version, data pointer, shape, strides, dtype and device; a miss drops the entry
    cache = VerifiedTensors()
    a, b = torch.ones(4, 3), torch.zeros(5)
    cache.store("k", (a, None, b), value="v")
    probe = (a, None, b)
    if change == "write":
        b.add_(1)
    elif change == "view write":
        a[1:, :1].fill_(2.0)
    elif change == "data":
        a.data = torch.ones(4, 3)
    elif change == "dtype":
        b.data = torch.zeros(5, dtype=torch.float64)
    elif change == "strides":
        a.data = torch.ones(3, 4).t()
    elif change == "another object":
        probe = (a, None, torch.zeros(5))
    if change == "dead":
        found, value = cache.lookup("k", (a, b, None))   # None elsewhere: another key
        assert not found
        del b, probe
        import gc
        gc.collect()
        assert len(cache._entries) == 0                   # died with its tensor
        return
    found, value = cache.lookup("k", probe)
    assert (found, value) == ((True, "v") if change == "none" else (False, None))
    if change != "none":
        assert len(cache._entries) == (1 if change == "another object" else 0)
        assert not cache.lookup("k", probe)[0]
