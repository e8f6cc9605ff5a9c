"""`chatrec sql "SELECT ..."`: read-only queries against the warehouse, printed as a table."""

from __future__ import annotations

import duckdb
import typer
from rich.console import Console
from rich.table import Table

from chatrec.cli.safe_text import safe_cell, safe_markup
from chatrec.settings import Settings
from chatrec.warehouse import read_only_connection


def sql(
    query: str = typer.Argument(..., help="SQL to run; the connection is read-only, so writes fail"),
    limit: int = typer.Option(50, help="rows to print at most"),
) -> None:
    """Run a read-only SQL query against the warehouse and print the result."""
    console = Console()
    try:
        con = read_only_connection(Settings())
    except FileNotFoundError as exc:
        console.print(f"[red]error:[/red] {safe_markup(exc)}")
        raise typer.Exit(2) from exc
    try:
        cursor = con.execute(query)
    except duckdb.Error as exc:
        console.print(f"[red]query failed:[/red] {safe_markup(exc, limit=None)}")
        raise typer.Exit(1) from exc
    if cursor.description is None:  # a statement without a result set
        return
    rows = cursor.fetchmany(limit + 1)
    table = Table()
    for column in cursor.description:
        table.add_column(safe_cell(column[0]))
    for row in rows[:limit]:
        table.add_row(*(safe_cell(v) for v in row))
    console.print(table)
    if len(rows) > limit:
        console.print(f"[dim]… more rows not shown (--limit {limit})[/dim]")
    con.close()
