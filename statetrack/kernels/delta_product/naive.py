r"""Pure-PyTorch sequential reference of the DeltaProduct recurrence (fla layout).

The recurrence
--------------
Per batch entry and head the state is ``S`` of shape ``[K, V]`` (``S_0`` = the initial state,
or zeros). For each token ``t = 0 .. T-1``:

1. gate (optional): ``S <- exp(g_t) S``;
2. for each sub-step ``j = 0 .. n_h - 1`` (row ``i = t * n_h + j`` of ``k``, ``v``, ``beta``)::

       u_i = v_i - S^T k_i                      # [V], what the key currently reads
       S   <- S + beta_i k_i u_i^T              # = (I - beta_i k_i k_i^T) S + beta_i k_i v_i^T

3. read out: ``o_t = S^T (scale * q_t)``.

The final state is ``S`` after the last token. One token therefore acts as
``S <- A_t S + B_t`` with ``A_t = G_{n_h-1} ... G_0 exp(g_t)`` and
``G_j = I - beta_j k_j k_j^T`` (a generalized Householder matrix).

Keys are **not** normalized here (nor in the kernels): the GH factor has eigenvalue
``1 - beta ||k||^2``, so the caller keeps ``beta * ||k||^2`` in [0, 2] for a contraction.
The constructions use integer keys (entries in {0, 1, -1}) with ``beta`` in {0, 1}, e.g. the
swap ``I - (e_0 - e_1)(e_0 - e_1)^T`` (``beta = 1``, ``||k||^2 = 2``), exact in any binary
floating-point format. The kernels check only ``beta`` in [0, 2].

Layout (fla's): ``q`` ``[B, T, H, K]``, ``k`` ``[B, T*n_h, H, K]``, ``v`` ``[B, T*n_h, H, V]``,
``beta`` ``[B, T*n_h, H]``, ``g`` ``[B, T, H]`` (log-gate), ``initial_state`` ``[B, H, K, V]``;
``o`` ``[B, T, H, V]`` in ``q``'s dtype; the state (and the returned final state) is float32,
or float64 for float64 inputs. ``scale`` defaults to ``K ** -0.5`` as in fla.

The reference is differentiable by ``torch.autograd`` (no in-place updates of tensors that
need gradients), so the float64 reference is the gradient oracle of the kernel tests.

Examples
--------
Parity: the state is one-hot ``e_q`` (``K = 2``, ``V = 1``), letter '1' swaps the two slots
(key ``e_0 - e_1``, ``beta = 1``), letter '0' is the identity (``beta = 0``); the query
``(0, 1)`` reads the state index.

>>> import torch
>>> from statetrack.kernels.delta_product.naive import delta_product_ref
>>> word = [1, 1, 0, 1]
>>> k = torch.tensor([1.0, -1.0]).expand(1, 4, 1, 2)
>>> beta = torch.tensor(word, dtype=torch.float32).view(1, 4, 1)
>>> v = torch.zeros(1, 4, 1, 1)                       # B(x) = 0: pure permutation
>>> q = torch.tensor([0.0, 1.0]).expand(1, 4, 1, 2)
>>> s0 = torch.tensor([[1.0], [0.0]]).view(1, 1, 2, 1)
>>> o, s = delta_product_ref(q, k, v, beta, scale=1.0, initial_state=s0,
...                          output_final_state=True)
>>> o.flatten().tolist(), s.flatten().tolist()
([1.0, 0.0, 0.0, 1.0], [0.0, 1.0])
"""

from __future__ import annotations

import torch

from statetrack.kernels._common.checks import FLOAT_DTYPES, check_delta_product_inputs

__all__ = ["delta_product_ref"]


def delta_product_ref(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    beta: torch.Tensor,
    *,
    num_householder: int = 1,
    g: torch.Tensor | None = None,
    scale: float | None = None,
    initial_state: torch.Tensor | None = None,
    output_final_state: bool = False,
    check_beta: bool = True,
    check_finite: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Run the DeltaProduct recurrence token by token in PyTorch.

    Parameters
    ----------
    q : torch.Tensor
        Queries ``[B, T, H, K]``.
    k : torch.Tensor
        Keys ``[B, T * n_h, H, K]`` (sub-steps of a token are consecutive rows); not
        normalized.
    v : torch.Tensor
        Values ``[B, T * n_h, H, V]``.
    beta : torch.Tensor
        Step sizes ``[B, T * n_h, H]`` in [0, 2].
    num_householder : int
        ``n_h``, the GH sub-steps per token.
    g : torch.Tensor, optional
        Log-gate ``[B, T, H]``: ``S <- exp(g_t) S`` before the token's first sub-step.
    scale : float, optional
        Query scale; ``K ** -0.5`` when None.
    initial_state : torch.Tensor, optional
        ``[B, H, K, V]``; zeros when None.
    output_final_state : bool
        Return the final state (else None).
    check_beta, check_finite : bool
        Validate ``beta`` in [0, 2] (default) / every input finite (on request).

    Returns
    -------
    o : torch.Tensor
        ``[B, T, H, V]`` in ``q``'s dtype.
    final_state : torch.Tensor or None
        ``[B, H, K, V]`` in float32 (float64 for float64 inputs).

    Raises
    ------
    KernelInputError
        (a subclass of it) for bad shapes, dtypes, devices, beta outside [0, 2], and
        non-finite inputs when ``check_finite``.

    Examples
    --------
    >>> import torch
    >>> gen = torch.Generator().manual_seed(0)
    >>> B, T, H, K, V, n_h = 1, 3, 2, 4, 4, 2
    >>> q = torch.randn(B, T, H, K, generator=gen, dtype=torch.float64)
    >>> k = torch.nn.functional.normalize(
    ...     torch.randn(B, T * n_h, H, K, generator=gen, dtype=torch.float64), dim=-1)
    >>> v = torch.randn(B, T * n_h, H, V, generator=gen, dtype=torch.float64)
    >>> beta = 2 * torch.rand(B, T * n_h, H, generator=gen, dtype=torch.float64)
    >>> o, s = delta_product_ref(q, k, v, beta, num_householder=n_h,
    ...                          output_final_state=True)
    >>> o.shape, s.shape, s.dtype
    (torch.Size([1, 3, 2, 4]), torch.Size([1, 2, 4, 4]), torch.float64)
    """
    d = check_delta_product_inputs(q, k, v, beta, num_householder=num_householder, g=g,
                                   scale=scale, initial_state=initial_state,
                                   dtypes=FLOAT_DTYPES, check_beta=check_beta,
                                   check_finite=check_finite)
    sd, n_h = d.state_dtype, d.num_householder
    qf = q.to(sd) * d.scale
    kf, vf, bf = k.to(sd), v.to(sd), beta.to(sd)
    if initial_state is None:
        S = torch.zeros(d.B, d.H, d.K, d.V, dtype=sd, device=d.device)
    else:
        S = initial_state.to(sd)
    # per-step views, made once: the loop below runs a few small ops per sub-step, and on
    # the CPU their Python overhead is the cost (matmul is about twice as fast as einsum here)
    k_rows = kf.unsqueeze(-2).unbind(1)                     # T*n_h x [B, H, 1, K]
    bk_cols = (bf[..., None] * kf).unsqueeze(-1).unbind(1)  # T*n_h x [B, H, K, 1], beta k
    v_rows = vf.unsqueeze(-2).unbind(1)                     # T*n_h x [B, H, 1, V]
    q_rows = qf.unsqueeze(-2).unbind(1)                     # T x [B, H, 1, K]
    outs = []
    for t in range(d.T):
        if g is not None:
            S = S * torch.exp(g[:, t].to(sd))[:, :, None, None]
        for j in range(n_h):
            i = t * n_h + j
            u = v_rows[i] - torch.matmul(k_rows[i], S)      # [B, H, 1, V]: v - S^T k
            S = S + bk_cols[i] * u                          # [B, H, K, V]
        outs.append(torch.matmul(q_rows[t], S)[..., 0, :])  # [B, H, V]: S^T q
    if outs:
        o = torch.stack(outs, dim=1).to(q.dtype)
    else:
        o = torch.zeros(d.B, 0, d.H, d.V, dtype=q.dtype, device=d.device)
    return o, (S if output_final_state else None)
