r"""Figures of the experiment tables: accuracy against test length, and loss curves.

:func:`plot_table` takes the aggregate of :func:`experiments.tables.aggregate` and writes, per
task, scaled accuracy (per-position tasks: sequence accuracy) against test length: one line
per model (colour: eigenvalues in [0, 1] or [-1, 1]; line style: the layer type), the median
over seeds with the min..max band. For the initializer table it also draws the training loss
of random against constructed initialization.

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


def _label(c: dict[str, Any], with_lr: bool = False) -> str:
    if c["layer"] == "mamba":
        name = "Mamba"
    else:
        name = "DeltaNet" if c["num_householder"] == 1 else f"DeltaProduct$_{{{c['num_householder']}}}$"
    init = f", {c['init']} init" if c.get("init", "random") != "random" else ""
    lr = f", lr {c['lr']:g}" if with_lr and "lr" in c else ""
    return f"{name} {c['eigen_range']}{init}{lr}"


def plot_table(agg: dict[str, Any], out_dir: str | Path, stem: str) -> list[Path]:
    """Write ``<stem>_<task>.png`` (and ``<stem>_<task>_loss.png`` where loss curves exist)
    into ``out_dir``; return the paths."""
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
            colour = _COLOURS.get(c["eigen_range"], "k")
            if with_lr and c.get("lr") != max(x.get("lr", 0) for x in cells):
                colour = {"[0,1]": "tab:cyan", "[-1,1]": "tab:orange"}.get(c["eigen_range"], "k")
            style = _STYLES.get(c["layer"], "-")
            if c.get("init") == "construction":
                style = ":"
            elif c.get("init") == "construction_closed":
                style = "-."
            ax.plot(x, np.median(y, 0), style, color=colour, label=f"{_label(c, with_lr)} ({c['runs']})")
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
