r"""A DFA the catalogue lacks: modular arithmetic with brackets, at bounded nesting depth.

The language over ``{0, ..., m-1, +, -, *, (, )}``: the well-formed expressions of the grammar

    expr := term (op term)* ;  term := d | '-' d | '(' expr ')' ;  op := '+' | '-'

(``d`` a digit; unary minus only before a digit; ``*`` never well-formed, as the paper's
generator draws it only with ``mult=True``) with at most ``depth`` brackets open at any
prefix, whose value is ``target`` mod m. Every expression the task generator
(:class:`experiments.tasks.ModArithBracketsTask`) draws is in the grammar.

With ``+`` and ``-`` only, the value is ``sum_i s_i d_i`` where the sign ``s_i`` of a digit is
the product of the signs in front of it: its own (``-`` before it, or the operator before its
term) and the sign of every enclosing bracket. A left-to-right reader keeps: the phase
(expecting a term, after a unary minus, after a term), the running value mod m, the stack of
the open brackets' signs (a sign is pushed when ``(`` opens, under the sign pending for that
term) and the pending sign of the next term. That is at most ``3 m 2^(depth+1)`` states before
minimization, plus a sink.

Kept here rather than in :mod:`statetrack.automata.families`: registering a family puts it in
the catalogue that every construction and proof runs on (``statetrack check``), which this
language's ``m 2^depth`` states would slow down for no theoretical gain. Promote it there if
it becomes a catalogue language.

Examples
--------
>>> d = modular_arithmetic_brackets(5, 2, target=3)
>>> d.accepts("(4+(-1))"), d.accepts("4-(1+2)"), d.accepts("4-1+2"), d.accepts("(4+1")
(True, False, False, False)
>>> modular_arithmetic_brackets(5, 2, target=1).accepts("4-(1+2)")
True
>>> modular_arithmetic_brackets(5, 1, target=1).accepts("((1))")
False
"""

from __future__ import annotations

import functools
from typing import Any, Hashable, Iterable

__all__ = ["modular_arithmetic_brackets", "nesting_depth", "value_of"]


@functools.lru_cache(maxsize=64)
def modular_arithmetic_brackets(m: int = 5, depth: int = 2, target: int = 0) -> Any:
    """Minimal DFA of bracketed ``+``/``-`` expressions mod m of nesting ``<= depth`` with
    value ``target`` (see the module docstring).

    Parameters
    ----------
    m : int
        The modulus, ``2 <= m <= 10``.
    depth : int
        Maximal nesting depth, ``0 <= depth <= 16``.
    target : int
        ``0 <= target < m``.

    Raises
    ------
    ValueError
        A parameter out of range (the message names it).
    """
    from statetrack.automata import DFA

    for name, v, lo, hi in (("m", m, 2, 10), ("depth", depth, 0, 16),
                            ("target", target, 0, m - 1)):
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise ValueError(f"modular_arithmetic_brackets: {name} must be an int in "
                             f"{lo}..{hi}, got {v!r}")
    digits = [str(i) for i in range(m)]
    sink: Hashable = ("sink",)

    def step(q: Any, a: str) -> Any:
        if q == sink:
            return sink
        phase, val, stack, p = q
        ctx = stack[-1] if stack else 1
        if phase == "T":                      # expecting a term; p = its sign
            if a in digits:
                return ("A", (val + p * int(a)) % m, stack, 0)
            if a == "-":
                return ("U", val, stack, -p)
            if a == "(" and len(stack) < depth:
                return ("T", val, stack + (p,), p)
            return sink
        if phase == "U":                      # after a unary minus: a digit
            return ("A", (val + p * int(a)) % m, stack, 0) if a in digits else sink
        if a == "+":                          # phase "A": after a term
            return ("T", val, stack, ctx)
        if a == "-":
            return ("T", val, stack, -ctx)
        if a == ")" and stack:
            return ("A", val, stack[:-1], 0)
        return sink

    def accept(q: Any) -> bool:
        return q != sink and q[0] == "A" and not q[2] and q[1] == target

    dfa = DFA.from_function(("T", 0, (), 1), [*digits, "+", "-", "*", "(", ")"], step, accept)
    return dfa.minimize()


def nesting_depth(word: Iterable[str]) -> int:
    """The largest number of brackets open at once.

    >>> nesting_depth("(1+(2-3))-4")
    2
    """
    d = best = 0
    for c in word:
        d += (c == "(") - (c == ")")
        best = max(best, d)
    return best


def value_of(word: Iterable[str], m: int) -> int:
    """The value mod m of a bracketed ``+``/``-`` expression (Python's own parser; a test
    oracle independent of the DFA).

    >>> value_of("4-(1+2)", 5)
    1
    """
    return eval("".join(word).replace("--", "- -")) % m  # noqa: S307 (digits and + - ( ) only)
