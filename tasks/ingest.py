"""Prefect tasks for ingest: thin wrappers that open the warehouse, call the library, close it."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from chatrec.chat.feedback import apply_pending
from chatrec.data.descriptions import ingest_descriptions
from chatrec.data.ingest import ingest_movielens, ingest_movielens_latest, ingest_table
from chatrec.data.source_registry import nightly_source
from chatrec.settings import Settings
from tasks.warehouse import warehouse, writer_task


@writer_task("ingest-source")
def ingest_source(source: str | None = None, path: str | None = None, mapping: str | None = None) -> dict[str, Any]:
    """Load one source (default: `nightly_source`: the configured one, else the warehouse's own);
    returns the load summary (small: counts, not data) and why that source was chosen."""
    settings = Settings()
    with warehouse(settings) as con:
        chosen = nightly_source(
            con,
            source or settings.data_source,
            Path(path) if path else settings.data_path,
            mapping or settings.data_mapping,
        )
        source, path, mapping = chosen.source, chosen.path, chosen.options
        if source == "movielens":
            summary = ingest_movielens(con, Path(path) if path else None)
        elif source == "movielens-latest":
            if not path:
                raise ValueError("source 'movielens-latest' needs a path: set CHATREC_DATA_PATH")
            summary = ingest_movielens_latest(con, Path(path))
        elif source == "csv":
            if not path or not mapping:
                raise ValueError(
                    "source 'csv' needs a path and a column mapping: set CHATREC_DATA_PATH and CHATREC_DATA_MAPPING"
                )
            summary = ingest_table(con, Path(path), mapping)
        else:
            raise ValueError(f"unknown source {source!r}: use movielens, movielens-latest or csv")
        apply_pending(con, settings)  # chat feedback given while the pipeline held the warehouse
    return {**asdict(summary), "chosen_because": chosen.why}


@writer_task("ingest-descriptions")
def ingest_item_descriptions(path: str) -> dict[str, Any]:
    settings = Settings()
    with warehouse(settings) as con:
        return asdict(ingest_descriptions(con, Path(path)))
