"""`chatrec notebook NAME`: open one of the analyst notebooks of notebooks/ in marimo (on 127.0.0.1)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import typer

from chatrec.settings import get_settings

NOTEBOOK_NAMES = "tour, recommendations, monitoring, experiments"  # chatrec.analysis.notebooks.NOTEBOOKS


def notebook(
    name: str = typer.Argument(..., help=f"one of: {NOTEBOOK_NAMES}"),
    edit: bool = typer.Option(True, "--edit/--run", help="--edit: editable notebook (default); --run: read-only app"),
    port: int | None = typer.Option(None, help="port on 127.0.0.1; default: marimo's (2718) or the next free one"),
    export: Path | None = typer.Option(None, help="instead of opening it, run it headless and write static HTML here"),
) -> None:
    """Open a notebook (warehouse tour, recommendations explorer, monitoring, experiments) over the warehouse."""
    from chatrec.analysis.notebooks import NotebookError, export_html, marimo_env, open_command

    settings = get_settings()
    try:
        if export is not None:
            typer.echo(f"wrote {export_html(name, export, settings)}")
            return
        command = open_command(name, edit=edit, port=port)
    except NotebookError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2 if "unknown notebook" in str(exc) else 1) from exc
    typer.echo(f"opening {name} with marimo {'edit' if edit else 'run'} (Ctrl-C stops it)")
    try:
        code = subprocess.call(command, env=marimo_env(settings))
    except KeyboardInterrupt:
        code = 0
    raise typer.Exit(code)
