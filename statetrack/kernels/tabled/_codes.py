r"""Code tables: the ``code`` output of an exact integer construction, read from one lane.

The ``code`` output of :func:`~statetrack.kernels.tabled.run_tabled` is the index of the code
nearest to the readout ``o_t = S_t^T (scale q)`` (squared Euclidean distance, first index on
ties). Computed as written, every token needs the ``V`` columns of ``o_t`` (one a lane in
``cols_kernel``) summed across lanes for each of the ``C`` distances, then an argmin over
``C``. For a constructed layer the state is an exact small-integer matrix that takes only
finitely many values, and then the code is a function of far less:

1. *Reachable states.* From the initial state(s), apply every symbol's composite map
   ``S <- A_x S + B_x`` (its ``n_h`` sub-steps, in float64, exact for integers) until no
   new state appears (at most ``max_states``; more, and there is no table).
2. *The code of each state*: the argmin of the exact integer distances, which is what the
   kernel's float32 argmin computes when every quantity is an integer below ``2^24`` (the
   bounds below make sure of that), with the same first-index rule on ties.
3. *One column decides.* Find a value column ``V0`` and integer weights ``w`` such that
   ``z = w . S[:, V0]`` takes a single code on every reachable state with that ``z``: first
   ``w = scale q`` (then ``z`` is ``o_{V0}`` itself: for ``V = 1``, the readout), then the
   mixed radix of the column's entries (``z`` then determines the whole column). The table
   ``lut[z - z0]`` holds that code (``-1`` for the ``z`` of no reachable state), at most
   ``max_entries`` entries a head.

The kernel then computes ``z`` in lane ``V0`` (``K`` multiply-adds inside the thread, like
``o``) and loads one int32 from a table in L1: no reduction across lanes and no distances.

When are the codes identical to the argmin path's? When the kernel computes every state
exactly: all inputs (tables, initial state, query, codes) integer-valued, every sub-step a
generalized Householder step (``beta >= 0``, ``beta ||k||^2 <= 2``: every product of them
has spectral norm <= 1, so an integer product is a signed partial permutation; a chunk's
summary ``[M | C]`` then has ``M`` in {0, +-1} and ``|C| <= 2 max|S|``) and the bound
``max|k| * max(beta) * (max|v| + K * X * max|k|) < 2^24`` with ``X`` a bound on every
entry of a state between sub-steps (sequential and chunk summaries alike). Under these
conditions float32 (or float64) arithmetic in any order is exact, every reachable state is
one of those enumerated, and its code is the table's. The kernel still checks: a ``z`` that
is not one of the table's sets a device flag (:class:`CodeTableMissError` on
:meth:`TabledResult.check <statetrack.kernels.tabled.TabledResult.check>`), it never
returns a wrong code silently.

Examples
--------
Z_3 (a 3-cycle of one-hot states as two transpositions, ``V = 1``): ``z`` is the readout
itself and the table maps it to the code:

>>> import torch
>>> e = torch.eye(3)
>>> keys = torch.stack([torch.zeros(2, 3), torch.stack([e[1] - e[2], e[0] - e[1]])])
>>> ct = build_code_table(keys, torch.tensor([[0.0, 0.0], [1.0, 1.0]]), torch.zeros(2, 2, 1),
...                       initial_state=e[:, :1].reshape(1, 3, 1),
...                       query=torch.tensor([0.0, 1.0, 2.0]),
...                       codes=torch.tensor([[0.0], [1.0], [2.0]]), H=1)
>>> ct.column, ct.n_states, ct.table.tolist()
(0, 3, [[0, 1, 2]])
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from statetrack.kernels.errors import KernelError

__all__ = ["CodeTable", "CodeTableMissError", "build_code_table", "EXACT_LIMIT"]

#: Magnitude below which every integer is exact in float32 (the kernels' state dtype).
EXACT_LIMIT = 2 ** 24


class CodeTableMissError(KernelError, RuntimeError):
    """The kernel met a state whose code the code table does not hold (the state left the
    reachable set the table was built from: a table built for other inputs, or arithmetic
    that was not exact)."""


@dataclass(frozen=True)
class CodeTable:
    """A code table for the ``code`` output (see the module docstring).

    Attributes
    ----------
    column : int
        ``V0``, the value column whose lane reads the code.
    weights : torch.Tensor
        ``[H, K + 1]`` float64: ``w`` (``K``), then the offset ``z0``; ``z = w . S[:, V0] - z0``.
    table : torch.Tensor
        ``[H, NZ]`` int32: the code of ``z`` (``-1``: no reachable state has this ``z``).
    n_states : int
        Reachable states enumerated (the largest over the heads).
    K, V, H : int
        The dimensions it was built for.
    fingerprint : bytes
        A digest of the inputs it was built for (tables, initial state, scaled query,
        codes), which :func:`~statetrack.kernels.tabled.run_tabled` compares with its own
        inputs' (once per set of tensor versions) before using the table; empty for a table
        made by hand (not compared).
    """

    column: int
    weights: torch.Tensor
    table: torch.Tensor
    n_states: int
    K: int
    V: int
    H: int
    fingerprint: bytes = b""
    _on_device: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def identity(self) -> bool:
        """Whether the table maps every ``z`` to itself (``table[h, z] == z`` for every head
        and ``z``; the group languages' tables, whose readout is the state index): the
        kernels then store ``z`` as the code without reading the table. Computed once.

        Examples
        --------
        >>> import torch
        >>> t = CodeTable(0, torch.zeros(1, 3), torch.tensor([[0, 1, 2]], dtype=torch.int32),
        ...               3, 2, 1, 1)
        >>> t.identity
        True
        """
        if "identity" not in self._on_device:
            tab = self.table
            self._on_device["identity"] = bool(
                tab.ndim == 2 and (tab == torch.arange(tab.shape[1], device=tab.device,
                                                       dtype=tab.dtype)).all())
        return self._on_device["identity"]

    @property
    def id_mask(self) -> int:
        """How the kernels may read this table without loading it (their ``LUT_ID``): ``-1``
        where it is the identity (:attr:`identity`); where it maps every ``z`` it holds to
        itself and the rest to ``-1`` (unreachable), with at most 62 entries, the bit mask
        of the ``z`` it holds, which the kernels test instead of loading the entry; else
        ``0`` (the kernels load ``table[h, z]``). The same codes and misses either way.
        Computed once.

        Examples
        --------
        >>> import torch
        >>> t = CodeTable(0, torch.zeros(1, 3), torch.tensor([[0, -1, 2]], dtype=torch.int32),
        ...               2, 2, 1, 1)
        >>> t.id_mask, bin(t.id_mask)
        (5, '0b101')
        >>> CodeTable(0, torch.zeros(1, 3), torch.tensor([[1, 0, -1]], dtype=torch.int32),
        ...           2, 2, 1, 1).id_mask
        0
        """
        if "id_mask" not in self._on_device:
            if self.identity:
                mask = -1
            else:
                tab = self.table.cpu()
                z = torch.arange(tab.shape[-1], dtype=tab.dtype)
                held = tab == z
                mask = 0
                if tab.ndim == 2 and tab.shape[1] <= 62 and bool((held | (tab == -1)).all()):
                    cols = held.all(0)
                    if bool((held == cols[None]).all()) and bool(cols.any()):
                        mask = sum(1 << i for i in range(tab.shape[1]) if bool(cols[i]))
            self._on_device["id_mask"] = mask
        return self._on_device["id_mask"]

    def on(self, device: torch.device, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """``(weights, table)`` on ``device`` (weights in ``dtype``), copied once and kept."""
        key = (str(device), dtype)
        if key not in self._on_device:
            self._on_device[key] = (self.weights.to(device=device, dtype=dtype).contiguous(),
                                    self.table.to(device=device).contiguous())
        return self._on_device[key]


def _np64(t: Any) -> np.ndarray:
    return t.detach().to("cpu", torch.float64).numpy()


def _integral(*arrays: np.ndarray) -> bool:
    return all(bool(np.all(np.isfinite(a))) and bool(np.all(a == np.round(a))) for a in arrays)


def _maps(k: np.ndarray, b: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Composite maps ``A [S, K, K]``, ``B [S, K, V]`` of each symbol's sub-steps (float64)."""
    S_, NH, K = k.shape
    A = np.broadcast_to(np.eye(K), (S_, K, K)).copy()
    Bm = np.zeros((S_, K, v.shape[-1]))
    for j in range(NH):
        kj, bj, vj = k[:, j, :, None], b[:, j, None, None], v[:, j, None, :]
        A = A - bj * kj * (np.swapaxes(kj, -1, -2) @ A)
        Bm = Bm - bj * kj * (np.swapaxes(kj, -1, -2) @ Bm) + bj * kj * vj
    return A, Bm


def _reachable(A: np.ndarray, Bm: np.ndarray, starts: np.ndarray,
               max_states: int) -> np.ndarray | None:
    """Every state reachable from ``starts [n, K, V]`` (breadth first), or None past
    ``max_states``."""
    K, V = starts.shape[1:]
    row = np.dtype((np.void, 8 * K * V))                  # a state as one comparable item

    def items(x: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(x.reshape(-1, K * V) + 0.0).view(row).ravel()  # -0 -> 0

    seen = np.unique(items(starts))
    frontier = seen
    while len(frontier):
        f = frontier.view(np.float64).reshape(-1, K, V)
        cand = np.unique(items(np.einsum("sij,njv->sniv", A, f) + Bm[:, None]))
        frontier = cand[~np.isin(cand, seen)]
        seen = np.union1d(seen, frontier)
        if len(seen) > max_states:
            return None
    return seen.view(np.float64).reshape(-1, K, V)


def _column_key(cols: np.ndarray, w: np.ndarray, code: np.ndarray,
                max_entries: int) -> tuple[float, int] | None:
    """``(z0, NZ)`` when ``z = cols @ w`` determines ``code`` and spans at most
    ``max_entries`` values, else None."""
    z = cols @ w
    if not _integral(z):
        return None
    pairs = np.unique(np.stack([z, code.astype(np.float64)], 1), axis=0)
    if len(pairs) != len(np.unique(z)):
        return None
    z0, nz = float(z.min()), int(z.max() - z.min()) + 1
    # at most 2^24 entries whatever max_entries: z - z0 past 2^24 is no exact float32
    # integer (the kernels miss there in float32)
    return (z0, nz) if nz <= min(max_entries, EXACT_LIMIT) else None


def _check_args(key_table, beta_table, value_table, initial_state, query, codes, H,
                max_states, max_entries) -> None:
    """:func:`build_code_table`'s arguments as :func:`run_tabled` takes them (a clear
    :class:`~statetrack.kernels.errors.KernelInputError` naming the argument, not an error
    from inside NumPy)."""
    from statetrack.kernels._common.checks import FLOAT_DTYPES, check_shape, check_tensor
    from statetrack.kernels.errors import KernelDtypeError, KernelInputError, KernelShapeError

    for name, n in (("H", H), ("max_states", max_states), ("max_entries", max_entries)):
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise KernelInputError(f"{name}: expected an int >= 1, got {n!r}")
    kt = check_tensor(key_table, "key_table", dtypes=FLOAT_DTYPES)
    # the dtypes run_tabled takes: a table it would reject has no code table to build
    for name, t in (("beta_table", beta_table), ("value_table", value_table),
                    ("query", query), ("codes", codes), ("initial_state", initial_state)):
        if t is not None or name != "initial_state":      # None: a clear error, but h0's
            check_tensor(t, name, dtypes=FLOAT_DTYPES)
    for name, t in (("beta_table", beta_table), ("value_table", value_table)):
        if t.dtype != kt.dtype:
            raise KernelDtypeError(
                f"{name}: dtype {str(t.dtype).replace('torch.', '')} differs from key_table's "
                f"{str(kt.dtype).replace('torch.', '')}; the tables must share one dtype")
    if kt.ndim not in (3, 4):
        raise KernelShapeError(f"key_table: expected [n_symbols, n_h, K] or "
                               f"[n_symbols, n_h, H, K], got {list(kt.shape)}")
    S, NH, K = kt.shape[0], kt.shape[1], kt.shape[-1]
    heads = kt.shape[2:-1]
    if heads and heads[0] != H:
        raise KernelShapeError(f"H: {H} heads, but key_table has {heads[0]} "
                               f"(shape {list(kt.shape)})")
    check_shape(beta_table, "beta_table", (S, NH, *heads),
                "[n_symbols, n_h(, H)]", "from key_table")
    vt = check_tensor(value_table, "value_table", ndim=kt.ndim)
    V = vt.shape[-1]
    check_shape(vt, "value_table", (S, NH, *heads, V), "[n_symbols, n_h(, H), V]",
                "from key_table")
    q = check_tensor(query, "query")
    if tuple(q.shape) not in ((K,), (H, K)):
        raise KernelShapeError(f"query: expected [K] or [H, K] with K={K}, H={H}, got "
                               f"{list(q.shape)}")
    c = check_tensor(codes, "codes")
    if c.ndim not in (2, 3) or c.shape[-1] != V or (c.ndim == 3 and c.shape[0] != H) \
            or c.shape[-2] < 1:
        raise KernelShapeError(f"codes: expected [C, V] or [H, C, V] with V={V}, H={H}, "
                               f"C >= 1, got {list(c.shape)}")
    if initial_state is not None:
        h0 = check_tensor(initial_state, "initial_state")
        if tuple(h0.shape[-3:]) != (H, K, V) or h0.ndim not in (3, 4):
            raise KernelShapeError(f"initial_state: expected [H, K, V] or [B, H, K, V] with "
                                   f"H={H}, K={K}, V={V}, got {list(h0.shape)}")


def build_code_table(key_table: torch.Tensor, beta_table: torch.Tensor,
                     value_table: torch.Tensor, *, initial_state: torch.Tensor | None,
                     query: torch.Tensor, codes: torch.Tensor, H: int, scale: float = 1.0,
                     max_states: int = 4096, max_entries: int = 1 << 16) -> CodeTable | None:
    """The code table of an exact integer construction, or None when there is none.

    Parameters
    ----------
    key_table, beta_table, value_table, initial_state, query, codes, scale
        As in :func:`~statetrack.kernels.tabled.run_tabled` (any device: they are read on
        the host, which synchronizes once with their device).
    H : int
        Heads.
    max_states : int
        Largest reachable set enumerated (per head).
    max_entries : int
        Largest table (per head); a table never has more than ``2^24`` entries a head
        (:data:`EXACT_LIMIT`: wider, ``z`` would not be an exact float32 integer).

    Returns
    -------
    CodeTable or None
        None when an input is not integer-valued, a sub-step is not a generalized
        Householder step, the reachable set is larger than ``max_states``, a bound of the
        module docstring fails, or no single value column decides the code.

    Raises
    ------
    KernelInputError
        (and its subclasses) An argument that is not a tensor of the shapes
        :func:`~statetrack.kernels.tabled.run_tabled` takes, or ``H``, ``max_states``,
        ``max_entries`` not an int >= 1.

    Examples
    --------
    Random (non-integer) tables have no code table:

    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> build_code_table(torch.randn(2, 1, 3, generator=g), torch.rand(2, 1, generator=g),
    ...                  torch.randn(2, 1, 2, generator=g), initial_state=None,
    ...                  query=torch.ones(3), codes=torch.zeros(1, 2), H=1) is None
    True
    """
    _check_args(key_table, beta_table, value_table, initial_state, query, codes, H,
                max_states, max_entries)
    k, b, v, q, c, h0 = _host_inputs(key_table, beta_table, value_table, initial_state, query,
                                     codes, H, scale)
    HT, K, V = k.shape[2], k.shape[-1], v.shape[-1]
    arrays = [k, b, v, q, c] + ([] if h0 is None else [h0])
    if not _integral(*arrays):
        return None
    if (b < 0).any() or (b * (k * k).sum(-1) > 2).any():
        return None
    m_k, m_b, m_v = (float(np.abs(x).max(initial=0.0)) for x in (k, b, v))
    m_q, m_c = float(np.abs(q).max(initial=0.0)), float(np.abs(c).max(initial=0.0))

    per_head = []
    for h in range(H):
        hh = h % HT
        A, Bm = _maps(k[:, :, hh], b[:, :, hh], v[:, :, hh])
        if h0 is None:
            starts = np.zeros((1, K, V))
        elif h0.ndim == 3:
            starts = h0[h][None]
        else:
            starts = h0[:, h]
        R = _reachable(A, Bm, starts, max_states)
        if R is None:
            return None
        X = 2 * float(np.abs(R).max(initial=0.0)) + 1          # full-token states, summaries
        X_mid = math.sqrt(K) * X + k.shape[1] * m_b * math.sqrt(K) * m_k * m_v
        if m_k * m_b * (m_v + K * X_mid * m_k) >= EXACT_LIMIT or K * X * m_q >= EXACT_LIMIT:
            return None
        o = np.einsum("nkv,k->nv", R, q[h])                    # exact integers
        dist = ((c[h][None, :, :] - o[:, None, :]) ** 2).sum(-1)
        if float(dist.max(initial=0.0)) >= EXACT_LIMIT:
            return None
        per_head.append((R, dist.argmin(1)))

    best = None
    for v0 in range(V):
        choice = []
        for h, (R, code) in enumerate(per_head):
            cols = R[:, :, v0]
            lo, span = cols.min(), cols.max() - cols.min() + 1
            cands = [q[h]]
            if span ** K <= max_entries:
                cands.append(span ** np.arange(K, dtype=np.float64))
            found = None
            for w in cands:
                if float(np.abs(w).sum()) * X >= EXACT_LIMIT:
                    continue
                key = _column_key(cols, w, code, max_entries)
                if key is not None and (found is None or key[1] < found[2]):
                    found = (w, key[0], key[1])
            if found is None:
                break
            choice.append(found)
        else:
            total = sum(f[2] for f in choice)
            if best is None or total < best[0]:
                best = (total, v0, choice)
    if best is None:
        return None
    _, v0, choice = best
    NZ = max(f[2] for f in choice)
    weights = torch.zeros(H, K + 1, dtype=torch.float64)
    table = torch.full((H, NZ), -1, dtype=torch.int32)
    for h, ((R, code), (w, z0, _)) in enumerate(zip(per_head, choice)):
        weights[h, :K] = torch.from_numpy(np.ascontiguousarray(w))
        weights[h, K] = z0
        z = (R[:, :, v0] @ w - z0).astype(np.int64)
        table[h, torch.from_numpy(z)] = torch.from_numpy(code.astype(np.int32))
    return CodeTable(column=v0, weights=weights, table=table,
                     n_states=max(len(R) for R, _ in per_head), K=K, V=V, H=H,
                     fingerprint=_digest(k, b, v, q, c, h0))


def _host_inputs(key_table, beta_table, value_table, initial_state, query, codes, H: int,
                 scale: float) -> tuple:
    """The inputs as float64 NumPy arrays in the layouts the table is built from: keys,
    betas, values ``[S, NH, HT, ...]``, the scaled query ``[H, K]``, the codes ``[H, C, V]``
    and the initial state (or None)."""
    k, b, v = _np64(key_table), _np64(beta_table), _np64(value_table)
    if k.ndim == 3:
        k, b, v = k[:, :, None], b[:, :, None], v[:, :, None]
    K = k.shape[-1]
    q = np.broadcast_to(_np64(query).reshape(-1, K), (H, K)) * float(scale)
    c = _np64(codes)
    c = np.broadcast_to(c, (H,) + c.shape[-2:]) if c.ndim == 2 else c
    h0 = None if initial_state is None else _np64(initial_state)
    return k, b, v, q, c, h0


def _digest(*arrays) -> bytes:
    """A digest of float64 arrays (shapes and values; None marks a missing one)."""
    h = hashlib.blake2b(digest_size=16)
    for a in arrays:
        if a is None:
            h.update(b"none;")
            continue
        a = np.ascontiguousarray(a, dtype=np.float64)
        h.update(repr(a.shape).encode() + b";")
        h.update(a.tobytes())
    return h.digest()


def inputs_digest(key_table, beta_table, value_table, *, initial_state, query, codes, H: int,
                  scale: float = 1.0) -> bytes:
    """The :attr:`CodeTable.fingerprint` these inputs would give (read on the host: one
    synchronization with their device)."""
    return _digest(*_host_inputs(key_table, beta_table, value_table, initial_state, query,
                                 codes, H, scale))
