"""The proof certificate of :func:`statetrack.theory.proof.verify`, as plain data.

A :class:`Certificate` records that a model implements a DFA (the definition and the
algorithm that produces it are in :mod:`statetrack.theory.proof`). It lives here, in
:mod:`statetrack.constructions`, because construction files (:mod:`.io`) store it, and
``constructions`` must not import ``theory`` (dependencies flow ``automata`` <-
``constructions`` <- ``theory``); :mod:`statetrack.theory.proof` re-exports it.

A certificate read from a file is only a *claim*: :func:`statetrack.theory.proof.load_verified`
recomputes it from the model and the DFA and refuses files whose claim differs.

Examples
--------
>>> c = Certificate(reachable=2, g=(0, 1), words=((), ("1",)), transitions_checked=4,
...                 dfa_states=2, field="ZZ", minimized=True)
>>> Certificate.from_dict(c.to_dict()) == c
True
>>> print(c.summary())
proved: 2 reachable states map onto 2 DFA states; 4 transitions checked exactly over ZZ
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from ..errors import unknown_field
from .errors import ConstructionFileError

__all__ = ["Certificate", "CERTIFICATE_FORMAT", "CERTIFICATE_VERSION"]

CERTIFICATE_FORMAT = "statetrack.certificate"
CERTIFICATE_VERSION = 1
#: The fields of a certificate file (what :meth:`Certificate.to_dict` writes).
_FIELDS = ("format", "version", "reachable", "g", "words", "transitions_checked",
           "dfa_states", "field", "minimized", "ok")


@dataclass(frozen=True)
class Certificate:
    """A proof that the model implements the DFA (see :mod:`statetrack.theory.proof`).

    Attributes
    ----------
    reachable : int
        Number of reachable model states (tuples of layer states).
    g : tuple of int
        ``g[i]`` is the DFA state of the i-th reachable model state (BFS order).
    words : tuple of tuple of str
        A shortest word reaching each reachable model state (BFS order).
    transitions_checked : int
        ``reachable * n_symbols`` checked edges ``g(A(a) H + B(a)) = delta(g(H), a)``.
    dfa_states : int
        Number of reachable DFA states (``g`` is onto them).
    field : str
        The exact arithmetic used (``"ZZ"``, ``"QQ"`` or an algebraic field).
    minimized : bool
        Whether the check was against the minimal DFA.
    ok : bool
        Always True (a :class:`~statetrack.theory.proof.Counterexample` has ``ok=False``).

    Examples
    --------
    >>> c = Certificate(reachable=1, g=(0,), words=((),), transitions_checked=2,
    ...                 dfa_states=1, field="ZZ", minimized=True)
    >>> c.ok, c.to_dict()["format"]
    (True, 'statetrack.certificate')
    """

    reachable: int
    g: tuple[int, ...]
    words: tuple[tuple[str, ...], ...]
    transitions_checked: int
    dfa_states: int
    field: str
    minimized: bool
    ok: bool = True

    def to_dict(self) -> dict:
        """A JSON-ready dict (``format``, ``version`` and the attributes)."""
        d = asdict(self)
        d["g"] = list(self.g)
        d["words"] = [list(w) for w in self.words]
        return {"format": CERTIFICATE_FORMAT, "version": CERTIFICATE_VERSION, **d}

    def to_json(self, *, indent: int | None = None) -> str:
        """:meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, d: Any) -> "Certificate":
        """Load :meth:`to_dict`'s output; :class:`ConstructionFileError` if malformed.

        Only the shape is checked here; whether the certificate is *true* is checked by
        :func:`statetrack.theory.proof.load_verified`.
        """
        if not isinstance(d, dict) or d.get("format") != CERTIFICATE_FORMAT:
            got = d.get("format") if isinstance(d, dict) else type(d).__name__
            raise ConstructionFileError(f"not a statetrack certificate (format {got!r})")
        if type(d.get("version")) is not int or d["version"] != CERTIFICATE_VERSION:  # not true, 1.0
            raise ConstructionFileError(f"unsupported certificate version {d.get('version')!r}")
        if d.get("ok", True) is not True:
            raise ConstructionFileError("a certificate must have ok = true")
        extra = unknown_field(d, _FIELDS, "certificate")
        if extra:
            raise ConstructionFileError(extra)
        try:
            ints = {k: d[k] for k in ("reachable", "transitions_checked", "dfa_states")}
            for k, v in ints.items():
                if not isinstance(v, int) or isinstance(v, bool):
                    raise TypeError(f"{k} must be an integer, got {v!r}")
            if not isinstance(d["g"], list) or not all(
                    isinstance(x, int) and not isinstance(x, bool) for x in d["g"]):
                raise TypeError("g must be a list of integers")
            if not isinstance(d["words"], list) or not all(
                    isinstance(w, list) and all(isinstance(s, str) for s in w)
                    for w in d["words"]):
                raise TypeError("words must be a list of lists of symbols")
            if not isinstance(d["field"], str) or not isinstance(d["minimized"], bool):
                raise TypeError("field must be a string and minimized a boolean")
            return cls(reachable=ints["reachable"], g=tuple(d["g"]),
                       words=tuple(tuple(w) for w in d["words"]),
                       transitions_checked=ints["transitions_checked"],
                       dfa_states=ints["dfa_states"], field=d["field"],
                       minimized=d["minimized"])
        except (KeyError, TypeError, ValueError) as e:
            raise ConstructionFileError(f"malformed certificate: {type(e).__name__}: {e}") \
                from None

    def summary(self) -> str:
        """One line for people."""
        r, q, t = self.reachable, self.dfa_states, self.transitions_checked
        return (f"proved: {r} reachable state{'s map' if r != 1 else ' maps'} onto {q} DFA "
                f"state{'s' if q != 1 else ''}; {t} transition{'s' if t != 1 else ''} checked "
                f"exactly over {self.field}")
