r"""The typed model of a constructed LRNN: :class:`DeltaStep`, :class:`Readout`,
:class:`Layer`, :class:`LRNN` and the traces of its runs.

The recurrence, the layer semantics and the exact domains are described in
:mod:`statetrack.constructions.lrnn` (the module users import; it re-exports everything here).
Exact arithmetic lives in :mod:`~statetrack.constructions.exact`, the float run in
:mod:`~statetrack.constructions.float_run`, and the rule that stacks layers in
:mod:`~statetrack.constructions.stack`.

Examples
--------
>>> from statetrack.constructions.model import DeltaStep, Layer, Readout, LRNN
>>> layer = Layer(tokens=("0", "1"), steps=((), (DeltaStep(key=[1, -1], beta=1),)),
...               initial_state=[[1], [0]], readout=Readout(query=[0, 1], codes=[[0], [1]]))
>>> LRNN(alphabet=("0", "1"), layers=(layer,), accepting=(False, True)).accepts("1101")
True
"""

from __future__ import annotations

import dataclasses
import functools
import operator
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import sympy

from statetrack.automata.alphabet import Alphabet, SymbolErrors
from statetrack.floats import FLOAT_DTYPES, dtype_name

from .errors import (
    EigenvalueRangeError,
    InputTypeError,
    LayerIndexError,
    ReadoutError,
    ShapeError,
    UnknownTokenError,
)
from .exact import (
    _TWO,
    _ZERO,
    ExactRunner,
    _apply_steps,
    _compare,
    _rational_if_exact,
    _rows_to_sympy,
    _simp,
    product,
    to_exact,
    to_matrix,
    to_vector,
)
from ._args import check_flag, check_text
from .float_exact import float_exactness as _float_exactness
from .float_run import _float_tables_cached, _run_layer_float
from .stack import run_stack, token_map_arrays

__all__ = ["DeltaStep", "Readout", "Layer", "LRNN", "ExactTrace", "FloatTrace"]

#: Words of a constructed model: the construction package's errors.
_WORD_ERRORS = SymbolErrors(
    unknown=UnknownTokenError, bad_array=UnknownTokenError, bad_word=InputTypeError,
    bad_word_message="word: expected a string, a sequence of symbols or a 1-D integer array, "
                     "got {type}")
#: Words of a batch (:meth:`LRNN.evaluate_float`): each message starts "words[i] = word: ".
_BATCH_ERRORS = dataclasses.replace(
    _WORD_ERRORS, bad_word_message="expected a string, a sequence of symbols or a 1-D integer "
                                   "array, got {type}")


# ---------------------------------------------------------------------- delta step
@dataclass(frozen=True)
class DeltaStep:
    """One delta sub-step ``S <- (I - beta k k^T) S + beta k v^T``.

    Parameters
    ----------
    key : sequence of exact numbers, length K (stored as a tuple of sympy numbers)
    beta : exact number in [0, 2] with ``beta * ||key||^2`` in [0, 2]
    value : sequence of exact numbers, length V, or None for zeros (the layer fills it in)

    Raises
    ------
    EigenvalueRangeError
        If the GH factor's eigenvalue ``1 - beta ||k||^2`` is outside [-1, 1] or beta is
        outside [0, 2].

    Examples
    --------
    >>> s = DeltaStep(key=[1, -1, 0], beta=1)
    >>> s.key, s.eigenvalue, s.is_identity, s.support
    ((1, -1, 0), -1, False, (0, 1))
    >>> s.matrix()
    Matrix([
    [0, 1, 0],
    [1, 0, 0],
    [0, 0, 1]])
    >>> DeltaStep(key=[1, 1], beta=2)
    Traceback (most recent call last):
    ...
    statetrack.constructions.errors.EigenvalueRangeError: delta step: beta * ||k||^2 = 4 is outside [0, 2] (GH eigenvalue 1 - 4 = -3 is outside [-1, 1])
    """

    key: Any
    beta: Any
    value: Any = None

    def __post_init__(self) -> None:
        key = to_vector(self.key, "delta step key")
        beta = to_exact(self.beta, "delta step beta")
        value = None if self.value is None else to_vector(self.value, "delta step value")
        object.__setattr__(self, "key", key)
        object.__setattr__(self, "beta", beta)
        object.__setattr__(self, "value", value)
        if _compare(beta, _ZERO) < 0 or _compare(beta, _TWO) > 0:
            raise EigenvalueRangeError(
                f"delta step: beta = {beta} is outside [0, 2] (the kernels' range; rescale the "
                f"key instead)"
            )
        g = self.strength
        if _compare(g, _ZERO) < 0 or _compare(g, _TWO) > 0:
            raise EigenvalueRangeError(
                f"delta step: beta * ||k||^2 = {g} is outside [0, 2] (GH eigenvalue "
                f"1 - {g} = {_simp(1 - g)} is outside [-1, 1])"
            )

    @property
    def dim(self) -> int:
        """K, the length of the key."""
        return len(self.key)

    @functools.cached_property
    def support(self) -> tuple[int, ...]:
        """Indices of the key's non-zero entries."""
        return tuple(i for i, x in enumerate(self.key) if not (x.is_Rational and x.p == 0))

    @functools.cached_property
    def is_rational(self) -> bool:
        return self.beta.is_Rational and all(self.key[i].is_Rational for i in self.support) \
            and (self.value is None or all(v.is_Rational for v in self.value))

    @functools.cached_property
    def strength(self) -> sympy.Expr:
        """``beta * ||k||^2`` in [0, 2]."""
        return _rational_if_exact(self.beta * sympy.Add(*[self.key[i] ** 2 for i in self.support]))

    @property
    def eigenvalue(self) -> sympy.Expr:
        """The non-trivial eigenvalue ``1 - beta ||k||^2`` of the GH factor, in [-1, 1]."""
        return _simp(1 - self.strength)

    @property
    def is_identity(self) -> bool:
        """Whether the step does nothing (``beta ||k||^2 = 0``: no GH action, no write)."""
        return _compare(self.strength, _ZERO) == 0

    @property
    def is_integer_form(self) -> bool:
        """Keys in {0, 1, -1}, beta in {0, 1, 2}, integer values: exact in every float format
        as long as the states stay small integers."""
        return (all(self.key[i] in (-1, 1) for i in self.support) and self.beta in (0, 1, 2)
                and (self.value is None or all(v.is_Integer for v in self.value)))

    def key_vector(self) -> sympy.ImmutableMatrix:
        """The key as a K x 1 column."""
        return sympy.ImmutableMatrix(self.dim, 1, list(self.key))

    def matrix(self) -> sympy.ImmutableMatrix:
        """The GH factor ``I - beta k k^T`` (K x K, dense)."""
        k = self.key_vector()
        return sympy.ImmutableMatrix((sympy.eye(k.rows) - self.beta * k * k.T).applyfunc(_simp))

    def normalized(self) -> "DeltaStep":
        """The same step in the paper's normalized form: unit key ``k/||k||``, beta
        ``beta ||k||^2``, value ``v/||k||`` (identity steps become a zero key, beta 0).

        Examples
        --------
        >>> DeltaStep(key=[1, -1], beta=1).normalized().key
        (sqrt(2)/2, -sqrt(2)/2)
        """
        if self.is_identity:
            return DeltaStep(key=[0] * self.dim, beta=0,
                             value=None if self.value is None else [0] * len(self.value))
        norm = sympy.sqrt(_simp(sympy.Add(*[self.key[i] ** 2 for i in self.support])))
        key = [sympy.radsimp(v / norm) for v in self.key]
        value = None if self.value is None else [sympy.radsimp(v / norm) for v in self.value]
        return DeltaStep(key=key, beta=self.strength, value=value)

    def with_value(self, value: Any) -> "DeltaStep":
        """The same key and beta with another value (no re-validation of the key)."""
        new = object.__new__(DeltaStep)
        object.__setattr__(new, "key", self.key)
        object.__setattr__(new, "beta", self.beta)
        object.__setattr__(new, "value", None if value is None else to_vector(value, "value"))
        for cached in ("support", "strength"):
            if cached in self.__dict__:
                new.__dict__[cached] = self.__dict__[cached]
        return new


@functools.lru_cache(maxsize=256)
def _identity_step(k: int, v: int) -> DeltaStep:
    return DeltaStep(key=[0] * k, beta=0, value=[0] * v)



# ---------------------------------------------------------------------- readout
def _check_distinct_codes(codes: Sequence[tuple]) -> None:
    """:class:`ReadoutError` if two codes are equal (exactly). Codes are sorted by a 60-digit
    value of their first entry; only pairs whose values agree to 1e-40 (relative) in every
    entry are compared exactly, so ``n`` irrational codes cost ``n`` evaluations instead of
    ``n^2 / 2`` exact comparisons."""
    nums = [tuple(sympy.N(x, 60) for x in c) for c in codes]

    def near(x: Any, y: Any) -> bool:
        return bool(abs(x - y) <= sympy.Float("1e-40") * max(1, abs(x), abs(y)))

    order = sorted(range(len(codes)), key=lambda i: nums[i][0])
    for a, i in enumerate(order):
        for j in order[a + 1:]:
            if not near(nums[i][0], nums[j][0]):
                break
            if all(near(x, y) for x, y in zip(nums[i], nums[j])) and \
                    all(_compare(x, y) == 0 for x, y in zip(codes[i], codes[j])):
                lo, hi = min(i, j), max(i, j)
                raise ReadoutError(f"readout: codes {lo} and {hi} are equal ({list(codes[hi])})")


def _token_index(x: Any) -> int:
    """An integer token index (Python or numpy int, not bool, not a float)."""
    if isinstance(x, (bool, np.bool_)):
        raise TypeError("a boolean is not a token index")
    return operator.index(x)


@dataclass(frozen=True)
class Readout:
    """The layer's decoder: ``o = S^T q`` and the finite list of exact outputs (codes).

    Parameters
    ----------
    query : sequence of K exact numbers (stored as a tuple)
    codes : sequence of distinct outputs, each V exact numbers (tuples); code ``c`` is the
        output class c
    labels : optional names of the classes (e.g. DFA state labels)

    Examples
    --------
    >>> r = Readout(query=[0, 1, 2], codes=[[0], [1], [2]])
    >>> r.n_classes, r.decode_exact(sympy.Matrix([[0], [0], [1]]))
    (3, 2)
    """

    query: Any
    codes: Any
    labels: Sequence[str] | None = None

    def __post_init__(self) -> None:
        q = to_vector(self.query, "readout query")
        codes = tuple(to_vector(c, f"readout code {i}") for i, c in enumerate(self.codes))
        if not codes:
            raise ShapeError("readout: needs at least one code")
        v = len(codes[0])
        for i, c in enumerate(codes):
            if len(c) != v:
                raise ShapeError(f"readout: code {i} has {len(c)} entries, code 0 has {v}")
        if all(x.is_Rational for c in codes for x in c):
            seen: dict[tuple, int] = {}
            for i, c in enumerate(codes):
                if c in seen:
                    raise ReadoutError(f"readout: codes {seen[c]} and {i} are equal ({list(c)})")
                seen[c] = i
        else:
            _check_distinct_codes(codes)
        object.__setattr__(self, "query", q)
        object.__setattr__(self, "codes", codes)
        if self.labels is not None:
            if isinstance(self.labels, (str, bytes)) or not hasattr(self.labels, "__iter__"):
                # a string would be read as one label per character
                raise InputTypeError(f"readout: labels must be None or a sequence of strings, "
                                     f"one per code, got {type(self.labels).__name__} "
                                     f"{self.labels!r}")
            labels = tuple(str(x) for x in self.labels)
            if len(labels) != len(codes):
                raise ShapeError(f"readout: {len(labels)} labels for {len(codes)} codes")
            object.__setattr__(self, "labels", labels)

    @property
    def n_classes(self) -> int:
        return len(self.codes)

    @property
    def dim(self) -> int:
        """K, the length of the query."""
        return len(self.query)

    @property
    def value_dim(self) -> int:
        """V, the length of each code."""
        return len(self.codes[0])

    def output(self, state: Any) -> tuple[sympy.Expr, ...]:
        """The exact output ``S^T q`` (V numbers)."""
        s = state if isinstance(state, sympy.MatrixBase) else to_matrix(state, "state")
        if s.rows != self.dim:
            raise ShapeError(f"readout: state has {s.rows} rows, the query {self.dim}")
        return tuple(_simp(sum((s[i, j] * self.query[i] for i in range(s.rows)), _ZERO))
                     for j in range(s.cols))

    def decode_exact(self, state: Any) -> int:
        """The class whose code equals ``S^T q`` exactly; :class:`ReadoutError` if none."""
        o = self.output(state)
        for c, code in enumerate(self.codes):
            if all(_compare(a, b) == 0 for a, b in zip(o, code)):
                return c
        raise ReadoutError(f"readout: output {list(o)} is none of the {self.n_classes} codes")


# ---------------------------------------------------------------------- layer
@dataclass(frozen=True)
class Layer:
    """One LRNN layer: per token, ``n_h`` delta steps; an initial state; a readout.

    Parameters
    ----------
    tokens : sequence of str
        The layer's input tokens (for layer 0: the model's alphabet, in order).
    steps : sequence (one per token) of sequences of :class:`DeltaStep`
        Shorter lists are padded with identity steps up to ``n_h`` = the longest list;
        ``None`` values become zero vectors of length V. ``n_h = 0`` (every token's list
        empty: ``A = I``, ``B = 0`` for all tokens, e.g. a one-state automaton) is allowed;
        the exporters pad such a layer with one identity step for the kernels, which need
        ``n_h >= 1``.
    initial_state : K x V exact matrix
    readout : :class:`Readout`
    token_map : None or table of int
        None for layer 0; for layer ``l > 0`` a table ``[n_symbols][n_classes of layer l-1]``
        of token indices (validated by :class:`LRNN`).

    Raises
    ------
    ShapeError
        Mismatched K, V, number of tokens, or duplicate tokens.

    Examples
    --------
    >>> layer = Layer(tokens=("a", "b"), steps=((), (DeltaStep([1], 2),)), initial_state=[[1]],
    ...               readout=Readout(query=[1], codes=[[1], [-1]]))
    >>> layer.n_h, layer.width, layer.value_dim, layer.steps[0][0].is_identity
    (1, 1, 1, True)
    >>> Layer(tokens=("a",), steps=((),), initial_state=[[1]],
    ...       readout=Readout(query=[1], codes=[[1]])).n_h
    0
    """

    tokens: Any
    steps: Any
    initial_state: Any
    readout: Readout
    token_map: Any = None

    def __post_init__(self) -> None:
        tokens = tuple(self.tokens)
        if not tokens:
            raise ShapeError("layer: needs at least one token")
        if not all(isinstance(t, str) and t for t in tokens):
            raise ShapeError(f"layer: tokens must be non-empty strings, got {list(tokens)}")
        if len(set(tokens)) != len(tokens):
            raise ShapeError(f"layer: duplicate tokens in {list(tokens)}")
        h0 = self.initial_state
        if not isinstance(h0, sympy.ImmutableMatrix):
            h0 = to_matrix(h0, "layer initial_state")
        k, v = h0.shape
        steps_in = list(self.steps)
        if len(steps_in) != len(tokens):
            raise ShapeError(f"layer: {len(steps_in)} step lists for {len(tokens)} tokens")
        n_h = max([0] + [len(s) for s in steps_in])
        steps = []
        for t, row in zip(tokens, steps_in):
            new = []
            for j, s in enumerate(row):
                if not isinstance(s, DeltaStep):
                    raise ShapeError(f"layer: step {j + 1} of token {t!r} is not a DeltaStep")
                if s.dim != k:
                    raise ShapeError(
                        f"layer: step {j + 1} of token {t!r} has a key of length {s.dim}, the "
                        f"state has K = {k} rows"
                    )
                if s.value is None:
                    s = s.with_value([0] * v)
                elif len(s.value) != v:
                    raise ShapeError(
                        f"layer: step {j + 1} of token {t!r} has a value of length "
                        f"{len(s.value)}, the state has V = {v} columns"
                    )
                new.append(s)
            new += [_identity_step(k, v)] * (n_h - len(new))
            steps.append(tuple(new))
        if not isinstance(self.readout, Readout):
            raise ShapeError("layer: readout must be a Readout")
        if self.readout.dim != k:
            raise ShapeError(f"layer: the readout query has {self.readout.dim} entries, K = {k}")
        if self.readout.value_dim != v:
            raise ShapeError(f"layer: readout codes have {self.readout.value_dim} entries, V = {v}")
        tmap = None
        if self.token_map is not None:
            try:
                # operator.index, not int: int() truncated 1.5 to 1 and overflowed on inf
                tmap = tuple(tuple(_token_index(x) for x in row) for row in self.token_map)
            except (TypeError, ValueError):
                raise ShapeError("layer: token_map must be a table of token indices "
                                 "(integers)") from None
            bad = [x for row in tmap for x in row if not 0 <= x < len(tokens)]
            if bad:
                raise ShapeError(f"layer: token_map entry {bad[0]} is not a token index "
                                 f"0..{len(tokens) - 1}")
        object.__setattr__(self, "tokens", tokens)
        object.__setattr__(self, "steps", tuple(steps))
        object.__setattr__(self, "initial_state", h0)
        object.__setattr__(self, "token_map", tmap)

    @property
    def n_tokens(self) -> int:
        return len(self.tokens)

    @property
    def n_h(self) -> int:
        """Delta steps per token (after padding)."""
        return len(self.steps[0])

    @property
    def width(self) -> int:
        """K, the number of state rows (the key dimension)."""
        return int(self.initial_state.rows)

    @property
    def value_dim(self) -> int:
        """V, the number of state columns."""
        return int(self.initial_state.cols)

    @functools.cached_property
    def is_rational(self) -> bool:
        return all(s.is_rational for row in self.steps for s in row) and \
            all(x.is_Rational for x in self.initial_state) and \
            all(x.is_Rational for x in self.readout.query) and \
            all(x.is_Rational for c in self.readout.codes for x in c)

    def token_index(self, token: str | int) -> int:
        if isinstance(token, (int, np.integer)) and not isinstance(token, bool):
            if 0 <= int(token) < self.n_tokens:
                return int(token)
            raise UnknownTokenError(f"token index {int(token)} out of range 0..{self.n_tokens - 1}")
        try:
            return self.tokens.index(token)
        except ValueError:
            raise UnknownTokenError(f"token {token!r} is not one of {list(self.tokens)}") from None

    def A(self, token: str | int) -> sympy.ImmutableSparseMatrix:
        """``A(x) = G_{n_h} ... G_1`` exactly (K x K, a sympy sparse matrix)."""
        return product(self.steps[self.token_index(token)], self.width)

    def B(self, token: str | int) -> sympy.ImmutableSparseMatrix:
        """``B(x) = sum_j G_{n_h} ... G_{j+1} beta_j k_j v_j^T`` exactly (K x V)."""
        steps = self.steps[self.token_index(token)]
        rational = all(s.is_rational for s in steps)
        rows: list[dict[int, Any]] = [{} for _ in range(self.width)]
        return _rows_to_sympy(_apply_steps(steps, rows, additive=True, rational=rational),
                              self.value_dim, rational)

    def factor_eigenvalues(self, token: str | int) -> tuple[sympy.Expr, ...]:
        """The non-trivial eigenvalue of each of the token's GH factors (in [-1, 1])."""
        return tuple(s.eigenvalue for s in self.steps[self.token_index(token)])

    def float_tables(self) -> dict[str, np.ndarray]:
        """The layer's weights as float64 numpy arrays (correctly rounded from exact).

        Keys: ``keys`` [n_tokens, n_h, K], ``betas`` [n_tokens, n_h], ``values``
        [n_tokens, n_h, V], ``initial_state`` [K, V], ``query`` [K], ``codes`` [C, V].
        """
        return {k: v.copy() for k, v in _float_tables_cached(self).items()}



# ---------------------------------------------------------------------- traces
@dataclass(frozen=True)
class ExactTrace:
    """An exact run of one word (T symbols); position t = 0 is before any symbol.

    Attributes
    ----------
    symbols : tuple of int, length T
    tokens : per layer, the T token indices the layer read
    states : per layer, T + 1 ``sympy.ImmutableMatrix`` states (K x V)
    outputs : per layer, T + 1 output classes
    accepted : T + 1 accept bits (of each prefix)
    dfa_states : T + 1 DFA states (via ``state_map``), or None
    """

    symbols: tuple[int, ...]
    tokens: tuple[tuple[int, ...], ...]
    states: tuple[tuple[sympy.ImmutableMatrix, ...], ...]
    outputs: tuple[tuple[int, ...], ...]
    accepted: tuple[bool, ...]
    dfa_states: tuple[int, ...] | None


@dataclass(frozen=True)
class FloatTrace:
    """A float run of a batch of N words (of any lengths), padded to the longest length T.

    The same layout as every batch runner (:class:`statetrack.automata.RunResult`,
    :class:`statetrack.kernels.RunOutput`): ``lengths`` and ``accepted_final`` per word,
    per-prefix arrays ``[N, T + 1]`` that hold False or ``-1`` beyond a word's length. The
    verdict on each word is :attr:`accepted_final` (``accepted[:, -1]`` is False for every
    word shorter than T).

    Attributes
    ----------
    lengths : [N] int64
    states : per layer, [N, T + 1, K, V] float64 copies of the states, NaN beyond a word's
        length (None unless ``keep_states``)
    outputs : per layer, [N, T + 1] int64 decoded classes (nearest code), -1 beyond a word's
        length
    accepted : [N, T + 1] bool accept bits of each prefix (False beyond a word's length)
    dfa_states : [N, T + 1] int64 via ``state_map`` (-1 beyond a word's length), or None
    dtype : the dtype name the run used
    """

    lengths: np.ndarray
    states: tuple[np.ndarray, ...] | None
    outputs: tuple[np.ndarray, ...]
    accepted: np.ndarray
    dfa_states: np.ndarray | None
    dtype: str

    @property
    def accepted_final(self) -> np.ndarray:
        """``[N]`` bool: whether the float run accepts each whole word."""
        return self.accepted[np.arange(len(self.lengths)), self.lengths]

    @property
    def final_states(self) -> np.ndarray | None:
        """``[N]`` int64: the DFA state after each whole word (None without a ``state_map``)."""
        if self.dfa_states is None:
            return None
        return self.dfa_states[np.arange(len(self.lengths)), self.lengths]


# ---------------------------------------------------------------------- the model
@dataclass(frozen=True)
class LRNN:
    """A constructed LRNN: an input alphabet, stacked layers, and acceptance.

    Parameters
    ----------
    alphabet : sequence of str
        Input symbols; layer 0's tokens must be exactly these, in order.
    layers : sequence of :class:`Layer`
    accepting : sequence of bool, one per output class of the top layer
    state_map : optional sequence of int, the DFA state of each top-layer output class
    form : str
        How it was built (``"permutation"``, ``"rotation"``, ``"diagonal"``, ...).
    field_generators : sequence of exact numbers
        Generators of the number field all weights lie in (empty: rational, or inferred from
        the irrational weights).
    name : str
        Free text (e.g. the language).

    Whether float runs are exact is not a parameter: :attr:`exact_in_floats` and
    :meth:`float_exactness` prove it from the weights.

    Raises
    ------
    ShapeError
        Layer 0's tokens differ from the alphabet, a token map has the wrong shape, or
        ``accepting``/``state_map`` do not match the top layer's classes.
    """

    alphabet: Any
    layers: Any
    accepting: Any
    state_map: Any = None
    form: str = "custom"
    field_generators: Any = ()
    name: str = ""

    def __post_init__(self) -> None:
        alphabet = tuple(self.alphabet)
        layers = tuple(self.layers)
        if not alphabet:
            raise ShapeError("LRNN: the alphabet is empty")
        if not layers:
            raise ShapeError("LRNN: needs at least one layer")
        if not all(isinstance(x, Layer) for x in layers):
            raise ShapeError("LRNN: layers must be Layer objects")
        if layers[0].tokens != alphabet:
            raise ShapeError(
                f"LRNN: layer 0's tokens {list(layers[0].tokens)} must be the alphabet "
                f"{list(alphabet)}"
            )
        if layers[0].token_map is not None:
            raise ShapeError("LRNN: layer 0 reads the input symbols; its token_map must be None")
        for i in range(1, len(layers)):
            tm = layers[i].token_map
            want = (len(alphabet), layers[i - 1].readout.n_classes)
            if tm is None or len(tm) != want[0] or any(len(r) != want[1] for r in tm):
                raise ShapeError(
                    f"LRNN: layer {i} needs a token_map of shape [n_symbols={want[0]}]"
                    f"[classes of layer {i - 1}={want[1]}]"
                )
        n_top = layers[-1].readout.n_classes
        accepting = tuple(check_flag(x, f"accepting[{i}]", "LRNN")
                          for i, x in enumerate(self.accepting))
        if len(accepting) != n_top:
            raise ShapeError(f"LRNN: accepting has {len(accepting)} entries, the top layer has "
                             f"{n_top} output classes")
        state_map = None
        if self.state_map is not None:
            for i, x in enumerate(self.state_map):
                if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, np.integer)):
                    raise InputTypeError(f"LRNN: state_map[{i}] must be an int (a DFA state), "
                                         f"got {x!r} ({type(x).__name__})")
            state_map = tuple(int(x) for x in self.state_map)
            if len(state_map) != n_top:
                raise ShapeError(f"LRNN: state_map has {len(state_map)} entries, the top layer "
                                 f"has {n_top} output classes")
        gens = tuple(to_exact(g, "field generator") for g in self.field_generators)
        object.__setattr__(self, "alphabet", alphabet)
        object.__setattr__(self, "layers", layers)
        object.__setattr__(self, "accepting", accepting)
        object.__setattr__(self, "state_map", state_map)
        object.__setattr__(self, "field_generators", gens)
        check_text(self.form, "form", "LRNN")
        check_text(self.name, "name", "LRNN")

    # ------------------------------------------------------------ shape
    @property
    def depth(self) -> int:
        return len(self.layers)

    @property
    def n_h(self) -> int:
        """The largest ``n_h`` over layers."""
        return max(layer.n_h for layer in self.layers)

    @property
    def width(self) -> int:
        """The largest K over layers."""
        return max(layer.width for layer in self.layers)

    @property
    def n_symbols(self) -> int:
        return len(self.alphabet)

    @property
    def is_rational(self) -> bool:
        """Whether every weight is rational (exact runs then use the fast rational path)."""
        return self._runner.rational

    def symbol_index(self, symbol: str | int) -> int:
        return self.layers[0].token_index(symbol)

    def encode(self, word: Any) -> np.ndarray:
        """A word (str, symbols, or indices) as int64 symbol indices.

        Strings are split into characters when every symbol is one character, otherwise on
        whitespace.

        Raises
        ------
        InputTypeError
            ``word`` is not a string, a sequence or a 1-D integer array (e.g. None).
        UnknownTokenError
            A symbol is not in the alphabet (the message gives its position).

        Examples
        --------
        >>> _parity_example().encode("0110").tolist()
        [0, 1, 1, 0]
        >>> _parity_example().encode(None)
        Traceback (most recent call last):
        ...
        statetrack.constructions.errors.InputTypeError: word: expected a string, a sequence of symbols or a 1-D integer array, got NoneType
        """
        return self.symbols.encode(word, errors=_WORD_ERRORS)

    @functools.cached_property
    def symbols(self) -> Alphabet:
        """The input alphabet as an :class:`~statetrack.automata.alphabet.Alphabet` (the rule
        that splits words into symbols)."""
        return Alphabet(self.alphabet)

    # ------------------------------------------------------------ exact
    def layer(self, index: int, where: str = "layer") -> Layer:
        """Layer ``index`` (negative indices count from the top).

        Raises
        ------
        LayerIndexError
            ``index`` is not an integer in ``-depth .. depth - 1``; the message names the
            argument ``where``.

        Examples
        --------
        >>> _parity_example().layer(0).width
        2
        >>> _parity_example().layer(5)
        Traceback (most recent call last):
        ...
        statetrack.constructions.errors.LayerIndexError: layer=5: the model has 1 layer (valid: 0..0, or -1..-1 from the top)
        """
        d = self.depth
        if not isinstance(index, (int, np.integer)) or isinstance(index, bool) \
                or not -d <= int(index) < d:
            raise LayerIndexError(
                f"{where}={index!r}: the model has {d} layer{'s' if d != 1 else ''} (valid: "
                f"0..{d - 1}, or -{d}..-1 from the top)")
        return self.layers[int(index)]

    def A(self, token: str | int, layer: int = 0) -> sympy.ImmutableMatrix:
        """Exact ``A(token)`` of a layer (layer 0's tokens are the input symbols).

        Raises
        ------
        LayerIndexError
            No such layer.
        UnknownTokenError
            No such token in that layer.
        """
        return self.layer(layer).A(token)

    def B(self, token: str | int, layer: int = 0) -> sympy.ImmutableMatrix:
        """Exact ``B(token)`` of a layer (see :meth:`A` for the errors)."""
        return self.layer(layer).B(token)

    @functools.cached_property
    def _runner(self) -> "ExactRunner":
        return ExactRunner(self)

    def exact(self) -> "ExactRunner":
        """The exact stepper (number-field arithmetic, hashable states) used by verifiers."""
        return self._runner

    def evaluate(self, word: Any) -> ExactTrace:
        """Run one word exactly; states, outputs and accept bits of every prefix.

        Examples
        --------
        >>> m = _parity_example()
        >>> tr = m.evaluate("11")
        >>> tr.outputs[0], tr.accepted
        ((0, 1, 0), (False, True, False))
        """
        r = self._runner
        sym = self.encode(word)
        states = r.initial()
        outs = r.outputs(states)
        st = [[s] for s in states]
        ot = [[o] for o in outs]
        toks: list[list[int]] = [[] for _ in self.layers]
        for a in sym:
            states, outs, tk = r.step(states, int(a))
            for i in range(self.depth):
                st[i].append(states[i])
                ot[i].append(outs[i])
                toks[i].append(tk[i])
        top = ot[-1]
        return ExactTrace(
            symbols=tuple(int(a) for a in sym),
            tokens=tuple(tuple(t) for t in toks),
            states=tuple(tuple(r.to_sympy(s) for s in layer_states) for layer_states in st),
            outputs=tuple(tuple(o) for o in ot),
            accepted=tuple(self.accepting[c] for c in top),
            dfa_states=None if self.state_map is None else tuple(self.state_map[c] for c in top),
        )

    def accepts(self, word: Any) -> bool:
        """Whether the exact model accepts ``word``."""
        r = self._runner
        states = r.initial()
        outs = r.outputs(states)
        for a in self.encode(word):
            states, outs, _ = r.step(states, int(a))
        return self.accepting[outs[-1]]

    # ------------------------------------------------------------ floats
    def float_exactness(self, formats: Sequence[str] | None = None, *,
                        max_length: int | None = None, limit: int | None = None):
        """Prove that float runs equal the exact run, per format
        (:func:`statetrack.constructions.float_exact.float_exactness`; cached on the model
        per arguments).

        Examples
        --------
        >>> ex = _parity_example().float_exactness()
        >>> ex.proved("bfloat16"), ex.horizon("float16", "float32")
        (True, inf)
        """
        from .float_exact import DEFAULT_LIMIT

        key = (None if formats is None else tuple(dtype_name(f) for f in formats),
               max_length, DEFAULT_LIMIT if limit is None else limit)
        cache = self.__dict__.setdefault("_float_exactness_cache", {})
        got = cache.get(key)
        if got is None:
            got = cache[key] = _float_exactness(self, formats=FLOAT_DTYPES if key[0] is None
                                                else key[0], max_length=max_length,
                                                limit=key[2])
        return got

    @property
    def exact_in_floats(self) -> bool:
        """Proved: in every supported format (:data:`statetrack.floats.FLOAT_DTYPES`) the
        float run equals the exact run on every word of every length.

        Derived from the weights by :meth:`float_exactness` (every weight, product and sum of
        the float recurrence is representable on every reachable state), never set by the
        caller or read from a file.

        Examples
        --------
        >>> _parity_example().exact_in_floats
        True
        """
        return self.float_exactness().all_proved

    def evaluate_float(self, words: Any, dtype: Any = "float64", *,
                       keep_states: bool = False) -> FloatTrace:
        """Run a batch of words in a float format, mirroring the kernel's recurrence.

        Every weight is rounded from its exact value to ``dtype``; each sub-step computes
        ``s = S^T k``, ``u = beta (v - s)`` then ``S = S + k u^T``, and the output is
        ``o = S^T q``, decoded to the nearest code. float64, float32 and float16 run in numpy's
        own arithmetic of that dtype; bfloat16 runs with numpy only (no torch): values are
        kept as float64 numbers representable in bfloat16, and every elementwise operation is
        computed in float64 and rounded by
        :func:`~statetrack.floats.round_to_dtype` (correctly rounded, see
        :mod:`statetrack.floats`); the dot products ``S^T k`` and ``S^T q``
        are accumulated in float64 and rounded once (as kernels accumulate in a wider format).

        Parameters
        ----------
        words : iterable of words, or a 2-D int array [N, T] of symbol indices
            Words of any lengths: the batch is padded to the longest length T, and the
            result carries each word's length and verdict (:attr:`FloatTrace.accepted_final`).
        dtype : "float64", "float32", "float16", "bfloat16" (or the numpy/torch dtype)
        keep_states : also return the states (float64 copies, [N, T + 1, K, V] per layer)

        Returns
        -------
        FloatTrace

        Raises
        ------
        UnsupportedDtypeError
            Another dtype.
        FormatRangeError
            A weight or readout code of some layer is above the format's largest finite
            value (e.g. the permutation readout of more than 1280 states in float16): the run
            would give NaN outputs, so it is refused.
        InputTypeError, UnknownTokenError
            ``words`` is not a batch of words, or a symbol is not in the alphabet; the message
            names the word (``words[i] = 'text'``) and the position in it.

        Examples
        --------
        >>> m = _parity_example()
        >>> ft = m.evaluate_float(["1101", "1", ""], "bfloat16")
        >>> ft.accepted_final.tolist(), ft.final_states.tolist(), ft.lengths.tolist()
        ([True, True, False], [1, 1, 0], [4, 1, 0])
        >>> ft.accepted.tolist()  # every prefix; False beyond a word's end
        [[False, True, False, False, True], [False, True, False, False, False], [False, False, False, False, False]]
        >>> ft.dfa_states[1].tolist()
        [0, 1, -1, -1, -1]
        """
        keep_states = check_flag(keep_states, "keep_states", "evaluate_float")
        name = dtype_name(dtype)
        sym, lengths = self._batch(words)
        n, t_max = sym.shape
        states_all: list[np.ndarray] = []

        def run_layer(li: int, tok: np.ndarray) -> np.ndarray:
            out, states = _run_layer_float(self.layers[li], tok, name, keep_states,
                                           f"layer {li}")
            if states is not None:
                states_all.append(states)
            return out

        outs_all = run_stack(token_map_arrays(self.layers), sym, run_layer)
        top = outs_all[-1]
        # the padding (symbol 0 beyond a word's end) ran too: hide what it computed
        valid = np.arange(t_max + 1)[None, :] <= lengths[:, None]      # [N, T + 1]
        acc = np.asarray(self.accepting, dtype=bool)[top] & valid
        dfa = None
        if self.state_map is not None:
            dfa = np.where(valid, np.asarray(self.state_map, dtype=np.int64)[top], -1)
        outs = tuple(np.where(valid, o, -1) for o in outs_all)
        states = None
        if keep_states:
            states = tuple(np.where(valid[:, :, None, None], st, np.nan) for st in states_all)
        return FloatTrace(lengths=lengths, states=states, outputs=outs, accepted=acc,
                          dfa_states=dfa, dtype=name)

    def _batch(self, words: Any) -> tuple[np.ndarray, np.ndarray]:
        if isinstance(words, np.ndarray) and words.ndim == 2:
            if not np.issubdtype(words.dtype, np.integer):
                raise InputTypeError(f"words: a batch array must hold symbol indices (integers), "
                                     f"got dtype {words.dtype}")
            sym = self.symbols.check_ids(words, errors=_WORD_ERRORS)
            return sym, np.full(words.shape[0], words.shape[1], np.int64)
        if isinstance(words, (str, np.ndarray)):
            raise InputTypeError(f"words: got a single {type(words).__name__}; evaluate_float "
                                 f"takes a batch (a list of words or a 2-D array): wrap a "
                                 f"single word in a list")
        if words is None or not hasattr(words, "__iter__"):
            raise InputTypeError(f"words: expected a batch (a list of words or a 2-D integer "
                                 f"array), got {type(words).__name__}")
        return self.symbols.encode_batch(words, errors=_BATCH_ERRORS,
                                         where="words[{i}] = {word}: ")


def _parity_example() -> LRNN:
    """The two-state parity construction (used in doctests)."""
    swap = DeltaStep(key=[1, -1], beta=1)
    layer = Layer(tokens=("0", "1"), steps=((), (swap,)), initial_state=[[1], [0]],
                  readout=Readout(query=[0, 1], codes=[[0], [1]]))
    return LRNN(alphabet=("0", "1"), layers=(layer,), accepting=(False, True),
                state_map=(0, 1), form="permutation", name="parity")
