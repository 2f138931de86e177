"""The exact proof obligation: certificates, shortest counterexamples, and the float check."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import sympy

from statetrack.automata import DFA
from statetrack.automata.families import get
from statetrack.constructions.compile import compile
from statetrack.constructions import io as cio
from statetrack.constructions.errors import (
    AlphabetMismatchError,
    ConstructionFileError,
    InputTypeError,
    MissingGeneratorError,
    ReachableLimitError,
)
from statetrack.constructions.lrnn import LRNN, DeltaStep, Layer, Readout
from statetrack.theory.proof import (
    Certificate,
    Counterexample,
    check_words,
    load_verified,
    loads_verified,
    verify,
    verify_construction,
)


def swap_letters(m: LRNN, a: int, b: int) -> LRNN:
    """The same model with the factor lists of letters a and b exchanged (a broken model)."""
    layer = m.layers[0]
    steps = list(layer.steps)
    steps[a], steps[b] = steps[b], steps[a]
    new = Layer(tokens=layer.tokens, steps=steps, initial_state=layer.initial_state,
                readout=layer.readout)
    return LRNN(alphabet=m.alphabet, layers=(new,), accepting=m.accepting,
                state_map=m.state_map, form=m.form)


def shortest_bad_word(m: LRNN, dfa: DFA, max_len: int):
    """Brute force: a shortest word where the exact model's decoded state or accept bit is
    wrong."""
    d = dfa.minimize()
    for L in range(max_len + 1):
        for w in itertools.product(m.alphabet, repeat=L):
            tr = m.evaluate(list(w))
            if tr.accepted[-1] != d.accepts(list(w)) or tr.dfa_states[-1] != d.final_state(list(w)):
                return w
    return None


@pytest.mark.parametrize("spec", ["parity", "cyclic(6)", "symmetric(3)", "dihedral(5)",
                                  "quaternion", "alternating(4)"])
def test_certificate_contents_and_json(spec):
    dfa = get(spec)
    m = compile(dfa)
    cert = verify(m, dfa)
    assert cert.ok and cert.minimized and cert.field == "ZZ"
    d = dfa.minimize()
    assert cert.dfa_states == d.n_states == cert.reachable
    # the access words reach the states g claims, in the DFA and in the model
    for w, q in zip(cert.words, cert.g):
        assert d.final_state(list(w)) == q
        assert m.evaluate(list(w)).dfa_states[-1] == q
    assert cert.words[0] == () and cert.g[0] == d.start
    back = Certificate.from_dict(json.loads(cert.to_json()))
    assert back == cert
    assert "proved" in cert.summary()


@pytest.mark.parametrize("spec, a, b", [("symmetric(3)", 0, 1), ("dihedral(4)", 0, 1),
                                        ("alternating(4)", 0, 1), ("quaternion", 0, 1)])
def test_broken_construction_gives_a_shortest_counterexample(spec, a, b):
    dfa = get(spec)
    m = swap_letters(compile(dfa), a, b)
    cex = verify(m, dfa)
    assert isinstance(cex, Counterexample) and not cex.ok
    assert cex.kind in ("accept", "state")
    w = shortest_bad_word(m, dfa, max_len=len(cex.word))
    assert w is not None and len(w) == len(cex.word)
    tr = m.evaluate(list(cex.word))
    d = dfa.minimize()
    assert tr.dfa_states[-1] != d.final_state(list(cex.word)) or \
        tr.accepted[-1] != d.accepts(list(cex.word))
    assert cex.to_dict()["format"] == "statetrack.counterexample"
    assert "counterexample" in cex.summary()


def test_accept_counterexample_without_state_map():
    parity = get("parity")
    m = compile(parity)
    bare = LRNN(alphabet=m.alphabet, layers=m.layers, accepting=m.accepting)
    cex = verify(bare, parity.complement())
    assert cex.kind == "accept" and cex.word == ()
    assert verify(bare, parity).ok


def test_readout_counterexample():
    grow = DeltaStep(key=[1, 0], beta=1, value=[2])  # writes 2 into slot 0: not a code
    lay = Layer(tokens=("a",), steps=((grow,),), initial_state=[[1], [0]],
                readout=Readout(query=[1, 0], codes=[[1], [0]]))
    m = LRNN(alphabet=("a",), layers=(lay,), accepting=(True, False))
    d = DFA([[0]], accepting=[0], alphabet="a")
    cex = verify(m, d)
    assert cex.kind == "readout" and cex.word == ("a",) and "none of" in cex.detail


def test_map_counterexample_against_a_non_minimal_dfa():
    # parity DFA with two copies of each state: 0 -> 1 -> 2 -> 3 -> 0 on '1'
    dup = DFA([[0, 1], [1, 2], [2, 3], [3, 0]], accepting=[1, 3], alphabet="01")
    m = compile(dup)  # the 2-state construction of the minimal DFA
    assert verify(m, dup).ok  # against the minimal DFA: fine
    cex = verify(m, dup, minimize=False)
    assert cex.kind == "map" and cex.word == ("1", "1") and cex.other_word == ()


def test_limits_and_alphabet_errors():
    dfa = get("symmetric(4)")
    m = compile(dfa)
    with pytest.raises(ReachableLimitError, match="limit=5"):
        verify(m, dfa, limit=5)
    # an infinite reachable set: h <- h/2 + 1/2 never repeats
    half = DeltaStep(key=[1], beta=sympy.Rational(1, 2), value=[1])
    lay = Layer(tokens=("a",), steps=((half,),), initial_state=[[0]],
                readout=Readout(query=[0], codes=[[0]]))
    inf = LRNN(alphabet=("a",), layers=(lay,), accepting=(True,))
    with pytest.raises(ReachableLimitError):
        verify(inf, DFA([[0]], accepting=[0], alphabet="a"), limit=40)
    with pytest.raises(AlphabetMismatchError, match="differ"):
        verify(m, get("parity"))
    with pytest.raises(ConstructionFileError):
        Certificate.from_dict({"format": "statetrack.certificate", "version": 1})
    with pytest.raises(ConstructionFileError, match="version"):
        Certificate.from_dict({"format": "statetrack.certificate", "version": 7})


def test_verify_proves_rotation_models_in_their_number_field():
    dfa = get("cyclic(5)")
    r = compile(dfa, form="rotation")
    cert = verify(r, dfa)
    assert cert.ok and cert.field.startswith("QQ<")


def test_check_words_agrees_and_disagrees():
    dfa = get("dihedral(4)")
    m = compile(dfa)
    r = check_words(m, dfa, max_length=4, n_random=8, random_length=100,
                    rng=np.random.default_rng(0), dtype="bfloat16")
    assert r.ok and r.n_words == 2 ** 4 + 8 and r.n_prefixes == 16 * 5 + 8 * 101
    # words are capped by max_words: the longest length that fits is used
    r2 = check_words(m, dfa, max_length=30, n_random=0, dtype="float32", max_words=100)
    assert r2.n_words == 2 ** 6
    broken = swap_letters(m, 0, 1)
    rb = check_words(broken, dfa, max_length=4, n_random=0, dtype="float32")
    assert not rb.ok and rb.mismatches > 0
    assert len(rb.first_mismatch) == len(verify(broken, dfa).word) or \
        verify(broken, dfa).kind == "state"
    z7 = get("cyclic(7)")
    rot = compile(z7, form="rotation")
    bad = check_words(rot, z7, max_length=0, n_random=8, random_length=300,
                      rng=np.random.default_rng(1), dtype="bfloat16")
    assert not bad.ok
    with pytest.raises(MissingGeneratorError, match="argument 'rng' must be a numpy.random.Generator"):
        check_words(m, dfa, n_random=3)
    with pytest.raises(MissingGeneratorError, match="rng of type int"):
        check_words(m, dfa, n_random=3, rng=0)
    assert check_words(m, dfa, max_length=2, n_random=0).ok  # no random words: no rng needed


def test_bad_arguments_are_input_type_errors():
    dfa = get("parity")
    m = compile(dfa)
    with pytest.raises(InputTypeError, match="verify: argument 'lrnn' must be a statetrack LRNN"):
        verify(None, dfa)
    with pytest.raises(InputTypeError, match="verify: argument 'dfa' must be a statetrack DFA"):
        verify(m, "parity")
    with pytest.raises(InputTypeError, match="argument 'limit'"):
        verify(m, dfa, limit=0)
    with pytest.raises(InputTypeError, match="check_words: argument 'lrnn'"):
        check_words(None, dfa, n_random=0)
    with pytest.raises(InputTypeError, match="argument 'c' must be a Construction"):
        verify_construction(m)


def _saved(tmp_path, spec="cyclic(3)", **kw):
    dfa = get(spec)
    m = compile(dfa, **kw)
    d = cio.to_dict(m, dfa=dfa.minimize(), certificate=verify(m, dfa))
    return m, d


def _write(tmp_path, d, name="c.json"):
    path = tmp_path / name
    path.write_text(json.dumps(d))
    return path


def test_load_verified_accepts_an_honest_file(tmp_path):
    for spec, kw in (("cyclic(3)", {}), ("cyclic(5)", {"form": "rotation"})):
        m, d = _saved(tmp_path, spec, **kw)
        c = load_verified(_write(tmp_path, d))
        assert c.verified and c.lrnn == m and c.certificate.ok
        assert c.certificate == Certificate.from_dict(d["certificate"])
        assert loads_verified(json.dumps(d)).verified


@pytest.mark.parametrize("tamper, msg", [
    # the weights: letter '1' does nothing any more
    (lambda d: [st.update(beta="0") for st in d["layers"][0]["steps"][1]],
     "does not implement the stored DFA: counterexample"),
    (lambda d: d["layers"][0]["steps"][1][0].update(beta="0"), "does not implement"),
    # the DFA: another accepting set
    (lambda d: d["dfa"].update(accepting=[1]), "does not implement the stored DFA"),
    # the certificate: another map g, or another count
    (lambda d: d["certificate"].update(g=[0, 2, 1]), r"stored certificate .*g: stored \(0, 2, 1\)"),
    (lambda d: d["certificate"].update(reachable=4), "reachable: stored 4, recomputed 3"),
    (lambda d: d["certificate"].update(field="QQ"), "field: stored QQ, recomputed ZZ"),
    # a certificate without a DFA, and no DFA at all
    (lambda d: d.update(dfa=None), "a certificate but no DFA"),
    (lambda d: d.update(dfa=None, certificate=None), "no DFA, so there is nothing to verify"),
    # a DFA over other symbols
    (lambda d: d["dfa"].update(alphabet=["x", "y"]), "alphabet"),
])
def test_tampered_files_are_refused(tmp_path, tamper, msg):
    m, d = _saved(tmp_path)
    tamper(d)
    path = _write(tmp_path, d, "tampered.json")
    with pytest.raises(ConstructionFileError, match="tampered.json: .*" + msg):
        load_verified(path)
    with pytest.raises(ConstructionFileError, match=msg):
        loads_verified(json.dumps(d))
    # what io.load gives is only the claim, marked unverified; verify=False returns it too
    assert not load_verified(path, verify=False).verified
    assert not cio.load(path).verified


def test_load_verified_limit(tmp_path):
    m, d = _saved(tmp_path, "symmetric(4)")
    path = _write(tmp_path, d)
    with pytest.raises(ReachableLimitError, match="verify=False"):
        load_verified(path, limit=3)
    assert load_verified(path).verified


@pytest.mark.parametrize("name, value", [("max_length", -1), ("max_length", 2.5),
                                         ("n_random", -1), ("n_random", "8"),
                                         ("random_length", 0), ("random_length", -5),
                                         ("max_words", 0), ("max_words", True)])
def test_check_words_refuses_a_count_out_of_range_by_name(name, value):
    """``max_length=-1`` was read as 0, ``n_random=-1`` as 0, ``max_words=0`` still checked one
    word, ``random_length=0`` drew empty "random" words: all silently."""
    dfa = get("parity")
    kwargs = dict(max_length=2, n_random=2, random_length=4, rng=np.random.default_rng(0))
    kwargs[name] = value
    with pytest.raises(InputTypeError, match=rf"^check_words: argument '{name}' must be an "
                                             rf"integer >= [01], got "):
        check_words(compile(dfa), dfa, **kwargs)


def test_check_words_defaults_run_without_a_generator_and_draw_with_one():
    """With ``n_random=64`` as its default and no default ``rng``, ``check_words(lrnn, dfa)``
    always raised: the defaults could not be used as they stood (cold pass finding). Now the
    default draws random words only when a generator is passed; an explicit count still needs
    one."""
    dfa = get("parity")
    m = compile(dfa)
    plain = check_words(m, dfa)
    assert plain.ok and plain.n_words == 2 ** 6
    drawn = check_words(m, dfa, rng=np.random.default_rng(0), random_length=8)
    assert drawn.ok and drawn.n_words == 2 ** 6 + 64
    with pytest.raises(MissingGeneratorError, match="n_random > 0"):
        check_words(m, dfa, n_random=3)
    with pytest.raises(MissingGeneratorError, match="rng of type int"):
        check_words(m, dfa, rng=5)


def test_check_words_with_a_huge_max_length_is_capped_by_max_words():
    """max_length = 10^6 used to count down one length at a time, building 2^length at each
    step (it did not return); the longest length that fits is found counting up."""
    parity = DFA([[0, 1], [1, 0]], accepting=[1], alphabet="01")
    r = check_words(compile(parity), parity, max_length=10 ** 6, max_words=1000)
    assert r.ok and r.n_words == 512                 # 2^9 <= 1000 < 2^10
    one = DFA([[0]], accepting=[0], alphabet="a")    # one letter: one word of the full length
    r1 = check_words(compile(one), one, max_length=300, max_words=1)
    assert r1.ok and r1.n_words == 1 and r1.n_prefixes == 301
