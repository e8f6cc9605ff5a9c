"""The warehouse's core tables as polars frames: the one way models and reports read input data."""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import polars as pl

INTERACTION_COLUMNS = ("user_id", "item_id", "rating", "event", "ts")
ITEMS_SQL = "SELECT item_id, title, release_year, genres, description FROM core.items ORDER BY item_id"


def query_frame(con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None) -> pl.DataFrame:
    """A query's result as a polars frame (DuckDB 2.0: relations convert, DB-API results copy)."""
    return con.sql(sql, params=params).pl()


def has_ratings(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the warehouse holds explicit ratings (else it is implicit feedback only: clicks, purchases)."""
    return bool(con.execute("SELECT count(*) > 0 FROM core.interactions WHERE event = 'rating'").fetchall()[0][0])


def feedback_events(con: duckdb.DuckDBPyConnection) -> tuple[str, ...]:
    """The events models learn from: ratings when the data has any (implicit extras such as MovieLens
    tags stay out, as before), else every implicit event there is (a click log has no ratings)."""
    if has_ratings(con):
        return ("rating",)
    rows = con.execute("SELECT DISTINCT event FROM core.interactions ORDER BY event").fetchall()
    return tuple(row[0] for row in rows) or ("rating",)


def interactions_frame(
    con: duckdb.DuckDBPyConnection,
    *,
    start: str | None = None,
    end: str | None = None,
    events: tuple[str, ...] | None = None,
    columns: Sequence[str] = INTERACTION_COLUMNS,
) -> pl.DataFrame:
    """core.interactions (user_id, item_id, rating, event, ts, or some of them: `columns`) in
    [start, end), sorted by time.

    `events` None = `feedback_events` (ratings, or every implicit event when there are no ratings)."""
    return query_frame(con, *interactions_query(con, start=start, end=end, events=events, columns=columns))


def interactions_query(
    con: duckdb.DuckDBPyConnection,
    *,
    start: str | None = None,
    end: str | None = None,
    events: tuple[str, ...] | None = None,
    columns: Sequence[str] = INTERACTION_COLUMNS,
) -> tuple[str, list[object]]:
    """The SQL and parameters of `interactions_frame` (of some of its columns)."""
    unknown = set(columns) - set(INTERACTION_COLUMNS)
    if unknown:
        raise ValueError(f"not interaction columns: {', '.join(sorted(unknown))}")
    clauses = ["list_contains(?, event)"]
    params: list[object] = [list(events or feedback_events(con))]
    if start is not None:
        clauses.append("ts >= CAST(? AS TIMESTAMP)")
        params.append(start)
    if end is not None:
        clauses.append("ts < CAST(? AS TIMESTAMP)")
        params.append(end)
    sql = (
        f"SELECT {', '.join(columns)} FROM core.interactions WHERE "
        + " AND ".join(clauses)
        + " ORDER BY ts, user_id, item_id"
    )
    return sql, params


def tagged_items(con: duckdb.DuckDBPyConnection, users: list[str]) -> dict[str, list[str]]:
    """The items each of `users` tagged (core.tags, and `tag` events without text), for exclusion."""
    rows = con.execute(
        "SELECT user_id, list(DISTINCT item_id ORDER BY item_id) FROM ("
        " SELECT user_id, item_id FROM core.tags UNION ALL"
        " SELECT user_id, item_id FROM core.interactions WHERE event = 'tag')"
        " WHERE list_contains(?, user_id) GROUP BY user_id",
        [users],
    ).fetchall()
    return dict(rows)


def items_frame(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """core.items (item_id, title, release_year, genres, description)."""
    return query_frame(con, ITEMS_SQL)


def users_frame(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """core.users (user_id, age, gender, occupation, zip_code)."""
    return query_frame(con, "SELECT user_id, age, gender, occupation, zip_code FROM core.users ORDER BY user_id")
