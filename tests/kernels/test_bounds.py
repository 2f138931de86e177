"""The interpreter's bounds check (``statetrack.kernels._common.bounds.BoundsCheck``): that it
finds what it should, and the chunked kernel's launches with the GPU's plan checked by it.

Under the interpreter a load or store out of its tensor reads or writes host memory and
passes unnoticed; on the GPU it is an illegal address. The check makes the interpreter's runs
say so. Every other kernel test runs under it too (the ``conftest`` fixture, on by default
under the interpreter); here, in addition, the chunked kernel runs with the launch settings
the GPU would take (its ``_GPU_CONFIG`` value blocks, the one-chunk unspecialized compiles,
the narrow-value and narrow-key rules), which the interpreter's own plan never uses.
"""

from __future__ import annotations

import pytest
import torch
from statetrack.kernels._common.bounds import BoundsCheck

from statetrack.kernels._common.triton import INTERPRET, tl, triton

pytestmark = pytest.mark.skipif(not INTERPRET, reason="checks Triton's interpreter")


@triton.jit
def _copy(src, dst, n, off, BLOCK: tl.constexpr):
    i = tl.arange(0, BLOCK)
    tl.store(dst + i, tl.load(src + off + i, mask=i < n), mask=i < n)


@triton.jit
def _scalar_at(src, dst, at):
    tl.store(dst, tl.load(src + at))


@triton.jit
def _jump(a, b, BLOCK: tl.constexpr):
    # reads a's 4 elements and then, by the same access, the 4 after them (which are b's,
    # when b lies right behind a in one storage: inside *a* tensor, not inside one)
    i = tl.arange(0, BLOCK)
    tl.store(b + i % 4, tl.load(a + i))


def test_in_bounds_masked_accesses_pass_and_are_counted():
    x, y = torch.arange(8.0), torch.empty(8)
    with BoundsCheck() as bc:
        _copy[(1,)](x, y, 8, 0, BLOCK=16)
        _copy[(1,)](x[2:], y[:6], 6, 0, BLOCK=8)         # views: their own spans
    assert bc.violations == [] and [k for k, _, _ in bc.launches] == ["_copy", "_copy"]
    assert all(acc == 2 for _, acc, _ in bc.launches) and torch.equal(y[:6], x[2:])
    # an expanded (stride 0) tensor spans one element
    with BoundsCheck() as bc:
        _copy[(1,)](torch.ones(1).expand(8), y, 1, 0, BLOCK=4)
    assert bc.violations == []


def test_a_mask_too_long_is_found_and_located():
    x, y = torch.arange(8.0), torch.empty(16)
    with BoundsCheck(raise_on_exit=False) as bc:
        _copy[(1,)](x, y, 10, 0, BLOCK=16)
    (v,) = bc.violations                       # the load; the store's 10 lanes fit y
    assert (v.kernel, v.kind, v.tensor, v.numel, v.offsets, v.n_bad, v.n_active) == \
        ("_copy", "load", "src", 8, [8, 9], 2, 10)
    assert "test_bounds.py" in v.where and v.program == (0, 0, 0)
    with pytest.raises(AssertionError, match=r"(?s)1 out-of-bounds access.*_copy: load"):
        with BoundsCheck():
            _copy[(1,)](x, y, 10, 0, BLOCK=16)


def test_an_offset_past_the_end_and_a_negative_one_are_found():
    x, y = torch.arange(8.0), torch.empty(1)
    for at, off in ((8, 8), (-1, -1)):
        with BoundsCheck(raise_on_exit=False) as bc:
            _scalar_at[(1,)](x, y, at)
        assert [(v.kind, v.offsets) for v in bc.violations] == [("load", [off])], at
    with BoundsCheck(raise_on_exit=False) as bc:
        _scalar_at[(1,)](x, y, 7)
    assert bc.violations == []


@triton.jit
def _fill(dst, n, BLOCK: tl.constexpr):
    i = tl.arange(0, BLOCK)
    tl.store(dst + i, tl.full([BLOCK], 5.0, tl.float32), mask=i < n)


@triton.jit
def _float_at_byte(src, dst, at):
    # src is a byte tensor: one float32 read at byte offset `at`
    p = (src + at).to(tl.pointer_type(tl.float32))
    tl.store(dst, tl.load(p))


@triton.jit
def _strided(src, dst, n, step, BLOCK: tl.constexpr):
    i = tl.arange(0, BLOCK)
    tl.store(dst + i, tl.load(src + i * step, mask=i < n), mask=i < n)


def test_a_bad_store_is_found_and_not_carried_out():
    buf = torch.zeros(16)
    with BoundsCheck(raise_on_exit=False) as bc:
        _fill[(1,)](buf[:8], 10, BLOCK=16)
    (v,) = bc.violations
    assert (v.kind, v.tensor, v.offsets) == ("store", "dst", [8, 9])
    assert torch.equal(buf[:8], torch.full((8,), 5.0)) and not buf[8:].any()   # masked off


def test_partial_elements_strides_and_expanded_views():
    y = torch.empty(1)
    src = torch.zeros(6, dtype=torch.uint8)
    for at, bad in ((2, False), (3, True)):            # bytes 2-5 fit; 3-6 cross the end
        with BoundsCheck(raise_on_exit=False) as bc:
            _float_at_byte[(1,)](src, y, at)
        assert bool(bc.violations) is bad, at
    base = torch.arange(16.0)
    out = torch.empty(8)
    with BoundsCheck(raise_on_exit=False) as bc:        # a strided view read at its stride
        _strided[(1,)](base[::2], out, 8, 2, BLOCK=8)
    assert bc.violations == [] and torch.equal(out, base[::2])
    with BoundsCheck(raise_on_exit=False) as bc:        # one step past its last element
        _strided[(1,)](base[:13:2], out, 8, 2, BLOCK=8)  # 7 elements, 8 read
    assert [(v.tensor, v.offsets) for v in bc.violations] == [("src", [14])]
    with BoundsCheck(raise_on_exit=False) as bc:        # an expanded view spans one element
        _strided[(1,)](torch.ones(1).expand(8), out, 2, 1, BLOCK=2)
    assert [(v.tensor, v.offsets) for v in bc.violations] == [("src", [1])]


def test_an_error_in_the_body_carries_the_report():
    with pytest.raises(ValueError, match="boom") as info:
        with BoundsCheck():
            _copy[(1,)](torch.arange(8.0), torch.empty(16), 10, 0, BLOCK=16)
            raise ValueError("boom")
    assert any("out-of-bounds" in n for n in getattr(info.value, "__notes__", []))


def test_an_access_across_two_tensors_is_found():
    # a and b are views of one storage, b right behind a: every lane lies in *some* tensor,
    # but the access belongs to one, so it is out of bounds of a
    buf = torch.zeros(8)
    a, b = buf[:4], buf[4:]
    with BoundsCheck(raise_on_exit=False) as bc:
        _jump[(1,)](a, b, BLOCK=8)
    (v,) = bc.violations
    assert (v.kind, v.tensor, v.offsets, v.n_bad) == ("load", "a", [4, 5, 6, 7], 4)


def test_the_hooks_are_restored_and_checks_nest():
    from triton.runtime import interpreter as it

    def hooks():
        return (it.GridExecutor._init_args_hst, it.InterpreterBuilder.create_masked_load,
                it.InterpreterBuilder.create_masked_store)

    before = hooks()
    x, y = torch.arange(8.0), torch.empty(16)
    with BoundsCheck(raise_on_exit=False) as outer:
        with BoundsCheck(raise_on_exit=False) as inner:
            _copy[(1,)](x, y, 10, 0, BLOCK=16)          # the inner check alone sees it
        _copy[(1,)](x, y, 8, 0, BLOCK=16)               # then the outer again
        assert len(inner.violations) == 1 and outer.violations == []
        assert [k for k, _, _ in inner.launches] == ["_copy"] == \
            [k for k, _, _ in outer.launches]
        done = BoundsCheck(raise_on_exit=False)
        with done:
            pass
        _copy[(1,)](x, y, 10, 0, BLOCK=16)              # after its exit: not seen by it
        assert done.launches == [] and len(outer.violations) == 1
    assert hooks() == before


# ---------------------------------------------------------------- the GPU's plan
def _gpu_plan(monkeypatch):
    """Plans made as on the GPU (``_GPU_CONFIG``, the fault rules, ``nospec``), run with the
    interpreter's arithmetic (``EMU``) and no launch options."""
    from statetrack.kernels.delta_product import chunk

    real = chunk._Plan.__init__

    def init(self, *a, **k):
        monkeypatch.setattr(chunk, "INTERPRET", False)
        try:
            real(self, *a, **k)
        finally:
            monkeypatch.setattr(chunk, "INTERPRET", True)
        self.interpret = True

    monkeypatch.setattr(chunk._Plan, "__init__", init)
    monkeypatch.setattr(chunk, "_CONFIG_OVERRIDE", {})
    return chunk


GPU_PLAN_CASES = [
    # B, T, H, K, V, n_h, dtype, gate, init, chunk_size: session 34's fault shape (one chunk,
    # nospec) and three chunks; session 20's narrow values at K = 128; the model's 16-bit path
    # (loop-form WY pass, hoisted state pass) at K = 128; a float32 call; chunk 16 / 32
    (1, 64, 2, 16, 48, 1, torch.float16, False, True, 64),
    (1, 150, 1, 16, 48, 1, torch.float16, True, False, 64),
    (1, 70, 1, 128, 16, 1, torch.bfloat16, True, True, 64),
    (1, 70, 1, 128, 128, 3, torch.bfloat16, True, False, 64),
    (1, 40, 1, 64, 32, 2, torch.float32, True, True, 64),
    (1, 40, 2, 32, 40, 2, torch.float16, False, True, 16),
]


@pytest.mark.parametrize("B,T,H,K,V,n_h,dtype,gate,init,chunk_size", GPU_PLAN_CASES)
@pytest.mark.parametrize("wy_loop", [None, True])
def test_the_gpu_plans_launches_stay_in_bounds(monkeypatch, gen, make_inputs, B, T, H, K, V,
                                               n_h, dtype, gate, init, chunk_size, wy_loop):
    chunk = _gpu_plan(monkeypatch)
    if wy_loop:
        chunk._CONFIG_OVERRIDE["wy_loop"] = True
    x = make_inputs(gen, B=B, T=T, H=H, K=K, V=V, n_h=n_h, dtype=dtype, gate=gate,
                    initial_state=init, requires_grad=True)
    with BoundsCheck() as bc:
        o, s = chunk.chunk_delta_product(x["q"], x["k"], x["v"], x["beta"],
                                         num_householder=n_h, g=x["g"],
                                         initial_state=x["initial_state"],
                                         output_final_state=True, chunk_size=chunk_size)
        (o.float().sum() + s.sum()).backward()
    kernels = {k for k, _, _ in bc.launches}
    assert {"bwd_wy_kernel"} <= kernels and any(k.startswith("fwd_state") for k in kernels)
    assert all(x[n].grad is not None and x[n].grad.isfinite().all() for n in ("q", "k", "v"))
