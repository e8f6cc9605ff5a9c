"""Prefect tasks for ingest: thin wrappers that open the warehouse, call the library, close it."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from chatrec.data.descriptions import ingest_descriptions
from chatrec.data.ingest import ingest_movielens, ingest_movielens_latest, ingest_table
from chatrec.settings import Settings
from tasks.warehouse import warehouse, writer_task


@writer_task("ingest-source")
def ingest_source(source: str, path: str | None = None, mapping: str | None = None) -> dict[str, Any]:
    """Load one source; returns the load summary (small: counts, not data)."""
    settings = Settings()
    with warehouse(settings) as con:
        if source == "movielens":
            summary = ingest_movielens(con, Path(path) if path else None)
        elif source == "movielens-latest":
            if not path:
                raise ValueError("source 'movielens-latest' needs a path")
            summary = ingest_movielens_latest(con, Path(path))
        elif source == "csv":
            if not path or not mapping:
                raise ValueError("source 'csv' needs a path and a column mapping")
            summary = ingest_table(con, Path(path), mapping)
        else:
            raise ValueError(f"unknown source {source!r}: use movielens, movielens-latest or csv")
    return asdict(summary)


@writer_task("ingest-descriptions")
def ingest_item_descriptions(path: str) -> dict[str, Any]:
    settings = Settings()
    with warehouse(settings) as con:
        return asdict(ingest_descriptions(con, Path(path)))
