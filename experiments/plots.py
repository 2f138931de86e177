r"""Figures of the experiment tables: accuracy against test length, and loss curves.

:func:`plot_table` takes the aggregate of :func:`experiments.tables.aggregate` and writes, per
task, scaled accuracy (per-position tasks: sequence accuracy) against test length: one line
per model (colour: eigenvalues in [0, 1] or [-1, 1], another shade per learning rate when a
task's cells have several; line style: the layer type, or the init), the median over seeds
with the min..max band. Where the runs were made with ``--eval-every`` it also draws the
accuracy at the curve lengths against the training step (per-position tasks: also the
fraction of positions right, dotted), and for the initializer table the
training loss of random against constructed initialization.

Examples
--------
>>> import tempfile
>>> agg = {"cells": [{"task": "parity", "layer": "deltaproduct", "num_householder": 1,
...         "eigen_range": "[-1,1]", "num_layers": 2, "init": "random", "runs": 1,
...         "lengths": [40, 48], "scaled_by_run": [[1.0, 0.9]]}]}
>>> [p.name for p in plot_table(agg, tempfile.mkdtemp(), "demo")]
['demo_parity.png']
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["plot_table"]

_COLOURS = {"[0,1]": "tab:blue", "[-1,1]": "tab:red"}
_STYLES = {"deltaproduct": "-", "mamba": "--"}


_SUBSCRIPT = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def _label(c: dict[str, Any], with_lr: bool = False) -> str:
    if c["layer"] == "mamba":
        name = "Mamba"
    else:
        # a Unicode subscript, not mathtext ($_2$): mathtext loads every math font set on
        # first use, and where matplotlib's cache lacks them, ~20 findfont warnings a run
        name = ("DeltaNet" if c["num_householder"] == 1 else
                "DeltaProduct" + str(c["num_householder"]).translate(_SUBSCRIPT))
    init = f", {c['init']} init" if c.get("init", "random") != "random" else ""
    lr = f", lr {c['lr']:g}" if with_lr and "lr" in c else ""
    return f"{name} {c['eigen_range']}{init}{lr}"


#: per eigenvalue range, the colours of a task's learning rates from the largest down
_LR_COLOURS = {"[-1,1]": ("tab:red", "tab:orange", "tab:brown", "tab:pink"),
               "[0,1]": ("tab:blue", "tab:cyan", "tab:purple", "tab:green")}


def _colour(c: dict[str, Any], cells: list[dict[str, Any]], with_lr: bool) -> str:
    """Red / blue for [-1, 1] / [0, 1]; when a task's cells have several learning rates, the
    largest keeps these and the smaller ones take orange / cyan, brown / purple, pink / green
    (one colour per learning rate, up to four: the paper protocol's).

    >>> cells = [{"eigen_range": "[-1,1]", "lr": lr} for lr in (1e-2, 1e-3, 5e-4)]
    >>> [_colour(c, cells, True) for c in cells]
    ['tab:red', 'tab:orange', 'tab:brown']
    """
    if not with_lr:
        return _COLOURS.get(c["eigen_range"], "k")
    lrs = sorted({x.get("lr", 0) for x in cells}, reverse=True)
    shades = _LR_COLOURS.get(c["eigen_range"], ("k",))
    return shades[lrs.index(c.get("lr", 0)) % len(shades)]


def _plot_eval_curves(cells: list[dict[str, Any]], task: str, path: Path, with_lr: bool,
                      plt: Any) -> Path:
    """Accuracy at the curve lengths against the training step (runs made with
    ``--eval-every``): one panel per length, median over a cell's runs."""
    lengths = sorted({row["length"] for c in cells for run in c["eval_curves"]
                      for point in run for row in point["rows"]})
    fig, axes = plt.subplots(1, len(lengths), figsize=(3.2 * len(lengths), 3.2), sharey=True,
                             squeeze=False)
    per_pos = any("sequence_by_run" in c for c in cells)
    for ax, L in zip(axes[0], lengths):
        for c in cells:
            # per-position tasks: sequence accuracy (solid/dashed), and the fraction of
            # positions right (dotted; where no sequence is right yet, the only signal)
            keys = ("sequence_accuracy", "token_accuracy") if "sequence_by_run" in c \
                else ("scaled_accuracy",)
            for key in keys:
                series = []
                for run in c["eval_curves"]:
                    pts = {p["step"]: r[key] for p in run for r in p["rows"]
                           if r["length"] == L and key in r}
                    series.append(pts)
                steps = sorted(set.intersection(*(set(s) for s in series)))
                if not steps:
                    continue
                y = np.median([[s[t] for t in steps] for s in series], axis=0)
                style = ":" if key == "token_accuracy" else _STYLES.get(c["layer"], "-")
                label = _label(c, with_lr) + (", positions" if key == "token_accuracy" else "")
                ax.plot(steps, y, style, marker=".", color=_colour(c, cells, with_lr),
                        label=label)
        ax.set_title(f"length {L}")
        ax.set_xlabel("step")
    axes[0][0].set_ylabel(("accuracy, median of runs\n(solid: sequences, dotted: positions)"
                           if per_pos else "scaled accuracy (median over runs)"), fontsize=8)
    axes[0][-1].legend(fontsize=6)
    fig.suptitle(f"{task}: accuracy during training")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_table(agg: dict[str, Any], out_dir: str | Path, stem: str) -> list[Path]:
    """Write ``<stem>_<task>.png`` (and ``<stem>_<task>_curve.png`` where the runs have an
    ``eval_curve``, ``<stem>_<task>_loss.png`` where loss curves exist) into ``out_dir``;
    return the paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    tasks = sorted({c["task"] for c in agg["cells"]})
    for task in tasks:
        cells = [c for c in agg["cells"] if c["task"] == task]
        with_lr = len({c.get("lr") for c in cells}) > 1
        fig, ax = plt.subplots(figsize=(6, 3.6))
        for c in cells:
            key = "sequence_by_run" if "sequence_by_run" in c else "scaled_by_run"
            y = np.array(c[key], dtype=float)
            x = np.array(c["lengths"])
            colour = _colour(c, cells, with_lr)
            style = _STYLES.get(c["layer"], "-")
            if c.get("init") == "construction":
                style = ":"
            elif c.get("init") == "construction_closed":
                style = "-."
            # a marker where the test lengths are too few to draw a line (one length: none)
            ax.plot(x, np.median(y, 0), style, color=colour, marker="o" if len(x) < 3 else None,
                    label=f"{_label(c, with_lr)} ({c['runs']})")
            ax.fill_between(x, y.min(0), y.max(0), color=colour, alpha=0.12)
        per_pos = any("sequence_by_run" in c for c in cells)
        ax.set_xlabel("test length")
        ax.set_ylabel("sequence accuracy" if per_pos else "scaled accuracy")
        ax.set_ylim(-0.05 if not per_pos else 0, 1.05)
        ax.set_title(f"{task}: median over runs, band min..max")
        ax.legend(fontsize=7)
        fig.tight_layout()
        p = out / f"{stem}_{task}.png"
        fig.savefig(p, dpi=120)
        plt.close(fig)
        paths.append(p)
        with_curve = [c for c in cells if c.get("eval_curves")]
        if with_curve:
            paths.append(_plot_eval_curves(with_curve, task, out / f"{stem}_{task}_curve.png",
                                           with_lr, plt))
        curves = [c for c in cells if c.get("loss_curves")]
        if curves:
            fig, ax = plt.subplots(figsize=(6, 3.6))
            for c in curves:
                colour = {"construction": "tab:green", "construction_closed": "tab:blue"}.get(
                    c.get("init"), "tab:gray")
                for i, lc in enumerate(c["loss_curves"]):
                    ax.plot(lc["step"], lc["loss"], color=colour, alpha=0.7,
                            label=f"{c.get('init')} init" if i == 0 else None)
            ax.set_yscale("log")
            ax.set_xlabel("step")
            ax.set_ylabel("training loss")
            ax.set_title(f"{task}: random vs constructed initialization")
            ax.legend(fontsize=7)
            fig.tight_layout()
            p = out / f"{stem}_{task}_loss.png"
            fig.savefig(p, dpi=120)
            plt.close(fig)
            paths.append(p)
    return paths
