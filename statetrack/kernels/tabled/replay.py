"""One construction run on many batches of words of one shape: :class:`TabledRunner`.

A :func:`~statetrack.kernels.tabled.run_tabled` call does the host's work at every call:
the input checks, the plan, the output buffers, five kernel launches at (64, 65536) (about
0.3 ms of host time a call on the device's host against 0.21 ms of kernels; session 28's
``host_profile.py --breakdown``). A runner does that work once, when it is made, and on
CUDA captures the launches in a CUDA graph that each call replays: a call is one copy of
the ids into the runner's input buffer (none when they were written there) and one graph
launch.

What differs from :func:`run_tabled`:

* The shape ``(batch, length)`` and the ids' dtype are fixed when the runner is made.
* **The outputs are the runner's own buffers, overwritten by the next call** (as the
  outputs of any replayed CUDA graph are): clone what must outlive it.
* The tables, initial state, query and codes are read at every call (the graph holds their
  addresses). Their checks, the plan and the code table are made again, and the graph
  captured again, when one of them was written to in place (its version counter, data
  pointer, shape, stride or dtype changed; checked at every call, a few attribute reads) --
  the same rule as :func:`run_tabled`'s checks, with the same blind spots (writes through
  ``.data``, NumPy or DLPack, and tensors made under ``torch.inference_mode``, which have no
  version counter: call :meth:`TabledRunner.rebuild` after writing into those). A rebuild
  costs what a first call of :func:`run_tabled` costs and more (a capture): a runner is for
  fixed tables, not for an initial state that changes at every call.
* A bad symbol id sets a flag that stays set (it is not one call's) until it is reported:
  by the first later call that finds it home (on CUDA the kernels write it into pinned host
  memory, read without waiting), by :meth:`TabledRunner.check` or ``result.check()``
  (which wait), or by a rebuild, each raising
  :class:`~statetrack.kernels.errors.SymbolRangeError` and clearing it. On the CPU
  (Triton's interpreter) the call itself raises, as with ``run_tabled``. A code table miss
  is reported the same way (:class:`~._codes.CodeTableMissError`).
* Calls are meant for one thread. A call on another stream than the previous call's first
  makes its stream wait for that one; code that reads the outputs on a third stream must
  wait for the calling stream itself. Each capture keeps its own pool of device memory for
  the kernels' intermediate buffers (on the order of the outputs' size for chunked runs)
  while the runner lives.

Examples
--------
Parity on batches of four words of length 6 (on the CPU the runner calls the kernels
directly; on CUDA it replays a graph):

>>> import torch
>>> from statetrack.kernels.tabled import TabledRunner
>>> keys = torch.tensor([[[0.0, 0.0]], [[1.0, -1.0]]])      # [2 symbols, n_h=1, K=2]
>>> runner = TabledRunner(keys, torch.tensor([[0.0], [1.0]]), torch.zeros(2, 1, 1),
...                       batch=4, length=6,
...                       initial_state=torch.tensor([[[1.0], [0.0]]]),
...                       query=torch.tensor([0.0, 1.0]))
>>> words = torch.tensor([[1, 1, 0, 1, 0, 0]] * 4)
>>> runner(words).o[0, :, 0, 0].tolist()
[1.0, 0.0, 0.0, 1.0, 1.0, 1.0]
>>> _ = runner.symbols.fill_(0)                              # ids written in place
>>> runner().o[0, :, 0, 0].tolist()
[0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np
import torch

from statetrack.kernels._common import checks as _checks
from statetrack.kernels._common.checks import check_symbols, host_writable, stream_handle
from statetrack.kernels._common.device import device_guard
from statetrack.kernels.errors import KernelDeviceError, KernelInputError, SymbolRangeError
from statetrack.kernels.tabled._codes import CodeTable, CodeTableMissError
from statetrack.kernels.tabled._inputs import ID_DTYPES, allocate_outputs, check_inputs
from statetrack.kernels.tabled._launch import launch
from statetrack.kernels.tabled._plan import Variant, cached_plan
from statetrack.kernels.tabled.tabled import TabledResult, _code_table, _proj_keys

__all__ = ["TabledRunner"]


def _signature(t: torch.Tensor | None) -> tuple | None:
    """What tells that a tensor was written to in place or replaced (None: absent; a
    tensor without a version counter, made under ``torch.inference_mode``, gives its other
    fields only)."""
    if t is None:
        return None
    try:
        return _checks._signature(t)     # the checks' own key of a tensor version
    except RuntimeError:                 # an inference tensor: no version counter
        return (None, t.data_ptr(), t.shape, t.stride(), t.dtype, t.device)


class _Flags:
    """The runner's device flags: what ``launch`` reads (``flags``, ``gen``), written by the
    kernels on a bad id (``[0]``) or a code table miss (``[1]``) and never cleared by them.

    On CUDA the kernels write into pinned host memory when the device can and
    :data:`~statetrack.kernels._common.checks.MAPPED_FLAGS` is on (``mapped``); else into
    device memory copied home after the kernels (``home`` is then that copy's pinned
    target). One set for the runner's life: a rebuild keeps it."""

    GEN = 1

    def __init__(self, device: torch.device) -> None:
        self.gen = self.GEN
        self.cuda = device.type == "cuda"
        self.mapped = self.cuda and _checks.MAPPED_FLAGS and host_writable(device)
        if self.cuda:
            self.home = torch.zeros(4, dtype=torch.int32, pin_memory=True)
            self.flags = self.home if self.mapped else torch.zeros(4, dtype=torch.int32,
                                                                   device=device)
        else:
            self.home = self.flags = torch.zeros(4, dtype=torch.int32)
        self.view = self.home.numpy()    # read without a torch call (a host memory read)

    def bring_home(self) -> None:
        """Queue the copy home (in the graph; nothing when the kernels write home)."""
        if self.cuda and not self.mapped:
            self.home.copy_(self.flags, non_blocking=True)

    def set(self) -> bool:
        return bool(self.view[0] or self.view[1])

    def clear(self) -> None:
        self.home.zero_()
        if self.flags is not self.home:
            self.flags.zero_()


class TabledRunner:
    """``run_tabled`` on words of one shape, made once and called many times (see the module
    docstring for what differs).

    Parameters
    ----------
    key_table, beta_table, value_table : torch.Tensor
        As for :func:`~statetrack.kernels.tabled.run_tabled`; the device is theirs.
    batch, length : int
        The shape ``[batch, length]`` of every call's ids.
    symbols_dtype : torch.dtype
        The ids' integer dtype (default int64; a call's ids must have it).
    initial_state, query, codes, scale, output, return_states, chunk_size, check_beta, \
check_finite_inputs, check_ids, code_table
        As for :func:`run_tabled`. There are no output buffers (the runner owns them) and
        no ``sync_checks``: the tables' value checks run when the runner is made and at
        every rebuild, the ids' on the device at every call (module docstring).
    cuda_graph : bool, optional
        Capture the launches in a CUDA graph and replay it (default: on CUDA). False calls
        the kernels directly at every call (still without the per-call checks and plan).

    Attributes
    ----------
    symbols : torch.Tensor
        ``[batch, length]`` the input buffer every call reads: write ids into it and call
        the runner without arguments to skip the copy.
    calls : int
        Calls so far.

    Raises
    ------
    KernelInputError
        (subclasses) for bad arguments, with :func:`run_tabled`'s messages.

    Examples
    --------
    >>> import torch
    >>> e = torch.eye(3)
    >>> keys = torch.stack([torch.zeros(2, 3), torch.stack([e[1] - e[2], e[0] - e[1]])])
    >>> runner = TabledRunner(keys, torch.tensor([[0.0, 0.0], [1.0, 1.0]]),
    ...                       torch.zeros(2, 2, 1), batch=1, length=5,
    ...                       initial_state=e[:, :1].reshape(1, 3, 1),
    ...                       query=torch.tensor([0.0, 1.0, 2.0]),
    ...                       codes=torch.tensor([[0.0], [1.0], [2.0]]), output="code")
    >>> runner(torch.tensor([[1, 1, 0, 1, 1]])).code[0, :, 0].tolist()
    [1, 2, 2, 0, 1]
    >>> runner(torch.tensor([[0, 1, 0, 0, 1]])).code[0, :, 0].tolist()
    [0, 1, 1, 1, 2]
    """

    def __init__(self, key_table: torch.Tensor, beta_table: torch.Tensor,
                 value_table: torch.Tensor, *, batch: int, length: int,
                 symbols_dtype: torch.dtype = torch.int64,
                 initial_state: torch.Tensor | None = None, query: torch.Tensor | None = None,
                 codes: torch.Tensor | None = None, scale: float = 1.0, output: str = "o",
                 return_states: bool = False, chunk_size: int | None = None,
                 check_beta: bool = True, check_finite_inputs: bool = True,
                 check_ids: bool = True, code_table: CodeTable | str | None = "auto",
                 cuda_graph: bool | None = None) -> None:
        for name, v in (("batch", batch), ("length", length)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise KernelInputError(f"{name}: expected a positive int, got {v!r}")
        if symbols_dtype not in ID_DTYPES:
            raise KernelInputError(
                f"symbols_dtype: expected one of "
                f"{', '.join(str(d).replace('torch.', '') for d in ID_DTYPES)}, got "
                f"{symbols_dtype!r}")
        if not isinstance(key_table, torch.Tensor):
            raise KernelInputError(
                f"key_table: expected a torch.Tensor, got {type(key_table).__name__}")
        if cuda_graph not in (None, True, False):
            raise KernelInputError(f"cuda_graph: expected None, True or False, got "
                                   f"{cuda_graph!r}")
        device = key_table.device
        for name, t in (("beta_table", beta_table), ("value_table", value_table),
                        ("initial_state", initial_state), ("query", query), ("codes", codes)):
            if isinstance(t, torch.Tensor) and t.device != device:
                raise KernelDeviceError(f"{name}: on {t.device}, but key_table is on {device} "
                                        f"(every tensor of a runner on one device)")
        if cuda_graph and device.type != "cuda":
            raise KernelInputError(f"cuda_graph=True: the tables are on {device}, not a CUDA "
                                   f"device")
        self.graphed = device.type == "cuda" if cuda_graph is None else bool(cuda_graph)
        try:
            with torch.inference_mode(False):     # usable outside inference mode too
                self._symbols = torch.zeros(int(batch), int(length), dtype=symbols_dtype,
                                            device=device)
        except (RuntimeError, MemoryError) as exc:    # torch.OutOfMemoryError included
            raise KernelInputError(
                f"batch x length = {int(batch)} x {int(length)}: the ids buffer does not fit "
                f"in memory on {device} ({type(exc).__name__})") from None
        with torch.inference_mode(False):     # cleared in place at every capture
            self._flags = _Flags(device)
        self._buffers: Any = None
        self._stream: int | None = None           # the stream handle of the last call
        self._given = (key_table, beta_table, value_table, initial_state, query, codes)
        self._opts = dict(scale=scale, output=output, return_states=return_states,
                          chunk_size=chunk_size, check_beta=check_beta,
                          check_finite_inputs=check_finite_inputs, check_ids=check_ids)
        self._code_table_arg = code_table
        self.calls = 0
        self._checked = 0                # calls known free of errors
        self._graph: torch.cuda.CUDAGraph | None = None
        self.rebuild()

    @property
    def symbols(self) -> torch.Tensor:
        """``[batch, length]``: the input buffer every call reads (write ids into it, then
        call the runner without arguments; the buffer itself cannot be replaced)."""
        return self._symbols

    # ------------------------------------------------------------------ making it
    def rebuild(self) -> None:
        """Check the inputs, plan and (on CUDA) capture the graph again: done by a call that
        finds an input written to in place; call it after writes the version counter does
        not see (see the module docstring). The output buffers are kept where their shape
        and dtype stay. An error still unreported from earlier calls is raised first (after
        waiting for them)."""
        self._report()                   # before the warm-up below overwrites the flags
        kt, bt, vt, h0, q, codes = self._given
        self._graph = self._signatures = None         # a failed rebuild: the next call retries
        inp = check_inputs(self._symbols, kt, bt, vt, initial_state=h0, query=q, codes=codes,
                           sync_checks=False, **self._opts)
        self.S = inp.S
        with device_guard(inp.device), torch.inference_mode(False):
            buf = allocate_outputs(inp, **self._reusable(inp))
            self._buffers = buf
            plan = _proj_keys(inp, cached_plan(inp, self._opts["chunk_size"], Variant()), kt)
            ct = _code_table(inp, plan.kernel, self._code_table_arg, self._given)
            flags = self._flags if (inp.check_ids_device or ct is not None) else None
            # proj's rows are kept for later calls only by direct calls (a capture holds
            # their kernel; a warm-up's rows, kept under its side stream, would not be used)
            given = None if self.graphed else (kt, bt, vt, q)

            def go() -> None:
                launch(inp, buf, plan, flags, ct, given)
                if flags is not None:
                    flags.bring_home()

            self._go = go
            if self.graphed:
                self._capture(go, inp.device)
        self._signatures = tuple(_signature(t) for t in self._given)
        self._result = _result(buf, plan.chunk_size, ct, _Check(self))

    def _reusable(self, inp: Any) -> dict:
        """The previous output buffers that fit this build (``allocate_outputs``' keywords),
        so that tensors a caller holds stay the runner's outputs across a rebuild."""
        old = self._buffers
        out = dict(o_out=None, code_out=None, states_out=None, final_state_out=None)
        if old is None:
            return out
        want = dict(o_out=("o", (inp.B, inp.T, inp.H, inp.V), inp.output == "o"),
                    code_out=("code", (inp.B, inp.T, inp.H), inp.output == "code"),
                    states_out=("states", (inp.B, inp.T, inp.H, inp.K, inp.V),
                                inp.return_states),
                    final_state_out=("final_state", (inp.B, inp.H, inp.K, inp.V), True))
        for key, (name, shape, used) in want.items():
            t = getattr(old, name)
            dtype = torch.int32 if name == "code" else inp.state_dtype
            if used and t is not None and tuple(t.shape) == shape and t.dtype == dtype:
                out[key] = t
        return out

    def _capture(self, go: Any, device: torch.device) -> None:
        """Warm up on a side stream (compiles the kernels; makes the code table's device
        copies the graph reads), then capture ``go`` there."""
        side = torch.cuda.Stream(device)
        side.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(side):
            go()
        side.synchronize()
        # the warm-up ran on whatever ids the buffer holds (an earlier call's, possibly bad,
        # already reported by rebuild()): its flags mean nothing
        self._flags.clear()
        graph = torch.cuda.CUDAGraph()
        # thread-local: CUDA work of other threads (a loader's pinned allocations) neither
        # breaks this capture nor fails
        with torch.cuda.graph(graph, stream=side, capture_error_mode="thread_local"):
            go()
        torch.cuda.current_stream(device).wait_stream(side)
        self._graph = graph

    # ------------------------------------------------------------------ calling it
    def __call__(self, symbols: torch.Tensor | None = None) -> Any:
        """Run on ``symbols`` (``[batch, length]``, the runner's dtype and device; copied
        into :attr:`symbols`), or on :attr:`symbols` as it stands when None.

        Returns
        -------
        TabledResult
            The runner's output buffers (overwritten by the next call).

        Raises
        ------
        KernelInputError
            ``symbols`` of another shape, dtype, layout or device; or (subclasses such as
            :class:`~statetrack.kernels.errors.NonFiniteInputError`, with
            :func:`run_tabled`'s messages) an input written to in place since the last call
            that no longer passes the checks.
        SymbolRangeError, CodeTableMissError
            An earlier call's (on CUDA) or this call's (on the CPU) bad id or code table
            miss.
        """
        own = self._symbols
        if symbols is not None and symbols is not own:
            self._check_symbols(symbols)
        if self._flags.set():
            self._raise()
        if tuple(_signature(t) for t in self._given) != self._signatures:
            self.rebuild()
        cuda = own.device.type == "cuda"
        with device_guard(own.device):
            if cuda:
                stream = stream_handle(own.device)
                if self._stream is not None and stream != self._stream:
                    # another stream than the last call's: wait for it (its replay may
                    # still read the ids or write the outputs)
                    torch.cuda.current_stream(own.device).wait_stream(
                        torch.cuda.ExternalStream(self._stream, device=own.device))
                self._stream = stream
            if symbols is not None and symbols is not own:
                own.copy_(symbols)
            self.calls += 1
            if self._graph is not None:
                self._graph.replay()
            else:
                self._go()
        if not cuda:
            if self._flags.set():
                self._raise()                # the interpreter has finished: this call's
            self._checked = self.calls
        return self._result

    def check(self) -> "TabledRunner":
        """Wait for the calls so far and raise the error of a bad id or code table miss
        among them, if any (the flag is cleared); returns the runner."""
        self._report()
        return self

    def _report(self) -> None:
        """Wait for the device, then raise a set flag's error (``check``)."""
        if self._flags.cuda:
            torch.cuda.synchronize(self._symbols.device)
        if self._flags.set():
            self._raise()
        self._checked = self.calls

    def _check_symbols(self, symbols: Any) -> None:
        if not isinstance(symbols, torch.Tensor):
            raise KernelInputError(f"symbols: expected a torch.Tensor, got "
                                   f"{type(symbols).__name__}")
        want = self._symbols
        if tuple(symbols.shape) != tuple(want.shape) or symbols.dtype != want.dtype \
                or symbols.device != want.device or symbols.layout != torch.strided:
            raise KernelInputError(
                f"symbols: this runner was made for dense {want.dtype} ids of shape "
                f"{list(want.shape)} on {want.device}, got "
                f"{'' if symbols.layout == torch.strided else str(symbols.layout) + ' '}"
                f"{symbols.dtype} {list(symbols.shape)} on {symbols.device} (make another "
                f"TabledRunner for another shape)")

    def _raise(self) -> None:
        """Raise the set flag's error (after the device has finished), naming the calls it
        may come from, and clear it."""
        f = self._flags
        if f.cuda:
            torch.cuda.synchronize(self._symbols.device)
        bad_id = bool(f.view[0])
        first, last = self._checked + 1, self.calls
        f.clear()
        self._checked = self.calls
        which = f"call {last}" if first == last else f"one of calls {first} .. {last}"
        if bad_id:
            try:
                check_symbols(self._symbols, "symbols", self.S)
            except SymbolRangeError as exc:      # still in the input buffer: named
                raise SymbolRangeError(f"TabledRunner, {which}: {exc}") from None
            raise SymbolRangeError(
                f"TabledRunner, {which}: an id outside 0 .. {self.S - 1} (the table has "
                f"{self.S} symbols) was read by the kernels; the input buffer holds no such "
                f"id now (the call's ids were overwritten since)")
        raise CodeTableMissError(
            f"TabledRunner, {which}: the kernel reached a state whose code the code table "
            f"does not hold (it was made by hand for other inputs, or the arithmetic was not "
            f"exact); make the runner with code_table=None for the nearest-code argmin")


def _result(buf: Any, chunk_size: int, ct: CodeTable | None, check: Any) -> TabledResult:
    return TabledResult(final_state=buf.final_state, o=buf.o, code=buf.code,
                        states=buf.states, chunk_size=chunk_size, code_table=ct,
                        _flags=check)


class _Check:
    """What a runner's result holds for :meth:`TabledResult.check`: the runner's
    :meth:`TabledRunner.check` (it waits for every call so far, not this one only)."""

    def __init__(self, runner: TabledRunner) -> None:
        self.runner = weakref.ref(runner)        # no cycle: a dropped runner frees at once

    def check(self) -> None:
        runner = self.runner()
        if runner is not None:
            runner.check()
