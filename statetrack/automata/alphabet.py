"""Alphabets: the symbols of a language and the one rule that splits words into them.

Every part of the toolkit that reads words (:class:`~statetrack.automata.DFA`, the transition
monoid, the constructed LRNN, the finite-precision models, the kernel runner) reads them
through an :class:`Alphabet`, so a word means the same thing everywhere.

Words
-----
A *word* is

* a ``str``: one symbol per character when every symbol is one character long, otherwise the
  string is split on whitespace (``"push pop"``);
* a sequence of symbols (``["a", "b"]``) or of symbol indices (``[0, 1]``; refused where the
  caller asks for symbols only);
* a 1-D numpy integer array of symbol indices (a 1-D array of strings is a sequence of symbols).

A *batch* is an iterable of words (:meth:`Alphabet.encode_batch`); a 2-D integer array of
indices is checked by :meth:`Alphabet.check_ids`.

Errors
------
Each caller keeps the exception classes its users catch (``UnknownSymbolError`` in
:mod:`statetrack.automata`, ``UnknownTokenError`` and ``InputTypeError`` in
:mod:`statetrack.constructions`, ``SymbolRangeError`` in :mod:`statetrack.kernels`, ...): it
passes a :class:`SymbolErrors` naming the class (and, where its wording differs, the message)
of each kind of bad input, and the alphabet raises that class directly. The messages are
composed here, once; no caller catches and re-raises.

Examples
--------
>>> from statetrack.automata.alphabet import Alphabet
>>> ab = Alphabet("ab")
>>> ab.encode("abba").tolist(), ab.encode(["b", 0]).tolist()
([0, 1, 1, 0], [1, 0])
>>> Alphabet(["push", "pop"]).encode("push push pop").tolist()
[0, 0, 1]
>>> ids, lengths = ab.encode_batch(["ab", "b", ""])
>>> ids.tolist(), lengths.tolist()
([[0, 1], [1, 0], [0, 0]], [2, 1, 0])
>>> ab.encode("abc")
Traceback (most recent call last):
...
statetrack.automata.errors.UnknownSymbolError: symbol 'c' at position 2 is not in the alphabet ['a', 'b']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Sequence, Union

import numpy as np

from .errors import AlphabetError, UnknownSymbolError, WordTypeError

__all__ = ["Alphabet", "SymbolErrors", "Word", "show_word", "SHOW_WORD_CHARS"]

#: What a word may be (see the module docstring).
Word = Union[str, Sequence[str], Sequence[int], np.ndarray]

#: :func:`show_word` shortens a word to about this many characters.
SHOW_WORD_CHARS = 40


def show_word(word: Any) -> str:
    """A short text of ``word`` for error messages: its repr (a string as given, a sequence or
    an array as a list), cut to :data:`SHOW_WORD_CHARS` characters with ``...``.

    >>> show_word("t01 t13"), show_word(np.array([0, 2])), show_word("ab" * 40)
    ("'t01 t13'", '[0, 2]', "'abababababababababababababababababab...")
    """
    if isinstance(word, np.ndarray):
        word = word.tolist()
    elif isinstance(word, tuple):
        word = list(word)
    text = repr(word)
    return text if len(text) <= SHOW_WORD_CHARS else text[:SHOW_WORD_CHARS - 3] + "..."


def _host_array(word: Any, where: str, errors: Any) -> np.ndarray:
    """A 1-D array-like with ``__array__`` (a torch tensor) as a numpy array on the host; one
    on a device without values (torch's ``meta``) is named, not a traceback from inside."""
    dev = getattr(word, "device", None)
    if getattr(dev, "type", None) == "meta":
        raise errors.bad_word(f"{where}a tensor on the meta device holds no values")
    if hasattr(word, "detach"):
        word = word.detach().cpu()
    try:
        return np.asarray(word)
    except TypeError:          # a dtype numpy does not have (torch's bfloat16): not ids
        raise errors.bad_array(f"{where}a word given as an array must be 1-D integer symbol "
                               f"indices, got a tensor of {getattr(word, 'dtype', '?')}") \
            from None


#: Words at least this long given as strings over one-character symbols are looked up with
#: numpy (code points and a sorted search) rather than a dictionary per character.
_VECTOR_MIN = 64


@dataclass(frozen=True)
class SymbolErrors:
    """Which exception class (and message) each kind of bad input raises.

    Messages are format strings; the alphabet prefixes each with the caller's ``where``.

    Parameters
    ----------
    unknown : exception class
        A symbol that is not in the alphabet (and, when ``out_of_range`` is None, an index
        outside ``0 .. n - 1`` in a sequence).
    unknown_message : str
        Fields ``symbol``, ``position``, ``alphabet``.
    out_of_range : exception class or None
        An index outside ``0 .. n - 1``; None: ``unknown``.
    range_message : str
        For out-of-range indices of arrays (and of sequences when ``out_of_range`` is set);
        fields ``value``, ``position``, ``last``.
    bad_array : exception class
        An array that is not a 1-D array of integers (or of strings).
    bad_word : exception class
        A word that is neither a string, a sequence nor an array (e.g. None).
    bad_word_message : str
        Field ``type`` (the type's name).

    Examples
    --------
    >>> from statetrack.automata.alphabet import Alphabet, SymbolErrors
    >>> strict = SymbolErrors(unknown=KeyError, unknown_message="no {symbol!r} (at {position})")
    >>> Alphabet("ab").encode("ax", errors=strict, where="word 3: ")
    Traceback (most recent call last):
    ...
    KeyError: "word 3: no 'x' (at 1)"
    """

    unknown: type[Exception] = UnknownSymbolError
    unknown_message: str = "symbol {symbol!r} at position {position} is not in the alphabet {alphabet}"
    out_of_range: type[Exception] | None = None
    range_message: str = "symbol index {value} at position {position} out of range 0..{last}"
    bad_array: type[Exception] = UnknownSymbolError
    bad_word: type[Exception] = WordTypeError
    bad_word_message: str = ("a word must be a str, a sequence of symbols or symbol indices, or a "
                             "1-D integer array; got {type}")


#: The automata package's errors (and the default).
DEFAULT_ERRORS = SymbolErrors()

#: Types that are iterable but are not words.
_NOT_WORDS = (bytes, bytearray, dict, set, frozenset, np.generic, int, float, complex)


def _is_index(s: object) -> bool:
    return isinstance(s, (int, np.integer)) and not isinstance(s, (bool, np.bool_))


class Alphabet:
    """An ordered set of distinct string symbols; symbol ``i`` has index ``i``.

    Parameters
    ----------
    symbols : iterable of str
        A ``str`` gives one symbol per character.

    Raises
    ------
    AlphabetError
        A symbol that is not a string, or a repeated symbol.

    Attributes
    ----------
    symbols : tuple of str
    single_char : bool
        Every symbol is one character long (strings are then read one symbol per character).

    Examples
    --------
    >>> a = Alphabet(["0", "1"])
    >>> len(a), a[1], "1" in a, a.single_char, a.split("0110")
    (2, '1', True, True, ['0', '1', '1', '0'])
    >>> a.decode([1, 0]), a.format([1, 1])
    (('1', '0'), '11')
    >>> Alphabet(["a", "a"])
    Traceback (most recent call last):
    ...
    statetrack.automata.errors.AlphabetError: alphabet has duplicate symbols ['a', 'a']
    """

    __slots__ = ("symbols", "single_char", "_index", "_codepoints", "_lut")

    symbols: tuple[str, ...]
    single_char: bool
    _index: dict[str, int]
    _codepoints: np.ndarray | None
    _lut: np.ndarray | None

    def __init__(self, symbols: Iterable[str]):
        syms = tuple(symbols)
        for s in syms:
            if not isinstance(s, str):
                raise AlphabetError(f"alphabet symbols must be strings, got {s!r}")
        index = {s: i for i, s in enumerate(syms)}
        if len(index) != len(syms):
            raise AlphabetError(f"alphabet has duplicate symbols {list(syms)}")
        self.symbols = syms
        self._index = index
        self.single_char = all(len(s) == 1 for s in syms)
        self._codepoints = self._lut = None

    # ------------------------------------------------------------------ container
    def __len__(self) -> int:
        return len(self.symbols)

    def __iter__(self) -> Iterator[str]:
        return iter(self.symbols)

    def __getitem__(self, i: int) -> str:
        return self.symbols[i]

    def __contains__(self, symbol: object) -> bool:
        try:
            return symbol in self._index
        except TypeError:
            return False

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Alphabet) and other.symbols == self.symbols

    def __hash__(self) -> int:
        return hash(self.symbols)

    def __repr__(self) -> str:
        return f"Alphabet({list(self.symbols)!r})"

    # ------------------------------------------------------------------ symbols
    def split(self, word: str) -> list[str]:
        """The symbols of a string: its characters when every symbol is one character long,
        else its whitespace-separated parts."""
        return list(word) if self.single_char else word.split()

    def index(self, symbol: Any, *, errors: SymbolErrors = DEFAULT_ERRORS) -> int:
        """The index of one symbol (a symbol, or an index, which is range-checked).

        Examples
        --------
        >>> Alphabet("ab").index("b"), Alphabet("ab").index(1)
        (1, 1)
        >>> Alphabet("ab").index(2)
        Traceback (most recent call last):
        ...
        statetrack.automata.errors.UnknownSymbolError: symbol index 2 out of range 0..1
        """
        n = len(self.symbols)
        if _is_index(symbol):
            if 0 <= int(symbol) < n:
                return int(symbol)
            raise (errors.out_of_range or errors.unknown)(
                f"symbol index {int(symbol)} out of range 0..{n - 1}")
        try:
            return self._index[symbol]
        except (KeyError, TypeError):
            raise errors.unknown(
                f"symbol {symbol!r} is not in the alphabet {list(self.symbols)}") from None

    def decode(self, indices: Iterable[int]) -> tuple[str, ...]:
        """Indices back to symbols (each index range-checked by :meth:`index`)."""
        syms = self.symbols
        return tuple(syms[self.index(i)] for i in indices)

    def format(self, indices: Iterable[int]) -> str:
        """Display text of a word: symbols concatenated when all are one character, else
        separated by spaces (so that :meth:`split` reads it back)."""
        syms = self.decode(indices)
        return "".join(syms) if self.single_char else " ".join(syms)

    # ------------------------------------------------------------------ words
    def encode(self, word: Any, *, errors: SymbolErrors = DEFAULT_ERRORS, where: str = "",
               indices: bool = True) -> np.ndarray:
        """A word as an int64 array of symbol indices.

        Parameters
        ----------
        word : str, sequence of symbols (or indices), or 1-D integer array
            See the module docstring.
        errors : SymbolErrors
            The caller's exception classes and messages.
        where : str
            Prefix of every message (e.g. ``"words[3]: "``).
        indices : bool
            Whether integers in a sequence count as symbol indices (else they are unknown
            symbols).

        Examples
        --------
        >>> Alphabet("ab").encode(np.array([1, 0], dtype=np.int8)).tolist()
        [1, 0]
        >>> Alphabet("ab").encode([0, 1], indices=False)
        Traceback (most recent call last):
        ...
        statetrack.automata.errors.UnknownSymbolError: symbol 0 at position 0 is not in the alphabet ['a', 'b']
        """
        n = len(self.symbols)
        if not isinstance(word, (str, bytes, np.ndarray, list, tuple)) \
                and hasattr(word, "__array__") and getattr(word, "ndim", None) == 1:
            word = _host_array(word, where, errors)   # a 1-D torch (or other) array of ids
        if isinstance(word, str):
            if self.single_char and len(word) >= _VECTOR_MIN:
                return self._encode_chars(word, errors, where)
            seq: Any = self.split(word)
        elif isinstance(word, np.ndarray):
            if word.ndim == 1 and word.dtype.kind in "iu" and indices:
                out = word.astype(np.int64, copy=False)
                if out.size and (out.min() < 0 or out.max() >= n):
                    pos = int(np.flatnonzero((out < 0) | (out >= n))[0])
                    raise (errors.out_of_range or errors.unknown)(
                        where + errors.range_message.format(value=int(out[pos]), position=pos,
                                                            last=n - 1))
                return out
            if word.ndim != 1 or word.dtype.kind not in "iuUSO":
                raise errors.bad_array(
                    f"{where}a word given as an array must be 1-D integer symbol indices, got "
                    f"shape {word.shape} dtype {word.dtype}")
            seq = word.tolist()
        elif isinstance(word, _NOT_WORDS) or not hasattr(word, "__iter__"):
            raise errors.bad_word(where + errors.bad_word_message.format(
                type=type(word).__name__))
        else:
            seq = word if hasattr(word, "__len__") else list(word)
        index = self._index
        out = np.empty(len(seq), dtype=np.int64)
        for i, s in enumerate(seq):
            try:
                j = index.get(s) if isinstance(s, str) else None
            except TypeError:
                j = None
            if j is None:
                if indices and _is_index(s):
                    j = int(s)
                    if not 0 <= j < n:
                        if errors.out_of_range is not None:
                            raise errors.out_of_range(where + errors.range_message.format(
                                value=j, position=i, last=n - 1))
                        j = None
                if j is None:
                    raise errors.unknown(where + errors.unknown_message.format(
                        symbol=s, position=i, alphabet=list(self.symbols)))
            out[i] = j
        return out

    def _encode_chars(self, word: str, errors: SymbolErrors, where: str) -> np.ndarray:
        """:meth:`encode` of a long string over one-character symbols, vectorized."""
        if self._codepoints is None:
            cps = np.array([ord(s) for s in self.symbols], dtype=np.int64)
            order = np.argsort(cps)
            self._codepoints, self._lut = cps[order], order.astype(np.int64)
        cps, lut = self._codepoints, self._lut
        assert lut is not None
        code = np.frombuffer(word.encode("utf-32-le"), dtype="<u4").astype(np.int64)
        pos = np.clip(np.searchsorted(cps, code), 0, len(cps) - 1)
        bad = cps[pos] != code
        if bad.any():
            p = int(np.flatnonzero(bad)[0])
            raise errors.unknown(where + errors.unknown_message.format(
                symbol=word[p], position=p, alphabet=list(self.symbols)))
        return lut[pos]

    def encode_batch(self, words: Iterable[Any], *, errors: SymbolErrors = DEFAULT_ERRORS,
                     where: str = "", indices: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """A batch of words as ``(ids [N, T] int64, lengths [N] int64)``, padded with 0 to the
        longest word ``T``.

        ``where`` may contain ``{i}``, replaced by the word's position in the batch (e.g.
        ``"words[{i}]: "``), and ``{word}``, replaced by the word itself (shortened to
        :data:`SHOW_WORD_CHARS` characters; only composed when the word is bad).

        Examples
        --------
        >>> Alphabet("ab").encode_batch(["a", "bx"], where="words[{i}]: ")
        Traceback (most recent call last):
        ...
        statetrack.automata.errors.UnknownSymbolError: words[1]: symbol 'x' at position 1 is not in the alphabet ['a', 'b']
        >>> Alphabet("ab").encode_batch(["a", "bbx"], where="words[{i}] = {word}: ")
        Traceback (most recent call last):
        ...
        statetrack.automata.errors.UnknownSymbolError: words[1] = 'bbx': symbol 'x' at position 2 is not in the alphabet ['a', 'b']
        """
        if "{word}" in where:
            kinds = tuple({errors.unknown, errors.out_of_range or errors.unknown,
                           errors.bad_array, errors.bad_word})
            codes = []
            for i, w in enumerate(words):
                try:
                    codes.append(self.encode(w, errors=errors, indices=indices))
                except kinds as e:
                    message = e.args[0] if e.args else str(e)
                    raise type(e)(where.format(i=i, word=show_word(w)) + message) from None
        else:
            codes = [self.encode(w, errors=errors, where=where.format(i=i), indices=indices)
                     for i, w in enumerate(words)]
        lengths = np.fromiter((len(c) for c in codes), dtype=np.int64, count=len(codes))
        t_max = int(lengths.max()) if len(codes) else 0
        ids = np.zeros((len(codes), t_max), dtype=np.int64)
        for i, c in enumerate(codes):
            ids[i, :len(c)] = c
        return ids, lengths

    def check_ids(self, ids: np.ndarray, *, errors: SymbolErrors = DEFAULT_ERRORS,
                  where: str = "words") -> np.ndarray:
        """A 2-D integer array of symbol indices, range-checked, as int64.

        Examples
        --------
        >>> Alphabet("ab").check_ids(np.array([[0, 1], [2, 0]]))
        Traceback (most recent call last):
        ...
        statetrack.automata.errors.UnknownSymbolError: words: ids must lie in 0 .. 1 (the alphabet has 2 symbols); got 2 at index (1, 0), in words[1] = [2, 0]
        """
        n = len(self.symbols)
        if ids.size and (ids.min() < 0 or ids.max() >= n):
            b, t = (int(i) for i in np.argwhere((ids < 0) | (ids >= n))[0])
            raise (errors.out_of_range or errors.unknown)(
                f"{where}: ids must lie in 0 .. {n - 1} (the alphabet has {n} symbols); got "
                f"{int(ids[b, t])} at index ({b}, {t}), in {where}[{b}] = {show_word(ids[b])}")
        return ids.astype(np.int64, copy=False)
