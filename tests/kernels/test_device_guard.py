"""The device guard: Triton launches a kernel on the *current* CUDA device's stream, so every
entry point that launches kernels makes the tensors' device current first
(:func:`statetrack.kernels._common.device.device_guard`).

* On the CPU: the guard's decision (switch only to a CUDA device other than the current one)
  with ``torch.cuda`` faked, and the wiring: every helper that launches Triton kernels runs
  inside the guard, for every kernel family, forward and backward (interpreter).
* On two GPUs: every family on ``cuda:1`` while ``cuda:0`` is current, with its inputs
  written late on ``cuda:1``'s stream (a kernel on another stream would read them before they
  are written), equal to the same call on ``cuda:0``.
"""

from __future__ import annotations

import contextlib

import pytest
import torch

from statetrack.kernels._common import device as device_mod
from statetrack.kernels._common.triton import INTERPRET
from statetrack.kernels.delta_product import chunk as chunk_mod
from statetrack.kernels.delta_product import fused_recurrent as recurrent_mod
from statetrack.kernels.diagonal_scan import scan as scan_mod
from statetrack.kernels.tabled import tabled as tabled_mod

#: the tests that run CPU tensors through Triton's interpreter: on a CUDA machine Triton is
#: imported without it and CPU tensors are refused (KernelUnavailableError), so there the
#: two-GPU test below is the test
_interpreter_only = pytest.mark.skipif(
    not INTERPRET, reason="CPU tensors need Triton's interpreter; the GPUs have their own test")


def test_guard_switches_only_to_another_cuda_device(monkeypatch):
    entered = []

    class FakeDevice:
        def __init__(self, device):
            self.device = device

        def __enter__(self):
            entered.append(self.device)

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "device", FakeDevice)
    with device_mod.device_guard(torch.device("cuda", 1)):
        pass
    assert entered == [torch.device("cuda", 1)]
    for same in (torch.device("cuda", 0), torch.device("cuda")):
        guard = device_mod.device_guard(same)
        assert isinstance(guard, contextlib.nullcontext), same
    assert entered == [torch.device("cuda", 1)]

    def no_query():
        raise AssertionError("the CPU path must not query CUDA")

    monkeypatch.setattr(torch.cuda, "current_device", no_query)
    assert isinstance(device_mod.device_guard(torch.device("cpu")), contextlib.nullcontext)


class _Spy:
    """Stands in for ``device_guard`` in a module: records the devices it guards and whether
    a call is inside it now."""

    def __init__(self):
        self.devices: list[torch.device] = []
        self.depth = 0

    def __call__(self, device):
        self.devices.append(device)
        spy = self

        @contextlib.contextmanager
        def ctx():
            spy.depth += 1
            try:
                yield
            finally:
                spy.depth -= 1
        return ctx()


def _inside(spy: _Spy, fn, calls: list[str], name: str):
    def wrapped(*args, **kwargs):
        assert spy.depth > 0, f"{name} launched kernels outside the device guard"
        calls.append(name)
        return fn(*args, **kwargs)
    return wrapped


def _spy_on(monkeypatch, module, helpers):
    spy, calls = _Spy(), []
    monkeypatch.setattr(module, "device_guard", spy)
    for name in helpers:
        monkeypatch.setattr(module, name, _inside(spy, getattr(module, name), calls, name))
    return spy, calls


@_interpreter_only
def test_chunk_launches_inside_the_guard(monkeypatch, gen, make_inputs):
    spy, calls = _spy_on(monkeypatch, chunk_mod,
                         ["_gate_cumsums", "_forward", "_backward", "_gate_grad"])
    x = make_inputs(gen, B=1, T=16, H=1, K=16, V=16, n_h=2, gate=True, initial_state=True,
                    requires_grad=True)
    o, s = chunk_mod.chunk_delta_product(x["q"], x["k"], x["v"], x["beta"], num_householder=2,
                                         g=x["g"], initial_state=x["initial_state"],
                                         output_final_state=True, chunk_size=16)
    (o.sum() + s.sum()).backward()
    assert calls == ["_gate_cumsums", "_forward", "_backward", "_gate_grad"]
    assert spy.devices == [torch.device("cpu")] * 2 and spy.depth == 0


@_interpreter_only
def test_recurrent_launches_inside_the_guard(monkeypatch, gen, make_inputs):
    spy, calls = _spy_on(monkeypatch, recurrent_mod, ["_fwd", "_bwd"])
    x = make_inputs(gen, B=1, T=5, H=1, K=4, V=4, n_h=2, gate=True, initial_state=True,
                    requires_grad=True)
    o, s = recurrent_mod.fused_recurrent_delta_product(
        x["q"], x["k"], x["v"], x["beta"], num_householder=2, g=x["g"],
        initial_state=x["initial_state"], output_final_state=True)
    (o.sum() + s.sum()).backward()
    assert calls == ["_fwd", "_bwd"]
    assert spy.devices == [torch.device("cpu")] * 2 and spy.depth == 0


@_interpreter_only
def test_diagonal_scan_launches_inside_the_guard(monkeypatch, gen):
    spy, calls = _spy_on(monkeypatch, scan_mod, ["_scan_triton"])
    a = (2 * torch.rand(1, 20, 3, generator=gen) - 1).requires_grad_(True)
    b = torch.randn(1, 20, 3, generator=gen, requires_grad=True)
    h = scan_mod.diagonal_scan(a, b, backend="triton", chunk_size=16)
    h.sum().backward()
    assert calls == ["_scan_triton", "_scan_triton"]
    assert spy.devices == [torch.device("cpu")] * 2 and spy.depth == 0


@_interpreter_only
def test_tabled_launches_inside_the_guard(monkeypatch, gen):
    spy, calls = _spy_on(monkeypatch, tabled_mod, ["launch", "DeviceFlags"])
    S, H, K, V = 3, 1, 4, 4
    kt = torch.nn.functional.normalize(torch.randn(S, H, K, generator=gen), dim=-1)
    bt, vt = 2 * torch.rand(S, H, generator=gen), torch.randn(S, H, V, generator=gen)
    sym = torch.randint(0, S, (2, 7), generator=gen)
    r = tabled_mod.run_tabled(sym, kt, bt, vt, query=torch.randn(H, K, generator=gen),
                              check_ids=True)
    assert r.o.shape == (2, 7, H, V)
    # the ids are checked on the device (a flag) on the CPU too, so both run in the guard
    assert calls == ["DeviceFlags", "launch"]
    assert spy.devices == [torch.device("cpu")] and spy.depth == 0


# ---- two GPUs ---------------------------------------------------------------------------

def _late(xs: list[torch.Tensor], device: torch.device) -> list[torch.Tensor]:
    """``xs`` on ``device``, written there only after a ~50 ms sleep on ``device``'s stream
    (the buffers hold NaN, or -1 for integers, until then): a kernel that runs on another
    stream, without waiting for ``device``'s, reads the poison."""
    srcs = [x.detach().to(device) for x in xs]
    bufs = [torch.full_like(s, -1 if not s.is_floating_point() else float("nan")) for s in srcs]
    torch.cuda.synchronize(device)
    with torch.cuda.device(device):
        torch.cuda._sleep(100_000_000)
        for b, s in zip(bufs, srcs):
            b.copy_(s)    # device to device: queued behind the sleep, the host goes on
    return [b.requires_grad_(x.requires_grad) for b, x in zip(bufs, xs)]


def _families(gen, make_inputs, small=False):
    """(name, inputs on the CPU, function of inputs returning tensors to compare); ``small``:
    shapes for the interpreter."""
    T, K, TS, TT = (20, 8, 40, 50) if small else (64, 32, 300, 4000)
    x = make_inputs(gen, B=2, T=T, H=2, K=K, V=K, n_h=2, gate=True, initial_state=True,
                    requires_grad=True)
    names = ["q", "k", "v", "beta", "g", "initial_state"]

    def delta(fn, **kw):
        def run(*t):
            q, k, v, beta, g, h0 = t
            # check_beta=False: the beta range check reads beta on the host (a synchronize
            # on cuda:1's stream), which would wait out the late write before any launch
            o, s = fn(q, k, v, beta, num_householder=2, g=g, initial_state=h0,
                      output_final_state=True, check_beta=False, **kw)
            do = torch.ones_like(o)
            grads = torch.autograd.grad((o * do).sum() + s.sum(), t)
            return (o, s, *grads)
        return run

    a = (2 * torch.rand(2, TS, 8, generator=gen) - 1).requires_grad_(True)
    b = torch.randn(2, TS, 8, generator=gen, requires_grad=True)

    def scan(a, b):
        h = scan_mod.diagonal_scan(a, b, backend="triton", chunk_size=16 if small else 64)
        return (h, *torch.autograd.grad(h.sum(), (a, b)))

    S, H, K, V = 5, 2, 8, 8
    kt = torch.nn.functional.normalize(torch.randn(S, H, K, generator=gen), dim=-1)
    bt, vt = 2 * torch.rand(S, H, generator=gen), torch.randn(S, H, V, generator=gen)
    sym = torch.randint(0, S, (3, TT), generator=gen)
    query, codes = torch.randn(H, K, generator=gen), torch.randn(H, 4, V, generator=gen)

    def tabled(sym, kt, bt, vt, query, codes):
        # the value checks read the tables on the host (a synchronize, as check_beta above);
        # the ids are checked on the device (no synchronize)
        kw = {"check_beta": False, "check_finite_inputs": False}
        r = tabled_mod.run_tabled(sym, kt, bt, vt, query=query, return_states=False, **kw)
        c = tabled_mod.run_tabled(sym, kt, bt, vt, query=query, codes=codes, output="code",
                                  **kw)
        r.check()
        c.check()
        return r.o, r.final_state, c.code

    return [
        ("chunk", [x[n] for n in names],
         delta(chunk_mod.chunk_delta_product, chunk_size=16 if small else 32)),
        ("recurrent", [x[n] for n in names], delta(recurrent_mod.fused_recurrent_delta_product)),
        ("diagonal_scan", [a, b], scan),
        ("tabled", [sym, kt, bt, vt, query, codes], tabled),
    ]


@pytest.mark.gpu
@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two CUDA devices")
def test_every_family_runs_on_the_tensors_device(gen, make_inputs):
    zero, one = torch.device("cuda", 0), torch.device("cuda", 1)
    for name, cpu_inputs, fn in _families(gen, make_inputs):
        torch.cuda.set_device(zero)
        want = fn(*(t.to(zero).detach().requires_grad_(t.requires_grad)
                    if t.is_floating_point() else t.to(zero) for t in cpu_inputs))
        torch.cuda.set_device(zero)
        got = fn(*_late(cpu_inputs, one))
        assert torch.cuda.current_device() == 0, f"{name}: the guard left cuda:1 current"
        for i, (w, g) in enumerate(zip(want, got)):
            assert g.device == one, f"{name}: output {i} on {g.device}"
            # same kernels, same inputs, same GPU model: the same numbers (NaN would mean a
            # read before the late write on cuda:1's stream)
            torch.testing.assert_close(g.cpu(), w.cpu(), rtol=0, atol=0,
                                       msg=lambda m, n=name, j=i: f"{n} output {j}: {m}")


@_interpreter_only
def test_the_two_gpu_families_run_and_repeat_bitwise(gen, make_inputs):
    """The two-GPU test's calls, on the CPU (interpreter): each runs and gives the same bits
    twice (the GPU test's equality rests on that determinism)."""
    for name, inputs, fn in _families(gen, make_inputs, small=True):
        a = fn(*inputs)
        b = fn(*inputs)
        assert len(a) == len(b) >= 3, name
        for i, (x, y) in enumerate(zip(a, b)):
            assert x.device.type == "cpu" and torch.equal(x, y), f"{name} output {i}"
            assert not x.is_floating_point() or torch.isfinite(x).all(), f"{name} output {i}"
