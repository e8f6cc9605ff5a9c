"""Opening the warehouse file and writing to it atomically.

DuckDB lets one process open a file read-write; other processes may open it read-only only while
no writer holds it. Writers therefore keep their connection short and do all of one logical write
inside `transaction`, so a failed or killed write leaves no partial rows.
"""

from __future__ import annotations

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


def read_only_connection(settings: Settings | None = None, *, path: Path | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only connection for analysts and reports; never migrates or writes."""
    target = Path(path or (settings or get_settings()).warehouse_path)
    if not target.is_file():
        raise FileNotFoundError(f"warehouse file {target} does not exist; run `chatrec ingest movielens` first")
    return duckdb.connect(str(target), read_only=True)


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
