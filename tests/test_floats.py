"""statetrack.floats: names and the one alias table, correct rounding, and the former copies.

Exhaustive where feasible: every bfloat16 and float16 value, and every midpoint between two
neighbours (and the floats just beside it), round as IEEE 754 says. The former rounding
implementations (three: ``constructions.floats.round_to_dtype``'s bit trick,
``BinaryFormat.cast``'s frexp version, and the simulation's numba bit trick) are kept below,
frozen, as oracles: the one implementation must give bit-identical results on random inputs.
"""

from __future__ import annotations

import math
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest

from statetrack import floats
from statetrack.errors import UnsupportedDtypeError
from statetrack.floats import (
    ALIASES,
    BFLOAT16,
    FLOAT16,
    FLOAT32,
    FLOAT64,
    FLOAT_DTYPES,
    FORMATS,
    SHORT_NAMES,
    UNIT_ROUNDOFF,
    BinaryFormat,
    dtype_name,
    get_format,
    jitted_round_scalar,
    next_pow2,
    round_scalar,
    round_to_dtype,
)


def _bits(a: np.ndarray) -> np.ndarray:
    """float64 bit patterns, NaNs collapsed to one pattern (payloads are not specified)."""
    a = np.asarray(a, dtype=np.float64)
    return np.where(np.isnan(a), np.nan, a).view(np.int64)


def _wide(rng: np.random.Generator, n: int) -> np.ndarray:
    """Values of every magnitude (float64 subnormals to overflow of every format), ties and
    special values."""
    x = rng.standard_normal(n) * 2.0 ** rng.integers(-140, 140, n)
    specials = [0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, -5e-324, 1 + 2.0 ** -8,
                1 + 3 * 2.0 ** -8, 1 + 2.0 ** -11, 1 + 2.0 ** -24, 3 * 2.0 ** -134,
                2.0 ** -135, 65520.0, 65519.99, 3.3961e38, 3.4028235677973366e38, 1e300]
    x[: len(specials)] = specials
    return x


# ============================================================================ exhaustive


def _patterns(fmt: BinaryFormat) -> np.ndarray:
    """Every non-negative value of ``fmt`` in increasing order (bit patterns 0 .. +inf), as
    float64; the last entry (+inf) is replaced by ``2^(emax + 1)``, the value the IEEE
    overflow rule rounds against."""
    if fmt is BFLOAT16:
        pats = np.arange(0x7F81, dtype=np.uint32) << 16
        vals = pats.view(np.float32).astype(np.float64)
    else:
        vals = np.arange(0x7C01, dtype=np.uint16).view(np.float16).astype(np.float64)
    assert vals[-1] == np.inf and np.all(np.diff(vals[:-1]) > 0)
    vals[-1] = 2.0 ** (fmt.emax + 1)
    return vals


@pytest.mark.parametrize("fmt", [BFLOAT16, FLOAT16], ids=lambda f: f.name)
def test_every_value_and_every_midpoint_rounds_correctly(fmt):
    vals = _patterns(fmt)
    finite = vals[:-1]
    assert finite.size in (0x7F80, 0x7C00)
    # every value of the format is kept (both signs, bit for bit)
    for sign in (1.0, -1.0):
        assert np.array_equal(_bits(fmt.cast(sign * finite)), _bits(sign * finite))
    expect_up = fmt.cast(np.array([np.inf, -np.inf, np.nan]))
    assert expect_up[0] == np.inf and expect_up[1] == -np.inf and np.isnan(expect_up[2])
    # midpoints: ties go to the even pattern (pattern index k even: the lower neighbour)
    lo, hi = vals[:-1], vals[1:]
    mid = (lo + hi) / 2
    assert np.all((mid > lo) & (mid < hi))                         # exact in float64
    k = np.arange(lo.size)
    hi_rounded = np.where(hi == 2.0 ** (fmt.emax + 1), np.inf, hi)  # overflow
    tie = np.where(k % 2 == 0, lo, hi_rounded)
    below, above = np.nextafter(mid, -np.inf), np.nextafter(mid, np.inf)
    for sign in (1.0, -1.0):
        assert np.array_equal(_bits(fmt.cast(sign * mid)), _bits(sign * tie))
        assert np.array_equal(_bits(fmt.cast(sign * below)), _bits(sign * lo))
        assert np.array_equal(_bits(fmt.cast(sign * above)), _bits(sign * hi_rounded))
    # the overflow threshold: max + half an ulp (a tie, max is odd) overflows; just below not
    half_ulp = 2.0 ** (fmt.emax - fmt.precision)
    assert fmt.cast([fmt.max_value + half_ulp])[0] == np.inf
    assert fmt.cast([np.nextafter(fmt.max_value + half_ulp, 0)])[0] == fmt.max_value
    # the smallest subnormal and half of it (a tie, to the even zero)
    assert fmt.cast([fmt.min_subnormal / 2, -fmt.min_subnormal / 2]).tolist() == [0.0, 0.0]
    assert np.signbit(fmt.cast([-fmt.min_subnormal / 2])[0])
    assert fmt.cast([fmt.min_subnormal * 0.75])[0] == fmt.min_subnormal


def test_bfloat16_against_numpy_float32_then_truncation_on_every_float32_pattern_sample():
    """bfloat16 has float32's exponent range: for float32 inputs, rounding to bfloat16 is the
    classic 16-bit rounding of the float32 pattern (ties to even) on a large seeded sample of
    float32 patterns (all classes: subnormal, normal, near overflow)."""
    rng = np.random.default_rng(11)
    pats = rng.integers(0, 1 << 32, size=1 << 20, dtype=np.uint64).astype(np.uint32)
    x32 = pats.view(np.float32)
    x32 = x32[np.isfinite(x32)]
    b = x32.view(np.uint32).astype(np.uint64)
    r = (b + 0x7FFF + ((b >> 16) & 1)) >> 16 << 16
    ref = r.astype(np.uint32).view(np.float32).astype(np.float64)     # inf on overflow
    assert np.array_equal(_bits(BFLOAT16.cast(x32.astype(np.float64))), _bits(ref))


def test_float32_and_float16_agree_with_numpy_casts():
    rng = np.random.default_rng(12)
    x = _wide(rng, 200_000)
    with np.errstate(over="ignore"):
        f32 = x.astype(np.float32).astype(np.float64)
        f16 = x.astype(np.float16).astype(np.float64)
    assert np.array_equal(_bits(FLOAT32.cast(x)), _bits(f32))
    assert np.array_equal(_bits(FLOAT16.cast(x)), _bits(f16))
    assert np.array_equal(_bits(FLOAT64.cast(x)), _bits(x))
    # float32 midpoints of random float32 neighbours (25 bits: exact in float64)
    a = np.sort(np.abs(f32[np.isfinite(f32)]))[:50_000]
    nxt = np.nextafter(a.astype(np.float32), np.float32(np.inf)).astype(np.float64)
    mid = (a + nxt) / 2
    with np.errstate(over="ignore"):
        assert np.array_equal(_bits(FLOAT32.cast(mid)),
                              _bits(mid.astype(np.float32).astype(np.float64)))


@pytest.mark.parametrize("fmt", [FLOAT16, BFLOAT16, FLOAT32,
                                 BinaryFormat("e5m2", 3, -14, 15),
                                 BinaryFormat("e4m3", 4, -6, 8)], ids=lambda f: f.name)
def test_cast_agrees_with_exact_rational_rounding(fmt):
    """cast (float64 in) and cast_exact (an exact rational in, integer arithmetic) are two
    routes to the same rounding."""
    rng = np.random.default_rng(13)
    x = _wide(rng, 3000)
    x = x[np.isfinite(x)]
    exact = np.array([fmt.cast_exact(Fraction(float(v))) for v in x])
    got = fmt.cast(x)
    assert np.array_equal(got, exact)                   # -0.0 == 0.0: the sign is next
    assert np.array_equal(np.signbit(got), np.signbit(x))


def test_scalar_python_and_compiled_agree_with_arrays():
    rng = np.random.default_rng(14)
    x = _wide(rng, 4000)
    rnd = jitted_round_scalar()
    for fmt in FORMATS.values():
        arr = fmt.cast(x)
        py = np.array([round_scalar(float(v), *fmt.params) for v in x])
        jit = np.array([rnd(float(v), *fmt.params) for v in x])
        assert np.array_equal(_bits(py), _bits(arr)), fmt.name
        assert np.array_equal(_bits(jit), _bits(arr)), fmt.name


def test_cast_keeps_shape_and_returns_a_copy():
    x = np.arange(24, dtype=np.float64).reshape(2, 3, 4).transpose(2, 0, 1) * 1.001
    for fmt in FORMATS.values():
        y = fmt.cast(x)
        assert y.shape == x.shape and y.dtype == np.float64 and not np.shares_memory(x, y)
        assert np.array_equal(y, np.array([fmt.cast([v])[0] for v in x.ravel()]).reshape(x.shape))
    assert round_to_dtype(3.3, "bf16").shape == () and round_to_dtype([], "half").shape == (0,)
    assert round_to_dtype([[1.1]], "float32").tolist() == [[float(np.float32(1.1))]]


# ============================================================================ names


def test_alias_table_both_directions():
    """Every name the table knows works in dtype_name AND get_format, in any case, with a
    torch. prefix; name -> format -> name is the identity (the issue's two disagreeing
    tables: dtype_name('single') raised, get_format('float') raised)."""
    assert set(ALIASES.values()) == set(FLOAT_DTYPES) == set(FORMATS)
    assert not set(ALIASES) & set(FLOAT_DTYPES)
    names = {**{c: c for c in FLOAT_DTYPES}, **ALIASES}
    for name, canon in names.items():
        for spelling in (name, name.upper(), f" {name} ", f"torch.{name}"):
            assert dtype_name(spelling) == canon, spelling
            assert get_format(spelling) is FORMATS[canon], spelling
        assert dtype_name(get_format(name)) == canon
        assert get_format(dtype_name(name)) is FORMATS[canon]
    assert dtype_name("single") == "float32" and get_format("float") is FLOAT32
    for canon, short in SHORT_NAMES.items():
        assert ALIASES[short] == canon
    assert UNIT_ROUNDOFF == {"float64": 2.0 ** -53, "float32": 2.0 ** -24,
                             "float16": 2.0 ** -11, "bfloat16": 2.0 ** -8}


def test_numpy_and_torch_dtypes():
    import torch

    for np_t, canon in ((np.float64, "float64"), (np.float32, "float32"),
                        (np.float16, "float16"), (float, "float64")):
        assert dtype_name(np_t) == canon and dtype_name(np.dtype(np_t)) == canon
        assert get_format(np_t) is FORMATS[canon]
    for t, canon in ((torch.float64, "float64"), (torch.double, "float64"),
                     (torch.float32, "float32"), (torch.float, "float32"),
                     (torch.float16, "float16"), (torch.half, "float16"),
                     (torch.bfloat16, "bfloat16")):
        assert dtype_name(t) == canon and get_format(t) is FORMATS[canon]


@pytest.mark.parametrize("bad", ["int8", "float8", "", "bfloat", "fp8", None, 3, 2.5, True,
                                 np.int32, np.dtype("int64"), np.longdouble, object()])
def test_unknown_formats_raise_in_both(bad):
    with pytest.raises(UnsupportedDtypeError, match="unsupported number format"):
        dtype_name(bad)
    with pytest.raises(UnsupportedDtypeError, match="unsupported number format"):
        get_format(bad)
    with pytest.raises(UnsupportedDtypeError):
        round_to_dtype([1.0], bad)


def test_torch_int_dtype_and_formats_without_a_dtype_name():
    import torch

    from statetrack.theory.finite_precision import FiniteSet

    with pytest.raises(UnsupportedDtypeError, match="torch.int8"):
        dtype_name(torch.int8)
    d = FiniteSet([0.0, 1.0])
    e5m2 = BinaryFormat("e5m2", 3, -14, 15)
    assert get_format(d) is d and get_format(e5m2) is e5m2
    for fmt in (d, e5m2):
        with pytest.raises(UnsupportedDtypeError, match="unsupported number format"):
            dtype_name(fmt)
    assert dtype_name(BinaryFormat("bfloat16", 8, -126, 127)) == "bfloat16"  # equal to BFLOAT16


@pytest.mark.parametrize("kw, where", [(dict(precision=0, emin=-14, emax=15), "precision=0"),
                                       (dict(precision=54, emin=-14, emax=15), "precision=54"),
                                       (dict(precision=8, emin=-1070, emax=15), "emin=-1070"),
                                       (dict(precision=8, emin=-14, emax=1024), "emax=1024"),
                                       (dict(precision=8, emin=5, emax=4), "emin=5")])
def test_binary_format_rejects_ranges_float64_cannot_hold(kw, where):
    with pytest.raises(UnsupportedDtypeError, match=where):
        BinaryFormat("x", **kw)


def test_format_properties():
    f32_max = float(np.finfo(np.float32).max)
    assert BFLOAT16.max_value == f32_max * (1 - 2.0 ** -8) / (1 - 2.0 ** -24)
    assert FLOAT16.max_value == 65504.0 and FLOAT32.max_value == float(np.finfo(np.float32).max)
    assert FLOAT64.max_value == float(np.finfo(np.float64).max)
    assert FLOAT16.min_subnormal == 2.0 ** -24 and BFLOAT16.min_subnormal == 2.0 ** -133
    assert FLOAT16.min_normal == 2.0 ** -14 and FLOAT32.min_normal == 2.0 ** -126
    assert BFLOAT16.params == (8, -126, BFLOAT16.max_value)
    assert repr(BFLOAT16) == "<BinaryFormat bfloat16>" and not BFLOAT16.exact_default


def test_import_needs_no_torch_sympy_or_numba():
    code = ("import sys, statetrack.floats as f; "
            "print(sorted(m for m in ('torch', 'sympy', 'numba', 'triton') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


# ============================================================================ next_pow2


def test_next_pow2_matches_the_three_former_copies():
    triton = pytest.importorskip("triton")
    np2 = triton.next_power_of_2
    for n in range(0, 5000):
        # kernels.delta_product.fused_recurrent
        assert next_pow2(n, lo=2) == max(2, int(np2(max(1, n))))
        for lo in (1, 2, 4):                                  # kernels.tabled._plan
            assert next_pow2(n, lo=lo) == max(lo, int(np2(max(1, n))))
        assert next_pow2(n, lo=16) == max(16, np2(n))        # kernels.delta_product.chunk
    assert next_pow2(2 ** 40 + 1) == 2 ** 41 and next_pow2(-5) == 1
    for bad in (0, 3, -2):
        with pytest.raises(ValueError, match=f"lo={bad}"):
            next_pow2(4, lo=bad)


# ============================================================================ former copies

# Frozen copies of the three implementations this module replaced (issue 14), as oracles.


def _former_round_to_dtype(a, name):
    """statetrack.constructions.floats.round_to_dtype before issue 14."""
    a = np.array(a, dtype=np.float64)
    if name == "float64":
        return a
    if name in ("float32", "float16"):
        with np.errstate(over="ignore"):
            return a.astype(name).astype(np.float64)
    bits = a.view(np.int64)
    lsb = (bits >> 45) & 1
    out = ((bits + ((1 << 44) - 1) + lsb) & ~np.int64((1 << 45) - 1)).view(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        big = np.abs(out) >= 2.0 ** 128
        small = np.abs(a) < 2.0 ** -126
        out = np.where(big, np.copysign(np.inf, a), out)
        if small.any():
            out = np.where(small, np.round(a * 2.0 ** 133) / 2.0 ** 133, out)
    return np.where(np.isnan(a), a, out)


def _former_binary_cast(x, precision, emin, emax):
    """statetrack.theory.finite_precision.BinaryFormat.cast before issue 14."""
    x = np.asarray(x, dtype=np.float64)
    if precision >= 53:
        return x.copy()
    _, e = np.frexp(x)
    big_e = np.maximum(e.astype(np.int64) - 1, emin)
    shift = big_e - (precision - 1)
    y = np.ldexp(np.rint(np.ldexp(x, -shift)), shift)
    max_value = math.ldexp(2.0 - 2.0 ** (1 - precision), emax)
    with np.errstate(invalid="ignore"):
        over = np.abs(y) > max_value
    return np.where(over, np.copysign(np.inf, x), y)


def _former_simulation_round(x, mode):
    """The scalar rounding of constructions.precision's numba simulation before issue 14
    (modes 0..3: float64, float32, bfloat16, float16), vectorized; it ignored the exponent
    range of bfloat16 and float16 (the simulated values stay near 1)."""
    x = np.asarray(x, dtype=np.float64)
    if mode == 0:
        return x.copy()
    if mode == 1:
        return x.astype(np.float32).astype(np.float64)
    drop = 45 if mode == 2 else 42
    b = x.copy().view(np.int64)
    lsb = (b >> drop) & 1
    return ((b + ((np.int64(1) << (drop - 1)) - 1) + lsb)
            & ~((np.int64(1) << drop) - 1)).view(np.float64)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_former_call_sites_give_identical_results(seed):
    rng = np.random.default_rng(seed)
    x = _wide(rng, 100_000)
    for name in FLOAT_DTYPES:
        f = FORMATS[name]
        new = round_to_dtype(x, name)
        assert np.array_equal(_bits(new), _bits(_former_round_to_dtype(x, name))), name
        assert np.array_equal(_bits(f.cast(x)),
                              _bits(_former_binary_cast(x, f.precision, f.emin, f.emax))), name
    # the simulation's rounding: identical wherever its values can be (normal range, finite)
    rnd = jitted_round_scalar()
    for mode, name in enumerate(("float64", "float32", "bfloat16", "float16")):
        f = FORMATS[name]
        keep = np.isfinite(x) & (np.abs(x) >= f.min_normal) & (np.abs(x) <= f.max_value / 2)
        y = x[keep][:5000]
        assert y.size > 1000
        new = np.array([rnd(float(v), *f.params) for v in y])
        assert np.array_equal(_bits(new), _bits(_former_simulation_round(y, mode))), name


def test_old_import_paths_are_the_new_objects():
    from statetrack.constructions import floats as old_floats
    from statetrack.constructions import precision
    from statetrack.theory import finite_precision as fp

    assert old_floats.round_to_dtype is round_to_dtype and old_floats.dtype_name is dtype_name
    assert old_floats.FLOAT_DTYPES is FLOAT_DTYPES and precision.UNIT_ROUNDOFF is UNIT_ROUNDOFF
    for name in ("NumberFormat", "BinaryFormat", "FLOAT16", "BFLOAT16", "FLOAT32", "FLOAT64",
                 "get_format"):
        assert getattr(fp, name) is getattr(floats, name), name


def test_float32_overflow_threshold_and_subnormals():
    """float32 takes the hardware's conversion below overflow and the bit rule beyond it: the
    seam at max_value is right on both sides."""
    mx, half_ulp = FLOAT32.max_value, 2.0 ** (127 - 24)
    x = np.array([mx, np.nextafter(mx, np.inf), mx + half_ulp, np.nextafter(mx + half_ulp, 0),
                  -(mx + half_ulp), 2.0 ** -150, 3 * 2.0 ** -150, 2.0 ** -149 * 1.5])
    want = [mx, mx, np.inf, mx, -np.inf, 0.0, 2.0 ** -148, 2.0 ** -148]
    assert FLOAT32.cast(x).tolist() == want
    rnd = jitted_round_scalar()
    assert [rnd(float(v), *FLOAT32.params) for v in x] == want
    assert [round_scalar(float(v), *FLOAT32.params) for v in x] == want
