r"""Theorem 6 (Grazzi et al. 2025, Appendix D): addition modulo m with two layers of reflections.

The task
--------
Addition modulo m: the input is a word ``x_1 x_2 ... x_T`` of numbers in ``{0, ..., m-1}``
and the output after each token is the running sum ``y_t = x_1 + ... + x_t (mod m)``. As a
DFA it is the word problem of the cyclic group ``Z_m`` with one letter per element, the
catalogue's ``cyclic(m, all)`` (:func:`statetrack.automata.families.cyclic`): states
``0 .. m-1`` (the sum), letter ``i`` adds ``i``, start 0 (the language accepts the words of sum
0). The construction proves the whole output sequence, not only acceptance: its readout
classes map to the DFA's states (the running sums) through ``state_map``, and
:func:`statetrack.theory.proof.verify` checks that map at every reachable state.

More generally the construction applies to every DFA whose minimal automaton's transition
monoid is a cyclic group of order m (``cyclic(m)`` with the letters {0, +1}, ``count_mod``,
``cycle_navigation``, parity): pick a generator ``g``; letter ``a`` acts as ``g^{e_a}`` and
state ``q`` is ``q_0·g^{s_q}``, so reading ``a`` adds ``e_a`` to the sum ``s`` modulo m.

Why two layers
--------------
One reflection (a GH factor with eigenvalue -1, ``A in M_1({-1})``) per token in one layer
cannot count modulo m > 2 in the paper's sense: every ``A(x)`` is then an involution and the
product of two reflections is a rotation, not one. A first layer that knows the parity of the
position lets the second layer alternate between two families of reflections so that every
*pair* of tokens composes to a rotation — the rotation form
(:func:`~statetrack.constructions.diagonal.rotation_construction`) uses two reflections per
token instead, ``n_h = 2``.

Construction
------------
Let ``theta = pi / m`` and write ``u(k) = (cos k theta, sin k theta)^T`` (``k`` modulo
``2m``: the ``2m``-th roots of unity) and ``F_j`` for the reflection across the line at angle
``j theta / 2``: ``F_j u(k) = u(j - k)``.

* Layer 0 (the mod-2 counter): ``K = V = 1``, ``H_0 = 1``, ``A(x) = -1`` for every input ``x``
  (one delta step, key 1, beta 2: ``M_1({-1})``), ``B = 0``; so ``H_t = (-1)^t`` and the
  readout (query 1, codes ``1, -1``) outputs the parity ``t mod 2`` of the position.
* Layer 1 (reflections): ``K = 2``, ``V = 1``, ``H_0 = u(0)``. It reads the token
  ``(e_{x_t}, t mod 2)`` and applies ``A = F_j`` with ``j = 1 - 2e`` at odd ``t`` and
  ``j = 1 + 2e`` at even ``t`` (one delta step, eigenvalue -1), ``B = 0``.

Claim: ``H^{(1)}_t = u(2 s_t)`` at even ``t`` and ``u(1 - 2 s_t)`` at odd ``t``, with ``s_t``
the sum. By induction: at odd ``t``, ``F_{1-2e} u(2 s_{t-1}) = u(1 - 2(s_{t-1} + e))``; at even
``t``, ``F_{1+2e} u(1 - 2 s_{t-1}) = u(2(s_{t-1} + e))``. The even angles and the odd angles
are disjoint, so the state alone (no input, no parity) determines the sum: the layer has the
``2m`` states ``u(0) .. u(2m-1)``, and class ``k`` (the state ``u(k)``) is the DFA state of sum
``k/2`` (``k`` even) or ``(1 - k)/2`` (``k`` odd), modulo m.

Every ``A`` is a single reflection, in ``M_1({-1})``, in both layers; ``n_h = 1``.

Weights. The reflection ``F_j`` is the GH factor ``I - beta k k^T`` with ``k`` along the
normal ``(-sin phi, cos phi)`` of its line (``phi = j theta / 2``): ``k = (-tan phi, 1)`` when
``cos 2 phi >= 0`` and ``k = (-1, cot phi)`` otherwise (so the free entry is in [-1, 1]), and
``beta = 2 / ||k||^2`` (``beta ||k||^2 = 2``: eigenvalue -1). ``tan phi = sin 2phi / (1 + cos
2phi)`` and ``cot phi = sin 2phi / (1 - cos 2phi)``, so every weight lies in the number field
``Q(cos theta, sin theta)``, where the exact verifier works. One generator suffices (the
model's ``field_generators``): for even m, ``i = e^{i pi/2}`` is a power of
``zeta = e^{i theta}``, so ``sin theta = (zeta - 1/zeta) / 2i`` lies in ``Q(zeta)``, whose real
numbers are ``Q(cos theta)``; for odd m, ``sin theta = cos((m - 2) pi / 2m)`` with
``m - 2`` prime to ``4m``, a generator of the real subfield of ``Q(e^{i pi / 2m})``, which
contains ``cos theta`` and ``sin theta``. The readout is the rotation form's: the rational query ``q = (2, 1)``,
``o = 2 cos(k theta) + sin(k theta)``; two of the ``2m`` angles give the same value only if
they are symmetric about the angle ``psi`` with ``tan psi = 1/2``, which would make ``2 psi``
a rational multiple of ``pi`` -- impossible by Niven's theorem (``tan 2 psi = 4/3`` is
rational but not 0 or ±1).

In floats the weights are rounded for ``m > 2``: the model is not exact in floats
(``exact_in_floats`` is False, as for the rotation form: the proof of
:mod:`statetrack.constructions.float_exact` finds irrational weights), and float runs are correct only up to some
length (:func:`statetrack.constructions.precision.float_horizon` gives it for one layer; the
tests run the stack in float32 and float64 through the kernels runner). For ``m <= 2`` every
weight is a small dyadic rational and float runs are exact.

Source: Grazzi, Siems, Zela, Franke, Hutter, Pontil, "Unlocking State-Tracking in Linear
RNNs Through Negative Eigenvalues", ICLR 2025 (arXiv 2411.12537), Appendix D, Theorem 6: a
mod-2 counter layer with ``A in {-1}`` and a layer of 2x2 reflections with ``2m`` states. The
angles (the offset ``theta`` that makes the even and odd states disjoint) and the unnormalized
keys are this module's choices.

Examples
--------
>>> from statetrack.automata import families
>>> from statetrack.constructions.reflections import modular_addition_construction
>>> z5 = families.get("cyclic(5, all)")              # addition modulo 5
>>> m = modular_addition_construction(z5)
>>> m.depth, [layer.width for layer in m.layers], m.n_h, m.layers[1].readout.n_classes
(2, [1, 2], 1, 10)
>>> m.A("3", layer=0), [str(e) for e in m.layers[1].factor_eigenvalues(0)]
(Matrix([[-1]]), ['-1'])
>>> tr = m.evaluate(["4", "3", "2"])                  # running sums 4, 2, 4
>>> tr.dfa_states[1:], tr.outputs[0][1:]              # (DFA states: the sums; parities)
((4, 2, 4), (1, 0, 1))
"""

from __future__ import annotations

import numpy as np
import sympy

from ..automata import DFA
from ._args import check_dfa, check_text
from .diagonal import _generator, transition_group
from .errors import ExactSizeError, FormError, StoredNumberSizeError
from .exact_text import parse_exact
from .lrnn import LRNN, DeltaStep, Layer, Readout

__all__ = ["modular_addition_construction", "letter_exponents", "reflection_step",
           "reflection_class_sum"]


def letter_exponents(dfa: DFA) -> tuple[int, tuple[int, ...], tuple[int, ...]]:
    """``(m, e, s)`` for a DFA whose transition group is cyclic: the order ``m``, each
    letter's exponent ``e_a`` (it acts as ``g^{e_a}``) and each state's ``s_q``
    (``q = q_0·g^{s_q}``), for a generator ``g``. The DFA is used as given (minimize it first).

    Raises
    ------
    NotAGroupError
        Some letter is not a permutation of the states.
    FormError
        The transition group is not cyclic.

    Examples
    --------
    >>> from statetrack.automata import families
    >>> letter_exponents(families.get("cycle_navigation(5)"))   # letters 0, +, -
    (5, (0, 1, 4), (0, 1, 4, 2, 3))

    (The states are numbered breadth-first: positions 0, 1, -1, 2, -2.)
    """
    perms, ok, elems = transition_group(dfa)
    g = None if ok is None else _generator(elems)
    if g is None:
        why = ("the letters do not commute" if ok is None else
               "the transition group is abelian but not cyclic")
        raise FormError(f"no Theorem 6 construction: {why}; it needs a cyclic transition group "
                        f"(addition modulo m)")
    m = dfa.n_states
    power_of: dict[bytes, int] = {}
    x = np.arange(m)
    for i in range(m):
        power_of[x.tobytes()] = i
        x = g[x]
    e = tuple(power_of[p.tobytes()] for p in perms)
    s = tuple(power_of[elems[q].tobytes()] for q in range(m))
    return m, e, s


def _storable(e: sympy.Expr, m: int, what: str) -> sympy.Expr:
    """``e``, or the equal expression that construction files write and read back unchanged:
    printed and read (:func:`~statetrack.constructions.exact_text.parse_exact`, which
    simplifies as it reads, e.g. ``-sqrt(2)/(2*(sqrt(2)/2 + 1))`` to
    ``-sqrt(2)/(sqrt(2) + 2)``) until it is a fixed point. A number over the reader's size
    limits is a :class:`StoredNumberSizeError` naming ``m`` and ``what`` (the exact checks
    would not finish on it either)."""
    for _ in range(4):
        try:
            back = parse_exact(sympy.sstr(e, full_prec=True))
        except ExactSizeError as err:
            reason = err.reason
            raise StoredNumberSizeError(
                f"Theorem 6's construction for m = {m}: {what} is a number that sympy writes "
                f"in nested radicals too large to store or prove exactly ({reason}); this "
                "happens where an angle needs cos(j pi/60) or cos(j pi/120) (docs: "
                "theory/thm6)") from None
        if back == e:
            break
        e = back
    return e


def reflection_step(j: int, m: int) -> DeltaStep:
    """The delta step of ``F_j``, the reflection across the line at angle ``j pi / (2m)``.

    Key ``(-tan phi, 1)`` or ``(-1, cot phi)`` (``phi = j pi / (2m)``, whichever has its free
    entry in [-1, 1]) and ``beta = 2 / ||k||^2``, so ``beta ||k||^2 = 2`` exactly (eigenvalue
    -1); see the module docstring.

    Raises
    ------
    StoredNumberSizeError
        The key or beta is too large to store or prove exactly (e.g. ``m = 60``, ``j`` odd:
        sympy writes ``tan(j pi/120)`` in nested radicals).

    Examples
    --------
    >>> s = reflection_step(1, 2)                 # the line at 45 degrees: swap the axes
    >>> s.key, s.beta, s.eigenvalue, s.matrix()
    ((-1, 1), 1, -1, Matrix([
    [0, 1],
    [1, 0]]))
    >>> reflection_step(0, 3).matrix()           # the horizontal axis
    Matrix([
    [1,  0],
    [0, -1]])
    """
    j2 = j % (2 * m)
    ang = sympy.pi * j2 / m                       # 2 phi
    c, s = sympy.cos(ang), sympy.sin(ang)
    if 2 * j2 <= m or 2 * j2 >= 3 * m:          # cos 2 phi >= 0: |tan phi| <= 1
        x = s / (1 + c)
        key = (-x, sympy.S.One)
    else:
        x = s / (1 - c)          # |cot phi| < 1
        key = (sympy.S.NegativeOne, x)
    what = f"the key of the reflection across the line at angle {sympy.pi * j2 / (2 * m)}"
    key = tuple(_storable(v, m, what) for v in key)
    return DeltaStep(key=key, beta=_storable(2 / (1 + x ** 2), m, what.replace("key", "beta")))


def reflection_class_sum(k: int, m: int) -> int:
    """The sum ``s`` (mod ``m``) of the layer-1 class ``k`` (the state ``u(k)``): ``k/2`` for
    even ``k`` (even positions), ``(1 - k)/2`` for odd ``k``.

    Examples
    --------
    >>> [reflection_class_sum(k, 3) for k in range(6)]
    [0, 0, 1, 2, 2, 1]
    """
    return (k // 2 if k % 2 == 0 else (1 - k) // 2) % m


def modular_addition_construction(dfa: DFA, *, name: str = "") -> LRNN:
    """Theorem 6: two layers, a mod-2 counter and one reflection per token, for a DFA whose
    transition group is cyclic (addition modulo m: ``cyclic(m, all)``).

    Parameters
    ----------
    dfa : DFA
        Minimized first; its minimal automaton's letters must generate a cyclic group.
    name : str
        Stored on the model.

    Returns
    -------
    LRNN
        Two layers: layer 0 ``K = 1`` with ``A(x) = -1``; layer 1 ``K = 2`` whose every token
        is one reflection (eigenvalue -1), ``2m`` readout classes; ``n_h = 1``, ``B = 0``,
        ``form="reflections"``, ``state_map`` the minimal DFA's states, ``field_generators``
        ``(cos(pi/m),)`` for even m, ``(sin(pi/m),)`` for odd m (none for ``m <= 2``),
        ``exact_in_floats`` (proved) only for ``m <= 2``.

    Raises
    ------
    InputTypeError
        ``dfa`` is not a DFA, or ``name`` not a str.
    NotAGroupError
        Some letter of the minimal DFA is not a permutation.
    FormError
        The transition group is not cyclic.
    StoredNumberSizeError
        A weight or readout code would need a number too large to store or prove exactly:
        sympy writes ``cos(j pi/60)`` and ``cos(j pi/120)`` in nested radicals of hundreds of
        terms (with sympy 1.14, among ``m <= 400``: ``m = 60, 120, 180, 240, 300, 360``).

    Examples
    --------
    >>> from statetrack.automata import families
    >>> m = modular_addition_construction(families.get("cyclic(3)"))   # letters 0 and +1
    >>> m.layers[1].tokens, m.layers[1].token_map                     # (e, parity) tokens
    (('0|odd', '0|even', '1|odd', '1|even'), ((1, 0), (3, 2)))
    >>> m.accepts("111"), m.accepts("1101"), m.accepts("11")
    (True, True, False)
    """
    check_dfa(dfa, "modular_addition_construction")
    name = check_text(name, "name", "modular_addition_construction")
    d = dfa.minimize()
    m, e, s = letter_exponents(d)
    flip = DeltaStep(key=[1], beta=2)
    counter = Layer(tokens=d.alphabet, steps=[[flip] for _ in d.alphabet], initial_state=[[1]],
                    readout=Readout(query=[1], codes=[[1], [-1]], labels=("even", "odd")))
    tokens: dict[tuple[int, int], int] = {}
    names: list[str] = []
    steps: list[list[DeltaStep]] = []
    cache: dict[int, DeltaStep] = {}
    for ea in e:
        for parity in (1, 0):
            if (ea, parity) in tokens:
                continue
            j = (1 - 2 * ea if parity else 1 + 2 * ea) % (2 * m)
            if j not in cache:
                cache[j] = reflection_step(j, m)
            tokens[ea, parity] = len(names)
            names.append(f"{ea}|{'odd' if parity else 'even'}")
            steps.append([cache[j]])
    token_map = [[tokens[ea, 0], tokens[ea, 1]] for ea in e]
    theta = sympy.pi / m
    codes = [[_storable(2 * sympy.cos(k * theta) + sympy.sin(k * theta), m,
                        f"the readout code of class {k}")] for k in range(2 * m)]
    by_sum = {sq: q for q, sq in enumerate(s)}
    state_map = [by_sum[reflection_class_sum(k, m)] for k in range(2 * m)]
    labels = [f"{d.state_label(q)}@{'even' if k % 2 == 0 else 'odd'}"
              for k, q in enumerate(state_map)]
    reflect = Layer(tokens=names, steps=steps, initial_state=[[1], [0]],
                    readout=Readout(query=[2, 1], codes=codes, labels=labels),
                    token_map=token_map)
    gens = () if m <= 2 else (sympy.cos(theta) if m % 2 == 0 else sympy.sin(theta),)
    return LRNN(alphabet=d.alphabet, layers=(counter, reflect),
                accepting=tuple(bool(d.accepting[q]) for q in state_map),
                state_map=tuple(state_map), form="reflections",
                field_generators=gens, name=name)
