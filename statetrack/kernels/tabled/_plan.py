"""The plan of a tabled run: how many tokens a chunk (:func:`choose_chunk`), which kernel runs
the summary and run passes, and the block sizes of the launches.

The kernel is ``cols_kernel`` while ``K <= COLS_MAX_K`` (its state and two table rows stay in
registers) and its 32-bit offsets cannot overflow (table rows; sub-steps of one chunk), else
``run_kernel`` / ``summary_kernel`` ("legacy"). The benchmark variants (:class:`Variant`,
reachable only through :func:`~statetrack.kernels.tabled.tabled._run_tabled_variant`) force
the legacy kernels or ``mm_kernel``, or change how ``cols_kernel`` is launched.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from statetrack.floats import next_pow2
from statetrack.kernels._common.triton import tl, triton
from statetrack.kernels.errors import KernelInputError
from statetrack.kernels.tabled._inputs import TabledInputs

__all__ = ["COLS_MAX_K", "choose_chunk", "Variant", "TabledPlan", "make_plan", "cached_plan",
           "proj_keys_independent", "proj_keys_condition"]

#: the largest key dimension that ``cols_kernel`` (the default) runs; larger K takes
#: ``run_kernel`` / ``summary_kernel`` (a register tile spread over the threads)
COLS_MAX_K = 32


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


#: whether ``cols_kernel``'s sequential runs take the ``deep`` order by default (see
#: :class:`Variant`): yes since session 17 (device time of the kernels at (1024, 4096) on the
#: H100, ``benchmarks/probes/deep_ab.py``: random tables ``o`` 0.86x (V = 16) and 0.82x
#: (V = 4), permutation tables ``o`` 0.79x and ``code`` through the code table 0.87x)
DEEP_DEFAULT = True

#: whether run passes take ``proj_kernel`` (the recurrence in the keys' coordinates, see
#: :class:`Variant`) by default where it applies: yes since session 23 (device time of the
#: kernels on the H100, ``benchmarks/probes/deep_ab.py --set proj``: at (1024, 4096),
#: sequential, random tables ``o`` 0.67x (V = 16) and 0.64x (V = 4), permutation tables
#: ``o`` 0.60x and ``code`` through the code table 0.69x; at (64, 65536), chunked, with the
#: summary pass too, 0.59x / 0.62x / 0.62x / 0.61x; bit-identical on the permutation tables,
#: on random float tables within float32 rounding, no farther from float64 than the default)
PROJ_DEFAULT = True
#: the most table rows a head (symbols x n_h) ``proj_kernel`` keeps projections of; it also
#: needs at most ``K`` of them (it costs about 5 operations a row a sub-step against about 3
#: a key column)
PROJ_MAX_R = 16
#: ``proj_kernel`` rebuilds the final state as ``S_0 + sum_y k_y e_y^T`` from the sums ``e_y``
#: of each row's ``d``; those stay bounded only where a head's nonzero keys are linearly
#: independent (with dependent keys, e.g. ``k_3 = k_1 + k_2 - k_0`` in ``tomita(5)``, the
#: sums can grow with ``T`` while the state does not, and the rebuild cancels them:
#: inexact past ``2**24`` on integer tables, an error growing with ``T`` on float ones).
#: So proj applies only where every head's nonzero key rows have
#: ``sigma_min >= PROJ_MIN_SV * sigma_max`` (zero keys change nothing, whatever their sum)
PROJ_MIN_SV = 1e-3
#: a chunked run's summaries in proj take the R basis columns of the keys' coordinates
#: instead of the K columns of [I | 0] (``_launch.ColsLauncher._summary_proj``: R + V
#: columns a chunk instead of K + V; the chunk's map is rebuilt as ``I + K Psi K^T`` from
#: the R x R sums ``Psi``) where every head's nonzero keys have ``sigma_min >=
#: PROJ_BASIS_MIN_SV * sigma_max``: the rebuild's rounding grows as ``(sigma_max /
#: sigma_min)**2`` against ``sigma_max / sigma_min`` for the K columns (exact either way
#: on the constructions' integer tables), so at most 25 times float32's here
PROJ_BASIS_MIN_SV = 0.2


def proj_keys_condition(key_table: torch.Tensor, HT: int, K: int) -> float:
    """The smallest ``sigma_min / sigma_max`` over the heads of their nonzero key rows (on
    the host in float64, after one copy of the table there: a synchronisation, which the
    caller does once per table version): 0 where some head's nonzero keys are dependent
    or a key is not finite, 1 where no head has more than one direction. proj applies
    from :data:`PROJ_MIN_SV` up, its basis summaries from :data:`PROJ_BASIS_MIN_SV`.

    Examples
    --------
    >>> import torch
    >>> e = torch.eye(3)
    >>> proj_keys_condition(torch.stack([e[0], e[1], 0 * e[0]]), 1, 3)
    1.0
    >>> round(proj_keys_condition(torch.stack([e[0] - e[1], e[1] - e[2]]), 1, 3), 4)
    0.5774
    >>> proj_keys_condition(torch.stack([e[0] - e[1], e[1] - e[2], e[0] - e[2]]), 1, 3) < 1e-8
    True
    >>> proj_keys_condition(torch.stack([e[0], float("inf") * e[1]]), 1, 3)
    0.0
    """
    k = key_table.detach().to("cpu", torch.float64).reshape(-1, HT, K).transpose(0, 1)
    if not bool(torch.isfinite(k).all()):
        return 0.0
    worst = 1.0
    for rows in k:                                                           # [R, K] a head
        rows = rows[rows.abs().amax(-1) > 0]
        if rows.shape[0] == 0:
            continue
        if rows.shape[0] > K:
            return 0.0
        sv = torch.linalg.svdvals(rows)
        worst = min(worst, float(sv[-1] / sv[0]))
    return worst


def proj_keys_independent(key_table: torch.Tensor, HT: int, K: int) -> bool:
    """Whether every head's nonzero key rows are linearly independent, their smallest
    singular value at least :data:`PROJ_MIN_SV` times the largest
    (:func:`proj_keys_condition`).

    Examples
    --------
    >>> import torch
    >>> e = torch.eye(3)
    >>> proj_keys_independent(torch.stack([e[0] - e[1], e[1] - e[2], 0 * e[0]]), 1, 3)
    True
    >>> proj_keys_independent(torch.stack([e[0] - e[1], e[1] - e[2], e[0] - e[2]]), 1, 3)
    False
    """
    return proj_keys_condition(key_table, HT, K) >= PROJ_MIN_SV


@dataclass(frozen=True)
class Variant:
    """Benchmark-only code variants of the tabled path (``_variant`` of
    :func:`~statetrack.kernels.tabled.tabled._run_tabled_variant`), which
    ``benchmarks/tabled_variants.py`` times against each other on the GPU. Every variant
    computes the same function (to float32 rounding; bit-identical on integer constructions).

    Attributes
    ----------
    mm : bool
        Every pass through ``mm_kernel`` (each token's sub-steps composed into one map per
        symbol, one tensor-core product a token).
    legacy : bool
        ``run_kernel`` / ``summary_kernel`` at any K, not ``cols_kernel``.
    words : int or None
        Words a ``cols_kernel`` program (a power of 2 up to 32); None: a warp's lanes.
    pf : bool or None
        ``cols_kernel`` loads the next sub-step's table row during this one; None: in
        sequential runs only.
    late : bool or None
        ``cols_kernel`` computes a token's readout (``o`` or ``code``) at the next token's
        step, beside its ``S^T k`` (two independent chains a warp can interleave); n_h = 1
        only (at n_h > 1 the kernel runs as without it). None (the default): on where the
        readout is a code table (the ``code`` output of a construction: 17 % faster on the
        H200, session 11), off otherwise (``o`` lost 19 % at (1024, 4096)). The same
        operations on the same states: bit-identical wherever the arithmetic is exact (the
        constructions' tables); with arbitrary float tables on CUDA the compiler may fuse
        multiply-adds differently in the two orders (seen at 2 words a program, <= 2e-6 of
        values near 5), so outputs agree to rounding there.
    deep : bool or None
        ``cols_kernel``'s sequential run loads the table rows of four sub-steps at the top
        of an iteration, compiled with ``maxnreg = 255`` unless a code table reads out
        (without it ptxas sinks each load to just before its use, which left the one-ahead
        prefetch exposed: Nsight Compute's per-instruction stalls, session 17); None:
        :data:`DEEP_DEFAULT` (on). Inert in chunked runs and with ``pf=False`` (the
        one-ahead prefetch it replaces is off there). Same operations
        a sub-step: bit-identical where the arithmetic is exact, equal to rounding
        otherwise.
    proj : bool or None
        The summary and run passes through ``proj_kernel``: each state column kept as its
        projections on the ``R = S * n_h`` table keys of its head (``p_y = (S^T k_y)[c]``),
        the readout ``S^T q`` and the code table's ``w . S[:, V0]``, updated by the Gram
        row of each sub-step's key (about ``5 R`` operations a sub-step instead of ``3 K``);
        the final state is rebuilt at the end from the sums of each row's ``d``. A
        chunked run's summaries run over the keys' ``R`` basis columns where the keys are
        well conditioned (:data:`PROJ_BASIS_MIN_SV`; ``proj_maps_kernel`` makes each
        chunk's map ``I + K Psi K^T``), else over the ``K + V`` columns of ``[I | 0]``
        with every chunk's state rebuilt. Equal in exact arithmetic: bit-identical where it
        is exact (the constructions' integer tables, values below ``2**24``), equal to
        rounding otherwise. Applies where ``R <= min(K, PROJ_MAX_R)`` and each head's
        nonzero keys are linearly independent (:func:`proj_keys_condition`, once per table
        version), and for a run pass where no states are stored and a code readout is a
        code table; elsewhere inert. Where it applies, ``cols_kernel``'s orders (``deep``,
        ``pf``, ``late``) and ``words`` do not apply (``proj=False`` runs
        ``cols_kernel`` with them). None: :data:`PROJ_DEFAULT` (on).
    """

    mm: bool = False
    legacy: bool = False
    words: int | None = None
    pf: bool | None = None
    late: bool | None = None
    deep: bool | None = None
    proj: bool | None = None

    @classmethod
    def parse(cls, knobs: dict | None) -> "Variant":
        """The variant named by a ``_variant`` dict (keys ``mm``, ``legacy``, ``words``,
        ``pf``, ``late``, ``deep``, ``proj``); None or ``{}`` is the default.

        Raises
        ------
        KernelInputError
            Unknown keys, ``mm`` or ``legacy`` with ``late``, ``mm`` with ``legacy``, a bad
            ``words``, ``pf``, ``late`` or ``deep``.

        Examples
        --------
        >>> Variant.parse({"words": 4})
        Variant(mm=False, legacy=False, words=4, pf=None, late=None, deep=None, proj=None)
        >>> Variant.parse({"fast": True})
        Traceback (most recent call last):
        ...
        statetrack.kernels.errors.KernelInputError: _variant: unknown keys ['fast']
        """
        var = dict(knobs or {})
        mm = bool(var.pop("mm", False))
        legacy = bool(var.pop("legacy", False))
        words = var.pop("words", None)
        pf = var.pop("pf", None)
        late = var.pop("late", None)
        deep = var.pop("deep", None)
        proj = var.pop("proj", None)
        if var:
            raise KernelInputError(f"_variant: unknown keys {sorted(var)}")
        if mm and legacy:
            raise KernelInputError("_variant: 'mm' replaces every pass; it does not combine "
                                   "with 'legacy'")
        if words is not None and (isinstance(words, bool) or not isinstance(words, int)
                                  or words not in (1, 2, 4, 8, 16, 32)):
            raise KernelInputError(f"_variant: 'words' must be a power of 2 in 1 .. 32, got "
                                   f"{words!r}")
        if pf is not None and not isinstance(pf, bool):
            raise KernelInputError(f"_variant: 'pf' must be True, False or None, got {pf!r}")
        if late is not None and not isinstance(late, bool):
            raise KernelInputError(f"_variant: 'late' must be True, False or None, got "
                                   f"{late!r}")
        if deep is not None and not isinstance(deep, bool):
            raise KernelInputError(f"_variant: 'deep' must be True, False or None, got "
                                   f"{deep!r}")
        if proj is not None and not isinstance(proj, bool):
            raise KernelInputError(f"_variant: 'proj' must be True, False or None, got "
                                   f"{proj!r}")
        if proj and (mm or legacy):
            raise KernelInputError("_variant: 'proj' runs proj_kernel in the default path's "
                                   "passes; it does not combine with 'mm' or 'legacy'")
        if deep and (mm or legacy):
            raise KernelInputError("_variant: 'deep' is a cols_kernel order; it does not "
                                   "combine with 'mm' or 'legacy'")
        if late and (mm or legacy):
            raise KernelInputError("_variant: 'late' is a cols_kernel order; it does not "
                                   "combine with 'mm' or 'legacy'")
        return cls(mm=mm, legacy=legacy, words=words, pf=pf, late=late, deep=deep, proj=proj)


@dataclass(frozen=True)
class TabledPlan:
    """What a tabled run launches (see the module docstring).

    Attributes
    ----------
    kernel : {"cols", "mm", "legacy"}
        The kernel of the summary and run passes (the scan is ``scan_kernel`` in every case).
    chunk_size : int
        Tokens a chunk, ``L`` (``T``: sequential).
    n_chunks : int
        ``ceil(T / L)`` (1: one run pass, no summary and scan).
    acc : triton dtype
        Accumulator dtype (float64 for float64 tables, else float32).
    BK, BV, NHP, BCC, BW : int
        ``K``, ``V``, ``n_h``, the number of codes and ``K + V`` (the summary's columns)
        rounded up to powers of 2.
    G, KP : int
        ``cols_kernel``'s table packing: ``G`` elements are 16 bytes, ``KP`` = ``K`` padded
        to a multiple of ``G``.
    BWR, BWS : int
        ``cols_kernel``'s columns a word in the run pass (``V``) and the summary (``K + V``).
    words_run, words_summary : int
        ``cols_kernel``'s words a program in the run pass and the summary.
    prefetch : bool or None
        The ``pf`` variant (None: prefetch in sequential runs only).
    late : bool or None
        The ``late`` variant (readouts one step late in ``cols_kernel``'s run pass; None:
        where the readout is a code table, decided by the launcher, which knows the table).
    deep : bool or None
        The ``deep`` variant (None: :data:`DEEP_DEFAULT`).
    proj : bool or None
        The ``proj`` variant (None: :data:`PROJ_DEFAULT`; decided, a bool, by the caller
        before launching).
    proj_basis : bool
        proj's summaries over the keys' R basis columns (:data:`PROJ_BASIS_MIN_SV`;
        decided with ``proj``).
    """

    kernel: str
    chunk_size: int
    n_chunks: int
    acc: Any
    BK: int
    BV: int
    NHP: int
    BCC: int
    BW: int
    G: int
    KP: int
    BWR: int
    BWS: int
    words_run: int
    words_summary: int
    prefetch: bool | None
    late: bool | None = None
    deep: bool | None = None
    proj: bool | None = None
    proj_basis: bool = False


def make_plan(inp: TabledInputs, chunk_size: int | None,
              variant: Variant = Variant()) -> TabledPlan:
    """The plan of a run of checked inputs (``chunk_size`` as given to ``run_tabled``).

    Raises
    ------
    KernelInputError
        The ``mm`` variant on tables too large for its 32-bit offsets, or on float64 tables.

    Examples
    --------
    >>> import torch
    >>> from statetrack.kernels.tabled._inputs import check_inputs
    >>> inp = check_inputs(torch.zeros(2, 100, dtype=torch.int64), torch.ones(2, 1, 8),
    ...                    torch.ones(2, 1), torch.zeros(2, 1, 4), initial_state=None,
    ...                    query=torch.ones(8), codes=None, scale=1.0, output="o",
    ...                    return_states=False, chunk_size=None, check_beta=True,
    ...                    check_finite_inputs=False, check_ids=True)
    >>> p = make_plan(inp, 30)
    >>> p.kernel, p.chunk_size, p.n_chunks, p.words_run
    ('cols', 30, 4, 8)
    >>> make_plan(inp, None, Variant(legacy=True)).kernel
    'legacy'
    """
    B, T, H, K, V, NH = inp.B, inp.T, inp.H, inp.K, inp.V, inp.NH
    sd = inp.state_dtype
    L = min(T, chunk_size if chunk_size is not None else choose_chunk(B, H, T,
                                                                       device=inp.device))
    L = max(L, 1)
    mm, legacy = variant.mm, variant.legacy
    if mm and inp.S * inp.HT * next_pow2(K + V, lo=16) * next_pow2(K, lo=16) >= 2 ** 31:
        raise KernelInputError("_variant: 'mm' indexes its tables with 32-bit offsets; "
                               "these tables are too large for it")
    if mm and sd == torch.float64:
        raise KernelInputError("_variant: 'mm' runs float32 matrix products; float64 tables "
                               "take the default kernel")
    # the default: cols_kernel for the summary and run passes while K <= COLS_MAX_K (its
    # state and two table rows stay in registers) and its 32-bit offsets cannot overflow
    # (table rows; sub-steps of one chunk, with the margin of the ids read ahead: up to
    # u + 7 before clamping to the last sub-step)
    G = 2 if sd == torch.float64 else 4
    KP = -(-K // G) * G
    BWR, BWS = next_pow2(V, lo=4), next_pow2(K + V, lo=4)
    cols = (not (mm or legacy) and K <= COLS_MAX_K
            and inp.S * NH * inp.HT * (KP + G + BWS) < 2 ** 31 and L * NH < 2 ** 31 - 16)
    PR, PS = max(1, 32 // BWR), max(1, 32 // BWS)   # words a program: a warp's lanes
    if variant.words is not None:
        PR = PS = variant.words
    return TabledPlan(
        kernel="cols" if cols else "mm" if mm else "legacy", chunk_size=L,
        n_chunks=triton.cdiv(T, L), acc=tl.float64 if sd == torch.float64 else tl.float32,
        BK=next_pow2(K, lo=2), BV=next_pow2(V, lo=2), NHP=next_pow2(NH),
        BCC=next_pow2(inp.C, lo=2), BW=next_pow2(K + V, lo=2),
        G=G, KP=KP, BWR=BWR, BWS=BWS, words_run=PR, words_summary=PS, prefetch=variant.pf,
        late=variant.late, deep=variant.deep, proj=variant.proj)


#: plans made by :func:`cached_plan`, per what :func:`make_plan` reads (at most
#: :data:`PLAN_CACHE_SIZE`; all dropped when full)
_PLANS: dict[tuple, TabledPlan] = {}
PLAN_CACHE_SIZE = 512


def cached_plan(inp: TabledInputs, chunk_size: int | None,
                variant: Variant = Variant()) -> TabledPlan:
    """:func:`make_plan`, remembered per everything it reads (the dimensions, dtype and
    device type of ``inp``, ``chunk_size``, ``variant`` and :data:`COLS_MAX_K`): a plan is
    immutable and costs about 12 us to make on a 2-core CPU, a few percent of a host-bound
    call (session 25); a hit is one tuple and one dict lookup.

    Examples
    --------
    >>> import torch
    >>> from statetrack.kernels.tabled._inputs import check_inputs
    >>> opts = dict(initial_state=None, query=None, codes=None, scale=1.0, output="none",
    ...             return_states=False, chunk_size=None, check_beta=False,
    ...             check_finite_inputs=False, check_ids=False)
    >>> inp = check_inputs(torch.zeros(1, 50, dtype=torch.int32), torch.ones(2, 1, 4),
    ...                    torch.ones(2, 1), torch.zeros(2, 1, 2), **opts)
    >>> cached_plan(inp, 10) is cached_plan(inp, 10), cached_plan(inp, 10) == make_plan(inp, 10)
    (True, True)
    """
    key = (inp.B, inp.T, inp.H, inp.HT, inp.S, inp.NH, inp.K, inp.V, inp.C, inp.state_dtype,
           inp.device.type, chunk_size, variant, COLS_MAX_K)
    plan = _PLANS.get(key)
    if plan is None:
        plan = make_plan(inp, chunk_size, variant)
        if len(_PLANS) >= PLAN_CACHE_SIZE:
            _PLANS.clear()
        _PLANS[key] = plan
    return plan
