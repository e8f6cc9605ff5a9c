"""Third-party log levels and the TTY-only progress bar."""

import logging
import os
import warnings

import pytest

from chatrec.logs import NOISY_LOGGERS, quiet_third_party
from chatrec.progress import progress


def test_quiet_by_default_and_verbose_on_request(monkeypatch: pytest.MonkeyPatch) -> None:
    with warnings.catch_warnings():
        assert quiet_third_party() == logging.WARNING
        assert all(logging.getLogger(name).level == logging.WARNING for name in NOISY_LOGGERS)
        assert os.environ["TQDM_DISABLE"] == "1"
        monkeypatch.setenv("CHATREC_VERBOSE_LOGS", "true")
        assert quiet_third_party() == logging.DEBUG
        assert logging.getLogger("distributed").level == logging.DEBUG and "TQDM_DISABLE" not in os.environ
    quiet_third_party(False)


def test_progress_is_silent_off_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    with progress("retrain", total=3, unit="models") as advance:
        for _ in range(3):
            advance(1)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_progress_off_a_terminal_can_log_counts_and_eta(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    now = [0.0]
    with (
        caplog.at_level(logging.INFO, logger="chatrec.progress"),
        progress("LLM", total=4, unit="users", log_every_s=30.0, clock=lambda: now[0]) as advance,
    ):
        for step in range(4):
            now[0] = 20.0 * (step + 1)  # 20 s a user: logs at 40 s (30 s passed) and at the end
            advance(1)
    expected = ["LLM: 2/4 users, 0:40 elapsed, ETA 0:40", "LLM: 4/4 users, 1:20 elapsed, ETA 0:00"]
    assert [r.getMessage() for r in caplog.records] == expected
    assert capsys.readouterr().err.splitlines() == expected  # visible in a flow's output too
