r"""Mamba's parametrization of diagonal LRNNs, ``Diag(s)`` or ``Diag(2 s - 1)``, and its
exact constructions for parity and ``Z_2`` counters.

The two ranges
--------------
A Mamba-style layer (after its state expansion) is a diagonal LRNN: per channel ``i``,

.. math::

    h_{t,i} = a_i(x_t)\, h_{t-1,i} + b_i(x_t),

with a gate ``s_i(x)`` in [0, 1] computed from the input (Mamba: ``s = exp(-Delta exp(w))``,
``Delta > 0``; Mamba writes it ``exp(Delta A)`` with ``A = -exp(w) < 0``).
Grazzi et al. (ICLR 2025, arXiv 2411.12537, Section 4 and Appendix E) compare two ranges:

* ``eigen_range="[0,1]"``: ``a = s`` (Mamba as published), so every ``A(x) = Diag(s(x))`` has
  only non-negative real eigenvalues;
* ``eigen_range="[-1,1]"``: ``a = 2 s - 1`` (the paper's ``Diag(2 s - 1)``), eigenvalues in
  [-1, 1].

The ``[-1, 1]`` construction (elementary abelian 2-groups)
---------------------------------------------------------
Let the minimal DFA's transition group be ``(Z_2)^r`` (parity: ``r = 1``; ``r`` independent
parity counters, the Klein group, ...); with
:func:`~statetrack.constructions.diagonal.z2_coordinates` a letter ``x`` is a bit vector
``x`` in ``F_2^r`` and a state ``p`` the bit vector of the element leading the start to ``p``.
Take ``r`` channels, ``h_0 = 0``, and for every letter and channel ``i``:

* ``x_i = 1`` (the letter flips bit ``i``): ``s = 0``, so ``a = 2 s - 1 = -1``, and ``b = 1``:
  ``h -> 1 - h`` swaps 0 and 1;
* ``x_i = 0``: ``s = 1``, so ``a = 1``, and ``b = 0``: ``h -> h``.

By induction over the word the state is exactly the bit vector of the DFA state (entries in
{0, 1}), and the readout ``o = sum_i 2^i h_i`` is the element's integer code, distinct for
distinct states. Every ``s``, ``a``, ``b`` and state is 0 or ±1, every product ``a h`` and sum
``a h + b`` an integer in [-1, 1], and ``o < 2^r``: the form is exact in every binary float
format with at least ``r`` significand bits (bfloat16: ``r <= 8``). :func:`verify_mamba_form`
proves all of this from the definition, over the finite set of reachable states.

Why ``[0, 1]`` cannot do it (Theorems 1 and 2)
----------------------------------------------
With ``a = s`` in [0, 1] every ``A(x)`` has only non-negative real eigenvalues, which is the
hypothesis of **Theorem 1** (Grazzi et al., Thm. 1): no finite-precision LRNN of this form
recognizes parity. For the diagonal form the argument is one line per channel: ``h ->
cast(s h + b)`` with ``s >= 0`` is a non-decreasing map of a finite totally ordered set, so the
orbit under ``1^t`` is monotone, hence eventually constant; ``1^t`` and ``1^(t+1)`` then reach
the same state for large ``t`` although their parities differ
(:func:`statetrack.theory.finite_precision.parity_counterexample` finds them, with period
1). The same holds for every letter that acts as a non-identity permutation, so in the
``[0, 1]`` range no group language but the trivial one has a diagonal form:
:func:`mamba_construction` refuses it. **Theorem 2** (Thm. 2 of the same paper) limits the
``[-1, 1]`` range in turn: real diagonal matrices, negative entries included, give eventual
periods that are powers of two, and one layer period at most 2, so a single Mamba layer counts
modulo 2 per channel and nothing else; ``Z_3`` (not a power of two) needs a non-real
eigenvalue, and ``Z_4`` needs several layers. :func:`mamba_construction` therefore covers
exactly the elementary abelian 2-groups, as the delta-step diagonal form
(:func:`~statetrack.constructions.diagonal.diagonal_construction`) does.

The layer :class:`statetrack.kernels.layers.MambaLayer` loads a :class:`MambaForm`
(:meth:`~statetrack.kernels.layers.MambaLayer.from_construction`) and then computes the
language exactly on the diagonal scan kernel.

Examples
--------
>>> from statetrack.automata.families import get
>>> form = mamba_construction(get("parity"))
>>> form.width, form.alphabet, form.s == ((1,), (0,)), form.b == ((0,), (1,))
(1, ('0', '1'), True, True)
>>> [int(v) for v in form.a("1")], [int(v) for v in form.a("0")]
([-1], [1])
>>> form.accepts("1101"), form.accepts("11")
(True, False)
>>> verify_mamba_form(form, get("parity")).ok
True
>>> mamba_construction(get("parity"), eigen_range="[0,1]")
Traceback (most recent call last):
...
statetrack.constructions.errors.FormError: no Mamba form with eigen_range='[0,1]': letter '1' permutes the states, but a diagonal transition with entries s in [0, 1] has only non-negative eigenvalues, and in finite precision the orbit of every channel under a repeated letter is monotone, hence eventually constant (Theorem 1's argument; for parity: it needs an eigenvalue that is not a non-negative real); use eigen_range='[-1,1]'
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Iterable, Sequence

from ..automata import DFA
from ..floats import get_format
from ._args import check_dfa, check_text
from .diagonal import z2_coordinates
from .errors import FormError, InputTypeError, ReachableLimitError

__all__ = ["EIGEN_RANGES", "MambaForm", "MambaProof", "mamba_construction",
           "verify_mamba_form", "eigenvalue_of"]

#: The two ranges of the transition entries.
EIGEN_RANGES = ("[-1,1]", "[0,1]")


def eigenvalue_of(s: Any, eigen_range: str) -> Fraction:
    """The transition entry ``a`` of gate value ``s``: ``s`` for ``"[0,1]"``, ``2 s - 1`` for
    ``"[-1,1]"`` (exact).

    Raises
    ------
    FormError
        ``eigen_range`` is not one of :data:`EIGEN_RANGES`.

    Examples
    --------
    >>> eigenvalue_of(0, "[-1,1]"), eigenvalue_of(Fraction(1, 4), "[0,1]")
    (Fraction(-1, 1), Fraction(1, 4))
    """
    if eigen_range not in EIGEN_RANGES:
        raise FormError(f"eigen_range: expected one of {EIGEN_RANGES}, got {eigen_range!r}")
    s = Fraction(s)
    return 2 * s - 1 if eigen_range == "[-1,1]" else s


def _fractions(rows: Iterable[Iterable[Any]], what: str) -> tuple[tuple[Fraction, ...], ...]:
    try:
        return tuple(tuple(Fraction(v) for v in row) for row in rows)
    except (TypeError, ValueError) as err:
        raise FormError(f"{what}: entries must be rational numbers ({err})") from None


@dataclass(frozen=True)
class MambaForm:
    """A one-layer diagonal LRNN in Mamba's parametrization, with exact rational weights.

    Per letter ``x`` (row ``alphabet.index(x)``) and channel ``i``:
    ``h_i <- a_i(x) h_i + b[x][i]`` with ``a = eigenvalue_of(s[x][i], eigen_range)``; the
    readout is ``o = query . h``, decoded by exact lookup in ``codes`` (class ``c`` is the DFA
    state ``state_map[c]``).

    Attributes
    ----------
    alphabet : tuple of str
    s : tuple of tuples of Fraction
        ``[S, r]`` gate values in [0, 1].
    b : tuple of tuples of Fraction
        ``[S, r]`` inputs.
    initial_state : tuple of Fraction
        ``[r]``.
    eigen_range : {"[-1,1]", "[0,1]"}
    query : tuple of Fraction
        ``[r]``.
    codes : tuple of Fraction
        The readout value of each class.
    state_map : tuple of int
        DFA state of each class.
    accepting : tuple of bool
        Per class.
    name : str

    Raises
    ------
    FormError
        Shapes that do not fit, an ``s`` outside [0, 1], or an unknown ``eigen_range``.

    Examples
    --------
    >>> f = MambaForm(alphabet=("a",), s=((0,),), b=((1,),), initial_state=(0,),
    ...               eigen_range="[-1,1]", query=(1,), codes=(0, 1), state_map=(0, 1),
    ...               accepting=(True, False))
    >>> f.run("aaa")
    [(Fraction(0, 1),), (Fraction(1, 1),), (Fraction(0, 1),), (Fraction(1, 1),)]
    >>> MambaForm(alphabet=("a",), s=((2,),), b=((0,),), initial_state=(0,),
    ...           eigen_range="[0,1]", query=(1,), codes=(0,), state_map=(0,), accepting=(True,))
    Traceback (most recent call last):
    ...
    statetrack.constructions.errors.FormError: s: entry 2 of letter 'a', channel 0 is outside [0, 1]
    """

    alphabet: tuple[str, ...]
    s: tuple[tuple[Fraction, ...], ...]
    b: tuple[tuple[Fraction, ...], ...]
    initial_state: tuple[Fraction, ...]
    eigen_range: str
    query: tuple[Fraction, ...]
    codes: tuple[Fraction, ...]
    state_map: tuple[int, ...]
    accepting: tuple[bool, ...]
    name: str = ""

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "alphabet", tuple(self.alphabet))
        set_(self, "s", _fractions(self.s, "s"))
        set_(self, "b", _fractions(self.b, "b"))
        set_(self, "initial_state", _fractions([self.initial_state], "initial_state")[0])
        set_(self, "query", _fractions([self.query], "query")[0])
        set_(self, "codes", _fractions([self.codes], "codes")[0])
        set_(self, "state_map", tuple(int(q) for q in self.state_map))
        set_(self, "accepting", tuple(bool(x) for x in self.accepting))
        eigenvalue_of(0, self.eigen_range)
        S, r = len(self.alphabet), len(self.initial_state)
        for what, rows in (("s", self.s), ("b", self.b)):
            if len(rows) != S or any(len(row) != r for row in rows):
                raise FormError(f"{what}: expected [S={S}, r={r}] (letters x channels), got "
                                f"{[len(row) for row in rows]}")
        for x, row in enumerate(self.s):
            for i, v in enumerate(row):
                if not 0 <= v <= 1:
                    raise FormError(f"s: entry {v} of letter {self.alphabet[x]!r}, channel {i} "
                                    f"is outside [0, 1]")
        if len(self.query) != r:
            raise FormError(f"query: expected {r} entries (one per channel), got "
                            f"{len(self.query)}")
        if not (len(self.codes) == len(self.state_map) == len(self.accepting)):
            raise FormError("codes, state_map, accepting: expected one entry per class each, got "
                            f"{len(self.codes)}, {len(self.state_map)}, {len(self.accepting)}")
        if len(set(self.codes)) != len(self.codes):
            raise FormError("codes: two classes share a readout value")

    @property
    def width(self) -> int:
        """``r``, the number of channels."""
        return len(self.initial_state)

    def _row(self, letter: str) -> int:
        try:
            return self.alphabet.index(letter)
        except ValueError:
            raise FormError(f"letter {letter!r} is not in the alphabet {self.alphabet}") from None

    def a(self, letter: str) -> tuple[Fraction, ...]:
        """The diagonal of ``A(letter)``: ``s`` or ``2 s - 1`` per channel."""
        return tuple(eigenvalue_of(v, self.eigen_range) for v in self.s[self._row(letter)])

    def step(self, h: Sequence[Fraction], letter: str) -> tuple[Fraction, ...]:
        """One exact step ``a(letter) * h + b(letter)``."""
        x = self._row(letter)
        return tuple(ai * hi + bi for ai, hi, bi in zip(self.a(letter), h, self.b[x]))

    def run(self, word: Iterable[str]) -> list[tuple[Fraction, ...]]:
        """Exact states ``h_0, h_1, ..., h_T`` on ``word`` (a string or a sequence of letters)."""
        h = self.initial_state
        out = [h]
        for x in word:
            h = self.step(h, x)
            out.append(h)
        return out

    def readout(self, h: Sequence[Fraction]) -> Fraction:
        """``o = query . h`` (exact)."""
        return sum((q * v for q, v in zip(self.query, h)), Fraction(0))

    def classify(self, h: Sequence[Fraction]) -> int | None:
        """The class whose code equals the readout of ``h`` exactly, or None."""
        o = self.readout(h)
        return self.codes.index(o) if o in self.codes else None

    def accepts(self, word: Iterable[str]) -> bool:
        """Whether the form accepts ``word`` (exact arithmetic).

        Raises
        ------
        FormError
            The final state's readout is no code.
        """
        h = self.run(word)[-1]
        c = self.classify(h)
        if c is None:
            raise FormError(f"readout {self.readout(h)} of the final state is no class code")
        return self.accepting[c]

    def matrices(self) -> tuple[dict[str, list[list[float]]], dict[str, list[list[float]]],
                                list[list[float]]]:
        """``(A, B, H_0)`` as float matrices (``A(x) = Diag(a(x))``, ``B(x)`` and ``H_0`` as
        ``[r, 1]`` columns), the input of
        :meth:`statetrack.theory.finite_precision.FPModel.from_matrices`.

        Examples
        --------
        >>> from statetrack.automata.families import get
        >>> A, B, h0 = mamba_construction(get("parity")).matrices()
        >>> A["1"], B["1"], h0
        ([[-1.0]], [[1.0]], [[0.0]])
        """
        r = self.width
        A, B = {}, {}
        for x, letter in enumerate(self.alphabet):
            a = self.a(letter)
            A[letter] = [[float(a[i]) if i == j else 0.0 for j in range(r)] for i in range(r)]
            B[letter] = [[float(v)] for v in self.b[x]]
        return A, B, [[float(v)] for v in self.initial_state]


def mamba_construction(dfa: DFA, *, eigen_range: str = "[-1,1]", name: str = "") -> MambaForm:
    """The Mamba ``Diag(2 s - 1)`` form of a DFA whose transition group is ``(Z_2)^r``.

    See the module docstring: ``r`` channels from ``h_0 = 0``; a letter that flips bit ``i``
    has ``s_i = 0`` (``a_i = -1``) and ``b_i = 1``, any other ``s_i = 1``, ``b_i = 0``; readout
    ``o = sum_i 2^i h_i``.

    Parameters
    ----------
    dfa : DFA
        Any DFA; it is minimized first.
    eigen_range : {"[-1,1]", "[0,1]"}
        ``"[0,1]"`` exists only for a one-state language (Theorem 1; see below).
    name : str

    Returns
    -------
    MambaForm

    Raises
    ------
    InputTypeError
        ``dfa`` is not a DFA or ``name`` not a str.
    NotAGroupError
        Some letter of the minimal DFA is not a permutation.
    FormError
        The transition group is not an elementary abelian 2-group (Theorem 2 for one diagonal
        layer), or ``eigen_range="[0,1]"`` with a letter that moves a state (Theorem 1), or
        an unknown ``eigen_range``.

    Examples
    --------
    Two independent parity counters (letter ``c`` flips both):

    >>> flips = {"a": 1, "b": 2, "c": 3}
    >>> klein = DFA.from_function(0, "abc", lambda q, x: q ^ flips[x], lambda q: q == 3)
    >>> f = mamba_construction(klein)
    >>> [[int(v) for v in f.s[i]] for i in range(3)], [[int(v) for v in f.a(x)] for x in "abc"]
    ([[0, 1], [1, 0], [0, 0]], [[-1, 1], [1, -1], [-1, -1]])
    >>> f.accepts("ab"), f.accepts("cc"), f.accepts("aab")
    (True, False, False)
    """
    check_dfa(dfa, "mamba_construction")
    name = check_text(name, "name", "mamba_construction")
    eigenvalue_of(0, eigen_range)
    d = dfa.minimize()
    n = d.n_states
    if eigen_range == "[0,1]":
        # Only a letter that permutes the states and moves one is refused here: its orbit
        # q, q.x, q.x^2, ... cycles with period > 1 in the minimal DFA. A letter that is not a
        # permutation (a reset, say) is left to z2_coordinates (NotAGroupError): Theorem 1's
        # argument says nothing about it.
        for x in range(len(d.alphabet)):
            col = [int(d.transitions[q, x]) for q in range(n)]
            if len(set(col)) == n and any(c != q for q, c in enumerate(col)):
                raise FormError(
                    f"no Mamba form with eigen_range='[0,1]': letter {d.alphabet[x]!r} permutes "
                    "the states, but a diagonal transition with entries s in [0, 1] has only "
                    "non-negative eigenvalues, and in finite precision the orbit of every "
                    "channel under a repeated letter is monotone, hence eventually constant "
                    "(Theorem 1's argument; for parity: it needs an eigenvalue that is not a "
                    "non-negative real); use eigen_range='[-1,1]'")
    try:
        r, letter_bits, state_bits = z2_coordinates(d, advice=False)
    except FormError as err:
        raise FormError(f"no Mamba form: {err} (a group that is not (Z_2)^r has an element of "
                        "order > 2, and one layer of real diagonal matrices has eventual period "
                        "at most 2 under a repeated word: Theorem 2's period bound)") from None
    k = max(r, 1)
    zero, one = Fraction(0), Fraction(1)
    s = tuple(tuple(zero if bits >> i & 1 else one for i in range(k)) for bits in letter_bits)
    b = tuple(tuple(one if bits >> i & 1 else zero for i in range(k)) for bits in letter_bits)
    # class c <-> the state whose bit vector is c
    by_bits = {bits: q for q, bits in enumerate(state_bits)}
    classes = sorted(by_bits)
    return MambaForm(alphabet=tuple(d.alphabet), s=s, b=b, initial_state=(zero,) * k,
                     eigen_range=eigen_range, query=tuple(Fraction(2 ** i) for i in range(k)),
                     codes=tuple(Fraction(c) for c in classes), state_map=tuple(by_bits[c] for c in classes),
                     accepting=tuple(bool(d.accepting[by_bits[c]]) for c in classes),
                     name=name)


@dataclass(frozen=True)
class MambaProof:
    """Result of :func:`verify_mamba_form`.

    Attributes
    ----------
    ok : bool
        The form implements the DFA (for words of every length, exactly).
    reason : str
        Why not, or a summary.
    reachable_states : int
        Number of reachable exact states.
    exact_in : tuple of str
        The formats (of those asked) in which every weight, state, product, sum and readout
        value is representable, so that float runs equal the exact one for every word.
    """

    ok: bool
    reason: str
    reachable_states: int
    exact_in: tuple[str, ...]


def _exact_in(fmt: Any, values: Iterable[Fraction]) -> bool:
    f = get_format(fmt)
    return all(Fraction(f.cast_exact(v)) == v for v in values)


def verify_mamba_form(form: MambaForm, dfa: DFA, *, limit: int = 100_000,
                      formats: Sequence[str] = ("bfloat16", "float16", "float32")
                      ) -> MambaProof:
    """Prove that ``form`` implements ``dfa``, in exact arithmetic, from the definition.

    The reachable states ``H`` of the form are enumerated exactly (breadth first from
    ``H_0``). With ``g(H) = state_map[class(H)]`` the proof obligation is: every reachable
    ``H`` has a class, ``g(H_0)`` is the start state, ``g(step(H, x)) = delta(g(H), x)`` for
    every reachable ``H`` and letter ``x``, the accept bit of ``class(H)`` is that of
    ``g(H)``, and ``g`` is onto the reachable DFA states. Then, by induction over the word, the
    form and the DFA agree on every word. The ``s`` range is checked by :class:`MambaForm`
    itself. Float exactness is decided from the values (never trusted): for each of
    ``formats``, every ``a``, ``b``, reachable state, product ``a h``, sum ``a h + b``,
    readout term and partial readout sum must be a value of the format.

    Parameters
    ----------
    form : MambaForm
    dfa : DFA
        The language (minimized here; the form's ``state_map`` refers to the minimal DFA).
    limit : int
        Most reachable states enumerated.
    formats : sequence of str
        Formats to decide exactness in.

    Returns
    -------
    MambaProof

    Raises
    ------
    ReachableLimitError
        More than ``limit`` reachable states.
    InputTypeError
        ``form`` is not a :class:`MambaForm` or ``dfa`` not a DFA.

    Examples
    --------
    >>> from statetrack.automata.families import get
    >>> p = verify_mamba_form(mamba_construction(get("parity")), get("parity"))
    >>> p.ok, p.reachable_states, p.exact_in
    (True, 2, ('bfloat16', 'float16', 'float32'))

    With ``s = 1/2`` (in ``[0, 1]``) the letter 1 no longer swaps 0 and 1: ``h = 0, 1, 3/2, ...``

    >>> bad = MambaForm(alphabet=("0", "1"), s=((1,), (Fraction(1, 2),)), b=((0,), (1,)),
    ...                 initial_state=(0,), eigen_range="[0,1]", query=(1,), codes=(0, 1),
    ...                 state_map=(0, 1), accepting=(False, True))
    >>> verify_mamba_form(bad, get("parity"), limit=50).reason
    "reachable state (3/2,) after '11' has readout 3/2, no class code"
    """
    check_dfa(dfa, "verify_mamba_form")
    if not isinstance(form, MambaForm):
        raise InputTypeError(f"verify_mamba_form: argument 'form' must be a MambaForm, got "
                        f"{type(form).__name__}")
    d = dfa.minimize()
    if tuple(d.alphabet) != form.alphabet:
        return MambaProof(False, f"alphabets differ: form {form.alphabet}, DFA "
                                 f"{tuple(d.alphabet)}", 0, ())
    if any(not 0 <= q < d.n_states for q in form.state_map):
        return MambaProof(False, f"state_map: entries must be states 0..{d.n_states - 1}", 0, ())

    def where(w: str) -> str:
        return repr(w) if w else "the empty word"

    seen = {form.initial_state: ""}
    queue = [form.initial_state]
    values: set[Fraction] = set(form.initial_state)
    for x in range(len(form.alphabet)):
        values.update(form.a(form.alphabet[x]))
        values.update(form.b[x])
    g0 = form.classify(form.initial_state)
    if g0 is None or form.state_map[g0] != d.start:
        return MambaProof(False, "the initial state does not decode to the start state", 1, ())
    head = 0
    while head < len(queue):
        h = queue[head]
        head += 1
        w = seen[h]
        c = form.classify(h)
        if c is None:
            return MambaProof(False, f"reachable state ({', '.join(str(v) for v in h)},) after "
                                     f"{where(w)} has readout {form.readout(h)}, no class code",
                              len(seen), ())
        p = form.state_map[c]
        if form.accepting[c] != bool(d.accepting[p]):
            return MambaProof(False, f"class {c} (state {p}) has the wrong accept bit",
                              len(seen), ())
        partial = Fraction(0)
        for qi, hi in zip(form.query, h):
            values.update((qi * hi, partial + qi * hi))
            partial += qi * hi
        for x, letter in enumerate(form.alphabet):
            a = form.a(letter)
            values.update(ai * hi for ai, hi in zip(a, h))
            nxt = form.step(h, letter)
            values.update(nxt)
            c2 = form.classify(nxt)
            want = int(d.transitions[p, x])
            if c2 is not None and form.state_map[c2] != want:
                return MambaProof(False, f"after {where(w + letter)}: the form is in state "
                                         f"{form.state_map[c2]}, the DFA in {want}",
                                  len(seen), ())
            if nxt not in seen:
                if len(seen) >= limit:
                    raise ReachableLimitError(f"limit: more than {limit} reachable states")
                seen[nxt] = w + letter
                queue.append(nxt)
    hit = {form.state_map[form.classify(h)] for h in seen}  # type: ignore[index]
    reach = {int(q) for q in d.reachable_states()}
    if not reach <= hit:
        return MambaProof(False, f"DFA states {sorted(reach - hit)} are never reached",
                          len(seen), ())
    exact = tuple(f for f in formats if _exact_in(f, values))
    return MambaProof(True, f"implements the DFA: {len(seen)} reachable states, each step "
                            "checked exactly", len(seen), exact)
