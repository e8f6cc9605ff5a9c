"""One writer of the warehouse at a time, and a clear word about who it is.

A command that writes (a `chatrec run` flow, an ingest, a migration) holds an exclusive `flock` on
`<warehouse>.lock` for its whole run and writes its PID, command and start time into that file.
A second writer waits up to `settings.warehouse_lock_wait_s`, saying who holds the lock, then
fails with `WarehouseBusy` (the CLI exits with `EXIT_WAREHOUSE_BUSY`). The kernel drops an
`flock` when its process dies, however it dies (SIGKILL included), so the lock of a dead PID is
simply taken over; the next holder says it did. Readers (`chatrec sql`, chat, dashboards) never
take it: they read the warehouse or its snapshot.

The lock is re-entrant within a process, so the nightly flow and the subflows it calls share it.
"""

from __future__ import annotations

import fcntl
import functools
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import ParamSpec, TypeVar

from chatrec.settings import Settings

P = ParamSpec("P")
R = TypeVar("R")

# sysexits.h EX_TEMPFAIL: "temporary failure, the user is invited to retry"
EXIT_WAREHOUSE_BUSY = 75
POLL_SECONDS = 0.5


@dataclass(frozen=True)
class LockHolder:
    pid: int
    command: str
    started_at: str
    host: str

    def describe(self) -> str:
        return f"PID {self.pid} on {self.host} (`{self.command}`, since {self.started_at})"

    def is_alive(self) -> bool:
        if self.host != socket.gethostname():
            return True  # cannot tell for another machine; trust the kernel's lock
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


class WarehouseBusy(RuntimeError):
    """Another process holds the warehouse's write lock and did not release it in time."""

    def __init__(self, warehouse: Path, holder: LockHolder | None, waited_s: float) -> None:
        self.holder = holder
        who = holder.describe() if holder else "another process"
        super().__init__(
            f"warehouse {warehouse} is being written by {who}; gave up after waiting {waited_s:.0f} s "
            "(retry when it finishes, or raise CHATREC_WAREHOUSE_LOCK_WAIT_S)"
        )


def lock_path(warehouse: Path) -> Path:
    return warehouse.with_name(f"{warehouse.name}.lock")


def read_holder(path: Path) -> LockHolder | None:
    """What the lock file says about its (last) holder; None when empty or unreadable."""
    try:
        data = json.loads(path.read_text() or "null")
        return LockHolder(int(data["pid"]), str(data["command"]), str(data["started_at"]), str(data["host"]))
    except (OSError, ValueError, TypeError, KeyError):
        return None


_held: dict[Path, tuple[int, int]] = {}  # lock file -> (fd, depth) held by this process
_held_guard = threading.RLock()


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextmanager
def warehouse_lock(
    settings: Settings,
    command: str,
    *,
    wait_s: float | None = None,
    say: Callable[[str], None] = _say,
) -> Iterator[None]:
    """Hold the warehouse's write lock for the block (waits up to `wait_s`, default from settings)."""
    warehouse = Path(settings.warehouse_path)
    if str(warehouse) == ":memory:":
        yield
        return
    path = lock_path(warehouse).resolve()
    with _held_guard:
        if path in _held:
            fd, depth = _held[path]
            _held[path] = (fd, depth + 1)
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield
        finally:
            with _held_guard:
                fd, depth = _held[path]
                _held[path] = (fd, depth - 1)
        return

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    limit = settings.warehouse_lock_wait_s if wait_s is None else wait_s
    started = time.monotonic()
    announced = False
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = read_holder(path)
                waited = time.monotonic() - started
                if waited >= limit:
                    raise WarehouseBusy(warehouse, holder, waited) from None
                if not announced:
                    who = holder.describe() if holder else "another process"
                    if holder is not None and not holder.is_alive():
                        who += " (that PID has ended; a process it started still holds the lock)"
                    say(f"waiting up to {limit:.0f} s for the warehouse lock held by {who}")
                    announced = True
                time.sleep(POLL_SECONDS)
        previous = read_holder(path)
        if previous is not None and previous.host == socket.gethostname() and not previous.is_alive():
            say(f"note: took over the warehouse lock left by {previous.describe()}, which is no longer running")
        me = {"pid": os.getpid(), "command": command, "started_at": f"{datetime.now():%Y-%m-%d %H:%M:%S}",
              "host": socket.gethostname()}  # fmt: skip
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me).encode(), 0)
    except BaseException:
        os.close(fd)
        raise
    with _held_guard:
        _held[path] = (fd, 1)
    try:
        yield
    finally:
        with _held_guard:
            del _held[path]
        os.ftruncate(fd, 0)  # the file stays (unlinking it would race a waiter's open); empty = free
        os.close(fd)  # closing the last descriptor drops the flock


def writes_warehouse(label: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a function (a flow) so that it runs holding the warehouse lock as `flow <label>`."""

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(function)
        def locked(*args: P.args, **kwargs: P.kwargs) -> R:
            with warehouse_lock(Settings(), f"flow {label}"):
                return function(*args, **kwargs)

        return locked

    return decorate
