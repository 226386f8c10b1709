"""The shared progress helpers: a stage bar shows each stage and ends complete."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from rich.progress import Progress

from chainsleuth.cli import console as console_module


def test_stage_bar_walks_through_its_stages(monkeypatch: pytest.MonkeyPatch) -> None:
    buffer = io.StringIO()
    bar = Progress(console=Console(file=buffer, force_terminal=True, width=200))
    monkeypatch.setattr(console_module, "progress_bar", lambda: bar)
    seen: list[tuple[float, str]] = []
    with console_module.stage_bar("train", 2) as step:
        step("reading the ledger")
        seen.append((bar.tasks[0].completed, bar.tasks[0].description))
        step("boosting")
        seen.append((bar.tasks[0].completed, bar.tasks[0].description))
    assert seen == [(0.0, "train: reading the ledger"), (1.0, "train: boosting")]
    assert (bar.tasks[0].completed, bar.tasks[0].total, bar.tasks[0].description) == (2.0, 2.0, "train: done")
    assert "train: done" in buffer.getvalue()


def test_stage_bar_is_silent_in_a_pipe(monkeypatch: pytest.MonkeyPatch) -> None:
    buffer = io.StringIO()
    bar = Progress(console=Console(file=buffer, force_terminal=False, width=200))
    monkeypatch.setattr(console_module, "progress_bar", lambda: bar)
    with console_module.stage_bar("score", 1) as step:
        step("reading")
    assert buffer.getvalue() == ""
    assert bar.tasks[0].completed == 1  # the stages are still tracked
