"""Recommendation quality: Evidently's RecsysPreset at k on a recommendation run, compared with the run before.

What the recommendations are scored against, in order of preference:
- interactions that arrived after the run's model train window ("newly arrived"): the run's own
  top-k lists are scored, exactly as served;
- otherwise the production model's temporal holdout: the model is refit (same name and parameters)
  on the first 90% of its train window and its top-k for the last 10% is scored. The served lists
  cannot be scored on that holdout because the served model was trained on it and never recommends
  seen items. The report says which was used.

Training data and item genres are passed in, so popularity bias, novelty, diversity and serendipity
are computed too. A ranking metric that drops by more than `quality_drop_tolerance` (relative) against
the previous complete run fails the report.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import duckdb
import pandas as pd
import polars as pl
from evidently import DataDefinition, Dataset, Recsys, Report
from evidently.core.report import Snapshot
from evidently.presets import RecsysPreset

from chatrec.data.frames import interactions_frame, items_frame, query_frame
from chatrec.evaluation.sampling import sample_users
from chatrec.evaluation.splitting import temporal_split
from chatrec.models import make_model
from chatrec.models.base import Recommender
from chatrec.monitoring.reports import ReportArtifact, finite, frame, report_id, save_snapshot, snapshot_metadata
from chatrec.settings import Settings

# ranking metrics gated against the previous run, by Evidently metric type
RANKING = {
    "PrecisionTopK": "precision",
    "RecallTopK": "recall",
    "NDCG": "ndcg",
    "MAP": "map",
    "MRR": "mrr",
    "HitRate": "hit_rate",
}
BEYOND_ACCURACY = {
    "Personalization": "personalization",
    "PopularityBiasMetric": "popularity_bias_arp",
    "Novelty": "novelty",
    "Diversity": "diversity",
    "Serendipity": "serendipity",
}
HOLDOUT_RATIO = 0.1  # same temporal holdout as the nightly retrain gate


@dataclass
class Evaluation:
    """A run's top-k lists joined with what users went on to interact with, in Evidently's shape."""

    run_id: str
    model_id: str
    k: int
    source: str  # newly_arrived | temporal_holdout
    description: str
    current: pd.DataFrame  # user_id, item_id, prediction, target, genre columns
    train: pd.DataFrame  # user_id, item_id, genre columns
    users_evaluated: int


def item_genres(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """One row per item: `item_id` plus a 0/1 column per genre (the item features for diversity/serendipity)."""
    items = items_frame(con).select("item_id", pl.col("genres").fill_null([]))
    names = sorted({g for genres in items.get_column("genres").to_list() for g in genres})
    return items.select(
        # Evidently 0.7.23 keys its item-distance matrix with pydantic Union[int, str], which turns
        # numeric-looking ids such as "232" into ints and then fails to find them: prefix the ids.
        pl.concat_str(pl.lit("i"), pl.col("item_id")).alias("item_id"),
        *[pl.col("genres").list.contains(name).cast(pl.Float64).alias(f"genre_{slug(name)}") for name in names],
    )


def slug(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in name.lower()).strip("_")


def evaluation_frame(recommended: pl.DataFrame, relevant: pl.DataFrame, k: int) -> pl.DataFrame:
    """Evidently's recsys rows: every recommended item (target 1 if relevant) and every relevant item
    that was not recommended (Evidently's recall only counts the rows it is given).

    Only users with a full top-k and at least one relevant item are kept: Evidently re-ranks rows by
    score per user, so a user with fewer than k recommendations would see missed items ranked into
    the top k.
    """
    truth = relevant.select("user_id", "item_id").unique()
    top = recommended.filter(pl.col("rank") <= k)
    full = top.group_by("user_id").agg(pl.len().alias("n")).filter(pl.col("n") == k).select("user_id")
    users = full.join(truth.select("user_id").unique(), on="user_id", how="inner")
    top = top.join(users, on="user_id", how="semi")
    truth = truth.join(users, on="user_id", how="semi")
    # scores may tie; subtracting a rank-scaled epsilon keeps Evidently's order equal to the served order
    spread = max(1.0, float(top.get_column("score").abs().max() or 1.0))
    hits = top.join(truth.with_columns(pl.lit(1).alias("target")), on=["user_id", "item_id"], how="left")
    served = hits.select(
        "user_id",
        "item_id",
        (pl.col("score").cast(pl.Float64) - pl.col("rank") * spread * 1e-9).alias("prediction"),
        pl.col("target").fill_null(0).cast(pl.Int64),
    )
    floor = float(served.get_column("prediction").min() or 0.0) - 1.0
    missed = truth.join(top, on=["user_id", "item_id"], how="anti").select(
        "user_id", "item_id", pl.lit(floor).alias("prediction"), pl.lit(1, dtype=pl.Int64).alias("target")
    )
    return pl.concat([served, missed]).sort("user_id", "prediction", descending=[False, True])


def sampled(relevant: pl.DataFrame, settings: Settings) -> pl.DataFrame:
    """The rows of at most `eval_max_users` users (a seeded sample): the report's cost stays bounded."""
    users = sample_users(
        relevant.get_column("user_id").unique().sort().to_list(), settings.eval_max_users, settings.seed
    )
    return relevant.filter(pl.col("user_id").is_in(users))


def run_row(con: duckdb.DuckDBPyConnection, name: str, run_id: str | None) -> dict[str, Any] | None:
    rows = frame(con, name, {"run_id": run_id}).to_dicts()
    return rows[0] if rows else None


def evaluate_run(
    con: duckdb.DuckDBPyConnection, settings: Settings, run: dict[str, Any], genres: pl.DataFrame
) -> Evaluation:
    """Score one run's model/recommendations on newly arrived interactions, else on its model's holdout."""
    if run["train_end"] is None:
        raise LookupError(f"run {run['run_id']}: its model {run['model_id']} has no train window in models.registry")
    k = int(run["k"])
    after = f"{run['train_end'] + timedelta(microseconds=1):%Y-%m-%d %H:%M:%S.%f}"
    arrived = interactions_frame(con, start=after)
    recommended = query_frame(
        con,
        "SELECT user_id, rank, item_id, score FROM recs.recommendations WHERE run_id = ? ORDER BY user_id, rank",
        [run["run_id"]],
    )
    window = interactions_frame(
        con, start=f"{run['train_start']:%Y-%m-%d %H:%M:%S.%f}", end=after
    )  # the model's train window, inclusive of its last interaction
    served_users = recommended.get_column("user_id").unique()
    if arrived.filter(pl.col("user_id").is_in(served_users.implode())).height > 0:
        source = "newly_arrived"
        relevant, train = arrived, window
        description = (
            f"run {run['run_id']}'s top-{k} lists scored on {arrived.height} interactions that arrived after "
            f"{run['model_id']}'s train window (ended {run['train_end']:%Y-%m-%d %H:%M})"
        )
    else:
        source = "temporal_holdout"
        train, relevant = temporal_split(window, HOLDOUT_RATIO)
        relevant = sampled(relevant, settings)
        model = make_model(run["model_name"], settings, **json.loads(run["model_params"] or "{}"))
        assert isinstance(model, Recommender), f"{run['model_id']} is not a candidate recommender"
        model.fit(train, items_frame(con))
        recommended = model.recommend(relevant.get_column("user_id").unique().sort().to_list(), k)
        description = (
            f"no interactions arrived after {run['model_id']}'s train window: the model ({run['model_name']}, "
            f"same parameters) refit on the first {1 - HOLDOUT_RATIO:.0%} of that window ({train.height} "
            f"interactions) and scored on the last {HOLDOUT_RATIO:.0%} ({relevant.height}, temporal holdout)"
        )
    rows = evaluation_frame(recommended, sampled(relevant, settings), k)
    prefixed = pl.concat_str(pl.lit("i"), pl.col("item_id")).alias("item_id")  # see item_genres
    current = rows.with_columns(prefixed).join(genres, on="item_id", how="left").fill_null(0.0)
    train_rows = train.select("user_id", prefixed).join(genres, on="item_id", how="left").fill_null(0.0)
    return Evaluation(
        run_id=run["run_id"],
        model_id=run["model_id"],
        k=k,
        source=source,
        description=description,
        current=current.to_pandas(),
        train=train_rows.to_pandas(),
        users_evaluated=rows.get_column("user_id").n_unique(),
    )


def recsys_snapshot(current: Evaluation, previous: Evaluation | None, genre_columns: list[str]) -> Snapshot:
    """RecsysPreset at k with training data and item genres; the previous run as Evidently's reference."""
    columns = dict(categorical_columns=["user_id", "item_id"], ranking=[Recsys()])
    scored = DataDefinition(numerical_columns=["prediction", "target", *genre_columns], **columns)  # type: ignore[arg-type]
    trained = DataDefinition(numerical_columns=genre_columns, **columns)  # type: ignore[arg-type]
    additional = {"current_train_data": Dataset.from_pandas(current.train, data_definition=trained)}
    reference = None
    if previous is not None:
        reference = Dataset.from_pandas(previous.current, data_definition=scored)
        additional["reference_train_data"] = Dataset.from_pandas(previous.train, data_definition=trained)
    # no genres in the data: diversity and serendipity need item features, so the preset skips them
    report = Report([RecsysPreset(k=current.k, item_features=genre_columns or None)])
    return report.run(
        Dataset.from_pandas(current.current, data_definition=scored),
        reference,
        additional_data=additional,
        metadata=snapshot_metadata(report_id(current.run_id, "recsys_quality")),
        name=f"recsys quality: {current.run_id}",
    )


def figures(snapshot: Snapshot, k: int) -> dict[str, float | None]:
    """Key figures at k from a RecsysPreset snapshot (current data)."""
    out: dict[str, float | None] = {}
    for metric in json.loads(snapshot.json())["metrics"]:
        kind = metric["config"]["type"].removeprefix("evidently:metric_v2:")
        value = metric["value"]
        if kind in RANKING:
            # The curve's k-th entry is the value at k. Its "rank" labels are not used: in 0.7.23 they
            # are shifted by one for NDCG and MRR (their series are already 1-based).
            curve = [value["value"][key] for key in sorted(value["value"], key=int)]
            out[f"{RANKING[kind]}_at_{k}"] = finite(curve[k - 1]) if len(curve) >= k else None
        elif kind in BEYOND_ACCURACY:
            out[BEYOND_ACCURACY[kind]] = finite(value)
    return out


def previous_figures(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, float]:
    rows = con.execute(
        "SELECT metric, value FROM monitoring.metrics WHERE run_id = ? AND scope = 'recs' AND subject = 'recsys_quality'",
        [run_id],
    ).fetchall()
    return {metric: value for metric, value in rows if value is not None}


def quality_drops(current: dict[str, float | None], previous: dict[str, float], tolerance: float) -> list[str]:
    """Ranking metrics that fell by more than `tolerance` (relative) against the previous run."""
    drops = []
    for name, value in current.items():
        if not name.startswith(tuple(RANKING.values())) or value is None:
            continue
        before = previous.get(name)
        if before is None or before <= 0:
            continue
        change = (before - value) / before
        if change > tolerance:
            drops.append(f"{name} dropped {change:.1%} ({before:.4f} -> {value:.4f}) > {tolerance:.0%} tolerance")
    return drops


def diversity_skipped(con: duckdb.DuckDBPyConnection, settings: Settings, run: dict[str, Any]) -> str | None:
    """Why diversity and serendipity are not computed for `run`'s report at this size, or None.

    Evidently computes both from item features with a dense items x items distance matrix over every
    item of the training data, and serendipity filters the whole training frame once per evaluated user;
    past the settings' limits they would not fit in memory or time, so the report leaves them out and
    says so. Every other figure is computed as usual.
    """
    if run["train_start"] is None or run["train_end"] is None:
        return None
    size = frame(con, "train_window_size", {"train_start": run["train_start"], "train_end": run["train_end"]})
    rows, items = size.row(0)
    limits = [
        (items, settings.monitor_diversity_max_items, "items", "monitor_diversity_max_items",
         f"a dense {items:,} x {items:,} distance matrix, {items * items * 8 / 1e9:.1f} GB"),
        (rows, settings.monitor_diversity_max_train_rows, "training rows", "monitor_diversity_max_train_rows",
         "one scan of every training row per evaluated user"),
    ]  # fmt: skip
    for value, limit, what, setting, cost in limits:
        if limit is not None and value > limit:
            return (
                f"diversity and serendipity not computed: {value:,} {what} > {setting} {limit:,} "
                f"(Evidently would need {cost})"
            )
    return None


def recsys_report(con: duckdb.DuckDBPyConnection, settings: Settings, run: dict[str, Any]) -> ReportArtifact:
    """The recommendation-quality report of `run`, compared with the complete run before it."""
    genres = item_genres(con)
    too_large = diversity_skipped(con, settings, run)
    if too_large:  # no item features: the preset skips diversity and serendipity, the train rows stay slim
        genres = genres.select("item_id")
    genre_columns = [c for c in genres.columns if c != "item_id"]
    current = evaluate_run(con, settings, run, genres)
    previous_run = run_row(con, "previous_run", run["run_id"])
    previous: Evaluation | None = None
    if previous_run is not None and previous_run["train_end"] is not None:
        previous = evaluate_run(con, settings, previous_run, genres)
    snapshot = recsys_snapshot(current, previous, genre_columns)
    now = figures(snapshot, current.k)
    before: dict[str, float] = {}
    if previous is not None:
        before = previous_figures(con, previous.run_id) or {
            name: value
            for name, value in figures(recsys_snapshot(previous, None, genre_columns), previous.k).items()
            if value is not None
        }
    drops = quality_drops(now, before, settings.quality_drop_tolerance)
    passed = not drops
    compared = f"vs previous run {previous.run_id}" if previous else "no previous complete run to compare with"
    if drops:
        reason = f"recsys quality {compared}: " + "; ".join(drops)
    else:
        ndcg = now.get(f"ndcg_at_{current.k}")
        reason = f"recsys quality: NDCG@{current.k} {ndcg if ndcg is None else round(ndcg, 4)}, {compared}, no drop beyond {settings.quality_drop_tolerance:.0%}"
    if too_large:
        reason += f"; {too_large}"
    elif not genre_columns:
        reason += "; diversity and serendipity not computed (the items have no genres)"
    key = {
        **now,
        "k": current.k,
        "evaluated_on": current.source,
        "evaluation": current.description,
        "users_evaluated": current.users_evaluated,
        "model_id": current.model_id,
        "previous_run_id": previous.run_id if previous else None,
        "previous": before,
    }
    html_path, json_path = save_snapshot(
        snapshot,
        settings.reports_dir,
        run["run_id"],
        "recsys_quality",
        [
            f"chatrec recommendation quality at k={current.k} for run {run['run_id']} ({current.model_id}), "
            f"{current.users_evaluated} users evaluated",
            f"evaluated on: {current.description}",
            f"reference: {'previous run ' + previous.run_id + ' (' + previous.source + ')' if previous else 'none (first run)'}",
            ("PASSED: " if passed else "FAILED: ") + reason,
        ],
    )
    return ReportArtifact(
        report_id=report_id(run["run_id"], "recsys_quality"),
        run_id=run["run_id"],
        kind="recsys_quality",
        html_path=html_path,
        json_path=json_path,
        key_figures=key,
        passed=passed,
        reason=reason,
        snapshot=snapshot,
        metrics={**now, "users_evaluated": float(current.users_evaluated)},
    )
