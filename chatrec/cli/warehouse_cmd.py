"""`chatrec warehouse migrate|test`: apply the SQL in warehouse/ and run its data tests."""

from __future__ import annotations

import typer
from rich.console import Console

from chatrec.cli.safe_text import safe_markup
from chatrec.settings import Settings

app = typer.Typer(help="Manage the DuckDB warehouse.", no_args_is_help=True)


@app.command("migrate")
def migrate() -> None:
    """Create or upgrade the warehouse file (idempotent)."""
    from chatrec.warehouse import connect

    settings = Settings()
    con = connect(settings)
    applied = con.execute("SELECT name FROM schema_migrations ORDER BY version").fetchall()
    con.close()
    Console().print(f"warehouse {settings.warehouse_path}: {len(applied)} migrations applied")


@app.command("test")
def test() -> None:
    """Run the data tests beside each SQL model (*.test.sql); exit 1 if any returns rows."""
    from chatrec.warehouse import connect
    from chatrec.warehouse.migrations import run_data_tests

    console = Console()
    con = connect(Settings())
    results = run_data_tests(con)
    con.close()
    for name, failures in results.items():
        console.print(f"{'[green]PASS' if failures == 0 else '[red]FAIL'}[/] {name} ({failures} failing rows)")
    if any(results.values()):
        raise typer.Exit(1)


@app.command("undo-load")
def undo_load_cmd(load_id: str = typer.Argument(..., help="a load id from marts.load_history")) -> None:
    """Put back the item attributes a load changed (from core.item_history); newer changes are kept."""
    from chatrec.data.history import undo_load
    from chatrec.warehouse import connect

    console = Console()
    con = connect(Settings())
    try:
        summary = undo_load(con, load_id)
    except LookupError as exc:
        console.print(f"[red]error:[/red] {safe_markup(exc)}")
        raise typer.Exit(2) from exc
    finally:
        con.close()
    console.print(
        f"undid {safe_markup(load_id)}: {summary.restored} attribute value(s) restored, "
        f"{summary.changed_since} left as a later load set them"
    )
