"""The `chatrec` command line. Each concern lives in its own module and is mounted here.

The command modules import their heavy libraries (duckdb, polars, torch, prefect, evidently) inside
the commands, so `chatrec --help` and argument errors answer in well under a second.
"""

from __future__ import annotations

import os
import sys

import typer

from chatrec.cli import (
    chat_cmd,
    config_cmd,
    dashboards_cmd,
    evaluate_cmd,
    generate_cmd,
    ingest_cmd,
    llm_cmd,
    notebook_cmd,
    run_cmd,
    sql_cmd,
    warehouse_cmd,
)
from chatrec.processes import stop_children_on_exit

app = typer.Typer(
    name="chatrec",
    help="LLM-augmented, interactive and explainable recommender run as a data pipeline.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


@app.callback()
def options(
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="show third-party INFO logs and warnings (Dask, Evidently, tqdm)"
    ),
) -> None:
    if verbose:  # through the environment, so flows run in this process and their Settings() see it
        os.environ["CHATREC_VERBOSE_LOGS"] = "true"


app.add_typer(config_cmd.app, name="config")
app.add_typer(warehouse_cmd.app, name="warehouse")
app.add_typer(ingest_cmd.app, name="ingest")
app.add_typer(llm_cmd.app, name="llm")
app.add_typer(dashboards_cmd.app, name="dashboards")
app.add_typer(generate_cmd.app, name="generate")
app.command("sql")(sql_cmd.sql)
app.command("run")(run_cmd.run)
app.command("evaluate")(evaluate_cmd.evaluate)
app.command("chat")(chat_cmd.chat)
app.command("notebook")(notebook_cmd.notebook)


def main() -> None:
    stop_children_on_exit()
    try:
        app()
    except Exception as exc:
        # any command: a corrupt warehouse is one line naming the file and the way back, no traceback
        # (looked up only when the warehouse module was loaded, so start-up stays free of duckdb)
        connection = sys.modules.get("chatrec.warehouse.connection")
        if connection is None or not isinstance(exc, connection.WarehouseCorrupt):
            raise
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(connection.EXIT_WAREHOUSE_CORRUPT) from exc
