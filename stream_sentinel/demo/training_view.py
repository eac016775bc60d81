"""How first-run training shows itself: a rich progress bar, or a line per stage off a terminal."""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)


class TrainingBar:
    """One bar per stage on a terminal (a spinner when a stage has no measure)."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            console=console,
        )
        self._task: TaskID | None = None
        self._console = console

    def stage(self, description: str, total: int | None) -> None:
        if self._task is None:
            self._progress.start()
        else:
            self._finish_stage()
        self._task = self._progress.add_task(description, total=total)

    def advance(self, completed: int) -> None:
        if self._task is not None:
            self._progress.update(self._task, completed=completed)

    def done(self, message: str) -> None:
        if self._task is not None:
            self._finish_stage()
            self._progress.stop()
        self._console.print(message, highlight=False)

    def _finish_stage(self) -> None:
        assert self._task is not None
        total = self._progress.tasks[-1].total or 1
        self._progress.update(self._task, total=total, completed=total, refresh=True)


class TrainingLines:
    """A line when each stage starts, with the time the previous one took (logs, CI)."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._started = time.monotonic()

    def stage(self, description: str, total: int | None) -> None:
        elapsed = time.monotonic() - self._started
        self._console.print(f"  [{elapsed:5.1f} s] {description} ...", highlight=False)

    def advance(self, completed: int) -> None:
        return None

    def done(self, message: str) -> None:
        self._console.print(message, highlight=False)


def training_progress(console: Console) -> TrainingBar | TrainingLines:
    return TrainingBar(console) if console.is_terminal else TrainingLines(console)
