"""`chatrec evaluate --protocol chatrec|full|msr|rating|temporal`: score one model on the warehouse data.

Uses the model's given (or default) hyper-parameters; `python -m bench.quality` is the benchmark
that tunes them on a validation split and compares every model.
"""

from __future__ import annotations

import json
from enum import StrEnum

import typer
from rich.console import Console
from rich.table import Table

from chatrec.cli.safe_text import safe_cell, safe_markup
from chatrec.data.frames import interactions_frame, items_frame
from chatrec.evaluation.protocols import (
    ModelResult,
    chatrec_protocol,
    full_catalogue_protocol,
    movielens_file_order,
    msr_benchmark_protocol,
    rating_folds_protocol,
    temporal_ranking_protocol,
    temporal_rating_protocol,
)
from chatrec.models import CANDIDATE_MODELS, RATING_MODELS, RatingPredictor, Recommender, make_model
from chatrec.settings import Settings
from chatrec.warehouse import read_only_connection


class Protocol(StrEnum):
    chatrec = "chatrec"
    full = "full"
    msr = "msr"
    rating = "rating"
    temporal = "temporal"


def evaluate(
    protocol: Protocol = typer.Option(
        ..., help="chatrec | full | msr (full on MS Recommenders' per-item split) | rating (u1..u5 folds) | temporal"
    ),
    model: str | None = typer.Option(None, help="model name; default: settings.candidate_model or rating_model"),
    params: str = typer.Option("{}", help="hyper-parameters as JSON, e.g. '{\"l2\": 400}'"),
) -> None:
    """Evaluate a model under one of the benchmark protocols and print its metrics."""
    console = Console()
    settings = Settings()
    rating = protocol is Protocol.rating or (model in RATING_MODELS)
    name = model or (settings.rating_model if rating else settings.candidate_model)
    known = RATING_MODELS if rating else CANDIDATE_MODELS
    if name not in known:
        kind = "rating" if rating else "candidate"
        console.print(
            f"[red]error:[/red] {safe_markup(repr(name))} is not a {kind} model; known: {', '.join(sorted(known))}"
        )
        raise typer.Exit(2)
    try:
        hyper = json.loads(params)
        if not isinstance(hyper, dict):
            raise ValueError("must be a JSON object")
    except ValueError as exc:
        console.print(f"[red]error:[/red] --params {safe_markup(repr(params))}: {safe_markup(exc)}")
        raise typer.Exit(2) from exc
    try:
        con = read_only_connection(settings)
    except FileNotFoundError as exc:
        console.print(f"[red]error:[/red] {safe_markup(exc)}")
        raise typer.Exit(2) from exc

    def make() -> Recommender | RatingPredictor:
        return make_model(name, settings, **hyper)

    try:
        interactions, items = interactions_frame(con), items_frame(con)
        if interactions.height == 0:
            raise ValueError("core.interactions is empty: run `chatrec ingest movielens` first")
        seed = settings.seed
        result: ModelResult
        if protocol is Protocol.chatrec:
            result = chatrec_protocol(make, interactions, items, seed=seed)
        elif protocol is Protocol.full:
            result = full_catalogue_protocol(make, interactions, items, seed=seed)
        elif protocol is Protocol.msr:
            result = msr_benchmark_protocol(make, movielens_file_order(con), items, seed=seed)
        elif protocol is Protocol.rating:
            result = rating_folds_protocol(make, movielens_file_order(con))
        elif rating:
            result = temporal_rating_protocol(make, interactions)
        else:
            result = temporal_ranking_protocol(make, interactions, items)
    except (ValueError, TypeError) as exc:
        console.print(f"[red]error:[/red] {safe_markup(exc)}")
        raise typer.Exit(2) from exc
    finally:
        con.close()
    table = Table(
        "metric", "value", title=safe_cell(f"{result.model} {json.dumps(result.params)} - protocol {protocol.value}")
    )
    for metric, value in result.metrics.items():
        table.add_row(metric, f"{value:.4f}")
    table.add_row("train seconds", f"{result.train_seconds:.2f}")
    console.print(table)
