"""Generic CSV or Parquet files with a column mapping (`--map user=uid,item=mid,rating=stars,...`).

Interactions need user, item, timestamp and either a rating or an implicit event column (or a
constant event name via `event_name=`). Item and user attributes are optional and are read from
the same file (one row per interaction, de-duplicated by the loader) or from a separate file.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

from chatrec.data.sources.base import (
    INTERACTION_COLUMNS,
    ITEM_COLUMNS,
    USER_COLUMNS,
    RejectedLine,
    SourceBatch,
    SourceError,
    text_frame,
)
from chatrec.data.sources.tables import read_columns


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


def _read_rows(path: Path, columns: list[str], rejected: list[RejectedLine]) -> list[tuple[int, dict[str, str]]]:
    """(record number, {column: text}) for each row of a CSV or Parquet file."""
    frame, bad = read_columns(path, columns, entity="interaction", what="interactions")
    rejected.extend(bad)
    return [(row["source_line"], row) for row in frame.iter_rows(named=True)]


def read_table(path: Path, mapping: ColumnMapping) -> SourceBatch:
    path = Path(path)
    rejected: list[RejectedLine] = []
    rows = _read_rows(path, mapping.source_columns(), rejected)

    def get(row: dict[str, str], column: str | None) -> str | None:
        return row.get(column) if column else None

    interactions = [
        {
            "source_file": path.name,
            "source_line": n,
            "user_id": row[mapping.user],
            "item_id": row[mapping.item],
            "rating": get(row, mapping.rating),
            "event": get(row, mapping.event) or mapping.event_name or "rating",
            "ts": row[mapping.timestamp],
        }
        for n, row in rows
    ]
    items = None
    if mapping.title:
        items = text_frame(
            [
                {"source_file": path.name, "source_line": n, "item_id": row[mapping.item], "title": row[mapping.title],
                 "release_year": get(row, mapping.year), "genres": get(row, mapping.categories),
                 "description": get(row, mapping.text)}
                for n, row in rows
            ],
            ITEM_COLUMNS,
        )  # fmt: skip
    users = None
    if any((mapping.age, mapping.gender, mapping.occupation, mapping.zip_code)):
        users = text_frame(
            [
                {"source_file": path.name, "source_line": n, "user_id": row[mapping.user],
                 "age": get(row, mapping.age), "gender": get(row, mapping.gender),
                 "occupation": get(row, mapping.occupation), "zip_code": get(row, mapping.zip_code)}
                for n, row in rows
            ],
            USER_COLUMNS,
        )  # fmt: skip
    rating_range = None
    if mapping.rating_min is not None or mapping.rating_max is not None:
        rating_range = (
            mapping.rating_min if mapping.rating_min is not None else float("-inf"),
            mapping.rating_max if mapping.rating_max is not None else float("inf"),
        )
    return SourceBatch(
        source="csv",
        path=str(path),
        files=[path],
        interactions=text_frame(interactions, INTERACTION_COLUMNS),
        items=items.unique(subset="item_id", keep="first", maintain_order=True) if items is not None else None,
        users=users.unique(subset="user_id", keep="first", maintain_order=True) if users is not None else None,
        rejected=rejected,
        rating_range=rating_range,
        # item/user columns repeat on every interaction line: keep the first line per id
        derived=frozenset({"item", "user"}),
    )
