r"""Exact numbers as text, read by a whitelist parser (never by ``eval`` or ``sympify``).

Construction files store every weight as a string such as ``"-3/4"``, ``"sqrt(2)/2"`` or
``"-2*cos(pi/7) + sin(pi/7)"``. Those strings come from files, so they are untrusted:
:func:`sympy.sympify` would ``eval`` them (a payload like
``"__import__('os').system('...') + 1"`` would run). :func:`parse_exact` instead parses the
text with :func:`ast.parse` (``mode="eval"``, which only builds a syntax tree and runs
nothing) and walks the tree, accepting only

* integer literals (at most :data:`MAX_DIGITS` digits);
* the binary operators ``+ - * / **`` and unary ``-`` and ``+``;
* calls of the functions in :data:`FUNCTIONS` (``sqrt``, ``sin``, ``cos``, ``exp``) with one
  argument, and the constants in :data:`CONSTANTS` (``pi``, ``E``);

and builds the sympy number directly from those pieces (``sympy.Integer``, ``sympy.sqrt``,
...). Everything else (names, attributes, subscripts, calls of other functions, keywords,
floats, strings, lambdas, comprehensions) is refused with an
:class:`~statetrack.constructions.errors.ExactValueError` naming the offending piece.
Sizes are bounded too, so a small file cannot make the reader run for ever: at most
:data:`MAX_LENGTH` characters and :data:`MAX_NODES` syntax nodes per number, and a power
``b ** e`` needs a rational exponent with numerator and denominator at most
:data:`MAX_EXPONENT`, and every rational intermediate result has a numerator and a
denominator of at most :data:`MAX_RATIONAL_BITS` bits.

:func:`format_exact` is the writer: ``sympy.sstr`` of the number, checked to parse back to
the identical expression, so that everything written can be read back exactly.

Examples
--------
>>> parse_exact("-2*cos(pi/7) + sin(pi/7)")
-2*cos(pi/7) + sin(pi/7)
>>> parse_exact("3/4") + parse_exact("sqrt(2)/2")
sqrt(2)/2 + 3/4
>>> parse_exact("__import__('os').system('true') + 1", "initial_state")
Traceback (most recent call last):
...
statetrack.constructions.errors.ExactValueError: initial_state: cannot read "__import__('os').system('true') + 1" as an exact number: call of "__import__('os').system" is not allowed (allowed functions: sqrt, sin, cos, exp)
>>> format_exact(parse_exact("1/2 + sqrt(3)"))
'1/2 + sqrt(3)'
"""

from __future__ import annotations

import ast
from typing import Callable

import sympy

from statetrack.errors import StatetrackError

from .errors import ExactSizeError, ExactValueError

__all__ = ["parse_exact", "format_exact", "FUNCTIONS", "CONSTANTS", "MAX_LENGTH", "MAX_NODES",
           "MAX_DIGITS", "MAX_EXPONENT", "MAX_RATIONAL_BITS"]

#: The functions a stored number may call (one argument each).
FUNCTIONS: dict[str, Callable[[sympy.Expr], sympy.Expr]] = {
    "sqrt": sympy.sqrt, "sin": sympy.sin, "cos": sympy.cos, "exp": sympy.exp,
}
#: The named constants a stored number may use.
CONSTANTS: dict[str, sympy.Expr] = {"pi": sympy.pi, "E": sympy.E}
#: Most characters in one stored number.
MAX_LENGTH = 2000
#: Most syntax-tree nodes in one stored number.
MAX_NODES = 400
#: Most digits of one integer literal.
MAX_DIGITS = 200
#: Largest numerator and denominator of an exponent.
MAX_EXPONENT = 256
#: Largest bit size of the numerator or denominator of a rational intermediate result.
MAX_RATIONAL_BITS = 4096

_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}


class _Refused(StatetrackError):
    """Internal: the text is outside the grammar (message says which piece)."""


class _TooLarge(_Refused):
    """Internal: a number of the text is over a size limit (exponent, bits, digits)."""


def _power(base: sympy.Expr, exp: sympy.Expr) -> sympy.Expr:
    if not exp.is_Rational:
        raise _Refused(f"exponent {exp} is not a rational number")
    if abs(exp.p) > MAX_EXPONENT or exp.q > MAX_EXPONENT:
        raise _TooLarge(f"exponent {exp} is too large (numerator and denominator at most "
                       f"{MAX_EXPONENT})")
    if base.is_Rational:
        if base == 0 and exp < 0:
            raise _Refused("0 raised to a negative power")
        bits = max(int(base.p).bit_length(), int(base.q).bit_length()) * abs(int(exp.p))
        if bits > MAX_RATIONAL_BITS:
            raise _TooLarge(f"a power would have about {bits} bits (at most "
                           f"{MAX_RATIONAL_BITS})")
    return base ** exp


def _sized(x: sympy.Expr) -> sympy.Expr:
    if x.is_Rational and max(int(x.p).bit_length(), int(x.q).bit_length()) > MAX_RATIONAL_BITS:
        raise _TooLarge(f"an intermediate rational has more than {MAX_RATIONAL_BITS} bits")
    return x


def _binop(node: ast.BinOp) -> sympy.Expr:
    a, b = _build(node.left), _build(node.right)
    if isinstance(node.op, ast.Add):
        return a + b
    if isinstance(node.op, ast.Sub):
        return a - b
    if isinstance(node.op, ast.Mult):
        return a * b
    if isinstance(node.op, ast.Div):
        if b == 0:
            raise _Refused("division by zero")
        return a / b
    return _power(a, b)


def _build(node: ast.AST) -> sympy.Expr:
    if isinstance(node, ast.Constant):
        v = node.value
        if type(v) is not int:
            raise _Refused(f"the constant {v!r} is not an integer (exact numbers use integers, "
                           f"'/', and the allowed functions; no floats)")
        if v.bit_length() > 3.33 * MAX_DIGITS:
            raise _TooLarge(f"an integer literal is too long (at most about {MAX_DIGITS} digits)")
        return sympy.Integer(v)
    if isinstance(node, ast.Name):
        if node.id in CONSTANTS:
            return CONSTANTS[node.id]
        raise _Refused(f"the name {node.id!r} is not allowed (allowed constants: "
                       f"{', '.join(CONSTANTS)})")
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        x = _build(node.operand)
        return -x if isinstance(node.op, ast.USub) else x
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        return _sized(_binop(node))
    if isinstance(node, ast.Call):
        fname = node.func.id if isinstance(node.func, ast.Name) else None
        if fname not in FUNCTIONS:
            shown = fname if fname is not None else ast.unparse(node.func)[:60]
            raise _Refused(f"call of {shown!r} is not allowed (allowed functions: "
                           f"{', '.join(FUNCTIONS)})")
        if node.keywords or len(node.args) != 1:
            raise _Refused(f"{fname} takes exactly one positional argument")
        return FUNCTIONS[fname](_build(node.args[0]))
    kind = type(node).__name__
    if isinstance(node, ast.BinOp):
        kind = f"operator {type(node.op).__name__}"
    elif isinstance(node, ast.UnaryOp):
        kind = f"operator {type(node.op).__name__}"
    raise _Refused(f"{kind} is not allowed (only integers, + - * / **, unary -, "
                   f"{', '.join(FUNCTIONS)} and {', '.join(CONSTANTS)})")


def parse_exact(text: str, where: str = "value") -> sympy.Expr:
    """Read an exact real number from text with the whitelist grammar of the module docstring.

    Parameters
    ----------
    text : str
    where : str
        Named in error messages (e.g. the file field).

    Returns
    -------
    sympy.Expr
        The number, built from sympy objects (no code from ``text`` runs).

    Raises
    ------
    ExactValueError
        The text is not in the grammar, too long or too large (then the subclass
        :class:`~statetrack.constructions.errors.ExactSizeError`); the message names ``where``
        and the refused piece. (Whether the number is real and finite is checked by
        :func:`~statetrack.constructions.lrnn.to_exact`.)

    Examples
    --------
    >>> parse_exact("-(3/4)**2"), parse_exact("2**(1/2)") == sympy.sqrt(2)
    (-9/16, True)
    >>> parse_exact("0.5", "beta")
    Traceback (most recent call last):
    ...
    statetrack.constructions.errors.ExactValueError: beta: cannot read '0.5' as an exact number: the constant 0.5 is not an integer (exact numbers use integers, '/', and the allowed functions; no floats)
    """
    if not isinstance(text, str):
        raise ExactValueError(f"{where}: expected a string, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        why = f"{len(text)} characters (at most {MAX_LENGTH})"
        raise ExactSizeError(f"{where}: a stored number has {why}", why)
    shown = text if len(text) <= 80 else text[:77] + "..."
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError) as e:
        msg = e.msg if isinstance(e, SyntaxError) else str(e)
        raise ExactValueError(f"{where}: cannot read {shown!r} as an exact number: syntax "
                              f"error ({msg})") from None
    n_nodes = sum(1 for _ in ast.walk(tree))
    if n_nodes > MAX_NODES:
        why = f"{n_nodes} syntax nodes (at most {MAX_NODES})"
        raise ExactSizeError(f"{where}: {shown!r} has {why}", why)
    try:
        return _build(tree.body)
    except _TooLarge as e:
        raise ExactSizeError(f"{where}: cannot read {shown!r} as an exact number: {e}",
                             str(e)) from None
    except _Refused as e:
        raise ExactValueError(f"{where}: cannot read {shown!r} as an exact number: {e}") \
            from None
    except RecursionError:  # pragma: no cover - MAX_NODES keeps the depth small
        raise ExactSizeError(f"{where}: {shown!r} is nested too deeply",
                             "nested too deeply") from None


def format_exact(e: sympy.Expr, where: str = "value") -> str:
    """The text of an exact number that :func:`parse_exact` reads back to the same expression.

    Raises
    ------
    ExactValueError
        The number needs something outside the grammar (e.g. ``log(2)``), so it cannot be
        stored exactly.

    Examples
    --------
    >>> format_exact(sympy.Rational(-3, 4)), format_exact(sympy.sqrt(2) / 2)
    ('-3/4', 'sqrt(2)/2')
    >>> format_exact(sympy.log(2), "beta")
    Traceback (most recent call last):
    ...
    statetrack.constructions.errors.ExactValueError: beta: log(2) cannot be stored exactly (cannot read 'log(2)' as an exact number: call of 'log' is not allowed (allowed functions: sqrt, sin, cos, exp))
    """
    if isinstance(e, sympy.Integer):
        return str(int(e))
    s = sympy.sstr(e, full_prec=True)
    try:
        back = parse_exact(s, where)
    except ExactValueError as err:
        reason = str(err).split(": ", 1)[1] if ": " in str(err) else str(err)
        msg = f"{where}: {s} cannot be stored exactly ({reason})"
        if isinstance(err, ExactSizeError):
            raise ExactSizeError(msg, err.reason) from None
        raise ExactValueError(msg) from None
    if back != e:
        raise ExactValueError(f"{where}: {s} does not read back to the same expression "
                              f"(got {back}); it cannot be stored exactly")
    return s
