"""
Spectra on the unit circle
==========================

Theorem 3 writes every letter of a group language as a permutation matrix, a product of GH
reflections :math:`I - (e_i - e_j)(e_i - e_j)^\\top` (eigenvalue :math:`-1` each). Permutation
matrices are orthogonal, so every eigenvalue of every :math:`A(a)`, and of every product of
letters, is a root of unity on the unit circle: the negative and complex eigenvalues that
Theorems 1 and 2 say state tracking needs.

The exact spectra come from :func:`statetrack.theory.check_spectrum` (characteristic
polynomials over the rationals), through :func:`statetrack.theory.figures.eigenvalue_data`.
"""

import matplotlib.pyplot as plt
import numpy as np

from statetrack.theory.figures import eigenvalue_data

languages = ("parity", "cyclic(5)", "symmetric(4)")
data = eigenvalue_data(languages)

fig, axes = plt.subplots(1, len(languages), figsize=(12, 4.3))
theta = np.linspace(0, 2 * np.pi, 400)
for ax, (spec, d) in zip(axes, data.items()):
    ax.plot(np.cos(theta), np.sin(theta), color="0.6", lw=1)
    for z, style in ((d["products"], dict(facecolors="none", edgecolors="tab:orange",
                                          label="products of two letters")),
                     (d["letters"], dict(color="tab:blue", label="one letter A(a)"))):
        if z.size:
            values, counts = np.unique(np.round(z, 9), return_counts=True)
            ax.scatter(values.real, values.imag, s=25 + 90 * np.sqrt(counts / counts.max()),
                       **style)
    ax.set_aspect("equal")
    ax.set_xlim(-1.35, 1.35)
    ax.set_ylim(-1.35, 1.35)
    ax.set_title(f"{spec}: K={d['width']}, n_h={d['n_h']}", fontsize=10)
    ax.set_xlabel("Re")
axes[0].set_ylabel("Im")
axes[0].legend(loc="upper left", fontsize=8, frameon=False)
fig.suptitle("Eigenvalues of Theorem 3's constructions: all on the unit circle")
fig.tight_layout()

# %%
# Every eigenvalue has modulus one (up to the float conversion of the exact values):
for spec, d in data.items():
    z = np.concatenate([d["letters"], d["products"]])
    print(f"{spec:14s} {z.size:4d} eigenvalues, max | |z| - 1 | = {np.abs(np.abs(z) - 1).max():.1e}")
