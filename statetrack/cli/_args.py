"""Argument types shared by the subcommands (argparse turns their errors into usage errors,
exit status 2)."""

from __future__ import annotations

import argparse

__all__ = ["positive_int", "nonnegative_int"]


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
