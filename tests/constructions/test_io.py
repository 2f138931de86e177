"""The construction file format: exact round trips and clear errors for bad files."""

from __future__ import annotations

import json

import pytest
import sympy

from statetrack.automata import DFA
from statetrack.automata.families import get
from statetrack.constructions import io as cio
from statetrack.constructions.certificate import Certificate
from statetrack.constructions.compile import compile
from statetrack.constructions.errors import ConstructionFileError, InputTypeError
from statetrack.constructions.lrnn import LRNN, DeltaStep, Layer, Readout
from statetrack.theory.proof import verify


def two_layer() -> LRNN:
    swap = DeltaStep(key=[1, -1], beta=1)
    half = DeltaStep(key=[1, 0], beta=sympy.Rational(1, 2), value=[sympy.Rational(3, 4)])
    lower = Layer(tokens=("0", "1"), steps=((), (swap,)), initial_state=[[1], [0]],
                  readout=Readout(query=[0, 1], codes=[[0], [1]]))
    upper = Layer(tokens=("even", "odd"), steps=((half,), (swap,)), initial_state=[[1], [0]],
                  readout=Readout(query=[0, 1], codes=[[0], [1]], labels=["e", "o"]),
                  token_map=[[0, 1], [0, 1]])
    return LRNN(alphabet=("0", "1"), layers=(lower, upper), accepting=(False, True),
                name="two layers")


@pytest.mark.parametrize("make", [
    lambda: (compile(get("symmetric(4)")), get("symmetric(4)")),
    lambda: (compile(get("cyclic(7)"), form="rotation"), get("cyclic(7)")),
    lambda: (compile(get("dihedral(4)"), normalized=True), get("dihedral(4)")),
    lambda: (compile(get("parity"), form="diagonal"), get("parity")),
    lambda: (two_layer(), None),
    lambda: (compile(DFA([[0, 0]], accepting=[0], alphabet="ab")),
             DFA([[0, 0]], accepting=[0], alphabet="ab")),
])
def test_round_trip_is_exact(make, tmp_path):
    m, dfa = make()
    cert = verify(m, dfa) if dfa is not None else None
    path = tmp_path / "c.json"
    cio.save(path, m, dfa=dfa.minimize() if dfa is not None else None, certificate=cert)
    back = cio.load(path)
    assert back.lrnn == m and back.lrnn.n_h == m.n_h and not back.verified
    assert back.lrnn.field_generators == m.field_generators
    assert back.lrnn.exact_in_floats == m.exact_in_floats and back.lrnn.form == m.form
    if dfa is not None:
        assert back.dfa == dfa.minimize()
        assert back.certificate == cert and isinstance(back.certificate, Certificate)
        assert verify(back.lrnn, back.dfa).ok
    data = json.loads(path.read_text())
    assert data["format"] == "statetrack.construction" and data["version"] == 1
    # no floats anywhere: every weight is a string
    def floats(x):
        if isinstance(x, float):
            return 1
        if isinstance(x, dict):
            return sum(floats(v) for v in x.values())
        if isinstance(x, list):
            return sum(floats(v) for v in x)
        return 0

    assert floats(data) == 0


def good() -> dict:
    return cio.to_dict(compile(get("cyclic(3)")), dfa=get("cyclic(3)"))


def _mutate(fn):
    d = good()
    fn(d)
    return json.dumps(d)


@pytest.mark.parametrize("text, msg", [
    ("{not json", "invalid JSON at line 1"),
    ("[1, 2]", "expected a JSON object"),
    (json.dumps(get("parity").to_dict()), "not a statetrack construction"),
    (_mutate(lambda d: d.update(version=99)), "unsupported version 99"),
    # true and 1.0 compare equal to 1 in Python and loaded as version 1
    (_mutate(lambda d: d.update(version=True)), "unsupported version True"),
    (_mutate(lambda d: d.update(version=1.0)), r"unsupported version 1\.0"),
    (_mutate(lambda d: d["dfa"].update(version=True)), r"dfa: unsupported version True"),
    (_mutate(lambda d: d.update(field_generators="")),
     "field 'field_generators' must be a list, got str"),
    (_mutate(lambda d: d.update(field_generators={})),
     "field 'field_generators' must be a list, got dict"),
    (_mutate(lambda d: d.pop("layers")), "missing field 'layers'"),
    (_mutate(lambda d: d.update(layers={})), "field 'layers' must be a list"),
    (_mutate(lambda d: d["layers"][0]["steps"][1][0].update(beta=0.5)),
     "field 'beta' must be a str, got float"),
    (_mutate(lambda d: d["layers"][0].update(query=[0, 1, 2])),
     "exact numbers are stored as strings"),
    (_mutate(lambda d: d["layers"][0]["steps"][1][0].update(beta="1/0")), "division by zero"),
    (_mutate(lambda d: d["layers"][0]["steps"][1][0].update(beta="zoo")), "name 'zoo'"),
    (_mutate(lambda d: d["layers"][0]["steps"][1][0].update(beta="5")), "outside"),
    (_mutate(lambda d: d["layers"][0]["steps"][1][0]["key"].append([7, "1"])),
     "index 7 outside"),
    (_mutate(lambda d: d["layers"][0].update(n_h=9)), "n_h is 9"),
    (_mutate(lambda d: d["layers"][0].update(query=["0", "1"])),
     r"layers\[0\]: width is 3 but the query has 2 entries"),
    # declared sizes are checked against the stored lists before anything is allocated
    (_mutate(lambda d: d["layers"][0].update(width=10 ** 12)),
     r"layers\[0\]: width is 1000000000000 but the query has 3 entries"),
    (_mutate(lambda d: d["layers"][0].update(value_dim=10 ** 12)),
     r"layers\[0\]\.codes\[0\]: expected a list of value_dim = 1000000000000 exact "
     r"numbers, got 1 entries"),
    (_mutate(lambda d: d["layers"][0]["codes"].__setitem__(1, "1")),
     r"layers\[0\]\.codes\[1\]: expected a list of value_dim = 1 exact numbers, got a str"),
    (_mutate(lambda d: d["layers"][0].update(n_h="2")),
     r"layers\[0\]\.n_h: expected an integer, got '2'"),
    (_mutate(lambda d: d.update(accepting=[1, 0, 0])), "must list booleans"),
    (_mutate(lambda d: d["dfa"].update(transitions="x")), "dfa"),
    (_mutate(lambda d: d.update(certificate={"format": "x"})), "certificate"),
    (_mutate(lambda d: d["layers"][0]["initial_state"].append([0, 3, "1"])), "outside"),
    (_mutate(lambda d: d.update(form="spiral")),
     r"field 'form' is 'spiral', not a known form \(one of \['permutation', "),
    (_mutate(lambda d: d.update(form=3)), "field 'form' must be a str, got int"),
    (_mutate(lambda d: d.pop("form")), "missing field 'form'"),
    (_mutate(lambda d: d.update(exact_in_floats="yes")),
     "field 'exact_in_floats' must be a bool, got str"),
    (_mutate(lambda d: d.update(name=7)), "field 'name' must be a str, got int"),
])
def test_corrupt_files_are_construction_file_errors(text, msg, tmp_path):
    with pytest.raises(ConstructionFileError, match=msg):
        cio.loads(text)
    p = tmp_path / "bad.json"
    p.write_text(text)
    with pytest.raises(ConstructionFileError, match="bad.json"):
        cio.load(p)


def cascade_file() -> dict:
    """A file with labels and a token map (the cascade's upper layers have both)."""
    return cio.to_dict(compile(get("ab_star")), dfa=get("ab_star"))


@pytest.mark.parametrize("value, msg", [
    (float("inf"), r"layers\[1\]\.token_map\[0\]\[0\]: expected an integer, got inf"),
    (1.5, r"token_map\[0\]\[0\]: expected an integer, got 1\.5"),
    (True, r"token_map\[0\]\[0\]: expected an integer, got True"),
    ("1", r"token_map\[0\]\[0\]: expected an integer, got '1'"),
])
def test_token_map_entries_must_be_integers(value, msg):
    # found by the corrupted-file campaign: Layer read the entries with int(), so inf was a
    # bare OverflowError and 1.5, true and "1" loaded silently as token 1
    d = cascade_file()
    d["layers"][1]["token_map"][0][0] = value
    with pytest.raises(ConstructionFileError, match=msg):
        cio.loads(json.dumps(d))


@pytest.mark.parametrize("field, value, msg", [
    ("labels", "ab", r"layers\[2\]: field 'labels' must be null or a list of strings, got the "
                     r"string 'ab'"),
    ("labels", 3, "field 'labels' must be null or a list of strings, got the number 3"),
    ("token_map", {}, "field 'token_map' must be null or a list of lists of token indices, "
                      "got an object"),
    ("token_map", [1], r"token_map\[0\]: expected a list of token indices, got the number 1"),
])
def test_labels_and_token_map_have_their_types(field, value, msg):
    d = cascade_file()
    d["layers"][2][field] = value
    with pytest.raises(ConstructionFileError, match=msg):
        cio.loads(json.dumps(d))


@pytest.mark.parametrize("label", [None, 1.5, {"a": 1}, ["x"]])
def test_a_label_that_is_not_a_string_is_refused(label):
    # it loaded as its str() ('None', '1.5', ...) before
    d = cascade_file()
    d["layers"][2]["labels"][0] = label
    with pytest.raises(ConstructionFileError, match="field 'labels' must be null or a list "
                                                     "of strings, got a list"):
        cio.loads(json.dumps(d))


def test_unreadable_and_binary_files(tmp_path):
    with pytest.raises(ConstructionFileError, match="cannot read"):
        cio.load(tmp_path / "missing.json")
    b = tmp_path / "bin.json"
    b.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    with pytest.raises(ConstructionFileError, match="not UTF-8"):
        cio.load(b)


PAYLOAD = "__import__('os').system('touch {marker}') + 1"


@pytest.mark.parametrize("place", [
    lambda d, p: d["layers"][0]["initial_state"][0].__setitem__(2, p),
    lambda d, p: d["layers"][0]["steps"][1][0].update(beta=p),
    lambda d, p: d["layers"][0]["steps"][1][0]["key"][0].__setitem__(1, p),
    lambda d, p: d["layers"][0]["steps"][1][0]["value"].__setitem__(0, p),
    lambda d, p: d["layers"][0]["query"].__setitem__(0, p),
    lambda d, p: d["layers"][0]["codes"][0].__setitem__(0, p),
    lambda d, p: d.update(field_generators=[p]),
])
def test_code_in_a_file_is_never_executed(place, tmp_path):
    marker = tmp_path / "pwned"
    d = good()
    place(d, PAYLOAD.format(marker=marker))
    path = tmp_path / "evil.json"
    path.write_text(json.dumps(d))
    with pytest.raises(ConstructionFileError, match="evil.json: .*cannot read.*not allowed"):
        cio.load(path)
    with pytest.raises(ConstructionFileError, match="not allowed"):
        cio.from_dict(d)
    assert not marker.exists()


def test_huge_numbers_are_refused_quickly():
    for text, msg in [("9**9**9**9", "exponent"), ("(2**200)**256", "bits"),
                      ("1" * 3000, "characters"), ("+".join(["1"] * 500), "syntax nodes")]:
        with pytest.raises(ConstructionFileError, match=msg):
            cio.loads(_mutate(lambda d: d["layers"][0]["steps"][1][0].update(beta=text)))


def test_numbers_outside_the_grammar_are_not_written():
    step = DeltaStep(key=[1], beta=sympy.log(2))  # a valid weight, but not storable
    lay = Layer(tokens=("a",), steps=((step,),), initial_state=[[1]],
                readout=Readout(query=[1], codes=[[1]]))
    m = LRNN(alphabet=("a",), layers=(lay,), accepting=(True,))
    with pytest.raises(ConstructionFileError, match=r"layers\[0\]\.steps\[0\]\[0\]\.beta: "
                                                    r"log\(2\) cannot be stored exactly"):
        cio.dumps(m)


def test_save_refuses_bad_arguments_and_leaves_no_file(tmp_path):
    m = compile(get("parity"))
    path = tmp_path / "x.json"
    cex = verify(m, get("parity").complement())
    with pytest.raises(InputTypeError, match="counterexamples are not stored"):
        cio.save(path, m, dfa=get("parity"), certificate=cex)
    with pytest.raises(InputTypeError, match="lrnn: expected an LRNN"):
        cio.save(path, None)
    with pytest.raises(InputTypeError, match="dfa: expected a statetrack DFA"):
        cio.dumps(m, dfa="parity")
    assert not path.exists()


@pytest.mark.parametrize("version", [True, 1.0])
def test_a_certificate_version_must_be_the_integer_1(version):
    m = compile(get("cyclic(3)"))
    d = cio.to_dict(m, dfa=get("cyclic(3)"), certificate=verify(m, get("cyclic(3)")))
    d["certificate"]["version"] = version
    with pytest.raises(ConstructionFileError,
                       match=f"certificate: unsupported certificate version {version!r}"):
        cio.loads(json.dumps(d))


def test_a_certificate_field_the_format_does_not_have_is_refused():
    """A typo in a certificate field ("reachabel") is named, with the nearest known field,
    instead of being dropped; every field the writer writes still loads."""
    m = compile(get("cyclic(3)"))
    d = cio.to_dict(m, dfa=get("cyclic(3)"), certificate=verify(m, get("cyclic(3)")))
    assert cio.loads(json.dumps(d)).certificate is not None
    d["certificate"]["reachabel"] = 3
    with pytest.raises(ConstructionFileError,
                       match="unknown field 'reachabel' \\(did you mean 'reachable'\\?\\)"):
        cio.loads(json.dumps(d))


def test_loading_is_unverified_and_the_certificate_is_plain_data():
    """io.load only reads; the stored certificate is a claim (theory.proof.load_verified
    checks it). The Certificate class lives in constructions and theory re-exports it."""
    from statetrack.theory.proof import Certificate as ReExported

    assert ReExported is Certificate
    m = compile(get("cyclic(3)"))
    cert = verify(m, get("cyclic(3)"))
    d = cio.to_dict(m, dfa=get("cyclic(3)"), certificate=cert)
    d["certificate"]["g"] = [2, 1, 0]
    c = cio.from_dict(d)
    assert not c.verified and c.certificate.g == (2, 1, 0)


def test_every_form_compile_builds_round_trips_and_others_are_refused():
    from statetrack.constructions import FORMS, LRNN, compile

    assert set(FORMS) < set(cio.STORED_FORMS)
    m = compile(get("parity"))
    for form in cio.STORED_FORMS:
        alt = LRNN(alphabet=m.alphabet, layers=m.layers, accepting=m.accepting,
                   state_map=m.state_map, form=form)
        assert cio.loads(cio.dumps(alt)).lrnn.form == form
    odd = LRNN(alphabet=m.alphabet, layers=m.layers, accepting=m.accepting, form="mine")
    with pytest.raises(ConstructionFileError, match="lrnn.form is 'mine'.*'custom'"):
        cio.dumps(odd)


def test_a_file_asking_for_too_many_exact_entries_is_refused_before_building():
    """Keys are stored sparse and the initial state as entries, both built dense: a 0.3 MB
    file declaring width 15000 and value_dim 15000 (consistent query and codes) would build
    an initial state of 2.3e8 exact entries, past the construction budget."""
    def big(d):
        layer = d["layers"][0]
        layer.update(width=15000, value_dim=15000, query=["0"] * 15000)
        layer["codes"] = [["0"] * 15000 for _ in layer["codes"]]

    steps = sum(len(row) for row in json.loads(_mutate(big))["layers"][0]["steps"])
    with pytest.raises(ConstructionFileError,
                       match=rf"layers\[0\]: width 15000 with {steps} steps and value_dim "
                             r"15000: its initial state \(width x value_dim\) would be built "
                             r"dense as 2\.2e\+08 exact entries, past the budget of 2e\+08"):
        cio.loads(_mutate(big))


# ------------------------------------------------------------------ every field, every wrong type
def _json_type(x) -> str:
    if x is None:
        return "null"
    if isinstance(x, bool):
        return "bool"
    for typ, name in ((int, "int"), (float, "float"), (str, "str"), (list, "list")):
        if isinstance(x, typ):
            return name
    return "object"


def _fields(x, path=()):
    """Every (path, value) of a parsed JSON file (the first two entries of each list)."""
    yield path, x
    items = x.items() if isinstance(x, dict) else enumerate(x[:2]) if isinstance(x, list) else ()
    for k, v in items:
        yield from _fields(v, path + (k,))


#: JSON values of every type (NaN and Infinity are what Python's json writes and reads)
_WRONG = [None, True, 7, 1.5, float("nan"), float("inf"), "x", [], {}]
_MAY_BE_NULL = {"labels", "token_map", "state_map", "dfa", "certificate", "n_h"}


def test_a_value_of_the_wrong_json_type_in_any_field_is_refused():
    """Differential over the whole format: every field of a file with a DFA, a certificate,
    labels and a token map, replaced by a value of each other JSON type, must be refused with
    ConstructionFileError (never another exception, never a silent conversion). The campaign
    that wrote it found token_map entries read with int() (1.5 and true loaded as 1, inf an
    OverflowError), labels str()-ed, and version true / 1.0 read as 1."""
    m, dfa = compile(get("ab_star")), get("ab_star")
    good_file = cio.to_dict(m, dfa=dfa, certificate=verify(m, dfa))
    assert cio.loads(json.dumps(good_file)).lrnn == m
    tried, wrong = 0, []
    for path, value in list(_fields(good_file)):
        for bad in _WRONG:
            if not path or _json_type(bad) == _json_type(value) or (
                    bad is None and path[-1] in _MAY_BE_NULL):
                continue
            d = json.loads(json.dumps(good_file))
            parent = d
            for p in path[:-1]:
                parent = parent[p]
            parent[path[-1]] = bad
            tried += 1
            try:
                cio.loads(json.dumps(d))
                wrong.append((path, bad, "loaded"))
            except ConstructionFileError:
                pass
            except Exception as e:  # noqa: BLE001 -- the point is that none escapes
                wrong.append((path, bad, type(e).__name__))
    assert tried > 1000
    assert wrong == []


@pytest.mark.parametrize("where, edit, msg", [
    ("top", lambda d: d.update(certficate=None),
     r"^input: unknown field 'certficate' \(did you mean 'certificate'\?\); the fields are "),
    ("layer", lambda d: d["layers"][0].update(label=["even", "odd"]),
     r"^input: layers\[0\]: unknown field 'label' \(did you mean 'labels'\?\)"),
    ("step", lambda d: d["layers"][0]["steps"][1][0].update(bta="1"),
     r"^input: layers\[0\]\.steps\[1\]\[0\]: unknown field 'bta' \(did you mean 'beta'\?\)"),
    ("top, no close name", lambda d: d.update(zzz=1), r"^input: unknown field 'zzz'; the fields"),
])
def test_a_field_the_format_does_not_have_is_refused_with_the_nearest_name(where, edit, msg):
    """Unknown fields were ignored, so a typo in an optional field ("label" for "labels") was
    dropped without a word (fuzz campaign design finding)."""
    d = cio.to_dict(compile(get("parity")), dfa=get("parity"))
    assert cio.from_dict(json.loads(json.dumps(d))).lrnn == compile(get("parity"))
    edit(d)
    with pytest.raises(ConstructionFileError, match=msg):
        cio.from_dict(d)


def test_a_file_of_an_older_version_with_exact_in_floats_still_loads():
    d = cio.to_dict(compile(get("parity")))
    d["exact_in_floats"] = True
    assert cio.from_dict(d).lrnn == compile(get("parity"))
