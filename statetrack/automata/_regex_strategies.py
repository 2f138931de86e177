r"""Hypothesis strategy for regular expressions in the dialect of :func:`from_regex`.

Re-exported as ``statetrack.automata.strategies.regexes``. Every pattern drawn is valid both
for :func:`statetrack.automata.regex.from_regex` and for Python's :mod:`re` (without
warnings), with the same meaning under full matching -- which is what makes
``re.fullmatch`` usable as an oracle.

Generation: a tree is drawn top-down. At each node an integer picks the kind (0 = a leaf, so
shrinking turns subtrees into leaves), then the leaf's content or the node's children. Every
leaf counts against ``max_leaves``; past ``max_depth`` or the leaf budget only leaves are drawn.
Leaves are a literal symbol (the most common), ``.``, a class ``[...]``/``[^...]`` of symbols
and ranges, a shorthand (``\d \w \s \D \W \S``) or an empty group ``()``. Inner nodes are
concatenation, alternation (branches may be empty: ``a|``), a group (``(...)`` or
``(?:...)``) and a quantified atom (``* + ?``, ``{m}``, ``{m,}``, ``{,n}``, ``{m,n}``, possibly
lazy). Subexpressions are wrapped in ``(?:...)`` where precedence requires it, so the drawn
string parses to the drawn tree. Characters that are not alphanumeric are always escaped with
a backslash (inside and outside classes), which is valid in both dialects and keeps Python
from warning about possible set operations such as ``[--]``.

Shrinking therefore goes toward short patterns: fewer nodes, leaves that are the first
symbol, no quantifiers, small bounds.
"""

from __future__ import annotations

from typing import Any, Sequence

from hypothesis import strategies as st

from .dfa import _check_alphabet
from .errors import AlphabetError, StrategyArgumentError

__all__ = ["regexes"]

# precedence levels of a drawn subexpression
_EMPTY, _ATOM, _PIECE, _CAT, _ALT = range(5)
_QUANTIFIERS = ("*", "+", "?")
_SHORTHANDS = ("\\w", "\\d", "\\s", "\\W", "\\D", "\\S")


def _escape(c: str) -> str:
    return c if c.isalnum() else "\\" + c


def _check_int(name: str, value: Any, lowest: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise StrategyArgumentError(f"{name} must be an int, got {value!r}")
    if value < lowest:
        raise StrategyArgumentError(f"{name} must be >= {lowest}, got {value}")
    return value


def regexes(
    *,
    alphabet: Sequence[str] | str = "ab",
    max_depth: int = 4,
    max_leaves: int = 8,
    max_repeat: int = 3,
) -> st.SearchStrategy[str]:
    r"""A strategy of patterns valid for :func:`~statetrack.automata.regex.from_regex` and ``re``.

    Parameters
    ----------
    alphabet : str or sequence of str
        The symbols (one character each) that literals, classes and ranges are drawn from.
        Pass the same alphabet to ``from_regex``.
    max_depth : int
        Largest nesting of operators (0: a single leaf).
    max_leaves : int
        Largest number of leaves (literals, classes, ``.``, shorthands, ``()``).
    max_repeat : int
        Largest bound in ``{m}``, ``{m,}``, ``{,n}``, ``{m,n}``.

    Returns
    -------
    SearchStrategy[str]
        Shrinks toward short patterns made of the first symbol.

    Raises
    ------
    StrategyArgumentError
        If a bound is not an int or is out of range.
    AlphabetError
        If the alphabet is empty, has duplicates or a symbol that is not one character.

    Examples
    --------
    >>> import re
    >>> from hypothesis import find, given, settings
    >>> from statetrack.automata.regex import from_regex
    >>> from statetrack.automata.strategies import words
    >>> @settings(max_examples=20, derandomize=True, database=None, deadline=None)
    ... @given(regexes(alphabet="ab"), words("ab", max_size=5))
    ... def agrees_with_re(pattern, w):
    ...     word = "".join(w)
    ...     assert from_regex(pattern, "ab").accepts(word) == bool(re.fullmatch(pattern, word))
    >>> agrees_with_re()
    >>> find(regexes(), lambda p: "*" in p,
    ...      settings=settings(database=None, derandomize=True, deadline=None))
    'a*'
    >>> regexes(max_leaves=0)
    Traceback (most recent call last):
    ...
    statetrack.automata.errors.StrategyArgumentError: max_leaves must be >= 1, got 0
    """
    if isinstance(alphabet, str):
        symbols = tuple(alphabet)
    elif isinstance(alphabet, (list, tuple)):
        symbols = tuple(alphabet)
    else:
        raise AlphabetError(f"the alphabet must be a str or a sequence of one-character "
                            f"strings, got {type(alphabet).__name__}")
    for s in symbols:
        if not isinstance(s, str) or len(s) != 1:
            raise AlphabetError(f"regexes() needs one-character symbols, got {s!r}")
    symbols = _check_alphabet(symbols, None)
    max_depth = _check_int("max_depth", max_depth, 0)
    max_leaves = _check_int("max_leaves", max_leaves, 1)
    max_repeat = _check_int("max_repeat", max_repeat, 0)
    by_code = sorted(symbols)
    symbol = st.sampled_from(symbols)

    @st.composite
    def draw_class(draw: Any) -> str:
        items = draw(st.lists(st.integers(0, 2), min_size=1, max_size=3))
        parts = []
        for kind in items:
            if kind == 2:  # a range lo-hi with lo <= hi by code point
                i = draw(st.integers(0, len(by_code) - 1))
                j = draw(st.integers(i, len(by_code) - 1))
                parts.append(_escape(by_code[i]) + "-" + _escape(by_code[j]))
            elif kind == 1:
                parts.append(draw(st.sampled_from(_SHORTHANDS)))
            else:
                parts.append(_escape(draw(symbol)))
        return "[" + ("^" if draw(st.booleans()) else "") + "".join(parts) + "]"

    @st.composite
    def build(draw: Any) -> str:
        budget = [max_leaves]

        def leaf() -> tuple[str, int]:
            budget[0] -= 1
            kind = draw(st.integers(0, 6))
            if kind <= 2:  # literals are the commonest leaf
                return _escape(draw(symbol)), _ATOM
            if kind == 3:
                return ".", _ATOM
            if kind == 4:
                return draw(draw_class()), _ATOM
            if kind == 5:
                return draw(st.sampled_from(_SHORTHANDS)), _ATOM
            return draw(st.sampled_from(["()", "(?:)"])), _ATOM

        def wrap(text: str, level: int, limit: int) -> str:
            return text if level <= limit and level != _EMPTY else f"(?:{text})"

        def node(depth: int) -> tuple[str, int]:
            if depth == 0 or budget[0] <= 1:
                return leaf()
            kind = draw(st.integers(0, 4))
            if kind == 0:
                return leaf()
            if kind == 1:  # concatenation
                parts = []
                for _ in range(draw(st.integers(2, 3))):
                    parts.append(node(depth - 1))
                    if budget[0] <= 0:
                        break
                if len(parts) == 1:
                    return parts[0]
                return "".join(wrap(t, lv, _CAT) if lv != _EMPTY else t for t, lv in parts), _CAT
            if kind == 2:  # alternation, branches may be empty
                parts = []
                for _ in range(draw(st.integers(2, 3))):
                    parts.append(("", _EMPTY) if draw(st.integers(0, 4)) == 4
                                 else node(depth - 1))
                    if budget[0] <= 0:
                        break
                if len(parts) == 1:
                    return parts[0]
                return "|".join(t for t, _ in parts), _ALT
            if kind == 3:  # group
                text, _ = node(depth - 1)
                return draw(st.sampled_from(["(", "(?:"])) + text + ")", _ATOM
            text, level = node(depth - 1)  # quantified atom
            text = wrap(text, level, _ATOM)
            q = draw(st.integers(0, 6))
            if q < 3:
                quant = _QUANTIFIERS[q]
            else:
                m = draw(st.integers(0, max_repeat))
                n = draw(st.integers(m, max_repeat))
                quant = ("{%d}" % m, "{%d,}" % m, "{,%d}" % n, "{%d,%d}" % (m, n))[q - 3]
            lazy = "?" if draw(st.integers(0, 3)) == 3 else ""
            return text + quant + lazy, _PIECE

        return node(max_depth)[0]

    return build()
