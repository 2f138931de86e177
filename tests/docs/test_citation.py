"""LICENSE and CITATION.cff agree with pyproject.toml (read as text: no YAML or TOML parser)."""

from __future__ import annotations

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _pyproject(key: str) -> str:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    if key == "license":
        return re.search(r'(?m)^license = \{ text = "([^"]+)" \}', text).group(1)
    return re.search(rf'(?m)^{key} = "([^"]+)"', text).group(1)


def test_license_is_the_one_pyproject_names():
    assert _pyproject("license") == "MIT"
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n")
    assert "Permission is hereby granted, free of charge" in text


def test_citation_cff_matches_the_package():
    cff = (ROOT / "CITATION.cff").read_text(encoding="utf-8")
    assert re.search(r"(?m)^cff-version: 1\.2\.0$", cff)
    assert re.search(rf"(?m)^version: {re.escape(_pyproject('version'))}$", cff)
    assert re.search(rf"(?m)^license: {_pyproject('license')}$", cff)
    # the paper whose results the toolkit checks, with its arXiv number
    assert "Unlocking State-Tracking in Linear RNNs Through Negative Eigenvalues" in cff
    assert "arXiv:2411.12537" in cff and "2502.10297" in cff
