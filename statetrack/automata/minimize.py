"""Minimization: the coarsest partition of a complete DFA's states into Myhill–Nerode classes.

:func:`minimal_partition` takes a complete transition table and an accepting mask and returns
one block id per state, such that two states share a block iff no word distinguishes them.

The implementation here is Moore's refinement, vectorized with numpy: each round splits blocks
by the signature (own block, blocks of the successors) until no block splits. It costs
O(k n) per round and at most n rounds.
"""

from __future__ import annotations

import numpy as np


def minimal_partition(delta: np.ndarray, accepting: np.ndarray) -> np.ndarray:
    """Block id per state (``[n]`` int64, ids ``0..m-1``) of the coarsest stable partition.

    Examples
    --------
    >>> import numpy as np
    >>> minimal_partition(np.array([[1, 2], [1, 2], [1, 2]]), np.array([False, True, False])).tolist()
    [0, 1, 0]
    """
    delta = np.asarray(delta, dtype=np.int64)
    blocks = np.asarray(accepting, dtype=np.int64)
    _, blocks = np.unique(blocks, return_inverse=True)
    n_blocks = int(blocks.max()) + 1
    while True:
        sig = np.column_stack([blocks, blocks[delta]])
        _, new = np.unique(sig, axis=0, return_inverse=True)
        new = new.ravel()
        m = int(new.max()) + 1
        if m == n_blocks:
            return new.astype(np.int64)
        blocks, n_blocks = new, m
