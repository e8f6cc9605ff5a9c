"""Generic CSV or Parquet files with a column mapping (`--map user=uid,item=mid,rating=stars,...`).

Interactions need user, item, timestamp and either a rating or an implicit event column (or a
constant event name via `event_name=`). Item and user attributes are optional and are read from
the same file (one row per interaction, de-duplicated by the loader) or from a separate file.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import polars as pl

from chatrec.data.sources.base import (
    INTERACTION_COLUMNS,
    ITEM_COLUMNS,
    USER_COLUMNS,
    SourceBatch,
    SourceError,
    TableScan,
)
from chatrec.data.sources.tables import file_kind, parquet_text, read_columns, sql_quoted


@dataclass(frozen=True)
class ColumnMapping:
    """Which source column feeds each warehouse field; None = not in the file."""

    user: str
    item: str
    timestamp: str
    rating: str | None = None
    event: str | None = None
    event_name: str | None = None  # constant event for files of implicit feedback
    title: str | None = None
    text: str | None = None
    categories: str | None = None  # '|'-separated
    year: str | None = None
    age: str | None = None
    gender: str | None = None
    occupation: str | None = None
    zip_code: str | None = None
    rating_min: float | None = None
    rating_max: float | None = None

    @classmethod
    def parse(cls, spec: str) -> ColumnMapping:
        """'user=uid,item=mid,rating=stars,timestamp=ts' -> ColumnMapping; unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        values: dict[str, str | float] = {}
        for part in filter(None, (p.strip() for p in spec.split(","))):
            key, sep, value = part.partition("=")
            key, value = key.strip(), value.strip()
            if not sep or not value:
                raise SourceError(f"mapping entry {part!r} must look like field=column")
            if key not in known:
                raise SourceError(f"unknown mapping field {key!r}; known: {', '.join(sorted(known))}")
            values[key] = float(value) if key in ("rating_min", "rating_max") else value
        missing = [k for k in ("user", "item", "timestamp") if k not in values]
        if missing:
            raise SourceError(f"mapping lacks required field(s) {', '.join(missing)}")
        mapping = cls(**values)  # type: ignore[arg-type]
        if not (mapping.rating or mapping.event or mapping.event_name):
            raise SourceError("mapping needs rating=COLUMN, event=COLUMN or event_name=NAME")
        return mapping

    def source_columns(self) -> list[str]:
        skip = {"event_name", "rating_min", "rating_max"}
        return [v for f in fields(self) if f.name not in skip and isinstance(v := getattr(self, f.name), str)]


def _sql_literal(value: str) -> str:
    return "'" + sql_quoted(value) + "'"


def _rating_range(mapping: ColumnMapping) -> tuple[float, float] | None:
    if mapping.rating_min is None and mapping.rating_max is None:
        return None
    return (
        mapping.rating_min if mapping.rating_min is not None else float("-inf"),
        mapping.rating_max if mapping.rating_max is not None else float("inf"),
    )


def read_parquet_table(path: Path, mapping: ColumnMapping) -> SourceBatch:
    """A Parquet file as SQL the warehouse runs (`TableScan`): the same rows and text as the frame
    path, but streamed by DuckDB inside the load's transaction instead of held in Python."""
    parquet = parquet_text(path, mapping.source_columns(), what="interactions")

    def text(column: str | None) -> str:
        return parquet.text[column] if column else "NULL::VARCHAR"

    default_event = _sql_literal(mapping.event_name or "rating")
    event = text(mapping.event)
    fields = {
        "user_id": text(mapping.user),
        "item_id": text(mapping.item),
        "rating": text(mapping.rating),
        "event": f"CASE WHEN {event} IS NULL OR {event} = '' THEN {default_event} ELSE {event} END",
        "ts": text(mapping.timestamp),
        "title": text(mapping.title),
        "release_year": text(mapping.year),
        "genres": text(mapping.categories),
        "description": text(mapping.text),
        "age": text(mapping.age),
        "gender": text(mapping.gender),
        "occupation": text(mapping.occupation),
        "zip_code": text(mapping.zip_code),
    }

    def scan(columns: tuple[str, ...], first_per: str | None = None, rows: int | None = None) -> TableScan:
        select = ", ".join(f"{fields[c]} AS {c}" for c in columns)
        sql = f"SELECT {parquet.origin}, {select} FROM {parquet.source}"
        if first_per:  # attributes repeat on every line: the first line per id (as the frame path keeps)
            sql = f"SELECT * FROM ({sql}) QUALIFY row_number() OVER (PARTITION BY {first_per} ORDER BY source_line) = 1"
        return TableScan(sql, columns, rows)

    has_users = any((mapping.age, mapping.gender, mapping.occupation, mapping.zip_code))
    return SourceBatch(
        source="csv",
        path=str(path),
        files=[path],
        interactions=scan(tuple(c for c in INTERACTION_COLUMNS if c in fields), rows=parquet.rows),
        items=scan(ITEM_COLUMNS, first_per="item_id") if mapping.title else None,
        users=scan(USER_COLUMNS, first_per="user_id") if has_users else None,
        rating_range=_rating_range(mapping),
        derived=frozenset({"item", "user"}),
    )


def read_table(path: Path, mapping: ColumnMapping) -> SourceBatch:
    """A CSV or Parquet file through a column mapping; Parquet is streamed by DuckDB (see above)."""
    path = Path(path)
    if file_kind(path, "interactions").format == "parquet":
        return read_parquet_table(path, mapping)
    frame, rejected = read_columns(path, mapping.source_columns(), entity="interaction", what="interactions")
    rejected = list(rejected)

    # column expressions, not per-row dicts: a 25M-row Parquet file stays a columnar frame
    def text(column: str | None) -> pl.Expr:
        return pl.col(column).cast(pl.Utf8) if column else pl.lit(None, dtype=pl.Utf8)

    origin = [pl.lit(path.name).alias("source_file"), pl.col("source_line").cast(pl.Int64)]
    default_event = mapping.event_name or "rating"
    event = pl.when(text(mapping.event).is_null() | (text(mapping.event) == "")).then(pl.lit(default_event))
    interactions = frame.select(
        *origin,
        text(mapping.user).alias("user_id"),
        text(mapping.item).alias("item_id"),
        text(mapping.rating).alias("rating"),
        event.otherwise(text(mapping.event)).alias("event"),
        text(mapping.timestamp).alias("ts"),
    )
    items = None
    if mapping.title:
        items = frame.select(
            *origin,
            text(mapping.item).alias("item_id"),
            text(mapping.title).alias("title"),
            text(mapping.year).alias("release_year"),
            text(mapping.categories).alias("genres"),
            text(mapping.text).alias("description"),
        )
    users = None
    if any((mapping.age, mapping.gender, mapping.occupation, mapping.zip_code)):
        users = frame.select(
            *origin,
            text(mapping.user).alias("user_id"),
            text(mapping.age).alias("age"),
            text(mapping.gender).alias("gender"),
            text(mapping.occupation).alias("occupation"),
            text(mapping.zip_code).alias("zip_code"),
        )
    rating_range = _rating_range(mapping)
    return SourceBatch(
        source="csv",
        path=str(path),
        files=[path],
        interactions=interactions,
        items=items.unique(subset="item_id", keep="first", maintain_order=True) if items is not None else None,
        users=users.unique(subset="user_id", keep="first", maintain_order=True) if users is not None else None,
        rejected=rejected,
        rating_range=rating_range,
        # item/user columns repeat on every interaction line: keep the first line per id
        derived=frozenset({"item", "user"}),
    )
