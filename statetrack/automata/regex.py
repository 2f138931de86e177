r"""Regular expressions to minimal DFAs: :func:`from_regex`.

The dialect
-----------
A subset of Python's :mod:`re` syntax with *full-match* semantics: ``from_regex(p, A)``
accepts a word w over the alphabet A exactly when ``re.fullmatch(p, w)`` matches (the test
suite checks this on random patterns). Every pattern this module accepts is a valid Python
pattern with the same meaning; some valid Python patterns are refused (see *Refused*).
Symbols are single characters.

Grammar (``ε`` is the empty string; comments ``(?#...)`` may stand wherever a piece may; as
in Python, a backslash in a comment hides the next character, so ``(?#\))`` is one comment)::

    regex      := branch ( '|' branch )*            -- a|  and  |a  have an empty branch
    branch     := piece*
    piece      := atom quantifier?
    quantifier := ( '*' | '+' | '?' | '{' m '}' | '{' m ',' '}' | '{' ',' n '}'
                   | '{' m ',' n '}' | '{' ',' '}' ) '?'?
    atom       := char | escape | '.' | class
                | '(' regex ')' | '(?:' regex ')' | '(?P<' name '>' regex ')'
    class      := '[' '^'? item+ ']'     -- a ']' right after '[' or '[^' is a literal
    item       := single | single '-' single | shorthand
    single     := char | escape-for-one-character
    shorthand  := '\d' | '\D' | '\w' | '\W' | '\s' | '\S'

* ``char``: any character except the metacharacters ``.^$*+?{[]\|()``; ``]`` and ``}`` are
  literals where they cannot close anything, as in Python.
* One-character escapes: ``\\``, and backslash before any character that is not an ASCII
  letter or digit (``\.``, ``\*``, ``\(``, ``\{``, ``\-``, ``\ `` ...) is that character;
  ``\n \t \r \f \v \a`` are the control characters, ``\b`` inside a class is backspace,
  ``\xhh``, ``\uhhhh``, ``\Uhhhhhhhh``, ``\N{NAME}`` and ``\0``, ``\0o``, ``\0oo`` (octal)
  give the character with that code.
* ``\d`` is a decimal digit (``str.isdecimal``), ``\w`` a word character (``str.isalnum`` or
  ``_``), ``\s`` whitespace (``str.isspace``) -- Python's Unicode definitions -- and
  ``\D \W \S`` their complements; all of them are intersected with the alphabet.
* ``.`` is any symbol of the alphabet except ``"\n"``, exactly as Python's ``.`` without
  ``re.DOTALL`` (so ``from_regex(".", "a\n")`` rejects ``"\n"``; write ``(?:.|\n)`` to
  include it).
* ``[...]`` is the union of its items, ``[^...]`` its complement *with respect to the
  alphabet* (it includes ``"\n"``, as in Python). A range ``x-y`` (``x <= y`` by code point)
  is the set of characters between them.
* Quantifiers: ``*`` ``+`` ``?`` and ``{m}``, ``{m,}``, ``{,n}``, ``{m,n}`` with
  ``0 <= m <= n <= 1000`` (:data:`MAX_REPEAT`); ``{,}`` is ``*``. A trailing ``?`` (lazy
  quantifier) is accepted and changes nothing, since laziness does not change which words
  match *in full*.
* Groups capture nothing here; ``(...)``, ``(?:...)`` and ``(?P<name>...)`` only group. ``()``
  matches the empty word; the empty pattern accepts only the empty word.

The alphabet
------------
``alphabet`` may be a string (one symbol per character) or an iterable of one-character
strings; the DFA keeps its order. A character written *singly* (a literal, an escape, or a
single item of a class) must be a symbol of the given alphabet, otherwise :class:`RegexError`
points at it -- a typo is then caught rather than silently matching nothing. Sets (ranges,
shorthands, ``.``, negated classes) are intersected with the alphabet and may come out empty
(``\d`` over ``"ab"`` matches nothing).

With ``alphabet=None`` the alphabet is the set of characters the pattern *names*, sorted by
code point: literals, escapes, single class items and every character of a range
(``[a-e]`` names five). Shorthands, ``.`` and ``[^...]`` name nothing; they range over the
named characters only, e.g. in ``a.c`` the ``.`` means ``a`` or ``c``. A pattern that names
no character (``""``, ``.*``, ``\d+``) then has no alphabet and raises
:class:`~statetrack.automata.errors.AlphabetError`; at most :data:`MAX_IMPLICIT_ALPHABET`
characters may be named.

Refused
-------
:class:`~statetrack.automata.errors.RegexError` (1-based ``column``; the message shows the
pattern with a caret) is raised for malformed patterns -- unbalanced parentheses, nothing to
repeat (``*a``, ``a|*``), multiple repeat (``a**``, ``a{2}{3}``), bad range (``[z-a]``,
``[\d-z]``), unterminated class, ``{`` that does not start a quantifier (Python would read it
as a literal brace; write ``\{``), ``m > n``, bounds above :data:`MAX_REPEAT`, bad escapes,
duplicate group names -- for characters outside the given alphabet, and for syntax outside the
dialect: anchors ``^ $ \A \Z \b \B`` (matching is always of the whole word, so anchors would
only restate that, and Python's ``$`` also matches before a final newline), lookarounds,
backreferences, conditionals, atomic groups, possessive quantifiers (``a*+``, which do change
the language) and inline flags.

Algorithm: Glushkov's position automaton and the subset construction
--------------------------------------------------------------------
The pattern is parsed by recursive descent (one function per grammar level) into a small
syntax tree whose leaves are *character sets* (a literal is a one-element set). Bounded
repetition is not unrolled in the tree; it is unrolled when positions are assigned.

Number the leaves of the unrolled expression ``1..n`` (the *positions*); each has a set of
symbols ``C(p)``. For every subexpression r compute ``nullable(r)`` (ε in L(r)), ``first(r)``
(positions that can start a match), ``last(r)`` (positions that can end one), and add to the
global relation ``follow(p)`` (positions that can come right after p):

* leaf p: ``nullable = False``, ``first = last = {p}``;
* ``r | s``: nullable = either, first and last are unions;
* ``r s``: nullable = both; ``first = first(r) ∪ (first(s) if nullable(r))``,
  ``last = last(s) ∪ (last(r) if nullable(s))``; and ``follow(p) ⊇ first(s)`` for p in last(r);
* ``r*``: nullable; first, last as r; ``follow(p) ⊇ first(r)`` for p in last(r);
* ``r{m,n}`` is ``r^m`` followed by ``n - m`` nested optional copies ``(r(r(...)?)?)?`` and
  ``r{m,}`` is ``r^m r*``; each copy gets fresh positions. The nesting keeps the number of
  follow updates linear in the number of copies (``r? r? ... r?`` would make it quadratic).
  If r is nullable, ``r^j ⊆ r^m`` for ``j <= m``, so ``r{m,n} = r{0,n}`` and
  ``r{m,} = r*``; this is used for the same reason (``(a?){1000}``).

The Glushkov automaton has the states ``{0} ∪ {1..n}`` (0 is the start, ``follow(0) =
first(e)``), no ε-moves, and a move ``p -a-> q`` iff ``q ∈ follow(p)`` and ``a ∈ C(q)``; state
p accepts iff ``p ∈ last(e)``, or p = 0 and e is nullable. It accepts L(e) (Glushkov 1961;
Berry & Sethi 1986). Sets of positions are bit sets (Python ints while the follow sets are
built), and with ``F(S) = ∪_{p∈S} follow(p)`` and ``Pos_a = {q : a ∈ C(q)}`` the subset
construction's move is ``δ(S, a) = F(S) ∩ Pos_a``: one union per DFA state, then one AND per
symbol. The subset construction runs compiled on arrays of 64-bit words, with the subsets
interned in a hash table (:mod:`statetrack.automata._subset`); the empty subset is the sink.
Finally :meth:`DFA.minimize` (Hopcroft) gives the minimal complete DFA in canonical numbering.

Why this choice: Glushkov is ε-free with exactly n + 1 NFA states (Thompson's construction has
about 2n and needs ε-closures), so each DFA state costs O(|S| + k) bit-set operations on
n-bit words. Parsing is linear in the pattern; building the follow sets takes O(n²) bit
operations in the worst case (the Glushkov automaton can have Θ(n²) moves). The subset
construction is exponential in the worst case, as it must be: the minimal DFA of
``(a|b)*a(a|b){k}`` has ``2^(k+1)`` states. Brzozowski derivatives need normalization modulo
ACI to terminate, and their terms grow with bounded repetition. Guards: at most
:data:`MAX_POSITIONS` positions after unrolling, at most :data:`MAX_NESTING` nested groups,
and ``max_states`` subset states (:class:`~statetrack.automata.errors.AutomatonSizeError`).

Examples
--------
>>> from statetrack.automata.regex import from_regex
>>> d = from_regex("(ab|b)*a?", "ab")
>>> d.accepts("abbba"), d.accepts("aa")
(True, False)
>>> from_regex("a{2,3}", "ab") == from_regex("aa|aaa", "ab")
True
>>> from_regex("a.c").alphabet             # alphabet=None: the characters the pattern names
('a', 'c')
>>> from_regex("(a|b", "ab")
Traceback (most recent call last):
...
statetrack.automata.errors.RegexError: missing ')': this group is never closed at column 1
  (a|b
  ^
"""

from __future__ import annotations

import unicodedata
from typing import Iterable

import numpy as np

from .dfa import DFA, _check_alphabet
from .errors import AlphabetError, AutomatonSizeError, RegexError

__all__ = ["from_regex", "MAX_REPEAT", "MAX_POSITIONS", "MAX_NESTING", "MAX_IMPLICIT_ALPHABET"]

MAX_REPEAT = 1000
"""Largest bound allowed in ``{m}``, ``{m,}``, ``{m,n}``."""

MAX_POSITIONS = 20_000
"""Largest number of character positions after unrolling bounded repetition."""

MAX_NESTING = 100
"""Deepest nesting of groups."""

MAX_IMPLICIT_ALPHABET = 1024
"""Most characters a pattern may name when ``alphabet=None``."""

_CONTROL = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v", "a": "\a"}
_SHORTHANDS = set("dDwWsS")
_ASCII_LETTERS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_DIGITS = set("0123456789")
_OCTAL = set("01234567")
_HEX = set("0123456789abcdefABCDEF")


def _shorthand_contains(code: str, c: str) -> bool:
    """Whether character c is in ``\\d``, ``\\w``, ``\\s`` or a complement (Python's rules)."""
    low = code.lower()
    if low == "d":
        inside = c.isdecimal()
    elif low == "w":
        inside = c.isalnum() or c == "_"
    else:
        inside = c.isspace()
    return inside if code.islower() else not inside


class _CharSet:
    """A leaf: a set of characters, resolved against the alphabet once it is known."""

    __slots__ = ("negated", "chars", "ranges", "shorthands", "dot")

    def __init__(self, chars=(), ranges=(), shorthands=(), negated=False, dot=False):
        self.chars = frozenset(chars)
        self.ranges = tuple(ranges)
        self.shorthands = frozenset(shorthands)
        self.negated = negated
        self.dot = dot

    def key(self) -> tuple:
        return (self.negated, self.dot, self.chars, self.ranges, self.shorthands)

    def contains(self, c: str) -> bool:
        if self.dot:
            return c != "\n"
        inside = (c in self.chars or any(lo <= c <= hi for lo, hi in self.ranges)
                  or any(_shorthand_contains(s, c) for s in self.shorthands))
        return inside != self.negated


# Syntax tree: ("eps",) | ("set", _CharSet) | ("cat", [nodes]) | ("alt", [nodes])
#              | ("rep", node, m, n_or_None). The parser returns each node with its number of
#              positions after unrolling, to enforce MAX_POSITIONS before building anything.
_EPS = ("eps",)


class _Parser:
    """Recursive descent over the grammar of the module docstring."""

    def __init__(self, pattern: str, alphabet: tuple[str, ...] | None):
        self.p = pattern
        self.i = 0
        self.alphabet = None if alphabet is None else set(alphabet)
        self.named: dict[str, int] = {}  # character -> index where first named (alphabet=None)
        self.depth = 0
        self.group_names: set[str] = set()

    # -- helpers ------------------------------------------------------------------------
    def error(self, message: str, index: int) -> RegexError:
        return RegexError(message, self.p, index + 1)

    def peek(self, k: int = 0) -> str | None:
        j = self.i + k
        return self.p[j] if j < len(self.p) else None

    def name_char(self, c: str, index: int) -> None:
        """A character written singly: must be in the given alphabet; else it joins it."""
        if self.alphabet is not None:
            if c not in self.alphabet:
                shown = sorted(self.alphabet)
                listed = repr(shown) if len(shown) <= 20 else f"{repr(shown[:20])[:-1]}, ...]"
                raise self.error(f"character {c!r} is not a symbol of the alphabet {listed}",
                                 index)
        elif c not in self.named:
            self.named[c] = index
            self._check_implicit(index)

    def name_range(self, lo: str, hi: str, index: int) -> None:
        if self.alphabet is not None:
            return
        span = ord(hi) - ord(lo) + 1
        if span > MAX_IMPLICIT_ALPHABET:
            raise self.error(
                f"the range {lo!r}-{hi!r} spans {span} characters, and with alphabet=None each "
                f"joins the alphabet (at most {MAX_IMPLICIT_ALPHABET}); pass alphabet=", index)
        for code in range(ord(lo), ord(hi) + 1):
            self.named.setdefault(chr(code), index)
        self._check_implicit(index)

    def _check_implicit(self, index: int) -> None:
        if len(self.named) > MAX_IMPLICIT_ALPHABET:
            raise self.error(
                f"the pattern names more than {MAX_IMPLICIT_ALPHABET} characters, which would "
                f"all join the alphabet (alphabet=None); pass alphabet=", index)

    def check_size(self, size: int, index: int) -> int:
        if size > MAX_POSITIONS:
            raise self.error(
                f"the pattern unrolls to {size} character positions (limit {MAX_POSITIONS}; "
                f"a bounded repetition such as x{{n}} counts x n times)", index)
        return size

    # -- grammar ------------------------------------------------------------------------
    def parse(self) -> tuple[tuple, int]:
        node, size = self.regex()
        if self.i < len(self.p):  # only a ')' stops regex() early
            raise self.error("unbalanced parenthesis: this ')' closes no group", self.i)
        return node, size

    def regex(self) -> tuple[tuple, int]:
        branches = [self.branch()]
        while self.peek() == "|":
            bar = self.i
            self.i += 1
            branches.append(self.branch())
            self.check_size(sum(s for _, s in branches), bar)
        if len(branches) == 1:
            return branches[0]
        return ("alt", [b for b, _ in branches]), sum(s for _, s in branches)

    def branch(self) -> tuple[tuple, int]:
        items: list[list] = []  # [node, size, quantified]
        total = 0
        while True:
            c = self.peek()
            if c is None or c in "|)":
                break
            start = self.i
            if c in "*+?{":
                if items and items[-1][2]:
                    raise self.error(f"multiple repeat: {c!r} follows a quantifier", start)
                m, n = self.quantifier()  # first, so that a malformed '{' says so
                if not items:
                    raise self.error(f"nothing to repeat before {c!r}", start)
                node, size = items[-1][0], items[-1][1]
                copies = n if n is not None else max(m, 1)
                new_size = self.check_size(size * copies + (size if n is None and m else 0),
                                           start)
                total += new_size - size
                items[-1] = [("rep", node, m, n), new_size, True]
            elif c == "(" and self.p.startswith("(?#", start):
                end = start + 3
                while end < len(self.p) and self.p[end] != ")":
                    end += 2 if self.p[end] == "\\" else 1  # as in Python, "\)" goes on
                if end >= len(self.p):
                    raise self.error("missing ')': this comment is never closed", start)
                self.i = end + 1
            else:
                node, size = self.atom()
                total += size
                items.append([node, size, False])
            self.check_size(total, start)
        if not items:
            return _EPS, 0
        if len(items) == 1:
            return items[0][0], items[0][1]
        return ("cat", [x[0] for x in items]), total

    def quantifier(self) -> tuple[int, int | None]:
        start = self.i
        c = self.p[start]
        self.i += 1
        if c == "*":
            m, n = 0, None
        elif c == "+":
            m, n = 1, None
        elif c == "?":
            m, n = 0, 1
        else:
            m, n = self.braces(start)
        if self.peek() == "?":  # lazy: same full matches
            self.i += 1
        elif self.peek() == "+":
            raise self.error("possessive quantifiers are not supported (they change the "
                             "language; drop the '+')", self.i)
        return m, n

    def braces(self, start: int) -> tuple[int, int | None]:
        close = self.p.find("}", start)
        body = self.p[start + 1:close] if close >= 0 else None
        bad = ("bad repetition: '{' must start {m}, {m,}, {,n} or {m,n} with decimal m, n; "
               "write \\{ for a literal brace")
        if body is None or body.count(",") > 1 or not all(ch in _DIGITS or ch == ","
                                                          for ch in body) or body == "":
            raise self.error(bad, start)
        lo, comma, hi = body.partition(",")
        m = int(lo) if lo else 0
        n = (int(hi) if hi else None) if comma else m
        for value in (m, n):
            if value is not None and value > MAX_REPEAT:
                raise self.error(f"repetition bound {value} is larger than the limit "
                                 f"{MAX_REPEAT}", start)
        if n is not None and m > n:
            raise self.error(f"bad repetition {{{body}}}: min {m} is greater than max {n}",
                             start)
        self.i = close + 1
        return m, n

    def atom(self) -> tuple[tuple, int]:
        start = self.i
        c = self.p[start]
        if c == "(":
            return self.group()
        if c == "[":
            return ("set", self.char_class()), 1
        if c == ".":
            self.i += 1
            return ("set", _CharSet(dot=True)), 1
        if c in "^$":
            raise self.error(f"anchor {c!r} is not supported: from_regex always matches the "
                             f"whole word", start)
        if c == "\\":
            kind, value = self.escape(in_class=False)
            if kind == "shorthand":
                return ("set", _CharSet(shorthands=[value])), 1
            self.name_char(value, start)
            return ("set", _CharSet(chars=[value])), 1
        self.i += 1
        self.name_char(c, start)
        return ("set", _CharSet(chars=[c])), 1

    def group(self) -> tuple[tuple, int]:
        start = self.i
        self.i += 1
        if self.peek() == "?":
            if self.p.startswith("?:", self.i):
                self.i += 2
            elif self.p.startswith("?P<", self.i):
                end = self.p.find(">", self.i)
                name = self.p[self.i + 3:end] if end >= 0 else None
                if name is None or not name.isidentifier():
                    raise self.error("bad group name: (?P<name>...) needs a Python "
                                     "identifier and a closing '>'", start)
                if name in self.group_names:
                    raise self.error(f"redefinition of group name {name!r}", start)
                self.group_names.add(name)
                self.i = end + 1
            else:
                rest = self.p[self.i:self.i + 3]
                what = ("lookarounds" if rest[:2] in ("?=", "?!") or rest in ("?<=", "?<!")
                        else "backreferences" if rest[:3] == "?P="
                        else "conditionals" if rest[:2] == "?("
                        else "atomic groups" if rest[:2] == "?>"
                        else "inline flags and other (?...) extensions")
                raise self.error(f"{what} are not supported", start)
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise self.error(f"groups are nested more than {MAX_NESTING} deep", start)
        node, size = self.regex()
        self.depth -= 1
        if self.peek() != ")":
            raise self.error("missing ')': this group is never closed", start)
        self.i += 1
        return node, size

    def escape(self, in_class: bool) -> tuple[str, str]:
        """Read an escape at self.i; return ("char", c) or ("shorthand", letter)."""
        start = self.i
        c = self.peek(1)
        if c is None:
            raise self.error("bad escape: the pattern ends with a lone backslash", start)
        self.i += 2
        if c in _SHORTHANDS:
            return "shorthand", c
        if c in _CONTROL:
            return "char", _CONTROL[c]
        if c == "b" and in_class:
            return "char", "\b"
        if c in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[c]
            digits = self.p[self.i:self.i + width]
            if len(digits) != width or not all(ch in _HEX for ch in digits):
                raise self.error(f"incomplete escape \\{c}: needs exactly {width} hex digits",
                                 start)
            code = int(digits, 16)
            if code > 0x10FFFF:
                raise self.error(f"bad escape \\{c}{digits}: beyond U+10FFFF", start)
            self.i += width
            return "char", chr(code)
        if c == "N":
            end = self.p.find("}", self.i)
            if self.peek() != "{" or end < 0:
                raise self.error("bad escape \\N: write \\N{CHARACTER NAME}", start)
            name = self.p[self.i + 1:end]
            try:
                ch = unicodedata.lookup(name)
            except KeyError:
                raise self.error(f"undefined character name {name!r}", start) from None
            self.i = end + 1
            return "char", ch
        if c == "0":
            digits = ""
            while len(digits) < 2 and self.peek() in _OCTAL:
                digits += self.p[self.i]
                self.i += 1
            return "char", chr(int("0" + digits, 8))
        if c in _DIGITS:
            raise self.error(f"backreferences and octal escapes other than \\0oo are not "
                             f"supported (\\{c})", start)
        if c in "AZbB":
            raise self.error(f"anchor \\{c} is not supported: from_regex always matches the "
                             f"whole word", start)
        if c in _ASCII_LETTERS:
            raise self.error(f"bad escape \\{c}", start)
        return "char", c

    def char_class(self) -> _CharSet:
        start = self.i
        self.i += 1
        negated = self.peek() == "^"
        if negated:
            self.i += 1
        chars: list[str] = []
        ranges: list[tuple[str, str]] = []
        shorthands: list[str] = []
        first = True
        unterminated = "unterminated character class: '[' is never closed"
        while True:
            c = self.peek()
            if c is None:
                raise self.error(unterminated, start)
            if c == "]" and not first:
                self.i += 1
                break
            first = False
            item_start = self.i
            kind, value = self.class_single()
            if self.peek() == "-" and self.peek(1) is not None and self.peek(1) != "]":
                self.i += 1
                kind2, value2 = self.class_single()
                if kind != "char" or kind2 != "char":
                    raise self.error(
                        f"bad character range {self.p[item_start:self.i]}: a shorthand cannot "
                        f"be a range end", item_start)
                if value2 < value:
                    raise self.error(
                        f"bad character range {self.p[item_start:self.i]}: {value!r} comes "
                        f"after {value2!r}", item_start)
                ranges.append((value, value2))
                self.name_range(value, value2, item_start)
            elif kind == "shorthand":
                shorthands.append(value)
            else:
                chars.append(value)
                self.name_char(value, item_start)
        return _CharSet(chars, ranges, shorthands, negated=negated)

    def class_single(self) -> tuple[str, str]:
        c = self.p[self.i]
        if c == "\\":
            return self.escape(in_class=True)
        self.i += 1
        return "char", c


def _nullable(node: tuple) -> bool:
    kind = node[0]
    if kind == "set":
        return False
    if kind == "eps":
        return True
    if kind == "alt":
        return any(_nullable(c) for c in node[1])
    if kind == "cat":
        return all(_nullable(c) for c in node[1])
    return node[2] == 0 or _nullable(node[1])


def _glushkov(root: tuple, n_positions: int) -> tuple[list[int], list[_CharSet | None], int]:
    """Follow sets (bit sets; index 0 is the start), position labels, accepting positions."""
    follow = [0] * (n_positions + 1)
    labels: list[_CharSet | None] = [None]

    def visit(node: tuple) -> tuple[bool, int, int]:
        kind = node[0]
        if kind == "set":
            p = len(labels)
            labels.append(node[1])
            return False, 1 << p, 1 << p
        if kind == "eps":
            return True, 0, 0
        if kind == "alt":
            nul, fst, lst = False, 0, 0
            for child in node[1]:
                cn, cf, cl = visit(child)
                nul, fst, lst = nul or cn, fst | cf, lst | cl
            return nul, fst, lst
        if kind == "cat":
            acc = (True, 0, 0)
            for child in node[1]:
                acc = concat(acc, visit(child))
            return acc
        _, child, m, n = node  # "rep"
        if _nullable(child):  # then r^j ⊆ r^m for j <= m, so r{m,n} = r{0,n}
            m = 0
        acc = (True, 0, 0)
        for _ in range(m):
            acc = concat(acc, visit(child))
        if n is None:
            cn, cf, cl = visit(child)
            link(cl, cf)
            return concat(acc, (True, cf, cl))
        tail = (True, 0, 0)
        for _ in range(n - m):  # (r(r(...)?)?)?, built from the inside out
            _, tf, tl = concat(visit(child), tail)
            tail = (True, tf, tl)
        return concat(acc, tail)

    def link(last: int, first: int) -> None:
        if not first:
            return
        while last:
            low = last & -last
            follow[low.bit_length() - 1] |= first
            last ^= low

    def concat(a: tuple[bool, int, int], b: tuple[bool, int, int]) -> tuple[bool, int, int]:
        an, af, al = a
        bn, bf, bl = b
        link(al, bf)
        return an and bn, af | (bf if an else 0), bl | (al if bn else 0)

    nullable, first, last = visit(root)
    follow[0] = first
    return follow, labels, last | (1 if nullable else 0)


def _symbols(alphabet: Iterable[str] | str) -> tuple[str, ...]:
    if isinstance(alphabet, str):
        symbols = tuple(alphabet)
    elif isinstance(alphabet, Iterable):
        symbols = tuple(alphabet)
    else:
        raise AlphabetError(f"the alphabet must be a str or an iterable of one-character "
                            f"strings, got {type(alphabet).__name__}")
    for s in symbols:
        if not isinstance(s, str) or len(s) != 1:
            raise AlphabetError(f"from_regex needs one-character symbols, got {s!r}")
    return _check_alphabet(symbols, None)


def from_regex(pattern: str, alphabet: Iterable[str] | str | None = None, *,
               max_states: int = 100_000) -> DFA:
    r"""The minimal DFA of a regular expression (full-match semantics).

    The dialect, the meaning of the alphabet and the algorithm (Glushkov automaton, subset
    construction, Hopcroft minimization) are described in :mod:`statetrack.automata.regex`.

    Parameters
    ----------
    pattern : str
        A regular expression in the dialect (a subset of Python's :mod:`re`).
    alphabet : str or iterable of str, optional
        The symbols (one character each), in the column order of the result. Default: the
        characters the pattern names, sorted.
    max_states : int
        Limit on the number of states of the subset construction (before minimization).

    Returns
    -------
    DFA
        The minimal complete DFA, canonically numbered, with ``accepts(w)`` equal to
        ``re.fullmatch(pattern, w) is not None`` for every word w over the alphabet.

    Raises
    ------
    RegexError
        If the pattern is malformed, outside the dialect, or names a character outside
        ``alphabet``; ``column`` is the 1-based position and the message points at it.
    AlphabetError
        If ``alphabet`` is empty, has duplicates or a symbol that is not one character, or if
        ``alphabet=None`` and the pattern names no character.
    AutomatonSizeError
        If the subset construction reaches more than ``max_states`` states.

    Examples
    --------
    >>> from statetrack.automata.regex import from_regex
    >>> even_bs = from_regex("a*(ba*ba*)*", "ab")
    >>> even_bs.n_states, even_bs.accepts("abab"), even_bs.accepts("ab")
    (2, True, False)
    >>> from_regex(r"[^\n]+", "ab\n").accepts("ab\n")
    False
    >>> from_regex(".", "a\n").accepts("\n")     # '.' excludes newline, as in Python
    False
    >>> from_regex("", "ab").accepts(""), from_regex("a{0}", "ab").accepts("a")
    (True, False)
    >>> from_regex("a{2,1}", "ab")
    Traceback (most recent call last):
    ...
    statetrack.automata.errors.RegexError: bad repetition {2,1}: min 2 is greater than max 1 at column 2
      a{2,1}
       ^
    >>> from_regex("abc", "ab")
    Traceback (most recent call last):
    ...
    statetrack.automata.errors.RegexError: character 'c' is not a symbol of the alphabet ['a', 'b'] at column 3
      abc
        ^
    """
    if not isinstance(pattern, str):
        raise RegexError(f"the pattern must be a str, got {type(pattern).__name__}")
    if isinstance(max_states, bool) or not isinstance(max_states, (int, np.integer)) \
            or max_states < 1:
        raise AutomatonSizeError(f"max_states must be a positive int, got {max_states!r}")
    symbols = None if alphabet is None else _symbols(alphabet)
    parser = _Parser(pattern, symbols)
    root, n_positions = parser.parse()
    if symbols is None:
        if not parser.named:
            raise AlphabetError(
                f"the pattern {pattern!r} names no character, so with alphabet=None its "
                f"alphabet would be empty; pass alphabet=")
        symbols = tuple(sorted(parser.named))
    follow, labels, last = _glushkov(root, n_positions)

    # Pos_a for every symbol a: group positions by identical character sets first.
    by_set: dict[tuple, list] = {}
    for p in range(1, len(labels)):
        label = labels[p]
        assert label is not None  # only position 0 (the start) has no label
        entry = by_set.setdefault(label.key(), [label, 0])
        entry[1] |= 1 << p
    pos_of = [0] * len(symbols)
    for cs, positions in by_set.values():
        for a, s in enumerate(symbols):
            if cs.contains(s):
                pos_of[a] |= positions

    from ._subset import bitsets, subset_construction

    n_bits = len(follow)
    with np.errstate(over="ignore"):  # hashing wraps around; only the Python fallback warns
        delta, accepting, m, overflow = subset_construction(
            bitsets(follow, n_bits), bitsets(pos_of, n_bits), bitsets([last], n_bits)[0],
            int(max_states))
    if overflow:
        raise AutomatonSizeError(
            f"the subset construction of {pattern!r} reached more than "
            f"max_states={max_states} states; raise max_states")
    if m < len(delta):
        delta, accepting = delta[:m].copy(), accepting[:m].copy()
    return DFA._trusted(delta, 0, accepting, symbols).minimize()
