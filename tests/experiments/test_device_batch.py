"""``experiments/device_batch.sh`` on the CPU (smoke protocol): tables side by side, the
finished runs packed into one file under $OUT, a table stopped at the time limit."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "experiments" / "device_batch.sh"

pytestmark = pytest.mark.skipif(shutil.which("bash") is None or shutil.which("tar") is None,
                                reason="needs bash and tar")


def _run(tmp_path, limit, *specs, extra=""):
    env = dict(os.environ, OUT=str(tmp_path / "out"), ST_RUNS=str(tmp_path / "runs"),
               ST_TABLE_ARGS=f"--protocol smoke --seeds 0 {extra}".strip(),
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    return subprocess.run(["bash", str(SCRIPT), str(limit), *specs], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def _packed(tmp_path):
    with tarfile.open(tmp_path / "out" / "runs.tgz") as t:
        return sorted(n for n in t.getnames() if n.endswith("results.json"))


def test_two_tables_side_by_side_are_packed(tmp_path):
    r = _run(tmp_path, 200, "table3:parity:1:--skip-mamba", "init:flip_flop:1")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    names = _packed(tmp_path)
    # parity x ([0,1], [-1,1]) and flip-flop x (random, construction), seed 0
    assert len(names) == 4, names
    assert sum("table3-reduced/parity-" in n for n in names) == 2
    assert sum("init-reduced/flip_flop-" in n for n in names) == 2
    assert "finished runs: 4" in r.stdout
    assert not list((tmp_path / "out").glob("*.tmp"))       # packed atomically
    # every run's progress file travels too (for a run stopped by the limit it is all that
    # tells how far it got)
    with tarfile.open(tmp_path / "out" / "runs.tgz") as t:
        progress = sorted(n for n in t.getnames() if n.endswith("progress.json"))
        assert [p.replace("progress", "results") for p in progress] == names
        last = json.loads(t.extractfile(progress[0]).read())
    assert last["step"] == last["steps"] == 2


def _processes_with(marker: str) -> list[int]:
    """Pids whose environment holds ``marker`` (Linux /proc)."""
    found = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if marker.encode() in (d / "environ").read_bytes():
                    found.append(int(d.name))
            except OSError:
                pass
    return found


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux /proc")
def test_a_table_past_the_limit_is_stopped_with_its_runs(tmp_path):
    # runs of 3000 steps (each well over 10 s here) and a limit of 10 s: the table is stopped
    # while a run trains; what finished (if any) is packed; nothing the script started is
    # left (every process of it carries ST_RUNS in its environment: training runs, the
    # packer's sleep)
    r = _run(tmp_path, 10, "init::1", extra="--steps 3000")
    assert r.returncode == 0, r.stderr[-2000:]
    done = len(_packed(tmp_path))
    assert f"finished runs: {done}" in r.stdout and done < 6
    # every run the limit stopped after its first progress write is listed with its step
    unfinished = [ln for ln in r.stdout.splitlines() if ln.startswith("unfinished: ")]
    started = [p for p in (tmp_path / "runs").glob("**/progress.json")
               if not (p.parent / "results.json").exists()]
    assert len(unfinished) == len(started)
    assert all(" of 3000, " in ln for ln in unfinished)
    assert _processes_with(f"ST_RUNS={tmp_path / 'runs'}") == []
