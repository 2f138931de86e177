"""Shared fixtures of the kernel tests.

* Importing :mod:`statetrack.kernels._common.triton` first makes Triton start in interpreter mode on
  machines without CUDA (CI), so the kernels run on CPU tensors there.
* ``@pytest.mark.gpu`` tests are skipped cleanly when no CUDA device is visible.
* ``gen``: a ``torch.Generator`` with a *fresh* seed for every test (printed, so a failure
  can be replayed with ``STATETRACK_TEST_SEED=<seed>``).
* ``device``: CUDA when available, else CPU (interpreter).
* Under the interpreter every test runs under
  ``statetrack.kernels._common.bounds.BoundsCheck`` (the repository's ``conftest.py``).
* ``poison_empty``: while active, ``torch.empty``/``torch.empty_like`` return NaN-filled
  float tensors (integer ones filled with -7), so any output or intermediate entry a kernel
  forgets to write shows up.
* ``cols_kernel``: while active, the tabled path takes ``cols_kernel`` wherever ``proj`` is
  not asked for explicitly (``_plan.PROJ_DEFAULT`` off): for the tests of ``cols_kernel``'s
  own orders (``late``, ``deep``, ``pf``, ``words``), which ``proj_kernel`` would otherwise
  run instead where it applies (the default since session 23), leaving them nothing to test.
* ``launch_spy``: ``spy(name, record)`` replaces a kernel of the tabled launcher by one that
  reports each launch's grid and keyword arguments first.
* ``narrowing_spy``: records the tabled path's launches of the ids' narrowing pass (one
  grid each) and, per ``proj_kernel`` launch, whether it narrowed (its ``NARROW``).
* ``make_inputs``, ``as_float64``: random DeltaProduct inputs (unit keys, beta in [0, 2], negative
  log-gates) in fla's layout.
"""

from __future__ import annotations

import contextlib
import os

import statetrack.kernels._common.triton  # noqa: F401  (must precede any import of triton)

import pytest
import torch

HAS_CUDA = torch.cuda.is_available()


def pytest_collection_modifyitems(config, items):
    if HAS_CUDA:
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def gen() -> torch.Generator:
    env = os.environ.get("STATETRACK_TEST_SEED")
    seed = int(env) if env else int.from_bytes(os.urandom(4), "little")
    print(f"torch.Generator seed: {seed}")
    return torch.Generator().manual_seed(seed)


@pytest.fixture
def device() -> torch.device:
    return torch.device("cuda" if HAS_CUDA else "cpu")


@contextlib.contextmanager
def _poisoned_empty():
    real_empty, real_empty_like = torch.empty, torch.empty_like

    def fill(t):
        if t.is_floating_point():
            t.fill_(float("nan"))
        elif t.dtype != torch.bool:
            t.fill_(-7)
        return t

    def empty(*args, **kwargs):
        return fill(real_empty(*args, **kwargs))

    def empty_like(*args, **kwargs):
        return fill(real_empty_like(*args, **kwargs))

    torch.empty, torch.empty_like = empty, empty_like
    try:
        yield
    finally:
        torch.empty, torch.empty_like = real_empty, real_empty_like


@pytest.fixture
def cols_kernel(monkeypatch):
    from statetrack.kernels.tabled import _plan

    monkeypatch.setattr(_plan, "PROJ_DEFAULT", False)


def spy_launches(monkeypatch, name, record, edit=None):
    """Replace the tabled launcher's kernel ``name`` (of ``_launch._kern``) by a stand-in that
    calls ``record(grid, meta)`` (``meta``: the launch's keyword arguments) at each launch and
    then launches the kernel, with ``edit(meta)``'s keyword arguments where ``edit`` is
    given."""
    from statetrack.kernels.tabled import _launch

    real = getattr(_launch._kern, name)

    class Spy:
        def __getitem__(self, grid):
            def launch(*args, **meta):
                record(grid, meta)
                return real[grid](*args, **(meta if edit is None else edit(meta)))
            return launch

    monkeypatch.setattr(_launch._kern, name, Spy())


@pytest.fixture
def launch_spy(monkeypatch):
    """``spy(name, record, edit=None)``: :func:`spy_launches` for this test."""
    return lambda name, record, edit=None: spy_launches(monkeypatch, name, record, edit)


@pytest.fixture
def narrowing_spy(monkeypatch):
    """``(narrowed, fused)``: lists the tabled launcher's narrowing pass launches append
    their grid to, and ``proj_kernel`` launches their ``NARROW`` (False when not passed)."""
    narrowed, fused = [], []
    spy_launches(monkeypatch, "ids_u8_kernel", lambda grid, meta: narrowed.append(grid))
    spy_launches(monkeypatch, "proj_kernel",
                 lambda grid, meta: fused.append(meta.get("NARROW", False)))
    return narrowed, fused


@pytest.fixture
def poison_empty():
    """Context manager factory: ``with poison_empty(): ...``."""
    return _poisoned_empty


def _make_inputs(gen: torch.Generator, *, B: int, T: int, H: int, K: int, V: int,
                n_h: int = 1, dtype: torch.dtype = torch.float32, gate: bool = False,
                initial_state: bool = False, device: torch.device | str = "cpu",
                requires_grad: bool = False) -> dict[str, torch.Tensor | None]:
    """Random inputs of the DeltaProduct kernels, drawn on the CPU from ``gen``.

    Keys are unit vectors and ``beta`` is uniform in [0, 2] (so every GH factor is a
    contraction); ``g`` is uniform in [-1, 0]; ``q``, ``v`` and the initial state are
    standard normal. ``q``, ``k``, ``v``, ``beta`` have ``dtype``; ``g`` and the initial
    state are float32 (float64 when ``dtype`` is float64).
    """
    side = torch.float64 if dtype == torch.float64 else torch.float32
    TN = T * n_h
    q = torch.randn(B, T, H, K, generator=gen, dtype=torch.float64)
    k = torch.nn.functional.normalize(
        torch.randn(B, TN, H, K, generator=gen, dtype=torch.float64), dim=-1)
    v = torch.randn(B, TN, H, V, generator=gen, dtype=torch.float64)
    beta = 2 * torch.rand(B, TN, H, generator=gen, dtype=torch.float64)
    g = -torch.rand(B, T, H, generator=gen, dtype=torch.float64) if gate else None
    h0 = torch.randn(B, H, K, V, generator=gen, dtype=torch.float64) if initial_state else None
    out = {"q": q.to(dtype), "k": k.to(dtype), "v": v.to(dtype), "beta": beta.to(dtype),
           "g": g.to(side) if g is not None else None,
           "initial_state": h0.to(side) if h0 is not None else None}
    for name, t in out.items():
        if t is not None:
            t = t.to(device)
            if requires_grad:
                t.requires_grad_(True)
            out[name] = t
    return out


def _as_float64(inputs: dict[str, torch.Tensor | None], requires_grad: bool = False
               ) -> dict[str, torch.Tensor | None]:
    """Detached float64 copies of ``inputs`` (the same values), optionally requiring grad."""
    res = {}
    for name, t in inputs.items():
        if t is None:
            res[name] = None
        else:
            res[name] = t.detach().to(torch.float64).requires_grad_(requires_grad)
    return res


@pytest.fixture
def make_inputs():
    """The function :func:`_make_inputs` (random kernel inputs)."""
    return _make_inputs


@pytest.fixture
def as_float64():
    """The function :func:`_as_float64` (float64 copies for the reference)."""
    return _as_float64


KERNEL_INPUTS = ("q", "k", "v", "beta", "g", "initial_state")


def _check_against_reference(o, s, x, gen, *, n_h: int, dtype: torch.dtype, final: bool,
                             grads: bool, skip: tuple[str, ...] = ()) -> None:
    """Compare a kernel's ``(o, final_state)`` on inputs ``x`` with the float64 reference:
    outputs, final state and (if ``grads``) every input gradient under a random cotangent,
    each bounded by the tolerance table, but those of the inputs named in ``skip``. Gradient
    buffers are NaN-poisoned."""
    from statetrack.kernels.delta_product.naive import delta_product_ref
    from statetrack.kernels._common.tolerances import assert_rel_close

    ref = _as_float64(x, requires_grad=grads)
    o_ref, s_ref = delta_product_ref(ref["q"], ref["k"], ref["v"], ref["beta"],
                                     num_householder=n_h, g=ref["g"],
                                     initial_state=ref["initial_state"],
                                     output_final_state=final)
    assert_rel_close(o, o_ref, dtype, name="o")
    if final:
        assert_rel_close(s, s_ref, dtype, name="final_state")
    else:
        assert s is None
    if not grads:
        return
    # the cotangents the kernel receives: rounded to its outputs' dtypes (autograd casts the
    # gradient of ``o.double()`` to ``o``'s dtype), so the reference gets those same values,
    # as it gets the kernel's rounded inputs (the table does not count input rounding)
    do = torch.randn(o.shape, generator=gen, dtype=torch.float64).to(o.dtype).double()
    dht = (torch.randn(s_ref.shape, generator=gen, dtype=torch.float64).to(s.dtype).double()
           if final else None)
    names = [n for n in KERNEL_INPUTS if x[n] is not None and n not in skip]

    def loss(o_, s_):
        val = (o_.double() * do.to(o_.device)).sum()
        if final:
            val = val + (s_.double() * dht.to(s_.device)).sum()
        return val

    with _poisoned_empty():
        got = torch.autograd.grad(loss(o, s), [x[n] for n in names])
    want = torch.autograd.grad(loss(o_ref, s_ref), [ref[n] for n in names])
    for n, a, b in zip(names, got, want):
        assert a.dtype == x[n].dtype and a.shape == x[n].shape, n
        assert_rel_close(a, b, dtype, kind="bwd", name=f"d{n}")


@pytest.fixture
def check_against_reference():
    """The function :func:`_check_against_reference`."""
    return _check_against_reference
