r"""Theorem 2 (counting modulo m): its real-eigenvalue hypothesis, decided exactly, and its
period bounds, proved in the model where each one holds.

The statement
-------------
Grazzi et al. (ICLR 2025, arXiv 2411.12537), Theorem 2: a finite-precision LRNN with ``L``
layers counts modulo ``m``, ``m`` not a power of two, only if for some layer ``i``
(``1 <= i <= L``) some product ``A_i(x_1) A_i(x_2) ... A_i(x_{2^(i-1)})`` of ``2^(i-1)`` of the
layer's matrices has an eigenvalue that is not real. In layer 1 that is a single ``A(x)``.
(Layer ``i`` of the paper is ``model.layers[i - 1]`` of an
:class:`~statetrack.theory.finite_precision.FPModel`.) The abstract's corollary --
"non-triangular matrices are needed to count modulo 3" -- is the special case in which every
matrix of a layer is triangular in one orientation (all upper, or all lower): then every
product is triangular with a real diagonal, so the hypothesis holds.

What the proof gives is a period bound. Write *real stack* for a model whose every layer ``i``
has only products of ``2^(i-1)`` matrices with real spectra (Theorem 2's hypothesis). Under
the unary input ``1^t``:

    **the state of a real stack of L layers is eventually periodic with a period dividing 2^L.**

A model counting modulo ``m`` must have ``m`` divide that period, so a real stack of ``L``
layers can count modulo ``m`` only if ``m | 2^L``:

* ``m`` with an odd factor (3, 5, 6, 7, 9, 10, 11, 12, ...): no depth suffices; some layer
  needs a product with a non-real eigenvalue (the theorem as stated).
* ``m = 2^k``: one layer (``L = 1``) reaches only periods 1 and 2, so ``Z_4`` in one layer needs
  a non-real eigenvalue; a real stack needs ``L >= k`` layers, and ``k`` layers suffice:
  :func:`binary_counter_stack` counts modulo ``2^k`` with ``k`` layers of ``1 x 1`` matrices
  ``+-1`` (a ripple-carry counter: layer ``i`` flips on the carry of layer ``i - 1``).

:func:`real_depth` turns a period into the least depth of a real stack that can have it;
:func:`real_spectrum` decides the hypothesis exactly on a model's cast matrices;
:func:`~statetrack.theory.finite_precision.mod_counterexample` reports both with the period it
finds. The registry's ``T2`` column (:mod:`statetrack.theory.registry`) applies the same bound
to every word ``w`` of a language (``A(w)`` in place of ``A(1)``, layer ``i``'s product over
``2^(i-1)`` copies of ``w``).

Proof in the paper's rounding model
-----------------------------------
The paper's model (App. B.1, after Merrill et al.): values live in a finite set ``D``, ``cast``
rounds to the nearest element, and the state after ``k`` tokens is
``cast( sum_{s<k} cast(A^s B) + cast(A^k H_0) )`` with exact powers of the (uncast) weights;
for a periodic token sequence the powers are products of the layer's matrices.

*Lemma (monotone powers).* If ``P`` has only real eigenvalues, then for every pair of fixed
vectors ``u, v`` the sequence ``u^T P^(2j) v`` is eventually monotone in ``j``. Indeed it is
``sum_mu q_mu(j) mu^j`` over the distinct eigenvalues ``mu = lambda^2 >= 0`` of ``P^2`` with
real polynomials ``q_mu`` (Jordan form over the reals); its difference is a sum of the same
kind, whose term with the largest ``mu`` and the highest degree dominates, so the difference
has an eventually constant sign. A cast of an eventually monotone sequence into the finite
set ``D`` is eventually constant.

*One layer.* With ``P = A(1)`` real, split ``k = 2j + r`` (``r = 0, 1``): ``cast(A^k H_0)``
and each ``cast(A^s B)`` are eventually constant along each residue ``r`` (the lemma with
``v = A^r H_0`` or ``A^r B``), say from ``s >= s_0``; then ``sum_{s<k} cast(A^s B)`` is, along
each residue, a constant plus ``j`` times the sum ``c_0 + c_1`` of the two eventual values: an
affine, hence monotone, sequence in ``j`` whose cast is eventually constant. So the state is
eventually periodic with period dividing 2.

*Layer i.* By induction layer ``i - 1`` emits tokens that are periodic from some time ``T``
on, with a period dividing ``g = 2^(i-1)``. Layer ``i``'s state formula (the one above for
a sequence of tokens) has products ``A(x_k) ... A(x_(s+2))`` in place of powers. Follow one residue class ``k = k_0 + 2g j``. A
window of tokens inside the periodic part that grows by ``2g`` tokens is multiplied by
``R^2``, where ``R`` is the product of ``g`` consecutive tokens (a cyclic shift of one
period): a product of ``2^(i-1)`` matrices, real by the hypothesis. So every term is a cast
of ``(fixed matrix) R^(2j) (fixed vector)``: the terms ``cast(A(x_k) ... A(x_1) H_0)`` and
those whose source ``s`` lies before ``T`` are eventually constant in ``j`` by the lemma; the
terms whose source lies in the periodic part depend only on how far back they lie, ``d = k -
s``, and along each residue of ``d`` modulo ``2g`` they are eventually constant. Moving from
``j`` to ``j + 1`` adds ``2g`` such terms, so the sum is eventually affine in ``j``, and its
cast eventually constant. The state's period divides ``2g = 2^i``; the decoder is a function
of the state, the token and the input symbol, so layer ``i``'s output tokens obey the same
bound, and the whole state's period divides ``2^L``.

*Other words, and a suffix.* The registry applies the bound to ``u w^t v`` (a prefix, ``t``
copies of a word ``w``, a suffix). In this model the state after ``u w^t v`` is not a function
of the cast state after ``u w^t``, so the suffix needs the argument itself; it goes through
unchanged. In layer 1 the tokens are periodic with period ``g = |w|`` from ``|u|`` on, and
``R`` is a cyclic shift of ``A(w)``, which has the spectrum of ``A(w)`` up to zeros
(``XY`` and ``YX`` share their non-zero eigenvalues), so ``A(w)`` real suffices. With ``t =
t_0 + 2j``, every term of the state after ``u w^t v`` is a cast of ``(fixed matrix) R^(2j)
(fixed vector)`` (source in ``u``, or the ``H_0`` term), depends on ``j`` not at all (source
in ``v``), or is one of the terms with source in ``w^t``, which (indexed by their distance
from the end of ``w^t``) are eventually constant along each residue modulo ``2g``, ``2g``
more of them per step of ``j``. So the state after ``u w^t v`` is eventually periodic in
``t`` with a period dividing 2, and, layer by layer as above, dividing ``2^L``.

Proof in the sequential model, for the triangular special case
--------------------------------------------------------------
The toolkit's :mod:`~statetrack.theory.finite_precision` runs the *sequential* model (what
kernels do): ``H <- cast(A_j H + B_j)`` after every sub-step ``j``. There the period bound is
proved for the triangular special case, at the level of sub-steps: in each layer every cast
sub-step matrix of every token is upper triangular (or every one is lower triangular).
Take the upper case and a layer whose input tokens have eventual period ``p``. Each
sub-step moves coordinate ``r`` of a column by ``h <- cast(a h + c)``, where ``a`` is the
sub-step's diagonal entry and the forcing ``c`` depends only on the token and on the current
values of the coordinates after ``r``; the last coordinate is autonomous. The map
``h -> cast(a h + c)`` is monotone (non-decreasing for ``a >= 0``, non-increasing for
``a < 0``, as ``cast`` is non-decreasing). Suppose the coordinates after ``r`` have eventual
periods dividing ``2p`` (in tokens). Then, eventually, every block of ``2p`` tokens applies
to coordinate ``r`` the same composition of monotone maps, and their diagonal signs repeat
with period ``p`` tokens, so the number of non-increasing ones is even: the composition is
non-decreasing, and the orbit of a non-decreasing map of a finite chain is monotone, hence
eventually constant. So every
coordinate has an eventual period dividing ``2p``, the layer's outputs too, and by induction
over layers the state's period divides ``2^L``. (Upper and lower matrices mixed in
one layer are outside the special case: their products can have non-real eigenvalues, e.g.
``[[1, 1], [0, 1]] [[1, 0], [-1, 1]]``.)

For other matrices with real spectra the sequential model escapes the bound: rounding every
step can fall into a limit cycle of any period. :func:`sequential_mod3_example` is one found by
a random search: a ``2 x 2`` bfloat16 matrix with eigenvalues ``-0.031`` and ``-0.505``
whose sequential bfloat16 state has pre-period 10 and period 3, so its state tells ``t mod 3``
on every ``1^t`` -- a lookup decoder counts modulo 3. In the paper's model the same weights
reach a fixed point (``A^k -> 0``). The certificate of
:func:`~statetrack.theory.finite_precision.mod_counterexample` therefore claims a
contradiction only for the triangular special case, and calls the rest a rounding escape.

Examples
--------
>>> import numpy as np
>>> from statetrack.theory.finite_precision import FPModel, mod_counterexample
>>> k = np.array([0.6, 0.8])
>>> delta = FPModel.from_matrices({"1": np.eye(2) - 1.5 * np.outer(k, k)},
...                               B={"1": [[0.25], [0.5]]}, initial_state=[[1.0], [0.0]])
>>> rep = real_spectrum(delta, "bfloat16")          # one DeltaNet factor: symmetric
>>> rep.real, rep.period_bound, rep.excludes(3), rep.excludes(4)
(True, 2, True, True)
>>> c = mod_counterexample(delta, 3, "bfloat16")
>>> c.real_eigenvalues, c.theorem_excludes, c.triangular, c.found
(True, True, False, True)
>>> [real_depth(m) for m in (2, 3, 4, 6, 8)]
[1, None, 2, None, 3]
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Hashable

import numpy as np

from .errors import ModelError

__all__ = [
    "LayerRealSpectrum",
    "RealSpectrumReport",
    "real_spectrum",
    "triangular_stack",
    "real_depth",
    "one_layer_needs_nonreal",
    "binary_counter_stack",
    "sequential_mod3_example",
    "DEFAULT_MAX_PRODUCTS",
]

#: Default cap on the matrix products formed per layer by :func:`real_spectrum`.
DEFAULT_MAX_PRODUCTS = 1024


# ============================================================================ period arithmetic


def real_depth(period: int) -> int | None:
    """The least depth ``L >= 1`` of a real stack whose state can have eventual period
    ``period`` (the period must divide ``2^L``), or None when ``period`` has an odd factor
    (no real stack reaches it: some product needs a non-real eigenvalue at every depth).

    Parameters
    ----------
    period : int >= 1

    Raises
    ------
    ModelError
        ``period`` is not a positive integer.

    Examples
    --------
    >>> [real_depth(p) for p in (1, 2, 3, 4, 8, 12)]
    [1, 1, None, 2, 3, None]
    """
    if isinstance(period, bool) or int(period) != period or period < 1:
        raise ModelError(f"period must be an integer >= 1, got {period!r}")
    p = int(period)
    if p & (p - 1):
        return None
    return max(1, p.bit_length() - 1)


def one_layer_needs_nonreal(period: int) -> bool:
    """A one-layer LRNN whose state must have eventual period ``period`` (under ``w^t``, for
    the matrix ``A(w)``) needs a non-real eigenvalue: ``period`` does not divide 2.

    >>> [one_layer_needs_nonreal(p) for p in (1, 2, 3, 4)]
    [False, False, True, True]
    """
    return real_depth(period) != 1


# ============================================================================ exact spectra


def _is_real_spectrum(m: np.ndarray) -> tuple[bool | None, str]:
    """Whether the exact (Fraction) matrix ``m`` has only real eigenvalues: ``(verdict,
    method)``; verdict None when undecided (too large for the exact routines)."""
    from .spectra import eigenvalues

    n = m.shape[0]
    if all(m[i, j] == m[j, i] for i in range(n) for j in range(i)):
        return True, "symmetric"
    if n == 2:
        tr, det = m[0, 0] + m[1, 1], m[0, 0] * m[1, 1] - m[0, 1] * m[1, 0]
        return tr * tr >= 4 * det, "discriminant"
    s = eigenvalues(m)
    if not s.exact:
        return None, s.method
    return s.n_nonreal == 0, s.method


def _mat_key(m: np.ndarray) -> tuple:
    return tuple(m.ravel().tolist())


@dataclass(frozen=True)
class LayerRealSpectrum:
    """Theorem 2's hypothesis on one layer: every product of ``word_length = 2^layer``
    (0-based ``layer``; the paper's layer ``layer + 1``) cast matrices of the layer has only
    real eigenvalues.

    Attributes
    ----------
    layer : int
        0-based layer index.
    word_length : int
        ``2^layer``: the number of matrices in each product.
    products : int
        The distinct products decided.
    real : bool or None
        True (every product real, decided exactly), False (``witness``'s product has a non-real
        eigenvalue), None (undecided: see ``reason``).
    witness : tuple of str or None
        The layer's tokens, in reading order, of a product with a non-real eigenvalue.
    reason : str
        Why the verdict is None (empty otherwise).
    """

    layer: int
    word_length: int
    products: int
    real: bool | None
    witness: tuple | None = None
    reason: str = ""


@dataclass(frozen=True)
class RealSpectrumReport:
    """Result of :func:`real_spectrum`: Theorem 2's hypothesis layer by layer.

    Attributes
    ----------
    layers : tuple of :class:`LayerRealSpectrum`
    format : str
        The number format whose cast weights were decided.
    """

    layers: tuple
    format: str

    @property
    def depth(self) -> int:
        return len(self.layers)

    @property
    def real(self) -> bool | None:
        """The hypothesis on the whole stack: False if some layer fails, None if some layer
        is undecided (and none fails), True otherwise."""
        verdicts = [x.real for x in self.layers]
        if False in verdicts:
            return False
        return None if None in verdicts else True

    @property
    def period_bound(self) -> int:
        """``2^depth``: the eventual period under ``1^t`` divides it when :attr:`real`
        (in the paper's rounding model; see the module docstring)."""
        return 2 ** self.depth

    def excludes(self, m: int) -> bool | None:
        """Theorem 2 (with the ``2^(i-1)`` bound) says the model cannot count modulo ``m``:
        the hypothesis holds and ``m`` does not divide ``2^depth``. None when undecided."""
        real = self.real
        if real is None:
            return None
        return bool(real) and self.period_bound % int(m) != 0

    @property
    def witness(self) -> tuple[int, tuple] | None:
        """``(layer, tokens)`` of the first product with a non-real eigenvalue, or None."""
        for x in self.layers:
            if x.real is False:
                return x.layer, x.witness
        return None


def real_spectrum(model: Any, fmt: Any = "bfloat16", *, exact: bool | None = None,
                  max_products: int = DEFAULT_MAX_PRODUCTS) -> RealSpectrumReport:
    """Decide Theorem 2's hypothesis exactly on the cast weights of ``model``: in each layer
    ``i`` (0-based), does every product of ``2^i`` of its matrices ``A(x)`` have only real
    eigenvalues?

    The matrices are the exact products of the cast sub-steps
    (:meth:`~statetrack.theory.finite_precision._Runner.cast_matrix`, Fractions). Products of
    ``2^i`` tokens are built by squaring: the distinct products of ``2^(j+1)`` tokens are the
    products of two of ``2^j`` tokens (deduplicated by value). Each is decided exactly:
    symmetric rational matrices (every single delta step ``I - beta k k^T``) are real; a
    ``2 x 2`` matrix by its discriminant; others by
    :func:`~statetrack.theory.spectra.eigenvalues` (characteristic polynomial and real-root
    isolation, up to :data:`~statetrack.theory.spectra.EXACT_LIMIT`; beyond it the layer is
    undecided).

    Parameters
    ----------
    model : FPModel
    fmt : number format (name, dtype, or NumberFormat) whose cast the weights get
    exact : the arithmetic mode of the runner (only the casting of the weights matters here)
    max_products : int
        Most products formed per layer (pairs multiplied when squaring); a layer needing more
        is undecided (``real=None``).

    Examples
    --------
    Two reflections: each real (symmetric), their product ``[[0, 1], [-1, 0]]`` a rotation
    by 90 degrees (eigenvalues ``+-i``).

    >>> from statetrack.theory.finite_precision import DeltaSubstep, FPLayer, FPModel
    >>> r1 = DeltaSubstep([1.0, 0.0], 2.0, [0.0])       # diag(-1, 1)
    >>> one = FPModel((FPLayer(("a",), {"a": (r1,)}, [[1.0], [0.0]]),))
    >>> real_spectrum(one).real
    True
    >>> swap = DeltaSubstep([1.0, -1.0], 1.0, [0.0])
    >>> both = FPModel((FPLayer(("a",), {"a": (r1, swap)},
    ...                         [[1.0], [0.0]]),))
    >>> rep = real_spectrum(both)
    >>> rep.real, rep.witness
    (False, (0, ('a',)))
    """
    from .finite_precision import _runner

    if int(max_products) != max_products or max_products < 1:
        raise ModelError(f"max_products must be an integer >= 1, got {max_products!r}")
    r = _runner(model, fmt, exact)
    layers = []
    for li, layer in enumerate(model.layers):
        prods: dict[tuple, tuple[tuple, np.ndarray]] = {}
        for t in layer.tokens:
            m = r.cast_matrix(li, t)
            prods.setdefault(_mat_key(m), ((t,), m))
        length, reason = 1, ""
        while length < 2 ** li:
            if len(prods) ** 2 > max_products:
                reason = (f"{len(prods)} distinct products of {length} tokens give "
                          f"{len(prods) ** 2} products of {2 * length} > max_products="
                          f"{max_products}")
                break
            nxt: dict[tuple, tuple[tuple, np.ndarray]] = {}
            for w1, m1 in prods.values():
                for w2, m2 in prods.values():
                    m = m2.dot(m1)                     # w1 read first, then w2
                    nxt.setdefault(_mat_key(m), (w1 + w2, m))
            prods, length = nxt, 2 * length
        if reason:
            layers.append(LayerRealSpectrum(li, 2 ** li, 0, None, None, reason))
            continue
        verdict: bool | None = True
        witness = None
        for w, m in prods.values():
            ok, method = _is_real_spectrum(m)
            if ok is False:
                verdict, witness, reason = False, w, ""
                break
            if ok is None:
                verdict = None
                reason = (f"a product of size {m.shape[0]} was not decided exactly "
                          f"(method {method!r})")
        layers.append(LayerRealSpectrum(li, 2 ** li, len(prods), verdict, witness, reason))
    return RealSpectrumReport(tuple(layers), r.fmt.name)


def _triangular_orientation(m: np.ndarray) -> set[str]:
    n = m.shape[0]
    out = set()
    if all(m[i, j] == 0 for i in range(n) for j in range(i)):
        out.add("upper")
    if all(m[i, j] == 0 for i in range(n) for j in range(i + 1, n)):
        out.add("lower")
    return out


def triangular_stack(model: Any, fmt: Any = "bfloat16", *, exact: bool | None = None) -> bool:
    """The triangular special case (the abstract's corollary) on the cast weights: in every
    layer, every sub-step matrix of every token is upper triangular, or every one is lower
    triangular. Then Theorem 2's hypothesis holds, and the period bound ``2^depth`` is proved
    in the sequential model too (module docstring).

    Examples
    --------
    >>> from statetrack.theory.finite_precision import FPModel
    >>> up = FPModel.from_matrices({"a": [[-1.0, 0.5], [0.0, 0.5]], "b": [[1.0, 0.0], [0.0, -1.0]]},
    ...                            initial_state=[[1.0], [0.0]])
    >>> triangular_stack(up)
    True
    >>> mixed = FPModel.from_matrices({"a": [[1.0, 1.0], [0.0, 1.0]],
    ...                                "b": [[1.0, 0.0], [-1.0, 1.0]]}, initial_state=[[1.0], [0.0]])
    >>> triangular_stack(mixed), real_spectrum(mixed).real
    (False, True)
    """
    from .finite_precision import _fr, _runner

    r = _runner(model, fmt, exact)
    for li, layer in enumerate(model.layers):
        common = {"upper", "lower"}
        for ti in range(len(layer.tokens)):
            for kind, a, b, _v, _ex in r.steps[li][ti]:
                if kind == "delta":
                    k = _fr(a)
                    m = np.array([[Fraction(int(i == j)) for j in range(k.size)]
                                  for i in range(k.size)], dtype=object) \
                        - Fraction(b) * np.outer(k, k)
                else:
                    m = _fr(a)
                common &= _triangular_orientation(m)
                if not common:
                    return False
    return True


# ============================================================================ models


@dataclass(frozen=True)
class _CounterDecoder:
    """Layer ``level`` of :func:`binary_counter_stack`: its bit is ``[h < 0]``; its carry out
    is its carry in with the bit back at 0; it passes ``carry + bits`` up, and the top layer
    outputs the count ``sum_j bit_j 2^j``."""

    level: int
    top: bool

    def __call__(self, h: np.ndarray, token: str, symbol: str) -> Hashable:
        bit = int(float(h[0, 0]) < 0)
        if self.level == 0:
            carry_in, bits = symbol == "1", ""
        else:
            carry_in, bits = token[0] == "1", token[1:]
        bits += str(bit)
        if self.top:
            return sum(int(c) << j for j, c in enumerate(bits))
        return f"{int(carry_in and bit == 0)}{bits}"


def binary_counter_stack(k: int) -> Any:
    """A real stack of ``k`` layers counting modulo ``2^k`` (the number of ``1``s read):
    layer ``i`` holds the bit ``i`` of the count as ``h = (-1)^bit`` (``1 x 1``, ``A = -1`` on
    a carry, ``A = 1`` otherwise, ``B = 0``) and passes up its carry and the bits below. Every
    matrix is ``+-1``, so every product is real: the stack shows that ``k`` real layers
    suffice for ``Z_(2^k)``, the depth :func:`real_depth` gives.

    Parameters
    ----------
    k : int >= 1

    Examples
    --------
    >>> from statetrack.theory.finite_precision import eventual_period, run
    >>> z4 = binary_counter_stack(2)
    >>> run(z4, "1101111", "bfloat16").outputs
    (1, 2, 2, 3, 0, 1, 2)
    >>> eventual_period(z4, "1", "bfloat16").period, real_spectrum(z4).real
    (4, True)
    """
    from .finite_precision import FPLayer, FPModel

    if isinstance(k, bool) or int(k) != k or k < 1:
        raise ModelError(f"k must be an integer >= 1, got {k!r}")
    k = int(k)
    flip, keep = ((np.array([[-1.0]]), None),), ((np.array([[1.0]]), None),)
    layers = []
    for level in range(k):
        if level == 0:
            tokens = ("0", "1")
            steps = {"0": keep, "1": flip}
        else:
            tokens = tuple(c + "".join(bits) for c in "01"
                           for bits in itertools.product("01", repeat=level))
            steps = {t: flip if t[0] == "1" else keep for t in tokens}
        layers.append(FPLayer(tokens, steps, [[1.0]], _CounterDecoder(level, level == k - 1)))
    return FPModel(tuple(layers))


def sequential_mod3_example() -> Any:
    """A real-spectrum model that counts modulo 3 in the sequential bfloat16 model (module
    docstring): one layer, ``n = 2``, ``A(1)`` with eigenvalues ~ -0.031 and -0.505; every
    weight is a bfloat16 number. Found by a random search over ``2 x 2`` bfloat16 matrices with
    real spectra (a period that is not a power of two showed in about 1 draw in 150; none
    showed among 40,000 models of one delta factor ``I - beta k k^T``, ``n = 2, 3``).

    Examples
    --------
    >>> from statetrack.theory.finite_precision import eventual_period, mod_counterexample
    >>> m = sequential_mod3_example()
    >>> r = eventual_period(m, "1", "bfloat16")
    >>> r.pre_period, r.period
    (10, 3)
    >>> c = mod_counterexample(m, 3, "bfloat16")
    >>> c.found, c.real_eigenvalues, c.triangular, c.contradicts_theorem, c.rounding_escape
    (False, True, False, False, True)
    """
    from .finite_precision import FPModel

    q = 2.0 ** -10
    a = np.array([[131, -272], [388, -680]]) * q
    b = np.array([[-65.5], [-1020]]) * q
    h0 = np.array([[382], [748]]) * q
    return FPModel.from_matrices({"1": a}, B={"1": b}, initial_state=h0)
