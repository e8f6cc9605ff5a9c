"""Starting a server process for a test: on a free loopback port, its output written to a log file
(never a pipe: a chatty server would block once a pipe's buffer is full and nobody reads it), ready
once a probe URL answers, and stopped with every process it started afterwards."""

from __future__ import annotations

import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.processes import stop_server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def default_log() -> Path:
    return Path(tempfile.gettempdir()) / f"chatrec-test-server-{uuid.uuid4().hex[:8]}.log"


def log_tail(log: Path, chars: int = 3000) -> str:
    return log.read_text(errors="replace")[-chars:] if log.is_file() else ""


def start_server(
    command: list[str], env: dict[str, str], probe: str, *, log: Path | None = None, timeout_s: float = 90
) -> subprocess.Popen[bytes]:
    """Start `command` with its stdout and stderr in `log`, and return it once `probe` answers with a
    2xx status. If it exits first, or does not answer within `timeout_s`, it is stopped and the error
    carries the end of its log."""
    log = log or default_log()
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        server = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            httpx.get(probe, timeout=2).raise_for_status()
            return server
        except httpx.HTTPError:
            if server.poll() is not None:
                raise RuntimeError(
                    f"{' '.join(command[:4])} exited with {server.returncode} before {probe} answered; "
                    f"the end of {log}:\n{log_tail(log)}"
                ) from None
            if time.monotonic() > deadline:
                stop_server(server)
                raise TimeoutError(
                    f"{' '.join(command[:4])}: {probe} did not answer within {timeout_s:.0f} s; "
                    f"the end of {log}:\n{log_tail(log)}"
                ) from None
            time.sleep(0.5)


@contextmanager
def running_server(
    command: list[str], env: dict[str, str], probe: str, *, log: Path | None = None, timeout_s: float = 90
) -> Iterator[subprocess.Popen[bytes]]:
    """`start_server`, yield the process; stop it, and every process it started, afterwards."""
    server = start_server(command, env, probe, log=log, timeout_s=timeout_s)
    try:
        yield server
    finally:
        stop_server(server)  # asserts the server and every process it started are gone
