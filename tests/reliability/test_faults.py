"""Damaged files and a full disk: each fault is named to the user, and the warehouse, its snapshot
and what analysts see stay as they were."""

from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path

import duckdb
import pytest

from chatrec.settings import Settings
from chatrec.warehouse import WarehouseCorrupt, connect, publish_snapshot, read_only_connection, snapshot_path
from chatrec.warehouse.connection import EXIT_WAREHOUSE_CORRUPT
from tests.cli.test_cli import chatrec
from tests.reliability.conftest import table_counts


def corrupt(path: Path) -> str:
    """Overwrite every 7th byte (what a failing disk or a stray writer does); returns the new sha256."""
    data = bytearray(path.read_bytes())
    for position in range(0, len(data), 7):
        data[position] ^= 0xAB
    path.write_bytes(bytes(data))
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def corrupt_warehouse(ml100k_warehouse: duckdb.DuckDBPyConnection, settings: Settings) -> str:
    """The MovieLens warehouse with a published snapshot, then its main file corrupted."""
    ml100k_warehouse.close()
    publish_snapshot(settings)
    return corrupt(settings.warehouse_path)


def test_writers_refuse_a_corrupt_warehouse_and_name_the_way_back(settings: Settings, corrupt_warehouse: str) -> None:
    with pytest.raises(WarehouseCorrupt, match=r"is corrupt .* left untouched; restore .* `cp .*snapshot"):
        connect(settings)
    assert hashlib.sha256(settings.warehouse_path.read_bytes()).hexdigest() == corrupt_warehouse


def test_the_cli_exits_74_with_one_line_and_readers_use_the_snapshot(
    settings: Settings, corrupt_warehouse: str, tmp_path: Path
) -> None:
    env = {"CHATREC_WAREHOUSE_PATH": str(settings.warehouse_path)}
    ingest = chatrec("ingest", "movielens", cwd=tmp_path, env=env)
    assert ingest.returncode == EXIT_WAREHOUSE_CORRUPT and "Traceback" not in ingest.stderr
    errors = [line for line in ingest.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and str(settings.warehouse_path) in errors[0] and "is corrupt" in errors[0]
    query = chatrec("sql", "SELECT count(*) AS n FROM core.interactions", cwd=tmp_path, env=env)
    assert query.returncode == 0 and "100000" in query.stdout and "is corrupt" in query.stderr
    assert hashlib.sha256(settings.warehouse_path.read_bytes()).hexdigest() == corrupt_warehouse


def test_a_corrupt_warehouse_without_a_snapshot_says_how_to_rebuild(
    ml100k_warehouse: duckdb.DuckDBPyConnection, settings: Settings
) -> None:
    ml100k_warehouse.close()
    corrupt(settings.warehouse_path)
    with pytest.raises(WarehouseCorrupt, match="chatrec run nightly"):
        read_only_connection(settings)


def test_a_full_disk_while_publishing_the_snapshot_keeps_the_old_one(
    ml100k_warehouse: duckdb.DuckDBPyConnection, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    ml100k_warehouse.close()
    snapshot = publish_snapshot(settings)
    published = hashlib.sha256(snapshot.read_bytes()).hexdigest()
    con = connect(settings)
    con.execute("DELETE FROM core.interactions WHERE user_id = '1'")  # a change the next snapshot would carry
    con.close()

    import chatrec.warehouse.connection as connection

    def copy_until_the_disk_is_full(source: Path, target: Path) -> None:
        Path(target).write_bytes(Path(source).read_bytes()[:4096])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(connection.shutil, "copyfile", copy_until_the_disk_is_full)
    with pytest.raises(OSError, match="No space left on device"):
        publish_snapshot(settings)
    assert hashlib.sha256(snapshot.read_bytes()).hexdigest() == published
    assert [p.name for p in snapshot.parent.iterdir() if p.name.endswith(".tmp")] == []
    reader = duckdb.connect(str(snapshot_path(settings.warehouse_path)), read_only=True)
    assert table_counts(reader)["core.interactions"] == 100_000  # readers still see the complete old copy
    reader.close()
