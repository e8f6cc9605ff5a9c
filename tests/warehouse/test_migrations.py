from pathlib import Path

import duckdb
import pytest

from chatrec.warehouse import apply_migrations, connect
from chatrec.warehouse.migrations import MigrationError, discover_migrations, run_data_tests, sql_root

EXPECTED_TABLES = {
    ("raw", "loads"), ("raw", "interactions"), ("raw", "items"), ("raw", "users"),
    ("core", "users"), ("core", "items"), ("core", "interactions"),
    ("quarantine", "rejected_rows"), ("models", "registry"),
    ("recs", "runs"), ("recs", "recommendations"), ("recs", "explanations"),
    ("monitoring", "metrics"), ("monitoring", "drift_results"), ("monitoring", "reports"),
}  # fmt: skip
ANALYST_VIEWS = {"latest_recommendations", "model_leaderboard", "run_history", "drift_history", "load_history"}


def test_fresh_warehouse_has_every_documented_table(warehouse: duckdb.DuckDBPyConnection) -> None:
    tables = set(
        warehouse.execute(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'"
        ).fetchall()
    )
    assert tables >= EXPECTED_TABLES


def test_analyst_views_exist_and_carry_comments(warehouse: duckdb.DuckDBPyConnection) -> None:
    rows = dict(
        warehouse.execute("SELECT view_name, comment FROM duckdb_views() WHERE schema_name = 'marts'").fetchall()
    )
    assert set(rows) >= ANALYST_VIEWS
    for view in ANALYST_VIEWS:
        assert rows[view], f"marts.{view} has no COMMENT ON"


def test_migrations_are_idempotent(settings, tmp_path: Path) -> None:
    con = connect(settings)
    first = con.execute("SELECT version, checksum FROM schema_migrations ORDER BY version").fetchall()
    assert apply_migrations(con) == []  # nothing pending on a second start
    con.close()
    con = connect(settings)  # and a third, from a new connection
    assert con.execute("SELECT version, checksum FROM schema_migrations ORDER BY version").fetchall() == first
    assert len(first) == len(discover_migrations())


def test_edited_applied_migration_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "wh"
    (root / "migrations").mkdir(parents=True)
    (root / "staging").mkdir()
    (root / "marts").mkdir()
    migration = root / "migrations" / "0001_t.sql"
    migration.write_text("CREATE TABLE t (a INTEGER);")
    con = duckdb.connect(str(tmp_path / "x.duckdb"))
    assert apply_migrations(con, root) == ["0001_t"]
    migration.write_text("CREATE TABLE t (a INTEGER, b INTEGER);")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        apply_migrations(con, root)


def test_failing_migration_leaves_nothing_behind(tmp_path: Path) -> None:
    root = tmp_path / "wh"
    (root / "migrations").mkdir(parents=True)
    (root / "staging").mkdir()
    (root / "marts").mkdir()
    (root / "migrations" / "0001_bad.sql").write_text("CREATE TABLE half (a INTEGER); SELECT no_such_column FROM half;")
    con = duckdb.connect(str(tmp_path / "x.duckdb"))
    with pytest.raises(MigrationError, match="0001_bad"):
        apply_migrations(con, root)
    assert con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'half'").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == 0


def test_badly_named_migration_is_refused(tmp_path: Path) -> None:
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / "add_table.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="NNNN_lower_snake"):
        discover_migrations(tmp_path)


def test_data_tests_pass_on_empty_warehouse(warehouse: duckdb.DuckDBPyConnection) -> None:
    results = run_data_tests(warehouse)
    assert results and all(count == 0 for count in results.values())


def test_data_test_catches_lost_rows(warehouse: duckdb.DuckDBPyConnection) -> None:
    warehouse.execute(
        "INSERT INTO raw.loads (load_id, source, path, content_hash, status, rows_in, rows_loaded, started_at)"
        " VALUES ('l1', 'csv', 'x.csv', 'h', 'complete', 10, 9, now())"
    )
    assert run_data_tests(warehouse)["marts/load_history"] == 1


def test_sql_root_is_the_repository_warehouse_folder() -> None:
    assert (sql_root() / "migrations" / "0001_schemas.sql").is_file()
