"""``statetrack compile``: family specs, regexes, DFA files, --out, and errors."""

from __future__ import annotations

import json

import pytest

from statetrack.automata import DFA
from statetrack.automata.families import get
from statetrack.cli import main
from statetrack.constructions import io as cio
from statetrack.theory.verify import verify

FAST = ["--words", "3", "--random", "4", "--random-length", "32", "--horizon-length", "200"]


def run(capsys, *argv):
    rc = main(["compile", *argv, *FAST])
    out, err = capsys.readouterr()
    return rc, out, err


def test_family_spec(capsys):
    rc, out, err = run(capsys, "cyclic(5)")
    assert rc == 0, err
    assert "language: cyclic(5)  (family)" in out
    assert "minimal DFA: 5 states" in out and "  >*  0" in out
    assert "monoid: group(5)" in out
    assert "width K = 5" in out and "n_h = 4" in out and "Theorem 3 bound k - 1 = 4" in out
    assert "A('1'): 4 GH factors with eigenvalue -1" in out
    assert "exp(2 pi i k/5), k = 1..4" in out
    assert "proof: proved: 5 reachable states map onto 5 DFA states; 10 transitions" in out
    assert "float check (bfloat16)" in out and "MISMATCH" not in out


def test_regex_and_out_file_round_trip(capsys, tmp_path):
    out_file = tmp_path / "even.json"
    rc, out, err = run(capsys, "(b*ab*a)*b*", "--alphabet", "ab", "--out", str(out_file))
    assert rc == 0, err
    assert "(regex)" in out and "monoid: group(2)" in out
    c = cio.load(out_file)
    assert c.certificate is not None and c.certificate.ok
    assert c.dfa.accepts("abab") and not c.dfa.accepts("ab")
    assert verify(c.lrnn, c.dfa).ok
    assert f"wrote {out_file}" in out


def test_dfa_file_and_forms(capsys, tmp_path):
    path = tmp_path / "k4.json"
    flips = {"a": 1, "b": 2}
    DFA.from_function(0, "ab", lambda q, x: q ^ flips[x], lambda q: q == 3).to_json(path)
    rc, out, err = run(capsys, str(path), "--form", "diagonal")
    assert rc == 0, err
    assert "(DFA file)" in out and "form diagonal" in out and "width K = 2" in out
    rc, out, err = run(capsys, "cyclic(5)", "--form", "rotation", "--out",
                       str(tmp_path / "r.json"))
    assert rc == 0, err
    assert "exact in floats: no" in out and "float horizon: float32" in out
    assert cio.load(tmp_path / "r.json").lrnn.form == "rotation"
    rc, out, err = run(capsys, "symmetric(3)", "--normalized")
    assert rc == 0 and "(normalized keys)" in out


@pytest.mark.parametrize("argv, msg", [
    (["(a|b)*a"], "not a permutation"),
    (["cylic(5)"], "did you mean 'cyclic'"),
    (["a(b"], "cannot read PATTERN"),
    (["/nonexistent/x.json"], "cannot read"),
    (["symmetric(3)", "--form", "rotation"], "not cyclic"),
])
def test_errors_exit_2_with_a_message(capsys, argv, msg):
    rc, out, err = run(capsys, *argv)
    assert rc == 2
    assert msg in err


def test_corrupt_dfa_file(capsys, tmp_path):
    p = tmp_path / "bad.json"
    p.write_text(json.dumps({"format": "statetrack.construction"}))
    rc, out, err = run(capsys, str(p))
    assert rc == 2 and "not a statetrack DFA" in err


def test_cli_compile_module_entry_point(capsys):
    from statetrack import cli_compile

    assert cli_compile.main(["parity", *FAST]) == 0
    assert "proof: proved" in capsys.readouterr().out
    dfa, how = cli_compile.resolve_pattern("parity")
    assert how == "family" and dfa == get("parity")
