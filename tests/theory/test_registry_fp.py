"""The fp column of ``statetrack check`` (issue 13): the float claim is proved for every word,
not tested on one-letter words a^t only."""

from __future__ import annotations

from statetrack.automata import DFA
from statetrack.automata.families import get
from statetrack.constructions.lrnn import LRNN, DeltaStep, Layer, Readout
from statetrack.theory import registry
from statetrack.theory.proof import verify


def two_registers() -> tuple[LRNN, DFA]:
    """'a' writes 256 to slot 0, 'b' writes 1 to slot 1; the output is their sum: 0, 256, 1 or
    257, the last not a bfloat16 number. Every a^t and b^t is exact in bfloat16; "ab" is not
    (257 rounds to 256, decoded as 'only a seen')."""
    wa = DeltaStep(key=[1, 0], beta=1, value=[256])
    wb = DeltaStep(key=[0, 1], beta=1, value=[1])
    layer = Layer(tokens=("a", "b"), steps=((wa,), (wb,)), initial_state=[[0], [0]],
                  readout=Readout(query=[1, 1], codes=[[0], [256], [1], [257]]))
    m = LRNN(alphabet=("a", "b"), layers=(layer,), accepting=(False, False, False, True),
             state_map=(0, 1, 2, 3))
    d = DFA([[1, 2], [1, 3], [3, 2], [3, 3]], accepting=[3], alphabet="ab")
    return m, d


def test_fp_finds_the_mixed_word_that_letter_powers_miss():
    m, d = two_registers()
    assert verify(m, d).ok                       # exact arithmetic: a correct construction
    assert m.evaluate_float(["ab"], "bfloat16").accepted[0, 2] == False  # noqa: E712
    problems = registry._fp_against_dfa(m, d.minimize(), ("bfloat16",))
    assert problems and "the float run rejects a b, the DFA accepts" in problems[0]
    assert "9 significant bits, bfloat16 has 8" in problems[0] and len(problems) == 1


def test_fp_column_fails_on_the_mixed_word():
    m, d = two_registers()
    fmts = ("bfloat16",)
    r = registry._prove_and_run("thm3", m, d, "1x2", {},
                                lambda: registry._fp_against_dfa(m, d.minimize(), fmts), fmts,
                                lambda cert: "")
    assert r.status == registry.FAIL and r.failed_column == "fp"
    assert dict(r.columns)["fp"] == "FAIL" and "a b" in r.detail
    assert r.data["fp"]["bfloat16"].startswith("weights: layer 0 readout: output[0] = 257")


def test_fp_column_states_the_proof_for_every_word():
    for key, lang in (("thm3", "cyclic(5)"), ("thm4", "contains(abb)")):
        r = registry.check(key, get(lang))
        assert r.passed and dict(r.columns)["fp"] == "bf16 exact"
        assert r.data["fp"] == {"bfloat16": "every length"}
        assert "equals the exact run on every word of every length" in r.detail
    assert "every word" in registry.COLUMN_LEGEND["fp"]


def test_fp_column_says_unproved_when_only_words_were_run():
    """An irrational construction (the rotation form of Z_3) has no proof; the column must
    not say 'exact'."""
    from statetrack.constructions.diagonal import rotation_construction

    d = get("cyclic(3)")
    m = rotation_construction(d)
    fmts = ("float64",)
    r = registry._prove_and_run("thm3", m, d, "1x2", {},
                                lambda: registry._fp_against_dfa(m, d.minimize(), fmts), fmts,
                                lambda cert: "")
    assert dict(r.columns)["fp"] in ("fp64 a^t ok, unproved", "FAIL")
    assert "irrational" in r.data["fp"]["float64"]
