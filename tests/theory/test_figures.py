"""Figures: files are written, and the data behind them say what the captions say."""

from __future__ import annotations

import numpy as np
from matplotlib.image import imread

from statetrack.theory.figures import (
    cascade_languages,
    EIGEN_LANGUAGES,
    eigenvalue_data,
    make_figures,
    trajectory_data,
)


def test_make_figures_writes_pngs(tmp_path):
    out = tmp_path / "figs"
    paths = make_figures(out)
    assert [p.name for p in paths[:2]] == ["eigenvalues.png", "parity_trajectory.png"]
    # one cascade figure per non-group catalogue language
    assert [p.name for p in paths[2:]] == [
        f"{''.join(c if c.isalnum() else '_' for c in s).strip('_').replace('__', '_')}.png"
        for s in cascade_languages()]
    assert len(paths) == 2 + 17
    for p in paths[:2]:
        assert p.parent == out and p.stat().st_size > 10_000
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        img = imread(p)
        assert img.shape[0] > 300 and img.shape[1] > 1000
        assert img[..., :3].std() > 0.05  # not a blank canvas
    for p in paths[2:]:
        assert p.parent == out / "cascades" and p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert imread(p)[..., :3].std() > 0.05


def test_eigenvalues_of_permutation_constructions_are_roots_of_unity():
    data = eigenvalue_data()
    assert tuple(data) == EIGEN_LANGUAGES
    expected = {"parity": (2, 2, 2), "cyclic(5)": (5, 2, 5), "symmetric(5)": (120, 10, 60)}
    for spec, d in data.items():
        width, n_letters, order = expected[spec]
        assert d["exact"] and d["width"] == width and d["n_letters"] == n_letters
        assert d["letters"].size == width * n_letters
        allz = np.concatenate([d["letters"], d["products"]])
        np.testing.assert_allclose(np.abs(allz), 1.0, atol=1e-12)   # on the unit circle
        np.testing.assert_allclose(allz ** order, 1.0, atol=1e-9)    # roots of unity
    # parity's swap has eigenvalue -1; Z_5's generator the primitive 5th roots
    assert np.isclose(data["parity"]["letters"], -1).any()
    z5 = data["cyclic(5)"]["letters"]
    assert np.isclose(z5, np.exp(2j * np.pi / 5)).any()
    # S_5: transpositions only give +-1; products of two give 3-cycles (cube roots of unity)
    assert np.allclose(data["symmetric(5)"]["letters"].imag, 0)
    assert np.isclose(data["symmetric(5)"]["products"], np.exp(2j * np.pi / 3)).any()


def test_parity_trajectories():
    data = trajectory_data(steps=80)
    for lam in ("0", "0.5", "0.8", "0.95"):
        d = data[lam]
        o = d["readout"]
        assert d["period"] == 1 and d["pre_period"] < 80
        assert np.all(np.diff(o) >= 0)                        # monotone, no oscillation
        fixed = o[d["pre_period"]]
        assert (o[d["pre_period"]:] == fixed).all()           # a fixed point from then on
        assert abs(fixed - 0.5) <= 2.0**-8                      # the exact limit, to one bf16 ulp
    assert data["0"]["pre_period"] < data["0.5"]["pre_period"] < data["0.95"]["pre_period"]
    d = data["-1"]
    assert d["period"] == 2 and d["pre_period"] == 0
    assert d["readout"].tolist() == [t % 2 for t in range(81)]


def test_make_figures_takes_languages_and_steps(tmp_path):
    paths = make_figures(tmp_path, languages=("cyclic(3)",), steps=10, cascades=())
    eig, traj = (imread(p) for p in paths)
    assert eig.shape[1] == 4 * 130             # one 4-inch panel per language at 130 dpi
    assert traj.shape[1] == 12 * 130
    assert eig[..., :3].std() > 0.05 and traj[..., :3].std() > 0.05
