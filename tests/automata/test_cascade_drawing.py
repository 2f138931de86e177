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
