r"""Tests of statetrack.automata.regex (from_regex) and its strategy (regexes).

The oracle is Python's own ``re``: for random patterns drawn by ``regexes`` the minimal DFA
must accept exactly the words that ``re.fullmatch`` matches -- checked on every word up to a
length and on random longer words. Minimality is checked twice: by ``DFA.is_minimal`` and,
independently of our minimizer, by counting Myhill–Nerode classes with ``re.fullmatch``
(access words of length <= n-1, suffixes of length <= n-2 separate all classes of an n-state
minimal DFA). Every error case is checked with its column.
"""

from __future__ import annotations

import itertools
import re
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from statetrack.automata import DFA
from statetrack.automata._regex_strategies import regexes
from statetrack.automata.errors import (
    AlphabetError,
    AutomatonSizeError,
    RegexError,
    StrategyArgumentError,
)
from statetrack.automata.regex import (
    MAX_IMPLICIT_ALPHABET,
    MAX_NESTING,
    MAX_REPEAT,
    from_regex,
)

SETTINGS = dict(database=None, deadline=None, derandomize=True)


def all_words(alphabet, max_len):
    return ["".join(w) for n in range(max_len + 1) for w in itertools.product(alphabet, repeat=n)]


def fullmatch(pattern: str, word: str) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a pattern Python only warns about is a strategy bug
        return re.fullmatch(pattern, word) is not None


def assert_agrees(pattern: str, alphabet, words) -> DFA:
    d = from_regex(pattern, alphabet)
    got = d.run(words).accepted.tolist()
    want = [fullmatch(pattern, w) for w in words]
    bad = [w for w, g, e in zip(words, got, want) if g != e]
    assert not bad, f"{pattern!r} disagrees with re.fullmatch on {bad[:5]}"
    return d


AB_WORDS = all_words("ab", 6)


# ---------------------------------------------------------------- agreement with re


@settings(max_examples=300, **SETTINGS)
@given(regexes(alphabet="ab"), st.lists(st.text("ab", max_size=14), max_size=5))
def test_agrees_with_re_fullmatch_ab(pattern, extra):
    d = assert_agrees(pattern, "ab", AB_WORDS + extra)
    assert d.is_minimal()
    assert d.alphabet == ("a", "b")


@settings(max_examples=150, **SETTINGS)
@given(regexes(alphabet="abc", max_depth=5, max_leaves=12, max_repeat=4),
       st.lists(st.text("abc", max_size=10), max_size=5))
def test_agrees_with_re_fullmatch_deeper(pattern, extra):
    d = assert_agrees(pattern, "cab", all_words("abc", 4) + extra)
    assert d.is_minimal()
    assert d.alphabet == ("c", "a", "b")  # the given order is kept


SPECIAL = "ab\n-]^\\{}.é1 _"


@settings(max_examples=150, **SETTINGS)
@given(regexes(alphabet=SPECIAL, max_leaves=6), st.lists(st.text(SPECIAL, max_size=8),
                                                         max_size=10))
def test_agrees_with_re_on_special_characters(pattern, extra):
    """Metacharacters, newline (against '.'), space and '_' (against \\s, \\w), a digit."""
    assert_agrees(pattern, SPECIAL, all_words(SPECIAL, 2) + extra)


# Raw pattern text, unlike ``regexes``' well-formed trees: unescaped metacharacters where
# they may be literals (``]``, ``}``, ``-``), lone braces and backslashes, comments, named
# groups, anchors, lookarounds, flags and possessive quantifiers, in any order.
SOUP = ["a", "b", "(", ")", "(?:", "(?P<g>", "(?#", "[", "[^", "]", "-", "{", "}", ",", "*",
        "+", "?", "|", ".", "\\", "\\d", "\\W", "\\-", "\\]", "\\)", "\\\\",
        "\\x61", "\\0", "\\n", "$", "{2}", "{,2}", "{1,}", "*?", "*+"]
SOUP_ALPHABET = "ab1-,]}{.|*+?()[^$\\\n\x08\0"


@settings(max_examples=2000, **SETTINGS)  # ~3 s; at 1000 it misses the old (?#\) bug
@given(st.lists(st.sampled_from(SOUP), max_size=8),
       st.lists(st.text(SOUP_ALPHABET, max_size=6), max_size=8))
def test_token_soup_is_refused_or_agrees_with_re(tokens, extra):
    """Any text: from_regex refuses it with a RegexError whose column is in the pattern, or
    Python compiles it too and both accept the same words (the dialect's promise that every
    pattern it takes is a valid Python pattern with the same meaning)."""
    pattern = "".join(tokens)
    try:
        d = from_regex(pattern, SOUP_ALPHABET, max_states=2000)
    except RegexError as e:
        assert e.pattern == pattern and 1 <= e.column <= max(len(pattern), 1), e
        return
    except AutomatonSizeError:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FutureWarning on possible set syntax such as "[["
        compiled = re.compile(pattern)   # re.error here: we took what Python refuses
    words = all_words("ab-]\n", 3) + extra
    got = d.run(words).accepted.tolist()
    bad = [w for w, g in zip(words, got) if g != (compiled.fullmatch(w) is not None)]
    assert not bad, f"{pattern!r} disagrees with re.fullmatch on {bad[:5]}"


@settings(max_examples=80, **SETTINGS)
@given(regexes(alphabet="ab", max_leaves=6))
def test_minimal_by_counting_myhill_nerode_classes_with_re(pattern):
    d = from_regex(pattern, "ab")
    n = d.n_states
    if n > 6:
        return  # the brute force below is exponential in n
    suffixes = all_words("ab", max(n - 2, 0))
    signatures = {tuple(fullmatch(pattern, u + v) for v in suffixes)
                  for u in all_words("ab", n - 1)}
    assert len(signatures) == n


@pytest.mark.parametrize("pattern", [
    r"\x61\u0062\U00000063", r"\N{LATIN SMALL LETTER A}b", r"\t\n\r\f\v\a", r"\0\01\012",
    r"[\x61-\x63]+", r"[\b]", r"\.\*\\\(\)\[\]\{\}\|\?\+\^\$", r"[]a]+", r"[^]a]", r"[a-]",
    r"[-a]", r"[a-b-c]", r"[\]-a]*", r"}]", r"a{,2}b{,}c{2,}", r"(?P<x>a)(?P<y>b)?",
    r"a(?#comment)*b", r"(?:)*", r"()+", r"(a|)(|b)", r"a*?b+?c??d{1,2}?",
])
def test_dialect_features_agree_with_re(pattern):
    alphabet = "abcd\t\n\r\f\v\a\0\1\x08.*\\()[]{}|?+^$-"
    assert_agrees(pattern, alphabet, all_words("abcd", 3) + [
        "abc", "\t\n\r\f\v\a", "\0\1\n", "\x08", ".*\\()[]{}|?+^$", "]", "-", "a-", "}]",
        "abbcc", "ab", "a", "aab", "abcdd", "", "aaab", "-a", "b-"])


def _bmp():
    return [chr(i) for i in range(0x10000)]


@pytest.mark.parametrize("pattern", [r"\d", r"\w", r"\s", "."])
def test_shorthands_and_dot_match_pythons_unicode_rules(pattern):
    alphabet = _bmp() + [chr(i) for i in range(0x10000, 0x110000, 97)]
    d = from_regex(pattern, alphabet)
    want = [re.fullmatch(pattern, c) is not None for c in alphabet]
    assert d.run(alphabet).accepted.tolist() == want
    assert d.n_states == 3


def test_dot_excludes_newline_but_negated_class_includes_it():
    d = from_regex(".", "a\n")
    assert d.accepts("a") and not d.accepts("\n")
    assert from_regex("[^a]", "a\n").accepts("\n")
    assert from_regex(r"(?:.|\n)*", "a\n").accepts("a\n\na")


# ---------------------------------------------------------------- equivalences and shapes


@pytest.mark.parametrize("left, right", [
    ("(a|b)*", "[ab]*"), ("a{2,3}", "aa|aaa"), ("a{3}", "aaa"), ("a{2,}", "aaa*"),
    ("a{,2}", "|a|aa"), ("a+", "aa*"), ("a?", "a|"), ("(a*)*", "a*"), ("(a|b)*", ".*"),
    ("[^a]", "b"), (r"\w*", "[ab]*"), (r"\d", "[^ab]"), ("(a?){5}", "a{0,5}"),
    ("(a?){2,}", "a*"), ("(ab|a)*", "(a|ab)*"), ("a*?", "a*"), ("()", ""), ("a{0}", ""),
    ("(?:a|b){0}b", "b"), ("a|", "(?:a)?"), ("(a|b)*a(a|b){2}", "[ab]*a[ab][ab]"),
])
def test_equivalences(left, right):
    l, r = from_regex(left, "ab"), from_regex(right, "ab")
    assert l.is_equivalent(r)
    assert l == r  # minimal and canonically numbered, so equal as objects


def test_empty_pattern_accepts_only_the_empty_word():
    d = from_regex("", "ab")
    assert d.accepts("")
    assert not any(d.accepts(w) for w in AB_WORDS[1:])
    assert d.n_states == 2 and d.is_minimal()


def test_repeat_zero_is_the_empty_word():
    for p in ("a{0}", "(ab|b){0}", "(?:a{2,}){0}", "a{0,0}"):
        d = from_regex(p, "ab")
        assert [w for w in AB_WORDS if d.accepts(w)] == [""], p


def test_empty_language():
    d = from_regex(r"\d", "ab")
    assert d.is_empty() and d.n_states == 1


def test_fifty_nested_groups():
    p = "(" * 50 + "a|b" + ")" * 50 + "*"
    d = assert_agrees(p, "ab", AB_WORDS)
    assert d == from_regex("[ab]*", "ab")
    q = "(?:" * 50 + "a" + ")*" * 50
    assert from_regex(q, "ab") == from_regex("a*", "ab")


def test_nesting_limit():
    ok = "(" * MAX_NESTING + "a" + ")" * MAX_NESTING
    assert from_regex(ok, "a").accepts("a")
    deep = "(" * (MAX_NESTING + 1) + "a" + ")" * (MAX_NESTING + 1)
    with pytest.raises(RegexError, match="nested more than") as e:
        from_regex(deep, "a")
    assert e.value.column == MAX_NESTING + 1


def test_large_bounded_repetition():
    d = from_regex(f"a{{{MAX_REPEAT}}}", "ab")
    assert d.n_states == MAX_REPEAT + 2  # counter 0..1000 and a dead state
    assert d.accepts("a" * MAX_REPEAT) and not d.accepts("a" * (MAX_REPEAT - 1))
    e = from_regex("(a?){1000}b{2,1000}", "ab")
    assert e.accepts("a" * 1000 + "bb") and not e.accepts("a" * 1001 + "bb")
    assert e.is_minimal()


def test_exponential_blowup_is_exact_and_guarded():
    d = from_regex("(a|b)*a(a|b){9}", "ab")
    assert d.n_states == 2 ** 10  # the k-th symbol from the end: no smaller DFA exists
    with pytest.raises(AutomatonSizeError, match="max_states=100"):
        from_regex("(a|b)*a(a|b){9}", "ab", max_states=100)
    with pytest.raises(AutomatonSizeError, match="positive int"):
        from_regex("a", "ab", max_states=0)


def test_max_states_counts_the_non_empty_subsets():
    # "ab" over "ab": subsets {0}, {1}, {2} and the empty one (the sink, not counted)
    assert from_regex("ab", "ab", max_states=3).n_states == 4
    with pytest.raises(AutomatonSizeError, match="max_states=2"):
        from_regex("ab", "ab", max_states=2)


@pytest.mark.parametrize("pattern, alphabet", [
    ("x{70}|(a|b)*a(a|b){5}", "abx"),       # two words per subset, subsets spread over both
    ("(a|b)*a(a|b){5}(x{64})?", "abx"),
    ("((ab|b)*a?){3}c{60}(a|c)*", "abc"),
])
def test_subsets_of_more_than_64_positions(pattern, alphabet):
    import random

    rng = random.Random(5)
    longer = ["".join(rng.choice(alphabet) for _ in range(rng.randrange(60, 90)))
              for _ in range(200)]
    longer += [w for w in ["x" * 70, "a" + "ab" * 3 + "x" * 64, "ab" * 3 + "c" * 60 + "ac"]
               if set(w) <= set(alphabet)]
    d = assert_agrees(pattern, alphabet, all_words(alphabet, 6) + longer)
    assert d.is_minimal()


def test_compiled_and_python_subset_construction_agree():
    from statetrack.automata import _subset

    py = getattr(_subset.subset_construction, "py_func", _subset.subset_construction)
    rng = np.random.default_rng(3)

    def bits(n_bits, count):  # a set of `count` random positions (repeats allowed)
        return sum(1 << int(b) for b in rng.integers(0, n_bits, size=count))

    # one word (5 and 24 positions), one full word (64: 16,027 subsets, so the arrays grow
    # and the table is rehashed several times) and three words (130)
    sizes = []
    for n_bits, k in [(5, 2), (24, 2), (64, 3), (130, 2)]:
        follow = _subset.bitsets([bits(n_bits, 3) for _ in range(n_bits)], n_bits)
        pos = _subset.bitsets([bits(n_bits, n_bits // 2) for _ in range(k)], n_bits)
        last = _subset.bitsets([bits(n_bits, 4)], n_bits)[0]
        with np.errstate(over="ignore"):
            want = _subset.subset_construction(follow, pos, last, 10**6)
            got = py(follow, pos, last, 10**6)
        m = want[2]
        assert got[2] == m and not want[3] and not got[3]
        assert got[0][:m].tolist() == want[0][:m].tolist()
        assert got[1][:m].tolist() == want[1][:m].tolist()
        assert (want[0][:m] >= 0).all() and (want[0][:m] < m).all()
        # replay the table with Python ints: each row is the definition's move, and the
        # subsets named by different ids differ
        as_int = [int.from_bytes(r.astype("<u8").tobytes(), "little") for r in follow]
        pos_int = [int.from_bytes(r.astype("<u8").tobytes(), "little") for r in pos]
        last_int = int.from_bytes(last.astype("<u8").tobytes(), "little")
        subset = {0: 1}
        for i in range(m):
            reach = 0
            for p in range(n_bits):
                if subset[i] >> p & 1:
                    reach |= as_int[p]
            for a in range(k):
                assert subset.setdefault(int(want[0][i, a]), reach & pos_int[a]) == \
                    reach & pos_int[a]
            assert bool(want[1][i]) == bool(subset[i] & last_int)
        assert len(set(subset.values())) == m
        sizes.append(m)
    assert max(sizes) > 1024  # the arrays grew and the table was rehashed
    with np.errstate(over="ignore"):
        assert _subset.subset_construction(follow, pos, last, 1)[3]


# ---------------------------------------------------------------- the alphabet


def test_alphabet_none_is_the_named_characters():
    d = from_regex("c.a")
    assert d.alphabet == ("a", "c")
    assert d.accepts("caa") and d.accepts("cca")
    assert from_regex("[b-d]x").alphabet == ("b", "c", "d", "x")
    e = from_regex("[^a]|b")  # [^a] over {a, b} is b
    assert e == from_regex("b", "ab")
    assert from_regex(r"a\d").alphabet == ("a",)  # shorthands name nothing


def test_alphabet_given_as_iterable_and_order_kept():
    d = from_regex("a*b", ["b", "a"])
    assert d.alphabet == ("b", "a")
    assert d.accepts(["a", "a", "b"])


@pytest.mark.parametrize("pattern, alphabet, message", [
    ("", None, "names no character"),
    (".*", None, "names no character"),
    ("a", "", "empty"),
    ("a", "aa", "duplicate"),
    ("a", ["a", "bc"], "one-character"),
    ("a", ["a", 1], "one-character"),
    ("a", 5, "iterable"),
])
def test_alphabet_errors(pattern, alphabet, message):
    with pytest.raises(AlphabetError, match=message):
        from_regex(pattern, alphabet)


def test_implicit_alphabet_limit():
    with pytest.raises(RegexError, match="spans 65536 characters") as e:
        from_regex(r"a[\x00-\uffff]")
    assert e.value.column == 3
    top = chr(0x100 + MAX_IMPLICIT_ALPHABET - 1)
    d = from_regex(f"[\u0100-{top}]")
    assert len(d.alphabet) == MAX_IMPLICIT_ALPHABET and d.n_states == 3
    with pytest.raises(RegexError, match="names more than") as e:
        from_regex(f"[\u0100-{top}]x")
    assert e.value.column == len(f"[\u0100-{top}]") + 1


# ---------------------------------------------------------------- errors with columns


@pytest.mark.parametrize("pattern, column, message", [
    ("(a", 1, "missing '\\)'"),
    ("a(b(a)", 2, "missing '\\)'"),
    ("a)", 2, "unbalanced parenthesis"),
    ("(a))b", 4, "unbalanced parenthesis"),
    ("*a", 1, "nothing to repeat"),
    ("a|*", 3, "nothing to repeat"),
    ("(+)", 2, "nothing to repeat"),
    ("(?#c)?", 6, "nothing to repeat"),
    ("a**", 3, "multiple repeat"),
    ("a{2}{3}", 5, "multiple repeat"),
    ("a*??", 4, "multiple repeat"),
    ("[z-a]", 2, "bad character range z-a"),
    ("ab[ba-A]", 5, "bad character range a-A: .a. comes after .A."),
    (r"[\d-b]", 2, "shorthand cannot be a range end"),
    (r"[a-\w]", 2, "shorthand cannot be a range end"),
    ("[ab", 1, "unterminated character class"),
    ("a{", 2, "bad repetition"),
    ("a{x}", 2, "bad repetition"),
    ("a{1,2,3}", 2, "bad repetition"),
    ("a{}", 2, "bad repetition"),
    ("a{ 1}", 2, "bad repetition"),
    ("b{1", 2, "bad repetition"),
    ("{1}", 1, "nothing to repeat"),
    ("aa{3,2}", 3, "min 3 is greater than max 2"),
    ("a{1001}", 2, "larger than the limit 1000"),
    ("a{2,1001}", 2, "larger than the limit 1000"),
    ("(a{1000}){1000}", 10, "unrolls to 1000000"),
    ("abc", 3, "'c' is not a symbol"),
    ("a[bc]", 4, "'c' is not a symbol"),
    (r"a\x63", 2, "'c' is not a symbol"),
    ("^a", 1, "anchor '\\^'"),
    ("a$", 2, "anchor '\\$'"),
    (r"a\b", 2, "anchor \\\\b"),
    (r"\Aa", 1, "anchor \\\\A"),
    (r"a\Z", 2, "anchor \\\\Z"),
    (r"[\B]", 2, "anchor \\\\B"),
    ("(?=a)b", 1, "lookarounds"),
    ("a(?!a)", 2, "lookarounds"),
    ("(?<=a)b", 1, "lookarounds"),
    ("(?<!a)b", 1, "lookarounds"),
    ("(a)\\1", 4, "backreferences"),
    ("(?P<x>a)(?P=x)", 9, "backreferences"),
    ("(a)(?(1)a|b)", 4, "conditionals"),
    ("(?>a)", 1, "atomic groups"),
    ("(?i)a", 1, "inline flags"),
    ("a*+", 3, "possessive"),
    ("a{2}+", 5, "possessive"),
    ("a\\", 2, "lone backslash"),
    (r"a\q", 2, "bad escape \\\\q"),
    (r"\x6", 1, "incomplete escape"),
    (r"\u006", 1, "incomplete escape"),
    (r"\U00110000", 1, "beyond U\\+10FFFF"),
    (r"\N{NO SUCH NAME}", 1, "undefined character name"),
    (r"\Nx", 1, "bad escape \\\\N"),
    ("(?P<1x>a)", 1, "bad group name"),
    ("(?P<x>a)(?P<x>b)", 9, "redefinition of group name 'x'"),
    ("(?#open", 1, "comment is never closed"),
])
def test_errors_name_the_column(pattern, column, message):
    with pytest.raises(RegexError, match=message) as e:
        from_regex(pattern, "ab")
    err = e.value
    assert err.column == column
    assert err.pattern == pattern
    caret_line = str(err).splitlines()[-1]
    assert caret_line == "  " + " " * (column - 1) + "^"
    assert f"at column {column}" in str(err)


def test_close_bracket_first_in_a_class_is_a_literal():
    for p in ("a[]", "a[^]", "[]a"):
        with pytest.raises(RegexError, match="unterminated character class") as e:
            from_regex(p, "ab]")
        assert e.value.column == p.index("[") + 1


def test_malformed_patterns_are_malformed_for_python_too():
    """Where Python accepts a pattern this dialect refuses, the refusal is documented:
    a literal '{' (Python reads a{x} as text) or constructs with other semantics."""
    for p in ("(a", "a)", "*a", "a**", "[z-a]", "[ab", "a{2,1}"):
        with pytest.raises(re.error):
            re.compile(p)


def test_a_backslash_in_a_comment_hides_the_next_character():
    """As in Python's parser: ``\\)`` does not close a comment (it used to, silently
    turning the rest of the comment into pattern text)."""
    d = assert_agrees(r"(?#\)(|b)a", "ab", AB_WORDS)
    assert d == from_regex("a", "ab")
    assert assert_agrees(r"a(?#\\)b", "ab", AB_WORDS) == from_regex("ab", "ab")
    for p in (r"(?#\)", r"a(?#b\)", "(?#\\"):
        with pytest.raises(re.error):
            re.compile(p)
        with pytest.raises(RegexError, match="comment is never closed") as e:
            from_regex(p, "ab")
        assert e.value.column == p.index("(") + 1


def test_pattern_must_be_a_string():
    with pytest.raises(RegexError, match="must be a str, got bytes"):
        from_regex(b"a", "ab")


# ---------------------------------------------------------------- the strategy


def test_regexes_argument_errors():
    with pytest.raises(StrategyArgumentError, match="max_depth must be >= 0"):
        regexes(max_depth=-1)
    with pytest.raises(StrategyArgumentError, match="max_leaves must be an int"):
        regexes(max_leaves=2.5)
    with pytest.raises(StrategyArgumentError, match="max_repeat must be >= 0"):
        regexes(max_repeat=-2)
    with pytest.raises(AlphabetError, match="one-character"):
        regexes(alphabet=["ab"])
    with pytest.raises(AlphabetError, match="duplicate"):
        regexes(alphabet="aa")
    with pytest.raises(AlphabetError, match="str or a sequence"):
        regexes(alphabet=3)


def _paren_depth(p: str) -> int:
    depth = best = 0
    escaped = False
    for c in p:
        if escaped:
            escaped = False
        elif c == "\\":
            escaped = True
        elif c == "(":
            depth += 1
            best = max(best, depth)
        elif c == ")":
            depth -= 1
    return best


LEAF = re.compile(r"[ab]|\.|\\[dwsDWS]|\[\^?(?:[ab](?:-[ab])?|\\[dwsDWS])+\]|\(\)|\(\?:\)")


@settings(max_examples=100, **SETTINGS)
@given(regexes(alphabet="ab", max_leaves=1, max_depth=3))
def test_regexes_with_one_leaf_are_leaves(p):
    assert LEAF.fullmatch(p), p


@pytest.mark.parametrize("depth", [0, 1, 3])
def test_regexes_respect_depth_and_repeat_bounds(depth):
    @settings(max_examples=40, **SETTINGS)
    @given(regexes(alphabet="ab", max_depth=depth, max_repeat=2))
    def check(p):
        assert _paren_depth(p) <= depth + 1  # one level per operator, plus a '()' leaf
        assert all(int(x) <= 2 for x in re.findall(r"\d+", p))  # no digits in the alphabet

    check()


def test_regexes_shrink_to_short_patterns():
    from hypothesis import find

    p = find(regexes(), lambda p: from_regex(p, "ab").accepts("aaa")
             and not from_regex(p, "ab").accepts("a"), settings=settings(**SETTINGS))
    assert len(p) <= 6, p


def test_an_error_in_a_long_pattern_shows_a_window_not_the_whole_pattern():
    """The caret line held the whole pattern (120,115 characters for 'a' * 100000)."""
    from statetrack.automata.errors import RegexError

    with pytest.raises(RegexError) as e:
        from_regex("a" * 100_000)
    text = str(e.value)
    assert len(text) < 300 and "at column 20001" in text
    caret = text.splitlines()[-1]
    shown = text.splitlines()[-2]
    assert shown.strip().startswith("...") and caret.index("^") < len(shown)
    assert "a bounded repetition such as x{n} counts x n times" in text
