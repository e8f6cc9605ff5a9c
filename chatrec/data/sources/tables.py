"""Reading CSV and Parquet files with DuckDB's readers: every value as text, every record numbered.

CSV goes through DuckDB's `read_csv` end to end (quoting, fields spanning lines, a UTF-8 BOM,
fields far longer than Python's csv limit of 131,072 characters, gzip and zstd). A record DuckDB
cannot read (wrong field count, bytes that are not UTF-8) is kept as a `RejectedLine` with the
reason, never dropped. What a file is comes from its first bytes, not its name, so a refused file
(a directory, bzip2, zip, UTF-16 ...) is named for what it is.

`source_line` of a CSV record is its record number counting the header as 1: the file's line
number unless a quoted field spans lines. Parquet rows are numbered from 1.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa

from chatrec.data.sources.base import RejectedLine, SourceError

# The longest CSV record DuckDB accepts; longer ones are quarantined with the reason.
MAX_RECORD_BYTES = 64 << 20
ACCEPTED_COMPRESSION = {b"\x1f\x8b": "gzip", b"\x28\xb5\x2f\xfd": "zstd"}
REFUSED_KINDS = (
    (b"BZh", "a bzip2-compressed file"),
    (b"PK\x03\x04", "a zip archive"),
    (b"\xfd7zXZ\x00", "an xz-compressed file"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"\x04\x22\x4d\x18", "an lz4-compressed file"),
    (b"\xff\xfe", "UTF-16 text (little-endian)"),
    (b"\xfe\xff", "UTF-16 text (big-endian)"),
)
READABLE = "a plain, gzip- or zstd-compressed UTF-8 CSV, or a Parquet file"
_QUOTE_OR_NEWLINE = re.compile(b'["\n]')
NESTED_TYPES = ("[]", "STRUCT(", "MAP(", "UNION(")
# DuckDB's reject error types -> the reason kind the quarantine shows
REJECT_REASONS = {
    "INVALID ENCODING": "bad encoding: not valid utf-8",
    "MISSING COLUMNS": "wrong field count",
    "TOO MANY COLUMNS": "wrong field count",
    "LINE SIZE OVER MAXIMUM": "record too long",
    "UNQUOTED VALUE": "malformed CSV",
    "CAST ERROR": "malformed CSV",
}


@dataclass(frozen=True)
class FileKind:
    format: str  # csv | parquet
    compression: str  # none | gzip | zstd


def file_kind(path: Path, what: str) -> FileKind:
    """What a file is, from its first bytes; a SourceError names anything chatrec cannot read."""
    if path.is_dir():
        raise SourceError(f"{what}: {path} is a directory, not a file; give {READABLE}")
    if not path.is_file():
        raise SourceError(f"{what}: file {path} does not exist")
    with path.open("rb") as handle:
        head = handle.read(8)
    if not head:
        raise SourceError(f"{what}: {path} is empty")
    if head.startswith(b"PAR1"):
        return FileKind("parquet", "none")
    for magic, compression in ACCEPTED_COMPRESSION.items():
        if head.startswith(magic):
            return FileKind("csv", compression)
    for magic, kind in REFUSED_KINDS:
        if head.startswith(magic):
            raise SourceError(f"{what}: {path} is {kind}; chatrec reads {READABLE}")
    return FileKind("csv", "none")


def _private_connection() -> duckdb.DuckDBPyConnection:
    # a throw-away in-memory database: reject tables and settings never touch the warehouse
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")  # Parquet TIMESTAMPTZ values print as UTC text
    return con


def _csv_scan(path: Path, kind: FileKind) -> str:
    return (
        f"read_csv('{sql_quoted_path(path)}', all_varchar = true, header = true, delim = ',', quote = '\"',"
        f" escape = '\"', strict_mode = true, compression = '{kind.compression}',"
        f" max_line_size = {MAX_RECORD_BYTES}, store_rejects = true, rejects_table = '_rejects',"
        " rejects_scan = '_reject_scans')"
    )


def sql_quoted(text: str) -> str:
    """`text` for inside a single-quoted SQL string (quotes doubled)."""
    return text.replace("'", "''")


def sql_quoted_path(path: Path) -> str:
    """`path` for inside a single-quoted SQL string."""
    return sql_quoted(str(path))


def column_names(path: Path, *, what: str) -> list[str]:
    """The header of a CSV file, or the column names of a Parquet file."""
    path = Path(path)
    kind = file_kind(path, what)
    con = _private_connection()
    try:
        return [row[0] for row in _describe(con, path, kind, what)]
    finally:
        con.close()


def _scan(path: Path, kind: FileKind) -> str:
    return f"read_parquet('{sql_quoted_path(path)}')" if kind.format == "parquet" else _csv_scan(path, kind)


def _describe(con: duckdb.DuckDBPyConnection, path: Path, kind: FileKind, what: str) -> list[tuple]:
    try:
        return con.execute(f"DESCRIBE SELECT * FROM {_scan(path, kind)}").fetchall()
    except duckdb.Error as exc:
        raise SourceError(f"{what}: cannot read {path} as {kind.format}: {_first_line(exc)}") from exc


def _checked_types(
    con: duckdb.DuckDBPyConnection, path: Path, kind: FileKind, columns: list[str], what: str
) -> dict[str, str]:
    """The file's column types; a SourceError names missing columns and nested ones among `columns`."""
    types = {row[0]: str(row[1]) for row in _describe(con, path, kind, what)}
    missing = [c for c in columns if c not in types]
    if missing:
        raise SourceError(f"{path}: missing column(s) {', '.join(missing)} (found: {', '.join(types)})")
    nested = [f"{c} ({types[c]})" for c in dict.fromkeys(columns) if any(t in types[c] for t in NESTED_TYPES)]
    if nested:
        raise SourceError(
            f"{path}: column(s) {', '.join(nested)} hold nested values (lists, structs or maps); "
            "chatrec reads flat columns: flatten them (e.g. join a list with '|') or map another column"
        )
    return types


def _identifier(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def read_columns(path: Path, columns: list[str], *, entity: str, what: str) -> tuple[pl.DataFrame, list[RejectedLine]]:
    """The named columns of a CSV or Parquet file as text, with `source_file` and `source_line`.

    A missing column, a nested Parquet column or an unreadable file is a SourceError; a record that
    cannot be split into the header's fields becomes a RejectedLine.
    """
    path = Path(path)
    kind = file_kind(path, what)
    con = _private_connection()
    try:
        scan = _scan(path, kind)
        _checked_types(con, path, kind, columns, what)
        select = ", ".join(f"CAST({_identifier(c)} AS VARCHAR)" for c in dict.fromkeys(columns))
        try:
            frame = con.sql(f"SELECT {select} FROM {scan}").pl()
        except duckdb.Error as exc:
            raise SourceError(f"{what}: cannot read {path}: {_first_line(exc)}") from exc
        frame.columns = list(dict.fromkeys(columns))
        rejected = _rejected(con, path, entity) if kind.format == "csv" else []
    finally:
        con.close()
    skipped = {r.source_line for r in rejected} | (blank_records(path, kind) if kind.format == "csv" else set())
    return _numbered(frame, path, skipped, first=2 if kind.format == "csv" else 1), rejected


@dataclass(frozen=True)
class ParquetText:
    """SQL over a Parquet file that yields its columns as text, for the warehouse connection to run
    (`TableScan`): `source` is the FROM clause, `text[c]` the expression of column c as VARCHAR
    (the same text `read_columns` gives), `origin` the source_file and source_line columns."""

    source: str
    text: dict[str, str]
    origin: str
    rows: int


def parquet_text(path: Path, columns: list[str], *, what: str) -> ParquetText:
    """Checks a Parquet file's columns (as `read_columns` does) and counts its rows from the metadata,
    reading no data."""
    path = Path(path)
    kind = file_kind(path, what)
    if kind.format != "parquet":
        raise SourceError(f"{what}: {path} is not a Parquet file")
    con = _private_connection()
    try:
        types = _checked_types(con, path, kind, columns, what)
        rows = int(con.execute(f"SELECT count(*) FROM {_scan(path, kind)}").fetchall()[0][0])
    finally:
        con.close()
    text = {}
    for column in dict.fromkeys(columns):
        name = _identifier(column)
        # an instant prints in the session's time zone: print it in UTC whatever the warehouse's is
        text[column] = (
            f"(CAST(timezone('UTC', {name}) AS VARCHAR) || '+00')"
            if types[column] == "TIMESTAMP WITH TIME ZONE"
            else f"CAST({name} AS VARCHAR)"
        )
    origin = f"'{sql_quoted(path.name)}' AS source_file, file_row_number + 1 AS source_line"
    return ParquetText(f"read_parquet('{sql_quoted_path(path)}', file_row_number = true)", text, origin, rows)


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0]


def _rejected(con: duckdb.DuckDBPyConnection, path: Path, entity: str) -> list[RejectedLine]:
    rows = con.execute(
        "SELECT line, first(error_type ORDER BY column_idx), first(error_message ORDER BY column_idx),"
        " first(csv_line) FROM _rejects GROUP BY line ORDER BY line"
    ).fetchall()
    rejected = []
    for line, error_type, message, record in rows:
        kind = REJECT_REASONS.get(str(error_type), "malformed CSV")
        detail = str(message).strip().splitlines()[0] if message else str(error_type)
        rejected.append(RejectedLine(entity, path.name, int(line), record or "", f"{kind}: {detail}"))
    return rejected


def blank_records(path: Path, kind: FileKind) -> set[int]:
    """Record numbers (header = 1) of the blank lines DuckDB skips without a trace, so the records
    after one keep their own numbers. Only files holding an empty line at all are scanned; a blank
    line inside a quoted field (an odd number of quotes before it) is part of that field."""
    compression = None if kind.compression == "none" else kind.compression
    with pa.input_stream(str(path), compression=compression) as stream:
        tail, has_empty_line = b"", False
        while not has_empty_line and (block := stream.read(1 << 24)):
            window, tail = tail + block, block[-2:]
            has_empty_line = b"\n\n" in window or b"\n\r\n" in window
    if not has_empty_line:
        return set()
    with pa.input_stream(str(path), compression=compression) as stream:
        data = stream.read()
    blanks, record, in_quotes, line_start = set(), 1, False, 0
    for match in _QUOTE_OR_NEWLINE.finditer(data):
        if match.group() == b'"':
            in_quotes = not in_quotes
        elif not in_quotes:
            if not data[line_start : match.start()].strip(b"\r"):
                blanks.add(record)
            record += 1
            line_start = match.end()
    return blanks


def _numbered(frame: pl.DataFrame, path: Path, skipped: set[int], *, first: int) -> pl.DataFrame:
    """Give each record read its number, skipping those of rejected records and blank lines."""
    if not skipped:
        return frame.select(
            pl.lit(path.name).alias("source_file"),
            pl.int_range(first, first + frame.height, dtype=pl.Int64).alias("source_line"),
            *frame.columns,
        )
    numbers: list[int] = []
    candidate = first
    while len(numbers) < frame.height:
        if candidate not in skipped:
            numbers.append(candidate)
        candidate += 1
    return frame.select(
        pl.lit(path.name).alias("source_file"),
        pl.Series("source_line", numbers, dtype=pl.Int64),
        *frame.columns,
    )
