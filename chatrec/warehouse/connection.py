"""Opening the warehouse file and writing to it atomically.

DuckDB lets one process open a file read-write; other processes may open it read-only only while
no writer holds it. Writers therefore keep their connection short and do all of one logical write
inside `transaction`, so a failed or killed write leaves no partial rows.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from chatrec.settings import Settings, get_settings
from chatrec.warehouse.migrations import apply_migrations


def connect(settings: Settings | None = None, *, path: Path | None = None) -> duckdb.DuckDBPyConnection:
    """A read-write connection with every migration and SQL model applied (idempotent)."""
    target = Path(path or (settings or get_settings()).warehouse_path)
    if str(target) != ":memory:":
        target.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(target))
    apply_migrations(con)
    return con


def snapshot_path(warehouse_path: Path) -> Path:
    """Where the read-only snapshot of a warehouse file is published."""
    return warehouse_path.with_name(f"{warehouse_path.stem}.snapshot{warehouse_path.suffix}")


def publish_snapshot(settings: Settings | None = None, *, path: Path | None = None) -> Path:
    """Copy the warehouse to its snapshot file atomically, for readers while a pipeline writes.

    Why: DuckDB lets one process hold a file read-write and refuses read-only opens from other
    processes meanwhile ("Could not set lock"). Writers call this after a complete write (the
    checkpoint folds the WAL into the file first), and readers fall back to the snapshot.
    """
    target = Path(path or (settings or get_settings()).warehouse_path)
    con = duckdb.connect(str(target))
    con.execute("CHECKPOINT")
    con.close()
    snapshot = snapshot_path(target)
    partial = snapshot.with_name(f".{snapshot.name}.{os.getpid()}.tmp")
    shutil.copyfile(target, partial)
    os.replace(partial, snapshot)  # readers see the old snapshot or the new one, never half a file
    return snapshot


def read_only_connection(settings: Settings | None = None, *, path: Path | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only connection for analysts and reports; never migrates or writes.

    While another process writes the warehouse, this opens the last published snapshot instead
    (and says so on stderr); with no snapshot the error names the lock and what to do.
    """
    target = Path(path or (settings or get_settings()).warehouse_path)
    if not target.is_file():
        raise FileNotFoundError(f"warehouse file {target} does not exist; run `chatrec ingest movielens` first")
    try:
        return duckdb.connect(str(target), read_only=True)
    except duckdb.IOException as exc:
        snapshot = snapshot_path(target)
        if "lock" not in str(exc).lower():
            raise
        if not snapshot.is_file():
            raise RuntimeError(
                f"{target} is being written by another process and no snapshot exists yet; "
                "retry when the pipeline finishes (each completed nightly publishes one)"
            ) from exc
        print(f"note: {target} is being written; reading the snapshot {snapshot}", file=sys.stderr)
        return duckdb.connect(str(snapshot), read_only=True)


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """Run a block in one transaction: commit on success, roll back on any error."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
