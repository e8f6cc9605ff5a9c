"""`chatrec warehouse migrate|migrate-artifacts|test|docs`: apply the SQL in warehouse/, convert old
pickled artifacts once, run the data tests, and document the tables from their comments."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from chatrec.cli.locking import exits_when_busy
from chatrec.cli.safe_text import clean_text, safe_markup
from chatrec.settings import Settings

app = typer.Typer(help="Manage the DuckDB warehouse.", no_args_is_help=True)


@app.command("migrate")
def migrate() -> None:
    """Create or upgrade the warehouse file (idempotent)."""
    from chatrec.warehouse import connect

    settings = Settings()
    with exits_when_busy("chatrec warehouse migrate", settings):
        con = connect(settings)
        applied = con.execute("SELECT name FROM schema_migrations ORDER BY version").fetchall()
        con.close()
    Console().print(f"warehouse {settings.warehouse_path}: {len(applied)} migrations applied")


@app.command("migrate-artifacts")
def migrate_artifacts() -> None:
    """Convert model artifacts pickled by older versions into data-only ones (once, explicitly).

    Unpickling runs code, so only do this for artifacts this installation wrote itself."""
    from chatrec.models.training import migrate_pickled_artifacts
    from chatrec.warehouse import connect

    settings = Settings()
    with exits_when_busy("chatrec warehouse migrate-artifacts", settings):
        con = connect(settings)
        try:
            lines = migrate_pickled_artifacts(con, settings)
        finally:
            con.close()
    for line in lines or ["no pickled artifacts left: every registered model has a checksum"]:
        typer.echo(clean_text(line))


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
    settings = Settings()
    with exits_when_busy(f"chatrec warehouse undo-load {load_id}", settings):
        con = connect(settings)
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


@app.command("docs")
def docs(
    output: Path | None = typer.Option(None, help="file to write; default docs/warehouse.md of the checkout"),
) -> None:
    """Regenerate docs/warehouse.md from the comments on every table and column (warehouse/comments.sql)."""
    from chatrec.warehouse.docs import write_docs

    Console().print(f"wrote {write_docs(output)}")
