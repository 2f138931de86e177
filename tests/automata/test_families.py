"""Tests of the registry of named languages (statetrack.automata.families).

Every family is checked against a predicate written here from the language's definition (not
from the builder's state space): group word problems through sympy permutations, affine maps
and 2x2 complex matrices; the rest with ``re``, ``eval``, run-length decompositions and direct
simulation.
"""

from __future__ import annotations

import itertools
import math
import re
from typing import Any, Callable

import numpy as np
import pytest
from sympy.combinatorics import Permutation

from statetrack.automata import DFA
from statetrack.automata import families as F
from statetrack.automata.errors import (
    AutomatonError,
    FamilyParameterError,
    UnknownLanguageError,
)

Word = tuple[str, ...]


# ============================================================== independent predicates
def _perm_of(name: str, n: int) -> Permutation:
    """A letter of symmetric/alternating as a sympy permutation (sympy: p*q = p first)."""
    if re.fullmatch(r"t\d\d", name):
        return Permutation(int(name[1]), int(name[2]), size=n)
    if name == "c":
        return Permutation([list(range(n))], size=n)  # the cycle 0 -> 1 -> ... -> n-1 -> 0
    if re.fullmatch(r"c01\d", name):
        return Permutation(0, 1, int(name[3]), size=n)
    assert re.fullmatch(r"\d+", name) and len(name) == n
    return Permutation([int(c) for c in name])


def _perm_product(word: Word, n: int) -> Permutation:
    p = Permutation(list(range(n)))
    for s in word:
        p = p * _perm_of(s, n)
    return p


def _dihedral_element(name: str, m: int) -> tuple[int, int]:
    """A symmetry x -> e*x + k of Z_m as (e, k)."""
    if name == "r":
        return 1, 1
    if name == "s":
        return -1, 0
    return (1 if name[0] == "r" else -1), int(name[1:])


def _dihedral_product(word: Word, m: int) -> tuple[int, int]:
    e, k = 1, 0
    for s in word:  # apply (e, k) first, then (e2, k2)
        e2, k2 = _dihedral_element(s, m)
        e, k = e2 * e, (e2 * k + k2) % m
    return e, k


_I2 = np.eye(2, dtype=complex)
_QMAT = {"i": np.array([[1j, 0], [0, -1j]]), "j": np.array([[0, 1], [-1, 0]], dtype=complex)}
_QMAT["k"] = _QMAT["i"] @ _QMAT["j"]
_QMAT["1"] = _I2
for _name in ("1", "i", "j", "k"):
    _QMAT["-" + _name] = -_QMAT[_name]


def _quaternion_product(word: Word) -> np.ndarray:
    p = _I2
    for s in word:
        p = p @ _QMAT[s]
    return p


def _quaternion_name(mat: np.ndarray) -> str:
    return next(n for n, q in _QMAT.items() if np.array_equal(q, mat))


def _flip_flop_language(w: Word) -> bool:
    if len(w) % 2:
        return False
    memory = None
    for x, b in zip(w[::2], w[1::2]):
        if x not in "wri" or b not in "01":
            return False
        if x == "w":
            memory = b
        elif x == "r" and b != memory:
            return False
    return True


def _modular_arithmetic(w: Word, m: int, target: int) -> bool:
    s = "".join(w)
    if not re.fullmatch(r"[0-9]([-+*][0-9])*", s):
        return False
    return eval(s) % m == target  # Python: * before + and -, left-associative


def _dyck(w: Word, depth: int, types: int) -> bool:
    pairs = ["()", "[]", "{}"][:types]
    match = {p[1]: p[0] for p in pairs}
    stack: list[str] = []
    for c in w:
        if c in match:
            if not stack or stack.pop() != match[c]:
                return False
        else:
            stack.append(c)
            if len(stack) > depth:
                return False
    return not stack


def _grid(w: Word, width: int, target: int) -> bool:
    x = 0
    for c in w:
        x = max(x - 1, 0) if c == "L" else min(x + 1, width - 1)
    return x == target % width


def _tomita(w: Word, n: int) -> bool:
    s = "".join(w)
    if n == 1:
        return "0" not in s
    if n == 2:
        return s == "10" * (len(s) // 2)
    if n == 3:
        runs = [(c, len(list(g))) for c, g in itertools.groupby(s)]
        return not any(runs[i][0] == "1" and runs[i][1] % 2 and runs[j][0] == "0"
                       and runs[j][1] % 2 for i in range(len(runs))
                       for j in range(i + 1, len(runs)))
    if n == 4:
        return "000" not in s
    if n == 5:
        return s.count("0") % 2 == 0 and s.count("1") % 2 == 0
    if n == 6:
        return (s.count("0") - s.count("1")) % 3 == 0
    return s.count("10") <= 1


def _after_last_reset(w: Word) -> int:
    tail = w[max((i for i, c in enumerate(w) if c == "r"), default=-1) + 1:]
    return tail.count("a")


PREDICATES: dict[str, Callable[[Word, dict[str, Any]], bool]] = {
    "parity": lambda w, p: w.count("1") % 2 == (1 if p["accept"] == "odd" else 0),
    "count_mod": lambda w, p: w.count("a") % p["m"] == p["k"],
    "at_least": lambda w, p: w.count("a") >= p["k"],
    "aa_star": lambda w, p: "b" not in w and len(w) % p["m"] == 0,
    "counter_reset": lambda w, p: _after_last_reset(w) % p["m"] == 0,
    "binary_divisible": lambda w, p: int("".join(w) or "0", 2) % p["m"] == 0,
    "cyclic": lambda w, p: (sum(int(s) for s in w) if p["generators"] == "all"
                            else w.count("1")) % p["m"] == 0,
    "dihedral": lambda w, p: _dihedral_product(w, p["m"]) == (1, 0),
    "symmetric": lambda w, p: _perm_product(w, p["n"]).is_Identity,
    "alternating": lambda w, p: _perm_product(w, p["n"]).is_Identity,
    "quaternion": lambda w, p: np.array_equal(_quaternion_product(w), _I2),
    "flip_flop": lambda w, p: [c for c in w if c != "_"][-1:] == ["1"],
    "flip_flop_language": lambda w, p: _flip_flop_language(w),
    "even_pairs": lambda w, p: sum(w[i:i + 2] in (("a", "b"), ("b", "a"))
                                   for i in range(len(w))) % 2 == 0,
    "cycle_navigation": lambda w, p: (w.count("+") - w.count("-")) % p["length"] == p["target"],
    "modular_arithmetic": lambda w, p: _modular_arithmetic(w, p["m"], p["target"]),
    "dyck": lambda w, p: _dyck(w, p["depth"], p["types"]),
    "ab_star": lambda w, p: re.fullmatch("(ab)*", "".join(w)) is not None,
    "first_symbol": lambda w, p: w[:1] == ("a",),
    "last_symbol": lambda w, p: w[-1:] == ("a",),
    "grid_world": lambda w, p: _grid(w, p["width"], p["target"]),
    "contains": lambda w, p: p["pattern"] in "".join(w),
    "no_run": lambda w, p: "1" * p["k"] not in "".join(w),
    "tomita": lambda w, p: _tomita(w, p["n"]),
}

# Non-default instances checked against the predicates as well.
EXTRA_SPECS = [
    "parity(even)", "count_mod(5, 2)", "count_mod(1)", "at_least(0)", "at_least(5)",
    "aa_star(3)", "aa_star(1)", "counter_reset(4)", "binary_divisible(5)", "binary_divisible(8)",
    "binary_divisible(12)", "cyclic(7)", "cyclic(1)", "cyclic(6, all)", "cyclic(12, all)",
    "dihedral(3)", "dihedral(7)", "dihedral(5, all)", "symmetric(2)", "symmetric(4, star)",
    "symmetric(4, adjacent)", "symmetric(5, pair)", "symmetric(3, all)", "symmetric(4, all)",
    "alternating(3)", "alternating(6)", "alternating(4, all)", "quaternion(all)",
    "cycle_navigation(4, 3)", "modular_arithmetic(2)", "modular_arithmetic(3, 1)",
    "modular_arithmetic(10, 7)", "dyck(1)", "dyck(3, 2)", "dyck(2, 3)", "first_symbol(1)",
    "first_symbol(4)", "last_symbol(1)", "last_symbol(3)", "grid_world(1)", "grid_world(6, 2)",
    "grid_world(6, -6)", "contains(a)", "contains(abab)", "contains(babba)", "no_run(1)",
    "no_run(3)", *(f"tomita({n})" for n in range(1, 8)),
]


# ============================================================== helpers
def _completions(dfa: DFA) -> list[Word | None]:
    """For every state a shortest word leading to acceptance (None if none does)."""
    n = dfa.n_states
    best: list[Word | None] = [() if dfa.accepting[q] else None for q in range(n)]
    changed = True
    while changed:
        changed = False
        for q in range(n):
            for a, r in enumerate(dfa.transitions[q]):
                if best[r] is not None and (best[q] is None or len(best[r]) + 1 < len(best[q])):
                    best[q] = (dfa.alphabet[a],) + best[r]
                    changed = True
    return best


def _words(dfa: DFA, seed: int, n_random: int = 200, max_len: int = 40) -> list[Word]:
    """All short words, random words, and random prefixes completed to acceptance."""
    sigma = dfa.alphabet
    k = len(sigma)
    short_len = max(1, int(math.log(1500) / math.log(k))) if k > 1 else 12
    out: list[Word] = [w for L in range(short_len + 1) for w in itertools.product(sigma, repeat=L)]
    rng = np.random.default_rng(seed)
    done = _completions(dfa)
    for _ in range(n_random):
        w = tuple(sigma[i] for i in rng.integers(0, k, size=int(rng.integers(0, max_len + 1))))
        out.append(w)
        tail = done[dfa.final_state(w)]
        if tail is not None:
            out.append(w + tail)
    return out


def _check_against_predicate(spec: str, seed: int) -> None:
    dfa = F.get(spec)
    name = F.parse_spec(spec)[0]
    fam = F.REGISTRY[name]
    _, args, kwargs = F.parse_spec(spec)
    params = fam.bind(*[v for v, _ in args], **{k: v for k, (v, _) in kwargs.items()})
    pred = PREDICATES[name]
    words = _words(dfa, seed)
    got = dfa.run(words).accepted
    want = np.array([pred(w, params) for w in words])
    bad = np.flatnonzero(got != want)
    assert bad.size == 0, (
        f"{spec}: DFA and definition disagree on {dfa.format_word(words[bad[0]])!r} "
        f"(DFA {bool(got[bad[0]])}, definition {bool(want[bad[0]])})")
    assert want.any() and not want.all(), f"{spec}: the sample is all accepted or all rejected"


# ============================================================== every family
FAMILIES = sorted(F.REGISTRY)


def test_at_least_twenty_families():
    assert len(F.REGISTRY) >= 20
    assert F.names() == sorted(F.REGISTRY)


def test_every_family_has_a_predicate_here():
    assert set(PREDICATES) == set(F.REGISTRY)


@pytest.mark.parametrize("name", FAMILIES)
def test_default_is_minimal_and_matches_definition(name):
    fam = F.REGISTRY[name]
    dfa = fam()
    assert isinstance(dfa, DFA)
    assert dfa.is_complete and dfa.is_minimal()
    assert dfa.minimize() == dfa  # minimal and canonically (BFS) numbered
    assert dfa.labels is not None and len(set(dfa.labels)) == dfa.n_states
    _check_against_predicate(name, seed=FAMILIES.index(name))


@pytest.mark.parametrize("spec", EXTRA_SPECS)
def test_instances_are_minimal_and_match_definition(spec):
    dfa = F.get(spec)
    assert dfa.is_minimal() and dfa.minimize() == dfa
    if spec not in ("count_mod(1)", "at_least(0)", "cyclic(1)", "grid_world(1)",
                    "symmetric(2)", "aa_star(1)"):
        _check_against_predicate(spec, seed=EXTRA_SPECS.index(spec) + 100)
    else:  # one-state languages: everything (or, for aa_star(1), a*) is accepted
        words = _words(dfa, seed=0)
        name = F.parse_spec(spec)[0]
        fam = F.REGISTRY[name]
        params = fam.bind(*[v for v, _ in F.parse_spec(spec)[1]])
        assert all(dfa.accepts(w) == PREDICATES[name](w, params) for w in words)


@pytest.mark.parametrize("name", FAMILIES)
def test_family_metadata_and_docstring(name):
    fam = F.REGISTRY[name]
    assert fam.name == name
    assert fam.summary and "\n" not in fam.summary
    doc = fam.doc
    for section in ("Returns", "Examples", ">>>"):
        assert section in doc, f"{name}: docstring lacks {section!r}"
    assert all(p.name in doc for p in fam.params)
    assert fam.spec() == name and F.get(fam.spec()) is fam()
    for p in fam.params:
        assert p.check(p.default, name) == p.default
        assert p.valid


# ============================================================== known sizes
KNOWN_STATES = [
    ("parity", 2), ("parity(even)", 2), ("first_symbol", 3), ("first_symbol(1)", 2),
    ("last_symbol", 2), ("ab_star", 3), ("even_pairs", 5), ("flip_flop", 2),
    ("flip_flop_language", 10), ("quaternion", 8), ("quaternion(all)", 8),
    *((f"cyclic({m})", m) for m in range(1, 13)), ("cyclic(9, all)", 9),
    *((f"dihedral({m})", 2 * m) for m in range(3, 9)), ("dihedral(6, all)", 12),
    *((f"symmetric({n})", math.factorial(n)) for n in range(2, 7)),
    *((f"symmetric(4, {g})", 24) for g in ("star", "adjacent", "pair", "all")),
    *((f"alternating({n})", math.factorial(n) // 2) for n in range(3, 7)),
    ("alternating(5, all)", 60),
    *((f"count_mod({m})", m) for m in (1, 2, 7)), *((f"counter_reset({m})", m) for m in (1, 5)),
    *((f"at_least({k})", k + 1) for k in (0, 1, 4)), *((f"aa_star({m})", m + 1) for m in (1, 2, 5)),
    *((f"binary_divisible({m})", m) for m in (1, 3, 5, 7, 9)),
    *((f"cycle_navigation({n})", n) for n in (1, 5, 8)),
    *((f"modular_arithmetic({m})", 2 * m * m + 1) for m in (2, 3, 5, 7)),
    *((f"dyck({d}, {t})", sum(t ** i for i in range(d + 1)) + 1)
      for d in (1, 2, 4) for t in (1, 2, 3)),
    *((f"grid_world({w})", w) for w in (1, 2, 7)), ("grid_world(7, 3)", 7),
    *((f"contains({p})", len(p) + 1) for p in ("a", "ab", "abb", "aabab")),
    *((f"no_run({k})", k + 1) for k in (1, 2, 4)),
    *((f"tomita({n})", s) for n, s in zip(range(1, 8), (2, 3, 5, 4, 4, 3, 5))),
]


@pytest.mark.parametrize("spec,states", KNOWN_STATES)
def test_known_number_of_states(spec, states):
    dfa = F.get(spec)
    assert dfa.n_states == states
    assert dfa.is_minimal()


# ============================================================== word problems
WORD_PROBLEMS = ["cyclic(5)", "cyclic(7, all)", "dihedral(4)", "dihedral(5, all)",
                 "symmetric(4)", "symmetric(4, pair)", "symmetric(3, all)", "alternating(5)",
                 "alternating(4, all)", "quaternion", "quaternion(all)", "parity",
                 "cycle_navigation"]


@pytest.mark.parametrize("spec", WORD_PROBLEMS)
def test_word_problem_letters_are_permutations(spec):
    dfa = F.get(spec)
    delta = dfa.transitions
    assert (np.sort(delta, axis=0) == np.arange(dfa.n_states)[:, None]).all()


@pytest.mark.parametrize("spec", [s for s in WORD_PROBLEMS if s.startswith(
    ("cyclic", "dihedral", "symmetric", "alternating", "quaternion"))])
def test_word_problem_accepts_only_the_identity(spec):
    dfa = F.get(spec)
    assert dfa.accepting_states == (dfa.start,)


def _labels_along(dfa: DFA, rng: np.random.Generator, n: int = 30) -> list[tuple[Word, str]]:
    out = []
    for _ in range(n):
        length = int(rng.integers(0, 25))
        w = tuple(dfa.alphabet[i] for i in rng.integers(0, dfa.n_symbols, size=length))
        out.append((w, dfa.state_label(dfa.final_state(w))))
    return out


@pytest.mark.parametrize("spec", ["symmetric(5)", "symmetric(4, all)", "alternating(5)"])
def test_symmetric_state_is_the_composed_permutation(spec):
    dfa = F.get(spec)
    n = len(dfa.state_label(0))
    for w, label in _labels_along(dfa, np.random.default_rng(1)):
        assert label == "".join(map(str, _perm_product(w, n).array_form))


@pytest.mark.parametrize("spec", ["dihedral(6)", "dihedral(5, all)"])
def test_dihedral_state_is_the_composed_symmetry(spec):
    dfa = F.get(spec)
    m = dfa.n_states // 2
    for w, label in _labels_along(dfa, np.random.default_rng(2)):
        e, k = _dihedral_product(w, m)
        assert label == f"{'r' if e == 1 else 's'}{k}"


def test_quaternion_state_is_the_product_and_letters_name_their_element():
    dfa = F.get("quaternion(all)")
    for w, label in _labels_along(dfa, np.random.default_rng(3)):
        assert label == _quaternion_name(_quaternion_product(w))
    for s in dfa.alphabet:  # reading one letter lands on the element of that name
        assert dfa.state_label(dfa.step(dfa.start, s)) == s
    for spec in ("cyclic(9, all)", "dihedral(5, all)", "symmetric(3, all)"):
        d = F.get(spec)
        assert all(d.state_label(d.step(d.start, s)) == s for s in d.alphabet)


def test_cyclic_state_is_the_sum():
    dfa = F.get("cyclic(8, all)")
    for w, label in _labels_along(dfa, np.random.default_rng(4)):
        assert label == str(sum(int(s) for s in w) % 8)


# ============================================================== get / specs
def test_get_parses_spec_forms():
    assert F.get("parity") is F.REGISTRY["parity"]()
    assert F.get("cyclic(5)") is F.get("cyclic(m=5)") is F.get("  cyclic ( 5 )  ")
    assert F.get("cyclic(5)") is F.cyclic(5) is F.cyclic(m=np.int64(5))
    assert F.get("dihedral(m=4)").n_states == 8
    assert F.get("symmetric(5)").n_states == 120
    assert F.get("symmetric(n=4, generators=star)").alphabet == ("t01", "t02", "t03")
    assert F.get("symmetric(4, 'adjacent')").alphabet == ("t01", "t12", "t23")
    assert F.get("grid_world(5, -2)").accepts("RRR")
    assert F.get("contains(pattern=\"ba\")").accepts("aba")
    assert F.get("parity()") is F.get("parity")


def test_parse_spec_reports_values_and_columns():
    assert F.parse_spec("count_mod(4, k=1)") == ("count_mod", [(4, 11)], {"k": (1, 16)})
    assert F.parse_spec("x") == ("x", [], {})


@pytest.mark.parametrize("spec,column,fragment", [
    ("", 1, "expected a language name"),
    ("(5)", 1, "expected a language name"),
    ("cyclic(", 8, "expected a value"),
    ("cyclic(5", 9, "expected ',' or ')'"),
    ("cyclic(5))", 10, "unexpected text after ')'"),
    ("cyclic(5,)", 10, "expected a value"),
    ("cyclic[5]", 7, "unexpected character '['"),
    ("cyclic 5", 8, "expected '(' or the end"),
    ("cyclic(m=5, 3)", 13, "positional argument after a keyword"),
    ("cyclic(m=5, m=6)", 13, "given twice"),
    ("cyclic(5, m=6)", 11, "given twice"),
    ("cyclic(x=1)", 8, "has no parameter 'x'"),
    ("cyclic(5, all, 3)", 16, "at most 2 parameter"),
    ("cyclic(m=0)", 10, "must be an integer in 1..10000, got 0"),
    ("cyclic(-3)", 8, "got -3"),
    ("cyclic(m=five)", 10, "must be an integer, got str 'five'"),
    ("cyclic(m='5')", 10, "must be an integer"),
    ("cyclic(5, generators=most)", 22, "must be one of 'standard', 'all'"),
    ("contains('ab", 10, "unterminated string"),
])
def test_bad_specs_name_the_column(spec, column, fragment):
    with pytest.raises(FamilyParameterError) as info:
        F.get(spec)
    assert info.value.column == column
    assert fragment in str(info.value)
    assert f"at column {column}" in str(info.value)
    if spec:
        assert str(info.value).splitlines()[-1] == "  " + " " * (column - 1) + "^"


def test_spec_must_be_a_string():
    with pytest.raises(FamilyParameterError, match="must be a string"):
        F.get(5)  # type: ignore[arg-type]


def test_unknown_language_suggests_close_names():
    with pytest.raises(UnknownLanguageError) as info:
        F.get("cylic(5)")
    assert info.value.suggestions == ["cyclic"]
    assert "did you mean 'cyclic'" in str(info.value)
    assert isinstance(info.value, KeyError) and isinstance(info.value, AutomatonError)
    with pytest.raises(UnknownLanguageError, match="flip_flop"):
        F.get("flip-flop")
    for spec, want in (("PARITY", "parity"), ("Cyclic(3)", "cyclic"), ("FLIP_FLOP", "flip_flop")):
        with pytest.raises(UnknownLanguageError) as info:      # listed every language before
            F.get(spec)
        assert info.value.suggestions == [want] and "known languages" not in str(info.value)
    with pytest.raises(UnknownLanguageError, match="known languages: aa_star") as info:
        F.get("zzzzzzzz")
    assert info.value.suggestions == []


# ============================================================== parameter validation
@pytest.mark.parametrize("call,fragment", [
    (lambda: F.cyclic(m=0), "'m' must be an integer in 1..10000, got 0"),
    (lambda: F.cyclic(-4), "got -4"),
    (lambda: F.cyclic(m="5"), "must be an integer, got str '5'"),
    (lambda: F.cyclic(m=True), "must be an integer, got bool"),
    (lambda: F.cyclic(m=5.0), "must be an integer, got float"),
    (lambda: F.cyclic(q=1), "cyclic has no parameter 'q'; parameters: m, generators"),
    (lambda: F.cyclic(5, m=5), "given twice"),
    (lambda: F.cyclic(5, "all", 1), "at most 2 parameter"),
    (lambda: F.REGISTRY["ab_star"](1), "ab_star takes no parameters (write it as 'ab_star'), "
                                       "got 1 positional"),
    (lambda: F.REGISTRY["flip_flop"](3), "flip_flop takes no parameters (write it as 'flip_flop')"),
    (lambda: F.parity(accept="maybe"), "must be one of 'odd', 'even'"),
    (lambda: F.parity(accept=1), "must be a string, got int"),
    (lambda: F.contains(""), "must be a non-empty string"),
    (lambda: F.contains("abc"), "word over {a, b}"),
    (lambda: F.count_mod(3, 3), "'k' must be < m = 3"),
    (lambda: F.count_mod(3, -1), "'k' must be an integer >= 0"),
    (lambda: F.cycle_navigation(5, 5), "'target' must be < length = 5"),
    (lambda: F.modular_arithmetic(11), "integer in 2..10"),
    (lambda: F.modular_arithmetic(5, 7), "'target' must be < m = 5"),
    (lambda: F.grid_world(5, 5), "'target' must be in -5..4"),
    (lambda: F.grid_world(5, -6), "'target' must be in -5..4"),
    (lambda: F.symmetric(9), "integer in 2..8"),
    (lambda: F.symmetric(7, "all"), "needs n <= 6"),
    (lambda: F.alternating(7, "all"), "needs n <= 6"),
    (lambda: F.cyclic(201, "all"), "needs m <= 200"),
    (lambda: F.dihedral(101, "all"), "needs m <= 100"),
    (lambda: F.dihedral(2), "integer in 3..10000"),
    (lambda: F.dyck(20, 3), "more than the limit 100000"),
    (lambda: F.tomita(8), "integer in 1..7"),
])
def test_bad_parameters_raise_family_parameter_error(call, fragment):
    with pytest.raises(FamilyParameterError) as info:
        call()
    assert fragment in str(info.value)
    assert info.value.column is None


def test_parameter_error_names_the_parameter():
    with pytest.raises(FamilyParameterError) as info:
        F.grid_world(width=3, target=9)
    assert info.value.param == "target"
    with pytest.raises(FamilyParameterError) as info:
        F.get("dihedral(m=4, generators=none)")
    assert info.value.param == "generators" and info.value.spec.startswith("dihedral")


def test_param_valid_text():
    assert F.Param("m", 3, "").valid == "integer"
    assert F.Param("m", 3, "", maximum=4).valid == "integer <= 4"
    assert F.Param("m", 3, "", minimum=1, maximum=4).valid == "integer in 1..4"
    assert F.Param("s", "a", "", choices=("a", "b")).valid == "one of 'a', 'b'"
    assert F.Param("s", "a", "").valid == "non-empty string"
    assert F.Param("s", "a", "").type is str


def test_family_spec_round_trips():
    fam = F.REGISTRY["dihedral"]
    assert fam.spec() == "dihedral"
    assert fam.spec(m=6) == "dihedral(6)"
    assert fam.spec(generators="all") == "dihedral(4, all)"
    assert F.get(fam.spec(m=5, generators="all")) is fam(m=5, generators="all")
    assert F.REGISTRY["contains"].spec(pattern="ba") == "contains(ba)"
    assert F.REGISTRY["grid_world"].spec(width=3, target=0) == "grid_world(3, 0)"
    assert fam.defaults == {"m": 4, "generators": "standard"}


# ============================================================== register
def test_register_adds_a_validating_family_and_rejects_mismatches():
    name = "_test_only_family"
    try:
        @F.register(params=(F.Param("n", 2, "size", minimum=1),))
        def _test_only_family(n: int = 2) -> DFA:
            """Words over {a} of length divisible by n.

            Examples
            --------
            >>> 1
            1
            """
            return DFA.from_function(0, "a", lambda q, a: (q + 1) % n, lambda q: q == 0)

        assert F.REGISTRY[name].summary == "Words over {a} of length divisible by n."
        assert _test_only_family(3).n_states == 3
        assert F.get(f"{name}(4)").n_states == 4
        with pytest.raises(FamilyParameterError, match="'n' must be an integer >= 1"):
            _test_only_family(0)
        with pytest.raises(FamilyParameterError, match="already registered"):
            F.register(name)(_test_only_family)
    finally:
        F.REGISTRY.pop(name, None)

    def builder(m: int = 3) -> DFA:
        """Doc."""
        raise AssertionError

    with pytest.raises(FamilyParameterError, match="do not match the builder's signature"):
        F.register("_test_bad_a", params=(F.Param("m", 4, "wrong default"),))(builder)
    with pytest.raises(FamilyParameterError, match="do not match"):
        F.register("_test_bad_b")(builder)
    with pytest.raises(FamilyParameterError, match="not an identifier"):
        F.register("bad name", params=(F.Param("m", 3, ""),))(builder)

    def undocumented() -> DFA:
        raise AssertionError

    with pytest.raises(FamilyParameterError, match="needs a summary"):
        F.register("_test_bad_c")(undocumented)
    assert not any(k.startswith("_test") for k in F.REGISTRY)


# ============================================================== catalogue
REQUIRED_IN_CATALOGUE = [
    "parity", *(f"cyclic({m})" for m in range(2, 13)), *(f"dihedral({m})" for m in range(4, 9)),
    *(f"symmetric({n})" for n in range(3, 7)), "alternating(4)", "alternating(5)", "quaternion",
]


def test_catalogue_contents():
    entries = F.catalogue()
    names = [e.name for e in entries]
    assert len(names) == len(set(names))
    for required in REQUIRED_IN_CATALOGUE:
        assert required in names
    assert {e.family for e in entries} == set(F.REGISTRY)
    for e in entries:
        assert isinstance(e, F.CatalogueEntry)
        assert F.get(e.name) is e.dfa
        assert F.parse_spec(e.name)[0] == e.family
        assert e.dfa.is_minimal()
    sizes = {e.name: e.dfa.n_states for e in entries}
    assert sizes["symmetric(6)"] == 720 and sizes["alternating(5)"] == 60
    assert sizes["dihedral(8)"] == 16 and sizes["quaternion"] == 8


def test_a_spec_with_arguments_for_a_family_without_parameters():
    """``flip_flop(3)`` said "takes at most 0 parameter(s) (none)" (cold pass finding)."""
    with pytest.raises(FamilyParameterError, match=r"^flip_flop takes no parameters \(write it "
                                                   r"as 'flip_flop'\) at column 11"):
        F.get("flip_flop(3)")
