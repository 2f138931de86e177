"""The launches of a tabled run: one launcher per kernel of the summary and run passes
(:class:`ColsLauncher`, the default; :class:`MMLauncher` and :class:`LegacyLauncher`, the
benchmark variants), and :func:`launch`, which runs a plan: one run pass when sequential,
else a summary pass, the scan over chunks (``scan_kernel``) and a run pass from each chunk's
start state. The kernels are in :mod:`._tabled_kernels`; the derivation in
:mod:`statetrack.kernels.tabled.tabled`.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict

import torch

from statetrack.floats import next_pow2
from statetrack.kernels._common.checks import DeviceFlags, stream_handle
from statetrack.kernels._common.env import env_switch
from statetrack.kernels._common.fast_launch import fast
from statetrack.kernels._common.triton import INTERPRET, tl
from statetrack.kernels.tabled import _tabled_kernels as _kern
from statetrack.kernels.tabled._codes import CodeTable
from statetrack.kernels.tabled._inputs import TabledBuffers, TabledInputs, normalize_tables
from statetrack.kernels.tabled import _plan
from statetrack.kernels.tabled._plan import TabledPlan

__all__ = ["launch", "ColsLauncher", "MMLauncher", "LegacyLauncher"]


def _cdiv(a: int, b: int) -> int:
    """``ceil(a / b)`` for the grids (``triton.cdiv`` is a constexpr function since Triton
    3.5: a call from the host goes through its wrapper, a few microseconds)."""
    return -(-a // b)


def _warps(elements: int) -> int:
    return max(1, min(8, elements // 1024))


def to_uint8_ids(sym: torch.Tensor, S: int, flags: DeviceFlags | None) -> torch.Tensor:
    """``sym`` (contiguous, at most 256 symbols) as uint8 ids; with ``flags``, an id outside
    ``0 .. S - 1`` sets ``flags[0]`` (to ``flags.gen``) and is clamped (``ids_u8_kernel``: one
    pass, the bytes of ``sym.to(torch.uint8)``)."""
    out = torch.empty(sym.shape, dtype=torch.uint8, device=sym.device)
    n, BLOCK = sym.numel(), 1024
    if n:
        fast(_kern.ids_u8_kernel)[(_cdiv(n, BLOCK),)](
            sym, out, flags.flags if flags is not None else out,
            flags.gen if flags is not None else 0, n, S,
            CHECK=flags is not None, BLOCK=BLOCK)
    return out


class DerivedTables:
    """Tensors derived from the caller's tensors, kept per *version* of those (identity,
    PyTorch's version counter, data pointer and dtype, as
    :class:`~statetrack.kernels._common.checks.VerifiedTensors` but leaner: a hit costs a
    dict lookup and three reads a tensor, a few microseconds; the call it serves can be
    host-bound).

    An in-place write to any of the tensors (also through a view) bumps its version and
    misses; so do new storage or a new dtype under the same tensor object (``t.data = u``,
    ``module.half()`` on parameters). A write into the same storage that bypasses the
    counter (through ``t.data.copy_``, NumPy, DLPack, or a kernel writing into the storage)
    is **not seen, and the derived tensor is then stale**: pass a new tensor after one.
    Entries die with their tensors (weak references); at most ``maxsize`` are kept (the
    oldest dropped first). Inference-mode tensors have no version counter: nothing is kept
    for them.

    Examples
    --------
    >>> import torch
    >>> cache, t = DerivedTables(), torch.ones(3)
    >>> cache.get(("rows",), (t, None)) is None
    True
    >>> cache.put(("rows",), (t, None), "derived")
    >>> cache.get(("rows",), (t, None))
    'derived'
    >>> t.add_(1)
    tensor([2., 2., 2.])
    >>> cache.get(("rows",), (t, None)) is None            # written in place: gone
    True
    """

    def __init__(self, maxsize: int = 256) -> None:
        self.maxsize = maxsize
        self._entries: OrderedDict[tuple, tuple] = OrderedDict()

    def get(self, key: tuple, tensors: tuple) -> object | None:
        """What :meth:`put` stored for ``key`` and these tensor versions, else None."""
        entry = self._entries.get(key + tuple(map(id, tensors)))
        if entry is None:
            return None
        refs, stamps, value = entry
        for r, st, t in zip(refs, stamps, tensors):
            if t is not None and (r() is not t or (t._version, t.data_ptr(), t.dtype) != st):
                return None
        return value

    def put(self, key: tuple, tensors: tuple, value: object) -> None:
        """Keep ``value`` for ``key`` and the current versions of ``tensors``."""
        if any(t is not None and t.is_inference() for t in tensors):
            return
        k = key + tuple(map(id, tensors))
        entries = self._entries

        def drop(_ref, k=k):
            entries.pop(k, None)

        entries.pop(k, None)
        entries[k] = (tuple(None if t is None else weakref.ref(t, drop) for t in tensors),
                      tuple(None if t is None else (t._version, t.data_ptr(), t.dtype)
                            for t in tensors), value)
        while len(entries) > self.maxsize:
            try:
                entries.popitem(last=False)
            except KeyError:                   # emptied by another thread meanwhile
                break

    def clear(self) -> None:
        """Forget every entry."""
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


#: Narrow wider ids to one byte (``to_uint8_ids``, one launch) in chunked calls too, not only
#: in sequential ones (where the narrowing was measured: a 28 % faster latency-bound run on
#: the H100). False: the chunked passes read the caller's ids and check them themselves,
#: one launch and one allocation fewer a call (session 25's A/B,
#: ``benchmarks/probes/host_profile.py --ab``).
NARROW_CHUNKED = True
#: The same for sequential calls (one chunk): True (measured, above). False: the run pass
#: reads the caller's ids and checks them itself, one launch and one allocation fewer a
#: call, but the int32 ids read in the loop made it 1.53-1.59x slower on the H100, 1.09-1.57x
#: with the ids prefetched (session 31, ``deep_ab.py --set prefetch``).
NARROW_SEQUENTIAL = True

#: Narrow the ids inside a chunked call's summary pass where that pass runs ``proj_kernel``
#: (its ``NARROW``: the ids it reads and checks stored as one-byte ids for the run pass)
#: instead of in a pass of its own: one launch fewer, and the summary reads the caller's
#: ids (session 25, opt-in: untimed on a GPU; the trial without any narrowing made the
#: passes 18 % slower at (64, 65536) on the H100, the run pass's reads being the suspect).
NARROW_IN_SUMMARY = False

#: ``proj_kernel``'s sequential run passes load the table rows of the next iteration's four
#: sub-steps during this one (its ``AHEAD``; session 28): no iteration starts by waiting on
#: its rows' loads. The default since session 30 where it was validated: sequential run
#: passes with n_h in :data:`AHEAD_NH`. H100: 0.88x / 0.94x / 0.85x the device time of the
#: (1024, 4096) rows without ``maxnreg`` (``results/s28_h100/``); bit-identical in the
#: interpreter everywhere, and on CUDA the tabled tests with it on (258 passed,
#: ``results/s30_h100/ahead/``) and n_h = 4 forced on (session 31: the rows-ahead tests'
#: n_h = 4 cases bit-identical). (The exactness suite's runs, B = 4 and T = 10^6, are
#: chunked: it does not reach this order.) Where n_h does not divide the loop's four
#: sub-steps (n_h = 3) a token's end moves from iteration to iteration, and the kernel's
#: branch for it gave wrong ``o`` on CUDA with the rows ahead in chunked run passes
#: (sessions 28 and 30, the interpreter bit-identical): there the launcher also passes
#: ``END_PRED`` (the token's end by masked stores, no branch), with which
#: ``benchmarks/probes/ahead_fault.py``'s chunked n_h = 3 runs are bit-identical on the H100
#: (its sequential cases were cut by the call's limit), and a sequential (1024, 4096) n_h = 3
#: run too (``deep_ab.py --set nh3``, session 31), but at 1.035x the device time of the plain
#: order, so n_h = 3 is left out of :data:`AHEAD_NH`. Not in chunked passes, which did not
#: gain. Compiled without ``maxnreg`` (faster than with 255 in every row timed, all n_h = 1).
#: ``STATETRACK_PROJ_AHEAD`` (0/off/false/no) turns it off for whole runs (1/on: on, still
#: only where it applies).
PROJ_AHEAD = env_switch("STATETRACK_PROJ_AHEAD", True)
#: ``proj_kernel``'s sub-steps an iteration of its main loop (its ``UN``): where n_h does not
#: divide it, a token's end moves from iteration to iteration
PROJ_ITERATION = 4
#: the sub-steps a token (n_h) where :data:`PROJ_AHEAD` applies (validated on CUDA, and
#: faster: n_h = 3 with ``END_PRED`` is right but slower, above)
AHEAD_NH = (1, 2, 4)

#: ``proj_kernel``'s sequential run passes prefetch into L1 the ids this many tokens ahead
#: (its ``PF_IDS``; 0: off), where a sequence has at least :data:`PREFETCH_MIN_WC` output
#: columns: the ids' cache misses, one a 128 one-byte ids, are otherwise read only two
#: iterations (eight sub-steps) ahead, not far enough to hide a miss to memory. A hint (no
#: value read, the outputs unchanged); compiled code only, never under the interpreter.
#: Session 31, H100 (``deep_ab.py --set prefetch``, (1024, 4096), n_h = 1, rows ahead on):
#: 64 tokens ahead 0.89x / 0.92x the device time on random tables with V = 16 / 4; 256
#: ahead 0.90x / 0.93x; on the permutation problem (V = 1) 1.03x. The threshold is
#: empirical (V = 1 to 4 share one layout, four lanes a word; V = 2, 3 untimed), and the
#: prefetch is untimed with the rows ahead off (n_h = 3, 5 or more, or
#: ``STATETRACK_PROJ_AHEAD=0``). ``STATETRACK_PROJ_PREFETCH`` (0/off/false/no) turns it off
#: for whole runs.
PROJ_PREFETCH_IDS = 64 if env_switch("STATETRACK_PROJ_PREFETCH", True) else 0
#: the fewest output columns a sequence (V) for which :data:`PROJ_PREFETCH_IDS` applies
PREFETCH_MIN_WC = 4
#: ``proj_kernel``'s rows ahead (:data:`PROJ_AHEAD`, where it applies) run two iterations a
#: trip with the rows in two buffers (its ``PINGPONG``; session 31, opt-in): no rows moved
#: from buffer to buffer at the loop's back edge. sm_90 (Triton 3.6,
#: ``benchmarks/tabled_sass.py --proj``): 287 instructions a trip of eight sub-steps with
#: the ids prefetched, against 2 x 167 for the rows ahead alone (-14 %); the same
#: operations in the same order (bit-identical in the interpreter). Timed in session 32
#: (H100, sequential (1024, 4096)): 1.00x / 0.96x / 1.14x the default's device time at
#: V = 16 / 4 / the V = 1 permutation problem, so it stays off; and on CUDA its output at
#: n_h = 3 (END_PRED, forced: n_h = 3 is not in :data:`AHEAD_NH`) was wrong.
PROJ_PINGPONG = False
#: ``proj_kernel``'s passes (run and summary) read each block of four sub-steps' ids inside
#: the loop from one clamped start, a token's id once (its ``IDS_BLOCK``; where n_h divides
#: four; session 31): no clamp and no 64-bit address a sub-step. sm_90 (``tabled_sass.py
#: --proj``, n_h = 1, ids prefetched): 155 instructions an iteration against 167, and 264 a
#: trip of eight sub-steps with :data:`PROJ_PINGPONG` against 287; the same ids for every
#: block the loop uses (bit-identical in the interpreter, and on CUDA in the rows-ahead
#: tests at n_h = 1-4, sequential and chunked). The default since session 32: H100,
#: sequential (1024, 4096), device time 0.962-0.976x the default's at V = 16, 4 and the
#: V = 1 permutation problem (``deep_ab.py --set pingpong``, two runs); with the ping-pong
#: 1.01-1.11x. Chunked and summary passes take it too, untimed there (the same loop).
PROJ_IDS_BLOCK = True
#: proj_kernel's CHAIN (session 33, opt-in): each sub-step's ``p_r`` by a tree of selects on
#: the row index's bits and ``d = beta v - beta p_r`` as one multiply-add (``beta v`` from the
#: loaded row, off the chain), so that the chain from one token's ``p`` to the next has 4
#: dependent operations at R = 4 instead of 6 (3 selects, a subtraction, a product, the
#: update). Session 33 found the loop's instruction count no longer predicts its time at
#: (1024, 4096) (two shorter loops were no faster on the H100); this shortens the chain
#: instead, at 1-3 more sm_90 instructions a sub-step (155 -> 159 for four at V = 16,
#: 146 -> 156 on the V = 1 permutation tables). Not bit-identical to the default on float
#: tables (``d`` rounds otherwise: ``beta v``, then one multiply-add, instead of ``v - p_r``,
#: then the product; no more accurate), bit-identical on exact constructions.
#: Timed in session 34 on an H100 (``benchmarks/probes/deep_ab.py --set chain``,
#: ``results/s34_h100/chain_*``): **slower**, so off. Sequentially at (1024, 4096) 0.989x /
#: 1.007x / 1.117x the default's time (V = 16, V = 4, the permutation's ``o``; one round, the
#: rest cut), chunked at (64, 65536) 1.040x / 1.089x / 1.077x / 1.092x (with its code table).
PROJ_CHAIN = False

#: :data:`PROJ_PREFETCH_IDS` in chunked run passes too (session 31, opt-in until timed on a
#: GPU: ``deep_ab.py --set prefetch --shape 64,65536 --chunk auto``)
PREFETCH_CHUNKED = False

#: A chunked call whose summaries run over the keys' basis (``proj_kernel``'s sums) hands
#: the sums to ``scan_kernel``, which makes each chunk's map itself (its ``FROM_SUMS``;
#: session 28) instead of ``proj_maps_kernel``: one launch, one allocation and the maps'
#: round trip through memory fewer. Bit-identical, but off: the call's kernels took
#: 1.05-1.06x the device time at (64, 65536) on the H100 (the maps on the scan's serial
#: path); its host saving is unmeasured.
SCAN_FROM_SUMS = False

#: ``proj_kernel``'s packed rows, kept per version of the tables, query and code table as the
#: caller passed them (``launch``'s ``given``) and per stream: a call with the same tables
#: skips ``proj_rows_kernel``'s launch and allocation (session 24: at (64, 65536) the call
#: was host-bound, about 45 us of Triton's dispatch a launch on the H100's host)
PROJ_ROWS = DerivedTables()


class _Launcher:
    """What every pass reads: the ids (one byte each when they fit), contiguous tables, the
    initial state, query and codes in the state dtype, the output pointers (``ht`` stands
    in for every absent tensor), and the device flags (``flags``: ids, code table).
    ``given``: the tables and query as the caller passed them (with the code table's
    weights, the key of derived tables such as proj's rows; None: nothing cached)."""

    given: tuple | None = None

    def __init__(self, inp: TabledInputs, buf: TabledBuffers, plan: TabledPlan,
                 flags: DeviceFlags | None = None, code_table: CodeTable | None = None) -> None:
        self.inp, self.buf, self.plan = inp, buf, plan
        sd = inp.state_dtype
        sym = inp.symbols.contiguous()
        check = inp.check_ids_device and flags is not None
        #: the summary pass's ids and checks where they differ from the run pass's (the
        #: narrowing fused into a proj summary pass: it reads and checks the caller's ids and
        #: writes the one-byte ids ``sym8`` the run pass reads)
        self.sym_summary, self.check_summary, self.sym8 = None, check, None
        if sym.dtype != torch.uint8 and inp.S <= 256 and (
                NARROW_CHUNKED if plan.n_chunks > 1 else NARROW_SEQUENTIAL):
            # one byte an id: a cache line holds 128 tokens' ids, not 32 (an L1 miss every 32
            # tokens cost the latency-bound sequential run 28 % on the H100); the narrowing
            # checks the ids (257 would become 1, a valid id), so the passes need not
            if (NARROW_IN_SUMMARY and plan.n_chunks > 1 and plan.kernel == "cols"
                    and plan.proj and PROJ_SUMMARY):
                self.sym_summary = sym
                if inp.output != "none" or inp.return_states:      # a run pass follows
                    sym = self.sym8 = torch.empty(sym.shape, dtype=torch.uint8,
                                                  device=sym.device)
            else:
                sym = to_uint8_ids(sym, inp.S, flags if check else None)
            check = False
        if sym.dtype == torch.uint8 and inp.S >= 256:
            check = False                       # every byte is a valid id
        self.sym, self.check_ids = sym, check
        self.flags = flags.flags if flags is not None else buf.final_state
        self.gen = flags.gen if flags is not None else 0      # what a set flag holds
        self.code_table = code_table
        self.kt, self.bt, self.vt = (t.contiguous() for t in (inp.key_table, inp.beta_table,
                                                                inp.value_table))
        self.h0 = inp.initial_state.to(sd).contiguous() if inp.initial_state is not None \
            else None
        qk = inp.query.to(sd).contiguous() if inp.query is not None else None
        ck = inp.codes.to(sd).contiguous() if inp.codes is not None else None
        self.dummy = dummy = buf.final_state
        o, cls, states = buf.o, buf.code, buf.states
        self.outs = dict(OUT_O=o is not None, OUT_CODE=cls is not None,
                         STORE_STATES=states is not None)
        self.out_args = (qk if qk is not None else dummy, ck if ck is not None else dummy,
                         o if o is not None else dummy, cls if cls is not None else dummy,
                         states if states is not None else dummy)

    def run_pass(self, grid: tuple[int, int], h0_arg: torch.Tensor, starts_arg: torch.Tensor,
                 h0_mode: int, final: bool) -> None:
        """The recurrence over ``grid = (B * H, chunks)``, from ``h0_arg`` (``h0_mode`` 0-2)
        or the chunks' start states (``h0_mode`` 3), writing the requested outputs and, when
        ``final``, the final state."""
        raise NotImplementedError

    def summary_pass(self, summ: torch.Tensor) -> None:
        """Each chunk's composite map ``[M_c | C_c]`` into ``summ`` ``[B*H, NC, K, K + V]``."""
        raise NotImplementedError

    def sums_scan(self) -> tuple | None:
        """``(R, vbasis)`` where the summary pass leaves its sums over the keys' basis to
        ``scan_kernel`` (:data:`SCAN_FROM_SUMS`; ``summary_pass`` then returns them instead of
        filling ``summ``), else None."""
        return None


#: benchmarks only: the ``maxnreg`` of ``cols_kernel``'s run pass (None: 255 in the deep
#: order, unset otherwise; 0: unset)
MAXNREG_OVERRIDE: int | None = None
#: benchmarks only: whether the ``proj`` variant takes the summary pass too (False: run
#: passes only; the summary's compile needs 96 registers a thread against ``cols_kernel``'s
#: 57 at K = V = 16, sm_90; on the H100 in session 23 it paid anyway: at (64, 65536) the
#: call took 0.59x the default's device time with it, 0.79x with run passes only)
PROJ_SUMMARY = True
#: benchmarks only: whether proj's summaries take the keys' basis where the plan allows it
#: (``plan.proj_basis``, session 23; False: the K + V columns of [I | 0])
PROJ_BASIS = True
#: benchmarks only: whether those summaries take the values' basis (R columns, row y's value
#: 1) instead of the V value columns where R < V (session 24, H100, (64, 65536), random
#: K = V = 16 tables: 0.217 ms of kernels against 0.386 with the value columns, 8 columns a
#: chunk against 20 in 32 lanes; the same elsewhere; bit-identical on permutation tables)
PROJ_VBASIS = True


class ColsLauncher(_Launcher):
    """``cols_kernel`` (the default while ``K <= COLS_MAX_K``): the state as ``K`` rows over
    the value columns, one column a thread, several words a warp; packed table rows."""

    def __init__(self, inp: TabledInputs, buf: TabledBuffers, plan: TabledPlan,
                 flags: DeviceFlags | None = None, code_table: CodeTable | None = None) -> None:
        super().__init__(inp, buf, plan, flags, code_table)
        self.meta = dict(H=inp.H, HT=inp.HT, K=inp.K, KP=plan.KP, NH=inp.NH, C=inp.C,
                         BCC=plan.BCC, G=plan.G, CHECK_IDS=self.check_ids, ACC=plan.acc,
                         num_stages=1)
        ct = code_table if self.outs["OUT_CODE"] else None
        if ct is not None:
            self.lut_w, self.lut = ct.on(inp.device, inp.state_dtype)
            self.lut_meta = dict(CODE_LUT=True, V0=ct.column, LUT_ID=ct.id_mask)
            self.NZ = int(ct.table.shape[1])
        else:
            self.lut_w = self.lut = self.dummy
            self.lut_meta = dict(CODE_LUT=False, V0=0, LUT_ID=0)
            self.NZ = 1

    def proj_applies(self, summary: bool = False) -> bool:
        """Whether this run's run passes (or, with ``summary``, its summary pass) take
        ``proj_kernel``: the plan's ``proj`` (decided for the tables by the caller,
        ``tabled._proj_keys``), and for a run pass no stored states and a code readout only
        through a code table."""
        if not self.plan.proj:
            return False
        if summary:
            return PROJ_SUMMARY
        return not self.outs["STORE_STATES"] and (self.lut_meta["CODE_LUT"]
                                                  or not self.outs["OUT_CODE"])

    def _proj_rows(self, BW: int, c_off: int, readouts: bool,
                   vbasis: bool = False) -> tuple[torch.Tensor, int, int]:
        """``proj_kernel``'s packed rows (one ``proj_rows_kernel`` launch), ``R`` and ``RP``
        (``vbasis``: the values' basis, row y's value 1 at column ``c_off + y``)."""
        inp, p = self.inp, self.plan
        R = inp.S * inp.NH
        RP = -(-R // p.G) * p.G
        out_o = readouts and self.outs["OUT_O"]
        out_code = readouts and self.lut_meta["CODE_LUT"]
        key = tensors = None
        # not while a CUDA graph is captured: the graph must hold the rows' kernel, which
        # rereads the tables at every replay (cached rows would be fixed in it, or not yet
        # written if another capture on the stream made them)
        if self.given is not None and not (inp.device.type == "cuda"
                                           and torch.cuda.is_current_stream_capturing()):
            dev = inp.device
            key = ("proj rows", inp.H, inp.HT, inp.K, inp.V, inp.S, inp.NH, p.G, p.BK, BW,
                   c_off, out_o, out_code, vbasis, float(inp.scale), inp.state_dtype,
                   str(dev), stream_handle(dev), p.acc)
            tensors = (*self.given, self.lut_w if out_code else None)
            pr_t = PROJ_ROWS.get(key, tensors)
            if pr_t is not None:
                return pr_t, R, RP
        pr_t = torch.empty(R * inp.H, RP + 4 + BW, dtype=inp.state_dtype,
                           device=inp.device)
        fast(_kern.proj_rows_kernel)[(R, inp.H)](
            self.kt, self.bt, self.vt, self.out_args[0], self.lut_w, pr_t, inp.scale, H=inp.H,
            HT=inp.HT, K=inp.K, V=inp.V, R=R, RP=RP, BW=BW, BR=next_pow2(R, lo=2), BK=p.BK,
            OUT_O=out_o, OUT_CODE=out_code, ACC=p.acc, C_OFF=c_off, VBASIS=vbasis,
            num_warps=1)
        if key is not None:
            PROJ_ROWS.put(key, tensors, pr_t)
        return pr_t, R, RP

    def _run_proj(self, grid, h0_arg, starts_arg, h0_mode, final):
        inp, p = self.inp, self.plan
        PR, BWR = p.words_run, p.BWR
        pr_t, R, RP = self._proj_rows(BWR, 0, True)
        qk, _, o, cls, _ = self.out_args
        seq = grid[1] == 1
        ahead = PROJ_AHEAD and seq and inp.NH in AHEAD_NH     # see PROJ_AHEAD
        pf = (PROJ_PREFETCH_IDS if (seq or PREFETCH_CHUNKED) and inp.V >= PREFETCH_MIN_WC
              and not INTERPRET else 0)
        # as the deep order (run_pass); the rows-ahead order was fastest without it (s28)
        reg = None if self.lut_meta["CODE_LUT"] or ahead else 255
        if MAXNREG_OVERRIDE is not None:
            reg = MAXNREG_OVERRIDE or None
        extra = {"maxnreg": reg} if reg and not INTERPRET else {}
        fast(_kern.proj_kernel)[(_cdiv(grid[0], PR), grid[1])](
            self.sym, self.sym, pr_t, self.kt, h0_arg, starts_arg, qk, o, cls,
            self.buf.final_state, self.flags, self.gen, self.lut_w, self.lut, inp.scale, inp.T,
            p.chunk_size, inp.B * inp.H, inp.S, self.NZ,
            H=inp.H, HT=inp.HT, K=inp.K, R=R, RP=RP, WC=inp.V, BW=BWR, P=PR,
            NH=inp.NH, G=p.G, H0_MODE=h0_mode, OUT_O=self.outs["OUT_O"],
            OUT_CODE=self.outs["OUT_CODE"], FINAL=int(final), CHECK_IDS=self.check_ids,
            V0=self.lut_meta["V0"], LUT_ID=self.lut_meta["LUT_ID"], ACC=p.acc,
            AHEAD=ahead, END_PRED=ahead and PROJ_ITERATION % inp.NH != 0, PF_IDS=pf,
            PINGPONG=ahead and PROJ_PINGPONG and PROJ_ITERATION % inp.NH == 0,
            IDS_BLOCK=PROJ_IDS_BLOCK, CHAIN=PROJ_CHAIN,
            num_warps=max(1, PR * BWR // 32), num_stages=1, **extra)

    def _basis(self) -> tuple[bool, bool]:
        """Whether proj's summaries run over the keys' basis, and the values' basis."""
        p, inp = self.plan, self.inp
        basis = p.proj_basis and PROJ_BASIS
        return basis, basis and inp.S * inp.NH < inp.V and PROJ_VBASIS

    def sums_scan(self) -> tuple | None:
        if SCAN_FROM_SUMS and self.proj_applies(summary=True):
            basis, vbasis = self._basis()
            if basis:
                return self.inp.S * self.inp.NH, vbasis
        return None

    def _summary_proj(self, summ):
        """The summaries through ``proj_kernel``: over the keys' R basis columns and the V
        value columns (or, where ``R < V``, the values' R basis columns), then
        ``proj_maps_kernel`` makes each chunk's ``[M | C]`` (``plan.proj_basis``:
        well-conditioned keys; with :data:`SCAN_FROM_SUMS` the sums are returned for
        ``scan_kernel`` instead), else over the K + V columns of ``[I | 0]`` with each
        chunk's state rebuilt in the kernel."""
        inp, p, dummy = self.inp, self.plan, self.dummy
        R = inp.S * inp.NH
        basis, vbasis = self._basis()       # vbasis: the values' basis, R columns
        if basis:       # columns: R of the keys' basis, then R (values' basis) or V values
            WS = R + (R if vbasis else inp.V)
            BWS = next_pow2(WS, lo=4)
            PS, c_off = max(1, 32 // BWS), R
            out = torch.empty(inp.B * inp.H * p.n_chunks * R * WS, dtype=inp.state_dtype,
                              device=inp.device)
        else:           # the K + V columns of [I | 0], the states into summ
            WS, BWS, PS, c_off, out = inp.K + inp.V, p.BWS, p.words_summary, inp.K, summ
        pr_t, R, RP = self._proj_rows(BWS, c_off, False, vbasis)
        sym = self.sym if self.sym_summary is None else self.sym_summary
        sym8 = sym if self.sym8 is None else self.sym8
        fast(_kern.proj_kernel)[(_cdiv(inp.B * inp.H, PS), p.n_chunks)](
            sym, sym8, pr_t, self.kt, dummy, dummy, dummy, dummy, dummy, out, self.flags,
            self.gen, dummy, dummy, inp.scale, inp.T, p.chunk_size, inp.B * inp.H, inp.S, 1,
            H=inp.H, HT=inp.HT, K=inp.K, R=R, RP=RP, WC=WS, BW=BWS, P=PS,
            NH=inp.NH, G=p.G, H0_MODE=5 if basis else 4, OUT_O=False, OUT_CODE=False,
            FINAL=3 if basis else 2,
            CHECK_IDS=self.check_ids if self.sym_summary is None else self.check_summary,
            V0=0, ACC=p.acc, NARROW=self.sym8 is not None, IDS_BLOCK=PROJ_IDS_BLOCK,
            CHAIN=PROJ_CHAIN,
            num_warps=max(1, PS * BWS // 32), num_stages=1)
        if basis and SCAN_FROM_SUMS:        # sums_scan(): the scan makes the maps
            return out
        if basis:
            fast(_kern.proj_maps_kernel)[(inp.B * inp.H * p.n_chunks,)](
                self.kt, self.vt, out, summ, p.n_chunks, H=inp.H, HT=inp.HT, K=inp.K,
                V=inp.V, R=R, BK=p.BK, BV=p.BV, VBASIS=vbasis, ACC=p.acc, num_warps=1)

    def run_pass(self, grid, h0_arg, starts_arg, h0_mode, final):
        if self.proj_applies():
            self._run_proj(grid, h0_arg, starts_arg, h0_mode, final)
            return
        inp, p = self.inp, self.plan
        PR, BWR, pf = p.words_run, p.BWR, p.prefetch
        pf = grid[1] == 1 if pf is None else pf           # prefetch in sequential runs
        deep = pf and grid[1] == 1 and (_plan.DEEP_DEFAULT if p.deep is None else p.deep)
        # deep: four sub-steps an iteration, their rows loaded first; maxnreg keeps ptxas
        # from sinking those loads to their uses (it trades them for registers otherwise):
        # with o or argmin codes; a code table's readout was fastest without it (device time
        # on the H100, session 17, benchmarks/probes/deep_ab.py: o 0.79-0.86x of the
        # one-ahead loop with maxnreg, 0.88-1.10x without; code table 0.87x without, 0.97x with)
        reg = 255 if deep and not self.lut_meta["CODE_LUT"] else None
        if MAXNREG_OVERRIDE is not None:                    # a benchmark's A/B (0: none)
            reg = MAXNREG_OVERRIDE or None
        extra = {"maxnreg": reg} if reg and not INTERPRET else {}
        fast(_kern.cols_kernel)[(_cdiv(grid[0], PR), grid[1])](
            self.sym, _cols_tables(self.kt, self.bt, self.vt, p.KP, p.G, BWR, 0,
                                   inp.state_dtype), h0_arg, starts_arg, *self.out_args,
            self.buf.final_state, self.flags, self.gen, self.lut_w, self.lut, inp.scale, inp.T,
            p.chunk_size, inp.B * inp.H, inp.S, self.NZ, WC=inp.V,
            BW=BWR, P=PR, H0_MODE=h0_mode, **self.outs, FINAL=int(final),
            PF=2 if deep else int(pf), num_warps=max(1, PR * BWR // 32), **extra,
            LATE=(self.lut_meta["CODE_LUT"] and inp.NH == 1) if p.late is None else p.late,
            **self.lut_meta, **self.meta)

    def summary_pass(self, summ):
        if self.proj_applies(summary=True):
            return self._summary_proj(summ)
        inp, p, dummy = self.inp, self.plan, self.dummy
        PS, BWS = p.words_summary, p.BWS
        fast(_kern.cols_kernel)[(_cdiv(inp.B * inp.H, PS), p.n_chunks)](
            self.sym, _cols_tables(self.kt, self.bt, self.vt, p.KP, p.G, BWS, inp.K,
                                   inp.state_dtype), dummy, dummy, dummy, dummy, dummy,
            dummy, dummy, summ, self.flags, self.gen, dummy, dummy, inp.scale, inp.T,
            p.chunk_size, inp.B * inp.H, inp.S, 1,
            WC=inp.K + inp.V, BW=BWS, P=PS, H0_MODE=4, OUT_O=False, OUT_CODE=False,
            STORE_STATES=False, FINAL=2, PF=int(bool(p.prefetch)),
            num_warps=max(1, PS * BWS // 32), CODE_LUT=False, V0=0, **self.meta)


class MMLauncher(_Launcher):
    """``mm_kernel`` (the ``mm`` variant): each token's sub-steps composed into one affine
    map per symbol, applied as one tensor-core product a token."""

    def __init__(self, inp: TabledInputs, buf: TabledBuffers, plan: TabledPlan,
                 flags: DeviceFlags | None = None, code_table: CodeTable | None = None) -> None:
        super().__init__(inp, buf, plan, flags, code_table)
        self.BKM = max(16, plan.BK)
        self.mmd, self.prec = tl.float32, ("ieee" if INTERPRET else "tf32x3")
        self.tables = _mm_tables(inp.key_table, inp.beta_table, inp.value_table, self.BKM,
                                 max(16, plan.BV), 0)
        h0 = self.h0
        if self.tables[2] and (
                h0 is None or bool(((h0 == h0.round()) & (h0.abs() <= 256)).all())):
            # signed-permutation maps on a small-integer state: bfloat16 operands are exact
            # (the summary's [M | C] is a signed permutation and zeros: exact too). The
            # interpreter's bfloat16 tl.dot is wrong (see _chunk_kernels), and float32
            # operands hold the same exact values, so it multiplies those instead
            self.mmd, self.prec = (tl.float32 if INTERPRET else tl.bfloat16), "ieee"

    def run_pass(self, grid, h0_arg, starts_arg, h0_mode, final):
        inp, p = self.inp, self.plan
        BKM, BVM = self.BKM, max(16, p.BV)
        am, bm, _ = self.tables
        fast(_kern.mm_kernel)[grid](
            self.sym, am, bm, h0_arg, starts_arg, *self.out_args, self.buf.final_state,
            self.flags, self.gen, inp.scale, inp.T, p.chunk_size, inp.S, H=inp.H, HT=inp.HT,
            K=inp.K, WC=inp.V, BK=BKM, BC=BVM, C=inp.C, BCC=p.BCC, H0_MODE=h0_mode,
            **self.outs, FINAL=int(final), MMD=self.mmd, PREC=self.prec,
            CHECK_IDS=self.check_ids, ACC=p.acc, num_warps=_warps(BKM * BVM), num_stages=1)

    def summary_pass(self, summ):
        inp, p, dummy = self.inp, self.plan, self.dummy
        W = inp.K + inp.V
        BKM, BWM = self.BKM, max(16, p.BW)
        am, bm, _ = _mm_tables(inp.key_table, inp.beta_table, inp.value_table, BKM, BWM, inp.K)
        fast(_kern.mm_kernel)[(inp.B * inp.H, p.n_chunks)](
            self.sym, am, bm, dummy, dummy, dummy, dummy, dummy, dummy, dummy, summ,
            self.flags, self.gen, inp.scale, inp.T, p.chunk_size, inp.S, H=inp.H, HT=inp.HT,
            K=inp.K, WC=W, BK=BKM, BC=BWM, C=1, BCC=2, H0_MODE=4, OUT_O=False, OUT_CODE=False,
            STORE_STATES=False, FINAL=2, MMD=self.mmd, PREC=self.prec,
            CHECK_IDS=self.check_ids, ACC=p.acc, num_warps=_warps(BKM * BWM), num_stages=1)


class LegacyLauncher(_Launcher):
    """``run_kernel`` / ``summary_kernel`` (any ``K <= MAX_KV``; the ``legacy`` variant): a
    ``[K, V]`` register tile spread over the threads, one (word, head) a program."""

    def run_pass(self, grid, h0_arg, starts_arg, h0_mode, final):
        inp, p = self.inp, self.plan
        fast(_kern.run_kernel)[grid](
            self.sym, self.kt, self.bt, self.vt, h0_arg, starts_arg, *self.out_args,
            self.buf.final_state, self.flags, self.gen, inp.scale, inp.T, p.chunk_size, inp.S,
            H=inp.H, HT=inp.HT, K=inp.K, V=inp.V, NH=inp.NH, NHP=p.NHP, BK=p.BK, BV=p.BV,
            C=inp.C, BCC=p.BCC, H0_MODE=h0_mode, **self.outs, STORE_HT=final,
            CHECK_IDS=self.check_ids, ACC=p.acc, num_warps=_warps(p.BK * p.BV), num_stages=1)

    def summary_pass(self, summ):
        inp, p = self.inp, self.plan
        BW = p.BW
        fast(_kern.summary_kernel)[(inp.B * inp.H, p.n_chunks)](
            self.sym, self.kt, self.bt, self.vt, summ, self.flags, self.gen, inp.T,
            p.chunk_size, inp.S, H=inp.H, HT=inp.HT, K=inp.K, V=inp.V, NH=inp.NH, NHP=p.NHP,
            BK=p.BK, BW=BW, CHECK_IDS=self.check_ids, ACC=p.acc, num_warps=_warps(p.BK * BW),
            num_stages=1)


LAUNCHERS = {"cols": ColsLauncher, "mm": MMLauncher, "legacy": LegacyLauncher}


def launch(inp: TabledInputs, buf: TabledBuffers, plan: TabledPlan,
           flags: DeviceFlags | None = None, code_table: CodeTable | None = None,
           given: tuple | None = None) -> None:
    """Fill ``buf`` by running ``plan`` on ``inp`` (see the module docstring); empty batches
    and words launch nothing (the final state is the initial state, zeros without one).
    ``flags`` receives the device-side checks (ids when ``inp.check_ids_device``; code
    table misses); ``code_table`` (``cols`` plans with ``output="code"`` only) replaces the
    nearest-code argmin by the table lookup of :mod:`._codes`. ``given``: the caller's
    ``(key_table, beta_table, value_table, query)`` as passed (not ``inp``'s views, made
    anew at every call): tables derived from them are kept per version (:data:`PROJ_ROWS`);
    None keeps nothing."""
    B, T, H, K, V, sd = inp.B, inp.T, inp.H, inp.K, inp.V, inp.state_dtype
    ht = buf.final_state
    if T == 0 or B == 0:
        if B:
            if inp.initial_state is None:
                ht.zero_()
            else:
                ht.copy_(inp.initial_state.expand(B, H, K, V) if inp.h0_mode == 2
                         else inp.initial_state)
        return
    launcher = LAUNCHERS[plan.kernel](inp, buf, plan, flags,
                                      code_table if plan.kernel == "cols" else None)
    launcher.given = given
    h0, dummy, NC = launcher.h0, launcher.dummy, plan.n_chunks
    if NC == 1:
        launcher.run_pass((B * H, 1), h0 if h0 is not None else dummy, dummy, inp.h0_mode, True)
        return
    sums = launcher.sums_scan()         # (R, vbasis): the scan makes the maps from sums
    summ = dummy if sums else torch.empty(B * H, NC, K, K + V, dtype=sd, device=inp.device)
    got = launcher.summary_pass(summ)
    if sums:
        summ = got
    need_run = inp.output != "none" or inp.return_states
    starts = torch.empty(B * H, NC, K, V, dtype=sd, device=inp.device) if need_run else summ
    BD, BVD = max(16, plan.BK), max(16, plan.BV)
    extra = {}
    if sums:
        extra = dict(kt=launcher.kt, vt=launcher.vt, HT=inp.HT, R=sums[0], FROM_SUMS=True,
                     VBASIS=sums[1])
    fast(_kern.scan_kernel)[(B * H,)](
        h0 if h0 is not None else dummy, summ, starts, ht, T, plan.chunk_size, H=H, K=K, V=V,
        BD=BD, BVD=BVD, H0_MODE=inp.h0_mode, STORE_STARTS=need_run, ACC=plan.acc,
        num_warps=max(1, min(4, BD * BVD // 256)), num_stages=1, **extra)
    if need_run:
        launcher.run_pass((B * H, NC), dummy, starts, 3, False)


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
    kt, bt, vt, HT = normalize_tables(key_table, beta_table, value_table, None)
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
