"""Running one evaluation protocol on one model over the warehouse data: what `chatrec evaluate` and the
experiments notebook both call."""

from __future__ import annotations

import json
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Any

import duckdb

from chatrec.data.frames import interactions_frame, items_frame
from chatrec.evaluation.protocols import (
    ModelResult,
    chatrec_protocol,
    full_catalogue_protocol,
    movielens_file_order,
    msr_benchmark_protocol,
    rating_cross_validation,
    rating_splits,
    temporal_ranking_protocol,
    temporal_rating_protocol,
)
from chatrec.models import CANDIDATE_MODELS, RATING_MODELS, RatingPredictor, Recommender, make_model
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


def resolve_model(protocol: Protocol, model: str | None, settings: Settings) -> str:
    """The model to evaluate (default: the configured candidate or rating model); ValueError if unknown."""
    rating = protocol is Protocol.rating or (model in RATING_MODELS)
    name = model or (settings.rating_model if rating else settings.candidate_model)
    known = RATING_MODELS if rating else CANDIDATE_MODELS
    if name not in known:
        raise ValueError(
            f"{name!r} is not a {'rating' if rating else 'candidate'} model; known: {', '.join(sorted(known))}"
        )
    return name


def run_protocol(
    con: duckdb.DuckDBPyConnection, settings: Settings, protocol: Protocol, model: str | None, params: dict[str, Any]
) -> ModelResult:
    """Score `model` (with `params`) under `protocol`; ValueError/TypeError name bad input or missing data."""
    name = resolve_model(protocol, model, settings)

    def make() -> Recommender | RatingPredictor:
        return make_model(name, settings, **params)

    interactions, items = interactions_frame(con), items_frame(con)
    if interactions.height == 0:
        raise ValueError(
            "core.interactions is empty: load your data first (`chatrec ingest latest FOLDER` or "
            "`chatrec ingest csv FILE --map ...`; the demo: `chatrec ingest movielens`, into an empty warehouse)"
        )
    seed = settings.seed
    runners: dict[Protocol, Callable[[], ModelResult]] = {
        Protocol.chatrec: lambda: chatrec_protocol(make, interactions, items, seed=seed),  # type: ignore[arg-type]
        Protocol.full: lambda: full_catalogue_protocol(make, interactions, items, seed=seed),  # type: ignore[arg-type]
        Protocol.msr: lambda: msr_benchmark_protocol(make, movielens_file_order(con), items, seed=seed),  # type: ignore[arg-type]
        # ML-100K's official folds when the warehouse holds it, else seeded random folds of its ratings
        Protocol.rating: lambda: rating_cross_validation(make, *rating_splits(con, interactions, seed=seed)),  # type: ignore[arg-type]
    }
    if protocol in runners:
        return runners[protocol]()
    if name in RATING_MODELS:
        return temporal_rating_protocol(make, interactions)  # type: ignore[arg-type]
    return temporal_ranking_protocol(make, interactions, items)  # type: ignore[arg-type]
