"""Shared terminal output: one rich console and the progress bar every long-running command uses."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

console = Console(stderr=True)


def progress_bar(*, transient: bool = False) -> Progress:
    """A progress bar on stderr (stdout stays clean for machine-readable output)."""
    return Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=transient,
    )


@contextmanager
def stage_bar(title: str, stages: int) -> Iterator[Callable[[str], None]]:
    """A progress bar for work that only knows its stages, not its items (training, evaluation, a batch run).

    ``step(label)`` marks the previous stage done and shows ``label`` as the current one, so a user sees which
    part of a long command is running and how long it has taken; leaving the block completes the bar. When stderr
    is not a terminal the bar stays silent: a log or a pipe would only get its last frame, timings included,
    mixed into the command's output.
    """
    bar = progress_bar()
    bar.disable = not bar.console.is_terminal
    with bar:
        task = bar.add_task(title, total=stages)
        done = -1

        def step(label: str) -> None:
            nonlocal done
            done += 1
            bar.update(task, completed=min(done, stages), description=f"{title}: {label}")

        yield step
        bar.update(task, completed=stages, description=f"{title}: done")
