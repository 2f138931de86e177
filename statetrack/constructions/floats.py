"""The old home of dtype names and rounding; both now live in :mod:`statetrack.floats`.

Kept so that ``from statetrack.constructions.floats import round_to_dtype`` keeps working.

Examples
--------
>>> from statetrack.constructions.floats import round_to_dtype
>>> import statetrack.floats
>>> round_to_dtype is statetrack.floats.round_to_dtype
True
"""

from __future__ import annotations

from statetrack.floats import FLOAT_DTYPES, dtype_name, round_to_dtype

__all__ = ["FLOAT_DTYPES", "dtype_name", "round_to_dtype"]
