"""Pictures of cascades: which levels read which, and the components of each level.

:func:`level_dependencies` finds, from the actions alone, the lower levels whose state a
level's action really depends on (over the reachable cascade states), and
:func:`draw_cascade` draws the levels top-down in SgpDec's numbering (level 1 reads only the
input letter) with one box per component, ``(degree, group)`` or the degree of a pure reset
component, and an arrow from level ``j`` to level ``l`` when ``l``'s action depends on
``j``'s state. When a model is given (the stack of
:func:`statetrack.constructions.cascade.cascade_construction`), a second panel shows its
layers with their widths and sub-steps.

The cascade is read through its public interface only: ``levels`` (each with ``n_states``
and ``components``, each component with ``degree``, ``is_reset`` and ``group.name``),
``alphabet``, ``action(level, letter, lower)`` and ``reachable()``.

Examples
--------
>>> from statetrack.constructions.cascade import TableCascade
>>> c = TableCascade("sra", (2, 2), lambda l, a, low: [(1, 1), (0, 0), (0, 1)][a] if l == 0
...                  else ((1, 0) if a == 2 and low[0] == 1 else (0, 1)), (0, 0))
>>> level_dependencies(c)
((), (0,))
"""

from __future__ import annotations

from typing import Any

__all__ = ["level_dependencies", "draw_cascade"]


def _n_levels(cascade: Any) -> int:
    levels = getattr(cascade, "levels", None)
    return len(levels) if levels is not None else len(cascade.sizes)


def level_dependencies(cascade: Any) -> tuple[tuple[int, ...], ...]:
    """For each level, the lower levels its action depends on (over reachable states).

    Level ``l`` depends on level ``j < l`` if two reachable cascade states whose lower
    parts differ only at ``j`` get different actions of some letter at level ``l``.

    Returns
    -------
    tuple of tuples of int, one per level (level 0 first, 0-based)
    """
    states = cascade.reachable()
    n_lev = _n_levels(cascade)
    n_sym = len(cascade.alphabet)
    out = []
    for l in range(n_lev):
        lowers = sorted({tuple(x[:l]) for x in states})
        deps = []
        for j in range(l):
            seen: dict = {}
            dep = False
            for low in lowers:
                masked = low[:j] + (None,) + low[j + 1:]
                for a in range(n_sym):
                    f = tuple(cascade.action(l, a, low))
                    prev = seen.setdefault((a, masked), f)
                    if prev != f:
                        dep = True
                        break
                if dep:
                    break
            if dep:
                deps.append(j)
        out.append(tuple(deps))
    return tuple(out)


def _component_labels(cascade: Any, level: int) -> list[str]:
    levels = getattr(cascade, "levels", None)
    if levels is None:
        return [str(cascade.sizes[level])]
    labels = []
    for comp in levels[level].components:
        if getattr(comp, "is_reset", False):
            labels.append(f"{comp.degree}")
        else:
            labels.append(f"({comp.degree},{comp.group.name})")
    return labels


def draw_cascade(cascade: Any, model: Any = None, *, title: str = "", ax: Any = None) -> Any:
    """Draw a cascade (and, given ``model``, its stack of layers); returns the Figure.

    Parameters
    ----------
    cascade
        A holonomy :class:`~statetrack.automata.holonomy.Cascade` or any object with the
        interface named in the module docstring.
    model : LRNN, optional
        The compiled stack, drawn in a second panel (layers bottom-up with width ``K``,
        value size ``V`` and ``n_h``).
    title : str
    ax : matplotlib Axes, optional
        Draw the cascade panel there (the model panel is then left out).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    deps = level_dependencies(cascade)
    n_lev = len(deps)
    if ax is None:
        ncols = 2 if model is not None else 1
        rows = max(n_lev, (model.depth + 1) // 2 if model is not None else 0, 2)
        fig = Figure(figsize=(5.2 * ncols, 1.1 + 1.0 * rows))
        FigureCanvasAgg(fig)   # no pyplot state: figures are made in loops
        axes = fig.subplots(1, ncols, squeeze=False)
        ax = axes[0, 0]
        ax_model = axes[0, 1] if model is not None else None
    else:
        fig, ax_model = ax.figure, None
    row_y = {l: n_lev - 1 - l for l in range(n_lev)}
    box_w, box_h = 1.5, 0.5
    centers = {}
    for l in range(n_lev):
        labels = _component_labels(cascade, l)
        y = row_y[l]
        ax.text(-0.4, y, f"level {l + 1}", ha="right", va="center", fontsize=9)
        for i, lab in enumerate(labels):
            x = 0.3 + i * (box_w + 0.3)
            ax.add_patch(FancyBboxPatch((x, y - box_h / 2), box_w, box_h,
                                        boxstyle="round,pad=0.04", fc="#e8f0fa", ec="#2b5b8a"))
            ax.text(x + box_w / 2, y, lab, ha="center", va="center", fontsize=9)
        centers[l] = (0.3 + len(labels) * (box_w + 0.3), y)
    # dependency arcs on the right of each row
    for l, ds in enumerate(deps):
        for j in ds:
            (xj, yj), (xl, yl) = centers[j], centers[l]
            ax.add_patch(FancyArrowPatch((xj - 0.2, yj), (xl - 0.2, yl),
                                         connectionstyle=f"arc3,rad={-0.2 - 0.1 * (l - j)}",
                                         arrowstyle="-|>", mutation_scale=10, color="#a33",
                                         lw=1.0))
    if not n_lev:       # a one-state automaton: nothing to track
        ax.text(1.0, 0.1, "no levels (one state:\nnothing to track)", ha="center",
                va="center", fontsize=9)
    width = max((c[0] for c in centers.values()), default=2.8) + 1.2
    ax.set_xlim(-1.6, width)
    ax.set_ylim(-0.8, max(n_lev, 1) - 0.3)
    ax.set_axis_off()
    ax.set_title((f"{title}\n" if title else "") + "levels in SgpDec's numbering; a red arrow "
                 "j -> l: level l's action\ndepends on level j's state (boxes: (degree, group) "
                 "per component, a bare degree = resets only)", fontsize=8)
    if ax_model is not None:
        layers = model.layers
        for i, layer in enumerate(layers):
            kind = "level" if i % 2 == 0 else "delay"
            y = i
            ax_model.add_patch(FancyBboxPatch((0, y - 0.35), 3.2, 0.7, boxstyle="round,pad=0.03",
                                              fc="#eef6ea" if kind == "level" else "#f6f1e6",
                                              ec="#555"))
            name = (f"layer {i}: level {i // 2 + 1}" if kind == "level"
                    else f"layer {i}: delay {i // 2 + 1}")
            ax_model.text(1.6, y, f"{name}, K={layer.width} V={layer.value_dim} "
                                  f"n_h={layer.n_h}", ha="center", va="center", fontsize=8)
            if i:
                ax_model.annotate("", (1.6, y - 0.36), (1.6, y - 0.64),
                                  arrowprops=dict(arrowstyle="-|>", color="#555"))
        ax_model.set_xlim(-0.3, 3.5)
        ax_model.set_ylim(-0.8, len(layers) - 0.2)
        ax_model.set_axis_off()
        ax_model.set_title(f"the stack: {len(layers)} layer{'s' if len(layers) != 1 else ''} "
                           "(bottom first)", fontsize=10)
    fig.tight_layout()
    return fig
