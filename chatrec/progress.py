"""Progress with counts and ETA for long stages (retrain per model, recommend per user, the LLM stage).

A rich progress bar on a terminal; on a pipe or in a log file (a worker, CI, `make run > log`), where
carriage-return redraws would only leave debris, nothing, or with `log_every_s` a log line at most that
often ("LLM re-rank + explain: 160/943 users, 2:10 elapsed, ETA 10:40") and one at the end.
"""

from __future__ import annotations

import logging
import sys
import time
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

log = logging.getLogger(__name__)
_console = Console(stderr=True, soft_wrap=True)


def _clock(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}" if minutes >= 60 else f"{minutes}:{secs:02d}"


def interactive() -> bool:
    return sys.stderr.isatty()


@contextmanager
def progress(
    description: str,
    total: int,
    unit: str = "",
    *,
    log_every_s: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[Callable[[int], None]]:
    """Yields `advance(n)`; shows `description  ━━━━  3/10 units  0:00:12  ETA 0:00:28` on a terminal,
    and off a terminal logs the same at most every `log_every_s` seconds (None: stays silent)."""
    if total <= 0 or (not interactive() and log_every_s is None):
        yield lambda n: None
        return
    if not interactive():
        started = last = clock()
        done = 0

        def advance(n: int) -> None:
            nonlocal done, last
            done += n
            now = clock()
            if done > 0 and (now - last >= (log_every_s or 0.0) or done >= total):
                last = now
                elapsed = now - started
                eta = elapsed / done * (total - done)
                line = f"{description}: {done}/{total} {unit}, {_clock(elapsed)} elapsed, ETA {_clock(eta)}"
                log.info(line)
                # and on stderr like the retrain's "registered ..." lines: a flow's output shows it
                # whatever the logging configuration
                _console.print(line, markup=False, highlight=False)

        yield advance
        return
    columns = (
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn(unit),
        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
    )  # fmt: skip
    with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)
