r"""A registry of named regular languages, each built as a minimal complete DFA.

Every entry of :data:`FAMILIES` is a :class:`Family`: a builder function with typed, range-checked
parameters (:class:`Param`), a one-line summary, and a docstring that states the language
exactly (alphabet, accepting set) with a worked example. :func:`get` builds a language from a
spec string, :func:`catalogue` lists the built-in languages that ``statetrack check`` runs on.

>>> from statetrack.automata.families import get, names
>>> get("cyclic(5)").n_states
5
>>> get("dihedral(m=4)").n_states, get("symmetric(4)").n_states
(8, 24)
>>> "parity" in names()
True

Spec strings
------------
``name`` or ``name(arg, ..., key=value, ...)``: positional arguments fill the parameters in
the order the family lists them; values are integers (``-1``), bare words (``even``,
``abb``) or quoted strings (``'abb'``). An unknown name raises
:class:`~statetrack.automata.errors.UnknownLanguageError` with the closest names; a malformed
spec or a bad value raises :class:`~statetrack.automata.errors.FamilyParameterError` naming
the column.

Word problems
-------------
For a group G and a list of generators (the letters), the *word problem* of G is the language
of words whose product is the identity. The DFA's states are the elements of the subgroup the
letters generate, the start state and the only accepting state is the identity, and reading a
letter multiplies by it. All the group families here are built as permutation groups: an
element is a permutation ``pi`` of a set of points ``{0, ..., n-1}`` (written in one-line
notation ``pi(0) pi(1) ... pi(n-1)``), a letter is a permutation ``sigma``, and reading it maps
the state ``pi`` to ``sigma o pi`` (apply ``pi`` first, then ``sigma``); so after reading
``sigma_1 ... sigma_t`` the state is ``sigma_t o ... o sigma_1``, the permutation that moves
point x along the whole word. The points are: ``Z_m`` acting on ``{0..m-1}`` by shifts,
``D_m`` on the vertices of the m-gon, ``S_n`` and ``A_n`` on ``{0..n-1}``, ``Q_8`` on its own 8
elements by right multiplication.

Such a DFA is minimal: every element is reachable (the letters generate the group) and two
elements g != h are distinguished by a word spelling ``g^{-1}``, which leads g to the identity
and h elsewhere. Every letter acts as a permutation of the states, so the transition monoid is
the group itself.

Minimality of the other families
--------------------------------
The other builders describe the language by a natural state space (``DFA.from_function``) and
then minimize, keeping for each state the label of its first representative in breadth-first
order. Their docstrings give the resulting number of states; the tests check every family
with :meth:`~statetrack.automata.DFA.is_minimal` and against an independent predicate.

Builds are cached: a family called twice with the same parameters returns the same (immutable)
DFA object.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import itertools
import re
from dataclasses import dataclass
from typing import Any, Callable, Hashable, Sequence

import numpy as np

from .dfa import DFA
from .errors import FamilyParameterError, UnknownLanguageError

__all__ = [
    "Param", "Family", "CatalogueEntry", "FAMILIES", "REGISTRY", "register", "names", "get",
    "catalogue", "parse_spec",
]


# ====================================================================== registry machinery
@dataclass(frozen=True)
class Param:
    """One parameter of a :class:`Family`.

    Attributes
    ----------
    name : str
        The keyword name (as in the builder's signature).
    default : int or str
        The default value; its type is the parameter's type.
    description : str
        What the parameter means, in a few words.
    minimum, maximum : int, optional
        Inclusive bounds of an integer parameter.
    choices : tuple of str, optional
        The allowed values of a string parameter (None: any non-empty string the builder
        accepts).

    Examples
    --------
    >>> p = Param("m", 3, "the modulus", minimum=2)
    >>> p.valid
    'integer >= 2'
    >>> p.check(1, "cyclic")
    Traceback (most recent call last):
    ...
    statetrack.automata.errors.FamilyParameterError: cyclic: parameter 'm' must be an integer >= 2, got 1
    """

    name: str
    default: int | str
    description: str
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] | None = None

    @property
    def type(self) -> type:
        """``int`` or ``str``, the type of :attr:`default`."""
        return type(self.default)

    @property
    def valid(self) -> str:
        """The valid range, as text (``'2 <= m <= 12'`` style)."""
        if self.type is int:
            if self.minimum is not None and self.maximum is not None:
                return f"integer in {self.minimum}..{self.maximum}"
            if self.minimum is not None:
                return f"integer >= {self.minimum}"
            if self.maximum is not None:
                return f"integer <= {self.maximum}"
            return "integer"
        if self.choices is not None:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        return "non-empty string"

    def check(self, value: Any, family: str) -> int | str:
        """Return ``value`` converted to the parameter's type, or raise FamilyParameterError."""
        where = f"{family}: parameter {self.name!r}"
        if self.type is int:
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
                raise FamilyParameterError(
                    f"{where} must be an integer, got {type(value).__name__} {value!r}",
                    param=self.name)
            value = int(value)
            if (self.minimum is not None and value < self.minimum) or (
                    self.maximum is not None and value > self.maximum):
                raise FamilyParameterError(f"{where} must be an {self.valid}, got {value}",
                                           param=self.name)
            return value
        if not isinstance(value, str):
            raise FamilyParameterError(
                f"{where} must be a string, got {type(value).__name__} {value!r}",
                param=self.name)
        if not value:
            raise FamilyParameterError(f"{where} must be a non-empty string", param=self.name)
        if self.choices is not None and value not in self.choices:
            raise FamilyParameterError(f"{where} must be {self.valid}, got {value!r}",
                                       param=self.name)
        return value


@dataclass(frozen=True)
class Family:
    """A named family of languages: a builder with validated parameters.

    Calling the family (keywords, or positionally in :attr:`params` order) validates the
    parameters and returns the minimal DFA; results are cached, so equal calls return the
    same immutable object.

    Attributes
    ----------
    name : str
        The registry name, as used in spec strings.
    builder : callable
        The raw builder ``(**params) -> DFA`` (no validation).
    summary : str
        One line describing the language.
    params : tuple of Param
        The parameters, in positional order.

    Examples
    --------
    >>> from statetrack.automata.families import FAMILIES
    >>> fam = FAMILIES["count_mod"]
    >>> [p.name for p in fam.params]
    ['m', 'k']
    >>> fam(m=4, k=1).accepts("abaaaab")
    True
    >>> fam.spec(m=4, k=1)
    'count_mod(4, 1)'
    >>> fam(m=0)
    Traceback (most recent call last):
    ...
    statetrack.automata.errors.FamilyParameterError: count_mod: parameter 'm' must be an integer in 1..100000, got 0
    """

    name: str
    builder: Callable[..., DFA]
    summary: str
    params: tuple[Param, ...] = ()

    def __call__(self, *args: Any, **params: Any) -> DFA:
        return _build_cached(self.name, tuple(sorted(self.bind(*args, **params).items())))

    def bind(self, *args: Any, **params: Any) -> dict[str, Any]:
        """Validated parameters (defaults filled in) for ``self(*args, **params)``."""
        if len(args) > len(self.params):
            raise FamilyParameterError(
                f"{self._arity()}, got {len(args)} positional")
        given = dict(params)
        for p, v in zip(self.params, args):
            if p.name in given:
                raise FamilyParameterError(
                    f"{self.name}: parameter {p.name!r} given twice", param=p.name)
            given[p.name] = v
        known = {p.name for p in self.params}
        for key in given:
            if key not in known:
                raise FamilyParameterError(
                    f"{self.name} has no parameter {key!r}; parameters: {self._param_list()}",
                    param=key)
        return {p.name: p.check(given[p.name], self.name) if p.name in given else p.default
                for p in self.params}

    def spec(self, **params: Any) -> str:
        """The shortest spec string that :func:`get` maps back to ``self(**params)``."""
        values = self.bind(**params)
        args = [values[p.name] for p in self.params]
        while args and args[-1] == self.params[len(args) - 1].default:
            args.pop()
        if not args:
            return self.name
        return f"{self.name}({', '.join(_format_value(v) for v in args)})"

    @property
    def defaults(self) -> dict[str, Any]:
        """``{name: default}`` of every parameter."""
        return {p.name: p.default for p in self.params}

    @property
    def doc(self) -> str:
        """The builder's docstring (states the language; has a worked example)."""
        return inspect.getdoc(self.builder) or ""

    def _param_list(self) -> str:
        return ", ".join(p.name for p in self.params) or "none"

    def _arity(self) -> str:
        # "takes no parameters" / "takes at most 2 parameter(s) (m, accept)"
        if not self.params:
            return f"{self.name} takes no parameters (write it as {self.name!r})"
        return f"{self.name} takes at most {len(self.params)} parameter(s) ({self._param_list()})"

    @property
    def signature(self) -> str:
        """The family's call with its defaults, as a spec that :func:`get` reads:
        ``'cyclic(m=3)'``, ``'ab_star'`` (no parameters).

        Examples
        --------
        >>> FAMILIES["count_mod"].signature, FAMILIES["ab_star"].signature
        ('count_mod(m=3, k=0)', 'ab_star')
        """
        if not self.params:
            return self.name
        return f"{self.name}({', '.join(f'{p.name}={_format_value(p.default)}' for p in self.params)})"

    def describe(self) -> str:
        """The signature, the summary and one line per parameter (its range and meaning), as
        ``statetrack families`` prints it.

        Examples
        --------
        >>> print(FAMILIES["cyclic"].describe())
        cyclic(m=5, generators=standard)
            Word problem of the cyclic group Z_m: accept iff the letters sum to 0 mod m.
            m: integer in 1..10000 -- the order of the group
            generators: one of 'standard', 'all' -- which letters
        """
        lines = [self.signature, f"    {self.summary}"]
        lines += [f"    {p.name}: {p.valid} -- {p.description}" for p in self.params]
        return "\n".join(lines)


@dataclass(frozen=True)
class CatalogueEntry:
    """One language of the built-in catalogue (:func:`catalogue`).

    Attributes
    ----------
    name : str
        The spec string, e.g. ``"cyclic(5)"``; ``get(name)`` rebuilds ``dfa``.
    family : str
        The registry name of its family.
    dfa : DFA
        The minimal DFA.
    """

    name: str
    family: str
    dfa: DFA


FAMILIES: dict[str, Family] = {}
"""Every registered family, by name, in registration order (the language catalogue's
builders; the theorems are :data:`statetrack.theory.registry.THEOREMS`)."""

#: The old name of :data:`FAMILIES` (the same dict).
REGISTRY = FAMILIES


def register(name: str | None = None, *, params: Sequence[Param] = (),
             summary: str | None = None) -> Callable[[Callable[..., DFA]], Callable[..., DFA]]:
    """Decorator: register a builder as a :class:`Family` in :data:`FAMILIES`.

    The decorated function validates its arguments (through the family) and caches results;
    the raw builder stays reachable as ``FAMILIES[name].builder``.

    Parameters
    ----------
    name : str, optional
        Registry name (default: the function's name).
    params : sequence of Param
        One per keyword parameter of the builder, in the same order, with the same defaults.
    summary : str, optional
        One line (default: the first line of the docstring).

    Raises
    ------
    FamilyParameterError
        If the name is taken, or ``params`` does not match the builder's signature.
    """

    def deco(builder: Callable[..., DFA]) -> Callable[..., DFA]:
        fam_name = name or builder.__name__
        if fam_name in FAMILIES:
            raise FamilyParameterError(f"a family named {fam_name!r} is already registered")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", fam_name):
            raise FamilyParameterError(f"family name {fam_name!r} is not an identifier")
        sig = inspect.signature(builder)
        sig_params = [(p.name, p.default) for p in sig.parameters.values()]
        declared = [(p.name, p.default) for p in params]
        if sig_params != declared:
            raise FamilyParameterError(
                f"{fam_name}: declared parameters {declared} do not match the builder's "
                f"signature {sig_params}")
        doc = inspect.getdoc(builder) or ""
        line = summary if summary is not None else doc.split("\n", 1)[0].strip().replace("``", "")
        if not line:
            raise FamilyParameterError(f"{fam_name}: a family needs a summary or a docstring")
        fam = Family(fam_name, builder, line, tuple(params))
        FAMILIES[fam_name] = fam

        @functools.wraps(builder)
        def validated(*args: Any, **kwargs: Any) -> DFA:
            return fam(*args, **kwargs)

        return validated

    return deco


@functools.lru_cache(maxsize=256)
def _build_cached(name: str, items: tuple[tuple[str, Any], ...]) -> DFA:
    return FAMILIES[name].builder(**dict(items))


def names() -> list[str]:
    """The registered family names, sorted.

    >>> names()[:3]
    ['aa_star', 'ab_star', 'alternating']
    """
    return sorted(FAMILIES)


# ====================================================================== spec strings
_TOKEN = re.compile(r"""\s*(?:(?P<int>[+-]?[0-9]+)|(?P<word>[A-Za-z_][A-Za-z0-9_-]*)
                       |(?P<str>'[^']*'|"[^"]*")|(?P<punct>[(),=])|(?P<bad>\S))""", re.X)


def _format_value(v: Any) -> str:
    if isinstance(v, str) and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", v):
        return repr(v)
    return str(v)


def _tokens(spec: str) -> list[tuple[str, str, int]]:
    """(kind, text, 1-based column) of each token, then ('end', '', column)."""
    out = []
    pos = 0
    while True:
        m = _TOKEN.match(spec, pos)
        if m is None:  # only whitespace left
            break
        kind = m.lastgroup
        assert kind is not None  # every alternative of _TOKEN is a named group
        text = m.group(kind)
        col = m.start(kind) + 1
        if kind == "bad":
            if text in "'\"":
                raise FamilyParameterError("unterminated string", spec, col)
            raise FamilyParameterError(f"unexpected character {text!r}", spec, col)
        out.append((kind, text, col))
        pos = m.end()
    out.append(("end", "", len(spec.rstrip()) + 1))
    return out


def parse_spec(spec: str) -> tuple[str, list[tuple[Any, int]], dict[str, tuple[Any, int]]]:
    """Split a spec into ``(name, positional, keyword)``; values come with their column.

    Integer tokens become ``int``, bare words and quoted strings ``str``. Digit strings that
    a string parameter needs (``contains(0110)``) are converted back by :func:`get`.

    Examples
    --------
    >>> parse_spec("dihedral(4, generators=all)")
    ('dihedral', [(4, 10)], {'generators': ('all', 24)})
    >>> parse_spec("cyclic(5")
    Traceback (most recent call last):
    ...
    statetrack.automata.errors.FamilyParameterError: expected ',' or ')' at column 9
      cyclic(5
              ^
    """
    name, args, kwargs, _ = _parse(spec)
    return name, args, kwargs


def _parse(spec: str) -> tuple[str, list[tuple[Any, int]], dict[str, tuple[Any, int]],
                               dict[str, int]]:
    """:func:`parse_spec` plus the column of each keyword's name."""
    if not isinstance(spec, str):
        raise FamilyParameterError(f"a language spec must be a string, got {type(spec).__name__}")
    toks = _tokens(spec)
    kind, text, col = toks[0]
    if kind != "word":
        raise FamilyParameterError("expected a language name", spec, col)
    name = text
    args: list[tuple[Any, int]] = []
    kwargs: dict[str, tuple[Any, int]] = {}
    key_cols: dict[str, int] = {}
    i = 1
    if toks[i][0] == "end":
        return name, args, kwargs, key_cols
    if toks[i][1] != "(":
        raise FamilyParameterError("expected '(' or the end of the spec", spec, toks[i][2])
    i += 1
    if toks[i][1] == ")":
        i += 1
    else:
        while True:
            kind, text, col = toks[i]
            key = None
            if kind == "word" and toks[i + 1][1] == "=":
                key, key_col = text, col
                i += 2
                kind, text, col = toks[i]
            if kind == "int":
                value: Any = int(text)
            elif kind == "word":
                value = text
            elif kind == "str":
                value = text[1:-1]
            else:
                raise FamilyParameterError("expected a value", spec, col)
            if key is None:
                if kwargs:
                    raise FamilyParameterError(
                        "positional argument after a keyword argument", spec, col)
                args.append((value, col))
            else:
                if key in kwargs:
                    raise FamilyParameterError(f"parameter {key!r} given twice", spec, key_col)
                kwargs[key] = (value, col)
                key_cols[key] = key_col
            i += 1
            sep, scol = toks[i][1], toks[i][2]
            if sep == ")":
                i += 1
                break
            if sep != ",":
                raise FamilyParameterError("expected ',' or ')'", spec, scol)
            i += 1
    if toks[i][0] != "end":
        raise FamilyParameterError("unexpected text after ')'", spec, toks[i][2])
    return name, args, kwargs, key_cols


def get(spec: str) -> DFA:
    """The minimal DFA of a spec string such as ``"parity"`` or ``"dihedral(m=4)"``.

    Parameters
    ----------
    spec : str
        ``name`` or ``name(args)``; see the module docstring.

    Raises
    ------
    UnknownLanguageError
        The name is not registered; the message suggests the closest names.
    FamilyParameterError
        The spec is malformed or a value is out of range; the message names the column.

    Examples
    --------
    >>> get("symmetric(5)").n_states
    120
    >>> get("cylic(5)")
    Traceback (most recent call last):
    ...
    statetrack.automata.errors.UnknownLanguageError: unknown language 'cylic'; did you mean 'cyclic'?
    >>> get("cyclic(m=0)")
    Traceback (most recent call last):
    ...
    statetrack.automata.errors.FamilyParameterError: cyclic: parameter 'm' must be an integer in 1..10000, got 0 at column 10
      cyclic(m=0)
               ^
    """
    name, args, kwargs, key_cols = _parse(spec)
    fam = FAMILIES.get(name)
    if fam is None:
        folded = [f for f in FAMILIES if f.lower() == name.lower()]   # 'PARITY': 'parity'
        close = folded or difflib.get_close_matches(name.lower(), list(FAMILIES), n=3,
                                                    cutoff=0.6)
        hint = (f"; did you mean {' or '.join(repr(c) for c in close)}?" if close
                else f"; known languages: {', '.join(names())}")
        err = UnknownLanguageError(f"unknown language {name!r}{hint}")
        err.suggestions = close
        raise err
    if len(args) > len(fam.params):
        raise FamilyParameterError(
            fam._arity(),
            spec, args[len(fam.params)][1])
    located: dict[str, tuple[Any, int]] = {}
    for p, (v, col) in zip(fam.params, args):
        located[p.name] = (v, col)
    by_name = {p.name: p for p in fam.params}
    for key, (v, col) in kwargs.items():
        if key not in by_name:
            raise FamilyParameterError(
                f"{name} has no parameter {key!r}; parameters: {fam._param_list()}",
                spec, key_cols[key], param=key)
        if key in located:
            raise FamilyParameterError(f"{name}: parameter {key!r} given twice", spec,
                                       key_cols[key], param=key)
        located[key] = (v, col)
    values = {}
    for key, (v, col) in located.items():
        if by_name[key].type is str and isinstance(v, int):
            v = _raw_value(spec, col)
        try:
            values[key] = by_name[key].check(v, name)
        except FamilyParameterError as e:
            raise FamilyParameterError(str(e), spec, col, param=key) from None
    return fam(**values)


def _raw_value(spec: str, col: int) -> str:
    m = re.compile(r"[+-]?[0-9]+").match(spec, col - 1)
    assert m is not None
    return m.group(0)


# ====================================================================== helpers
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _minimal(dfa: DFA) -> DFA:
    """Minimize, labelling each class by its first member in the input's BFS order."""
    m = dfa.minimize()
    cls = np.full(dfa.n_states, -1, dtype=np.int64)
    cls[dfa.start] = m.start
    delta, mdelta = dfa.transitions, m.transitions
    for q in dfa.reachable_states():
        cls[delta[q]] = mdelta[cls[q]]
    labels = [""] * m.n_states
    for q in dfa.reachable_states()[::-1]:
        labels[cls[q]] = dfa.state_label(int(q))
    return DFA(mdelta, m.start, m.accepting, m.alphabet, labels=labels)


def _from_function(start: Hashable, alphabet: Sequence[str], step: Callable, accept: Callable,
                   label: Callable[[Any], str] = str) -> DFA:
    return _minimal(DFA.from_function(start, alphabet, step, accept, label=label))


def _word_problem(letters: Sequence[tuple[str, Sequence[int]]],
                  label: Callable[[np.ndarray], str]) -> DFA:
    """Cayley automaton of the permutation group generated by ``letters``.

    States are permutations ``pi`` (one-line arrays); letter ``sigma`` maps ``pi`` to
    ``sigma[pi]`` (= sigma o pi); start and only accepting state: the identity. States are
    numbered breadth-first (symbols in alphabet order), so the result is canonical.
    """
    gens = np.array([p for _, p in letters], dtype=np.int64)
    n = gens.shape[1]
    identity = np.arange(n, dtype=np.int64)
    order = [identity]
    ids = {identity.tobytes(): 0}
    rows = []
    i = 0
    while i < len(order):
        succ = gens[:, order[i]]  # [k, n]: row j is sigma_j o pi
        row = []
        for s in succ:
            key = s.tobytes()
            j = ids.get(key)
            if j is None:
                j = ids[key] = len(order)
                order.append(s)
            row.append(j)
        rows.append(row)
        i += 1
    return DFA(np.array(rows, dtype=np.int64), 0, [0], [name for name, _ in letters],
               labels=[label(p) for p in order])


def _one_line(p: np.ndarray) -> str:
    return "".join(str(int(x)) for x in p)


def _check_states(family: str, n_states: int, limit: int, what: str) -> None:
    if n_states > limit:
        raise FamilyParameterError(
            f"{family}: {what} gives {n_states} states, more than the limit {limit}")


# ====================================================================== counting
@register(params=(Param("accept", "odd", "accept words with an odd or an even number of 1s",
                        choices=("odd", "even")),))
def parity(accept: str = "odd") -> DFA:
    """Parity: words over {0, 1} with an odd (default) or even number of 1s.

    The language is ``{w in {0,1}* : |w|_1 is odd}`` (``accept="odd"``, the parity bit of the
    word is 1) or ``{w : |w|_1 is even}`` (``accept="even"``; this is Grazzi et al.'s
    ``(11)*`` up to the 0s, and Deletang et al.'s "even number of ones").

    Parameters
    ----------
    accept : {"odd", "even"}
        Which parity is accepted.

    Returns
    -------
    DFA
        2 states labelled ``even`` (start) and ``odd``; the letter ``1`` swaps them, ``0``
        fixes them (transition monoid Z_2).

    Examples
    --------
    >>> d = parity()
    >>> d.alphabet, d.n_states
    (('0', '1'), 2)
    >>> d.accepts("1011"), d.accepts("1001")
    (True, False)
    >>> parity(accept="even").accepts("")
    True
    """
    target = 1 if accept == "odd" else 0
    return _from_function(0, "01", lambda q, a: q ^ (a == "1"), lambda q: q == target,
                          lambda q: "odd" if q else "even")


@register(params=(Param("m", 3, "the modulus", minimum=1, maximum=100_000),
                  Param("k", 0, "the accepted residue, 0 <= k < m", minimum=0)))
def count_mod(m: int = 3, k: int = 0) -> DFA:
    """Counting modulo m: words over {a, b} whose number of a's is congruent to k mod m.

    The language is ``{w in {a,b}* : |w|_a = k (mod m)}``; ``b`` is a neutral letter. This is
    "counting modulo m" of Grazzi et al.'s Theorem 2 (a non-power-of-2 m needs a non-real
    eigenvalue in a triangular LRNN).

    Parameters
    ----------
    m : int
        The modulus, ``m >= 1``.
    k : int
        The accepted residue, ``0 <= k < m``.

    Returns
    -------
    DFA
        m states labelled by the count mod m (start ``0``), accepting ``k``.

    Examples
    --------
    >>> d = count_mod(3)
    >>> d.n_states, d.accepts("abaab"), d.accepts("aa")
    (3, True, False)
    >>> count_mod(4, 1).accepts("babaaaab")
    True
    """
    if k >= m:
        raise FamilyParameterError(f"count_mod: parameter 'k' must be < m = {m}, got {k}",
                                   param="k")
    return _from_function(0, "ab", lambda q, a: (q + (a == "a")) % m, lambda q: q == k)


@register(params=(Param("k", 3, "the threshold", minimum=0, maximum=100_000),))
def at_least(k: int = 3) -> DFA:
    """Threshold counting: words over {a, b} with at least k a's.

    The language is ``{w in {a,b}* : |w|_a >= k}``. Its transition monoid is aperiodic
    (threshold counting is star-free), in contrast with :func:`count_mod`.

    Parameters
    ----------
    k : int
        The threshold, ``k >= 0``.

    Returns
    -------
    DFA
        k + 1 states labelled ``0..k`` (the count, saturated at k); accepting: ``k``.

    Examples
    --------
    >>> d = at_least(2)
    >>> d.n_states, d.accepts("bab"), d.accepts("abba")
    (3, False, True)
    """
    return _from_function(0, "ab", lambda q, a: min(k, q + (a == "a")), lambda q: q >= k)


@register(params=(Param("m", 2, "the period", minimum=1, maximum=100_000),))
def aa_star(m: int = 2) -> DFA:
    """The language ``(a^m)*`` over {a, b}: only a's, and a multiple of m of them.

    For ``m = 2`` this is the classic ``(aa)*``, the standard regular language that is not
    star-free: its transition monoid contains the group Z_m (for m >= 2), so it is not
    aperiodic (Schützenberger). Any ``b`` rejects.

    Parameters
    ----------
    m : int
        The period, ``m >= 1``.

    Returns
    -------
    DFA
        m + 1 states: the number of a's mod m (start ``0``, accepting) and a sink.

    Examples
    --------
    >>> d = aa_star()
    >>> d.n_states, d.accepts(""), d.accepts("aaaa"), d.accepts("aaa"), d.accepts("aab")
    (3, True, True, False, False)
    """
    return _from_function(0, "ab", lambda q, a: -1 if q < 0 or a == "b" else (q + 1) % m,
                          lambda q: q == 0, lambda q: "sink" if q < 0 else str(q))


@register(params=(Param("m", 3, "the modulus", minimum=1, maximum=100_000),))
def counter_reset(m: int = 3) -> DFA:
    """A permutation–reset automaton: a counter mod m with a reset letter.

    Alphabet ``{a, r}``: ``a`` adds 1 modulo m, ``r`` resets the counter to 0. The language is
    the set of words in which the number of a's after the last r (or in the whole word, if
    there is no r) is divisible by m. Its letters are a permutation (``a``) and a constant map
    (``r``): the building block of Krohn–Rhodes cascades.

    Parameters
    ----------
    m : int
        The modulus, ``m >= 1``.

    Returns
    -------
    DFA
        m states labelled by the counter (start ``0``, accepting ``0``).

    Examples
    --------
    >>> d = counter_reset(3)
    >>> d.n_states, d.accepts("aaraaa"), d.accepts("aaaara")
    (3, True, False)
    """
    return _from_function(0, "ar", lambda q, a: (q + 1) % m if a == "a" else 0,
                          lambda q: q == 0)


@register(params=(Param("m", 3, "the divisor", minimum=1, maximum=100_000),))
def binary_divisible(m: int = 3) -> DFA:
    """Binary numerals (most significant bit first) whose value is divisible by m.

    Alphabet ``{0, 1}``; a word ``b_1 ... b_t`` denotes ``sum b_i 2^(t-i)``, the empty word
    denotes 0 (accepted), and leading zeros are allowed. For odd m the minimal DFA has m
    states (doubling is a bijection mod m); for even m residues that differ by a multiple of
    ``m / 2^v`` eventually agree and fewer states remain.

    Parameters
    ----------
    m : int
        The divisor, ``m >= 1``.

    Returns
    -------
    DFA
        States labelled by a residue of the value mod m (start and accepting ``0``).

    Examples
    --------
    >>> d = binary_divisible(3)
    >>> d.n_states, d.accepts("110"), d.accepts("111")
    (3, True, False)
    """
    return _from_function(0, "01", lambda q, a: (2 * q + (a == "1")) % m, lambda q: q == 0)


# ====================================================================== group word problems
@register(params=(Param("m", 5, "the order of the group", minimum=1, maximum=10_000),
                  Param("generators", "standard", "which letters",
                        choices=("standard", "all"))))
def cyclic(m: int = 5, generators: str = "standard") -> DFA:
    """Word problem of the cyclic group Z_m: accept iff the letters sum to 0 mod m.

    ``generators="standard"``: alphabet ``{0, 1}``, letter ``1`` is the generator +1 and
    ``0`` the identity, so the language is ``{w in {0,1}* : |w|_1 = 0 (mod m)}`` (for m = 2
    the even-parity language). ``generators="all"``: alphabet ``{0, ..., m-1}`` (one letter
    per element, multi-character for m > 10; ``m <= 200``), letter i adds i, and the
    language is the words whose letters sum to 0 mod m.

    The state is the group element, the shift ``x -> x + s`` of the points ``{0..m-1}``,
    labelled by s; start and only accepting state: the identity ``0``.

    Parameters
    ----------
    m : int
        The order, ``m >= 1``.
    generators : {"standard", "all"}
        The letters.

    Returns
    -------
    DFA
        m states; every letter permutes them (transition monoid Z_m).

    Examples
    --------
    >>> d = cyclic(5)
    >>> d.n_states, d.alphabet
    (5, ('0', '1'))
    >>> d.accepts("1101011"), d.accepts("1101")
    (True, False)
    >>> cyclic(4, "all").accepts([ "3", "2", "3"])
    True
    """
    if generators == "all":
        if m > 200:
            raise FamilyParameterError(
                f"cyclic: generators='all' needs m <= 200 (m letters), got m = {m}", param="m")
        letters = [(str(i), [(x + i) % m for x in range(m)]) for i in range(m)]
    else:
        letters = [("0", list(range(m))), ("1", [(x + 1) % m for x in range(m)])]
    return _word_problem(letters, lambda p: str(int(p[0])))


@register(params=(Param("m", 4, "the number of vertices of the polygon", minimum=3,
                        maximum=10_000),
                  Param("generators", "standard", "which letters",
                        choices=("standard", "all"))))
def dihedral(m: int = 4, generators: str = "standard") -> DFA:
    """Word problem of the dihedral group D_m (the 2m symmetries of a regular m-gon).

    The group acts on the vertices ``{0, ..., m-1}``. ``generators="standard"``: alphabet
    ``{r, s}`` with ``r`` the rotation ``x -> x + 1`` and ``s`` the reflection ``x -> -x``
    (mod m). ``generators="all"``: one letter per element (``m <= 100``): ``r<k>`` is the
    rotation ``x -> x + k`` and ``s<k>`` the reflection ``x -> k - x``, ``k = 0..m-1``.

    The language is the words whose product is the identity: reading ``g_1 ... g_t`` the state
    is the symmetry ``g_t o ... o g_1`` (apply ``g_1`` first), labelled ``r<k>`` or ``s<k>``
    as above; start and only accepting state: the identity ``r0``.

    Parameters
    ----------
    m : int
        The number of vertices, ``m >= 3`` (D_m has order 2m).
    generators : {"standard", "all"}
        The letters.

    Returns
    -------
    DFA
        2m states; every letter permutes them (transition monoid D_m).

    Examples
    --------
    >>> d = dihedral(4)
    >>> d.n_states, d.alphabet
    (8, ('r', 's'))
    >>> d.accepts("rrrr"), d.accepts("ss"), d.accepts("rsrs"), d.accepts("rs")
    (True, True, True, False)
    >>> d.state_label(d.final_state("rs"))  # x -> x + 1, then x -> -x: x -> 3 - x
    's3'
    """
    if generators == "all":
        if m > 100:
            raise FamilyParameterError(
                f"dihedral: generators='all' needs m <= 100 (2m letters), got m = {m}", param="m")
        letters = ([(f"r{k}", [(x + k) % m for x in range(m)]) for k in range(m)]
                   + [(f"s{k}", [(k - x) % m for x in range(m)]) for k in range(m)])
    else:
        letters = [("r", [(x + 1) % m for x in range(m)]), ("s", [(-x) % m for x in range(m)])]

    def label(p: np.ndarray) -> str:
        k = int(p[0])
        return f"r{k}" if int(p[1]) == (k + 1) % m else f"s{k}"

    return _word_problem(letters, label)


_SYMMETRIC_GENERATORS = ("transpositions", "star", "adjacent", "pair", "all")


def _transposition(n: int, i: int, j: int) -> list[int]:
    p = list(range(n))
    p[i], p[j] = j, i
    return p


@register(params=(Param("n", 5, "the number of points", minimum=2, maximum=8),
                  Param("generators", "transpositions", "which letters",
                        choices=_SYMMETRIC_GENERATORS)))
def symmetric(n: int = 5, generators: str = "transpositions") -> DFA:
    """Word problem of the symmetric group S_n (permutations of n points).

    The letters (``generators``), permutations of ``{0, ..., n-1}``:

    * ``"transpositions"`` (default): every swap ``(i j)``, ``i < j``, named ``t<i><j>``
      (``n(n-1)/2`` letters; the "swaps only" S_5 task of Grazzi et al.);
    * ``"star"``: the swaps ``(0 i)``, named ``t0<i>`` (n - 1 letters);
    * ``"adjacent"``: the Coxeter generators ``(i i+1)``, named ``t<i><i+1>``;
    * ``"pair"``: ``t01`` and the n-cycle ``c: x -> x + 1 mod n``;
    * ``"all"``: every element as a letter, named by its one-line notation
      (``n! `` letters, n <= 6; the full S_5 task of Merrill et al. uses these 120 tokens).

    The language is the words whose product is the identity permutation. Reading
    ``sigma_1 ... sigma_t`` the state is ``sigma_t o ... o sigma_1`` (apply ``sigma_1``
    first), labelled by its one-line notation ``pi(0) pi(1) ... pi(n-1)``; start and only
    accepting state: the identity ``01...n-1``.

    Parameters
    ----------
    n : int
        The number of points, ``2 <= n <= 8``.
    generators : str
        One of the sets above.

    Returns
    -------
    DFA
        n! states; every letter permutes them (transition monoid S_n).

    Examples
    --------
    >>> d = symmetric(3)
    >>> d.n_states, d.alphabet
    (6, ('t01', 't02', 't12'))
    >>> d.accepts("t01 t12 t01 t12 t01 t12"), d.accepts("t01 t12")
    (True, False)
    >>> d.state_label(d.final_state("t01 t12"))
    '201'
    """
    if generators == "all":
        if n > 6:
            raise FamilyParameterError(
                f"symmetric: generators='all' needs n <= 6 (n! letters), got n = {n}", param="n")
        letters = [(_one_line(np.array(p)), list(p)) for p in itertools.permutations(range(n))]
    elif generators == "transpositions":
        letters = [(f"t{i}{j}", _transposition(n, i, j))
                   for i, j in itertools.combinations(range(n), 2)]
    elif generators == "star":
        letters = [(f"t0{i}", _transposition(n, 0, i)) for i in range(1, n)]
    elif generators == "adjacent":
        letters = [(f"t{i}{i + 1}", _transposition(n, i, i + 1)) for i in range(n - 1)]
    else:  # pair
        letters = [("t01", _transposition(n, 0, 1)), ("c", [(x + 1) % n for x in range(n)])]
    return _word_problem(letters, _one_line)


def _three_cycle(n: int, a: int, b: int, c: int) -> list[int]:
    p = list(range(n))
    p[a], p[b], p[c] = b, c, a
    return p


@register(params=(Param("n", 5, "the number of points", minimum=3, maximum=8),
                  Param("generators", "3cycles", "which letters", choices=("3cycles", "all"))))
def alternating(n: int = 5, generators: str = "3cycles") -> DFA:
    """Word problem of the alternating group A_n (even permutations of n points).

    Letters (``generators``): ``"3cycles"`` (default) the 3-cycles ``(0 1 i)`` mapping
    ``0 -> 1 -> i -> 0``, named ``c01<i>`` for ``i = 2..n-1`` (they generate A_n);
    ``"all"`` every even permutation, named by its one-line notation (n <= 6).

    The language is the words whose product is the identity. As for :func:`symmetric`,
    reading ``sigma_1 ... sigma_t`` leads to the state ``sigma_t o ... o sigma_1``, labelled
    by its one-line notation; start and only accepting state: the identity.

    Parameters
    ----------
    n : int
        The number of points, ``3 <= n <= 8``.
    generators : {"3cycles", "all"}
        The letters.

    Returns
    -------
    DFA
        n!/2 states; every letter permutes them (transition monoid A_n).

    Examples
    --------
    >>> d = alternating(4)
    >>> d.n_states, d.alphabet
    (12, ('c012', 'c013'))
    >>> d.accepts("c012 c012 c012"), d.accepts("c012 c013")
    (True, False)
    """
    if generators == "all":
        if n > 6:
            raise FamilyParameterError(
                f"alternating: generators='all' needs n <= 6 (n!/2 letters), got n = {n}",
                param="n")
        letters = [(_one_line(np.array(p)), list(p)) for p in itertools.permutations(range(n))
                   if _is_even(p)]
    else:
        letters = [(f"c01{i}", _three_cycle(n, 0, 1, i)) for i in range(2, n)]
    return _word_problem(letters, _one_line)


def _is_even(p: Sequence[int]) -> bool:
    inversions = sum(1 for i, j in itertools.combinations(range(len(p)), 2) if p[i] > p[j])
    return inversions % 2 == 0


_Q8_NAMES = ("1", "-1", "i", "-i", "j", "-j", "k", "-k")


def _quaternion_units() -> list[tuple[int, int, int, int]]:
    units = []
    for axis in range(4):
        for sign in (1, -1):
            v = [0, 0, 0, 0]
            v[axis] = sign
            units.append((v[0], v[1], v[2], v[3]))
    return units  # in the order of _Q8_NAMES


def _qmul(x: Sequence[int], y: Sequence[int]) -> tuple[int, int, int, int]:
    a1, b1, c1, d1 = x
    a2, b2, c2, d2 = y
    return (a1 * a2 - b1 * b2 - c1 * c2 - d1 * d2,
            a1 * b2 + b1 * a2 + c1 * d2 - d1 * c2,
            a1 * c2 - b1 * d2 + c1 * a2 + d1 * b2,
            a1 * d2 + b1 * c2 - c1 * b2 + d1 * a2)


@register(params=(Param("generators", "standard", "which letters",
                        choices=("standard", "all")),))
def quaternion(generators: str = "standard") -> DFA:
    """Word problem of the quaternion group Q_8 = {±1, ±i, ±j, ±k}.

    ``i^2 = j^2 = k^2 = ijk = -1``. Letters: ``"standard"`` the generators ``i`` and ``j``;
    ``"all"`` the eight elements ``1, -1, i, -i, j, -j, k, -k`` (words given as strings are
    then split on spaces). The language is the words ``g_1 ... g_t`` with
    ``g_1 g_2 ... g_t = 1``; the state is that product (Q_8 acting on itself by right
    multiplication), labelled by its name; start and only accepting state: ``1``.

    Parameters
    ----------
    generators : {"standard", "all"}
        The letters.

    Returns
    -------
    DFA
        8 states; every letter permutes them (transition monoid Q_8).

    Examples
    --------
    >>> d = quaternion()
    >>> d.n_states, d.alphabet
    (8, ('i', 'j'))
    >>> d.accepts("iiii"), d.accepts("ii"), d.state_label(d.final_state("ij"))
    (True, False, 'k')
    """
    units = _quaternion_units()
    index = {u: t for t, u in enumerate(units)}
    chosen = _Q8_NAMES if generators == "all" else ("i", "j")
    letters = []
    for name in chosen:
        g = units[_Q8_NAMES.index(name)]
        letters.append((name, [index[_qmul(x, g)] for x in units]))
    return _word_problem(letters, lambda p: _Q8_NAMES[int(p[0])])


# ====================================================================== tasks of the papers
@register()
def flip_flop() -> DFA:
    """Flip-flop (set–reset) automaton: accept iff the last written bit is 1.

    Alphabet ``{0, 1, _}``: ``0`` writes 0, ``1`` writes 1, ``_`` leaves the memory as it is
    (ignore/read). The memory starts at 0, so the language is the words whose last letter
    other than ``_`` is ``1`` (the regex ``.*1_*``). This is the flip-flop of Liu et al.
    (ICLR 2023); its transition monoid is U_2 = {identity, reset to 0, reset to 1}, the
    aperiodic building block of Krohn–Rhodes.

    Returns
    -------
    DFA
        2 states labelled by the memory bit (start ``0``, accepting ``1``).

    Examples
    --------
    >>> d = flip_flop()
    >>> d.n_states, d.alphabet
    (2, ('0', '1', '_'))
    >>> d.accepts("01__"), d.accepts("10_"), d.accepts("___")
    (True, False, False)
    """
    return _from_function(0, "01_", lambda q, a: q if a == "_" else int(a), lambda q: q == 1)


@register()
def flip_flop_language() -> DFA:
    """The flip-flop language: instruction–bit pairs where every read returns the last write.

    Alphabet ``{w, r, i, 0, 1}``. A word is accepted iff it is a sequence of pairs
    ``x_1 b_1 x_2 b_2 ... x_T b_T`` (``T >= 0``) with instructions ``x_t in {w, r, i}``
    (write, read, ignore) and bits ``b_t in {0, 1}``, such that every read ``r b`` comes after
    some write and ``b`` equals the bit of the most recent ``w``. After Liu et al. (NeurIPS
    2023, "Exposing attention glitches with flip-flop language modeling").

    Returns
    -------
    DFA
        10 states: expecting an instruction with memory none/0/1 (accepting), expecting the
        bit of a write, of a read of 0 or 1, or of an ignore (with memory none/0/1), and a sink.

    Examples
    --------
    >>> d = flip_flop_language()
    >>> d.n_states
    10
    >>> d.accepts("w1i0r1"), d.accepts("w1w0r1"), d.accepts("r0"), d.accepts("w1r")
    (True, False, False, False)
    """
    sink = ("sink",)

    def step(q: tuple, a: str) -> tuple:
        kind = q[0]
        if kind == "E":  # expecting an instruction; q[1] is the memory (None, 0 or 1)
            mem = q[1]
            if a == "w":
                return ("W",)
            if a == "i":
                return ("I", mem)
            if a == "r" and mem is not None:
                return ("R", mem)
            return sink
        if kind == "W" and a in "01":
            return ("E", int(a))
        if kind == "I" and a in "01":
            return ("E", q[1])
        if kind == "R" and a == str(q[1]):
            return ("E", q[1])
        return sink

    def label(q: tuple) -> str:
        return "sink" if q == sink else q[0] + ("" if len(q) == 1 else
                                               "-" if q[1] is None else str(q[1]))

    return _from_function(("E", None), "wri01", step, lambda q: q[0] == "E", label)


@register()
def even_pairs() -> DFA:
    """Even pairs (Deletang et al.): words over {a, b} with an even number of ab and ba.

    The language is the words w such that the number of positions i with
    ``w[i] w[i+1]`` in ``{ab, ba}`` is even. Each such factor is a change of letter, so this is
    the words that are empty or whose first and last letters are equal. Star-free (aperiodic
    monoid) although it looks like counting.

    Returns
    -------
    DFA
        5 states: the start (empty word) and the pairs (first letter, last letter).

    Examples
    --------
    >>> d = even_pairs()
    >>> d.n_states, d.accepts("abba"), d.accepts("aab"), d.accepts("")
    (5, True, False, True)
    """
    return _from_function(
        "", "ab", lambda q, a: (a + a) if q == "" else q[0] + a, lambda q: q == "" or q[0] == q[1],
        lambda q: q or "empty")


@register(params=(Param("length", 5, "the number of positions on the cycle", minimum=1,
                        maximum=100_000),
                  Param("target", 0, "the accepted final position", minimum=0)))
def cycle_navigation(length: int = 5, target: int = 0) -> DFA:
    """Cycle navigation (Deletang et al.): moves on a cycle, accept iff we end at ``target``.

    Alphabet ``{0, +, -}``: ``0`` stays, ``+`` moves one step forward, ``-`` one step back on
    a cycle of ``length`` positions, starting at position 0. The language is the words with
    ``#(+) - #(-) = target (mod length)``; its transition monoid is the cyclic group.

    Parameters
    ----------
    length : int
        The number of positions, ``length >= 1`` (Deletang et al. use 5).
    target : int
        The accepted position, ``0 <= target < length``.

    Returns
    -------
    DFA
        ``length`` states labelled by the position.

    Examples
    --------
    >>> d = cycle_navigation()
    >>> d.n_states, d.accepts("++-0-"), d.accepts("+++++"), d.accepts("+")
    (5, True, True, False)
    """
    if target >= length:
        raise FamilyParameterError(
            f"cycle_navigation: parameter 'target' must be < length = {length}, got {target}",
            param="target")
    move = {"0": 0, "+": 1, "-": -1}
    return _from_function(0, "0+-", lambda q, a: (q + move[a]) % length, lambda q: q == target)


@register(params=(Param("m", 5, "the modulus (digits 0..m-1)", minimum=2, maximum=10),
                  Param("target", 0, "the accepted value mod m", minimum=0)))
def modular_arithmetic(m: int = 5, target: int = 0) -> DFA:
    """Modular arithmetic without brackets: well-formed expressions whose value is ``target``.

    Alphabet ``{0, ..., m-1, +, -, *}``. A word is accepted iff it is a well-formed expression
    ``n_0 op_1 n_1 ... op_T n_T`` (``T >= 0``; digits and binary operators alternate, starting
    and ending with a digit; no unary minus) and its value, computed with the usual precedence
    (``*`` binds tighter than ``+`` and ``-``, which associate to the left), is congruent to
    ``target`` modulo m. Ill-formed words (empty, two digits or two operators in a row, a
    leading or trailing operator) are rejected. The task of Deletang et al. and Grazzi et al.
    (m = 5) without the ``=`` and answer tokens.

    States: while reading, the value is ``S + T`` with S the sum of the finished additive terms
    and T the current product term (a sign times the factors so far). After a digit the state
    is ``(S, T)``; after an operator it is ``(S, c)`` where the next digit n makes ``T = c n``
    (``c = 1`` after ``+``, ``-1`` after ``-``, ``c = T`` after ``*``). All ``2 m^2`` such states
    are reachable and pairwise distinguishable, plus a sink: ``2 m^2 + 1`` states.

    Parameters
    ----------
    m : int
        The modulus, ``2 <= m <= 10`` (the digits are single characters).
    target : int
        The accepted value, ``0 <= target < m``.

    Returns
    -------
    DFA
        ``2 m^2 + 1`` states; labels ``S+T`` after a digit, ``S+c*_`` after an operator.

    Examples
    --------
    >>> d = modular_arithmetic(5)
    >>> d.n_states
    51
    >>> d.accepts("2+3*1"), d.accepts("4-2*2"), d.accepts("2+3*2"), d.accepts("2+")
    (True, True, False, False)
    """
    if target >= m:
        raise FamilyParameterError(
            f"modular_arithmetic: parameter 'target' must be < m = {m}, got {target}",
            param="target")
    digits = [str(i) for i in range(m)]
    sink = ("sink",)

    def step(q: tuple, a: str) -> tuple:
        if q == sink:
            return sink
        kind, s, t = q
        if kind == "E":  # expecting a digit; t is the coefficient c
            return ("C", s, (t * int(a)) % m) if a in digits else sink
        if a == "+":
            return ("E", (s + t) % m, 1)
        if a == "-":
            return ("E", (s + t) % m, m - 1)
        if a == "*":
            return ("E", s, t)
        return sink

    def label(q: tuple) -> str:
        if q == sink:
            return "sink"
        return f"{q[1]}+{q[2]}" if q[0] == "C" else f"{q[1]}+{q[2]}*_"

    return _from_function(("E", 0, 1), [*digits, "+", "-", "*"], step,
                          lambda q: q[0] == "C" and (q[1] + q[2]) % m == target, label)


_BRACKETS = ("()", "[]", "{}")


@register(params=(Param("depth", 2, "the maximal nesting depth", minimum=1, maximum=64),
                  Param("types", 1, "the number of bracket types: (), [], {}", minimum=1,
                        maximum=3)))
def dyck(depth: int = 2, types: int = 1) -> DFA:
    """Bounded-depth Dyck language: balanced brackets nested at most ``depth`` deep.

    Alphabet: the first ``types`` of the pairs ``()``, ``[]``, ``{}`` (opening symbols
    first). A word is accepted iff it is balanced (every closing bracket matches the most
    recent unmatched opening bracket of the same type, and none is left open) and at no prefix
    are more than ``depth`` brackets open.

    Parameters
    ----------
    depth : int
        The maximal depth, ``depth >= 1``.
    types : int
        The number of bracket types, 1 to 3.

    Returns
    -------
    DFA
        One state per stack of open brackets of height ``<= depth`` (labelled by the stack,
        ``ε`` for the empty one; start and accepting) plus a sink:
        ``1 + types + ... + types^depth + 1`` states (at most 100000).

    Examples
    --------
    >>> d = dyck(2)
    >>> d.n_states, d.alphabet
    (4, ('(', ')'))
    >>> d.accepts("(())()"), d.accepts("((()))"), d.accepts("())(")
    (True, False, False)
    >>> dyck(2, 2).accepts("([])[]"), dyck(2, 2).accepts("([)]")
    (True, False)
    """
    n_states = sum(types ** i for i in range(depth + 1)) + 1
    _check_states("dyck", n_states, 100_000, f"depth={depth} with types={types}")
    pairs = _BRACKETS[:types]
    opening = {p[0]: t for t, p in enumerate(pairs)}
    closing = {p[1]: t for t, p in enumerate(pairs)}
    alphabet = [p[0] for p in pairs] + [p[1] for p in pairs]

    def step(q: tuple | None, a: str) -> tuple | None:
        if q is None:
            return None
        if a in opening:
            return q + (opening[a],) if len(q) < depth else None
        return q[:-1] if q and q[-1] == closing[a] else None

    def label(q: tuple | None) -> str:
        return "sink" if q is None else ("".join(pairs[t][0] for t in q) or "ε")

    return _from_function((), alphabet, step, lambda q: q == (), label)


@register()
def ab_star() -> DFA:
    """The language ``(ab)*`` over {a, b}: a star-free language.

    Accepted: the empty word, ``ab``, ``abab``, ... Its complement is "starts with b, ends
    with a, or contains aa or bb", so it is star-free and its transition monoid is aperiodic
    (unlike ``(aa)*``, see :func:`aa_star`).

    Returns
    -------
    DFA
        3 states: expecting ``a`` (start, accepting), expecting ``b``, and a sink.

    Examples
    --------
    >>> d = ab_star()
    >>> d.n_states, d.accepts("abab"), d.accepts("aba"), d.accepts("ba")
    (3, True, False, False)
    """
    nxt = {(0, "a"): 1, (1, "b"): 0}
    return _from_function(0, "ab", lambda q, a: nxt.get((q, a), 2), lambda q: q == 0,
                          lambda q: ("expect a", "expect b", "sink")[q])


@register(params=(Param("k", 2, "the alphabet size (letters a, b, c, ...)", minimum=1,
                        maximum=26),))
def first_symbol(k: int = 2) -> DFA:
    """Words whose first letter is ``a``, over the first k letters ``{a, b, ...}``.

    The language is ``a Σ*`` with ``Σ`` the first k lowercase letters.

    Parameters
    ----------
    k : int
        The alphabet size, 1 to 26.

    Returns
    -------
    DFA
        3 states (start, "first was a" accepting, "first was not a"); 2 when k = 1.

    Examples
    --------
    >>> d = first_symbol()
    >>> d.n_states, d.accepts("abb"), d.accepts("ba"), d.accepts("")
    (3, True, False, False)
    """
    return _from_function("start", _LETTERS[:k],
                          lambda q, a: q if q != "start" else ("yes" if a == "a" else "no"),
                          lambda q: q == "yes")


@register(params=(Param("k", 2, "the alphabet size (letters a, b, c, ...)", minimum=1,
                        maximum=26),))
def last_symbol(k: int = 2) -> DFA:
    """Words whose last letter is ``a``, over the first k letters ``{a, b, ...}``.

    The language is ``Σ* a`` with ``Σ`` the first k lowercase letters.

    Parameters
    ----------
    k : int
        The alphabet size, 1 to 26.

    Returns
    -------
    DFA
        2 states: "last letter is a" (accepting) and "empty or last letter is not a" (start).

    Examples
    --------
    >>> d = last_symbol(3)
    >>> d.n_states, d.accepts("cba"), d.accepts("ab"), d.accepts("")
    (2, True, False, False)
    """
    return _from_function(False, _LETTERS[:k], lambda q, a: a == "a", lambda q: q,
                          lambda q: "last=a" if q else "other")


@register(params=(Param("width", 5, "the number of cells", minimum=1, maximum=100_000),
                  Param("target", -1, "the accepted cell; negative counts from the right wall")))
def grid_world(width: int = 5, target: int = -1) -> DFA:
    """Grid world: a walker on cells ``0..width-1`` with walls; accept iff it ends on target.

    Alphabet ``{L, R}``: ``L`` moves one cell left, ``R`` one cell right, and a move into a
    wall does nothing (``max(x - 1, 0)``, ``min(x + 1, width - 1)``). The walker starts at the
    left wall (cell 0). The language is the words after which the walker is on cell
    ``target`` (Python-style: ``-1``, the default, is the right wall ``width - 1``). After the
    grid world of Liu et al. (ICLR 2023); the monoid is aperiodic (moves saturate).

    Parameters
    ----------
    width : int
        The number of cells, ``width >= 1``.
    target : int
        The accepted cell, ``-width <= target < width``.

    Returns
    -------
    DFA
        ``width`` states labelled by the cell (all distinguishable by the number of moves
        needed to reach the target).

    Examples
    --------
    >>> d = grid_world(4)
    >>> d.n_states, d.accepts("RRR"), d.accepts("RRRRRL"), d.accepts("LRRRR")
    (4, True, False, True)
    >>> grid_world(4, target=1).accepts("RRRRLL")
    True
    """
    if not -width <= target < width:
        raise FamilyParameterError(
            f"grid_world: parameter 'target' must be in -{width}..{width - 1} for "
            f"width = {width}, got {target}", param="target")
    goal = target % width
    return _from_function(0, "LR",
                          lambda q, a: max(q - 1, 0) if a == "L" else min(q + 1, width - 1),
                          lambda q: q == goal)


@register(params=(Param("pattern", "abb", "the factor to look for, a word over {a, b}"),))
def contains(pattern: str = "abb") -> DFA:
    """Words over {a, b} that contain ``pattern`` as a factor (contiguous substring).

    The language is ``Σ* pattern Σ*`` with ``Σ = {a, b}``; star-free.

    Parameters
    ----------
    pattern : str
        A non-empty word over {a, b} of at most 1000 letters.

    Returns
    -------
    DFA
        ``len(pattern) + 1`` states (Knuth–Morris–Pratt): the length of the longest prefix of
        the pattern that ends the input so far, the last one (found) absorbing and accepting.

    Examples
    --------
    >>> d = contains("abb")
    >>> d.n_states, d.accepts("babba"), d.accepts("ababa")
    (4, True, False)
    """
    if set(pattern) - set("ab") or len(pattern) > 1000:
        raise FamilyParameterError(
            f"contains: parameter 'pattern' must be a word over {{a, b}} of at most 1000 "
            f"letters, got {pattern!r}", param="pattern")
    L = len(pattern)

    def step(q: int, a: str) -> int:
        if q == L:
            return L
        s = pattern[:q] + a
        while s and not pattern.startswith(s):
            s = s[1:]
        return len(s)

    return _from_function(0, "ab", step, lambda q: q == L,
                          lambda q: pattern[:q] or "ε")


@register(params=(Param("k", 2, "the forbidden run length", minimum=1, maximum=100_000),))
def no_run(k: int = 2) -> DFA:
    """Words over {0, 1} with no k consecutive 1s (default: no ``11``).

    The language is ``{0,1}* \\ {0,1}* 1^k {0,1}*``; star-free (aperiodic monoid).

    Parameters
    ----------
    k : int
        The forbidden run length, ``k >= 1``.

    Returns
    -------
    DFA
        k + 1 states: the length of the current run of 1s (``0..k-1``, accepting) and a sink.

    Examples
    --------
    >>> d = no_run()
    >>> d.n_states, d.accepts("10101"), d.accepts("0110")
    (3, True, False)
    """
    return _from_function(0, "01", lambda q, a: k if q == k else (q + 1 if a == "1" else 0),
                          lambda q: q < k, lambda q: "sink" if q == k else str(q))


_TOMITA = {
    1: "1*",
    2: "(10)*",
    3: "no odd-length run of 1s is followed, anywhere later, by an odd-length run of 0s",
    4: "no 000 factor",
    5: "an even number of 0s and an even number of 1s",
    6: "the number of 0s minus the number of 1s is divisible by 3",
    7: "0*1*0*1*",
}


def _tomita_step(n: int) -> tuple[Any, Callable, Callable]:
    """(start, step, accept) of Tomita grammar n over a natural state space."""
    if n == 1:
        return True, lambda q, a: q and a == "1", bool
    if n == 2:
        nxt = {(0, "1"): 1, (1, "0"): 0}
        return 0, lambda q, a: nxt.get((q, a), 2), lambda q: q == 0
    if n == 3:
        # (armed, run symbol, run length parity); armed = an odd run of 1s has ended.
        def step3(q, a):
            if q is None:
                return None
            armed, sym, odd = q
            if a == sym:
                return armed, sym, not odd
            if sym == "1" and odd:
                armed = True
            if sym == "0" and odd and armed:
                return None
            return armed, a, True

        return (False, "", False), step3, lambda q: q is not None and not (
            q[0] and q[1] == "0" and q[2])
    if n == 4:
        return 0, lambda q, a: 3 if q == 3 else (q + 1 if a == "0" else 0), lambda q: q < 3
    if n == 5:
        return (0, 0), lambda q, a: (q[0] ^ (a == "0"), q[1] ^ (a == "1")), \
            lambda q: q == (0, 0)
    if n == 6:
        return 0, lambda q, a: (q + (1 if a == "0" else -1)) % 3, lambda q: q == 0
    # n == 7: phase = number of letter changes so far, the word starting in the 0* block
    return 0, lambda q, a: min(4, q + (a != "01"[q % 2])) if q < 4 else 4, lambda q: q < 4


@register(params=(Param("n", 3, "which grammar, 1..7", minimum=1, maximum=7),))
def tomita(n: int = 3) -> DFA:
    """The Tomita grammars, a classic benchmark of regular languages over {0, 1}.

    After Tomita (1982), in the form used by Weiss et al. (ICML 2018):

    1. ``1*`` (the empty word included);
    2. ``(10)*``;
    3. the words in which no maximal run of 1s of odd length is followed, anywhere later, by
       a maximal run of 0s of odd length;
    4. the words without the factor ``000``;
    5. the words with an even number of 0s and an even number of 1s;
    6. the words whose number of 0s minus number of 1s is divisible by 3;
    7. ``0*1*0*1*``.

    Parameters
    ----------
    n : int
        Which grammar, 1 to 7.

    Returns
    -------
    DFA
        The minimal DFA: 2, 3, 5, 4, 4, 3, 5 states for n = 1..7.

    Examples
    --------
    >>> [tomita(i).n_states for i in range(1, 8)]
    [2, 3, 5, 4, 4, 3, 5]
    >>> tomita(3).accepts("110100"), tomita(3).accepts("10110")
    (True, False)
    """
    start, step, accept = _tomita_step(n)
    return _from_function(start, "01", step, accept)


# ====================================================================== catalogue
_CATALOGUE = (
    "parity",
    *(f"cyclic({m})" for m in range(2, 13)),
    *(f"dihedral({m})" for m in range(4, 9)),
    *(f"symmetric({n})" for n in range(3, 7)),
    "alternating(4)", "alternating(5)",
    "quaternion",
    "count_mod(3)", "count_mod(4, 1)",
    "at_least(3)",
    "aa_star",
    "counter_reset(3)",
    "binary_divisible(3)", "binary_divisible(6)",
    "flip_flop",
    "flip_flop_language",
    "even_pairs",
    "cycle_navigation(5)",
    "modular_arithmetic(5)",
    "dyck(2)", "dyck(3, 2)",
    "ab_star",
    "first_symbol",
    "last_symbol",
    "grid_world(5)",
    "contains(abb)",
    "no_run(2)",
    "tomita(3)", "tomita(5)",
)


def catalogue() -> list[CatalogueEntry]:
    """The built-in catalogue of languages that ``statetrack check`` runs on.

    Parity; the word problems of Z_m (m = 2..12), D_m (m = 4..8), S_n (n = 3..6, swaps as
    letters), A_4, A_5 and Q_8; and one or two instances of every other family.

    Examples
    --------
    >>> entries = catalogue()
    >>> [e.name for e in entries][:3]
    ['parity', 'cyclic(2)', 'cyclic(3)']
    >>> {e.family for e in entries} == set(names())
    True
    >>> max(e.dfa.n_states for e in entries)
    720
    """
    return [CatalogueEntry(spec, parse_spec(spec)[0], get(spec)) for spec in _CATALOGUE]
