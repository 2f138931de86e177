r"""Number formats: dtype names, the one alias table, and correctly rounded casts.

This is the one home of binary floating-point formats in statetrack (no torch, no sympy; numba
is imported on the first rounding of an array). The constructions evaluate models in
float64, float32, float16 and bfloat16 with numpy alone, the theory runs finite-precision
models in them, and the kernels name their dtypes with the same words.

Names
-----
:data:`FLOAT_DTYPES` are the canonical names. :data:`ALIASES` is the one table of other names
(case and surrounding blanks ignored; a ``torch.`` prefix is dropped, so ``"torch.bfloat16"``
and the torch dtype itself work without importing torch). :func:`dtype_name` gives the
canonical name and :func:`get_format` the :class:`BinaryFormat` of the same inputs: a name, a
numpy dtype or scalar type (``np.dtype(float)`` is float64, numpy's rule), a torch dtype, or
a :class:`BinaryFormat`. :func:`get_format` also passes through any other
:class:`NumberFormat` (such as the theory's ``FiniteSet``); :func:`dtype_name` rejects those.

========== =======================================
canonical  aliases
========== =======================================
float64    ``double``, ``fp64``, ``f64``
float32    ``float``, ``single``, ``fp32``, ``f32``
float16    ``half``, ``fp16``, ``f16``
bfloat16   ``bf16``
========== =======================================

(``"float"`` is float32, as in C and torch; the Python type ``float`` is float64, as in numpy.)

Rounding
--------
A :class:`BinaryFormat` with ``p`` significand bits and normal exponents ``emin .. emax``
rounds a float64 value ``x`` to nearest, ties to even, with gradual underflow and overflow to
infinity (IEEE 754). The spacing of the format's values near ``x`` is ``2^s`` with
``s = max(E, emin) - (p - 1)``, ``E = floor(log2 |x|)``: ``p`` bits from the leading bit in
the normal range, the subnormal spacing ``2^(emin - p + 1)`` below ``2^emin``; so
``round(x) = rint(x 2^-s) 2^s``, ``rint`` rounding to the nearest integer with ties to even.
On float64's bit pattern (sign, 11 exponent bits, 52 fraction bits) this is:

* ``|x| >= 2^emin``: keep ``p - 1`` fraction bits. Add ``2^(d-1) - 1`` plus the lowest kept
  bit to the pattern and clear the ``d = 53 - p`` dropped bits: the sum carries into the kept
  bits exactly when the dropped part exceeds half a unit, or equals it and the kept part is
  odd (ties to even); a carry out of the fraction moves to the next binade, as it should.
* ``|x| < 2^emin``: ``rint(x 2^(p-1-emin)) 2^-(p-1-emin)``; both scalings are by powers of
  two and exact in float64 (``|x 2^(p-1-emin)| < 2^(p-1)``, and the format's spacing is at
  least float64's ``2^-1074``).
* A result above :attr:`BinaryFormat.max_value` in magnitude becomes an infinity of ``x``'s
  sign (IEEE overflow under round to nearest: a value at or beyond the midpoint between
  ``max_value`` and ``2^(emax + 1)`` rounds up, ``max_value`` having an odd significand);
  zeros keep their sign; infinities and NaN pass through; ``p = 53`` is the identity.

:func:`round_scalar` is this rule for one value (for float32 itself, below overflow, it
calls the hardware's float64-to-float32 conversion, which follows the same IEEE rule and is
faster), the only implementation: numba compiles it
(cached on disk) for the loop behind :meth:`BinaryFormat.cast` and :func:`round_to_dtype`, and
other numba code calls the compiled function from :func:`jitted_round_scalar`. One
operation of two values of a format with ``p <= 24``, computed in float64 and then rounded,
is the correctly rounded IEEE result, because float64 carries more than ``2p + 2``
significant bits (double rounding is innocuous); this is how the constructions and the
theory run bfloat16 and float16. :meth:`BinaryFormat.cast_exact` rounds an exact rational
the same way, in integers.

Examples
--------
>>> import numpy as np
>>> x = np.array([1 + 2 ** -8, 1 + 3 * 2 ** -8, 3.5e38, 2.0 ** -135, 3 * 2.0 ** -134])
>>> round_to_dtype(x, "bf16").tolist() == [1.0, 1.015625, np.inf, 0.0, 2.0 ** -132]
True
>>> dtype_name("half"), dtype_name(np.float32), get_format("single") is FLOAT32
('float16', 'float32', True)
>>> FLOAT16.unit_roundoff == 2.0 ** -11, next_pow2(20), next_pow2(3, lo=16)
(True, 32, 16)
"""

from __future__ import annotations

import functools
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable

import numpy as np

from .errors import UnsupportedDtypeError

__all__ = [
    "FLOAT_DTYPES", "ALIASES", "SHORT_NAMES", "UNIT_ROUNDOFF",
    "NumberFormat", "BinaryFormat", "FLOAT64", "FLOAT32", "FLOAT16", "BFLOAT16", "FORMATS",
    "get_format", "dtype_name", "round_to_dtype", "round_scalar", "jitted_round_scalar",
    "next_pow2",
]

#: The canonical dtype names, widest first.
FLOAT_DTYPES = ("float64", "float32", "float16", "bfloat16")

#: The one alias table: every other accepted name and its canonical name.
ALIASES: dict[str, str] = {
    "double": "float64", "fp64": "float64", "f64": "float64",
    "float": "float32", "single": "float32", "fp32": "float32", "f32": "float32",
    "half": "float16", "fp16": "float16", "f16": "float16",
    "bf16": "bfloat16",
}

#: Short display names (each also an alias).
SHORT_NAMES: dict[str, str] = {"float64": "fp64", "float32": "fp32", "float16": "fp16",
                               "bfloat16": "bf16"}


class NumberFormat(ABC):
    """A set of values with a rounding function ``cast``."""

    name: str

    @abstractmethod
    def cast(self, x: Any) -> np.ndarray:
        """Round a float64 array to the format (returns float64 values of the format)."""

    @abstractmethod
    def cast_exact(self, q: Fraction) -> float:
        """Round an exact rational to the format (a float64 value of the format)."""

    @property
    def exact_default(self) -> bool:
        """Whether runs use exact arithmetic unless told otherwise."""
        return False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


@dataclass(frozen=True, repr=False)
class BinaryFormat(NumberFormat):
    """An IEEE-754-style binary format: round to nearest, ties to even, gradual underflow,
    overflow to infinity (module docstring).

    Parameters
    ----------
    name : str
    precision : int
        Significand bits including the implicit leading bit (float16: 11, bfloat16: 8,
        float32: 24, float64: 53); 1 .. 53.
    emin, emax : int
        Exponent range of normal numbers (float16: -14, 15; bfloat16 and float32: -126, 127),
        inside float64's (``emin - precision + 1 >= -1074``, ``emax <= 1023``).

    Raises
    ------
    UnsupportedDtypeError
        A precision or exponent range that float64 cannot hold.

    Examples
    --------
    >>> FLOAT16.cast(np.array([1 + 2.0**-11, 1 + 3 * 2.0**-11, 70000.0])).tolist()
    [1.0, 1.001953125, inf]
    >>> BFLOAT16.max_value, FLOAT16.min_subnormal
    (3.3895313892515355e+38, 5.960464477539063e-08)
    >>> FLOAT16.cast_exact(Fraction(1, 3)) == float(np.float16(1 / 3))
    True
    >>> BinaryFormat("e5m2", precision=3, emin=-14, emax=15).cast([1.1, 1.2, 60000.0]).tolist()
    [1.0, 1.25, 57344.0]
    """

    name: str
    precision: int
    emin: int
    emax: int

    def __post_init__(self) -> None:
        if not 1 <= self.precision <= 53:
            raise UnsupportedDtypeError(f"precision={self.precision}: a binary format needs "
                                        f"1 .. 53 significand bits (float64 holds 53)")
        if self.emin - self.precision + 1 < -1074 or self.emax > 1023 or self.emin > self.emax:
            raise UnsupportedDtypeError(
                f"emin={self.emin}, emax={self.emax}: need emin <= emax, emax <= 1023 and "
                f"emin - precision + 1 >= -1074 (float64's range)")

    @functools.cached_property
    def max_value(self) -> float:
        """The largest finite value, ``(2 - 2^(1 - p)) 2^emax``."""
        return math.ldexp(2.0 - 2.0 ** (1 - self.precision), self.emax)

    @property
    def min_normal(self) -> float:
        """The smallest positive normal value, ``2^emin``."""
        return math.ldexp(1.0, self.emin)

    @property
    def min_subnormal(self) -> float:
        """The smallest positive value, ``2^(emin - p + 1)``."""
        return math.ldexp(1.0, self.emin - self.precision + 1)

    @property
    def unit_roundoff(self) -> float:
        """Half the spacing at 1, ``2^-p``: the relative error bound of one rounding."""
        return math.ldexp(1.0, -self.precision)

    @property
    def params(self) -> tuple[int, int, float]:
        """``(precision, emin, max_value)``: the arguments of :func:`round_scalar`."""
        return self.precision, self.emin, self.max_value

    def cast(self, x: Any) -> np.ndarray:
        """``x`` (array_like of float) rounded to the format, as a new float64 array."""
        a = np.array(x, dtype=np.float64, order="C")
        if self.precision < 53 and a.size:
            _round_inplace()(a.reshape(-1), self.precision, self.emin, self.max_value)
        return a

    def cast_exact(self, q: Fraction) -> float:
        """An exact rational rounded to the format (the same rule, in integer arithmetic)."""
        if q == 0:
            return 0.0
        neg = q < 0
        num, den = abs(q.numerator), q.denominator
        e = num.bit_length() - den.bit_length()   # floor(log2 |q|) is e or e - 1
        if (num << max(-e, 0)) < (den << max(e, 0)):
            e -= 1
        if e > self.emax:                         # |q| >= 2^(emax + 1): beyond max_value
            return -math.inf if neg else math.inf
        shift = max(e, self.emin) - (self.precision - 1)
        if shift <= 0:
            n, r = divmod(num << -shift, den)
            d = den
        else:
            d = den << shift
            n, r = divmod(num, d)
        if 2 * r > d or (2 * r == d and n % 2 == 1):
            n += 1
        val = math.ldexp(float(n), shift) if n.bit_length() <= 53 else math.inf
        if val > self.max_value:
            val = math.inf
        return -val if neg else val


FLOAT64 = BinaryFormat("float64", 53, -1022, 1023)
FLOAT32 = BinaryFormat("float32", 24, -126, 127)
FLOAT16 = BinaryFormat("float16", 11, -14, 15)
BFLOAT16 = BinaryFormat("bfloat16", 8, -126, 127)

#: The format of each canonical name.
FORMATS: dict[str, BinaryFormat] = {f.name: f for f in (FLOAT64, FLOAT32, FLOAT16, BFLOAT16)}

#: Unit roundoff (half the spacing at 1) of each format, by canonical name.
UNIT_ROUNDOFF: dict[str, float] = {n: f.unit_roundoff for n, f in FORMATS.items()}


def _canonical(fmt: Any) -> str | None:
    """The canonical name of ``fmt``, or None."""
    if isinstance(fmt, BinaryFormat):
        return fmt.name if FORMATS.get(fmt.name) == fmt else None
    if isinstance(fmt, str):
        key = fmt
    elif type(fmt).__module__ == "torch":   # a torch.dtype, read by name
        key = str(fmt)
    elif fmt is None or isinstance(fmt, (bool, int, float)):
        return None
    else:
        try:
            key = np.dtype(fmt).name
        except (TypeError, ValueError):
            return None
    key = key.strip().lower().removeprefix("torch.")
    return key if key in FORMATS else ALIASES.get(key)


def _unsupported(fmt: Any) -> UnsupportedDtypeError:
    return UnsupportedDtypeError(
        f"unsupported number format {fmt!r}; use one of {', '.join(FLOAT_DTYPES)} or an alias "
        f"({', '.join(ALIASES)})")


def dtype_name(dtype: Any) -> str:
    """The canonical name (one of :data:`FLOAT_DTYPES`) of a dtype.

    Parameters
    ----------
    dtype : str, numpy dtype or scalar type, torch dtype, or BinaryFormat
        A name of :data:`FLOAT_DTYPES` or :data:`ALIASES` (any case; ``torch.`` prefix
        allowed), or an object naming one of the four formats.

    Raises
    ------
    UnsupportedDtypeError
        Anything else (``"int8"``, ``None``, a ``FiniteSet``, a custom BinaryFormat).

    Examples
    --------
    >>> dtype_name("bf16"), dtype_name(np.dtype("float64")), dtype_name("torch.float16")
    ('bfloat16', 'float64', 'float16')
    >>> dtype_name("int8")
    Traceback (most recent call last):
    ...
    statetrack.constructions.errors.UnsupportedDtypeError: unsupported number format 'int8'; use one of float64, float32, float16, bfloat16 or an alias (double, fp64, f64, float, single, fp32, f32, half, fp16, f16, bf16)
    """
    name = _canonical(dtype)
    if name is None:
        raise _unsupported(dtype)
    return name


def get_format(fmt: Any) -> NumberFormat:
    """The :class:`NumberFormat` of ``fmt``: the :class:`BinaryFormat` of anything
    :func:`dtype_name` accepts, or ``fmt`` itself if it is a :class:`NumberFormat`.

    Raises
    ------
    UnsupportedDtypeError
        Anything else (e.g. ``"int8"``, ``"float8"``).

    Examples
    --------
    >>> get_format("bf16").name, get_format(np.float16).name, get_format("FLOAT").name
    ('bfloat16', 'float16', 'float32')
    >>> get_format("float8")
    Traceback (most recent call last):
    ...
    statetrack.constructions.errors.UnsupportedDtypeError: unsupported number format 'float8'; use one of float64, float32, float16, bfloat16 or an alias (double, fp64, f64, float, single, fp32, f32, half, fp16, f16, bf16)
    """
    if isinstance(fmt, NumberFormat):
        return fmt
    return FORMATS[dtype_name(fmt)]


def round_to_dtype(a: Any, dtype: Any) -> np.ndarray:
    """float64 values rounded (to nearest, ties to even) to ``dtype``, returned as float64.

    Parameters
    ----------
    a : array_like of float
    dtype : a name or dtype accepted by :func:`dtype_name`

    Returns
    -------
    numpy.ndarray
        A new float64 array of the same shape, every value representable in ``dtype``.

    Raises
    ------
    UnsupportedDtypeError
        ``dtype`` is not one of :data:`FLOAT_DTYPES` or an alias.

    Examples
    --------
    >>> round_to_dtype(np.array([1 + 2 ** -8, 1 + 3 * 2 ** -8]), "bfloat16").tolist()  # ties to even
    [1.0, 1.015625]
    >>> round_to_dtype([0.1], "float16").tolist()
    [0.0999755859375]
    """
    return FORMATS[dtype_name(dtype)].cast(a)


def round_scalar(x: float, precision: int, emin: int, max_value: float) -> float:
    """One float64 value rounded to the binary format ``(precision, emin, max_value)``
    (:attr:`BinaryFormat.params`): the module docstring's rule.

    Plain Python that numba compiles (:func:`jitted_round_scalar`); arrays go through
    :meth:`BinaryFormat.cast`.

    Examples
    --------
    >>> round_scalar(1 + 3 * 2.0 ** -8, *BFLOAT16.params), round_scalar(1e39, *BFLOAT16.params)
    (1.015625, inf)
    >>> round_scalar(-2.0 ** -135, *BFLOAT16.params), round_scalar(0.1, *FLOAT64.params)
    (-0.0, 0.1)
    """
    if precision >= 53:
        return x
    if precision == 24 and emin == -126 and abs(x) <= max_value:
        return float(np.float32(x))               # binary32 itself: the hardware's conversion
    b = np.float64(x).view(np.int64)
    biased = (b >> 52) & 0x7FF                    # float64's biased exponent of x
    if biased == 0x7FF:                           # infinity or NaN
        return x
    if biased < emin + 1023:                      # |x| < 2^emin: the subnormal grid
        scale = math.ldexp(1.0, precision - 1 - emin)
        return float(np.rint(x * scale) / scale)
    drop = 53 - precision                         # fraction bits dropped
    b = (b + ((1 << (drop - 1)) - 1) + ((b >> drop) & 1)) & ~((1 << drop) - 1)
    y = float(np.int64(b).view(np.float64))
    if abs(y) > max_value:
        return math.copysign(math.inf, x)
    return y


def _round_loop(a: np.ndarray, precision: int, emin: int, max_value: float) -> None:
    for i in range(a.size):
        a[i] = _round_scalar_compiled(a[i], precision, emin, max_value)


_round_scalar_compiled: Callable = round_scalar   # the numba-compiled function once compiled
_ROUND_LOOP: Callable | None = None


def _njit(func: Callable) -> Callable:
    """``numba.njit(cache=True)`` (no cache where numba finds no writable location)."""
    import numba

    try:
        return numba.njit(cache=True)(func)
    except RuntimeError:  # pragma: no cover - numba found no writable cache location
        return numba.njit(cache=False)(func)


def _compile() -> None:
    global _round_scalar_compiled, _ROUND_LOOP
    try:
        import numba  # noqa: F401
    except ImportError:  # pragma: no cover - numba is a dependency; this runs slowly
        _ROUND_LOOP = _round_loop
        return
    _round_scalar_compiled = _njit(round_scalar)
    _ROUND_LOOP = _njit(_round_loop)


def _round_inplace() -> Callable:
    """The compiled in-place loop ``loop(a_1d, precision, emin, max_value)``."""
    if _ROUND_LOOP is None:
        _compile()
    return _ROUND_LOOP  # type: ignore[return-value]


def jitted_round_scalar() -> Callable:
    """:func:`round_scalar` compiled by numba, to call from other numba-compiled code.

    Examples
    --------
    >>> rnd = jitted_round_scalar()
    >>> rnd(1 + 2.0 ** -8, *BFLOAT16.params)
    1.0
    """
    if _ROUND_LOOP is None:
        _compile()
    return _round_scalar_compiled


def next_pow2(n: int, *, lo: int = 1) -> int:
    """The least power of two that is ``>= n`` and ``>= lo`` (block sizes of the kernels).

    Parameters
    ----------
    n : int
        Any integer (``n <= lo`` gives ``lo``).
    lo : int
        The least result, a power of two.

    Raises
    ------
    ValueError
        ``lo`` is not a positive power of two.

    Examples
    --------
    >>> [next_pow2(n) for n in (0, 1, 2, 3, 5, 64, 65)]
    [1, 1, 2, 4, 8, 64, 128]
    >>> next_pow2(5, lo=16), next_pow2(0, lo=2)
    (16, 2)
    """
    lo = int(lo)
    if lo < 1 or lo & (lo - 1):
        raise ValueError(f"lo={lo} is not a positive power of two")
    n = int(n)
    return max(lo, 1 << max(n - 1, 0).bit_length())
