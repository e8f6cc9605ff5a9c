"""The reader contract and the line-level parsing every text format shares."""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

# Canonical raw columns (all text) a reader produces, besides source_file and source_line.
INTERACTION_COLUMNS = ("user_id", "item_id", "rating", "event", "ts", "tag")  # tag: text of a `tag` event
ITEM_COLUMNS = ("item_id", "title", "release_year", "genres", "description")
USER_COLUMNS = ("user_id", "age", "gender", "occupation", "zip_code")


class SourceError(ValueError):
    """A source cannot be read at all (missing file or column, unknown format); nothing is written."""


@dataclass(frozen=True)
class RejectedLine:
    """A source line that could not even be split into fields."""

    entity: str  # interaction | item | user
    source_file: str
    source_line: int
    record: str
    reason: str


@dataclass(frozen=True)
class TableScan:
    """Rows the warehouse connection reads itself, as SQL over a file (a Parquet file, say): the
    loader runs `INSERT ... SELECT` from it inside the load's transaction, so no row passes through
    Python and a 25M-row file streams through DuckDB in bounded memory."""

    sql: str  # a SELECT yielding source_file, source_line and text columns named as the entity's
    columns: tuple[str, ...]  # the entity's columns it yields (the others are NULL)
    rows: int | None = None  # known row count (None: not counted, e.g. de-duplicated attributes)

    @property
    def height(self) -> int:
        if self.rows is None:
            raise ValueError("this scan's rows were not counted")
        return self.rows


Rows = pl.DataFrame | TableScan


@dataclass
class SourceBatch:
    """Everything one ingest read, before validation. Frames hold text columns only."""

    source: str
    path: str
    files: list[Path]
    interactions: Rows | None = None
    items: Rows | None = None
    users: Rows | None = None
    rejected: list[RejectedLine] = field(default_factory=list)
    rating_range: tuple[float, float] | None = None  # valid ratings, inclusive
    # Entities whose rows were derived from interaction rows (item/user attributes repeated on every
    # line of a flat CSV): upserted as attributes, not counted as input rows.
    derived: frozenset[str] = frozenset()

    @property
    def rows_in(self) -> int:
        counted = [
            frame
            for entity, frame in (("interaction", self.interactions), ("item", self.items), ("user", self.users))
            if frame is not None and entity not in self.derived
        ]
        return sum(frame.height for frame in counted) + len(self.rejected)


def text_frame(rows: list[dict[str, str | int | None]], columns: Sequence[str]) -> pl.DataFrame:
    """A frame of text columns (plus source_file/source_line) from row dicts."""
    schema = {"source_file": pl.Utf8, "source_line": pl.Int64, **{c: pl.Utf8 for c in columns}}
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)


def require_file(path: Path, what: str) -> Path:
    if not path.is_file():
        raise SourceError(f"{what}: file {path} does not exist")
    return path


def read_lines(
    path: Path, *, encoding: str, entity: str, rejected: list[RejectedLine], skip_header: bool = False
) -> Iterator[tuple[int, str]]:
    """Decode a file line by line (1-based numbers); undecodable lines are rejected, not fatal."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc}") from exc
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for number, raw in enumerate(lines, start=1):
        if skip_header and number == 1:
            continue
        raw = raw.rstrip(b"\r")
        if not raw.strip():
            continue  # blank lines carry no row
        try:
            yield number, raw.decode(encoding)
        except UnicodeDecodeError as exc:
            rejected.append(
                RejectedLine(
                    entity,
                    path.name,
                    number,
                    raw.decode(encoding, errors="replace"),
                    f"bad encoding: not valid {encoding} ({exc.reason} at byte {exc.start})",
                )
            )


def split_fields(
    lines: Iterator[tuple[int, str]],
    *,
    delimiter: str,
    expected: int,
    entity: str,
    file_name: str,
    rejected: list[RejectedLine],
    quoted: bool,
) -> Iterator[tuple[int, list[str]]]:
    """Split decoded lines into exactly `expected` fields; other lines are rejected with the count."""
    for number, text in lines:
        fields = next(csv.reader([text], delimiter=delimiter)) if quoted else text.split(delimiter)
        if len(fields) != expected:
            rejected.append(
                RejectedLine(
                    entity, file_name, number, text, f"wrong field count: expected {expected}, got {len(fields)}"
                )
            )
            continue
        yield number, fields


def delimited_rows(
    path: Path,
    *,
    entity: str,
    rejected: list[RejectedLine],
    encoding: str,
    delimiter: str,
    expected: int,
    skip_header: bool = False,
    quoted: bool = False,
) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) for each readable line of a delimited file; the others are rejected."""
    lines = read_lines(path, encoding=encoding, entity=entity, rejected=rejected, skip_header=skip_header)
    return split_fields(
        lines,
        delimiter=delimiter,
        expected=expected,
        entity=entity,
        file_name=path.name,
        rejected=rejected,
        quoted=quoted,
    )
