"""Every table, view and column of the warehouse is documented (warehouse/comments.sql), and
docs/warehouse.md is exactly what `chatrec warehouse docs` generates from those comments."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from chatrec.settings import Settings
from chatrec.warehouse import connect
from chatrec.warehouse.docs import docs_path, render_docs
from chatrec.warehouse.migrations import MigrationError, sql_root

OUTSIDE = "schema_name NOT IN ('main', 'information_schema', 'pg_catalog')"


def test_every_column_table_and_view_has_a_comment(warehouse: duckdb.DuckDBPyConnection) -> None:
    uncommented = warehouse.execute(
        f"SELECT count(*) FROM duckdb_columns() WHERE comment IS NULL AND {OUTSIDE}"
    ).fetchall()
    missing = warehouse.execute(
        f"SELECT schema_name || '.' || table_name || '.' || column_name FROM duckdb_columns() WHERE comment IS NULL AND {OUTSIDE}"
    ).fetchall()
    assert uncommented == [(0,)], f"add COMMENT ON COLUMN to warehouse/comments.sql for: {[m for (m,) in missing]}"
    relations = warehouse.execute(
        f"""SELECT schema_name || '.' || table_name FROM duckdb_tables() WHERE comment IS NULL AND {OUTSIDE}
            UNION ALL SELECT schema_name || '.' || view_name FROM duckdb_views() WHERE comment IS NULL AND NOT internal AND {OUTSIDE}"""
    ).fetchall()
    assert relations == [], f"add COMMENT ON TABLE/VIEW to warehouse/comments.sql for: {relations}"


def test_comments_survive_a_restart_that_recreates_the_views(
    warehouse: duckdb.DuckDBPyConnection, settings: Settings
) -> None:
    warehouse.close()
    con = connect(settings)
    comment = con.execute(
        "SELECT comment FROM duckdb_columns() WHERE schema_name = 'marts' AND table_name = 'run_history' AND column_name = 'duration_s'"
    ).fetchall()
    con.close()
    assert comment == [("Run time, seconds",)]


def test_committed_docs_equal_the_generated_reference() -> None:
    con = connect(path=Path(":memory:"))
    generated = render_docs(con)
    con.close()
    assert docs_path().read_text() == generated, "docs/warehouse.md is stale: run `chatrec warehouse docs`"


def test_a_comment_on_a_column_that_does_not_exist_names_the_file(tmp_path: Path) -> None:
    root = tmp_path / "warehouse"
    for folder in ("migrations", "staging", "marts"):
        (root / folder).mkdir(parents=True)
        for path in (sql_root() / folder).glob("*.sql"):
            (root / folder / path.name).write_text(path.read_text())
    (root / "comments.sql").write_text("COMMENT ON COLUMN core.users.shoe_size IS 'gone';\n")
    from chatrec.warehouse.migrations import apply_migrations

    con = duckdb.connect(":memory:")
    with pytest.raises(MigrationError, match=r"comments\.sql.*shoe_size"):
        apply_migrations(con, root)
