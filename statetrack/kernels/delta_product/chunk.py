r"""Chunked (WY / UT-transform) Triton kernel of the DeltaProduct recurrence, forward and backward.

The recurrence
--------------
For each batch ``b`` and head ``h`` the state ``S`` is a ``[K, V]`` matrix. Token ``t`` brings a
query ``q_t``, an optional log-gate ``g_t`` and ``n_h`` sub-steps ``(k, v, beta)``, stored
interleaved: sub-step ``j`` of token ``t`` is row ``t * n_h + j`` of ``k``, ``v``, ``beta``::

    S <- exp(g_t) S                                   (before the first sub-step only)
    S <- (I - beta k k^T) S + beta k v^T              (each sub-step)
    o_t = S^T (scale * q_t)                           (after the last sub-step)

Read as one sequence of ``L = T * n_h`` sub-steps, this is the gated delta rule with the per-step
log-gate ``g'_i = g_t`` if ``i = t * n_h`` and ``g'_i = 0`` otherwise, in which only every
``n_h``-th position emits an output.

WY form of one chunk
--------------------
Take a chunk of ``C`` consecutive sub-steps with starting state ``S_0`` and let
``G_i = sum_{m <= i} g'_m`` (cumulative within the chunk), ``gamma_i = exp(g'_i)``. Write the
update as ``S_i = gamma_i S_{i-1} + k_i delta_i^T`` with the *corrected value*

.. math:: \delta_i = \beta_i (v_i - \gamma_i S_{i-1}^T k_i).

Unrolling, ``S_i = e^{G_i} S_0 + sum_{j <= i} e^{G_i - G_j} k_j delta_j^T``. Substituting
``S_{i-1}`` into ``delta_i``:

.. math::
    \delta_i + \sum_{j < i} \beta_i e^{G_i - G_j} (k_i \cdot k_j)\, \delta_j
    = \beta_i v_i - \beta_i e^{G_i} S_0^T k_i .

With ``A = strictly_lower(diag(beta) (E o K K^T))``, ``E_ij = e^{G_i - G_j}``, and
``T = (I + A)^{-1}`` (the UT transform), the rows ``D = [delta_i]`` are

.. math:: D = U - W S_0, \qquad U = T\,\mathrm{diag}(\beta) V, \qquad
          W = T\,\mathrm{diag}(\beta e^{G}) K,

and the state at the chunk's end (``G_l`` = last ``G``) is

.. math:: S_C = e^{G_l} S_0 + (\mathrm{diag}(e^{G_l - G}) K)^T D .

``delta_i`` is a property of the recurrence, not of the chunking, which is what lets the outputs
use a different grouping than the state update.

``T`` is computed in 16 x 16 blocks: each diagonal block ``(I + A_aa)^{-1}`` by forward
substitution (row ``i`` is ``e_i - sum_{m<i} A_im row_m``), each off-diagonal block by
``T_ab = -T_aa sum_{b <= m < a} A_am T_mb``. No power series is used (its partial sums can be
huge when ``beta`` is near 2 even though ``T`` itself stays moderate).

Outputs, token-aligned
----------------------
The chunk size ``BT`` (``chunk_size``) is both the number of *sub-steps* in a WY sub-chunk and
the number of *tokens* in an output chunk; a token chunk is therefore exactly ``n_h``
consecutive sub-chunks, and the state at its start is a sub-chunk boundary. With ``Gt`` the
token-level cumulative gate within the token chunk and ``tok(i)`` the token of sub-step ``i``,
the gates applied after sub-step ``i`` up to the end of token ``t`` are those of tokens
``tok(i)+1 .. t``, so

.. math:: o_t = \mathrm{scale}\Big(e^{Gt_t} q_t^T S_0
          + \sum_{i:\ \mathrm{tok}(i) \le t} e^{Gt_t - Gt_{\mathrm{tok}(i)}} (q_t \cdot k_i)\, \delta_i\Big).

Only the ``T`` real queries are used (no zero-padded interleaving of ``q``).

Forward pass (two kernels)
--------------------------
1. ``wy_fwd_kernel`` (parallel over sub-chunks): ``A``, ``T``, ``W``, ``U``. ``T`` is inverted
   by 16 x 16 blocks; each diagonal block by forward substitution on its transpose, reading
   the rows of ``A`` back from a float32 scratch copy (64 bytes per sub-step row, transient),
   so that a step synchronizes no warps; the off-diagonal blocks by exact float32 products.
2. ``fwd_state_kernel`` (sequential over chunks, parallel over batch, head and value blocks):
   ``D = U - W S``, the state update, and the outputs of each token chunk, fused, so neither
   the chunk states nor ``D`` are written to memory in the forward pass.

Backward pass
-------------
When any input requires a gradient, the forward pass keeps ``T``, ``W`` and ``U`` (activation
memory of about two key-sized tensors plus ``T``, ``[L, BT]``); the backward pass recomputes
the states at every sub-chunk start ``S^{(i)}`` and ``D`` (kernel 2 with storing switched on).
With ``save_states`` (the default for 16-bit inputs on the GPU since session 14, when the
H200 timed it at the model shape: forward+backward 2.97 -> 2.82 ms at n_h = 1, 6.84 -> 6.74 ms
at n_h = 2 gated; ``_CONFIG_OVERRIDE["save_states"] = False`` turns it off, ``True`` turns it
on for float32 and the interpreter) the forward pass stores them instead, in the same kernel
that forms the outputs, and the backward pass skips that kernel: one launch less, at the price of
``S^{(i)}`` and ``D`` as activation memory (``NS K V + L V`` elements in the input dtype per
batch row and head: 384 MiB at B 8, T 4096, H 16, K = V = 128 and chunk 64 in bf16, as much
as ``q``, ``k`` and ``v`` together). Then, with ``dO`` the output gradient:

* ``bwd_o_kernel`` (per token chunk), from the output formula with
  ``M_ti = [tok(i) <= t] e^{Gt_t - Gt_tok(i)}``, ``X = M o (dO D^T)``:
  ``dq = scale (diag(e^{Gt}) dO S_0^T + X K)``, keys' share ``scale X^T Q``, deltas' share
  ``dD_loc = scale (M o Q K^T)^T dO``, and
  ``dGt_t += scale e^{Gt_t} q_t . (S_0 dO_t) + sum_i Y_ti``, ``dGt_tok(i) -= sum_t Y_ti`` with
  ``Y = scale X o (Q K^T)``.
* ``bwd_state_kernel`` (reverse sequential): ``dS`` = gradient of the state at a sub-chunk's end
  (saved per sub-chunk); ``dD = dD_loc + diag(e^{G_l - G}) K dS``;
  ``dS <- e^{G_l} dS - W^T dD``; at each token chunk's start
  ``dS += scale (diag(e^{Gt}) Q)^T dO``. The last ``dS`` is the initial state's gradient.
* ``bwd_wy_kernel`` (per sub-chunk): ``dW = -dD S_0^T``, ``dU = dD``; from the state update
  ``dK += diag(e^{G_l - G}) D dS^T`` and ``dG_l += e^{G_l} <S_0, dS> + sum_j y_j``,
  ``dG_j -= y_j`` with ``y_j = e^{G_l - G_j} k_j . (dS delta_j)``; from ``W`` and ``U``:
  ``dT = dW (diag(beta e^G) K)^T + dU (diag(beta) V)^T``, ``dK += diag(beta e^G) T^T dW``,
  ``dV = diag(beta) T^T dU``, ``dbeta += rows(T^T dW o K) e^G + rows(T^T dU o V)``,
  ``dG += rows(T^T dW o diag(beta e^G) K)``; from ``T = (I + A)^{-1}``:
  ``dA = -T^T dT T^T`` (strictly lower), ``P = dA o E``, ``dbeta += rows(P o K K^T)``,
  ``dK += (diag(beta) P) K + (diag(beta) P)^T K``, ``dG_i += rows(dA o A)_i - cols(dA o A)_i``.
* The gate gradient is ``dg'`` = reverse cumulative sum of ``dG`` within each sub-chunk, taken at
  each token's first sub-step, plus the reverse cumulative sum of ``dGt`` within each token chunk.

Precision: states and accumulators are float32; matrix-product operands are the input dtype
(bfloat16 products with float32 accumulation for bfloat16 inputs; for float32 inputs, products in
``tf32x3``, three tf32 passes, float32-level error on tensor cores). The 16 x 16 products of the
UT transform are always exact float32. Under ``TRITON_INTERPRET=1`` the operands are rounded
to the input dtype as on the GPU and multiplied in float32.

Two exceptions for 16-bit inputs. At small ``K`` (``K <= HI_MAX_K``, the ``HI`` constexpr) the
forward keeps ``U`` in float32 and multiplies ``W, U = T (.)``, the state update ``K^T D`` and the
outputs' ``(Q K^T) D`` in float32: a chunk much longer than ``K`` writes each key direction many
times, those sums are much larger than their results, and 16-bit operands there put the final
state past the tolerance table (docs/kernels.rst, "Precision of the chunked kernel"). With
float16 inputs, a gate and an initial state, the first token's gate is applied to the initial
state in float32 before the kernels and to ``dh0`` after them (:func:`_fold_first_gate`), so a
strong first gate does not flush ``dh0`` to zero through float16 operands.

Every buffer (outputs, gradients and internal scratch) is allocated through :func:`_alloc`, so a
test can fill them all with NaN and check that every element read or returned was written.
"""

from __future__ import annotations

import json
import os
from typing import Optional

import torch

from statetrack.floats import next_pow2
from statetrack.kernels.delta_product import _chunk_kernels as _kern
from statetrack.kernels._common.checks import check_delta_product_inputs
from statetrack.kernels._common.device import device_guard
from statetrack.kernels._common.triton import INTERPRET, require_runnable, tl, triton
from statetrack.kernels.errors import KernelInputError

__all__ = ["chunk_delta_product", "SUPPORTED_CHUNK_SIZES", "CHUNK_DTYPES", "MAX_KV"]

#: input dtypes of ``q``, ``k``, ``v`` the chunked kernel accepts
CHUNK_DTYPES = (torch.float16, torch.bfloat16, torch.float32)
#: largest key / value size (tiles hold a whole padded row)
MAX_KV = 256

#: chunk sizes the kernels implement (the UT transform is unrolled in 16 x 16 blocks)
SUPPORTED_CHUNK_SIZES = (16, 32, 64)

#: the largest key width at which 16-bit inputs take the forward's float32 sums (``HI``):
#: ``U`` stored in float32, and ``T``, ``U`` and ``D`` float32 operands of the products
#: ``W, U = T (.)``, ``S += K^T D`` and ``o += (Q K^T) D`` (docs/kernels.rst, "Precision of
#: the chunked kernel"). Below 32 a 64-row chunk overwrites each key direction several times, and the
#: 16-bit roundings of those operands put bfloat16's final state and outputs past the
#: tolerance table (K = 8: 1.0-1.7e-2 at chunk 64, 2-4e-3 with ``HI``). ``K = 32`` and up
#: (the model shapes) keep 16-bit operands and a 16-bit ``U``: the same code and bytes.
HI_MAX_K = 31

#: per kernel: (value block width, num_warps, num_stages); keyed by "2-byte input dtype?"
_GPU_CONFIG = {
    # 16-bit inputs: bwd_o and bwd_state from the H100 sweep (results/kernels_model_sweep.json)
    # "save_states" (below): the H200 sweep of session 14 (results/kernels_model_save_h200.json)
    # "wy_loop", "lp_bwd", "early" and the wy kernel's 3 stages: session 19 (H200 sweeps
    # results/kernels_model_{wy_loop,lp_bwd}_h200_s19.json; all three against fla on an H100,
    # results/kernels_model_s19_h100.log: 1u forward+backward 2.961 -> 2.683 ms, 2g 6.718 ->
    # 6.063; errors against float64 no larger, results/variant_error_1u_h100_s19.log)
    True: {"wy": (0, 4, 3), "state": (32, 4, 2), "state_rec": (64, 4, 2), "bwd_o": (64, 4, 2),
           "bwd_state": (32, 4, 2), "bwd_wy": (64, 8, 2),
           "bwd_wy_v": (64, 8, 2), "bwd_wy_t": (0, 4, 2), "save_states": True,
           "wy_loop": True, "lp_bwd": True, "early": True, "tfused": True, "inv_stack": True},
    # "inv_stack" (the loop-form WY pass's four diagonal substitutions as one on a stacked
    # tile): session 27 on an H100 (results/s27/km_combo_h100.json), the WY pass 0.940 -> 0.620 ms
    # at 3g, 0.301 -> 0.206 at 1u; forward 3g 2.233 -> 1.930, 1u 0.653 -> 0.542, 2g 1.376 ->
    # 1.166; forward+backward 3g 8.878 -> 8.594, 1u 2.608 -> 2.514
    # "tfused" (the forward without saved states forms D from T, the values and beta):
    # session 22 on an H100 (results/s22_h100/fwd_paths.json), forward 1u 0.664 -> 0.649 ms,
    # 2g 1.540 -> 1.392, 3g 2.448 -> 2.264, 3u 2.147 -> 1.939; its GPU tests passed
    # (results/tfused_tests_h100_s22.txt)
    False: {"wy": (0, 4, 2), "state": (32, 4, 2), "state_rec": (32, 4, 2), "bwd_o": (32, 8, 2),
            "bwd_state": (32, 4, 2), "bwd_wy": (32, 8, 2),
            "bwd_wy_v": (32, 8, 2), "bwd_wy_t": (0, 4, 2)},
}
#: ``bwd_wy_v`` / ``bwd_wy_t`` above are the two kernels of the split ``bwd_wy`` (issue 12),
#: used only when ``_CONFIG_OVERRIDE["wy_split"]`` is true (a benchmark sweep sets it; timed on
#: the H200 in session 14, it lost: 1u forward+backward 3.14 ms vs 2.97, 2g 6.89 vs 6.84,
#: results/kernels_model_split_h200.json): the value-block loop, then the ``dT`` / ``dA``
#: chain, with ``dW``, the partial ``dT`` and ``dbeta`` through global memory. Their settings
#: are untimed first guesses (the chunk-64 ``bwd_wy`` ones; 4 warps for the loop-free half).
#: ``bwd_wy`` at chunk sizes below 64, keyed by (chunk size, "2-byte input dtype?"): measured
#: on the H200 at the experiments' training shape (B 256, T 40, 4 heads, K = V = 32;
#: ``benchmarks/probes/train_shape.py``, session 9): float32 at chunk 16 0.10 ms a call with
#: these settings vs 0.22 ms with the chunk-64 ones (and 2.6 ms at chunk 64)
_BWD_WY_SMALL_BT = {(16, False): (32, 2, 2), (16, True): (32, 2, 2),
                    (32, False): (16, 4, 2), (32, True): (32, 2, 2)}
#: the forward state pass by the number of Householder factors, for 16-bit inputs at chunk 64
#: with 64 < K <= 128 (session 21, H100, ``benchmarks/probes/qk_in.py``; model shape B 8,
#: T 4096, H 16, K = V = 128; the pass's device time): one factor, 64-wide value blocks at 3
#: stages (1u 0.357 -> 0.236 ms; GPU tests of one factor passed with it).
_STATE_BY_NH = {1: {"state": (64, 4, 3)}}
#: the hoisted loop form (``hoist``: token chunks outer, a run-time loop over their sub-chunks,
#: no branches and no unrolling) at 64-wide value blocks, in a forward that keeps no states
#: (one that saves them runs flat at ``state_save``): session 27 on an H100
#: (``kernels_model.py --sweep-set fwd_nh3`` / ``fwd_combo``, results/s27/), with
#: ``inv_stack``: forward 1u 0.542 -> 0.482 ms (against 64:4:3 flat; the saving forward at
#: 64:4:2 was slower, 2.514 -> 2.618 forward+backward, so it keeps 64:4:3), 3g 1.930 ->
#: 1.485 (the state pass 1.305 -> 0.853 against 32:4:2 flat; flat at 64:4:2 it was 1.142),
#: 3u 1.646 -> 1.329. Two factors keep the unrolled pass with the scores. Three factors and
#: more (timed at three; every factor count compiles to the same loop): the saving forward
#: hoisted at 64:4:2 too (``hoist_save``; forward+backward 3u 7.064 -> 6.865 ms, 3g 8.594 ->
#: 8.547, against flat at 32:4:2).
_STATE_HOIST = {"state": (64, 4, 2), "hoist": True}
_STATE_HOIST_BY_NH = {1: dict(_STATE_HOIST, state_save=(64, 4, 3))}
_STATE_HOIST_MANY = dict(_STATE_HOIST, state_save=(64, 4, 2), hoist_save=True)
#: two factors with the scores from the WY pass (``qkin``) and the sub-chunks unrolled
#: (``nest``), 64-wide value blocks (2g 0.837 -> 0.560 ms for the pass, 1.706 -> 1.543 ms
#: for the forward), in a forward that keeps no states; one that saves them for the backward
#: (``save_states``) runs flat at ``state_save`` (unrolled with its stores it needs 238,100 B
#: of shared memory, past the H100's 232,448; unrolled at 32:4:2 reading the scores it was
#: slower, 1.122 against 0.984 ms, session 22). The default since session 22, when the GPU
#: tests of ``test_chunk.py`` and ``test_layer.py`` passed with it (H100; raw
#: ``benchmarks/results/qkin_tests_h100_s22.txt``); ``_CONFIG_OVERRIDE["qkin"] = False`` runs
#: the flat pass at the general settings. Three factors unrolled need 250-413 kB (320-485 kB
#: reading the scores); at one stage they fit but fault (below, ``_NEST_MIN_STAGES``).
_STATE_SCORES_BY_NH = {2: {"state": (64, 4, 2), "qkin": True, "nest": True,
                           "state_save": (32, 4, 2)}}
#: the unrolled forward state pass (``nest``) at one software-pipelining stage faulted on
#: an H100 under Triton 3.6 in every case timed but one (an illegal memory access; 1u at
#: 32:4:1, 3g and 3u at 32:4:1 and 64:4:1, the saving forward at 2g at 32:4:1; 2g at 64:4:1
#: ran; session 22, ``benchmarks/probes/qk_in.py`` and ``kernels_model.py --sweep-set
#: fwd_paths``): the plan refuses it
_NEST_MIN_STAGES = 2
#: the interpreter runs one program at a time; 16-wide value blocks exercise the block loops
_INTERPRET_CONFIG = {"wy": (0, 0, 0), "state": (16, 0, 0), "state_rec": (16, 0, 0),
                     "bwd_o": (16, 0, 0), "bwd_state": (16, 0, 0), "bwd_wy": (16, 0, 0),
                     "bwd_wy_v": (16, 0, 0), "bwd_wy_t": (0, 0, 0)}
#: benchmark sweeps set entries here (same format, plus ``"inv"``: how the 16x16 diagonal
#: blocks of the UT transform are inverted, 1 = substitution reading rows from a scratch
#: copy, 0 = substitution extracting rows by reductions; ``"prec"``: the ``tl.dot``
#: input precision of float32 products, ``"ieee"`` unless set; and ``"wy_split"``: true runs
#: the backward WY step as two kernels, ``bwd_wy_v`` then ``bwd_wy_t``; ``"save_states"``: true
#: makes a forward pass that keeps activations for the backward also store the sub-chunk
#: states and ``D``, so the backward does not recompute them; ``"lp_bwd"``: true keeps the
#: backward's two partial gradients ``dko`` (keys' share from the outputs) and ``dvloc`` (the
#: deltas' share) in the input dtype instead of float32, as fla keeps its ``dv`` and ``dk``
#: partials: half their bytes, one more rounding of a partial sum, so not bitwise the same
#: gradients (with ``"wy_split"`` too, ``dko`` is rounded twice: ``bwd_wy_v`` adds the state
#: update's share to it in place); issue 12, session 18; the 16-bit default since session 19);
#: ``"wy_loop"``:
#: true runs the forward WY step at chunk 64 as ``wy_loop_kernel`` (keys and values read in
#: loops over column blocks, ``A`` and ``T`` through a float32 scratch; session 18; the
#: 16-bit default since session 19, with 3 stages); ``"row64"``: true runs the kernels'
#: 64-bit-offset variant even for a row that does not need it (tests); ``"early"``: true has the state passes (``fwd_state_kernel``,
#: ``bwd_state_kernel``) issue the loads that feed no product (the gates, ``dvloc``) at the
#: top of each step, before its stores, which the compiler may not move loads across
#: (session 19: the same arithmetic, bitwise the same results; the 16-bit default: on an
#: H100 the saving forward state pass 1.17 -> 0.97 ms at 2g, bwd_state 0.53 -> 0.48 at 1u);
#: empty in normal use (set ``False`` to time the older choices)
_CONFIG_OVERRIDE: dict = {}
#: the settings _CONFIG_OVERRIDE may name
#: (launch settings ``(block, warps, stages)``; the others switches, but ``inv`` (an int) and
#: ``prec`` (a string))
_OVERRIDE_LAUNCH = set(_GPU_CONFIG[True]) | set(_GPU_CONFIG[False]) | {"state_save"}
_OVERRIDE_LAUNCH -= {k for k, v in _GPU_CONFIG[True].items() if not isinstance(v, tuple)}
_OVERRIDE_KEYS = (_OVERRIDE_LAUNCH
                  | {"inv", "prec", "wy_split", "save_states", "lp_bwd", "wy_loop", "row64",
                     "early", "nospec", "qkin", "nest", "hi", "tfused", "hoist", "inv_stack",
                     "hoist_save"})


def _override_from_env(raw: str | None) -> dict:
    """The settings of ``STATETRACK_CHUNK_OVERRIDE``, a JSON object that the package merges into
    ``_CONFIG_OVERRIDE`` when it loads: a device run of the GPU tests or of a benchmark with an
    opt-in setting on, e.g. ``STATETRACK_CHUNK_OVERRIDE='{"qkin": true}'``. Lists become
    tuples (launch settings ``[block, warps, stages]``); an unknown name, a value of the wrong
    type (a launch setting not three integers, a switch not ``true`` / ``false``: the string
    ``"false"`` would turn it on) or text that is not a JSON object is an error naming the
    variable.

    >>> _override_from_env('{"qkin": true, "state": [64, 4, 2]}')
    {'qkin': True, 'state': (64, 4, 2)}
    >>> _override_from_env(None), _override_from_env("  ")
    ({}, {})
    >>> _override_from_env('{"qkn": true}')
    Traceback (most recent call last):
    ...
    ValueError: STATETRACK_CHUNK_OVERRIDE: unknown setting(s) ['qkn']; known: ...
    >>> _override_from_env('{"qkin": "false"}')
    Traceback (most recent call last):
    ...
    ValueError: STATETRACK_CHUNK_OVERRIDE: "qkin" must be true or false, got 'false'
    """
    if raw is None or not raw.strip():
        return {}
    try:
        val = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"STATETRACK_CHUNK_OVERRIDE: not JSON ({exc}): {raw!r}") from None
    if not isinstance(val, dict):
        raise ValueError(f"STATETRACK_CHUNK_OVERRIDE: expected a JSON object, got {raw!r}")
    bad = sorted(set(val) - _OVERRIDE_KEYS)
    if bad:
        raise ValueError(f"STATETRACK_CHUNK_OVERRIDE: unknown setting(s) {bad}; known: "
                         f"{sorted(_OVERRIDE_KEYS)}")
    for name, value in val.items():
        if name in _OVERRIDE_LAUNCH:
            ok = (isinstance(value, list) and len(value) == 3
                  and all(isinstance(x, int) and not isinstance(x, bool) for x in value))
            want = "[block, warps, stages] (three integers)"
        elif name == "inv":
            ok, want = isinstance(value, int) and not isinstance(value, bool), "an integer"
        elif name == "prec":
            ok, want = isinstance(value, str), "a string"
        else:
            ok, want = isinstance(value, bool), "true or false"
        if not ok:
            raise ValueError(f"STATETRACK_CHUNK_OVERRIDE: {json.dumps(name)} must be {want}, "
                             f"got {value!r}")
    return {k: tuple(v) if isinstance(v, list) else v for k, v in val.items()}


_CONFIG_OVERRIDE.update(_override_from_env(os.environ.get("STATETRACK_CHUNK_OVERRIDE")))

_MM_DTYPE = {torch.bfloat16: tl.bfloat16, torch.float16: tl.float16, torch.float32: tl.float32}


def _alloc(shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Allocate an uninitialised buffer (the one allocation point; tests poison it)."""
    return torch.empty(shape, dtype=dtype, device=device)


class _Plan:
    """Shapes, block sizes and launch settings of one call."""

    def __init__(self, q: torch.Tensor, v: torch.Tensor, num_householder: int, chunk_size: int,
                 use_g: bool) -> None:
        self.B, self.T, self.H, self.K = q.shape
        self.V = v.shape[-1]
        self.NH = num_householder
        self.BT = chunk_size
        self.L = self.T * self.NH
        self.NC = triton.cdiv(self.T, self.BT)
        self.NS = self.NC * self.NH
        self.Lp = self.NS * self.BT
        self.BK = next_pow2(self.K, lo=16)
        self.BVF = next_pow2(self.V, lo=16)
        self.use_g = use_g
        self.dtype = q.dtype
        self.device = q.device
        self.interpret = INTERPRET
        self.MM = _MM_DTYPE[q.dtype]
        if self.interpret:
            self.cfg = dict(_INTERPRET_CONFIG)
        else:
            self.cfg = dict(_GPU_CONFIG[q.element_size() == 2])
            small = _BWD_WY_SMALL_BT.get((chunk_size, q.element_size() == 2))
            if small is not None:
                self.cfg["bwd_wy"] = small
            if q.element_size() == 2 and chunk_size == 64 and self.BK == 128:
                self.cfg.update(_STATE_BY_NH.get(self.NH, {}))
                if _CONFIG_OVERRIDE.get("hoist", True):
                    self.cfg.update(_STATE_HOIST_BY_NH.get(
                        self.NH, _STATE_HOIST_MANY if self.NH >= 3 else {}))
                if _CONFIG_OVERRIDE.get("qkin", True):
                    self.cfg.update(_STATE_SCORES_BY_NH.get(self.NH, {}))
        if not self.interpret and q.element_size() == 2 and self.T == 1:
            # Triton compiles an int argument equal to 1 as a constant; on the H200 (Triton
            # 3.6) that T = 1 specialization of fwd_state_kernel with 16-bit inputs faulted
            # ("out-of-range shared address" in its tl.dot) with value blocks of 16 or 32 at 4
            # or 8 warps, and ran clean with 64-wide blocks (benchmarks/probes/chunk_fault.py,
            # session 8). A one-token call costs nothing either way. "state_save" (the saving
            # forward's settings where a per-factor table gives them) too.
            for name in ("state", "state_rec", "state_save"):
                if name not in self.cfg:
                    continue
                _, warps, stages = self.cfg[name]
                self.cfg[name] = (64, warps, stages)
        if not self.interpret and q.element_size() == 2 and (self.BVF == 16 or self.BK == 16):
            # bwd_wy_kernel with a 16-wide value block at 8 warps (K = 128, 16-bit inputs)
            # faulted on the H200 (illegal address, Triton 3.6; session 20,
            # benchmarks/probes/launch_trace.py); at 4 warps it ran clean. Calls with V <= 16
            # get here (an override below replaces this, warps too). The split backward's
            # value loop (bwd_wy_v, opt-in, untested at V <= 16) follows the same rule.
            # A 16-wide *key* block (K <= 16) at 8 warps: session 34's H100 run (chunk 64;
            # smaller chunks take 2-4 warps anyway, _BWD_WY_SMALL_BT, so the rule is for all)
            # faulted (illegal address) at float16, K = 16, V = 48 in the backward (after the
            # forward's outputs were read back clean; the interpreter's bounds check of every
            # launch found no access out of range): the same [64, 64] x [64, 16] products as
            # the V <= 16 fault, so the same 4 warps, *unconfirmed* until the next GPU call
            # (GPU_SESSION.md, "Session 34"), which reruns it with the 8 warps as an override.
            for name in ("bwd_wy", "bwd_wy_v"):
                bv, warps, stages = self.cfg[name]
                self.cfg[name] = (16 if self.BVF == 16 else bv, min(warps, 4), stages)
        self.cfg.update(_CONFIG_OVERRIDE)
        # the sequential passes without Triton's specialization of T, L and NC for a call of
        # one token chunk: the 64-token fault at K = 128, V = 16 (Triton compiles NC = 1 as a
        # constant) came back with this off, while two chunks (128 tokens, T and L divisible by
        # 16 as well) ran clean through the specialized passes (session 21); see
        # _chunk_kernels.fwd_state_kernel_ns. "nospec" in _CONFIG_OVERRIDE forces either way
        self.nospec = bool(self.cfg.get("nospec", not self.interpret and self.NC == 1))
        # 64-bit offsets within a batch row only where 32 bits would not reach (a test forces
        # them with _CONFIG_OVERRIDE["row64"])
        self.row64 = (_row64(self.T, self.H, self.K, self.V, self.NH, self.BT)
                      or bool(self.cfg.get("row64", False)))
        # float32 products in full float32 (FMA) on the GPU too. Triton 3.6's "tf32x3" (three
        # tf32 tensor-core passes) reads shared memory out of range on the H200 in some
        # specializations (compute-sanitizer: bwd_o_kernel at BK = 16, BT = 64; fwd_state_kernel
        # at K = 128, T = 1 without gate or initial state); "ieee" ran clean in every probe.
        # The fast path is 16-bit inputs, whose products do not use this setting.
        self.PREC = self.cfg.get("prec", "ieee")
        # float32 for the cancelling sums of the forward (W and U from T, U itself, the state
        # update's and the outputs' D) at small K with 16-bit inputs: see HI_MAX_K
        self.HI = bool(self.cfg.get("hi", q.element_size() == 2 and self.K <= HI_MAX_K))
        if self.HI and "wy_loop" not in _CONFIG_OVERRIDE:
            # the loop form was timed at K = 128 only; with HI's float32 operands at K = 16
            # its sm_90 compile spills (128 B of stack) where the unrolled kernel does not
            self.cfg["wy_loop"] = False
        # the state passes' loads that feed no product issued before the step's stores
        # (bitwise the same results either way)
        self.early = bool(self.cfg.get("early", False))
        # the forward state pass reading the sub-chunks' scores from the WY pass (which the
        # loop form writes; the scores in the input dtype, as the pass rounds them for its
        # product, so not with HI's float32 operands), and as token chunks with their
        # sub-chunks unrolled (NEST). The scores are read only by the unrolled pass: the flat
        # loop reading them compiled wrong on an H100 (Triton 3.6: bf16, K = 100, two factors,
        # 33 tokens, outputs 0.87 off; an illegal address at the model shape, session 21)
        self.nest = bool(self.cfg.get("nest", False))
        if self.nest and not self.interpret and self.cfg["state"][2] < _NEST_MIN_STAGES:
            raise ValueError(
                f"the unrolled forward state pass (nest) at {self.cfg['state'][2]} stage(s) "
                f"faulted on the H100 under Triton 3.6 (session 22); use at least "
                f"{_NEST_MIN_STAGES} stages or nest=False")
        # HOIST: the other branch-free loop form (token chunks outer, a run-time loop over
        # their sub-chunks; fwd_state_kernel's docstring); the scores are read by it too
        self.hoist = bool(self.cfg.get("hoist", False)) and not self.nest
        self.qkin = bool(self.cfg.get("qkin", False) and (self.nest or self.hoist)
                         and self.cfg.get("wy_loop", False) and self.BT == 64 and not self.HI)
        # the forward state pass applying T itself (TFUSED; the 16-bit default): the loop-form WY
        # pass writes T only, the state pass forms D = T diag(beta) (V - diag(e^G) K S), in a
        # forward that keeps nothing for a backward (which reads W and U)
        self.tfused = bool(self.cfg.get("tfused", False) and self.cfg.get("wy_loop", False)
                           and self.BT == 64 and not self.HI)

    def kernel(self, name: str):
        """The Triton kernel ``name`` of :mod:`._chunk_kernels`, its unspecialized compile
        (``name + "_ns"``) where this plan asks for one."""
        if self.nospec and hasattr(_kern, name + "_ns"):
            return getattr(_kern, name + "_ns")
        return getattr(_kern, name)

    def bv(self, name: str) -> int:
        """Value-block width of kernel ``name`` (never wider than the padded V)."""
        return min(self.BVF, self.cfg[name][0])

    def nv(self, name: str) -> int:
        return triton.cdiv(self.V, self.bv(name))

    def opts(self, name: str) -> dict:
        """Launch options (num_warps, num_stages) of kernel ``name``; none under the interpreter."""
        if self.interpret:
            return {}
        _, warps, stages = self.cfg[name]
        return {"num_warps": warps, "num_stages": stages}

    def common(self) -> dict:
        return dict(H=self.H, K=self.K, V=self.V, BK=self.BK, BT=self.BT, MM=self.MM, PREC=self.PREC,
                    EMU=self.interpret, ROW64=self.row64)


def _gate_cumsums(g: torch.Tensor, p: _Plan, skip_first: bool = False
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Chunk-local cumulative gates: per sub-step within sub-chunks, per token within token chunks.

    Returns ``gsub [B*H, Lp]`` and ``gtok [B*H, NC*BT]`` (float32, zero-padded), from one
    launch of :func:`~._chunk_kernels.gate_cumsum_kernel`. With ``skip_first`` the first
    token's gate counts as 0 (:func:`_fold_first_gate` applied it).
    """
    BH = p.B * p.H
    gsub = _alloc((BH, p.Lp), torch.float32, g.device)
    gtok = _alloc((BH, p.NC * p.BT), torch.float32, g.device)
    if p.NC and BH:
        _kern.gate_cumsum_kernel[(p.NC, BH)](g, gsub, gtok, p.T, p.L, H=p.H, BT=p.BT, NH=p.NH,
                                             SKIP_FIRST=bool(skip_first))
    return gsub, gtok


def _gate_grad(dgsub: torch.Tensor, dgtok: torch.Tensor, p: _Plan) -> torch.Tensor:
    """The log-gate gradient ``[B, T, H]`` (float32) from the backward kernels' per-row
    partials (``dgsub`` is overwritten: see :func:`~._chunk_kernels.gate_grad_kernel`)."""
    dg = _alloc((p.B, p.T, p.H), torch.float32, dgsub.device)
    if p.NC and p.B * p.H:
        _kern.gate_grad_kernel[(p.NC, p.B * p.H)](dgsub, dgtok, dg, p.T, p.L, H=p.H, BT=p.BT,
                                                  NH=p.NH)
    return dg


def _wy(k, v, beta, gsub, p: _Plan, store_t: bool, scores=None, wu: bool = True):
    """``W``, ``U`` and (``store_t``) ``T`` of every sub-chunk; with ``scores = (q, gtok, qk)``
    (the loop form only) also the sub-chunks' scores into ``qk`` (see ``wy_loop_kernel``);
    without ``wu`` (the loop form only) ``T`` alone, ``W`` and ``U`` returned as None."""
    loop = p.cfg.get("wy_loop", False) and p.BT == 64
    if (scores is not None or not wu) and not loop:
        raise AssertionError("the scores and T alone come from the loop form of the WY pass only")
    if not wu and not store_t:
        raise AssertionError("T alone needs store_t")
    w = _alloc((p.B * p.H, p.Lp, p.K), p.dtype, p.device) if wu else None
    u = _alloc((p.B * p.H, p.Lp, p.V), torch.float32 if p.HI else p.dtype, p.device) if wu else None
    tmat = _alloc((p.B * p.H, p.Lp, p.BT), p.dtype, p.device) if store_t else None
    if loop:
        # the loop form (the 16-bit default): a float32 [BT, BT] scratch a program for A, then T
        # (256 B a row, transient); column blocks of the key / value loops at most 64 wide
        scr = _alloc((p.B * p.H * p.Lp * p.BT,), torch.float32, p.device)
        # T and NH only where the scores use them (else one more compile of the same code for
        # every number of factors and every divisibility of T)
        qk_args = ({} if scores is None
                   else dict(zip(("q", "gtok", "qk"), scores), T=p.T, NH=p.NH))
        _kern.wy_loop_kernel[(p.NS, p.B * p.H)](
            k, v, beta, gsub, w, u, tmat, scr, p.L, BVF=p.BVF, USE_G=p.use_g, STORE_T=store_t,
            BC=min(64, p.BK), HI=p.HI, QK=scores is not None, WU=wu,
            STACK=bool(p.cfg.get("inv_stack", False)), **qk_args, **p.common(),
            **p.opts("wy"))
        return w, u, tmat
    inv = p.cfg.get("inv", 1)
    # float32 scratch for the diagonal blocks of A (read back row by row), 64 B per row;
    # transient (freed when the forward returns)
    scr = _alloc((p.B * p.H * p.Lp * 16 if inv == 1 else 1,), torch.float32, p.device)
    _kern.wy_fwd_kernel[(p.NS, p.B * p.H)](
        k, v, beta, gsub, w, u, tmat, scr, p.L,
        BVF=p.BVF, USE_G=p.use_g, STORE_T=store_t, INV=inv, HI=p.HI, **p.common(),
        **p.opts("wy"))
    return w, u, tmat


def _state_buffers(p: _Plan) -> tuple[torch.Tensor, torch.Tensor]:
    """``hbuf`` (every sub-chunk's starting state) and ``dbuf`` (``D``), in the input dtype."""
    return (_alloc((p.B * p.H, p.NS, p.K, p.V), p.dtype, p.device),
            _alloc((p.B * p.H, p.Lp, p.V), p.dtype, p.device))


def _forward(q, k, v, beta, gsub, gtok, h0, scale, p: _Plan, output_final_state: bool,
             keep_wy: bool = False):
    """Outputs and final state; with ``keep_wy`` also what the backward reuses: ``(W, U, T)``
    and, when ``p.cfg["save_states"]``, ``(hbuf, dbuf)`` (else None)."""
    saving = bool(keep_wy and p.cfg.get("save_states", False))
    # the sub-chunks' scores for the state pass (qkin, unrolled; a forward that keeps no
    # states): [B*H, Lp, BT] in the input dtype, transient (B*H*Lp*BT*2 bytes: 134 MB at B 8,
    # T 4096, H 16, two factors)
    nest = p.nest and not saving
    hoist = p.hoist and (not saving or bool(p.cfg.get("hoist_save", False)))
    qkin = p.qkin and not saving
    cfg = "state_save" if saving and "state_save" in p.cfg else "state"
    qk = _alloc((p.B * p.H, p.Lp, p.BT), p.dtype, p.device) if qkin else None
    tfused = p.tfused and not keep_wy
    w, u, tmat = _wy(k, v, beta, gsub, p, store_t=keep_wy or tfused,
                     scores=(q, gtok, qk) if qkin else None, wu=not tfused)
    o = _alloc((p.B, p.T, p.H, p.V), p.dtype, p.device)
    ht = _alloc((p.B, p.H, p.K, p.V), torch.float32, p.device) if output_final_state else None
    states = _state_buffers(p) if saving else None
    hbuf, dbuf = states if states is not None else (None, None)
    p.kernel("fwd_state_kernel")[(p.nv(cfg), p.B * p.H)](
        q, k, w, u, gsub, gtok, h0, o, ht, hbuf, dbuf, p.T, p.L, p.NC, scale,
        BV=p.bv(cfg), NH=p.NH, USE_G=p.use_g, USE_H0=h0 is not None, STORE_HT=output_final_state,
        COMPUTE_O=True, STORE_H=saving, STORE_D=saving, HI=p.HI,
        EARLY=p.early, NEST=nest, HOIST=hoist, qkin=qk, QKIN=qkin, tmat=tmat if tfused else None,
        vin=v if tfused else None, beta=beta if tfused else None, TFUSED=tfused, **p.common(),
        **p.opts(cfg))
    return o, ht, ((w, u, tmat) if keep_wy else None), states


def _bwd_wy_split(k, v, beta, gsub, tmat, hbuf, dhbuf, dbuf, ddbuf, dko, dk, dv, dbeta, dgsub,
                  p: _Plan) -> None:
    """The backward WY step as two kernels (non-default; ``_CONFIG_OVERRIDE["wy_split"]``).

    ``bwd_wy_v_kernel`` runs the value-block loop and leaves, per sub-step row, ``dW`` (input
    dtype, ``K`` wide), the values' share of ``dT`` (float32, ``BT`` wide) and of ``dbeta``
    (float32), and adds the state update's key share to ``dko`` in place (in ``dko``'s
    dtype: with ``lp_bwd`` a second rounding of that partial, so then the split's ``dK`` is
    not bitwise the single kernel's);
    ``bwd_wy_t_kernel`` runs the ``dT`` / ``dA`` chain. Extra memory, transient:
    ``B*H*Lp*(K*itemsize + 4*BT + 4)`` bytes plus ``4*B*H*NS`` with the gate (bf16, B 8,
    H 16, K = 128, chunk 64: 258 MiB at ``L = 4096``, twice that at n_h = 2).
    """
    BH = p.B * p.H
    dwbuf = _alloc((BH, p.Lp, p.K), p.dtype, p.device)
    dtbuf = _alloc((BH, p.Lp, p.BT), torch.float32, p.device)
    dbbuf = _alloc((BH, p.Lp), torch.float32, p.device)
    dlast = _alloc((BH, p.NS), torch.float32, p.device) if p.use_g else None
    _kern.bwd_wy_v_kernel[(p.NS, BH)](
        k, v, beta, gsub, tmat, hbuf, dhbuf, dbuf, ddbuf, dko, dv, dwbuf, dtbuf, dbbuf, dlast,
        dgsub, p.L, BV=p.bv("bwd_wy_v"), USE_G=p.use_g, **p.common(), **p.opts("bwd_wy_v"))
    c = p.common()
    del c["V"]
    _kern.bwd_wy_t_kernel[(p.NS, BH)](
        k, beta, gsub, tmat, dko, dwbuf, dtbuf, dbbuf, dlast, dk, dbeta, dgsub, p.L,
        USE_G=p.use_g, **c, **p.opts("bwd_wy_t"))


def _backward(q, k, v, beta, gsub, gtok, h0, scale, p: _Plan, do, dht, wy=None, states=None):
    """Every input's gradient; ``wy`` and ``states`` as kept by :func:`_forward` (recomputed
    when None)."""
    BH = p.B * p.H
    w, u, tmat = wy if wy is not None else _wy(k, v, beta, gsub, p, store_t=True)
    if states is not None:
        hbuf, dbuf = states
    else:
        hbuf, dbuf = _state_buffers(p)
        p.kernel("fwd_state_kernel")[(p.nv("state_rec"), BH)](
            q, k, w, u, gsub, gtok, h0, None, None, hbuf, dbuf, p.T, p.L, p.NC, scale,
            BV=p.bv("state_rec"), NH=p.NH, USE_G=p.use_g, USE_H0=h0 is not None,
            STORE_HT=False, COMPUTE_O=False, STORE_H=True, STORE_D=True, HI=p.HI,
            EARLY=p.early, **p.common(),
            **p.opts("state_rec"))
    dq = _alloc(q.shape, q.dtype, p.device)
    part = p.dtype if p.cfg.get("lp_bwd", False) else torch.float32   # the partials' dtype
    dko = _alloc((BH, p.Lp, p.K), part, p.device)
    dvloc = _alloc((BH, p.Lp, p.V), part, p.device)
    dgtok = _alloc((BH, p.NC * p.BT), torch.float32, p.device) if p.use_g else None
    p.kernel("bwd_o_kernel")[(p.NC, BH)](
        q, k, do, hbuf, dbuf, gtok, dq, dko, dvloc, dgtok, p.T, p.L, p.NC, scale,
        BV=p.bv("bwd_o"), NH=p.NH, USE_G=p.use_g, **p.common(), **p.opts("bwd_o"))
    dhbuf = _alloc((BH, p.NS, p.K, p.V), p.dtype, p.device)
    # dD in the input dtype: its every use is a product operand, which rounds it to that dtype
    # anyway (bitwise the same gradients; half the bytes at 16-bit inputs)
    ddbuf = _alloc((BH, p.Lp, p.V), p.dtype, p.device)
    dh0 = _alloc((p.B, p.H, p.K, p.V), torch.float32, p.device) if h0 is not None else None
    p.kernel("bwd_state_kernel")[(p.nv("bwd_state"), BH)](
        q, k, w, do, gsub, gtok, dht, dh0, dvloc, dhbuf, ddbuf, p.T, p.L, p.NC, scale,
        BV=p.bv("bwd_state"), NH=p.NH, USE_G=p.use_g, USE_DHT=dht is not None, STORE_DH0=h0 is not None,
        EARLY=p.early, **p.common(), **p.opts("bwd_state"))
    dk = _alloc(k.shape, k.dtype, p.device)
    dv = _alloc(v.shape, v.dtype, p.device)
    dbeta = _alloc(beta.shape, beta.dtype, p.device)
    dgsub = _alloc((BH, p.Lp), torch.float32, p.device) if p.use_g else None
    if p.cfg.get("wy_split", False):
        _bwd_wy_split(k, v, beta, gsub, tmat, hbuf, dhbuf, dbuf, ddbuf, dko, dk, dv, dbeta, dgsub, p)
    else:
        _kern.bwd_wy_kernel[(p.NS, BH)](
            k, v, beta, gsub, tmat, hbuf, dhbuf, dbuf, ddbuf, dko, dk, dv, dbeta, dgsub, p.L,
            BV=p.bv("bwd_wy"), USE_G=p.use_g, **p.common(), **p.opts("bwd_wy"))
    dg = None
    if p.use_g:
        dg = _gate_grad(dgsub, dgtok, p)
    return dq, dk, dv, dbeta, dg, dh0


def _fold_first_gate(q, g, h0) -> bool:
    """Whether the first token's gate is applied to the initial state in float32 before the
    kernels (which then see a first gate of 0), and ``dh0`` is scaled by it after them.

    The recurrence starts with ``S <- e^{g_0} S_0``, so ``dh0 = e^{g_0} dS'`` with ``dS'`` the
    gradient of the gated state, of ordinary size. Left to the kernels, ``e^{g_0}`` enters
    float16 product operands (the rows of ``W`` and the gated queries of ``bwd_state``), and
    below float16's smallest subnormal (``g_0 < -16.6``) ``dh0`` comes out exactly 0, though
    its true value is well inside float32's range (the dtype of ``dh0`` for a float32 initial
    state). Folded, ``e^{g_0}`` is only ever a float32 factor, and the gradient of ``g_0`` is
    the kernels' own (``d/dg_0 = <dS', e^{g_0} S_0>`` is what they compute for a first gate
    of 0 from the initial state ``e^{g_0} S_0``). Float16 only: bfloat16 and float32 have
    float32's exponent range, and their path stays as it was.
    """
    return q.dtype == torch.float16 and g is not None and h0 is not None and q.shape[1] > 0


class _ChunkDeltaProduct(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v, beta, g, h0, scale, num_householder, chunk_size, output_final_state):
        p = _Plan(q, v, num_householder, chunk_size, g is not None)
        fold = _fold_first_gate(q, g, h0)
        ctx.first_gate = None
        if fold:
            ctx.first_gate = torch.exp(g[:, 0].to(torch.float32))[:, :, None, None]  # [B, H, 1, 1]
            h0 = (h0.to(torch.float32) * ctx.first_gate).contiguous()
        # with gradients wanted, keep W, U and T (2 |k|-sized buffers and one [L, BT]) for the
        # backward pass instead of recomputing the UT transform there
        keep = any(ctx.needs_input_grad[:6])
        with device_guard(q.device):               # the gate sums are a Triton launch too
            if g is not None:
                gsub, gtok = _gate_cumsums(g, p, skip_first=fold)
            else:
                gsub = gtok = None
            o, ht, wy, states = _forward(q, k, v, beta, gsub, gtok, h0, scale, p,
                                         output_final_state, keep)
        ctx.n_states = 2 if states is not None else 0
        ctx.save_for_backward(q, k, v, beta, gsub, gtok, h0, *(states or ()),
                              *(wy if wy is not None else ()))
        ctx.plan = p
        ctx.scale = scale
        ctx.g_dtype = g.dtype if g is not None else None
        ctx.h0_dtype = h0.dtype if h0 is not None else None
        return o, ht

    @staticmethod
    def backward(ctx, do, dht):
        q, k, v, beta, gsub, gtok, h0, *rest = ctx.saved_tensors
        states, wy = tuple(rest[:ctx.n_states]) or None, rest[ctx.n_states:]
        p = ctx.plan
        do = do.contiguous()
        if dht is not None:
            dht = dht.to(torch.float32).contiguous()
        with device_guard(q.device):
            dq, dk, dv, dbeta, dg, dh0 = _backward(q, k, v, beta, gsub, gtok, h0, ctx.scale, p,
                                                   do, dht, tuple(wy) if wy else None, states)
        if dg is not None:
            dg = dg.to(ctx.g_dtype)
        if dh0 is not None:
            if ctx.first_gate is not None:
                dh0 = dh0 * ctx.first_gate          # float32: see _fold_first_gate
            dh0 = dh0.to(ctx.h0_dtype)
        return dq, dk, dv, dbeta, dg, dh0, None, None, None, None


#: a batch row of more elements than this (token rows times row widths) runs the kernels'
#: 64-bit-offset variant (``ROW64``); every other call compiles with 32-bit offsets within a
#: row, as before (issue 12)
MAX_ROW_ELEMENTS = 2 ** 31 - 1


def _row64(T: int, H: int, K: int, V: int, n_h: int, chunk_size: int) -> bool:
    """Whether a batch row's element offsets pass 32 bits: the sub-step rows of ``k`` / ``v``
    (``T n_h H max(K, V)``) or of the per-head buffers (padded sub-steps times
    ``max(K, V, chunk_size)``). Refuses a row of more than :data:`MAX_ROW_ELEMENTS` padded
    sub-steps (the kernels count sub-steps in 32 bits)."""
    L = T * n_h
    Lp = -(-T // chunk_size) * chunk_size * n_h
    if Lp > MAX_ROW_ELEMENTS:
        raise KernelInputError(
            f"q: a batch row of T = {T} tokens (num_householder = {n_h}, chunk_size = "
            f"{chunk_size}) has {Lp} padded sub-steps, past the chunked kernel's 32-bit count "
            f"(at most {MAX_ROW_ELEMENTS}); split the sequence (carry the state with "
            "initial_state / output_final_state)")
    return max(L * H * max(K, V), Lp * max(K, V, chunk_size)) > MAX_ROW_ELEMENTS


def chunk_delta_product(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    beta: torch.Tensor,
    *,
    num_householder: int = 1,
    g: Optional[torch.Tensor] = None,
    scale: Optional[float] = None,
    initial_state: Optional[torch.Tensor] = None,
    output_final_state: bool = False,
    chunk_size: int = 64,
    check_beta: bool = True,
    check_finite: bool = False,
) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
    """DeltaProduct by the chunked WY algorithm (Triton), differentiable in every input.

    Parameters
    ----------
    q : torch.Tensor
        Queries ``[B, T, H, K]`` (float32, float16 or bfloat16).
    k : torch.Tensor
        Keys ``[B, T * n_h, H, K]``, sub-steps interleaved (row ``t * n_h + j``); not normalized
        inside.
    v : torch.Tensor
        Values ``[B, T * n_h, H, V]``, same dtype as ``q``.
    beta : torch.Tensor
        Step sizes ``[B, T * n_h, H]`` in ``[0, 2]``.
    num_householder : int
        ``n_h``, sub-steps per token.
    g : torch.Tensor, optional
        Log-gate ``[B, T, H]``; ``S <- exp(g_t) S`` before token ``t``'s first sub-step.
        A decay in normal use (``g <= 0``, as fla's gates). Positive values are accepted and
        grow the state by ``e^{g_t}`` a token: once those growths pass float32's range
        (about ``e^88``) the true outputs do too, and they come out infinite or NaN, as
        the float64 reference's do past float64's.
    scale : float, optional
        Query scale, default ``K ** -0.5``.
    initial_state : torch.Tensor, optional
        ``[B, H, K, V]``.
    output_final_state : bool
        Return the final state (float32) as well.
    chunk_size : int
        Sub-steps per WY sub-chunk and tokens per output chunk; one of
        :data:`SUPPORTED_CHUNK_SIZES`.
    check_beta : bool
        Check that ``beta`` lies in [0, 2] (one reduction and one device synchronization).
    check_finite : bool
        Check every input for NaN and infinity.

    Returns
    -------
    o : torch.Tensor
        ``[B, T, H, V]`` in the dtype of ``q``.
    final_state : torch.Tensor or None
        ``[B, H, K, V]`` float32 if ``output_final_state``.

    Raises
    ------
    KernelInputError
        (a subclass of it, naming the argument) for bad shapes, dtypes (float64 is not
        supported here: use the reference or the recurrent kernel), devices, ``K`` or ``V``
        above :data:`MAX_KV`, ``beta`` outside [0, 2], non-finite inputs when
        ``check_finite``, an unsupported ``chunk_size``, or a batch row of more than
        :data:`MAX_ROW_ELEMENTS` padded sub-steps (``T * num_householder`` rounded up to
        chunks). A row of more than :data:`MAX_ROW_ELEMENTS` *elements* is fine: it runs the
        kernels' 64-bit-offset variant.
    KernelUnavailableError
        CPU tensors while Triton was imported without the interpreter.

    Examples
    --------
    A single reflection ``I - 2 e_0 e_0^T`` flips the sign of the first row of the state:

    >>> import torch
    >>> q = torch.zeros(1, 1, 1, 16); q[..., 0] = 1.0
    >>> k = torch.zeros(1, 1, 1, 16); k[..., 0] = 1.0
    >>> v = torch.zeros(1, 1, 1, 16)
    >>> beta = torch.full((1, 1, 1), 2.0)
    >>> h0 = torch.zeros(1, 1, 16, 16); h0[0, 0, 0, 3] = 1.0
    >>> o, s = chunk_delta_product(q, k, v, beta, initial_state=h0, scale=1.0,
    ...                            output_final_state=True, chunk_size=16)
    >>> o[0, 0, 0, 3].item(), s[0, 0, 0, 3].item()
    (-1.0, -1.0)
    """
    if isinstance(chunk_size, bool) or chunk_size not in SUPPORTED_CHUNK_SIZES:
        raise KernelInputError(
            f"chunk_size: must be one of {SUPPORTED_CHUNK_SIZES}, got {chunk_size!r}")
    d = check_delta_product_inputs(q, k, v, beta, num_householder=num_householder, g=g, scale=scale,
                                   initial_state=initial_state, dtypes=CHUNK_DTYPES,
                                   check_beta=check_beta, check_finite=check_finite,
                                   max_K=MAX_KV, max_V=MAX_KV)
    require_runnable(d.device, "chunk_delta_product")
    _row64(q.shape[1], q.shape[2], q.shape[3], v.shape[3], int(num_householder), int(chunk_size))
    scale = d.scale
    q, k, v, beta = (x.contiguous() for x in (q, k, v, beta))
    if g is not None:
        g = g.contiguous()
    if initial_state is not None:
        initial_state = initial_state.contiguous()
    o, ht = _ChunkDeltaProduct.apply(q, k, v, beta, g, initial_state, float(scale), int(num_householder),
                                     int(chunk_size), bool(output_final_state))
    return o, ht
