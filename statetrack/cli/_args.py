"""Argument types shared by the subcommands (argparse turns their errors into usage errors,
exit status 2), and :func:`cli_text`, which rewrites the Python spelling of an argument in a
library error (``pass alphabet=``) as the command line's option (``--alphabet``)."""

from __future__ import annotations

import argparse
import os
import re

__all__ = ["positive_int", "nonnegative_int", "regex_alphabet", "cli_text", "MONOID_ENTRIES",
           "monoid_limit_for", "SLOW_STATES", "size_note", "output_file_problem"]

#: Most entries (elements x states) of a transition monoid the commands enumerate: each
#: element is a map of the DFA's states, so ``cyclic(10000)`` would hold 10^8 of them.
MONOID_ENTRIES = 20_000_000
#: From this many DFA states on, the commands say on stderr that the run can take minutes.
SLOW_STATES = 1000


def monoid_limit_for(n_states: int, limit: int) -> int:
    """The element limit of a monoid enumeration: ``limit``, lowered so that the elements
    (maps of ``n_states`` states each) stay within :data:`MONOID_ENTRIES` entries.

    >>> monoid_limit_for(5, 1_000_000), monoid_limit_for(10_000, 1_000_000)
    (1000000, 2000)
    """
    return max(1, min(int(limit), MONOID_ENTRIES // max(int(n_states), 1)))


def size_note(command: str, n_states: int) -> str | None:
    """The stderr note of ``statetrack <command>`` for a DFA of ``n_states`` states, or None
    for a small one: the monoid, the construction (width up to ``|Q|``), the exact proof and
    the float run all grow with it.

    >>> size_note("compile", 8) is None
    True
    >>> print(size_note("compile", 10_000))
    statetrack compile: note: the minimal DFA has 10000 states; the monoid, the construction (width up to |Q|), its exact proof and the float check grow with |Q| and can take many minutes (Ctrl-C stops)
    """
    if n_states < SLOW_STATES:
        return None
    return (f"statetrack {command}: note: the minimal DFA has {n_states} states; the "
            f"monoid, the construction (width up to |Q|), its exact proof and the float check "
            f"grow with |Q| and can take many minutes (Ctrl-C stops)")



def output_file_problem(option: str, path: str, example: str) -> str | None:
    """Why ``path`` (given to ``option``) cannot be written, checked before any work; None
    if it can (its folder exists and is writable, and it is not a folder itself).

    >>> output_file_problem("--json", "/", "check.json")
    '--json /: is a folder; name a file in it, e.g. --json /check.json'
    >>> output_file_problem("--out", "/no/such/folder/c.json", "c.json")
    '--out /no/such/folder/c.json: the folder /no/such/folder does not exist or is not writable'
    """
    if os.path.isdir(path):
        return (f"{option} {path}: is a folder; name a file in it, e.g. {option} "
                f"{os.path.join(path, example)}")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
        return f"{option} {path}: the folder {folder} does not exist or is not writable"
    return None


def _int_at_least(text: str, least: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a {what} integer, got {text!r}") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"expected a {what} integer, got {value}")
    return value


def positive_int(text: str) -> int:
    """An integer >= 1.

    >>> positive_int("3")
    3
    >>> positive_int("0")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: expected a positive integer, got 0
    """
    return _int_at_least(text, 1, "positive")


def nonnegative_int(text: str) -> int:
    """An integer >= 0.

    >>> nonnegative_int("0")
    0
    """
    return _int_at_least(text, 0, "non-negative")


def regex_alphabet(text: str) -> str:
    """The ``--alphabet`` of a regex: its one-character symbols, as one string.

    Whitespace is never a symbol: ``'ab'``, ``'a b'`` and ``'a  b'`` all mean the symbols
    ``a`` and ``b``. A piece of more than one character between spaces is a usage error
    (a regex reads one character per symbol), and so is an alphabet with no symbol.

    >>> regex_alphabet("a b"), regex_alphabet("01")
    ('ab', '01')
    >>> regex_alphabet("push pop")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: a regex's symbols are single characters (spaces only separate them); got 'push' in 'push pop'
    """
    pieces = text.split()
    if not pieces:
        raise argparse.ArgumentTypeError(f"expected the regex's symbols, e.g. 'ab' or 'a b', "
                                         f"got {text!r}")
    if len(pieces) > 1:
        long = [p for p in pieces if len(p) > 1]
        if long:
            raise argparse.ArgumentTypeError(
                f"a regex's symbols are single characters (spaces only separate them); got "
                f"{long[0]!r} in {text!r}")
    return "".join(pieces)


#: (pattern, replacement) applied in order by :func:`cli_text`: the library's advice in
#: Python words, and the option of ``statetrack compile`` that does the same thing.
_CLI_WORDS: tuple[tuple[str, str], ...] = (
    (r"with alphabet=None", "without --alphabet"),
    (r"\(alphabet=None\)", "(no --alphabet given)"),
    (r"pass alphabet=", "pass the symbols with --alphabet"),
    (r"use device='(\w+)' or '(\w+)'", r"use --device \1 or --device \2"),
    (r"use form='(\w+)' with normalized=True", r"use --form \1 --normalized"),
    (r"use form='(\w+)' or '(\w+)'", r"use --form \1 or --form \2"),
    (r"use form='(\w+)'", r"use --form \1"),
    (r"holonomy_decomposition\(dfa, max_skeleton=(\d+)\)", r"--max-skeleton \1"),
    (r"max_skeleton=(\d+)", r"--max-skeleton \1"),
    (r"pass a larger limit, e\.g\. transition_monoid\(\.\.\., limit=(\d+)\)",
     r"pass a larger one, e.g. --limit \1"),
    (r"more than limit=(\d+) elements", r"more than --limit \1 elements"),
    (r"more than limit=(\d+) \(model state", r"more than --limit \1 (model state"),
    (r"raise limit or", "raise --limit or"),
    (r"pass a larger limit, e\.g\.", "pass a larger one, e.g."),
)


def cli_text(message: str) -> str:
    """``message`` (a library error) with the Python spelling of arguments replaced by the
    options of ``statetrack compile`` and ``statetrack check``.

    >>> cli_text("the pattern '.' names no character, so with alphabet=None its alphabet "
    ...          "would be empty; pass alphabet=")
    "the pattern '.' names no character, so without --alphabet its alphabet would be empty; pass the symbols with --alphabet"
    >>> cli_text("no diagonal form ...; use form='permutation' or 'rotation'")
    'no diagonal form ...; use --form permutation or --form rotation'
    """
    for pattern, repl in _CLI_WORDS:
        message = re.sub(pattern, repl, message)
    return message
