"""What every benchmark records about where it ran (the CPU's name, the git commit), how it
names the files it writes and checks them before it runs, and the checks of options that
several benchmarks share.

Imported by the benchmark scripts, which run as ``python benchmarks/<name>.py`` (so this
folder is on ``sys.path``)."""

from __future__ import annotations

import json
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cpu_name() -> str:
    """The ``model name`` of /proc/cpuinfo, else what :mod:`platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def shown_path(path: Path) -> str:
    """``path`` relative to the repository root when inside it, else absolute (for messages)."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def git_commit() -> str:
    """The short hash of the repository's HEAD, or ``"unknown"`` outside a checkout.

    ``STATETRACK_COMMIT`` wins where set: a GPU machine's copy of the tree may carry an older
    ``.git`` than the code it runs.
    """
    if os.environ.get("STATETRACK_COMMIT"):
        return os.environ["STATETRACK_COMMIT"]
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                              capture_output=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def output_problem(path: Path | str | None, make_folder: bool = False) -> str | None:
    """Why ``path`` cannot be written as an output file, or ``None`` (also for no path).

    Checked before a run starts, so a run's results are not lost at its end (a benchmark
    reports it as ``--json: <problem>`` through ``argparse``'s ``error``). With
    ``make_folder`` (a tool that makes its output's folder) a missing folder is no problem
    where it can be made: below an existing, writable folder.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> output_problem(d / "r.json") is None and output_problem(None) is None
    True
    >>> output_problem(d) == f"{str(d)!r} is a folder (expected a file name)"
    True
    >>> _ = (d / "f").write_text("")
    >>> output_problem(d / "f" / "r.json") == f"{str(d / 'f')!r} is a file, not a folder"
    True
    >>> output_problem(d / "no" / "r.json") == f"folder {str(d / 'no')!r} does not exist"
    True
    >>> output_problem(d / "no" / "r.json", make_folder=True) is None
    True
    >>> output_problem(d / "f" / "a" / "r.json", make_folder=True) == (
    ...     f"{str(d / 'f')!r} is a file, not a folder")
    True
    """
    if path is None:
        return None
    path = Path(path)
    folder = path.absolute().parent
    if path.is_dir():
        return f"{str(path)!r} is a folder (expected a file name)"
    if folder.exists() and not folder.is_dir():
        return f"{str(folder)!r} is a file, not a folder"
    if not folder.is_dir():
        if not make_folder:
            return f"folder {str(folder)!r} does not exist"
        above = next(f for f in folder.parents if f.exists())
        if not above.is_dir():
            return f"{str(above)!r} is a file, not a folder"
        if not os.access(above, os.W_OK | os.X_OK):
            return f"cannot make folder {str(folder)!r} (permission denied)"
        return None
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        return f"cannot write {str(path)!r} (permission denied)"
    return None


def check_outputs(ap, outputs: dict[str, Path | str | None], make_folder: bool = False) -> None:
    """``ap.error`` (one line, exit status 2) for the first of ``outputs`` (option -> path)
    that cannot be written (:func:`output_problem`); call it right after ``parse_args``."""
    for option, path in outputs.items():
        if (problem := output_problem(path, make_folder)) is not None:
            ap.error(f"{option}: {problem}")


def write_json(ap, option: str, path: Path, doc: object) -> None:
    """Write ``doc`` as indented JSON to ``path``; a path that cannot be written ends the
    tool with one ``ap.error`` line naming ``option`` (the paths were checked at the start
    with :func:`check_outputs`; this covers what changed since).

    Examples
    --------
    >>> import argparse, json, tempfile
    >>> from pathlib import Path
    >>> p = Path(tempfile.mkdtemp()) / "r.json"
    >>> write_json(argparse.ArgumentParser(), "--json", p, {"rows": []})
    >>> json.loads(p.read_text())
    {'rows': []}
    """
    try:
        path.write_text(json.dumps(doc, indent=1))
    except OSError as exc:
        ap.error(f"{option}: cannot write {str(path)!r}: {exc.strerror or exc}")


def describe(script: str, argv: list[str] | None, **fields) -> dict:
    """The head of a tool's JSON, so that the file says what made it: ``tool`` (its path in
    the repository), ``fields`` (what it measured: pass, shape, ...), ``commit`` and the
    ``command`` (``argv``: the arguments given to ``main``, None for the command line's).

    Examples
    --------
    >>> d = describe("/x/benchmarks/chunk_sass.py", ["--K", "16", "--json", "a b.json"],
    ...              kernel="bwd_wy_kernel")
    >>> d["tool"], d["kernel"]
    ('benchmarks/chunk_sass.py', 'bwd_wy_kernel')
    >>> print(d["command"])
    python benchmarks/chunk_sass.py --K 16 --json 'a b.json'
    >>> list(d)
    ['tool', 'kernel', 'commit', 'command']
    """
    parts = Path(script).parts                 # its path from the benchmarks folder down
    top = max((i for i, part in enumerate(parts) if part == "benchmarks"), default=None)
    tool = "/".join(parts[top:]) if top is not None else f"benchmarks/{Path(script).name}"
    given = sys.argv[1:] if argv is None else list(argv)
    return {"tool": tool, **fields, "commit": git_commit(),
            "command": shlex.join(["python", tool, *given])}


def model_rows(option: str, text: str, empty: bool = False) -> list[str]:
    """The rows of ``kernels_model.py --rows`` (``--fla``, ``--sweep-row``, ``gpu_session.py
    --model-rows``: named by ``option``): comma-separated ``<n_h><u|g>`` (``n_h`` an integer
    >= 1, ``g`` gated); none only where ``empty``. Checked before a run starts.

    Raises
    ------
    ValueError
        Naming the option and the item that is not a row.

    Examples
    --------
    >>> model_rows("--rows", "1u,2g,12u")
    ['1u', '2g', '12u']
    >>> model_rows("--rows", "1u,2x")
    Traceback (most recent call last):
    ...
    ValueError: --rows: '2x' is not a row (n_h >= 1 then u, no gate, or g, gated: 1u, 2g)
    """
    items = [s for s in text.split(",") if s] if empty else text.split(",")
    for s in items:
        if not (s[:-1].isdigit() and s[:-1].isascii() and int(s[:-1]) >= 1
                and s[-1:] in ("u", "g")):
            raise ValueError(f"{option}: {s!r} is not a row (n_h >= 1 then u, no gate, or g, "
                             "gated: 1u, 2g)")
    return items


def kernel_ms(fn, iters: int = 10, warmup: int = 1, key_len: int = 40) -> tuple[float, dict]:
    """The device time of the kernels one call of ``fn`` launches (ms, mean of ``iters``
    calls after ``warmup`` unprofiled ones; torch.profiler), and per kernel name (its first
    ``key_len`` characters). Unlike the wall
    time of back-to-back calls it does not see the host: on the device's CPU a tabled call's
    Python costs 0.2-0.8 ms, as much as its kernels (session 17)."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(iters):
            fn()
        torch.cuda.synchronize()
    per: dict = {}
    for e in prof.key_averages():
        t = getattr(e, "device_time_total", None)
        t = e.cuda_time_total if t is None else t
        if t > 0:
            per[e.key[:key_len]] = per.get(e.key[:key_len], 0.0) + t / iters / 1000.0
    return sum(per.values()), per
