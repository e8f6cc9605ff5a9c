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

# sysexits.h EX_IOERR: the CLI's exit code for a warehouse file DuckDB cannot read
EXIT_WAREHOUSE_CORRUPT = 74
CORRUPTION_SIGNS = ("corrupt database file", "not a valid duckdb database file", "checksum")


class WarehouseCorrupt(RuntimeError):
    """The warehouse file is damaged (failed block checksum, not a DuckDB file); nothing was written to it."""

    def __init__(self, target: Path, cause: Exception) -> None:
        snapshot = snapshot_path(target)
        restore = (
            f"restore the last complete nightly's copy with `cp {snapshot} {target}`"
            if snapshot.is_file()
            else "move it aside and rebuild with `chatrec run nightly`"
        )
        super().__init__(f"warehouse file {target} is corrupt ({cause}); it was left untouched; {restore}")


def _is_corruption(exc: duckdb.Error) -> bool:
    message = str(exc).lower()
    return any(sign in message for sign in CORRUPTION_SIGNS)


def connect(settings: Settings | None = None, *, path: Path | None = None) -> duckdb.DuckDBPyConnection:
    """A read-write connection with every migration and SQL model applied (idempotent), its memory
    bounded by `duckdb_memory_mb` (DuckDB spills what does not fit to a temporary folder)."""
    settings = settings or get_settings()
    target = Path(path or settings.warehouse_path)
    if str(target) != ":memory:":
        target.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(target))
    except duckdb.Error as exc:
        if _is_corruption(exc):
            raise WarehouseCorrupt(target, exc) from exc
        raise
    con.execute(f"SET memory_limit = '{duckdb_memory_mb(settings)}MiB'")
    apply_migrations(con)
    return con


DUCKDB_MEMORY_SHARE = 0.4


def duckdb_memory_mb(settings: Settings) -> int:
    if settings.duckdb_memory_mb is not None:
        return settings.duckdb_memory_mb
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") * DUCKDB_MEMORY_SHARE) >> 20


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
    try:
        shutil.copyfile(target, partial)
        os.replace(partial, snapshot)  # readers see the old snapshot or the new one, never half a file
    except BaseException:
        partial.unlink(missing_ok=True)  # a full disk or a failed copy leaves the old snapshot as it was
        raise
    return snapshot


# The analyst path (`chatrec sql`) runs SQL typed by a person: besides being read-only, it may not
# touch any other file (ATTACH ... READ_WRITE, COPY ... TO, EXPORT DATABASE, read_csv('/etc/...'),
# extensions), and the query cannot switch that back on (the configuration is locked).
SANDBOX = {"enable_external_access": False, "lock_configuration": True}


def read_only_connection(
    settings: Settings | None = None, *, path: Path | None = None, sandboxed: bool = False
) -> duckdb.DuckDBPyConnection:
    """A read-only connection for analysts and reports; never migrates or writes.

    `sandboxed` (the analyst path) also disables every file access beyond the warehouse itself.
    While another process writes the warehouse, this opens the last published snapshot instead
    (and says so on stderr); with no snapshot the error names the lock and what to do.
    """
    target = Path(path or (settings or get_settings()).warehouse_path)
    if not target.is_file():
        raise FileNotFoundError(
            f"warehouse file {target} does not exist: load your data first (`chatrec ingest latest FOLDER`, "
            "`chatrec ingest csv FILE --map ...`), or the demo into it (`chatrec ingest movielens`)"
        )
    config = dict(SANDBOX) if sandboxed else {}
    snapshot = snapshot_path(target)
    try:
        return duckdb.connect(str(target), read_only=True, config=config)
    except duckdb.Error as exc:
        if _is_corruption(exc):
            if not snapshot.is_file():
                raise WarehouseCorrupt(target, exc) from exc
            print(f"note: {target} is corrupt ({exc}); reading the snapshot {snapshot}", file=sys.stderr)
            return duckdb.connect(str(snapshot), read_only=True, config=config)
        if not isinstance(exc, duckdb.IOException) or "lock" not in str(exc).lower():
            raise
        if not snapshot.is_file():
            raise RuntimeError(
                f"{target} is being written by another process and no snapshot exists yet; "
                "retry when the pipeline finishes (each completed nightly publishes one)"
            ) from exc
        print(f"note: {target} is being written; reading the snapshot {snapshot}", file=sys.stderr)
        return duckdb.connect(str(snapshot), read_only=True, config=config)


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
