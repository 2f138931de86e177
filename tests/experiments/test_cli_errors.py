"""Bad command lines of ``python -m experiments.train`` and ``python -m experiments.tables``
end with one ``error:`` line naming the bad argument (exit status 2, or 1 where nothing was
written), not a traceback; none of these tests trains more than the two steps of a smoke run."""

from __future__ import annotations

import json

import pytest
import torch

from experiments import tables, train
from experiments.train import ConfigError, config_from_args, cpu_kernel_note, parse_lengths


def _train_error(argv, capsys) -> str:
    """The stderr of a command line that must exit with status 2."""
    with pytest.raises(SystemExit) as exc:
        rc = train.main(argv)
        raise SystemExit(rc)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    # argparse's usage lines, then one error line (a spec error adds its column and caret)
    return err.strip().split("python -m experiments.train: error: ", 1)[1]


# ------------------------------------------------------------------ experiments.train
def test_empty_or_reversed_eval_lengths_are_named(capsys):
    with pytest.raises(ConfigError, match=r"'10:5' gives no length"):
        parse_lengths("10:5")
    with pytest.raises(ConfigError, match="cannot parse '1:2:3:4'"):
        parse_lengths("1:2:3:4")
    line = _train_error(["--smoke", "--eval-lengths", ""], capsys)
    assert "argument --eval-lengths: cannot parse ''" in line
    assert "parse_lengths" not in line            # argparse's "invalid <function> value"
    line = _train_error(["--smoke", "--eval-lengths", "10:5"], capsys)
    assert "'10:5' gives no length" in line
    # the curve's lengths are named as such, not as eval_lengths
    for spec in ("", ",", "40,,128"):
        line = _train_error(["--smoke", "--curve-lengths", spec], capsys)
        assert f"argument --curve-lengths: cannot parse {spec!r}" in line
        assert "eval_lengths" not in line


@pytest.mark.parametrize("argv, says", [
    (["--steps", "0"], "steps: expected an int >= 1, got 0"),
    (["--steps", "-3"], "steps: expected an int >= 1, got -3"),
    (["--init", "pretrained"], "init: expected one of"),
    (["--name", "../escape"], "name: expected a plain folder name"),
    (["--config", "missing.json"], "--config: cannot read 'missing.json'"),
    (["--eval-every", "-1"], "eval_every: expected an int >= 0, got -1"),
    (["--profile-steps", "-2"], "profile_steps: expected an int >= 0, got -2"),
    (["--curve-lengths", "0,40"], "curve_lengths: expected positive lengths"),
    (["--chunk-size", "8"], "chunk_size: expected one of (16, 32, 64), got 8"),
    (["--chunk-size", "0"], "chunk_size: expected one of (16, 32, 64), got 0"),
    (["--chunk-size", "128"], "chunk_size: expected one of (16, 32, 64), got 128"),
    (["--chunk-size", "x"], "argument --chunk-size: invalid int value: 'x'"),
    # the Mamba layers have no chunk size, but a bad one is still refused, not ignored
    (["--chunk-size", "8", "--layer", "mamba"], "chunk_size: expected one of"),
])
def test_bad_options_are_argparse_errors(argv, says, capsys, tmp_path):
    line = _train_error(["--smoke", "--out", str(tmp_path), *argv], capsys)
    assert says in line and "\n" not in line
    assert not any(tmp_path.iterdir())            # nothing was started


@pytest.mark.parametrize("content, says", [
    ('{"task": "parity", "bogus": 1}', "unknown TrainConfig fields ['bogus']"),
    ("[1, 2]", "must hold a JSON object of TrainConfig fields, got list"),
    ("{bad", "is not JSON"),
    ('{"chunk_size": 8}', "chunk_size: expected one of (16, 32, 64), got 8"),
    ('{"chunk_size": "32"}', "chunk_size: expected one of (16, 32, 64), got '32'"),
    ('{"chunk_size": 32.0}', "chunk_size: expected one of (16, 32, 64), got 32.0"),
    ('{"chunk_size": true}', "chunk_size: expected one of (16, 32, 64), got True"),
    ('{"chunk_size": null}', "chunk_size: expected one of (16, 32, 64), got None"),
])
def test_bad_config_files(content, says, tmp_path, capsys):
    conf = tmp_path / "c.json"
    conf.write_text(content)
    with pytest.raises(SystemExit) as exc:
        config_from_args(["--config", str(conf)])
    assert exc.value.code == 2 and says in capsys.readouterr().err


@pytest.mark.parametrize("argv, says", [
    (["--task", "nosuch"], "task: unknown name 'nosuch'"),
    (["--eigen-range", "[0,2]"], "eigen_range: expected one of"),
    (["--layer", "lstm"], "layer: expected one of ('deltaproduct', 'mamba'), got 'lstm'"),
    (["--num-householder", "0"], "num_householder: expected an int >= 1, got 0"),
    (["--hidden-size", "10", "--num-heads", "3"], "hidden_size: 10 is not a multiple of"),
    (["--layer", "mamba", "--init", "construction"], "layer: the initializer needs"),
    # was ignored silently (the diagonal layer has no sub-steps)
    (["--layer", "mamba", "--num-householder", "2"],
     "num_householder: the mamba layer has no Householder sub-steps; expected 1, got 2"),
    (["--task", "dfa:nonsense("], "expected a value at column"),
])
def test_errors_found_when_the_run_starts_are_one_line(argv, says, capsys, tmp_path):
    line = _train_error(["--smoke", "--out", str(tmp_path), *argv], capsys)
    assert says in line and len(line.splitlines()) <= 3


def test_cuda_without_cuda_is_one_error_line(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    line = _train_error(["--smoke", "--out", str(tmp_path), "--device", "cuda"], capsys)
    assert "device: 'cuda' requested but CUDA is not available" in line


def test_resuming_a_changed_config_is_one_error_line(capsys, tmp_path):
    base = ["--smoke", "--out", str(tmp_path), "--name", "r"]
    assert train.main(base) == 0
    capsys.readouterr()
    line = _train_error([*base, "--lr", "0.5"], capsys)
    assert "written by another configuration (differs in ['lr'])" in line


def test_a_checkpoint_field_this_version_lacks_is_named(capsys, tmp_path):
    # a checkpoint written by a newer version (a field this one does not know) was refused
    # with "differs in []": the message named nothing
    base = ["--smoke", "--steps", "4", "--out", str(tmp_path), "--name", "r"]
    assert train.main([*base, "--stop-after", "2"]) == 0
    capsys.readouterr()
    path = tmp_path / "r" / "checkpoint.pt"
    ck = torch.load(path, weights_only=False)
    ck["config"]["future_field"] = 3
    torch.save(ck, path)
    line = _train_error(base, capsys)
    assert "(differs in ['future_field'])" in line


def test_an_older_checkpoint_without_chunk_size_resumes(capsys, tmp_path):
    # runs checkpointed before chunk_size existed resume (the chunk size changes how the
    # kernel computes, not the function), at any chunk size
    base = ["--smoke", "--steps", "4", "--out", str(tmp_path), "--name", "r"]
    assert train.main([*base, "--stop-after", "2"]) == 0
    path = tmp_path / "r" / "checkpoint.pt"
    ck = torch.load(path, weights_only=False)
    del ck["config"]["chunk_size"]
    torch.save(ck, path)
    assert train.main([*base, "--chunk-size", "32"]) == 0
    res = json.loads((tmp_path / "r" / "results.json").read_text())
    assert res["resumed_from"] == 2 and res["steps_done"] == 4
    assert res["config"]["chunk_size"] == 32 and res["model_config"]["chunk_size"] == 32


def test_triton_kernels_on_the_cpu_get_a_note(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for kernel in ("chunk", "recurrent"):
        assert "Triton's interpreter" in cpu_kernel_note(kernel, "cpu")
        assert "Triton's interpreter" in cpu_kernel_note(kernel, "auto")
    assert cpu_kernel_note("reference", "cpu") is None
    assert cpu_kernel_note("auto", "cpu") is None
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert cpu_kernel_note("chunk", "auto") is None


# ------------------------------------------------------------------ experiments.tables
def _tables_error(argv, capsys) -> str:
    with pytest.raises(SystemExit) as exc:
        tables.main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


@pytest.mark.parametrize("argv, says", [
    (["--seeds", ""], "--seeds: expected comma-separated integers, got ''"),
    (["--seeds", "a,b"], "--seeds: expected comma-separated integers, got 'a,b'"),
    (["--seeds", "0,0"], "--seeds: a seed given twice"),
    (["--jobs", "0"], "--jobs: expected an int >= 1, got 0"),
    (["--tasks", ""], "--tasks: expected comma-separated task names, got ''"),
    (["--tasks", "parity,"], "--tasks: expected comma-separated task names"),
    (["--tasks", "mod_arith"], "table 'init' has no row of ['mod_arith']"),
    (["--lrs", "fast"], "--lrs: expected comma-separated numbers, got 'fast'"),
    (["--lrs", "1e-3,"], "--lrs: expected comma-separated numbers"),
    (["--lrs", "0"], "lrs: expected positive learning rates, got [0.0]"),
    (["--lrs", "nan"], "lrs: expected positive learning rates"),
    (["--lrs", "inf"], "lrs: expected positive learning rates"),
    (["--lrs", "1e-3,0.001"], "lrs: a learning rate given twice"),
    (["--lrs", "1e-3,,1e-2"], "--lrs: expected comma-separated numbers, got '1e-3,,1e-2'"),
    (["--lrs", "-1"], "lrs: expected positive learning rates, got [-1.0]"),
    (["--eval-every", "-1"], "eval_every: expected an int >= 0, got -1"),
    (["--eval-batch-size", "0"], "eval_batch_size: expected an int >= 1, got 0"),
    (["--eval-batch-size", "-1"], "eval_batch_size: expected an int >= 1, got -1"),
    (["--eval-batch-size", "-1", "--no-run"], "eval_batch_size: expected an int >= 1"),
    (["--chunk-size", "8"], "--chunk-size: invalid choice: 8"),
    (["--skip-mamba", "--only-mamba"], "--skip-mamba and --only-mamba: choose one"),
    # the init and s5 tables have no Mamba row: --only-mamba trained all their rows
    (["--only-mamba"], "--only-mamba: table 'init' has no Mamba rows (only table3 has)"),
    (["--only-mamba", "--no-run"], "--only-mamba: table 'init' has no Mamba rows"),
])
def test_tables_bad_options(argv, says, capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(tables, "run_grid", lambda *a, **k: pytest.fail("ran"))
    line = _tables_error(["--table", "init", "--protocol", "smoke", "--out", str(tmp_path),
                          "--results", str(tmp_path / "r"), *argv], capsys)
    assert line.startswith("python -m experiments.tables: error: ") and says in line


def test_tables_lrs_make_one_run_per_learning_rate_in_one_folder(tmp_path):
    cfgs = tables.grid("table3", "reduced", seeds=(0,), layers=("deltaproduct",),
                       tasks=("parity",), lrs=(1e-3, 1e-2), out=str(tmp_path))
    assert sorted({c.lr for c in cfgs}) == [1e-3, 1e-2]
    assert len({c.run_name for c in cfgs}) == len(cfgs) == 4      # names differ by lr
    assert {c.lr for c in tables.grid("table3", "paper", tasks=("parity",))} == \
        set(tables.PAPER_LRS)


def test_tables_cuda_without_cuda_is_refused_before_any_run(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(tables, "run_grid", lambda *a, **k: pytest.fail("ran"))
    line = _tables_error(["--table", "init", "--protocol", "smoke", "--device", "cuda",
                          "--out", str(tmp_path)], capsys)
    assert "--device: 'cuda' requested but CUDA is not available" in line


def test_no_run_without_finished_runs_writes_nothing(capsys, tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    (results / "init.json").write_text('{"cells": ["committed"]}')
    rc = tables.main(["--table", "init", "--no-run", "--no-plots", "--out",
                      str(tmp_path / "runs"), "--results", str(results)])
    assert rc == 1
    err = capsys.readouterr().err
    assert "no finished run of table 'init' (reduced)" in err and "runs_results.tgz" in err
    assert json.loads((results / "init.json").read_text()) == {"cells": ["committed"]}
    assert not (results / "init.md").exists()


def test_relative_out_is_where_the_runs_land_and_are_read(monkeypatch, tmp_path):
    # the runs are processes started in the repository root: a relative --out must be
    # resolved against the caller's directory before it is handed to them
    seen = []
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tables, "run_grid", lambda cfgs, jobs: seen.extend(cfgs) or [])
    rc = tables.main(["--table", "init", "--protocol", "smoke", "--tasks", "parity",
                      "--seeds", "0", "--out", "rel", "--results", str(tmp_path / "r"),
                      "--no-plots"])
    assert rc == 1                                  # nothing finished: nothing written
    assert len(seen) == 2 and {c.out for c in seen} == {str(tmp_path / "rel")}


def test_tables_chunk_size_reaches_every_run(tmp_path, monkeypatch):
    """``--chunk-size`` is passed to every run the table trains (and the runs it finds
    finished with another chunk size still count: the chunk size is not part of a run's
    identity)."""
    seen = []
    monkeypatch.setattr(tables, "run_grid", lambda cfgs, *a, **k: (seen.extend(cfgs), [])[1])
    tables.main(["--table", "init", "--protocol", "smoke", "--out", str(tmp_path),
                 "--results", str(tmp_path / "r"), "--no-plots", "--chunk-size", "32"])
    assert seen and {c.chunk_size for c in seen} == {32}


# ------------------------------------------------------------------ cold pass (cold10)
@pytest.mark.parametrize("argv, says", [
    # numpy's "expected non-negative integer" / torch's "Overflow when unpacking long long"
    # came out as tracebacks once the run started
    (["--seed", "-1"], "seed: expected an int in [0, 2**64), got -1"),
    (["--seed", str(2 ** 64)], "seed: expected an int in [0, 2**64)"),
    # an infinite learning rate reached the kernel's input check ("beta: values must lie in
    # [0, 2]; got NaN"), which names no option
    (["--lr", "inf"], "lr: expected a finite positive number, got inf"),
    (["--min-lr", "inf"], "min_lr: expected a finite positive number, got inf"),
    (["--grad-clip", "inf"], "grad_clip: expected a finite positive number, got inf"),
    # accepted silently: a negative decay grows the weights; -1 stopped after the first step
    (["--weight-decay", "-1"], "weight_decay: expected a finite number >= 0, got -1.0"),
    (["--weight-decay", "nan"], "weight_decay: expected a finite number >= 0, got nan"),
    (["--stop-after", "-1"], "stop_after: expected an int >= 0, got -1"),
    (["--checkpoint-every", "-1"], "checkpoint_every: expected an int >= 0, got -1"),
])
def test_cold_pass_bad_train_options(argv, says, capsys, tmp_path):
    line = _train_error(["--smoke", "--out", str(tmp_path), *argv], capsys)
    assert says in line and "\n" not in line
    assert not any(tmp_path.iterdir())


def test_train_out_that_is_a_file_is_one_error_line(capsys, tmp_path):
    # was NotADirectoryError from mkdir, with a traceback
    afile = tmp_path / "afile"
    afile.write_text("x")
    for out in (afile, afile / "sub"):
        line = _train_error(["--smoke", "--out", str(out)], capsys)
        assert f"out: {str(afile)!r} is a file, not a folder" in line
    assert afile.read_text() == "x"


def test_tables_negative_seed_is_refused_before_any_run(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(tables, "run_grid", lambda *a, **k: pytest.fail("ran"))
    line = _tables_error(["--table", "table3", "--protocol", "smoke", "--seeds", "0,-1",
                          "--out", str(tmp_path)], capsys)
    assert "seed: expected an int in [0, 2**64), got -1" in line


@pytest.mark.parametrize("which", ["--out", "--results", "--figures"])
def test_tables_folder_that_is_a_file_is_refused_first(which, capsys, tmp_path, monkeypatch):
    # --results or --figures a file was FileExistsError from mkdir (--figures after the
    # aggregate had been written); --out a file started every run, each failing
    monkeypatch.setattr(tables, "run_grid", lambda *a, **k: pytest.fail("ran"))
    afile = tmp_path / "afile"
    afile.write_text("x")
    folders = {"--out": str(tmp_path / "runs"), "--results": str(tmp_path / "r"),
               "--figures": str(tmp_path / "f")}
    folders[which] = str(afile / "sub") if which == "--figures" else str(afile)
    argv = ["--table", "s5", "--protocol", "smoke"]
    for k, v in folders.items():
        argv += [k, v]
    line = _tables_error(argv, capsys)
    assert f"{which}: {str(afile)!r} is a file, not a folder" in line
    assert not (tmp_path / "r").exists() and afile.read_text() == "x"


def test_tables_inits_outside_the_init_table_is_refused(capsys, tmp_path, monkeypatch):
    # was ignored: --table table3 --inits random trained table3's usual rows
    monkeypatch.setattr(tables, "run_grid", lambda *a, **k: pytest.fail("ran"))
    line = _tables_error(["--table", "table3", "--protocol", "smoke", "--inits", "random",
                          "--out", str(tmp_path)], capsys)
    assert "--inits: table 'table3' has no init arms (only init has)" in line
