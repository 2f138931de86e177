r"""Theorem 4: a cascade of permutation–reset automata as a stack of LRNN layers.

The input is a *cascade* covering a DFA (for example the holonomy decomposition of
:func:`statetrack.automata.holonomy.holonomy_decomposition`): levels ``0 .. L-1``, level ``l``
with ``n_l`` states, and for every level, letter ``a`` and tuple ``x^{<l}`` of the states of
the levels below it a transformation ``f_l(a, x^{<l})`` of ``{0 .. n_l - 1}`` that is a
permutation or a constant map. One step of the cascade on the letter ``a_t`` is

.. math::

    x^l_t = f_l(a_t,\ x^0_{t-1}, \dots, x^{l-1}_{t-1})\,(x^l_{t-1}), \qquad l = 0 .. L-1,

every level reading the lower levels' states *before* the update, and a covering map sends
the cascade state ``x_t`` to the DFA state ``delta(q_0, a_1 .. a_t)``.

The timing trap, and the delay layers
-------------------------------------
In the LRNN data model (:mod:`statetrack.constructions.lrnn`) layer ``l`` reads, at time
``t``, the input symbol and the output class of layer ``l - 1`` at the *same* time ``t``,
after that layer's update: a stack passes ``x^{<l}_t``, while a cascade level needs
``x^{<l}_{t-1}``. ``x^{<l}_{t-1}`` cannot be recovered from ``x^{<l}_t`` and ``a_t`` (a reset
forgets), and a layer cannot copy its own state into a second register (the copy
``[u; w] -> [u; u]`` has norm ``sqrt 2 > 1``, so it is no product of GH factors). The
remedy is one *delay layer* ``D_l`` above each level layer ``L_l`` (but the top one): it
holds level ``l``'s state twice, in a row ``p`` (previous) and a row ``c`` (current), and on
each token

1. swaps rows ``p`` and ``c`` (the reflection ``I - (e_p - e_c)(e_p - e_c)^T``, eigenvalue
   -1): ``p`` now holds ``x^l_{t-1}``;
2. overwrites row ``c`` with ``x^l_t``, read from its token (the projection
   ``I - e_c e_c^T``, eigenvalue 0, with ``B = e_c v^T``).

That is the block shift ``[u; w] -> [w; 0]`` plus a write, as DESIGN.md proposes, done in two
GH factors because the rows hold numbers rather than one-hot vectors. Every layer also has
one *register* row, overwritten on each token (one projection) with the tuples it must pass
up: the stack is

``L_0, D_0, L_1, D_1, ..., D_{L-2}, L_{L-1}``  (``2L - 1`` layers),

where every layer above ``L_0`` reads its token ``(a_t, P_t)`` with the pair
``P_t = (x^{<l}_{t-1}, x^{<l}_t)`` of tuples of the lower levels' states before and after
the update (``L_l`` reads it from ``D_{l-1}``; ``D_l`` reads ``x^l_t`` and ``P_t`` from
``L_l``), so

* ``L_l`` applies ``f_l(a_t, x^{<l}_{t-1})`` to its component and writes ``P_t`` into its
  register; its output is ``(x^l_t, P_t)``;
* ``D_l`` shifts and writes ``x^l_t`` as above and writes ``(P_t, x^l_t)`` into its register;
  its output is ``(x^{\le l}_{t-1}, x^{\le l}_t)``, the pair the next level needs;
* the top layer's output holds ``x^{<L-1}_t`` and ``x^{L-1}_t``, the whole cascade state at
  time ``t``, and its ``state_map`` is the covering map.

The paper's d = 1: packed registers
-----------------------------------
Theorem 4's layers have value width ``d = 1`` (a state that is a vector). With
``packed=True`` every register is one number: a level layer writes ``r(P_t)`` into its
register row and outputs ``o = x^l_t + r(P_t)`` (query ``0 .. n_l - 1`` on the component,
1 on the register); a delay layer writes ``r(x^l_t, P_t)`` and outputs
``o = x^l_{t-1} + r(x^l_t, P_t)`` (query ``(1, 0, 1)``). The numbers ``r >= 0`` are chosen
greedily (:func:`_pack`) so that the reachable outputs of a layer have distinct codes: a code
then names the tuple it stands for, as the tuple of columns does by default. Widths, ``n_h``,
keys and betas are the default's; only the values and the readout change. The price is
range: a code is about the number of the layer's reachable outputs (up to 214 on the
catalogue, every form exact in bfloat16), and beyond 256 bfloat16 no longer holds the codes
(``grid_world(9)``: 509); :attr:`~statetrack.constructions.lrnn.LRNN.exact_in_floats` says,
per model. The default keeps every number a level state (at most 256) in ``V = 2L - 1``
columns, exact in every format on every cascade.

Level layers
------------
Level ``l``'s state is the one-hot ``e_{x^l}`` in rows ``0 .. n_l - 1``, column 0 (``V``
columns in all: column 0 for the component, the rest for the register's numbers). A
permutation is the product of transpositions ``I - (e_i - e_j)(e_i - e_j)^T``
(:func:`~statetrack.constructions.group.transposition_steps`, at most ``n_l - 1``
factors); a constant map to ``c`` (a reset) is the ``n_l`` projections
``I - e_i e_i^T`` (eigenvalue 0), each writing ``[i = c]`` into row ``i``: ``A = 0`` on the
component and ``B`` the one-hot ``e_c``, as Theorem 4's reset letters. The readout query is
``q_i = i`` on the component (so ``o_0 = x^l``) and 1 on the register row (so
``o_{1..}`` are the register's numbers). A layer's token is one per reachable
``(a, P)``; its ``token_map`` sends (input symbol, class of the layer below) to it.

Exactness. All keys are in {0, 1, -1}, all betas are 1 and, with the default registers,
every value is a small non-negative integer (a level state's index, at most 256 so that
bfloat16 holds it), so every float format computes the exact states, like the group
construction (``packed=True`` trades this for ``d = 1``: its codes can pass 256, see above;
:attr:`~statetrack.constructions.lrnn.LRNN.exact_in_floats` says). The readout's
codes are the outputs of the reachable configurations, found by a breadth-first search over
the cascade's reachable states (:meth:`CascadeStack.configurations`); the construction is
proved by :func:`statetrack.theory.proof.verify` like every other.

Size. With ``L`` levels of ``n_0 .. n_{L-1}`` states: ``2L - 1`` layers, widths
``n_l + 1`` (``n_0`` for ``L_0``) and 3 for the delay layers, ``n_h <= n_l + 1`` (a reset
costs ``n_l`` projections, a permutation at most ``n_l - 1`` transpositions, plus the
register's write) and 3 for the delay layers. Theorem 4's proof bounds the stack by
``2^|Q|`` layers of width ``|Q|``; a holonomy decomposition has as many levels as the
longest chain of strict subductions among the images of ``Q`` (not bounded by ``|Q| - 1``:
``contains(abb)`` has 4 states and 4 levels; see :mod:`statetrack.automata.holonomy`), so
the stack has fewer than twice that many layers.

A layer per level puts a level's components side by side in one layer; Theorem 4's proof
gives each component a layer of its own, which :class:`ComponentCascade` does (a level per
component; ``compile_cascade(per_component=True)``): more layers, each as narrow as its
component (plus the register row), which keeps the width within ``|Q|`` where a level of
several components would not.

With the holonomy decomposition (default ``dont_care="reset"``) a level is in one
component's tiles, or at 0, depending on the lower levels' states; a level map need only be
right on the states the level can be in under its lower context (found from the reachable
cascade states), so a reset zeroes only those rows and a permutation becomes the cheapest
one that agrees with the map there: ``n_h`` follows the component's degree, not the level's
width.

Examples
--------
A two-level cascade built by hand: level 0 is a flip-flop (``s`` sets it, ``r`` resets
it), level 1 counts ``a`` modulo 2 but only while level 0 was set:

>>> from statetrack.constructions.cascade import TableCascade, cascade_construction
>>> def act(level, letter, lower):
...     if level == 0:
...         return {"s": (1, 1), "r": (0, 0)}.get("sra"[letter], (0, 1))
...     return (1, 0) if "sra"[letter] == "a" and lower[0] == 1 else (0, 1)
>>> c = TableCascade(alphabet="sra", sizes=(2, 2), action=act, initial=(0, 0))
>>> dfa = c.as_dfa(accept=lambda x: x[1] == 1)
>>> m = cascade_construction(c, dfa, minimize=False)
>>> m.depth, [layer.width for layer in m.layers], m.n_h
(3, [2, 3, 3], 3)
>>> m.accepts("sa"), m.accepts("as"), m.accepts("saa"), m.accepts("sara")
(True, False, False, True)
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Hashable, Iterable, Sequence

import numpy as np
import sympy

from ..automata import DFA
from ._args import check_flag, check_text
from .errors import CascadeError, CascadeLimitError, InputTypeError
from .group import readout_codes, transposition_steps
from .lrnn import LRNN, DeltaStep, Layer, Readout

__all__ = ["TableCascade", "CascadeStack", "ComponentCascade", "cascade_construction",
           "compile_cascade", "classify_map", "MAX_LEVEL_STATES"]

#: The largest level that keeps every register value an integer bfloat16 holds exactly.
MAX_LEVEL_STATES = 257


def classify_map(f: Sequence[int]) -> str:
    """``"identity"``, ``"permutation"``, ``"constant"`` or ``"other"`` for a transformation.

    A one-point map is the identity.

    Examples
    --------
    >>> classify_map((0, 1, 2)), classify_map((2, 0, 1)), classify_map((1, 1, 1)), classify_map((0, 0, 1))
    ('identity', 'permutation', 'constant', 'other')
    """
    f = tuple(int(x) for x in f)
    if f == tuple(range(len(f))):
        return "identity"
    if sorted(f) == list(range(len(f))):
        return "permutation"
    if len(set(f)) == 1:
        return "constant"
    return "other"


# ---------------------------------------------------------------------- a cascade by table
class TableCascade:
    """A cascade given by its level sizes and an action function (for tests and examples).

    Parameters
    ----------
    alphabet : sequence of str
    sizes : sequence of int, the number of states of each level (level 0 first)
    action : callable ``(level, letter index, lower states tuple) -> tuple``, the
        transformation of the level's states; must be a permutation or a constant map
    initial : tuple of int, the initial cascade state

    Examples
    --------
    >>> c = TableCascade("a", (3,), lambda l, a, low: (1, 2, 0), (0,))
    >>> c.step((0,), 0), len(c.reachable())
    ((1,), 3)
    """

    def __init__(self, alphabet: Any, sizes: Sequence[int],
                 action: Callable[[int, int, tuple], Sequence[int]], initial: Sequence[int]):
        self.alphabet = tuple(alphabet)
        self.sizes = tuple(int(n) for n in sizes)
        self._action = action
        self.initial = tuple(int(x) for x in initial)
        self._cache: dict[tuple, tuple[int, ...]] = {}
        if len(self.initial) != len(self.sizes):
            raise CascadeError(f"initial state {self.initial} has {len(self.initial)} levels, "
                               f"the cascade {len(self.sizes)}")

    @property
    def n_levels(self) -> int:
        return len(self.sizes)

    def level_size(self, level: int) -> int:
        return self.sizes[level]

    def action(self, level: int, letter: int, lower: tuple) -> tuple[int, ...]:
        key = (level, letter, lower)
        got = self._cache.get(key)
        if got is None:
            got = tuple(int(x) for x in self._action(level, letter, lower))
            self._cache[key] = got
        return got

    def step(self, state: tuple, letter: int) -> tuple[int, ...]:
        return tuple(self.action(l, letter, tuple(state[:l]))[state[l]]
                     for l in range(self.n_levels))

    def reachable(self) -> tuple[tuple[int, ...], ...]:
        seen = {self.initial: None}
        queue = deque([self.initial])
        while queue:
            x = queue.popleft()
            for a in range(len(self.alphabet)):
                y = self.step(x, a)
                if y not in seen:
                    seen[y] = None
                    queue.append(y)
        return tuple(seen)

    def cover(self, state: tuple) -> int | None:
        """The DFA state of :meth:`as_dfa` (the index of the reachable state)."""
        if not hasattr(self, "_index"):   # the reachable states, explored once
            self._index = {x: i for i, x in enumerate(self.reachable())}
        return self._index.get(tuple(state))

    def as_dfa(self, accept: Callable[[tuple], bool]) -> DFA:
        """The DFA whose states are the reachable cascade states (in BFS order)."""
        states = self.reachable()
        index = {x: i for i, x in enumerate(states)}
        table = [[index[self.step(x, a)] for a in range(len(self.alphabet))] for x in states]
        return DFA(table, start=0, accepting=[i for i, x in enumerate(states) if accept(x)],
                   alphabet=self.alphabet)


# ---------------------------------------------------------------------- the stack
def _sizes(cascade: Any) -> tuple[int, ...]:
    if hasattr(cascade, "levels"):
        return tuple(int(level.n_states) for level in cascade.levels)
    return tuple(int(n) for n in cascade.sizes)


@dataclass(frozen=True)
class CascadeStack:
    """The reachable behaviour of a cascade that the stack's tables are built from.

    Attributes
    ----------
    sizes : states per level
    initial : the initial cascade state
    states : the reachable cascade states (BFS order, ``initial`` first)
    edges : ``{(state, letter): next state}`` over the reachable states
    """

    sizes: tuple[int, ...]
    initial: tuple[int, ...]
    states: tuple[tuple[int, ...], ...]
    edges: dict

    @classmethod
    def explore(cls, cascade: Any, n_letters: int, *, limit: int = 200_000) -> "CascadeStack":
        """Breadth-first search from the cascade's initial state.

        Raises
        ------
        CascadeError
            A level action that is neither a permutation nor a constant map, an action of
            the wrong length, or more than ``limit`` reachable states.
        """
        sizes = _sizes(cascade)
        init = tuple(int(x) for x in cascade.initial)
        checked: set = set()

        def step(x: tuple, a: int) -> tuple:
            out = []
            for l in range(len(sizes)):
                lower = x[:l]
                f = tuple(int(v) for v in cascade.action(l, a, lower))
                key = (l, a, lower)
                if key not in checked:
                    if len(f) != sizes[l] or any(not 0 <= v < sizes[l] for v in f):
                        raise CascadeError(f"level {l}: the action of letter {a} under {lower} "
                                           f"is {f}, not a map of {sizes[l]} states")
                    if classify_map(f) == "other":
                        raise CascadeError(f"level {l}: the action of letter {a} under {lower} "
                                           f"is {f}, neither a permutation nor a constant map")
                    checked.add(key)
                out.append(f[x[l]])
            return tuple(out)

        seen = {init: None}
        edges: dict = {}
        queue = deque([init])
        while queue:
            x = queue.popleft()
            for a in range(n_letters):
                y = step(x, a)
                edges[x, a] = y
                if y not in seen:
                    if len(seen) >= limit:
                        raise CascadeLimitError(f"the cascade has more than {limit} reachable states; "
                                           f"raise `limit` to build it anyway")
                    seen[y] = None
                    queue.append(y)
        return cls(sizes=sizes, initial=init, states=tuple(seen), edges=edges)

    def configurations(self, level: int) -> list[tuple[tuple, tuple]]:
        """The distinct pairs ``(x^{<level}_{t-1}, x^{<level}_t)`` of reachable steps (and the
        initial pair ``(x_0^{<level}, x_0^{<level})``), in a fixed order."""
        seen: dict = {(self.initial[:level], self.initial[:level]): None}
        for (x, _a), y in self.edges.items():
            seen.setdefault((x[:level], y[:level]), None)
        return list(seen)


# ------------------------------------------------- splitting a component into levels
def _close(cls: Sequence[int], gens: Sequence[tuple[int, ...]],
           merge: tuple[int, int] | None = None) -> tuple[int, ...]:
    """The finest partition coarser than ``cls`` (a class id per point), with the points of
    ``merge`` in one class, that every permutation of ``gens`` maps onto itself (class to
    class). A partition that each generator maps into itself is mapped onto itself by the
    group they generate (a permutation of a finite set cannot shrink it)."""
    n = len(cls)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    pairs: list[tuple[int, int]] = []
    first: dict[int, int] = {}
    for t, c in enumerate(cls):
        pairs.append((first.setdefault(c, t), t))
    if merge is not None:
        pairs.append(merge)
    queue = []
    for u, v in pairs:
        ru, rv = find(u), find(v)
        if ru != rv:
            parent[ru] = rv
            queue.append((u, v))
    while queue:
        u, v = queue.pop()
        for s in gens:
            ru, rv = find(s[u]), find(s[v])
            if ru != rv:
                parent[ru] = rv
                queue.append((s[u], s[v]))
    ids: dict[int, int] = {}
    return tuple(ids.setdefault(find(t), len(ids)) for t in range(n))


def _step_width(fine: Sequence[int], coarse: Sequence[int]) -> int:
    """The most classes of ``fine`` inside one class of ``coarse`` (a level's width)."""
    inside: dict[int, set[int]] = {}
    for f, c in zip(fine, coarse):
        inside.setdefault(c, set()).add(f)
    return max(len(v) for v in inside.values())


def _partition_chain(n: int, gens: Sequence[tuple[int, ...]], limit: int,
                     top_limit: int | None = None,
                     max_lattice: int = 400) -> list[tuple[int, ...]]:
    """A chain of partitions of ``range(n)`` that ``gens`` preserve, from the points to one
    class, each step at most ``limit`` classes inside a class (the last step, into one
    class, at most ``top_limit``, default ``limit``) where one can be found, else as narrow
    as single merges make it.

    Where the group preserves at most ``max_lattice`` partitions, all are listed and the best
    chain through them is taken (least over the limits, then fewest steps). Otherwise a
    coarser partition between two of the chain is sought greedily: classes are merged
    (and closed under the group) as long as the lower step stays within ``limit``; the upper
    step is then split the same way. Only merges of an orbit's least point with another
    point are tried: any other merge is the image of one of those under the group, and gives
    the same partition. For the regular action of ``C10`` with limit 7 that is two levels,
    2 and 5; a primitive group (no block system) stays one level.

    >>> r = tuple((t + 1) % 10 for t in range(10))       # C10 on ten points
    >>> [_step_width(a, b) for a, b in zip(*(lambda c: (c, c[1:]))(_partition_chain(10, [r], 7)))]
    [5, 2]
    >>> len(_partition_chain(5, [(1, 2, 3, 4, 0)], 3))     # C5: primitive, one step
    2
    """
    bottom, top = tuple(range(n)), (0,) * n
    top_limit = limit if top_limit is None else top_limit
    if n <= 1:
        return [bottom, top]               # one point: one level of one state
    if limit >= 2 and top_limit >= 1 and all(g == bottom for g in gens) and n > 6:
        # a trivial group keeps every partition: more than 400 (Bell(7) = 877) to list
        return _radix_chain(n, limit, top_limit)
    reps = _orbit_leaders(n, gens)
    lattice = _partition_lattice(n, gens, reps, max_lattice)
    if lattice is not None:
        return _best_chain(lattice, limit, top_limit)

    def between(lo: tuple[int, ...], hi: tuple[int, ...]) -> list[tuple[int, ...]]:
        w = _step_width(lo, hi)
        if w <= max(top_limit if hi == top else limit, 1):
            return []
        q, best, best_w = lo, None, w
        for x in reps:
            for y in range(n):
                if hi[x] != hi[y] or q[x] == q[y]:
                    continue
                cand = _close(q, gens, (x, y))
                if cand == hi:
                    continue
                if _step_width(lo, cand) <= limit:
                    q = cand
                elif q is lo:
                    cw = max(_step_width(lo, cand), _step_width(cand, hi))
                    if cw < best_w:
                        best, best_w = cand, cw
        if q is lo:
            if best is None:
                return []
            q = best
        return between(lo, q) + [q] + between(q, hi)

    return [bottom] + between(bottom, top) + [top]


def _radix_chain(n: int, limit: int, top_limit: int) -> list[tuple[int, ...]]:
    """The shortest chain of partitions of ``range(n)`` whose steps are at most ``limit``
    wide below the top and ``top_limit`` at the top, for a trivial group (every partition is
    preserved): the points' digits in base ``limit``, the top step holding the rest (over
    ``top_limit`` only where no chain of any length fits, i.e. never for ``limit >= 2``).
    Linear in ``n`` a level, where the greedy search is cubic.

    >>> [len(set(p)) for p in _radix_chain(300, 6, 7)]       # 300 -> 50 -> 9 -> 2 -> 1
    [300, 50, 9, 2, 1]
    >>> [_step_width(a, b) for a, b in zip(*(lambda c: (c, c[1:]))(_radix_chain(300, 6, 7)))]
    [6, 6, 6, 2]
    """
    levels = 1
    while top_limit * limit ** (levels - 1) < n:
        levels += 1
    return [tuple(t // limit ** i for t in range(n)) for i in range(levels)] + [(0,) * n]


def _orbit_leaders(n: int, gens: Sequence[tuple[int, ...]]) -> list[int]:
    """The least point of each orbit of the group ``gens`` generate on ``range(n)``.

    >>> _orbit_leaders(6, [(1, 0, 3, 2, 4, 5), (0, 3, 2, 1, 4, 5)])
    [0, 4, 5]
    """
    leader = list(range(n))
    for t in range(n):
        if leader[t] != t:
            continue
        stack = [t]
        while stack:
            u = stack.pop()
            for g in gens:
                if leader[g[u]] != t and g[u] > t:
                    leader[g[u]] = t
                    stack.append(g[u])
    return sorted(set(leader))


def _partition_lattice(n: int, gens: Sequence[tuple[int, ...]], reps: Sequence[int],
                       cap: int) -> list[tuple[int, ...]] | None:
    """Every partition of ``range(n)`` that ``gens`` preserve (found from the points by
    merging an orbit's least point with another class and closing under the group: every
    such partition is reached so), or None when there are more than ``cap``."""
    bottom = tuple(range(n))
    seen = {bottom}
    out = [bottom]
    for p in out:
        for x in reps:
            tried = {p[x]}
            for y in range(n):
                if p[y] in tried:
                    continue
                tried.add(p[y])
                q = _close(p, gens, (x, y))
                if q not in seen:
                    if len(out) >= cap:
                        return None
                    seen.add(q)
                    out.append(q)
    return out


def _best_chain(lattice: Sequence[tuple[int, ...]], limit: int,
                top_limit: int) -> list[tuple[int, ...]]:
    """The chain through ``lattice`` (from the points to one class) whose widest step is
    least over its limit, then with the fewest steps, then the narrowest."""
    n = len(lattice[0])
    bottom, top = tuple(range(n)), (0,) * n
    nodes = sorted(set(lattice) | {top}, key=lambda p: len(set(p)))   # coarse first
    size = {p: len(set(p)) for p in nodes}
    best: dict[tuple[int, ...], tuple[tuple[int, int, int], tuple[int, ...] | None]] = {
        top: ((0, 0, 0), None)}
    for i, p in enumerate(nodes):
        if p == top:
            continue
        choice = None
        for up in nodes[:i]:
            if size[up] >= size[p] or up not in best or not _is_coarser_partition(p, up):
                continue
            w = _step_width(p, up)
            over = w - (top_limit if up == top else limit)
            (e, k, sw), _ = best[up]
            cost = (max(e, over, 0), k + 1, max(sw, w))
            if choice is None or cost < choice[0]:
                choice = (cost, up)
        if choice is not None:
            best[p] = choice
    chain = [bottom]
    while chain[-1] != top:
        nxt = best[chain[-1]][1]
        assert nxt is not None
        chain.append(nxt)
    return chain


def _is_coarser_partition(fine: Sequence[int], coarse: Sequence[int]) -> bool:
    """Whether each class of ``fine`` lies inside one class of ``coarse``."""
    of: dict[int, int] = {}
    return all(of.setdefault(f, c) == c for f, c in zip(fine, coarse))


def _chain_excess(chain: Sequence[tuple[int, ...]], limit: int, top_limit: int) -> int:
    """How far the widest step of a chain is over its limit (0: every step fits)."""
    w = [_step_width(f, c) for f, c in zip(chain, chain[1:])]
    return max([x - limit for x in w[:-1]] + [w[-1] - top_limit, 0])


def _group_elements(gens: Sequence[tuple[int, ...]], n: int,
                    cap: int) -> list[tuple[int, ...]] | None:
    """The elements of the permutation group ``gens`` generate on ``range(n)`` (the
    identity first), or None when there are more than ``cap``.

    >>> len(_group_elements([(1, 2, 3, 4, 0), (1, 0, 2, 3, 4)], 5, 1000))    # S5
    120
    """
    ident = tuple(range(n))
    seen = {ident: 0}
    out = [ident]
    for e in out:
        for g in gens:
            ge = tuple(g[v] for v in e)
            if ge not in seen:
                if len(out) >= cap:
                    return None
                seen[ge] = len(out)
                out.append(ge)
    return out


def _lift_on_tiles(g: int, gens: Sequence[tuple[int, ...]], limit: int, top_limit: int,
                   cap: int) -> tuple[list[tuple[int, ...]], tuple[int, ...], Any] | None:
    """The group of tile permutations ``gens`` acting on itself, a copy per orbit of
    tiles (the point ``(c, e)`` stands for the tile ``e(leader of orbit c)``), with the best
    chain of partitions of it :func:`_partition_chain` finds (cosets of subgroups): ``(chain,
    tile of each point, (point index, point keys, tile permutation -> its action on keys))``
    (a key is ``(c, *e)``), or None when the group is trivial or has more than ``cap``
    elements (or ``400 // orbits``, the listing's reach)."""
    leaders = _orbit_leaders(g, gens)
    elems = _group_elements(gens, g, min(cap, 400 // len(leaders))) if gens else None
    if elems is None or len(elems) < 2:
        return None
    index = {e: i for i, e in enumerate(elems)}
    m = len(elems)
    mult = [tuple(c * m + index[tuple(h[v] for v in e)]
                  for c in range(len(leaders)) for e in elems) for h in gens]
    chain = _partition_chain(len(mult[0]), mult, limit, top_limit)
    pi = tuple(e[r] for r in leaders for e in elems)
    keys = [(c,) + e for c in range(len(leaders)) for e in elems]
    return chain, pi, ({k: y for y, k in enumerate(keys)}, keys, {h: h for h in gens})


def _lift_on_points(tiles: Sequence[frozenset], gens: Sequence[tuple[int, ...]],
                    cap: int) -> tuple[list[tuple[int, ...]], tuple[int, ...], Any] | None:
    """The component lifted through its group's action on the component's *points*: the
    states its tiles cover, grouped into atoms (the states lying in the same tiles), on
    which the tile permutations act (an atom's tiles go to another atom's tiles). A tile is
    a set of atoms; a copy per orbit of tiles, whose points are the images of the orbit's
    leader tile's atoms *in order* (the point ``(c, a_1, ..., a_k)`` stands for the tile
    ``{a_1, ..., a_k}``): the group's action on ordered tuples of atoms, a quotient of its
    action on itself that still tells the tile, with a permutation acting entrywise. The
    chain of partitions is by the images in turn, so a level holds where the next atom of
    the leader goes given where the ones before it went: at most (number of atoms) - i
    choices on level i. Only the leader's atoms are tracked, not a whole element: ``S6``
    on the fifteen 2-subsets of six states lifts to the 30 ordered pairs, not 720 elements.
    Where the atoms outside the leader tile are fewer, they are tracked instead (a tile is
    the complement of their images): ``S6`` on the 4-subsets lifts to ordered pairs too.
    ``(chain, tile of each point, (point index, point keys, tile permutation -> atom
    permutation))`` or None (no tiles known, no permutations, more than ``cap`` points, or
    tiles that do not carry an action on atoms)."""
    if not tiles or not gens:
        return None
    g = len(tiles)
    sig: dict[Any, frozenset] = {}
    for x in sorted(set().union(*tiles)):
        sig[x] = frozenset(i for i, t in enumerate(tiles) if x in t)
    atoms = sorted(set(sig.values()), key=lambda a: sorted(a))
    aidx = {a: i for i, a in enumerate(atoms)}
    conv: dict[tuple[int, ...], tuple[int, ...]] = {}
    for h in gens:
        image = [aidx.get(frozenset(h[i] for i in a)) for a in atoms]
        if any(v is None for v in image) or len(set(image)) != len(atoms):
            return None
        conv[h] = tuple(int(v) for v in image if v is not None)
    tile_of = {frozenset(aidx[sig[x]] for x in t): i for i, t in enumerate(tiles)}
    if len(tile_of) != g:
        return None
    perms = list(conv.values())
    keys: list[tuple[int, ...]] = []
    pi: list[int] = []
    everything = set(range(len(atoms)))
    for c, r in enumerate(_orbit_leaders(g, gens)):
        inside = {aidx[sig[x]] for x in tiles[r]}
        # a tile is known from its atoms or from the rest (the complement): track fewer
        outside = len(everything - inside) < len(inside)
        lead = tuple(sorted(everything - inside if outside else inside))
        orbit, seen = [lead], {lead}
        for t in orbit:
            for p in perms:
                u = tuple(p[a] for a in t)
                if u not in seen:
                    if len(keys) + len(orbit) >= cap:
                        return None
                    seen.add(u)
                    orbit.append(u)
        for t in orbit:
            tile = tile_of.get(frozenset(everything - set(t)) if outside else frozenset(t))
            if tile is None:
                return None
            keys.append((c,) + t)
            pi.append(tile)
    if len(keys) <= g:            # no more points than tiles: nothing is gained
        return None
    chain: list[tuple[int, ...]] = []
    for depth in range(max(map(len, keys)) + 1, -1, -1):     # finest (whole key) to one class
        ids: dict[tuple, int] = {}
        part = tuple(ids.setdefault(k[:depth], len(ids)) for k in keys)
        if not chain or len(set(part)) != len(set(chain[-1])):
            chain.append(part)
    if len(chain) == 1:
        chain.append(chain[0])
    return chain, tuple(pi), ({k: y for y, k in enumerate(keys)}, keys, conv)


def _chain_coords(chain: Sequence[tuple[int, ...]]) -> tuple[tuple[int, ...], ...]:
    """Per point, its coordinates along a chain of partitions (finest first): coordinate
    ``i`` (``i = 0`` the coarsest step) is the label of the point's class of the finer
    partition of step ``i`` among the classes inside its class of the coarser one, labels
    in the order of the classes' least points.

    >>> _chain_coords([(0, 1, 2, 3), (0, 1, 0, 1), (0, 0, 0, 0)])
    ((0, 0), (1, 0), (0, 1), (1, 1))
    """
    n = len(chain[0])
    steps = len(chain) - 1
    coords = [[0] * steps for _ in range(n)]
    for i in range(steps):
        fine, coarse = chain[steps - 1 - i], chain[steps - i]
        label: dict[tuple[int, int], int] = {}
        count: dict[int, int] = {}
        for t in range(n):
            key = (coarse[t], fine[t])
            if key not in label:
                label[key] = count.get(coarse[t], 0)
                count[coarse[t]] = label[key] + 1
            coords[t][i] = label[key]
    return tuple(tuple(c) for c in coords)


class ComponentCascade:
    """A cascade with one level per *component*: a holonomy level that is the disjoint union
    of several components' states becomes one level per component (Theorem 4's proof puts
    each component of the Krohn–Rhodes cascade in a layer of its own), and a component wider
    than ``max_width`` becomes several levels along classes of tiles its group preserves.

    Which component of a level the cover reads is decided by the levels below (the stage of
    the tile chain; a level the chain skips sits at 0), so in a reachable state the slot of
    level ``l``'s coordinate is a function ``S_l`` of the coordinates below it, found here
    from the reachable states. The split state holds, per component, its own coordinate; a
    component that is not the one ``S_l`` names after the step is reset to 0, the one it
    names gets the level's map restricted to its slot (a round trip permutes inside its slot;
    a change of slot is a reset, a constant). The split cascade therefore simulates the
    original step for step: decoding ``c_l = offset(S_l) + y_{l, S_l}`` level by level gives
    the original state, and :meth:`cover` is the original cover of it.

    Narrowing a component. The permutations a component applies (over the reachable states)
    generate a group on its tiles. With ``max_width`` a component whose layer would be wider
    (its tiles, plus the register row above the first level) is split along a chain of
    partitions of its tiles that the group maps onto themselves (its orbits, the blocks of
    an imprimitive action, any partition where the group is trivial), from one class to the
    tiles, a level per step: level ``i`` holds which class of the finer partition the tile
    lies in, among those inside its class of the coarser one. A permutation maps classes to
    classes, so on each level it is a permutation given the levels below (the identity on
    labels the class below does not have); a reset names the target's labels. The chain is
    found greedily (:func:`_partition_chain`): ``(10,C5)`` (two orbits of five) becomes
    levels of 2 and 5 states, ``(10,C10)`` (one orbit; two blocks of five) too. A primitive
    group preserves no partition of its tiles; such a component is *lifted* (listed in
    :attr:`lifted`): it runs on the ordered images of a tile's atoms (the states lying in
    the same tiles), or as its group acting on itself, whichever chain is narrower, and a
    tile is read off the point (:func:`_lift_on_points`, :func:`_lift_on_tiles`):
    ``(10,S5)`` on five states becomes levels of 5 and 4 (the ordered pairs of states),
    ``(15,S6)`` on six states levels of 6 and 5.

    Parameters
    ----------
    cascade
        A cascade whose levels have ``components`` (``offset``, ``degree``), e.g.
        :func:`~statetrack.automata.holonomy.holonomy_decomposition`'s.
    n_letters : int
    limit : int
        The most reachable states explored (of the original cascade).
    max_width : int or None
        Split the components whose layer would be wider than this (see above); None
        (default): never. Theorem 4's stack uses ``|Q|``.
    max_group : int
        The most points a lifted component may have (group elements, or ordered tuples of
        atom images; default 500: ``(56,S8)`` on the 3-subsets of eight states lifts to
        its 336 ordered triples and proves in seconds; ``(70,S8)`` on 4-subsets would
        need 1680).

    Raises
    ------
    CascadeError
        The levels have no components, or the slot of a level's coordinate is not decided by
        the levels below it (e.g. ``dont_care="identity"``, which leaves a skipped level's
        stale coordinate in place).

    Examples
    --------
    >>> from statetrack.automata import families, holonomy_decomposition
    >>> d = families.get("tomita(3)").minimize()
    >>> casc = holonomy_decomposition(d)
    >>> str(casc.levels[1]), casc.levels[1].n_states     # two components, 4 states
    ('2: (2,C2) (2,C2)', 4)
    >>> split = ComponentCascade(casc, len(d.alphabet))
    >>> split.sizes                                         # one level per component
    (2, 2, 2, 2, 2, 2)
    >>> x = split.initial
    >>> all(split.cover(x := split.step(x, a)) == q for a, q in
    ...     zip([0, 1, 1, 0, 1], d.run([[0, 1, 1, 0, 1]]).states[0, 1:]))
    True
    """

    def __init__(self, cascade: Any, n_letters: int, *, limit: int = 200_000,
                 max_width: int | None = None, max_group: int = 500):
        if max_width is not None and (isinstance(max_width, bool)
                                      or not isinstance(max_width, int) or max_width < 1):
            raise InputTypeError(f"ComponentCascade: max_width must be a positive integer or "
                                 f"None, got {max_width!r}")
        if isinstance(max_group, bool) or not isinstance(max_group, int) or max_group < 1:
            raise InputTypeError(f"ComponentCascade: max_group must be a positive integer, "
                                 f"got {max_group!r}")
        if (isinstance(n_letters, bool) or not isinstance(n_letters, (int, np.integer))
                or n_letters < 1):
            raise InputTypeError(f"ComponentCascade: n_letters must be a positive integer "
                                 f"(the cascade's alphabet size), got {n_letters!r}")
        n_alpha = len(getattr(cascade, "alphabet", ()) or ())
        if n_alpha and n_letters != n_alpha:
            raise InputTypeError(f"ComponentCascade: n_letters is {n_letters}, but the "
                                 f"cascade's alphabet has {n_alpha} letters")
        n_letters = int(n_letters)
        levels = getattr(cascade, "levels", None)
        if levels is None or not all(hasattr(lv, "components") for lv in levels):
            raise CascadeError("splitting levels into components needs a cascade whose levels "
                               "list their components (a holonomy decomposition)")
        self._casc = cascade
        self.alphabet = tuple(getattr(cascade, "alphabet", ()))
        self._n_orig = len(levels)
        # components: (original level, offset, degree); _comp_first[li]: first of level li
        self._comps: list[tuple[int, int, int]] = []
        self._tiles: list[tuple[frozenset, ...]] = []   # per component: its tiles, if known
        self._comp_first: list[int] = []
        for li, lv in enumerate(levels):
            self._comp_first.append(len(self._comps))
            for comp in lv.components:
                self._comps.append((li, int(comp.offset), int(comp.degree)))
                self._tiles.append(tuple(getattr(comp, "tiles", ()) or ()))
        stack = CascadeStack.explore(cascade, n_letters, limit=limit)
        self._slot: list[dict[tuple, int]] = [{} for _ in levels]   # prefix -> component
        for x in stack.states:
            for li in range(self._n_orig):
                j = self._comp_of(li, x[li])
                got = self._slot[li].setdefault(x[:li], j)
                if got != j:
                    raise CascadeError(f"level {li}: its coordinate lies in the slots of two "
                                       f"components under the same lower levels {x[:li]}; "
                                       f"the split needs the slot decided by the levels below "
                                       f"(dont_care='reset')")
        # each component's permutations (restricted to its slot) over the reachable states
        gens: list[set[tuple[int, ...]]] = [set() for _ in self._comps]
        for x in stack.states:
            for a in range(n_letters):
                for li in range(self._n_orig):
                    f = cascade.action(li, a, x[:li])
                    j = self._slot[li][x[:li]]
                    _, off, g = self._comps[j]
                    h = tuple(int(f[off + t]) - off for t in range(g))
                    if classify_map(h) == "permutation":
                        gens[j].add(h)
        # per component: a chain of partitions of its tiles that its permutations preserve,
        # finest (the tiles) to coarsest (one class); a level per step of the chain
        self._coord: list[tuple[tuple[int, ...], ...]] = []   # per component: point -> coords
        self._tile: list[dict[tuple[int, ...], int]] = []     # coords -> tile
        self._rep: list[dict[tuple[int, ...], int]] = []      # coords prefix -> a point
        self._point: list[tuple[int, ...]] = []               # tile -> its point
        # a lifted component: (key -> point, point keys, tile permutation -> its action on
        # a key's entries); None: its points are its tiles
        self._group: list[Any] = []
        self._part_first: list[int] = []                      # component -> its first part
        self._parts: list[tuple[int, int]] = []               # (component, depth)
        self.lifted: list[int] = []                           # components run as their group
        sizes = []
        for j, (_, _, g) in enumerate(self._comps):
            top_limit = (max_width or 0) - (1 if self._parts else 0)
            wide = max_width is not None and g > top_limit
            chain = [tuple(range(g)), (0,) * g]
            pi, group = tuple(range(g)), None
            if wide:
                assert max_width is not None
                gl = sorted(gens[j])
                chain = _partition_chain(g, gl, max_width - 1, top_limit)
                lim = max_width - 1
                best = (_chain_excess(chain, lim, top_limit), len(chain))
                for lift in (_lift_on_points(self._tiles[j], gl, max_group),
                             _lift_on_tiles(g, gl, lim, top_limit, max_group)):
                    if lift is None:
                        continue
                    cost = (_chain_excess(lift[0], lim, top_limit), len(lift[0]))
                    if cost < best:
                        best = cost
                        chain, pi, group = lift[0], lift[1], lift[2]
                if group is not None:
                    self.lifted.append(j)
            coords = _chain_coords(chain)
            self._coord.append(coords)
            self._tile.append({c: pi[y] for y, c in enumerate(coords)})
            point = [-1] * g
            for y in range(len(pi) - 1, -1, -1):
                point[pi[y]] = y
            self._point.append(tuple(point))
            self._group.append(group)
            rep: dict[tuple[int, ...], int] = {}
            for y, c in enumerate(coords):
                for i in range(len(c) + 1):
                    rep.setdefault(c[:i], y)
            self._rep.append(rep)
            self._part_first.append(len(self._parts))
            for depth in range(len(chain) - 1):
                self._parts.append((j, depth))
                sizes.append(1 + max(c[depth] for c in coords))
        self.sizes = tuple(sizes)
        self.initial = self._split(tuple(cascade.initial))
        self._cache: dict[tuple, tuple[int, ...]] = {}

    @property
    def n_levels(self) -> int:
        return len(self.sizes)

    def level_labels(self) -> list[str]:
        """A label per split level, bottom first: its holonomy level, the component within
        it (where the level has several), the step of a narrowed component (``part i/n``)
        and ``lifted`` for a component run on lifted points.

        >>> from statetrack.automata import DFA, holonomy_decomposition
        >>> cyc, swap = [1, 2, 3, 4, 5, 0], [1, 0, 2, 3, 4, 5]     # (15,S6) on six states
        >>> d = DFA([[cyc[q], swap[q], q % 2] for q in range(6)], start=0, accepting=[0],
        ...         alphabet="abc").minimize()
        >>> ComponentCascade(holonomy_decomposition(d), 3, max_width=6).level_labels()
        ['level 1 part 1/2 (lifted)', 'level 1 part 2/2 (lifted)', 'level 2']
        """
        out = []
        for j, depth in self._parts:
            li = self._comps[j][0]
            n_comp = sum(1 for c in self._comps if c[0] == li)
            n_part = len(self._coord[j][0])
            label = f"level {li + 1}"
            if n_comp > 1:
                label += f" component {j - self._comp_first[li] + 1}"
            if n_part > 1:
                label += f" part {depth + 1}/{n_part}"
            if j in self.lifted:
                label += " (lifted)"
            out.append(label)
        return out

    def _comp_of(self, li: int, c: int) -> int:
        for j in range(self._comp_first[li], len(self._comps)):
            orig, off, g = self._comps[j]
            if orig != li:
                break
            if off <= c < off + g:
                return j
        raise CascadeError(f"level {li}: coordinate {c} lies in no component's slot")

    def _coords(self, j: int, t: int) -> tuple[int, ...]:
        """The split coordinates of tile ``t`` of component ``j`` (one per level of it; of
        the group element standing for the tile where the component is lifted)."""
        return self._coord[j][self._point[j][t]]

    def _moved(self, j: int, h: tuple[int, ...], y: int) -> int:
        """The point ``y`` of component ``j`` after the tile permutation ``h`` (on a lifted
        component, ``h`` acting on the point's key entrywise: a group element times the
        element, or the images of the leader's atoms under ``h``)."""
        lift = self._group[j]
        if lift is None:
            return h[y]
        if h == tuple(range(len(h))):      # the identity: not among the generators
            return y
        index, keys, conv = lift
        hp = conv.get(h)
        key = keys[y]
        got = None if hp is None else index.get((key[0],) + tuple(hp[v] for v in key[1:]))
        if got is None:
            raise CascadeError(f"component {j}: the map {h} is not in the group it was "
                               f"lifted to")
        return got

    def _split(self, x: tuple) -> tuple[int, ...]:
        out = [0] * len(self._parts)
        for li, c in enumerate(x):
            j = self._comp_of(li, c)
            for i, v in enumerate(self._coords(j, c - self._comps[j][1])):
                out[self._part_first[j] + i] = v
        return tuple(out)

    def _join(self, y: Sequence[int], upto: int) -> tuple[int, ...] | None:
        """The original coordinates of the levels below original level ``upto`` (None when
        a prefix is not reachable or names no tile)."""
        x: list[int] = []
        for li in range(upto):
            j = self._slot[li].get(tuple(x))
            if j is None:
                return None
            k = self._part_first[j]
            n = len(self._coord[j][0])
            tile = self._tile[j].get(tuple(int(v) for v in y[k:k + n]))
            if tile is None:
                return None
            x.append(self._comps[j][1] + tile)
        if upto < self._n_orig and tuple(x) not in self._slot[upto]:
            return None        # each shorter prefix is reachable, the whole one is not
        return tuple(x)

    def action(self, level: int, letter: int, lower: tuple) -> tuple[int, ...]:
        """The map of split level ``level``'s states for ``letter`` under the split levels
        below it (before the step)."""
        key = (level, letter, tuple(lower))
        got = self._cache.get(key)
        if got is not None:
            return got
        j, depth = self._parts[level]
        li, off, _ = self._comps[j]
        g = self.sizes[level]
        x = self._join(lower, li)
        if x is None:          # an unreachable context: any permutation-or-constant map does
            got = tuple(range(g))
        else:
            f = self._casc.action(li, letter, x)
            new = tuple(self._casc.action(i, letter, x[:i])[x[i]] for i in range(li))
            j_old = self._slot[li][x]
            h = tuple(int(f[off + t]) - off for t in range(self._comps[j][2]))
            if self._slot[li].get(new) != j:
                got = (0,) * g
            elif j_old != j or classify_map(h) == "constant":   # a reset: name the target
                target = int(f[self._comps[j_old][1]]) - off
                if not 0 <= target < self._comps[j][2]:
                    raise CascadeError(f"level {li}: the reset of letter {letter} under {x} "
                                       f"names no tile of component "
                                       f"{j - self._comp_first[li]}")
                got = (self._coords(j, target)[depth],) * g
            elif len(self._coord[j][0]) == 1:      # the component whole: its map
                got = h
            elif classify_map(h) not in ("permutation", "identity"):
                raise CascadeError(f"level {li}: component {j - self._comp_first[li]} is "
                                   f"split into levels but letter {letter} under {x} maps it "
                                   f"by {h}, neither a permutation nor a reset")
            else:              # a permutation moves the class the levels below hold
                below = tuple(int(v) for v in lower[level - depth:level])
                rep = self._rep[j]
                got = tuple(self._coord[j][self._moved(j, h, rep[below + (p,)])][depth]
                            if below + (p,) in rep else p for p in range(g))
            if any(not 0 <= v < g for v in got):
                raise CascadeError(f"level {li}: the map {f} of letter {letter} under {x} "
                                   f"leaves component {j - self._comp_first[li]}'s slot")
        self._cache[key] = got
        return got

    def step(self, state: tuple, letter: int) -> tuple[int, ...]:
        return tuple(self.action(l, letter, tuple(state[:l]))[state[l]]
                     for l in range(len(self.sizes)))

    def cover(self, state: Sequence[int]) -> int | None:
        """The original cascade's cover of the joined state."""
        x = self._join(state, self._n_orig)
        return None if x is None else self._casc.cover(x)


def _onehot_key(k: int, i: int) -> tuple:
    key = [sympy.S.Zero] * k
    key[i] = sympy.S.One
    return tuple(key)


def _overwrite(k: int, row: int, value: Sequence[int]) -> DeltaStep:
    """The projection ``I - e_row e_row^T`` (eigenvalue 0) writing ``value`` into ``row``."""
    return DeltaStep(key=_onehot_key(k, row), beta=1, value=tuple(int(v) for v in value))


def _embed(steps: Sequence[DeltaStep], k: int, v: int) -> list[DeltaStep]:
    """Steps on the first ``len(key)`` rows, padded to ``k`` rows, with zero values."""
    out = []
    for s in steps:
        key = tuple(s.key) + (sympy.S.Zero,) * (k - len(s.key))
        out.append(DeltaStep(key=key, beta=s.beta, value=(0,) * v))
    return out


def _needed_permutation(f: tuple[int, ...], live: Sequence[int]) -> tuple[int, ...]:
    """A permutation ``g`` with ``g(x) = f(x)`` for every ``x`` in ``live`` and the fewest
    transpositions: the arrows ``x -> f(x)`` form cycles and paths; each path is closed
    into a cycle through its end points (a path of ``m`` arrows costs ``m`` swaps, a cycle
    of ``m`` points ``m - 1``), every other point is fixed.

    Examples
    --------
    >>> _needed_permutation((1, 2, 3, 0), [0])      # only 0 -> 1 matters: one swap
    (1, 0, 2, 3)
    >>> _needed_permutation((1, 2, 3, 0), [0, 1, 2, 3])
    (1, 2, 3, 0)
    """
    arrows = {x: f[x] for x in live if f[x] != x}
    g = list(range(len(f)))
    heads = set(arrows) - set(arrows.values())
    for h in sorted(heads):          # paths h -> ... -> end: close them end -> h
        x = h
        while x in arrows:
            g[x] = arrows[x]
            x = arrows[x]
        g[x] = h
    for x, y in arrows.items():      # the rest lie on cycles of f
        g[x] = y
    return tuple(g)


def _component_steps(f: tuple[int, ...], k: int, v: int,
                     live: Iterable[int] | None = None) -> list[DeltaStep]:
    """Delta steps applying the level map ``f`` to the one-hot in rows ``0 .. n - 1``.

    ``live`` (default: every state) is the set of states the level can be in when the map
    is applied; only they must be mapped right, so a permutation becomes the cheapest
    permutation that agrees with ``f`` on them (:func:`_needed_permutation`), and a reset to
    ``c`` zeroes only the live rows (projections) and writes row ``c``.
    """
    live = sorted(range(len(f)) if live is None else set(live))
    kind = classify_map(f)
    if kind == "identity" or all(f[x] == x for x in live):
        return []
    if kind == "permutation":
        return _embed(transposition_steps(_needed_permutation(f, live)), k, v)
    c = f[0]
    rows = live + ([c] if c not in live else [])
    return [_overwrite(k, i, (int(i == c),) + (0,) * (v - 1)) for i in rows]


def _flat(pair: tuple[tuple, tuple]) -> tuple[int, ...]:
    return tuple(pair[0]) + tuple(pair[1])


def _pack(outputs: Sequence[tuple[Hashable, int]]) -> dict[Hashable, int]:
    """Register numbers for the packed form: the outputs are pairs ``(key, x)`` (a register's
    content and a small number the layer adds to it, a level state), the output code of
    ``(key, x)`` is ``r(key) + x``; returns the least ``r(key) >= 0``, taken greedily key by
    key (the keys with the most numbers first), that keeps every code distinct.

    Examples
    --------
    >>> _pack([("p", 0), ("p", 1), ("q", 1), ("s", 0)])    # codes: p 0, 1; q 2; s 3
    {'p': 0, 'q': 1, 's': 3}
    """
    groups: dict[Hashable, list[int]] = {}
    for key, x in outputs:
        groups.setdefault(key, []).append(int(x))
    used: set[int] = set()
    out: dict[Hashable, int] = {}
    for key in sorted(groups, key=lambda g: -len(groups[g])):   # stable: ties in order
        xs = groups[key]
        r = 0
        while any(r + x in used for x in xs):
            r += 1
        used.update(r + x for x in xs)
        out[key] = r
    return out


def _label(x: Sequence[int]) -> str:
    return ",".join(str(v) for v in x)


def cascade_construction(cascade: Any, dfa: DFA, *, minimize: bool = True, name: str = "",
                         limit: int = 200_000, packed: bool = False) -> LRNN:
    """Theorem 4: the stack of layers that runs a cascade covering ``dfa``.

    Parameters
    ----------
    cascade
        A cascade over ``dfa``'s (minimal, with ``minimize``) automaton: attributes
        ``initial`` (a tuple, one state per level), ``levels`` (objects with ``n_states``)
        or ``sizes``, and the methods ``action(level, letter, lower)`` (a permutation or a
        constant map of the level's states, given the lower levels' states before the
        step) and ``cover(state)`` (the DFA state a cascade state stands for).
    dfa : DFA
        The automaton the cascade covers. With ``minimize`` (default) the model's
        ``state_map`` refers to the states of ``dfa.minimize()`` and the cascade must cover
        that automaton (decompose the minimal DFA); otherwise ``dfa`` is used as given
        (completed).
    name : str
        Stored on the model.
    limit : int
        The most reachable cascade states explored.
    packed : bool
        Theorem 4's value width ``d = 1``: every register is one number (see "The paper's
        d = 1" in the module docstring), so every layer's state is a vector. Default: the
        registers' numbers in value columns (``V = 2L - 1`` at the top), which keeps every
        number small enough for bfloat16 on larger cascades.

    Returns
    -------
    LRNN
        ``2L - 1`` layers for ``L`` levels, ``form="cascade"``, integer keys, betas 1;
        exact in every float format with the default registers, and in every format whose
        integers hold the packed codes with ``packed=True`` (see the module docstring;
        :attr:`~statetrack.constructions.lrnn.LRNN.exact_in_floats` says).

    Raises
    ------
    InputTypeError
        ``dfa`` is not a DFA.
    CascadeError
        A level map that is neither a permutation nor a constant, a level with more than
        :data:`MAX_LEVEL_STATES` states, a reachable cascade state that covers no DFA state,
        or an alphabet that differs from the DFA's.

    Examples
    --------
    A one-level cascade is a permutation–reset automaton itself (here a flip-flop with a
    no-op letter): one layer, the resets as two projections each:

    >>> ff = TableCascade("srn", (2,), lambda l, a, low: [(1, 1), (0, 0), (0, 1)][a], (0,))
    >>> m = cascade_construction(ff, ff.as_dfa(lambda x: x[0] == 1), minimize=False)
    >>> m.depth, m.width, m.n_h, m.accepts("snn"), m.accepts("snr")
    (1, 2, 2, True, False)
    """
    if not isinstance(dfa, DFA):
        raise InputTypeError(f"cascade_construction: argument 'dfa' must be a statetrack DFA, "
                             f"got {type(dfa).__name__}")
    missing = [a for a in ("initial", "action", "cover") if not hasattr(cascade, a)]
    if missing or not (hasattr(cascade, "levels") or hasattr(cascade, "sizes")):
        raise InputTypeError(f"cascade_construction: argument 'cascade' must be a cascade (a "
                             f"holonomy Cascade or a TableCascade), got {type(cascade).__name__}")
    minimize = check_flag(minimize, "minimize", "cascade_construction")
    packed = check_flag(packed, "packed", "cascade_construction")
    name = check_text(name, "name", "cascade_construction")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InputTypeError(f"cascade_construction: argument 'limit' must be a positive "
                             f"integer, got {limit!r}")
    d = dfa.minimize() if minimize else dfa.complete()
    if tuple(getattr(cascade, "alphabet", d.alphabet)) != tuple(d.alphabet):
        raise CascadeError(f"the cascade's alphabet {list(cascade.alphabet)} is not the DFA's "
                           f"{list(d.alphabet)}")
    n_sym = len(d.alphabet)
    stack = CascadeStack.explore(cascade, n_sym, limit=limit)
    sizes = stack.sizes
    n_lev = len(sizes)
    big = [l for l, n in enumerate(sizes) if n > MAX_LEVEL_STATES]
    if big:
        raise CascadeLimitError(f"level {big[0]} has {sizes[big[0]]} states; the stack keeps level "
                           f"states as bfloat16 integers, at most {MAX_LEVEL_STATES}")
    cover: dict[tuple, int] = {}
    for x in stack.states:
        q = cascade.cover(x)
        if q is None:
            raise CascadeError(f"the reachable cascade state {x} covers no DFA state")
        if not 0 <= int(q) < d.n_states:
            raise CascadeError(f"the cascade state {x} covers state {q}, which the "
                               f"{d.n_states}-state DFA does not have: the cascade does not "
                               f"cover this DFA (decompose the DFA you compile)")
        cover[x] = int(q)
    if n_lev == 0:
        return _one_state_model(d, cover[stack.initial], name)

    layers: list[Layer] = []
    # classes of the layer below, as hashable keys, in class order; the current layer's
    # token for (symbol a, class c) is tokens[(a, key(c))]
    below: Sequence[Any] = []
    init = stack.initial
    for l in range(n_lev):
        # ---------------------------------------------------------- level layer L_l
        n = sizes[l]
        pairs = stack.configurations(l)        # P = (x^{<l}_{t-1}, x^{<l}_t)
        live: dict[tuple, set] = {}             # lower states -> states level l can be in
        for x in stack.states:
            live.setdefault(x[:l], set()).add(x[l])
        # outputs of L_l: (x^l_t, P_t) for every reachable step, and the initial one
        outs: dict[tuple, None] = {}
        outs[(init[l], (init[:l], init[:l]))] = None
        for (x, _a), y in stack.edges.items():
            outs.setdefault((y[l], (x[:l], y[:l])), None)
        out_keys = list(outs)
        reg = 2 * l                             # register numbers (columns form)
        k = n + (1 if l else 0)
        v = 1 if packed else 1 + reg
        # packed: the register holds one number r(P), the output is x^l + r(P)
        r_of = _pack([(p, s) for s, p in out_keys]) if packed else {}

        def register(p: tuple) -> tuple[int, ...]:
            return (r_of[p],) if packed else (0,) + _flat(p)

        tok_index: dict[tuple, int] = {}
        tok_steps: list[list[DeltaStep]] = []
        names: list[str] = []
        if l == 0:
            for a in range(n_sym):
                f = cascade.action(0, a, ())
                tok_index[(a, None)] = a
                tok_steps.append(_component_steps(tuple(f), k, v, live[()]))
            names = list(d.alphabet)
        else:
            # one token per distinct (level map, P): letters that act alike share it
            comp: dict[tuple, list[DeltaStep]] = {}
            distinct: dict[tuple, int] = {}
            for a in range(n_sym):
                for p in pairs:
                    f = tuple(int(z) for z in cascade.action(l, a, p[0]))
                    i = distinct.get((f, p))
                    if i is None:
                        if (f, p[0]) not in comp:
                            comp[f, p[0]] = _component_steps(f, k, v, live[p[0]])
                        i = distinct[(f, p)] = len(tok_steps)
                        tok_steps.append(comp[f, p[0]] + [_overwrite(k, n, register(p))])
                        names.append(f"{'.'.join(map(str, f))}|{_label(p[0])}|{_label(p[1])}")
                    tok_index[(a, p)] = i
        token_map = None
        if l:
            token_map = [[tok_index[(a, below[c])] for c in range(len(below))]
                         for a in range(n_sym)]
        if packed:
            codes = [(s + r_of[p],) for s, p in out_keys]
        else:
            codes = [(s,) + _flat(p) for s, p in out_keys]
        query = list(range(n)) + ([1] if l else [])
        h0 = [[int(i == init[l])] + [0] * (v - 1) for i in range(n)]
        if l:
            h0.append(list(register((init[:l], init[:l]))))
        top = l == n_lev - 1
        labels = [_label(p[1] + (s,)) for s, p in out_keys] if top else None
        layers.append(Layer(tokens=tuple(names), steps=tok_steps, initial_state=h0,
                            readout=Readout(query=query, codes=codes, labels=labels),
                            token_map=token_map))
        if top:
            full = [p[1] + (s,) for s, p in out_keys]
            state_map = []
            for x in full:
                if x not in cover:  # only reachable states appear; kept as a guard
                    raise CascadeError(f"cascade state {x} is not reachable")
                state_map.append(cover[x])
            accepting = [bool(d.accepting[q]) for q in state_map]
            break
        below = out_keys

        # ---------------------------------------------------------- delay layer D_l
        # token: (x^l_t, P_t), the class of L_l (the input symbol is not needed)
        # outputs of D_l: (x^l_{t-1}, P_t, x^l_t) -> next P = (x^{<=l}_{t-1}, x^{<=l}_t)
        d_outs: dict[tuple, None] = {}
        d_outs[(init[: l + 1], init[: l + 1])] = None
        for (x, _a), y in stack.edges.items():
            d_outs.setdefault((x[: l + 1], y[: l + 1]), None)
        d_keys = list(d_outs)
        kd, reg_d = 3, 2 * l + 1
        vd = 1 if packed else 1 + reg_d
        # packed: the register holds r(x^l_t, P_t), the output is x^l_{t-1} + r
        rd_of = (_pack([((pp[1][l], (pp[0][:l], pp[1][:l])), pp[0][l]) for pp in d_keys])
                 if packed else {})

        def d_register(s: int, p: tuple) -> tuple[int, ...]:
            return (rd_of[(s, p)],) if packed else (0,) + _flat(p) + (s,)

        d_tokens = {key: i for i, key in enumerate(out_keys)}
        d_steps = []
        d_names = []
        swap = DeltaStep(key=(1, -1, 0), beta=1, value=(0,) * vd)
        for s, p in out_keys:
            d_steps.append([swap, _overwrite(kd, 1, (s,) + (0,) * (vd - 1)),
                            _overwrite(kd, 2, d_register(s, p))])
            d_names.append(f"{s}|{_label(p[0])}|{_label(p[1])}")
        d_map = [[d_tokens[below[c]] for c in range(len(below))] for _ in range(n_sym)]
        if packed:
            d_codes = [(pp[0][l] + rd_of[(pp[1][l], (pp[0][:l], pp[1][:l]))],) for pp in d_keys]
        else:
            d_codes = [(pp[0][l],) + _flat((pp[0][:l], pp[1][:l])) + (pp[1][l],)
                       for pp in d_keys]
        d_h0 = [[init[l]] + [0] * (vd - 1), [init[l]] + [0] * (vd - 1),
                list(d_register(init[l], (init[:l], init[:l])))]
        layers.append(Layer(tokens=tuple(d_names), steps=d_steps, initial_state=d_h0,
                            readout=Readout(query=[1, 0, 1], codes=d_codes),
                            token_map=d_map))
        below = d_keys
    return LRNN(alphabet=d.alphabet, layers=tuple(layers), accepting=tuple(accepting),
                state_map=tuple(state_map), form="cascade", name=name)


def _one_state_model(d: DFA, q: int, name: str) -> LRNN:
    """The cascade of a one-state automaton has no level: one layer of width 1 whose every
    token is the identity (``n_h = 0``), one readout class, the DFA's only state."""
    layer = Layer(tokens=d.alphabet, steps=[[] for _ in d.alphabet], initial_state=[[1]],
                  readout=Readout(query=[1], codes=[[1]]))
    return LRNN(alphabet=d.alphabet, layers=(layer,), accepting=(bool(d.accepting[q]),),
                state_map=(q,), form="cascade", name=name)


def compile_cascade(dfa: DFA, *, name: str = "", dont_care: str = "reset",
                    max_skeleton: int = 5000, progress: bool = False,
                    packed: bool = False, per_component: bool = False) -> LRNN:
    """Theorem 4 for any DFA: its minimal automaton's holonomy cascade as a stack of layers.

    Minimizes ``dfa``, decomposes it
    (:func:`~statetrack.automata.holonomy.holonomy_decomposition`) and compiles the cascade
    (:func:`cascade_construction`); the model's ``state_map`` refers to the states of
    ``dfa.minimize()``, as for every form of :func:`~statetrack.constructions.compile.compile`.

    Parameters
    ----------
    dfa : DFA
    name : str
        Stored on the model.
    dont_care, max_skeleton, progress
        Passed to the decomposition.
    packed : bool
        Theorem 4's ``d = 1`` (see :func:`cascade_construction`).
    per_component : bool
        One level per component (:class:`ComponentCascade`), as Theorem 4's proof has it:
        narrower layers (a level's components no longer share one), more of them; a
        component wider than ``|Q|`` is split along classes of tiles its group preserves
        (orbits, blocks), where it has some.

    Raises
    ------
    InputTypeError
        ``dfa`` is not a DFA.
    DecompositionLimitError
        The skeleton has more than ``max_skeleton`` sets (the message says how to raise it).
    CascadeError
        A level too wide for exact bfloat16 registers.

    Examples
    --------
    >>> from statetrack.automata import families, from_regex
    >>> m = compile_cascade(from_regex("(a|b)*abb"))
    >>> m.form, m.depth, m.accepts("babb"), m.accepts("abba")
    ('cascade', 5, True, False)
    >>> [layer.value_dim for layer in m.layers]                       # the registers' columns
    [1, 2, 3, 4, 5]
    >>> p = compile_cascade(from_regex("(a|b)*abb"), packed=True)     # Theorem 4's d = 1
    >>> [layer.value_dim for layer in p.layers], p.exact_in_floats
    ([1, 1, 1, 1, 1], True)
    >>> t3 = families.get("tomita(3)")       # level 2 has two components: 4 + 1 rows
    >>> [x.width for x in compile_cascade(t3).layers]
    [2, 3, 5, 3, 3, 3, 3, 3, 3]
    >>> [x.width for x in compile_cascade(t3, per_component=True).layers]
    [2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3]
    """
    from ..automata.holonomy import holonomy_decomposition

    if not isinstance(dfa, DFA):
        raise InputTypeError(f"compile_cascade: argument 'dfa' must be a statetrack DFA, got "
                             f"{type(dfa).__name__}")
    name = check_text(name, "name", "compile_cascade")
    progress = check_flag(progress, "progress", "compile_cascade")
    packed = check_flag(packed, "packed", "compile_cascade")
    per_component = check_flag(per_component, "per_component", "compile_cascade")
    d = dfa.minimize()
    casc = holonomy_decomposition(d, max_skeleton=max_skeleton, progress=progress,
                                  dont_care=dont_care)
    levels: Any = (ComponentCascade(casc, len(d.alphabet), max_width=d.n_states)
                   if per_component else casc)
    return cascade_construction(levels, d, minimize=False, name=name, packed=packed)
