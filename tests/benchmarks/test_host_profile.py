"""benchmarks/probes/host_profile.py: a smoke run on the CPU (the interpreter) and its bad
arguments."""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(args, timeout=300):
    return subprocess.run([sys.executable, "benchmarks/probes/host_profile.py", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def test_host_profile_smoke(tmp_path):
    out = tmp_path / "hp.json"
    r = _run(["--smoke", "--top", "4", "--json", str(out)])
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    doc = json.loads(out.read_text())
    assert (doc["meta"]["B"], doc["meta"]["T"], doc["meta"]["calls"]) == (2, 9, 2)
    assert doc["host_ms"] > 0
    prof = doc["profile"]
    assert len(prof["by_own"]) == len(prof["by_cumulative"]) == 4
    (rt,) = [r for r in prof["by_cumulative"] if r["function"].endswith("(run_tabled)")]
    assert rt["calls_per_call"] == 1.0              # per call: counts divided by the calls
    # the call dominates the profile (cProfile's cumulative times carry some of its own
    # bookkeeping between frames, so the call's can pass the sum of own times a little)
    assert 0.5 * prof["total_ms"] <= rt["cum_ms"] <= 1.1 * prof["total_ms"]
    assert prof["total_ms"] >= prof["by_own"][0]["own_ms"] > 0
    assert doc["checks_ab"] is None and doc["meta"]["checks"] == "on"


def test_host_profile_checks_off_and_ab(tmp_path):
    out = tmp_path / "hp.json"
    r = _run(["--smoke", "--checks", "off", "--ab", "1", "--top", "200", "--json", str(out)])
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    doc = json.loads(out.read_text())
    assert doc["meta"]["checks"] == "off"
    # the profiled call has its checks off: no device flags armed
    names = [r["function"] for r in doc["profile"]["by_cumulative"]]
    assert any(n.endswith("(run_tabled)") for n in names)
    assert not any(n.endswith("(arm)") for n in names), names
    ab = doc["checks_ab"]
    variants = {"checks off", "checks on, flags copied", "checks on, flags mapped",
                "checks on, flags mapped, ids not narrowed", "checks off, ids not narrowed",
                "checks on, flags mapped, narrowing in summary",
                "checks on, flags mapped, Triton's dispatch"}
    assert len(ab["rounds"]) == 1 and set(ab["rounds"][0]) == variants
    assert set(ab["median"]) == variants and set(ab["cost_pct"]) == variants - {"checks off"}
    for m in ab["median"].values():
        assert m["loop_ms"] >= m["host_ms"] > 0
    off = ab["median"]["checks off"]["host_ms"]
    on = ab["median"]["checks on, flags copied"]["host_ms"]
    assert abs(ab["cost_pct"]["checks on, flags copied"]["host"] - 100 * (on / off - 1)) < 1e-9
    assert "interleaved A/B (1 rounds" in r.stdout


def test_host_profile_bad_arguments(tmp_path):
    for args, msg in ((["--shape", "3"], "--shape"), (["--shape=-1,5"], "--shape"),
                      (["--calls", "0"], "--calls"), (["--ab", "-1"], "--ab"),
                      (["--checks", "maybe"], "--checks"),
                      (["--problem", "nope"], "--problem"),
                      (["--json", str(tmp_path / "no" / "such" / "dir" / "x.json")], "--json")):
        argv = ["--smoke", *args] + ([] if "--json" in args else ["--json", str(tmp_path / "x.json")])
        r = _run(argv)
        assert r.returncode == 2, (args, r.stderr)
        assert msg in r.stderr.splitlines()[-1] and "Traceback" not in r.stderr, r.stderr


def test_checks_ab_switches_and_restores(monkeypatch):
    # checks_ab in process: every variant's settings in force while it runs, the rounds
    # rotated, the caller's settings back afterwards
    import importlib.util

    spec = importlib.util.spec_from_file_location("hp_ab", ROOT / "benchmarks" / "probes" /
                                                  "host_profile.py")
    hp = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hp)
    monkeypatch.setattr(hp.checks_mod, "MAPPED_FLAGS", "sentinel-m")
    monkeypatch.setattr(hp._launch, "NARROW_CHUNKED", "sentinel-n")
    monkeypatch.setattr(hp._launch, "NARROW_IN_SUMMARY", "sentinel-s")
    monkeypatch.setattr(hp.fast_launch, "MODE", "sentinel-f")
    seen = set()

    def make_fn(on):
        return lambda: seen.add((on, hp.checks_mod.MAPPED_FLAGS, hp._launch.NARROW_CHUNKED,
                                 hp._launch.NARROW_IN_SUMMARY, hp.fast_launch.MODE))

    res = hp.checks_ab(make_fn, rounds=2, calls=2, dev="cpu")
    assert seen == {(on, m, bool(n), n == "summary", "sentinel-f" if d else "off")
                    for _, on, m, n, d in hp.AB_VARIANTS}
    assert len(seen) == len(hp.AB_VARIANTS) == 7
    assert hp.fast_launch.MODE == "sentinel-f"
    assert hp.checks_mod.MAPPED_FLAGS == "sentinel-m"
    assert hp._launch.NARROW_CHUNKED == "sentinel-n"
    assert hp._launch.NARROW_IN_SUMMARY == "sentinel-s"
    assert [list(r) for r in res["rounds"]] == [
        [v[0] for v in hp.AB_VARIANTS], [v[0] for v in hp.AB_VARIANTS[1:] + hp.AB_VARIANTS[:1]]]


def test_host_profile_breakdown(tmp_path):
    """--breakdown times the call's stages with one timer each: every stage of a call is
    seen once a call and no stage takes longer than the whole call (that the timers are
    removed afterwards: the next test)."""
    out = tmp_path / "hp.json"
    r = _run(["--smoke", "--breakdown", "--top", "200", "--json", str(out)])
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    doc = json.loads(out.read_text())
    bd = doc["breakdown"]
    st = bd["stages"]
    for name in ("check_inputs", "allocate_outputs", "cached_plan", "launch (all passes)",
                 "DeviceFlags()", "flags.arm"):
        assert st[name]["calls_per_call"] == 1.0, name
    assert all(0 < v["ms"] <= bd["whole_ms"] for v in st.values())
    # the launch holds the narrowing pass it makes (inclusive timers)
    assert st["to_uint8_ids"]["ms"] <= st["launch (all passes)"]["ms"]
    assert "stages (one timer each" in r.stdout


def test_breakdown_restores_what_it_wraps():
    from benchmarks.probes import host_profile as hp
    before = [getattr(owner, attr) for owner, attr, _ in hp._stages()]
    seen = []
    got = hp.breakdown(lambda: seen.append(1), 4, "cpu")
    assert len(seen) == 3 + 4                      # three warm-up calls, four timed
    assert got["stages"] == {} and got["whole_ms"] > 0        # nothing staged was called
    assert [getattr(owner, attr) for owner, attr, _ in hp._stages()] == before
