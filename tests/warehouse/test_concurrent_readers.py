"""Readers while another process writes: DuckDB refuses them, the snapshot serves them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from chatrec.warehouse import connect, publish_snapshot, read_only_connection, snapshot_path

HOLD_WRITER = (
    "import sys, time, duckdb\n"
    "con = duckdb.connect(sys.argv[1])\n"
    "con.execute('BEGIN TRANSACTION')\n"
    "con.execute(\"INSERT INTO core.items (item_id, title, load_id) VALUES ('w', 'being written', 'l')\")\n"
    "print('holding', flush=True)\n"
    "time.sleep(60)\n"
)


@pytest.fixture
def writer_holding(settings) -> object:
    def start() -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-c", HOLD_WRITER, str(settings.warehouse_path)], stdout=subprocess.PIPE, text=True
        )
        assert process.stdout is not None and process.stdout.readline().strip() == "holding"
        return process

    processes: list[subprocess.Popen[str]] = []
    yield lambda: processes.append(start()) or processes[-1]
    for process in processes:
        process.kill()
        process.wait()


def test_reader_gets_the_snapshot_while_another_process_writes(settings, writer_holding, capsys) -> None:
    con = connect(settings)
    con.execute("INSERT INTO core.items (item_id, title, load_id) VALUES ('1', 'published', 'l')")
    con.close()
    snapshot = publish_snapshot(settings)
    assert snapshot == snapshot_path(Path(settings.warehouse_path)) and snapshot.is_file()
    writer_holding()
    reader = read_only_connection(settings)
    assert reader.execute("SELECT item_id, title FROM core.items").fetchall() == [("1", "published")]
    assert "reading the snapshot" in capsys.readouterr().err
    with pytest.raises(Exception, match="read-only"):
        reader.execute("DELETE FROM core.items")


def test_without_a_snapshot_the_error_says_what_to_do(settings, writer_holding) -> None:
    connect(settings).close()
    writer_holding()
    with pytest.raises(RuntimeError, match="being written by another process and no snapshot exists"):
        read_only_connection(settings)


def test_without_a_writer_readers_see_the_live_file(settings) -> None:
    con = connect(settings)
    con.execute("INSERT INTO core.items (item_id, title, load_id) VALUES ('2', 'live', 'l')")
    con.close()
    reader = read_only_connection(settings)
    assert reader.execute("SELECT title FROM core.items").fetchall() == [("live",)]
