r"""Initialize a whole :class:`~experiments.model.LRNNModel` from the task's construction.

The construction (:func:`statetrack.constructions.compile` of the task's DFA, one layer) is
read through :meth:`statetrack.kernels.layers.ConstructedLRNN.from_construction` (which loads
each layer with :meth:`DeltaProductLayer.from_construction`): per letter ``n_h`` keys, betas
and values, a fixed query, an initial state ``H_0`` and the codes (one per class) that the
readout ``o_t = H_t^T q`` takes, with the class -> DFA-state map. It becomes **head 0 of layer
0** of a model of the same architecture as the randomly initialized one; the other heads keep
their random weights. Everything else is set so that the construction's readout reaches the
head unchanged:

* embedding ``E[x] = e_x + e_c - t cbar`` (token ``x``'s own coordinate, a constant
  coordinate ``c``, and minus ``t`` times the mean code in the code coordinates below, so that
  the codes arrive centred; all rows have the same norm, so every RMSNorm divides every token by the same
  ``rho``; the attention norm's output is ``gamma e_x + ...``, ``gamma`` read off the module);
* head 0's projections: ``W_k``, ``W_v`` columns ``x`` = the letter's keys and values (divided
  by ``gamma``), ``W_q`` every column = the query; ``W_b`` = the logits
  ``z = logit(beta ||k||^2 / R)`` (clamped to +-20: in float32 ``sigmoid(20) = 1``), since
  keys are L2-normalized (``beta ||k||^2`` is the GH factor's ``1 - eigenvalue``, which must
  lie in ``[0, R]``, R = 2 for ``[-1, 1]`` and 1 for ``[0, 1]``); tokens that are not letters
  (PAD) get zero keys, an identity; the short convolution of head 0's channels passes the
  current token (last tap 1, others 0); the learned initial state of head 0 is ``H_0``;
* the *identity sub-steps* (a zero key: a letter that needs fewer than ``n_h`` reflections, a
  token that is not a letter, a sub-step beyond the construction's ``n_h``) get the beta logit
  ``identity_logit``: 0 by default (``beta = R / 2``), which is exact because the key is zero,
  but not robust: keys are L2-normalized (``eps = 1e-6``), so the first optimizer step (any
  nonzero move of a column that feeds the key, about ``1e-5`` at the warm-up's first learning
  rate) turns a zero key into a *unit* key, and the sub-step into ``I - (R/2) k k^T`` (for
  ``[-1, 1]`` the projection off ``k``), which erases the state along ``k`` at every identity
  letter. ``identity_logit=-max_logit`` closes these gates (``beta = R sigmoid(-20)``, about
  ``4e-9 R``), so such a key leaves the state unchanged to about ``1e-8``; the model computes
  the same function at the start either way (the section "Robustness" below);
* the layer's output projection reads head 0's first ``V_c`` outputs into ``V_c`` residual
  coordinates (times ``mu = t / alpha``, ``t`` chosen so that the code directions below are
  farthest apart) and nothing else;
  every other residual branch (later layers' output projections, every MLP's down
  projection) starts at zero, so the residual stream at the top is ``E[x] + mu P o_t`` with
  ``o_t = alpha code_t`` and ``alpha = scale / ||q||``: its code coordinates are
  ``t (code_t - cbar)``;
* the head's row of the class of DFA state ``s`` is the unit vector of the (constant, code)
  coordinates of the residual for the code of ``s``; other rows are 0. The final RMSNorm
  multiplies those coordinates by a positive number the same for all rows, so the argmax is
  the code whose direction is nearest: directions ``(1, t (c - cbar))`` of distinct codes are
  distinct, and the margin is checked (:class:`ConstructionInitError` below
  ``min_margin``).

The construction must use linear q/k/v (``activation="none"``) and no per-head output norm
(the constructions' codes are scalars ``0, 1, 2, ...`` that a per-head RMSNorm would
collapse); the model's width must hold ``vocab + V_c + 1`` coordinates and its heads
``K_c`` and ``V_c``; its ``num_householder`` at least the construction's (extra sub-steps get
zero keys). Both arms of the initializer experiment use the same architecture.

Examples
--------
>>> import numpy as np, torch
>>> from experiments.model import ModelConfig, build_model
>>> from experiments.tasks import make_task
>>> task = make_task("parity")
>>> cfg = ModelConfig(vocab_size=3, num_classes=3, num_layers=2, hidden_size=16, num_heads=2,
...                   activation="none", use_output_norm=False, learn_initial_state=True)
>>> model = build_model(cfg, generator=torch.Generator().manual_seed(0))
>>> info = init_from_construction(model, task)
>>> ex = task.sample(np.random.default_rng(0), 8, 100, 100)
>>> logits = model(torch.as_tensor(ex.tokens))
>>> bool((logits.argmax(-1)[:, -1] == torch.as_tensor(ex.targets[:, -1])).all())
True

Robustness
----------
One AdamW step at the warm-up's first learning rate (``1e-5``) on the constructed model with
the default identity logit 0 and with the gates closed: the first loses the parity (the
bit ``0`` is an identity letter, and its key became a unit vector), the second stays exact.

>>> def one_step(identity_logit):
...     m = build_model(cfg, generator=torch.Generator().manual_seed(0))
...     init_from_construction(m, task, identity_logit=identity_logit)
...     x, y = torch.as_tensor(ex.tokens), torch.as_tensor(ex.targets)
...     loss = lambda: torch.nn.functional.cross_entropy(m(x).flatten(0, 1), y.flatten(),
...                                                      ignore_index=-100)
...     opt = torch.optim.AdamW(m.parameters(), lr=1e-5)
...     l0 = loss()
...     l0.backward()
...     opt.step()
...     return l0.item(), loss().item()
>>> before, after = one_step(0.0)
>>> before < 1e-2, after > 1.0
(True, True)
>>> before, after = one_step(-20.0)
>>> before < 1e-2, after < 1e-2
(True, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from experiments.tasks import DFATask, ParityTask, Task

__all__ = ["ConstructionInitError", "ConstructionInfo", "construction_target",
           "init_from_construction"]


class ConstructionInitError(ValueError):
    """The task has no one-layer construction, or the model cannot hold it."""


@dataclass(frozen=True)
class ConstructionInfo:
    """What :func:`init_from_construction` did.

    Attributes
    ----------
    spec : str
        The language compiled.
    key_dim, value_dim, num_householder : int
        ``K_c``, ``V_c``, ``n_h`` of the construction.
    margin : float
        Smallest gap between the right class's logit direction and any other (cosine units).
    """

    spec: str
    key_dim: int
    value_dim: int
    num_householder: int
    margin: float


def construction_target(task: Task) -> tuple[Any, str, dict[int, int], np.ndarray]:
    """``(dfa, spec, letter_of_token, class_of_state)`` for a task with a one-layer
    construction: parity and the per-position DFA tasks.

    Raises
    ------
    ConstructionInitError
        Other tasks (modular arithmetic needs a cascade of several layers).
    """
    from statetrack.automata import families as F

    if isinstance(task, ParityTask):
        dfa = F.parity()
        cls = np.array([1 + (dfa.state_label(q) == "odd") for q in range(dfa.n_states)])
        return dfa, "parity", {1: dfa.symbol_index("0"), 2: dfa.symbol_index("1")}, cls
    if isinstance(task, DFATask):
        dfa = task.dfa
        return dfa, task.spec, {i: i for i in range(dfa.n_symbols)}, np.arange(dfa.n_states)
    raise ConstructionInitError(f"task {task.name!r}: no one-layer construction initializer "
                                "(parity and the per-position DFA tasks have one)")


def _directions(codes: torch.Tensor, t: float) -> torch.Tensor:
    d = torch.cat([torch.ones(len(codes), 1, dtype=torch.float64), t * codes], dim=1)
    return d / d.norm(dim=1, keepdim=True)


def _margin(dirs: torch.Tensor) -> float:
    """``1 - max cos`` between two distinct directions (1 for a single code)."""
    if len(dirs) < 2:
        return 1.0
    off = dirs @ dirs.T - 2 * torch.eye(len(dirs), dtype=dirs.dtype)
    return float(1 - off.max())


def _best_code_scale(codes: torch.Tensor) -> float:
    """The factor ``t`` (codes times ``t`` beside a constant 1) whose directions are farthest
    apart, on a log grid: e.g. scalar codes 0..5 spread over angles up to ~70 degrees."""
    grid = torch.logspace(-2, 1, 121, dtype=torch.float64).tolist()
    return max(grid, key=lambda t: _margin(_directions(codes, t)))


@torch.no_grad()
def init_from_construction(model: Any, task: Task, *, min_margin: float = 1e-3,
                           max_logit: float = 20.0, logit_gap: float = 8.0,
                           identity_logit: float = 0.0) -> ConstructionInfo:
    """Overwrite ``model``'s weights so that it computes the task's construction (module
    docstring); other heads of layer 0 and the rest of the model keep their weights.

    Parameters
    ----------
    model : LRNNModel
        Built with ``activation="none"``, ``use_output_norm=False``,
        ``learn_initial_state=True``.
    task : Task
        Parity or a per-position DFA task.
    min_margin : float
        Smallest accepted gap between the code directions.
    max_logit : float
        Clamp of the beta logits.
    logit_gap : float
        The right class's logit over every other at the codes.
    identity_logit : float
        Beta logit of the identity sub-steps (zero keys), in ``[-max_logit, max_logit]``: 0
        (the default, what the committed runs used) or ``-max_logit`` (gates closed, robust to
        the first optimizer steps; module docstring).

    Returns
    -------
    ConstructionInfo

    Raises
    ------
    ConstructionInitError
        No one-layer construction, an architecture that cannot hold it (the message names the
        field), a margin below ``min_margin``, or an ``identity_logit`` out of range.

    Notes
    -----
    The head is scaled so that, at the codes, the right class's logit exceeds every other by
    at least ``logit_gap`` (8: the constructed model starts with a cross-entropy near 0.002
    per label, not near chance).
    """
    from statetrack.constructions import compile as compile_lrnn
    from statetrack.kernels.layers import ConstructedLRNN

    cfg = model.config
    if cfg.layer != "deltaproduct":
        raise ConstructionInitError(f"layer: the initializer needs 'deltaproduct', got "
                                    f"{cfg.layer!r}")
    if cfg.activation != "none" or cfg.use_output_norm or not cfg.learn_initial_state:
        raise ConstructionInitError(
            "the construction needs activation='none', use_output_norm=False and "
            f"learn_initial_state=True, got {cfg.activation!r}, {cfg.use_output_norm}, "
            f"{cfg.learn_initial_state} (on the command line: --activation none "
            "--no-use-output-norm --learn-initial-state)")
    if not (isinstance(identity_logit, (int, float)) and math.isfinite(identity_logit)
            and abs(identity_logit) <= max_logit):
        raise ConstructionInitError(f"identity_logit: expected a number in [-{max_logit}, "
                                    f"{max_logit}], got {identity_logit!r}")
    dfa, spec, letter_of_token, class_of_state = construction_target(task)
    lrnn = compile_lrnn(dfa)
    if lrnn.depth != 1:
        raise ConstructionInitError(f"{spec}: the construction has {lrnn.depth} layers, the "
                                    "initializer takes one")
    cons = ConstructedLRNN.from_construction(lrnn, mode="reference", dtype=torch.float64)
    src = cons.layers[0]
    sc = src.config
    NH, Kc, Vc, S = sc.num_householder, sc.head_k_dim, sc.head_v_dim, sc.hidden_size
    keys = src.k_proj.weight.reshape(NH, Kc, S)            # [n_h, K, S]
    vals = src.v_proj.weight.reshape(NH, Vc, S)
    betas = src.b_proj.weight.reshape(NH, S)               # raw betas
    query = src.q_proj.weight[:, 0].clone()                # [K]
    h0 = src.initial_state[0]                              # [K, V]
    codes = cons.codes_0                                   # [C, V]
    state_map = cons.state_map if cons.state_map is not None else torch.arange(len(codes))

    layer = model.blocks[0].mixer.inner
    lc = layer.config
    H, K, V, D = lc.num_heads, lc.head_k_dim, lc.head_v_dim, cfg.hidden_size
    V_in = cfg.vocab_size
    need = {"num_householder": (NH, cfg.num_householder), "head_k_dim": (Kc, K),
            "head_v_dim": (Vc, V), "hidden_size": (V_in + Vc + 1, D)}
    for name, (want, have) in need.items():
        if have < want:
            raise ConstructionInitError(f"{name}: the construction of {spec} needs >= {want}, "
                                        f"the model has {have}")
    R = 2.0 if cfg.eigen_range == "[-1,1]" else 1.0
    nk2 = (keys ** 2).sum(1)                               # [n_h, S]
    beta_eff = betas * nk2
    if float(beta_eff.max()) > R + 1e-12:
        raise ConstructionInitError(f"eigen_range: {spec} needs beta ||k||^2 up to "
                                    f"{float(beta_eff.max())}, the model allows {R}")
    frac = (beta_eff / R).clamp(0, 1)
    logit = torch.log(frac) - torch.log1p(-frac)
    logit = torch.where(nk2 == 0, torch.full_like(logit, float(identity_logit)),
                        logit).clamp(-max_logit, max_logit)

    # --- embedding: e_x + e_c (coordinate V_in + Vc is the constant)
    const = V_in + Vc
    E = model.embedding.weight
    E.zero_()
    E[:, :V_in] = torch.eye(V_in, dtype=E.dtype)
    E[:, const] = 1.0
    center = codes.to(torch.float64).mean(0)              # codes enter centred
    t = _best_code_scale(codes.to(torch.float64) - center)
    E[:, V_in:V_in + Vc] = (-t * center).to(E.dtype)      # the same for every token
    gamma = float(model.blocks[0].attn_norm(E[:1].float())[0, 0])

    def rows(n: int, h: int, d: int) -> slice:            # rows of (j, h, :) in a '(n h d)' proj
        start = (n * H + h) * d
        return slice(start, start + d)

    kw, vw, bw, qw = (layer.k_proj.weight, layer.v_proj.weight, layer.b_proj.weight,
                      layer.q_proj.weight)
    for j in range(cfg.num_householder):
        kw[rows(j, 0, K)] = 0.0
        vw[rows(j, 0, V)] = 0.0
        bw[j * H + 0] = 0.0
        bw[j * H + 0, :V_in] = float(identity_logit) / gamma    # every token: identity
    qw[rows(0, 0, K)] = 0.0
    for tok, letter in letter_of_token.items():
        for j in range(NH):
            kw[rows(j, 0, K).start:rows(j, 0, K).start + Kc, tok] = \
                (keys[j, :, letter] / gamma).to(kw.dtype)
            vw[rows(j, 0, V).start:rows(j, 0, V).start + Vc, tok] = \
                (vals[j, :, letter] / gamma).to(vw.dtype)
            bw[j * H + 0, tok] = float(logit[j, letter]) / gamma
    qw[:Kc, :V_in] = (query / gamma).to(qw.dtype)[:, None]
    for conv, d in ((layer.q_conv, K), (layer.k_conv, K), (layer.v_conv, V)):
        if conv is None:
            continue
        w = conv.conv.weight                               # [C, 1, size]
        n_sub = w.shape[0] // (H * d)
        for j in range(n_sub):
            sl = rows(j, 0, d)
            w[sl] = 0.0
            w[sl, 0, -1] = 1.0
            if conv.conv.bias is not None:
                conv.conv.bias[sl] = 0.0
    layer.initial_state[0] = 0.0
    layer.initial_state[0, :Kc, :Vc] = h0.to(layer.initial_state.dtype)

    # --- readout: o_0 = alpha * codes; residual code coordinates V_in .. V_in + Vc
    scale = lc.scale if lc.scale is not None else K ** -0.5
    alpha = scale / float(query.norm())
    mu = t / alpha
    op = layer.o_proj.weight                               # [D, H V]
    op.zero_()
    op[V_in:V_in + Vc, :Vc] = mu * torch.eye(Vc, dtype=op.dtype)
    for i, block in enumerate(model.blocks):
        if i > 0:
            block.mixer.inner.o_proj.weight.zero_()
        if block.mlp is not None:
            block.mlp.down_proj.weight.zero_()

    # --- head: unit directions of (constant, code) per class
    dirs = _directions(codes.to(torch.float64) - center, t)   # [C, 1 + Vc]
    margin = _margin(dirs)
    if margin < min_margin:
        raise ConstructionInitError(f"{spec}: code directions too close (margin {margin:.2e})")
    hw = model.head.weight
    hw.zero_()
    seen: set[int] = set()
    for c in range(len(codes)):
        y = int(class_of_state[int(state_map[c])])
        if y in seen:
            raise ConstructionInitError(f"{spec}: two construction classes give label {y}")
        seen.add(y)
        hw[y, const] = float(dirs[c, 0])
        hw[y, V_in:V_in + Vc] = dirs[c, 1:].to(hw.dtype)
    # the logits at the codes, through the model's own final norm and head
    resid = E[:1].double().repeat(len(codes), 1)
    resid[:, V_in:V_in + Vc] = t * (codes.double() - center)
    lg = model.head(model.norm(resid.to(E.dtype))).double()          # [C, classes]
    right = torch.tensor([int(class_of_state[int(state_map[c])]) for c in range(len(codes))])
    top = lg.gather(1, right[:, None])[:, 0]
    lg[torch.arange(len(codes)), right] = -math.inf
    gap = float((top - lg.max(1).values).min())
    if not gap > 0:
        raise ConstructionInitError(f"{spec}: the head does not separate the codes (gap {gap})")
    hw.mul_(logit_gap / gap)
    return ConstructionInfo(spec=spec, key_dim=Kc, value_dim=Vc, num_householder=NH,
                            margin=margin if math.isfinite(margin) else 0.0)
