"""One exception root: every exception class of the package derives from StatetrackError; the
twins are one class each; the names that collided are told apart."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import statetrack
from statetrack import errors as root
from statetrack.errors import StatetrackError


def _runs_on_import(name: str) -> bool:
    """``__main__`` modules (``python -m statetrack``, ``python -m statetrack.cli``) run the
    command line on import."""
    return name.rsplit(".", 1)[-1] == "__main__"


def _modules() -> list:
    mods = [statetrack]
    for info in pkgutil.walk_packages(statetrack.__path__, "statetrack."):
        if not _runs_on_import(info.name):
            mods.append(importlib.import_module(info.name))
    return mods


def _exception_classes() -> set:
    found = set()
    for mod in _modules():
        for _, obj in inspect.getmembers(mod, inspect.isclass):
            if issubclass(obj, BaseException) and obj.__module__.startswith("statetrack"):
                found.add(obj)
    return found


def test_every_exception_class_derives_from_the_root():
    classes = _exception_classes()
    # 63 classes in the four errors.py before issue 14, less the 3 merged twins, plus the root
    # and the private _Refused of exact_text (and whatever was added since)
    assert len(classes) >= 62
    offenders = sorted(f"{c.__module__}.{c.__qualname__}" for c in classes
                       if not issubclass(c, StatetrackError))
    assert offenders == []
    names = {c.__name__ for c in classes}
    assert {"AutomatonError", "ConstructionError", "TheoryError", "KernelError",
            "RegexError", "KernelShapeError", "FiniteSetError", "CascadeError"} <= names


def test_the_walk_sees_a_class_that_does_not_derive(monkeypatch):
    """The check above can fail: an exception class outside the root, defined in a module of
    the package, is found by the walk."""
    from statetrack import floats

    stray = type("Stray", (ValueError,), {"__module__": "statetrack.floats"})
    monkeypatch.setattr(floats, "Stray", stray, raising=False)
    found = _exception_classes()
    assert stray in found and not issubclass(stray, StatetrackError)


def test_twins_are_one_class():
    from statetrack.automata import errors as A
    from statetrack.constructions import errors as C
    from statetrack.kernels import errors as K
    from statetrack.theory import errors as T

    assert A.UnknownSymbolError is K.UnknownSymbolError is root.UnknownSymbolError
    assert C.UnknownTokenError is T.UnknownTokenError is root.UnknownTokenError
    assert C.UnsupportedDtypeError is T.UnsupportedFormatError is root.UnsupportedDtypeError
    assert A.AutomatonError is root.AutomatonError and K.KernelError is root.KernelError
    assert C.ConstructionError is root.ConstructionError and T.TheoryError is root.TheoryError
    assert statetrack.automata.UnknownSymbolError is statetrack.kernels.UnknownSymbolError
    assert statetrack.constructions.UnknownTokenError is root.UnknownTokenError


def test_every_former_base_is_kept():
    from statetrack.automata.errors import AutomatonError
    from statetrack.constructions.errors import ConstructionError
    from statetrack.kernels.errors import KernelError, KernelInputError
    from statetrack.theory.errors import TheoryError

    for base in (AutomatonError, KernelInputError, KernelError, KeyError, ValueError):
        assert issubclass(root.UnknownSymbolError, base), base
    for base in (ConstructionError, TheoryError, KeyError, ValueError):
        assert issubclass(root.UnknownTokenError, base), base
    for base in (ConstructionError, TheoryError, TypeError, ValueError):
        assert issubclass(root.UnsupportedDtypeError, base), base
    for base in (AutomatonError, ConstructionError, TheoryError, KernelInputError):
        assert issubclass(base, ValueError) and issubclass(base, StatetrackError)
    assert not issubclass(KernelError, ValueError)
    from statetrack.automata.errors import NotInMonoidError, UnknownLanguageError
    from statetrack.theory.errors import UnknownTheoremError

    key_errors = [c for c in _exception_classes() if issubclass(c, KeyError)]
    assert set(key_errors) == {root.UnknownSymbolError, root.UnknownTokenError,
                               UnknownLanguageError, NotInMonoidError, UnknownTheoremError}
    for cls in key_errors:
        assert str(cls("symbol 'x' is not known")) == "symbol 'x' is not known"  # not quoted
        assert issubclass(cls, root.PlainKeyMessage)


def test_raises_are_caught_by_every_old_handler():
    from statetrack.automata import DFA
    from statetrack.automata.errors import AutomatonError
    from statetrack.automata.families import get
    from statetrack.constructions import compile
    from statetrack.constructions.errors import ConstructionError
    from statetrack.kernels.errors import KernelInputError
    from statetrack.kernels.runner import encode_words
    from statetrack.theory.errors import TheoryError
    from statetrack.theory.finite_precision import FPModel, run

    dfa = DFA([[0, 0]], alphabet="ab")
    for handler in (AutomatonError, KernelInputError, KeyError, StatetrackError):
        with pytest.raises(handler, match="symbol 'c' at position 2"):
            dfa.encode("abc")
    for handler in (AutomatonError, KernelInputError, KeyError, ValueError):
        with pytest.raises(handler, match=r"words\[0\]: symbol 'x' at position 1"):
            encode_words(["a", "b"], ["ax"])
    model = compile(get("parity"))
    for handler in (ConstructionError, TheoryError, KeyError):
        with pytest.raises(handler, match="position 1"):
            model.encode(["0", "z"])
    fp = FPModel.from_matrices({"1": [[-1.0]]}, initial_state=[[1.0]])
    for handler in (ConstructionError, TheoryError, KeyError):
        with pytest.raises(handler, match="symbol '2' at position 0"):
            run(fp, "2")
    for handler in (ConstructionError, TheoryError, TypeError):
        with pytest.raises(handler, match="int8"):
            model.evaluate_float([["0"]], "int8")


def test_names_do_not_collide():
    from statetrack.automata import families
    from statetrack.constructions import precision
    from statetrack.kernels.layers import fla_export
    from statetrack.theory import registry

    assert families.REGISTRY is families.FAMILIES and "parity" in families.FAMILIES
    assert families.get("parity").n_states == 2
    assert not hasattr(registry, "REGISTRY") and not hasattr(registry, "get")
    assert registry.theorem("thm1") is registry.THEOREMS["thm1"]
    assert statetrack.theory.THEOREMS is registry.THEOREMS
    assert not set(registry.THEOREMS) & set(families.FAMILIES)
    assert not hasattr(fla_export, "horizon") and not hasattr(statetrack.kernels, "horizon")
    assert callable(fla_export.fla_export_horizon) and callable(precision.float_horizon)


def test_classes_are_shown_where_they_were_imported_and_pickle():
    import pickle

    homes = {root.AutomatonError: "statetrack.automata.errors",
             root.ConstructionError: "statetrack.constructions.errors",
             root.TheoryError: "statetrack.theory.errors",
             root.KernelError: "statetrack.kernels.errors",
             root.KernelInputError: "statetrack.kernels.errors",
             root.UnknownSymbolError: "statetrack.automata.errors",
             root.UnknownTokenError: "statetrack.constructions.errors",
             root.UnsupportedDtypeError: "statetrack.constructions.errors",
             root.StatetrackError: "statetrack.errors"}
    for cls, home in homes.items():
        assert cls.__module__ == home
        back = pickle.loads(pickle.dumps(cls("message at position 3")))
        assert type(back) is cls and str(back) == "message at position 3"
