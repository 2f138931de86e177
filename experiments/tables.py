r"""One command per table: ``python -m experiments.tables --table NAME [--protocol reduced]``.

Each table is a grid of :class:`experiments.train.TrainConfig` s (tasks x models x seeds). The
command runs the runs that have no ``results.json`` yet (``--jobs N`` of them at once, each a
``python -m experiments.train`` process: the models are small, so several share one GPU well),
then aggregates every run's results into ``experiments/results/<table>.json`` and a Markdown
table (``<table>.md``; ``<table>-<protocol>.*`` for the paper and smoke protocols), and plots
accuracy against test length into ``docs/figures/experiments/`` (:mod:`experiments.plots`).
A cell is a task, model, eigenvalue range, depth, init and learning rate: ``--lrs`` runs
several learning rates into one folder (run names carry it), and the aggregate reads the
finished runs of every learning rate found there. ``--eval-every N`` has every run record
its accuracy at lengths 40, 128 and 256 every N steps (``eval_curve``; plotted against the
step).

Tables
------
``table3``
    Grazzi et al. Table 3: parity (2 layers), modular arithmetic without and with brackets
    (3 layers); DeltaNet and Mamba, eigenvalues in [0, 1] and [-1, 1]; scaled accuracy over
    the test lengths, best and median of the seeds (the paper's Tables 3 and 5).
``s5``
    Section 5.2: S_5 with transpositions only, one DeltaNet layer, [0, 1] vs [-1, 1]; full S_3
    and S_5 with DeltaProduct ``n_h = 1`` vs ``2`` ([-1, 1]); Z_60. Per-position labels,
    sequence accuracy per length.
``init``
    The initializer experiment: parity, S_3 and flip-flop, the same architecture (linear q/k/v,
    no per-head output norm, learned initial state) initialized at random or from the
    construction; loss curves and accuracy before and after training. ``--inits`` chooses the
    arms (default ``random,construction``, the committed ones; ``construction_closed`` is the
    construction with the identity sub-steps' beta gates closed, which the first AdamW steps
    do not wreck: see :mod:`experiments.initializer`).

Protocols
---------
``paper``: width 128, 4 heads, short convolution 4, batch 1024, 100k steps, learning rates
{1e-2, 1e-3, 5e-4, 1e-4}, 3 seeds, cosine to 1e-6 after 10 % warm-up, weight decay 0.1,
clipping 1.0, every test length 40..256.

``reduced`` (the default; what fits a few GPU-minutes): the same model and schedule shape,
batch 256, 2000 steps (init: 1000), one learning rate 1e-3, 3 seeds, test lengths 40..256 in
steps of 8 with 512 sequences each. ``smoke``: tiny CPU runs (tests).

Modular arithmetic at 2000 steps is far from the paper's 100k (the paper's numbers there are
for long training); the reduced protocol is meant to show the parity and S_5 separations
and the initializer rows, and to be scaled up (``--steps``, ``--batch-size``) where time allows.

Examples
--------
>>> cfgs = grid("table3", "reduced", layers=("deltaproduct",))
>>> len(cfgs), cfgs[0].task, cfgs[0].num_layers, cfgs[0].steps
(18, 'parity', 2, 2000)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from experiments.train import (_RESUME_FREE, INITS, ROOT, ConfigError, TrainConfig,
                               check_folder, smoke_config)

__all__ = ["TABLES", "PROTOCOLS", "grid", "run_grid", "aggregate", "markdown", "main",
           "finished", "finished_lrs"]

TABLES = ("table3", "s5", "init")
PROTOCOLS: dict[str, dict[str, Any]] = {
    "paper": dict(batch_size=1024, steps=100_000, eval_lengths=tuple(range(40, 257)),
                  eval_examples=1024),
    "reduced": dict(batch_size=256, steps=2000, eval_lengths=tuple(range(40, 257, 8)),
                    eval_examples=512),
}
PAPER_LRS = (1e-2, 1e-3, 5e-4, 1e-4)
SEEDS = (0, 1, 2)
RANGES = ("[0,1]", "[-1,1]")


def grid(table: str, protocol: str = "reduced", *, seeds: Sequence[int] = SEEDS,
         layers: Sequence[str] = ("deltaproduct", "mamba"), out: str | None = None,
         tasks: Sequence[str] | None = None,
         inits: Sequence[str] = ("random", "construction"),
         lrs: Sequence[float] | None = None, **over: Any) -> list[TrainConfig]:
    """The configurations of ``table`` under ``protocol`` (``"paper"``, ``"reduced"`` or
    ``"smoke"``), with field overrides ``over``; ``tasks`` keeps only the rows of those tasks
    (None: every row); ``inits`` are the arms of the ``init`` table (ignored by the others);
    ``lrs`` the learning rates (None: the protocol's, :data:`PAPER_LRS` for ``"paper"``,
    ``1e-3`` otherwise; run names carry the learning rate, so several share one folder).

    Raises
    ------
    ValueError
        Unknown table, protocol or init, a task the table has no row of, or a learning
        rate that is not a positive number.

    Examples
    --------
    >>> [c.init for c in grid("init", seeds=(0,), tasks=("s3",),
    ...                       inits=("construction", "construction_closed"))]
    ['construction', 'construction_closed']
    """
    if table not in TABLES:
        raise ValueError(f"table: expected one of {TABLES}, got {table!r}")
    bad = [i for i in inits if i not in INITS]
    if bad or not inits:
        raise ValueError(f"inits: expected some of {INITS}, got {list(inits)}")
    if protocol not in (*PROTOCOLS, "smoke"):
        raise ValueError(f"protocol: expected one of {(*PROTOCOLS, 'smoke')}, got {protocol!r}")
    out = out or str(ROOT / "experiments" / "results" / "runs" / f"{table}-{protocol}")
    if lrs is None:
        lrs = PAPER_LRS if protocol == "paper" else (1e-3,)
    elif not lrs or any(isinstance(lr, bool) or not (lr > 0 and math.isfinite(lr)) for lr in lrs):
        raise ValueError(f"lrs: expected positive learning rates, got {list(lrs)}")
    elif len(set(lrs)) != len(lrs):
        raise ValueError(f"lrs: a learning rate given twice in {list(lrs)}")
    rows: list[dict[str, Any]] = []
    if table == "table3":
        for task, depth in (("parity", 2), ("mod_arith", 3), ("mod_arith_brackets", 3)):
            for layer in layers:
                for rng in RANGES:
                    rows.append(dict(task=task, num_layers=depth, layer=layer, eigen_range=rng))
    elif table == "s5":
        for rng in RANGES:
            rows.append(dict(task="s5_swaps", num_layers=1, eigen_range=rng))
        for task in ("s3", "s5"):
            for nh in (1, 2):
                rows.append(dict(task=task, num_layers=1, num_householder=nh))
        # S_5's permutation representation needs n - 1 = 4 reflections for a 5-cycle (Theorem
        # 3's count): the one row of the table that can represent every letter of full S_5
        rows.append(dict(task="s5", num_layers=1, num_householder=4))
        rows.append(dict(task="z60", num_layers=1, num_householder=2))
    else:
        for task, nh in (("parity", 1), ("s3", 4), ("flip_flop", 2)):
            for init in inits:
                rows.append(dict(task=task, num_layers=1, num_householder=nh, init=init,
                                 activation="none", use_output_norm=False,
                                 learn_initial_state=True, eval_at_start=True))
    if tasks is not None:
        known = sorted({r["task"] for r in rows})
        unknown = [t for t in tasks if t not in known]
        if unknown:
            raise ValueError(f"tasks: table {table!r} has no row of {unknown}; its tasks are "
                             f"{known}")
        rows = [r for r in rows if r["task"] in tasks]
    cfgs = []
    for row in rows:
        for lr in lrs:
            for seed in seeds:
                base: dict[str, Any] = dict(out=out, seed=seed, lr=lr, progress=False)
                if protocol == "smoke":
                    small = dict(hidden_size=32, num_heads=2, eval_lengths=(40,),
                                 eval_examples=8, eval_batch_size=8, batch_size=8, steps=2)
                    c = smoke_config(**{**base, **row, **small, **over})
                else:
                    p = dict(PROTOCOLS[protocol])
                    if table == "init" and protocol == "reduced":
                        p["steps"] = 1000
                    c = TrainConfig(**{**base, **p, **row, **over})
                cfgs.append(c)
    return cfgs


def _run_one(cfg: TrainConfig, env: dict[str, str]) -> tuple[str, int, str]:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(cfg.to_dict(), f)
        path = f.name
    try:
        r = subprocess.run([sys.executable, "-m", "experiments.train", "--config", path],
                           cwd=ROOT, env=env, capture_output=True, text=True)
    finally:
        os.unlink(path)
    return cfg.run_name, r.returncode, (r.stdout + r.stderr)[-2000:]


def finished(cfg: TrainConfig) -> dict[str, Any] | None:
    """The results of ``cfg``'s finished run, None if it has not finished.

    Raises
    ------
    ConfigError
        A finished run of the same name was trained with other settings (run names do not
        carry every field: ``--steps 4000`` into a folder of 2000-step runs would otherwise
        be skipped as done, and aggregated as if it were the 4000-step run).
    """
    p = Path(cfg.out) / cfg.run_name / "results.json"
    if not p.exists():
        return None
    res = json.loads(p.read_text())
    want = cfg.to_dict()
    diff = sorted(k for k, v in res["config"].items()
                  if k not in _RESUME_FREE and k != "name" and k in want and want[k] != v)
    if diff:
        raise ConfigError(
            f"{p}: a finished run of this name was trained with other settings ("
            + ", ".join(f"{k}={res['config'][k]!r}, asked {want[k]!r}" for k in diff)
            + "); use another --out for these runs")
    return res


def finished_lrs(runs_dir: Path) -> set[float]:
    """The learning rates of the finished runs (``<run>/results.json``) in ``runs_dir``.

    >>> finished_lrs(Path("/nonexistent"))
    set()
    """
    lrs = set()
    for p in sorted(runs_dir.glob("*/results.json")):
        try:
            lrs.add(float(json.loads(p.read_text())["config"]["lr"]))
        except (OSError, ValueError, KeyError, TypeError):
            continue                  # not a run's results: finished() decides what is read
    return lrs


def run_grid(cfgs: Sequence[TrainConfig], *, jobs: int = 1) -> list[tuple[str, int, str]]:
    """Run every configuration without a ``results.json`` (``jobs`` processes at a time);
    return ``(name, exit code, output tail)`` of each run started."""
    from tqdm.auto import tqdm

    todo = [c for c in cfgs if finished(c) is None]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    out = []
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for res in tqdm(pool.map(lambda c: _run_one(c, env), todo), total=len(todo),
                        desc="runs", dynamic_ncols=True):
            out.append(res)
            if res[1] != 0:
                print(f"run {res[0]} failed (exit {res[1]}):\n{res[2]}", file=sys.stderr)
    return out


_CELL_KEYS = ("task", "layer", "num_householder", "eigen_range", "num_layers", "init", "lr")


def _cell(cfg: dict[str, Any]) -> tuple:
    return tuple(cfg[k] for k in _CELL_KEYS)


def aggregate(cfgs: Sequence[TrainConfig]) -> dict[str, Any]:
    """Per cell (task, layer, n_h, eigen range, depth, init, learning rate): the runs'
    summaries, best and median over seeds of the mean scaled accuracy, and per-length
    curves."""
    cells: dict[tuple, list[dict[str, Any]]] = {}
    for c in cfgs:
        res = finished(c)
        if res is not None:
            cells.setdefault(_cell(res["config"]), []).append(res)
    table = []
    for key, runs in sorted(cells.items(), key=lambda kv: str(kv[0])):
        means = [r["summary"]["mean_scaled_accuracy"] for r in runs]
        entry: dict[str, Any] = dict(zip(_CELL_KEYS, key))
        entry.update({
            "runs": len(runs), "seeds": [r["config"]["seed"] for r in runs],
            "lrs": [r["config"]["lr"] for r in runs],
            "mean_scaled_accuracy": means, "best": float(np.max(means)),
            "median": float(np.median(means)),
            "lengths": [row["length"] for row in runs[0]["eval"]],
            "scaled_by_run": [[row["scaled_accuracy"] for row in r["eval"]] for r in runs],
            "environment": runs[0]["environment"]})
        if runs[0]["task"]["per_position"]:
            entry["sequence_by_run"] = [[row["sequence_accuracy"] for row in r["eval"]]
                                        for r in runs]
        if all(r.get("eval_curve") for r in runs):
            entry["eval_curves"] = [r["eval_curve"] for r in runs]
        if "eval_at_start" in runs[0]:
            entry["scaled_at_start_by_run"] = [[row["scaled_accuracy"]
                                                for row in r["eval_at_start"]] for r in runs]
            entry["loss_curves"] = [r["loss_curve"] for r in runs]
        table.append(entry)
    return {"cells": table, "written": time.strftime("%Y-%m-%d %H:%M:%S")}


def markdown(agg: dict[str, Any]) -> str:
    """The aggregate as a Markdown table (best / median of the mean scaled accuracy)."""
    lines = ["| task | model | eigenvalues | layers | init | lr | runs | best | median |",
             "|---|---|---|---|---|---|---|---|---|"]
    for c in agg["cells"]:
        model = ("DeltaNet" if c["num_householder"] == 1 else
                 f"DeltaProduct n_h={c['num_householder']}") if c["layer"] == "deltaproduct" \
            else "Mamba"
        lines.append(f"| {c['task']} | {model} | {c['eigen_range']} | {c['num_layers']} | "
                     f"{c['init']} | {c['lr']:g} | {c['runs']} | {c['best']:.3f} | {c['median']:.3f} |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point (module docstring)."""
    p = argparse.ArgumentParser(prog="python -m experiments.tables", description=__doc__
                                .split("\n")[0])
    p.add_argument("--table", required=True, choices=TABLES)
    p.add_argument("--protocol", default="reduced", choices=(*PROTOCOLS, "smoke"))
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    p.add_argument("--jobs", type=int, default=1, help="runs at once (processes)")
    p.add_argument("--out", help="folder of the runs (default experiments/results/runs/...)")
    p.add_argument("--results", default=str(ROOT / "experiments" / "results"),
                   help="where <table>.json and <table>.md go")
    p.add_argument("--figures", default=str(ROOT / "docs" / "figures" / "experiments"))
    p.add_argument("--steps", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--cuda-graph", action="store_true",
                   help="each run's training step as a CUDA graph (experimental; see "
                        "experiments.train --help)")
    p.add_argument("--eval-every", type=int, help="evaluate at 40, 128 and 256 every this many "
                   "steps (each run's eval_curve); default: only at the end")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"))
    p.add_argument("--kernel", choices=("auto", "recurrent", "chunk", "reference"))
    p.add_argument("--no-plots", action="store_true")
    p.add_argument("--skip-mamba", action="store_true",
                   help="run no Mamba row (the aggregate still reads the finished ones)")
    p.add_argument("--only-mamba", action="store_true",
                   help="run only the Mamba rows, table3's (the aggregate still reads every "
                        "finished run)")
    p.add_argument("--chunk-size", type=int, choices=(16, 32, 64),
                   help="chunk size of the chunked DeltaProduct kernel (default 16; same "
                        "function, not part of a run's identity)")
    p.add_argument("--eval-batch-size", type=int,
                   help="examples a forward pass at evaluation (lower it where runs share a GPU)")
    p.add_argument("--no-run", action="store_true",
                   help="train nothing: aggregate and plot the runs already finished (e.g. "
                        "those a GPU machine sent back)")
    p.add_argument("--tasks", help="comma-separated tasks: only these rows of the table "
                   "(the aggregate still reads every finished run of the table)")
    p.add_argument("--lrs", help="comma-separated learning rates to run (default: the "
                   "protocol's; 1e-3 for reduced, the paper's four for paper); the aggregate "
                   "also reads the finished runs of other learning rates in the runs' folder")
    p.add_argument("--inits", help=f"comma-separated arms of the init table, of {INITS} "
                   "(default random,construction)")
    a = p.parse_args(argv)
    over = {k: v for k, v in (("steps", a.steps), ("batch_size", a.batch_size),
                              ("eval_every", a.eval_every),
                              ("eval_batch_size", a.eval_batch_size),
                              ("chunk_size", a.chunk_size),
                              ("cuda_graph", True if a.cuda_graph else None),
                              ("device", a.device), ("kernel", a.kernel)) if v is not None}
    if a.skip_mamba and a.only_mamba:
        p.error("--skip-mamba and --only-mamba: choose one")
    if a.inits is not None and a.table != "init":
        p.error(f"--inits: table {a.table!r} has no init arms (only init has)")
    if a.only_mamba and a.table != "table3":
        # the other tables' rows are all DeltaProduct: the grid ignores the layers, so this
        # would train every row of the table, the opposite of what was asked
        p.error(f"--only-mamba: table {a.table!r} has no Mamba rows (only table3 has)")
    layers = (("deltaproduct",) if a.skip_mamba else ("mamba",) if a.only_mamba
              else ("deltaproduct", "mamba"))
    try:
        seeds = [int(s) for s in a.seeds.split(",")]
    except ValueError:
        p.error(f"--seeds: expected comma-separated integers, got {a.seeds!r}")
    if len(set(seeds)) != len(seeds):
        p.error(f"--seeds: a seed given twice in {a.seeds!r} (its run would count twice)")
    if a.jobs < 1:
        p.error(f"--jobs: expected an int >= 1, got {a.jobs}")
    tasks = None if a.tasks is None else a.tasks.split(",")
    if tasks is not None and not all(tasks):
        p.error(f"--tasks: expected comma-separated task names, got {a.tasks!r}")
    if a.device == "cuda" and not a.no_run:
        import torch

        if not torch.cuda.is_available():
            p.error("--device: 'cuda' requested but CUDA is not available")
    # the runs are processes started in the repository root: a relative --out would land
    # there while the aggregate below looks for it here
    out = str(Path(a.out).resolve()) if a.out else None
    inits = (a.inits or "random,construction").split(",")
    # a file where a folder goes: refused now, not by mkdir once the runs (or the aggregate)
    # are done
    for what, folder in (("--out", out), ("--results", a.results),
                         ("--figures", None if a.no_plots else a.figures)):
        if folder is not None:
            try:
                check_folder(folder, what)
            except ConfigError as e:
                p.error(str(e))
    lrs = None
    if a.lrs is not None:
        try:
            lrs = [float(x) for x in a.lrs.split(",")]
        except ValueError:
            p.error(f"--lrs: expected comma-separated numbers, got {a.lrs!r}")
    try:
        todo = grid(a.table, a.protocol, seeds=seeds, layers=layers, out=out, tasks=tasks,
                    inits=inits, lrs=lrs, **over)
    except ValueError as e:
        p.error(str(e))
    # the aggregate reads every finished run of the table, of both layer types, every init
    # and every learning rate found in the runs' folder (a command with --only-mamba or
    # --skip-mamba, or without --lrs, must not drop the other cells from the table it
    # rewrites); the cells not run are listed for the committed arms and the learning rates
    # asked for
    asked_lrs = {c.lr for c in todo}
    agg_lrs = sorted(asked_lrs | finished_lrs(Path(todo[0].out)), reverse=True)
    cfgs = grid(a.table, a.protocol, seeds=seeds, layers=("deltaproduct", "mamba"), out=out,
                inits=INITS, lrs=agg_lrs, **over)
    arms = {"random", "construction", *inits}
    if not a.no_run and todo:
        from experiments.train import cpu_kernel_note

        note = cpu_kernel_note(todo[0].kernel, todo[0].device)
        if note:
            print(note, file=sys.stderr)
    try:
        failed = [] if a.no_run else [r for r in run_grid(todo, jobs=a.jobs) if r[1] != 0]
        agg = aggregate(cfgs)
    except ConfigError as e:                 # a finished run of the same name, other settings
        p.error(str(e))
    if not agg["cells"]:
        # writing now would replace the table's aggregate (a committed one, by default) by an
        # empty table
        runs_dir = Path(cfgs[0].out) if cfgs else Path(".")
        hint = ("; the finished runs are committed in experiments/results/runs_results.tgz: "
                "unpack it into experiments/results/runs" if a.protocol == "reduced" else "")
        print(f"{p.prog}: error: no finished run of table {a.table!r} ({a.protocol}) under "
              f"{runs_dir}: nothing written{hint}", file=sys.stderr)
        return 1
    done = {tuple(c[k] for k in _CELL_KEYS) for c in agg["cells"]}
    missing = sorted({c.run_name for c in cfgs
                      if c.init in arms and c.lr in asked_lrs and _cell(c.to_dict()) not in done})
    agg.update({"table": a.table, "protocol": a.protocol, "failed_runs": [r[0] for r in failed],
                "cells_not_run": missing})
    res_dir = Path(a.results)
    res_dir.mkdir(parents=True, exist_ok=True)
    # the reduced protocol's aggregate is the committed one; others never overwrite it
    stem = a.table if a.protocol == "reduced" else f"{a.table}-{a.protocol}"
    (res_dir / f"{stem}.json").write_text(json.dumps(agg, indent=1) + "\n")
    md = markdown(agg)
    (res_dir / f"{stem}.md").write_text(md)
    print(md)
    if not a.no_plots:
        from experiments.plots import plot_table

        for path in plot_table(agg, Path(a.figures), stem):
            print(f"figure: {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
