"""One entry point for the H100 session of issue 4: tests, exactness at 10^6, benchmarks.

Run on the device machine from the repository root (``.whl`` carried, see
``benchmarks/GPU_SESSION.md``)::

    python3 benchmarks/gpu_session.py --part 1     # GPU tests || exactness, then construction bench
    python3 benchmarks/gpu_session.py --part 2     # model-shape rows vs fla (fla autotunes)
    python3 benchmarks/gpu_session.py --part 3     # `statetrack check --device cuda` + leftovers

and here, on the CPU, to check the logic before spending device time::

    python benchmarks/gpu_session.py --part all --dry-run --out /tmp/gs

Steps (in order of importance):

``tests``
    ``pytest -m gpu tests/kernels -n 4``: every GPU-marked kernel test (layer, run, fla export,
    chunk at K = V = 128 with gradients, recurrent, tabled). Dry run: collection only.
``exact``
    Every group language of ``statetrack.automata.families.catalogue()`` that compiles, run on
    ``B = 4`` random words of ``T = 10^6`` symbols with bfloat16 tables through the tabled path
    (``K, V <= 64``) and through the general recurrent kernel (``K <= 256``), compared with the
    DFA's own run at every prefix (accept bit and state): wrong outputs must be 0. The DFA runs
    (numpy) are computed up front in a process pool. The recurrent kernel is latency bound
    (B = 4 words use 4 of 132 SMs), so after a sequential warm-up that compiles every variant
    the languages run side by side, one thread and CUDA stream each (``--exact-workers``,
    default 8; a row that fails under threads is retried alone). ``symmetric(5)`` (K = 120, 60
    sub-steps a token) is timed alone on a 20 000-token prefix first; its length is reduced
    only if the projection does not fit the time left (its row's ``note`` says so). Runs
    concurrently with ``tests`` (both are correctness checks; the symbols/s it reports are
    therefore not clean timings). Dry run: ``T = 12``, ``B = 2``, one worker, Triton's
    interpreter on the CPU (which is not thread-safe).
``construction``
    ``benchmarks/kernels_construction.py`` (alone on the GPU): construction shapes vs fla after
    the ``choose_chunk`` change. Dry run: its ``--smoke``.
``model``
    ``benchmarks/kernels_model.py --rows 3u,1u,3g,2g --fla 3u,1u,3g,2g``: n_h = 3 ungated and
    gated, n_h = 1 again with fla in the same run, n_h = 2 gated (fla forward). fla autotunes
    each row anew (about 2 minutes a row). Dry run: its ``--smoke``.
``cli``
    ``python -m statetrack check --device cuda --no-theory`` with its defaults (10^6 x 4, kernel
    auto): the command the issue names. Dry run: ``--device cpu --length 12 --batch 1
    --kernel reference`` on three languages.

Parts (one device command each, each under the 10-minute limit of one command):
``1`` = tests || exact, then construction; ``2`` = model; ``3`` = cli; ``all`` = everything
(dry runs). ``--steps a,b`` runs those steps instead (to finish what a part left, e.g.
``--part 3 --steps cli,construction``), ``--model-rows`` picks the model rows.

Every step runs as a subprocess under its own time limit (and the part's ``--budget``); its
console goes to ``OUT/logs_pN.txt``, results to ``OUT`` (at most 8 files, all at the top
level, names of letters, digits, ``.``, ``_``, ``-``), and a summary table is printed last and
written to ``OUT/summary_pN.md`` / ``.json``. ``OUT`` is ``$OUT`` when set, else ``--out``.
Exit status: 0 when every step of the part ran and passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import math
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
SITE = "/tmp/site"

#: Per-step time limits in seconds on the device (a step also stops at the part's budget).
LIMITS = {"tests": 300, "exact": 330, "construction": 240, "model": 540, "cli": 300}
#: Per-step limits of a dry run (CPU, interpreter).
DRY_LIMITS = {"tests": 120, "exact": 240, "construction": 120, "model": 120, "cli": 240}
PARTS = {
    "1": [("tests", "exact"), ("construction",)],
    "2": [("model",)],
    "3": [("cli",)],
    "all": [("tests", "exact"), ("construction",), ("model",), ("cli",)],
}
EXACT_LENGTH = 10 ** 6
EXACT_BATCH = 4
#: The language run last through the recurrent kernel, timed first and shortened if needed.
SLOW = "symmetric(5)"
#: Threads of the exact step's recurrent pass (``--exact-workers``; None: its default).
EXACT_WORKERS: int | None = None
#: Rows of the model step (``--model-rows``).
MODEL_ROWS = "3u,1u,3g,2g"


# ----------------------------------------------------------------------------- exact step
def _oracle(args):
    """DFA states/accept bits of one language's words (run in a worker process)."""
    name, ids = args
    from statetrack.automata.families import catalogue
    from statetrack.kernels.runner import dfa_states  # numpy only; no CUDA touched

    entry = [e for e in catalogue() if e.name == name][0]
    from statetrack.constructions import compile

    lrnn = compile(entry.dfa, name=name)
    mini = entry.dfa.minimize()
    import numpy as np

    perm = np.array([mini.alphabet.index(s) for s in lrnn.alphabet], dtype=np.int64)
    st, acc = dfa_states(mini, perm[ids])
    return name, st, acc


def exact_step(out_json: Path, budget_s: float, length: int, batch: int, dry: bool,
               seed: int, only: list[str] | None, workers: int = 1) -> int:
    """Run every compiling group language through the tabled path and the recurrent kernel.

    Writes ``out_json`` after every row; returns 0 when every row that ran had 0 wrong outputs.
    """
    import multiprocessing as mp

    import numpy as np

    t_start = time.time()
    deadline = t_start + budget_s
    from statetrack.automata.families import catalogue
    from statetrack.constructions import NotAGroupError, compile

    langs, skipped = [], []
    for e in catalogue():
        if only and e.name not in only:
            continue
        try:
            lrnn = compile(e.dfa, name=e.name)
        except NotAGroupError:
            continue  # not a group language: no one-layer construction (not in scope here)
        except Exception as err:  # noqa: BLE001 -- reported, not hidden
            skipped.append({"language": e.name, "why": f"compile failed: {type(err).__name__}: {err}"})
            continue
        langs.append((e.name, lrnn))
    rng = np.random.default_rng(seed)
    words = {n: rng.integers(0, l.n_symbols, size=(batch, length), dtype=np.int64)
             for n, l in langs}
    t0 = time.time()
    # the DFA runs, before CUDA is touched (fork), in parallel
    ctx = mp.get_context("fork")
    with ctx.Pool(min(len(langs), max(1, (os.cpu_count() or 2) - 2))) as pool:
        want = {n: (st, acc) for n, st, acc in pool.map(_oracle, [(n, words[n]) for n, _ in langs])}
    t_oracle = time.time() - t0
    print(f"exact: {len(langs)} group languages compiled; DFA runs of {batch} x {length} "
          f"symbols each in {t_oracle:.1f} s", flush=True)

    import torch

    import statetrack.kernels._common.triton  # noqa: F401
    from statetrack.kernels.delta_product.fused_recurrent import MAX_K
    from statetrack.kernels.runner import run
    from statetrack.kernels.tabled import MAX_KV

    device = "cpu" if dry else "cuda"
    meta = {"device": "cpu (dry run, interpreter)" if dry else torch.cuda.get_device_name(),
            "length": length, "batch": batch, "dtype": "bfloat16", "seed": seed,
            "oracle_s": round(t_oracle, 1), "budget_s": budget_s,
            "note": "ran concurrently with the GPU tests: symbols/s are not clean timings"}
    rows: list[dict] = []

    def save() -> None:
        out_json.write_text(json.dumps({"meta": meta, "rows": rows, "skipped": skipped},
                                       indent=1))

    lock = threading.Lock()

    def one(name, lrnn, kernel, T, note="", extra=""):
        note = "; ".join(x for x in (note, extra) if x)
        ids = words[name][:, :T]
        st, acc = want[name]
        t1 = time.perf_counter()
        try:
            out = run(lrnn, ids, device=device, dtype=torch.bfloat16, kernel=kernel)
            secs = time.perf_counter() - t1
            if out.accepted.shape != (batch, T + 1):
                raise ValueError(f"accept bits of shape {out.accepted.shape}, expected "
                                 f"{(batch, T + 1)}")
            bad = out.accepted != acc[:, :T + 1]
            if out.states is not None:
                bad |= out.states != st[:, :T + 1]
            wrong = int(bad.sum())
        except Exception as err:  # noqa: BLE001 -- reported in the row
            row = {"language": name, "path": kernel, "K": lrnn.width, "n_h": lrnn.n_h,
                   "B": batch, "T": T, "wrong": None, "status": "error",
                   "note": f"{type(err).__name__}: {str(err)[:300]}"}
        else:
            row = {"language": name, "path": kernel, "kernels": "+".join(out.kernels),
                   "backend": out.backend, "K": lrnn.width, "n_h": lrnn.n_h, "B": batch,
                   "T": T, "wrong": wrong, "seconds": round(secs, 2),
                   "symbols_per_s": batch * T / secs if secs > 0 else None,
                   "status": "ok" if wrong == 0 else "FAIL", "note": note}
        with lock:
            rows.append(row)
            save()
        print(f"  {row['language']:22s} {row['path']:9s} K={row['K']:<4d} n_h={row['n_h']:<3d} "
              f"T={row['T']:<8d} wrong={row['wrong']} {row.get('seconds', '-')} s "
              f"{row['status']} {row['note']}", flush=True)
        return row

    # 1) tabled path: every language with K, V <= 64 (fast: chunked over time)
    for name, lrnn in langs:
        if lrnn.width <= MAX_KV and max(ly.value_dim for ly in lrnn.layers) <= MAX_KV:
            one(name, lrnn, "tabled", length)
        else:
            skipped.append({"language": name, "path": "tabled",
                            "why": f"K={lrnn.width} > {MAX_KV} (tabled path limit)"})
    # 2) general recurrent kernel. Latency bound (a few SMs per language), so the languages
    #    run side by side: one thread and CUDA stream each, after a sequential warm-up that
    #    compiles every variant. SLOW is timed alone on a prefix first and shortened only if
    #    its projection does not fit the time left.
    todo = []
    for name, lrnn in langs:
        if lrnn.width > MAX_K:
            skipped.append({"language": name, "path": "recurrent",
                            "why": f"K={lrnn.width} > {MAX_K} (recurrent kernel limit)"})
        else:
            todo.append((name, lrnn))
    t1 = time.time()
    for name, lrnn in todo:
        try:  # a failure here shows again, with its message, in the language's row
            run(lrnn, words[name][:, :min(length, 64)], device=device, kernel="recurrent")
        except Exception as err:  # noqa: BLE001
            print(f"  warm-up of {name} failed: {type(err).__name__}: {err}", flush=True)
    meta["recurrent_warmup_s"] = round(time.time() - t1, 1)
    plan = {name: (length, "") for name, _ in todo}
    slow = [x for x in todo if x[0] == SLOW]
    if slow:
        name, lrnn = slow[0]
        cal = min(length, 200 if dry else 20_000)
        t1 = time.perf_counter()
        try:
            run(lrnn, words[name][:, :cal], device=device, kernel="recurrent")
        except Exception as err:  # noqa: BLE001 -- the full run's row reports it
            print(f"  calibration of {name} failed: {type(err).__name__}: {err}", flush=True)
        per_token = (time.perf_counter() - t1) / cal
        left = deadline - time.time() - 25  # margin: comparison with the DFA, JSON
        projected = per_token * length
        meta["slow_projection"] = {"language": name, "calibration_tokens": cal,
                                   "s_per_token": per_token, "projected_s": projected,
                                   "seconds_left": left}
        if projected > left:
            T = max(cal, int(left / per_token) // 10_000 * 10_000)
            plan[name] = (T, f"length reduced from {length} to {T} to fit the time limit "
                             f"(projected {projected:.0f} s for {length}, {left:.0f} s left)")
            print(f"  {name}: {plan[name][1]}", flush=True)
    # most expensive first, so the longest chains start at once
    todo.sort(key=lambda x: -x[1].n_h * x[1].width)
    if workers <= 1:
        for name, lrnn in todo:
            one(name, lrnn, "recurrent", *plan[name])
    else:
        from concurrent.futures import ThreadPoolExecutor

        def job(item):
            name, lrnn = item
            ctx = (torch.cuda.stream(torch.cuda.Stream()) if device == "cuda"
                   else contextlib.nullcontext())
            with ctx:
                return one(name, lrnn, "recurrent", *plan[name])

        t1 = time.time()
        with ThreadPoolExecutor(max_workers=workers) as ex:
            done = list(ex.map(job, todo))
        meta["recurrent_concurrent_s"] = round(time.time() - t1, 1)
        # a launch that failed under threads is retried alone, if there is time
        for row, (name, lrnn) in zip(done, todo):
            if row["status"] == "error" and deadline - time.time() > 60:
                rows.remove(row)
                one(name, lrnn, "recurrent", *plan[name],
                    extra="retried sequentially after: " + row["note"][:200])
    meta["total_s"] = round(time.time() - t_start, 1)
    save()
    ran = [r for r in rows if r["status"] != "skipped"]
    bad = [r for r in ran if r["status"] != "ok"]
    print(f"exact: {len(ran) - len(bad)}/{len(ran)} language-paths with 0 wrong outputs; "
          f"skipped: {skipped}", flush=True)
    return 0 if not bad and ran else 1


# ----------------------------------------------------------------------------- orchestration
def step_command(step: str, out: Path, dry: bool, budget: float,
                 exact_only: list[str] | None = None) -> list[str]:
    me = str(Path(__file__).resolve())
    if step == "tests":
        if dry:
            return [PY, "-m", "pytest", "-q", "-m", "gpu", "tests/kernels", "--collect-only"]
        return [PY, "-m", "pytest", "-q", "-m", "gpu", "tests/kernels", "-n", "4", "-rs",
                "--durations=15"]
    if step == "exact":
        cmd = [PY, me, "_exact", "--json", str(out / "exact_1e6.json"),
               "--budget", str(int(budget))]
        cmd += ["--only", *exact_only] if exact_only else []
        cmd += ["--workers", str(EXACT_WORKERS)] if EXACT_WORKERS else []
        return cmd + (["--dry-run"] if dry else [])
    if step == "construction":
        cmd = [PY, "benchmarks/kernels_construction.py", "--json",
               str(out / "kernels_construction.json"), "--md", str(out / "kernels_construction.md")]
        earlier = Path("benchmarks/_tabled_earlier.py")   # optional, untracked: see GPU_SESSION.md
        cmd += ["--compare", str(earlier)] if earlier.exists() else []
        return cmd + (["--smoke"] if dry else [])
    if step == "model":
        cmd = [PY, "benchmarks/kernels_model.py", "--out", str(out / "kernels_model.json"),
               "--rows", MODEL_ROWS, "--fla", MODEL_ROWS]
        return cmd + (["--smoke"] if dry else [])
    if step == "cli":
        cmd = [PY, "-m", "statetrack", "check", "--no-theory", "-q", "--json",
               str(out / "cli_check.json")]
        return cmd + (["--device", "cpu", "--length", "12", "--batch", "1", "--kernel", "reference",
                       "--only", "parity", "cyclic(3)", "symmetric(3)"] if dry
                      else ["--device", "cuda"])
    raise ValueError(step)


def _tail(path: Path, n: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-n:]
    except OSError:
        return ""


def key_result(step: str, out: Path, log: Path, dry: bool) -> str:
    """One line: what the step showed."""
    text = _tail(log, 20000)
    try:
        if step == "tests":
            m = re.findall(r"(\d+ (?:passed|failed|error|errors|skipped|tests collected)[^\n]*)", text)
            return m[-1].strip() if m else "no pytest summary line"
        if step == "exact":
            d = json.loads((out / "exact_1e6.json").read_text())
            rows = d["rows"]
            ok = sum(r["status"] == "ok" for r in rows)
            tab = sum(r["path"] == "tabled" for r in rows)
            short = [f"{r['language']} T={r['T']}" for r in rows if r["T"] < d["meta"]["length"]]
            wrong = sum(r["wrong"] or 0 for r in rows)
            return (f"{ok}/{len(rows)} language-paths exact ({tab} tabled, {len(rows) - tab} "
                    f"recurrent), {wrong} wrong outputs" + (f"; shortened: {short}" if short else ""))
        if step == "construction":
            d = json.loads((out / "kernels_construction.json").read_text())
            return "; ".join(
                f"B={s['B']} T={s['T']}: tabled auto {s['tabled_auto_ms']:.3f} ms, "
                f"{s.get('speedup_tabled_auto', math.nan):.2f}x the faster fla kernel"
                for s in d["summary"])
        if step == "model":
            d = json.loads((out / "kernels_model.json").read_text())
            return "; ".join(
                f"{r['row']}: ours {r['ours_fwd_ms']:.3f}/{r['ours_fwdbwd_ms']:.3f} ms, fla/ours "
                f"fwd {r.get('ratio_fwd', math.nan):.2f}x f+b {r.get('ratio_fwdbwd', math.nan):.2f}x"
                + (" (fla bwd refused)" if "fla_fwdbwd_error" in r else "") for r in d["rows"])
        if step == "cli":
            m = re.findall(r"(\d+/\d+ constructions run with zero mismatches[^\n]*)", text)
            return m[-1].strip() if m else "no summary line"
    except Exception as err:  # noqa: BLE001 -- the summary must print whatever happened
        return f"(no result: {type(err).__name__}: {err})"
    return ""


def exact_table(out: Path) -> list[str]:
    """Markdown lines of the exact step's rows (empty when it did not run)."""
    try:
        d = json.loads((out / "exact_1e6.json").read_text())
    except (OSError, ValueError):
        return []
    lines = ["", f"Exact recognition ({d['meta']['dtype']} tables/inputs, B = {d['meta']['batch']}, "
             f"{d['meta']['device']}):", "",
             "| language | path | K | n_h | T | wrong outputs | seconds | note |",
             "|---|---|---|---|---|---|---|---|"]
    for r in sorted(d["rows"], key=lambda r: (r["language"], r["path"])):
        lines.append(f"| {r['language']} | {r['path']} | {r['K']} | {r['n_h']} | {r['T']} | "
                     f"{r['wrong']} | {r.get('seconds', '-')} | {r['note']} |")
    for sk in d["skipped"]:
        lines.append(f"| {sk['language']} | {sk.get('path', '-')} | | | | skipped | | {sk['why']} |")
    return lines


def versions(dry: bool) -> dict:
    info = {"python": platform.python_version(), "executable": PY, "commit": None}
    try:
        info["commit"] = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True,
                                        text=True, cwd=ROOT, timeout=10).stdout.strip() or None
    except Exception:  # noqa: BLE001 -- the device copy has no git metadata
        pass
    info["commit"] = os.environ.get("STATETRACK_COMMIT") or info["commit"]
    code = ("import torch, triton, numpy; print(torch.__version__, triton.__version__, "
            "numpy.__version__, torch.version.cuda, torch.cuda.is_available() and "
            "torch.cuda.get_device_name()); import importlib.metadata as m\n"
            "try: print('fla-core', m.version('fla-core'))\n"
            "except m.PackageNotFoundError: print('fla-core not installed')")
    r = subprocess.run([PY, "-c", code], capture_output=True, text=True, timeout=120, env=child_env(dry))
    info["versions"] = (r.stdout + r.stderr).strip()[-600:].replace("\n", "; ")
    if not dry and shutil.which("nvidia-smi"):
        r = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total",
                            "--format=csv,noheader"], capture_output=True, text=True, timeout=30)
        info["nvidia_smi"] = r.stdout.strip()
    return info


def child_env(dry: bool) -> dict:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    paths = [str(ROOT)] + ([] if dry else [SITE])
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    if dry:
        env["TRITON_INTERPRET"] = "1"
        env["CUDA_VISIBLE_DEVICES"] = ""
    return env


def install_wheels(dry: bool) -> str:
    """pip-install ``.whl/*.whl`` (no index, no deps) into /tmp/site (dry run: a temp dir)."""
    wheels = sorted(glob.glob(str(ROOT / ".whl" / "*.whl")))
    if not wheels:
        return "no wheels in .whl/ (fla rows and the fla export test will be skipped)"
    target = tempfile.mkdtemp(prefix="gs_site_") if dry else SITE
    r = subprocess.run([PY, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile",
                        "--no-cache-dir", "--upgrade", "--target", target, *wheels],
                       capture_output=True, text=True, timeout=300)
    ok = r.returncode == 0 and any(Path(target).glob("fla*"))
    if dry:
        shutil.rmtree(target, ignore_errors=True)
    return (f"installed {[Path(w).name for w in wheels]} into {target}" if ok
            else f"wheel install FAILED (rc {r.returncode}): {r.stderr[-500:]}")


def run_group(steps, out: Path, dry: bool, deadline: float, results: list,
              exact_only: list[str] | None = None) -> None:
    """Start the steps of one group at once, each under min(its limit, the part's deadline)."""
    limits = DRY_LIMITS if dry else LIMITS
    procs = []
    for step in steps:
        left = deadline - time.time()
        limit = min(limits[step], left)
        if limit < 30:
            results.append({"step": step, "status": "not run", "rc": None, "seconds": 0,
                            "result": f"only {left:.0f} s of the part's budget left"})
            continue
        log = out / f"log_{step}.txt"
        cmd = step_command(step, out, dry, limit - 15, exact_only)
        fh = open(log, "w")
        fh.write("$ " + " ".join(cmd) + "\n")
        fh.flush()
        p = subprocess.Popen(cmd, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT,
                             env=child_env(dry), start_new_session=True)
        print(f"[{time.strftime('%H:%M:%S')}] started {step} (limit {limit:.0f} s)", flush=True)
        procs.append((step, p, fh, log, time.time(), limit))
    for step, p, fh, log, t0, limit in procs:
        try:
            rc = p.wait(timeout=max(1.0, t0 + limit - time.time()))
            status = "ok" if rc == 0 else "FAIL"
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            rc, status = None, f"TIMEOUT after {limit:.0f} s"
            fh.write(f"\n*** killed: step limit {limit:.0f} s reached ***\n")
        fh.close()
        secs = round(time.time() - t0, 1)
        res = key_result(step, out, log, dry)
        results.append({"step": step, "status": status, "rc": rc, "seconds": secs, "result": res})
        print(f"[{time.strftime('%H:%M:%S')}] {step}: {status} in {secs} s: {res}", flush=True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "_exact":
        ap = argparse.ArgumentParser(prog="gpu_session.py _exact")
        ap.add_argument("--json", type=Path, required=True)
        ap.add_argument("--budget", type=float, default=LIMITS["exact"] - 15)
        ap.add_argument("--dry-run", action="store_true")
        ap.add_argument("--seed", type=int, default=20261123)
        ap.add_argument("--only", nargs="+")
        ap.add_argument("--workers", type=int, default=None,
                        help="languages run side by side through the recurrent kernel "
                             "(default 8 on CUDA, 1 in a dry run)")
        a = ap.parse_args(argv[1:])
        length, batch = (12, 2) if a.dry_run else (EXACT_LENGTH, EXACT_BATCH)
        workers = a.workers if a.workers is not None else (1 if a.dry_run else 8)
        return exact_step(a.json, a.budget, length, batch, a.dry_run, a.seed, a.only, workers)

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--part", choices=sorted(PARTS), default="1")
    ap.add_argument("--dry-run", "--cpu", dest="dry", action="store_true",
                    help="tiny sizes on the CPU (interpreter / reference): checks the logic")
    ap.add_argument("--out", type=Path, default=None, help="result folder (default: $OUT)")
    ap.add_argument("--budget", type=float, default=560,
                    help="seconds for the whole part (stay under the 600 s of one device command)")
    ap.add_argument("--steps", default=None,
                    help="comma-separated steps to run instead of the part's (any of tests, "
                         "exact, construction, model, cli; run in that order, tests and exact "
                         "concurrently); --part then only names the output files")
    ap.add_argument("--exact-workers", type=int, default=None,
                    help="threads of the exact step's recurrent pass (default 8 on CUDA; "
                         "1 = one language after the other)")
    ap.add_argument("--model-rows", default="3u,1u,3g,2g",
                    help="rows of the model step (n_h then u/g), all also through fla")
    ap.add_argument("--exact-only", nargs="+", default=None, metavar="NAME",
                    help="exact step: only these catalogue languages (for quick dry runs)")
    args = ap.parse_args(argv)
    t_start = time.time()
    deadline = t_start + args.budget
    out = args.out or (Path(os.environ["OUT"]) if os.environ.get("OUT") else None)
    if out is None:
        ap.error("no result folder: set $OUT or pass --out")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from benchmarks._machine import model_rows, output_problem

    # before any step (a file as --out was a traceback; a bad model row or worker count failed
    # its step minutes in, after the tests and the exact step)
    if out.exists() and not out.is_dir():
        ap.error(f"--out: {str(out)!r} is a file (expected a result folder)")
    if (problem := output_problem(out / f"summary_p{args.part}.json", True)) is not None:
        ap.error(f"--out: {problem}")
    try:
        model_rows("--model-rows", args.model_rows)
    except ValueError as exc:
        ap.error(str(exc))
    if args.exact_workers is not None and args.exact_workers < 1:
        ap.error(f"--exact-workers: expected an int >= 1, got {args.exact_workers}")
    out.mkdir(parents=True, exist_ok=True)
    groups = [tuple(g) for g in PARTS[args.part]]
    if args.steps:
        keep = set(args.steps.split(","))
        unknown = keep - {s for g in PARTS["all"] for s in g}
        if unknown:
            ap.error(f"--steps: unknown step(s) {sorted(unknown)}")
        groups = [tuple(s for s in g if s in keep) for g in PARTS["all"]]
        groups = [g for g in groups if g]
    global MODEL_ROWS, EXACT_WORKERS
    MODEL_ROWS, EXACT_WORKERS = args.model_rows, args.exact_workers
    print(f"gpu_session part {args.part} ({'dry run' if args.dry else 'device'}), "
          f"budget {args.budget:.0f} s, steps {groups}", flush=True)
    info = {"part": args.part, "dry_run": args.dry, "started": time.strftime("%Y-%m-%d %H:%M:%S UTC",
                                                                            time.gmtime())}
    info["wheels"] = install_wheels(args.dry)
    print(info["wheels"], flush=True)
    info.update(versions(args.dry))
    print(json.dumps(info, indent=1), flush=True)
    results: list[dict] = []
    for g in groups:
        run_group(g, out, args.dry, deadline, results, args.exact_only)
    # logs: one file per part (at most 8 files come back from $OUT)
    logname = out / f"logs_p{args.part}.txt"
    with open(logname, "w") as fh:
        for r in results:
            log = out / f"log_{r['step']}.txt"
            if log.exists():
                fh.write(f"\n===== {r['step']}: {r['status']} ({r['seconds']} s) =====\n")
                fh.write(log.read_text(errors="replace"))
                log.unlink()
    info["total_s"] = round(time.time() - t_start, 1)
    (out / f"summary_p{args.part}.json").write_text(json.dumps({"info": info, "steps": results},
                                                               indent=1))
    lines = [f"# gpu_session part {args.part}" + (" (dry run)" if args.dry else ""), "",
             f"commit {info['commit']}; {info['versions']}; {info.get('nvidia_smi', '')}; "
             f"{info['wheels']}; total {info['total_s']} s", "",
             "| step | status | seconds | result |", "|---|---|---|---|"]
    lines += [f"| {r['step']} | {r['status']} | {r['seconds']} | {r['result']} |" for r in results]
    print("\n" + "\n".join(lines), flush=True)
    lines += exact_table(out)
    (out / f"summary_p{args.part}.md").write_text("\n".join(lines) + "\n")
    print(f"files in {out}: {sorted(p.name for p in out.iterdir())}", flush=True)
    return 0 if all(r["status"] == "ok" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
