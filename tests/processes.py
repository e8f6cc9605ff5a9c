"""Running a child Python script that pauses at a known point, and SIGKILLing it there: how the
reliability tests simulate a crash (no clean-up, no exception handlers) in the middle of a write."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

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
