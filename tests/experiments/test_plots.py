"""experiments/plots.py: what the figures draw."""

from __future__ import annotations


def test_curve_figure_draws_positions_right_for_per_position_tasks(tmp_path, monkeypatch):
    # a per-position task whose sequences are all wrong still shows its progress: the curve
    # figure adds the fraction of positions right (dotted) beside the sequence accuracy
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.axes import Axes

    from experiments.plots import plot_table

    drawn = []
    real = Axes.plot

    def spy(self, *args, **kw):
        drawn.append((args[2] if len(args) > 2 else None, kw.get("label")))
        return real(self, *args, **kw)

    monkeypatch.setattr(Axes, "plot", spy)

    def curve(seq, tok):
        return [{"step": s, "rows": [{"length": 40, "sequence_accuracy": seq,
                                      "token_accuracy": t, "scaled_accuracy": 0.0}]}
                for s, t in zip((10, 20), tok)]

    per_pos = {"task": "z60", "layer": "deltaproduct", "num_householder": 2,
               "eigen_range": "[-1,1]", "init": "random", "runs": 1, "lengths": [40],
               "sequence_by_run": [[0.0]], "scaled_by_run": [[0.0]],
               "eval_curves": [curve(0.0, (0.1, 0.4))]}
    scaled = {"task": "parity", "layer": "deltaproduct", "num_householder": 1,
              "eigen_range": "[-1,1]", "init": "random", "runs": 1, "lengths": [40],
              "scaled_by_run": [[1.0]],
              "eval_curves": [[{"step": 10, "rows": [{"length": 40, "scaled_accuracy": 0.5}]}]]}
    paths = plot_table({"cells": [per_pos, scaled]}, tmp_path, "t")
    assert {p.name for p in paths} >= {"t_z60_curve.png", "t_parity_curve.png"}
    labels = [lab for _, lab in drawn if lab]
    assert "DeltaProduct₂ [-1,1], positions" in labels
    assert not any(lab.startswith("DeltaNet") and "positions" in lab for lab in labels)
    assert (":", "DeltaProduct₂ [-1,1], positions") in drawn
