"""Nightly retraining with a no-regression promotion gate.

Each configured model is evaluated on a temporal holdout (fit on the first 90% of the window, score
the last 10%), then refit on the whole window and registered with those holdout metrics. The
holdout is scored three ways: all its users, warm users (with training history: the users serving
recommends from what it learned) and cold users (none: a first-stage model can only guess from
popularity for them). A new version replaces the production version of the same name only if its
warm-user metric does not regress beyond `settings.promotion_tolerance` (relative); the cold score
is recorded beside it, and never buys a promotion, because in a temporal holdout the cold users can
be most of the rows and make every model look like popularity. Otherwise the old one keeps serving
and the registry row says why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import duckdb
import polars as pl

from chatrec.data.frames import feedback_events, has_ratings, items_frame
from chatrec.evaluation.metrics import map_at_k, ndcg_at_k, precision_at_k, recall_at_k, rmse
from chatrec.evaluation.sampling import sample_users
from chatrec.evaluation.splitting import temporal_split
from chatrec.memory import check_budget, data_size, training_bytes
from chatrec.models import ITEM_ITEM_MODELS, RATING_MODELS, make_model
from chatrec.models.base import RatingPredictor, Recommender
from chatrec.models.training import (
    ModelVersion,
    console,
    kind_of,
    production_model,
    set_status,
    train_and_register,
    training_interactions,
)
from chatrec.settings import Settings

# metric that decides promotion (over warm users, see gate_metric), and whether higher is better
GATE = {"candidate": ("ndcg_at_10", True), "rating": ("rmse", False)}


@dataclass(frozen=True)
class RetrainOutcome:
    version: ModelVersion
    promoted: bool
    reason: str


def holdout_metrics(
    name: str, settings: Settings, train: pl.DataFrame, holdout: pl.DataFrame, items: pl.DataFrame
) -> dict[str, float]:
    """The model's holdout metrics over all users, and with `warm_` / `cold_` prefixes over the users
    with / without training history (a group with no users gets no keys; its size is always given)."""
    model = make_model(name, settings)
    if isinstance(model, RatingPredictor):
        model.fit(train)

        def rating_metrics(rows: pl.DataFrame) -> dict[str, float]:
            predicted = model.predict(rows["user_id"].to_list(), rows["item_id"].to_list())
            return {"rmse": rmse(rows["rating"].to_numpy(), predicted)}

        return by_group(rating_metrics, train, holdout)
    assert isinstance(model, Recommender)
    model.fit(train, items)
    k = settings.top_k_eval
    users = sample_users(holdout["user_id"].unique().sort().to_list(), settings.eval_max_users, settings.seed)
    holdout = holdout.filter(pl.col("user_id").is_in(users))

    def ranking_metrics(rows: pl.DataFrame) -> dict[str, float]:
        recommended = model.recommend(rows["user_id"].unique().sort().to_list(), k)
        return {
            f"ndcg_at_{k}": ndcg_at_k(recommended, rows, k),
            f"precision_at_{k}": precision_at_k(recommended, rows, k),
            f"recall_at_{k}": recall_at_k(recommended, rows, k),
            f"map_at_{k}": map_at_k(recommended, rows, k),
        }

    return by_group(ranking_metrics, train, holdout)


def by_group(
    score: Callable[[pl.DataFrame], dict[str, float]], train: pl.DataFrame, holdout: pl.DataFrame
) -> dict[str, float]:
    """`score` over the whole holdout, its warm users (in `train`) and its cold users, with the sizes."""
    known = train["user_id"].unique().implode()
    warm = holdout.filter(pl.col("user_id").is_in(known))
    cold = holdout.filter(~pl.col("user_id").is_in(known))
    metrics = score(holdout)
    for prefix, rows in (("warm_", warm), ("cold_", cold)):
        if rows.height:
            metrics.update({prefix + key: value for key, value in score(rows).items()})
    return {**metrics, "warm_users": float(warm["user_id"].n_unique()), "cold_users": float(cold["user_id"].n_unique())}


def gate_metric(version: ModelVersion) -> str:
    """The metric promotion compares: the gate metric over warm users when the holdout had any."""
    base, _ = GATE[version.kind]
    if base not in version.metrics:  # e.g. top_k_eval != 10: the kind's first metric at that k
        base = next(key for key in version.metrics if not key.startswith(("warm_", "cold_")))
    return f"warm_{base}" if f"warm_{base}" in version.metrics else base


def decide(version: ModelVersion, current: ModelVersion | None, tolerance: float) -> tuple[bool, str]:
    _, higher_is_better = GATE[version.kind]
    metric = gate_metric(version)
    new = version.metrics[metric]
    cold_metric = metric.replace("warm_", "cold_", 1)
    cold = version.metrics.get(cold_metric)
    cold_note = f"; {cold_metric} {cold:.4f}" if metric.startswith("warm_") and cold is not None else ""
    if current is None:
        return True, f"first {version.name} model: promoted ({metric}={new:.4f}{cold_note})"
    if current.model_id == version.model_id:
        return True, f"unchanged: same data and parameters as {current.model_id}"
    old = current.metrics.get(metric)
    if old is None:
        return True, f"{current.model_id} has no {metric}: promoted ({metric}={new:.4f}{cold_note})"
    change = (new - old) / abs(old) if old else 0.0
    regression = -change if higher_is_better else change
    old_cold = current.metrics.get(cold_metric)
    if cold_note and old_cold is not None:
        cold_note += f" vs {old_cold:.4f}"
    if regression > tolerance:
        return False, (
            f"not promoted: {metric} {new:.4f} vs production {current.model_id} {old:.4f} "
            f"({regression:.1%} worse > {tolerance:.1%} tolerance){cold_note}"
        )
    return True, f"promoted over {current.model_id}: {metric} {new:.4f} vs {old:.4f}{cold_note}"


def models_to_retrain(settings: Settings) -> list[str]:
    """The configured candidate models, the served one even when the list forgets it (else the
    recommend flow would fail after a whole retrain), and the rating model; each once, in order."""
    return list(dict.fromkeys([*settings.candidate_models, settings.candidate_model, settings.rating_model]))


def retrain_model(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    name: str,
    interactions: pl.DataFrame,
    items: pl.DataFrame,
) -> RetrainOutcome:
    """Evaluate `name` on the temporal holdout of `interactions`, refit on all of it, register, promote or not."""
    train, holdout = temporal_split(interactions, 0.1)
    metrics = holdout_metrics(name, settings, train, holdout, items)
    version = train_and_register(
        con,
        settings,
        name,
        interactions=interactions,
        items=None if name in RATING_MODELS else items,
        metrics=metrics,
    )
    current = production_model(con, kind_of(name), name)
    promoted, reason = decide(version, current, settings.promotion_tolerance)
    if not version.reused or current is None or current.model_id != version.model_id:
        set_status(con, version.model_id, "production" if promoted else "candidate", reason)
    return RetrainOutcome(version, promoted, reason)


def retrain(con: duckdb.DuckDBPyConnection, settings: Settings, names: list[str] | None = None) -> list[RetrainOutcome]:
    """Retrain `names` (default: models_to_retrain) one after another on the same window."""
    interactions = training_interactions(con, settings, "retraining")
    items = items_frame(con)
    wanted, skipped = plan_retrain(con, settings, names)
    for note in skipped.values():
        console.log(note)
    return [retrain_model(con, settings, name, interactions, items) for name in wanted]


def plan_retrain(
    con: duckdb.DuckDBPyConnection, settings: Settings, names: list[str] | None = None
) -> tuple[list[str], dict[str, str]]:
    """The models to train on this data (default: models_to_retrain) and, by name, why others are skipped.

    Rating predictors are skipped on implicit-only data (nothing to predict). Every model's memory
    estimate is checked first: one that would not fit raises MemoryBudgetExceeded before any trains.
    """
    wanted = list(dict.fromkeys(names or models_to_retrain(settings)))
    skipped: dict[str, str] = {}
    if not has_ratings(con):
        skipped = {
            name: f"skipped {name}: the data has no ratings (implicit events only), nothing to predict"
            for name in wanted
            if name in RATING_MODELS
        }
        wanted = [name for name in wanted if name not in RATING_MODELS]
    size = data_size(con, feedback_events(con))
    for name in wanted:
        check_budget(
            f"retraining {name} ({size.users:,} users, {size.items:,} items, {size.interactions:,} interactions)",
            training_bytes(name, size, settings),
            settings,
            "lower max_model_items (CHATREC_MAX_MODEL_ITEMS)" if name in ITEM_ITEM_MODELS else "",
        )
    return wanted, skipped
