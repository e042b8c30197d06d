"""The leak-check loop stays runnable: it must reach every native entry point without error."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest

LEAKLOOP = Path(__file__).resolve().parents[2] / "native" / "leakloop.py"


def test_leak_loop_runs_every_entry_point(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setattr(sys, "argv", [str(LEAKLOOP), "2"])
    runpy.run_path(str(LEAKLOOP), run_name="__main__")
    assert capsys.readouterr().out.strip() == "2 iterations over every native entry point"
