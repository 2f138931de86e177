r"""Export a constructed LRNN for flash-linear-attention's own DeltaNet/DeltaProduct layers.

fla's layers L2-normalize the keys and compute ``beta = 2 sigmoid(b)`` from a logit ``b``
(``allow_neg_eigval=True``). A construction's sub-step ``(k, beta, v)`` is the same matrix as
the normalized step ``(u, beta', v') = (k / ||k||, beta ||k||^2, v / ||k||)``
(:meth:`statetrack.constructions.lrnn.DeltaStep.normalized`), and a reflection — every
transposition ``e_i - e_j`` of the permutation form — has ``beta' = 2``: the logit would have
to be ``+inf``. So the export is necessarily inexact; this module picks a finite logit ``L``
and states the sequence length up to which the exported model still reads out the right
state.

The perturbation
----------------
With ``beta' = 2 sigmoid(L) = 2 - eps``, ``eps = 2 sigmoid(-L) = 2 / (1 + e^L)``, a reflection
``G = I - 2 u u^T`` becomes ``G' = I - (2 - eps) u u^T = G + eps u u^T``. Steps with
``beta'`` in (0, 2) get the logit ``log(beta' / (2 - beta'))`` (exact up to rounding), steps
with a zero key are identities whatever their logit. Let ``R_t`` be the number of
reflections among the first ``t`` tokens' sub-steps (at most ``r t``, ``r`` = the most
reflections of one token), ``S_t`` the exact state and ``S'_t`` the exported model's.
Values are zero (``B(x) = 0``; the exporter refuses others), so ``S_t = A_t S_{t-1}`` and

.. math::

    S'_t - S_t = A'_t (S'_{t-1} - S_{t-1}) + (A'_t - A_t) S_{t-1}, \qquad
    A'_t - A_t = \sum_j G'_m \cdots G'_{j+1} (G'_j - G_j) G_{j-1} \cdots G_1 .

*Stochastic bound* (the permutation form: every reflection key is ``(e_i - e_j)/sqrt 2``, the
initial state a one-hot column ``e_{q_0}``, ``V = 1``). Then ``G'`` is the identity except the
block ``[[eps/2, 1 - eps/2], [1 - eps/2, eps/2]]`` on ``{i, j}``: doubly stochastic, so every
``A'`` is, and ``||A'||_1 = 1``; ``||G' - G||_1 = eps ||u u^T||_1 = eps``. By induction
``||S'_t - S_t||_1 <= eps R_t``, and ``S'_t`` is a probability vector, so the mass on the true
state ``s`` satisfies ``1 - S'_t[s] = ||S'_t - e_s||_1 / 2 <= eps R_t / 2``. The readout
``o = S^T q`` moves by ``|o' - o| = |sum_i (q_i - q_s) S'_t[i]| <= span(q) eps R_t / 2``
(``span = max q - min q``), and the nearest of the codes (``q_i``, at least ``d_min`` apart)
is right while this is below ``d_min / 2``:

.. math:: \text{correct while}\quad \varepsilon R_t < d_{\min} / \mathrm{span}(q) .

For the group construction (``q = (0, 1, ..., n-1)``, ``d_min = 1``) the margin is
``1 / (n - 1)``: ``eps R_t < 1`` for parity, ``< 1/5`` for S_3 (6 states). Reading the state
by its argmax instead would need only ``eps R_t < 1`` (the true entry stays above 1/2).

*Spectral bound* (any other one-layer construction with zero values): ``||G'||_2 <= 1``
(eigenvalues 1 and ``-1 + eps``) and ``||G' - G||_2 = eps``, so
``||S'_t - S_t||_F <= eps R_t ||S_0||_F`` (exact states have ``||S_t||_F <= ||S_0||_F``), and
the readout is right while ``eps R_t ||S_0||_F ||q||_2 < d_min / 2``.

Both bounds hold for exact arithmetic on the weights *as exported*. In float64 they are
treated as exact (relative ``1e-16`` a step, far below any ``eps`` used here). In a narrower
dtype the rounded key and logit make each step ``G'`` differ from ``G`` by more than ``eps``
alone: the normalized key ``(1, -1)/sqrt 2`` is not exact (bfloat16: ``0.70703125``, so a
reflection's block is ``2 sigmoid(L') 0.4999``, about ``4e-4`` from a swap however large
the logit). :func:`fla_export_horizon` with ``dtype`` takes the rounded weights: in the
permutation form the rounded block is again doubly stochastic (checked) and the stochastic
bound holds with ``eps`` the largest ``||G' - G||_1``; otherwise the spectral bound with the
largest ``||G' - G||_2`` over every step the rounding moves (each such step counts in
``R``), provided each rounded step is still a contraction (checked). The rounding of the
consumer's own arithmetic (a bfloat16 kernel's accumulations) is not bounded here. The
stated :attr:`Horizon.max_length` is for the worst word (``r`` reflections every token);
words with fewer reflections stay correct longer (``R_t`` is what counts).

How tight? For parity the bound is loose: the 2-state chain keeps mass
``1/2 + (1 - eps)^R / 2 > 1/2`` on the true state in exact arithmetic, so it never reads out
wrongly. Its margin does vanish: once ``(1 - eps)^R / 2`` is below float64 resolution
(``R`` near ``37 / eps``) the float64 readout alternates between ``1/2 + 2^-52`` and exactly
``1/2``, and only the tie-break (first code) keeps it right; a lower-precision readout
carries no information there. For larger groups the readout mean drifts towards the middle
code and the export fails within a small factor of the stated length: measured on random
words in float64 with logits 5 and 7, S_3 fails at 6-9 times it, Q_8 at 7-19, Z_5 at 8-13
(the tests check that S_3 fails within 10 times).

Layout
------
:func:`export_fla` returns fla's tensors for a batch of words (``H = 1``): ``q``
``[B, T, 1, K]``, ``k`` ``[B, T*n_h, 1, K]`` (unit or zero keys), ``v``
``[B, T*n_h, 1, V]``, ``beta_logit`` ``[B, T*n_h, 1]`` (``beta = 2 sigmoid(beta_logit)``),
``initial_state`` ``[B, 1, K, V]``, plus ``scale = 1.0``, ``num_householder``, ``codes``
``[C, V]`` and the :class:`Horizon`. :func:`fla_tables` gives the same per symbol (for
one-hot projections ``k_proj``, ``b_proj``, ... of an fla layer). The query is the
construction's (``(0, 1, ..., n-1)`` for groups) with ``scale = 1``: a consumer that also
L2-normalizes ``q`` (fla's ``use_qk_l2norm_in_kernel=True``) or keeps fla's default scale
``K ** -0.5`` must scale the codes by the same factor before decoding (the margin, relative
to the code spacing, is unchanged).

Examples
--------
>>> from statetrack.constructions.lrnn import _parity_example
>>> h = fla_export_horizon(_parity_example(), logit=10.0)
>>> h.bound, h.reflections_per_token, h.margin, h.max_length
('stochastic', 1, 1.0, 11013)
>>> h.eps < 1e-4
True
"""

from __future__ import annotations

import math
from fractions import Fraction
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from statetrack.kernels.errors import (KernelDtypeError, KernelInputError,
                                       UnsupportedConstructionError)

__all__ = ["Horizon", "fla_export_horizon", "logit_for_length", "fla_tables", "export_fla",
           "run_exported", "decode_exported"]


@dataclass(frozen=True)
class Horizon:
    """How long an fla export stays correct (see the module docstring).

    Attributes
    ----------
    logit : float
        ``L``, the logit of every reflection (``beta = 2 sigmoid(L)``).
    eps : float
        ``2 - 2 sigmoid(L) = 2 / (1 + e^L)``.
    reflections_per_token : int
        ``r``, the most reflections (``beta' = 2``) in one token.
    bound : str
        ``"stochastic"`` (permutation form) or ``"spectral"``.
    margin : float
        The readout is right while ``eps * R < margin`` (``R`` = reflections so far).
    max_reflections : int
        The largest ``R`` with ``eps * R < margin``.
    max_length : int
        ``max_reflections // r``: every word of at most this many tokens reads out right
        (``sys.maxsize`` when no token reflects, or ``eps`` is 0 in float64).
    dtype : str
        The exported weights' dtype. For ``float64`` the bound treats them as exact; for a
        narrower one it is the bound *of the rounded weights* (exact arithmetic on them):
        ``eps`` is then the largest perturbation of one step, ``||G' - G||`` with ``G'``
        built from the rounded key and logit (:func:`fla_export_horizon`).
    """

    logit: float
    eps: float
    reflections_per_token: int
    bound: str
    margin: float
    max_reflections: int
    max_length: int
    dtype: str = "float64"


def _eps(logit: float) -> float:
    """``2 sigmoid(-L)`` without cancellation."""
    return 2.0 / (1.0 + math.exp(logit)) if logit < 700 else 0.0


def _normalized(lrnn: Any) -> dict[str, np.ndarray]:
    """Unit keys, strengths ``beta ||k||^2``, values ``v / ||k||`` (float64 per symbol) of a
    one-layer construction with zero values; raises for anything else."""
    from statetrack.constructions.lrnn import LRNN

    if not isinstance(lrnn, LRNN):
        raise KernelInputError(f"lrnn: expected a constructed LRNN, got {type(lrnn).__name__}")
    if lrnn.depth != 1:
        raise UnsupportedConstructionError(
            f"lrnn: the fla exporter handles one-layer constructions; this one has "
            f"{lrnn.depth} layers (fla's layers have no decoder between layers)")
    layer = lrnn.layers[0]
    tb = layer.float_tables()
    if np.any(tb["values"] != 0):
        raise UnsupportedConstructionError(
            "lrnn: the fla exporter needs zero values (B(x) = 0, as in the group "
            "constructions); this construction writes values, and its horizon is not bounded "
            "here")
    keys, betas = tb["keys"], tb["betas"]                        # [S, n_h, K], [S, n_h]
    if keys.shape[1] == 0:  # n_h = 0 (every A = I): one identity step, as kernel_n_h pads
        keys = np.zeros((keys.shape[0], 1, keys.shape[2]))
        betas = np.zeros((keys.shape[0], 1))
    norm2 = (keys ** 2).sum(-1)                                  # [S, n_h]
    live = (norm2 > 0) & (betas > 0)
    unit = np.where(live[..., None], keys / np.sqrt(np.where(live, norm2, 1.0))[..., None], 0.0)
    strength = np.where(live, betas * norm2, 0.0)
    exact_strength = np.zeros_like(strength, dtype=bool)         # strength == 2 exactly
    for s, row in enumerate(layer.steps):
        for j, step in enumerate(row):
            exact_strength[s, j] = (not step.is_identity) and step.strength == 2
    transposition = True
    for s, row in enumerate(layer.steps):
        for j, step in enumerate(row):
            if step.is_identity:
                continue
            sup = step.support
            if not (exact_strength[s, j] and len(sup) == 2
                    and step.key[sup[0]] == -step.key[sup[1]]):
                transposition = False
    h0, q, codes = tb["initial_state"], tb["query"], tb["codes"]
    one_hot = h0.shape[1] == 1 and np.sort(h0[:, 0]).tolist() == [0.0] * (h0.shape[0] - 1) + [1.0]
    return {"unit": unit, "strength": strength, "reflection": exact_strength,
            "stochastic": bool(transposition and one_hot), "initial_state": h0, "query": q,
            "codes": codes, "n_h": layer.n_h}


def _check_export_dtype(dtype: Any) -> torch.dtype:
    """The export's dtype: a floating torch dtype, its name or an alias (``"bf16"``), as
    :func:`statetrack.kernels.run` takes it (``resolve_dtype``), with the export's message."""
    from statetrack.kernels._common.device import resolve_dtype

    try:
        return resolve_dtype(dtype)
    except KernelDtypeError:
        raise KernelDtypeError(
            f"dtype: the export needs a floating dtype (float64, float32, bfloat16, float16), "
            f"got {dtype!r}") from None


def _wider(dtype: torch.dtype) -> str:
    return "float64" if dtype == torch.float32 else "float32 or float64"


def _rounded(x: np.ndarray | float, dtype: torch.dtype) -> np.ndarray:
    """``x`` rounded to ``dtype`` (as float64 values)."""
    return torch.as_tensor(np.asarray(x, dtype=np.float64)).to(dtype).double().numpy()


def _logits(t: dict, logit: float) -> np.ndarray:
    """Per step ``[S, n_h]``: ``logit`` for reflections, ``log(beta' / (2 - beta'))`` for the
    other live steps, 0 for zero keys (of :func:`_normalized`'s ``t``)."""
    s = t["strength"]
    with np.errstate(divide="ignore", invalid="ignore"):
        mid = np.log(s / (2.0 - s))
    return np.where(t["reflection"], float(logit), np.where((s > 0) & (s < 2), mid, 0.0))


def _rounded_perturbations(t: dict, logit: float, dtype: torch.dtype) -> np.ndarray:
    """Per step ``[S, n_h]``: ``||G' - G||`` with ``G'`` from the key and logit rounded to
    ``dtype`` and ``beta' = 2 sigmoid(logit')`` (exact arithmetic on the rounded weights):
    the 1-norm of the rounded 2x2 block for the permutation form (where it is again doubly
    stochastic), else the 2-norm; 0 for identity steps. Raises
    :class:`~statetrack.kernels.errors.KernelDtypeError` where rounding breaks what the bound
    needs (a block that is no longer stochastic; a step that is no longer a contraction)."""
    unit, strength = t["unit"], t["strength"]
    name = str(dtype).replace("torch.", "")
    for what in ("query", "initial_state"):          # the bound's readout assumes them exact
        if not np.array_equal(_rounded(t[what], dtype), t[what]):
            raise KernelDtypeError(
                f"dtype: the construction's {what.replace('_', ' ')} is not exact in {name}; "
                f"export in {_wider(dtype)}")
    u2, lg2 = _rounded(unit, dtype), _rounded(_logits(t, logit), dtype)
    beta2 = 2.0 / (1.0 + np.exp(-lg2))
    S, n_h, K = unit.shape
    out = np.zeros((S, n_h))
    for s in range(S):
        for j in range(n_h):
            if strength[s, j] == 0:
                continue                             # a zero key: the identity, exactly
            u, v, b = unit[s, j], u2[s, j], float(beta2[s, j])
            if t["stochastic"]:
                i0, i1 = np.flatnonzero(u)
                c = b * v[i0] * v[i1] * -1.0         # the off-diagonal entry of the block
                if not (v[i0] == -v[i1] and 0.0 <= c <= 1.0):
                    raise KernelDtypeError(
                        f"dtype: rounded to {name}, a reflection's block is no longer doubly "
                        f"stochastic (off-diagonal {c!r}); export in {_wider(dtype)}")
                out[s, j] = 2.0 * abs(1.0 - c)
            else:
                if abs(1.0 - b * float(v @ v)) > 1.0:
                    raise KernelDtypeError(
                        f"dtype: rounded to {name}, a step is no longer a contraction "
                        f"(beta ||k||^2 = {b * float(v @ v)!r} > 2); export in "
                        f"{_wider(dtype)}")
                G = np.eye(K) - strength[s, j] * np.outer(u, u)
                G2 = np.eye(K) - b * np.outer(v, v)
                out[s, j] = float(np.linalg.norm(G2 - G, 2))
    return out


def fla_export_horizon(lrnn: Any, logit: float, *, dtype: torch.dtype = torch.float64
                       ) -> Horizon:
    """The guaranteed horizon of :func:`export_fla` with reflection logit ``logit`` and the
    weights exported in ``dtype``.

    In float64 the weights are treated as exact: the bound counts the logit's ``eps`` only,
    so past a logit of about 36 (``eps`` below float64's own relative rounding, ``2^-52``)
    it says more than float64 arithmetic itself guarantees. ``max_length`` is capped at
    ``2^63 - 1`` (also the value for "unbounded": ``eps = 0``, from a logit of 700 on).
    In a narrower dtype the bound is that of the rounded weights: every step whose rounded
    matrix differs from the exact one is a perturbation
    (``R`` counts them, ``r`` the most in one token) of size up to the largest
    ``||G' - G||`` (``eps``), which rounding keeps from falling below a floor however large
    the logit (bfloat16: about ``4e-4`` for the key ``(1, -1)/sqrt 2``).

    Raises
    ------
    UnsupportedConstructionError
        More than one layer, or non-zero values.
    KernelInputError
        ``logit`` is not a finite positive number.
    KernelDtypeError
        ``dtype`` is not a floating dtype, or rounding to it breaks the bound's premises.

    Examples
    --------
    >>> from statetrack.automata.families import get
    >>> from statetrack.constructions import compile
    >>> h = fla_export_horizon(compile(get("symmetric(3)")), logit=12.0)
    >>> h.reflections_per_token, h.margin, h.max_length
    (3, 0.2, 5425)
    >>> fla_export_horizon(compile(get("symmetric(3)")), 12.0, dtype=torch.bfloat16).max_length
    151
    """
    if isinstance(logit, bool) or not isinstance(logit, (int, float)) \
            or not math.isfinite(logit) or logit <= 0:
        raise KernelInputError(f"logit: expected a finite positive number, got {logit!r}")
    dtype = _check_export_dtype(dtype)
    t = _normalized(lrnn)
    if dtype == torch.float64:
        r = int(t["reflection"].sum(-1).max()) if t["reflection"].size else 0
        eps = _eps(float(logit))
    else:
        pert = _rounded_perturbations(t, float(logit), dtype)
        r = int((pert > 0).sum(-1).max()) if pert.size else 0
        eps = float(pert.max()) if pert.size else 0.0
    q, codes = t["query"], t["codes"]
    diffs = codes[:, None, :] - codes[None, :, :]
    dist = np.sqrt((diffs ** 2).sum(-1))
    d_min = float(dist[~np.eye(len(codes), dtype=bool)].min()) if len(codes) > 1 else math.inf
    if t["stochastic"]:
        span = float(q.max() - q.min())
        margin, kind = (d_min / span if span > 0 else math.inf), "stochastic"
    else:
        s0 = float(np.sqrt((t["initial_state"] ** 2).sum()))
        qn = float(np.sqrt((q ** 2).sum()))
        margin, kind = (d_min / (2 * s0 * qn) if s0 * qn > 0 else math.inf), "spectral"
    top = int(np.iinfo(np.int64).max)                # "unbounded", and the cap of a bound
    if eps == 0 or r == 0 or math.isinf(margin):
        max_r = max_len = top
    else:
        # the largest R with eps * R < margin, in exact arithmetic on the two floats (a float
        # loop that stepped R by one never ended once margin / eps passed 2^53: logit 55+)
        exact_r = math.ceil(Fraction(margin) / Fraction(eps)) - 1
        max_r, max_len = min(exact_r, top), min(exact_r // r, top)
    return Horizon(logit=float(logit), eps=eps, reflections_per_token=r, bound=kind,
                   margin=margin, max_reflections=int(max_r), max_length=int(max_len),
                   dtype=str(dtype).replace("torch.", ""))


def logit_for_length(lrnn: Any, length: int, *, dtype: torch.dtype = torch.float64) -> float:
    """The smallest logit on the grid ``0.001 Z`` whose :func:`fla_export_horizon` (weights in
    ``dtype``) covers words of ``length`` tokens.

    Raises
    ------
    KernelInputError
        ``length`` is not an int >= 1, or more than ``dtype``'s rounding lets any logit
        guarantee (the bound's floor: bfloat16 and float16 cover a few hundred tokens of
        S_3, float32 millions).

    Examples
    --------
    >>> from statetrack.constructions.lrnn import _parity_example
    >>> L = logit_for_length(_parity_example(), 1000)
    >>> fla_export_horizon(_parity_example(), L).max_length >= 1000, round(L, 3)
    (True, 7.601)
    """
    if isinstance(length, bool) or not isinstance(length, int) or length < 1:
        raise KernelInputError(f"length: expected an int >= 1, got {length!r}")
    if length > np.iinfo(np.int64).max:
        raise KernelInputError(f"length: at most 2^63 - 1 tokens (the cap of the horizon), "
                               f"got {length}")
    dtype = _check_export_dtype(dtype)
    if dtype == torch.float64:
        t = _normalized(lrnn)
        r = int(t["reflection"].sum(-1).max()) if t["reflection"].size else 0
        if r == 0 or math.isinf(fla_export_horizon(lrnn, 1.0).margin):
            return 1.0
        cap = None
    else:
        def h(u: int) -> int:         # max_length at logit u / 1000; -1 where rounding breaks
            try:                      # the bound's premises (a step no longer a contraction)
                return fla_export_horizon(lrnn, u / 1000, dtype=dtype).max_length
            except KernelDtypeError:
                return -1

        # the rounded logit saturates 2 sigmoid: past L = 40 nothing changes in any dtype;
        # but a larger logit can break the rounded weights (the rotation form in float32
        # from L = 19.466): then the largest grid logit below that is the limit
        cap = 40_000                                 # in units of 0.001
        if h(cap) < 0:
            if h(1) < 0:
                fla_export_horizon(lrnn, 0.001, dtype=dtype)      # raises the reason
            ok, bad = 1, cap
            while bad - ok > 1:
                mid = (ok + bad) // 2
                ok, bad = (mid, bad) if h(mid) >= 0 else (ok, mid)
            cap = ok
        best = h(cap)
        if best < length:
            upto = ("" if cap == 40_000 else
                    f" up to {cap / 1000}; larger ones break the rounded weights")
            raise KernelInputError(
                f"length: {length} tokens is more than weights rounded to "
                f"{str(dtype).replace('torch.', '')} can guarantee (at most {best} at any "
                f"logit{upto}); export in {_wider(dtype)}")
    # the horizon grows with L (eps falls, also through the rounded logit): gallop (up to
    # the cap), then bisect the grid of 0.001 between a failing and a covering logit
    # (float64 covers every length from L = 700 on, eps = 0)
    lo, hi = 0, 1                                    # in units of 0.001
    while fla_export_horizon(lrnn, hi / 1000, dtype=dtype).max_length < length:
        lo, hi = hi, hi * 2 if cap is None else min(hi * 2, cap)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fla_export_horizon(lrnn, mid / 1000, dtype=dtype).max_length >= length:
            hi = mid
        else:
            lo = mid
    return hi / 1000


def fla_tables(lrnn: Any, *, logit: float) -> dict[str, Any]:
    """Per-symbol fla weights: unit keys, logits, values, query, initial state, codes.

    Returns
    -------
    dict
        ``key_table`` ``[S, n_h, K]`` (unit or zero rows), ``logit_table`` ``[S, n_h]``
        (``+logit`` for reflections, ``log(beta' / (2 - beta'))`` for other steps, 0 for zero
        keys), ``value_table`` ``[S, n_h, V]``, ``query`` ``[K]``, ``initial_state``
        ``[K, V]``, ``codes`` ``[C, V]`` (float64 torch tensors), ``num_householder``,
        ``horizon``.

    Examples
    --------
    >>> from statetrack.constructions.lrnn import _parity_example
    >>> t = fla_tables(_parity_example(), logit=8.0)
    >>> t["logit_table"].tolist(), [round(x, 4) for x in t["key_table"][1, 0].tolist()]
    ([[0.0], [8.0]], [0.7071, -0.7071])
    """
    h = fla_export_horizon(lrnn, logit)
    t = _normalized(lrnn)
    lg = _logits(t, logit)
    S, n_h, K = t["unit"].shape
    V = t["initial_state"].shape[1]
    f = torch.float64
    return {"key_table": torch.as_tensor(t["unit"], dtype=f),
            "logit_table": torch.as_tensor(lg, dtype=f),
            "value_table": torch.zeros(S, n_h, V, dtype=f),
            "query": torch.as_tensor(t["query"], dtype=f),
            "initial_state": torch.as_tensor(t["initial_state"], dtype=f),
            "codes": torch.as_tensor(t["codes"], dtype=f),
            "num_householder": n_h, "horizon": h}


def export_fla(lrnn: Any, words: Any, *, logit: float | None = None,
               length: int | None = None, dtype: torch.dtype = torch.float32
               ) -> dict[str, Any]:
    """fla-layout tensors (normalized keys, beta logits) of a construction for some words.

    Parameters
    ----------
    lrnn : LRNN
        A one-layer construction with zero values (the group constructions).
    words : list of equal-length words or ``[B, T]`` ids
        As in :func:`statetrack.kernels.runner.encode_words`.
    logit : float, optional
        The reflection logit ``L``.
    length : int, optional
        Instead of ``logit``: the word length to guarantee (``logit_for_length``); default
        the words' own length.
    dtype : torch.dtype or its name
        Of the returned tensors (the logits are rounded too; ``2 sigmoid`` is applied by the
        consumer): float64, float32, bfloat16 or float16. The horizon is that of the weights
        rounded to it (:func:`fla_export_horizon`): bfloat16 and float16 guarantee a few
        hundred tokens whatever the logit.

    Returns
    -------
    dict
        ``q``, ``k``, ``v``, ``beta_logit``, ``initial_state``, ``scale``,
        ``num_householder``, ``codes``, ``horizon`` (module docstring).

    Raises
    ------
    UnsupportedConstructionError
        More than one layer, or non-zero values.
    KernelInputError
        Both or bad ``logit`` and ``length``; bad words; a ``length`` beyond what ``dtype``
        can guarantee.
    KernelDtypeError
        ``dtype`` is not a floating dtype, or rounding to it breaks the bound's premises.

    Examples
    --------
    >>> from statetrack.constructions.lrnn import _parity_example
    >>> t = export_fla(_parity_example(), ["1101"], logit=12.0)
    >>> t["k"].shape, t["beta_logit"].shape, t["horizon"].max_length   # float32 weights
    (torch.Size([1, 4, 1, 2]), torch.Size([1, 4, 1]), 80927)
    """
    from statetrack.kernels.runner import encode_words

    if logit is not None and length is not None:
        raise KernelInputError("logit, length: give at most one of them")
    dtype = _check_export_dtype(dtype)
    ids = torch.as_tensor(encode_words(lrnn.alphabet, words)).long().cpu()
    B, T = ids.shape
    if logit is None:
        logit = logit_for_length(lrnn, length if length is not None else max(T, 1),
                                 dtype=dtype)
    tb = fla_tables(lrnn, logit=logit)
    n_h = tb["num_householder"]
    K, V = tb["key_table"].shape[-1], tb["value_table"].shape[-1]
    k = tb["key_table"][ids].reshape(B, T * n_h, 1, K)
    v = tb["value_table"][ids].reshape(B, T * n_h, 1, V)
    b = tb["logit_table"][ids].reshape(B, T * n_h, 1)
    q = tb["query"].view(1, 1, 1, K).expand(B, T, 1, K)
    h0 = tb["initial_state"].view(1, 1, K, V).expand(B, 1, K, V)
    return {"q": q.to(dtype).contiguous(), "k": k.to(dtype), "v": v.to(dtype),
            "beta_logit": b.to(dtype), "initial_state": h0.to(dtype).contiguous(),
            "scale": 1.0, "num_householder": n_h, "codes": tb["codes"],
            "horizon": (tb["horizon"] if dtype == torch.float64
                        else fla_export_horizon(lrnn, logit, dtype=dtype))}


def run_exported(t: dict[str, Any], *, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Run exported tensors through :func:`~statetrack.kernels.delta_product_ref`
    with ``beta = 2 sigmoid(beta_logit)`` computed in ``dtype``; returns ``o`` ``[B, T, 1, V]``.

    Examples
    --------
    >>> from statetrack.constructions.lrnn import _parity_example
    >>> t = export_fla(_parity_example(), ["1101"], logit=12.0, dtype=torch.float64)
    >>> [round(x, 3) for x in run_exported(t)[0, :, 0, 0].tolist()]
    [1.0, 0.0, 0.0, 1.0]
    """
    from statetrack.kernels.delta_product.naive import delta_product_ref

    dtype = _check_export_dtype(dtype)
    q, k, v = (t[n].to(dtype) for n in ("q", "k", "v"))
    beta = 2 * torch.sigmoid(t["beta_logit"].to(dtype))
    o, _ = delta_product_ref(q, k, v, beta, num_householder=t["num_householder"],
                             scale=t["scale"], initial_state=t["initial_state"].to(dtype))
    return o


def decode_exported(t: dict[str, Any], o: torch.Tensor) -> torch.Tensor:
    """Nearest-code classes ``[B, T]`` of outputs ``o`` ``[B, T, 1, V]`` of an export.

    Examples
    --------
    >>> from statetrack.constructions.lrnn import _parity_example
    >>> t = export_fla(_parity_example(), ["1101"], logit=12.0, dtype=torch.float64)
    >>> decode_exported(t, run_exported(t)).tolist()
    [[1, 0, 0, 1]]
    """
    from statetrack.kernels.layers.delta_product import nearest_code

    return nearest_code(o[:, :, 0, :], t["codes"])
