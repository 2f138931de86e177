"""Switches read from the environment (``STATETRACK_*``), all with the same spelling.

Examples
--------
>>> env_switch("STATETRACK_EXAMPLE_SWITCH", True, environ={})
True
>>> env_switch("STATETRACK_EXAMPLE_SWITCH", True, environ={"STATETRACK_EXAMPLE_SWITCH": "No"})
False
>>> env_switch("STATETRACK_EXAMPLE_SWITCH", True, environ={"STATETRACK_EXAMPLE_SWITCH": ""})
True
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping

__all__ = ["ON", "OFF", "env_switch"]

#: the values that turn a switch on (an empty value means its default)
ON = frozenset({"1", "on", "true", "yes"})
#: the values that turn it off
OFF = frozenset({"0", "off", "false", "no"})


def env_switch(name: str, default: bool, *, extra: Mapping[str, object] | None = None,
               environ: Mapping[str, str] | None = None):
    """The switch ``name``: ``default`` when unset or empty; ``True`` for 1/on/true/yes,
    ``False`` for 0/off/false/no (any case); ``extra[value]`` for a value of ``extra``; any
    other value warns (naming the accepted ones) and gives ``False``."""
    raw = (os.environ if environ is None else environ).get(name)
    v = (raw or "").strip().lower()
    if not v:
        return default
    if v in ON:
        return True
    if v in OFF:
        return False
    if extra and v in extra:
        return extra[v]
    accepted = "1/on/true/yes, 0/off/false/no" + "".join(f", {k}" for k in (extra or {}))
    warnings.warn(f"{name}={raw!r}: expected {accepted}; taken as off", RuntimeWarning,
                  stacklevel=3)
    return False
