"""`chatrec evaluate --protocol chatrec|full|msr|rating|temporal`: score one model on the warehouse data.

By default the model's hyper-parameters are the ones `python -m bench.quality --protocol P` chose on
validation for that protocol (bench/results/quality_P.json, the figures of docs/benchmarks.md), so
the README's numbers reproduce with the command shown; `--params` overrides them key by key and
`--no-chosen` uses the model's own defaults.
"""

from __future__ import annotations

import json
from enum import StrEnum

import typer
from rich.console import Console
from rich.table import Table

from chatrec.cli.safe_text import safe_cell, safe_markup
from chatrec.settings import Settings


class Protocol(StrEnum):  # the values of chatrec.evaluation.run.Protocol, kept here so --help imports no torch
    chatrec = "chatrec"
    full = "full"
    msr = "msr"
    rating = "rating"
    temporal = "temporal"


def evaluate(
    protocol: Protocol = typer.Option(
        ...,
        help="chatrec | full | msr (full on MS Recommenders' per-item split of ML-100K) | rating (ML-100K's u1..u5 "
        "folds, else 5 random folds of the explicit ratings) | temporal",
    ),
    model: str | None = typer.Option(None, help="model name; default: settings.candidate_model or rating_model"),
    params: str = typer.Option("{}", help="hyper-parameters as JSON, e.g. '{\"l2\": 400}' (over the chosen ones)"),
    chosen: bool = typer.Option(
        True, help="start from the hyper-parameters bench.quality chose for this protocol (docs/benchmarks.md)"
    ),
) -> None:
    """Evaluate a model under one of the benchmark protocols and print its metrics."""
    from chatrec.evaluation import run
    from chatrec.warehouse import read_only_connection

    console = Console()
    settings = Settings()
    chosen_protocol = run.Protocol(protocol.value)
    try:
        name = run.resolve_model(chosen_protocol, model, settings)
    except ValueError as exc:
        console.print(f"[red]error:[/red] {safe_markup(exc)}")
        raise typer.Exit(2) from exc
    try:
        hyper = json.loads(params)
        if not isinstance(hyper, dict):
            raise ValueError("must be a JSON object")
    except ValueError as exc:
        console.print(f"[red]error:[/red] --params {safe_markup(repr(params))}: {safe_markup(exc)}")
        raise typer.Exit(2) from exc
    if chosen:
        picked, where = run.chosen_params(protocol.value, name)
        hyper = {**picked, **hyper}
        console.print(f"[dim]parameters {safe_markup(json.dumps(hyper))}: {safe_markup(where)}[/dim]")
    try:
        con = read_only_connection(settings)
    except FileNotFoundError as exc:
        console.print(f"[red]error:[/red] {safe_markup(exc)}")
        raise typer.Exit(2) from exc
    try:
        result = run.run_protocol(con, settings, chosen_protocol, name, hyper)
    except (ValueError, TypeError) as exc:
        console.print(f"[red]error:[/red] {safe_markup(exc)}")
        raise typer.Exit(2) from exc
    finally:
        con.close()
    if "split" in result.extra:
        # its own line: inside the table's title a long parameter list wraps it across lines
        console.print(f"split: {safe_markup(result.extra['split'])}", soft_wrap=True)
    table = Table(
        "metric",
        "value",
        title=safe_cell(f"{result.model} {json.dumps(result.params)} - protocol {protocol.value}"),
    )
    for metric, value in result.metrics.items():
        table.add_row(metric, f"{value:.4f}")
    table.add_row("train seconds", f"{result.train_seconds:.2f}")
    console.print(table)
