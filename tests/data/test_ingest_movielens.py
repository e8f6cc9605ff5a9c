from pathlib import Path

import duckdb
import pytest

from chatrec.data.ingest import SourceError, ingest_movielens
from tests.data.files import write_original_ml100k


def core_counts(con: duckdb.DuckDBPyConnection) -> tuple[int, int, int]:
    return tuple(
        con.execute(f"SELECT count(*) FROM core.{table}").fetchall()[0][0]
        for table in ("interactions", "users", "items")
    )


def test_packaged_ml100k_loads_the_published_counts(warehouse: duckdb.DuckDBPyConnection) -> None:
    summary = ingest_movielens(warehouse)
    assert core_counts(warehouse) == (100_000, 943, 1_682)
    assert summary.rows_in == 102_625 and summary.rows_loaded == 102_625 and summary.balanced
    assert summary.rows_quarantined == 0
    ratings = warehouse.execute(
        "SELECT min(rating), max(rating), count(DISTINCT event) FROM core.interactions"
    ).fetchall()
    assert ratings == [(1.0, 5.0, 1)]
    toy_story = warehouse.execute("SELECT title, release_year, genres FROM core.items WHERE item_id = '1'").fetchall()
    assert toy_story == [("Toy Story", 1995, ["Animation", "Children's", "Comedy"])]


def test_original_files_load_the_same_data(warehouse: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    write_original_ml100k(tmp_path / "ml-100k")
    summary = ingest_movielens(warehouse, tmp_path / "ml-100k")
    assert core_counts(warehouse) == (100_000, 943, 1_682)
    assert summary.balanced and summary.rows_quarantined == 0
    assert warehouse.execute("SELECT title, release_year FROM core.items WHERE item_id = '50'").fetchall() == [
        ("Star Wars", 1977)
    ]


def test_reingesting_the_same_files_changes_nothing(warehouse: duckdb.DuckDBPyConnection) -> None:
    first = ingest_movielens(warehouse)
    snapshot = warehouse.execute("SELECT count(*) FROM raw.interactions").fetchall()
    again = ingest_movielens(warehouse)
    assert again.already_loaded and again.load_id == first.load_id
    assert warehouse.execute("SELECT count(*) FROM raw.interactions").fetchall() == snapshot
    assert warehouse.execute("SELECT count(*) FROM raw.loads").fetchall() == [(1,)]
    assert core_counts(warehouse) == (100_000, 943, 1_682)


def test_a_file_with_new_interactions_appends_only_those(warehouse: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    lines = write_original_ml100k(tmp_path / "v1")
    data = lines["u.data"]
    (tmp_path / "v1" / "u.data").write_text("\n".join(data[:60_000]) + "\n", encoding="latin-1")
    first = ingest_movielens(warehouse, tmp_path / "v1")
    assert first.loaded_by_entity["interaction"] == 60_000
    # the source grew: the full file, 40,000 new rows, in the same folder (a different folder would be
    # another source, refused while its ids overlap unless appended on purpose)
    write_original_ml100k(tmp_path / "v1")
    second = ingest_movielens(warehouse, tmp_path / "v1")
    assert second.loaded_by_entity["interaction"] == 40_000
    # 60,000 ratings + every item and user line were already there
    assert second.rows_unchanged == 60_000 + 1_682 + 943
    assert second.balanced
    assert core_counts(warehouse) == (100_000, 943, 1_682)


def test_missing_file_fails_fast_naming_it_and_writes_nothing(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    write_original_ml100k(tmp_path / "ml")
    (tmp_path / "ml" / "u.user").unlink()
    with pytest.raises(SourceError, match=r"u\.user"):
        ingest_movielens(warehouse, tmp_path / "ml")
    assert warehouse.execute("SELECT count(*) FROM raw.loads").fetchall() == [(0,)]


def test_shared_fixture_holds_ml100k(ml100k_warehouse: duckdb.DuckDBPyConnection) -> None:
    assert core_counts(ml100k_warehouse) == (100_000, 943, 1_682)
