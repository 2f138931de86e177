r"""Exporters: a constructed layer as DeltaProduct tensors, per-symbol tables, a state dict.

The layout is flash-linear-attention's DeltaProduct layout (DESIGN.md): for a batch of B
words of length T and a layer with ``n_h`` sub-steps per token, ``H = 1`` head,

===============  ====================  ==================================================
name             shape                 meaning
===============  ====================  ==================================================
``k``            ``[B, T*n_h, H, K]``  keys; sub-step j of token t is row ``t*n_h + j``
``v``            ``[B, T*n_h, H, V]``  values
``beta``         ``[B, T*n_h, H]``     step sizes in [0, 2]
``q``            ``[B, T, H, K]``      the readout query at every token
``initial_state``  ``[B, H, K, V]``    ``H_0`` for every word
===============  ====================  ==================================================

plus ``scale = 1.0`` (pass it to the kernel: its default is ``K ** -0.5``), ``n_h``
(``num_householder``) and ``lengths`` ``[B]``. Running the recurrence
``S <- S + beta k (v - S^T k)^T`` over the rows and reading ``o_t = S^T (scale q_t)`` after
each token's last sub-step gives ``o`` ``[B, T, H, V]``; :func:`decode_outputs` turns it into
output classes (nearest code) and accept bits. Words shorter than T are padded with identity
sub-steps (``beta = 0``, zero key and value), so the state stays put after a word ends.

For a kernel that gathers weights by symbol id, :func:`symbol_tables` gives
``key_table [n_tokens, n_h, K]``, ``beta_table [n_tokens, n_h]``,
``value_table [n_tokens, n_h, V]`` (row = token id), the query ``[K]``, ``initial_state
[K, V]`` and the ``codes [C, V]``.

:func:`state_dict` is the initializer of the project's own recurrent layer
(``statetrack.kernels.layers.delta_product``, written against this layout): a flat dict
whose keys are ``"{prefix}key_table"``, ``"beta_table"``, ``"value_table"``, ``"query"``,
``"initial_state"``, ``"codes"``, ``"accepting"`` (bool ``[C]``, top layer only, else absent),
``"state_map"`` (int64 ``[C]``, top layer only, when known), ``"token_map"`` (int64
``[n_symbols, C_prev]``, layers above the first) and ``"num_householder"``, ``"scale"``
(0-d tensors), with ``prefix = "layers.{l}."``.

Weights are rounded from their exact values to the requested dtype (correctly rounded:
exact value -> float64 -> dtype). Integer-form constructions (the permutation and diagonal
forms) are exactly representable in every format, bfloat16 included.

Examples
--------
>>> from statetrack.automata import DFA
>>> from statetrack.constructions.compile import compile
>>> parity = compile(DFA([[0, 1], [1, 0]], accepting=[1], alphabet="01"))
>>> t = export_tensors(parity, ["1101", "10"], dtype="float32", backend="numpy")
>>> t["k"].shape, t["beta"].shape, t["q"].shape, t["initial_state"].shape
((2, 4, 1, 2), (2, 4, 1), (2, 4, 1, 2), (2, 1, 2, 1))
>>> o = run_numpy(t)
>>> decode_outputs(parity, o, lengths=t["lengths"])["accepted"].tolist()
[[True, False, False, True], [True, True, False, False]]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from statetrack.floats import dtype_name, round_to_dtype

from .errors import BackendError, InputTypeError, ShapeError, UnsupportedDtypeError
from .float_run import check_format_range
from .lrnn import LRNN, Layer, _float_tables_cached

__all__ = ["symbol_tables", "export_tensors", "layer_tensors", "state_dict", "decode_outputs",
           "run_numpy", "round_to_dtype", "kernel_n_h"]

#: The backends the exporters can return arrays in.
BACKENDS = ("auto", "numpy", "torch")


def _torch():
    """torch if importable (only to return torch tensors; nothing else here needs it)."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency of the project
        return None
    return torch


def kernel_n_h(layer: Layer) -> int:
    """The number of sub-steps per token the exporters emit: ``max(layer.n_h, 1)``.

    A layer with ``n_h = 0`` (every ``A = I``, ``B = 0``: e.g. the one-state automaton) is
    exported with one identity sub-step per token (``beta = 0``, zero key and value),
    because the DeltaProduct kernels need ``num_householder >= 1``; this does not change
    what the layer computes.

    Examples
    --------
    >>> from statetrack.automata import DFA
    >>> from statetrack.constructions.compile import compile
    >>> m = compile(DFA([[0, 0]], accepting=[0], alphabet="ab"))
    >>> m.n_h, kernel_n_h(m.layers[0])
    (0, 1)
    """
    return max(layer.n_h, 1)


def _padded_tables(layer: Layer) -> dict[str, np.ndarray]:
    """The float64 tables with at least one (identity) sub-step per token."""
    tb = _float_tables_cached(layer)
    if layer.n_h >= 1:
        return tb
    n, k, v = layer.n_tokens, layer.width, layer.value_dim
    return dict(tb, keys=np.zeros((n, 1, k)), betas=np.zeros((n, 1)), values=np.zeros((n, 1, v)))


def _convert(a: np.ndarray, name: str, backend: str):
    if backend == "numpy":
        if name == "bfloat16":
            raise UnsupportedDtypeError("numpy has no bfloat16; use backend='torch' (or "
                                        "round_to_dtype(a, 'bfloat16') for float64 arrays of "
                                        "bfloat16 values)")
        return np.ascontiguousarray(a, dtype=np.dtype(name))
    torch = _torch()
    # round here (one rounding implementation); the cast of representable values is exact
    return torch.from_numpy(round_to_dtype(a, name)).to(getattr(torch, name))


def _backend(backend: str, name: str) -> str:
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise BackendError(f"backend={backend!r} is not supported; choose one of "
                           f"{list(BACKENDS)}")
    if backend == "auto":
        backend = "torch" if _torch() is not None else "numpy"
    if backend == "torch" and _torch() is None:
        raise UnsupportedDtypeError("backend='torch' needs torch, which is not installed")
    return backend


def symbol_tables(layer: Layer | LRNN, *, dtype: Any = "float32", backend: str = "auto",
                  index: int = 0) -> dict[str, Any]:
    """Per-token tables for a kernel that gathers weights by symbol (token) id.

    Parameters
    ----------
    layer : Layer or LRNN (then its layer ``index``)
    dtype : "float64", "float32", "float16" or "bfloat16"
    backend : "auto" (torch when importable), "numpy" or "torch"
    index : int
        Which layer of an LRNN.

    Returns
    -------
    dict
        ``key_table [n_tokens, n_h, K]``, ``beta_table [n_tokens, n_h]``,
        ``value_table [n_tokens, n_h, V]``, ``query [K]``, ``initial_state [K, V]``,
        ``codes [C, V]`` (float64 numpy always: decoding is done in float64),
        ``n_h`` (int, :func:`kernel_n_h`: a layer with ``n_h = 0`` gets one identity step),
        ``scale`` (1.0).

    Raises
    ------
    LayerIndexError
        ``index`` is not a layer of the model.
    BackendError, UnsupportedDtypeError
        An unknown backend or dtype.
    FormatRangeError
        A weight or code above the dtype's largest finite value (float16 and more than
        1280 permutation states).

    Examples
    --------
    >>> from statetrack.constructions.lrnn import _parity_example
    >>> t = symbol_tables(_parity_example(), backend="numpy")
    >>> t["key_table"].tolist(), t["beta_table"].tolist()
    ([[[0.0, 0.0]], [[1.0, -1.0]]], [[0.0], [1.0]])
    >>> symbol_tables(_parity_example(), index=3)
    Traceback (most recent call last):
    ...
    statetrack.constructions.errors.LayerIndexError: index=3: the model has 1 layer (valid: 0..0, or -1..-1 from the top)
    """
    where = "the layer"
    if isinstance(layer, LRNN):
        layer, where = layer.layer(index, "index"), f"layer {index}"
    elif not isinstance(layer, Layer):
        raise InputTypeError(f"layer: expected a Layer or an LRNN, got {type(layer).__name__}")
    name = dtype_name(dtype)
    backend = _backend(backend, name)
    check_format_range(layer, name, where)
    tb = _padded_tables(layer)
    return {
        "key_table": _convert(tb["keys"], name, backend),
        "beta_table": _convert(tb["betas"], name, backend),
        "value_table": _convert(tb["values"], name, backend),
        "query": _convert(tb["query"], name, backend),
        "initial_state": _convert(tb["initial_state"], name, backend),
        "codes": tb["codes"].copy(),
        "n_h": kernel_n_h(layer),
        "scale": 1.0,
    }


def layer_tensors(layer: Layer, tokens: np.ndarray, *, lengths: np.ndarray | None = None,
                  dtype: Any = "float32", backend: str = "auto") -> dict[str, Any]:
    """DeltaProduct tensors of one layer for token ids ``[B, T]`` (see the module table).

    Positions ``t >= lengths[b]`` get identity sub-steps. A layer with ``n_h = 0`` is
    exported with one identity sub-step per token (``n_h = 1``, see :func:`kernel_n_h`).

    Parameters
    ----------
    layer : Layer
    tokens : int array [B, T] of the layer's token ids
    lengths : int array [B], optional (default: all T)
    dtype, backend : as in :func:`symbol_tables`

    Returns
    -------
    dict
        ``k, v, beta, q, initial_state`` (the module table), ``scale`` (1.0), ``n_h``,
        ``lengths`` (int64 numpy ``[B]``).

    Raises
    ------
    ShapeError
        ``tokens`` is not a 2-D integer array of token ids, or bad ``lengths``.

    Examples
    --------
    >>> from statetrack.constructions.lrnn import _parity_example
    >>> t = layer_tensors(_parity_example().layers[0], np.array([[1, 1, 0]]), lengths=[2],
    ...                   backend="numpy")
    >>> t["beta"][0, :, 0].tolist(), t["k"][0, :, 0].tolist()  # token 3 is past the length
    ([1.0, 1.0, 0.0], [[1.0, -1.0], [1.0, -1.0], [0.0, 0.0]])
    """
    if not isinstance(layer, Layer):
        raise InputTypeError(f"layer: expected a Layer, got {type(layer).__name__} (use "
                             f"export_tensors for a model, or model.layer(i))")
    tokens = np.asarray(tokens)
    if tokens.ndim != 2 or not np.issubdtype(tokens.dtype, np.integer):
        raise ShapeError(f"tokens must be a 2-D integer array [B, T], got shape {tokens.shape}")
    if tokens.size and (tokens.min() < 0 or tokens.max() >= layer.n_tokens):
        raise ShapeError(f"token ids must be in 0..{layer.n_tokens - 1}")
    b, t = tokens.shape
    if lengths is None:
        lengths = np.full(b, t, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    if lengths.shape != (b,) or (lengths < 0).any() or (lengths > t).any():
        raise ShapeError(f"lengths must be [B] = [{b}] integers in 0..{t}")
    name = dtype_name(dtype)
    backend = _backend(backend, name)
    check_format_range(layer, name, "the layer")
    tb = _padded_tables(layer)
    n_h, k, v = kernel_n_h(layer), layer.width, layer.value_dim
    live = (np.arange(t)[None, :] < lengths[:, None])                    # [B, T]
    keys = tb["keys"][tokens] * live[:, :, None, None]                   # [B, T, n_h, K]
    vals = tb["values"][tokens] * live[:, :, None, None]                 # [B, T, n_h, V]
    betas = tb["betas"][tokens] * live[:, :, None]                       # [B, T, n_h]
    q = np.broadcast_to(tb["query"], (b, t, 1, k))
    h0 = np.broadcast_to(tb["initial_state"], (b, 1, k, v))
    return {
        "k": _convert(keys.reshape(b, t * n_h, 1, k), name, backend),
        "v": _convert(vals.reshape(b, t * n_h, 1, v), name, backend),
        "beta": _convert(betas.reshape(b, t * n_h, 1), name, backend),
        "q": _convert(q, name, backend),
        "initial_state": _convert(h0, name, backend),
        "scale": 1.0,
        "n_h": n_h,
        "lengths": lengths,
    }


def export_tensors(lrnn: LRNN, words: Any, *, dtype: Any = "float32",
                   backend: str = "auto") -> dict[str, Any]:
    """DeltaProduct tensors of a one-layer model for a batch of words.

    ``words`` is a list of words (any lengths; padded) or a ``[B, T]`` array of symbol ids.
    For deeper models use :func:`layer_tensors` layer by layer (layer ``l``'s tokens come
    from ``token_map`` and layer ``l - 1``'s decoded outputs).

    Raises
    ------
    ShapeError
        The model has more than one layer.
    BackendError
        ``backend`` is not "auto", "numpy" or "torch".
    UnsupportedDtypeError
        An unknown dtype, or bfloat16 with the numpy backend.

    Examples
    --------
    >>> from statetrack.constructions.lrnn import _parity_example
    >>> t = export_tensors(_parity_example(), ["11", "1"], dtype="float64", backend="numpy")
    >>> t["k"].shape, t["lengths"].tolist(), t["n_h"]
    ((2, 2, 1, 2), [2, 1], 1)
    >>> export_tensors(_parity_example(), ["1"], backend="jax")
    Traceback (most recent call last):
    ...
    statetrack.constructions.errors.BackendError: backend='jax' is not supported; choose one of ['auto', 'numpy', 'torch']
    """
    if not isinstance(lrnn, LRNN):
        raise InputTypeError(f"lrnn: expected an LRNN, got {type(lrnn).__name__}")
    if lrnn.depth != 1:
        raise ShapeError(f"export_tensors handles one-layer models; this one has {lrnn.depth} "
                         f"layers (use layer_tensors per layer)")
    _backend(backend, dtype_name(dtype))  # argument errors before any work
    sym, lengths = lrnn._batch(words)
    return layer_tensors(lrnn.layers[0], sym, lengths=lengths, dtype=dtype, backend=backend)


def state_dict(lrnn: LRNN, *, dtype: Any = "float32", backend: str = "auto") -> dict[str, Any]:
    """A flat ``state_dict``-style mapping that initializes the project's recurrent layer.

    See the module docstring for the keys. Tables are torch tensors with the torch backend
    (numpy arrays otherwise). Layers with ``n_h = 0`` get one identity step
    (``num_householder = 1``, see :func:`kernel_n_h`).

    Examples
    --------
    >>> from statetrack.constructions.lrnn import _parity_example
    >>> sd = state_dict(_parity_example(), backend="numpy")
    >>> sorted(sd)[:4]
    ['layers.0.accepting', 'layers.0.beta_table', 'layers.0.codes', 'layers.0.initial_state']
    """
    if not isinstance(lrnn, LRNN):
        raise InputTypeError(f"lrnn: expected an LRNN, got {type(lrnn).__name__}")
    name = dtype_name(dtype)
    backend = _backend(backend, name)
    out: dict[str, Any] = {}
    for i, layer in enumerate(lrnn.layers):
        p = f"layers.{i}."
        tb = symbol_tables(layer, dtype=name, backend=backend)
        for key in ("key_table", "beta_table", "value_table", "query", "initial_state"):
            out[p + key] = tb[key]
        out[p + "codes"] = _convert(tb["codes"], "float64", backend)
        scalars = {"num_householder": np.array(tb["n_h"], dtype=np.int64),
                   "scale": np.array(1.0, dtype=np.float64)}
        if layer.token_map is not None:
            scalars["token_map"] = np.array(layer.token_map, dtype=np.int64)
        if i == lrnn.depth - 1:
            scalars["accepting"] = np.array(lrnn.accepting, dtype=bool)
            if lrnn.state_map is not None:
                scalars["state_map"] = np.array(lrnn.state_map, dtype=np.int64)
        for key, val in scalars.items():
            out[p + key] = val if backend == "numpy" else _torch().from_numpy(val)
    return out


def decode_outputs(lrnn: LRNN, o: Any, *, layer: int | None = None,
                   lengths: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Decode kernel outputs ``o [B, T, H=1, V]`` to classes, accept bits, DFA states.

    Parameters
    ----------
    lrnn : LRNN
    o : numpy array or torch tensor [B, T, 1, V]
    layer : int, optional
        Which layer produced ``o`` (default: the top layer).
    lengths : int array [B], optional
        Word lengths; positions beyond them are not accepted and get DFA state -1.

    Returns
    -------
    dict
        ``classes [B, T]`` (nearest code), and for the top layer ``accepted [B, T]``
        (False beyond ``lengths``) and ``dfa_states [B, T]`` (-1 beyond; when ``state_map``
        is known). Positions are tokens 1..T (the kernel emits no output before the first
        token).

    Raises
    ------
    ShapeError
        ``o`` does not have shape ``[B, T, 1, V]``.
    LayerIndexError
        ``layer`` is not a layer of the model.

    Examples
    --------
    >>> from statetrack.constructions.lrnn import _parity_example
    >>> o = np.array([[[[1.0]], [[0.02]], [[0.9]]]])        # [B=1, T=3, 1, V=1]
    >>> dec = decode_outputs(_parity_example(), o, lengths=[2])
    >>> dec["classes"].tolist(), dec["accepted"].tolist(), dec["dfa_states"].tolist()
    ([[1, 0, 1]], [[True, False, False]], [[1, 0, -1]])
    """
    if not isinstance(lrnn, LRNN):
        raise InputTypeError(f"lrnn: expected an LRNN, got {type(lrnn).__name__}")
    li = lrnn.depth - 1 if layer is None else _layer_index(lrnn, layer)
    codes = _float_tables_cached(lrnn.layers[li])["codes"]                  # [C, V]
    if hasattr(o, "detach"):
        o = o.detach().to("cpu").double().numpy()
    o = np.asarray(o, dtype=np.float64)
    if o.ndim != 4 or o.shape[2] != 1 or o.shape[3] != codes.shape[1]:
        raise ShapeError(f"o must be [B, T, 1, V={codes.shape[1]}], got {o.shape}")
    d = ((o[:, :, 0, None, :] - codes[None, None]) ** 2).sum(-1)           # [B, T, C]
    classes = d.argmin(-1)
    out = {"classes": classes}
    if li == lrnn.depth - 1:
        b, t = classes.shape
        live = np.ones((b, t), dtype=bool) if lengths is None else \
            np.arange(t)[None, :] < np.asarray(lengths)[:, None]
        out["accepted"] = np.asarray(lrnn.accepting, dtype=bool)[classes] & live
        if lrnn.state_map is not None:
            out["dfa_states"] = np.where(live, np.asarray(lrnn.state_map)[classes], -1)
    return out


def _layer_index(lrnn: LRNN, layer: Any) -> int:
    lrnn.layer(layer, "layer")  # raises LayerIndexError
    return int(layer) % lrnn.depth


def run_numpy(t: dict[str, Any], *, dtype: Any = None) -> np.ndarray:
    """A small sequential numpy DeltaProduct recurrence over exported tensors (a reference
    for tests and docs; the kernels' own reference is ``statetrack.kernels.delta_product.naive``).

    Arithmetic in ``dtype`` (default: the tensors' dtype). Returns ``o [B, T, 1, V]``.

    Examples
    --------
    >>> from statetrack.constructions.lrnn import _parity_example
    >>> t = export_tensors(_parity_example(), ["101"], backend="numpy")
    >>> run_numpy(t)[0, :, 0, 0].tolist()
    [1.0, 1.0, 0.0]
    """
    k, v, beta, q, h0 = (np.asarray(t[x]) for x in ("k", "v", "beta", "q", "initial_state"))
    dt = np.dtype(dtype) if dtype is not None else k.dtype
    k, v, beta, q, s = (a.astype(dt) for a in (k, v, beta, q, h0))
    n_h = int(t["n_h"])
    b, t_len = q.shape[0], q.shape[1]
    out = np.empty((b, t_len, 1, v.shape[-1]), dtype=dt)
    for i in range(t_len):
        for j in range(n_h):
            r = i * n_h + j
            kk = k[:, r]                                                    # [B, 1, K]
            u = v[:, r] - np.einsum("bhkv,bhk->bhv", s, kk).astype(dt)      # [B, 1, V]
            s = (s + beta[:, r][:, :, None, None] * kk[..., :, None] * u[..., None, :]).astype(dt)
        out[:, i] = np.einsum("bhkv,bhk->bhv", s, q[:, i] * dt.type(t["scale"])).astype(dt)
    return out
