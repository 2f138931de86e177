r"""Train one model on one task and evaluate it at the test lengths: ``python -m experiments.train``.

One run = one :class:`TrainConfig` (a frozen dataclass: no global state; every field is a
command-line option, ``--help`` lists them). The run

1. builds the task (:func:`experiments.tasks.make_task`) and the model
   (:func:`experiments.model.build_model`, weights from ``torch.Generator().manual_seed(seed)``;
   ``init="construction"`` then applies :func:`experiments.initializer.init_from_construction`;
   ``init="construction_closed"`` the same with the identity sub-steps' beta gates closed,
   ``identity_logit=-20``, which survives the first optimizer steps);
2. trains with AdamW (weight decay on matrices, not on norms, embeddings' siblings or initial
   states), a linear warm-up over ``warmup_frac`` of the steps then a cosine decay to
   ``min_lr``, and gradient clipping at ``grad_clip`` — the paper's recipe. Every step draws a
   fresh batch (lengths uniform in ``[train_min_length, train_max_length]``) from
   ``numpy.random.default_rng([seed, rank, step])``, so a resumed run sees the same data;
3. checkpoints every ``checkpoint_every`` steps (model, optimizer, schedule, step, loss curve)
   to ``<out>/<name>/checkpoint.pt`` and resumes from it when it exists. With
   ``eval_every > 0`` it also evaluates at ``curve_lengths`` every ``eval_every`` steps
   (``eval_curve`` in the results, whose last point is the final evaluation: does the
   accuracy at long lengths still rise?). Rank 0
   writes ``<out>/<name>/progress.json`` (step, seconds, steps a second, loss) at most every
   :data:`PROGRESS_SECONDS`, so a run stopped by a time limit still tells how far it got;
4. evaluates at every test length (one batch shape per length: no padding), on test sets drawn
   from a seed shared by all runs, and writes ``<out>/<name>/results.json``: accuracy and
   scaled accuracy per length (and, for per-position tasks, sequence accuracy), the loss curve,
   device, versions and git commit. The kernel and device may change on resume, so
   ``training_segments`` says which kernel, device, number of processes and chunk size
   trained which steps (``[{"from", "to", "kernel", "device", "processes", "chunk_size"}]``,
   kept in the checkpoint; one with ``None`` fields for steps of a checkpoint written before
   segments were recorded), and
   ``eval_kernel`` which kernel this invocation evaluated with; a finished run resumed with
   another ``--kernel`` trains nothing and adds no segment.

Distributed: under ``torchrun --nproc_per_node N`` every process trains on ``batch_size / N``
examples with PyTorch's DistributedDataParallel (NCCL on GPUs, gloo on CPUs) and the test
lengths are shared out between processes; rank 0 writes the files. Without ``torchrun`` it
runs in one process on ``device`` (``"auto"``: CUDA when present).

Examples
--------
A two-step run on the CPU (what ``--smoke`` does, smaller):

>>> import tempfile
>>> cfg = TrainConfig(task="parity", num_layers=1, hidden_size=8, num_heads=2, steps=2,
...                   batch_size=4, eval_lengths=(40,), eval_examples=4, progress=False,
...                   out=tempfile.mkdtemp(), name="doc")
>>> res = run(cfg)
>>> res["steps_done"], [r["length"] for r in res["eval"]], len(res["loss_curve"]["loss"])
(2, [40], 2)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F

from experiments.model import CHUNK_SIZES, ModelConfig, build_model, valid_chunk_size
from experiments.tasks import IGNORE, Task, make_task, pad_examples

__all__ = ["TrainConfig", "run", "evaluate", "main", "parse_lengths", "ConfigError",
           "PAPER_TEST_LENGTHS", "INITS", "smoke_config", "cpu_kernel_note"]

ROOT = Path(__file__).resolve().parents[1]
#: Every test length of the paper (40 .. 256).
PAPER_TEST_LENGTHS = tuple(range(40, 257))
#: Initializations (``TrainConfig.init``).
INITS = ("random", "construction", "construction_closed")
#: Least seconds between two writes of a run's ``progress.json``.
PROGRESS_SECONDS = 10.0
#: Training steps before ``profile_steps`` starts (compiles and allocator warm-up).
PROFILE_WARMUP = 10
#: Seed of the test sets (the same for every run, so that runs are compared on one test set).
EVAL_SEED = 20250101


class ConfigError(ValueError):
    """A :class:`TrainConfig` field is invalid, or a checkpoint belongs to another config."""


@dataclass(frozen=True)
class TrainConfig:
    """One training run (every field is a command-line option of ``experiments.train``).

    Model fields mirror :class:`experiments.model.ModelConfig`; ``init`` is one of
    :data:`INITS`: ``"random"``, ``"construction"`` (the construction as committed: identity
    sub-steps with beta logit 0) or ``"construction_closed"`` (identity sub-steps' logit
    ``-20``: the first AdamW steps no longer turn their zero keys into state-erasing
    projections; see :mod:`experiments.initializer`). Lengths are the paper's (see
    :mod:`experiments.tasks`).
    ``stop_after > 0`` stops (checkpointed, not evaluated) after that many steps, as an
    interrupted run would; rerunning without it resumes.
    """

    task: str = "parity"
    layer: str = "deltaproduct"
    num_layers: int = 2
    hidden_size: int = 128
    num_heads: int = 4
    num_householder: int = 1
    eigen_range: str = "[-1,1]"
    use_short_conv: bool = True
    activation: str = "silu"
    use_output_norm: bool = True
    learn_initial_state: bool = False
    mlp_ratio: int = 4
    kernel: str = "auto"
    chunk_size: int = 16
    init: str = "random"
    seed: int = 0
    steps: int = 1000
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.1
    warmup_frac: float = 0.1
    min_lr: float = 1e-6
    grad_clip: float = 1.0
    train_min_length: int = 3
    train_max_length: int = 40
    eval_lengths: tuple[int, ...] = tuple(range(40, 257, 8))
    eval_examples: int = 512
    eval_batch_size: int = 512
    eval_at_start: bool = False
    eval_every: int = 0
    curve_lengths: tuple[int, ...] = (40, 128, 256)
    checkpoint_every: int = 500
    log_every: int = 10
    amp: bool = False
    device: str = "auto"
    out: str = "experiments/results/runs"
    name: str = ""
    resume: bool = True
    progress: bool = True
    stop_after: int = 0
    profile_steps: int = 0
    cuda_graph: bool = False

    def __post_init__(self) -> None:
        if self.init not in INITS:
            raise ConfigError(f"init: expected one of {INITS}, got {self.init!r}")
        for name in ("steps", "batch_size", "eval_examples", "eval_batch_size", "log_every",
                     "train_min_length", "train_max_length"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"{name}: expected an int >= 1, got {v!r}")
        if self.train_max_length < self.train_min_length:
            raise ConfigError("train_max_length: must be >= train_min_length")
        if not self.eval_lengths or any(int(L) < 1 for L in self.eval_lengths):
            raise ConfigError(f"eval_lengths: expected positive lengths, got {self.eval_lengths}")
        if not self.curve_lengths or any(int(L) < 1 for L in self.curve_lengths):
            raise ConfigError(f"curve_lengths: expected positive lengths, got "
                              f"{self.curve_lengths}")
        for name in ("eval_every", "profile_steps", "stop_after", "checkpoint_every"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ConfigError(f"{name}: expected an int >= 0, got {v!r}")
        # numpy's and torch's generators take seeds in [0, 2**64); outside, the run would end
        # in their exception, not in an error naming the option
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) \
                or not 0 <= self.seed < 2 ** 64:
            raise ConfigError(f"seed: expected an int in [0, 2**64), got {self.seed!r}")
        for name in ("lr", "min_lr", "grad_clip"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and v > 0):
                raise ConfigError(f"{name}: expected a positive number, got {v!r}")
            if not math.isfinite(v):
                raise ConfigError(f"{name}: expected a finite positive number, got {v!r}")
        wd = self.weight_decay
        if not (isinstance(wd, (int, float)) and math.isfinite(wd) and wd >= 0):
            raise ConfigError(f"weight_decay: expected a finite number >= 0, got {wd!r}")
        if not 0 <= self.warmup_frac < 1:
            raise ConfigError(f"warmup_frac: expected a number in [0, 1), got {self.warmup_frac}")
        if not valid_chunk_size(self.chunk_size):
            # checked here too (ModelConfig checks it when the run starts): a bad value is an
            # argparse error before anything starts, whatever the layer or the kernel
            raise ConfigError(f"chunk_size: expected one of {CHUNK_SIZES}, got "
                              f"{self.chunk_size!r}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ConfigError(f"device: expected 'auto', 'cpu' or 'cuda', got {self.device!r}")
        if self.name and (Path(self.name).name != self.name or self.name in (".", "..")):
            raise ConfigError(f"name: expected a plain folder name (no '/' or '..'), got "
                              f"{self.name!r}")

    @property
    def run_name(self) -> str:
        """``name``, or one made of the fields that tell runs of a grid apart."""
        if self.name:
            return self.name
        nh = f"-nh{self.num_householder}" if self.num_householder > 1 else ""
        rng = "pm1" if self.eigen_range == "[-1,1]" else "01"
        return (f"{self.task}-{self.layer}{nh}-{rng}-L{self.num_layers}-D{self.hidden_size}"
                f"-{self.init}-lr{self.lr:g}-s{self.seed}")

    def model_config(self, task: Task) -> ModelConfig:
        """The :class:`ModelConfig` of this run on ``task``: every field the two classes share
        by name is taken from this configuration, the vocabulary and classes from ``task``."""
        mine = {f.name for f in fields(self)}
        shared = {f.name: getattr(self, f.name) for f in fields(ModelConfig) if f.name in mine}
        return ModelConfig(vocab_size=task.vocab_size, num_classes=task.num_classes, **shared)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        d = asdict(self)
        d["eval_lengths"] = list(self.eval_lengths)
        d["curve_lengths"] = list(self.curve_lengths)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        """Inverse of :meth:`to_dict` (unknown keys rejected)."""
        known = {f.name for f in fields(cls)}
        bad = sorted(set(d) - known)
        if bad:
            raise ConfigError(f"unknown TrainConfig fields {bad}")
        d = dict(d)
        for key in ("eval_lengths", "curve_lengths"):
            if key in d:
                d[key] = tuple(int(x) for x in d[key])
        return cls(**d)


#: Fields that may differ between a checkpoint and the run resuming it.
_RESUME_FREE = {"eval_lengths", "eval_examples", "eval_batch_size", "eval_at_start",
                "eval_every", "curve_lengths",
                "checkpoint_every", "log_every", "out", "resume", "progress", "device", "kernel",
                "chunk_size", "stop_after", "profile_steps", "cuda_graph"}


def smoke_config(**over: Any) -> TrainConfig:
    """A tiny two-step CPU configuration (``--smoke``), updated with ``over``."""
    base = dict(num_layers=1, hidden_size=16, num_heads=2, steps=2, batch_size=8,
                eval_lengths=(40, 48), eval_examples=8, eval_batch_size=8, checkpoint_every=1,
                log_every=1, device="cpu", progress=False)
    base.update(over)
    return TrainConfig(**base)


# ============================================================================ utilities
def check_folder(path: str | Path, what: str) -> None:
    """Raise :class:`ConfigError` naming ``what`` if ``path`` cannot be a folder: it, or the
    nearest of its parents that exists, is a file (``mkdir`` would fail deep inside a run).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile() as f:
    ...     check_folder(f.name + "/runs", "out")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    experiments.train.ConfigError: out: '...' is a file, not a folder
    >>> check_folder(tempfile.gettempdir(), "out")
    """
    p = Path(path).absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    if p.exists() and not p.is_dir():
        raise ConfigError(f"{what}: {str(p)!r} is a file, not a folder")


def parse_lengths(spec: str, what: str = "eval_lengths") -> tuple[int, ...]:
    """``"40,64,128"`` or ``"start:stop:step"`` (stop inclusive) or ``"paper"`` (40..256);
    ``what`` names the field in the :class:`ConfigError` (empty: no name).

    >>> parse_lengths("40:56:8"), parse_lengths("3,5")
    ((40, 48, 56), (3, 5))
    """
    spec = spec.strip()
    if spec == "paper":
        return PAPER_TEST_LENGTHS
    try:
        if ":" in spec:
            a, b, *c = (int(x) for x in spec.split(":"))
            if len(c) > 1:
                raise ValueError
            lengths = tuple(range(a, b + 1, c[0] if c else 1))
        else:
            lengths = tuple(int(x) for x in spec.split(","))
    except ValueError:
        raise ConfigError(f"{what}{': ' if what else ''}cannot parse {spec!r} (use '40,64' or "
                          "'40:256:8' or 'paper')") from None
    if not lengths:
        raise ConfigError(f"{what}{': ' if what else ''}{spec!r} gives no length "
                          "(start > stop?)")
    return lengths


def _lengths_arg(spec: str) -> tuple[int, ...]:
    # argparse reports a ValueError as "invalid <function name> value"; this keeps the message
    # (without a field name: argparse's "argument --curve-lengths: " names the option)
    try:
        return parse_lengths(spec, what="")
    except ConfigError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def cpu_kernel_note(kernel: str, device: str) -> str | None:
    """A note when a Triton kernel is asked for where there is no CUDA device: it then runs
    through Triton's interpreter (``TRITON_INTERPRET=1``, set by :mod:`statetrack.kernels`),
    which is correct but many times slower than ``--kernel reference``; None otherwise.

    >>> cpu_kernel_note("reference", "cpu") is None, cpu_kernel_note("auto", "cpu") is None
    (True, True)
    >>> "interpreter" in cpu_kernel_note("chunk", "cpu")
    True
    """
    on_cpu = device == "cpu" or (device == "auto" and not torch.cuda.is_available())
    if on_cpu and kernel in ("chunk", "recurrent"):
        return (f"note: kernel {kernel!r} on the CPU runs through Triton's interpreter: "
                "correct but slow (--kernel reference is the CPU default)")
    return None


def _git_commit() -> dict[str, Any]:
    # STATETRACK_COMMIT wins: a copied working tree (a GPU machine's) may carry a .git whose
    # HEAD is older than the files sent with it
    if os.environ.get("STATETRACK_COMMIT"):
        return {"commit": os.environ["STATETRACK_COMMIT"], "dirty": None,
                "commit_from": "STATETRACK_COMMIT"}
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=ROOT, capture_output=True, text=True, timeout=10)
        if head.returncode == 0:
            return {"commit": head.stdout.strip(), "dirty": bool(dirty.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        pass
    return {"commit": os.environ.get("STATETRACK_COMMIT"), "dirty": None}


def _environment(device: torch.device, world: int) -> dict[str, Any]:
    import statetrack

    env: dict[str, Any] = {
        "device": (torch.cuda.get_device_name(device) if device.type == "cuda"
                   else platform.processor() or platform.machine()),
        "device_type": device.type, "world_size": world, "python": platform.python_version(),
        "torch": torch.__version__, "numpy": np.__version__,
        "statetrack": getattr(statetrack, "__version__", None), **_git_commit()}
    try:
        import triton

        env["triton"] = triton.__version__
    except ImportError:
        env["triton"] = None
    return env


def _setup_distributed(pref: str) -> tuple[int, int, torch.device]:
    """``(rank, world, device)``; joins the process group under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    want_cuda = pref == "cuda" or (pref == "auto" and torch.cuda.is_available())
    if pref == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device: 'cuda' requested but CUDA is not available")
    if world == 1:
        return 0, 1, torch.device("cuda" if want_cuda else "cpu")
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if want_cuda:
        torch.cuda.set_device(local)
        device = torch.device("cuda", local)
    else:
        device = torch.device("cpu")
    if not dist.is_initialized():
        dist.init_process_group("nccl" if want_cuda else "gloo")
    return rank, world, device


def _param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (decay if p.ndim >= 2 and "initial_state" not in name and "embedding" not in name
         else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


def _lr_lambda(cfg: TrainConfig):
    warm = int(round(cfg.warmup_frac * cfg.steps))
    floor = cfg.min_lr / cfg.lr

    def f(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        t = (step - warm) / max(1, cfg.steps - warm)
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))

    return f


def _scheduler(opt: torch.optim.Optimizer, cfg: TrainConfig
               ) -> torch.optim.lr_scheduler.LambdaLR:
    """The warm-up + cosine schedule. With a tensor learning rate (a CUDA graph replays the
    optimizer's kernels, which read it from the device) LambdaLR fills the tensor in place;
    its base rates are kept as Python floats, so that computing a step's rate does not read
    a device tensor back (a synchronisation every step).

    >>> p = torch.nn.Parameter(torch.zeros(2))
    >>> opt = torch.optim.AdamW([p], lr=torch.tensor(1e-3))
    >>> cfg = TrainConfig(steps=10, lr=1e-3, warmup_frac=0.5)
    >>> sched = _scheduler(opt, cfg)
    >>> sched.base_lrs, [round(float(opt.param_groups[0]["lr"]), 6) for _ in range(1)]
    ([0.001], [0.0002])
    """
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _lr_lambda(cfg))
    if any(isinstance(g["lr"], torch.Tensor) for g in opt.param_groups):
        sched.base_lrs = [float(cfg.lr)] * len(opt.param_groups)
    return sched


def _to_device(a: np.ndarray, device: torch.device) -> torch.Tensor:
    t = torch.from_numpy(a)
    return t.pin_memory().to(device, non_blocking=True) if device.type == "cuda" else t


@torch.no_grad()
def evaluate(model: torch.nn.Module, task: Task, lengths: Sequence[int], *, examples: int,
             batch_size: int, device: torch.device, amp: bool = False,
             seed: int = EVAL_SEED) -> list[dict[str, Any]]:
    """Accuracy per test length (batched by length; the test set of length L is drawn from
    ``default_rng([seed, L])``).

    Returns one dict per length: ``length``, ``n``, ``accuracy`` (of the label at the last
    scored position: the answer, or the state after the whole sequence), ``scaled_accuracy``,
    and for per-position tasks ``sequence_accuracy`` (every position right) and
    ``token_accuracy``.
    """
    was = model.training
    model.eval()
    rows = []
    for L in lengths:
        rng = np.random.default_rng([seed, int(L)])
        hit = seq = tok_hit = tok_n = 0
        n_done = 0
        while n_done < examples:
            n = min(batch_size, examples - n_done)
            ex = task.sample(rng, n, int(L), int(L))
            x, y = _to_device(ex.tokens, device), _to_device(ex.targets, device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                pred = model(x).argmax(-1)
            scored = y != IGNORE
            right = (pred == y) & scored
            last = scored.shape[1] - 1 - scored.flip(1).int().argmax(1)   # last scored position
            ar = torch.arange(n, device=device)
            hit += int(right[ar, last].sum())
            seq += int((right | ~scored).all(1).sum())
            tok_hit += int(right.sum())
            tok_n += int(scored.sum())
            n_done += n
        acc = hit / examples
        row = {"length": int(L), "n": examples, "accuracy": acc,
               "scaled_accuracy": task.scaled(acc)}
        if task.per_position:
            row["sequence_accuracy"] = seq / examples
            row["token_accuracy"] = tok_hit / tok_n
        rows.append(row)
    model.train(was)
    return rows


def _eval_all(model: torch.nn.Module, task: Task, cfg: TrainConfig, rank: int, world: int,
              device: torch.device, lengths: Sequence[int] | None = None
              ) -> list[dict[str, Any]]:
    mine = list(cfg.eval_lengths if lengths is None else lengths)[rank::world]
    rows = evaluate(model, task, mine, examples=cfg.eval_examples,
                    batch_size=cfg.eval_batch_size, device=device, amp=cfg.amp)
    if world > 1:
        gathered: list[Any] = [None] * world
        dist.all_gather_object(gathered, rows)
        rows = [r for part in gathered for r in part]
    return sorted(rows, key=lambda r: r["length"])


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    sc = [r["scaled_accuracy"] for r in rows]
    out = {"mean_scaled_accuracy": float(np.mean(sc)), "min_scaled_accuracy": float(np.min(sc)),
           "mean_accuracy": float(np.mean([r["accuracy"] for r in rows]))}
    if "sequence_accuracy" in rows[0]:
        out["mean_sequence_accuracy"] = float(np.mean([r["sequence_accuracy"] for r in rows]))
    return out


def _train_step(net: torch.nn.Module, model: torch.nn.Module, opt: torch.optim.Optimizer,
                x: torch.Tensor, y: torch.Tensor, cfg: TrainConfig) -> torch.Tensor:
    """Forward, loss, backward, clipping, AdamW (the caller zeroes the gradients); the loss."""
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=cfg.amp,
                        cache_enabled=False):
        logits = net(x)
    loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1),
                           ignore_index=IGNORE)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
    opt.step()
    return loss


class _GraphStep:
    """The training step (:func:`_train_step`) captured once as a CUDA graph and replayed
    (``cuda_graph=True``): the models are small, so an eager step is bound by launching its
    kernels one by one from Python, which a replay does at once.

    Every batch is right-padded to one width (:meth:`experiments.tasks.Task.width` of the
    longest training length; PAD tokens and ignored targets: the same loss for these causal
    models), copied into the graph's input buffers, and the graph replayed. The first
    :attr:`WARMUP` steps run eagerly on a side stream (they compile the kernels and let the
    allocator and AdamW's state settle, as CUDA graph capture requires), then the step is
    captured with the gradients set to None, so that the captured backward writes them
    instead of accumulating. ``emulate=True`` (CPU tests) runs the same data path with the
    capture replaced by an eager call on the static buffers.
    """

    WARMUP = 3

    def __init__(self, net: torch.nn.Module, model: torch.nn.Module,
                 opt: torch.optim.Optimizer, cfg: TrainConfig, task: Task,
                 device: torch.device, emulate: bool = False) -> None:
        self.net, self.model, self.opt, self.cfg, self.task = net, model, opt, cfg, task
        self.device, self.emulate = device, emulate
        self.width = task.width(cfg.train_max_length)
        self.n = 0
        self.graph: Any = None
        self.sx = self.sy = self.sloss = None

    def _eager(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self.opt.zero_grad(set_to_none=True)
        return _train_step(self.net, self.model, self.opt, x, y, self.cfg)

    def __call__(self, ex: Any) -> torch.Tensor:
        ex = pad_examples(self.task, ex, self.width)
        x, y = _to_device(ex.tokens, self.device), _to_device(ex.targets, self.device)
        if self.graph is None and self.n < self.WARMUP:
            self.n += 1
            if self.emulate:
                return self._eager(x, y).detach()
            side = torch.cuda.Stream(self.device)
            side.wait_stream(torch.cuda.current_stream(self.device))
            with torch.cuda.stream(side):
                loss = self._eager(x, y).detach()
            torch.cuda.current_stream(self.device).wait_stream(side)
            return loss
        if self.graph is None:
            self.sx, self.sy = x.clone(), y.clone()
            if self.emulate:
                self.graph = lambda: self._eager(self.sx, self.sy)
            else:
                self.opt.zero_grad(set_to_none=True)
                self.graph = torch.cuda.CUDAGraph()
                with torch.cuda.graph(self.graph):
                    self.sloss = _train_step(self.net, self.model, self.opt, self.sx, self.sy,
                                             self.cfg)
        else:
            self.sx.copy_(x, non_blocking=True)
            self.sy.copy_(y, non_blocking=True)
        if self.emulate:
            self.sloss = self.graph()
        else:
            self.graph.replay()
        return self.sloss.detach().clone()


class _Profile:
    """torch.profiler over some training steps; :meth:`finish` writes what a step costs."""

    def __init__(self, device: torch.device) -> None:
        from torch.profiler import ProfilerActivity, profile

        acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda"
                                         else [])
        self.device = device
        self._sync()
        self.prof = profile(activities=acts)
        self.prof.start()
        self.t0 = time.perf_counter()

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def finish(self, steps: int, run_dir: Path) -> dict[str, Any]:
        self._sync()
        wall = time.perf_counter() - self.t0
        self.prof.stop()
        ev = self.prof.key_averages()

        def dev(e: Any) -> float:
            return float(getattr(e, "self_device_time_total", 0.0) or 0.0)
        kernels = [e for e in ev if dev(e) > 0]
        summary = {
            "steps": steps, "device": str(self.device),
            "wall_ms_per_step": 1e3 * wall / steps,
            "device_busy_ms_per_step": sum(dev(e) for e in kernels) / 1e3 / steps,
            "kernels_per_step": sum(e.count for e in kernels) / steps,
            "top_device": [{"name": e.key[:80], "ms_per_step": dev(e) / 1e3 / steps,
                            "calls_per_step": e.count / steps}
                           for e in sorted(kernels, key=dev, reverse=True)[:15]],
            "top_cpu": [{"name": e.key[:80], "self_cpu_ms_per_step":
                         e.self_cpu_time_total / 1e3 / steps, "calls_per_step": e.count / steps}
                        for e in sorted(ev, key=lambda e: e.self_cpu_time_total,
                                        reverse=True)[:15]],
        }
        _atomic_json(summary, run_dir / "profile.json")
        sort = "self_cuda_time_total" if kernels else "self_cpu_time_total"
        (run_dir / "profile.txt").write_text(ev.table(sort_by=sort, row_limit=30))
        return summary


def _atomic_save(obj: Any, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _atomic_json(obj: Any, path: Path) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(obj, indent=1) + "\n")
    os.replace(tmp, path)


# ============================================================================ the run
def run(cfg: TrainConfig) -> dict[str, Any]:
    """Train and evaluate one configuration (module docstring); return the results dict
    (also written to ``<out>/<run_name>/results.json`` by rank 0).

    Raises
    ------
    ConfigError
        A bad field, a batch size not divisible by the number of processes, or a checkpoint
        written by a different configuration.
    """
    from tqdm.auto import tqdm

    check_folder(cfg.out, "out")
    rank, world, device = _setup_distributed(cfg.device)
    if cfg.batch_size % world:
        raise ConfigError(f"batch_size: {cfg.batch_size} is not divisible by the "
                          f"{world} processes")
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    task = make_task(cfg.task)
    mcfg = cfg.model_config(task)
    model = build_model(mcfg, device="cpu", generator=torch.Generator().manual_seed(cfg.seed))
    init_info = None
    if cfg.init != "random":
        from experiments.initializer import init_from_construction

        closed = cfg.init == "construction_closed"
        init_info = asdict(init_from_construction(model, task,
                                                  identity_logit=-20.0 if closed else 0.0))
    model = build_model_to(model, mcfg, device)
    use_graph = cfg.cuda_graph and device.type == "cuda" and world == 1
    if cfg.cuda_graph and not use_graph and rank == 0:
        print("note: --cuda-graph needs one process on a CUDA device; this run is eager",
              file=sys.stderr)
    # a graph replays the optimizer's kernels: the learning rate must be a device tensor the
    # scheduler fills in place (LambdaLR does so for tensor learning rates)
    opt = torch.optim.AdamW(_param_groups(model, cfg.weight_decay),
                            lr=torch.tensor(cfg.lr, device=device) if use_graph else cfg.lr,
                            fused=device.type == "cuda", capturable=use_graph)
    sched = _scheduler(opt, cfg)
    run_dir = Path(cfg.out) / cfg.run_name
    ckpt_path = run_dir / "checkpoint.pt"
    start, losses, loss_steps = 0, [], []
    curve: list[dict[str, Any]] = []
    # which kernel, device and processes trained which steps (kernel and device may change
    # on resume: _RESUME_FREE), so that results never credit steps to this invocation's kernel
    segments: list[dict[str, Any]] = []
    this_segment: dict[str, Any] | None = None
    if rank == 0:
        run_dir.mkdir(parents=True, exist_ok=True)
    if cfg.resume and ckpt_path.exists():
        ck = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        theirs = {k: v for k, v in ck["config"].items() if k not in _RESUME_FREE}
        ours = {k: v for k, v in cfg.to_dict().items() if k not in _RESUME_FREE}
        if theirs != ours:
            # both sides' keys: a field only the checkpoint has (written by a newer version)
            # is a difference too, named as such
            diff = sorted(k for k in set(ours) | set(theirs)
                          if k not in ours or k not in theirs or theirs[k] != ours[k])
            raise ConfigError(f"checkpoint {ckpt_path} was written by another configuration "
                              f"(differs in {diff}); use another name or --no-resume")
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        start, losses, loss_steps = ck["step"], ck["losses"], ck["loss_steps"]
        curve = list(ck.get("eval_curve", []))
        segments = [dict(s) for s in ck.get("segments", [])]
        if "segments" not in ck and start > 0:    # written before segments were recorded
            segments = [{"from": 0, "to": start, "kernel": None, "device": None,
                         "processes": None, "chunk_size": None,
                         "note": "checkpoint from before segments were recorded"}]
    env = _environment(device, world)
    results: dict[str, Any] = {"config": cfg.to_dict(), "model_config": mcfg.to_dict(),
                               "task": {"name": task.name, "chance": task.chance,
                                        "per_position": task.per_position,
                                        "vocab_size": task.vocab_size,
                                        "num_classes": task.num_classes},
                               "construction": init_info, "environment": env,
                               "eval_kernel": getattr(model, "kernel", cfg.kernel),
                               "parameters": sum(p.numel() for p in model.parameters())}
    if cfg.eval_at_start and start == 0:
        results["eval_at_start"] = _eval_all(model, task, cfg, rank, world, device)
    net: torch.nn.Module = model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    per_rank = cfg.batch_size // world
    t0 = time.time()
    last_progress = 0.0
    lr_at = _lr_lambda(cfg)
    pending: list[torch.Tensor] = []
    bar = tqdm(range(start, cfg.steps), initial=start, total=cfg.steps,
               disable=not (cfg.progress and rank == 0), desc=cfg.run_name, dynamic_ncols=True)
    model.train()
    graph = _GraphStep(net, model, opt, cfg, task, device) if use_graph else None
    # the profile ends by this run's last step: --stop-after's when it stops the run early
    end = max(start + 1, cfg.stop_after) if 0 < cfg.stop_after < cfg.steps else cfg.steps
    prof_at = start + min(PROFILE_WARMUP, max(0, end - start - cfg.profile_steps))
    prof = None
    for step in bar:
        if cfg.profile_steps and rank == 0 and step == prof_at:
            prof = _Profile(device)
        rng = np.random.default_rng([cfg.seed, rank, step])
        ex = task.sample(rng, per_rank, cfg.train_min_length, cfg.train_max_length)
        if graph is not None:
            loss = graph(ex)
        else:
            x, y = _to_device(ex.tokens, device), _to_device(ex.targets, device)
            opt.zero_grad(set_to_none=True)
            loss = _train_step(net, model, opt, x, y, cfg).detach()
        sched.step()
        pending.append(loss)
        done = step + 1
        if prof is not None and done - prof_at == cfg.profile_steps:
            prof.finish(cfg.profile_steps, run_dir)
            prof = None
        if done % cfg.log_every == 0 or done in (cfg.steps, cfg.stop_after):
            vals = torch.stack(pending)
            if world > 1:
                dist.all_reduce(vals)
                vals /= world
            vals_l = vals.tolist()
            loss_steps += list(range(done - len(vals_l) + 1, done + 1))
            losses += vals_l
            pending = []
            bar.set_postfix(loss=f"{vals_l[-1]:.4f}",
                            lr=f"{cfg.lr * lr_at(min(done, cfg.steps - 1)):.2e}")
            now = time.time()
            if rank == 0 and (now - last_progress >= PROGRESS_SECONDS
                              or done in (cfg.steps, cfg.stop_after)):
                last_progress = now
                _atomic_json({"step": done, "steps": cfg.steps, "resumed_from": start,
                              "seconds": now - t0, "steps_per_second":
                              (done - start) / max(now - t0, 1e-9), "loss": vals_l[-1]},
                             run_dir / "progress.json")
        if cfg.eval_every and done % cfg.eval_every == 0 and done < cfg.steps:
            rows = _eval_all(model, task, cfg, rank, world, device, cfg.curve_lengths)
            curve.append({"step": done, "rows": rows})
        if this_segment is None:
            this_segment = {"from": start, "to": done,
                            "kernel": getattr(model, "kernel", cfg.kernel),
                            "device": str(device), "processes": world,
                            "chunk_size": cfg.chunk_size}
            segments.append(this_segment)
        this_segment["to"] = done
        if (cfg.checkpoint_every and done % cfg.checkpoint_every == 0
                or done in (cfg.steps, cfg.stop_after)) \
                and not pending:
            if rank == 0:
                _atomic_save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                              "scheduler": sched.state_dict(), "step": done, "losses": losses,
                              "loss_steps": loss_steps, "config": cfg.to_dict(),
                              "eval_curve": curve,
                              "segments": [dict(x) for x in segments]}, ckpt_path)
            if world > 1:
                dist.barrier()
        if cfg.stop_after and done >= cfg.stop_after and done < cfg.steps:
            if prof is not None:
                prof.finish(done - prof_at, run_dir)
            bar.close()
            return {**results, "steps_done": done, "stopped": True,
                    "training_segments": [dict(x) for x in segments]}
    if prof is not None:                     # fewer steps left than asked to profile
        prof.finish(cfg.steps - prof_at, run_dir)
    bar.close()
    train_seconds = time.time() - t0
    rows = _eval_all(model, task, cfg, rank, world, device)
    results.update({"steps_done": cfg.steps, "resumed_from": start,
                    "training_segments": [dict(x) for x in segments],
                    "train_seconds_this_process": train_seconds,
                    "eval": rows, "summary": _summary(rows),
                    "loss_curve": {"step": loss_steps, "loss": losses}})
    if cfg.eval_every:
        # the curve's last point is the final evaluation (plus any curve length it lacks)
        extra = sorted(set(cfg.curve_lengths) - set(cfg.eval_lengths))
        more = _eval_all(model, task, cfg, rank, world, device, extra) if extra else []
        last = sorted([r for r in rows if r["length"] in set(cfg.curve_lengths)] + more,
                      key=lambda r: r["length"])
        results["eval_curve"] = curve + [{"step": cfg.steps, "rows": last}]
    if rank == 0:
        _atomic_json(results, run_dir / "results.json")
    return results


def build_model_to(model: torch.nn.Module, mcfg: ModelConfig,
                   device: torch.device) -> torch.nn.Module:
    """Move a model built on the CPU to ``device``, re-resolving the kernel for it: the
    DeltaProduct layers' mode and the Mamba layers' scan backend (a model built on the CPU
    has the PyTorch ones; on CUDA they become the Triton kernels)."""
    from experiments.model import mamba_backend, resolve_kernel

    kernel = resolve_kernel(mcfg.kernel, device)
    for block in getattr(model, "blocks", []):
        inner = getattr(block.mixer, "inner", None)
        if inner is not None and inner.config.mode != kernel:
            inner.config = dataclasses.replace(inner.config, mode=kernel)
        scan = getattr(block.mixer, "config", None)
        if scan is not None and hasattr(scan, "backend"):
            block.mixer.config = dataclasses.replace(scan, backend=mamba_backend(kernel))
    model.kernel = kernel
    return model.to(device)


# ============================================================================ CLI
def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m experiments.train",
                                description=__doc__.split("\n")[0])
    p.add_argument("--smoke", action="store_true",
                   help="a tiny two-step CPU run (other options still apply)")
    p.add_argument("--config", help="a JSON file of TrainConfig fields (options override it)")
    for f in fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        if f.type in ("bool", bool):
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=None,
                           help=_HELP.get(f.name))
        elif f.name in ("eval_lengths", "curve_lengths"):
            p.add_argument(flag, type=_lengths_arg, default=None,
                           help="'40,64', '40:256:8' or 'paper'" + (
                               " (the lengths of the --eval-every curve; default 40,128,256)"
                               if f.name == "curve_lengths" else ""))
        else:
            typ = {"int": int, "float": float, "str": str}.get(str(f.type), str)
            p.add_argument(flag, type=typ, default=None, help=_HELP.get(f.name))
    return p


def _task_names() -> str:
    from experiments.tasks import TASKS

    return ", ".join(TASKS)


#: One line of help for the fields whose values are not obvious (``--help``).
_HELP = {
    "task": f"{_task_names()} or dfa:<catalogue spec> (default parity)",
    "layer": "deltaproduct or mamba",
    "eigen_range": "'[-1,1]' or '[0,1]'",
    "kernel": "auto, reference, recurrent or chunk (auto: chunk on CUDA, reference on the CPU)",
    "chunk_size": "chunk size of the chunked DeltaProduct kernel: 16, 32 or 64 (same function; "
                  "16 is the fastest at the training lengths)",
    "init": " or ".join(INITS) + " (the constructions need --activation none "
            "--no-use-output-norm --learn-initial-state)",
    "device": "auto, cpu or cuda",
    "out": "folder of the runs, relative to the current directory "
           "(default experiments/results/runs)",
    "name": "the run's folder under --out (default: made of the fields, e.g. "
            "parity-deltaproduct-pm1-L2-D128-random-lr0.001-s0)",
    "stop_after": "stop (checkpointed) after this many steps; 0: run to the end",
    "cuda_graph": "capture the training step once as a CUDA graph and replay it (one "
                  "process on CUDA; batches padded to one width); experimental",
    "profile_steps": "profile this many training steps (after a warm-up of "
                     f"{PROFILE_WARMUP}) with torch.profiler: profile.json and profile.txt "
                     "in the run's folder (time a step, device time a step, kernels a step)",
    "eval_every": "evaluate at --curve-lengths every this many steps (the accuracy curve "
                  "over training, in results.json as eval_curve; its last point is the final "
                  "evaluation); 0: no curve",
}


def config_from_args(argv: Sequence[str] | None = None) -> TrainConfig:
    """The :class:`TrainConfig` of a command line; a bad option or config file exits with
    argparse's ``error:`` line (status 2)."""
    parser = _parser()
    args = parser.parse_args(argv)
    over = {f.name: getattr(args, f.name) for f in fields(TrainConfig)
            if getattr(args, f.name) is not None}
    base: dict[str, Any] = {}
    try:
        if args.config:
            try:
                given = json.loads(Path(args.config).read_text())
            except OSError as e:
                raise ConfigError(f"--config: cannot read {args.config!r}: "
                                  f"{e.strerror or e}") from None
            except json.JSONDecodeError as e:
                raise ConfigError(f"--config: {args.config!r} is not JSON: {e}") from None
            if not isinstance(given, dict):
                raise ConfigError(f"--config: {args.config!r} must hold a JSON object of "
                                  f"TrainConfig fields, got {type(given).__name__}")
            valid = TrainConfig.from_dict(given)              # validates the file's fields
            base = {k: getattr(valid, k) for k in given}      # lengths as tuples
        base.update(over)
        return smoke_config(**base) if args.smoke else TrainConfig(**base)
    except (ValueError, TypeError) as e:          # ConfigError is a ValueError
        parser.error(str(e))


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; prints the summary line and the results path (a run that
    ``--stop-after`` stopped: how far it got and its checkpoint).

    A bad option exits with status 2 and argparse's ``error:`` line; a configuration that is
    only found bad once the run starts (an unknown task, a model field, no CUDA device, a
    checkpoint of another configuration, a task without a construction) prints one
    ``error:`` line naming it and returns 2.
    """
    from experiments.initializer import ConstructionInitError
    from experiments.model import ModelConfigError
    from experiments.tasks import TaskError
    from statetrack.errors import StatetrackError

    cfg = config_from_args(argv)
    note = cpu_kernel_note(cfg.kernel, cfg.device)
    if note:
        print(note, file=sys.stderr)
    try:
        res = run(cfg)
    except (ConfigError, ModelConfigError, TaskError, ConstructionInitError,
            StatetrackError) as e:
        print(f"{_parser().prog}: error: {e}", file=sys.stderr)
        if dist.is_initialized():
            import gc

            gc.collect()
            dist.destroy_process_group()
        return 2
    if int(os.environ.get("RANK", "0")) == 0 and res.get("stopped"):
        print(f"{cfg.run_name}: stopped after {res['steps_done']} of {cfg.steps} steps "
              f"(--stop-after), not evaluated; rerun without --stop-after to resume from "
              f"{Path(cfg.out) / cfg.run_name / 'checkpoint.pt'}")
    elif int(os.environ.get("RANK", "0")) == 0:
        s = res["summary"]
        print(f"{cfg.run_name}: mean scaled accuracy {s['mean_scaled_accuracy']:.3f} "
              f"(min {s['min_scaled_accuracy']:.3f}) over {len(res['eval'])} test lengths; "
              f"{Path(cfg.out) / cfg.run_name / 'results.json'}")
    if dist.is_initialized():
        _teardown()
    return 0


def _teardown() -> None:
    """Leave the process group cleanly: the DistributedDataParallel wrapper of the run (its
    reducer holds the group) is collected first, if a reference cycle kept it, then every
    rank meets at a barrier, then the group is destroyed. The two-process CI test aborted
    (SIGABRT, either rank, rarely, under load) at exit without this order; a wrapper collected
    after the group's destruction is one way to get there."""
    import gc

    gc.collect()
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    sys.exit(main())
