"""The training entry point on the CPU: a two-step smoke run, checkpoint resume, the CLI, the
results JSON, the tables' aggregation, and DDP with two gloo processes under torchrun."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from experiments.tables import aggregate, grid, markdown
from experiments.train import ConfigError, TrainConfig, _lr_lambda, main, run, smoke_config

ROOT = Path(__file__).resolve().parents[2]


def test_two_step_smoke_run(tmp_path):
    cfg = smoke_config(task="s3", num_householder=2, out=str(tmp_path))
    res = run(cfg)
    saved = json.loads((tmp_path / cfg.run_name / "results.json").read_text())
    assert saved["steps_done"] == 2 and saved["loss_curve"]["step"] == [1, 2]
    assert all(math.isfinite(v) for v in saved["loss_curve"]["loss"])
    assert [r["length"] for r in saved["eval"]] == [40, 48]
    for r in saved["eval"]:
        assert 0 <= r["accuracy"] <= 1 and "sequence_accuracy" in r
        assert r["scaled_accuracy"] == pytest.approx((r["accuracy"] - 1 / 6) / (5 / 6))
    env = saved["environment"]
    assert env["torch"] == torch.__version__ and env["device_type"] == "cpu"
    assert env["world_size"] == 1 and "commit" in env
    assert res["summary"] == saved["summary"]


def test_interrupted_run_resumes_to_the_same_model(tmp_path):
    common = dict(task="parity", steps=4, out=str(tmp_path))
    whole = smoke_config(name="whole", **common)
    run(whole)
    cut = smoke_config(name="cut", stop_after=2, **common)
    part = run(cut)
    assert part["stopped"] and part["steps_done"] == 2
    assert not (tmp_path / "cut" / "results.json").exists()
    res = run(smoke_config(name="cut", **common))
    assert res["resumed_from"] == 2 and res["steps_done"] == 4
    a = torch.load(tmp_path / "whole" / "checkpoint.pt", weights_only=False)
    b = torch.load(tmp_path / "cut" / "checkpoint.pt", weights_only=False)
    assert a["losses"] == b["losses"]
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    with pytest.raises(ConfigError, match="differs in"):
        run(smoke_config(name="cut", **{**common, "lr": 0.5}))


def test_training_segments_say_which_kernel_trained_which_steps(tmp_path):
    """A finished run rerun with another --kernel trains nothing: its results keep the
    training kernel in training_segments (results.json credited the new kernel before) and
    name the evaluating one apart; a resume adds a segment for its own steps."""
    common = dict(task="parity", steps=4, out=str(tmp_path))
    part = run(smoke_config(name="seg", stop_after=2, kernel="reference", **common))
    assert part["training_segments"] == [{"from": 0, "to": 2, "kernel": "reference",
                                          "device": "cpu", "processes": 1,
                                          "chunk_size": part["config"]["chunk_size"]}]
    res = run(smoke_config(name="seg", kernel="reference", **common))
    assert [(s["from"], s["to"]) for s in res["training_segments"]] == [(0, 2), (2, 4)]
    again = run(smoke_config(name="seg", kernel="recurrent", **common))
    assert again["resumed_from"] == 4
    assert again["training_segments"] == res["training_segments"]
    assert {s["kernel"] for s in again["training_segments"]} == {"reference"}
    assert again["eval_kernel"] == "recurrent" and again["config"]["kernel"] == "recurrent"
    saved = json.loads((tmp_path / "seg" / "results.json").read_text())
    assert saved["training_segments"] == res["training_segments"]
    # a checkpoint written before segments were recorded: its steps are an unknown segment
    run(smoke_config(name="old", stop_after=2, **common))
    ck_path = tmp_path / "old" / "checkpoint.pt"
    ck = torch.load(ck_path, weights_only=False)
    del ck["segments"]
    torch.save(ck, ck_path)
    old = run(smoke_config(name="old", **common))
    assert [(s["from"], s["to"], s["kernel"]) for s in old["training_segments"]] == \
        [(0, 2, None), (2, 4, "reference")]


def test_constructed_init_scores_one_before_training(tmp_path):
    cfg = smoke_config(task="flip_flop", init="construction", activation="none",
                       use_output_norm=False, learn_initial_state=True, num_householder=2,
                       eval_at_start=True, eval_lengths=(40, 256), out=str(tmp_path))
    res = run(cfg)
    assert [r["accuracy"] for r in res["eval_at_start"]] == [1.0, 1.0]
    assert res["construction"]["spec"] == "flip_flop"
    assert res["loss_curve"]["loss"][0] < 0.01


def test_cli_and_config_file(tmp_path, capsys):
    conf = tmp_path / "c.json"
    conf.write_text(json.dumps({"task": "mod_arith", "num_layers": 1}))
    assert main(["--smoke", "--config", str(conf), "--out", str(tmp_path), "--name", "cli",
                 "--eval-lengths", "41", "--no-use-short-conv"]) == 0
    res = json.loads((tmp_path / "cli" / "results.json").read_text())
    assert res["config"]["task"] == "mod_arith" and res["config"]["use_short_conv"] is False
    assert [r["length"] for r in res["eval"]] == [41]
    assert "mean scaled accuracy" in capsys.readouterr().out
    with pytest.raises(ConfigError, match="init"):
        TrainConfig(init="pretrained")
    # a config file's lengths become tuples, as the options' do (curve_lengths stayed a list:
    # a config unequal to the same one built from options, and unhashable)
    from experiments.train import config_from_args

    conf.write_text(json.dumps({"curve_lengths": [40, 56], "eval_lengths": [41]}))
    cfg = config_from_args(["--config", str(conf)])
    assert cfg == TrainConfig(curve_lengths=(40, 56), eval_lengths=(41,))
    hash(cfg)


def test_tables_grid_and_aggregate(tmp_path):
    assert len(grid("table3", "reduced")) == 36
    assert len(grid("s5", "paper", seeds=(0,))) == 8 * 4
    # full S_5 at n_h = 1, 2 and 4 (4 reflections: the count its permutation representation needs)
    assert sorted(c.num_householder for c in grid("s5", "reduced", seeds=(0,), tasks=("s5",))) \
        == [1, 2, 4]
    parity = grid("table3", "reduced", tasks=("parity",))
    assert len(parity) == 12 and {c.task for c in parity} == {"parity"}
    with pytest.raises(ValueError, match="no row of.*s3"):
        grid("table3", "reduced", tasks=("s3",))
    with pytest.raises(ValueError, match="inits"):
        grid("init", "reduced", inits=("pretrained",))
    assert len(grid("init", "reduced", inits=("random", "construction", "construction_closed"))) \
        == 3 * 3 * 3
    cfgs = grid("init", "smoke", seeds=(0,), out=str(tmp_path))[:2]   # parity, both inits
    for c in cfgs:
        run(c)
    agg = aggregate(cfgs)
    assert [c["init"] for c in agg["cells"]] == ["construction", "random"]
    assert all(len(c["loss_curves"]) == 1 for c in agg["cells"])
    con = agg["cells"][0]
    assert con["scaled_at_start_by_run"] == [[1.0]]
    assert "| parity | DeltaNet | [-1,1] | 1 | construction | 0.001 | 1 |" in markdown(agg)


def test_ddp_two_gloo_processes(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
           "--master_port", str(29500 + os.getpid() % 1000), "-m", "experiments.train",
           "--smoke", "--out", str(tmp_path), "--name", "ddp", "--steps", "3",
           "--eval-lengths", "40,48,56"]
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    # the whole output on failure: a rank's abort message comes before torchrun's summary
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-12000:]
    res = json.loads((tmp_path / "ddp" / "results.json").read_text())
    assert res["environment"]["world_size"] == 2
    # the test lengths were shared out (40, 56 on rank 0; 48 on rank 1) and gathered
    assert [row["length"] for row in res["eval"]] == [40, 48, 56]
    assert res["loss_curve"]["step"] == [1, 2, 3]
    assert all(math.isfinite(v) for v in res["loss_curve"]["loss"])


def test_commit_named_by_the_environment_wins(monkeypatch):
    # a GPU machine's copy of the tree may carry an older .git: the commit the caller names
    # is the one recorded
    from experiments.train import _git_commit

    monkeypatch.setenv("STATETRACK_COMMIT", "abc1234")
    assert _git_commit()["commit"] == "abc1234"
    monkeypatch.delenv("STATETRACK_COMMIT")
    assert _git_commit()["commit"] != "abc1234"


def test_model_config_takes_every_shared_field():
    # the model part of a TrainConfig is derived by field name, so a field added to both
    # classes reaches the model without a second list to keep in step
    from dataclasses import fields

    from experiments.model import ModelConfig
    from experiments.tasks import make_task

    cfg = TrainConfig(layer="mamba", num_layers=3, hidden_size=64, num_heads=2,
                      eigen_range="[0,1]", use_short_conv=False, activation="none",
                      mlp_ratio=2, kernel="reference")
    mc = cfg.model_config(make_task("parity"))
    shared = {f.name for f in fields(ModelConfig)} & {f.name for f in fields(TrainConfig)}
    assert {"layer", "num_layers", "eigen_range", "kernel", "mlp_ratio"} <= shared
    assert all(getattr(mc, n) == getattr(cfg, n) for n in shared)


@pytest.mark.parametrize("task", ["s3", "parity"])
def test_first_adamw_step_wrecks_the_construction_unless_identity_gates_are_closed(tmp_path,
                                                                                   task):
    """The init table's configuration (reduced protocol: AdamW lr 1e-3 with a 100-step warm-up,
    so the first step's lr is 1e-5; weight decay 0.1; clipping 1.0), smaller batches, stopped
    after one update. ``construction`` (as committed): the update moves the columns feeding
    the identity sub-steps' zero keys by ~1e-5, L2 normalization makes those keys unit
    vectors, and with beta 1 each identity letter projects the state off its key: the loss
    jumps by orders of magnitude. ``construction_closed`` (beta logit -20 there): the loss
    stays where it was."""
    out = {}
    for init in ("construction", "construction_closed"):
        (cfg,) = grid("init", "reduced", seeds=(0,), tasks=(task,), inits=(init,),
                      out=str(tmp_path), batch_size=32, stop_after=2, log_every=1,
                      device="cpu", progress=False, eval_at_start=False)
        assert (cfg.steps, cfg.lr, cfg.weight_decay, cfg.grad_clip) == (1000, 1e-3, 0.1, 1.0)
        assert cfg.lr * _lr_lambda(cfg)(0) == pytest.approx(1e-5)     # the first step's lr
        res = run(cfg)
        assert res["stopped"] and res["steps_done"] == 2
        ck = torch.load(tmp_path / cfg.run_name / "checkpoint.pt", weights_only=False)
        out[init] = ck["losses"]                    # batch 0 before, batch 1 after the update
    before, after = out["construction"]
    assert before < 1e-3 and after > 1000 * before, out
    closed_before, closed_after = out["construction_closed"]
    assert closed_before == pytest.approx(before, rel=1e-6)        # the same function at start
    assert closed_after < 10 * closed_before, out


def test_a_finished_run_with_other_settings_is_not_taken_for_done(tmp_path):
    # run names do not carry the step count: asking for 3 steps where a 2-step run of the
    # same name finished must not skip it (nor aggregate it as the 3-step run)
    from experiments.tables import finished, run_grid

    cfg = grid("init", "smoke", seeds=(0,), out=str(tmp_path), tasks=("parity",))[0]
    run(cfg)
    assert finished(cfg)["config"]["steps"] == cfg.steps == 2
    longer = grid("init", "smoke", seeds=(0,), out=str(tmp_path), tasks=("parity",),
                  steps=3)[0]
    assert longer.run_name == cfg.run_name
    with pytest.raises(ConfigError, match=r"other settings \(steps=2, asked 3\); use another "
                                          r"--out"):
        run_grid([longer])
    with pytest.raises(ConfigError, match="other settings"):
        aggregate([longer])
    # fields that may differ between runs of one configuration do not count
    other_place = grid("init", "smoke", seeds=(0,), out=str(tmp_path), tasks=("parity",),
                       eval_lengths=(40, 48), kernel="reference")[0]
    assert finished(other_place) is not None


def test_moving_a_cpu_built_model_switches_every_layer_to_the_device_paths():
    """A model built on the CPU has the PyTorch scan; moved for the Triton kernels its Mamba
    layers must switch too (the session-8 bug: every Mamba GPU run of session 7 trained
    through the PyTorch scan, slower and memory-hungry), to the SSD readout for "chunk"
    (session 9) and the Triton scan for "recurrent", with the same outputs."""
    from experiments.model import ModelConfig, build_model
    from experiments.train import build_model_to

    for layer in ("mamba", "deltaproduct"):
        mcfg = ModelConfig(vocab_size=3, num_classes=3, num_layers=2, hidden_size=16,
                           num_heads=2, layer=layer, kernel="chunk")
        # as in run(): built on the CPU with kernel "auto" (the PyTorch paths), then moved to
        # a device where "auto" means the Triton kernels (here: "chunk" on the CPU)
        model = build_model(dataclasses.replace(mcfg, kernel="auto"), device="cpu",
                            generator=torch.Generator().manual_seed(0))
        x = torch.tensor([[1, 2, 2, 1, 2, 1, 1, 2]])
        with torch.no_grad():
            before = model(x)
        if layer == "mamba":
            assert {b.mixer.config.backend for b in model.blocks} == {"torch"}
        moved = build_model_to(model, mcfg, torch.device("cpu"))
        if layer == "mamba":
            assert {b.mixer.config.backend for b in moved.blocks} == {"ssd"}
            rec = build_model_to(model, dataclasses.replace(mcfg, kernel="recurrent"),
                                 torch.device("cpu"))
            assert {b.mixer.config.backend for b in rec.blocks} == {"triton"}
            with torch.no_grad():
                torch.testing.assert_close(rec(x), before, atol=1e-4, rtol=1e-4)
        else:
            assert {b.mixer.inner.config.mode for b in moved.blocks} == {"chunk"}
        with torch.no_grad():
            after = moved(x)
        torch.testing.assert_close(after, before, atol=1e-4, rtol=1e-4)


def test_eval_curve_and_progress_file_survive_a_resume(tmp_path):
    """--eval-every records the accuracy at --curve-lengths during training (kept in the
    checkpoint across a resume); progress.json tells how far a run got."""
    common = dict(out=str(tmp_path), name="curve", steps=4, eval_every=2, curve_lengths=(40, 56),
                  checkpoint_every=2, eval_lengths=(40, 48))
    stopped = run(smoke_config(stop_after=2, **common))
    assert stopped["stopped"]
    prog = json.loads((tmp_path / "curve" / "progress.json").read_text())
    assert prog["step"] == 2 and prog["steps"] == 4 and prog["steps_per_second"] > 0
    res = run(smoke_config(**common))
    assert [p["step"] for p in res["eval_curve"]] == [2, 4]
    assert [[r["length"] for r in p["rows"]] for p in res["eval_curve"]] == [[40, 56], [40, 56]]
    # the curve's last point is the final evaluation where the lengths are shared
    assert res["eval_curve"][1]["rows"][0] == res["eval"][0]
    assert json.loads((tmp_path / "curve" / "progress.json").read_text())["step"] == 4
    assert json.loads((tmp_path / "curve" / "results.json").read_text())["eval_curve"] \
        == res["eval_curve"]


def test_a_resume_may_change_eval_every_and_a_long_eval_every_gives_the_final_point(tmp_path):
    common = dict(out=str(tmp_path), name="c", steps=6, eval_lengths=(40,),
                  curve_lengths=(40,))
    run(smoke_config(stop_after=2, eval_every=2, **common))
    res = run(smoke_config(eval_every=3, **common))                  # a resume-free field
    assert res["resumed_from"] == 2
    assert [p["step"] for p in res["eval_curve"]] == [2, 3, 6]
    res = run(smoke_config(out=str(tmp_path), name="long", steps=3, eval_every=10,
                           eval_lengths=(40,), curve_lengths=(40,)))
    assert [p["step"] for p in res["eval_curve"]] == [3]
    assert res["eval_curve"][0]["rows"] == res["eval"]


def test_eval_every_is_validated():
    with pytest.raises(ConfigError, match="eval_every"):
        TrainConfig(eval_every=-1)
    with pytest.raises(ConfigError, match="curve_lengths"):
        TrainConfig(curve_lengths=())


def test_profile_steps_write_what_a_step_costs(tmp_path):
    res = run(smoke_config(out=str(tmp_path), name="prof", steps=14, profile_steps=3))
    prof = json.loads((tmp_path / "prof" / "profile.json").read_text())
    assert prof["steps"] == 3 and prof["wall_ms_per_step"] > 0
    assert prof["top_cpu"] and all(r["calls_per_step"] > 0 for r in prof["top_cpu"])
    assert prof["device_busy_ms_per_step"] == 0 and prof["kernels_per_step"] == 0   # CPU run
    assert "Self CPU" in (tmp_path / "prof" / "profile.txt").read_text()
    assert res["steps_done"] == 14
    # fewer steps than the warm-up plus the profile: the profile takes the last steps
    run(smoke_config(out=str(tmp_path), name="short", steps=4, profile_steps=3))
    assert json.loads((tmp_path / "short" / "profile.json").read_text())["steps"] == 3
    # --stop-after ends the run early: the profile still takes its steps before the stop
    # (was: none at all when the stop came before the warm-up's end, fewer steps near it)
    for stop, name in ((5, "stop5"), (12, "stop12")):
        part = run(smoke_config(out=str(tmp_path), name=name, steps=20, profile_steps=3,
                                stop_after=stop))
        assert part["stopped"] and part["steps_done"] == stop
        assert json.loads((tmp_path / name / "profile.json").read_text())["steps"] == 3


def test_stop_after_on_the_command_line_says_how_far_it_got(tmp_path, capsys):
    assert main(["--smoke", "--steps", "4", "--stop-after", "2", "--out", str(tmp_path),
                 "--name", "cut"]) == 0                                  # was a KeyError
    out = capsys.readouterr().out
    assert "cut: stopped after 2 of 4 steps" in out and "checkpoint.pt" in out
    assert not (tmp_path / "cut" / "results.json").exists()
    assert main(["--smoke", "--steps", "4", "--out", str(tmp_path), "--name", "cut"]) == 0
    assert "mean scaled accuracy" in capsys.readouterr().out
    assert json.loads((tmp_path / "cut" / "results.json").read_text())["resumed_from"] == 2


@pytest.mark.parametrize("task_name, layer, kernel", [
    ("parity", "deltaproduct", "auto"), ("mod_arith", "mamba", "auto"),
    ("mod_arith", "mamba", "chunk"),            # the Mamba layer's SSD readout
    ("s3", "deltaproduct", "auto")])
def test_graph_step_data_path_matches_the_eager_step(task_name, layer, kernel):
    """The CUDA-graph step's data path (batches padded to one width, static input buffers,
    warm-up steps, then replays), with the capture emulated on the CPU: the same losses and
    the same weights as the eager loop on the unpadded batches."""
    import numpy as np

    from experiments.model import build_model
    from experiments.tasks import make_task
    from experiments.train import _GraphStep, _param_groups, _to_device, _train_step

    cfg = smoke_config(task=task_name, layer=layer, num_layers=2, hidden_size=16,
                       num_heads=2, batch_size=6, kernel=kernel)
    task = make_task(task_name)
    models, opts = [], []
    for _ in range(2):
        m = build_model(cfg.model_config(task), device="cpu",
                        generator=torch.Generator().manual_seed(0))
        models.append(m)
        opts.append(torch.optim.AdamW(_param_groups(m, cfg.weight_decay),
                                      lr=torch.tensor(cfg.lr)))
    graph = _GraphStep(models[1], models[1], opts[1], cfg, task, torch.device("cpu"),
                       emulate=True)
    width = task.width(cfg.train_max_length)
    padded = 0
    for step in range(_GraphStep.WARMUP + 4):
        ex = task.sample(np.random.default_rng([7, step]), 6, cfg.train_min_length,
                         cfg.train_max_length)
        padded += ex.tokens.shape[1] < width
        x, y = _to_device(ex.tokens, torch.device("cpu")), _to_device(ex.targets,
                                                                      torch.device("cpu"))
        opts[0].zero_grad(set_to_none=True)
        eager = _train_step(models[0], models[0], opts[0], x, y, cfg).detach()
        replayed = graph(ex)
        torch.testing.assert_close(replayed, eager, rtol=1e-5, atol=1e-6)
    assert graph.graph is not None and graph.sx.shape[1] == width
    assert padded > 0                                  # some batches were really padded
    for a, b in zip(models[0].parameters(), models[1].parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("layer, kernel", [("deltaproduct", "chunk"), ("mamba", "chunk"),
                                           ("mamba", "recurrent")])
def test_cuda_graph_step_captures_and_matches_eager_gpu(layer, kernel):
    """On a GPU: the training step is really captured (no op in it reads the device: the
    SSD readout's own backward exists for this) and its replays give the eager losses."""
    import numpy as np

    from experiments.model import build_model
    from experiments.tasks import make_task
    from experiments.train import _GraphStep, _param_groups, _to_device, _train_step

    dev = torch.device("cuda")
    cfg = smoke_config(task="parity", layer=layer, num_layers=2, hidden_size=32, num_heads=2,
                       batch_size=16, kernel=kernel, device="cuda")
    task = make_task("parity")
    models, opts = [], []
    for graphed in (False, True):               # as run() builds them
        m = build_model(cfg.model_config(task), device=dev,
                        generator=torch.Generator().manual_seed(0))
        models.append(m)
        opts.append(torch.optim.AdamW(
            _param_groups(m, cfg.weight_decay), fused=True, capturable=graphed,
            lr=torch.tensor(cfg.lr, device=dev) if graphed else cfg.lr))
    graph = _GraphStep(models[1], models[1], opts[1], cfg, task, dev)
    width = task.width(cfg.train_max_length)
    for step in range(_GraphStep.WARMUP + 3):
        ex = task.sample(np.random.default_rng([3, step]), 16, cfg.train_min_length,
                         cfg.train_max_length)
        x, y = _to_device(ex.tokens, dev), _to_device(ex.targets, dev)
        opts[0].zero_grad(set_to_none=True)
        eager = _train_step(models[0], models[0], opts[0], x, y, cfg).detach()
        torch.testing.assert_close(graph(ex), eager, rtol=1e-3, atol=1e-4)
    assert graph.graph is not None and graph.sx.shape[1] == width


def test_cuda_graph_without_cuda_runs_eagerly_with_a_note(tmp_path, capsys):
    res = run(smoke_config(out=str(tmp_path), name="g", cuda_graph=True))
    assert res["steps_done"] == 2
    assert "--cuda-graph needs one process on a CUDA device" in capsys.readouterr().err


def test_eval_curves_are_aggregated_and_plotted(tmp_path):
    from experiments.plots import plot_table

    cfgs = grid("table3", "smoke", seeds=(0,), layers=("deltaproduct",), tasks=("parity",),
                out=str(tmp_path / "runs"), eval_every=1, steps=2)
    for c in cfgs:
        run(c)
    agg = aggregate(cfgs)
    assert all(len(c["eval_curves"]) == 1 and [p["step"] for p in c["eval_curves"][0]] == [1, 2]
               for c in agg["cells"])
    paths = plot_table(agg, tmp_path / "fig", "t")
    assert tmp_path / "fig" / "t_parity_curve.png" in paths
    assert (tmp_path / "fig" / "t_parity_curve.png").stat().st_size > 1000


def test_tables_aggregate_keeps_the_finished_runs_of_other_learning_rates(tmp_path, capsys):
    """A command without --lrs rewrites the table: the finished runs of another learning rate
    in the runs' folder stay in it (they were dropped: the committed table3 has lr 1e-2 rows
    that ``--table table3 --no-run`` lost)."""
    from experiments import tables

    runs = tmp_path / "runs"
    (c,) = [c for c in grid("table3", "smoke", seeds=(0,), layers=("deltaproduct",),
                            tasks=("parity",), lrs=(1e-2,), out=str(runs))
            if c.eigen_range == "[-1,1]"]
    run(c)
    assert tables.finished_lrs(runs) == {1e-2}
    assert tables.main(["--table", "table3", "--protocol", "smoke", "--no-run", "--no-plots",
                        "--out", str(runs), "--results", str(tmp_path / "r")]) == 0
    agg = json.loads((tmp_path / "r" / "table3-smoke.json").read_text())
    assert [(x["task"], x["eigen_range"], x["lr"], x["runs"]) for x in agg["cells"]] == [
        ("parity", "[-1,1]", 0.01, 1)]
    assert "| parity | DeltaNet | [-1,1] | 2 | random | 0.01 | 1 |" in capsys.readouterr().out
    # the cells not run are those of the learning rates asked for (the default 1e-3)
    assert agg["cells_not_run"] and all("-lr0.001-" in n for n in agg["cells_not_run"])


def test_tables_aggregate_keeps_the_other_layer_types_finished_runs(tmp_path, capsys,
                                                                    monkeypatch):
    """``--only-mamba`` / ``--skip-mamba`` choose the runs to train, not the table: the
    table they rewrite keeps the other layer type's finished rows (``--only-mamba --no-run``
    wrote a table3 of Mamba rows only). A huge ``--eval-batch-size`` is one batch of the
    evaluation's examples."""
    from experiments import tables

    runs = tmp_path / "runs"
    for layer in ("deltaproduct", "mamba"):
        (c,) = [c for c in grid("table3", "smoke", seeds=(0,), layers=(layer,),
                                tasks=("parity",), out=str(runs), eval_batch_size=10**9)
                if c.eigen_range == "[-1,1]"]
        run(c)
    rows = {"| parity | DeltaNet | [-1,1] | 2 | random | 0.001 | 1 |",
            "| parity | Mamba | [-1,1] | 2 | random | 0.001 | 1 |"}
    monkeypatch.setattr(tables, "run_grid", lambda *a, **k: pytest.fail("ran"))
    for flag in ("--only-mamba", "--skip-mamba"):
        assert tables.main(["--table", "table3", "--protocol", "smoke", "--no-run",
                            "--no-plots", flag, "--eval-batch-size", str(10**9), "--out",
                            str(runs), "--results", str(tmp_path / "r")]) == 0
        out = capsys.readouterr().out
        assert all(r in out for r in rows), (flag, out)
        agg = json.loads((tmp_path / "r" / "table3-smoke.json").read_text())
        assert sorted((x["layer"], x["eigen_range"]) for x in agg["cells"]) == [
            ("deltaproduct", "[-1,1]"), ("mamba", "[-1,1]")]


def test_plots_tell_four_learning_rates_apart_and_label_per_position_curves(tmp_path,
                                                                           monkeypatch):
    """The paper protocol's four learning rates: one colour each per eigenvalue range (the
    three smaller ones shared one colour); a per-position task's curve panel says sequence
    accuracy, which it plots; a single test length is drawn (a marker, not an empty line)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from experiments.plots import plot_table

    figs = []
    monkeypatch.setattr(plt, "close", lambda fig=None: figs.append(fig))
    curve = [[{"step": 1, "rows": [{"length": 40, "sequence_accuracy": 0.5,
                                    "scaled_accuracy": 0.1}]}]]
    cells = [{"task": "s3", "layer": "deltaproduct", "num_householder": 1, "eigen_range": rng,
              "num_layers": 1, "init": "random", "lr": lr, "runs": 1, "lengths": [40],
              "scaled_by_run": [[0.1]], "sequence_by_run": [[0.5]], "eval_curves": curve}
             for rng in ("[-1,1]", "[0,1]") for lr in (1e-2, 1e-3, 5e-4, 1e-4)]
    paths = plot_table({"cells": cells}, tmp_path, "t")
    assert [p.name for p in paths] == ["t_s3.png", "t_s3_curve.png"]
    by_length, by_step = figs
    lines = by_length.axes[0].get_lines()
    assert len({ln.get_color() for ln in lines}) == 8
    assert all(ln.get_marker() == "o" for ln in lines)
    # sequence accuracy solid, the positions right dotted (session 10: Z_60's progress was
    # invisible in sequence accuracy alone)
    assert by_step.axes[0].get_ylabel() == ("accuracy, median of runs\n"
                                            "(solid: sequences, dotted: positions)")
    assert len({ln.get_color() for ln in by_step.axes[0].get_lines()}) == 8


def test_tensor_learning_rate_follows_the_schedule_without_reading_the_device(monkeypatch):
    """The CUDA-graph optimizer's learning rate is a tensor filled in place each step, with the
    same values as the float schedule, computed from float base rates (no device read)."""
    from experiments.train import _lr_lambda, _scheduler

    cfg = TrainConfig(steps=20, lr=1e-3)
    p1, p2 = torch.nn.Parameter(torch.zeros(3)), torch.nn.Parameter(torch.zeros(3))
    opt_t = torch.optim.AdamW([p1], lr=torch.tensor(cfg.lr))
    opt_f = torch.optim.AdamW([p2], lr=cfg.lr)
    st, sf = _scheduler(opt_t, cfg), _scheduler(opt_f, cfg)
    lr_tensor = opt_t.param_groups[0]["lr"]
    assert st.base_lrs == [cfg.lr] and all(isinstance(b, float) for b in st.base_lrs)
    monkeypatch.setattr(torch.Tensor, "item", lambda self: pytest.fail("read the device"))
    for step in range(cfg.steps):
        want = cfg.lr * _lr_lambda(cfg)(step)
        assert opt_t.param_groups[0]["lr"] is lr_tensor            # filled in place
        assert float(lr_tensor.double()) == pytest.approx(want, rel=1e-6)
        assert opt_f.param_groups[0]["lr"] == pytest.approx(want, rel=1e-12)
        opt_t.step()
        opt_f.step()
        st.step()
        sf.step()
