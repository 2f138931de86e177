r"""Transition monoids of automata and their classification.

The transition monoid of a complete DFA with states ``0..n-1`` is the set of maps
``q -> delta(q, w)`` over all words w, the empty word (identity) included. It is the closure
of the letters' transformations under composition. This module computes it
(:func:`transition_monoid`), answers questions about its algebra (idempotents, group of
units, maximal subgroups, aperiodicity), and sorts automata into the classes the LRNN
constructions care about (:func:`classify`).

Convention (composition order)
------------------------------
A transformation of n points is an integer array ``t`` of length n, ``t[q]`` the image of q.
The element of a word w is the map ``q -> delta(q, w)``, and ``w·a`` means *first w, then a*,
so the element of ``w·a`` is ``a[t_w]`` (numpy fancy indexing: apply ``t_w`` first, then
``a``). In general ``x·y = y[x]`` and :meth:`TransitionMonoid.multiply` ``(i, j)`` is the index
of ``elements[j][elements[i]]``. This is the right action of words on states, so the element of
``a_1 a_2 ... a_m`` is ``a_m[... a_2[a_1]]``.

Closure algorithm
-----------------
Breadth-first search from the identity by right multiplication with the generators, one BFS
layer (all elements whose shortest word has length L) at a time, vectorized with numpy:

* the frontier is a ``[F, n]`` array ``P``; with the generators stacked as ``G`` ``[k, n]``,
  ``G[:, P]`` ``[k, F, n]`` holds every product ``p·a`` at once; it is reordered to
  (parent, letter) order;
* each row is encoded as one key: the base-n number ``sum_q t[q] n^(n-1-q)`` in an int64 when
  ``n^n < 2^63`` (n <= 15), otherwise the row's raw bytes (a numpy ``void`` scalar); both orders
  are total, and the int64 order is the lexicographic order of rows;
* the candidates are deduplicated with ``np.unique``, looked up by binary search in the sorted
  array of keys seen so far, and the new ones are merged into it (``np.insert``, linear time).

Large frontiers are processed in chunks of ``max(2^18, |found| / 2)`` candidates, and the size
is checked against ``limit`` after every chunk, so a too-large monoid fails fast with
:class:`~statetrack.automata.errors.MonoidLimitError` (after at most one chunk past the limit)
long before its closure would finish. Growing chunks keep the number of merges logarithmic
in |M| (plus one per BFS layer), so the total work is O(|M| k (n + log |M|)) for |M| elements
and k generators.

Because new elements are numbered in (parent, letter) order and parents come in BFS order, the
word recorded for each element is its *shortlex-least* word: shortest, and among the shortest
the first in lexicographic order of the generator sequence (a prefix of a shortlex-least word
is shortlex-least, so the first time BFS reaches an element it does so along that word). The
identity is element 0 with the empty word. As a by-product the search records the right Cayley
graph ``right_cayley[i, a] = index(elements[i]·a)``.

Maximal subgroups (Green's H-classes of idempotents)
----------------------------------------------------
For an idempotent e of a finite monoid M, the maximal subgroup ``H_e`` is the group of units of
``eMe``. For transformation monoids it has a direct description. In the full transformation
monoid T_n, x and y are H-equivalent iff they have the same image and the same kernel (the
partition ``p ~ q iff x[p] == x[q]``); the H-class of an idempotent e is a group isomorphic to
the symmetric group on ``im(e)``. For a submonoid ``M`` of T_n:

``H_e(M) = H_e(T_n) ∩ M``.

Proof: ``H_e(M)`` is a subgroup of T_n with identity e, hence lies in the maximal subgroup
``H_e(T_n)``. Conversely let ``x ∈ H_e(T_n) ∩ M``; x has finite order m in that group, so
``x^m = e`` and its inverse ``x^(m-1)`` (or e when m = 1) lies in M, and ``x = exe ∈ eMe``:
x is a unit of eMe. ∎

So one pass over all elements computes, for every element, its image (as a 0/1 indicator) and
its kernel (as the restricted-growth labelling ``k[q] = min{p : x[p] == x[q]}``); grouping
elements by the pair gives the H-classes of T_n restricted to M, and the classes that contain an
idempotent are exactly the maximal subgroups. This costs O(|M| n log |M|) and so works for every
monoid this module can build (T_7 included), not only small ones. The group of units is
``H_1``: the permutations in M (a permutation in a finite monoid has its inverse as a power).

Aperiodicity (Schützenberger)
-----------------------------
A finite monoid is *aperiodic* when it has no non-trivial subgroup; equivalently, for every
element x there is k with ``x^k = x^(k+1)``; equivalently all its H-classes are trivial. By
Schützenberger's theorem a regular language is star-free iff its syntactic monoid (the
transition monoid of its minimal DFA) is aperiodic, and by McNaughton–Papert star-free equals
counter-free. Here it is decided as "every maximal subgroup has order 1" (any subgroup lies in a
maximal one). The tests check it against the power criterion ``x^n == x^(n+1)`` for every
element (a transformation of n points has index at most n).

Classification
--------------
:func:`classify` reports the booleans and one ``kind``, the first that applies of

* ``"trivial"``: one element (every letter is the identity; the monoid is both a group and
  aperiodic, and only this class is both);
* ``"group"``: the monoid is a group, i.e. every letter is a permutation (a *permutation
  automaton*): a monoid of transformations is a group iff all its elements are permutations;
* ``"aperiodic"``: no non-trivial subgroup (star-free languages when the DFA is minimal);
* ``"permutation-reset"``: every letter is a permutation or a reset (a constant map), the
  component automata of the Krohn–Rhodes cascades of Maler & Pnueli (1994) that Theorem 4
  builds on;
* ``"general"``: anything else.

:func:`classify` describes the automaton it is given; for the syntactic monoid of the language
pass a minimal DFA (``dfa.minimize()``).

Examples
--------
>>> from statetrack.automata import DFA
>>> from statetrack.automata.monoid import transition_monoid, classify
>>> parity = DFA([[0, 1], [1, 0]], accepting=[1], alphabet="01")
>>> m = transition_monoid(parity)
>>> m.size, m.is_group(), m.word_of(1)
(2, True, ('1',))
>>> classify(parity).short()
'group(2)'
>>> m3 = transition_monoid({"c": [1, 2, 0], "t": [1, 0, 2], "r": [0, 0, 2]})
>>> m3.size  # the full transformation monoid T_3 has 3**3 elements
27
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from .alphabet import Alphabet, SymbolErrors
from .errors import (
    ElementIndexError,
    MonoidLimitError,
    NotInMonoidError,
    TransformationError,
)

#: Words of letters: symbols only (no indices), named "letters" and "generators".
_LETTER_ERRORS = SymbolErrors(
    unknown_message="letter {symbol!r} at position {position} is not a generator {alphabet}")

__all__ = [
    "TransitionMonoid",
    "MaximalSubgroup",
    "MonoidClass",
    "transition_monoid",
    "classify",
    "compose",
]

_CHUNK_CANDIDATES = 1 << 18
_KINDS = ("trivial", "group", "aperiodic", "permutation-reset", "general")


def _readonly(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


def _point_dtype(n: int) -> np.dtype:
    if n <= 1 << 8:
        return np.dtype(np.uint8)
    if n <= 1 << 16:
        return np.dtype(np.uint16)
    return np.dtype(np.uint32)


def compose(x: Any, y: Any) -> np.ndarray:
    """The transformation ``x·y``: first x, then y (``q -> y[x[q]]``).

    Works row-wise on stacks of transformations ``[..., n]`` with matching leading shapes.

    Examples
    --------
    >>> compose([1, 2, 0], [0, 0, 2]).tolist()  # 0 -> 1 -> 0, 1 -> 2 -> 2, 2 -> 0 -> 0
    [0, 2, 0]
    >>> compose([0, 1], [0, 1, 2])
    Traceback (most recent call last):
    ...
    statetrack.automata.errors.TransformationError: compose: x maps 2 points and y 3; both must map the same points 0 .. n-1

    Raises
    ------
    TransformationError
        Not integer arrays, maps of different numbers of points, or an entry outside
        ``0 .. n-1``.
    """
    x = np.asarray(x)
    y = np.asarray(y)
    for name, a in (("x", x), ("y", y)):
        if a.ndim == 0 or a.dtype.kind not in "iu":
            raise TransformationError(f"compose: {name} must be an integer array of points "
                                       f"[..., n], got {a.dtype} of shape {list(a.shape)}")
    n = x.shape[-1]
    if y.shape[-1] != n:
        raise TransformationError(f"compose: x maps {n} points and y {y.shape[-1]}; both must "
                                   f"map the same points 0 .. n-1")
    for name, a in (("x", x), ("y", y)):
        if a.size and (a.min() < 0 or a.max() >= n):
            raise TransformationError(f"compose: {name} has an entry outside 0 .. {n - 1}")
    if y.ndim == 1:
        return y[x]
    if x.ndim == 1:
        return np.take(y, x, axis=-1)
    return np.take_along_axis(y, x, axis=-1)


class _Keys:
    """Row keys for transformations of n points: int64 base-n numbers, or raw bytes."""

    def __init__(self, n: int, dtype: np.dtype):
        self.n = n
        self.dtype = dtype
        self.integer = n ** n < 2 ** 63
        if self.integer:
            self.powers = np.array([n ** (n - 1 - q) for q in range(n)], dtype=np.int64)
        else:
            self.void = np.dtype((np.void, n * dtype.itemsize))

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        if self.integer:
            return rows.astype(np.int64) @ self.powers
        rows = np.ascontiguousarray(rows, dtype=self.dtype)
        return rows.view(self.void).reshape(rows.shape[0])


def _as_transformation(t: Any, where: str, n: int | None = None) -> np.ndarray:
    """Validate one transformation; returns an int64 copy."""
    if isinstance(t, (str, bytes)):
        raise TransformationError(f"{where} must be an array of ints, got a string {t!r}")
    try:
        arr = np.asarray(t)
    except (ValueError, TypeError) as e:
        raise TransformationError(f"{where} is not an array of ints: {e}") from None
    if arr.dtype == object or arr.ndim != 1:
        raise TransformationError(
            f"{where} must be a 1-D array of ints, got shape {arr.shape}"
            + (" (ragged or non-numeric)" if arr.dtype == object else "")
        )
    if arr.dtype.kind == "b" or not (np.issubdtype(arr.dtype, np.integer) or arr.size == 0):
        raise TransformationError(f"{where} must hold integers, got dtype {arr.dtype}")
    if arr.size == 0:
        raise TransformationError(f"{where} is empty; a transformation needs at least one point")
    if n is not None and arr.size != n:
        raise TransformationError(
            f"{where} has length {arr.size}, but the transformations act on {n} points"
        )
    m = arr.size
    bad = np.flatnonzero((arr < 0) | (arr >= m))
    if bad.size:
        q = int(bad[0])
        raise TransformationError(
            f"{where} maps point {q} to {int(arr[q])}, outside the points 0..{m - 1}"
        )
    return arr.astype(np.int64)


def _generators(source: Any) -> tuple[tuple[str, ...], np.ndarray]:
    """Letters and ``[k, n]`` int64 generator table from a DFA, a mapping, or a sequence."""
    from .dfa import DFA

    if isinstance(source, DFA):
        d = source.complete()
        return d.alphabet, np.ascontiguousarray(d.transitions.T)
    if isinstance(source, Mapping):
        items = list(source.items())
        for name, _ in items:
            if not isinstance(name, str) or not name:
                raise TransformationError(
                    f"generator names must be non-empty strings, got {name!r}"
                )
    elif isinstance(source, (Sequence, np.ndarray)) and not isinstance(source, (str, bytes)):
        items = [(str(i), t) for i, t in enumerate(source)]
    else:
        raise TransformationError(
            "expected a DFA, a mapping {letter: transformation} or a sequence of "
            f"transformations, got {type(source).__name__}"
        )
    if not items:
        raise TransformationError("no generators given; at least one transformation is needed")
    rows = []
    n = None
    for name, t in items:
        row = _as_transformation(t, f"generator {name!r}", n)
        n = row.size
        rows.append(row)
    return tuple(name for name, _ in items), np.stack(rows)


@dataclass(frozen=True)
class MaximalSubgroup:
    """The maximal subgroup ``H_e`` of a monoid at the idempotent e.

    Attributes
    ----------
    idempotent : int
        Index of e (the group's identity) in the monoid.
    elements : np.ndarray
        Sorted indices of the members of ``H_e`` (e included).
    rank : int
        ``|im(e)|``; ``H_e`` acts faithfully on ``im(e)`` as a subgroup of ``S_rank``.
    """

    idempotent: int
    elements: np.ndarray
    rank: int

    @property
    def order(self) -> int:
        """Number of elements of the group."""
        return int(self.elements.size)


class TransitionMonoid:
    """A finite monoid of transformations with a shortest word for each element.

    Build with :func:`transition_monoid`. Elements are numbered ``0..size-1`` in breadth-first
    order (identity first, shorter words first); see the module docstring for the composition
    convention (``x·y`` = first x, then y).

    Attributes
    ----------
    n_points : int
        The number of points (DFA states) the transformations act on.
    letters : tuple of str
        The generator names (a DFA's alphabet).
    generators : np.ndarray
        ``[k, n_points]`` the generator transformations, in letter order.
    elements : np.ndarray
        ``[size, n_points]`` all elements (read-only), identity first, BFS order.
    right_cayley : np.ndarray
        ``[size, k]`` int64, ``right_cayley[i, a]`` is the index of ``elements[i]·a``.

    Examples
    --------
    >>> m = transition_monoid({"a": [1, 2, 0]})  # a 3-cycle: the cyclic group Z_3
    >>> m.size, m.elements.tolist(), m.word_of(2)
    (3, [[0, 1, 2], [1, 2, 0], [2, 0, 1]], ('a', 'a'))
    >>> m.multiply(1, 2), m.index([2, 0, 1])
    (0, 2)
    """

    __slots__ = ("n_points", "letters", "generators", "elements", "right_cayley",
                 "_parent", "_letter", "_keys", "_sorted_keys", "_sorted_ids", "_cache")

    n_points: int
    letters: tuple[str, ...]
    generators: np.ndarray
    elements: np.ndarray
    right_cayley: np.ndarray
    _parent: np.ndarray
    _letter: np.ndarray
    _keys: _Keys
    _sorted_keys: np.ndarray
    _sorted_ids: np.ndarray
    _cache: dict[str, Any]

    def __init__(self, letters: tuple[str, ...], generators: np.ndarray, elements: np.ndarray,
                 parent: np.ndarray, letter: np.ndarray, right_cayley: np.ndarray,
                 keys: _Keys, sorted_keys: np.ndarray, sorted_ids: np.ndarray):
        fields = dict(
            n_points=int(elements.shape[1]), letters=letters, generators=_readonly(generators),
            elements=_readonly(elements), right_cayley=_readonly(right_cayley),
            _parent=_readonly(parent), _letter=_readonly(letter), _keys=keys,
            _sorted_keys=_readonly(sorted_keys), _sorted_ids=_readonly(sorted_ids), _cache={},
        )
        for name, value in fields.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"TransitionMonoid is immutable (cannot set {name!r})")

    # ------------------------------------------------------------------ basics
    @property
    def size(self) -> int:
        """Number of elements."""
        return int(self.elements.shape[0])

    def __len__(self) -> int:
        return self.size

    def __repr__(self) -> str:
        return (f"TransitionMonoid(size={self.size}, n_points={self.n_points}, "
                f"letters={list(self.letters)})")

    def _check_index(self, i: Any, name: str = "index") -> np.ndarray:
        arr = np.asarray(i)
        if arr.dtype.kind not in "iu":  # bool is kind "b"
            raise ElementIndexError(f"element {name} must be an int, got {arr.dtype} {i!r}")
        bad = (arr < 0) | (arr >= self.size)
        if bad.any():
            v = int(arr[bad].ravel()[0]) if arr.ndim else int(arr)
            raise ElementIndexError(
                f"element {name} {v} out of range: the monoid has elements 0..{self.size - 1}"
            )
        return arr.astype(np.int64)

    def _lookup(self, rows: np.ndarray) -> np.ndarray:
        """Indices of rows ``[m, n]`` (``-1`` where a row is not an element)."""
        keys = self._keys(rows)
        sk = self._sorted_keys
        pos = np.minimum(np.searchsorted(sk, keys), sk.size - 1)
        return np.where(sk[pos] == keys, self._sorted_ids[pos], -1)

    def index(self, transformation: Any) -> int:
        """The index of a transformation in the monoid.

        Raises
        ------
        TransformationError
            If ``transformation`` is not a transformation of ``n_points`` points.
        NotInMonoidError
            If it is one but not an element of this monoid.

        Examples
        --------
        >>> m = transition_monoid({"a": [1, 0, 2]})
        >>> m.index([1, 0, 2])
        1
        >>> m.index([0, 0, 0])
        Traceback (most recent call last):
        ...
        statetrack.automata.errors.NotInMonoidError: transformation [0, 0, 0] is not an element of this monoid (size 2, letters ['a'])
        """
        t = _as_transformation(transformation, "transformation", self.n_points)
        i = int(self._lookup(t.astype(self.elements.dtype)[None])[0])
        if i < 0:
            raise NotInMonoidError(
                f"transformation {t.tolist()} is not an element of this monoid "
                f"(size {self.size}, letters {list(self.letters)})"
            )
        return i

    def __contains__(self, transformation: Any) -> bool:
        try:
            self.index(transformation)
        except (NotInMonoidError, TransformationError):
            return False
        return True

    def multiply(self, i: Any, j: Any) -> Any:
        """Index of ``elements[i]·elements[j]`` (first i, then j); vectorized over arrays.

        Examples
        --------
        >>> m = transition_monoid({"c": [1, 2, 0], "r": [0, 0, 2]})
        >>> c, r = m.evaluate("c"), m.evaluate("r")
        >>> m.elements[m.multiply(c, r)].tolist()  # 0 -> 1 -> 0, 1 -> 2 -> 2, 2 -> 0 -> 0
        [0, 2, 0]
        >>> m.multiply([0, c], [c, c]).tolist() == [c, m.evaluate("cc")]
        True
        """
        ii = self._check_index(i, "index i")
        jj = self._check_index(j, "index j")
        try:
            ii, jj = np.broadcast_arrays(ii, jj)
        except ValueError:
            raise ElementIndexError(
                f"index arrays of shapes {ii.shape} and {jj.shape} do not broadcast"
            ) from None
        x = self.elements[ii.ravel()]
        y = self.elements[jj.ravel()]
        out = self._lookup(np.take_along_axis(y, x.astype(np.intp), axis=1)).reshape(ii.shape)
        return int(out) if out.ndim == 0 else out

    def evaluate(self, word: Any) -> int:
        """Index of the element of a word of letters (walks the right Cayley graph).

        ``word`` is a sequence of letters, or a string (split into characters when every
        letter is one character long, otherwise on whitespace).

        Examples
        --------
        >>> m = transition_monoid({"a": [1, 2, 0]})
        >>> m.evaluate("aaaa") == m.evaluate("a")
        True
        """
        alphabet = self._cache.get("alphabet")
        if alphabet is None:
            alphabet = self._cache["alphabet"] = Alphabet(self.letters)
        i = 0
        rc = self.right_cayley
        for a in alphabet.encode(word, errors=_LETTER_ERRORS, indices=False).tolist():
            i = int(rc[i, a])
        return i

    def word_of(self, i: int) -> tuple[str, ...]:
        """The shortlex-least word of letters whose element is ``elements[i]``.

        Examples
        --------
        >>> m = transition_monoid({"a": [1, 0, 2], "b": [0, 2, 1]})
        >>> m.size, m.word_of(m.size - 1)  # S_3; the longest element needs 3 letters
        (6, ('a', 'b', 'a'))
        """
        i = int(self._check_index(i))
        out = []
        while i > 0:
            out.append(self.letters[self._letter[i]])
            i = int(self._parent[i])
        return tuple(reversed(out))

    @property
    def words(self) -> tuple[tuple[str, ...], ...]:
        """The word of every element (computed on first use; one tuple per element)."""
        w = self._cache.get("words")
        if w is None:
            out: list[tuple[str, ...]] = [()]
            letters = self.letters
            for p, a in zip(self._parent[1:].tolist(), self._letter[1:].tolist()):
                out.append(out[p] + (letters[a],))
            w = self._cache["words"] = tuple(out)
        return w

    def word_lengths(self) -> np.ndarray:
        """``[size]`` length of each element's shortest word (its BFS depth)."""
        d = self._cache.get("depth")
        if d is None:
            d = np.zeros(self.size, dtype=np.int64)
            parent = self._parent[1:]
            while True:  # one round per BFS layer: d[i] = d[parent[i]] + 1 until stable
                new = d[parent] + 1
                if np.array_equal(new, d[1:]):
                    break
                d[1:] = new
            d = self._cache["depth"] = _readonly(d)
        return d

    # ------------------------------------------------------------------ structure
    def ranks(self) -> np.ndarray:
        """``[size]`` the rank ``|im(x)|`` of every element."""
        r = self._cache.get("ranks")
        if r is None:
            r = self._cache["ranks"] = _readonly(self._image_indicator().sum(axis=1))
        return r

    def _image_indicator(self) -> np.ndarray:
        img = np.zeros((self.size, self.n_points), dtype=bool)
        img[np.arange(self.size)[:, None], self.elements] = True
        return img

    def idempotents(self) -> np.ndarray:
        """Sorted indices of the idempotents (``x·x == x``); the identity is one.

        Examples
        --------
        >>> m = transition_monoid({"r": [0, 0], "s": [1, 1]})  # identity and two resets
        >>> m.idempotents().tolist()
        [0, 1, 2]
        """
        e = self._cache.get("idempotents")
        if e is None:
            x = self.elements.astype(np.intp)
            e = np.flatnonzero((np.take_along_axis(x, x, axis=1) == x).all(axis=1))
            e = self._cache["idempotents"] = _readonly(e)
        return e

    def is_group(self) -> bool:
        """Whether the monoid is a group: every generator (hence element) is a permutation."""
        g = self.generators
        return bool((np.sort(g, axis=1) == np.arange(self.n_points)).all())

    def group_of_units(self) -> np.ndarray:
        """Sorted indices of the units: the permutations in the monoid (a subgroup, ``H_1``)."""
        return np.flatnonzero(self.ranks() == self.n_points)

    def _h_classes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """H-class label per element (same image and kernel), elements sorted by label,
        and class start offsets (``starts[c] .. starts[c + 1]`` in the sorted order)."""
        cached = self._cache.get("h")
        if cached is not None:
            return cached
        size, n = self.elements.shape
        x = self.elements.astype(np.intp)
        rows = np.arange(size)
        first = np.full((size, n), n, dtype=np.intp)
        for q in range(n - 1, -1, -1):
            first[rows, x[:, q]] = q
        kernel = np.take_along_axis(first, x, axis=1)  # restricted-growth labels
        dt = _point_dtype(n + 1)
        sig = np.empty((size, 2 * n), dtype=dt)
        sig[:, :n] = kernel
        sig[:, n:] = self._image_indicator()
        keys = sig.view(np.dtype((np.void, 2 * n * dt.itemsize))).reshape(size)
        _, label = np.unique(keys, return_inverse=True)
        label = label.reshape(size)
        order = np.argsort(label, kind="stable")
        starts = np.searchsorted(label[order], np.arange(label.max() + 2))
        cached = self._cache["h"] = (label, order, starts)
        return cached

    def h_class(self, i: int) -> np.ndarray:
        """Sorted indices of the elements with the same image and kernel as ``elements[i]``.

        For an idempotent this is its maximal subgroup; for other elements it is the
        intersection of M with an H-class of the full transformation monoid (not always an
        H-class of M).
        """
        i = int(self._check_index(i))
        label, order, starts = self._h_classes()
        c = label[i]
        return np.sort(order[starts[c]: starts[c + 1]])

    def maximal_subgroups(self) -> list[MaximalSubgroup]:
        """The maximal subgroup ``H_e`` at every idempotent e, in order of e.

        See the module docstring for the method (``H_e(M) = H_e(T_n) ∩ M``).

        Examples
        --------
        >>> m = transition_monoid({"a": [1, 0, 2], "r": [2, 2, 2]})
        >>> [(h.idempotent, h.order, h.rank) for h in m.maximal_subgroups()]
        [(0, 2, 3), (2, 1, 1)]
        """
        out = self._cache.get("maxsub")
        if out is None:
            label, order, starts = self._h_classes()
            ranks = self.ranks()
            out = []
            for e in self.idempotents().tolist():
                c = label[e]
                members = _readonly(np.sort(order[starts[c]: starts[c + 1]]))
                out.append(MaximalSubgroup(e, members, int(ranks[e])))
            self._cache["maxsub"] = out
        return list(out)

    def maximal_subgroup_orders(self) -> tuple[int, ...]:
        """Sorted distinct orders of the maximal subgroups."""
        label, _, starts = self._h_classes()
        sizes = np.diff(starts)[label[self.idempotents()]]
        return tuple(int(s) for s in np.unique(sizes))

    def is_aperiodic(self) -> bool:
        """Whether the monoid has no non-trivial subgroup (every ``H_e`` has one element).

        Equivalently ``x^k == x^(k+1)`` for every x and some k; by Schützenberger's theorem a
        minimal DFA's monoid is aperiodic iff its language is star-free (= counter-free).

        Examples
        --------
        >>> transition_monoid({"a": [1, 0]}).is_aperiodic()  # parity: Z_2
        False
        >>> transition_monoid({"a": [1, 2, 2], "b": [0, 0, 2]}).is_aperiodic()
        True
        """
        return self.maximal_subgroup_orders() == (1,)

    def is_permutation_reset(self) -> bool:
        """Whether every generator is a permutation or a reset (constant map)."""
        g = self.generators
        perm = (np.sort(g, axis=1) == np.arange(self.n_points)).all(axis=1)
        const = (g == g[:, :1]).all(axis=1)
        return bool((perm | const).all())


def transition_monoid(source: Any, *, limit: int = 1_000_000,
                      progress: bool = False) -> TransitionMonoid:
    """The monoid generated by transformations (a DFA's letters), identity included.

    Parameters
    ----------
    source : DFA, mapping or sequence
        A :class:`~statetrack.automata.DFA` (its :meth:`~statetrack.automata.DFA.complete`
        table's columns are the generators, named by the alphabet); a mapping
        ``{letter: transformation}``; or a sequence of transformations (letters ``"0"``,
        ``"1"``, ...; a 2-D array is read row by row). A transformation of n points is a
        length-n integer array with values in ``0..n-1``.
    limit : int
        The most elements allowed. The closure stops with :class:`MonoidLimitError` as soon
        as it has found more (checked after every chunk of candidate products).
    progress : bool
        Show a tqdm progress bar (elements found so far).

    Returns
    -------
    TransitionMonoid

    Raises
    ------
    MonoidLimitError
        The monoid has more than ``limit`` elements.
    TransformationError
        The generators are not transformations of a common set of points.

    Examples
    --------
    >>> transition_monoid([[1, 2, 3, 0], [1, 0, 2, 3]]).size  # S_4 from a 4-cycle and a swap
    24
    >>> transition_monoid([[1, 2, 3, 0], [1, 0, 2, 3], [0, 0, 2, 3]], limit=100)
    Traceback (most recent call last):
    ...
    statetrack.automata.errors.MonoidLimitError: the monoid has more than limit=100 elements (found 145 so far, with words up to length 6); pass a larger limit, e.g. transition_monoid(..., limit=1000), to compute it
    """
    if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1:
        raise MonoidLimitError(f"limit must be a positive int, got {limit!r}")
    limit = int(limit)
    letters, gens64 = _generators(source)
    k, n = gens64.shape
    dtype = _point_dtype(n)
    gens = gens64.astype(dtype)
    keyer = _Keys(n, dtype)

    identity = np.arange(n, dtype=dtype)
    elem_chunks = [identity[None]]
    parent_chunks = [np.array([-1], dtype=np.int64)]
    letter_chunks = [np.array([-1], dtype=np.int64)]
    cayley_chunks: list[np.ndarray] = []
    seen_keys = keyer(identity[None])
    seen_ids = np.zeros(1, dtype=np.int64)
    total = 1
    frontier = identity[None]
    frontier_start = 0  # index of frontier[0]
    depth = 0
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=None, unit="elem", desc="transition monoid")
        bar.update(1)
    try:
        while frontier.shape[0]:
            next_chunks = []
            s = 0
            while s < frontier.shape[0]:
                # chunks grow with the monoid so the merges into seen_keys stay amortized
                step = max(1, max(_CHUNK_CANDIDATES, total // 2) // k)
                parents = frontier[s: s + step]  # [c, n]
                c = parents.shape[0]
                cand = gens[:, parents]  # [k, c, n]: first parent, then a
                cand = cand.transpose(1, 0, 2).reshape(c * k, n)  # (parent, letter) order
                keys = keyer(cand)
                uk, first, inv = np.unique(keys, return_index=True, return_inverse=True)
                pos = np.searchsorted(seen_keys, uk)
                posc = np.minimum(pos, seen_keys.size - 1)
                found = seen_keys[posc] == uk
                ids_u = np.where(found, seen_ids[posc], -1)
                new_u = np.flatnonzero(~found)
                if new_u.size:
                    n_new = int(new_u.size)
                    if total + n_new > limit:
                        raise MonoidLimitError(
                            f"the monoid has more than limit={limit} elements (found "
                            f"{total + n_new} so far, with words up to length {depth + 1}); "
                            f"pass a larger limit, e.g. transition_monoid(..., "
                            f"limit={10 * limit}), to compute it"
                        )
                    ordered = new_u[np.argsort(first[new_u], kind="stable")]
                    ids_u[ordered] = np.arange(total, total + n_new)
                    src = first[ordered]
                    rows = cand[src]
                    next_chunks.append(rows)
                    elem_chunks.append(rows)
                    parent_chunks.append(frontier_start + s + src // k)
                    letter_chunks.append(src % k)
                    seen_keys = np.insert(seen_keys, pos[new_u], uk[new_u])
                    seen_ids = np.insert(seen_ids, pos[new_u], ids_u[new_u])
                    total += n_new
                    if bar is not None:
                        bar.update(n_new)
                cayley_chunks.append(ids_u[inv.reshape(-1)].reshape(c, k))
                s += c
            frontier_start += frontier.shape[0]
            frontier = (np.concatenate(next_chunks) if next_chunks
                        else np.empty((0, n), dtype=dtype))
            depth += 1
    finally:
        if bar is not None:
            bar.close()
    return TransitionMonoid(
        letters, gens, np.concatenate(elem_chunks), np.concatenate(parent_chunks),
        np.concatenate(letter_chunks), np.concatenate(cayley_chunks).astype(np.int64),
        keyer, seen_keys, seen_ids,
    )


@dataclass(frozen=True)
class MonoidClass:
    """The algebraic class of an automaton's transition monoid (see :func:`classify`).

    Attributes
    ----------
    size : int
        Number of elements of the transition monoid.
    kind : str
        One of ``"trivial"``, ``"group"``, ``"aperiodic"``, ``"permutation-reset"``,
        ``"general"`` -- the first that applies, in this order.
    is_group : bool
        The monoid is a group (equivalently: a permutation automaton).
    is_aperiodic : bool
        No non-trivial subgroup (star-free / counter-free for a minimal DFA).
    is_permutation_reset : bool
        Every letter is a permutation or a reset (constant map), after Maler & Pnueli.
    is_permutation_automaton : bool
        Every letter is a permutation (same as ``is_group``; kept for readability).
    group_of_units_order : int
        Number of permutations in the monoid.
    maximal_subgroup_orders : tuple of int or None
        Sorted distinct orders of the maximal subgroups (always computed here; the type
        admits None for callers that skip it).
    n_points : int
        Number of states the monoid acts on.
    n_idempotents : int
        Number of idempotents.
    """

    size: int
    kind: str
    is_group: bool
    is_aperiodic: bool
    is_permutation_reset: bool
    is_permutation_automaton: bool
    group_of_units_order: int
    maximal_subgroup_orders: tuple[int, ...] | None = None
    n_points: int = 0
    n_idempotents: int = 0

    def short(self) -> str:
        """A compact table cell, e.g. ``"group(120)"`` or ``"aperiodic(6)"``."""
        return f"{self.kind}({self.size})"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the fields."""
        d = {f: getattr(self, f) for f in self.__dataclass_fields__}
        if d["maximal_subgroup_orders"] is not None:
            d["maximal_subgroup_orders"] = list(d["maximal_subgroup_orders"])
        return d


def classify(source: Any, *, limit: int = 1_000_000, progress: bool = False) -> MonoidClass:
    """Classify a DFA (or generators, or a built :class:`TransitionMonoid`) by its monoid.

    The classes and their order of precedence are described in the module docstring. Pass a
    minimal DFA to classify the language (its syntactic monoid).

    Examples
    --------
    >>> from statetrack.automata import DFA
    >>> ab_star = DFA([[1, 2], [2, 0], [2, 2]], accepting=[0], alphabet="ab")  # (ab)*
    >>> c = classify(ab_star)
    >>> c.short(), c.is_aperiodic, c.maximal_subgroup_orders
    ('aperiodic(6)', True, (1,))
    >>> even_a = DFA([[1], [0]], accepting=[0], alphabet="a")  # (aa)*
    >>> classify(even_a).short()
    'group(2)'
    >>> flip_flop = DFA([[0, 0, 1], [1, 0, 1]], accepting=[1], alphabet=["n", "r", "s"])
    >>> f = classify(flip_flop)
    >>> f.kind, f.is_permutation_reset
    ('aperiodic', True)
    """
    m = source if isinstance(source, TransitionMonoid) else transition_monoid(
        source, limit=limit, progress=progress)
    is_group = m.is_group()
    orders = m.maximal_subgroup_orders()
    aperiodic = orders == (1,)
    perm_reset = m.is_permutation_reset()
    if m.size == 1:
        kind = "trivial"
    elif is_group:
        kind = "group"
    elif aperiodic:
        kind = "aperiodic"
    elif perm_reset:
        kind = "permutation-reset"
    else:
        kind = "general"
    return MonoidClass(
        size=m.size, kind=kind, is_group=is_group, is_aperiodic=aperiodic,
        is_permutation_reset=perm_reset, is_permutation_automaton=is_group,
        group_of_units_order=int(m.group_of_units().size), maximal_subgroup_orders=orders,
        n_points=m.n_points, n_idempotents=int(m.idempotents().size),
    )
