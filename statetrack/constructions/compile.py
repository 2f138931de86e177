"""``compile(dfa)``: a DFA to a constructed LRNN, in one of the one-layer forms.

Forms
-----
``"permutation"`` (default)
    Theorem 3 (:func:`~statetrack.constructions.group.group_construction`): every DFA whose
    minimal automaton's letters are permutations; one-hot states, ``K = |Q|``, integer keys,
    exact in every float format.
``"rotation"``
    Cyclic transition groups only (:func:`~statetrack.constructions.diagonal.rotation_construction`):
    ``K = 2``; exact in exact arithmetic, inexact in floats (see
    :func:`statetrack.constructions.precision.float_horizon`).
``"diagonal"``
    Elementary abelian 2-groups only (:func:`~statetrack.constructions.diagonal.diagonal_construction`):
    ``K = log2 |Q|``, entries ±1, exact in floats.
``"faithful"``
    Every group DFA (:func:`~statetrack.constructions.faithful.faithful_construction`): the
    state is the ``m x m`` permutation matrix of a faithful action of the transition group on
    the ``m`` cosets of a core-free subgroup found by a greedy search (``m <= |Q|``; S_5's
    word problem: ``m = 5`` instead of ``|Q| = 120``), ``K = V = m``, integer keys, exact in
    every float format, one readout class per group element.
``"auto"``
    The narrower of ``"permutation"`` and ``"faithful"`` (smaller width, then fewer
    sub-steps; the permutation form on ties). The faithful form is searched only for
    transition groups of at most :data:`AUTO_FAITHFUL_LIMIT` elements; with
    ``normalized=True`` (which the faithful form does not have) it is the permutation form.

DFAs whose transition monoid is not a group raise
:class:`~statetrack.constructions.errors.NotAGroupError`: they need the Krohn–Rhodes cascade
construction (Theorem 4), which is a separate module.

Examples
--------
>>> from statetrack.automata import DFA
>>> from statetrack.constructions.compile import compile
>>> parity = DFA([[0, 1], [1, 0]], accepting=[1], alphabet="01")
>>> [compile(parity, form=f).width for f in FORMS]
[2, 2, 1, 2]
>>> compile(DFA([[1, 1], [1, 1]], accepting=[1], alphabet="ab"))
Traceback (most recent call last):
...
statetrack.constructions.errors.NotAGroupError: letter 'a' is not a permutation of the 2 states of the minimal DFA (it sends both states 0 and 1 to state 1), so the transition monoid is not a group and Theorem 3's one-layer construction does not apply; this language needs the Krohn-Rhodes cascade construction (Theorem 4)
"""

from __future__ import annotations

from ..automata import DFA
from ..automata.errors import MonoidLimitError
from .diagonal import diagonal_construction, rotation_construction
from .errors import FormError, InputTypeError
from .faithful import faithful_construction
from .group import group_construction
from .lrnn import LRNN

__all__ = ["compile", "compile_dfa", "FORMS", "AUTO_FAITHFUL_LIMIT"]

#: The construction forms :func:`compile` knows (besides ``"auto"``, a choice among them).
FORMS = ("permutation", "rotation", "diagonal", "faithful")
#: ``form="auto"`` looks for a faithful form only for transition groups up to this size: the
#: search lists the group (S_6: 720 elements, 0.7 s), and a group as large as the 10,100-element
#: one of binary_divisible(101) took a minute without giving a narrower form.
AUTO_FAITHFUL_LIMIT = 5_000


def compile(dfa: DFA, *, form: str = "permutation", normalized: bool = False,  # noqa: A001
            name: str = "") -> LRNN:
    """Compile a DFA into a one-layer LRNN (see the module docstring for the forms).

    Parameters
    ----------
    dfa : DFA
        Any DFA; it is minimized first, and the model's ``state_map`` refers to the states of
        the minimal (canonically numbered) DFA, ``dfa.minimize()``.
    form : {"permutation", "rotation", "diagonal", "faithful", "auto"}
    normalized : bool
        The paper's normalized keys (unit keys, beta in [0, 2]; needs square roots, so float
        runs become inexact). Only changes the permutation form (the other two already have
        unit keys). Not available for the faithful form (:class:`FormError`).
    name : str
        Stored on the model.

    Returns
    -------
    LRNN
        A one-layer model; verify it with :func:`statetrack.theory.proof.verify`.

    Raises
    ------
    NotAGroupError
        The transition monoid is not a group.
    FormError
        An unknown form, or a form that does not exist for this automaton.
    InputTypeError
        ``dfa`` is not a statetrack DFA.

    Examples
    --------
    >>> from statetrack.automata import DFA, families
    >>> z4 = DFA.from_function(0, "a", lambda q, a: (q + 1) % 4, lambda q: q == 0)
    >>> m = compile(z4)
    >>> m.form, m.width, m.n_h, m.accepts("aaaa"), m.accepts("aa")
    ('permutation', 4, 3, True, False)
    >>> r = compile(z4, form="rotation")
    >>> r.width, r.exact_in_floats, r.accepts("aaaa")
    (2, False, True)
    >>> s4 = families.get("symmetric(4)")
    >>> [(f, compile(s4, form=f).width) for f in ("permutation", "faithful", "auto")]
    [('permutation', 24), ('faithful', 4), ('auto', 4)]
    >>> compile(z4, form="diagonal")
    Traceback (most recent call last):
    ...
    statetrack.constructions.errors.FormError: no diagonal form: letter 'a' has order 4, but diagonal matrices with entries in [-1, 1] that act as a group have entries +-1 and square to the identity; use form='permutation' or 'rotation'
    """
    if not isinstance(dfa, DFA):
        raise InputTypeError(f"compile: argument 'dfa' must be a statetrack DFA, got "
                             f"{type(dfa).__name__}")
    if form == "auto":
        return _narrower_form(dfa, normalized=normalized, name=name)
    if form not in FORMS:
        raise FormError(f"unknown form {form!r}; choose one of {list(FORMS)}")
    if form == "permutation":
        return group_construction(dfa, normalized=normalized, name=name)
    if form == "rotation":
        return rotation_construction(dfa, name=name)
    if form == "faithful":
        if normalized:
            raise FormError("the faithful form has no normalized variant (its swaps use "
                            "integer keys); use form='permutation' with normalized=True")
        return faithful_construction(dfa, name=name)
    return diagonal_construction(dfa, name=name)


def _narrower_form(dfa: DFA, *, normalized: bool, name: str) -> LRNN:
    """``form="auto"``: the permutation form, or the faithful one when it is narrower."""
    perm = group_construction(dfa, normalized=normalized, name=name)
    if normalized:
        return perm
    try:
        faithful = faithful_construction(dfa, name=name, limit=AUTO_FAITHFUL_LIMIT)
    except MonoidLimitError:
        return perm
    return faithful if (faithful.width, faithful.n_h) < (perm.width, perm.n_h) else perm


#: Alias that does not shadow the builtin when star-imported.
compile_dfa = compile
