"""`chatrec evaluate --protocol chatrec|full|msr|rating|temporal`: score one model on the warehouse data.

By default the model's hyper-parameters are the ones `python -m bench.quality --protocol P` chose on
validation for that protocol (bench/results/quality_P.json, the figures of docs/benchmarks.md), so
the README's numbers reproduce with the command shown; `--params` overrides them key by key and
`--no-chosen` uses the model's own defaults.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from chatrec.cli.safe_text import safe_cell, safe_markup
from chatrec.settings import Settings


class Protocol(StrEnum):
    chatrec = "chatrec"
    full = "full"
    msr = "msr"
    rating = "rating"
    temporal = "temporal"


RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results"


def chosen_params(protocol: str, name: str) -> tuple[dict[str, Any], str]:
    """The hyper-parameters bench.quality chose for `name` under `protocol`, and where they come from."""
    path = RESULTS / f"quality_{protocol}.json"
    if not path.is_file():
        return {}, f"model defaults ({path} not found)"
    rows = json.loads(path.read_text()).get("rows", [])
    for row in rows:
        if row.get("model") == name:
            return dict(row.get("params") or {}), f"chosen on validation by bench.quality ({path.name})"
    return {}, f"model defaults ({name} not in {path.name})"


def evaluate(
    protocol: Protocol = typer.Option(
        ..., help="chatrec | full | msr (full on MS Recommenders' per-item split) | rating (u1..u5 folds) | temporal"
    ),
    model: str | None = typer.Option(None, help="model name; default: settings.candidate_model or rating_model"),
    params: str = typer.Option("{}", help="hyper-parameters as JSON, e.g. '{\"l2\": 400}' (over the chosen ones)"),
    chosen: bool = typer.Option(
        True, help="start from the hyper-parameters bench.quality chose for this protocol (docs/benchmarks.md)"
    ),
) -> None:
    """Evaluate a model under one of the benchmark protocols and print its metrics."""
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
    from chatrec.warehouse import read_only_connection

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
    if chosen:
        picked, where = chosen_params(protocol.value, name)
        hyper = {**picked, **hyper}
        console.print(f"[dim]parameters {safe_markup(json.dumps(hyper))}: {safe_markup(where)}[/dim]")
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
