r"""``statetrack check --device``: the catalogue run through the kernels, compared with the DFAs.

:func:`device_check` runs every catalogue language that has a one-layer construction
(:func:`statetrack.constructions.compile`; the others are skipped with a note) on random
words through :func:`statetrack.kernels.run` and counts the positions where the kernel's
accept bit or DFA state differs from the DFA's own run
(:func:`statetrack.kernels.runner.dfa_states`, a numpy loop over time on int arrays), with the
throughput in symbols per second (wall time of :func:`~statetrack.kernels.run`, from host ids
to host results). :func:`format_device_rows` prints the rows.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np
import torch

from statetrack.constructions.export import kernel_n_h
from statetrack.kernels import runner
from statetrack.kernels._common.exactness import warn_if_inexact
from statetrack.kernels._common.device import resolve_device, resolve_dtype
from statetrack.kernels.errors import KernelInputError

__all__ = ["device_check", "DeviceCheckRow", "format_device_rows", "DEFAULT_LENGTH",
           "DEFAULT_BATCH"]

#: :func:`device_check` defaults by device type.
DEFAULT_LENGTH = {"cuda": 10 ** 6, "cpu": 2000}
DEFAULT_BATCH = {"cuda": 4, "cpu": 2}


@dataclass
class DeviceCheckRow:
    """One language of ``statetrack check --device``.

    Attributes
    ----------
    name : str
        The catalogue entry.
    backend : str
        What ran (:attr:`statetrack.kernels.RunOutput.backend`), or ``"-"`` when skipped.
    length, batch : int
        Word length and number of words actually run (0 when skipped).
    mismatches : int or None
        Positions ``(word, t)``, ``t = 0 .. T``, where the accept bit or the DFA state differ
        from the DFA's run (must be 0); None when skipped or failed.
    symbols_per_s : float or None
        ``batch * length / seconds``.
    kernel : str
        Per-layer kernels, joined by ``"+"``.
    seconds : float
        Wall time of :func:`~statetrack.kernels.run` (after an untimed warm-up run on CUDA,
        so without Triton's compilation; see :func:`device_check`'s ``warmup``).
    note : str
        Why it was skipped, capped or failed.
    status : str
        ``"ok"``, ``"FAIL"`` (mismatches), ``"skipped"`` or ``"error"``.
    form : str
        The construction's form (``"permutation"``, ``"faithful"``), ``""`` when skipped
        before compiling.
    """

    name: str
    backend: str
    length: int
    batch: int
    mismatches: int | None
    symbols_per_s: float | None
    kernel: str = ""
    seconds: float = 0.0
    note: str = ""
    status: str = "ok"
    form: str = ""

    @property
    def ok(self) -> bool:
        """Not a failure (``ok`` or ``skipped``)."""
        return self.status in ("ok", "skipped")


def device_check(entries: Iterable[Any], device: Any, *, length: int | None = None,
                 batch: int | None = None, rng: np.random.Generator,
                 kernel: str = "auto", dtype: Any = torch.bfloat16,
                 cpu_substep_budget: int = 20_000, form: str = "auto",
                 warmup: bool | None = None) -> list[DeviceCheckRow]:
    """Run catalogue languages through :func:`~statetrack.kernels.run` on random words and
    count mismatches.

    Parameters
    ----------
    entries : iterable of catalogue entries
        Objects with ``name`` and ``dfa`` (:func:`statetrack.automata.families.catalogue`).
    device : "cuda", "cpu", "auto", ...
    length : int, optional
        Word length; default :data:`DEFAULT_LENGTH` (10^6 on CUDA, 2000 on the CPU). On the
        CPU it is capped at ``max(16, cpu_substep_budget // (n_h * ceil(K / 128)))`` tokens
        per language (the reference runs each GH sub-step from Python, and wide states cost
        more; the row's note says so).
    batch : int, optional
        Words per language; default :data:`DEFAULT_BATCH` (4 on CUDA, 2 on the CPU).
    rng : numpy.random.Generator
        Draws the words (uniform ids).
    kernel : str
        Passed to :func:`~statetrack.kernels.run`; on CUDA a language whose width no Triton
        kernel supports (``K > 256``) is skipped with a note rather than sent to the slow
        reference.
    dtype : torch dtype or name
        Kernel input dtype (default bfloat16).
    cpu_substep_budget : int
        See ``length``.
    form : {"auto", "permutation", "faithful"}
        Which construction runs (``form`` of :func:`statetrack.constructions.compile`): the
        Theorem 3 form on the DFA's states, its faithful form (a permutation representation
        on cosets, often much narrower: S_5 on 5 points instead of 120), or ``"auto"``
        (default), the narrower of the two (then fewer sub-steps; the permutation form on
        ties; the faithful form is searched only for groups of at most
        :data:`~statetrack.constructions.compile.AUTO_FAITHFUL_LIMIT` elements). A language
        whose group is too large for ``"faithful"`` is skipped with a note.
    warmup : bool, optional
        Run every language once untimed before the timed run, so that ``seconds`` and
        ``symbols_per_s`` leave out Triton's compilation; default: on CUDA only.

    Returns
    -------
    list of DeviceCheckRow
        One per entry, in order. Languages whose transition monoid is not a group run as
        Theorem 4's cascade stack whatever ``form`` says (``form`` chooses among the group
        forms).

    Examples
    --------
    >>> from statetrack.automata.families import catalogue
    >>> entries = [e for e in catalogue() if e.name in ("parity", "at_least(3)")]
    >>> rows = device_check(entries, "cpu", length=50, batch=2, kernel="reference",
    ...                     rng=np.random.default_rng(0))
    >>> [(r.name, r.status, r.mismatches, r.backend) for r in rows]
    [('parity', 'ok', 0, 'reference'), ('at_least(3)', 'ok', 0, 'reference')]
    """
    from statetrack.automata.errors import MonoidLimitError
    from statetrack.constructions import compile
    from statetrack.constructions.group import is_group_dfa
    from statetrack.kernels.delta_product.fused_recurrent import MAX_K

    if not isinstance(rng, np.random.Generator):
        raise KernelInputError(f"rng: expected a numpy.random.Generator, got "
                               f"{type(rng).__name__}")
    dev = resolve_device(device)
    dt = resolve_dtype(dtype)
    kind = "cuda" if dev.type == "cuda" else "cpu"
    T0 = DEFAULT_LENGTH[kind] if length is None else length
    B = DEFAULT_BATCH[kind] if batch is None else batch
    for name, val in (("length", T0), ("batch", B)):
        if isinstance(val, bool) or not isinstance(val, int) or val < 1:
            raise KernelInputError(f"{name}: expected an int >= 1, got {val!r}")
    if form not in ("auto", "permutation", "faithful"):
        raise KernelInputError(f"form: expected 'auto', 'permutation' or 'faithful', got "
                               f"{form!r}")
    warm = (kind == "cuda") if warmup is None else bool(warmup)
    rows: list[DeviceCheckRow] = []
    for e in entries:
        try:
            lrnn = compile(e.dfa, name=e.name,
                           form=form if is_group_dfa(e.dfa) else "cascade")
        except MonoidLimitError as err:
            rows.append(DeviceCheckRow(e.name, "-", 0, 0, None, None, status="skipped",
                                       note=f"no {form} form: {err}"))
            continue
        if kind == "cuda" and kernel in ("auto", "recurrent", "tabled") and lrnn.width > MAX_K:
            rows.append(DeviceCheckRow(e.name, "-", 0, 0, None, None, status="skipped",
                                       note=f"K={lrnn.width} exceeds the Triton kernels' "
                                            f"K <= {MAX_K}", form=lrnn.form))
            continue
        T, note = T0, ""
        if kind == "cpu":
            # kernel_n_h: the kernels run one identity step for a layer with n_h = 0
            cost = sum(kernel_n_h(layer) * math.ceil(layer.width / 128)
                       for layer in lrnn.layers)
            cap = max(16, cpu_substep_budget // cost)
            if T > cap:
                T, note = cap, (f"length capped from {T0} to {cap} on the CPU "
                                f"(n_h={lrnn.n_h} sub-steps a token, K={lrnn.width})")
        mini = e.dfa.minimize()
        perm = np.array([mini.alphabet.index(s) for s in lrnn.alphabet], dtype=np.int64)
        ids = rng.integers(0, lrnn.n_symbols, size=(B, T), dtype=np.int64)
        try:
            # the float exactness proof run does first (cached on the model): not timed
            warn_if_inexact(lrnn, dt, "statetrack check --device")
            if warm:
                runner.run(lrnn, ids, device=dev, dtype=dt, kernel=kernel)
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            t0 = time.perf_counter()
            out = runner.run(lrnn, ids, device=dev, dtype=dt, kernel=kernel)
            secs = time.perf_counter() - t0
        except Exception as err:  # noqa: BLE001 -- reported in the row, not a crash
            rows.append(DeviceCheckRow(e.name, "-", T, B, None, None, status="error",
                                       note=f"{type(err).__name__}: {err}", form=lrnn.form))
            continue
        want_states, want_acc = runner.dfa_states(mini, perm[ids])
        bad = out.accepted != want_acc
        if out.states is not None:
            bad |= out.states != want_states
        mism = int(bad.sum())
        rows.append(DeviceCheckRow(
            e.name, out.backend, T, B, mism, B * T / secs if secs > 0 else math.inf,
            kernel="+".join(out.kernels), seconds=secs, note=note,
            status="ok" if mism == 0 else "FAIL", form=lrnn.form))
    return rows


def format_device_rows(rows: Sequence[DeviceCheckRow]) -> str:
    """The rows of :func:`device_check` as a text table.

    Examples
    --------
    >>> print(format_device_rows([DeviceCheckRow("parity", "reference", 2000, 2, 0, 1.5e4,
    ...                                          kernel="reference", form="permutation")]))
    language  form         backend    kernel     length  batch  mismatches  symbols/s  status  note
    --------  -----------  ---------  ---------  ------  -----  ----------  ---------  ------  ----
    parity    permutation  reference  reference  2000    2      0           1.50e+04   ok
    """
    header = ["language", "form", "backend", "kernel", "length", "batch", "mismatches",
              "symbols/s", "status", "note"]
    body = [[r.name, r.form or "-", r.backend, r.kernel or "-", str(r.length), str(r.batch),
             "-" if r.mismatches is None else str(r.mismatches),
             "-" if r.symbols_per_s is None else f"{r.symbols_per_s:.2e}", r.status, r.note]
            for r in rows]
    widths = [max([len(h)] + [len(b[i]) for b in body]) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip(),
             "  ".join("-" * w for w in widths).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(b, widths)).rstrip() for b in body]
    return "\n".join(lines)
