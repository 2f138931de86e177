"""
Finite-precision trajectories: why parity needs a negative eigenvalue
=====================================================================

Theorem 1 in pictures. The one-swap parity construction reads the input ``1^t``; its GH
factor has eigenvalue :math:`\\lambda`. With :math:`\\lambda \\in [0, 1)` the bfloat16 state
converges to a fixed point (the dot marks where it stops changing), after which words of
either parity look the same; with :math:`\\lambda = -1` (the construction) it keeps period 2
forever.

The data come from :func:`statetrack.theory.figures.trajectory_data`, which runs the model of
:mod:`statetrack.theory.finite_precision` (rounding after every sub-step, as kernels do) and
finds the eventual period of the state.
"""

import matplotlib.pyplot as plt
import numpy as np

from statetrack.theory.figures import trajectory_data

data = trajectory_data(steps=90, fmt="bfloat16")

fig, ax = plt.subplots(figsize=(10, 3.8))
for lam, d in data.items():
    t = np.arange(len(d["readout"]))
    ax.plot(t, d["readout"], marker=".", ms=3, lw=1,
            label=f"lambda = {lam}: pre-period {d['pre_period']}, period {d['period']}")
    if d["period"] == 1 and d["pre_period"] < len(t):
        ax.plot(d["pre_period"], d["readout"][d["pre_period"]], "o", color="k", ms=4)
ax.set_xlabel("t (tokens of 1^t)")
ax.set_ylabel("readout o_t (1 = odd)")
ax.set_title("Parity under 1^t in bfloat16")
ax.legend(fontsize=8, loc="center right")
fig.tight_layout()

# %%
# Only the negative eigenvalue keeps period 2, the period of parity:
print({lam: d["period"] for lam, d in data.items()})
