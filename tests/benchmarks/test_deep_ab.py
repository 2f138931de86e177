"""``benchmarks/probes/deep_ab.py`` on the interpreter: both variant sets run every problem,
the permutation tables' outputs are bit-identical across variants, the float tables' within
rounding, and a bad ``--shape`` or ``--chunk`` is one argparse error."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(args, timeout=300):
    return subprocess.run([sys.executable, "benchmarks/probes/deep_ab.py", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("extra,variants", [
    ([], {"default", "deep", "deep, no maxnreg", "default, maxnreg 255"}),
    (["--set", "lut"], {"default", "table load", "proj", "proj, table load"}),
    (["--set", "proj", "--shape", "3,11", "--chunk", "4"], {"default", "proj", "proj, no maxnreg",
                                                            "proj, run pass only",
                                                            "proj, K-column summaries",
                                                            "proj, value columns"}),
    (["--set", "chain"], {"default", "chain"}),
    (["--set", "ahead", "--shape", "3,11", "--chunk", "4"], {"default", "rows ahead",
                                                             "rows ahead, maxnreg 255",
                                                             "scan from sums",
                                                             "rows ahead, scan from sums"}),
])
def test_deep_ab_smoke(tmp_path, extra, variants):
    out = tmp_path / "ab.json"
    r = _run(["--smoke", "--rounds", "1", "--json", str(out), *extra])
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    doc = json.loads(out.read_text())
    rows = doc["rows"]
    assert {x["variant"] for x in rows} == variants
    assert len(rows) == 4 * len(variants)                  # four problems
    for x in rows:
        if x["problem"].startswith("perm"):
            assert x["equal_to_default"], x
        if x["problem"].endswith(", o"):
            assert x["rel_diff"] is not None and x["rel_diff"] < 1e-5, x
    if "--shape" in extra:
        assert (doc["meta"]["B"], doc["meta"]["T"], doc["meta"]["set"],
                doc["meta"]["chunk_size"]) == (3, 11, extra[1], 4)
    if extra[1:2] == ["ahead"]:                  # bit-identical on every problem
        assert all(x["equal_to_default"] for x in rows), rows


@pytest.mark.parametrize("args,words", [(["--shape", "3,x"], "--shape: expected two positive"),
                                        (["--chunk", "0"], "--chunk: expected 'auto' or a")])
def test_deep_ab_bad_options(tmp_path, args, words):
    r = _run(["--smoke", *args, "--json", str(tmp_path / "x.json")])
    assert r.returncode == 2 and words in r.stderr


def test_deep_ab_earlier_kernels(tmp_path):
    # --set current --earlier FILE: the launcher's defaults, proj's runs without the final
    # state, and FILE's kernels under the same launcher; a copy of today's kernels with proj's
    # readout o halved shows that the earlier row ran FILE's (its o differs; the code, read
    # from another sum, does not), the others the current ones (bit-identical)
    src = (ROOT / "statetrack/kernels/tabled/_tabled_kernels.py").read_text()
    old = "        orun = orun + kq * d\n"
    assert src.count(old) == 1
    earlier = tmp_path / "_kernels_earlier.py"
    earlier.write_text(src.replace(old, "        orun = orun + 0.5 * kq * d\n"))
    out = tmp_path / "ab.json"
    r = _run(["--smoke", "--rounds", "1", "--json", str(out), "--set", "current",
              "--earlier", str(earlier)])
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    rows = json.loads(out.read_text())["rows"]
    assert {x["variant"] for x in rows} == {"default", "no final state", "earlier kernels"}
    assert len(rows) == 12
    for x in rows:
        changed = x["variant"] == "earlier kernels" and x["problem"].endswith(", o")
        assert x["equal_to_default"] != changed, x
    r = _run(["--smoke", "--set", "current", "--earlier", str(tmp_path / "none.py"), "--json",
              str(out)])
    assert r.returncode == 2 and "--earlier: no file" in r.stderr
