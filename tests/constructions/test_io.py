"""The construction file format: exact round trips and clear errors for bad files."""

from __future__ import annotations

import json

import pytest
import sympy

from statetrack.automata.families import get
from statetrack.constructions import io as cio
from statetrack.constructions.compile import compile
from statetrack.constructions.errors import ConstructionFileError
from statetrack.constructions.lrnn import LRNN, DeltaStep, Layer, Readout
from statetrack.theory.verify import Certificate, verify


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
])
def test_round_trip_is_exact(make, tmp_path):
    m, dfa = make()
    cert = verify(m, dfa) if dfa is not None else None
    path = tmp_path / "c.json"
    cio.save(path, m, dfa=dfa.minimize() if dfa is not None else None, certificate=cert)
    back = cio.load(path)
    assert back.lrnn == m
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
    (_mutate(lambda d: d.pop("layers")), "missing field 'layers'"),
    (_mutate(lambda d: d.update(layers={})), "field 'layers' must be a list"),
    (_mutate(lambda d: d["layers"][0]["steps"][1][0].update(beta=0.5)),
     "field 'beta' must be a str, got float"),
    (_mutate(lambda d: d["layers"][0].update(query=[0, 1, 2])),
     "exact numbers are stored as strings"),
    (_mutate(lambda d: d["layers"][0]["steps"][1][0].update(beta="1/0")), "not a finite"),
    (_mutate(lambda d: d["layers"][0]["steps"][1][0].update(beta="5")), "outside"),
    (_mutate(lambda d: d["layers"][0]["steps"][1][0]["key"].append([7, "1"])),
     "index 7 outside"),
    (_mutate(lambda d: d["layers"][0].update(n_h=9)), "n_h is 9"),
    (_mutate(lambda d: d["layers"][0].update(query=["0", "1"])), "invalid construction"),
    (_mutate(lambda d: d.update(accepting=[1, 0, 0])), "must list booleans"),
    (_mutate(lambda d: d["dfa"].update(transitions="x")), "dfa"),
    (_mutate(lambda d: d.update(certificate={"format": "x"})), "certificate"),
    (_mutate(lambda d: d["layers"][0]["initial_state"].append([0, 3, "1"])), "outside"),
])
def test_corrupt_files_are_construction_file_errors(text, msg, tmp_path):
    with pytest.raises(ConstructionFileError, match=msg):
        cio.loads(text)
    p = tmp_path / "bad.json"
    p.write_text(text)
    with pytest.raises(ConstructionFileError, match="bad.json"):
        cio.load(p)


def test_unreadable_and_binary_files(tmp_path):
    with pytest.raises(ConstructionFileError, match="cannot read"):
        cio.load(tmp_path / "missing.json")
    b = tmp_path / "bin.json"
    b.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    with pytest.raises(ConstructionFileError, match="not UTF-8"):
        cio.load(b)
