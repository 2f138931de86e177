"""`statetrack check`: rows, JSON output, exit codes."""

from __future__ import annotations

import io
import json
import sys

import numpy as np
import pytest

from statetrack import cli
from statetrack.automata import DFA
from statetrack.automata.families import CatalogueEntry
from statetrack.automata.families import get as families_get


def test_version_option_prints_the_package_version(capsys):
    import statetrack

    with pytest.raises(SystemExit) as e:
        cli.main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out == f"statetrack {statetrack.__version__}\n"


def test_check_subset_passes_and_writes_json(tmp_path, capsys):
    out = tmp_path / "check.json"
    code = cli.main(["check", "--only", "parity", "symmetric(3)", "ab_star", "--json", str(out),
                     "--no-theory"])
    text = capsys.readouterr().out
    assert code == 0
    assert "3/3 languages pass every check" in text
    data = json.loads(out.read_text())
    rows = {r["name"]: r for r in data["rows"]}
    assert set(rows) == {"parity", "symmetric(3)", "ab_star"}
    assert rows["parity"]["states"] == 2 and rows["parity"]["monoid_class"] == "group"
    assert rows["symmetric(3)"]["monoid_size"] == 6
    assert rows["ab_star"]["monoid_class"] == "aperiodic"
    assert data["failed"] == 0 and all(r["ok"] for r in data["rows"])


def test_check_fails_on_a_bad_catalogue_entry(monkeypatch, capsys):
    # two equivalent states: not minimal, so the check must fail and exit 1
    bad = DFA([[1, 1], [0, 0]], accepting=[0, 1], alphabet="ab")
    monkeypatch.setattr("statetrack.automata.families.catalogue",
                        lambda: [CatalogueEntry(name="bad", family="bad", dfa=bad)])
    code = cli.main(["check", "--no-theory", "-q"])
    text = capsys.readouterr().out
    assert code == 1
    assert "FAIL bad: catalogue DFA is not minimal" in text
    assert "0/1 languages pass" in text


def test_check_unknown_only_is_a_usage_error(capsys):
    assert cli.main(["check", "--only", "no-such-language"]) == 2
    err = capsys.readouterr().err
    assert "statetrack check: error: --only: no catalogue entry or family matches" in err
    assert "a regex here having an operator" in err           # says what else it reads
    assert "did you mean" not in err                           # nothing close
    assert cli.main(["check", "--only", "flipflop"]) == 2      # a near miss: the hint
    err = capsys.readouterr().err
    assert "no family 'flipflop'; did you mean 'flip_flop'" in err
    assert cli.main(["check", "--only", "(ab"]) == 2          # a bad regex: its own message
    err = capsys.readouterr().err
    assert "is no catalogue entry or family spec, and as a DFA file or regex" in err
    assert "never closed" in err


def test_check_only_reads_a_regex_and_a_dfa_file(capsys, tmp_path):
    """--only takes what `statetrack compile` takes: a regex (with an operator) and a DFA
    file are checked like catalogue entries, every theorem column included."""
    from statetrack.automata import DFA

    cyc, swap = [1, 2, 3, 4, 5, 0], [1, 0, 2, 3, 4, 5]
    f = tmp_path / "s6.json"
    DFA([[cyc[q], swap[q], q % 2] for q in range(6)], start=0, accepting=[0],
        alphabet="ctm").to_json(f)
    out = tmp_path / "rows.json"
    code = cli.main(["check", "--only", "(a|b)*a(a|b)", str(f), "--json", str(out), "-q"])
    assert code == 0, capsys.readouterr()
    rows = {r["name"]: r for r in json.loads(out.read_text())["rows"]}
    assert set(rows) == {"(a|b)*a(a|b)", str(f)} and all(r["ok"] for r in rows.values())
    assert rows["(a|b)*a(a|b)"]["states"] == 4 and rows[str(f)]["states"] == 6
    assert rows[str(f)]["columns"]["construction"].startswith("cascade")


def test_check_json_to_a_folder_is_a_usage_error_before_any_check(tmp_path, monkeypatch,
                                                                    capsys):
    def no_checks(*a, **k):
        raise AssertionError("the checks ran before --json was validated")

    monkeypatch.setattr("statetrack.cli.check._check_language", no_checks)
    assert cli.main(["check", "--only", "parity", "--json", str(tmp_path), "-q"]) == 2
    err = capsys.readouterr().err
    assert f"--json {tmp_path}: is a folder" in err and "check.json" in err


def test_check_json_write_failure_is_an_error_not_a_traceback(tmp_path, monkeypatch, capsys):
    def refuse(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("statetrack.cli.check.open", refuse, raising=False)
    out = tmp_path / "rows.json"
    assert cli.main(["check", "--only", "parity", "--no-theory", "--json", str(out)]) == 2
    captured = capsys.readouterr()
    assert "1/1 languages pass every check" in captured.out     # the table is still printed
    assert f"--json {out}: cannot write (Permission denied)" in captured.err
    assert not out.exists()


def test_families_lists_registry(capsys):
    assert cli.main(["families"]) == 0
    text = capsys.readouterr().out
    assert "parity" in text and "symmetric" in text


def test_families_show_signatures_and_parameter_ranges(capsys):
    from statetrack.automata.families import FAMILIES, get

    assert cli.main(["families"]) == 0
    text = capsys.readouterr().out
    assert "count_mod(m=3, k=0)\n" in text
    assert "    m: integer in 1..100000 -- the modulus\n" in text
    assert "    accept: one of 'odd', 'even' -- " in text
    for fam in FAMILIES.values():
        assert fam.signature in text
        for p in fam.params:
            assert f"    {p.name}: {p.valid} -- {p.description}" in text
        assert get(fam.signature) == fam()      # the signature is a spec of the defaults
    assert cli.main(["families", "--brief"]) == 0
    brief = capsys.readouterr().out.splitlines()
    assert len(brief) == len(FAMILIES) and brief[1].startswith("count_mod(m=3, k=0) ")


def test_unknown_command_exits_with_usage():
    with pytest.raises(SystemExit) as e:
        cli.main(["no-such-command"])
    assert e.value.code == 2


def test_check_theory_failure_fails_the_row(monkeypatch, capsys):
    from statetrack.theory import registry

    real = registry.run_all

    def broken(dfa, **kw):
        cols = real(dfa, **kw)
        return [type(c)(c.name, c.column, "BROKEN", "planted failure", c.status, True)
                if i == 0 else c for i, c in enumerate(cols)]

    monkeypatch.setattr(registry, "run_all", broken)
    code = cli.main(["check", "--only", "parity", "-q"])
    text = capsys.readouterr().out
    assert code == 1
    assert "BROKEN" in text and "FAIL parity" in text and "planted failure" in text


def test_check_theory_columns_in_json(tmp_path):
    out = tmp_path / "c.json"
    assert cli.main(["check", "--only", "parity", "--json", str(out), "-q"]) == 0
    row = json.loads(out.read_text())["rows"][0]
    assert len(row["columns"]) > 1  # the monoid plus the theorem columns
    assert any("proved" in str(v) for v in row["columns"].values())


def test_check_only_accepts_family_specs_outside_the_catalogue(capsys):
    assert cli.main(["check", "--only", "cyclic(13)", "--no-theory", "-q"]) == 0
    text = capsys.readouterr().out
    assert "cyclic(13)" in text and "group(13)" in text


def test_check_monoid_over_limit_is_skipped_not_failed(capsys):
    assert cli.main(["check", "--only", "symmetric(3)", "--monoid-limit", "5", "--no-theory",
                     "-q"]) == 0
    assert "> 5 (skipped)" in capsys.readouterr().out


def test_check_monoid_limit_applies_to_the_theorem_columns(tmp_path, capsys):
    """--monoid-limit also bounds T1/T2 (tomita(3): 27 elements), which then read skipped;
    the default leaves them computed; --help says so."""
    out = tmp_path / "rows.json"
    assert cli.main(["check", "--only", "tomita(3)", "--monoid-limit", "10", "--json",
                     str(out), "-q"]) == 0
    row = json.loads(out.read_text())["rows"][0]
    assert row["columns"]["T1"] == "skipped (|M|>10)" and row["columns"]["T2"] == "skipped (|M|>10)"
    assert row["columns"]["monoid"] == "> 10 (skipped)"
    assert cli.main(["check", "--only", "tomita(3)", "--json", str(out), "-q"]) == 0
    row = json.loads(out.read_text())["rows"][0]
    assert not row["columns"]["T1"].startswith("skipped")
    assert not row["columns"]["T2"].startswith("skipped")
    capsys.readouterr()
    with pytest.raises(SystemExit):
        cli.main(["check", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "T1 and T2 enumerate at most min(N, 10^5)" in text


def test_check_passes_the_theorem_columns_the_memory_capped_limit(monkeypatch):
    """The T1/T2 limit is min(N, MONOID_LIMIT) after the memory cap of monoid_limit_for
    (2*10^7 entries): None (the registry's own) for small DFAs, lower past 200 states."""
    from statetrack.cli.check import _check_language
    from statetrack.theory import registry

    seen = []
    monkeypatch.setattr(registry, "run_all", lambda dfa, **kw: seen.append(kw) or [])
    _check_language("parity", families_get("parity"), monoid_limit=10 ** 6, theory=True)
    _check_language("parity", families_get("parity"), monoid_limit=50, theory=True)
    _check_language("cyclic(300)", families_get("cyclic(300)"), monoid_limit=10 ** 6,
                    theory=True)
    assert seen == [{"monoid_limit": None}, {"monoid_limit": 50},
                    {"monoid_limit": 20_000_000 // 300}]


def test_check_rejects_nonpositive_monoid_limit(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["check", "--monoid-limit", "0"])
    assert e.value.code == 2
    assert "positive integer" in capsys.readouterr().err


def test_check_rejects_a_negative_seed_before_any_work(capsys):
    # numpy's default_rng takes no negative seed: a usage error, not a traceback after the rows
    with pytest.raises(SystemExit) as e:
        cli.main(["check", "--only", "parity", "--device", "cpu", "--seed", "-1"])
    assert e.value.code == 2
    captured = capsys.readouterr()
    assert "argument --seed: expected a non-negative integer, got -1" in captured.err
    assert captured.out == ""


def test_check_device_cpu_runs_constructions_through_the_kernels(tmp_path, capsys):
    out = tmp_path / "d.json"
    code = cli.main(["check", "--only", "parity", "cyclic(3)", "ab_star", "--no-theory", "-q",
                     "--device", "cpu", "--length", "300", "--json", str(out)])
    text = capsys.readouterr().out
    assert code == 0
    assert "3/3 constructions run with zero mismatches on cpu (0 skipped)" in text
    rows = {r["name"]: r for r in json.loads(out.read_text())["device_rows"]}
    assert rows["parity"]["mismatches"] == 0 and rows["parity"]["length"] == 300
    # ab_star's monoid is not a group: it runs as Theorem 4's cascade stack
    assert rows["ab_star"]["status"] == "ok" and rows["ab_star"]["mismatches"] == 0
    assert rows["ab_star"]["form"] == "cascade"


@pytest.mark.parametrize("extra, names", [
    (["--kernel", "tabled"], "--kernel only applies"),
    (["--length", "10", "--seed", "3"], "--length, --seed only apply"),
    (["--form", "faithful", "--batch", "2"], "--batch, --form only apply"),
    (["--seed", "0"], "--seed only applies"),     # the default value given explicitly
])
def test_check_device_options_without_device_are_an_error(monkeypatch, capsys, extra, names):
    """Options of the --device run would do nothing without --device: a usage error (exit 2)
    before any work, naming them."""
    from statetrack.cli import check as check_cli

    called = []
    monkeypatch.setattr(check_cli, "_check_language", lambda *a, **k: called.append(a))
    assert cli.main(["check", "--only", "parity", *extra]) == 2
    captured = capsys.readouterr()
    assert f"statetrack check: error: {names} with --device" in captured.err
    assert captured.out == "" and not called


def test_check_device_options_defaults_reach_the_device_run(monkeypatch, capsys):
    from statetrack.cli import device as device_cli

    seen = {}

    def fake(names, device, **kw):
        seen.update(kw, device=device)
        return []

    monkeypatch.setattr(device_cli, "device_check", fake)
    assert cli.main(["check", "--only", "parity", "--no-theory", "-q", "--device", "cpu"]) == 0
    capsys.readouterr()
    assert seen["kernel"] == "auto" and seen["form"] == "auto" and seen["length"] is None
    assert seen["batch"] is None and seen["device"] == "cpu"
    assert seen["rng"].integers(1 << 30) == np.random.default_rng(0).integers(1 << 30)


# ----------------------------------------------------------------------------- help, progress
def test_check_help_has_a_description(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["check", "--help"])
    assert info.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "Checks every language of the built-in catalogue" in out
    assert "exit status: 0 every check passed, 1 a check failed, 2 bad input" in out


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("extra, tty, drawn", [
    ([], True, True), (["--quiet"], True, False), ([], False, False),
    (["--json", "JSON"], True, False),
])
def test_check_progress_bar_only_on_a_terminal(monkeypatch, capsys, tmp_path, extra, tty, drawn):
    err = _Terminal() if tty else io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    extra = [str(tmp_path / "c.json") if x == "JSON" else x for x in extra]
    assert cli.main(["check", "--only", "parity", "cyclic(3)", "--no-theory", *extra]) == 0
    assert ("check: 100%" in err.getvalue() and "2/2" in err.getvalue()) == drawn
    assert "check:" not in capsys.readouterr().out


def test_check_device_progress_bar(monkeypatch, capsys):
    err = _Terminal()
    monkeypatch.setattr(sys, "stderr", err)
    assert cli.main(["check", "--only", "parity", "--no-theory", "--device", "cpu",
                     "--length", "8", "--batch", "1"]) == 0
    assert "check --device cpu: 100%" in err.getvalue()
    capsys.readouterr()


def test_check_device_cuda_without_a_gpu_fails_before_the_table(monkeypatch, capsys):
    from statetrack.cli import check as check_cli

    called = []
    monkeypatch.setattr(check_cli, "_check_language", lambda *a, **k: called.append(a))
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    assert cli.main(["check", "--only", "parity", "--device", "cuda"]) == 2
    err = capsys.readouterr().err
    assert "--device cuda: " in err and "use --device cpu or --device auto" in err
    assert "device='cpu'" not in err and not called


# ----------------------------------------------------------------------------- figures
def test_figures_help_and_default_outdir(monkeypatch, capsys, tmp_path):
    import statetrack.theory.figures as figs
    from statetrack.cli.figures import DEFAULT_OUTDIR

    with pytest.raises(SystemExit):
        cli.main(["figures", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--outdir DIR folder for the PNG files" in out and "./statetrack-figures" in out
    seen = []
    monkeypatch.setattr(figs, "make_figures", lambda outdir: seen.append(outdir) or [])
    monkeypatch.chdir(tmp_path)
    assert cli.main(["figures"]) == 0
    assert seen == [DEFAULT_OUTDIR] and DEFAULT_OUTDIR == "statetrack-figures"
    assert cli.main(["figures", "--outdir", "here"]) == 0 and seen[-1] == "here"
    capsys.readouterr()


def test_check_bounds_the_monoid_by_memory_and_notes_a_large_dfa(capsys, monkeypatch):
    monkeypatch.setattr("statetrack.cli._args.MONOID_ENTRIES", 12)   # 6 states: 2 elements
    monkeypatch.setattr("statetrack.cli._args.SLOW_STATES", 6)
    assert cli.main(["check", "--only", "symmetric(3)", "parity", "--no-theory", "-q"]) == 0
    out, err = capsys.readouterr()
    assert "> 2 (skipped)" in out            # symmetric(3): 6 states, limit 12 // 6 = 2
    assert "group(2)" in out                 # parity: 2 states, limit 6, monoid of size 2
    assert "statetrack check: note: the minimal DFA has 6 states" in err and "(symmetric(3))" in err
    assert "parity)" not in err


def test_figures_to_an_unwritable_outdir_is_an_error_not_a_traceback(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    assert cli.main(["figures", "--outdir", str(blocker / "figs")]) == 2
    err = capsys.readouterr().err
    assert (f"statetrack figures: error: --outdir {blocker / 'figs'}: a file is in the way "
            f"(the path names, or passes through, a file, not a folder)") in err
    assert "Traceback" not in err and not (blocker / "figs").exists()


def test_figures_says_on_a_terminal_what_the_wait_is_for(monkeypatch, capsys, tmp_path):
    import statetrack.theory.figures as figs

    monkeypatch.setattr(figs, "make_figures", lambda outdir: [])
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    assert cli.main(["figures", "--outdir", str(tmp_path / "f")]) == 0
    assert f"drawing the figures into {tmp_path / 'f'}" in capsys.readouterr().err
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    assert cli.main(["figures", "--outdir", str(tmp_path / "f")]) == 0
    assert capsys.readouterr().err == ""
