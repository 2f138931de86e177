"""`statetrack check`: rows, JSON output, exit codes."""

from __future__ import annotations

import json

import pytest

from statetrack import cli
from statetrack.automata import DFA
from statetrack.automata.families import CatalogueEntry


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
    assert "no catalogue entry matches" in capsys.readouterr().err


def test_families_lists_registry(capsys):
    assert cli.main(["families"]) == 0
    text = capsys.readouterr().out
    assert "parity" in text and "symmetric" in text


def test_unknown_command_exits_with_usage():
    with pytest.raises(SystemExit) as e:
        cli.main(["no-such-command"])
    assert e.value.code == 2
