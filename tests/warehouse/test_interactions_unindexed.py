"""core.interactions without its primary-key index (migration 0260, issue 12): an existing warehouse
keeps its rows through the migration, and the load itself keeps one row per (user, item, event, time):
re-loads, overlapping files and duplicates inside a file add no second copy."""

from __future__ import annotations

from pathlib import Path

import duckdb

from chatrec.data.ingest import ingest_movielens_latest
from chatrec.warehouse import apply_migrations
from chatrec.warehouse.migrations import run_data_tests
from tests.data.test_data_sources import write_latest
from tests.warehouse.test_migration_backfill import old_schema_root

UNINDEXED = 260  # warehouse/migrations/0260_interactions_without_art_index.sql


def key_constraints(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [
        row[0]
        for row in con.execute(
            "SELECT constraint_type FROM duckdb_constraints() WHERE schema_name = 'core' AND table_name = 'interactions'"
            " AND constraint_type IN ('PRIMARY KEY', 'UNIQUE')"
        ).fetchall()
    ]


def test_migration_keeps_the_rows_and_drops_the_key_index(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "old.duckdb"))
    apply_migrations(con, old_schema_root(tmp_path, before=UNINDEXED))
    assert key_constraints(con) == ["PRIMARY KEY"]
    con.execute(
        "INSERT INTO core.interactions VALUES ('u1', 'i1', 4.0, 'rating', TIMESTAMP '2024-01-01 10:00', 'l1'),"
        " ('u1', 'i2', NULL, 'click', TIMESTAMP '2024-01-02 11:00', 'l1')"
    )
    rows_before = con.execute("SELECT * FROM core.interactions ORDER BY item_id").fetchall()

    applied = apply_migrations(con)  # a plain start: the pending migrations, 0260 among them

    assert "0260_interactions_without_art_index" in applied
    assert con.execute("SELECT * FROM core.interactions ORDER BY item_id").fetchall() == rows_before
    assert key_constraints(con) == []
    not_null = con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE schema_name = 'core' AND table_name = 'interactions'"
        " AND NOT is_nullable ORDER BY column_index"
    ).fetchall()
    assert [c for (c,) in not_null] == ["user_id", "item_id", "event", "ts", "load_id"]
    # views over the table were re-created and read it
    assert con.execute("SELECT count(*) FROM core.interactions").fetchone() == (2,)
    con.close()


def test_loads_keep_one_row_per_event_without_the_index(warehouse: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    assert key_constraints(warehouse) == []
    folder = write_latest(tmp_path / "shop")
    first = ingest_movielens_latest(warehouse, folder)
    assert first.loaded_by_entity["interaction"] == 12
    # the same events again, plus one new rating and one repeated inside the file: a changed file,
    # so a new load, which must add only the new event
    ratings = (folder / "ratings.csv").read_text()
    (folder / "ratings.csv").write_text(ratings + "9,1,4.0,1600000999\n9,1,4.0,1600000999\n")
    second = ingest_movielens_latest(warehouse, folder)
    assert second.already_loaded is False
    assert second.loaded_by_entity["interaction"] == 1
    assert second.rows_unchanged >= 12
    assert second.quarantined_by_reason == {"duplicate event in this load": 1}
    assert warehouse.execute("SELECT count(*) FROM core.interactions").fetchone() == (13,)
    assert run_data_tests(warehouse)["staging/core_interactions_unique"] == 0


def test_data_test_finds_a_key_held_twice(warehouse: duckdb.DuckDBPyConnection) -> None:
    row = "('u1', 'i1', 4.0, 'rating', TIMESTAMP '2024-01-01 10:00', 'l1')"
    warehouse.execute(f"INSERT INTO core.interactions VALUES {row}, {row}")
    assert run_data_tests(warehouse)["staging/core_interactions_unique"] == 1
