"""Progress with counts and ETA for long stages (retrain per model, recommend per user, the LLM stage).

A rich progress bar on a terminal; nothing on a pipe or in a log file (a worker, CI, `make run > log`),
where carriage-return redraws would only leave debris.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def interactive() -> bool:
    return sys.stderr.isatty()


@contextmanager
def progress(description: str, total: int, unit: str = "") -> Iterator[Callable[[int], None]]:
    """Yields `advance(n)`; shows `description  ━━━━  3/10 units  0:00:12  ETA 0:00:28` on a terminal."""
    if not interactive() or total <= 0:
        yield lambda n: None
        return
    columns = (
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn(unit),
        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
    )  # fmt: skip
    with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)
