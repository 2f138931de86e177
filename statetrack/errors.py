"""The root of statetrack's exceptions: :class:`StatetrackError` and the classes shared by packages.

Every exception class of the package derives from :class:`StatetrackError`, so one
``except StatetrackError`` catches whatever statetrack raises on purpose. Below the root, each
package has one base class, defined here (so that a class shared by two packages can derive
from both) and re-exported by the package's own ``errors`` module, which defines the rest::

    StatetrackError
    +-- AutomatonError (ValueError)          statetrack.automata.errors
    +-- ConstructionError (ValueError)       statetrack.constructions.errors
    +-- TheoryError (ValueError)             statetrack.theory.errors
    +-- KernelError                          statetrack.kernels.errors
        +-- KernelInputError (ValueError)

Each class is shown (``__module__``) under the errors module it was imported from before, so
tracebacks read as before (``statetrack.kernels.errors.KernelInputError``,
``statetrack.automata.errors.UnknownSymbolError``). Three classes are shared (each one class, re-exported under its old import paths, so
``except`` clauses written for either package keep working):

* :class:`UnknownSymbolError`: a word holds a symbol outside an alphabet (automata, kernels);
  an :class:`AutomatonError`, a :class:`KernelInputError` and a ``KeyError``.
* :class:`UnknownTokenError`: a token is not in a layer's or a model's alphabet
  (constructions, theory); a :class:`ConstructionError`, a :class:`TheoryError` and a
  ``KeyError``.
* :class:`UnsupportedDtypeError`: a number format (dtype) that :mod:`statetrack.floats` does
  not know (constructions, theory, where it is also called ``UnsupportedFormatError``); a
  :class:`ConstructionError`, a :class:`TheoryError` and a ``TypeError``.

This module imports nothing but the standard library (no numpy, torch or sympy), so every
package can import it.

Examples
--------
>>> from statetrack.errors import StatetrackError, UnknownSymbolError
>>> from statetrack.automata.errors import AutomatonError
>>> from statetrack.kernels.errors import KernelInputError
>>> all(issubclass(UnknownSymbolError, c)
...     for c in (StatetrackError, AutomatonError, KernelInputError, KeyError, ValueError))
True
>>> str(UnknownSymbolError("symbol 'c' is not in the alphabet"))  # not quoted as a KeyError is
"symbol 'c' is not in the alphabet"
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

__all__ = [
    "type_phrase",
    "unknown_field",
    "StatetrackError",
    "AutomatonError",
    "ConstructionError",
    "TheoryError",
    "KernelError",
    "KernelInputError",
    "PlainKeyMessage",
    "UnknownSymbolError",
    "UnknownTokenError",
    "UnsupportedDtypeError",
]


class StatetrackError(Exception):
    """Base class of every exception raised by statetrack."""


class AutomatonError(StatetrackError, ValueError):
    """Base class of every error raised by :mod:`statetrack.automata`."""


class ConstructionError(StatetrackError, ValueError):
    """Base class of every error raised by :mod:`statetrack.constructions`."""


class TheoryError(StatetrackError, ValueError):
    """Base class of the errors raised by :mod:`statetrack.theory` itself."""


class KernelError(StatetrackError):
    """Base class of every error raised by :mod:`statetrack.kernels`."""


class KernelInputError(KernelError, ValueError):
    """An argument of a kernel is invalid (base class of all kernel input errors)."""


class PlainKeyMessage:
    """Mixin (not an exception) for the ``KeyError`` subclasses of the package: ``str(e)`` is
    the message, where ``KeyError`` would quote it."""

    args: tuple   # supplied by the exception class it is mixed into

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class UnknownSymbolError(PlainKeyMessage, AutomatonError, KernelInputError, KeyError):
    """A word contains a symbol outside the alphabet (of a DFA, a monoid's generators, or a
    constructed model run by the kernels)."""


class UnknownTokenError(PlainKeyMessage, ConstructionError, TheoryError, KeyError):
    """A token or symbol is not in a layer's (or the model's) alphabet; in a
    finite-precision model also a decoder output that the next layer does not read."""


class UnsupportedDtypeError(ConstructionError, TheoryError, TypeError):
    """A number format (dtype) that :mod:`statetrack.floats` does not support, or an export
    that needs torch, which is not installed."""


# Each class is shown (in tracebacks, reprs and pickles) under the errors module where users
# import it: a package base under its package, a shared class under the lower of its two
# packages (the one that raises it first); each of those modules re-exports it.
for _cls, _home in ((AutomatonError, "statetrack.automata.errors"),
                    (ConstructionError, "statetrack.constructions.errors"),
                    (TheoryError, "statetrack.theory.errors"),
                    (KernelError, "statetrack.kernels.errors"),
                    (KernelInputError, "statetrack.kernels.errors"),
                    (UnknownSymbolError, "statetrack.automata.errors"),
                    (UnknownTokenError, "statetrack.constructions.errors"),
                    (UnsupportedDtypeError, "statetrack.constructions.errors")):
    _cls.__module__ = _home
del _cls, _home


def type_phrase(typ: type | tuple[type, ...]) -> str:
    """A type (or a tuple of types) with its article, for messages: "an int", "a list or
    dict".

    >>> type_phrase(int), type_phrase((list, dict))
    ('an int', 'a list or dict')
    """
    names = " or ".join(t.__name__ for t in (typ if isinstance(typ, tuple) else (typ,)))
    return f"{'an' if names[0].lower() in 'aeiou' else 'a'} {names}"


def unknown_field(fields: Iterable[Any], known: Sequence[str], where: str) -> str | None:
    """The message for the first of ``fields`` not in ``known`` (None when all are known).

    File readers refuse a field their format does not have: a typo in an optional field
    (``"label"`` for ``"labels"``) would otherwise be dropped without a word. The message
    names the nearest known field when one is close.

    >>> unknown_field(["format", "label"], ("format", "labels"), "dfa.json")
    "dfa.json: unknown field 'label' (did you mean 'labels'?); the fields are format, labels"
    >>> unknown_field(["format"], ("format", "labels"), "dfa.json") is None
    True
    """
    import difflib

    extra = [f for f in fields if f not in known]
    if not extra:
        return None
    close = difflib.get_close_matches(str(extra[0]), known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"{where}: unknown field {extra[0]!r}{hint}; the fields are {', '.join(known)}"
