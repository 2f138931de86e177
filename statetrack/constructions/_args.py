"""Checks of the plain arguments of the public constructors (flags, names, limits).

A flag given as ``"no"`` or a name given as ``5`` used to be coerced silently (``bool("no")``
is True); these checks refuse them with :class:`~statetrack.constructions.errors.InputTypeError`
(a ``TypeError``) or :class:`~statetrack.constructions.errors.ArgumentValueError` (a
``ValueError``), whose message names the function and the argument.

Examples
--------
>>> check_flag(True, "normalized", "compile")
True
>>> check_flag("no", "normalized", "compile")
Traceback (most recent call last):
...
statetrack.constructions.errors.InputTypeError: compile: normalized must be True or False, got 'no' (str)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import ArgumentValueError, InputTypeError

__all__ = ["check_dfa", "check_flag", "check_text", "check_positive_int"]


def _got(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})"


def check_dfa(value: Any, where: str) -> None:
    """Raise :class:`InputTypeError` unless ``value`` is a statetrack DFA."""
    from ..automata import DFA

    if not isinstance(value, DFA):
        raise InputTypeError(f"{where}: argument 'dfa' must be a statetrack DFA, got "
                             f"{type(value).__name__}")


def check_flag(value: Any, arg: str, where: str) -> bool:
    """``value`` as a bool when it is one (Python's or numpy's), else :class:`InputTypeError`."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise InputTypeError(f"{where}: {arg} must be True or False, got {_got(value)}")


def check_text(value: Any, arg: str, where: str) -> str:
    """``value`` when it is a str, else :class:`InputTypeError`."""
    if isinstance(value, str):
        return value
    raise InputTypeError(f"{where}: {arg} must be a str, got {_got(value)}")


def check_positive_int(value: Any, arg: str, where: str) -> int:
    """``value`` as an int when it is an integer >= 1 (not a bool), else
    :class:`InputTypeError` (not an integer) or :class:`ArgumentValueError` (< 1).

    >>> check_positive_int(0, "limit", "faithful_construction")
    Traceback (most recent call last):
    ...
    statetrack.constructions.errors.ArgumentValueError: faithful_construction: limit must be a positive int, got 0
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise InputTypeError(f"{where}: {arg} must be a positive int, got {_got(value)}")
    if value < 1:
        raise ArgumentValueError(f"{where}: {arg} must be a positive int, got {value!r}")
    return int(value)
