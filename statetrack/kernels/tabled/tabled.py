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
  bytes a position, the readout class of :class:`statetrack.constructions.lrnn.Readout`;
* ``output="none"``: only the final state;
* ``return_states=True``: every state ``[B, T, H, K, V]`` (large: only on request).

Kernels
-------
For ``K <= 32`` (:data:`COLS_MAX_K`) the run and summary passes go through ``cols_kernel``:
the state is held as ``K`` tensors (the rows of ``S``) over the value index, one value
column a thread, so ``S^T k`` is ``K`` fused multiply-adds inside a thread (no cross-thread
reduction), and a warp runs ``32 / max(4, next_pow2(V))`` words side by side (summaries:
``K + V`` instead of ``V``; past 32 columns a word spans several warps); each sub-step reads
one packed table row ``[k | beta | v]`` with 16-byte loads. Larger ``K`` (and tables or
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

import math
from dataclasses import dataclass

import torch

from statetrack.kernels._common.checks import (
    FLOAT_DTYPES,
    check_beta_range,
    check_finite,
    check_out_buffer,
    check_same_device,
    check_scale,
    check_shape,
    check_symbols,
    check_tensor,
    state_dtype_for,
)
from statetrack.kernels.tabled import _tabled_kernels as _kern
from statetrack.kernels._common.triton import INTERPRET, require_runnable, tl, triton
from statetrack.kernels.errors import KernelInputError, KernelShapeError

__all__ = ["run_tabled", "TabledResult", "choose_chunk", "gather_tables", "MAX_KV"]

#: Largest K and V of the tabled path (state in registers, K + V columns in the summary).
MAX_KV = 64


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
        ``[B, T, H]`` int32 nearest-code indices (``output="code"``).
    states : torch.Tensor or None
        ``[B, T, H, K, V]`` states after each token (``return_states=True``).
    chunk_size : int
        Tokens per chunk actually used (``T`` means sequential).
    """

    final_state: torch.Tensor
    o: torch.Tensor | None
    code: torch.Tensor | None
    states: torch.Tensor | None
    chunk_size: int


def choose_chunk(B: int, H: int, T: int, *, device: torch.device | None = None) -> int:
    """Tokens per chunk: sequential unless there are too few sequences to keep a GPU busy.

    The rule comes from the H100 measurements of ``cols_kernel`` in
    ``benchmarks/kernels_construction.md`` (K = V = 16, n_h = 1): a sequential run costs
    about ``T * 98 ns`` (the latency of the serial chain, while the chains fit on the GPU at
    once: 0.40 ms at T = 4096), the three chunked passes about ``B * H * T * 0.16 ns``
    (throughput: 0.66 ms for 64 x 65536 tokens); they break even near ``B * H = 620``. So
    with ``P = B * H >= 640`` chains the run is sequential; below, the sequence is cut into
    ``ceil(4096 / P)`` chunks of at least 256 tokens (the chunked shape was as fast with 512-
    and 1024-token chunks). The break-even is derived from those two shapes, not measured in
    between. Under the interpreter (CPU) the run is always sequential (least work).

    Examples
    --------
    >>> import torch
    >>> cuda = torch.device("cuda")
    >>> choose_chunk(1024, 1, 4096, device=cuda), choose_chunk(64, 1, 65536, device=cuda)
    (4096, 1024)
    >>> choose_chunk(4, 1, 10 ** 6, device=cuda), choose_chunk(2, 1, 100, device=cuda)
    (977, 100)
    """
    T = max(int(T), 1)
    if device is not None and device.type != "cuda":
        return T
    P = max(1, B * H)
    if P >= 640:
        return T
    nc = min(math.ceil(4096 / P), max(1, T // 256))
    return max(1, math.ceil(T / nc))


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
    kt, bt, vt, Ht = _normalize_tables(key_table, beta_table, value_table, H)
    B, T = symbols.shape
    n_h = kt.shape[1]
    idx = symbols.long()
    k = kt[idx].reshape(B, T * n_h, Ht, kt.shape[-1])
    v = vt[idx].reshape(B, T * n_h, Ht, vt.shape[-1])
    beta = bt[idx].reshape(B, T * n_h, Ht)
    return k, v, beta


def _normalize_tables(key_table, beta_table, value_table, H):
    """Bring the tables to ``[S, n_h, H, K]``, ``[S, n_h, H]``, ``[S, n_h, H, V]`` (views)."""
    if key_table.ndim == 3:
        Ht = 1 if H is None else H
        kt = key_table[:, :, None, :].expand(-1, -1, Ht, -1)
        bt = beta_table[:, :, None].expand(-1, -1, Ht)
        vt = value_table[:, :, None, :].expand(-1, -1, Ht, -1)
    else:
        Ht = key_table.shape[2]
        kt, bt, vt = key_table, beta_table, value_table
    return kt, bt, vt, Ht


# ----------------------------------------------------------------------------- API


#: the largest key dimension that ``cols_kernel`` (the default) runs; larger K takes
#: ``run_kernel`` / ``summary_kernel`` (a register tile spread over the threads)
COLS_MAX_K = 32


def _pow2(n: int, lo: int = 2) -> int:
    return max(lo, int(triton.next_power_of_2(max(1, n))))


def _warps(elements: int) -> int:
    return max(1, min(8, elements // 1024))


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
    check_finite_inputs: bool = False,
    check_ids: bool = True,
    _variant: dict | None = None,
) -> TabledResult:
    """Run the DeltaProduct recurrence on symbol ids with per-symbol tables (no gradients).

    Parameters
    ----------
    symbols : torch.Tensor
        ``[B, T]`` integer symbol ids in ``0 .. n_symbols - 1`` (any integer dtype).
    key_table : torch.Tensor
        ``[n_symbols, n_h, K]`` (shared by the heads) or ``[n_symbols, n_h, H, K]``.
    beta_table : torch.Tensor
        ``[n_symbols, n_h]`` or ``[n_symbols, n_h, H]``, values in [0, 2].
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
        Also return every state ``[B, T, H, K, V]``.
    chunk_size : int, optional
        Tokens per chunk of the time-parallel evaluation; ``>= T`` is sequential; None
        picks :func:`choose_chunk`.
    o_out, code_out, states_out, final_state_out : torch.Tensor, optional
        Output buffers (contiguous, exact shape and dtype); every entry is written.
    check_beta : bool
        Check ``beta_table`` in [0, 2].
    check_finite_inputs : bool
        Check the tables, initial state, query and codes for NaN/inf.
    check_ids : bool
        Check that every symbol id is in range (one reduction, one synchronization). Switch
        it off only for ids known to be valid: an out-of-range id is undefined behaviour (it
        reads outside the tables, or, on CUDA where ids travel as one byte when there are
        at most 256 symbols, the row of its value mod 256).
    _variant : dict, optional
        Private code-variant knobs that ``benchmarks/tabled_variants.py`` times against each
        other on the GPU: ``legacy`` (``run_kernel`` / ``summary_kernel`` at any K),
        ``mm`` (each token's sub-steps composed into one map per symbol, one tensor-core
        product a token), ``words`` (words a ``cols_kernel`` program, a power of 2 up to
        32), ``pf`` (``cols_kernel`` loads the next sub-step's table row during this one;
        default: in sequential runs only). The results are the same function (to float32
        rounding; bit-identical on integer constructions). Not a stable interface.

    Returns
    -------
    TabledResult

    Raises
    ------
    KernelInputError
        (subclasses) for bad shapes, dtypes, devices, symbol ids, beta range, options.
    KernelUnavailableError
        The tensors are on the CPU and Triton is not in interpreter mode.

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
    # ---- validation
    allowed = FLOAT_DTYPES
    check_tensor(key_table, "key_table", dtypes=allowed)
    if key_table.ndim not in (3, 4):
        raise KernelShapeError(
            f"key_table: expected [n_symbols, n_h, K] or [n_symbols, n_h, H, K], got "
            f"{list(key_table.shape)}")
    tdt = key_table.dtype
    for name, t in (("beta_table", beta_table), ("value_table", value_table)):
        check_tensor(t, name, dtypes=allowed)
        if t.dtype != tdt:
            from statetrack.kernels.errors import KernelDtypeError
            raise KernelDtypeError(
                f"{name}: dtype {str(t.dtype).replace('torch.', '')} differs from key_table's "
                f"{str(tdt).replace('torch.', '')}; the tables must share one dtype")
    S_, NH = int(key_table.shape[0]), int(key_table.shape[1])
    K = int(key_table.shape[-1])
    heads_in_table = key_table.ndim == 4
    if heads_in_table:
        HT = int(key_table.shape[2])
        check_tensor(beta_table, "beta_table", ndim=3)
        check_shape(beta_table, "beta_table", (S_, NH, HT), "[n_symbols, n_h, H]",
                    "from key_table")
        check_tensor(value_table, "value_table", ndim=4)
        V = int(value_table.shape[-1])
        check_shape(value_table, "value_table", (S_, NH, HT, V), "[n_symbols, n_h, H, V]",
                    "from key_table")
    else:
        HT = 1
        check_tensor(beta_table, "beta_table", ndim=2)
        check_shape(beta_table, "beta_table", (S_, NH), "[n_symbols, n_h]", "from key_table")
        check_tensor(value_table, "value_table", ndim=3)
        V = int(value_table.shape[-1])
        check_shape(value_table, "value_table", (S_, NH, V), "[n_symbols, n_h, V]",
                    "from key_table")
    if S_ < 1 or NH < 1 or K < 1 or V < 1:
        raise KernelShapeError(
            f"key_table, value_table: need n_symbols, n_h, K, V >= 1, got "
            f"n_symbols={S_}, n_h={NH}, K={K}, V={V}")
    if K > MAX_KV or V > MAX_KV:
        raise KernelShapeError(
            f"key_table, value_table: the tabled path supports K, V <= {MAX_KV}, got "
            f"K={K}, V={V} (use fused_recurrent_delta_product on gathered tensors)")
    if check_ids:
        check_symbols(symbols, "symbols", S_)
    else:
        check_tensor(symbols, "symbols", ndim=2, dtypes=(torch.int8, torch.uint8, torch.int16,
                                                          torch.int32, torch.int64))
    B, T = (int(s) for s in symbols.shape)

    # heads: from the tables, else from the initial state, the query or the codes
    if heads_in_table:
        H = HT
    elif isinstance(initial_state, torch.Tensor) and initial_state.ndim in (3, 4):
        H = int(initial_state.shape[-3])
    elif isinstance(query, torch.Tensor) and query.ndim == 2:
        H = int(query.shape[0])
    elif isinstance(codes, torch.Tensor) and codes.ndim == 3:
        H = int(codes.shape[0])
    else:
        H = 1

    if output not in ("o", "code", "none"):
        raise KernelInputError(f"output: expected 'o', 'code' or 'none', got {output!r}")
    sd = state_dtype_for(tdt)
    h0_mode = 0
    if initial_state is not None:
        check_tensor(initial_state, "initial_state", dtypes=allowed)
        if initial_state.ndim == 4:
            check_shape(initial_state, "initial_state", (B, H, K, V), "[B, H, K, V]",
                        f"B={B} from symbols, H={H}, K={K}, V={V} from the tables")
            h0_mode = 1
        elif initial_state.ndim == 3:
            check_shape(initial_state, "initial_state", (H, K, V), "[H, K, V]",
                        f"H={H}, K={K}, V={V} from the tables")
            h0_mode = 2
        else:
            raise KernelShapeError(
                f"initial_state: expected [B, H, K, V] or [H, K, V], got "
                f"{list(initial_state.shape)}")
    qv = None
    if output in ("o", "code"):
        if query is None:
            raise KernelInputError(f"query: required for output={output!r}")
        check_tensor(query, "query", dtypes=allowed)
        if query.ndim == 1:
            check_shape(query, "query", (K,), "[K]", "from key_table")
            qv = query[None, :].expand(H, K)
        else:
            check_shape(query, "query", (H, K), "[H, K]", f"H={H}, K={K}")
            qv = query
    cv, C = None, 1
    if output == "code":
        if codes is None:
            raise KernelInputError("codes: required for output='code'")
        check_tensor(codes, "codes", dtypes=allowed)
        if codes.ndim == 2:
            C = int(codes.shape[0])
            check_shape(codes, "codes", (C, V), "[C, V]", f"V={V} from value_table")
            cv = codes[None].expand(H, C, V)
        elif codes.ndim == 3:
            C = int(codes.shape[1])
            check_shape(codes, "codes", (H, C, V), "[H, C, V]", f"H={H}, V={V}")
            cv = codes
        else:
            raise KernelShapeError(f"codes: expected [C, V] or [H, C, V], got {list(codes.shape)}")
        if C < 1:
            raise KernelShapeError("codes: need at least one code")
    sc = check_scale(scale, K)
    device = check_same_device({"symbols": symbols, "key_table": key_table,
                                "beta_table": beta_table, "value_table": value_table,
                                "initial_state": initial_state, "query": query,
                                "codes": codes})
    if check_finite_inputs:
        check_finite({"key_table": key_table, "beta_table": beta_table,
                      "value_table": value_table, "initial_state": initial_state,
                      "query": query, "codes": codes})
    if check_beta:
        check_beta_range(beta_table, "beta_table")
    if chunk_size is not None and (isinstance(chunk_size, bool) or not isinstance(chunk_size, int)
                                   or chunk_size < 1):
        raise KernelInputError(f"chunk_size: expected an int >= 1 or None, got {chunk_size!r}")
    require_runnable(device, "run_tabled")

    # ---- buffers
    def buf(given, name, shape, dtype, layout):
        if given is not None:
            return check_out_buffer(given, name, shape, dtype, device, layout)
        return torch.empty(shape, dtype=dtype, device=device)

    ht = buf(final_state_out, "final_state_out", (B, H, K, V), sd, "[B, H, K, V]")
    o = buf(o_out, "o_out", (B, T, H, V), sd, "[B, T, H, V]") if output == "o" else None
    cls = buf(code_out, "code_out", (B, T, H), torch.int32, "[B, T, H]") \
        if output == "code" else None
    states = buf(states_out, "states_out", (B, T, H, K, V), sd, "[B, T, H, K, V]") \
        if return_states else None
    for name, given, used in (("o_out", o_out, o is not None), ("code_out", code_out, cls is not None),
                              ("states_out", states_out, states is not None)):
        if given is not None and not used:
            raise KernelInputError(f"{name}: given, but this output is not requested")

    L = min(T, chunk_size if chunk_size is not None else choose_chunk(B, H, T, device=device))
    L = max(L, 1)
    if T == 0 or B == 0:
        if B:
            if initial_state is None:
                ht.zero_()
            else:
                ht.copy_(initial_state.expand(B, H, K, V) if h0_mode == 2 else initial_state)
        return TabledResult(final_state=ht, o=o, code=cls, states=states, chunk_size=L)

    # ---- launch
    sym = symbols.contiguous()
    if sym.is_cuda and sym.dtype != torch.uint8 and S_ <= 256:
        # one byte an id: a cache line holds 128 tokens' ids, not 32 (an L1 miss every 32
        # tokens cost the latency-bound sequential run 28 % on the H100)
        sym = sym.to(torch.uint8)
    kt, bt, vt = (t.contiguous() for t in (key_table, beta_table, value_table))
    var = dict(_variant or {})
    mm = bool(var.pop("mm", False))              # every pass through _kern.mm_kernel
    legacy = bool(var.pop("legacy", False))      # run_kernel / summary_kernel, not cols
    words = var.pop("words", None)               # cols_kernel: words a program (power of 2)
    pf = var.pop("pf", None)                     # cols_kernel: prefetch rows (None: if seq)
    if var:
        raise KernelInputError(f"_variant: unknown keys {sorted(var)}")
    if mm and legacy:
        raise KernelInputError("_variant: 'mm' replaces every pass; it does not combine with "
                               "'legacy'")
    if mm and S_ * HT * max(16, _pow2(K + V)) * max(16, _pow2(K)) >= 2 ** 31:
        raise KernelInputError("_variant: 'mm' indexes its tables with 32-bit offsets; "
                               "these tables are too large for it")
    if mm and sd == torch.float64:
        raise KernelInputError("_variant: 'mm' runs float32 matrix products; float64 tables "
                               "take the default kernel")
    if words is not None and (isinstance(words, bool) or not isinstance(words, int)
                              or words not in (1, 2, 4, 8, 16, 32)):
        raise KernelInputError(f"_variant: 'words' must be a power of 2 in 1 .. 32, got "
                               f"{words!r}")
    if pf is not None and not isinstance(pf, bool):
        raise KernelInputError(f"_variant: 'pf' must be True, False or None, got {pf!r}")
    # the default: cols_kernel for the summary and run passes while K <= COLS_MAX_K (its
    # state and two table rows stay in registers) and its 32-bit offsets cannot overflow
    # (table rows; sub-steps of one chunk)
    G = 2 if sd == torch.float64 else 4
    KP = -(-K // G) * G
    BWR, BWS = _pow2(V, lo=4), _pow2(K + V, lo=4)
    cols = (not (mm or legacy) and K <= COLS_MAX_K
            and S_ * NH * HT * (KP + G + BWS) < 2 ** 31 and L * NH < 2 ** 31)
    h0 = initial_state.to(sd).contiguous() if initial_state is not None else None
    qk = qv.to(sd).contiguous() if qv is not None else None
    ck = cv.to(sd).contiguous() if cv is not None else None
    acc = tl.float64 if sd == torch.float64 else tl.float32
    BK, BV, NHP = _pow2(K), _pow2(V), _pow2(NH, lo=1)
    BCC = _pow2(C)
    NC = triton.cdiv(T, L)
    dummy = ht
    need_run = output != "none" or return_states
    outs = dict(OUT_O=o is not None, OUT_CODE=cls is not None, STORE_STATES=states is not None)
    out_args = (qk if qk is not None else dummy, ck if ck is not None else dummy,
                o if o is not None else dummy, cls if cls is not None else dummy,
                states if states is not None else dummy)

    BKM = max(16, BK)
    mmd, prec = tl.float32, ("ieee" if INTERPRET else "tf32x3")
    mm_run = _mm_tables(key_table, beta_table, value_table, BKM, max(16, BV), 0) if mm else None
    if mm and mm_run[2] and (
            h0 is None or bool(((h0 == h0.round()) & (h0.abs() <= 256)).all())):
        # signed-permutation maps on a small-integer state: bfloat16 operands are exact
        # (the summary's [M | C] is a signed permutation and zeros: exact too). The
        # interpreter's bfloat16 tl.dot is wrong (see _chunk_kernels), and float32 operands
        # hold the same exact values, so it multiplies those instead
        mmd, prec = (tl.float32 if INTERPRET else tl.bfloat16), "ieee"

    if cols:
        cols_meta = dict(H=H, HT=HT, K=K, KP=KP, NH=NH, C=C, BCC=BCC, G=G, ACC=acc,
                         num_stages=1)
        PR, PS = max(1, 32 // BWR), max(1, 32 // BWS)   # words a program: a warp's lanes
        if words is not None:
            PR = PS = words

    def run_pass(grid, h0_arg, starts_arg, h0_mode_, final):
        if cols:
            _kern.cols_kernel[(triton.cdiv(grid[0], PR), grid[1])](
                sym, _cols_tables(kt, bt, vt, KP, G, BWR, 0, sd), h0_arg, starts_arg, *out_args,
                ht, sc, T, L, B * H, WC=V, BW=BWR, P=PR, H0_MODE=h0_mode_, **outs,
                FINAL=int(final), PF=bool(grid[1] == 1 if pf is None else pf),
                num_warps=max(1, PR * BWR // 32), **cols_meta)
        elif mm:
            BVM = max(16, BV)
            am, bm, _ = mm_run
            _kern.mm_kernel[grid](
                sym, am, bm, h0_arg, starts_arg, *out_args, ht, sc, T, L,
                H=H, HT=HT, K=K, WC=V, BK=BKM, BC=BVM, C=C, BCC=BCC, H0_MODE=h0_mode_, **outs,
                FINAL=int(final), MMD=mmd, PREC=prec, ACC=acc, num_warps=_warps(BKM * BVM),
                num_stages=1)
        else:
            _kern.run_kernel[grid](
                sym, kt, bt, vt, h0_arg, starts_arg, *out_args, ht, sc, T, L,
                H=H, HT=HT, K=K, V=V, NH=NH, NHP=NHP, BK=BK, BV=BV, C=C, BCC=BCC,
                H0_MODE=h0_mode_, **outs, STORE_HT=final, ACC=acc,
                num_warps=_warps(BK * BV), num_stages=1)

    if NC == 1:
        run_pass((B * H, 1), h0 if h0 is not None else dummy, dummy, h0_mode, True)
        return TabledResult(final_state=ht, o=o, code=cls, states=states, chunk_size=L)

    W = K + V
    BW = _pow2(W)
    summ = torch.empty(B * H, NC, K, W, dtype=sd, device=device)
    if cols:
        _kern.cols_kernel[(triton.cdiv(B * H, PS), NC)](
            sym, _cols_tables(kt, bt, vt, KP, G, BWS, K, sd), dummy, dummy, dummy, dummy, dummy,
            dummy, dummy, summ, sc, T, L, B * H, WC=W, BW=BWS, P=PS, H0_MODE=4, OUT_O=False,
            OUT_CODE=False, STORE_STATES=False, FINAL=2, PF=bool(pf),
            num_warps=max(1, PS * BWS // 32), **cols_meta)
    elif mm:
        BWM = max(16, BW)
        am, bm, _ = _mm_tables(key_table, beta_table, value_table, BKM, BWM, K)
        _kern.mm_kernel[(B * H, NC)](
            sym, am, bm, dummy, dummy, dummy, dummy, dummy, dummy, dummy, summ, sc, T, L,
            H=H, HT=HT, K=K, WC=W, BK=BKM, BC=BWM, C=1, BCC=2, H0_MODE=4, OUT_O=False,
            OUT_CODE=False, STORE_STATES=False, FINAL=2, MMD=mmd, PREC=prec, ACC=acc,
            num_warps=_warps(BKM * BWM), num_stages=1)
    else:
        _kern.summary_kernel[(B * H, NC)](
            sym, kt, bt, vt, summ, T, L, H=H, HT=HT, K=K, V=V, NH=NH, NHP=NHP, BK=BK, BW=BW,
            ACC=acc, num_warps=_warps(BK * BW), num_stages=1)
    starts = torch.empty(B * H, NC, K, V, dtype=sd, device=device) if need_run else summ
    BD, BVD = max(16, BK), max(16, BV)
    _kern.scan_kernel[(B * H,)](
        h0 if h0 is not None else dummy, summ, starts, ht, T, L, H=H, K=K, V=V, BD=BD,
        BVD=BVD, H0_MODE=h0_mode, STORE_STARTS=need_run, ACC=acc,
        num_warps=max(1, min(4, BD * BVD // 256)), num_stages=1)
    if need_run:
        run_pass((B * H, NC), dummy, starts, 3, False)
    return TabledResult(final_state=ht, o=o, code=cls, states=states, chunk_size=L)


def _cols_tables(kt: torch.Tensor, bt: torch.Tensor, vt: torch.Tensor, KP: int, G: int,
                 BW: int, c_off: int, dtype: torch.dtype) -> torch.Tensor:
    """The packed table of ``cols_kernel``: one row per table row, in the state dtype.

    Row ``(symbol * n_h + j) * HT + head`` of the ``[S, n_h, (HT,) ...]`` tables is
    ``[k (zero-padded to KP) | beta, 0 .. (G) | v at columns c_off .. c_off + V - 1 (BW)]``
    (every part 16-byte aligned).
    """
    K, V = kt.shape[-1], vt.shape[-1]
    k2 = kt.reshape(-1, K)
    rows = k2.shape[0]
    pt = torch.zeros(rows, KP + G + BW, dtype=dtype, device=kt.device)
    pt[:, :K] = k2
    pt[:, KP] = bt.reshape(rows)
    pt[:, KP + G + c_off:KP + G + c_off + V] = vt.reshape(rows, V)
    return pt


def _mm_tables(key_table: torch.Tensor, beta_table: torch.Tensor, value_table: torch.Tensor,
               BK: int, BC: int, c_off: int) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """Per-symbol affine maps of the ``mm`` kernel, transposed: ``S^T <- S^T A_x^T + B_x^T``.

    ``A_x``, ``B_x`` compose a token's n_h sub-steps ``S <- (I - b k k^T) S + b k v^T``
    (sub-step 0 first) in float64, rounded once to float32. Returns ``A^T`` ``[rows, BK, BK]``,
    ``B^T`` ``[rows, BC, BK]`` (``B_x`` at state columns ``c_off ..``; rows are
    ``symbol * HT + head``) and whether every ``A_x`` is a signed permutation matrix and every
    ``B_x`` zero: then the state only ever permutes and flips its entries, and bfloat16
    operands are exact for any word when the initial state is (the caller checks that).
    """
    kt, bt, vt, HT = _normalize_tables(key_table, beta_table, value_table, None)
    k, b, v = kt.double(), bt.double(), vt.double()            # [S, NH, HT, K], ..., [.., V]
    S_, NH, _, K = k.shape
    V = v.shape[-1]
    A = torch.eye(K, dtype=torch.float64, device=k.device).expand(S_, HT, K, K).clone()
    Bm = torch.zeros(S_, HT, K, V, dtype=torch.float64, device=k.device)
    for j in range(NH):
        kj, bj, vj = k[:, j, :, :, None], b[:, j, :, None, None], v[:, j, :, None, :]
        A = A - bj * kj * (kj.transpose(-1, -2) @ A)
        Bm = Bm - bj * kj * (kj.transpose(-1, -2) @ Bm) + bj * kj * vj
    A2 = A.reshape(-1, K, K)
    signed_perm = bool(((A2 == 0) | (A2.abs() == 1)).all()
                       and ((A2 != 0).sum(-1) == 1).all() and ((A2 != 0).sum(-2) == 1).all())
    exact = signed_perm and bool((Bm == 0).all())
    am = torch.zeros(S_ * HT, BK, BK, dtype=torch.float32, device=k.device)
    am[:, :K, :K] = A2.transpose(-1, -2)
    bm = torch.zeros(S_ * HT, BC, BK, dtype=torch.float32, device=k.device)
    bm[:, c_off:c_off + V, :K] = Bm.reshape(-1, K, V).transpose(-1, -2)
    return am, bm, exact
