"""``statetrack compile``: family specs, regexes, DFA files, --out, and errors."""

from __future__ import annotations

import json
import re

import pytest

from statetrack.automata import DFA
from statetrack.automata.families import get
from statetrack.cli import main
from statetrack.constructions import io as cio
from statetrack.theory.proof import verify

FAST = ["--words", "3", "--random", "4", "--random-length", "32", "--horizon-length", "200"]


def run(capsys, *argv):
    rc = main(["compile", *FAST, *argv])  # later options (in argv) override FAST
    out, err = capsys.readouterr()
    return rc, out, err


def test_family_spec(capsys):
    rc, out, err = run(capsys, "cyclic(5)")
    assert rc == 0, err
    assert "language: cyclic(5)  (family)" in out
    assert "minimal DFA: 5 states" in out and "  >*  0" in out
    assert "monoid: group(5)" in out
    assert "width K = 5" in out and "n_h = 4" in out and "Theorem 3 bound: k - 1 = 4" in out
    assert "A('1'): 4 GH factors with eigenvalue -1" in out
    assert "A('0'): 0 GH factors; eigenvalues of A: 1 (x5)" in out
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
    (["cylic(5)"], "did you mean 'cyclic'"),
    (["paritty"], "'paritty' is not a family; did you mean 'parity'? use --kind regex to "
                  "compile it as a regex"),
    (["symetric"], "did you mean 'symmetric'?"),
    (["a(b"], "cannot read PATTERN"),
    (["/nonexistent/x.json"], "cannot read"),
    # an existing folder named by a path: a mistyped file, not the regex '/tmp' (a bare '.',
    # also a folder, stays the regex it is)
    (["/"], "'/' is a folder, not a DFA or construction file; use --kind regex to compile "
            "it as a regex"),
    (["symmetric(3)", "--form", "rotation"], "not cyclic"),
])
def test_errors_exit_2_with_a_message(capsys, argv, msg):
    rc, out, err = run(capsys, *argv)
    assert rc == 2
    assert msg in err


def test_corrupt_dfa_and_construction_files(capsys, tmp_path):
    p = tmp_path / "bad.json"
    p.write_text(json.dumps({"format": "statetrack.dfa"}))
    rc, out, err = run(capsys, str(p))
    assert rc == 2 and "cannot read PATTERN" in err
    p.write_text(json.dumps({"format": "statetrack.construction"}))
    rc, out, err = run(capsys, str(p))
    assert rc == 2 and "unsupported version None" in err


def test_non_group_languages_compile_as_cascades_and_prove(capsys):
    for argv in (["(a|b)*a"], ["paritty", "--kind", "regex"], ["abba"], ["(a|b)*abb"],
                 ["(ab)*"], ["contains(abb)"]):
        rc, out, err = run(capsys, *argv)
        assert rc == 0, (argv, err)
        assert "construction: form cascade" in out and "holonomy cascade" in out
        assert "proof: proved" in out and "MISMATCH" not in out
    # a group form asked for a non-group language is bad input (exit 2) with the reason
    rc, out, err = run(capsys, "(a|b)*a", "--form", "permutation")
    assert rc == 2 and "not a permutation" in err


def test_packed_cascade_has_d_equal_one_and_says_so(capsys, tmp_path):
    """--packed: Theorem 4's d = 1 (V = 1 in every layer), proved; the default says how to get
    it; a group language or a construction file refuses the option (exit 2)."""
    rc, out, err = run(capsys, "contains(abb)", "--packed", "--out", str(tmp_path / "c.json"))
    assert rc == 0, err
    assert "construction: form cascade, 7 layers, width K = 3, V = 1" in out
    assert "value width: d = 1 in every layer" in out and "proof: proved" in out
    loaded = cio.load(tmp_path / "c.json")
    assert max(layer.value_dim for layer in loaded.lrnn.layers) == 1
    assert verify(loaded.lrnn, get("contains(abb)")).ok
    rc, out, err = run(capsys, "contains(abb)")
    assert rc == 0 and "V = 7" in out and "Theorem 4's d = 1 is --packed" in out
    rc, out, err = run(capsys, "parity", "--packed")
    assert rc == 2 and "--packed applies to the cascade form only" in err
    rc, out, err = run(capsys, str(tmp_path / "c.json"), "--packed")
    assert rc == 2 and "--packed and --per-component do not apply to a construction" in err


def test_per_component_puts_each_holonomy_component_in_a_layer(capsys):
    """--per-component: tomita(3)'s level of two components becomes two layers (11 layers of
    width 3 instead of 9 with one of width 5), proved; refused for a group form."""
    rc, out, err = run(capsys, "tomita(3)", "--per-component", "--packed")
    assert rc == 0, err
    assert "construction: form cascade, 11 layers, width K = 3, V = 1" in out
    assert "proof: proved" in out
    rc, out, err = run(capsys, "tomita(3)")
    assert rc == 0 and "construction: form cascade, 9 layers, width K = 5" in out
    rc, out, err = run(capsys, "parity", "--per-component")
    assert rc == 2 and "--per-component applies to the cascade form only" in err


def test_per_component_prints_a_lifted_component_layer_by_layer(capsys, tmp_path):
    """A DFA whose holonomy component is lifted ((15,S6) on six states: levels 6 and 5) and
    so becomes more layers than it has components: the printer labels each layer (it raised
    an IndexError before), the stack is within |Q| and proved; without --per-component the
    15-wide level layer is explained as the level's tiles, not as several components."""
    cyc, swap = [1, 2, 3, 4, 5, 0], [1, 0, 2, 3, 4, 5]
    d = DFA([[cyc[q], swap[q], q % 2] for q in range(6)], start=0, accepting=[0],
            alphabet="ctm")
    f = tmp_path / "s6.json"
    d.to_json(f)
    rc, out, err = run(capsys, str(f), "--per-component", "--packed")
    assert rc == 0, err
    assert "construction: form cascade, 5 layers, width K = 6, V = 1" in out
    assert "layer 0 (level 1 part 1/2 (lifted)): K = 6" in out
    assert "layer 2 (level 1 part 2/2 (lifted)): K = 6" in out
    assert "layer 4 (level 2): K = 3" in out
    assert "2L - 1 layers for L levels after the split" in out and "proof: proved" in out
    rc, out, err = run(capsys, str(f))
    assert rc == 0, err
    assert "K = 15: a level's layer holds all its components' tiles" in out
    assert "--per-component narrows them" in out


def test_packed_refusal_names_the_form_and_not_a_group_it_is_not(capsys):
    """--packed with a form other than the cascade is refused (exit 2) without calling a
    non-group language a group language; with the auto form of a group language the message
    says what auto chose and how to get Theorem 4's packed stack."""
    rc, out, err = run(capsys, "contains(abb)", "--packed", "--form", "permutation")
    assert rc == 2 and "group language" not in err
    assert "--packed applies to the cascade form only" in err and "--form permutation" in err
    rc, out, err = run(capsys, "parity", "--packed")
    assert rc == 2 and "Theorem 3's one-layer" in err and "--form cascade --packed" in err
    rc, out, err = run(capsys, "parity", "--packed", "--form", "cascade")
    assert rc == 0, err


def test_packed_codes_beyond_bfloat16_say_why_floats_mismatch(capsys):
    """grid_world(9) packed: codes up to 509, which bfloat16 does not hold. The expected
    mismatches give the reason the proof stops and the way out (the register columns), not
    "the cascade form is inexact", and the multi-layer horizon note is said once."""
    rc, out, err = run(capsys, "grid_world(9)", "--packed", "--words", "8")
    assert rc == 0, err
    line = next(x for x in out.splitlines() if x.startswith("float check (bfloat16)"))
    assert "mismatch" in line and "MISMATCH" not in line
    assert "the cascade form is inexact" not in line
    assert "not proved exact in bfloat16" in line and "output[0] = 509" in line
    assert "without --packed" in line
    assert sum(x.startswith("float horizon") for x in out.splitlines()) == 1


def test_cascade_over_the_skeleton_limit_exits_3(capsys):
    rc, out, err = run(capsys, "(a|b)*abb", "--max-skeleton", "2")
    assert rc == 3 and "unsupported: the construction is over a size limit" in err
    assert "more than --max-skeleton 2 sets" in err and "max_skeleton" not in err


def test_help_documents_the_exit_codes(capsys):
    with pytest.raises(SystemExit) as info:
        main(["compile", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "exit status:" in out
    for line in ("  0  proved exactly", "  1  a counterexample", "  2  bad input",
                 "  3  unsupported: the construction is over a size limit"):
        assert line in out
    with pytest.raises(SystemExit) as info:
        main(["compile", "parity", "--form", "spiral"])
    assert info.value.code == 2
    capsys.readouterr()


def test_rotation_form_report(capsys):
    rc, out, err = run(capsys, "cyclic(5)", "--form", "rotation", "--random-length", "400")
    assert rc == 0, err
    # eigenvalues as roots of unity, proved exactly, with numeric values; no raw radicals
    assert ("A('1'): 2 GH factors with eigenvalue -1; eigenvalues of A: exp(+-2 pi i 1/5) = "
            "0.309017 +- 0.951057i (exact: A^5 = I)") in out
    assert "sqrt" not in out.split("proof:")[0]
    # bfloat16 mismatches of an inexact form are expected (exit 0), and say so
    line = next(x for x in out.splitlines() if x.startswith("float check (bfloat16)"))
    assert "MISMATCH" not in line
    assert "expected: the rotation form is inexact in floats; see the float horizon" in line
    assert "no length guaranteed" not in out and "proven correct" in out


def test_parity_report_grammar(capsys):
    rc, out, err = run(capsys, "parity")
    assert rc == 0, err
    assert "A('1'): 1 GH factor with eigenvalue -1; eigenvalues of A: 1, -1" in out
    assert "1 GH factors" not in out and "1 layer," in out


def test_one_state_language(capsys):
    rc, out, err = run(capsys, "(a|b)*", "--alphabet", "ab")
    assert rc == 0, err
    assert "minimal DFA: 1 state," in out and "n_h = 0" in out
    assert "proof: proved: 1 reachable state maps onto 1 DFA state; 2 transitions" in out


def test_construction_file_as_pattern(capsys, tmp_path):
    path = tmp_path / "z5.json"
    rc, out, err = run(capsys, "cyclic(5)", "--form", "rotation", "--out", str(path))
    assert rc == 0, err
    rc, out, err = run(capsys, str(path))
    assert rc == 0, err
    assert f"language: {path}  (construction file)" in out
    assert "proof: re-verified on load (the stored certificate matches): proved: 5" in out
    assert "form rotation" in out and "exp(+-2 pi i 2/5)" not in out
    rc, out, err = run(capsys, str(path), "--form", "permutation")
    assert rc == 2 and "do not apply to a construction file" in err
    # a tampered file is refused, naming the file
    d = json.loads(path.read_text())
    d["certificate"]["g"] = list(reversed(d["certificate"]["g"]))
    path.write_text(json.dumps(d))
    rc, out, err = run(capsys, str(path))
    assert rc == 2 and "stored certificate is not the one" in err and str(path) in err
    assert out == ""


def test_cli_compile_module_entry_point(capsys):
    from statetrack.cli import compile as cli_compile

    assert cli_compile.main(["parity", *FAST]) == 0
    assert "proof: proved" in capsys.readouterr().out
    dfa, how = cli_compile.resolve_pattern("parity")
    assert how == "family" and dfa == get("parity")


def test_faithful_form(capsys, tmp_path):
    """S_5's word problem: K = 5 (cosets of S_4) instead of K = |Q| = 120."""
    out_file = tmp_path / "s5.json"
    rc, out, err = run(capsys, "symmetric(5)", "--form", "faithful", "--out", str(out_file))
    assert rc == 0, err
    assert "form faithful" in out and "width K = 5, V = 4, n_h = 1" in out
    assert "the letters act faithfully on m = 5 points" in out
    assert "the permutation form has K = |Q| = 120" in out
    assert "readout: 120 classes, one per image of the base" in out
    assert "proof: proved: 120 reachable states map onto 120 DFA states" in out
    assert "float check (bfloat16)" in out and "MISMATCH" not in out
    c = cio.load(out_file)
    assert c.lrnn.form == "faithful" and c.lrnn.width == 5 and verify(c.lrnn, c.dfa).ok
    rc, out, err = run(capsys, str(out_file))
    assert rc == 0, err
    assert "re-verified on load" in out and "form faithful" in out


def test_faithful_form_errors(capsys):
    rc, out, err = run(capsys, "symmetric(3)", "--form", "faithful", "--normalized")
    assert rc == 2 and "no normalized variant" in err
    rc, out, err = run(capsys, "a*b", "--alphabet", "ab", "--form", "faithful")
    assert rc == 2 and "not a permutation" in err   # no group form for a non-group


def test_numeric_options_are_validated_as_usage_errors(capsys):
    for argv, what in ((["--limit", "0"], "--limit"), (["--words", "-1"], "--words"),
                       (["--random", "-2"], "--random"), (["--max-skeleton", "x"], "--max-skeleton"),
                       (["--random-length", "0"], "--random-length"),
                       (["--seed", "-1"], "--seed")):
        with pytest.raises(SystemExit) as info:
            main(["compile", "parity", *argv])
        assert info.value.code == 2
        assert f"argument {what}: expected a" in capsys.readouterr().err


# a keyword argument as Python spells it (``alphabet=``, ``form='x'``, ``limit=3``)
_PYTHON_SPEAK = re.compile(r"\b(alphabet|form|normalized|limit|max_skeleton)=")


@pytest.mark.parametrize("argv, option", [
    (["."], "pass the symbols with --alphabet"),
    (["[\u0100-\u0fff]", "--kind", "regex"], "pass the symbols with --alphabet"),
    (["cyclic(3)", "--form", "diagonal"], "use --form permutation or --form rotation"),
    (["cyclic(3)", "--form", "faithful", "--normalized"], "use --form permutation --normalized"),
    (["(a|b)*abb", "--max-skeleton", "2"], "e.g. --max-skeleton 20"),
])
def test_errors_name_the_options_not_python_arguments(capsys, argv, option):
    rc, out, err = run(capsys, *argv)
    assert rc in (2, 3)
    assert option in err, err
    assert not _PYTHON_SPEAK.search(err), err


def test_limit_messages_name_the_option(capsys):
    rc, out, err = run(capsys, "cyclic(5)", "--limit", "3")
    assert rc == 1
    assert "monoid: not computed" in out and "more than --limit 3 elements" in out
    assert "e.g. --limit 30" in out
    assert "proof: not completed (more than --limit 3 (model state" in out
    assert "raise --limit" in out
    assert not _PYTHON_SPEAK.search(out), out


@pytest.mark.parametrize("alphabet", ["a b", "ab", " a  b "])
def test_alphabet_whitespace_separates_symbols(capsys, alphabet):
    rc, out, err = run(capsys, "a+", "--alphabet", alphabet)
    assert rc == 0, err
    assert "alphabet ['a', 'b']" in out and "' '" not in out


@pytest.mark.parametrize("alphabet, msg", [
    ("push pop", "single characters (spaces only separate them); got 'push'"),
    ("   ", "expected the regex's symbols"),
])
def test_bad_alphabet_is_a_usage_error(capsys, alphabet, msg):
    with pytest.raises(SystemExit) as info:
        main(["compile", "a+", "--alphabet", alphabet])
    assert info.value.code == 2
    assert "argument --alphabet: " in (err := capsys.readouterr().err) and msg in err


def test_alphabet_with_a_family_is_an_error(capsys):
    rc, out, err = run(capsys, "parity", "--alphabet", "01")
    assert rc == 2 and "--alphabet applies to a regex only" in err and "a family" in err
    rc, out, err = run(capsys, "parity", "--alphabet", "p a r i t y", "--kind", "regex")
    assert rc == 0, err


def test_too_many_random_symbols_is_refused_before_any_work(capsys, monkeypatch):
    def no_work(*a, **k):
        raise AssertionError("PATTERN was read before the options were checked")

    monkeypatch.setattr("statetrack.cli.compile.resolve_pattern", no_work)
    rc, out, err = run(capsys, "parity", "--random", "64", "--random-length", "100000000")
    assert rc == 2 and out == ""
    assert "--random 64 --random-length 100000000: 6.4e+09 random symbols" in err
    assert "lower one of them" in err


def test_monoid_of_a_wide_dfa_stays_within_the_memory_budget(capsys, monkeypatch):
    # 7 states x 3 elements = 21 entries > 20: the enumeration stops at 2 elements, and the
    # line says why in words of the command line, not a limit the user never set
    monkeypatch.setattr("statetrack.cli._args.MONOID_ENTRIES", 20)
    rc, out, err = run(capsys, "cyclic(7)")
    assert rc == 0, err
    assert ("monoid: not computed (more than 2 elements, each a map of the 7 states: past the "
            in out) and "memory budget" in out
    assert "proof: proved" in out


def test_large_dfa_gets_a_note_on_stderr_before_the_slow_stages(capsys, monkeypatch):
    monkeypatch.setattr("statetrack.cli._args.SLOW_STATES", 5)
    rc, out, err = run(capsys, "cyclic(5)")
    assert rc == 0
    assert ("statetrack compile: note: the minimal DFA has 5 states; the monoid, the "
            "construction") in err and "can take many minutes" in err
    rc, out, err = run(capsys, "cyclic(4)")
    assert rc == 0 and "note:" not in err


def test_an_unwritable_out_is_refused_before_the_proof(tmp_path, capsys):
    # checked first (the proof of a large group takes minutes): nothing on stdout
    rc, out, err = run(capsys, "cyclic(5)", "--out", str(tmp_path / "no" / "c.json"))
    assert rc == 2 and out == ""
    assert f"--out {tmp_path / 'no' / 'c.json'}: the folder {tmp_path / 'no'} does not exist" in err
    rc, out, err = run(capsys, "cyclic(5)", "--out", str(tmp_path))
    assert rc == 2 and out == ""
    assert f"--out {tmp_path}: is a folder; name a file in it" in err


def test_a_group_too_large_for_every_form_is_one_line_exit_2(monkeypatch, capsys):
    """symmetric(8) (40320 states) ran for hours and 13 GB before failing; now both forms'
    budgets refuse it before building anything. Here symmetric(4) under small budgets."""
    from statetrack.constructions import faithful as faithful_mod
    from statetrack.constructions import group as group_mod

    monkeypatch.setattr(group_mod, "MAX_KEY_ENTRIES", 100)
    monkeypatch.setattr(faithful_mod, "MAX_GROUP_ENTRIES", 100)
    assert main(["compile", "symmetric(4)"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("statetrack compile: error: the permutation form")
    assert "past the budget of 1e+02 (MAX_KEY_ENTRIES)" in err[0]
    assert "Traceback" not in err[0]


def test_theorem_6_weights_over_the_size_limit_exit_3(capsys):
    """cyclic(60) is valid input whose Theorem 6 weights are too large to store exactly: an
    unsupported size (3), not bad input (2) and not a traceback."""
    rc, out, err = run(capsys, "cyclic(60)", "--form", "reflections")
    assert rc == 3 and "unsupported: the construction is over a size limit" in err
    assert "m = 60" in err and "Traceback" not in err
