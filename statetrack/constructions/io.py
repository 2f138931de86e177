"""The construction file format: exact weights, the DFA, and the proof certificate, as JSON.

Format ``statetrack.construction``, version 1 (one JSON object)::

    {
      "format": "statetrack.construction", "version": 1,
      "name": str, "form": str,             # form: one of STORED_FORMS
      "alphabet": [str],
      "field_generators": [exact],          # [] for rational models
      "accepting": [bool],                  # per output class of the top layer
      "state_map": [int] | null,            # output class -> DFA state
      "layers": [{
          "tokens": [str], "width": K, "value_dim": V, "n_h": int,
          "steps": [[{"key": [[i, exact], ...], "beta": exact, "value": [exact] * V}] * n_h]
                   * n_tokens,              # keys sparse: only non-zero entries
          "initial_state": [[i, j, exact], ...],   # sparse K x V
          "query": [exact] * K, "codes": [[exact] * V], "labels": [str] | null,
          "token_map": [[int]] | null
      }],
      "dfa": <statetrack.dfa object> | null,          # the automaton the model implements
      "certificate": <statetrack.certificate> | null   # verify()'s proof
    }

Whether float runs are exact is not stored: it is a property of the weights that
:attr:`~statetrack.constructions.lrnn.LRNN.exact_in_floats` proves on the loaded model. Files
written before this rule have an ``"exact_in_floats"`` field; it is ignored (never trusted).

An *exact* is a string in the whitelist grammar of
:mod:`statetrack.constructions.exact_text` (integers, ``+ - * / **``, ``sqrt sin cos exp``,
``pi``: ``"-3/4"``, ``"sqrt(2)/2"``, ``"-sin(pi/7)"``): no floats anywhere, so a file loads
back to an equal model. Files are untrusted input: the strings are parsed by that whitelist
parser, never evaluated (no ``eval``, no ``sympify``), and writing checks that every number
reads back to the identical expression. Any corrupt, foreign, or inconsistent file raises
:class:`~statetrack.constructions.errors.ConstructionFileError` naming the field; so does a
field the format does not have (a typo in an optional field, ``"label"`` for ``"labels"``,
would otherwise be dropped without a word).

Verification on load (design)
-----------------------------
This module only *reads* files: :func:`load`, :func:`loads` and :func:`from_dict` check the
format and rebuild the model, but they cannot check that the stored certificate is true,
because the verifier lives in :mod:`statetrack.theory` and ``constructions`` must not import
``theory``. What they return is therefore marked ``verified=False``, and its
``certificate`` is only the file's *claim*. The safe entry point is
:func:`statetrack.theory.proof.load_verified` (also ``loads_verified``): it loads with this
module, re-runs :func:`~statetrack.theory.proof.verify` on the model and the stored DFA,
refuses the file (``ConstructionFileError``) if verification fails or the recomputed
certificate differs from the stored one, and returns the construction with
``verified=True``; ``load_verified(path, verify=False)`` skips the proof for huge models.
``statetrack compile`` uses ``load_verified``.

Examples
--------
>>> from statetrack.constructions.lrnn import _parity_example
>>> text = dumps(_parity_example())
>>> c = loads(text)
>>> c.lrnn == _parity_example(), c.verified
(True, False)
>>> loads('{"format": "statetrack.dfa", "version": 1}')
Traceback (most recent call last):
...
statetrack.constructions.errors.ConstructionFileError: input: not a statetrack construction (field 'format' is 'statetrack.dfa', expected 'statetrack.construction')
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from os import PathLike
from typing import Any

import sympy

from ..automata import DFA
from ..automata.errors import AutomatonError
from . import group
from .certificate import Certificate
from .errors import ConstructionError, ConstructionFileError, InputTypeError
from ..errors import type_phrase, unknown_field
from .exact_text import format_exact
from .lrnn import LRNN, DeltaStep, Layer, Readout, to_exact

__all__ = ["Construction", "FORMAT_NAME", "FORMAT_VERSION", "STORED_FORMS", "to_dict",
           "from_dict", "dumps", "loads", "save", "load"]

FORMAT_NAME = "statetrack.construction"
FORMAT_VERSION = 1
#: The values of a file's ``form`` (what the tools read it as: ``statetrack compile`` prints a
#: faithful or cascade model by its form): the forms of
#: :func:`~statetrack.constructions.compile.compile` and ``"custom"`` (a model built by hand,
#: the default of :class:`~statetrack.constructions.lrnn.LRNN`). Loading refuses any other.
STORED_FORMS = ("permutation", "rotation", "diagonal", "faithful", "cascade", "reflections",
                "custom")


@dataclass(frozen=True)
class Construction:
    """What a construction file holds: the model, and optionally its DFA and certificate.

    Attributes
    ----------
    lrnn : LRNN
    dfa : DFA or None
        The automaton the model is claimed to implement.
    certificate : Certificate or None
        With ``verified=False`` (what this module returns) only the file's claim; with
        ``verified=True`` (what :func:`statetrack.theory.proof.load_verified` returns) the
        certificate recomputed on load, equal to the stored one.
    verified : bool
        Whether the model was re-verified against ``dfa`` after loading.

    Examples
    --------
    >>> from statetrack.constructions.lrnn import _parity_example
    >>> c = Construction(_parity_example())
    >>> c.dfa is None, c.certificate is None, c.verified
    (True, True, False)
    """

    lrnn: LRNN
    dfa: DFA | None = None
    certificate: Certificate | None = None
    verified: bool = False


def _s(e: sympy.Expr, where: str = "value") -> str:
    try:
        return format_exact(e, where)
    except ConstructionError as err:
        raise ConstructionFileError(str(err)) from None


def _layer_dict(layer: Layer, li: int) -> dict:
    w = f"layers[{li}]"
    steps = []
    for t, row in enumerate(layer.steps):
        steps.append([{"key": [[i, _s(st.key[i], f"{w}.steps[{t}][{j}].key[{i}]")]
                               for i in st.support],
                       "beta": _s(st.beta, f"{w}.steps[{t}][{j}].beta"),
                       "value": [_s(v, f"{w}.steps[{t}][{j}].value") for v in st.value]}
                      for j, st in enumerate(row)])
    h0 = sympy.SparseMatrix(layer.initial_state).todok()
    return {
        "tokens": list(layer.tokens),
        "width": layer.width,
        "value_dim": layer.value_dim,
        "n_h": layer.n_h,
        "steps": steps,
        "initial_state": [[i, j, _s(x, f"{w}.initial_state[{i}][{j}]")]
                          for (i, j), x in sorted(h0.items())],
        "query": [_s(x, f"{w}.query") for x in layer.readout.query],
        "codes": [[_s(x, f"{w}.codes[{c}]") for x in code]
                  for c, code in enumerate(layer.readout.codes)],
        "labels": None if layer.readout.labels is None else list(layer.readout.labels),
        "token_map": None if layer.token_map is None else [list(r) for r in layer.token_map],
    }


def to_dict(lrnn: LRNN, *, dfa: DFA | None = None,
            certificate: Certificate | None = None) -> dict:
    """The JSON-ready dict of the format above.

    Raises
    ------
    InputTypeError
        ``lrnn`` is not an LRNN, ``dfa`` not a DFA, or ``certificate`` not a
        :class:`~statetrack.constructions.certificate.Certificate` (a counterexample is not
        stored).
    ConstructionFileError
        A weight cannot be written exactly (it needs a function outside the grammar), or the
        model's ``form`` is not one of :data:`STORED_FORMS` (the file would not load back).

    Examples
    --------
    >>> from statetrack.constructions.lrnn import _parity_example
    >>> d = to_dict(_parity_example())
    >>> d["format"], d["layers"][0]["steps"][1]
    ('statetrack.construction', [{'key': [[0, '1'], [1, '-1']], 'beta': '1', 'value': ['0']}])
    """
    _check_args(lrnn, dfa, certificate)
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "name": lrnn.name,
        "form": lrnn.form,
        "alphabet": list(lrnn.alphabet),
        "field_generators": [_s(g, "field_generators") for g in lrnn.field_generators],
        "accepting": list(lrnn.accepting),
        "state_map": None if lrnn.state_map is None else list(lrnn.state_map),
        "layers": [_layer_dict(layer, li) for li, layer in enumerate(lrnn.layers)],
        "dfa": None if dfa is None else dfa.to_dict(),
        "certificate": None if certificate is None else certificate.to_dict(),
    }


def _check_args(lrnn: Any, dfa: Any, certificate: Any) -> None:
    if not isinstance(lrnn, LRNN):
        raise InputTypeError(f"lrnn: expected an LRNN, got {type(lrnn).__name__}")
    if dfa is not None and not isinstance(dfa, DFA):
        raise InputTypeError(f"dfa: expected a statetrack DFA or None, got {type(dfa).__name__}")
    if certificate is not None and not isinstance(certificate, Certificate):
        raise InputTypeError(f"certificate: expected a Certificate or None, got "
                             f"{type(certificate).__name__} (counterexamples are not stored)")
    if lrnn.form not in STORED_FORMS:
        raise ConstructionFileError(f"lrnn.form is {lrnn.form!r}, which a construction file "
                                    f"cannot store (one of {list(STORED_FORMS)}; a model built "
                                    f"by hand is 'custom')")


def _need(d: dict, key: str, typ: type | tuple, where: str) -> Any:
    if key not in d:
        raise ConstructionFileError(f"{where}: missing field {key!r}")
    val = d[key]
    if not isinstance(val, typ) or (isinstance(val, bool) and typ is int):
        raise ConstructionFileError(f"{where}: field {key!r} must be {type_phrase(typ)}, got "
                                    f"{type(val).__name__}")
    return val


def _exact(x: Any, where: str) -> sympy.Expr:
    if not isinstance(x, str):
        raise ConstructionFileError(f"{where}: exact numbers are stored as strings, got "
                                    f"{type(x).__name__} {x!r}")
    try:
        return to_exact(x, where)
    except ConstructionError as e:
        raise ConstructionFileError(str(e)) from None


def _json_type(x: Any) -> str:
    """The JSON name of a parsed value's type, for messages."""
    if x is None:
        return "null"
    if isinstance(x, bool):
        return "a boolean"
    if isinstance(x, (int, float)):
        return f"the number {x!r}"
    if isinstance(x, str):
        return f"the string {x!r}"
    return "a list" if isinstance(x, list) else "an object"


def _int(x: Any, where: str) -> int:
    if not isinstance(x, int) or isinstance(x, bool):
        raise ConstructionFileError(f"{where}: expected an integer, got {x!r}")
    return x


_TOP_FIELDS = ("format", "version", "name", "form", "alphabet", "field_generators",
               "accepting", "state_map", "layers", "dfa", "certificate",
               "exact_in_floats")          # the last: written by older versions
_LAYER_FIELDS = ("tokens", "width", "value_dim", "n_h", "steps", "initial_state", "query",
                 "codes", "labels", "token_map")
_STEP_FIELDS = ("key", "beta", "value")


def _no_unknown(d: dict, known: tuple, where: str) -> None:
    bad = unknown_field(d, known, where)
    if bad:
        raise ConstructionFileError(bad)


def _layer_from(d: Any, where: str) -> Layer:
    if not isinstance(d, dict):
        raise ConstructionFileError(f"{where}: expected an object")
    _no_unknown(d, _LAYER_FIELDS, where)
    tokens = _need(d, "tokens", list, where)
    k = _int(_need(d, "width", int, where), f"{where}.width")
    v = _int(_need(d, "value_dim", int, where), f"{where}.value_dim")
    if k < 1 or v < 1:
        raise ConstructionFileError(f"{where}: width and value_dim must be >= 1")
    # the declared sizes must agree with the stored lists before anything is allocated by
    # them (a width of 10**12 with a 5-entry query was a MemoryError)
    query_in = _need(d, "query", list, where)
    if len(query_in) != k:
        raise ConstructionFileError(f"{where}: width is {k} but the query has "
                                    f"{len(query_in)} entries")
    codes_in = _need(d, "codes", list, where)
    for c, code in enumerate(codes_in):
        if not isinstance(code, list) or len(code) != v:
            got = (f"{len(code)} entries" if isinstance(code, list)
                   else f"a {type(code).__name__}")
            raise ConstructionFileError(f"{where}.codes[{c}]: expected a list of value_dim = "
                                        f"{v} exact numbers, got {got}")
    n_h = d.get("n_h")
    if n_h is not None:
        _int(n_h, f"{where}.n_h")
    rows = _need(d, "steps", list, where)
    n_steps = sum(len(row) for row in rows if isinstance(row, list))
    big = max(k * n_steps, k * v)
    if big > group.MAX_KEY_ENTRIES:
        # the keys are stored sparse but built dense, as the initial state: a small file
        # could ask for 10^10 exact entries. The budget is the constructions' own (keys:
        # width x steps), so that every model they build reads back
        what = "keys (width x steps)" if k * n_steps >= k * v else \
            "initial state (width x value_dim)"
        raise ConstructionFileError(
            f"{where}: width {k} with {n_steps} steps and value_dim {v}: its {what} would be "
            f"built dense as {big:.2g} exact entries, past the budget of "
            f"{group.MAX_KEY_ENTRIES:.0e} (constructions.group.MAX_KEY_ENTRIES)")
    steps = []
    for t, row in enumerate(rows):
        if not isinstance(row, list):
            raise ConstructionFileError(f"{where}.steps[{t}]: expected a list of steps")
        new = []
        for j, st in enumerate(row):
            w = f"{where}.steps[{t}][{j}]"
            if not isinstance(st, dict):
                raise ConstructionFileError(f"{w}: expected an object")
            _no_unknown(st, _STEP_FIELDS, w)
            key = [sympy.S.Zero] * k
            for e in _need(st, "key", list, w):
                if not (isinstance(e, list) and len(e) == 2):
                    raise ConstructionFileError(f"{w}.key: entries must be [index, exact]")
                i = _int(e[0], f"{w}.key")
                if not 0 <= i < k:
                    raise ConstructionFileError(f"{w}.key: index {i} outside 0..{k - 1}")
                key[i] = _exact(e[1], f"{w}.key[{i}]")
            beta = _exact(_need(st, "beta", str, w), f"{w}.beta")
            value = [_exact(x, f"{w}.value") for x in _need(st, "value", list, w)]
            new.append(DeltaStep(key=tuple(key), beta=beta, value=value))
        steps.append(new)
    h0 = [[sympy.S.Zero] * v for _ in range(k)]
    for e in _need(d, "initial_state", list, where):
        if not (isinstance(e, list) and len(e) == 3):
            raise ConstructionFileError(f"{where}.initial_state: entries must be [i, j, exact]")
        i, j = _int(e[0], f"{where}.initial_state"), _int(e[1], f"{where}.initial_state")
        if not (0 <= i < k and 0 <= j < v):
            raise ConstructionFileError(f"{where}.initial_state: entry ({i}, {j}) outside "
                                        f"{k} x {v}")
        h0[i][j] = _exact(e[2], f"{where}.initial_state[{i}][{j}]")
    query = [_exact(x, f"{where}.query") for x in query_in]
    codes = [[_exact(x, f"{where}.codes") for x in c] for c in codes_in]
    labels = d.get("labels")
    if labels is not None and not (isinstance(labels, list)
                                   and all(isinstance(x, str) for x in labels)):
        # Readout turns every label into a string: a string here would be read as one label
        # per character, a number as its text
        raise ConstructionFileError(f"{where}: field 'labels' must be null or a list of "
                                    f"strings, got {_json_type(labels)}")
    tmap = d.get("token_map")
    if tmap is not None:
        if not isinstance(tmap, list):
            raise ConstructionFileError(f"{where}: field 'token_map' must be null or a list of "
                                        f"lists of token indices, got {_json_type(tmap)}")
        for r, row in enumerate(tmap):
            if not isinstance(row, list):
                raise ConstructionFileError(f"{where}.token_map[{r}]: expected a list of token "
                                            f"indices, got {_json_type(row)}")
            for c, x in enumerate(row):
                # Layer reads entries with int(): 1.5 and true would pass as 1, inf overflow
                _int(x, f"{where}.token_map[{r}][{c}]")
    layer = Layer(tokens=tokens, steps=steps, initial_state=h0,
                  readout=Readout(query=query, codes=codes, labels=labels), token_map=tmap)
    if n_h is not None and n_h != layer.n_h:
        raise ConstructionFileError(f"{where}: n_h is {n_h} but the steps give {layer.n_h}")
    return layer


def from_dict(d: Any, *, source: str = "input") -> Construction:
    """Load :func:`to_dict`'s output, *unverified* (see "Verification on load" above).

    Parameters
    ----------
    d : dict
        The parsed JSON object.
    source : str
        Named in error messages (a path, or "input").

    Returns
    -------
    Construction
        With ``verified=False``: the certificate, if any, is the file's claim. Use
        :func:`statetrack.theory.proof.load_verified` to re-check it.

    Raises
    ------
    ConstructionFileError
        For a foreign format, an unknown version, or a missing/malformed/inconsistent field;
        also for numbers outside the whitelist grammar (nothing in the file is executed).

    Examples
    --------
    >>> from statetrack.constructions.lrnn import _parity_example
    >>> d = to_dict(_parity_example())
    >>> from_dict(d).lrnn == _parity_example()
    True
    >>> d["layers"][0]["initial_state"][0][2] = "__import__('os').getcwd() and 1"
    >>> from_dict(d, source="parity.json")
    Traceback (most recent call last):
    ...
    statetrack.constructions.errors.ConstructionFileError: parity.json: layers[0].initial_state[0][0]: cannot read "__import__('os').getcwd() and 1" as an exact number: BoolOp is not allowed (only integers, + - * / **, unary -, sqrt, sin, cos, exp and pi, E)
    """
    if not isinstance(d, dict):
        raise ConstructionFileError(f"{source}: expected a JSON object, got {type(d).__name__}")
    if d.get("format") != FORMAT_NAME:
        raise ConstructionFileError(
            f"{source}: not a statetrack construction (field 'format' is {d.get('format')!r}, "
            f"expected {FORMAT_NAME!r})")
    if type(d.get("version")) is not int or d["version"] != FORMAT_VERSION:  # not true, 1.0
        raise ConstructionFileError(f"{source}: unsupported version {d.get('version')!r} (this "
                                    f"reader knows {FORMAT_VERSION})")
    _no_unknown(d, _TOP_FIELDS, source)
    try:
        layers = [_layer_from(x, f"{source}: layers[{i}]")
                  for i, x in enumerate(_need(d, "layers", list, source))]
        accepting = _need(d, "accepting", list, source)
        if not all(isinstance(x, bool) for x in accepting):
            raise ConstructionFileError(f"{source}: field 'accepting' must list booleans")
        if "exact_in_floats" in d:  # written by older versions: checked for shape, never trusted
            _need(d, "exact_in_floats", bool, source)
        form = _need(d, "form", str, source)
        if form not in STORED_FORMS:
            raise ConstructionFileError(f"{source}: field 'form' is {form!r}, not a known form "
                                        f"(one of {list(STORED_FORMS)})")
        lrnn = LRNN(alphabet=_need(d, "alphabet", list, source), layers=layers,
                    accepting=accepting, state_map=d.get("state_map"), form=form,
                    field_generators=[_exact(g, f"{source}: field_generators")
                                      for g in (_need(d, "field_generators", list, source)
                                                if "field_generators" in d else [])],
                    name=_need(d, "name", str, source) if "name" in d else "")
    except ConstructionFileError:
        raise
    except (ConstructionError, TypeError, ValueError) as e:
        raise ConstructionFileError(f"{source}: invalid construction: {e}") from None
    dfa = None
    if d.get("dfa") is not None:
        try:
            dfa = DFA.from_dict(d["dfa"], source=f"{source}: dfa")
        except AutomatonError as e:
            raise ConstructionFileError(str(e)) from None
    cert = None
    if d.get("certificate") is not None:
        try:
            cert = Certificate.from_dict(d["certificate"])
        except ConstructionFileError as e:
            raise ConstructionFileError(f"{source}: certificate: {e}") from None
    return Construction(lrnn=lrnn, dfa=dfa, certificate=cert)


def dumps(lrnn: LRNN, *, dfa: DFA | None = None, certificate: Certificate | None = None,
          indent: int | None = None) -> str:
    """The construction as JSON text (see :func:`to_dict`).

    Examples
    --------
    >>> from statetrack.constructions.lrnn import _parity_example
    >>> dumps(_parity_example())[:60]
    '{"format": "statetrack.construction", "version": 1, "name": '
    """
    return json.dumps(to_dict(lrnn, dfa=dfa, certificate=certificate), indent=indent)


def loads(text: str, *, source: str = "input") -> Construction:
    """Parse JSON text, *unverified* (see :func:`from_dict`; the safe entry point is
    :func:`statetrack.theory.proof.loads_verified`).

    Raises
    ------
    ConstructionFileError
        Invalid JSON (with line and column), or anything :func:`from_dict` refuses.

    Examples
    --------
    >>> from statetrack.constructions.lrnn import _parity_example
    >>> loads(dumps(_parity_example())).lrnn.accepts("1")
    True
    >>> loads("{oops")
    Traceback (most recent call last):
    ...
    statetrack.constructions.errors.ConstructionFileError: input: invalid JSON at line 1 column 2: Expecting property name enclosed in double quotes
    """
    if not isinstance(text, (str, bytes, bytearray)):
        raise InputTypeError(f"text: expected JSON text, got {type(text).__name__}")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConstructionFileError(f"{source}: invalid JSON at line {e.lineno} column "
                                    f"{e.colno}: {e.msg}") from None
    return from_dict(data, source=source)


def save(path: str | PathLike, lrnn: LRNN, *, dfa: DFA | None = None,
         certificate: Certificate | None = None) -> None:
    """Write the construction file (the text of :func:`dumps`).

    The text is built first, so a model that cannot be stored exactly leaves no file.

    Raises
    ------
    OSError
        The file cannot be written.
    InputTypeError, ConstructionFileError
        As :func:`to_dict`.

    Examples
    --------
    >>> import os, tempfile
    >>> from statetrack.constructions.lrnn import _parity_example
    >>> path = os.path.join(tempfile.mkdtemp(), "parity.json")
    >>> save(path, _parity_example())
    >>> load(path).lrnn == _parity_example()
    True
    """
    text = dumps(lrnn, dfa=dfa, certificate=certificate) + "\n"
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def load(path: str | PathLike) -> Construction:
    """Read a construction file, *unverified* (``verified=False``; see "Verification on load"
    in the module docstring: :func:`statetrack.theory.proof.load_verified` is the safe
    entry point).

    Raises
    ------
    ConstructionFileError
        The file is unreadable, not UTF-8, not JSON, or anything :func:`from_dict` refuses.

    Examples
    --------
    >>> load("/nonexistent/c.json")
    Traceback (most recent call last):
    ...
    statetrack.constructions.errors.ConstructionFileError: /nonexistent/c.json: cannot read (No such file or directory)
    """
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise ConstructionFileError(f"{path}: cannot read ({e.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConstructionFileError(f"{path}: not UTF-8 text (a binary file?)") from None
    return loads(text, source=str(path))
