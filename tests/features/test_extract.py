import duckdb

from chatrec.features.extract import extract_features, taste_rows


def test_dask_and_duckdb_only_paths_build_the_same_features(
    ml100k_warehouse: duckdb.DuckDBPyConnection, settings
) -> None:
    settings.dask_workers = 1
    run = extract_features(ml100k_warehouse, settings)
    assert (run.n_users, run.n_items, run.dask_workers, run.reused) == (943, 1682, 1, False)
    dask_rows = ml100k_warehouse.execute(
        "SELECT user_id, n_ratings, top_genres, recent_items, taste_summary FROM features.user_features ORDER BY user_id"
    ).fetchall()
    # user 1 rated 272 films; genres and history come through Dask as real lists
    assert dask_rows[0][0] == "1" and dask_rows[0][1] == 272
    assert isinstance(dask_rows[0][2], list) and len(dask_rows[0][2]) == 3 and len(dask_rows[0][3]) == 10
    assert dask_rows[0][4].startswith("Rated 272 films")
    assert extract_features(ml100k_warehouse, settings).reused  # same data: no duplicate rows
    assert ml100k_warehouse.execute("SELECT count(*) FROM features.user_features").fetchall() == [(943,)]

    ml100k_warehouse.execute(
        "DELETE FROM features.user_features; DELETE FROM features.item_features; DELETE FROM features.runs"
    )
    plain = extract_features(ml100k_warehouse, settings, use_dask=False)
    assert plain.dask_workers == 0
    plain_rows = ml100k_warehouse.execute(
        "SELECT user_id, n_ratings, top_genres, recent_items, taste_summary FROM features.user_features ORDER BY user_id"
    ).fetchall()
    assert plain_rows == dask_rows
    ranks = ml100k_warehouse.execute("SELECT item_id FROM features.item_features WHERE popularity_rank = 1").fetchall()
    assert ranks == [("50",)]  # Star Wars, the most rated film in ML-100K


def test_taste_rows_handles_users_without_liked_items() -> None:
    import pandas as pd

    history = pd.DataFrame(
        {
            "user_id": ["u"],
            "item_id": ["i"],
            "rating": [2.0],
            "ts": [pd.Timestamp("2020-01-01")],
            "title": ["T"],
            "genres": [["Drama"]],
        }
    )
    row = taste_rows(history).iloc[0]
    assert row["top_genres"] == [] and row["taste_summary"] == "Rated 1 films (mean 2.0)."
