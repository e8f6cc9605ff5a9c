"""`chatrec ingest ...`: load sources into the warehouse with a progress bar and a summary table."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from chatrec.cli.locking import exits_when_busy
from chatrec.cli.safe_text import safe_cell, safe_markup
from chatrec.settings import Settings

if TYPE_CHECKING:
    from chatrec.data.ingest import LoadSummary

app = typer.Typer(help="Load data into the warehouse (validated; bad rows go to quarantine).", no_args_is_help=True)
console = Console()
STAGES = ("read", "raw", "validate", "core", "account", "done")


def run_load(label: str, load: Callable[..., LoadSummary]) -> LoadSummary:
    """Run one load with a stage progress bar; bad input exits 2 with the reason, nothing written."""
    settings = Settings()
    with exits_when_busy(f"chatrec ingest {label}", settings):
        return load_with_progress(label, load, settings)


def load_with_progress(label: str, load: Callable[..., LoadSummary], settings: Settings) -> LoadSummary:
    from chatrec.data.ingest import SourceError
    from chatrec.warehouse import connect

    con = connect(settings)
    try:
        with Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.fields[stage]}"),
            TimeElapsedColumn(), console=console, transient=True,
        ) as bar:  # fmt: skip
            task = bar.add_task(label, total=len(STAGES), stage="read")

            def advance(stage: str) -> None:
                bar.update(task, completed=STAGES.index(stage), stage=stage)

            summary = load(con, advance)
            bar.update(task, completed=len(STAGES), stage="done")
    except (SourceError, FileNotFoundError, ValueError) as exc:
        console.print(f"[red]ingest failed, nothing was written:[/red] {safe_markup(exc, limit=2000)}")
        raise typer.Exit(2) from exc
    finally:
        con.close()
    print_summary(summary, settings)
    return summary


def print_summary(summary: LoadSummary, settings: Settings) -> None:
    if summary.already_loaded:
        console.print(
            f"[yellow]already loaded[/yellow] as {safe_markup(summary.load_id)}: same content, nothing changed"
        )
        return
    table = Table(title=safe_cell(f"load {summary.load_id} ({summary.source}: {summary.path})"))
    table.add_column("rows")
    table.add_column("count", justify="right")
    table.add_row("read", f"{summary.rows_in:,}")
    for entity, n in summary.loaded_by_entity.items():
        table.add_row(safe_cell(f"loaded: {entity}"), f"{n:,}")
    table.add_row("unchanged (already in warehouse)", f"{summary.rows_unchanged:,}")
    for reason, n in summary.quarantined_by_reason.items():
        table.add_row(f"[red]quarantined: {safe_markup(reason, limit=200)}[/red]", f"{n:,}")
    table.add_row("[bold]balance (read = loaded + unchanged + quarantined)", "ok" if summary.balanced else "LOST ROWS")
    console.print(table)
    for note in summary.notes:
        console.print(f"[dim]{safe_markup(note)}[/dim]")
    console.print(f"warehouse: {safe_markup(settings.warehouse_path)}")
    if summary.rows_quarantined:
        console.print(
            f"inspect rejected rows: chatrec sql \"SELECT * FROM quarantine.rejected_rows WHERE load_id = '{summary.load_id}'\""
        )


APPEND_HELP = (
    "load into a warehouse that holds another source even though ids overlap (merged by id: only when they "
    "really are the same users and items)"
)


@app.command("movielens")
def movielens(
    path: Path | None = typer.Option(None, help="folder with u.data/u.item/u.user; default: the packaged copy"),
    append: bool = typer.Option(False, "--append", help=APPEND_HELP),
) -> None:
    """MovieLens 100K (the packaged demo by default: only into an empty warehouse or the demo's own)."""
    from chatrec.data.ingest import ingest_movielens

    run_load("MovieLens 100K", lambda con, step: ingest_movielens(con, path, progress=step, append=append))


@app.command("latest")
def latest(
    path: Path = typer.Argument(..., help="folder with ratings.csv and movies.csv"),
    append: bool = typer.Option(False, "--append", help=APPEND_HELP),
) -> None:
    """A MovieLens "latest"-format folder (ratings.csv, movies.csv, optional tags.csv/links.csv)."""
    from chatrec.data.ingest import ingest_movielens_latest

    run_load("MovieLens latest", lambda con, step: ingest_movielens_latest(con, path, progress=step, append=append))


@app.command("csv")
def csv_file(
    path: Path = typer.Argument(..., help="CSV or Parquet file"),
    map_: str = typer.Option(
        ...,
        "--map",
        help="field=column pairs: user, item, timestamp, and rating or event (or event_name=NAME); "
        "optional title, text, categories, year, age, gender, occupation, zip_code, rating_min, rating_max",
    ),
    append: bool = typer.Option(False, "--append", help=APPEND_HELP),
) -> None:
    """A generic CSV/Parquet file of interactions read through a column mapping."""
    from chatrec.data.ingest import ingest_table

    run_load(f"{path.name}", lambda con, step: ingest_table(con, path, map_, progress=step, append=append))


@app.command("descriptions")
def descriptions(path: Path = typer.Argument(..., help="CSV: item_id,description or movie_title,wiki_summary")) -> None:
    """Item descriptions joined onto the catalogue (by item id, or by title and year)."""
    from chatrec.data.descriptions import ingest_descriptions

    run_load("descriptions", lambda con, step: ingest_descriptions(con, path))
