"""Applying the SQL in `warehouse/`.

- `migrations/NNNN_name.sql`: numbered, applied once each in order, recorded in `schema_migrations`
  with a checksum (an edited, already-applied migration is an error: add a new one instead).
- `staging/*.sql` and `marts/*.sql`: `CREATE OR REPLACE VIEW` models (and their `COMMENT ON`s),
  re-created on every start so they always match the code.
- `*.test.sql` beside a model: a query that must return no rows (dbt-style data test).
- `comments.sql`: `COMMENT ON` every table, view and column, applied after the views on every start
  (re-creating a view drops its column comments); docs/warehouse.md is generated from them.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
MODEL_DIRS = ("staging", "marts")
COMMENTS_FILE = "comments.sql"


class MigrationError(RuntimeError):
    """A migration file is malformed, failed, or was edited after it was applied."""


def sql_root() -> Path:
    """The `warehouse/` folder: packaged inside the wheel, or the repository checkout."""
    packaged = Path(__file__).resolve().parent.parent / "_warehouse_sql"
    if packaged.is_dir():
        return packaged
    repo = Path(__file__).resolve().parents[2] / "warehouse"
    if repo.is_dir():
        return repo
    raise MigrationError(f"no warehouse SQL found at {packaged} or {repo}")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover_migrations(root: Path | None = None) -> list[Migration]:
    folder = (root or sql_root()) / "migrations"
    found: list[Migration] = []
    for path in sorted(folder.glob("*.sql")):
        match = MIGRATION_NAME.match(path.name)
        if not match:
            raise MigrationError(f"migration file {path.name} must be named NNNN_lower_snake.sql")
        found.append(Migration(int(match.group(1)), path.stem, path.read_text()))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"duplicate migration numbers in {folder}: {sorted(versions)}")
    return found


def model_files(root: Path | None = None) -> list[Path]:
    """The view definitions, staging before marts, alphabetical inside each (name them to order)."""
    base = root or sql_root()
    return [
        path
        for folder in MODEL_DIRS
        for path in sorted((base / folder).glob("*.sql"))
        if not path.name.endswith(".test.sql")
    ]


def data_test_files(root: Path | None = None) -> list[Path]:
    base = root or sql_root()
    return [path for folder in MODEL_DIRS for path in sorted((base / folder).glob("*.test.sql"))]


def apply_migrations(con: duckdb.DuckDBPyConnection, root: Path | None = None) -> list[str]:
    """Apply pending migrations (each in its own transaction), then re-create views. Returns applied names."""
    con.execute(
        """CREATE TABLE IF NOT EXISTS schema_migrations (
               version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, checksum VARCHAR NOT NULL,
               applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp)"""
    )
    applied = {v: (n, c) for v, n, c in con.execute("SELECT version, name, checksum FROM schema_migrations").fetchall()}
    newly: list[str] = []
    for migration in discover_migrations(root):
        if migration.version in applied:
            name, checksum = applied[migration.version]
            if checksum != migration.checksum:
                raise MigrationError(
                    f"migration {migration.name} changed after it was applied (recorded as {name}); "
                    "add a new numbered migration instead of editing an applied one"
                )
            continue
        try:
            con.execute("BEGIN TRANSACTION")
            con.execute(migration.sql)
            con.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES (?, ?, ?)",
                [migration.version, migration.name, migration.checksum],
            )
            con.execute("COMMIT")
        except duckdb.Error as exc:
            con.execute("ROLLBACK")
            raise MigrationError(f"migration {migration.name} failed: {exc}") from exc
        newly.append(migration.name)
    refresh_views(con, root)
    return newly


def refresh_views(con: duckdb.DuckDBPyConnection, root: Path | None = None) -> None:
    """Re-create every staging and mart view, then apply the comments, in one transaction (readers never
    see a half set)."""
    files = model_files(root)
    comments = (root or sql_root()) / COMMENTS_FILE
    con.execute("BEGIN TRANSACTION")
    try:
        for path in files:
            try:
                con.execute(path.read_text())
            except duckdb.Error as exc:
                raise MigrationError(f"view model {path.parent.name}/{path.name} failed: {exc}") from exc
        if comments.is_file():
            try:
                con.execute(comments.read_text())
            except duckdb.Error as exc:
                raise MigrationError(
                    f"{COMMENTS_FILE} failed (a comment on a table or column that does not exist?): {exc}"
                ) from exc
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def run_data_tests(con: duckdb.DuckDBPyConnection, root: Path | None = None) -> dict[str, int]:
    """Run every `*.test.sql`; returns {test name: failing row count} (0 = pass)."""
    results: dict[str, int] = {}
    for path in data_test_files(root):
        rows = con.execute(f"SELECT count(*) FROM ({path.read_text().strip().rstrip(';')})").fetchall()
        results[f"{path.parent.name}/{path.name.removesuffix('.test.sql')}"] = int(rows[0][0])
    return results
