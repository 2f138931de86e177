"""Shared pytest configuration: hypothesis profiles.

* ``default``: no per-example deadline (numba compiles on first use and the machine may be
  shared, so timings are not a property of the code);
* ``ci``: also ``derandomize=True`` (every CI run draws the same examples) and no example
  database; loaded when the environment variable ``CI`` is set (to anything non-empty).

``HYPOTHESIS_PROFILE=<name>`` selects a profile explicitly.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("default", deadline=None)
settings.register_profile("ci", deadline=None, derandomize=True, database=None,
                          print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "default"))
