r"""How long a float run of an inexact construction stays correct (rotation, normalized forms).

The rotation form of ``Z_m`` and the paper's normalized keys are exact only in exact
arithmetic: in floats the rounded keys make each GH factor slightly non-orthogonal and every
operation rounds, so the state drifts from the exact one and, after enough tokens, decodes
to the wrong class. :func:`float_horizon` answers "up to which length is a float run still
correct?" in two ways.

The float model
---------------
Weights are rounded once to the weights dtype (unit roundoff ``u_w``); the state, the
arithmetic and the output ``o = S^T q`` are in the state dtype (``u_s``; the kernels keep the
state in float32 for bfloat16 inputs); the output is finally rounded to the weights dtype
(kernels return ``o`` in the inputs' dtype) and decoded to the nearest code. Each sub-step
computes ``s = k^T S``, ``w = beta (v - s)``, ``S' = S + k w`` with every operation rounded
(standard model ``fl(x op y) = (x op y)(1 + d)``, ``|d| <= u``, no underflow/overflow).

Proven bound (``bound``)
------------------------
It applies when the exact matrices are orthogonal: every non-identity step is a reflection
(``beta ||k||^2 = 2``) with zero value (so ``B = 0`` and ``||S_t||_F = ||H_0||_F = h``). For
one reflection sub-step, with ``gamma_K = K u_s / (1 - K u_s)``,
``||G^ - G|| <= eG = 2((1 + u_w)^3 - 1)`` (rounded ``beta`` and key) and
``beta^ ||k^||^2 <= b2 = 2 (1 + u_w)^3``, the computed ``S'`` satisfies
``||S' - G S||_F <= c ||S||_F`` with

.. math::

    c = e_G + b_2(\gamma_K(1+u_s) + u_s) + u_s(1+u_s)^2 b_2 (1+\gamma_K)
        + u_s\,[1 + e_G + b_2(\gamma_K(1+u_s) + u_s)] .

A token with ``n`` non-identity sub-steps then errs by at most ``rho ||S||`` with
``rho = (1 + c)^n - 1`` (identity steps, ``beta = 0``, are exact). Since the exact ``A`` is
orthogonal, the error ``e_t = S^_t - S_t`` obeys ``||e_t|| <= (1 + rho) ||e_{t-1}|| + rho h``,
so ``||e_t|| <= (1 + rho)^t (e_0 + h) - h`` with ``e_0 <= ((1+u_w)(1+u_s) - 1) h``. The decoded
output is right while
``||q|| (E + kappa (h + E)) + u_w ||q|| (h + E)(1 + kappa) < gap / 2`` with
``kappa = u_q + gamma_K (1 + u_q)``, ``u_q = (1+u_w)(1+u_s) - 1`` and ``gap`` the least
distance between two codes. Solving for ``t`` gives ``bound``: every word of length
``<= bound`` decodes correctly at every prefix, whatever its letters.

Exactness first
---------------
Before any bound, :func:`float_horizon` asks
:func:`statetrack.constructions.float_exact.float_exactness` whether the float run *is* the
exact run (every weight, product and sum representable on every reachable state, for
weights in ``dtype`` and arithmetic in ``state_dtype``). Proved at every length: ``bound =
inf``; proved up to some length (the search stopped): that length counts as a proven bound
too. An infinite bound is reported only from that proof, never from a flag.

A model whose weights or codes overflow ``dtype`` (above its largest finite value) is
refused with :class:`~statetrack.constructions.errors.FormatRangeError`: its float run gives
NaN, and no bound is meaningful.

Simulation (``simulated``)
--------------------------
The bound is a worst case. :func:`float_horizon` also runs each letter's power ``a^t`` through
the same float model (numba; every operation rounded by
:func:`statetrack.floats.round_scalar`, the package's one rounding function) and reports the
first length at which some letter power decodes wrongly (None if none up to ``max_length``).

Examples
--------
>>> from statetrack.automata import DFA
>>> from statetrack.constructions.diagonal import rotation_construction
>>> z5 = rotation_construction(DFA.from_function(0, "a", lambda q, a: (q + 1) % 5, lambda q: q == 0))
>>> h = float_horizon(z5, "bfloat16", max_length=2000)
>>> h.bound <= h.simulated <= 2000
True
>>> float_horizon(z5, "float32", max_length=1000).simulated is None
True
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from statetrack.floats import FORMATS, UNIT_ROUNDOFF, jitted_round_scalar, round_to_dtype
from statetrack.floats import dtype_name as _dtype_name

from .errors import FormError, UnsupportedDtypeError
from .float_run import check_format_range
from .lrnn import _TWO, LRNN, _compare, _float_tables_cached

__all__ = ["FloatHorizon", "float_horizon", "horizon_bound", "simulate_letter_powers",
           "UNIT_ROUNDOFF"]



@dataclass(frozen=True)
class FloatHorizon:
    """Lengths up to which a float run of a one-layer model decodes correctly.

    Attributes
    ----------
    dtype, state_dtype : str
        Weights and state formats.
    bound : float
        Proven: every word of length ``<= bound`` is decoded correctly at every prefix
        (``inf`` for integer-form models that are exact in floats; ``-1`` when not even the
        empty word is guaranteed).
    simulated : int or None
        First length at which some letter power ``a^t`` decodes wrongly in the simulated
        float model; None if none up to ``max_length``.
    max_length : int
        The simulation's horizon.

    Examples
    --------
    >>> h = FloatHorizon("bfloat16", "float32", bound=12.0, simulated=None, max_length=500)
    >>> print(h.summary())
    bfloat16 weights / float32 state: proven correct up to length 12; simulated letter powers: no failure up to length 500
    >>> print(FloatHorizon("bfloat16", "bfloat16", -1.0, 37, 500).summary())
    bfloat16 weights / bfloat16 state: the proven bound guarantees no length (too coarse at this precision); simulated letter powers: first failure at length 37
    >>> h.to_dict()["bound"], FloatHorizon("float32", "float32", math.inf, None, 9).to_dict()["bound"]
    (12.0, 'inf')
    """

    dtype: str
    state_dtype: str
    bound: float
    simulated: int | None
    max_length: int

    def to_dict(self) -> dict:
        """A JSON-ready dict of the attributes (an infinite bound as ``"inf"``)."""
        d = asdict(self)
        d["bound"] = "inf" if math.isinf(self.bound) else self.bound
        return d

    def summary(self) -> str:
        """One line: the proven length and the simulated first failure."""
        if math.isinf(self.bound):
            b = "proven correct at every length"
        elif self.bound < 0:
            b = "the proven bound guarantees no length (too coarse at this precision)"
        else:
            b = f"proven correct up to length {int(self.bound)}"
        s = (f"first failure at length {self.simulated}" if self.simulated is not None
             else f"no failure up to length {self.max_length}")
        return (f"{self.dtype} weights / {self.state_dtype} state: {b}; simulated letter "
                f"powers: {s}")


def _single_layer(lrnn: LRNN) -> None:
    if lrnn.depth != 1:
        raise FormError(f"float horizons are computed for one-layer models; this one has "
                        f"{lrnn.depth} layers")


def horizon_bound(lrnn: LRNN, dtype: Any, *, state_dtype: Any = None) -> float:
    """The proven length bound of the module docstring.

    Raises
    ------
    FormError
        The model has more than one layer, or some step is not a reflection with zero value
        (the bound needs orthogonal ``A`` and ``B = 0``).
    FormatRangeError
        A weight or code overflows ``dtype`` or ``state_dtype``.

    Examples
    --------
    >>> from statetrack.constructions.lrnn import _parity_example
    >>> horizon_bound(_parity_example(), "float32"), horizon_bound(_parity_example(), "bfloat16")
    (453504.0, 6.0)

    (A worst case: the parity construction is in fact exact at every length.)
    """
    _single_layer(lrnn)
    w = _dtype_name(dtype)
    s = _dtype_name(state_dtype) if state_dtype is not None else w
    layer = lrnn.layers[0]
    check_format_range(layer, w)
    check_format_range(layer, s)
    n_eff = 0
    for t, row in zip(layer.tokens, layer.steps):
        n = 0
        for j, st in enumerate(row):
            if st.is_identity:
                continue
            if _compare(st.strength, _TWO) != 0 or any(v != 0 for v in st.value):
                raise FormError(
                    f"the bound needs reflections with zero values; step {j + 1} of token "
                    f"{t!r} has beta*||k||^2 = {st.strength} and value {list(st.value)}")
            n += 1
        n_eff = max(n_eff, n)
    uw, us = UNIT_ROUNDOFF[w], UNIT_ROUNDOFF[s]
    k = layer.width
    gk = k * us / (1 - k * us)
    eg = 2 * ((1 + uw) ** 3 - 1)
    b2 = 2 * (1 + uw) ** 3
    inner = gk * (1 + us) + us
    c = eg + b2 * inner + us * (1 + us) ** 2 * b2 * (1 + gk) + us * (1 + eg + b2 * inner)
    rho = (1 + c) ** n_eff - 1
    tb = _float_tables_cached(layer)
    h = float(np.linalg.norm(tb["initial_state"])) * (1 + 1e-12)
    qn = float(np.linalg.norm(tb["query"])) * (1 + 1e-12)
    codes = tb["codes"]
    if len(codes) < 2:
        return math.inf
    diff = np.linalg.norm(codes[:, None, :] - codes[None, :, :], axis=-1)
    gap = float(diff[~np.eye(len(codes), dtype=bool)].min()) * (1 - 1e-12)
    uq = (1 + uw) * (1 + us) - 1
    kappa = uq + gk * (1 + uq)
    e0 = uq * h
    e_max = (gap / (2 * qn) - h * (kappa + uw * (1 + kappa))) / (1 + kappa + uw * (1 + kappa))
    if e_max <= e0:
        return -1.0
    if rho == 0:
        return math.inf
    return float(math.floor(math.log((e_max + h) / (e0 + h)) / math.log1p(rho) * (1 - 1e-12)))


def _letter_orbit(lrnn: LRNN, token: int, cap: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact classes along ``a^t``: (tail classes, cycle classes). An orbit that does not
    close within ``cap + 1`` states (e.g. a contraction) is returned as a tail of ``cap + 1``
    classes (all the simulation reads) and a placeholder cycle."""
    r = lrnn.exact()
    s = r.initial()[0]
    seen: dict[tuple, int] = {}
    classes: list[int] = []
    while s not in seen:
        if len(classes) > cap:
            return np.array(classes, dtype=np.int64), np.zeros(1, dtype=np.int64)
        seen[s] = len(classes)
        classes.append(r.output(0, s))
        s = r.apply(0, token, s)
    mu = seen[s]
    return np.array(classes[:mu], dtype=np.int64), np.array(classes[mu:], dtype=np.int64)


def _sim_kernel():
    """The numba simulation; it rounds with :func:`statetrack.floats.round_scalar` (compiled),
    the same function as every float cast of the package."""
    import numba

    rnd = jitted_round_scalar()

    @numba.njit(cache=False)
    def sim(keys, betas, values, h0, q, codes, tail, cycle, max_len, ps, es, xs, po, eo, xo):
        # (ps, es, xs), (po, eo, xo): BinaryFormat.params of the state and the output formats
        n_h, k = keys.shape
        v = values.shape[1]
        s = h0.copy()
        for i in range(k):
            for j in range(v):
                s[i, j] = rnd(s[i, j], ps, es, xs)
        o = np.empty(v)
        for t in range(max_len + 1):
            if t > 0:
                for st in range(n_h):
                    if betas[st] == 0.0:
                        continue
                    for j in range(v):
                        acc = 0.0
                        for i in range(k):
                            if keys[st, i] != 0.0:
                                acc = rnd(acc + rnd(keys[st, i] * s[i, j], ps, es, xs),
                                          ps, es, xs)
                        w = rnd(betas[st] * rnd(values[st, j] - acc, ps, es, xs), ps, es, xs)
                        for i in range(k):
                            if keys[st, i] != 0.0:
                                s[i, j] = rnd(s[i, j] + rnd(keys[st, i] * w, ps, es, xs),
                                              ps, es, xs)
            for j in range(v):
                acc = 0.0
                for i in range(k):
                    acc = rnd(acc + rnd(s[i, j] * q[i], ps, es, xs), ps, es, xs)
                o[j] = rnd(acc, po, eo, xo)
            best = -1
            bd = np.inf
            for c in range(codes.shape[0]):
                d = 0.0
                for j in range(v):
                    d += (o[j] - codes[c, j]) ** 2
                if d < bd:
                    bd = d
                    best = c
            want = tail[t] if t < tail.shape[0] else cycle[(t - tail.shape[0]) % cycle.shape[0]]
            if best != want:
                return t
        return -1

    return sim


_SIM = None


def simulate_letter_powers(lrnn: LRNN, dtype: Any, *, state_dtype: Any = None,
                           max_length: int = 100_000) -> int | None:
    """First ``t <= max_length`` at which some letter power ``a^t`` decodes wrongly in the
    float model of the module docstring, or None."""
    global _SIM
    _single_layer(lrnn)
    w = _dtype_name(dtype)
    s = _dtype_name(state_dtype) if state_dtype is not None else w
    if _SIM is None:
        _SIM = _sim_kernel()
    layer = lrnn.layers[0]
    check_format_range(layer, w)
    check_format_range(layer, s)
    tb = _float_tables_cached(layer)
    keys = round_to_dtype(tb["keys"], w)
    betas = round_to_dtype(tb["betas"], w)
    values = round_to_dtype(tb["values"], w)
    h0 = round_to_dtype(tb["initial_state"], w)
    q = round_to_dtype(tb["query"], w)
    first = None
    for a in range(layer.n_tokens):
        if all(st.is_identity for st in layer.steps[a]):
            continue
        tail, cycle = _letter_orbit(lrnn, a, int(max_length))
        t = _SIM(keys[a], betas[a], values[a], h0, q, tb["codes"], tail, cycle,
                 int(max_length), *FORMATS[s].params, *FORMATS[w].params)
        if t >= 0 and (first is None or t < first):
            first = int(t)
    return first


def float_horizon(lrnn: LRNN, dtype: Any = "float32", *, state_dtype: Any = None,
                  max_length: int = 100_000) -> FloatHorizon:
    """Proven and simulated lengths up to which float runs of ``lrnn`` stay correct.

    The proven ``bound`` is the larger of two proofs: the exactness proof of
    :func:`~statetrack.constructions.float_exact.float_exactness` (``inf`` when the float run
    is the exact run at every length, as for integer-form models) and, for zero-value
    reflections, the error bound :func:`horizon_bound`. The simulation always runs as a check.

    Parameters
    ----------
    lrnn : LRNN
        A one-layer model.
    dtype : weights dtype ("float64", "float32", "float16", "bfloat16")
    state_dtype : state and arithmetic dtype (default: ``dtype``)
    max_length : int
        Length of the simulated letter powers; also the longest word the exactness proof
        explores when the reachable set is infinite.

    Returns
    -------
    FloatHorizon

    Raises
    ------
    UnsupportedDtypeError
        An unknown dtype.
    FormatRangeError
        A weight or code overflows ``dtype`` or ``state_dtype``.
    FormError
        More than one layer, or (for models not proved exact) steps that are not zero-value
        reflections.

    Examples
    --------
    >>> from statetrack.automata import DFA
    >>> from statetrack.constructions.diagonal import rotation_construction
    >>> z3 = rotation_construction(DFA.from_function(0, "a", lambda q, a: (q + 1) % 3,
    ...                                              lambda q: q == 0))
    >>> h = float_horizon(z3, "bfloat16", state_dtype="float32", max_length=300)
    >>> h.dtype, h.state_dtype, h.bound >= 0, h.simulated is None or h.simulated > h.bound
    ('bfloat16', 'float32', True, True)
    """
    w = _dtype_name(dtype)
    s = _dtype_name(state_dtype) if state_dtype is not None else w
    if w not in UNIT_ROUNDOFF or s not in UNIT_ROUNDOFF:  # pragma: no cover - _dtype_name checks
        raise UnsupportedDtypeError(f"unsupported dtype {dtype!r}")
    _single_layer(lrnn)
    check_format_range(lrnn.layers[0], w)
    check_format_range(lrnn.layers[0], s)
    ex = lrnn.float_exactness((w, s), max_length=int(max_length))
    bound = float(ex.horizon(w, s))
    if not math.isinf(bound):
        try:
            bound = max(bound, horizon_bound(lrnn, w, state_dtype=s))
        except FormError:
            if bound < 0:
                raise
    sim = simulate_letter_powers(lrnn, w, state_dtype=s, max_length=max_length)
    return FloatHorizon(dtype=w, state_dtype=s, bound=bound, simulated=sim,
                        max_length=int(max_length))
