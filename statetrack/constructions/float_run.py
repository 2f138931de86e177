r"""The float run of a constructed LRNN (the machinery of
:meth:`~statetrack.constructions.model.LRNN.evaluate_float`).

A layer's weights are rounded once from their exact values to float64 tables
(:func:`float_tables`, cached per layer); :func:`run_layer_float` then runs one layer on a batch of
token sequences in a float format, mirroring the kernel's recurrence sub-step by sub-step, and
decodes every output to its nearest code. Stacking the layers is
:func:`~statetrack.constructions.stack.run_stack`'s business.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np
import sympy

from statetrack.floats import FORMATS, dtype_name, round_to_dtype

from .errors import FormatRangeError

if TYPE_CHECKING:
    from .model import Layer

__all__ = ["float_tables", "run_layer_float", "check_format_range"]


def _to_float(e: sympy.Expr) -> float:
    if e.is_Integer:
        return float(int(e))
    return float(e) if e.is_Rational else float(sympy.N(e, 30))


@functools.lru_cache(maxsize=64)
def _float_tables_cached(layer: Layer) -> dict[str, np.ndarray]:
    n, h, k, v = layer.n_tokens, layer.n_h, layer.width, layer.value_dim
    keys = np.zeros((n, h, k), dtype=np.float64)
    betas = np.zeros((n, h), dtype=np.float64)
    values = np.zeros((n, h, v), dtype=np.float64)
    for t, row in enumerate(layer.steps):
        for j, s in enumerate(row):
            for i in s.support:
                keys[t, j, i] = _to_float(s.key[i])
            betas[t, j] = _to_float(s.beta)
            values[t, j] = [_to_float(x) for x in s.value]
    h0 = np.zeros((k, v), dtype=np.float64)
    for (i, j), x in sympy.SparseMatrix(layer.initial_state).todok().items():
        h0[i, j] = _to_float(x)
    q = np.array([_to_float(x) for x in layer.readout.query], dtype=np.float64)
    codes = np.array([[_to_float(x) for x in c] for c in layer.readout.codes],
                     dtype=np.float64).reshape(-1, v)
    out = dict(keys=keys, betas=betas, values=values, initial_state=h0, query=q, codes=codes)
    for a in out.values():
        a.setflags(write=False)
    return out



def _entry_name(layer: Layer, table: str, idx: tuple) -> str:
    if table in ("keys", "betas", "values"):
        t, j = idx[0], idx[1]
        what = {"keys": f"key[{idx[2]}]" if len(idx) > 2 else "key",
                "betas": "beta", "values": f"value[{idx[2]}]" if len(idx) > 2 else "value"}
        return f"token {layer.tokens[t]!r}, step {j + 1}: {what[table]}"
    if table == "initial_state":
        return f"initial state [{idx[0]}, {idx[1]}]"
    if table == "query":
        return f"readout query[{idx[0]}]"
    return f"readout code {idx[0]}"


@functools.lru_cache(maxsize=256)
def _range_problem(layer: Layer, name: str) -> str | None:
    tb = _float_tables_cached(layer)
    fmt = FORMATS[name]
    for table in ("keys", "betas", "values", "initial_state", "query", "codes"):
        a = tb[table]
        bad = np.argwhere(np.abs(a) > fmt.max_value)
        if len(bad):
            idx = tuple(int(x) for x in bad[0])
            return (f"{_entry_name(layer, table, idx)} = {a[idx]:g} is above {name}'s largest "
                    f"finite value {fmt.max_value:g}")
    return None


def check_format_range(layer: Layer, dtype: object, where: str = "layer 0") -> None:
    """Refuse a format that cannot hold a layer's weights or readout codes.

    A weight above the format's largest finite value rounds to ``inf`` (and ``0 * inf`` is
    NaN, so every output would decode to class 0); a code above it can never be output.

    Raises
    ------
    FormatRangeError
        The message names the entry, its value and the format's limit.

    Examples
    --------
    >>> from statetrack.constructions.lrnn import Layer, Readout
    >>> big = Layer(tokens=("a",), steps=((),), initial_state=[[1], [0]],
    ...             readout=Readout(query=[1, 70000], codes=[[1], [70000]]))
    >>> check_format_range(big, "bfloat16")
    >>> check_format_range(big, "float16")
    Traceback (most recent call last):
    ...
    statetrack.constructions.errors.FormatRangeError: float16 cannot run layer 0: readout query[1] = 70000 is above float16's largest finite value 65504 (it would round to inf, and 0 * inf = NaN); use bfloat16, float32 or float64
    """
    name = dtype_name(dtype)
    problem = _range_problem(layer, name)
    if problem is not None:
        others = [f for f in ("bfloat16", "float32", "float64")
                  if f != name and _range_problem(layer, f) is None]
        raise FormatRangeError(f"{name} cannot run {where}: {problem} (it would round to "
                               f"inf, and 0 * inf = NaN)"
                               + (f"; use {', '.join(others[:-1])}{' or ' if len(others) > 1 else ''}"
                                  f"{others[-1]}" if others else ""))


# ---------------------------------------------------------------------- float runs
#: Old private name of :func:`statetrack.floats.dtype_name`.
_dtype_name = dtype_name


def _run_layer_float(layer: Layer, tok: np.ndarray, name: str,
                     keep_states: bool, where: str = "layer 0") -> tuple[np.ndarray, np.ndarray | None]:
    """Run one layer on token ids [N, T]; returns output classes [N, T + 1] and states.

    float64/32/16 use numpy's arithmetic in that dtype; bfloat16 keeps float64 arrays of
    bfloat16 values and rounds after every operation (see :meth:`LRNN.evaluate_float`).
    """
    tb = _float_tables_cached(layer)
    check_format_range(layer, name, where)
    n, t_max = tok.shape
    k, v = layer.width, layer.value_dim
    if name == "bfloat16":
        def cast(a):
            return round_to_dtype(a, "bfloat16")

        rnd = cast

        def einsum(spec, *ops):
            return round_to_dtype(np.einsum(spec, *ops), "bfloat16")
    else:
        nd = np.dtype(name)

        def cast(a):
            return np.asarray(a, dtype=nd)

        def rnd(a):
            return a.astype(nd, copy=False)

        def einsum(spec, *ops):
            return np.einsum(spec, *ops).astype(nd, copy=False)

    keys, betas, values = cast(tb["keys"]), cast(tb["betas"]), cast(tb["values"])
    q = cast(tb["query"])
    codes = tb["codes"]
    s = cast(np.broadcast_to(tb["initial_state"], (n, k, v)))
    out = np.empty((n, t_max + 1), dtype=np.int64)
    states = np.empty((n, t_max + 1, k, v), dtype=np.float64) if keep_states else None

    def decode(s, t):
        o = einsum("nkv,k->nv", s, q).astype(np.float64)  # [N, V]
        d = ((o[:, None, :] - codes[None, :, :]) ** 2).sum(-1)
        out[:, t] = np.argmin(d, axis=1)
        if states is not None:
            states[:, t] = s

    decode(s, 0)
    for t in range(t_max):
        ids = tok[:, t]
        for j in range(layer.n_h):
            kk = keys[ids, j]                       # [N, K]
            bb = betas[ids, j]                      # [N]
            vv = values[ids, j]                     # [N, V]
            sk = einsum("nkv,nk->nv", s, kk)        # [N, V]
            u = rnd(bb[:, None] * rnd(vv - sk))     # [N, V]
            s = rnd(s + rnd(kk[:, :, None] * u[:, None, :]))
        decode(s, t + 1)
    return out, states
