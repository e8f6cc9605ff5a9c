import duckdb

from chatrec.features.extract import extract_features, taste_rows


def test_sql_and_dask_paths_build_the_same_features(ml100k_warehouse: duckdb.DuckDBPyConnection, settings) -> None:
    settings.dask_workers = 1
    query = "SELECT user_id, n_ratings, mean_rating, first_ts, last_ts, top_genres, recent_items, taste_summary"
    query += " FROM features.user_features ORDER BY user_id"
    run = extract_features(ml100k_warehouse, settings)
    assert (run.n_users, run.n_items, run.dask_workers, run.reused) == (943, 1682, 0, False)
    sql_rows = ml100k_warehouse.execute(query).fetchall()
    # user 1 rated 272 films
    assert sql_rows[0][0] == "1" and sql_rows[0][1] == 272
    assert isinstance(sql_rows[0][5], list) and len(sql_rows[0][5]) == 3 and len(sql_rows[0][6]) == 10
    assert sql_rows[0][7].startswith("Rated 272 films (mean 3.6). Favourite genres: ")
    assert extract_features(ml100k_warehouse, settings).reused  # same data: no duplicate rows
    assert ml100k_warehouse.execute("SELECT count(*) FROM features.user_features").fetchall() == [(943,)]

    ml100k_warehouse.execute(
        "DELETE FROM features.user_features; DELETE FROM features.item_features; DELETE FROM features.runs"
    )
    # the per-user Python on Dask partitions: every row the same, ties included
    on_dask = extract_features(ml100k_warehouse, settings, use_dask=True)
    assert on_dask.dask_workers == 1
    assert ml100k_warehouse.execute(query).fetchall() == sql_rows
    ranks = ml100k_warehouse.execute("SELECT item_id FROM features.item_features WHERE popularity_rank = 1").fetchall()
    assert ranks == [("50",)]  # Star Wars, the most rated film in ML-100K


def test_sql_features_match_the_python_on_implicit_and_mixed_histories(
    ml100k_warehouse: duckdb.DuckDBPyConnection, settings
) -> None:
    """Users without ratings (every interaction liked), with ratings on some rows only, and with
    nothing liked: the SQL summary is the per-user Python's."""
    con = ml100k_warehouse
    con.execute("UPDATE core.interactions SET rating = NULL WHERE user_id = '2'")  # implicit only
    con.execute("UPDATE core.interactions SET rating = NULL WHERE user_id = '3' AND rating >= 3")  # mixed
    con.execute("UPDATE core.interactions SET rating = 1 WHERE user_id = '4'")  # nothing liked
    extract_features(con, settings)
    query = "SELECT user_id, top_genres, recent_items, taste_summary FROM features.user_features"
    sql = {row[0]: row[1:] for row in con.execute(query + " WHERE user_id IN ('2', '3', '4')").fetchall()}
    from chatrec.data.frames import feedback_events
    from chatrec.features.extract import QUERIES

    history = con.execute((QUERIES / "user_histories.sql").read_text(), {"events": list(feedback_events(con))}).df()
    python = taste_rows(history[history["user_id"].isin(["2", "3", "4"])])
    for row in python.itertuples():
        assert sql[row.user_id] == (list(row.top_genres), list(row.recent_items), row.taste_summary), row.user_id
    assert sql["2"][2].startswith("Interacted with ") and sql["4"][0] == []


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


def test_local_dask_workers_start_preloaded_without_the_profiler_and_with_glibc_s_default_trimming(
    settings,
) -> None:
    # with a worker's 10 ms stack sampler the LLM stage ran ~1.1x slower, and with a 64 KiB trim threshold it
    # spent half its time in the kernel (docs/benchmarks.md): the workers we start run without both; and
    # they start from a forkserver that imported torch and polars once, not each worker again
    import multiprocessing
    import os
    import sys

    import dask

    from chatrec.features.extract import dask_client

    def worker_view() -> tuple[bool, str | None, str, bool]:
        return (
            dask.config.get("distributed.worker.profile.enabled"),
            os.environ.get("MALLOC_TRIM_THRESHOLD_"),
            os.environ.get("OMP_NUM_THREADS", ""),
            all(module in sys.modules for module in ("torch", "polars")),
        )

    preloaded = sys.platform.startswith("linux") and "forkserver" in multiprocessing.get_all_start_methods()
    settings.dask_workers = 1
    client = dask_client(settings)
    try:
        views = client.run(worker_view)
        assert views and all(view == (False, None, "1", preloaded) for view in views.values())
    finally:
        cluster = client.cluster
        client.close()
        cluster.close()
