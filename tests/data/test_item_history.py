"""Loads only add or correct: no ingest path erases an item attribute, every change is logged in
core.item_history, and a load's changes can be undone."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest

from chatrec.data.descriptions import ingest_descriptions
from chatrec.data.history import undo_load
from chatrec.data.ingest import ingest_movielens, ingest_movielens_latest, ingest_table
from tests.data.files import write_latest_format, write_original_ml100k

TOY_STORY = ("Toy Story", 1995, ["Animation", "Children's", "Comedy"])


def item(con: duckdb.DuckDBPyConnection, item_id: str) -> tuple:
    return con.execute("SELECT title, release_year, genres FROM core.items WHERE item_id = ?", [item_id]).fetchall()[0]


def history(con: duckdb.DuckDBPyConnection, load_id: str) -> list[tuple]:
    return con.execute(
        "SELECT item_id, attribute, old_value, new_value, outcome FROM core.item_history WHERE load_id = ?"
        " ORDER BY item_id, attribute",
        [load_id],
    ).fetchall()


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_interactions_file_fills_gaps_and_never_erases(
    ml100k_warehouse: duckdb.DuckDBPyConnection, tmp_path: Path, suffix: str
) -> None:
    assert item(ml100k_warehouse, "1") == TOY_STORY
    frame = pl.DataFrame(
        {
            "uid": ["1", "2"],
            "mid": ["1", "424242"],
            "stars": ["5", "4"],
            "ts": ["1997-12-04 15:55:49", "1997-12-04 15:55:49"],
            "title": ["Toy Story, the movie", "A New Film"],
            "year": [None, "1997"],
        }
    )
    path = tmp_path / f"events.{suffix}"
    frame.write_csv(path) if suffix == "csv" else frame.write_parquet(path)
    # more rows about the same users and items: another source, appended on purpose
    summary = ingest_table(
        ml100k_warehouse, path, "user=uid,item=mid,rating=stars,timestamp=ts,title=title,year=year", append=True
    )
    assert summary.balanced
    # the existing item keeps every attribute: NULL year and missing genres erase nothing, and the
    # conflicting title is recorded, not applied
    assert item(ml100k_warehouse, "1") == TOY_STORY
    assert item(ml100k_warehouse, "424242") == ("A New Film", 1997, [])
    assert history(ml100k_warehouse, summary.load_id) == [
        ("1", "title", "Toy Story", "Toy Story, the movie", "kept_existing"),
        ("424242", "release_year", None, "1997", "applied"),
        ("424242", "title", None, "A New Film", "applied"),
    ]
    assert any("kept as they were" in note for note in summary.notes)


def test_catalogue_load_corrects_logs_and_can_be_undone(
    ml100k_warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    folder = tmp_path / "latest"
    _, movies = write_latest_format(folder, n_ratings=10)
    movies = movies.with_columns(
        pl.when(pl.col("movieId") == "1")
        .then(pl.lit("Toy Story Redux (1995)"))
        .otherwise(pl.col("title"))
        .alias("title"),
        # a catalogue that lists no genres for item 2 does not erase the ones the warehouse has
        pl.when(pl.col("movieId") == "2")
        .then(pl.lit("(no genres listed)"))
        .otherwise(pl.col("genres"))
        .alias("genres"),
    )
    movies.write_csv(folder / "movies.csv")
    genres_of_2 = item(ml100k_warehouse, "2")[2]
    summary = ingest_movielens_latest(ml100k_warehouse, folder, append=True)
    assert summary.balanced
    assert item(ml100k_warehouse, "1") == ("Toy Story Redux", 1995, TOY_STORY[2])
    assert item(ml100k_warehouse, "2")[2] == genres_of_2 and genres_of_2
    assert ("1", "title", "Toy Story", "Toy Story Redux", "applied") in history(ml100k_warehouse, summary.load_id)

    undone = undo_load(ml100k_warehouse, summary.load_id)
    assert undone.restored >= 1 and undone.changed_since == 0
    assert item(ml100k_warehouse, "1") == TOY_STORY


def test_movielens_reload_after_latest_never_blanks_attributes(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    folder = tmp_path / "latest"
    write_latest_format(folder, n_ratings=10)
    ingest_movielens_latest(warehouse, folder)
    before = warehouse.execute("SELECT count(*) FROM core.items WHERE release_year IS NOT NULL").fetchall()
    # the original ML-100K files (the packaged demo never joins a warehouse holding other data)
    write_original_ml100k(tmp_path / "ml-100k")
    summary = ingest_movielens(warehouse, tmp_path / "ml-100k", append=True)
    assert summary.balanced
    after = warehouse.execute("SELECT count(*) FROM core.items WHERE release_year IS NOT NULL").fetchall()
    assert after >= before
    assert item(warehouse, "1") == TOY_STORY


def test_description_changes_are_logged_and_undone(ml100k_warehouse: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    first.write_text("item_id,description\n1,A toy cowboy.\n")
    second.write_text("item_id,description\n1,A toy cowboy and a space ranger.\n2,\n")
    ingest_descriptions(ml100k_warehouse, first)
    summary = ingest_descriptions(ml100k_warehouse, second)
    assert summary.rows_loaded == 1 and summary.quarantined_by_reason == {"empty description": 1}
    assert history(ml100k_warehouse, summary.load_id) == [
        ("1", "description", "A toy cowboy.", "A toy cowboy and a space ranger.", "applied")
    ]
    undo_load(ml100k_warehouse, summary.load_id)
    assert ml100k_warehouse.execute("SELECT description FROM core.items WHERE item_id = '1'").fetchall() == [
        ("A toy cowboy.",)
    ]
    with pytest.raises(LookupError, match="changed no item attribute"):
        undo_load(ml100k_warehouse, "no-such-load")


def test_undo_load_command(tmp_path: Path) -> None:
    from tests.cli.test_cli import chatrec

    assert chatrec("ingest", "movielens", cwd=tmp_path).returncode == 0
    path = tmp_path / "movies"
    write_latest_format(path, n_ratings=10)
    movies = pl.read_csv(path / "movies.csv", infer_schema=False)
    movies.with_columns(
        pl.when(pl.col("movieId") == "1")
        .then(pl.lit("Toy Story Redux (1995)"))
        .otherwise(pl.col("title"))
        .alias("title")
    ).write_csv(path / "movies.csv")
    assert chatrec("ingest", "latest", str(path), "--append", cwd=tmp_path).returncode == 0
    load_id = chatrec("sql", "SELECT load_id FROM raw.loads WHERE source = 'movielens-latest'", cwd=tmp_path).stdout
    load_id = next(word for word in load_id.split() if word.startswith("movielens-latest-"))
    undone = chatrec("warehouse", "undo-load", load_id, cwd=tmp_path)
    assert undone.returncode == 0 and " attribute value(s) restored, 0 left" in undone.stdout, undone.stdout
    title = chatrec("sql", "SELECT title FROM core.items WHERE item_id = '1'", cwd=tmp_path)
    assert "Toy Story Redux" not in title.stdout and "Toy Story" in title.stdout
    missing = chatrec("warehouse", "undo-load", "no-such-load", cwd=tmp_path)
    assert missing.returncode == 2 and "changed no item attribute" in missing.stdout
