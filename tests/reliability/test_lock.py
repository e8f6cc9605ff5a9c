"""One writer of the warehouse at a time: a second writer waits, says who holds the lock, then
exits with code 75 and one line; the lock of a killed writer is taken over; readers never wait."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from chatrec.settings import Settings
from chatrec.warehouse import read_only_connection
from chatrec.warehouse.lock import EXIT_WAREHOUSE_BUSY, WarehouseBusy, lock_path, warehouse_lock
from tests.cli.test_cli import chatrec
from tests.processes import REPO
from tests.reliability.conftest import table_counts

# a writer in another process: takes the lock, says so, and holds it until killed
HOLDER = textwrap.dedent(
    """
    import sys, time
    from chatrec.settings import Settings
    from chatrec.warehouse.lock import warehouse_lock

    with warehouse_lock(Settings(warehouse_path=sys.argv[1]), "chatrec run nightly"):
        print("locked", flush=True)
        time.sleep(300)
    """
)


@pytest.fixture
def holder(settings: Settings):
    """A live process holding the warehouse lock; SIGKILLed at the end of the test if still running."""
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(settings.warehouse_path)],
        stdout=subprocess.PIPE, text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert process.stdout is not None and process.stdout.readline().strip() == "locked"
    yield process
    if process.poll() is None:
        process.kill()
    process.wait(timeout=30)


def test_a_second_writer_waits_names_the_holder_then_gives_up(settings: Settings, holder) -> None:
    said: list[str] = []
    with (
        pytest.raises(WarehouseBusy) as raised,
        warehouse_lock(settings, "chatrec run retrain", wait_s=1.0, say=said.append),
    ):
        pytest.fail("the lock was granted while another process held it")
    assert raised.value.holder is not None and raised.value.holder.pid == holder.pid
    assert raised.value.holder.command == "chatrec run nightly"
    assert f"PID {holder.pid}" in str(raised.value) and "gave up after waiting 1 s" in str(raised.value)
    assert len(said) == 1 and "waiting up to 1 s" in said[0] and f"PID {holder.pid}" in said[0]


def test_the_lock_of_a_killed_writer_is_taken_over(settings: Settings, holder) -> None:
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=30)
    said: list[str] = []
    with warehouse_lock(settings, "chatrec run recommend", wait_s=5.0, say=said.append):
        recorded = json.loads(lock_path(settings.warehouse_path).read_text())
        assert recorded["pid"] == os.getpid() and recorded["command"] == "chatrec run recommend"
    assert any(f"took over the warehouse lock left by PID {holder.pid}" in line for line in said)
    assert lock_path(settings.warehouse_path).read_text() == ""  # released: nobody holds it


def test_the_lock_is_reentrant_within_a_process(settings: Settings) -> None:
    with warehouse_lock(settings, "flow nightly"), warehouse_lock(settings, "flow ingest", wait_s=0):
        assert json.loads(lock_path(settings.warehouse_path).read_text())["command"] == "flow nightly"


def test_readers_never_take_the_lock(ml100k_warehouse: duckdb.DuckDBPyConnection, settings: Settings, holder) -> None:
    ml100k_warehouse.close()
    con = read_only_connection(settings, sandboxed=True)
    assert con.execute("SELECT count(*) FROM core.interactions").fetchall() == [(100_000,)]
    con.close()


def test_the_cli_exits_75_with_one_line_and_writes_nothing(
    ml100k_warehouse: duckdb.DuckDBPyConnection, settings: Settings, holder, tmp_path: Path
) -> None:
    before = table_counts(ml100k_warehouse)
    ml100k_warehouse.close()
    env = {"CHATREC_WAREHOUSE_PATH": str(settings.warehouse_path), "CHATREC_WAREHOUSE_LOCK_WAIT_S": "1"}
    result = chatrec("ingest", "movielens", cwd=tmp_path, env=env)
    assert result.returncode == EXIT_WAREHOUSE_BUSY, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and f"PID {holder.pid}" in errors[0] and "`chatrec run nightly`" in errors[0]
    assert "Traceback" not in result.stderr
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    assert table_counts(con) == before
    con.close()
