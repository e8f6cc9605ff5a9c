"""`chatrec sql "SELECT ..."`: read-only queries against the warehouse, as a table, CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from chatrec.cli.safe_text import safe_cell, safe_markup
from chatrec.settings import Settings


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def render(columns: list[str], rows: list[tuple[Any, ...]], output_format: OutputFormat) -> str:
    """The rows as CSV (header first) or JSON (a list of objects; dates and decimals as strings)."""
    if output_format is OutputFormat.csv:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
        return buffer.getvalue()
    return json.dumps([dict(zip(columns, row, strict=True)) for row in rows], default=str, indent=1) + "\n"


REFUSED = (
    "chatrec sql only reads the warehouse; it cannot attach other databases, COPY/EXPORT to files, "
    "read other files or load extensions (save a result with --output FILE)"
)


def sql(
    query: str = typer.Argument(..., help="SQL to run; the connection is read-only, so writes fail"),
    limit: int | None = typer.Option(
        None, help="rows at most (default: 50 for --format table, all rows for csv/json)", min=1
    ),
    output_format: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table | csv | json"),
    output: Path | None = typer.Option(None, "--output", "-o", help="write the result to this file instead of stdout"),
) -> None:
    """Run a read-only SQL query against the warehouse and print (or save) the result."""
    import duckdb

    from chatrec.warehouse import read_only_connection

    console = Console()
    notes = Console(stderr=True)  # not stdout: CSV/JSON there must stay parseable
    try:
        con = read_only_connection(Settings(), sandboxed=True)
    except FileNotFoundError as exc:
        console.print(f"[red]error:[/red] {safe_markup(exc)}")
        raise typer.Exit(2) from exc
    try:
        try:
            cursor = con.execute(query)
        except duckdb.PermissionException as exc:
            console.print(f"[red]refused:[/red] {REFUSED} ({safe_markup(exc)})")
            raise typer.Exit(1) from exc
        except duckdb.Error as exc:
            console.print(f"[red]query failed:[/red] {safe_markup(exc, limit=None)}")
            raise typer.Exit(1) from exc
        if cursor.description is None:  # a statement without a result set
            return
        columns = [column[0] for column in cursor.description]
        if limit is None and output_format is OutputFormat.table:
            limit = 50
        rows = cursor.fetchall() if limit is None else cursor.fetchmany(limit + 1)
    finally:
        con.close()
    truncated = limit is not None and len(rows) > limit
    rows = rows[:limit] if limit is not None else rows
    if output_format is OutputFormat.table:
        table = Table()
        for column in columns:
            table.add_column(safe_cell(column))
        for row in rows:
            table.add_row(*(safe_cell(v) for v in row))
        if output is None:
            Console().print(table)
        else:
            with output.open("w", encoding="utf-8") as handle:
                Console(file=handle, width=200).print(table)
    else:
        text = render(columns, rows, output_format)
        if output is None:
            sys.stdout.write(text)
        else:
            output.write_text(text, encoding="utf-8")
    if output is not None:
        notes.print(f"{len(rows)} rows written to {output}")
    if truncated:
        notes.print(f"[dim]… more rows not shown (--limit {limit})[/dim]")
