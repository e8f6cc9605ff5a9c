"""Commands stop every process they started, however they are asked to stop.

`chatrec` turns SIGTERM and SIGHUP into a normal exit (SystemExit), so context managers and
`atexit` hooks run: Prefect's temporary API server and the Dask LocalCluster shut down as on
Ctrl-C. A last `atexit` hook then terminates any descendant process still alive (and kills it
after a grace period). Commands that only front one server (`chatrec dashboards serve`) exec it
instead, so the signal reaches the server itself.
"""

from __future__ import annotations

import atexit
import signal
import sys
from types import FrameType

import psutil

GRACE_SECONDS = 5.0


def stop_descendants(grace_s: float = GRACE_SECONDS) -> list[str]:
    """Terminate every process descended from this one, then kill what is left after `grace_s`.
    Returns the command lines of the processes it had to stop."""
    try:
        children = psutil.Process().children(recursive=True)
    except psutil.Error:
        return []
    stopped = []
    for child in children:
        try:
            stopped.append(" ".join(child.cmdline()) or child.name())
            child.terminate()
        except psutil.Error:
            continue
    _, alive = psutil.wait_procs(children, timeout=grace_s)
    for child in alive:
        try:
            child.kill()
        except psutil.Error:
            continue
    psutil.wait_procs(alive, timeout=grace_s)
    return stopped


def _exit_on_signal(signum: int, _frame: FrameType | None) -> None:
    # SystemExit unwinds the stack like Ctrl-C does: `finally` blocks and atexit hooks run
    sys.exit(128 + signum)


def stop_children_on_exit() -> None:
    """For a CLI process: SIGTERM/SIGHUP exit normally, and no descendant outlives the process."""
    atexit.register(stop_descendants)  # registered first, so it runs after every other atexit hook
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _exit_on_signal)
