"""One data source per warehouse, on MovieLens-latest-format files written by the test (not ML-100K)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from chatrec.data.ingest import ingest_feedback, ingest_movielens, ingest_movielens_latest, ingest_table
from chatrec.data.source_registry import SourceConflict, canonical_path, nightly_source, primary_source


def write_latest(
    folder: Path, *, first_user: int = 1, titles: tuple[str, ...] = ("Jumanji", "Heat", "Sabrina")
) -> Path:
    """A tiny MovieLens-latest folder: 4 users rate 3 movies (ids 1..3), user ids from `first_user`."""
    folder.mkdir(parents=True, exist_ok=True)
    movies = ["movieId,title,genres"] + [f'{n},"{t} (1995)",Comedy' for n, t in enumerate(titles, start=1)]
    ratings = ["userId,movieId,rating,timestamp"] + [
        f"{first_user + u},{m},{(u + m) % 5 + 0.5},{1_600_000_000 + 10 * u + m}" for u in range(4) for m in (1, 2, 3)
    ]
    (folder / "movies.csv").write_text("\n".join(movies) + "\n")
    (folder / "ratings.csv").write_text("\n".join(ratings) + "\n")
    return folder


def counts(con: duckdb.DuckDBPyConnection) -> tuple[int, int, int, int]:
    return tuple(
        con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
        for table in ("core.interactions", "core.items", "core.users", "raw.loads")
    )  # type: ignore[return-value]


def test_the_first_load_records_the_warehouse_source(warehouse: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    folder = write_latest(tmp_path / "mine")
    summary = ingest_movielens_latest(warehouse, folder)
    primary = primary_source(warehouse)
    assert primary is not None and (primary.source, primary.role) == ("movielens-latest", "primary")
    assert primary.path == canonical_path(str(folder))
    (load_hash,) = warehouse.execute(
        "SELECT content_hash FROM raw.loads WHERE load_id = ?", [summary.load_id]
    ).fetchall()[0]
    assert primary.content_hash == load_hash
    # a new version of the same folder (spelled differently) is the same source: loaded, hash updated
    (folder / "ratings.csv").write_text((folder / "ratings.csv").read_text() + "9,1,4.0,1600000999\n")
    again = ingest_movielens_latest(warehouse, tmp_path / "." / "mine")
    assert again.loaded_by_entity["interaction"] == 1
    assert primary_source(warehouse).content_hash != load_hash  # type: ignore[union-attr]
    # chat feedback is not a source of its own
    ingest_feedback(warehouse, [{"user_id": "1", "item_id": "2", "event": "like"}])
    assert warehouse.execute("SELECT count(*) FROM raw.data_sources").fetchall() == [(1,)]


def test_the_packaged_demo_never_enters_a_warehouse_with_other_data(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    ingest_movielens_latest(warehouse, write_latest(tmp_path / "mine"))
    before = counts(warehouse)
    for append in (False, True):
        with pytest.raises(
            SourceConflict, match=r"packaged MovieLens 100K demo is never loaded.*CHATREC_WAREHOUSE_PATH="
        ):
            ingest_movielens(warehouse, append=append)
    assert counts(warehouse) == before
    assert warehouse.execute("SELECT title FROM core.items WHERE item_id = '1'").fetchall() == [("Jumanji",)]


def test_an_overlapping_source_is_refused_unless_appended(warehouse: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    ingest_movielens_latest(warehouse, write_latest(tmp_path / "mine"))
    other = write_latest(tmp_path / "other", titles=("GoldenEye", "Toy Story", "Casino"))
    before = counts(warehouse)
    with pytest.raises(SourceConflict, match=r"4 user id\(s\) and 3 item id\(s\).*--append"):
        ingest_movielens_latest(warehouse, other)
    assert counts(warehouse) == before
    assert warehouse.execute("SELECT title FROM core.items WHERE item_id = '1'").fetchall() == [("Jumanji",)]
    ingest_movielens_latest(warehouse, other, append=True)  # asked for explicitly
    roles = warehouse.execute("SELECT role FROM raw.data_sources ORDER BY recorded_at").fetchall()
    assert roles == [("primary",), ("appended",)]
    assert primary_source(warehouse).path == canonical_path(str(tmp_path / "mine"))  # type: ignore[union-attr]


def test_a_source_with_new_ids_only_is_appended(warehouse: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    ingest_movielens_latest(warehouse, write_latest(tmp_path / "mine"))
    table = tmp_path / "clicks.csv"
    table.write_text("uid,sku,when\nz1,s1,2024-01-01 00:00:00\nz2,s2,2024-01-02 00:00:00\n")
    ingest_table(warehouse, table, "user=uid,item=sku,timestamp=when,event_name=click,title=sku")
    rows = warehouse.execute("SELECT source, role, options FROM raw.data_sources ORDER BY recorded_at").fetchall()
    assert rows[1] == ("csv", "appended", "user=uid,item=sku,timestamp=when,event_name=click,title=sku")


def test_the_nightly_ingests_the_warehouse_source(warehouse: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    empty = nightly_source(warehouse, None, None)
    assert (empty.source, empty.path) == ("movielens", None) and "empty warehouse" in empty.why
    folder = write_latest(tmp_path / "mine")
    ingest_movielens_latest(warehouse, folder)
    chosen = nightly_source(warehouse, None, None)
    assert (chosen.source, chosen.path) == ("movielens-latest", canonical_path(str(folder)))
    assert "the warehouse's source" in chosen.why
    configured = nightly_source(warehouse, "csv", tmp_path / "x.csv", "user=u,item=i,timestamp=t,event_name=view")
    assert (configured.source, configured.options) == ("csv", "user=u,item=i,timestamp=t,event_name=view")
