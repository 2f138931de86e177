"""The direct launch of compiled Triton kernels (``_common/fast_launch.py``).

On the CPU: its key against Triton's own specialization (``native_specialize_impl``, the
function Triton's binder calls for every argument), and its dispatch with a stand-in for the
compiled kernel (what it passes to the launcher, when it goes through Triton); with a
Triton it is verified for (3.6, the device's), a fuzz of its direct launches against Triton's
own ``JITFunction.run`` (binder, cache key and launch arguments; the driver and the compiler
stubbed). On a GPU: tabled calls with the check mode on (Triton's key computed at every
direct launch); the whole tabled test set runs so in ``benchmarks/GPU_SESSION.md``'s
procedure.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys

import pytest
import torch

from statetrack.kernels._common import fast_launch
from statetrack.kernels._common.fast_launch import FastKernel, arg_key, fast
from statetrack.kernels._common.triton import tl, triton

native = pytest.importorskip("triton._C.libtriton").native_specialize_impl
from triton.backends.compiler import BaseBackend  # noqa: E402
from triton.runtime.jit import JITFunction  # noqa: E402


def _values():
    ints = [0, 1, 2, 3, 8, 15, 16, 17, 32, 48, 1000, 4096, 65536, 65537, -1, -16, -17,
            2 ** 31 - 16, 2 ** 31 - 1, 2 ** 31, 2 ** 31 + 16, -2 ** 31, -2 ** 31 - 1,
            -2 ** 31 - 16, 2 ** 40, 2 ** 40 + 1, 2 ** 63 - 1, 2 ** 63 - 16, -2 ** 63,
            2 ** 63, 2 ** 63 + 16, 2 ** 64 - 1, 2 ** 64 - 16]
    base = {dt: torch.zeros(64, dtype=dt) for dt in
            (torch.float32, torch.bfloat16, torch.float16, torch.uint8, torch.int8,
             torch.int32, torch.int64, torch.float64)}
    tensors = [t[k:] for t in base.values() for k in range(0, 9)]
    return ints + [True, False, 0.5, 1.0, float("nan"), None] + tensors


@pytest.mark.parametrize("specialize,align", [(True, True), (False, True), (True, False),
                                              (False, False)])
def test_one_key_means_one_specialization(specialize, align):
    """Two arguments the direct launch keys alike are specialized alike by Triton (so it
    never launches a kernel compiled for other arguments): every pair of a spread of ints
    (the width boundaries, 1, multiples of 16), bools, floats, None and tensors of eight
    dtypes at nine offsets. And it keys apart what Triton specializes apart."""
    vals = _values()
    ours = [arg_key(v, specialize, align) for v in vals]
    theirs = [native(BaseBackend, v, False, specialize, align) for v in vals]
    for (a, ka, ta), (b, kb, tb) in itertools.combinations(zip(vals, ours, theirs), 2):
        if ka == kb:
            assert ta == tb, (repr(a)[:40], repr(b)[:40], ka, ta, tb)
    # the aligned and unaligned views of one storage, 1 and 2, 16 and 17 are keyed apart
    if specialize:
        assert arg_key(1) != arg_key(2) and arg_key(16) != arg_key(17)
    if align:
        f = torch.zeros(8)
        assert arg_key(f) != arg_key(f[1:])


@pytest.mark.parametrize("bad", [__import__("numpy").int64(3), (1, 2), "s", 2 ** 64,
                                 -2 ** 63 - 1, object()])
def test_arguments_it_does_not_describe_go_through_triton(bad):
    with pytest.raises(fast_launch._Unsupported):
        arg_key(bad)


# ------------------------------------------------------------------ dispatch, stand-ins

class Compiled:
    """What Triton's ``run`` returns: a compiled kernel with its launcher."""

    def __init__(self, tag):
        self.tag, self.function, self.packed_metadata, self.calls = tag, f"fn{tag}", f"md{tag}", []

    def run(self, *args):
        self.calls.append(args)


def _kern(x_ptr, n, m, scale, BLOCK: tl.constexpr, FLAG: tl.constexpr = False):
    """The stand-in's Python function (JITFunction parses its signature)."""


def _fake_jit():

    class Recording(JITFunction):
        def run(self, *args, grid, warmup, **kwargs):
            self.seen.append((grid, args, kwargs))
            k = Compiled(len(self.seen))
            self.made.append(k)
            return k

    fn = Recording(_kern, do_not_specialize=["m"])
    fn.seen, fn.made = [], []
    return fn


@pytest.fixture
def on_a_stand_in_device(monkeypatch):
    monkeypatch.setattr(fast_launch, "_current_device", lambda: 0)
    monkeypatch.setattr(fast_launch, "_current_stream", lambda device: 77)
    monkeypatch.setattr(fast_launch, "MODE", "on")
    monkeypatch.setattr(fast_launch, "SUPPORTED", True)


def test_the_second_call_launches_the_compiled_kernel_directly(on_a_stand_in_device):
    fn = _fake_jit()
    fk = FastKernel(fn)
    x = torch.zeros(64)
    k1 = fk[(4, 2)](x, 32, 5, 0.5, BLOCK=128, num_warps=4)
    assert len(fn.seen) == 1 and fk.compiled == 1 and fk.direct == 0
    # same key (another aligned tensor, another multiple of 16, another m): no Triton call
    y = torch.ones(64)
    k2 = fk[(8,)](y, 48, 7, 0.25, BLOCK=128, num_warps=4)
    assert k2 is k1 and len(fn.seen) == 1 and fk.direct == 1
    (args,) = k1.calls
    # grid padded to three, the stream, the handle and metadata, no hooks, then every
    # parameter in the kernel's order, the default of FLAG included
    assert args[:9] == (8, 1, 1, 77, "fn1", "md1", None, None, None)
    assert args[9] is y and args[10:] == (48, 7, 0.25, 128, False)
    for grid, padded in (((3, 5), (3, 5, 1)), ((3, 5, 7), (3, 5, 7))):
        fk[grid](y, 48, 7, 0.25, BLOCK=128, num_warps=4)
        assert k1.calls[-1][:3] == padded
    assert len(fn.seen) == 1 and fk.direct == 3


@pytest.mark.parametrize("change", ["unaligned", "not16", "one", "wide", "block", "flag",
                                    "warps", "warps as a float", "dtype", "device",
                                    "debug knob", "instrumentation"])
def test_any_specialization_change_goes_through_triton(on_a_stand_in_device, monkeypatch,
                                                       change):
    fn = _fake_jit()
    fk = FastKernel(fn)
    x = torch.zeros(64)
    base = dict(x=x, n=32, m=5, scale=0.5, BLOCK=128, num_warps=4)
    fk[(1,)](base["x"], base["n"], base["m"], base["scale"], BLOCK=128, num_warps=4)
    call = dict(base)
    kw = {}
    if change == "unaligned":
        call["x"] = x[1:]
    elif change == "not16":
        call["n"] = 33
    elif change == "one":
        call["n"] = 1
    elif change == "wide":
        call["n"] = 2 ** 33
    elif change == "block":
        call["BLOCK"] = 256
    elif change == "flag":
        kw["FLAG"] = True
    elif change == "warps":
        call["num_warps"] = 8
    elif change == "dtype":
        call["x"] = torch.zeros(64, dtype=torch.bfloat16)
    elif change == "warps as a float":              # Triton keys the options' text
        call["num_warps"] = 4.0
    elif change == "device":
        monkeypatch.setattr(fast_launch, "_current_device", lambda: 1)
    elif change == "debug knob":
        monkeypatch.setattr(triton.knobs.runtime, "debug", True)
    elif change == "instrumentation":
        monkeypatch.setattr(triton.knobs.compilation, "instrumentation_mode", "consan")
    fk[(1,)](call["x"], call["n"], call["m"], call["scale"], BLOCK=call["BLOCK"],
             num_warps=call["num_warps"], **kw)
    assert len(fn.seen) == 2 and fk.direct == 0 and fk.compiled == 2
    # and the first key still launches directly
    monkeypatch.undo()
    monkeypatch.setattr(fast_launch, "_current_device", lambda: 0)
    monkeypatch.setattr(fast_launch, "_current_stream", lambda device: 77)
    monkeypatch.setattr(fast_launch, "MODE", "on")
    fk[(1,)](base["x"], base["n"], base["m"], base["scale"], BLOCK=128, num_warps=4)
    assert len(fn.seen) == 2 and fk.direct == 1


def test_do_not_specialize_keys_only_the_width(on_a_stand_in_device):
    fn = _fake_jit()                        # m is do_not_specialize
    fk = FastKernel(fn)
    x = torch.zeros(64)
    for m in (5, 16, 1, 17):
        fk[(1,)](x, 32, m, 0.5, BLOCK=128)
    assert len(fn.seen) == 1 and fk.direct == 3
    fk[(1,)](x, 32, 2 ** 40, 0.5, BLOCK=128)
    assert len(fn.seen) == 2


@pytest.mark.parametrize("case", ["callable grid", "long grid", "enter hook",
                                  "exit hook as a function", "pre-run hook",
                                  "numpy int", "missing", "twice", "too many"])
def test_what_it_does_not_describe_goes_through_triton(on_a_stand_in_device, monkeypatch,
                                                       case):
    fn = _fake_jit()
    fk = FastKernel(fn)
    x = torch.zeros(64)
    grid = (1,)
    args, kw = [x, 32, 5, 0.5], dict(BLOCK=128)
    if case == "callable grid":
        grid = lambda meta: (1,)             # noqa: E731
    elif case == "long grid":
        grid = (1, 1, 1, 1)
    elif case == "enter hook":                  # a profiler's hook (Proton adds one)
        monkeypatch.setattr(triton.knobs.runtime.launch_enter_hook, "calls", [print])
    elif case == "exit hook as a function":
        monkeypatch.setattr(triton.knobs.runtime, "launch_exit_hook", lambda *a: None)
    elif case == "pre-run hook":
        fn.pre_run_hooks = [lambda *a, **k: None]
    elif case == "numpy int":
        import numpy as np
        args[1] = np.int64(32)
    elif case == "missing":
        kw = {}
    elif case == "twice":
        kw["n"] = 32
    elif case == "too many":
        args += [1, 2, 3]
    for _ in range(3):
        fk[grid](*args, **kw)
    assert len(fn.seen) == 3 and fk.direct == 0


def test_a_constexpr_that_never_compares_equal_does_not_grow_the_cache(on_a_stand_in_device,
                                                                       monkeypatch):
    monkeypatch.setattr(fast_launch, "MAX_KEYS", 4)
    fn = _fake_jit()
    fk = FastKernel(fn)
    x = torch.zeros(64)
    for _ in range(10):
        fk[(1,)](x, 32, 5, 0.5, BLOCK=float("nan"))
    assert len(fn.seen) == 10 and fk.compiled <= 4


def test_a_kernel_that_reads_globals_always_goes_through_triton(on_a_stand_in_device):
    # Triton checks at every launch that the globals a kernel read are unchanged; the direct
    # launch would skip that check, so such a kernel is never kept
    fn = _fake_jit()
    fn.used_global_vals = {("G", 1): (3, {})}
    fk = FastKernel(fn)
    for _ in range(3):
        fk[(1,)](torch.zeros(64), 32, 5, 0.5, BLOCK=128)
    assert len(fn.seen) == 3 and fk.compiled == 0


def test_a_future_is_not_kept(on_a_stand_in_device):
    fn = _fake_jit()
    fn.run = lambda *a, grid, warmup, **k: type("Future", (), {"result": lambda self: None,
                                                               "function": "f"})()
    fk = FastKernel(fn)
    fk[(1,)](torch.zeros(64), 32, 5, 0.5, BLOCK=128)
    assert fk.compiled == 0


def test_check_mode_raises_when_triton_would_launch_another_kernel(on_a_stand_in_device,
                                                                   monkeypatch):
    import triton.runtime.jit as jit
    fn = _fake_jit()
    fk = FastKernel(fn)
    x = torch.zeros(64)
    first = fk[(1,)](x, 32, 5, 0.5, BLOCK=128)
    other = Compiled("other")
    for held, ok in ((first, True), (other, False)):
        fn.device_caches = {0: ({"KEY": held}, {}, None, None,
                                lambda *a, **k: ({}, [("i32", "D")], {}))}
        monkeypatch.setattr(jit, "compute_cache_key", lambda *a: "KEY")
        monkeypatch.setattr(fast_launch, "MODE", "check")
        if ok:
            fk[(1,)](x, 32, 5, 0.5, BLOCK=128)
        else:
            with pytest.raises(AssertionError, match="another compiled kernel"):
                fk[(1,)](x, 32, 5, 0.5, BLOCK=128)


def test_fast_returns_what_it_cannot_wrap(monkeypatch):
    class Spy:
        pass
    s = Spy()
    assert fast(s) is s
    monkeypatch.setattr(fast_launch, "INTERPRET", False)
    monkeypatch.setattr(fast_launch, "MODE", "on")
    monkeypatch.setattr(fast_launch, "SUPPORTED", True)
    assert fast(s) is s
    fn = _fake_jit()
    fk = fast(fn)
    assert isinstance(fk, FastKernel) and fast(fn) is fk
    monkeypatch.setattr(fast_launch, "SUPPORTED", False)    # another Triton, or ROCm
    assert fast(fn) is fn
    monkeypatch.setattr(fast_launch, "SUPPORTED", True)
    monkeypatch.setattr(fast_launch, "MODE", "off")
    assert fast(fn) is fn
    monkeypatch.setattr(fast_launch, "MODE", "on")
    monkeypatch.setattr(fast_launch, "INTERPRET", True)
    assert fast(fn) is fn


def test_the_mode_is_read_from_the_environment():
    code = "from statetrack.kernels._common import fast_launch as f; print(f.MODE)"
    want = {"0": "off", "off": "off", "false": "off", "No": "off", "1": "on", "TRUE": "on",
            "": "on", "check": "check", "CHECK": "check", "junk": "off"}
    got = {}
    for raw in want:
        env = dict(os.environ, STATETRACK_FAST_LAUNCH=raw)
        r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                           text=True, check=True)
        got[raw] = r.stdout.strip()
        assert ("STATETRACK_FAST_LAUNCH" in r.stderr) == (raw == "junk"), r.stderr
    assert got == want


def test_supported_versions():
    assert fast_launch.supported("3.6.0", None) and fast_launch.supported("3.6.1+git", None)
    assert not fast_launch.supported("3.9.0", None)       # keys more than it checked
    assert not fast_launch.supported("3.60.0", None)
    assert not fast_launch.supported("3.6.0", "6.2.4")    # ROCm: storage size specialized
    assert fast_launch.SUPPORTED == fast_launch.supported(triton.__version__, torch.version.hip)


class _Param:
    """A stand-in for Triton's ``KernelParam`` (what the binder reads)."""

    def __init__(self, name, const=False, spec=True, align=True):
        self.name, self.is_constexpr, self.has_default, self.default = name, const, False, None
        self.do_not_specialize, self.do_not_specialize_on_alignment = not spec, not align


@pytest.mark.parametrize("specialize,align", [(True, True), (False, True), (True, False),
                                              (False, False)])
def test_the_generated_binder_keys_as_arg_key_refines(specialize, align):
    """The binder's key, written out per parameter (tensors and i32 ints inline, the rest
    through arg_key), refines Triton's specialization too: every pair of the spread of
    values with one key is specialized alike."""
    bind = fast_launch._make_binder([_Param("x", spec=specialize, align=align)])
    vals = _values()
    ours = [bind(v)[0] for v in vals]
    theirs = [native(BaseBackend, v, False, specialize, align) for v in vals]
    for (a, ka, ta), (b, kb, tb) in itertools.combinations(zip(vals, ours, theirs), 2):
        if ka == kb:
            assert ta == tb, (repr(a)[:40], repr(b)[:40], ka, ta, tb)
    assert bind(torch.zeros(4))[1][0].shape == (4,)


def test_the_binder_binds_as_python_does():
    bind = fast_launch._make_binder([_Param("a"), _Param("B", const=True)])
    key, args = bind(3, B=True, num_warps=2)
    assert args == (3, True)
    assert bind(3, B=1, num_warps=2)[0] != key            # True and 1: apart, as for Triton
    assert bind(3, B=True, num_warps=4)[0] != key          # an option
    for bad in (lambda: bind(3), lambda: bind(3, 4, B=1), lambda: bind(3, a=3, B=1)):
        with pytest.raises(TypeError):
            bad()
    with pytest.raises(ValueError, match="not supported"):
        fast_launch._make_binder([_Param("__fl_x")])


# ------------------------------------------------ against Triton's own dispatch (verified)

def _fuzz_kern(x_ptr, y: tl.int64, z, n, m, a, f, b, BLOCK: tl.constexpr, D: tl.constexpr = 4):
    """The fuzzed kernel's Python function: pointers, annotated and plain ints, a
    do_not_specialize int (m), a do_not_specialize_on_alignment pointer (a), a float, a
    bool, two constexprs."""


@pytest.mark.skipif(not fast_launch.supported(triton.__version__, None),
                    reason=f"the fuzz stubs the dispatch internals of the verified Triton "
                           f"versions {fast_launch.VERIFIED}; this is {triton.__version__}")
def test_direct_launches_pick_what_tritons_run_picks(monkeypatch):
    """Random calls (tensors of three dtypes at three offsets, a parameter and a subclass,
    ints at the width edges and around 1 and 16, bools, floats, None, constexprs of several
    types, options, two devices, the debug and instrumentation knobs, 1-3 dimensional
    grids): after every direct launch, Triton's own ``JITFunction.run`` (its binder, cache
    key and launch; only the driver and the compile stubbed) must pick the same compiled
    kernel and pass the same launch arguments."""
    import random

    import triton.runtime.jit as jit
    from triton.backends.compiler import BaseBackend

    class Compiled:
        def __init__(self):
            self.function, self.packed_metadata, self.launches = "f", "m", []

        def run(self, *a):
            self.launches.append(a)

        def launch_metadata(self, *a):
            return None

    dev = [0]

    class Driver:
        class active:
            get_current_device = staticmethod(lambda: dev[0])
            get_current_stream = staticmethod(lambda d: 100 + d)

    class Jit(JITFunction):
        def create_binder(self):
            return ({}, {}, None, BaseBackend,
                    jit.create_function_from_signature(self.signature, self.params,
                                                       BaseBackend))

        def _do_compile(self, key, signature, device, constexprs, options, attrs, warmup):
            k = Compiled()
            self.device_caches[device][0][key] = k
            return k

        def _pack_args(self, backend, kwargs, bound_args, specialization, options):
            return options, None, None, None

    monkeypatch.setattr(jit, "driver", Driver)
    monkeypatch.setattr(fast_launch, "_current_device", lambda: dev[0])
    monkeypatch.setattr(fast_launch, "_current_stream", lambda d: 100 + d)
    monkeypatch.setattr(fast_launch, "MODE", "on")
    fn = Jit(_fuzz_kern, do_not_specialize=["m"], do_not_specialize_on_alignment=["a"])
    fk = FastKernel(fn)

    class Sub(torch.Tensor):
        pass
    base = [torch.zeros(64, dtype=dt) for dt in (torch.float32, torch.bfloat16, torch.int64)]
    tensors = [t[k:] for t in base for k in (0, 1, 4)] + [
        torch.nn.Parameter(torch.zeros(8)), torch.zeros(8).as_subclass(Sub),
        torch.zeros(8, 8).t()]
    scalars = [0, 1, 2, 16, 17, 32, -16, 2 ** 31 - 16, 2 ** 31, 2 ** 40, 2 ** 63,
               2 ** 64 - 16, True, False, 0.5, -0.0, None]
    consts = [1, True, 1.0, 2, float("nan"), None, tl.float32, tl.bfloat16, "ieee"]
    options = [{}, {"num_warps": 4}, {"num_warps": 8}, {"num_warps": 4, "num_stages": 1},
               {"num_stages": 1, "num_warps": 4}, {"debug": True}]
    rng = random.Random(20261206)
    pool = tensors + scalars
    direct = mismatched = 0
    for it in range(8000):
        if it % 100 == 0:           # a few values a parameter for a while: keys repeat
            subsets = [rng.sample(pool, rng.choice((1, 2))) for _ in range(8)]
            csub, osub = rng.sample(consts, 2), rng.sample(options, 2)
        dev[0] = rng.choice((0, 0, 0, 1))
        monkeypatch.setattr(triton.knobs.runtime, "debug", rng.random() < 0.1)
        monkeypatch.setattr(triton.knobs.compilation, "instrumentation_mode",
                            rng.choice(("", "", "", "consan")))
        args = [rng.choice(sub) for sub in subsets]
        kw = dict(BLOCK=rng.choice(csub), **rng.choice(osub))
        if rng.random() < 0.5:
            kw["D"] = rng.choice(csub)
        grid = rng.choice(((3,), (3, 5), (3, 5, 7)))
        before = fk.direct
        try:
            ours = fk[grid](*args, **kw)
        except Exception:           # arguments Triton itself refuses
            continue
        if fk.direct == before:
            continue
        direct += 1
        mine = ours.launches[-1]
        theirs = fn[grid](*args, **kw)
        want = theirs.launches[-1]      # Triton's: its (empty) hook chains where we pass None
        if theirs is not ours or mine[:6] != want[:6] or mine[6:9] != (None, None, None) \
                or len(mine) != len(want) or any(a is not b for a, b in zip(mine[9:], want[9:])):
            mismatched += 1
    assert direct > 1000 and mismatched == 0, (direct, mismatched)


@pytest.mark.gpu
def test_tabled_calls_launch_directly_and_agree_with_triton(monkeypatch):
    """On CUDA with a verified Triton: a chunked tabled call's second run launches its
    kernels directly, Triton's own key (check mode) names the same compiled kernels, and the
    outputs equal the first run's and those with every launch through Triton."""
    if not fast_launch.SUPPORTED:
        pytest.skip(f"direct launches not verified for Triton {triton.__version__}")
    from statetrack.kernels.tabled import run_tabled
    from statetrack.kernels.tabled import _tabled_kernels as kern

    gen = torch.Generator().manual_seed(3)
    S, K, V = 3, 8, 4
    kt = torch.nn.functional.normalize(torch.randn(S, 1, K, generator=gen), dim=-1).cuda()
    bt = torch.rand(S, 1, generator=gen).cuda() * 2
    vt = torch.randn(S, 1, V, generator=gen).cuda()
    sym = torch.randint(0, S, (4, 3000), generator=gen).cuda()
    q = torch.randn(K, generator=gen).cuda()
    monkeypatch.setattr(fast_launch, "MODE", "check")
    kernels = [fast(getattr(kern, n)) for n in dir(kern) if n.endswith("_kernel")]
    kernels = [k for k in kernels if isinstance(k, FastKernel)]
    runs = [run_tabled(sym, kt, bt, vt, query=q, chunk_size=512).o for _ in range(3)]
    assert sum(k.direct for k in kernels) >= 3         # the later runs' launches at least
    monkeypatch.setattr(fast_launch, "MODE", "off")
    plain = run_tabled(sym, kt, bt, vt, query=q, chunk_size=512).o
    for o in runs:
        assert torch.equal(o, plain)
