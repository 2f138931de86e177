r"""The eigenvalues of one letter's transition matrix ``A(a)``, identified exactly.

Theorems 1 and 2 are about the spectra of the matrices ``A(a)`` of a construction (a negative
or a non-real eigenvalue). :func:`letter_spectrum` names them exactly where it can:

1. *Permutation matrices* (every stored entry exactly 1, one per row and column): from the
   cycle type. A cycle of length ``L`` contributes the ``L``-th roots of unity
   ``exp(2 pi i k/L)``, ``k = 0 .. L - 1``; fixed points contribute 1.
2. *Roots of unity*: numpy's eigenvalues of the matrix (entries evaluated to 30 digits) are
   matched to angles ``p/q`` (``q <= MAX_ROOT_ORDER``) with ``exp(2 pi i p/q)`` within
   ``1e-9``. That guess is then *proved*: with ``Q = lcm`` of the ``q``'s, ``A^Q = I`` holds
   exactly in the model's number field (:meth:`LRNN.exact`'s domain, repeated squaring). Then
   every eigenvalue ``z`` satisfies ``z^Q = 1`` and ``A`` is diagonalizable (its minimal
   polynomial divides ``x^Q - 1``, which has distinct roots), so the eigenvalues are roots of
   unity of order dividing ``Q``; the numeric match picks which ones and with what
   multiplicity (distinct ``Q``-th roots of unity are at least ``2 sin(pi/Q)`` apart, far more
   than the matching tolerance for ``Q <= 10^4``). Tried for widths up to
   :data:`EXACT_MAX_WIDTH`.
3. Anything else: numpy's values, marked ``exact=False``.

Examples
--------
>>> from statetrack.automata import families
>>> from statetrack.constructions import compile
>>> z5 = compile(families.get("cyclic(5)"), form="rotation")
>>> s = letter_spectrum(z5, 0, z5.layers[0].tokens.index("1"))
>>> s.kind, s.order, s.exact
('roots of unity', 5, True)
>>> s.summary()
'exp(+-2 pi i 1/5) = 0.309017 +- 0.951057i (exact: A^5 = I)'
>>> letter_spectrum(compile(families.get("parity")), 0, 1).summary()
'1, -1'
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

__all__ = ["LetterSpectrum", "letter_spectrum", "model_permutation", "EXACT_MAX_WIDTH",
           "MAX_ROOT_ORDER"]

#: Largest width for which eigenvalues of non-permutation matrices are identified exactly.
EXACT_MAX_WIDTH = 16
#: Largest order q of a root of unity that :func:`letter_spectrum` tries to identify.
MAX_ROOT_ORDER = 10_000


@dataclass(frozen=True)
class LetterSpectrum:
    """The eigenvalues of ``A(token)`` of one layer (see the module docstring).

    Attributes
    ----------
    layer, token : int
        Which matrix: layer index and token id of that layer.
    kind : {"permutation", "roots of unity", "numeric"}
        How the eigenvalues were found.
    permutation : tuple of int or None
        ``perm`` with ``A e_q = e_{perm[q]}`` (kind "permutation").
    angles : tuple of Fraction or None
        The eigenvalues ``exp(2 pi i t)``, one ``t`` in ``[0, 1)`` each (kind "roots of
        unity").
    order : int or None
        ``Q`` with ``A^Q = I`` proved exactly (kind "roots of unity").
    numeric : tuple of complex
        numpy's eigenvalues (empty for kind "permutation").
    """

    layer: int
    token: int
    kind: str
    permutation: tuple[int, ...] | None = None
    angles: tuple[Fraction, ...] | None = None
    order: int | None = None
    numeric: tuple[complex, ...] = ()

    @property
    def exact(self) -> bool:
        """Whether the eigenvalues are known exactly (not kind "numeric")."""
        return self.kind != "numeric"

    def summary(self) -> str:
        """One line: the eigenvalues with multiplicities (as ``statetrack compile`` prints
        them)."""
        if self.kind == "permutation":
            return _cycle_type_text(list(self.permutation))
        if self.kind == "numeric":
            shown = Counter(f"{z.real:.6g}" + (f"{z.imag:+.6g}i" if abs(z.imag) > 1e-12 else "")
                            for z in self.numeric)
            text = ", ".join(_with_mult(v, c) for v, c in shown.items())
            return (text if len(text) <= 160 else text[:157] + "...") + " (numeric)"
        cnt = Counter(self.angles)
        parts = []
        if cnt.get(Fraction(0)):
            parts.append(_with_mult("1", cnt[Fraction(0)]))
        if cnt.get(Fraction(1, 2)):
            parts.append(_with_mult("-1", cnt[Fraction(1, 2)]))
        for f in sorted(x for x in cnt if 0 < x < Fraction(1, 2)):
            z = complex(math.cos(2 * math.pi * f), math.sin(2 * math.pi * f))
            pair = min(cnt[f], cnt.get(1 - f, 0))
            parts.append(_with_mult(_root_label(f.numerator, f.denominator, z), pair))
        text = ", ".join(parts)
        return (text if len(text) <= 200 else text[:197] + "...") + \
            f" (exact: A^{self.order} = I)"


def model_permutation(layer: Any, token: int) -> list[int] | None:
    """``perm`` with ``A(token) e_q = e_{perm[q]}`` when ``A(token)`` of ``layer`` (a
    :class:`~statetrack.constructions.lrnn.Layer`) is a permutation matrix (checked exactly on
    its sparse entries), else None.

    Examples
    --------
    >>> from statetrack.constructions.lrnn import _parity_example
    >>> layer = _parity_example().layers[0]
    >>> model_permutation(layer, 0), model_permutation(layer, 1)
    ([0, 1], [1, 0])
    """
    a = layer.A(token)
    k = layer.width
    perm = [-1] * k
    for (i, j), x in a.todok().items():
        if x != 1 or perm[j] != -1:
            return None
        perm[j] = i
    return perm if sorted(perm) == list(range(k)) else None


def letter_spectrum(lrnn: Any, layer: int, token: int) -> LetterSpectrum:
    """The eigenvalues of ``A(token)`` of layer ``layer`` of a constructed
    :class:`~statetrack.constructions.lrnn.LRNN`, exact where possible (see the module
    docstring).

    Parameters
    ----------
    lrnn : LRNN
        The model.
    layer : int
        Layer index.
    token : int
        Token id of that layer (``lrnn.layers[layer].tokens`` order).

    Returns
    -------
    LetterSpectrum

    Examples
    --------
    >>> from fractions import Fraction
    >>> from statetrack.constructions.lrnn import LRNN, DeltaStep, Layer, Readout
    >>> half = DeltaStep(key=[1, 0], beta=Fraction(1, 2))     # A = diag(1/2, 1)
    >>> layer = Layer(tokens=("a",), steps=((half,),), initial_state=[[0], [1]],
    ...               readout=Readout(query=[0, 1], codes=[[1]]))
    >>> m = LRNN(alphabet=("a",), layers=(layer,), accepting=(True,))
    >>> s = letter_spectrum(m, 0, 0)
    >>> s.kind, s.exact, s.summary()
    ('numeric', False, '0.5, 1 (numeric)')
    """
    perm = model_permutation(lrnn.layers[layer], token)
    if perm is not None:
        return LetterSpectrum(layer, token, "permutation", permutation=tuple(perm))
    k = lrnn.layers[layer].width
    a = lrnn.layers[layer].A(token)
    num = np.zeros((k, k))
    for (i, j), x in a.todok().items():
        num[i, j] = float(x.evalf(30))
    ev = tuple(complex(z) for z in np.linalg.eigvals(num))
    fracs: list[Fraction] | None = []
    for z in ev:
        t = (math.atan2(z.imag, z.real) / (2 * math.pi)) % 1.0
        f = Fraction(t).limit_denominator(MAX_ROOT_ORDER)
        if abs(abs(z) - 1) > 1e-9 or abs(float(f) - t) > 1e-9:
            fracs = None
            break
        fracs.append(f % 1)
    if fracs is not None and k <= EXACT_MAX_WIDTH:
        order = math.lcm(*[f.denominator for f in fracs]) if fracs else 1
        runner = lrnn.exact()
        if _is_identity_power(runner.transition_matrix(layer, token), order, runner.domain):
            return LetterSpectrum(layer, token, "roots of unity", angles=tuple(fracs),
                                  order=order, numeric=ev)
    return LetterSpectrum(layer, token, "numeric", numeric=ev)


def _with_mult(text: str, mult: int) -> str:
    return text + (f" (x{mult})" if mult > 1 else "")


def _cycle_type_text(perm: list[int]) -> str:
    """Eigenvalues of a permutation matrix from its cycle type: a cycle of length L
    contributes the L-th roots of unity (exact)."""
    from ..constructions.group import permutation_cycles

    cycles = permutation_cycles(perm)
    fixed = len(perm) - sum(len(c) for c in cycles)
    lengths = Counter(len(c) for c in cycles)
    ones = fixed + sum(lengths.values())
    parts = [_with_mult("1", ones)]
    if lengths.get(2):
        parts.append(_with_mult("-1", lengths[2]))
    for L in sorted(lengths):
        if L > 2:
            parts.append(_with_mult(f"exp(2 pi i k/{L}), k = 1..{L - 1}", lengths[L]))
    return ", ".join(parts)


def _mat_mul(a: list[list], b: list[list], zero) -> list[list]:
    k = len(a)
    out = []
    for i in range(k):
        row = []
        for j in range(k):
            acc = zero
            for t in range(k):
                if a[i][t] and b[t][j]:
                    acc = acc + a[i][t] * b[t][j]
            row.append(acc)
        out.append(row)
    return out


def _is_identity_power(rows: list[list], q: int, dom) -> bool:
    """Whether ``A^q = I`` exactly (domain arithmetic, repeated squaring)."""
    k = len(rows)
    result = [[dom.one if i == j else dom.zero for j in range(k)] for i in range(k)]
    base = rows
    while q:
        if q & 1:
            result = _mat_mul(result, base, dom.zero)
        q >>= 1
        if q:
            base = _mat_mul(base, base, dom.zero)
    return all(result[i][j] == (dom.one if i == j else dom.zero)
               for i in range(k) for j in range(k))


def _root_label(p: int, q: int, z: complex) -> str:
    """``exp(2 pi i p/q)`` (0 < p/q < 1/2) with its conjugate, and the numeric values."""
    return f"exp(+-2 pi i {p}/{q}) = {z.real:.6g} +- {abs(z.imag):.6g}i"
