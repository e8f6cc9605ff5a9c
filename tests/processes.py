"""Running a child Python script that pauses at a known point, and SIGKILLing it there: how the
reliability tests simulate a crash (no clean-up, no exception handlers) in the middle of a write.
And finding processes a test started that outlived it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[1]


def kill_at_first_line(script: str, args: list[str], workdir: Path) -> str:
    """Run `script` with `args`, wait for the first line it prints (its "I am paused here" marker),
    SIGKILL it and return that line."""
    path = workdir / "child.py"
    path.write_text(script)
    child = subprocess.Popen(
        [sys.executable, str(path), *args],
        stdout=subprocess.PIPE, text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert child.stdout is not None
    line = child.stdout.readline().strip()
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    return line


# --- nothing a test starts may outlive it ------------------------------------------------------
# Every process the test session starts inherits this variable (tests pass {**os.environ, ...} to
# their children), so even an orphan that was re-parented to init can be found and named.
SESSION_MARK = "CHATREC_TEST_PROCESS_MARK"  # not CHATREC_*-prefixed: the per-test fixture clears those
# multiprocessing's helper processes belong to the interpreter and exit with it
INTERPRETER_HELPERS = ("multiprocessing.resource_tracker", "multiprocessing.forkserver")


def _describe(process: psutil.Process) -> str:
    try:
        return f"PID {process.pid}: {' '.join(process.cmdline())[:200]}"
    except psutil.Error:
        return f"PID {process.pid}"


def marked_processes(mark: str) -> list[psutil.Process]:
    """Processes (other than this one) started by this test session, wherever they are now parented."""
    found = []
    for process in psutil.process_iter():
        if process.pid == os.getpid():
            continue
        try:
            if process.environ().get(SESSION_MARK) == mark:
                found.append(process)
        except psutil.Error:  # exited meanwhile, a zombie, or not ours to read
            continue
    return found


def is_interpreter_helper(process: psutil.Process) -> bool:
    try:
        return any(helper in " ".join(process.cmdline()) for helper in INTERPRETER_HELPERS)
    except psutil.Error:
        return True


def reap_leftovers(candidates: list[psutil.Process], grace_s: float = 10.0) -> list[str]:
    """Give `candidates` `grace_s` to exit on their own; kill and name the ones that do not."""
    _, alive = psutil.wait_procs(candidates, timeout=grace_s)
    names = [_describe(p) for p in alive]
    for process in alive:
        with contextlib.suppress(psutil.Error):
            process.kill()
    psutil.wait_procs(alive, timeout=grace_s)
    return names


def orphans(mark: str) -> list[psutil.Process]:
    """Marked processes that no longer descend from the test process: left behind by a child that ended."""
    ours = {p.pid for p in psutil.Process().children(recursive=True)}
    return [p for p in marked_processes(mark) if p.pid not in ours]


def stop_server(server: subprocess.Popen[Any], timeout: float = 30.0) -> None:
    """SIGTERM a server the test started, as a user's Ctrl-C/`kill` would, and assert that it and
    every process it started are gone."""
    try:
        tree = [psutil.Process(server.pid), *psutil.Process(server.pid).children(recursive=True)]
    except psutil.Error:
        tree = []
    server.terminate()
    server.wait(timeout=timeout)
    left = reap_leftovers(tree, grace_s=timeout)
    assert not left, f"stopping the server left these running: {left}"
