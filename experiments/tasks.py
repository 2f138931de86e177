r"""Task generators: token sequences with labels, and a verifier that checks the labels
against the DFAs of :mod:`statetrack.automata.families`.

Two label layouts
-----------------
*Final-label tasks* (Grazzi et al. 2025, Section 5.1 and App. E.1, in the format of the xLSTM
code base they build on: one answer per sequence). A sequence of the paper's *length* ``L``
holds the input tokens and the answer token; the model reads every token but the answer and is
trained and scored only at the last input position, where it must predict the answer token
(cross-entropy over the whole vocabulary; accuracy = argmax equals the answer).

* ``parity``: tokens ``0`` PAD, ``1`` the bit 0, ``2`` the bit 1 (vocabulary 3). ``L - 1``
  random bits; the answer is ``1 + (number of 1s mod 2)``. Chance 1/2.
* ``mod_arith`` (modular arithmetic without brackets, ``m = 5``): tokens ``0`` PAD, ``1``
  ``+``, ``2`` ``-``, ``3`` ``*``, ``4`` ``=``, ``5 .. 4 + m`` the digits (vocabulary 10). An
  expression ``d op d op ... d`` of ``E`` tokens (``E`` odd: ``L - 2`` for odd ``L``, ``L - 3``
  for even ``L``, as the xLSTM generator draws only odd lengths), then ``=``; the answer is the
  digit of the value mod m (``*`` before ``+`` and ``-``, left to right). Chance ``1/m``.
* ``mod_arith_brackets`` (``m = 5``): tokens ``0 .. m-1`` the digits, then ``+ - * ( ) =`` and
  PAD (vocabulary ``m + 7``, the paper's order). An expression of ``max(L, 5) - 3`` tokens drawn
  by the paper's recursion (``(left op right)`` with a uniform split, op ``+`` or ``-``; short
  expressions ``d``, ``-d``, ``(d)``, ``(-d)``), then ``=``; the answer is the digit of the
  value mod m. ``*`` is in the vocabulary but never drawn (the paper's generator draws it only
  with ``mult=True``). Chance ``1/m``.

*Per-position tasks* (Merrill et al.'s word problems, Grazzi et al. Section 5.2, and any DFA of
the catalogue): ``L`` input tokens (letter ids ``0 .. k-1`` of the DFA's alphabet; ``k`` is
PAD), and at every position the label is the DFA state after that prefix (for a group word
problem: the product so far). Accuracy at length ``L`` is read at the last position; the
sequence accuracy (every position right) is reported beside it. Chance ``1 / n_states``.

* ``s3``, ``s5``: full S_3 / S_5 (``symmetric(n, all)``: one letter per element);
  ``s3_swaps``, ``s5_swaps``: transpositions only (``symmetric(n)``); ``z60``:
  ``cyclic(60, all)``; ``flip_flop`` (``flip_flop``: writes ``0``/``1`` with probability 0.1
  each, ``_`` with 0.8, the label the stored bit); ``dfa:<spec>`` any language of
  :func:`statetrack.automata.families.get` with uniform letters.

Every generator draws from a ``numpy.random.Generator`` passed in; :func:`verify` recomputes
every label from the DFA (another code path: the DFA's own batch runner, or, for the
bracketed expressions, :func:`experiments.automata.modular_arithmetic_brackets`).

Examples
--------
>>> import numpy as np
>>> task = make_task("parity")
>>> ex = task.sample(np.random.default_rng(0), 4, 5, 5)
>>> ex.tokens.shape, int((ex.targets != IGNORE).sum())
((4, 4), 4)
>>> verify(task, ex)
4
"""

from __future__ import annotations

import functools
import numbers
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["IGNORE", "Examples", "Task", "ParityTask", "ModArithTask", "ModArithBracketsTask",
           "DFATask", "TASKS", "make_task", "verify", "TaskError", "LabelMismatchError",
           "pad_examples"]

#: Target value of unlabeled positions (``torch.nn.functional.cross_entropy``'s default).
IGNORE = -100


class TaskError(ValueError):
    """A task name or a sampling argument is invalid."""


class LabelMismatchError(AssertionError):
    """A generated label disagrees with the DFA (raised by :func:`verify`)."""


@dataclass(frozen=True)
class Examples:
    """A batch of sequences.

    Attributes
    ----------
    tokens : np.ndarray
        ``[n, T]`` int64 model inputs (right-padded with the task's PAD token).
    targets : np.ndarray
        ``[n, T]`` int64 labels, :data:`IGNORE` where a position is not scored.
    lengths : np.ndarray
        ``[n]`` the paper's length of each sequence.
    """

    tokens: np.ndarray
    targets: np.ndarray
    lengths: np.ndarray


def _check_lengths(task: "Task", rng: Any, n: int, min_length: int, max_length: int) -> None:
    if not isinstance(rng, np.random.Generator):
        raise TaskError(f"{task.name}: rng must be a numpy.random.Generator (randomness is "
                        f"passed in, e.g. numpy.random.default_rng(0)), got {type(rng).__name__}")
    for name, v in (("n", n), ("min_length", min_length), ("max_length", max_length)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TaskError(f"{task.name}: {name} must be an int, got {v!r}")
    if n < 1:
        raise TaskError(f"{task.name}: n must be >= 1, got {n}")
    if min_length < task.min_length or max_length < min_length:
        raise TaskError(f"{task.name}: lengths must satisfy {task.min_length} <= min_length "
                        f"<= max_length, got {min_length}, {max_length}")


@dataclass(frozen=True)
class Task:
    """Base class: a named task with a vocabulary and label classes.

    Attributes
    ----------
    name : str
    vocab_size : int
        Input token ids are ``0 .. vocab_size - 1``.
    num_classes : int
        Label ids are ``0 .. num_classes - 1`` (the model's output size).
    chance : float
        Accuracy of guessing (for the scaled accuracy ``(acc - chance) / (1 - chance)``).
    per_position : bool
        Labels at every position (else one label per sequence).
    min_length : int
        The shortest length :meth:`sample` accepts.
    """

    name: str
    vocab_size: int
    num_classes: int
    chance: float
    per_position: bool
    min_length: int = 1

    def sample(self, rng: np.random.Generator, n: int, min_length: int,
               max_length: int) -> Examples:
        """``n`` sequences with lengths uniform in ``[min_length, max_length]``."""
        raise NotImplementedError

    def scaled(self, accuracy: float) -> float:
        """``(accuracy - chance) / (1 - chance)``.

        Raises
        ------
        TaskError
            ``accuracy`` is not a real number in ``[0, 1]`` (1.5 gave 2.0 without complaint).
        """
        if (isinstance(accuracy, (bool, np.bool_)) or not isinstance(accuracy, numbers.Real)
                or not 0.0 <= float(accuracy) <= 1.0):
            raise TaskError(f"{self.name}: accuracy must be a real number in [0, 1], got "
                            f"{accuracy!r}")
        return (accuracy - self.chance) / (1.0 - self.chance)

    @property
    def pad_token(self) -> int:
        """The token that right-pads the shorter sequences of a batch (``pad`` where the task
        defines one, else ``0``: parity's and modular arithmetic's PAD)."""
        return int(getattr(self, "pad", 0))

    def width(self, max_length: int) -> int:
        """Token positions of a batch whose longest sequence has length ``max_length`` (what
        :meth:`sample` returns then; a fixed training shape pads every batch to it).

        >>> make_task("parity").width(40), make_task("s5").width(40)
        (39, 40)
        """
        return int(self.sample(np.random.default_rng(0), 1, max_length, max_length)
                   .tokens.shape[1])


def pad_examples(task: Task, ex: Examples, width: int) -> Examples:
    """``ex`` right-padded to ``width`` positions (the task's PAD token, :data:`IGNORE`
    targets): for causal models the same function and the same loss as ``ex``.

    >>> task = make_task("parity")
    >>> ex = task.sample(np.random.default_rng(1), 2, 4, 4)
    >>> pad_examples(task, ex, 5).tokens.tolist()
    [[1, 2, 2, 0, 0], [2, 1, 1, 0, 0]]
    """
    n, T = ex.tokens.shape
    if T > width:
        raise TaskError(f"{task.name}: a batch of {T} positions does not fit width {width}")
    tokens = np.full((n, width), task.pad_token, dtype=ex.tokens.dtype)
    targets = np.full((n, width), IGNORE, dtype=ex.targets.dtype)
    tokens[:, :T], targets[:, :T] = ex.tokens, ex.targets
    return Examples(tokens, targets, ex.lengths)


# ============================================================================ parity
@dataclass(frozen=True)
class ParityTask(Task):
    """Parity in the paper's format (see the module docstring)."""

    name: str = "parity"
    vocab_size: int = 3
    num_classes: int = 3
    chance: float = 0.5
    per_position: bool = False
    min_length: int = 2

    def sample(self, rng: np.random.Generator, n: int, min_length: int,
               max_length: int) -> Examples:
        """Examples
        --------
        >>> ex = ParityTask().sample(np.random.default_rng(1), 2, 4, 4)
        >>> ex.tokens.tolist(), ex.targets.tolist()
        ([[1, 2, 2], [2, 1, 1]], [[-100, -100, 1], [-100, -100, 2]])
        """
        _check_lengths(self, rng, n, min_length, max_length)
        lengths = rng.integers(min_length, max_length + 1, size=n)
        T = int(lengths.max()) - 1
        bits = rng.integers(0, 2, size=(n, T))
        pos = np.arange(T)[None, :]
        valid = pos < (lengths[:, None] - 1)
        bits = np.where(valid, bits, 0)
        tokens = np.where(valid, bits + 1, 0).astype(np.int64)
        targets = np.full((n, T), IGNORE, dtype=np.int64)
        par = bits.sum(1) % 2
        targets[np.arange(n), lengths - 2] = 1 + par
        return Examples(tokens, targets, lengths.astype(np.int64))


# ============================================================================ mod arithmetic
@dataclass(frozen=True)
class ModArithTask(Task):
    """Modular arithmetic without brackets in the paper's format (module docstring)."""

    name: str = "mod_arith"
    m: int = 5
    vocab_size: int = 10
    num_classes: int = 10
    chance: float = 0.2
    per_position: bool = False
    min_length: int = 3

    PAD, PLUS, MINUS, TIMES, EQ, DIGIT0 = 0, 1, 2, 3, 4, 5

    def expression_length(self, length: np.ndarray) -> np.ndarray:
        """Tokens of the expression for the paper's length ``L``: the odd number
        ``L - 2`` or ``L - 3``."""
        length = np.asarray(length)
        return np.where(length % 2 == 1, length - 2, length - 3)

    def sample(self, rng: np.random.Generator, n: int, min_length: int,
               max_length: int) -> Examples:
        """Examples
        --------
        >>> t = ModArithTask()
        >>> ex = t.sample(np.random.default_rng(3), 1, 7, 7)
        >>> ex.tokens.tolist(), ex.targets.tolist()   # 4 - 0 + 0 = 4 (mod 5)
        ([[9, 2, 5, 1, 5, 4]], [[-100, -100, -100, -100, -100, 9]])
        """
        _check_lengths(self, rng, n, min_length, max_length)
        m = self.m
        lengths = rng.integers(min_length, max_length + 1, size=n)
        E = self.expression_length(lengths)
        T = int(E.max()) + 1
        digits = rng.integers(0, m, size=(n, T))
        ops = rng.integers(1, 4, size=(n, T))           # + - *
        pos = np.arange(T)[None, :]
        is_digit = (pos % 2 == 0)
        tokens = np.where(is_digit, digits + self.DIGIT0, ops)
        tokens = np.where(pos < E[:, None], tokens, self.PAD)
        tokens[np.arange(n), E] = self.EQ
        # value with precedence: s = finished terms, t = current product term (mod m)
        s = np.zeros(n, dtype=np.int64)
        t = digits[:, 0] % m
        for j in range(1, T, 2):
            live = j < E
            op = ops[:, j]
            d = digits[:, j + 1] if j + 1 < T else np.zeros(n, dtype=np.int64)
            new_s = np.where(op == self.TIMES, s, (s + t) % m)
            new_t = np.where(op == self.TIMES, (t * d) % m,
                             np.where(op == self.PLUS, d, (m - d) % m))
            s, t = np.where(live, new_s, s), np.where(live, new_t, t)
        value = (s + t) % m
        targets = np.full((n, T), IGNORE, dtype=np.int64)
        targets[np.arange(n), E] = value + self.DIGIT0
        return Examples(tokens.astype(np.int64), targets, lengths.astype(np.int64))


@dataclass(frozen=True)
class ModArithBracketsTask(Task):
    """Modular arithmetic with brackets in the paper's format (module docstring)."""

    name: str = "mod_arith_brackets"
    m: int = 5
    vocab_size: int = 12
    num_classes: int = 12
    chance: float = 0.2
    per_position: bool = False
    min_length: int = 1

    @property
    def symbols(self) -> tuple[str, ...]:
        """Token id -> symbol: the digits, then ``+ - * ( ) =`` and ``PAD``."""
        return (*(str(d) for d in range(self.m)), "+", "-", "*", "(", ")", "=", "PAD")

    @property
    def pad(self) -> int:
        """The PAD token id."""
        return self.m + 6

    def _expr(self, rng: np.random.Generator, length: int, out: list[int]) -> int:
        """Append an expression of ``length`` tokens to ``out``; return its value mod m."""
        m = self.m
        PLUS, MINUS, LP, RP = m, m + 1, m + 3, m + 4
        if length < 5:
            d = int(rng.integers(m))
            if length == 1:
                out.append(d)
                return d
            if length == 2:
                out += [MINUS, d]
                return (-d) % m
            if length == 3:
                out += [LP, d, RP]
                return d
            out += [LP, MINUS, d, RP]
            return (-d) % m
        left = int(rng.integers(1, length - 3))
        right = length - left - 3
        out.append(LP)
        a = self._expr(rng, left, out)
        op = int(rng.integers(2))
        out.append(PLUS if op == 0 else MINUS)
        b = self._expr(rng, right, out)
        out.append(RP)
        return (a + b) % m if op == 0 else (a - b) % m

    def sample(self, rng: np.random.Generator, n: int, min_length: int,
               max_length: int) -> Examples:
        """Examples
        --------
        >>> t = ModArithBracketsTask()
        >>> ex = t.sample(np.random.default_rng(0), 1, 9, 9)
        >>> " ".join(t.symbols[i] for i in ex.tokens[0]), int(ex.targets[0, -1])
        ('( - 3 - 1 ) =', 1)
        """
        _check_lengths(self, rng, n, min_length, max_length)
        lengths = rng.integers(min_length, max_length + 1, size=n)
        E = np.maximum(lengths, 5) - 3
        T = int(E.max()) + 1
        tokens = np.full((n, T), self.pad, dtype=np.int64)
        targets = np.full((n, T), IGNORE, dtype=np.int64)
        for i in range(n):
            out: list[int] = []
            v = self._expr(rng, int(E[i]), out)
            tokens[i, :E[i]] = out
            tokens[i, E[i]] = self.m + 5
            targets[i, E[i]] = v
        return Examples(tokens, targets, lengths.astype(np.int64))


# ============================================================================ DFA tasks
@dataclass(frozen=True)
class DFATask(Task):
    """Per-position labels: the state of the DFA ``spec`` after every prefix.

    Attributes
    ----------
    spec : str
        A spec of :func:`statetrack.automata.families.get`.
    letter_probs : tuple of float, optional
        Letter distribution (default uniform).

    Examples
    --------
    >>> t = DFATask.of("s3", "symmetric(3, all)")
    >>> t.vocab_size, t.num_classes, round(t.chance, 3)
    (7, 6, 0.167)
    >>> ex = t.sample(np.random.default_rng(0), 3, 2, 6)
    >>> verify(t, ex)
    3
    """

    spec: str = "parity"
    letter_probs: tuple[float, ...] | None = field(default=None)

    @classmethod
    def of(cls, name: str, spec: str, letter_probs: tuple[float, ...] | None = None
           ) -> "DFATask":
        """The task ``name`` on the language ``spec`` (sizes read from its DFA)."""
        from statetrack.automata.families import get

        dfa = get(spec)
        if letter_probs is not None and (len(letter_probs) != dfa.n_symbols
                                         or abs(sum(letter_probs) - 1) > 1e-9):
            raise TaskError(f"{name}: letter_probs must be {dfa.n_symbols} probabilities "
                            f"summing to 1, got {letter_probs!r}")
        return cls(name=name, vocab_size=dfa.n_symbols + 1, num_classes=dfa.n_states,
                   chance=1.0 / dfa.n_states, per_position=True, min_length=1, spec=spec,
                   letter_probs=letter_probs)

    @property
    def dfa(self) -> Any:
        """The minimal DFA (cached by the family registry)."""
        from statetrack.automata.families import get

        return get(self.spec)

    @property
    def pad(self) -> int:
        """The PAD token id (= the number of letters)."""
        return self.vocab_size - 1

    def sample(self, rng: np.random.Generator, n: int, min_length: int,
               max_length: int) -> Examples:
        _check_lengths(self, rng, n, min_length, max_length)
        dfa = self.dfa
        k = dfa.n_symbols
        lengths = rng.integers(min_length, max_length + 1, size=n)
        T = int(lengths.max())
        p = None if self.letter_probs is None else np.asarray(self.letter_probs)
        letters = rng.choice(k, size=(n, T), p=p)
        valid = np.arange(T)[None, :] < lengths[:, None]
        delta = np.asarray(dfa.transitions)
        states = np.empty((n, T), dtype=np.int64)
        q = np.full(n, dfa.start, dtype=np.int64)
        for t in range(T):
            q = delta[q, letters[:, t]]
            states[:, t] = q
        tokens = np.where(valid, letters, self.pad).astype(np.int64)
        targets = np.where(valid, states, IGNORE).astype(np.int64)
        return Examples(tokens, targets, lengths.astype(np.int64))


# ============================================================================ registry
TASKS: dict[str, Any] = {
    "parity": ParityTask,
    "mod_arith": ModArithTask,
    "mod_arith_brackets": ModArithBracketsTask,
    "s3": lambda: DFATask.of("s3", "symmetric(3, all)"),
    "s3_swaps": lambda: DFATask.of("s3_swaps", "symmetric(3)"),
    "s5": lambda: DFATask.of("s5", "symmetric(5, all)"),
    "s5_swaps": lambda: DFATask.of("s5_swaps", "symmetric(5)"),
    "z60": lambda: DFATask.of("z60", "cyclic(60, all)"),
    "flip_flop": lambda: DFATask.of("flip_flop", "flip_flop", (0.1, 0.1, 0.8)),
}
"""Task name -> factory. ``dfa:<spec>`` names any language of the catalogue."""


@functools.lru_cache(maxsize=64)
def make_task(name: str) -> Task:
    """The task called ``name`` (a key of :data:`TASKS` or ``dfa:<spec>``).

    Raises
    ------
    TaskError
        Unknown name.

    Examples
    --------
    >>> make_task("dfa:count_mod(3)").num_classes
    3
    >>> make_task("parrity")
    Traceback (most recent call last):
    ...
    experiments.tasks.TaskError: task: unknown name 'parrity'; known: parity, mod_arith, mod_arith_brackets, s3, s3_swaps, s5, s5_swaps, z60, flip_flop, dfa:<spec>
    """
    if not isinstance(name, str):
        raise TaskError(f"task: expected a task name (a str), got {type(name).__name__} "
                        f"{name!r}; known: {', '.join(TASKS)}, dfa:<spec>")
    if name in TASKS:
        return TASKS[name]()
    if name.startswith("dfa:"):
        return DFATask.of(name, name[4:])
    raise TaskError(f"task: unknown name {name!r}; known: {', '.join(TASKS)}, dfa:<spec>")


# ============================================================================ verifier
def verify(task: Task, ex: Examples) -> int:
    """Recompute every label of ``ex`` from a DFA and compare; return the number of examples.

    * parity: ``parity()`` of :mod:`statetrack.automata.families` run on the bits, answer
      ``1 + [final state is 'odd']``;
    * modular arithmetic: ``modular_arithmetic(m, target=r)`` accepts the expression for the
      answer ``r`` and rejects it for ``r + 1``;
    * with brackets: :func:`experiments.automata.modular_arithmetic_brackets` likewise, with the
      nesting depth of the batch;
    * DFA tasks: the DFA's batch runner :meth:`~statetrack.automata.DFA.run` on the letters
      gives the state after every prefix.

    Also checks the layout: labels exactly at the scored positions, PAD after the sequence.

    Raises
    ------
    LabelMismatchError
        With the example index and position of the first disagreement.
    """
    from statetrack.automata import families as F

    if not isinstance(task, Task):
        raise TaskError(f"verify: task must be a Task (from make_task), got "
                        f"{type(task).__name__}")
    if not isinstance(ex, Examples):
        raise TaskError(f"verify: ex must be the Examples of task.sample, got "
                        f"{type(ex).__name__}")
    tok, tgt, lengths = ex.tokens, ex.targets, ex.lengths
    n = tok.shape[0]
    if isinstance(task, ParityTask):
        dfa = F.parity()
        for i in range(n):
            L = int(lengths[i])
            bits = "".join("1" if x == 2 else "0" for x in tok[i, :L - 1])
            if not set(tok[i, :L - 1].tolist()) <= {1, 2} or (tok[i, L - 1:] != 0).any():
                raise LabelMismatchError(f"example {i}: bad tokens {tok[i].tolist()}")
            want = 1 + (dfa.state_label(dfa.final_state(bits)) == "odd")
            _expect_one_label(i, tgt[i], L - 2, want)
        return n
    if isinstance(task, ModArithTask):
        sym = {task.PLUS: "+", task.MINUS: "-", task.TIMES: "*",
               **{task.DIGIT0 + d: str(d) for d in range(task.m)}}
        for i in range(n):
            E = int(task.expression_length(lengths[i]))
            if tok[i, E] != task.EQ or (tok[i, E + 1:] != task.PAD).any():
                raise LabelMismatchError(f"example {i}: bad layout {tok[i].tolist()}")
            word = "".join(sym[int(x)] for x in tok[i, :E])
            r = int(tgt[i, E]) - task.DIGIT0
            if not 0 <= r < task.m:
                raise LabelMismatchError(f"example {i}: label {int(tgt[i, E])} is not a digit")
            _expect_accepts(i, F.modular_arithmetic(task.m, r), word, True)
            _expect_accepts(i, F.modular_arithmetic(task.m, (r + 1) % task.m), word, False)
            _expect_one_label(i, tgt[i], E, int(tgt[i, E]))
        return n
    if isinstance(task, ModArithBracketsTask):
        from experiments.automata import modular_arithmetic_brackets, nesting_depth

        syms = task.symbols
        words, ends = [], []
        for i in range(n):
            E = int(max(int(lengths[i]), 5) - 3)
            if syms[int(tok[i, E])] != "=" or (tok[i, E + 1:] != task.pad).any():
                raise LabelMismatchError(f"example {i}: bad layout {tok[i].tolist()}")
            words.append(tuple(syms[int(x)] for x in tok[i, :E]))
            ends.append(E)
        depth = max(1, max(nesting_depth(w) for w in words))
        for i, (w, E) in enumerate(zip(words, ends)):
            r = int(tgt[i, E])
            if not 0 <= r < task.m:
                raise LabelMismatchError(f"example {i}: label {r} is not a digit")
            _expect_accepts(i, modular_arithmetic_brackets(task.m, depth, r), w, True)
            _expect_accepts(i, modular_arithmetic_brackets(task.m, depth, (r + 1) % task.m), w,
                            False)
            _expect_one_label(i, tgt[i], E, r)
        return n
    if isinstance(task, DFATask):
        dfa = task.dfa
        words = [dfa.decode(tok[i, :int(lengths[i])].tolist()) for i in range(n)]
        run = dfa.run(words)
        for i in range(n):
            L = int(lengths[i])
            want = run.states[i, 1:L + 1]
            if not np.array_equal(tgt[i, :L], want):
                t = int(np.flatnonzero(tgt[i, :L] != want)[0])
                raise LabelMismatchError(f"example {i}, position {t}: label {tgt[i, t]}, "
                                         f"DFA state {want[t]}")
            if (tgt[i, L:] != IGNORE).any() or (tok[i, L:] != task.pad).any():
                raise LabelMismatchError(f"example {i}: labels or tokens after length {L}")
        return n
    raise TaskError(f"verify: no verifier for {type(task).__name__}")


def _expect_one_label(i: int, row: np.ndarray, pos: int, want: int) -> None:
    scored = np.flatnonzero(row != IGNORE).tolist()
    if scored != [pos] or int(row[pos]) != want:
        raise LabelMismatchError(f"example {i}: labels at {scored} ({row[scored].tolist()}), "
                                 f"expected {want} at position {pos} only")


def _expect_accepts(i: int, dfa: Any, word: Any, accept: bool) -> None:
    if dfa.accepts(word) != accept:
        raise LabelMismatchError(f"example {i}: the DFA {'rejects' if accept else 'accepts'} "
                                 f"{''.join(word)!r}")
