"""Input checks of :func:`~statetrack.kernels.tabled.run_tabled`: every argument validated
(each message names the bad argument), the dimensions read off the tables, and the output
buffers (given ones checked, the others allocated).

Shapes, dtypes and devices are checked on the host from metadata (no synchronization). The
checks that read values run where they cost nothing per call (``sync_checks=False``):

* symbol ids: in the kernels (:mod:`._tabled_kernels`, ``CHECK_IDS``), which clamp a bad id
  into range and set a device flag that the host reads later;
* beta range and finiteness of the tables, the initial state, the query and the codes: on
  the host, once per tensor version (:data:`VERIFIED`, a
  :class:`~statetrack.kernels._common.checks.VerifiedTensors`): the first call with a tensor
  synchronizes once, later calls with the same unchanged tensor skip the check.

With ``sync_checks=True`` every value check runs on the host at every call, before any launch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from statetrack.kernels._common.checks import (
    FLOAT_DTYPES,
    VerifiedTensors,
    check_beta_range,
    check_finite,
    check_no_overlap,
    check_out_buffer,
    check_same_device,
    check_scale,
    check_shape,
    check_symbols,
    check_tensor,
    state_dtype_for,
)
from statetrack.kernels._common.triton import require_runnable
from statetrack.kernels.errors import KernelDtypeError, KernelInputError, KernelShapeError

__all__ = ["MAX_KV", "TabledInputs", "TabledBuffers", "check_inputs", "allocate_outputs",
           "normalize_tables", "VERIFIED", "ID_DTYPES"]

#: Largest K and V of the tabled path (state in registers, K + V columns in the summary).
MAX_KV = 64
#: Integer dtypes accepted for symbol ids.
ID_DTYPES = (torch.int8, torch.uint8, torch.int16, torch.int32, torch.int64)
#: The value checks that passed, per tensor version (see the module docstring).
VERIFIED = VerifiedTensors()


@dataclass(frozen=True)
class TabledInputs:
    """The checked arguments of one tabled run and the dimensions they fix.

    Attributes
    ----------
    symbols, key_table, beta_table, value_table : torch.Tensor
        As given (``[B, T]`` ids; tables with or without a head axis).
    initial_state : torch.Tensor or None
        As given.
    h0_mode : int
        0: no initial state (zeros), 1: one per word ``[B, H, K, V]``, 2: shared ``[H, K, V]``.
    query : torch.Tensor or None
        ``[H, K]`` (a view of the given ``[K]`` or ``[H, K]``) for ``output`` "o" and "code".
    codes : torch.Tensor or None
        ``[H, C, V]`` (a view of the given ``[C, V]`` or ``[H, C, V]``) for ``output="code"``.
    B, T, H : int
        Words, tokens a word, heads.
    HT : int
        Heads of the tables (1 when every head shares them).
    S, NH, K, V, C : int
        Symbols, sub-steps a token (``n_h``), key and value sizes, codes (1 without codes).
    scale : float
        The checked query scale.
    output : str
        ``"o"``, ``"code"`` or ``"none"``.
    return_states : bool
        Whether every state is stored.
    check_ids_device : bool
        Whether the kernels check the symbol ids (``check_ids`` without ``sync_checks``).
    device : torch.device
        The device of every tensor.
    state_dtype : torch.dtype
        float32 (float64 for float64 tables).
    """

    symbols: torch.Tensor
    key_table: torch.Tensor
    beta_table: torch.Tensor
    value_table: torch.Tensor
    initial_state: torch.Tensor | None
    h0_mode: int
    query: torch.Tensor | None
    codes: torch.Tensor | None
    B: int
    T: int
    H: int
    HT: int
    S: int
    NH: int
    K: int
    V: int
    C: int
    scale: float
    output: str
    return_states: bool
    device: torch.device
    state_dtype: torch.dtype
    check_ids_device: bool = False


@dataclass(frozen=True)
class TabledBuffers:
    """The output tensors of one run (see :class:`~statetrack.kernels.tabled.TabledResult`)."""

    final_state: torch.Tensor
    o: torch.Tensor | None
    code: torch.Tensor | None
    states: torch.Tensor | None


def check_inputs(symbols: torch.Tensor, key_table: torch.Tensor, beta_table: torch.Tensor,
                 value_table: torch.Tensor, *, initial_state: torch.Tensor | None,
                 query: torch.Tensor | None, codes: torch.Tensor | None, scale: float,
                 output: str, return_states: bool, chunk_size: int | None, check_beta: bool,
                 check_finite_inputs: bool, check_ids: bool,
                 sync_checks: bool = False) -> TabledInputs:
    """Check the arguments of :func:`~statetrack.kernels.tabled.run_tabled` (same names and
    meanings) and read the dimensions off them.

    With ``sync_checks=False`` the symbol ids are left to the kernels
    (``TabledInputs.check_ids_device``) and the value checks of the other tensors are
    remembered per tensor version (:data:`VERIFIED`); see the module docstring.

    Raises
    ------
    KernelInputError
        (subclasses) for bad shapes, dtypes, devices, symbol ids, beta range, options.
    KernelUnavailableError
        The tensors are on the CPU and Triton is not in interpreter mode.

    Examples
    --------
    >>> import torch
    >>> opts = dict(initial_state=None, query=torch.ones(3), codes=None, scale=1.0,
    ...             output="o", return_states=False, chunk_size=None, check_beta=True,
    ...             check_finite_inputs=False, check_ids=True)
    >>> inp = check_inputs(torch.tensor([[1, 0, 1]]), torch.ones(2, 1, 3), torch.ones(2, 1),
    ...                    torch.zeros(2, 1, 4), **opts)
    >>> inp.B, inp.T, inp.H, inp.S, inp.NH, inp.K, inp.V, tuple(inp.query.shape)
    (1, 3, 1, 2, 1, 3, 4, (1, 3))
    >>> check_inputs(torch.tensor([[1, 0]]), torch.ones(2, 1, 3), torch.ones(2, 1),
    ...              torch.zeros(2, 1, 4, dtype=torch.float64), **opts)
    Traceback (most recent call last):
    ...
    statetrack.kernels.errors.KernelDtypeError: value_table: dtype float64 differs from key_table's float32; the tables must share one dtype
    """
    # the switches are bools (numpy's too): a truthy "no" must not switch a check on
    for name, flag in (("return_states", return_states), ("check_beta", check_beta),
                       ("check_finite_inputs", check_finite_inputs), ("check_ids", check_ids),
                       ("sync_checks", sync_checks)):
        if not isinstance(flag, (bool, np.bool_)):
            raise KernelInputError(f"{name}: expected True or False, got {flag!r}")
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
    if check_ids and sync_checks:
        check_symbols(symbols, "symbols", S_)
    else:
        check_tensor(symbols, "symbols", ndim=2, dtypes=ID_DTYPES)
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
    # every value check of this set of tensors passed before (one lookup, not one a tensor:
    # 6 us of host time each on this project's CPU, and the call can be host-bound)
    every = (key_table, beta_table, value_table, initial_state, query, codes)
    together = ("finite and beta", check_finite_inputs, check_beta)
    remember = not sync_checks and (check_finite_inputs or check_beta)
    known = remember and VERIFIED.lookup(together, every)[0]
    if check_finite_inputs and not known:
        for name, t in (("key_table", key_table), ("beta_table", beta_table),
                        ("value_table", value_table), ("initial_state", initial_state),
                        ("query", query), ("codes", codes)):
            if t is None:
                continue
            if sync_checks:
                check_finite({name: t})
            else:
                VERIFIED.check("finite", (t,), lambda name=name, t=t: check_finite({name: t}))
    if check_beta and not known:
        if sync_checks:
            check_beta_range(beta_table, "beta_table")
        else:
            VERIFIED.check("beta in [0, 2]", (beta_table,),
                           lambda: check_beta_range(beta_table, "beta_table"))
    if remember and not known:
        VERIFIED.store(together, every)
    if chunk_size is not None and (isinstance(chunk_size, bool) or not isinstance(chunk_size, int)
                                   or chunk_size < 1):
        raise KernelInputError(f"chunk_size: expected an int >= 1 or None, got {chunk_size!r}")
    require_runnable(device, "run_tabled")

    return TabledInputs(
        symbols=symbols, key_table=key_table, beta_table=beta_table, value_table=value_table,
        initial_state=initial_state, h0_mode=h0_mode, query=qv, codes=cv, B=B, T=T, H=H,
        HT=HT, S=S_, NH=NH, K=K, V=V, C=C, scale=sc, output=output,
        return_states=bool(return_states), device=device, state_dtype=sd,
        check_ids_device=bool(check_ids and not sync_checks))


def allocate_outputs(inp: TabledInputs, *, o_out: torch.Tensor | None,
                     code_out: torch.Tensor | None, states_out: torch.Tensor | None,
                     final_state_out: torch.Tensor | None) -> TabledBuffers:
    """The output tensors: the given buffers, checked (contiguous, exact shape and dtype, on
    the inputs' device), else new empty ones; a buffer for an output that is not requested
    is an error (:class:`~statetrack.kernels.errors.KernelInputError`).
    """
    B, T, H, K, V, sd, device = inp.B, inp.T, inp.H, inp.K, inp.V, inp.state_dtype, inp.device
    output, return_states = inp.output, inp.return_states

    def buf(given, name, shape, dtype, layout):
        if given is not None:
            return check_out_buffer(given, name, shape, dtype, device, layout)
        return torch.empty(shape, dtype=dtype, device=device)

    ht = buf(final_state_out, "final_state_out", (B, H, K, V), sd, "[B, H, K, V]")
    o = buf(o_out, "o_out", (B, T, H, V), sd, "[B, T, H, V]") if output == "o" else None
    code_dtype = torch.int32
    if isinstance(code_out, torch.Tensor) and code_out.dtype == torch.uint8 and output == "code":
        # one byte a position (a long word's codes: 1 byte a symbol instead of 4)
        if inp.C > 256:
            raise KernelDtypeError(f"code_out: a uint8 buffer holds code indices below 256; "
                                   f"these codes have C = {inp.C} rows (pass an int32 buffer)")
        code_dtype = torch.uint8
    cls = buf(code_out, "code_out", (B, T, H), code_dtype, "[B, T, H]") \
        if output == "code" else None
    states = buf(states_out, "states_out", (B, T, H, K, V), sd, "[B, T, H, K, V]") \
        if return_states else None
    for name, given, used in (("o_out", o_out, o is not None), ("code_out", code_out, cls is not None),
                              ("states_out", states_out, states is not None)):
        if given is not None and not used:
            raise KernelInputError(f"{name}: given, but this output is not requested")
    check_no_overlap(
        {"o_out": o_out, "code_out": code_out, "states_out": states_out,
         "final_state_out": final_state_out},
        {"symbols": inp.symbols, "key_table": inp.key_table, "beta_table": inp.beta_table,
         "value_table": inp.value_table, "initial_state": inp.initial_state,
         "query": inp.query, "codes": inp.codes})
    return TabledBuffers(final_state=ht, o=o, code=cls, states=states)


def normalize_tables(key_table, beta_table, value_table, H):
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
