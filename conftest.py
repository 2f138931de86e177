"""The repository's pytest configuration, for every test and doctest (``tests/``,
``statetrack/``, ``experiments/``): kernel launches under Triton's interpreter run under a
bounds check.

Where the interpreter runs the kernels (no CUDA: CI), every test and doctest runs under
:class:`statetrack.kernels._common.bounds.BoundsCheck`: a load or store of a kernel outside
its launch's tensors fails the test at teardown (on the GPU it would be an illegal address;
in the interpreter it would read host memory unnoticed). ``STATETRACK_BOUNDS_CHECK=0`` turns
it off. It costs 0-25 % of a kernel test's time and nothing where no kernel runs; the kernel
tests ran clean under it when it came (session 34).
"""

from __future__ import annotations

import os
import sys

import pytest


@pytest.fixture(autouse=True)
def _bounds_checked_everywhere():
    # only once the package's Triton module is loaded (by the test's imports, at collection):
    # a test that never touches the kernels does not import Triton for this
    tr = sys.modules.get("statetrack.kernels._common.triton")
    if os.environ.get("STATETRACK_BOUNDS_CHECK", "1") == "0" or tr is None or not tr.INTERPRET:
        yield
        return
    from statetrack.kernels._common.bounds import BoundsCheck

    with BoundsCheck():
        yield
