r"""Finite-precision LRNNs: number formats, two rounding models, eventual periods, Theorems 1
and 2.

The model
---------
An :class:`FPModel` is a stack of :class:`FPLayer`. Layer ``l`` has a state ``H`` of shape
``[n, d]``, and for each of its tokens ``x`` a list of affine *sub-steps* ``(A_j(x), B_j(x))``
(one sub-step for a plain LRNN, ``n_h`` delta steps ``A_j = I - beta_j k_j k_j^T``,
``B_j = beta_j k_j v_j^T`` for DeltaProduct), so that in exact arithmetic a token acts as
``H <- A(x) H + B(x)`` with ``A(x) = A_{n_h}(x) ... A_1(x)`` and ``B(x)`` the token's map
applied to 0. Each layer's decoder ``dec_l(H, token, symbol)`` gives the token of layer
``l + 1`` (or the model's output); the input of layer ``l + 1`` at time ``t`` depends on layer
``l`` at time ``t`` only, as in the paper. Decoders are arbitrary deterministic functions.

Two rounding models
-------------------
Where the rounding ``cast`` (to the nearest value of the number format) is applied is part of
the model, and the two models below are different: on :func:`rounding_cycle_example` the
paper's model reaches a fixed point where the sequential one cycles with period 2. Every
result says which model it is in (a ``rounding`` field; :data:`ROUNDING_MODELS`).

``rounding="paper"`` (:data:`PAPER`) -- the model of the proof of Theorem 1 (Grazzi et al.,
arXiv 2411.12537, App. B.1, after Merrill et al.). What the paper states, for the one-letter
word ``1^k`` of one layer, with the weights ``A = A(1)``, ``B = B(1)`` *not* cast::

    H_k = cast( sum_{i < k} cast(A^i B) + cast(A^k H_0) )

(exact products and sums; each term rounded once, then the sum). The toolkit implements
exactly this for one-letter words, with ``A^i B`` and ``A^k H_0`` computed in exact rational
arithmetic from the float64 weights (and ``H_0`` uncast; ``H_0`` itself is the state
``cast(H_0)`` at ``k = 0``). For a general word ``x_1 ... x_k`` -- which the paper does not
state -- the toolkit generalises term by term, one rounded term per token read plus one for
the initial state::

    H_k = cast( sum_{i=1..k} cast(A(x_k) ... A(x_{i+1}) B(x_i)) + cast(A(x_k) ... A(x_1) H_0) )

which is the paper's formula on ``1^k``. A layer above reads the decoded tokens of the layer
below, and each layer's state follows the same formula in its own tokens. Values are compared
as reals (the paper's ``D`` is a set of reals: no signed zero). The state is *not* a function
of the previous state, so :func:`run` costs ``O(k)`` exact products at step ``k``. Only exact
arithmetic (``exact=False`` is refused).

``rounding="sequential"`` (:data:`SEQUENTIAL`, the default) -- what kernels do: the weights
and the initial state are cast to the format first, and every sub-step is rounded,
``H <- cast(A_j(x) H + B_j(x))`` (the exact result of each product-and-add rounded once).
Its state is a function of the previous state, so the joint state of all layers under a
periodic input is eventually periodic, found by Brent's algorithm. Theorem 1 is not proved in
this model, and does not hold in it for every model (:func:`rounding_cycle_example`).

Overflow. IEEE-style formats round values beyond their range to infinity, which the paper's
``D`` (a finite set of reals) does not have; a run whose weights or state leave the finite
values raises :class:`FormatOverflowError` naming the step (``overflow at step k``), in either
model: such a run is outside the hypothesis of Theorems 1 and 2, and no period or certificate
is claimed for it.

Number formats
--------------
* :class:`~statetrack.floats.BinaryFormat`: IEEE-style binary formats with
  round-to-nearest-even, gradual underflow and overflow to infinity: ``float16``,
  ``bfloat16``, ``float32`` (and ``float64``); defined, with :func:`get_format` and the
  rounding rule, in :mod:`statetrack.floats` (re-exported here).
* :class:`FiniteSet`: the paper's abstract format, a finite sorted set ``D`` of reals; ``cast``
  is the nearest element of ``D`` with ties going to the smaller element (values beyond ``D``
  go to its nearest end).

Two arithmetic modes for the sequential model. ``exact=True`` computes every product-and-add
exactly (Python :class:`~fractions.Fraction`) and rounds the exact value. The default for
binary formats, ``exact=False``, accumulates in float64 and rounds the float64 result; this
equals the exact model except when the float64 accumulation itself rounds onto a midpoint of
the target format (double rounding; rare, and harmless for the theorems below, which only need
``cast`` to be monotone). :class:`FiniteSet` defaults to ``exact=True``.

Eventual periods (Brent), sequential model
------------------------------------------
With finitely many values the joint state of all layers can take finitely many values, so
under a periodic input ``w w w ...`` the sequence ``X_{i+1} = F(X_i)`` (``F`` = run one copy of
``w``) is eventually periodic: ``X_{i + lambda} = X_i`` for ``i >= mu``. Brent's algorithm finds
the least period ``lambda`` with ``O(mu + lambda)`` evaluations of ``F`` and two stored states;
states are compared by their bit patterns (the bytes of all layers' float64 arrays, which are
exact format values).

The paper's model, decided (one layer)
--------------------------------------
Under ``w^t`` write ``A = A(w)``, ``Q_j = A(w_{j+1} ... w_m) B(w_j)`` (the terms of one copy)
and ``T_i = sum_j cast(A^i Q_j)``; the state after ``t`` copies is
``H_t = cast(S_t + cast(A^t H_0))`` with ``S_t = sum_{i < t} T_i``. :func:`eventual_period`
walks ``i = 0, 1, ...`` in exact arithmetic and stops at the first of two proofs:

* *convergence*: let ``P`` be the spectral projection of ``A`` on its eigenvalue 1 (``P = 0``
  if 1 is not an eigenvalue; the eigenvalue must not be defective) and ``R = A - P``, so
  ``A^s = P + R^s``. If ``||R^k||_inf < 1`` for some ``k = 2^j <= 4096`` (width ``<= 16``),
  then ``||R^s||_inf <= M`` for every ``s`` (``M`` a product of norms of ``R^(2^l)``, ``l < j``).
  Once ``M max|A^i v - P v|`` is below the distance from ``P v`` to the nearest rounding
  boundary of the format (a midpoint between neighbouring values; the limit must not lie on
  one) for ``v = H_0`` and every ``Q_j``, every later rounded term equals the rounded limit:
  the terms are constant from ``mu0 = i`` (period ``p = 1``). ``P = 0`` is a contraction, whose
  rounded terms become 0;
* *periodic powers*: ``A^(i + p) v = A^i v`` exactly for all the ``v`` (found by Brent on the
  exact vectors), so the rounded terms repeat with period ``p`` from some ``mu0``.

Then the *drift*, the sum of the rounded terms over a period: if it is 0 the states repeat with
a period dividing ``p`` from ``mu0`` on; a non-zero drift makes a coordinate monotone in the
number of periods, so it reaches the format's end: an infinity (``FormatOverflowError`` at the
first such step, found by bisection) or the end of a finite set (saturation, after which the
state is periodic). Otherwise :class:`PeriodLimitError` (undecided) after ``max_steps`` copies
(default :data:`DEFAULT_PAPER_STEPS`), or as soon as ``|A^i v|`` exceeds ``2^64`` times the
format's largest value. Without a convergence certificate the walk stops after
``_PERIODIC_WALK`` (128) copies, unless the powers on ``H_0`` and the terms grow, measured over
the second half of the walk, fast enough to pass the format's largest value within
``max_steps``: then it goes on, and the overflow is proved by the cast at its step
(``A = [[1.5]]``: step 219 in bfloat16, 1751 in float64); slower growth stops at 128 copies and
the message gives the rate and the copies it would need. A defective eigenvalue 1 (a Jordan
block, polynomial growth) stays undecided, and the message says so: the rounded terms keep
changing until they leave the format's range, far beyond any walk.

Theorem 1 (parity), why the period must be 1
---------------------------------------------
Grazzi et al. (ICLR 2025, arXiv 2411.12537, Thm. 1): if every ``A(x)`` has only non-negative
real eigenvalues, no finite-precision LRNN recognizes parity. Run ``1^t``; the state is
eventually periodic with period ``lambda``. If ``lambda`` is odd, the words ``1^s`` and
``1^(s + lambda)`` (``s >= mu``) reach the *same* state, so every output agrees on them, while
their parities differ: a counterexample (:func:`parity_counterexample`).

*In the paper's model* (the theorem's): the entries of the exact powers ``A^i v`` are
eventually monotone when the eigenvalues are non-negative reals, so each rounded term is
eventually constant, and so is the state (a non-zero constant term makes the sum grow until it
leaves ``D``'s range, where ``cast`` is constant): period 1. The toolkit proves the cases above;
``contradicts_theorem`` (no counterexample although the hypothesis holds) is claimed in this
model only, and would be a bug of the theorem or of the toolkit.

*In the sequential model*: for diagonal (more generally triangular) matrices with non-negative
diagonal the period is still 1: a coordinate with ``h <- cast(a h + c)``, ``a >= 0``, is a
monotone non-decreasing map of ``h`` (``cast`` is monotone), and the orbit of a monotone map of
a finite totally ordered set is monotone, hence eventually constant; for a triangular matrix
the last coordinate is autonomous and becomes constant, then the next one sees a constant
forcing, and so on; the next layer then reads an eventually constant token and the argument
repeats at every depth. For general (non-triangular) matrices a model that rounds *every step*
can fall into a rounding limit cycle: :func:`rounding_cycle_example`, found by a random search
and kept as a regression test, is one layer, ``n = 2``, two sub-steps (float16-rounded GH
matrices with ``beta`` in [0, 1]) whose product ``A(1)`` has eigenvalues 0.2516 and 0.3924;
in float16 its sequential state under ``1^t`` has pre-period 9 and period 2, oscillating by
one ulp, so ``t mod 2`` is a function of the state there. This is an observation about the
sequential model, not a contradiction of Theorem 1: in the paper's model the same weights
reach a fixed point after 12 steps. (In random searches such cycles appeared only with
``n_h = 2`` sub-steps, about 0.2% of single-layer models; never with one sub-step or with
diagonal matrices, where they are impossible by the argument above.) There
:func:`parity_counterexample` reports what it finds, with ``contradicts_theorem=None``. The
negative-eigenvalue construction (``A(1) = -1``, or the swap of two coordinates) has period 2
with alternating outputs in both models: no counterexample, as it should.

Theorem 2 (mod m), why periods are powers of two
------------------------------------------------
(Thm. 2 of the same paper; statement, proofs and the exact hypothesis check in
:mod:`statetrack.theory.mod_counting`.) The hypothesis is about *real* eigenvalues: if in
every layer ``i`` every product of ``2^(i-1)`` matrices has a real spectrum, the state under
``1^t`` has an eventual period dividing ``2^L`` (``L`` layers), and a model counting modulo
``m`` needs ``m`` to divide that period. In the paper's rounding model this holds for every
real spectrum. In this sequential model it is proved only for the triangular special case
(every sub-step matrix of a layer triangular in one orientation; the abstract's corollary),
by the monotone argument used for Theorem 1 above: a coordinate driven by a forcing of period
``p`` has a period dividing ``2p``. Beyond that case rounding every step can cycle with any
period (:func:`~statetrack.theory.mod_counting.sequential_mod3_example`: real eigenvalues,
period 3 in bfloat16). :func:`mod_counterexample` reports the hypothesis (decided exactly),
the triangular case, and the period it finds; the permutation (non-real) construction of
``Z_3`` has period 3.

Examples
--------
>>> import numpy as np
>>> neg = FPModel.from_matrices({"1": [[-1.0]]}, initial_state=[[1.0]])    # A(1) = -1
>>> eventual_period(neg, "1", "bfloat16").period
2
>>> pos = FPModel.from_matrices({"1": [[0.5]]}, B={"1": [[1.0]]}, initial_state=[[0.0]])
>>> cert = parity_counterexample(pos, "bfloat16")
>>> cert.found, cert.period, cert.kind
(True, 1, 'state')
>>> parity_counterexample(neg, "float16").found
False

The two rounding models on the same weights:

>>> m = rounding_cycle_example()
>>> [eventual_period(m, "1", "float16", rounding=r).period for r in ROUNDING_MODELS]
[1, 2]
"""

from __future__ import annotations

import bisect
import math
import numbers
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any, Callable, Hashable, Iterable, Mapping, Sequence

import numpy as np

from statetrack.automata.alphabet import Alphabet, SymbolErrors
from statetrack.constructions.stack import step_stack
from statetrack.floats import (
    BFLOAT16,
    FLOAT16,
    FLOAT32,
    FLOAT64,
    BinaryFormat,
    NumberFormat,
    get_format,
)

from .errors import (
    DecoderError,
    FiniteSetError,
    FormatOverflowError,
    ModelError,
    PeriodLimitError,
    UnknownTokenError,
)

__all__ = [
    "NumberFormat",
    "BinaryFormat",
    "FiniteSet",
    "FLOAT16",
    "BFLOAT16",
    "FLOAT32",
    "FLOAT64",
    "get_format",
    "FPLayer",
    "FPModel",
    "ThresholdDecoder",
    "DeltaSubstep",
    "FPTrace",
    "run",
    "PeriodResult",
    "eventual_period",
    "ParityCertificate",
    "parity_counterexample",
    "ModCertificate",
    "mod_counterexample",
    "from_lrnn",
    "random_diagonal_model",
    "random_triangular_model",
    "random_gh_model",
    "is_power_of_two",
    "rounding_cycle_example",
    "DEFAULT_MAX_STEPS",
    "DEFAULT_PAPER_STEPS",
    "PAPER",
    "SEQUENTIAL",
    "ROUNDING_MODELS",
    "FormatOverflowError",
]

#: Default cap on the number of word repetitions walked by :func:`eventual_period`
#: (sequential model).
DEFAULT_MAX_STEPS = 200_000
#: The same in the paper's model, whose walk is exact (rationals that grow with the step).
DEFAULT_PAPER_STEPS = 2_000

#: The paper's rounding model (Grazzi et al., App. B.1): the unrolled sum, each term rounded
#: once, then the sum rounded; weights not cast (module docstring).
PAPER = "paper"
#: Rounding after every sub-step, weights cast first: what kernels do (module docstring).
SEQUENTIAL = "sequential"
#: The names of the rounding models, for the ``rounding=`` arguments and fields.
ROUNDING_MODELS = (PAPER, SEQUENTIAL)


# ============================================================================ formats


class FiniteSet(NumberFormat):
    """The paper's abstract format: values in a finite set ``D``; ``cast(x)`` is the nearest
    element of ``D``, ties to the smaller one (infinities go to the extreme values; NaN has no
    nearest element and stays NaN, as in the IEEE formats).

    Parameters
    ----------
    values : 1-D array of finite reals (sorted and deduplicated here; at least one)
    name : str, optional

    Raises
    ------
    FiniteSetError
        Empty, not one-dimensional, non-finite, or repeated values.

    Examples
    --------
    >>> d = FiniteSet([-1, -0.5, 0, 0.5, 1])
    >>> d.cast(np.array([0.25, 0.26, -0.75, 7.0, -np.inf, np.nan])).tolist()
    [0.0, 0.5, -1.0, 1.0, -1.0, nan]
    >>> d.cast_exact(Fraction(1, 4)), d.exact_default
    (0.0, True)
    """

    def __init__(self, values: Any, name: str | None = None):
        try:
            arr = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise FiniteSetError(f"finite set values must be real numbers: {e}") from e
        if arr.ndim != 1 or arr.size == 0:
            raise FiniteSetError(f"finite set needs a non-empty 1-D list of values, got shape "
                                 f"{arr.shape}")
        if not np.isfinite(arr).all():
            raise FiniteSetError(f"finite set values must be finite, got {arr[~np.isfinite(arr)][:3]}")
        srt = np.sort(arr)
        if (np.diff(srt) == 0).any():
            dup = srt[1:][np.diff(srt) == 0][0]
            raise FiniteSetError(f"finite set has the value {dup} more than once")
        srt.setflags(write=False)
        self.values = srt
        self._fracs = [Fraction(float(v)) for v in srt]
        self.name = name or f"D[{srt.size}]"

    @property
    def exact_default(self) -> bool:
        return True

    def cast(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        d = self.values
        idx = np.searchsorted(d, x, side="left")          # d[idx-1] < x <= d[idx]
        hi = d[np.minimum(idx, d.size - 1)]
        lo = d[np.maximum(idx - 1, 0)]
        with np.errstate(invalid="ignore", over="ignore"):
            up, down = hi - x, x - lo
            out = np.where(up < down, hi, lo)
            # float differences can round a near-tie either way: decide those exactly
            scale = np.maximum(np.maximum(np.abs(hi), np.abs(lo)), np.abs(x))
            near = np.abs(up - down) <= 8 * np.finfo(np.float64).eps * scale
        near &= np.isfinite(x)
        if near.any():
            out = out.copy()
            out[near] = [self.cast_exact(Fraction(float(v))) for v in x[near]]
        return np.where(np.isnan(x), np.nan, out)

    def cast_exact(self, q: Fraction) -> float:
        fr = self._fracs
        i = bisect.bisect_left(fr, q)
        if i == 0:
            return float(self.values[0])
        if i == len(fr):
            return float(self.values[-1])
        lo, hi = fr[i - 1], fr[i]
        return float(self.values[i] if (hi - q) < (q - lo) else self.values[i - 1])


# ============================================================================ the model


@dataclass(frozen=True)
class ThresholdDecoder:
    """A deterministic decoder: ``bit = [w . vec(H) + c > 0]``, output ``table[(token, bit)]``.

    Used by the random model constructors; any callable ``(H, token, symbol) -> token`` works as
    a decoder.

    >>> dec = ThresholdDecoder(w=(1.0,), c=0.0, table={("1", 0): "a", ("1", 1): "b"})
    >>> dec(np.array([[0.5]]), "1", "1"), dec(np.array([[-0.5]]), "1", "1")
    ('b', 'a')
    """

    w: tuple
    c: float
    table: Mapping[tuple[str, int], Hashable]

    def __call__(self, h: np.ndarray, token: str, symbol: str) -> Hashable:
        s = float(np.dot(np.asarray(self.w), np.asarray(h, dtype=np.float64).ravel())) + self.c
        return self.table[(token, int(s > 0))]

    def __hash__(self) -> int:
        return hash((self.w, self.c, tuple(sorted(self.table.items(), key=repr))))


def _identity_decoder(h: np.ndarray, token: str, symbol: str) -> Hashable:
    """Default top-layer decoder: the state's bytes (the output reveals the whole state)."""
    return np.asarray(h, dtype=np.float64).tobytes()


@dataclass(frozen=True, eq=False)
class FPLayer:
    """One layer of an :class:`FPModel`.

    Parameters
    ----------
    tokens : sequence of str
    steps : mapping token -> sequence of ``(A_j, B_j)`` (``A_j`` ``[n, n]``, ``B_j`` ``[n, d]``)
    initial_state : ``[n, d]`` array (a 1-D array is a column, ``d = 1``)
    decoder : callable ``(H, token, symbol) -> output``; for every layer but the top one the
        output must be a token of the next layer. Default: the state's bytes.

    Raises
    ------
    ModelError
        Missing tokens, wrong shapes, non-finite entries.
    """

    tokens: tuple
    steps: Mapping
    initial_state: Any
    decoder: Callable[[np.ndarray, str, str], Hashable] = _identity_decoder

    def __post_init__(self) -> None:
        tokens = tuple(str(t) for t in self.tokens)
        if not tokens:
            raise ModelError("layer has no tokens")
        if "" in tokens:
            raise ModelError(f"layer has an empty token (tokens {list(tokens)}): a token must be "
                             f"a non-empty string, as the words that name it are")
        if len(set(tokens)) != len(tokens):
            raise ModelError(f"layer has duplicate tokens {list(tokens)}")
        h0 = _array(self.initial_state, "initial_state")
        if h0.ndim == 1:
            h0 = h0[:, None]
        if h0.ndim != 2:
            raise ModelError(f"initial_state must be [n, d], got shape {h0.shape}")
        n, d = h0.shape
        missing = [t for t in tokens if t not in self.steps]
        if missing:
            raise ModelError(f"no steps for token(s) {missing}")
        extra = [t for t in self.steps if str(t) not in tokens]
        if extra:
            raise ModelError(f"steps given for unknown token(s) {extra}; tokens are {list(tokens)}")
        steps = {}
        for t in tokens:
            row = []
            for j, pair in enumerate(self.steps[t]):
                if isinstance(pair, DeltaSubstep):
                    if pair.key.shape != (n,) or pair.value.shape != (d,):
                        raise ModelError(
                            f"delta sub-step {j} of token {t!r} has key {pair.key.shape} and "
                            f"value {pair.value.shape}; the state is ({n}, {d})")
                    row.append(pair)
                    continue
                try:
                    a, b = pair
                except (TypeError, ValueError):
                    raise ModelError(f"step {j} of token {t!r} must be a pair (A, B)") from None
                a = _array(a, f"A of step {j} of token {t!r}")
                b = np.zeros((n, d)) if b is None else _array(b, f"B of step {j} of token {t!r}")
                if b.ndim == 1:
                    b = b[:, None]
                if a.shape != (n, n):
                    raise ModelError(f"A of step {j} of token {t!r} has shape {a.shape}, the state "
                                     f"needs ({n}, {n})")
                if b.shape != (n, d):
                    raise ModelError(f"B of step {j} of token {t!r} has shape {b.shape}, the state "
                                     f"is ({n}, {d})")
                row.append((a, b))
            if not row:  # no step: the identity
                row = [DeltaSubstep(np.zeros(n), 0.0, np.zeros(d))]
            steps[t] = tuple(row)
        if not callable(self.decoder):
            raise ModelError("decoder must be callable (H, token, symbol) -> output")
        object.__setattr__(self, "tokens", tokens)
        object.__setattr__(self, "steps", steps)
        object.__setattr__(self, "initial_state", h0)

    @property
    def shape(self) -> tuple[int, int]:
        return self.initial_state.shape

    def A(self, token: str) -> np.ndarray:
        """``A(x) = A_{n_h} ... A_1`` in float64 (before casting)."""
        m = np.eye(self.shape[0])
        for st in self.steps[token]:
            a = st.matrix() if isinstance(st, DeltaSubstep) else st[0]
            m = a @ m
        return m


@dataclass(frozen=True, eq=False)
class DeltaSubstep:
    """A sub-step in the delta (kernel) form, ``H <- cast(H - beta k (k^T H) + beta k v^T)``:
    the matrix ``I - beta k k^T`` is never formed, so layers with a large width ``n`` and many
    sub-steps stay cheap. The weights ``k``, ``beta``, ``v`` are what gets cast to the format
    (the kernel's inputs); the exact result of the sub-step is rounded once.

    >>> s = DeltaSubstep(key=[1.0, -1.0], beta=1.0, value=[0.0])
    >>> s.matrix().tolist()
    [[0.0, 1.0], [1.0, 0.0]]
    """

    key: Any
    beta: float
    value: Any

    def __post_init__(self) -> None:
        k = _array(self.key, "delta key").ravel()
        v = _array(self.value, "delta value").ravel()
        b = float(_array(self.beta, "delta beta"))
        object.__setattr__(self, "key", k)
        object.__setattr__(self, "value", v)
        object.__setattr__(self, "beta", b)

    def matrix(self) -> np.ndarray:
        return np.eye(self.key.size) - self.beta * np.outer(self.key, self.key)


def _array(x: Any, where: str) -> np.ndarray:
    try:
        a = np.array(x, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ModelError(f"{where} is not a real array: {e}") from e
    if not np.isfinite(a).all():
        raise ModelError(f"{where} has non-finite entries")
    return a


@dataclass(frozen=True, eq=False)
class FPModel:
    """A stack of :class:`FPLayer`; layer 0's tokens are the input alphabet.

    Examples
    --------
    >>> m = FPModel.from_matrices({"0": [[1.0]], "1": [[-1.0]]}, initial_state=[[1.0]])
    >>> m.alphabet, m.depth
    (('0', '1'), 1)
    """

    layers: tuple

    def __post_init__(self) -> None:
        layers = tuple(self.layers)
        if not layers:
            raise ModelError("model has no layers")
        if not all(isinstance(x, FPLayer) for x in layers):
            raise ModelError("layers must be FPLayer objects")
        object.__setattr__(self, "layers", layers)

    @property
    def alphabet(self) -> tuple[str, ...]:
        return self.layers[0].tokens

    @property
    def depth(self) -> int:
        return len(self.layers)

    @classmethod
    def from_matrices(cls, A: Mapping[str, Any], B: Mapping[str, Any] | None = None, *,
                      initial_state: Any, decoder: Callable | None = None) -> "FPModel":
        """A one-layer model with one sub-step per token: ``H <- cast(A(x) H + B(x))``."""
        steps = {t: ((a, None if B is None else B.get(t)),) for t, a in A.items()}
        layer = FPLayer(tuple(A), steps, initial_state,
                        decoder if decoder is not None else _identity_decoder)
        return cls((layer,))


# ============================================================================ running


class _Runner:
    """The sequential model: casts the weights (each token's on first use) and steps the joint
    state (a tuple of float64 arrays)."""

    rounding = SEQUENTIAL

    def __init__(self, model: FPModel, fmt: NumberFormat, exact: bool):
        self.model, self.fmt, self.exact = model, fmt, exact
        self.tok_index = [{t: i for i, t in enumerate(layer.tokens)} for layer in model.layers]
        self.steps = [_CastSteps(self, li) for li in range(len(model.layers))]
        self.h0 = tuple(fmt.cast(layer.initial_state) for layer in model.layers)
        for li, h in enumerate(self.h0):
            _check_finite(h, fmt, SEQUENTIAL, step=0, layer=li, what="the initial state")

    def _cast_token(self, li: int, ti: int) -> list[tuple]:
        """The cast sub-steps of token ``ti`` of layer ``li``: ``(kind, a, b, v, exact)``."""
        fmt, exact = self.fmt, self.exact
        layer = self.model.layers[li]
        steps = layer.steps[layer.tokens[ti]]
        delta = [st for st in steps if isinstance(st, DeltaSubstep)]
        if len(delta) > 1 and type(fmt).cast is BinaryFormat.cast:
            # a binary format rounds entry by entry: one call for all the token's sub-steps
            keys = iter(fmt.cast(np.stack([st.key for st in delta])))
            betas = iter(fmt.cast(np.array([st.beta for st in delta])).tolist())
            vals = iter(fmt.cast(np.stack([st.value for st in delta])))
        else:
            keys = iter([fmt.cast(st.key) for st in delta])
            betas = iter([float(fmt.cast(np.array([st.beta]))[0]) for st in delta])
            vals = iter([fmt.cast(st.value) for st in delta])
        row: list[tuple] = []
        for j, st in enumerate(steps):
            if isinstance(st, DeltaSubstep):
                k, beta, v = next(keys), float(next(betas)), next(vals)
                for name, x in (("key", k), ("beta", np.array(beta)), ("value", v)):
                    _check_finite(x, fmt, SEQUENTIAL, step=None, layer=li,
                                  what=f"the {name} of sub-step {j} of token {layer.tokens[ti]!r}")
                ex = (_fr(k), Fraction(beta), _fr(v)) if exact else None
                row.append(("delta", k, beta, v, ex))
            else:
                ac, bc = fmt.cast(st[0]), fmt.cast(st[1])
                for name, x in (("A", ac), ("B", bc)):
                    _check_finite(x, fmt, SEQUENTIAL, step=None, layer=li,
                                  what=f"{name} of sub-step {j} of token {layer.tokens[ti]!r}")
                row.append(("dense", ac, bc, None, (_fr(ac), _fr(bc)) if exact else None))
        return row

    def matrix(self, layer: int, token: str) -> np.ndarray:
        """``A(x)`` of the model, exactly (Fractions): the product of the cast sub-step
        matrices (the sequential model casts the weights)."""
        return self.cast_matrix(layer, token)

    def cast_matrix(self, layer: int, token: str) -> np.ndarray:
        """The product of the cast sub-step matrices (exact, as Fractions)."""
        n = self.model.layers[layer].shape[0]
        m = np.array([[Fraction(int(i == j)) for j in range(n)] for i in range(n)], dtype=object)
        for kind, a, b, v, _ in self.steps[layer][self.tok_index[layer][token]]:
            if kind == "delta":
                k = _fr(a)
                m = m - Fraction(b) * np.outer(k, k.dot(m))
            else:
                m = _fr(a).dot(m)
        return m

    def step(self, states: tuple, symbol: str, t: int) -> tuple[tuple, Hashable]:
        """One symbol at time ``t`` through every layer
        (:func:`~statetrack.constructions.stack.step_stack`): (new states, top output)."""
        layers = self.model.layers
        read_token: list[Hashable] = [symbol]  # the token the current layer read

        def apply(li: int, tok: Hashable, h: np.ndarray) -> np.ndarray:
            read_token[0] = tok
            return self._apply(li, tok, h, t)

        def output(li: int, h: np.ndarray) -> Hashable:
            tok = read_token[0]
            try:
                out = layers[li].decoder(h, tok, symbol)
                hash(out)
            except Exception as e:  # noqa: BLE001 -- user code; wrapped with its location
                raise DecoderError(f"time {t}: decoder of layer {li} failed on token {tok!r}: "
                                   f"{type(e).__name__}: {e}") from e
            return out

        new, outs, _ = step_stack(symbol, states, apply, output, _next_token)
        return new, outs[-1]

    def _apply(self, li: int, tok: Hashable, h: np.ndarray, t: int) -> np.ndarray:
        """Layer ``li``'s sub-steps for token ``tok`` on its state ``h``, in the format."""
        layer = self.model.layers[li]
        idx = self.tok_index[li].get(tok) if isinstance(tok, str) else None
        if idx is None:
            src = "input symbol" if li == 0 else f"output of layer {li - 1}"
            raise UnknownTokenError(
                f"time {t}: {src} {tok!r} is not a token of layer {li} "
                f"{list(layer.tokens)}")
        for j, (kind, a, b, v, ex) in enumerate(self.steps[li][idx]):
            if self.exact:
                hf = _fr(h)
                if kind == "delta":
                    kf, bf, vf = ex
                    exact_val = hf + bf * np.outer(kf, vf - kf.dot(hf))
                else:
                    exact_val = ex[0].dot(hf) + ex[1]
                h = np.array([[self.fmt.cast_exact(q) for q in row] for row in exact_val],
                             dtype=np.float64).reshape(h.shape)
            else:
                with np.errstate(over="ignore", invalid="ignore"):  # reported just below
                    if kind == "delta":
                        h = self.fmt.cast(h + b * np.outer(a, v - a @ h))
                    else:
                        h = self.fmt.cast(a @ h + b)
            _check_finite(h, self.fmt, SEQUENTIAL, step=t, layer=li,
                          what=f"the state after sub-step {j} of token {tok!r}")
        return h


def _next_token(layer: int, symbol: Hashable, prev: Hashable) -> Hashable:
    """An FPModel's layer reads the previous layer's output (its decoder gives the token)."""
    return prev


class _CastSteps:
    """Layer ``li``'s cast sub-steps per token index, cast on first use (a check of one
    letter of a wide layer casts only that letter's weights)."""

    def __init__(self, runner: _Runner, li: int):
        self._runner, self._li = runner, li
        self._rows: dict[int, list[tuple]] = {}

    def __getitem__(self, ti: int) -> list[tuple]:
        row = self._rows.get(ti)
        if row is None:
            row = self._rows[ti] = self._runner._cast_token(self._li, ti)
        return row


def _fr(a: np.ndarray) -> np.ndarray:
    return np.array([Fraction(float(v)) for v in a.ravel()], dtype=object).reshape(a.shape)


def _check_finite(x: np.ndarray, fmt: NumberFormat, rounding: str, *, step: int | None,
                  layer: int, what: str) -> None:
    """Raise :class:`FormatOverflowError` if ``x`` (values of ``fmt``) is not all finite."""
    if np.isfinite(x).all():
        return
    where = "a weight" if step is None else f"overflow at step {step}"
    raise FormatOverflowError(
        f"{where}: {what} in layer {layer} is beyond the finite values of {fmt.name} (rounded "
        f"to {x[~np.isfinite(x)].ravel()[0]}) in the {rounding} rounding model. The paper's "
        "number model (a finite set D of reals, Grazzi et al. App. B.1) has no infinity: this "
        "run is outside the hypothesis of Theorems 1 and 2",
        step, layer, rounding)


def _key(states: tuple) -> bytes:
    return b"".join(np.ascontiguousarray(s).tobytes() for s in states)


#: Words of a finite-precision model: symbols only (any object is read as its ``str``).
_WORD_ERRORS = SymbolErrors(unknown=UnknownTokenError)


def _word(model: FPModel, word: Any) -> tuple[str, ...]:
    alpha = Alphabet(model.alphabet)
    if not isinstance(word, str):
        word = [str(s) for s in word]
    return alpha.decode(alpha.encode(word, errors=_WORD_ERRORS, indices=False))


def _runner(model: FPModel, fmt: Any, exact: bool | None,
            rounding: str = SEQUENTIAL) -> "_Runner | _PaperRunner":
    if not isinstance(model, FPModel):
        raise ModelError(f"expected an FPModel (see from_lrnn for constructed LRNNs), got "
                         f"{type(model).__name__}")
    f = get_format(fmt)
    if _rounding(rounding) == PAPER:
        if exact is not None and not exact:
            raise ModelError("exact=False is for the sequential model; the paper's rounding "
                             "model is computed in exact arithmetic only")
        return _PaperRunner(model, f)
    return _Runner(model, f, f.exact_default if exact is None else bool(exact))


@dataclass(frozen=True)
class FPTrace:
    """A run of one word: ``states[l]`` is ``[T + 1, n, d]`` (time 0 = initial state) and
    ``outputs`` the top layer's output after each of the ``T`` symbols.

    >>> tr = run(FPModel.from_matrices({"1": [[-1.0]]}, initial_state=[[1.0]]), "111")
    >>> tr.states[0].shape, tr.states[0][:, 0, 0].tolist(), tr.format
    ((4, 1, 1), [1.0, -1.0, 1.0, -1.0], 'bfloat16')
    """

    word: tuple[str, ...]
    states: tuple[np.ndarray, ...]
    outputs: tuple
    format: str
    rounding: str = SEQUENTIAL


def run(model: FPModel, word: Any, fmt: Any = "bfloat16", *, exact: bool | None = None,
        rounding: str = SEQUENTIAL) -> FPTrace:
    """Run ``word`` through the model in a number format.

    Parameters
    ----------
    model : FPModel
    word : str or sequence of symbols
    fmt : number format (name, dtype, or :class:`NumberFormat`)
    exact : arithmetic mode of the sequential model (module docstring); the paper's model is
        always exact
    rounding : ``"sequential"`` (round after every sub-step, weights cast: what kernels do) or
        ``"paper"`` (Grazzi et al.'s model: each term of the unrolled sum rounded, then the
        sum; weights not cast); see the module docstring

    Raises
    ------
    FormatOverflowError
        A weight, or the state at some step, is beyond the format's finite values (the
        message names the step and the layer).

    Examples
    --------
    >>> m = FPModel.from_matrices({"1": [[0.5]]}, B={"1": [[1.0]]}, initial_state=[[0.0]])
    >>> run(m, "1111", "float16").states[0][:, 0, 0].tolist()
    [0.0, 1.0, 1.5, 1.75, 1.875]

    The two rounding models differ: in bfloat16, ``h <- h + 1`` sticks at 256 when each step
    is rounded, while the paper's model rounds the exact count.

    >>> count = FPModel.from_matrices({"1": [[1.0]]}, B={"1": [[1.0]]}, initial_state=[[256.0]])
    >>> run(count, "11", "bfloat16").states[0][:, 0, 0].tolist()
    [256.0, 256.0, 256.0]
    >>> run(count, "11", "bfloat16", rounding="paper").states[0][:, 0, 0].tolist()
    [256.0, 256.0, 258.0]
    >>> double = FPModel.from_matrices({"1": [[2.0]]}, initial_state=[[1.0]])
    >>> run(double, "1" * 200)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    statetrack.theory.errors.FormatOverflowError: overflow at step 128: ...
    """
    r = _runner(model, fmt, exact, rounding)
    w = _word(model, word)
    states = r.h0
    hist = [[_state_array(s)] for s in states]
    outs = []
    for t, s in enumerate(w):
        states, out = r.step(states, s, t + 1)
        for li, h in enumerate(states):
            hist[li].append(_state_array(h))
        outs.append(out)
    return FPTrace(w, tuple(np.stack(h) for h in hist), tuple(outs), r.fmt.name, r.rounding)


def _state_array(state: Any) -> np.ndarray:
    return state.h if isinstance(state, _PaperState) else state


# ============================================================================ the paper's model



def _rounding(rounding: Any) -> str:
    if rounding not in ROUNDING_MODELS:
        raise ModelError(f"rounding must be one of {list(ROUNDING_MODELS)}, got {rounding!r}")
    return rounding


def _zeros(n: int, d: int) -> np.ndarray:
    return np.array([[Fraction(0)] * d for _ in range(n)], dtype=object).reshape(n, d)


class _ExactLayer:
    """A layer's tokens as exact affine maps of the *uncast* weights (the float64 values read
    as rationals): ``lin`` applies ``A(x)``, ``offset`` is ``B(x)`` (the token's affine map
    applied to 0), ``matrix`` is ``A(x)``."""

    def __init__(self, layer: FPLayer):
        self.layer = layer
        self._steps: dict[str, list[tuple]] = {}
        self._offset: dict[str, np.ndarray] = {}

    def steps(self, tok: str) -> list[tuple]:
        row = self._steps.get(tok)
        if row is None:
            row = []
            for st in self.layer.steps[tok]:
                if isinstance(st, DeltaSubstep):
                    row.append(("delta", _fr(st.key), Fraction(st.beta), _fr(st.value)))
                else:
                    row.append(("dense", _fr(st[0]), _fr(st[1])))
            self._steps[tok] = row
        return row

    def lin(self, tok: str, x: np.ndarray) -> np.ndarray:
        for st in self.steps(tok):
            if st[0] == "delta":
                x = x - st[2] * np.outer(st[1], st[1].dot(x))
            else:
                x = st[1].dot(x)
        return x

    def offset(self, tok: str) -> np.ndarray:
        b = self._offset.get(tok)
        if b is None:
            b = _zeros(*self.layer.shape)
            for st in self.steps(tok):
                if st[0] == "delta":
                    b = b - st[2] * np.outer(st[1], st[1].dot(b)) + st[2] * np.outer(st[1], st[3])
                else:
                    b = st[1].dot(b) + st[2]
            self._offset[tok] = b
        return b

    def matrix(self, tok: str) -> np.ndarray:
        n = self.layer.shape[0]
        eye = np.array([[Fraction(int(i == j)) for j in range(n)] for i in range(n)],
                       dtype=object)
        return self.lin(tok, eye)


def _cast_exact_array(fmt: NumberFormat, x: np.ndarray) -> np.ndarray:
    return np.array([fmt.cast_exact(q) for q in x.ravel()], dtype=np.float64).reshape(x.shape)


@dataclass(frozen=True, eq=False)
class _PaperState:
    """One layer in the paper's model after ``t`` tokens: the exact terms
    ``A(x_t) ... A(x_{i+1}) B(x_i)`` (``i = 1 .. t``), the exact ``A(x_t) ... A(x_1) H_0``,
    and the state ``h = cast(sum_i cast(term_i) + cast(init))``."""

    terms: tuple
    init: np.ndarray
    h: np.ndarray


class _PaperRunner:
    """Steps the paper's model (exact arithmetic; O(t) exact products at step t)."""

    exact = True
    rounding = PAPER

    def __init__(self, model: FPModel, fmt: NumberFormat):
        self.model, self.fmt = model, fmt
        self.layers = [_ExactLayer(layer) for layer in model.layers]
        h0 = []
        for li, layer in enumerate(model.layers):
            init = _fr(layer.initial_state)
            h = _cast_exact_array(fmt, init)
            _check_finite(h, fmt, PAPER, step=0, layer=li, what="the initial state")
            h0.append(_PaperState((), init, h))
        self.h0 = tuple(h0)

    def matrix(self, layer: int, token: str) -> np.ndarray:
        """``A(x)`` of the uncast weights, exactly (Fractions): the paper's weights."""
        return self.layers[layer].matrix(token)

    def step(self, states: tuple, symbol: str, t: int) -> tuple[tuple, Hashable]:
        layers = self.model.layers
        read_token: list[Hashable] = [symbol]

        def apply(li: int, tok: Hashable, st: _PaperState) -> _PaperState:
            read_token[0] = tok
            _token_index(self.model, li, tok, t)
            ex, fmt = self.layers[li], self.fmt
            terms = tuple(ex.lin(tok, x) for x in st.terms) + (ex.offset(tok),)
            init = ex.lin(tok, st.init)
            total = None
            for x in terms + (init,):
                c = _cast_exact_array(fmt, x)
                _check_finite(c, fmt, PAPER, step=t, layer=li,
                              what=f"a rounded term of the state after token {tok!r}")
                total = _fr(c) if total is None else total + _fr(c)
            h = _cast_exact_array(fmt, total)
            _check_finite(h, fmt, PAPER, step=t, layer=li, what=f"the state after token {tok!r}")
            return _PaperState(terms, init, h)

        def output(li: int, st: _PaperState) -> Hashable:
            return _decode(layers[li], st.h, read_token[0], symbol, li, t)

        new, outs, _ = step_stack(symbol, states, apply, output, _next_token)
        return new, outs[-1]


def _token_index(model: FPModel, li: int, tok: Hashable, t: int) -> int:
    layer = model.layers[li]
    idx = layer.tokens.index(tok) if isinstance(tok, str) and tok in layer.tokens else None
    if idx is None:
        src = "input symbol" if li == 0 else f"output of layer {li - 1}"
        raise UnknownTokenError(
            f"time {t}: {src} {tok!r} is not a token of layer {li} {list(layer.tokens)}")
    return idx


def _decode(layer: FPLayer, h: np.ndarray, tok: Hashable, symbol: str, li: int,
            t: int) -> Hashable:
    try:
        out = layer.decoder(h, tok, symbol)
        hash(out)
    except Exception as e:  # noqa: BLE001 -- user code; wrapped with its location
        raise DecoderError(f"time {t}: decoder of layer {li} failed on token {tok!r}: "
                           f"{type(e).__name__}: {e}") from e
    return out


# ============================================================================ the paper's model: eventual behaviour

#: Widest layer for which :func:`eventual_period` (paper's model) looks for a convergence
#: proof (exact linear algebra on ``n x n`` matrices).
_POWER_WIDTH = 16
#: Powers ``R^k``, ``k = 2^j <=`` this, tried for ``||R^k||_inf < 1`` (module docstring).
_POWER_TRIES = 4096
#: Copies walked, in the paper's model, looking for exactly periodic powers when ``A(w)``
#: has no convergence certificate.
_PERIODIC_WALK = 128
#: A value beyond every finite set and binary format: its cast is the format's "end".
_HUGE = Fraction(2) ** 1100


def _neighbours(fmt: NumberFormat, f: float) -> tuple[Fraction | None, Fraction | None] | None:
    """The values of ``fmt`` just below and above its value ``f`` (None: no value on that side,
    ``cast`` is constant beyond ``f``; for a binary format the value above ``max_value`` is
    ``2^(emax + 1)``, where rounding to infinity starts at the midpoint). None: not known for
    this kind of format."""
    if isinstance(fmt, FiniteSet):
        v = fmt.values
        i = int(np.searchsorted(v, f))
        lo = Fraction(float(v[i - 1])) if i > 0 else None
        hi = Fraction(float(v[i + 1])) if i + 1 < v.size else None
        return lo, hi
    if not isinstance(fmt, BinaryFormat):
        return None
    sub = Fraction(fmt.min_subnormal)

    def succ(x: Fraction) -> Fraction:             # x >= 0
        if x == 0:
            return sub
        e = math.frexp(float(x))[1] - 1          # floor(log2 x)
        return x + max(Fraction(2) ** (e - fmt.precision + 1), sub)

    def pred(x: Fraction) -> Fraction:             # x > 0
        e = math.frexp(float(x))[1] - 1
        step = Fraction(2) ** (e - fmt.precision + 1)
        if x == Fraction(2) ** e and e > fmt.emin:
            step /= 2                             # below a power of two the spacing halves
        return x - max(step, sub)

    x = Fraction(f)
    if x > 0:
        return pred(x), succ(x)
    if x < 0:
        return -succ(-x), -pred(-x)
    return -sub, sub


def _margin(fmt: NumberFormat, c: Fraction) -> Fraction | None:
    """A ``delta >= 0`` with ``cast(x) = cast(c)`` whenever ``|x - c| < delta`` (0 when ``c``
    is a rounding boundary); None for a format whose values this module cannot enumerate."""
    f = fmt.cast_exact(c)
    if not math.isfinite(f):
        return None
    nb = _neighbours(fmt, f)
    if nb is None:
        return None
    lo, hi = nb
    x = Fraction(f)
    below = _HUGE if lo is None else c - (lo + x) / 2
    above = _HUGE if hi is None else (x + hi) / 2 - c
    return max(Fraction(0), min(below, above))


def _max_abs(x: np.ndarray) -> Fraction:
    return max((abs(q) for q in x.ravel()), default=Fraction(0))


def _inf_norm(m: np.ndarray) -> Fraction:
    return max(sum((abs(q) for q in row), Fraction(0)) for row in m)


def _unit_eigenspace(a: np.ndarray) -> tuple[Any, list, bool]:
    """``(A - I, kernel basis of A - I, defective)`` in sympy's exact arithmetic for a
    rational matrix ``a``: the eigenvalue 1 is defective (a Jordan block) when ``(A - I)^2``
    has a larger kernel than ``A - I``. The one test :func:`_convergence` and
    :func:`_no_certificate` share.

    >>> _unit_eigenspace(np.array([[Fraction(1), Fraction(1)], [Fraction(0), Fraction(1)]],
    ...                            dtype=object))[1:]
    ([Matrix([
    [1],
    [0]])], True)
    """
    import sympy

    n = a.shape[0]
    sa = sympy.Matrix(n, n, lambda i, j: sympy.Rational(a[i, j].numerator, a[i, j].denominator))
    d = sa - sympy.eye(n)
    kern = d.nullspace()
    return d, kern, bool(kern) and len((d * d).nullspace()) != len(kern)


def _convergence(a: np.ndarray) -> tuple[np.ndarray, int, Fraction] | None:
    """``(P, k, M)``: ``P`` the spectral projection of ``A`` on the eigenvalue 1 (0 if 1 is
    not an eigenvalue), ``R = A - P`` with ``||R^k||_inf < 1`` for ``k = 2^j``, and
    ``M = prod_{l < j} max(1, ||R^(2^l)||_inf)``; then ``A^s = P + R^s`` (``s >= 1``;
    ``PR = RP = 0``) and ``||R^s||_inf <= M`` for all ``s >= 0`` (write ``s mod k`` in binary,
    and ``||(R^k)^q|| <= 1``). None if the eigenvalue 1 is defective, no ``k <=
    _POWER_TRIES`` works, or ``A`` is wider than ``_POWER_WIDTH``."""
    import sympy

    n = a.shape[0]
    if n > _POWER_WIDTH:
        return None
    d, kern, defective = _unit_eigenspace(a)
    if kern:
        if defective:
            return None                           # a Jordan block of 1: polynomial growth
        basis = sympy.Matrix.hstack(*kern, *d.columnspace())
        keep = sympy.diag(*([1] * len(kern) + [0] * (n - len(kern))))
        sp = basis * keep * basis.inv()
        p = np.array([[Fraction(int(sp[i, j].p), int(sp[i, j].q)) for j in range(n)]
                      for i in range(n)], dtype=object)
    else:
        p = _zeros(n, n)
    # Y approximates R^k (dyadic, _NORM_BITS bits after the point) with
    # ||R^k - Y||_inf <= err, so ||R^k||_inf <= ||Y||_inf + err; squaring,
    # ||R^2k - Y^2||_inf <= 2 ||Y|| err + err^2, plus the rounding of Y^2 (n 2^-bits/2 a row)
    unit = Fraction(1, 1 << _NORM_BITS)
    y, err = a - p, Fraction(0)
    bound, k = Fraction(1), 1
    while k <= _POWER_TRIES:
        norm = _inf_norm(y) + err
        if norm < 1:
            return p, k, bound
        bound = _ceil_dyadic(bound * norm)        # >= 1 here
        y, err = (_round_dyadic(y.dot(y)),
                  _ceil_dyadic(2 * _inf_norm(y) * err + err * err + n * unit))
        k *= 2
    return None


#: Bits after the point of the dyadic approximations of ``R^(2^l)`` in :func:`_convergence`.
_NORM_BITS = 256


def _ceil_dyadic(q: Fraction) -> Fraction:
    """The least multiple of ``2^-_NORM_BITS`` that is ``>= q`` (keeps bounds short)."""
    scale = 1 << _NORM_BITS
    return Fraction(-((-q.numerator * scale) // q.denominator), scale)


def _round_dyadic(m: np.ndarray) -> np.ndarray:
    """Each entry rounded to a multiple of ``2^-_NORM_BITS`` (error <= half of that)."""
    scale = 1 << _NORM_BITS
    return np.array([Fraction(round(q * scale), scale) for q in m.ravel()],
                    dtype=object).reshape(m.shape)


def _log(q: Fraction) -> float:
    """``log(q)`` of a positive rational of any size."""
    return math.log(q.numerator) - math.log(q.denominator)


def _no_certificate(a: np.ndarray, growth: str | None, dropped: str | None) -> str:
    """Why the paper's model had no convergence certificate for ``A(w) = a`` (``growth``:
    the measured growth of the powers, ``dropped``: why a certificate was set aside), for an
    undecided message."""
    if dropped:
        return dropped
    n = a.shape[0]
    said = f"{growth}; " if growth else ""
    if n > _POWER_WIDTH:
        return (f"{said}A(w) is {n} wide, above the {_POWER_WIDTH} for which a convergence "
                "certificate is sought (module docstring)")
    if _unit_eigenspace(a)[2]:
        return (f"{said}A(w)'s eigenvalue 1 is defective (a Jordan block: its powers grow "
                "polynomially, so the rounded terms keep changing until they leave the "
                "format's range, far beyond any walk; the theorem's argument covers this case, "
                "the toolkit does not decide it)")
    return (f"{said}A(w) has no convergence certificate (an eigenvalue of modulus 1 other "
            f"than 1, one above 1, or no ||R^k||_inf < 1 for k <= {_POWER_TRIES}; module "
            "docstring)")


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.array_equal(a, b))


@dataclass(frozen=True, eq=False)
class _PaperOrbit:
    """The proven eventual behaviour of one layer's paper-model state under ``w w w ...``:
    ``h_at(t)`` is the state after ``t`` copies, ``h_at(t + lam) = h_at(t)`` for ``t >= mu``."""

    mu: int
    lam: int
    evals: int
    proof: str
    h_at: Callable[[int], np.ndarray]


def _paper_orbit(r: _PaperRunner, w: tuple, max_steps: int) -> _PaperOrbit:
    """Decide the eventual behaviour of the paper's model under ``w^t`` (module docstring,
    "The paper's model, decided")."""
    model, fmt = r.model, r.fmt
    if model.depth != 1:
        raise ModelError(
            f"the paper's rounding model: the eventual behaviour is decided for one-layer models "
            f"only, this one has {model.depth} layers (run(..., rounding='paper') computes the "
            "model at any depth)")
    ex, m = r.layers[0], len(w)
    shape = model.layers[0].shape
    terms = []                               # Q_j = A(w_{j+1} .. w_m) B(w_j)
    for j, s in enumerate(w):
        x = ex.offset(s)
        for s2 in w[j + 1:]:
            x = ex.lin(s2, x)
        terms.append(x)
    start = tuple(terms) + (_fr(model.layers[0].initial_state),)
    a = ex.matrix(w[0])
    for s in w[1:]:
        a = ex.lin(s, a)
    conv = _convergence(a)
    limits = margins = dropped = None
    if conv is not None:                     # the limits P v and their rounding margins
        limits = [conv[0].dot(v) for v in start]
        margins = []
        for lim in limits:
            ms = [_margin(fmt, q) for q in lim.ravel()]
            margins.append(None if any(x is None or x == 0 for x in ms) else min(ms))
        if any(x is None for x in margins):
            conv = None
            dropped = (f"A(w)'s powers converge, but a limit P v lies on a rounding boundary "
                       f"of {fmt.name} (or next to a value the format does not list), so the "
                       "rounded limit is not proved")
    top = fmt.max_value if isinstance(fmt, BinaryFormat) else (
        float(np.abs(fmt.values).max()) if isinstance(fmt, FiniteSet) else 2.0 ** 1023)
    grown = Fraction(2) ** 64 * max(Fraction(1), Fraction(top))
    # without a convergence certificate only exact periodicity or an overflow can end the
    # walk: periodic orbits of small matrices are short, so stop after _PERIODIC_WALK copies
    # rather than grow rationals for nothing, unless the powers on H_0 and B measurably grow
    # fast enough to pass the format's largest value within max_steps: then walk on, and the
    # cast proves the overflow at its step (the measured rate only chooses how far to walk)
    limit = [max_steps if conv is not None else min(max_steps, _PERIODIC_WALK)]
    sizes: list[Fraction] = []               # max |A(w)^i v| over H_0 and the terms B
    growth: list[str | None] = [None]        # the measured growth, once estimated
    hs: list[np.ndarray] = []                # H_t
    sums: list[np.ndarray] = []              # S_t = sum_{i < t} T_i (exact)
    inits: list[np.ndarray] = []             # U_t = cast(A(w)^t H_0) (exact)
    acc = [_zeros(*shape)]
    evals = 0

    def copies(i: int) -> str:
        return f"after {i} cop{'y' if i == 1 else 'ies'} of the word {''.join(w)!r}"

    def cast(x: np.ndarray, step: int, what: str) -> np.ndarray:
        c = _cast_exact_array(fmt, x) + 0.0     # D is a set of reals: no signed zero
        _check_finite(c, fmt, PAPER, step=step * m, layer=0, what=what)
        return c

    def visit(i: int, vs: tuple) -> None:
        u = _fr(cast(vs[-1], i, f"the rounded A(w)^t H_0 {copies(i)}"))
        s_i = acc[0]
        hs.append(cast(s_i + u, i, f"the state {copies(i)}"))
        sums.append(s_i)
        inits.append(u)
        for v in vs[:-1]:
            s_i = s_i + _fr(cast(v, i + 1, f"a rounded term of the state {copies(i + 1)}"))
        acc[0] = s_i

    def advance(vs: tuple) -> tuple:
        nonlocal evals
        evals += 1
        if evals > limit[0] and not (conv is None and growth[0] is None and walk_on()):
            raise PeriodLimitError(
                f"undecided in the paper's rounding model: no proof of the eventual behaviour "
                f"within {limit[0]} copies of the word (A(w)'s powers on H_0 and B did not "
                "repeat exactly, and " + ("did not come within rounding distance of their "
                "limits" if conv is not None else _no_certificate(a, growth[0], dropped))
                + f"; max_steps={max_steps})")
        out = []
        for v in vs:
            for s in w:
                v = ex.lin(s, v)
            out.append(v)
        return tuple(out)

    def key(vs: tuple) -> tuple:
        return tuple(q for v in vs for q in v.ravel())

    def walk_on() -> bool:
        # the growth rate per copy over the second half of the walk, and the copies it needs
        # to pass the format's largest value; walk on to max_steps if that is within it
        half = len(sizes) // 2
        if len(sizes) < 4 or sizes[half] == 0 or sizes[-1] <= sizes[half]:
            growth[0] = ""
            return False
        rate = (_log(sizes[-1]) - _log(sizes[half])) / (len(sizes) - 1 - half)
        need = len(sizes) - 1 + max(0.0, (math.log(max(1.0, top)) - _log(sizes[-1])) / rate)
        growth[0] = (f"its powers on H_0 and B grow about {math.exp(rate):.4g}x a copy "
                     f"(measured), which would pass the largest value of {fmt.name} after "
                     f"about {math.ceil(need)} copies")
        if need > max_steps:
            growth[0] += ", beyond max_steps"
            return False
        growth[0] += ", but did not within max_steps"      # the growth slowed down
        limit[0] = max_steps
        return True

    def converged(i: int, vs: tuple) -> bool:
        sizes.append(max(map(_max_abs, vs)))
        if sizes[-1] > grown:
            raise PeriodLimitError(
                f"undecided in the paper's rounding model: |A(w)^{i} v| > 2^64 times the "
                f"largest value of {fmt.name} (v = H_0 or a term B: A(w)'s powers grow on "
                "it, e.g. an eigenvalue above 1). The toolkit decides the paper's model "
                "when A(w)'s powers on H_0 and B repeat exactly or converge; in a finite "
                "set D such a run saturates at D's ends, which it does not prove")
        return conv is not None and all(conv[2] * _max_abs(v - lim) < mg
                                        for v, lim, mg in zip(vs, limits, margins))

    vs, i = start, 0
    visit(0, vs)
    tort, power, lam = key(vs), 1, 1
    periodic = False
    while not converged(i, vs):
        vs = advance(vs)
        i += 1
        visit(i, vs)
        if key(vs) == tort:
            periodic = True
            break
        if power == lam:
            tort, power, lam = key(vs), power * 2, 0
        lam += 1
    if periodic:
        # A(w)^(i + p) v = A(w)^i v exactly from mu0 on: the rounded terms repeat with period p
        p = lam
        first, later = start, start
        for _ in range(p):
            later = advance(later)
        mu0 = 0
        while key(first) != key(later):
            first, later, mu0 = advance(first), advance(later), mu0 + 1
        drift = sums[mu0 + p] - sums[mu0]       # mu0 + p <= i: both were visited
        how = (f"A(w)^(i + {p}) v = A(w)^i v exactly for i >= {mu0} (v = H_0 and each term "
               f"B), so the rounded terms repeat with period {p}")
    else:
        # |A(w)^s v - P v| <= M |A(w)^i v - P v| < margin for all s >= i: every rounded term is
        # the rounded limit from copy i on
        proj, k, bound = conv
        p, mu0 = 1, i
        drift = acc[0] - sums[i]
        how = (f"A(w)^s = P + R^s with P the projection on A(w)'s eigenvalue 1 "
               f"({'zero' if not any(q != 0 for q in proj.ravel()) else 'non-zero'}) and "
               f"||R^{k}||_inf < 1, so ||R^s||_inf <= {float(bound):.6g}; after {i} copies "
               f"A(w)^i v is within {float(bound):.6g}x of its limit P v by less than the "
               f"distance from P v to a rounding boundary of {fmt.name} (v = H_0 and each "
               "term B): every later rounded term equals the rounded limit")

    def closed(t: int) -> np.ndarray:
        q, rr = divmod(t - mu0, p)
        return cast(sums[mu0 + rr] + q * drift + inits[mu0 + rr], t, f"the state {copies(t)}")

    def h_at(t: int) -> np.ndarray:
        return hs[t] if t < len(hs) else closed(t)

    def settle(tail: int) -> tuple[int, int]:
        # the least period (a divisor of p) and the pre-period of a sequence periodic from tail
        lam = min(d for d in range(1, p + 1) if p % d == 0 and
                  all(_same(h_at(t), h_at(t + d)) for t in range(tail, tail + p)))
        mu = tail
        while mu > 0 and _same(h_at(mu - 1), h_at(mu - 1 + lam)):
            mu -= 1
        return mu, lam

    moving = [(ab, drift[ab]) for ab in np.ndindex(*shape) if drift[ab] != 0]
    if not moving:
        mu, lam = settle(mu0)
        return _PaperOrbit(mu, lam, evals, how + "; their sum over a period is 0", h_at)
    # a coordinate with drift c != 0 is base + q c (q = periods elapsed): monotone in q, it
    # reaches the format's end (an infinity, or the end of a finite set) and stays there
    firsts = []
    for ab, c in moving:
        end = fmt.cast_exact(_HUGE if c > 0 else -_HUGE)
        for rr in range(p):
            base = sums[mu0 + rr][ab] + inits[mu0 + rr][ab]

            def at_end(q: int) -> bool:
                return fmt.cast_exact(base + q * c) == end

            hi = 1
            while not at_end(hi):
                hi *= 2
            lo = -1                           # at_end(lo) is false, or lo = -1
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if mid >= 0 and at_end(mid):
                    hi = mid
                else:
                    lo = mid
            firsts.append((mu0 + hi * p + rr, ab, end))
    if not math.isfinite(firsts[0][2]):
        t, ab, end = min(f for f in firsts if not math.isfinite(f[2]))
        raise FormatOverflowError(
            f"overflow at step {t * m}: coordinate {ab} of the state {copies(t)} is beyond the "
            f"finite values of {fmt.name} (it grows by {float(drift[ab]):.6g} every {p} "
            f"cop{'y' if p == 1 else 'ies'}: {how}) in the paper rounding model. The paper's "
            "number model (a finite set D of reals, Grazzi et al. App. B.1) has no infinity: "
            "this run is outside the hypothesis of Theorems 1 and 2", t * m, 0, PAPER)
    tail = max(f[0] for f in firsts)
    if tail > max_steps:
        raise PeriodLimitError(
            f"the paper's rounding model: the state saturates at the ends of {fmt.name} only "
            f"after {tail} copies of the word, beyond max_steps={max_steps}")
    mu, lam = settle(max(tail, mu0))
    return _PaperOrbit(mu, lam, evals,
                       how + f"; coordinates {[ab for ab, _ in moving]} drift and reach the ends "
                       f"of {fmt.name} by copy {tail}", h_at)


# ============================================================================ periods


@dataclass(frozen=True)
class PeriodResult:
    """The eventual behaviour of the joint state under ``w w w ...``.

    ``pre_period`` (mu) and ``period`` (lambda) count repetitions of ``word``: the state after
    ``i`` copies equals the state after ``i + period`` copies for every ``i >= pre_period``,
    and ``period`` is the least such number. ``evaluations`` is how many copies were run.
    ``rounding`` names the rounding model (``"sequential"`` or ``"paper"``) and ``proof`` says
    why the behaviour holds for every ``i`` (a repeated state of a finite-state map in the
    sequential model; an exact argument about ``A(w)``'s powers in the paper's model).

    Examples
    --------
    >>> m = FPModel.from_matrices({"1": [[-1.0]]}, initial_state=[[1.0]])
    >>> r = eventual_period(m, "11", "bfloat16")       # A(11) = 1: constant under (11)^t
    >>> r.pre_period, r.period, r.period_symbols, r.format, r.rounding
    (0, 1, 2, 'bfloat16', 'sequential')
    """

    word: tuple[str, ...]
    pre_period: int
    period: int
    evaluations: int
    format: str
    exact: bool
    rounding: str = SEQUENTIAL
    proof: str = ""

    @property
    def pre_period_symbols(self) -> int:
        return self.pre_period * len(self.word)

    @property
    def period_symbols(self) -> int:
        return self.period * len(self.word)


def _brent(f: Callable[[Any], Any], x0: Any, key: Callable[[Any], bytes],
           max_steps: int) -> tuple[int, int, int]:
    evals = 0

    def g(x):
        nonlocal evals
        evals += 1
        if evals > max_steps:
            raise PeriodLimitError(
                f"the state did not repeat within max_steps={max_steps} applications of the "
                "periodic word (use a coarser format, e.g. bfloat16, or raise max_steps)")
        return f(x)

    power = lam = 1
    tortoise, hare = x0, g(x0)
    kt, kh = key(tortoise), key(hare)
    while kt != kh:
        if power == lam:
            tortoise, kt = hare, kh
            power *= 2
            lam = 0
        hare = g(hare)
        kh = key(hare)
        lam += 1
    tortoise = hare = x0
    for _ in range(lam):
        hare = g(hare)
    mu = 0
    while key(tortoise) != key(hare):
        tortoise, hare = g(tortoise), g(hare)
        mu += 1
    return mu, lam, evals


def eventual_period(model: FPModel, word_period: Any, fmt: Any = "bfloat16", *,
                    max_steps: int | None = None, exact: bool | None = None,
                    rounding: str = SEQUENTIAL) -> PeriodResult:
    """Pre-period and least period of the state under the periodic input
    ``word_period word_period ...``.

    In the sequential model (the default) the joint state of all layers is a finite-state map
    of itself, and Brent's algorithm finds its cycle on exact bit patterns. In the paper's
    model (``rounding="paper"``, one layer) the state is not a function of the previous state;
    the behaviour is decided from ``A(w)``'s exact powers (module docstring, "The paper's
    model, decided").

    Parameters
    ----------
    model : FPModel
    word_period : str or sequence of symbols (not empty)
    fmt : number format (name, dtype, or :class:`NumberFormat`)
    max_steps : cap on the copies of the word walked (default :data:`DEFAULT_MAX_STEPS`, or
        :data:`DEFAULT_PAPER_STEPS` in the paper's model)
    exact : arithmetic mode of the sequential model (module docstring)
    rounding : ``"sequential"`` or ``"paper"`` (module docstring)

    Raises
    ------
    PeriodLimitError
        No repetition (sequential) or no proof (paper) within ``max_steps`` copies of the word.
    FormatOverflowError
        The state overflows the format (``overflow at step k``): outside the paper's number
        model, so no period is claimed.
    ModelError
        ``word_period`` is empty; ``rounding="paper"`` on a model of several layers.

    Examples
    --------
    >>> rot = FPModel.from_matrices({"1": [[0, 0, 1], [1, 0, 0], [0, 1, 0]]},
    ...                             initial_state=[1.0, 0.0, 0.0])
    >>> r = eventual_period(rot, "1", "float16")
    >>> r.pre_period, r.period
    (0, 3)
    >>> r = eventual_period(rot, "1", "float16", rounding="paper")
    >>> r.pre_period, r.period, r.rounding
    (0, 3, 'paper')
    >>> print(r.proof)
    A(w)^(i + 3) v = A(w)^i v exactly for i >= 0 (v = H_0 and each term B), so the rounded terms repeat with period 3; their sum over a period is 0
    """
    r = _runner(model, fmt, exact, rounding)
    w = _word(model, word_period)
    if not w:
        raise ModelError("the periodic word is empty")
    if r.rounding == PAPER:
        orbit = _paper_orbit(r, w, _max_steps(max_steps, PAPER))
        return PeriodResult(w, orbit.mu, orbit.lam, orbit.evals, r.fmt.name, True, PAPER,
                            orbit.proof)
    counter = [0]

    def f(states):
        for s in w:
            counter[0] += 1
            states, _ = r.step(states, s, counter[0])
        return states

    mu, lam, evals = _brent(f, r.h0, _key, _max_steps(max_steps, SEQUENTIAL))
    return PeriodResult(w, mu, lam, evals, r.fmt.name, r.exact, SEQUENTIAL,
                        f"Brent's algorithm: the joint state (a function of the previous one) "
                        f"after {mu} and {mu + lam} copies is the same bit pattern")


def _max_steps(max_steps: int | None, rounding: str) -> int:
    if max_steps is None:
        return DEFAULT_PAPER_STEPS if rounding == PAPER else DEFAULT_MAX_STEPS
    if (isinstance(max_steps, (bool, np.bool_)) or not isinstance(max_steps, (int, np.integer))
            or max_steps < 1):
        raise ModelError(f"max_steps must be a positive integer (copies of the periodic word "
                         f"to walk), got {max_steps!r}")
    return int(max_steps)


def is_power_of_two(n: int) -> bool:
    """``n = 2^k`` for some ``k >= 0``.

    >>> [is_power_of_two(n) for n in (1, 2, 3, 4, 6)]
    [True, True, False, True, False]
    """
    return n >= 1 and n & (n - 1) == 0


def _outputs_from(r: _Runner, symbol: str, start: int, count: int) -> tuple[list, list]:
    """Outputs (and state keys) after 1^t for t = start .. start + count - 1 (start >= 1)."""
    states = r.h0
    outs, keys = [], []
    for t in range(1, start + count):
        states, out = r.step(states, symbol, t)
        if t >= start:
            outs.append(out)
            keys.append(_key(states))
    return outs, keys


def _hypothesis(r: "_Runner | _PaperRunner", check: str) -> bool | None:
    """Theorem 1 ("nonneg") or Theorem 2 ("triangular") hypothesis on the model's matrices
    (cast in the sequential model, uncast in the paper's)."""
    from .spectra import eigenvalues

    undecided = False
    for li, layer in enumerate(r.model.layers):
        for t in layer.tokens:
            m = r.matrix(li, t)
            n = m.shape[0]
            if check == "triangular":
                up = all(m[i, j] == 0 for i in range(n) for j in range(i))
                lo = all(m[i, j] == 0 for i in range(n) for j in range(i + 1, n))
                if not (up or lo):
                    return False
            else:
                verdict = eigenvalues(m).nonnegative_real   # None: undecided (too large)
                if verdict is False:
                    return False
                undecided = undecided or verdict is None
    return None if undecided else True


# ============================================================================ Theorem 1


@dataclass(frozen=True)
class ParityCertificate:
    """Result of :func:`parity_counterexample`.

    Attributes
    ----------
    found : bool
        A counterexample was found: ``words`` have lengths of different parity and the model's
        outputs on them are identical.
    kind : str
        ``"state"`` (the states are bit-identical: no decoder of the state can tell the two
        words apart), ``"output"`` (only the outputs agree), or ``"none"``.
    words : pair of words (tuples of symbols) or None
    outputs : the model's outputs on the two words, or None
    pre_period, period : the eventual behaviour of the state under ``1^t``
    state_determines_parity : bool
        The eventual period is even, so the parity of ``t`` is a function of the state on the
        whole orbit of ``1^t``: some decoder recognizes ``(11)*`` on unary words.
    nonnegative_eigenvalues : bool or None
        Theorem 1's hypothesis on the matrices of every layer and token: every eigenvalue is a
        non-negative real (decided exactly; on the cast weights in the sequential model, the
        uncast weights in the paper's). None when not checked, or undecided (a matrix above
        :data:`~statetrack.theory.spectra.EXACT_LIMIT`).
    contradicts_theorem : bool or None
        Claimed in the paper's model only (``rounding="paper"``), the model of Theorem 1's
        proof: True when there is no counterexample although the hypothesis holds (the theorem
        says this cannot happen). None in the sequential model, where the theorem is not
        proved: an even period there with the hypothesis holding is an observation about
        that model (``detail`` says so), not a contradiction.
    detail : str
    rounding : str
        The rounding model, ``"paper"`` or ``"sequential"`` (module docstring).

    Examples
    --------
    A decaying scalar (eigenvalue 1/2 >= 0) converges, so two words of different parity meet:

    >>> pos = FPModel.from_matrices({"1": [[0.5]]}, B={"1": [[1.0]]}, initial_state=[[0.0]])
    >>> c = parity_counterexample(pos, "bfloat16")
    >>> c.found, c.kind, c.period, c.nonnegative_eigenvalues, c.contradicts_theorem
    (True, 'state', 1, True, None)
    >>> [len(w) for w in c.words], c.verify(pos)
    ([9, 10], True)
    >>> c = parity_counterexample(pos, "bfloat16", rounding="paper")
    >>> c.found, c.period, c.contradicts_theorem, c.rounding, c.verify(pos)
    (True, 1, False, 'paper', True)

    With eigenvalue -1 the state alternates and tracks the parity: no certificate.

    >>> neg = FPModel.from_matrices({"1": [[-1.0]]}, initial_state=[[1.0]])
    >>> c = parity_counterexample(neg, "bfloat16")
    >>> c.found, c.kind, c.period, c.state_determines_parity, c.nonnegative_eigenvalues
    (False, 'none', 2, True, False)
    """

    found: bool
    kind: str
    words: tuple | None
    outputs: tuple | None
    pre_period: int
    period: int
    format: str
    nonnegative_eigenvalues: bool | None
    contradicts_theorem: bool | None
    detail: str
    number_format: Any = field(default=None, repr=False, compare=False)
    rounding: str = SEQUENTIAL

    @property
    def state_determines_parity(self) -> bool:
        return self.period % 2 == 0

    def verify(self, model: FPModel, *, exact: bool | None = None) -> bool:
        """Re-run both words from scratch, in the certificate's rounding model, and check the
        certificate's claims.

        >>> m = FPModel.from_matrices({"1": [[0.25]]}, B={"1": [[1.0]]}, initial_state=[[0.0]])
        >>> parity_counterexample(m, "float16").verify(m)
        True
        """
        if not self.found:
            return False
        a, b = self.words
        if (len(a) - len(b)) % 2 == 0:
            return False
        fmt = self.number_format if self.number_format is not None else self.format
        ra = run(model, a, fmt, exact=exact, rounding=self.rounding)
        rb = run(model, b, fmt, exact=exact, rounding=self.rounding)
        if ra.outputs[-1] != rb.outputs[-1]:
            return False
        if self.kind == "state":
            return _key(tuple(s[-1] for s in ra.states)) == _key(tuple(s[-1] for s in rb.states))
        return True


def parity_counterexample(model: FPModel, fmt: Any = "bfloat16", *, symbol: str = "1",
                          max_steps: int | None = None, exact: bool | None = None,
                          check_hypothesis: bool = True,
                          rounding: str = SEQUENTIAL) -> ParityCertificate:
    """Theorem 1's certificate: two words ``1^s``, ``1^t`` of different parity on which the
    model's outputs are identical, found from the eventual behaviour of the state under
    ``1^t``.

    With eventual period ``lambda`` and pre-period ``mu`` of the state: if ``lambda`` is
    odd, ``s = max(mu, 1)`` and ``t = s + lambda`` reach the same state (kind ``"state"``). If
    ``lambda`` is even, the outputs along one cycle are searched for two positions of different
    parity with equal outputs (kind ``"output"``); otherwise there is no counterexample (the
    negative-eigenvalue construction: period 2, alternating outputs). Why the period is 1 for
    non-negative eigenvalues is in the module docstring, for each rounding model.

    Parameters
    ----------
    model : FPModel (see :func:`from_lrnn` for constructed LRNNs)
    fmt : number format (name, dtype, or :class:`NumberFormat`)
    symbol : the input symbol repeated (default ``"1"``)
    max_steps : cap on the walk (:class:`PeriodLimitError` beyond it; default as in
        :func:`eventual_period`)
    exact : arithmetic mode of the sequential model (see the module docstring)
    check_hypothesis : also decide Theorem 1's hypothesis (exact eigenvalues; costs up to
        ~0.3 s per non-triangular matrix)
    rounding : ``"sequential"`` (default; any depth) or ``"paper"`` (one layer), the model in
        which the words are run; ``contradicts_theorem`` is claimed in the paper's model only

    Raises
    ------
    FormatOverflowError
        The state overflows the format (``overflow at step k``): outside the paper's number
        model (a finite set of reals), so neither a counterexample nor a contradiction.

    Examples
    --------
    >>> m = FPModel.from_matrices({"1": [[0.9, 0.0], [0.0, 0.3]]}, B={"1": [[1.0], [-1.0]]},
    ...                           initial_state=[[0.0], [0.0]])
    >>> c = parity_counterexample(m, "bfloat16")
    >>> c.found, c.kind, c.nonnegative_eigenvalues, (len(c.words[1]) - len(c.words[0])) % 2
    (True, 'state', True, 1)
    """
    r = _runner(model, fmt, exact, rounding)
    sym = _word(model, [symbol])[0]
    if r.rounding == PAPER:
        orbit = _paper_orbit(r, (sym,), _max_steps(max_steps, PAPER))
        mu, lam = orbit.mu, orbit.lam
    else:
        pr = eventual_period(model, (sym,), r.fmt, max_steps=max_steps, exact=r.exact)
        mu, lam = pr.pre_period, pr.period
    hyp = _hypothesis(r, "nonneg") if check_hypothesis else None
    where = f"in {r.fmt.name}, {r.rounding} rounding model"
    s = max(mu, 1)

    def cert(found: bool, kind: str, words: tuple | None, outs: tuple | None,
             contra: bool | None, detail: str) -> ParityCertificate:
        return ParityCertificate(found, kind, words, outs, mu, lam, r.fmt.name, hyp, contra,
                                 detail, r.fmt, r.rounding)

    if r.rounding == PAPER:
        layer = model.layers[0]

        def outputs(start: int, count: int) -> list:
            return [_decode(layer, orbit.h_at(t), sym, sym, 0, t)
                    for t in range(start, start + count)]
    else:
        def outputs(start: int, count: int) -> list:
            return _outputs_from(r, sym, start, count)[0]

    no_contra = False if r.rounding == PAPER else None
    if lam % 2 == 1:
        outs = outputs(s, lam + 1)
        if outs[0] != outs[-1]:  # equal states give equal outputs: a bug if this fires
            raise AssertionError("equal states produced different outputs")
        return cert(True, "state", ((sym,) * s, (sym,) * (s + lam)), (outs[0], outs[-1]),
                    no_contra,
                    f"{sym}^{s} and {sym}^{s + lam} reach the same state (pre-period {mu}, odd "
                    f"period {lam}) {where}")
    outs = outputs(s, lam)
    for i in range(lam):
        for j in range(i + 1, lam, 2):
            if outs[i] == outs[j]:
                return cert(True, "output", ((sym,) * (s + i), (sym,) * (s + j)),
                            (outs[i], outs[j]), no_contra,
                            f"{sym}^{s + i} and {sym}^{s + j} give the same output (states "
                            f"differ; even period {lam}) {where}")
    detail = (f"no counterexample: the state under {sym}^t has even period {lam} (pre-period "
              f"{mu}) and outputs of different parity differ along the cycle {where}")
    if hyp and r.rounding == PAPER:
        detail += (" -- although every A(x) has only non-negative real eigenvalues: this "
                   "contradicts Theorem 1")
    elif hyp:
        detail += (" -- although every A(x) has only non-negative real eigenvalues. Theorem 1 "
                   "is proved in the paper's rounding model, not in this one: no contradiction "
                   "is claimed (rounding='paper' decides the theorem's model)")
    return cert(False, "none", None, None, bool(hyp) if r.rounding == PAPER else None, detail)


# ============================================================================ Theorem 2


@dataclass(frozen=True)
class ModCertificate:
    """Result of :func:`mod_counterexample`.

    Attributes
    ----------
    found : bool
        ``words = (1^t, 1^(t + period))`` with ``t = 0 mod m`` reach the same state although
        ``period`` is not a multiple of ``m``: the model cannot count modulo ``m``.
    m, pre_period, period : int
    period_is_power_of_two : bool
    triangular : bool or None
        The triangular special case (the abstract's corollary): in every layer every cast
        sub-step matrix is upper triangular, or every one lower triangular
        (:func:`~statetrack.theory.mod_counting.triangular_stack`). The period bound
        ``2^depth`` is proved for it in this (sequential) model.
    contradicts_theorem : bool
        ``triangular`` holds but the period does not divide ``2^depth``: a contradiction of
        the bound proved in this model (a bug if it ever fires).
    detail : str
    real_eigenvalues : bool or None
        Theorem 2's hypothesis, decided exactly on the cast weights: in every layer ``i``
        (0-based) every product of ``2^i`` matrices has only real eigenvalues
        (:func:`~statetrack.theory.mod_counting.real_spectrum`); None when not checked or
        undecided.
    depth : int
        The model's number of layers.
    real_witness : ``(layer, tokens)`` or None
        A product with a non-real eigenvalue, when ``real_eigenvalues`` is False.

    Properties ``theorem_excludes`` (Theorem 2's period bound, in the paper's rounding model,
    excludes counting modulo ``m``: the statement for ``m`` not a power of two, the bound of its
    proof for ``m = 2^k`` above ``2^depth``) and ``rounding_escape`` (real spectra, not triangular, and a
    period that does not divide ``2^depth``: this sequential model escapes the bound that the
    paper's model obeys) tell how the period found relates to the theorem.

    Examples
    --------
    A real diagonal matrix with a negative entry has a power-of-two period, so it cannot count
    modulo 3; the permutation matrix of a 3-cycle (non-real eigenvalues) can.

    >>> diag = FPModel.from_matrices({"1": [[-1.0, 0.0], [0.0, 0.5]]}, B={"1": [[0.0], [1.0]]},
    ...                              initial_state=[[1.0], [0.0]])
    >>> c = mod_counterexample(diag, 3, "bfloat16")
    >>> c.found, c.period, c.period_is_power_of_two, c.triangular, c.contradicts_theorem
    (True, 2, True, True, False)
    >>> [len(w) for w in c.words]
    [9, 11]
    >>> z3 = FPModel.from_matrices({"1": [[0, 0, 1], [1, 0, 0], [0, 1, 0]]},
    ...                            initial_state=[1.0, 0.0, 0.0])
    >>> c = mod_counterexample(z3, 3, "bfloat16")
    >>> c.found, c.period, c.words, c.triangular
    (False, 3, None, False)
    """

    found: bool
    m: int
    words: tuple | None
    pre_period: int
    period: int
    period_is_power_of_two: bool
    format: str
    triangular: bool | None
    contradicts_theorem: bool
    detail: str
    real_eigenvalues: bool | None = None
    depth: int = 1
    real_witness: tuple | None = None

    @property
    def period_bound(self) -> int:
        """``2^depth``: the period bound of a real stack (module :mod:`~statetrack.theory.
        mod_counting`)."""
        return 2 ** self.depth

    @property
    def theorem_excludes(self) -> bool | None:
        """Theorem 2's period bound (with periods ``2^(i-1)`` in layer ``i``) excludes, in the
        paper's rounding model, counting modulo ``m``: ``real_eigenvalues`` holds and ``m``
        does not divide ``2^depth``. For ``m`` not a power of two this is the theorem's
        statement; for ``m = 2^k > 2^depth`` (e.g. 4 in one layer) it is the bound the proof
        gives (the period divides ``2^depth``), which the statement does not name. None when
        the hypothesis is undecided or not checked."""
        if self.real_eigenvalues is None:
            return None
        return self.real_eigenvalues and self.period_bound % self.m != 0

    @property
    def rounding_escape(self) -> bool:
        """Real spectra outside the triangular case, and a period that does not divide
        ``2^depth``: the sequential model's rounding escapes the paper's bound (no
        contradiction: the theorem is about the paper's model)."""
        return bool(self.real_eigenvalues) and self.triangular is False \
            and self.period_bound % self.period != 0


def mod_counterexample(model: FPModel, m: int, fmt: Any = "bfloat16", *, symbol: str = "1",
                       max_steps: int = DEFAULT_MAX_STEPS, exact: bool | None = None,
                       check_hypothesis: bool = True) -> ModCertificate:
    """Theorem 2's certificate: if the eventual period ``lambda`` of the state under ``1^t`` is
    not a multiple of ``m``, the words ``1^t`` and ``1^(t + lambda)`` with ``t >= mu``,
    ``t = 0 (mod m)`` reach the same state but differ in their count mod ``m``.

    The run is in this module's sequential model (a cast after every sub-step). With
    ``check_hypothesis`` the certificate also decides, exactly on the cast weights, Theorem 2's
    hypothesis (``real_eigenvalues``: every product of ``2^i`` matrices of layer ``i``,
    0-based, has a real spectrum) and its triangular special case; under the hypothesis the
    theorem bounds the period by ``2^depth`` in the paper's rounding model
    (``theorem_excludes`` when ``m`` does not divide it). In this sequential model the bound is
    proved for the triangular case, so a counterexample always exists there for ``m`` not
    dividing ``2^depth``; for other real spectra a larger period is reported as a
    ``rounding_escape`` (:mod:`statetrack.theory.mod_counting`).

    Parameters
    ----------
    model : FPModel
    m : int >= 2
    fmt : number format
    symbol : the input symbol repeated (default ``"1"``)
    max_steps : cap on the walk (:class:`PeriodLimitError` beyond it)
    exact : arithmetic mode (see the module docstring)
    check_hypothesis : decide ``real_eigenvalues`` and ``triangular`` (exact; for layer ``i``
        the products of ``2^i`` tokens, up to
        :data:`~statetrack.theory.mod_counting.DEFAULT_MAX_PRODUCTS` per layer)

    Examples
    --------
    >>> tri = FPModel.from_matrices({"1": [[-1.0, 0.5], [0.0, -0.5]]}, B={"1": [[0.0], [1.0]]},
    ...                             initial_state=[[1.0], [0.0]])
    >>> c = mod_counterexample(tri, 3, "bfloat16")
    >>> c.found, c.period_is_power_of_two, c.triangular, c.real_eigenvalues, c.theorem_excludes
    (True, True, True, True, True)
    >>> z3 = FPModel.from_matrices({"1": [[0, 0, 1], [1, 0, 0], [0, 1, 0]]},
    ...                            initial_state=[1.0, 0.0, 0.0])
    >>> c = mod_counterexample(z3, 3, "bfloat16")
    >>> c.found, c.real_eigenvalues, c.real_witness, c.theorem_excludes
    (False, False, (0, ('1',)), False)

    One layer with real eigenvalues has period at most 2, so it cannot count modulo 4 either:

    >>> neg = FPModel.from_matrices({"1": [[-1.0]]}, initial_state=[[1.0]])
    >>> c = mod_counterexample(neg, 4, "bfloat16")
    >>> c.found, c.period, c.theorem_excludes
    (True, 2, True)
    """
    from .mod_counting import real_spectrum, triangular_stack

    ok = not isinstance(m, (bool, np.bool_)) and isinstance(
        m, (numbers.Rational, float, np.floating, Decimal))
    try:
        ok = ok and math.isfinite(m) and int(m) == m and m >= 2
    except (ValueError, TypeError, OverflowError):       # Decimal('sNaN')
        ok = False
    if not ok:
        raise ModelError(f"m must be an integer >= 2, got {m!r}")
    m = int(m)
    r = _runner(model, fmt, exact)
    sym = _word(model, [symbol])[0]
    pr = eventual_period(model, (sym,), r.fmt, max_steps=max_steps, exact=r.exact)
    mu, lam = pr.pre_period, pr.period
    depth = model.depth
    tri = real = witness = None
    if check_hypothesis:
        tri = triangular_stack(model, r.fmt, exact=r.exact)
        if tri:        # products of one orientation are triangular: a real diagonal
            real = True
        else:
            rep = real_spectrum(model, r.fmt, exact=r.exact)
            real, witness = rep.real, rep.witness
    pow2 = is_power_of_two(lam)
    bound = 2 ** depth
    contra = bool(tri) and bound % lam != 0
    hyp = ("" if real is None else
           f"; Theorem 2's hypothesis (real spectra of the products of 2^i matrices in layer i) "
           + ("holds" + (", triangular case" if tri else "") if real else
              f"fails (layer {witness[0]}, tokens {' '.join(witness[1])})"))
    if real and bound % m != 0:
        hyp += f", so in the paper's model the period divides {bound} and {m} is excluded"
    if contra:
        hyp += f"; CONTRADICTION: triangular, yet the period does not divide {bound}"
    elif real and tri is False and bound % lam != 0:
        hyp += (f"; rounding escape: the period does not divide {bound} in this sequential "
                "model (not the paper's)")
    model_name = f"{r.fmt.name}, rounded after every sub-step"
    if lam % m != 0:
        t = -(-max(mu, 1) // m) * m
        return ModCertificate(
            True, m, ((sym,) * t, (sym,) * (t + lam)), mu, lam, pow2, r.fmt.name, tri, contra,
            f"{sym}^{t} (count 0 mod {m}) and {sym}^{t + lam} (count {lam % m} mod {m}) reach "
            f"the same state: period {lam} is not a multiple of {m} ({model_name}){hyp}",
            real, depth, witness)
    return ModCertificate(
        False, m, None, mu, lam, pow2, r.fmt.name, tri, contra,
        f"no counterexample: the state under {sym}^t has period {lam}, a multiple of {m} "
        f"({model_name}){hyp}", real, depth, witness)


# ============================================================================ adapters


def from_lrnn(lrnn: Any, *, substeps: bool = True, output: str = "accept") -> FPModel:
    """An :class:`FPModel` from a constructed :class:`statetrack.constructions.lrnn.LRNN`.

    Each non-identity delta step becomes a :class:`DeltaSubstep` (``substeps=True``, the
    kernel's granularity; cheap for wide layers) or each token one dense step ``(A(x), B(x))``
    (``substeps=False``; computed with sympy, so only for small layers). Layer
    ``l``'s decoder computes ``o = S^T q``, takes the nearest readout code as its class ``c``,
    and passes ``token_map[symbol][c]`` to layer ``l + 1``; the top layer outputs
    ``accepting[c]`` (``output="accept"``) or ``c`` (``output="class"``).

    Examples
    --------
    >>> from statetrack.constructions.lrnn import _parity_example
    >>> fp = from_lrnn(_parity_example())
    >>> c = parity_counterexample(fp, "bfloat16")
    >>> c.found, c.period, c.nonnegative_eigenvalues
    (False, 2, False)
    """
    if output not in ("accept", "class"):
        raise ModelError(f"output must be 'accept' or 'class', got {output!r}")
    from statetrack.constructions.lrnn import LRNN

    if not isinstance(lrnn, LRNN):
        raise ModelError(f"from_lrnn needs a constructed LRNN, got {type(lrnn).__name__}")
    alphabet = tuple(lrnn.alphabet)
    sym_index = {s: i for i, s in enumerate(alphabet)}
    layers = []
    n_layers = len(lrnn.layers)
    for li, layer in enumerate(lrnn.layers):
        tab = layer.float_tables()
        keys, betas, values = tab["keys"], tab["betas"], tab["values"]
        steps = {}
        for ti, t in enumerate(layer.tokens):
            if substeps:
                row = []
                for j in range(keys.shape[1]):
                    if betas[ti, j] == 0 or not keys[ti, j].any():
                        continue  # an identity (padding) step
                    row.append(DeltaSubstep(keys[ti, j], betas[ti, j], values[ti, j]))
            else:
                row = [(_sym_float(layer.A(t)), _sym_float(layer.B(t)))]
            steps[t] = tuple(row)
        nxt = lrnn.layers[li + 1] if li + 1 < n_layers else None
        dec = _LrnnDecoder(query=tab["query"], codes=tab["codes"], sym_index=sym_index,
                           token_map=None if nxt is None else nxt.token_map,
                           next_tokens=None if nxt is None else nxt.tokens,
                           accepting=tuple(lrnn.accepting) if output == "accept" else None)
        layers.append(FPLayer(layer.tokens, steps, tab["initial_state"], dec))
    return FPModel(tuple(layers))


def _sym_float(m: Any) -> np.ndarray:
    return np.array([[float(m[i, j].evalf(30)) for j in range(m.cols)] for i in range(m.rows)])


@dataclass(frozen=True, eq=False)
class _LrnnDecoder:
    query: np.ndarray
    codes: np.ndarray
    sym_index: Mapping[str, int]
    token_map: Any
    next_tokens: Any
    accepting: tuple | None

    def __call__(self, h: np.ndarray, token: str, symbol: str) -> Hashable:
        o = h.T @ self.query                                   # [V]
        c = int(np.argmin(((self.codes - o[None, :]) ** 2).sum(axis=1)))
        if self.token_map is not None:
            return self.next_tokens[self.token_map[self.sym_index[symbol]][c]]
        return self.accepting[c] if self.accepting is not None else c


# ============================================================================ random models


def _decoder_chain(rng: np.random.Generator, tokens: Sequence[str], n: int, d: int,
                   next_tokens: Sequence[str]) -> ThresholdDecoder:
    table = {(t, b): next_tokens[int(rng.integers(len(next_tokens)))]
             for t in tokens for b in (0, 1)}
    return ThresholdDecoder(tuple(float(x) for x in rng.normal(size=n * d)),
                            float(rng.normal() * 0.1), table)


def _random_model(rng: np.random.Generator, depth: int, n: int, d: int,
                  alphabet: Sequence[str], make_steps: Callable[[], list]) -> FPModel:
    if not isinstance(rng, np.random.Generator):
        raise ModelError("rng must be a numpy.random.Generator (randomness is passed in)")
    if depth < 1 or n < 1 or d < 1:
        raise ModelError(f"depth, n and d must be >= 1, got {depth}, {n}, {d}")
    alphabet = tuple(alphabet)
    tokens = [alphabet] + [tuple(f"t{i}" for i in range(2)) for _ in range(depth - 1)]
    layers = []
    for li in range(depth):
        steps = {t: make_steps() for t in tokens[li]}
        h0 = rng.uniform(-1, 1, size=(n, d))
        nxt = tokens[li + 1] if li + 1 < depth else ("0", "1")
        layers.append(FPLayer(tokens[li], steps, h0, _decoder_chain(rng, tokens[li], n, d, nxt)))
    return FPModel(tuple(layers))


def random_diagonal_model(rng: np.random.Generator, *, n: int = 4, d: int = 1, depth: int = 1,
                          low: float = 0.0, high: float = 1.0,
                          alphabet: Sequence[str] = ("0", "1")) -> FPModel:
    """A random model with diagonal ``A(x)``, entries uniform in ``[low, high]``; ``B`` and
    ``H_0`` uniform in ``[-1, 1]``; random threshold decoders (layer ``l + 1`` has tokens
    ``t0, t1``; the top layer outputs ``"0"``/``"1"``).

    >>> m = random_diagonal_model(np.random.default_rng(0), n=3, depth=2)
    >>> m.depth, m.alphabet, m.layers[1].tokens
    (2, ('0', '1'), ('t0', 't1'))
    """
    def steps():
        return [(np.diag(rng.uniform(low, high, size=n)), rng.uniform(-1, 1, size=(n, d)))]
    return _random_model(rng, depth, n, d, alphabet, steps)


def random_triangular_model(rng: np.random.Generator, *, n: int = 4, d: int = 1,
                            depth: int = 1, low: float = -1.0, high: float = 1.0,
                            lower: bool = False,
                            alphabet: Sequence[str] = ("0", "1")) -> FPModel:
    """Like :func:`random_diagonal_model` with upper (or ``lower``) triangular ``A(x)``: the
    diagonal uniform in ``[low, high]``, the off-diagonal part uniform in ``[-1, 1] / n``."""
    def steps():
        a = np.triu(rng.uniform(-1, 1, size=(n, n)) / n, 1)
        a = a + np.diag(rng.uniform(low, high, size=n))
        return [(a.T if lower else a, rng.uniform(-1, 1, size=(n, d)))]
    return _random_model(rng, depth, n, d, alphabet, steps)


def random_gh_model(rng: np.random.Generator, *, n: int = 4, d: int = 1, depth: int = 1,
                    n_h: int = 2, beta_low: float = 0.0, beta_high: float = 1.0,
                    alphabet: Sequence[str] = ("0", "1")) -> FPModel:
    """A random DeltaProduct-style model: per token ``n_h`` sub-steps ``(I - beta k k^T,
    beta k v^T)`` with unit keys and ``beta`` uniform in ``[beta_low, beta_high]``.

    With ``beta`` in ``[0, 1]`` and ``n_h <= 2`` every ``A(x)`` has eigenvalues in ``[0, 1]``
    (Proposition 1), Theorem 1's hypothesis; with ``beta`` up to 2 they may be negative.
    """
    def steps():
        row = []
        for _ in range(n_h):
            k = rng.normal(size=n)
            k /= np.linalg.norm(k)
            beta = rng.uniform(beta_low, beta_high)
            v = rng.uniform(-1, 1, size=d)
            row.append((np.eye(n) - beta * np.outer(k, k), beta * np.outer(k, v)))
        return row
    return _random_model(rng, depth, n, d, alphabet, steps)


def rounding_cycle_example() -> FPModel:
    """The float16 rounding limit cycle of the module docstring: one layer, ``n = 2``, token
    ``"1"`` with two sub-steps; every weight is a float16 number (a multiple of ``2^-12``);
    ``A(1) = A_2 A_1`` has eigenvalues ~0.2516 and ~0.3924 (Theorem 1's hypothesis).

    In the sequential model (rounding after every sub-step) the state under ``1^t`` cycles
    with period 2, so the state determines the parity of ``t``; in the paper's model, the
    model of Theorem 1, it reaches a fixed point and a counterexample exists, as the theorem
    says. Neither is a contradiction of the theorem.

    Examples
    --------
    >>> m = rounding_cycle_example()
    >>> r = eventual_period(m, "1", "float16")
    >>> r.pre_period, r.period, r.rounding
    (9, 2, 'sequential')
    >>> c = parity_counterexample(m, "float16")      # the default decoder shows the state
    >>> c.found, c.state_determines_parity, c.nonnegative_eigenvalues, c.contradicts_theorem
    (False, True, True, None)
    >>> p = parity_counterexample(m, "float16", rounding="paper")
    >>> p.found, p.kind, p.pre_period, p.period, p.contradicts_theorem, p.verify(m)
    (True, 'state', 12, 1, False, True)
    """
    q = 2.0 ** -12
    a1 = np.array([[2250, -1294], [-1294, 3190]]) * q
    b1 = np.array([[2222], [1556]]) * q
    a2 = np.array([[2648, 1431], [1431, 2680]]) * q
    b2 = np.array([[1133], [-1121]]) * q
    h0 = np.array([[-2582], [3720]]) * q
    return FPModel((FPLayer(("1",), {"1": ((a1, b1), (a2, b2))}, h0),))
