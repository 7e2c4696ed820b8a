"""Fixtures shared by the set-up tests."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import pytest


@pytest.fixture
def run_setup_cell(monkeypatch) -> Callable[[str, bool], list[list[str]]]:
    """``run(source, on_colab)``: execute a notebook's set-up cell with
    ``subprocess.run`` recorded, not run, on Colab or not; returns the commands."""

    def run(source: str, on_colab: bool) -> list[list[str]]:
        commands: list[list[str]] = []
        monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: commands.append(list(cmd)))
        if on_colab:
            monkeypatch.setitem(sys.modules, "google.colab", object())
        else:
            monkeypatch.delitem(sys.modules, "google.colab", raising=False)
        exec(compile(source, "setup", "exec"), {})
        return commands

    return run
