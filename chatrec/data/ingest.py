"""The ingest entry points the CLI, the flows and the chat call."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from chatrec.data.loader import LoadSummary, Progress, load_batch
from chatrec.data.sources.base import INTERACTION_COLUMNS, SourceBatch, SourceError, text_frame
from chatrec.data.sources.movielens import read_ml100k
from chatrec.data.sources.movielens_latest import read_movielens_latest
from chatrec.data.sources.tabular import ColumnMapping, read_table

__all__ = [
    "ColumnMapping",
    "LoadSummary",
    "SourceError",
    "ingest_feedback",
    "ingest_movielens",
    "ingest_movielens_latest",
    "ingest_table",
]

FEEDBACK_EVENTS = ("like", "dislike", "rating", "view")


def ingest_movielens(
    con: duckdb.DuckDBPyConnection,
    path: Path | None = None,
    *,
    progress: Progress | None = None,
    append: bool = False,
) -> LoadSummary:
    """MovieLens 100K: the copy packaged in the recbole wheel (only into an empty warehouse or one
    that holds it already), or a folder of the original files."""
    return load_batch(con, read_ml100k(path), progress=progress, append=append)


def ingest_movielens_latest(
    con: duckdb.DuckDBPyConnection, path: Path, *, progress: Progress | None = None, append: bool = False
) -> LoadSummary:
    """A MovieLens "latest"-format folder (ratings.csv, movies.csv, optional tags.csv/links.csv)."""
    return load_batch(con, read_movielens_latest(path), progress=progress, append=append)


def ingest_table(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    mapping: ColumnMapping | str,
    *,
    progress: Progress | None = None,
    append: bool = False,
) -> LoadSummary:
    """A generic CSV or Parquet file read through a column mapping."""
    parsed = ColumnMapping.parse(mapping) if isinstance(mapping, str) else mapping
    return load_batch(
        con,
        read_table(path, parsed),
        hash_extra=repr(parsed),
        progress=progress,
        append=append,
        options=mapping if isinstance(mapping, str) else None,
    )


def ingest_feedback(con: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]]) -> LoadSummary:
    """Interactions created in a chat session (like/dislike/rating), validated like any other load.

    Each row: user_id, item_id, event (like | dislike | rating | view), optional rating, optional ts
    (defaults to now). Stored as source 'feedback' for the next nightly retrain.
    """
    if not rows:
        raise ValueError("ingest_feedback needs at least one row")
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
    records = []
    for number, row in enumerate(rows, start=1):
        event = str(row.get("event", ""))
        if event not in FEEDBACK_EVENTS:
            raise ValueError(f"feedback row {number}: event {event!r} is not one of {', '.join(FEEDBACK_EVENTS)}")
        records.append(
            {
                "source_file": "chat",
                "source_line": number,
                "user_id": str(row["user_id"]),
                "item_id": str(row["item_id"]),
                "rating": None if row.get("rating") is None else str(row["rating"]),
                "event": event,
                "ts": str(row.get("ts") or now),
            }
        )
    frame: pl.DataFrame = text_frame(records, INTERACTION_COLUMNS)
    batch = SourceBatch(
        source="feedback",
        path="chat",
        files=[],
        interactions=frame,
        rating_range=(1.0, 5.0),
    )
    # feedback has no file: hash its rows so an identical retry is not stored twice
    return load_batch(con, batch, hash_extra=frame.write_csv())
