r"""The proof obligation: an LRNN *implements* a DFA, checked exactly over its reachable states.

Definition (DESIGN.md). An LRNN implements a DFA ``D = (Q, Sigma, delta, q_0, F)`` if there is
a surjective map ``g`` from the LRNN's reachable states onto ``Q`` with ``g(H_0) = q_0`` and
``g(A(a) H + B(a)) = delta(g(H), a)`` for every reachable ``H`` and letter ``a``, and the
readout agrees: the model accepts in state ``H`` iff ``g(H)`` is in ``F``. By induction on
the length, the model then computes ``delta(q_0, w)`` (through ``g``) on *every* word ``w``:
finitely many checks prove recognition for all lengths.

Algorithm (:func:`verify`). Breadth-first search over the pairs ``(H, q)`` reachable from
``(H_0, q_0)`` under ``(H, q) -> (A(a) H + B(a), delta(q, a))``, in exact arithmetic (the
model's number field: rationals, or an algebraic field for the rotation form; states are
canonical field elements, so equal states are recognized as equal). At each new pair:

1. the exact readout of every layer must be one of its codes (else: a *readout*
   counterexample);
2. the model's accept bit must equal ``q in F`` (else: an *accept* counterexample);
3. when the DFA is the minimal one the model was compiled for, the model's decoded state
   ``state_map[class]`` must be ``q`` (else: a *state* counterexample).

BFS visits pairs in order of the length of the word leading to them, so the first failure
gives a shortest counterexample word. If no pair fails, ``g(H) = {q : (H, q) reached}``; it is
a function unless some ``H`` is paired with two states (a *map* counterexample: two words
reaching the same model state and different DFA states; against the minimal DFA this cannot
happen without an accept failure, since two minimal states are separated by some suffix).
Then every edge ``(H, q) -> (H', q')`` says ``g(H') = delta(g(H), a)``: the
``|reachable| x |Sigma|`` transitions are all checked, ``g(H_0) = q_0`` holds by the start
pair, and ``g`` is onto the reachable states of ``D`` because every reachable ``q`` appears in
some pair. The :class:`Certificate` records the reachable set's size, ``g`` as a table and a
shortest access word for every reachable model state (enough to recompute each state).

:func:`check_words` is the independent, float-level check: all words of a given length (and
so all their prefixes) and random long words run through
:meth:`~statetrack.constructions.lrnn.LRNN.evaluate_float` must agree with the DFA at every
prefix.

Examples
--------
>>> from statetrack.automata import DFA
>>> from statetrack.constructions.compile import compile
>>> from statetrack.theory.proof import verify
>>> parity = DFA([[0, 1], [1, 0]], accepting=[1], alphabet="01")
>>> cert = verify(compile(parity), parity)
>>> cert.ok, cert.reachable, cert.g, cert.transitions_checked
(True, 2, (0, 1), 4)
>>> even = parity.complement()
>>> cex = verify(compile(parity), even)
>>> cex.ok, cex.kind, cex.word
(False, 'accept', ())
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import deque
from dataclasses import asdict, dataclass
from os import PathLike
from typing import Any

import numpy as np

from ..automata import DFA
from ..constructions import io as _io
from ..constructions.certificate import CERTIFICATE_FORMAT, CERTIFICATE_VERSION, Certificate
from ..constructions.errors import (
    AlphabetMismatchError,
    ConstructionFileError,
    InputTypeError,
    MissingGeneratorError,
    ReachableLimitError,
    ReadoutError,
)
from ..constructions.io import Construction
from ..constructions.lrnn import LRNN

__all__ = ["Certificate", "Counterexample", "WordCheck", "verify", "check_words",
           "verify_construction", "load_verified", "loads_verified", "ReachableLimitError",
           "CERTIFICATE_FORMAT", "CERTIFICATE_VERSION"]


@dataclass(frozen=True)
class Counterexample:
    """A word on which the model and the DFA disagree (or the map g fails to exist).

    Attributes
    ----------
    kind : {"accept", "readout", "state", "map"}
    word : tuple of str
        A shortest word exhibiting the failure.
    detail : str
        What went wrong, in words.
    other_word : tuple of str or None
        For ``"map"``: a second word reaching the same model state but another DFA state.
    """

    kind: str
    word: tuple[str, ...]
    detail: str
    other_word: tuple[str, ...] | None = None
    ok: bool = False

    def to_dict(self) -> dict:
        d = asdict(self)
        d["word"] = list(self.word)
        d["other_word"] = None if self.other_word is None else list(self.other_word)
        return {"format": "statetrack.counterexample", "version": 1, **d}

    def summary(self) -> str:
        w = " ".join(self.word) if self.word else "(empty word)"
        return f"counterexample ({self.kind}) on {w}: {self.detail}"


def _check_model_and_dfa(func: str, lrnn: Any, dfa: Any) -> None:
    if not isinstance(lrnn, LRNN):
        raise InputTypeError(f"{func}: argument 'lrnn' must be a statetrack LRNN (a constructed "
                             f"model), got {type(lrnn).__name__}")
    if not isinstance(dfa, DFA):
        raise InputTypeError(f"{func}: argument 'dfa' must be a statetrack DFA, got "
                             f"{type(dfa).__name__}")


def _symbol_map(lrnn: LRNN, dfa: DFA) -> list[int]:
    if set(lrnn.alphabet) != set(dfa.alphabet):
        raise AlphabetMismatchError(
            f"the model's alphabet {list(lrnn.alphabet)} and the DFA's {list(dfa.alphabet)} "
            f"differ"
        )
    return [dfa.symbol_index(s) for s in lrnn.alphabet]


def verify(lrnn: LRNN, dfa: DFA, *, minimize: bool = True,
           limit: int = 1_000_000) -> Certificate | Counterexample:
    """Prove exactly that ``lrnn`` implements ``dfa``, or find a shortest counterexample.

    Parameters
    ----------
    lrnn : LRNN
    dfa : DFA
        The automaton (any; with ``minimize`` it is replaced by ``dfa.minimize()``, whose
        canonical state numbers are what :func:`~statetrack.constructions.compile.compile`
        uses in ``state_map``; without it the completed DFA is used and ``state_map`` is not
        checked).
    limit : int
        Most (model state, DFA state) pairs to explore (for a correct construction: the
        number of reachable model states).

    Returns
    -------
    Certificate or Counterexample
        Test with ``result.ok``.

    Raises
    ------
    ReachableLimitError
        More than ``limit`` pairs are reachable.
    AlphabetMismatchError
        The model's and the DFA's alphabets differ.
    InputTypeError
        ``lrnn`` is not an LRNN or ``dfa`` not a DFA (e.g. None), or ``limit`` is not a
        positive integer.

    Examples
    --------
    >>> from statetrack.constructions.compile import compile
    >>> z3 = DFA.from_function(0, "ab", lambda q, a: (q + (a == "a")) % 3, lambda q: q == 0)
    >>> cert = verify(compile(z3), z3)
    >>> cert.ok, cert.reachable, cert.g, cert.words
    (True, 3, (0, 1, 2), ((), ('a',), ('a', 'a')))
    >>> cex = verify(compile(z3), z3.complement())
    >>> cex.ok, cex.kind, cex.word
    (False, 'accept', ())
    >>> verify(None, z3)
    Traceback (most recent call last):
    ...
    statetrack.constructions.errors.InputTypeError: verify: argument 'lrnn' must be a statetrack LRNN (a constructed model), got NoneType
    """
    _check_model_and_dfa("verify", lrnn, dfa)
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise InputTypeError(f"verify: argument 'limit' must be a positive integer, got {limit!r}")
    d = dfa.minimize() if minimize else dfa.complete()
    smap = _symbol_map(lrnn, d)
    delta = d.transitions
    acc = d.accepting
    runner = lrnn.exact()
    check_state = minimize and lrnn.state_map is not None
    sym = lrnn.alphabet
    k = len(sym)

    def word_of(pair: tuple) -> tuple[str, ...]:
        w = []
        while parent[pair] is not None:
            pair, a = parent[pair]
            w.append(sym[a])
        return tuple(reversed(w))

    def judge(states: tuple, outs: tuple[int, ...], q: int) -> tuple[str, str] | None:
        top = outs[-1]
        if lrnn.accepting[top] != bool(acc[q]):
            return ("accept", f"the model {'accepts' if lrnn.accepting[top] else 'rejects'} "
                              f"but the DFA (state {q}) {'accepts' if acc[q] else 'rejects'}")
        if check_state and lrnn.state_map[top] != q:
            return ("state", f"the model decodes DFA state {lrnn.state_map[top]}, the DFA is "
                             f"in state {q}")
        return None

    h0 = runner.initial()
    start = (h0, d.start)
    parent: dict[tuple, tuple | None] = {start: None}
    try:
        outs0 = runner.outputs(h0)
    except ReadoutError as e:
        return Counterexample("readout", (), str(e))
    bad = judge(h0, outs0, d.start)
    if bad:
        return Counterexample(bad[0], (), bad[1])
    queue = deque([start])
    g_sets: dict[tuple, int] = {h0: d.start}
    order = [h0]
    conflict = None
    while queue:
        pair = queue.popleft()
        states, q = pair
        for a in range(k):
            q2 = int(delta[q, smap[a]])
            try:
                new, outs, _ = runner.step(states, a)
            except ReadoutError as e:
                return Counterexample("readout", word_of(pair) + (sym[a],), str(e))
            nxt = (new, q2)
            if nxt in parent:
                continue
            parent[nxt] = (pair, a)
            if len(parent) > limit:
                raise ReachableLimitError(
                    f"more than limit={limit} (model state, DFA state) pairs are reachable; "
                    f"raise limit or check the construction"
                )
            bad = judge(new, outs, q2)
            if bad:
                return Counterexample(bad[0], word_of(nxt), bad[1])
            if new in g_sets:
                if g_sets[new] != q2 and conflict is None:
                    conflict = (new, q2, nxt)
            else:
                g_sets[new] = q2
                order.append(new)
            queue.append(nxt)
    if conflict is not None:
        new, q2, nxt = conflict
        first = word_of((new, g_sets[new]))
        return Counterexample(
            "map", word_of(nxt),
            f"this word and {' '.join(first) or '(empty word)'} reach the same model state but "
            f"DFA states {q2} and {g_sets[new]}: no map g exists", other_word=first)
    reached_q = set(g_sets.values())
    n_reach_dfa = len(d.reachable_states())
    if len(reached_q) != n_reach_dfa:  # pragma: no cover -- impossible by construction of BFS
        raise AssertionError("g is not onto the reachable DFA states")
    words = tuple(word_of((h, g_sets[h])) for h in order)
    return Certificate(reachable=len(order), g=tuple(g_sets[h] for h in order), words=words,
                       transitions_checked=len(order) * k, dfa_states=n_reach_dfa,
                       field=str(runner.domain), minimized=minimize)


@dataclass(frozen=True)
class WordCheck:
    """Result of :func:`check_words`.

    Attributes
    ----------
    ok : bool
    n_words, n_prefixes : int
        Words run, and prefixes compared (every prefix of every word).
    mismatches : int
        Prefixes on which the float model and the DFA disagree.
    first_mismatch : tuple of str or None
        A shortest disagreeing prefix.
    dtype : str
    """

    ok: bool
    n_words: int
    n_prefixes: int
    mismatches: int
    first_mismatch: tuple[str, ...] | None
    dtype: str


def check_words(lrnn: LRNN, dfa: DFA, *, max_length: int = 6, n_random: int | None = None,
                random_length: int = 256, rng: np.random.Generator | None = None,
                dtype: Any = "float32", max_words: int = 200_000) -> WordCheck:
    """Run all words of length ``max_length`` and random words through the float model.

    Every prefix of every word (so every word of length ``<= max_length``) is compared with
    the DFA's accept bit.

    Parameters
    ----------
    max_length : int
        All ``|Sigma|^max_length`` words of this length (their prefixes cover the shorter
        ones); capped by ``max_words`` (then the longest length that fits is used).
    n_random : int or None
        Random words drawn uniformly with ``rng``. None (the default): 64 when ``rng`` is
        given, none otherwise (so ``check_words(lrnn, dfa)`` runs the exhaustive words only).
    random_length : int
        Length of each random word.
    rng : numpy.random.Generator
        Required when ``n_random > 0`` (there is no default seed: randomness is passed in).
    dtype : float dtype name (see :meth:`~statetrack.constructions.lrnn.LRNN.evaluate_float`).

    Raises
    ------
    MissingGeneratorError
        ``n_random > 0`` and ``rng`` is not a ``numpy.random.Generator``.
    InputTypeError, AlphabetMismatchError
        Bad ``lrnn``/``dfa``, a count that is not an integer in range (``max_length`` and
        ``n_random`` >= 0, ``random_length`` and ``max_words`` >= 1), or different alphabets.

    Examples
    --------
    >>> from statetrack.automata import DFA
    >>> from statetrack.constructions.compile import compile
    >>> parity = DFA([[0, 1], [1, 0]], accepting=[1], alphabet="01")
    >>> check_words(compile(parity), parity).n_words     # the 2^6 words of length 6
    64
    >>> r = check_words(compile(parity), parity, max_length=8, n_random=4,
    ...                 rng=np.random.default_rng(0), dtype="bfloat16")
    >>> r.ok, r.n_words, r.mismatches
    (True, 260, 0)
    """
    _check_model_and_dfa("check_words", lrnn, dfa)
    if n_random is None:
        n_random = 64 if rng is not None else 0
    for name, value, least in (("max_length", max_length, 0), ("n_random", n_random, 0),
                               ("random_length", random_length, 1),
                               ("max_words", max_words, 1)):
        if (isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer))
                or value < least):
            raise InputTypeError(f"check_words: argument {name!r} must be an integer >= "
                                 f"{least}, got {value!r}")
    smap = np.asarray(_symbol_map(lrnn, dfa), dtype=np.int64)
    k = lrnn.n_symbols
    if n_random > 0 and not isinstance(rng, np.random.Generator):
        got = "no rng" if rng is None else f"rng of type {type(rng).__name__}"
        raise MissingGeneratorError(
            f"check_words: argument 'rng' must be a numpy.random.Generator when n_random > 0 "
            f"(got {got}); randomness is passed in, e.g. rng=numpy.random.default_rng(0), "
            f"or set n_random=0")
    # the longest length <= max_length with k^length <= max_words, counted up (counting down
    # from a large max_length would build k^length for every length on the way)
    length = int(max_length) if k <= 1 else 0
    while length < max_length and k ** (length + 1) <= max_words:
        length += 1
    batches = []
    if length >= 0:
        all_words = np.array(list(itertools.product(range(k), repeat=length)),
                             dtype=np.int64).reshape(k ** length, length)
        batches.append(all_words)
    if n_random > 0:
        batches.append(rng.integers(0, k, size=(n_random, random_length), dtype=np.int64))
    n_words = n_prefixes = mism = 0
    first: tuple[str, ...] | None = None
    name = None
    for words in batches:
        ft = lrnn.evaluate_float(words, dtype)
        name = ft.dtype
        res = dfa.run([smap[w] for w in words]) if len(words) else None
        if res is None:
            continue
        q = res.states
        want = np.where(q >= 0, dfa.accepting[np.maximum(q, 0)], False)
        bad = ft.accepted != want
        n_words += len(words)
        n_prefixes += bad.size
        mism += int(bad.sum())
        if bad.any():
            i, t = np.argwhere(bad)[np.argmin(np.argwhere(bad)[:, 1])]
            cand = tuple(lrnn.alphabet[a] for a in words[i, :t])
            if first is None or len(cand) < len(first):
                first = cand
    return WordCheck(ok=mism == 0, n_words=n_words, n_prefixes=n_prefixes, mismatches=mism,
                     first_mismatch=first, dtype=name or str(dtype))


# ---------------------------------------------------------------------- verified loading
def _differences(stored: Certificate, fresh: Certificate) -> list[str]:
    out = []
    for f in dataclasses.fields(Certificate):
        a, b = getattr(stored, f.name), getattr(fresh, f.name)
        if a != b:
            sa, sb = str(a), str(b)
            sa = sa if len(sa) <= 60 else sa[:57] + "..."
            sb = sb if len(sb) <= 60 else sb[:57] + "..."
            out.append(f"{f.name}: stored {sa}, recomputed {sb}")
    return out


def verify_construction(c: Construction, *, limit: int = 1_000_000,
                        source: str = "input") -> Construction:
    """Re-check a loaded construction: the model must implement its DFA, and a stored
    certificate must equal the recomputed one.

    Parameters
    ----------
    c : Construction
        As returned by :func:`statetrack.constructions.io.load` (unverified).
    limit : int
        Passed to :func:`verify`.
    source : str
        Named in error messages.

    Returns
    -------
    Construction
        The same model and DFA with the recomputed certificate and ``verified=True``.

    Raises
    ------
    ConstructionFileError
        No DFA to verify against; the model does not implement the DFA (the message gives
        the counterexample); the stored certificate differs from the recomputed one (the
        message names the fields); or the alphabets differ.
    ReachableLimitError
        More than ``limit`` reachable pairs (load with ``verify=False`` to skip the proof).

    Examples
    --------
    >>> from statetrack.constructions import io
    >>> from statetrack.constructions.compile import compile
    >>> parity = DFA([[0, 1], [1, 0]], accepting=[1], alphabet="01")
    >>> m = compile(parity)
    >>> c = io.loads(io.dumps(m, dfa=parity, certificate=verify(m, parity)))
    >>> c.verified, verify_construction(c).verified
    (False, True)
    >>> bad = io.loads(io.dumps(m, dfa=parity.complement()))
    >>> verify_construction(bad, source="odd.json")
    Traceback (most recent call last):
    ...
    statetrack.constructions.errors.ConstructionFileError: odd.json: the model does not implement the stored DFA: counterexample (accept) on (empty word): the model rejects but the DFA (state 0) accepts
    """
    if not isinstance(c, Construction):
        raise InputTypeError(f"verify_construction: argument 'c' must be a Construction, got "
                             f"{type(c).__name__}")
    if c.dfa is None:
        what = "a certificate but no DFA to check it against" if c.certificate is not None \
            else "no DFA, so there is nothing to verify the model against"
        raise ConstructionFileError(
            f"{source}: the file has {what}; load it with verify=False (or "
            f"statetrack.constructions.io.load) to read it unverified")
    minimize = c.certificate.minimized if c.certificate is not None else True
    try:
        fresh = verify(c.lrnn, c.dfa, minimize=minimize, limit=limit)
    except AlphabetMismatchError as e:
        raise ConstructionFileError(f"{source}: {e}") from None
    except ReachableLimitError as e:
        raise ReachableLimitError(f"{source}: {e}; pass verify=False to load it without "
                                  f"re-verifying") from None
    if not fresh.ok:
        raise ConstructionFileError(f"{source}: the model does not implement the stored DFA: "
                                    f"{fresh.summary()}")
    if c.certificate is not None and c.certificate != fresh:
        diff = "; ".join(_differences(c.certificate, fresh))
        raise ConstructionFileError(f"{source}: the stored certificate is not the one the "
                                    f"model and DFA give ({diff})")
    return dataclasses.replace(c, certificate=fresh, verified=True)


def loads_verified(text: str, *, verify: bool = True, limit: int = 1_000_000,
                   source: str = "input") -> Construction:
    """Parse a construction file's text and re-verify it (see :func:`load_verified`).

    Examples
    --------
    >>> from statetrack.constructions import io
    >>> from statetrack.constructions.lrnn import _parity_example
    >>> parity = DFA([[0, 1], [1, 0]], accepting=[1], alphabet="01")
    >>> loads_verified(io.dumps(_parity_example(), dfa=parity)).certificate.reachable
    2
    """
    c = _io.loads(text, source=source)
    return verify_construction(c, limit=limit, source=source) if verify else c


def load_verified(path: str | PathLike, *, verify: bool = True,
                  limit: int = 1_000_000) -> Construction:
    """Read a construction file and prove it again: the safe way to load one.

    :func:`statetrack.constructions.io.load` parses the file (with a whitelist parser:
    nothing in it is executed); then :func:`verify_construction` re-runs :func:`verify`
    on the stored model and DFA and compares the result with the stored certificate.

    Parameters
    ----------
    path : str or path-like
    verify : bool
        ``False`` skips the proof (for huge models) and returns the unverified construction
        (``verified=False``; its certificate is only the file's claim).
    limit : int
        Most reachable pairs the proof explores.

    Returns
    -------
    Construction
        ``verified=True`` with the recomputed certificate (or the unverified one, see
        ``verify``).

    Raises
    ------
    ConstructionFileError
        The file is unreadable or corrupt, has no DFA, or its model, DFA and certificate do
        not agree (a tampered or inconsistent file).
    ReachableLimitError
        The proof needs more than ``limit`` pairs.

    Examples
    --------
    >>> import os, tempfile
    >>> from statetrack.constructions import io
    >>> from statetrack.constructions.compile import compile
    >>> parity = DFA([[0, 1], [1, 0]], accepting=[1], alphabet="01")
    >>> m = compile(parity)
    >>> path = os.path.join(tempfile.mkdtemp(), "parity.json")
    >>> io.save(path, m, dfa=parity, certificate=verify(m, parity))
    >>> c = load_verified(path)
    >>> c.verified, c.certificate.ok, c.lrnn == m
    (True, True, True)
    """
    c = _io.load(path)
    return verify_construction(c, limit=limit, source=str(path)) if verify else c
