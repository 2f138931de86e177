r"""The construction path: DeltaProduct with per-symbol tables gathered inside the kernel.

A constructed LRNN's keys, betas and values depend only on the input *symbol*, so instead of
dense ``[B, T*n_h, H, K]`` tensors this path reads int symbol ids ``[B, T]`` and small tables

* ``key_table``   ``[n_symbols, n_h, K]`` or ``[n_symbols, n_h, H, K]``,
* ``beta_table``  ``[n_symbols, n_h]``    or ``[n_symbols, n_h, H]``,
* ``value_table`` ``[n_symbols, n_h, V]`` or ``[n_symbols, n_h, H, V]``,

(the forms without ``H`` are shared by every head) and gathers the rows of the current
symbol in the kernel. The recurrence is the one of
:func:`statetrack.kernels.delta_product_ref` without a gate: for token ``t`` with
symbol ``x = symbols[b, t]`` and ``j = 0 .. n_h - 1``::

    S <- S - beta[x, j] k[x, j] (k[x, j]^T S) + beta[x, j] k[x, j] v[x, j]^T

Tests prove it equals :func:`~statetrack.kernels.fused_recurrent_delta_product` on
the gathered dense tensors. Keys are not normalized; constructions use integer keys with
``beta ||k||^2`` in [0, 2], exact in any binary float format (the tables may be bfloat16;
the state is float32, float64 for float64 tables).

What comes back (memory-sane by default)
----------------------------------------
* the final state ``[B, H, K, V]`` (always);
* ``output="o"``: the readout ``o_t = S_t^T (scale q)`` for a fixed query ``q``
  (``[K]`` or ``[H, K]``), ``[B, T, H, V]`` float32;
* ``output="code"``: the index of the nearest code (``codes`` ``[C, V]`` or ``[H, C, V]``,
  squared Euclidean distance, first index on ties) to ``o_t``, ``[B, T, H]`` int32: four
  bytes a position, the readout class of :class:`statetrack.constructions.lrnn.Readout`.
  For an exact integer construction the kernel reads it from one lane through a code table
  (:mod:`._codes`: ``code_table="auto"``), with the same result; else by the argmin;
* ``output="none"``: only the final state;
* ``return_states=True``: every state ``[B, T, H, K, V]`` (large: only on request).

Kernels
-------
For ``K <= 32`` (:data:`COLS_MAX_K`) the run and summary passes go through ``cols_kernel``:
the state is held as ``K`` tensors (the rows of ``S``) over the value index, one value
column a thread, so ``S^T k`` is ``K`` fused multiply-adds inside a thread (no cross-thread
reduction), and a warp runs ``32 / max(4, next_pow2(V))`` words side by side (summaries:
``K + V`` instead of ``V``; past 32 columns a word spans several warps); each sub-step reads
one packed table row ``[k | beta | v]`` with 16-byte loads; a sequential run takes four
sub-steps an iteration with their rows loaded first (the "deep" order: the chain of a word is
latency-bound, and this keeps an L1 round trip off all but one sub-step in four). Larger ``K`` (and tables or
chunks too large for its 32-bit offsets) take ``run_kernel`` / ``summary_kernel``, which
spread a ``[K, V]`` register tile over the threads. Both compute the same recurrence
(``S^T k`` summed in another order: equal to float32 rounding, and bit-identical for the
integer constructions). The scan over chunks is ``scan_kernel`` in both cases.

Time-parallel evaluation (chunks)
---------------------------------
The serial chain of a sequence is the bottleneck when there are few sequences and many
tokens. With ``chunk_size = L < T`` the path splits each sequence into ``NC = ceil(T / L)``
chunks and runs three kernels:

1. *summary*, per chunk (several (sequence, head) rows a program): a token acts affinely,
   ``S <- A_x S + B_x``, so the chunk's composite map ``S <- M_c S + C_c`` is obtained by
   running the same recurrence on the augmented state ``[M | C]`` (``K x (K + V)``) from
   ``[I | 0]``, with values ``[0 | v]`` (the identity columns see value 0);
2. *scan*, one program per (sequence, head): ``S_{c+1} = M_c S_c + C_c`` over the chunks
   (float32 ``tl.dot`` in IEEE mode), storing each chunk's start state and the final state;
3. *run*, per chunk (several rows a program): the recurrence from the chunk's start
   state, writing the per-position outputs (skipped when ``output="none"`` and no states
   are requested).

The work is about ``(K + V) / V + 1`` times the sequential work, in exchange for ``NC``
times the parallelism. For integer constructions every ``M_c``, ``C_c`` and state is a
small-integer matrix, so the chunked result is bit-identical to the sequential one; for
general float inputs it is the same function with a different rounding order.
``chunk_size=None`` picks a size from the number of sequences (:func:`choose_chunk`):
sequential from 640 sequences x heads on, chunked below.

When bad input raises
---------------------
Shapes, dtypes, devices and options are checked on the host from metadata, at the call,
before anything runs. The checks that read values cost no synchronization per call in the
default call (``sync_checks=False``):

* ``beta_table`` in [0, 2] (``check_beta``) and no NaN or infinity in the tables, the
  initial state, the query and the codes (``check_finite_inputs``): checked on the host the
  first time a tensor is seen and remembered for that tensor object while its version
  counter is unchanged (any in-place write bumps it). The error is raised **at the call**,
  before any launch; the first call with a new tensor synchronizes once.
* Not a check but read the same way: whether the ``proj`` kernel applies (the keys'
  condition number, :func:`._plan.proj_keys_condition`) is computed on the host from one
  copy of ``key_table`` the first time a key table version is seen, whatever the checks'
  settings: one more synchronization for a new key table (tensors made under
  ``torch.inference_mode`` have no version counter, so nothing about them is remembered
  and every call with them synchronizes). Likewise proj's packed table rows
  (``proj_rows_kernel``) are built once per version of the key, beta and value tables and
  the query as passed (and per stream, never while a CUDA graph is captured), and reused by
  later calls (no launch). A write into a table's storage that bypasses the version counter
  (``t.data.copy_(...)``, NumPy, DLPack) is not seen, here as for the checks and the code
  table, and **the outputs then follow the old tables**: pass a new tensor after one (a
  new storage or dtype under the same tensor, as ``module.half()`` makes, is seen).
* symbol ids in ``0 .. n_symbols - 1`` (``check_ids``): checked by the kernels, which clamp
  a bad id into range (the outputs of such a call are meaningless, but no memory outside the
  tables is read) and set a device flag. The :class:`~statetrack.kernels.errors.SymbolRangeError`
  (naming the first bad index and value unless the ids were written to in place since the
  call; the call keeps the ids tensor alive until its flag is read, so a temporary such as
  ``run_tabled(ids.cuda(), ...)`` is still named) is raised by the first of:

  1. the call itself, when the tensors are on the CPU (Triton's interpreter: the kernels
     have finished when it returns, so reading the flag costs nothing);
  2. :meth:`TabledResult.check` (waits for this call's kernels only);
  3. :func:`check_pending` (waits for every earlier call's kernels);
  4. on CUDA, the first later :func:`run_tabled` call that finds the bad call's kernels
     finished (polled without waiting, before it launches anything; its message says
     "an earlier run_tabled call"), and at the latest the call that would leave more than
     :data:`MAX_PENDING` calls unchecked (it waits for the oldest).

``sync_checks=True`` restores the synchronizing checks: every value check on the host at
every call, raised at the call before any launch.

Inside a CUDA graph capture (``torch.cuda.graph``) nobody would read the device flags of the
replays: a call that would use them (``check_ids`` on, or a code table) raises
:class:`~statetrack.kernels.errors.KernelInputError` there. Capture with ``check_ids=False``
(and ``code_table=None`` for ``output="code"``), or use
:class:`~statetrack.kernels.tabled.TabledRunner`, which captures the call and reports bad ids. A code table miss
(:class:`~._codes.CodeTableMissError`, a state outside the table's reachable set) is
reported like a bad id.

Examples
--------
Parity (one-hot state ``K = 2``, ``V = 1``; '1' swaps, '0' is the identity):

>>> import torch
>>> from statetrack.kernels.tabled import run_tabled
>>> keys = torch.tensor([[[0.0, 0.0]], [[1.0, -1.0]]])      # [2 symbols, n_h=1, K=2]
>>> betas = torch.tensor([[0.0], [1.0]])                     # [2, 1]
>>> values = torch.zeros(2, 1, 1)                            # [2, 1, V=1]
>>> words = torch.tensor([[1, 1, 0, 1, 0]])
>>> res = run_tabled(words, keys, betas, values,
...                  initial_state=torch.tensor([[[1.0], [0.0]]]),   # [H=1, K, V]
...                  query=torch.tensor([0.0, 1.0]), output="o")
>>> res.o[0, :, 0, 0].tolist(), res.final_state.flatten().tolist()
([1.0, 0.0, 0.0, 1.0, 1.0], [0.0, 1.0])
"""

from __future__ import annotations

import inspect
import threading
from dataclasses import dataclass, field, replace
from typing import Any

import torch

from statetrack.kernels._common.checks import DeviceFlags, check_symbols
from statetrack.kernels._common.device import device_guard
from statetrack.kernels.errors import KernelError, KernelInputError, SymbolRangeError
from statetrack.kernels.tabled._codes import (CodeTable, CodeTableMissError, build_code_table,
                                              inputs_digest)
from statetrack.kernels.tabled._inputs import (
    MAX_KV,
    VERIFIED,
    allocate_outputs,
    check_inputs,
    normalize_tables,
)
from statetrack.kernels.tabled._launch import launch
from statetrack.kernels.tabled import _plan
from statetrack.kernels.tabled._plan import COLS_MAX_K, Variant, cached_plan, choose_chunk

__all__ = ["run_tabled", "TabledResult", "choose_chunk", "gather_tables", "MAX_KV",
           "COLS_MAX_K", "check_pending", "CodeTable", "build_code_table", "MAX_PENDING"]

#: Most calls whose device flags may be unread at once (on CUDA); the call that would leave
#: more waits for the oldest and raises its error, if any. Each holds a slot of the device's
#: flag ring (:class:`~statetrack.kernels._common.checks.FlagRing`, ``RING_SLOTS`` = 72
#: slots, more than this: the ring grows only when threads add calls in flight).
MAX_PENDING = 64
_PENDING: list[DeviceFlags] = []
_PENDING_LOCK = threading.Lock()       # callers may run in threads (one CUDA stream each)
_HAS_CUDA = torch.cuda.is_available()  # (the interpreter's tests leave flags pending too)


def _take(select: Any) -> list[DeviceFlags]:
    """Remove and return the pending flags ``select(flags)`` picks (under the lock)."""
    with _PENDING_LOCK:
        taken = [f for f in _PENDING if select(f)]
        for f in taken:
            _PENDING.remove(f)
    return taken


def check_pending() -> None:
    """Wait for every earlier :func:`run_tabled` call's device checks and raise the first
    error found (a :class:`~statetrack.kernels.errors.SymbolRangeError` for a bad symbol id,
    a :class:`~._codes.CodeTableMissError` for a code table miss); the calls after the one
    that raised stay pending (another call of this function reports the next error).

    Examples
    --------
    >>> check_pending()        # nothing pending
    """
    _check_in_order(_take(lambda f: True))


def _check_in_order(taken: list[DeviceFlags]) -> None:
    """Check ``taken`` (flags removed from the pending list), oldest first; at the first
    error the ones not yet checked go back to the front of the pending list before it is
    raised: each holds a slot of the flag ring (given back only by its check) and may hold
    an error of its own, reported by a later poll or check."""
    for i, f in enumerate(taken):
        try:
            _earlier(f)
        except BaseException:
            with _PENDING_LOCK:
                _PENDING[:0] = taken[i + 1:]
            raise


def _earlier(flags: DeviceFlags) -> None:
    """``flags.check()``, its error (if any) re-raised as the same class, saying that it
    belongs to an earlier call."""
    try:
        flags.check()
    except (KernelInputError, KernelError) as exc:
        raise type(exc)(f"an earlier run_tabled call: {exc}") from None


def _poll_pending() -> None:
    """Check, without waiting, the earlier calls whose flags are home: from the oldest, up to
    the first that is not (calls on one stream finish in order, so one event query usually
    settles it; querying all of up to :data:`MAX_PENDING` events on every call is host work
    of the order of a small call's kernels, the suspected cause, not yet measured, of a
    slower default call on the H200)."""
    with _PENDING_LOCK:
        n = 0
        for f in _PENDING:
            if not (f.checked or f.ready()):
                break
            n += 1
        taken = _PENDING[:n]
        del _PENDING[:n]
    _check_in_order(taken)


def _flag_error(sym: torch.Tensor, S: int) -> Any:
    # The ids tensor is held (not a weak reference) until the flag is read: a temporary
    # (``run_tabled(ids.cuda(), ...)``, the common call) would otherwise be freed before the
    # check and the error could not name the position. Its version counter at launch tells
    # whether it was written to since (a tensor made under torch.inference_mode has none:
    # it is searched anyway).
    try:
        version = sym._version
    except RuntimeError:                     # an inference tensor
        version = None

    def on_error(values: list[int]) -> None:
        if values[0]:
            if version is None or sym._version == version:
                check_symbols(sym, "symbols", S)          # raises, naming index and value
            raise SymbolRangeError(
                f"symbols: an id outside 0 .. {S - 1} (the table has {S} symbols) was read "
                f"by the kernel; the ids tensor has been written to in place since the "
                f"call" + (" (an inference tensor: its writes are not tracked)"
                           if version is None else "") + ", so its position is not known")
        raise CodeTableMissError(
            "code: the kernel reached a state whose code the code table does not hold (it "
            "was made by hand for other inputs, or the arithmetic was not exact); run with "
            "code_table=None for the nearest-code argmin")
    return on_error


@dataclass(frozen=True)
class TabledResult:
    """What :func:`run_tabled` returns.

    Attributes
    ----------
    final_state : torch.Tensor
        ``[B, H, K, V]`` float32 (float64 for float64 tables).
    o : torch.Tensor or None
        ``[B, T, H, V]`` readouts ``S_t^T (scale q)`` (``output="o"``).
    code : torch.Tensor or None
        ``[B, T, H]`` int32 nearest-code indices (``output="code"``; uint8 when ``code_out``
        was a uint8 buffer).
    states : torch.Tensor or None
        ``[B, T, H, K, V]`` states after each token (``return_states=True``).
    chunk_size : int
        Tokens per chunk actually used (``T`` means sequential).
    code_table : CodeTable or None
        The code table the ``code`` output was read through (None: the argmin).

    Notes
    -----
    :meth:`check` raises the errors of the device-side checks (see "When bad input raises"
    in :mod:`statetrack.kernels.tabled.tabled`).
    """

    final_state: torch.Tensor
    o: torch.Tensor | None
    code: torch.Tensor | None
    states: torch.Tensor | None
    chunk_size: int
    code_table: CodeTable | None = None
    _flags: DeviceFlags | None = field(default=None, repr=False, compare=False)

    def check(self) -> "TabledResult":
        """Wait for this call's device-side checks (not for later work) and raise their
        error, if any; returns the result itself.

        Raises
        ------
        SymbolRangeError
            A symbol id was out of range (the message names the first bad index and value
            while the ids tensor is alive and unchanged).
        CodeTableMissError
            The ``code`` output met a state its code table does not hold.

        Examples
        --------
        >>> import torch
        >>> keys = torch.tensor([[[0.0, 0.0]], [[1.0, -1.0]]])
        >>> res = run_tabled(torch.tensor([[1, 0]]), keys, torch.tensor([[0.0], [1.0]]),
        ...                  torch.zeros(2, 1, 1), query=torch.tensor([0.0, 1.0]))
        >>> res.check() is res
        True
        """
        f = self._flags
        if f is not None:
            _take(lambda g: g is f)
            f.check()
        return self


def gather_tables(symbols: torch.Tensor, key_table: torch.Tensor, beta_table: torch.Tensor,
                  value_table: torch.Tensor, H: int | None = None
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Dense ``k``, ``v``, ``beta`` (fla layout) of a tabled run, for the general kernels.

    Parameters
    ----------
    symbols : torch.Tensor
        ``[B, T]`` integer ids.
    key_table, beta_table, value_table : torch.Tensor
        As in :func:`run_tabled`.
    H : int, optional
        Heads, when the tables have no head axis (default 1).

    Returns
    -------
    k, v, beta : torch.Tensor
        ``[B, T*n_h, H, K]``, ``[B, T*n_h, H, V]``, ``[B, T*n_h, H]``.

    Examples
    --------
    >>> import torch
    >>> k, v, b = gather_tables(torch.tensor([[1, 0]]), torch.eye(2).view(2, 1, 2),
    ...                         torch.tensor([[0.5], [1.0]]), torch.ones(2, 1, 3))
    >>> k.shape, v.shape, b.flatten().tolist()
    (torch.Size([1, 2, 1, 2]), torch.Size([1, 2, 1, 3]), [1.0, 0.5])
    """
    kt, bt, vt, Ht = normalize_tables(key_table, beta_table, value_table, H)
    B, T = symbols.shape
    n_h = kt.shape[1]
    idx = symbols.long()
    k = kt[idx].reshape(B, T * n_h, Ht, kt.shape[-1])
    v = vt[idx].reshape(B, T * n_h, Ht, vt.shape[-1])
    beta = bt[idx].reshape(B, T * n_h, Ht)
    return k, v, beta


def run_tabled(
    symbols: torch.Tensor,
    key_table: torch.Tensor,
    beta_table: torch.Tensor,
    value_table: torch.Tensor,
    *,
    initial_state: torch.Tensor | None = None,
    query: torch.Tensor | None = None,
    codes: torch.Tensor | None = None,
    scale: float = 1.0,
    output: str = "o",
    return_states: bool = False,
    chunk_size: int | None = None,
    o_out: torch.Tensor | None = None,
    code_out: torch.Tensor | None = None,
    states_out: torch.Tensor | None = None,
    final_state_out: torch.Tensor | None = None,
    check_beta: bool = True,
    check_finite_inputs: bool = True,
    check_ids: bool = True,
    sync_checks: bool = False,
    code_table: CodeTable | str | None = "auto",
) -> TabledResult:
    """Run the DeltaProduct recurrence on symbol ids with per-symbol tables (no gradients).

    Parameters
    ----------
    symbols : torch.Tensor
        ``[B, T]`` integer symbol ids in ``0 .. n_symbols - 1`` (any integer dtype).
    key_table : torch.Tensor
        ``[n_symbols, n_h, K]`` (shared by the heads) or ``[n_symbols, n_h, H, K]``.
    beta_table : torch.Tensor
        ``[n_symbols, n_h]`` or ``[n_symbols, n_h, H]``, values in [0, 2]. The keys are not
        normalized: a sub-step ``I - beta k k^T`` has its eigenvalues in [-1, 1] where
        ``beta ||k||^2`` is in [0, 2] (the constructions' integer keys are so); only the
        range of beta is checked.
    value_table : torch.Tensor
        ``[n_symbols, n_h, V]`` or ``[n_symbols, n_h, H, V]``.
    initial_state : torch.Tensor, optional
        ``[B, H, K, V]`` or ``[H, K, V]`` (the same for every word); zeros when None.
    query : torch.Tensor, optional
        ``[K]`` or ``[H, K]``: the fixed readout query (needed for ``output`` "o", "code").
    codes : torch.Tensor, optional
        ``[C, V]`` or ``[H, C, V]``: the readout codes (needed for ``output="code"``).
    scale : float
        Query scale (default 1, the constructions' readout ``o = S^T q``).
    output : {"o", "code", "none"}
        Per-position output: readouts, nearest-code indices, or nothing.
    return_states : bool
        Also return every state ``[B, T, H, K, V]``. This and the ``check_*`` and
        ``sync_checks`` switches must be bools (a truthy string raises).
    chunk_size : int, optional
        Tokens per chunk of the time-parallel evaluation; ``>= T`` is sequential; None
        picks :func:`choose_chunk` (always sequential under Triton's interpreter, the CPU).
    o_out, code_out, states_out, final_state_out : torch.Tensor, optional
        Output buffers (contiguous, exact shape and dtype); every entry is written.
        ``code_out`` is int32, or uint8 (one byte a position, for long words) when there are
        at most 256 codes.
    check_beta : bool
        Check ``beta_table`` in [0, 2] (once per tensor version; see "When bad input
        raises" in the module docstring).
    check_finite_inputs : bool
        Check the tables, initial state, query and codes for NaN/inf (once per tensor
        version).
    check_ids : bool
        Check that every symbol id is in range (in the kernels: two integer operations an
        id, no synchronization; the error is raised later, see the module docstring). Switch
        it off only for ids known to be valid: an out-of-range id is then undefined
        behaviour (it reads outside the tables, or, where ids travel as one byte when there
        are at most 256 symbols, the row of its value mod 256).
    sync_checks : bool
        Run every value check on the host at every call, before any launch (one reduction
        and one synchronization each), raising at the call.
    code_table : "auto", CodeTable or None
        How ``output="code"`` is computed by ``cols_kernel`` (``K <= 32``): "auto" builds
        (once per set of tensors, on the host: :func:`~._codes.build_code_table`) and uses
        the code table of an exact integer construction when there is one, else the argmin;
        a :class:`CodeTable` built by :func:`~._codes.build_code_table` is used after its
        fingerprint is compared with these inputs' (once per set of tensor versions, on the
        host; a table built for other inputs raises :class:`KernelInputError`; one made by
        hand, without a fingerprint, is used as given); None always takes the argmin. A
        :class:`CodeTable` passed with another ``output`` raises :class:`KernelInputError`.

    Returns
    -------
    TabledResult

    Raises
    ------
    KernelInputError
        (subclasses) for bad shapes, dtypes, devices, symbol ids, beta range, options; a
        bad symbol id raises as described in the module docstring ("When bad input
        raises"), possibly for an earlier call.
    CodeTableMissError
        As a bad symbol id, when the code table met a state it does not hold.
    KernelUnavailableError
        The tensors are on the CPU and Triton is not in interpreter mode.

    Notes
    -----
    Three steps: the input checks (:func:`._inputs.check_inputs`, every message naming the
    bad argument), the plan (:func:`._plan.make_plan`: tokens a chunk, which kernel, block
    sizes) and the launches (:func:`._launch.launch`, one launcher per kernel). The benchmark
    variants of the kernels are reachable only through :func:`_run_tabled_variant`.

    Examples
    --------
    Z_3 (count 'a' mod 3) as a 3-cycle of one-hot states, a product of two transpositions
    (``n_h = 2``), read out as the code index:

    >>> import torch
    >>> e = torch.eye(3)
    >>> keys = torch.stack([torch.zeros(2, 3), torch.stack([e[1] - e[2], e[0] - e[1]])])
    >>> betas = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    >>> res = run_tabled(torch.tensor([[1, 1, 0, 1, 1]]), keys, betas, torch.zeros(2, 2, 1),
    ...                  initial_state=e[:, :1].reshape(1, 3, 1),
    ...                  query=torch.tensor([0.0, 1.0, 2.0]),
    ...                  codes=torch.tensor([[0.0], [1.0], [2.0]]), output="code")
    >>> res.code[0, :, 0].tolist()
    [1, 2, 2, 0, 1]
    """
    return _run(Variant(), symbols, key_table, beta_table, value_table,
                initial_state=initial_state, query=query, codes=codes, scale=scale,
                output=output, return_states=return_states, chunk_size=chunk_size,
                o_out=o_out, code_out=code_out, states_out=states_out,
                final_state_out=final_state_out, check_beta=check_beta,
                check_finite_inputs=check_finite_inputs, check_ids=check_ids,
                sync_checks=sync_checks, code_table=code_table)


def _run_tabled_variant(*args: Any, _variant: dict | None = None, **kwargs: Any
                        ) -> TabledResult:
    """:func:`run_tabled` with a benchmark code variant; not a stable interface.

    ``benchmarks/tabled_variants.py`` times the variants against each other on the GPU, and
    the tests check that they compute the same function. ``args`` and ``kwargs`` are those of
    :func:`run_tabled` (bound to its signature: its defaults, its ``TypeError``).

    Parameters
    ----------
    _variant : dict, optional
        The knobs (:class:`._plan.Variant`): ``legacy`` (``run_kernel`` / ``summary_kernel``
        at any K), ``mm`` (each token's sub-steps composed into one map per symbol, one
        tensor-core product a token), ``words`` (words a ``cols_kernel`` program, a power of
        2 up to 32), ``pf`` (``cols_kernel`` loads the next sub-step's table row during this
        one; default: in sequential runs only), ``late`` (``cols_kernel`` computes each
        readout at the next token's step) and ``deep`` (``cols_kernel``'s sequential run
        takes four sub-steps an iteration, their rows loaded first; default
        ``_plan.DEEP_DEFAULT``) and ``proj`` (the summary and run passes in the
        coordinates of the table keys, ``proj_kernel``, where it applies: see
        :class:`._plan.Variant`; default ``_plan.PROJ_DEFAULT``). The results are the same
        function (to float32 rounding; bit-identical on integer constructions).

    Returns
    -------
    TabledResult

    Raises
    ------
    KernelInputError
        As :func:`run_tabled`, and for unknown or contradictory knobs.

    Examples
    --------
    >>> import torch
    >>> keys = torch.tensor([[[0.0, 0.0]], [[1.0, -1.0]]])
    >>> args = (torch.tensor([[1, 1, 0, 1]]), keys, torch.tensor([[0.0], [1.0]]),
    ...         torch.zeros(2, 1, 1))
    >>> opts = dict(initial_state=torch.tensor([[[1.0], [0.0]]]),
    ...             query=torch.tensor([0.0, 1.0]))
    >>> a = _run_tabled_variant(*args, _variant={"legacy": True}, **opts)
    >>> b = run_tabled(*args, **opts)
    >>> a.o[0, :, 0, 0].tolist(), torch.equal(a.o, b.o)
    ([1.0, 0.0, 0.0, 1.0], True)
    """
    variant = Variant.parse(_variant)
    bound = inspect.signature(run_tabled).bind(*args, **kwargs)
    bound.apply_defaults()
    return _run(variant, **bound.arguments)


def _run(variant: Variant, symbols: torch.Tensor, key_table: torch.Tensor,
         beta_table: torch.Tensor, value_table: torch.Tensor, *,
         initial_state: torch.Tensor | None, query: torch.Tensor | None,
         codes: torch.Tensor | None, scale: float, output: str, return_states: bool,
         chunk_size: int | None, o_out: torch.Tensor | None, code_out: torch.Tensor | None,
         states_out: torch.Tensor | None, final_state_out: torch.Tensor | None,
         check_beta: bool, check_finite_inputs: bool, check_ids: bool, sync_checks: bool,
         code_table: CodeTable | str | None) -> TabledResult:
    """Check, plan, launch (see :func:`run_tabled`)."""
    # asked once a call (a driver query): no event query while a graph is captured (it
    # would break the capture), and no device flags there (nobody would read them)
    capturing = _HAS_CUDA and torch.cuda.is_current_stream_capturing()
    if _PENDING and not capturing:
        _poll_pending()
    inp = check_inputs(symbols, key_table, beta_table, value_table,
                       initial_state=initial_state, query=query, codes=codes, scale=scale,
                       output=output, return_states=return_states, chunk_size=chunk_size,
                       check_beta=check_beta, check_finite_inputs=check_finite_inputs,
                       check_ids=check_ids, sync_checks=sync_checks)
    with device_guard(inp.device):    # Triton launches on the current device's stream
        buf = allocate_outputs(inp, o_out=o_out, code_out=code_out, states_out=states_out,
                               final_state_out=final_state_out)
        plan = cached_plan(inp, chunk_size, variant)
        if inp.device.type == "cuda" and (inp.check_ids_device or (
                inp.output == "code" and plan.kernel == "cols" and code_table is not None)) \
                and capturing:
            raise KernelInputError(
                "run_tabled inside a CUDA graph capture cannot report a bad symbol id or a "
                "code table miss (its device flags are read after the call, by the host): use "
                "statetrack.kernels.tabled.TabledRunner, which captures the call and reports "
                "them, or pass check_ids=False (and code_table=None for output='code')")
        plan = _proj_keys(inp, plan, key_table)
        ct = _code_table(inp, plan.kernel, code_table,
                         (key_table, beta_table, value_table, initial_state, query, codes))
        flags = None
        if inp.B * inp.T > 0 and (inp.check_ids_device or ct is not None):
            # a slot of the device's flag ring: no allocation, no fill; arm() below is one
            # event record (on the current stream: the guard's); the kernels write the flags
            # into pinned host memory (checks.MAPPED_FLAGS; else one 8-byte copy home too)
            flags = DeviceFlags(2, inp.device, _flag_error(symbols, inp.S))
        try:
            launch(inp, buf, plan, flags, ct, (key_table, beta_table, value_table, query))
        except BaseException:
            if flags is not None:
                flags.discard()
            raise
        if flags is not None:
            flags.arm()
    if flags is not None:
        if not flags.deferred:
            flags.check()
        else:
            with _PENDING_LOCK:
                _PENDING.append(flags)
                oldest = _PENDING.pop(0) if len(_PENDING) > MAX_PENDING else None
            if oldest is not None:
                _earlier(oldest)
    return TabledResult(final_state=buf.final_state, o=buf.o, code=buf.code,
                        states=buf.states, chunk_size=plan.chunk_size, code_table=ct,
                        _flags=flags)


def _proj_keys(inp: Any, plan: Any, key_table: torch.Tensor) -> Any:
    """``plan`` with its ``proj`` variant decided (a bool), so that the launcher checks only
    each pass's own conditions: asked for (or :data:`._plan.PROJ_DEFAULT`), the default
    kernel, at most ``min(K, PROJ_MAX_R)`` table rows a head, and the nonzero keys of each
    head independent (:func:`._plan.proj_keys_condition` at least
    :data:`._plan.PROJ_MIN_SV`, remembered per version of ``key_table`` as passed), and its
    summaries over the keys' basis where they are well conditioned
    (:data:`._plan.PROJ_BASIS_MIN_SV`)."""
    want = _plan.PROJ_DEFAULT if plan.proj is None else plan.proj
    cond = 0.0
    if want and plan.kernel == "cols" and inp.S * inp.NH <= min(inp.K, _plan.PROJ_MAX_R):
        key = ("proj keys condition", inp.HT, inp.K)
        found, cond = VERIFIED.lookup(key, (key_table,))
        if not found:
            cond = _plan.proj_keys_condition(inp.key_table, inp.HT, inp.K)
            VERIFIED.store(key, (key_table,), cond)
    proj, basis = cond >= _plan.PROJ_MIN_SV, cond >= _plan.PROJ_BASIS_MIN_SV
    key = (id(plan), proj, basis)
    got = _PROJ_PLANS.get(key)
    if got is None:
        if len(_PROJ_PLANS) >= _plan.PLAN_CACHE_SIZE:
            _PROJ_PLANS.clear()
        got = _PROJ_PLANS[key] = (plan, replace(plan, proj=proj, proj_basis=basis))
    return got[1]


#: ``_proj_keys``'s plans: (plan, with its proj decided) per (id(plan), proj, proj_basis);
#: the plan itself is held, so its id cannot be reused while the entry lives
_PROJ_PLANS: dict[tuple, tuple] = {}


def _code_table(inp: Any, kernel: str, code_table: CodeTable | str | None,
                given: tuple) -> CodeTable | None:
    """The code table a run uses (see ``code_table`` of :func:`run_tabled`); ``given``: the
    tensors as passed (the cache's key: ``inp`` holds views made anew at every call)."""
    if isinstance(code_table, str) and code_table != "auto" or not (
            code_table is None or isinstance(code_table, (str, CodeTable))):
        raise KernelInputError(f"code_table: expected 'auto', a CodeTable or None, got "
                               f"{code_table!r}")
    if isinstance(code_table, CodeTable) and inp.output != "code":
        raise KernelInputError(
            f"code_table: a CodeTable is read only with output='code' (this run has "
            f"output={inp.output!r}); leave code_table at 'auto' or pass None")
    if inp.output != "code" or kernel != "cols" or code_table is None:
        return None
    if isinstance(code_table, CodeTable):
        ct = code_table
        if (ct.K, ct.V, ct.H) != (inp.K, inp.V, inp.H) or ct.table.shape[0] != inp.H:
            raise KernelInputError(
                f"code_table: built for K={ct.K}, V={ct.V}, H={ct.H}, this run has "
                f"K={inp.K}, V={inp.V}, H={inp.H}")
        if ct.fingerprint:
            # built for these inputs? compared once per set of tensor versions (a host copy)
            key = ("code table built for", ct.fingerprint, inp.H, inp.scale)
            found, _ = VERIFIED.lookup(key, given)
            if not found:
                mine = inputs_digest(inp.key_table, inp.beta_table, inp.value_table,
                                     initial_state=inp.initial_state, query=inp.query,
                                     codes=inp.codes, H=inp.H, scale=inp.scale)
                if mine != ct.fingerprint:
                    raise KernelInputError(
                        "code_table: built for other inputs (the tables, initial state, query, "
                        "scale or codes differ from this call's): its codes would be wrong; "
                        "build it for these inputs or pass code_table='auto'")
                VERIFIED.store(key, given, True)
        return ct
    key = ("code table", inp.H, inp.scale)
    found, ct = VERIFIED.lookup(key, given)
    if not found:
        ct = build_code_table(inp.key_table, inp.beta_table, inp.value_table,
                              initial_state=inp.initial_state, query=inp.query,
                              codes=inp.codes, H=inp.H, scale=inp.scale)
        VERIFIED.store(key, given, ct)
    return ct
