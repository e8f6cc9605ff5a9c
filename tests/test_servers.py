"""The tests' server helper: a server that prints a lot before it answers does not block on its
output (it goes to a log file, not a pipe), and one that dies while starting is named with its log."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import httpx
import pytest

from tests.servers import free_port, running_server, start_server

CHATTY = """
import sys, http.server
for n in range(20000):  # ~1.3 MB, far beyond a pipe's 64 KiB buffer
    print(f"loading shard {n:05d} of 20000 ................................", flush=False)
sys.stdout.flush()
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), http.server.SimpleHTTPRequestHandler).serve_forever()
"""


def test_a_chatty_server_starts_and_its_output_is_in_the_log(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "chatty.log"
    command = [sys.executable, "-c", CHATTY, str(port)]
    with running_server(command, {**os.environ}, f"http://127.0.0.1:{port}/", log=log, timeout_s=60):
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=5).status_code == 200
    assert "loading shard 19999 of 20000" in log.read_text()
    with pytest.raises(httpx.TransportError):  # stopped on leaving
        httpx.get(f"http://127.0.0.1:{port}/", timeout=2)


def test_a_server_that_dies_while_starting_is_named_with_its_log(tmp_path: Path) -> None:
    command = [sys.executable, "-c", "import sys; print('bad config: no model'); sys.exit(3)"]
    with pytest.raises(RuntimeError, match=r"(?s)exited with 3 before .* answered.*bad config: no model"):
        start_server(command, {**os.environ}, f"http://127.0.0.1:{free_port()}/", log=tmp_path / "dead.log")
