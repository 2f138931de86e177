"""``compile(dfa)``: any DFA to a constructed LRNN, in one of the forms below.

The default (``form=None``) is the paper's construction: Theorem 3's ``"permutation"`` form
when the transition monoid of the minimal DFA is a group, else Theorem 4's ``"cascade"``.

Forms
-----
``"permutation"``
    Theorem 3 (:func:`~statetrack.constructions.group.group_construction`): every DFA whose
    minimal automaton's letters are permutations; one-hot states, ``K = |Q|``, integer keys,
    exact in every float format.
``"rotation"``
    Cyclic transition groups only (:func:`~statetrack.constructions.diagonal.rotation_construction`):
    ``K = 2``; exact in exact arithmetic, inexact in floats (see
    :func:`statetrack.constructions.precision.float_horizon`).
``"diagonal"``
    Elementary abelian 2-groups only (:func:`~statetrack.constructions.diagonal.diagonal_construction`):
    ``K = log2 |Q|``, entries ±1, exact in floats while the codes fit (``|Q| <= 256`` in
    bfloat16; :attr:`~statetrack.constructions.lrnn.LRNN.exact_in_floats` proves it).
``"faithful"``
    Every group DFA (:func:`~statetrack.constructions.faithful.faithful_construction`): the
    letters act by the permutation matrices of a small faithful action of the transition
    group on ``m <= |Q|`` points (a union of block actions; S_5's word problem: ``m = 5``
    instead of ``|Q| = 120``; Z_6 on 2 + 3 points), with a proven lower bound on the minimal
    faithful degree; ``K = m``, ``V`` = the points of a relative base, integer keys, exact in
    every float format, one readout class per image of the base (per group element for a
    word problem).
``"cascade"``
    Every DFA (Theorem 4, :func:`~statetrack.constructions.cascade.compile_cascade`): the
    holonomy (Krohn–Rhodes) decomposition of the minimal DFA as a stack of ``2L - 1``
    layers for ``L`` levels (a layer per level and a delay layer between levels), integer
    keys, exact in every float format. This is the toolkit's variant of Theorem 4's stack:
    a layer holds all the components of its level and the registers are value columns
    (``V > 1``), so a layer can be wider than the theorem's ``n <= |Q|``
    (``(a|b)*a(a|b){3}``: 16 states, a layer of width 17). The theorem's form (a layer per
    component, ``d = 1``, widths within ``|Q|``: the stack ``statetrack check`` proves) is
    ``compile_cascade(dfa, per_component=True, packed=True)``.
``"reflections"``
    Cyclic transition groups only (Theorem 6, Appendix D;
    :func:`~statetrack.constructions.reflections.modular_addition_construction`): two layers
    whose every ``A`` is one reflection, a mod-2 counter (``K = 1``, ``A = -1``) and 2x2
    reflections chosen by the input and the position's parity (``2m`` states); exact in exact
    arithmetic, inexact in floats for ``m > 2``.
``"auto"``
    For group automata the narrower of ``"permutation"`` and ``"faithful"`` (smaller width,
    then fewer sub-steps; the permutation form on ties; the faithful form is taken only when
    its readout has at most :data:`AUTO_FAITHFUL_LIMIT` classes, unless the permutation form
    is past its size budget (:data:`~statetrack.constructions.group.MAX_KEY_ENTRIES`), when
    the faithful form is the only one left and gets the faithful construction's own limit,
    as ``symmetric(7)``'s 5040 classes do; with
    ``normalized=True``, which the faithful form does not have, the permutation form); for
    every other DFA the cascade.

The group forms refuse DFAs whose transition monoid is not a group with
:class:`~statetrack.constructions.errors.NotAGroupError`.

Examples
--------
>>> from statetrack.automata import DFA
>>> from statetrack.constructions.compile import compile
>>> parity = DFA([[0, 1], [1, 0]], accepting=[1], alphabet="01")
>>> [compile(parity, form=f).width for f in FORMS]
[2, 2, 1, 2, 2, 2]
>>> constant = DFA([[1, 1], [1, 1]], accepting=[1], alphabet="ab")
>>> compile(constant).form
'cascade'
>>> compile(constant, form="permutation")
Traceback (most recent call last):
...
statetrack.constructions.errors.NotAGroupError: letter 'a' is not a permutation of the 2 states of the minimal DFA (it sends both states 0 and 1 to state 1), so the transition monoid is not a group and Theorem 3's one-layer construction does not apply; this language needs the Krohn-Rhodes cascade construction (Theorem 4)
"""

from __future__ import annotations

from ..automata import DFA
from ..automata.errors import MonoidLimitError
from .cascade import compile_cascade
from .diagonal import diagonal_construction, rotation_construction
from ._args import check_flag, check_text
from .errors import ConstructionSizeError, FormError, InputTypeError
from .faithful import faithful_construction
from . import group as _group
from .group import group_construction, is_group_dfa, permutation_form_size
from .lrnn import LRNN
from .reflections import modular_addition_construction

__all__ = ["compile", "compile_dfa", "FORMS", "AUTO_FAITHFUL_LIMIT"]

#: The construction forms :func:`compile` knows (besides ``"auto"``, a choice among them).
FORMS = ("permutation", "rotation", "diagonal", "faithful", "cascade", "reflections")
#: ``form="auto"`` takes a faithful form only when its readout has at most this many classes
#: (the ``limit`` of :func:`~statetrack.constructions.faithful.faithful_construction`; its
#: search no longer lists the group, so the group's size does not matter).
AUTO_FAITHFUL_LIMIT = 5_000


def compile(dfa: DFA, *, form: str | None = None, normalized: bool = False,  # noqa: A001
            name: str = "", progress: bool = False) -> LRNN:
    """Compile any DFA into an LRNN (see the module docstring for the forms).

    Parameters
    ----------
    dfa : DFA
        Any DFA; it is minimized first, and the model's ``state_map`` refers to the states of
        the minimal (canonically numbered) DFA, ``dfa.minimize()``.
    form : {None, "permutation", "rotation", "diagonal", "faithful", "cascade", "reflections", "auto"}
        None (default): ``"permutation"`` for group automata, ``"cascade"`` otherwise.
    normalized : bool
        The paper's normalized keys (unit keys, beta in [0, 2]; needs square roots, so float
        runs become inexact). Only changes the permutation form (the rotation and diagonal
        forms already have unit keys). Not available for the faithful and cascade forms
        (:class:`FormError`).
    name : str
        Stored on the model.
    progress : bool
        Progress bars on long decompositions (the cascade form).

    Returns
    -------
    LRNN
        One layer for the group forms, ``2L - 1`` for a cascade of ``L`` levels; prove it
        with :func:`statetrack.theory.proof.verify`. The cascade's layers can be wider than
        Theorem 4's ``n <= |Q|`` (see the module docstring; the theorem's form is
        :func:`~statetrack.constructions.cascade.compile_cascade` with
        ``per_component=True, packed=True``).

    Raises
    ------
    NotAGroupError
        A group form asked for a DFA whose transition monoid is not a group.
    FormError
        An unknown form, or a form that does not exist for this automaton.
    InputTypeError
        ``dfa`` is not a statetrack DFA.
    DecompositionLimitError
        The cascade form on a DFA whose holonomy skeleton is too large (the message says
        how to raise the limit).

    Examples
    --------
    >>> from statetrack.automata import DFA, families, from_regex
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
    >>> c = compile(from_regex("(ab)*"))
    >>> c.form, c.depth, c.accepts("abab"), c.accepts("aba")
    ('cascade', 3, True, False)
    >>> compile(z4, form="diagonal")
    Traceback (most recent call last):
    ...
    statetrack.constructions.errors.FormError: no diagonal form: letter 'a' has order 4, but diagonal matrices with entries in [-1, 1] that act as a group have entries +-1 and square to the identity; use form='permutation' or 'rotation'
    """
    if not isinstance(dfa, DFA):
        raise InputTypeError(f"compile: argument 'dfa' must be a statetrack DFA, got "
                             f"{type(dfa).__name__}")
    normalized = check_flag(normalized, "normalized", "compile")
    name = check_text(name, "name", "compile")
    progress = check_flag(progress, "progress", "compile")
    if form is not None and not isinstance(form, str):
        raise FormError(f"compile: form must be None or one of {list(FORMS) + ['auto']}, got "
                        f"{form!r} ({type(form).__name__})")
    if form is None:
        form = "permutation" if is_group_dfa(dfa) else "cascade"
    if form == "auto":
        if not is_group_dfa(dfa):
            form = "cascade"
        else:
            return _narrower_form(dfa, normalized=normalized, name=name)
    if form not in FORMS:
        raise FormError(f"unknown form {form!r}; choose one of {list(FORMS) + ['auto']}")
    if form == "permutation":
        return group_construction(dfa, normalized=normalized, name=name)
    if form == "rotation":
        return rotation_construction(dfa, name=name)
    if form in ("faithful", "cascade") and normalized:
        raise FormError(f"the {form} form has no normalized variant (its steps use integer "
                        f"keys); use form='permutation' with normalized=True")
    if form == "reflections":
        if normalized:
            raise FormError("the reflections form has no normalized variant (its keys are "
                            "(-tan, 1) or (-1, cot) of the reflection's angle); use "
                            "form='permutation' with normalized=True")
        return modular_addition_construction(dfa, name=name)
    if form == "faithful":
        return faithful_construction(dfa, name=name)
    if form == "cascade":
        return compile_cascade(dfa, name=name, progress=progress)
    return diagonal_construction(dfa, name=name)


def _narrower_form(dfa: DFA, *, normalized: bool, name: str) -> LRNN:
    """``form="auto"`` on a group DFA: the permutation form, or the faithful one when it is
    narrower. The permutation form is built only when chosen (its size is known without
    building it: for ``symmetric(n)``'s Cayley DFA it is ``n!`` wide); the faithful form is
    built first, to compare."""
    if normalized:
        return group_construction(dfa, normalized=True, name=name)
    size = permutation_form_size(dfa)
    perm_fits = size[0] * size[1] * len(dfa.alphabet) <= _group.MAX_KEY_ENTRIES
    not_tried: Exception | None = None      # why the faithful form was not built
    try:
        # the auto limit bounds the time spent on a form that may lose; with no permutation
        # form to fall back on, the faithful construction's own limit
        faithful = faithful_construction(dfa, name=name, limit=AUTO_FAITHFUL_LIMIT) \
            if perm_fits else faithful_construction(dfa, name=name)
    except (MonoidLimitError, ConstructionSizeError) as e:
        not_tried = e
    else:
        if (faithful.width, faithful.n_h) < size:
            return faithful
    try:
        return group_construction(dfa, name=name)
    except ConstructionSizeError as e:
        if not_tried is None:
            raise
        raise ConstructionSizeError(f"{e}; nor could form='auto' build the faithful form: "
                                    f"{not_tried}") from None


#: Alias that does not shadow the builtin when star-imported.
compile_dfa = compile
