from pathlib import Path

import duckdb
import polars as pl
import pytest

from chatrec.data.descriptions import ingest_descriptions
from chatrec.data.ingest import (
    ColumnMapping,
    SourceError,
    ingest_feedback,
    ingest_movielens,
    ingest_movielens_latest,
    ingest_table,
)
from tests.data.files import write_latest_format


def count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    return con.execute(sql).fetchall()[0][0]


def test_latest_format_loads_ratings_movies_and_tags(warehouse: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    folder = tmp_path / "latest"
    write_latest_format(folder)
    (folder / "tags.csv").write_text(
        'userId,movieId,tag,timestamp\n1,1,"funny, pixar",1139045764\n2,50,space,1139045765\n'
    )
    (folder / "links.csv").write_text("movieId,imdbId,tmdbId\n1,0114709,862\n")
    summary = ingest_movielens_latest(warehouse, folder)
    assert summary.balanced and summary.rows_quarantined == 0
    assert count(warehouse, "SELECT count(*) FROM core.interactions WHERE event = 'rating'") == 100_000
    assert count(warehouse, "SELECT count(*) FROM core.interactions WHERE event = 'tag'") == 2
    assert count(warehouse, "SELECT count(*) FROM core.items") == 1_682
    assert count(warehouse, "SELECT count(*) FROM core.users") == 943  # registered from the ratings
    assert warehouse.execute("SELECT min(rating), max(rating) FROM core.interactions").fetchall() == [(0.5, 4.5)]
    assert warehouse.execute("SELECT title, release_year FROM core.items WHERE item_id = '1'").fetchall() == [
        ("Toy Story", 1995)
    ]


def test_latest_format_missing_column_fails_naming_file_and_column(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    folder = tmp_path / "latest"
    ratings, _ = write_latest_format(folder, n_ratings=100)
    ratings.drop("timestamp").write_csv(folder / "ratings.csv")
    with pytest.raises(SourceError, match=r"ratings\.csv: missing column\(s\) timestamp"):
        ingest_movielens_latest(warehouse, folder)
    assert count(warehouse, "SELECT count(*) FROM raw.loads") == 0
    assert count(warehouse, "SELECT count(*) FROM core.items") == 0


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_generic_table_with_column_mapping(warehouse: duckdb.DuckDBPyConnection, tmp_path: Path, suffix: str) -> None:
    frame = pl.DataFrame(
        {
            "uid": ["u1", "u1", "u2", "u3", "u3"],
            "sku": ["a", "b", "a", "c", "c"],
            "stars": [5, 3, 4, 2, 2],
            "when": ["2024-01-01 10:00:00"] * 4 + ["2024-01-01 10:00:00"],  # last row duplicates the 4th
            "name": ["Alpha", "Beta", "Alpha", "Gamma", "Gamma"],
            "tags": ["x|y", "y", "x|y", "z", "z"],
            "age": [31, 31, 45, 27, 27],
        }
    )
    path = tmp_path / f"events.{suffix}"
    frame.write_csv(path) if suffix == "csv" else frame.write_parquet(path)
    summary = ingest_table(
        warehouse, path, "user=uid,item=sku,rating=stars,timestamp=when,title=name,categories=tags,age=age,rating_max=5"
    )
    assert summary.rows_in == 5  # item/user attributes ride on the interaction lines
    assert summary.loaded_by_entity["interaction"] == 4
    assert summary.quarantined_by_reason == {"duplicate event in this load": 1}
    assert summary.balanced
    assert warehouse.execute("SELECT item_id, title, genres FROM core.items ORDER BY item_id").fetchall() == [
        ("a", "Alpha", ["x", "y"]),
        ("b", "Beta", ["y"]),
        ("c", "Gamma", ["z"]),
    ]
    assert warehouse.execute("SELECT user_id, age FROM core.users ORDER BY user_id").fetchall() == [
        ("u1", 31),
        ("u2", 45),
        ("u3", 27),
    ]


def test_implicit_events_with_constant_event_name(warehouse: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = tmp_path / "clicks.csv"
    path.write_text("user,item,t\n1,10,1700000000\n1,11,1700000100\n2,10,1700000200\n")
    summary = ingest_table(warehouse, path, "user=user,item=item,timestamp=t,event_name=click")
    assert summary.rows_loaded == 3 and summary.balanced
    assert warehouse.execute("SELECT DISTINCT event, rating FROM core.interactions").fetchall() == [("click", None)]


def test_mapping_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="lacks required field"):
        ColumnMapping.parse("user=a,item=b")
    with pytest.raises(SourceError, match="unknown mapping field 'stars'"):
        ColumnMapping.parse("user=a,item=b,timestamp=c,stars=d")
    with pytest.raises(SourceError, match="needs rating=COLUMN"):
        ColumnMapping.parse("user=a,item=b,timestamp=c")


def test_generic_missing_column_names_it(warehouse: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("uid,sku,ts\n1,2,3\n")
    with pytest.raises(SourceError, match=r"missing column\(s\) stars"):
        ingest_table(warehouse, path, "user=uid,item=sku,rating=stars,timestamp=ts")


def test_unknown_items_are_quarantined_once_a_catalogue_exists(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    ingest_movielens(warehouse)
    path = tmp_path / "more.csv"
    path.write_text("u,i,r,t\n1,1,5,1700000000\n1,424242,5,1700000000\n")
    # more ratings for the same users and items: appended on purpose (another source whose ids overlap)
    summary = ingest_table(warehouse, path, "user=u,item=i,rating=r,timestamp=t", append=True)
    assert summary.rows_loaded == 1
    assert summary.quarantined_by_reason == {"unknown item id": 1}


def test_feedback_from_chat_is_stored_and_deduplicated(ml100k_warehouse: duckdb.DuckDBPyConnection) -> None:
    rows = [
        {"user_id": "42", "item_id": "50", "event": "like", "ts": "2026-11-22 10:00:00"},
        {"user_id": "42", "item_id": "99999", "event": "dislike", "ts": "2026-11-22 10:01:00"},
    ]
    summary = ingest_feedback(ml100k_warehouse, rows)
    assert summary.rows_loaded == 1 and summary.quarantined_by_reason == {"unknown item id": 1}
    assert ingest_feedback(ml100k_warehouse, rows).already_loaded
    with pytest.raises(ValueError, match="event 'love'"):
        ingest_feedback(ml100k_warehouse, [{"user_id": "1", "item_id": "1", "event": "love"}])


def test_descriptions_join_by_title_and_year(ml100k_warehouse: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = tmp_path / "wiki.csv"
    path.write_text(
        "movie_title,wiki_summary\n"
        '"Toy Story (1995)","Toy Story is a 1995 American\ncomputer-animated film."\n'
        "Star Wars (1977),Star Wars is a 1977 space opera.\n"
        "No Such Film (2001),Nothing.\n"
    )
    summary = ingest_descriptions(ml100k_warehouse, path)
    assert (summary.rows_in, summary.rows_loaded, summary.rows_quarantined) == (3, 2, 1)
    assert ml100k_warehouse.execute("SELECT description FROM core.items WHERE item_id = '1'").fetchall() == [
        ("Toy Story is a 1995 American\ncomputer-animated film.",)
    ]
    assert ingest_descriptions(ml100k_warehouse, path).already_loaded
