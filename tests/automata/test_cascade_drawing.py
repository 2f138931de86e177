"""Dependencies between cascade levels, and the cascade figure."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from statetrack.automata.cascade_drawing import draw_cascade, level_dependencies
from statetrack.constructions.cascade import TableCascade, cascade_construction


def _flip_flop_counter(depends: bool) -> TableCascade:
    def act(level, letter, lower):
        if level == 0:
            return [(1, 1), (0, 0), (0, 1)][letter]
        if level == 1:
            return (1, 0) if letter == 2 and (lower[0] == 1 or not depends) else (0, 1)
        return (1, 0) if letter == 2 and lower[1] == 1 else (0, 1)  # reads level 1 only

    return TableCascade("sra", (2, 2, 2), act, (0, 0, 0))


def test_dependencies_found_from_the_actions():
    assert level_dependencies(_flip_flop_counter(True)) == ((), (0,), (1,))
    assert level_dependencies(_flip_flop_counter(False)) == ((), (), (1,))


def test_draw_cascade_with_its_stack(tmp_path):
    c = _flip_flop_counter(True)
    dfa = c.as_dfa(lambda x: x[2] == 1)
    fig = draw_cascade(c, cascade_construction(c, dfa, minimize=False), title="t")
    assert len(fig.axes) == 2
    texts = [t.get_text() for t in fig.axes[1].texts]
    assert sum(": level" in t for t in texts) == 3 and sum(": delay" in t for t in texts) == 2
    out = tmp_path / "c.png"
    fig.savefig(out)
    assert out.stat().st_size > 1000


def test_draw_a_cascade_without_levels(tmp_path):
    """A one-state DFA's decomposition has no levels: drawn as such (max() of nothing
    raised), and a one-layer stack is '1 layer'."""
    from statetrack.automata import DFA, holonomy_decomposition
    from statetrack.constructions import compile_cascade

    d = DFA([[0, 0]], accepting=[0], alphabet="ab")
    casc = holonomy_decomposition(d)
    model = compile_cascade(d)
    fig = draw_cascade(casc, model)
    assert any("no levels" in t.get_text() for t in fig.axes[0].texts)
    assert fig.axes[1].get_title() == "the stack: 1 layer (bottom first)"
    fig.savefig(tmp_path / "one.png")
    assert (tmp_path / "one.png").stat().st_size > 1000
