"""experiments/summary.py: Table 3 side by side (the paper's numbers and ours)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from experiments.summary import (
    MODELS,
    PAPER_TABLE3,
    PAPER_TABLE5_MEDIAN,
    TASKS,
    main,
    markdown,
    summary_rows,
)

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = {"parity": ROOT / "experiments/results/table3-4k/table3.json",
             "mod_arith": ROOT / "experiments/results/table3-12k/table3.json",
             "mod_arith_brackets": ROOT / "experiments/results/table3-8k/table3.json"}


def _cell(task, layer, rng, lr, best, median, nh=1, init="random", runs=3):
    return {"task": task, "layer": layer, "num_householder": nh, "eigen_range": rng,
            "init": init, "lr": lr, "runs": runs, "best": best, "median": median}


def test_the_best_learning_rate_by_its_best_seed_and_missing_cells():
    cells = [_cell("parity", "deltaproduct", "[-1,1]", 1e-3, 0.95, 0.70),
             _cell("parity", "deltaproduct", "[-1,1]", 1e-2, 0.99, 0.98),
             # not Table 3 cells: another n_h, another init, another task
             _cell("parity", "deltaproduct", "[-1,1]", 1e-3, 1.0, 1.0, nh=2),
             _cell("parity", "deltaproduct", "[-1,1]", 1e-3, 1.0, 1.0, init="construction"),
             _cell("mod_arith", "deltaproduct", "[-1,1]", 1e-3, 1.0, 1.0)]
    rows = summary_rows({"parity": ("4k", {"table": "table3", "cells": cells})})
    assert [(r["layer"], r["range"]) for r in rows] == list(MODELS)
    dn = rows[3]
    assert (dn["best"], dn["median"], dn["lr"], dn["runs"], dn["source"]) == \
        (0.99, 0.98, 1e-2, 3, "4k")
    assert (dn["paper"], dn["paper_median"]) == (1.0, 0.999)
    for r in rows[:3]:                       # no cell: NaN, no lr, no runs
        assert math.isnan(r["best"]) and math.isnan(r["median"]) and r["lr"] is None
        assert r["runs"] == 0 and math.isnan(r["paper_median"])
    md = markdown(rows)
    assert "| parity | DeltaNet [-1,1] | 1.000 | 0.990 | 0.999 | 0.980 | 0.01 | 3 | 4k |" in md
    assert "| parity | Mamba [0,1] | 0.000 | — | — | — | — | 0 | 4k |" in md


def test_nan_ranks_last_and_a_tie_goes_to_the_better_median(tmp_path):
    nan = math.nan
    cells = [  # a diverged learning rate first: max() alone kept it (NaN compares False)
        _cell("parity", "deltaproduct", "[-1,1]", 1e-1, nan, nan),
        _cell("parity", "deltaproduct", "[-1,1]", 1e-3, 0.95, 0.70),
        _cell("parity", "deltaproduct", "[-1,1]", 1e-2, 0.90, 0.90),
        # a tie on the best seed: the better median wins, whichever comes first
        _cell("parity", "mamba", "[-1,1]", 1e-3, 1.0, 0.50),
        _cell("parity", "mamba", "[-1,1]", 1e-2, 1.0, 0.99),
        _cell("parity", "mamba", "[-1,1]", 3e-2, 1.0, nan),
        # only NaN: the cell is shown (runs 3), its numbers NaN
        _cell("parity", "mamba", "[0,1]", 1e-3, nan, nan)]
    rows = {(r["layer"], r["range"]): r
            for r in summary_rows({"parity": ("4k", {"table": "table3", "cells": cells})})}
    dn = rows[("deltaproduct", "[-1,1]")]
    assert (dn["best"], dn["median"], dn["lr"]) == (0.95, 0.70, 1e-3)
    mb = rows[("mamba", "[-1,1]")]
    assert (mb["best"], mb["median"], mb["lr"]) == (1.0, 0.99, 1e-2)
    m0 = rows[("mamba", "[0,1]")]
    assert math.isnan(m0["best"]) and m0["runs"] == 3 and m0["lr"] == 1e-3
    assert "| parity | Mamba [0,1] | 0.000 | — | — | — | 0.001 | 3 | 4k |" in markdown(
        list(rows.values()))
    # the figure takes NaN (a run cell without a number) and a missing cell alike
    t3 = tmp_path / "table3.json"
    t3.write_text(json.dumps({"table": "table3", "cells": cells}))
    fig = tmp_path / "f.png"
    assert main([f"parity={t3}", "--figure", str(fig), "--md", str(tmp_path / "t.md")]) == 0
    assert fig.read_bytes()[:4] == b"\x89PNG"


def test_the_paper_numbers_are_table_3_and_table_5():
    # the issue's table (Grazzi et al., Table 3) and Table 5's medians, as REFERENCES.md has
    assert [PAPER_TABLE3[m]["parity"] for m in MODELS] == [0.000, 1.000, 0.017, 1.000]
    assert [PAPER_TABLE3[m]["mod_arith"] for m in MODELS] == [0.095, 0.241, 0.314, 0.971]
    assert [PAPER_TABLE3[m]["mod_arith_brackets"] for m in MODELS] == [0.123, 0.116, 0.194,
                                                                        0.260]
    assert PAPER_TABLE5_MEDIAN == {("deltaproduct", "[-1,1]"): {
        "parity": 0.999, "mod_arith": 0.826, "mod_arith_brackets": 0.227}}
    assert set(TASKS) == set(PAPER_TABLE3[MODELS[0]])


def test_the_committed_results(tmp_path, capsys):
    md, fig = tmp_path / "t.md", tmp_path / "f.png"
    assert main([f"{t}={p}" for t, p in COMMITTED.items()]
                + ["--md", str(md), "--figure", str(fig)]) == 0
    text = md.read_text()
    assert fig.stat().st_size > 10_000 and fig.read_bytes()[:4] == b"\x89PNG"
    # every row's numbers are the JSON's best learning rate, recomputed here
    for task, path in COMMITTED.items():
        cells = json.loads(path.read_text())["cells"]
        for layer, rng in MODELS:
            mine = [c for c in cells if c["task"] == task and c["layer"] == layer
                    and c["eigen_range"] == rng and c["num_householder"] == 1]
            best = max(mine, key=lambda c: c["best"])
            name = "Mamba" if layer == "mamba" else "DeltaNet"
            assert f"| {name} {rng} | {PAPER_TABLE3[(layer, rng)][task]:.3f} | " \
                   f"{best['best']:.3f} |" in text, (task, layer, rng)
    assert "figure:" in capsys.readouterr().out


@pytest.mark.parametrize("argv, says", [
    (["parity"], "expected TASK=PATH"),
    (["s5=x.json"], "unknown task 's5'"),
    (["parity=/nonexistent/table3.json"], "no such file"),
    (["parity={bad}"], "not a JSON file"),
    (["parity={s5}"], "not a table3 aggregate"),
    (["mod_arith={t3}"], "has no mod_arith cell"),
    (["parity={t3}", "parity={t3}"], "the task 'parity' is given twice"),
    # a cell that is not an object was AttributeError in the row picker; a string lr was
    # ValueError in the Markdown table (tracebacks)
    (["parity={odd}"], r"cells\[1\] is not an object"),
    (["parity={strlr}"], r"cells\[0\]: lr '1e-3' is not a number"),
    (["parity={boolbest}"], r"cells\[0\], a parity cell, without numeric best"),
    (["parity={t3}", "--figure", "{dir}"], "--figure: .* is a folder"),
    # a file where the output's folder goes was FileExistsError from mkdir (a traceback)
    (["parity={t3}", "--figure", "{bad}/x.png"], "--figure: .*bad.json' is a file, not a folder"),
    (["parity={t3}", "--md", "{bad}/sub/x.md"], "--md: .*bad.json' is a file, not a folder"),
])
def test_bad_inputs_are_one_error_line(tmp_path, capsys, argv, says):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    s5 = tmp_path / "s5.json"
    s5.write_text(json.dumps({"table": "s5", "cells": []}))
    t3 = tmp_path / "table3.json"
    t3.write_text(json.dumps({"table": "table3", "cells": [
        _cell("parity", "mamba", "[0,1]", 1e-3, 0.0, 0.0)]}))
    odd = tmp_path / "odd.json"
    odd.write_text(json.dumps({"table": "table3", "cells": [
        _cell("parity", "mamba", "[0,1]", 1e-3, 0.0, 0.0), ["parity"]]}))
    strlr = tmp_path / "strlr.json"
    strlr.write_text(json.dumps({"table": "table3", "cells": [
        _cell("parity", "mamba", "[0,1]", "1e-3", 0.0, 0.0)]}))
    boolbest = tmp_path / "boolbest.json"
    boolbest.write_text(json.dumps({"table": "table3", "cells": [
        _cell("parity", "mamba", "[0,1]", 1e-3, True, 0.0)]}))
    argv = [a.format(bad=bad, s5=s5, t3=t3, dir=tmp_path, odd=odd, strlr=strlr,
                     boolbest=boolbest) for a in argv]
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err
    import re
    assert re.search(says, err), err

