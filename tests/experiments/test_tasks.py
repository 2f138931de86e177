"""Every task generator against the DFAs of statetrack.automata.families (every example), plus
an independent oracle per task (Python arithmetic, permutation products)."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest

from experiments.automata import modular_arithmetic_brackets, nesting_depth, value_of
from experiments.tasks import (IGNORE, TASKS, Examples, LabelMismatchError, TaskError,
                               make_task, verify)

ALL = [*TASKS, "dfa:count_mod(3)", "dfa:dyck(2)", "dfa:tomita(5)", "dfa:quaternion"]


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("lengths", [(3, 40), (60, 60)])
def test_labels_match_the_dfa_on_every_example(name, lengths):
    task = make_task(name)
    seed = sum(map(ord, name)) + lengths[0]
    ex = task.sample(np.random.default_rng(seed), 96, *lengths)
    assert verify(task, ex) == 96
    assert ex.tokens.dtype == np.int64 and ex.targets.shape == ex.tokens.shape
    assert ex.tokens.min() >= 0 and ex.tokens.max() < task.vocab_size
    lab = ex.targets[ex.targets != IGNORE]
    assert lab.min() >= 0 and lab.max() < task.num_classes
    assert ((ex.lengths >= lengths[0]) & (ex.lengths <= lengths[1])).all()
    if not task.per_position:
        assert ((ex.targets != IGNORE).sum(1) == 1).all()
    # seeded: the same generator state gives the same batch
    again = task.sample(np.random.default_rng(seed), 96, *lengths)
    assert np.array_equal(again.tokens, ex.tokens) and np.array_equal(again.targets, ex.targets)


@pytest.mark.parametrize("name", ["parity", "mod_arith", "mod_arith_brackets", "s3"])
def test_verify_catches_a_wrong_label(name):
    task = make_task(name)
    ex = task.sample(np.random.default_rng(1), 8, 10, 20)
    tg = ex.targets.copy()
    i, j = np.argwhere(tg != IGNORE)[3]
    tg[i, j] = (tg[i, j] + 1) % task.num_classes
    with pytest.raises(LabelMismatchError, match="example"):
        verify(task, Examples(ex.tokens, tg, ex.lengths))


def test_parity_answer_is_the_count_of_ones():
    task = make_task("parity")
    ex = task.sample(np.random.default_rng(2), 200, 2, 50)
    for tok, tg, L in zip(ex.tokens, ex.targets, ex.lengths):
        assert tg[L - 2] == 1 + (int((tok[:L - 1] == 2).sum()) % 2)


def test_mod_arith_value_by_python():
    task = make_task("mod_arith")
    sym = {1: "+", 2: "-", 3: "*", **{5 + d: str(d) for d in range(5)}}
    ex = task.sample(np.random.default_rng(3), 200, 3, 41)
    for tok, tg, L in zip(ex.tokens, ex.targets, ex.lengths):
        E = int(task.expression_length(L))
        assert E % 2 == 1 and E in (L - 2, L - 3)
        assert tg[E] - 5 == eval("".join(sym[int(x)] for x in tok[:E])) % 5


def test_mod_arith_brackets_value_by_python_and_paper_lengths():
    task = make_task("mod_arith_brackets")
    ex = task.sample(np.random.default_rng(4), 200, 3, 40)
    for tok, tg, L in zip(ex.tokens, ex.targets, ex.lengths):
        E = max(int(L), 5) - 3
        word = [task.symbols[int(x)] for x in tok[:E]]
        assert "*" not in word and task.symbols[int(tok[E])] == "="
        assert tg[E] == value_of(word, 5)


def test_brackets_dfa_against_python_on_all_short_words():
    alphabet = ["0", "1", "2", "+", "-", "(", ")"]
    dfas = [modular_arithmetic_brackets(3, 2, r) for r in range(3)]
    import re

    grammar = re.compile(r"^[-+()0-2]*$")
    n_ok = 0
    for n in range(1, 7):
        for w in itertools.product(alphabet, repeat=n):
            s = "".join(w)
            accepted = [d.accepts(s) for d in dfas]
            try:
                ok = (grammar.match(s) and nesting_depth(s) <= 2
                      and _well_formed(s))
                val = value_of(s, 3) if ok else None
            except SyntaxError:
                ok, val = False, None
            assert sum(accepted) == (1 if ok else 0), s
            if ok:
                n_ok += 1
                assert accepted[val], s
    assert n_ok > 300


def _well_formed(s: str) -> bool:
    """The grammar of experiments.automata by recursive descent."""
    pos = 0

    def term() -> bool:
        nonlocal pos
        if pos < len(s) and s[pos].isdigit():
            pos += 1
            return True
        if pos + 1 < len(s) and s[pos] == "-" and s[pos + 1].isdigit():
            pos += 2
            return True
        if pos < len(s) and s[pos] == "(":
            pos += 1
            if not expr() or pos >= len(s) or s[pos] != ")":
                return False
            pos += 1
            return True
        return False

    def expr() -> bool:
        nonlocal pos
        if not term():
            return False
        while pos < len(s) and s[pos] in "+-":
            pos += 1
            if not term():
                return False
        return True

    return expr() and pos == len(s)


def _perm_of_letter(task_name: str, letter: str, n: int) -> list[int]:
    if letter.startswith("t"):
        i, j = int(letter[1]), int(letter[2])
        p = list(range(n))
        p[i], p[j] = j, i
        return p
    return [int(c) for c in letter]


@pytest.mark.parametrize("name,n", [("s3", 3), ("s3_swaps", 3), ("s5", 5), ("s5_swaps", 5)])
def test_word_problem_labels_are_the_permutation_products(name, n):
    task = make_task(name)
    dfa = task.dfa
    ex = task.sample(np.random.default_rng(5), 40, 1, 30)
    for tok, tg, L in zip(ex.tokens, ex.targets, ex.lengths):
        pi = list(range(n))
        for t in range(L):
            sigma = _perm_of_letter(name, dfa.alphabet[int(tok[t])], n)
            pi = [sigma[x] for x in pi]                       # sigma o pi
            assert dfa.state_label(int(tg[t])) == "".join(map(str, pi))


def test_z60_labels_are_sums():
    task = make_task("z60")
    dfa = task.dfa
    ex = task.sample(np.random.default_rng(6), 40, 1, 30)
    for tok, tg, L in zip(ex.tokens, ex.targets, ex.lengths):
        sums = np.cumsum([int(dfa.alphabet[int(x)]) for x in tok[:L]]) % 60
        assert [int(dfa.state_label(int(q))) for q in tg[:L]] == sums.tolist()


def test_flip_flop_labels_are_the_last_write():
    task = make_task("flip_flop")
    dfa = task.dfa
    ex = task.sample(np.random.default_rng(7), 40, 1, 50)
    for tok, tg, L in zip(ex.tokens, ex.targets, ex.lengths):
        mem = 0
        for t in range(L):
            a = dfa.alphabet[int(tok[t])]
            mem = mem if a == "_" else int(a)
            assert dfa.state_label(int(tg[t])) == str(mem)


def test_bad_arguments():
    with pytest.raises(TaskError, match="unknown name"):
        make_task("nope")
    with pytest.raises(TaskError, match="min_length"):
        make_task("parity").sample(np.random.default_rng(0), 4, 1, 5)
    with pytest.raises(TaskError, match="n must be"):
        make_task("s3").sample(np.random.default_rng(0), 0, 1, 5)
    with pytest.raises(ValueError, match="depth"):
        modular_arithmetic_brackets(5, 17, 0)


@pytest.mark.parametrize("name", ["parity", "mod_arith", "mod_arith_brackets", "s3_swaps",
                                  "dfa:cyclic(3)"])
@pytest.mark.parametrize("rng", [0, None, np.random.RandomState(0)])
def test_sample_refuses_an_rng_that_is_not_a_generator(name, rng):
    """``task.sample(0, ...)`` ended in "'int' object has no attribute 'integers'"."""
    task = make_task(name)
    with pytest.raises(TaskError, match=rf"^{re.escape(name)}: rng must be a "
                                        rf"numpy.random.Generator .*got "):
        task.sample(rng, 2, task.min_length, task.min_length + 2)


@pytest.mark.parametrize("name", [None, 3, 2.5])
def test_make_task_refuses_a_name_that_is_not_a_string(name):
    """``make_task(None)`` ended in "'NoneType' object has no attribute 'startswith'"."""
    with pytest.raises(TaskError, match=r"^task: expected a task name \(a str\), got .*known: "
                                        r"parity"):
        make_task(name)


@pytest.mark.parametrize("acc", [1.5, -0.1, float("nan"), "0.5", None, True])
def test_scaled_refuses_an_accuracy_outside_0_1(acc):
    """``Task.scaled(1.5)`` returned 2.0 without complaint (cold pass finding)."""
    task = make_task("parity")
    with pytest.raises(TaskError, match=r"^parity: accuracy must be a real number in \[0, 1\]"):
        task.scaled(acc)
    assert task.scaled(0.5) == 0.0 and task.scaled(1) == 1.0 and task.scaled(np.float64(0.75)) \
        == 0.5


def test_verify_refuses_arguments_that_are_not_a_task_and_its_examples():
    """``verify(task, None)`` ended in an AttributeError about ``tokens`` (cold pass finding)."""
    task = make_task("parity")
    ex = task.sample(np.random.default_rng(0), 2, 4, 4)
    with pytest.raises(TaskError, match=r"^verify: ex must be the Examples of task.sample, "
                                        r"got NoneType"):
        verify(task, None)
    with pytest.raises(TaskError, match=r"^verify: task must be a Task \(from make_task\), "
                                        r"got str"):
        verify("parity", ex)
    assert verify(task, ex) == 2
