"""The ``STATETRACK_*`` switches: one spelling for all (``_common/env.py``)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from statetrack.kernels._common.env import env_switch


@pytest.mark.parametrize("raw,want", [(None, "D"), ("", "D"), ("  ", "D"), ("1", True),
                                      ("On", True), ("TRUE", True), ("yes", True),
                                      ("0", False), ("off", False), ("False", False),
                                      ("NO", False), ("check", "C")])
def test_env_switch_values(raw, want):
    env = {} if raw is None else {"X": raw}
    for default in (True, False):
        got = env_switch("X", default, extra={"check": "C"}, environ=env)
        assert got == (default if want == "D" else want)


@pytest.mark.parametrize("raw", ["2", "junk", "-1", "check"])
def test_an_unknown_value_warns_and_is_off(raw):
    with pytest.warns(RuntimeWarning, match="X=.*expected 1/on/true/yes, 0/off/false/no"):
        assert env_switch("X", True, environ={"X": raw}) is False


def test_the_mapped_flags_switch_reads_the_environment():
    code = ("from statetrack.kernels._common import checks, fast_launch; "
            "print(checks.MAPPED_FLAGS, fast_launch.MODE)")
    for raw, want in (("off", "False off"), ("yes", "True on"), ("junk", "False off"),
                      ("", "True on")):
        env = dict(os.environ, STATETRACK_MAPPED_FLAGS=raw, STATETRACK_FAST_LAUNCH=raw)
        r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                           text=True, check=True)
        assert r.stdout.strip() == want, (raw, r.stdout, r.stderr)
        assert (r.stderr.count("expected 1/on/true/yes") == 2) == (raw == "junk"), r.stderr
