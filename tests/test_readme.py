"""The README's Python examples run as written."""

from __future__ import annotations

import pathlib
import re

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def test_readme_examples_run():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert blocks, "README has no python examples"
    namespace: dict = {}
    for block in blocks:  # blocks build on each other, as a reader would run them
        exec(compile(block, str(README), "exec"), namespace)


def test_readme_opens_with_the_two_commands():
    lines = README.read_text(encoding="utf-8").splitlines()
    commands = [ln for ln in lines[:6] if ln.startswith("python3 -m venv")]
    assert len(commands) == 2
    assert commands[0].endswith("statetrack check")
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    test_command = commands[1].split("&& ")[-1]
    assert test_command in ci.splitlines(), "CI must run the README's test command verbatim"
