r"""Run a constructed LRNN through the kernels.

:func:`run` takes a constructed model (:class:`statetrack.constructions.lrnn.LRNN`) and a
batch of words, runs every layer through a DeltaProduct kernel, decodes each layer's output
to its nearest code (its output class) between layers, and returns the accept bit and DFA
state of every prefix, together with the backend it used.

Choosing the kernel (``kernel="auto"``), per layer
--------------------------------------------------
* CUDA: the tabled construction path
  (:func:`~statetrack.kernels.tabled.run_tabled`: symbol ids and per-symbol tables, decoded
  to the nearest code inside the kernel, read from one lane through a code table when the
  layer has one, :func:`~statetrack.kernels.tabled.build_code_table`) when ``K, V <= 64``; else the fused recurrent kernel
  on gathered dense tensors when ``K <= 256`` (run over the time axis in segments that fit a
  memory budget, each starting from the previous segment's final float32 state, which is the
  same recurrence); else the PyTorch reference (slow).
* CPU: Triton's interpreter (tabled, else recurrent) when the batch holds at most
  :data:`INTERPRETER_MAX_TOKENS` tokens (the interpreter costs milliseconds a token), else
  the PyTorch reference (:func:`~statetrack.kernels.delta_product_ref`, segmented
  like the recurrent kernel).

``RunOutput.backend`` says what ran: ``"triton"`` (compiled kernels on a GPU),
``"triton-interpreter"`` (the same kernels through ``TRITON_INTERPRET=1``) or
``"reference"``; layers that ran on different backends give them joined by ``"+"``.

Words
-----
A list of words, each a string (split into characters when every symbol is one character,
else on whitespace) or a sequence of symbols or symbol ids; or an integer ``[B, T]`` array or
tensor of symbol ids (``lrnn.alphabet`` order), B words of length T. Words may have
different lengths, as in every batch runner of statetrack (:meth:`DFA.run
<statetrack.automata.DFA.run>`, :meth:`LRNN.evaluate_float
<statetrack.constructions.model.LRNN.evaluate_float>`): they are padded to the longest
length T (the padding runs through the kernel too, and is hidden afterwards), and
:class:`RunOutput` carries each word's length, its verdict ``accepted_final`` and its final
DFA state; the per-prefix arrays hold False or ``-1`` beyond a word's length.
:func:`encode_words` (used by the fla export, whose layers take rectangular batches) still
refuses ragged words (:class:`RaggedWordsError`); :func:`encode_batch` pads them.

:func:`dfa_states` is the DFA's own run on id arrays (a numpy loop over time), the oracle of
the tests and of ``statetrack check --device`` (:mod:`statetrack.cli.device`).

Examples
--------
>>> from statetrack.automata import DFA
>>> from statetrack.constructions import compile
>>> parity = compile(DFA([[0, 1], [1, 0]], accepting=[1], alphabet="01"))
>>> out = run(parity, ["1101", "1"], device="cpu", kernel="reference")
>>> out.accepted_final.tolist(), out.lengths.tolist()
([True, True], [4, 1])
>>> out.accepted.tolist()
[[False, True, False, False, True], [False, True, False, False, False]]
>>> out.states[1].tolist(), out.backend
([0, 1, -1, -1, -1], 'reference')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

from statetrack.automata.alphabet import Alphabet, SymbolErrors
from statetrack.kernels._common import triton as _triton
from statetrack.kernels._common.device import torch_dtype_name as _dtype_name
from statetrack.kernels._common.device import resolve_device, resolve_dtype
from statetrack.kernels._common.exactness import warn_if_inexact
from statetrack.kernels.errors import (
    KernelDeviceError,
    KernelDtypeError,
    KernelInputError,
    KernelShapeError,
    KernelUnavailableError,
    RaggedWordsError,
    SymbolRangeError,
    UnknownSymbolError,
)

__all__ = ["run", "RunOutput", "encode_words", "encode_batch", "resolve_device", "resolve_dtype",
           "choose_kernel", "dfa_states", "KERNELS", "INTERPRETER_MAX_TOKENS",
           "tabled_code_call"]

#: Values of ``kernel``.
KERNELS = ("auto", "tabled", "recurrent", "reference")
#: Largest ``B * T`` that ``kernel="auto"`` sends through Triton's interpreter on the CPU.
INTERPRETER_MAX_TOKENS = 256
#: Bytes of gathered tensors per segment of the segmented (recurrent/reference) runs.
SEGMENT_BYTES = {"cuda": 1 << 30, "cpu": 1 << 27}

_INT_DTYPES = (torch.int8, torch.uint8, torch.int16, torch.int32, torch.int64)
#: Words given to the kernels: the kernel package's errors.
_WORD_ERRORS = SymbolErrors(
    unknown=UnknownSymbolError, out_of_range=SymbolRangeError,
    range_message="id {value} at position {position} is outside 0 .. {last}",
    bad_array=KernelInputError, bad_word=KernelInputError,
    bad_word_message="expected a string or a sequence of symbols, got {type}")


# ----------------------------------------------------------------------------- arguments
def encode_words(alphabet: Sequence[str], words: Any) -> np.ndarray | torch.Tensor:
    """Words as symbol ids ``[B, T]`` (int64 numpy; an integer tensor is checked and returned).

    Parameters
    ----------
    alphabet : sequence of str
        The model's alphabet (id = position).
    words : list of words, or an integer ``[B, T]`` array/tensor of ids
        See the module docstring.

    Raises
    ------
    RaggedWordsError
        Words of different lengths.
    UnknownSymbolError
        A symbol not in the alphabet (message: word, position, symbol).
    SymbolRangeError
        An id outside ``0 .. len(alphabet) - 1``.
    KernelDtypeError, KernelShapeError, KernelInputError
        A non-integer array, an array that is not 2-D, a bare string.

    Examples
    --------
    >>> encode_words(("a", "b"), ["abba", "bbbb"]).tolist()
    [[0, 1, 1, 0], [1, 1, 1, 1]]
    >>> encode_words(("a", "b"), ["ab", "aba"])
    Traceback (most recent call last):
    ...
    statetrack.kernels.errors.RaggedWordsError: words: all words must have the same length; words[0] has 2 symbols, words[1] has 3
    """
    n = len(alphabet)
    if isinstance(words, torch.Tensor):
        if words.dtype not in _INT_DTYPES:
            raise KernelDtypeError(f"words: a tensor of symbol ids must be an integer tensor, "
                                   f"got {_dtype_name(words.dtype)}")
        if words.ndim != 2:
            raise KernelShapeError(f"words: expected ids [B, T], got shape {list(words.shape)}")
        if words.device.type not in ("cpu", "cuda"):
            raise KernelDeviceError(f"words: a tensor on the {words.device.type} device; ids "
                                    f"go on the CPU or a CUDA device")
        if words.numel():
            lo, hi = (int(x) for x in torch.aminmax(words))
            if lo < 0 or hi >= n:
                bad = torch.nonzero((words < 0) | (words >= n))[0].tolist()
                raise SymbolRangeError(
                    f"words: ids must lie in 0 .. {n - 1} (the alphabet has {n} symbols); got "
                    f"{int(words[bad[0], bad[1]])} at index ({bad[0]}, {bad[1]})")
        return words
    if isinstance(words, np.ndarray) and words.dtype.kind not in "US":
        if not np.issubdtype(words.dtype, np.integer):
            raise KernelDtypeError(
                f"words: an array of symbol ids must hold integers, got dtype {words.dtype}"
                + (" (words of different lengths? pass them as a list of words)"
                   if words.dtype == object else ""))
        if words.ndim != 2:
            raise KernelShapeError(f"words: expected ids [B, T], got shape {list(words.shape)}")
        return Alphabet(alphabet).check_ids(words, errors=_WORD_ERRORS)
    if isinstance(words, (str, bytes)):
        raise KernelInputError("words: got a single string; pass a list of words "
                               "(wrap a single word in a list)")
    if not hasattr(words, "__iter__"):
        raise KernelInputError(f"words: expected a list of words or an id array, got "
                               f"{type(words).__name__}")
    ids, lengths = Alphabet(alphabet).encode_batch(words, errors=_WORD_ERRORS,
                                                   where="words[{i}]: ")
    ragged = np.flatnonzero(lengths != lengths[0]) if len(lengths) else ()
    if len(ragged):
        w = int(ragged[0])
        raise RaggedWordsError(
            f"words: all words must have the same length; words[0] has {int(lengths[0])} "
            f"symbols, words[{w}] has {int(lengths[w])}")
    return ids


def encode_batch(alphabet: Sequence[str], words: Any) -> tuple[np.ndarray | torch.Tensor,
                                                                np.ndarray]:
    """Words of any lengths as ``(ids [B, T], lengths [B])``: ids padded with 0 to the longest
    length T (int64 numpy; an integer tensor is checked and returned, all of length T).

    Parameters
    ----------
    alphabet : sequence of str
        The model's alphabet (id = position).
    words : list of words, or an integer ``[B, T]`` array/tensor of ids
        See the module docstring.

    Raises
    ------
    UnknownSymbolError, SymbolRangeError, KernelDtypeError, KernelShapeError, KernelInputError
        As :func:`encode_words` (ragged words excepted).

    Examples
    --------
    >>> ids, lengths = encode_batch(("a", "b"), ["ab", "bab", ""])
    >>> ids.tolist(), lengths.tolist()
    ([[0, 1, 0], [1, 0, 1], [0, 0, 0]], [2, 3, 0])
    """
    if isinstance(words, (torch.Tensor, str, bytes)) or not hasattr(words, "__iter__") \
            or (isinstance(words, np.ndarray) and words.dtype.kind not in "US"):
        ids = encode_words(alphabet, words)
        return ids, np.full(int(ids.shape[0]), int(ids.shape[1]), dtype=np.int64)
    return Alphabet(alphabet).encode_batch(words, errors=_WORD_ERRORS, where="words[{i}]: ")


def choose_kernel(K: int, V: int, tokens: int, device: torch.device,
                  kernel: str = "auto") -> tuple[str, str]:
    """``(kernel, backend)`` for one layer of width ``K`` and value size ``V`` on ``device``
    with ``tokens = B * T`` (see the module docstring).

    Raises
    ------
    KernelInputError
        An unknown ``kernel``.
    KernelShapeError
        A kernel asked for that does not support ``K`` or ``V``.
    KernelUnavailableError
        A Triton kernel asked for on the CPU while the interpreter is off.

    Examples
    --------
    >>> choose_kernel(2, 1, 10 ** 6, torch.device("cpu"))
    ('reference', 'reference')
    >>> choose_kernel(720, 1, 10 ** 6, torch.device("cpu"), "tabled")
    Traceback (most recent call last):
    ...
    statetrack.kernels.errors.KernelShapeError: kernel: 'tabled' supports K, V <= 64, this layer has K=720, V=1
    """
    from statetrack.kernels.delta_product.fused_recurrent import MAX_K, MAX_V
    from statetrack.kernels.tabled import MAX_KV

    if kernel not in KERNELS:
        raise KernelInputError(f"kernel: expected one of {KERNELS}, got {kernel!r}")
    fits_tabled = K <= MAX_KV and V <= MAX_KV
    fits_recurrent = K <= MAX_K and V <= MAX_V
    if kernel == "tabled" and not fits_tabled:
        raise KernelShapeError(f"kernel: 'tabled' supports K, V <= {MAX_KV}, this layer has "
                               f"K={K}, V={V}")
    if kernel == "recurrent" and not fits_recurrent:
        raise KernelShapeError(f"kernel: 'recurrent' supports K <= {MAX_K}, V <= {MAX_V}, "
                               f"this layer has K={K}, V={V}")
    interp = _triton.INTERPRET
    if kernel == "auto":
        if device.type == "cuda" or (interp and tokens <= INTERPRETER_MAX_TOKENS):
            kernel = "tabled" if fits_tabled else "recurrent" if fits_recurrent else "reference"
        else:
            kernel = "reference"
    if kernel == "reference":
        return "reference", "reference"
    _triton.require_runnable(device, f"kernel {kernel!r}")
    return kernel, ("triton-interpreter" if interp else "triton")


# ----------------------------------------------------------------------------- running
@dataclass(frozen=True)
class RunOutput:
    """What :func:`run` returns (numpy arrays on the host).

    The layout of every batch runner (:class:`statetrack.automata.RunResult`,
    :class:`statetrack.constructions.model.FloatTrace`): T is the longest word's length, and
    the per-prefix arrays hold False or ``-1`` beyond a word's length; the verdict on each
    word is :attr:`accepted_final`.

    Attributes
    ----------
    accepted : numpy.ndarray
        ``[B, T + 1]`` bool: the accept bit of every prefix (position 0: the empty prefix),
        False beyond a word's length.
    states : numpy.ndarray or None
        ``[B, T + 1]`` int64 DFA states (``lrnn.state_map`` of the top layer's classes), -1
        beyond a word's length, or None when the model has no ``state_map``.
    classes : tuple of numpy.ndarray
        Per layer, ``[B, T + 1]`` int64 output classes (nearest code), -1 beyond a word's
        length.
    backend : str
        ``"triton"``, ``"triton-interpreter"`` or ``"reference"`` (joined by ``"+"`` when
        layers differ).
    kernels : tuple of str
        Per layer, ``"tabled"``, ``"recurrent"`` or ``"reference"``.
    device : str
        The device it ran on.
    dtype : str
        The dtype of the kernel inputs (the tables).
    lengths : numpy.ndarray
        ``[B]`` int64, each word's length.
    """

    accepted: np.ndarray
    states: np.ndarray | None
    classes: tuple[np.ndarray, ...]
    backend: str
    kernels: tuple[str, ...]
    device: str
    dtype: str
    lengths: np.ndarray

    @property
    def accepted_final(self) -> np.ndarray:
        """``[B]`` bool: whether the kernel run accepts each whole word."""
        return self.accepted[np.arange(len(self.lengths)), self.lengths]

    @property
    def final_states(self) -> np.ndarray | None:
        """``[B]`` int64: the DFA state after each whole word (None without a ``state_map``)."""
        if self.states is None:
            return None
        return self.states[np.arange(len(self.lengths)), self.lengths]


def _segment_tokens(B: int, T: int, n_h: int, K: int, V: int, C: int, itemsize: int,
                    budget: int) -> int:
    per_token = B * (n_h * (K + V + 1) * itemsize + (K + V) * itemsize + C * V * 16 + 64)
    return max(1, min(max(T, 1), budget // max(per_token, 1)))


def tabled_code_call(tables: dict, device: torch.device, dtype: torch.dtype
                     ) -> tuple[tuple[torch.Tensor, torch.Tensor, torch.Tensor], dict]:
    """The arguments of a :func:`~statetrack.kernels.tabled.run_tabled` call that gives one
    constructed layer's output class (``output="code"``): the key, beta and value tables on
    ``device``, and the keyword arguments (initial state, query, codes, and a code table built
    from the host copies, so no synchronization with the device; the construction's tables
    are in range by construction, so the value checks are off).

    ``tables`` is :func:`statetrack.constructions.export.symbol_tables` of the layer (host
    tensors, in ``dtype``); the codes are float64 for a float64 run, float32 otherwise.

    Examples
    --------
    >>> from statetrack.automata.families import parity
    >>> from statetrack.constructions import compile
    >>> from statetrack.constructions.export import symbol_tables
    >>> from statetrack.kernels.tabled import run_tabled
    >>> layer = compile(parity()).layers[0]
    >>> tb = symbol_tables(layer, dtype="float32", backend="torch")
    >>> (kt, bt, vt), kw = tabled_code_call(tb, torch.device("cpu"), torch.float32)
    >>> run_tabled(torch.tensor([[1, 1, 0, 1]]), kt, bt, vt, **kw).code[0, :, 0].tolist()
    [1, 0, 0, 1]
    """
    from statetrack.kernels.tabled import build_code_table

    sd = torch.float64 if dtype == torch.float64 else torch.float32
    codes = torch.as_tensor(tables["codes"]).to(sd)
    names = ("key_table", "beta_table", "value_table")
    ct = build_code_table(*(tables[n] for n in names),
                          initial_state=tables["initial_state"][None], query=tables["query"],
                          codes=codes, H=1)
    kw = dict(initial_state=tables["initial_state"][None].to(device),
              query=tables["query"].to(device), codes=codes.to(device), output="code",
              code_table=ct, check_beta=False, check_finite_inputs=False)
    return tuple(tables[n].to(device) for n in names), kw


def _run_layer(layer: Any, tok: torch.Tensor, kernel: str, device: torch.device,
               dtype: torch.dtype, results: list | None = None) -> torch.Tensor:
    """Output classes ``[B, T + 1]`` (int64, on ``device``) of one constructed layer; the
    tabled path's results go into ``results`` (their device checks are read by the caller,
    before its readback)."""
    from statetrack.constructions.export import symbol_tables
    from statetrack.kernels.layers.delta_product import nearest_code
    from statetrack.kernels.delta_product.fused_recurrent import fused_recurrent_delta_product
    from statetrack.kernels.delta_product.naive import delta_product_ref
    from statetrack.kernels.tabled import gather_tables, run_tabled

    tb = symbol_tables(layer, dtype=_dtype_name(dtype), backend="torch")
    kt, bt, vt = (tb[n].to(device) for n in ("key_table", "beta_table", "value_table"))
    q, h0 = tb["query"].to(device), tb["initial_state"].to(device)
    codes = torch.as_tensor(tb["codes"], dtype=torch.float64, device=device)     # [C, V]
    # the tables' n_h: a layer with n_h = 0 (every A = I) has one identity step (kernel_n_h)
    n_h, K, V, C = tb["n_h"], layer.width, layer.value_dim, codes.shape[0]
    B, T = tok.shape
    out = torch.empty(B, T + 1, dtype=torch.int64, device=device)
    o0 = torch.einsum("kv,k->v", h0.to(torch.float64), q.to(torch.float64))
    out[:, 0] = nearest_code(o0[None], codes)[0]
    if T == 0 or B == 0:
        return out
    sd = torch.float64 if dtype == torch.float64 else torch.float32
    if kernel == "tabled":
        # one-byte ids when they fit: the kernel reads them once per token, and the H100 run of
        # benchmarks/tabled_variants.py measured uint8 ids 3 % faster than int32 (sequential)
        ids = tok.to(torch.uint8) if kt.shape[0] <= 256 else tok
        # the code read from one lane through a code table (an exact integer construction)
        tables, kw = tabled_code_call(tb, device, dtype)
        res = run_tabled(ids, *tables, check_ids=False, **kw)
        if results is not None:
            results.append(res)
        out[:, 1:] = res.code[:, :, 0]
        return out
    fn = fused_recurrent_delta_product if kernel == "recurrent" else delta_product_ref
    seg = _segment_tokens(B, T, n_h, K, V, C, torch.finfo(dtype).bits // 8,
                          SEGMENT_BYTES["cuda" if device.type == "cuda" else "cpu"])
    state = h0.to(sd)[None, None].expand(B, 1, K, V).contiguous()
    for a in range(0, T, seg):
        b = min(T, a + seg)
        k, v, beta = gather_tables(tok[:, a:b], kt, bt, vt)
        qq = q.view(1, 1, 1, K).expand(B, b - a, 1, K)
        o, state = fn(qq, k, v, beta, num_householder=n_h, scale=1.0, initial_state=state,
                      output_final_state=True, check_beta=False)
        out[:, 1 + a:1 + b] = nearest_code(o[:, :, 0, :], codes)
    return out


def run(lrnn: Any, words: Any, *, device: Any = "auto", dtype: Any = torch.bfloat16,
        kernel: str = "auto") -> RunOutput:
    """Run a constructed LRNN on a batch of words (of any lengths) through the kernels.

    Parameters
    ----------
    lrnn : statetrack.constructions.lrnn.LRNN
        The constructed model (any depth).
    words : list of words, or integer ``[B, T]`` ids (numpy or torch)
        See the module docstring; padded to the longest length ``T``.
    device : "auto", "cpu", "cuda", "cuda:N" or torch.device
    dtype : torch dtype or name
        dtype of the kernel inputs (the per-symbol tables, rounded from the exact weights);
        the state is float32 (float64 for float64). Where the model's float run in this
        format is not proved exact (the rotation and reflections forms, normalized keys), an
        :class:`~statetrack.kernels.errors.InexactRunWarning` says so.
    kernel : {"auto", "tabled", "recurrent", "reference"}

    Returns
    -------
    RunOutput

    Raises
    ------
    KernelInputError
        (subclasses) bad words, dtype, device or kernel; see :func:`encode_words`,
        :func:`resolve_device`, :func:`resolve_dtype`, :func:`choose_kernel`.
    KernelUnavailableError
        CUDA asked for without a GPU, or a Triton kernel on the CPU without the interpreter.

    Examples
    --------
    >>> import numpy as np
    >>> from statetrack.automata.families import get
    >>> from statetrack.constructions import compile
    >>> out = run(compile(get("parity")), np.array([[1, 1, 1]]), device="cpu", dtype="float32",
    ...           kernel="reference")
    >>> out.accepted[0].tolist(), out.kernels, out.dtype
    ([False, True, False, True], ('reference',), 'float32')
    """
    from statetrack.constructions.lrnn import LRNN
    from statetrack.constructions.stack import run_stack, token_map_arrays

    if not isinstance(lrnn, LRNN):
        raise KernelInputError(f"lrnn: expected a constructed LRNN, got {type(lrnn).__name__}")
    dev = resolve_device(device)
    dt = resolve_dtype(dtype)
    if not isinstance(kernel, str) or kernel not in KERNELS:
        raise KernelInputError(f"kernel: expected one of {KERNELS}, got {kernel!r}")
    ids, lengths = encode_batch(lrnn.alphabet, words)
    warn_if_inexact(lrnn, dt, "statetrack.kernels.run")
    sym = torch.as_tensor(ids).to(device=dev, dtype=torch.int64)
    B, T = (int(s) for s in sym.shape)
    kernels: list[str] = []
    backends: list[str] = []
    tabled: list = []

    def run_layer(li: int, tok: torch.Tensor) -> torch.Tensor:
        layer = lrnn.layers[li]
        kern, backend = choose_kernel(layer.width, layer.value_dim, B * T, dev, kernel)
        with torch.no_grad():
            cls = _run_layer(layer, tok, kern, dev, dt, tabled)
        kernels.append(kern)
        if backend not in backends:
            backends.append(backend)
        return cls

    token_maps = [None if tm is None else torch.as_tensor(tm, device=dev)
                  for tm in token_map_arrays(lrnn.layers)]
    classes = run_stack(token_maps, sym, run_layer)
    for res in tabled:                 # a code table miss raises here, before the readback
        res.check()
    top = classes[-1]
    accepted = torch.as_tensor(lrnn.accepting, dtype=torch.bool, device=dev)[top]
    states = None
    if lrnn.state_map is not None:
        states = torch.as_tensor(lrnn.state_map, dtype=torch.int64, device=dev)[top]
    if (lengths < T).any():
        # the padding of the shorter words ran too: hide what it computed
        lens = torch.as_tensor(lengths, device=dev)
        valid = torch.arange(T + 1, device=dev)[None, :] <= lens[:, None]      # [B, T + 1]
        accepted = accepted & valid
        states = None if states is None else states.masked_fill(~valid, -1)
        classes = [c.masked_fill(~valid, -1) for c in classes]
    return RunOutput(
        accepted=accepted.cpu().numpy(),
        states=None if states is None else states.cpu().numpy(),
        classes=tuple(c.cpu().numpy() for c in classes),
        backend="+".join(backends), kernels=tuple(kernels), device=str(dev),
        dtype=_dtype_name(dt), lengths=lengths)


# ----------------------------------------------------------------------------- the DFA's run
def dfa_states(dfa: Any, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The DFA's states and accept bits of every prefix of id words ``[B, T]`` (ids in the
    DFA's alphabet order): ``(states [B, T + 1] int64, accepted [B, T + 1] bool)``; a missing
    transition gives state -1 (not accepted) from there on.

    A numpy loop over time on int arrays: about a microsecond a step for small batches.

    Examples
    --------
    >>> from statetrack.automata import DFA
    >>> st, acc = dfa_states(DFA([[0, 1], [1, 0]], accepting=[1], alphabet="01"),
    ...                      np.array([[1, 1, 0, 1]]))
    >>> st.tolist(), acc.tolist()
    ([[0, 1, 0, 0, 1]], [[False, True, False, False, True]])
    """
    delta = np.asarray(dfa.transitions, dtype=np.int64)
    n = delta.shape[0]
    table = np.vstack([np.where(delta < 0, n, delta), np.full((1, delta.shape[1]), n)])
    ids = np.asarray(ids, dtype=np.int64)
    B, T = ids.shape
    cols = np.empty((T + 1, B), dtype=np.int64)
    cur = np.full(B, int(dfa.start), dtype=np.int64)
    cols[0] = cur
    by_time = np.ascontiguousarray(ids.T)
    for t in range(T):
        cur = table[cur, by_time[t]]
        cols[t + 1] = cur
    states = cols.T.copy()
    acc = np.concatenate([np.asarray(dfa.accepting, dtype=bool), [False]])[states]
    states[states == n] = -1
    return states, acc
