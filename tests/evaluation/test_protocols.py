"""The protocols end to end on the packaged MovieLens 100K, and on other data."""

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from chatrec.data.frames import interactions_frame, items_frame
from chatrec.data.ingest import ingest_movielens_latest
from chatrec.evaluation.protocols import (
    GlobalMeanBaseline,
    chatrec_protocol,
    movielens_file_order,
    msr_benchmark_protocol,
    msr_benchmark_split,
    rating_cross_validation,
    rating_splits,
    temporal_rating_protocol,
)
from chatrec.models.ease import EASE
from chatrec.models.popularity import Popularity


def test_msr_protocol_scores_users_with_training_rows_and_separates_models(ml100k_warehouse) -> None:
    ratings, items = movielens_file_order(ml100k_warehouse), items_frame(ml100k_warehouse)
    train, test = msr_benchmark_split(ratings, seed=42)
    assert set(test["user_id"]) <= set(train["user_id"])
    assert train.height + test.height <= ratings.height
    popularity = msr_benchmark_protocol(lambda: Popularity(), ratings, items, seed=42)
    ease = msr_benchmark_protocol(lambda: EASE(l2=400.0), ratings, items, seed=42)
    assert set(ease.metrics) >= {"map_at_10", "ndcg_at_10", "precision_at_10", "recall_at_10", "coverage"}
    # a personalised model must clear the popularity baseline by a wide margin on this split
    assert 0.1 < popularity.metrics["ndcg_at_10"] < ease.metrics["ndcg_at_10"] - 0.1


def write_ratings_folder(folder: Path, users: int = 40, movies: int = 30) -> Path:
    """A MovieLens-latest folder (not ML-100K): every user rates 12 of the movies, half stars."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    rows = ["userId,movieId,rating,timestamp"]
    for user in range(1, users + 1):
        for movie in rng.choice(movies, 12, replace=False) + 1:
            rows.append(f"{user},{movie},{rng.integers(1, 11) / 2},{1_600_000_000 + 1000 * user + int(movie)}")
    (folder / "ratings.csv").write_text("\n".join(rows) + "\n")
    movie_rows = ["movieId,title,genres", *(f"{m},Movie {m} (2001),Drama" for m in range(1, movies + 1))]
    (folder / "movies.csv").write_text("\n".join(movie_rows) + "\n")
    return folder


def test_rating_protocol_runs_on_any_explicit_rating_warehouse(warehouse, tmp_path: Path) -> None:
    ingest_movielens_latest(warehouse, write_ratings_folder(tmp_path / "latest"))
    interactions = interactions_frame(warehouse)
    folds, label = rating_splits(warehouse, interactions, seed=7)
    assert label == "5 random folds (seed 7)" and len(folds) == 5
    tested = pl.concat([test for _, test in folds])
    assert tested.height == interactions.height == 480 and tested.unique().height == 480  # each row once
    for train, test in folds:
        assert train.height + test.height == 480 and train.join(test, on=["user_id", "item_id", "ts"]).height == 0
    result = rating_cross_validation(GlobalMeanBaseline, folds, label)
    assert result.extra == {"folds": 5, "split": label} and 0 < result.metrics["rmse"] < 3
    assert {f"rmse_u{n}" for n in range(1, 6)} <= set(result.metrics)


def test_protocol_errors_name_the_fix_and_never_the_mixing_command(warehouse, tmp_path: Path) -> None:
    ingest_movielens_latest(warehouse, write_ratings_folder(tmp_path / "latest"))
    with pytest.raises(ValueError, match=r"--protocol full.*CHATREC_WAREHOUSE_PATH=var/demo\.duckdb") as no_ml100k:
        movielens_file_order(warehouse)
    assert "run `chatrec ingest movielens` first" not in str(no_ml100k.value)
    implicit = interactions_frame(warehouse).with_columns(pl.lit(None, dtype=pl.Float64).alias("rating"))
    with pytest.raises(ValueError, match=r"no explicit ratings.*--protocol full or --protocol temporal"):
        chatrec_protocol(lambda: Popularity(), implicit, items_frame(warehouse), seed=1)
    with pytest.raises(ValueError, match=r"no explicit ratings.*chatrec ingest csv"):
        temporal_rating_protocol(GlobalMeanBaseline, implicit)
