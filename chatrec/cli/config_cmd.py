"""`chatrec config show`: the effective settings and where each value came from."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from chatrec.cli.safe_text import safe_cell
from chatrec.settings import Settings, config_file, describe_sources

app = typer.Typer(help="Inspect configuration.", no_args_is_help=True)


@app.command("show")
def show() -> None:
    """Print every setting, its effective value and its source (argument, env var, TOML file, default)."""
    settings = Settings()
    origins = describe_sources(settings)
    table = Table(title=f"chatrec settings (config file: {config_file() or 'none'})")
    table.add_column("setting")
    table.add_column("value")
    table.add_column("source")
    for name in Settings.model_fields:
        value = getattr(settings, name)
        shown = "***" if (name == "llm_api_key" and value) else value
        table.add_row(name, safe_cell(shown), safe_cell(origins[name]))
    Console().print(table)
