r"""Float formats without torch: dtype names and correct rounding of float64 values.

The constructions evaluate models in float64, float32, float16 and bfloat16 with numpy only
(torch is never imported here; :mod:`statetrack.constructions.export` imports it only to
hand out torch tensors). numpy has float16 and float32 but no bfloat16, so
:func:`round_to_dtype` rounds float64 values to a format and returns them as float64:

* ``float32``, ``float16``: numpy's casts (IEEE round to nearest, ties to even, with the
  format's overflow to infinity and subnormals);
* ``bfloat16`` (1 sign, 8 exponent, 7 fraction bits; float32's exponent range): on the
  float64 bit pattern, add ``2^44 - 1`` plus the lowest kept bit and clear the 45 dropped
  fraction bits (round to nearest, ties to even, to 8 significant bits); results of
  magnitude ``>= 2^128`` become infinities; magnitudes below the smallest normal ``2^-126``
  are rounded to the subnormal grid ``2^-133 Z`` (``numpy.round`` after an exact scaling by
  a power of two, ties to even); NaNs stay NaN.

One operation of two values of a format, computed in float64 and then rounded, is the
correctly rounded IEEE result for all three formats, because float64 carries more than
``2p + 2`` significant bits (``p`` = 24, 11, 8): double rounding is then innocuous. This is
how :meth:`~statetrack.constructions.lrnn.LRNN.evaluate_float` runs bfloat16.

Examples
--------
>>> import numpy as np
>>> x = np.array([1 + 2 ** -8, 1 + 3 * 2 ** -8, 3.5e38, 2.0 ** -135, 3 * 2.0 ** -134])
>>> round_to_dtype(x, "bf16").tolist() == [1.0, 1.015625, np.inf, 0.0, 2.0 ** -132]
True
>>> dtype_name("half"), dtype_name(np.float32)
('float16', 'float32')
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import UnsupportedDtypeError

__all__ = ["FLOAT_DTYPES", "dtype_name", "round_to_dtype"]

#: dtype names accepted by float evaluations and exporters.
FLOAT_DTYPES = ("float64", "float32", "float16", "bfloat16")

_ALIASES = {"double": "float64", "float": "float32", "half": "float16", "bf16": "bfloat16",
            "fp32": "float32", "fp16": "float16", "fp64": "float64"}


def dtype_name(dtype: Any) -> str:
    """The canonical name (one of :data:`FLOAT_DTYPES`) of a dtype given as a name, a numpy
    dtype or type, or a torch dtype (read by name; torch is not imported).

    Raises
    ------
    UnsupportedDtypeError
        Any other dtype.

    Examples
    --------
    >>> dtype_name("bf16"), dtype_name(np.dtype("float64"))
    ('bfloat16', 'float64')
    >>> dtype_name("int8")
    Traceback (most recent call last):
    ...
    statetrack.constructions.errors.UnsupportedDtypeError: dtype 'int8' is not supported; choose one of ['float64', 'float32', 'float16', 'bfloat16']
    """
    if isinstance(dtype, type) and issubclass(dtype, np.generic):
        name = np.dtype(dtype).name
    else:
        name = getattr(dtype, "name", None)
        if not isinstance(name, str):
            name = str(dtype)
    name = name.replace("torch.", "")
    name = _ALIASES.get(name, name)
    if name not in FLOAT_DTYPES:
        raise UnsupportedDtypeError(f"dtype {dtype!r} is not supported; choose one of "
                                    f"{list(FLOAT_DTYPES)}")
    return name


_BF16_DROP = 45                      # 52 - 7 fraction bits dropped
_BF16_MIN_NORMAL = 2.0 ** -126
_BF16_SUB_SCALE = 2.0 ** 133         # subnormal spacing 2^-133
_BF16_OVERFLOW = 2.0 ** 128


def round_to_dtype(a: Any, dtype: Any) -> np.ndarray:
    """float64 values rounded (to nearest, ties to even) to ``dtype``, returned as float64.

    See the module docstring for the bfloat16 rule (exponent range included).

    Parameters
    ----------
    a : array_like of float
    dtype : a name or dtype accepted by :func:`dtype_name`

    Returns
    -------
    numpy.ndarray
        float64, same shape, every value representable in ``dtype``.

    Examples
    --------
    >>> round_to_dtype(np.array([1 + 2 ** -8, 1 + 3 * 2 ** -8]), "bfloat16").tolist()  # ties to even
    [1.0, 1.015625]
    >>> round_to_dtype([0.1], "float16").tolist()
    [0.0999755859375]
    """
    name = dtype_name(dtype)
    a = np.array(a, dtype=np.float64)  # a copy
    if name == "float64":
        return a
    if name in ("float32", "float16"):
        with np.errstate(over="ignore"):
            return a.astype(name).astype(np.float64)
    bits = a.view(np.int64)
    lsb = (bits >> _BF16_DROP) & 1
    out = ((bits + ((1 << (_BF16_DROP - 1)) - 1) + lsb)
           & ~np.int64((1 << _BF16_DROP) - 1)).view(np.float64)
    with np.errstate(invalid="ignore"):
        big = np.abs(out) >= _BF16_OVERFLOW
        small = np.abs(a) < _BF16_MIN_NORMAL
    out = np.where(big, np.copysign(np.inf, a), out)
    if small.any():
        out = np.where(small, np.round(a * _BF16_SUB_SCALE) / _BF16_SUB_SCALE, out)
    return np.where(np.isnan(a), a, out)
