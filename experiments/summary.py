r"""Table 3 side by side: the paper's numbers and ours, as one figure and one Markdown table.

Each task's cells come from a ``table3.json`` written by ``python -m experiments.tables --table
table3`` (the runs of one step count: parity at 4000 steps, modular arithmetic at 12,000,
...). Per model and eigenvalue range the learning rate whose best seed is best is taken, as
the paper takes the best of its grid (a tie goes to the better median; a cell whose best is
NaN, a diverged seed, only where no other cell has a number); the table gives that cell's best and median of the
seeds beside the paper's Table 3 (best of 3) and, for DeltaNet [-1, 1], Table 5 (median).

Command (the committed results)::

    python -m experiments.summary parity=experiments/results/table3-4k/table3.json \
        mod_arith=experiments/results/table3-12k/table3.json \
        mod_arith_brackets=experiments/results/table3-8k/table3.json \
        --figure docs/figures/experiments/table3_summary.png \
        --md experiments/results/table3_summary.md

Examples
--------
>>> cell = {"task": "parity", "layer": "mamba", "num_householder": 1, "eigen_range": "[-1,1]",
...         "init": "random", "lr": 1e-3, "runs": 3, "best": 0.999, "median": 0.992}
>>> rows = summary_rows({"parity": ("4k", {"table": "table3", "cells": [cell]})})
>>> r = rows[1]
>>> (r["model"], r["range"], r["paper"], r["best"], r["lr"])
('Mamba', '[-1,1]', 1.0, 0.999, 0.001)
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

__all__ = ["PAPER_TABLE3", "PAPER_TABLE5_MEDIAN", "TASKS", "summary_rows", "markdown",
           "plot_summary", "main"]

#: the tasks of Table 3, in the paper's column order
TASKS = ("parity", "mod_arith", "mod_arith_brackets")
_TASK_TITLES = {"parity": "parity", "mod_arith": "mod. arith. w/o brackets",
                "mod_arith_brackets": "mod. arith. with brackets"}
#: the models of Table 3, in the paper's row order: (layer, eigenvalue range)
MODELS = (("mamba", "[0,1]"), ("mamba", "[-1,1]"), ("deltaproduct", "[0,1]"),
          ("deltaproduct", "[-1,1]"))
_MODEL_NAMES = {"mamba": "Mamba", "deltaproduct": "DeltaNet"}

#: Grazzi et al. (ICLR 2025), Table 3: scaled accuracy at test lengths 40-256, best of 3 seeds
#: (and of the learning-rate grid), 100k steps at batch 1024
PAPER_TABLE3: dict[tuple[str, str], dict[str, float]] = {
    ("mamba", "[0,1]"): {"parity": 0.000, "mod_arith": 0.095, "mod_arith_brackets": 0.123},
    ("mamba", "[-1,1]"): {"parity": 1.000, "mod_arith": 0.241, "mod_arith_brackets": 0.116},
    ("deltaproduct", "[0,1]"): {"parity": 0.017, "mod_arith": 0.314,
                                "mod_arith_brackets": 0.194},
    ("deltaproduct", "[-1,1]"): {"parity": 1.000, "mod_arith": 0.971,
                                 "mod_arith_brackets": 0.260},
}
#: the same paper, Table 5: the median of 3 seeds, DeltaNet [-1, 1] only
PAPER_TABLE5_MEDIAN: dict[tuple[str, str], dict[str, float]] = {
    ("deltaproduct", "[-1,1]"): {"parity": 0.999, "mod_arith": 0.826,
                                 "mod_arith_brackets": 0.227},
}


class SummaryError(ValueError):
    """A source the summary cannot use (:func:`main` prints it as one ``error:`` line)."""


def _pick(cells: list[dict[str, Any]], task: str, layer: str, rng: str) -> dict | None:
    """The cell of the best learning rate (by its best seed, then its median) for one model,
    or None. NaN ranks below every number (``max`` alone keeps a NaN that comes first: a
    comparison with NaN is False)."""
    mine = [c for c in cells if c.get("task") == task and c.get("layer") == layer
            and c.get("eigen_range") == rng and c.get("num_householder", 1) == 1
            and c.get("init", "random") == "random" and c.get("runs", 0) > 0]

    def rank(c: dict[str, Any]) -> tuple[float, float]:
        vals = (c.get("best", math.nan), c.get("median", math.nan))
        return tuple(-math.inf if math.isnan(v) else v for v in vals)

    return max(mine, key=rank) if mine else None


def summary_rows(sources: dict[str, tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """One row per (task, model): the paper's number and ours.

    Parameters
    ----------
    sources : dict
        ``task -> (label, aggregate)``: the aggregate a ``table3.json`` holds, and a label
        for where it comes from (e.g. its step count).

    Returns
    -------
    list of dict
        Keys ``task``, ``model``, ``layer``, ``range``, ``paper``, ``paper_median`` (NaN
        where the paper gives none), ``best``, ``median``, ``lr``, ``runs`` (NaN / None where
        the source has no such cell) and ``source`` (the label).
    """
    rows = []
    for task, (label, agg) in sources.items():
        for layer, rng in MODELS:
            c = _pick(agg.get("cells", []), task, layer, rng)
            rows.append({
                "task": task, "model": _MODEL_NAMES[layer], "layer": layer, "range": rng,
                "paper": PAPER_TABLE3[(layer, rng)][task],
                "paper_median": PAPER_TABLE5_MEDIAN.get((layer, rng), {}).get(task, math.nan),
                "best": c["best"] if c else math.nan, "median": c["median"] if c else math.nan,
                "lr": c.get("lr") if c else None, "runs": c["runs"] if c else 0,
                "source": label})
    return rows


def _f(x: float) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3f}"


def markdown(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table (paper best and median beside ours)."""
    lines = ["| task | model | paper (best) | ours (best) | paper (median) | ours (median) "
             "| our lr | our runs | source |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lr = "—" if r["lr"] is None else f"{r['lr']:g}"
        lines.append(f"| {_TASK_TITLES[r['task']]} | {r['model']} {r['range']} | "
                     f"{_f(r['paper'])} | {_f(r['best'])} | {_f(r['paper_median'])} | "
                     f"{_f(r['median'])} | {lr} | {r['runs']} | {r['source']} |")
    return "\n".join(lines) + "\n"


def plot_summary(rows: list[dict[str, Any]], path: str | Path) -> Path:
    """Grouped bars per task: the paper's best of 3 (hatched) beside ours (solid), our median
    as a black dot; red for eigenvalues in [-1, 1], blue for [0, 1]."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    tasks = [t for t in TASKS if any(r["task"] == t for r in rows)]
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks), 3.6), sharey=True,
                             squeeze=False)
    for ax, task in zip(axes[0], tasks):
        mine = [r for r in rows if r["task"] == task]
        x = np.arange(len(mine))
        colours = ["tab:red" if r["range"] == "[-1,1]" else "tab:blue" for r in mine]
        ax.bar(x - 0.2, [r["paper"] for r in mine], 0.4, color=colours, alpha=0.35,
               hatch="//", edgecolor="k", linewidth=0.5)
        ax.bar(x + 0.2, [0.0 if math.isnan(r["best"]) else r["best"] for r in mine], 0.4,
               color=colours, edgecolor="k", linewidth=0.5)
        ax.plot(x + 0.2, [r["median"] for r in mine], "o", color="k", markersize=4)
        for i, r in enumerate(mine):
            if math.isnan(r["best"]):
                ax.text(x[i] + 0.2, 0.02, "not run" if not r["runs"] else "NaN", rotation=90,
                        fontsize=7, ha="center")
        ax.set_xticks(x, [f"{r['model']}\n{r['range']}" for r in mine], fontsize=8)
        ax.set_title(f"{_TASK_TITLES[task]} ({mine[0]['source']})", fontsize=9)
        ax.set_ylim(-0.05, 1.05)
        ax.axhline(0, color="k", linewidth=0.5)
    axes[0][0].set_ylabel("scaled accuracy, test lengths 40-256")
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = [Patch(facecolor="0.85", hatch="//", edgecolor="k", linewidth=0.5,
                     label="paper: best of 3, 100k steps, batch 1024"),
               Patch(facecolor="0.5", edgecolor="k", linewidth=0.5,
                     label="ours: best of 3 (step count in the title), batch 256"),
               Line2D([], [], marker="o", color="k", linestyle="", markersize=4,
                      label="ours: median of 3"),
               Patch(facecolor="tab:red", label="eigenvalues in [-1, 1]"),
               Patch(facecolor="tab:blue", label="eigenvalues in [0, 1]")]
    fig.legend(handles=handles, loc="lower center", ncol=5, fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def _load(spec: str) -> tuple[str, tuple[str, dict[str, Any]]]:
    task, sep, path = spec.partition("=")
    if not sep or not path:
        raise SummaryError(f"{spec!r}: expected TASK=PATH (a table3.json), e.g. "
                           f"parity=experiments/results/table3-4k/table3.json")
    if task not in TASKS:
        raise SummaryError(f"{spec!r}: unknown task {task!r}; Table 3's tasks are "
                           f"{', '.join(TASKS)}")
    p = Path(path)
    if not p.is_file():
        raise SummaryError(f"{spec!r}: no such file {path!r}")
    try:
        agg = json.loads(p.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SummaryError(f"{spec!r}: not a JSON file ({exc})") from None
    if not isinstance(agg, dict) or agg.get("table") != "table3" \
            or not isinstance(agg.get("cells"), list):
        raise SummaryError(f"{spec!r}: not a table3 aggregate (expected the table3.json of "
                           f"python -m experiments.tables --table table3)")
    for i, c in enumerate(agg["cells"]):
        if not isinstance(c, dict):
            raise SummaryError(f"{spec!r}: cells[{i}] is not an object")
    if not any(c.get("task") == task for c in agg["cells"]):
        raise SummaryError(f"{spec!r}: the file has no {task} cell")

    def number(x: Any) -> bool:
        return isinstance(x, (int, float)) and not isinstance(x, bool)

    for i, c in enumerate(agg["cells"]):
        if c.get("task") != task:
            continue
        if not all(number(c.get(k)) for k in ("best", "median", "runs")):
            raise SummaryError(f"{spec!r}: cells[{i}], a {task} cell, without numeric best, "
                               f"median and runs")
        if c.get("lr") is not None and not number(c["lr"]):
            raise SummaryError(f"{spec!r}: cells[{i}]: lr {c['lr']!r} is not a number")
    return task, (p.parent.name, agg)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m experiments.summary",
                                 description="Table 3 side by side: the paper and ours.")
    ap.add_argument("sources", nargs="+", metavar="TASK=PATH",
                    help=f"a task ({', '.join(TASKS)}) and the table3.json to read it from")
    ap.add_argument("--figure", type=Path, help="write the figure (PNG) here")
    ap.add_argument("--md", type=Path, help="write the Markdown table here (else: print it)")
    a = ap.parse_args(argv)
    try:
        sources = {}
        for spec in a.sources:
            task, src = _load(spec)
            if task in sources:
                raise SummaryError(f"{spec!r}: the task {task!r} is given twice")
            sources[task] = src
        for out, name in ((a.figure, "--figure"), (a.md, "--md")):
            if out is not None and out.is_dir():
                raise SummaryError(f"{name}: {str(out)!r} is a folder; give a file name")
            # a file where one of its folders goes: mkdir would fail after the work
            up = None if out is None else out.absolute().parent
            while up is not None and not up.exists() and up != up.parent:
                up = up.parent
            if up is not None and up.exists() and not up.is_dir():
                raise SummaryError(f"{name}: {str(up)!r} is a file, not a folder")
    except SummaryError as exc:
        ap.error(str(exc))
    rows = summary_rows(sources)
    text = markdown(rows)
    if a.md is not None:
        a.md.parent.mkdir(parents=True, exist_ok=True)
        a.md.write_text(text)
        print(f"table: {a.md}")
    else:
        print(text, end="")
    if a.figure is not None:
        print(f"figure: {plot_summary(rows, a.figure)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
