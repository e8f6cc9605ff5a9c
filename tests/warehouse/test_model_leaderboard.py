"""marts.model_leaderboard shows what the promotion gate decided on: warm and cold holdout scores."""

import json
from datetime import datetime, timedelta

import duckdb
import numpy as np
import polars as pl

from chatrec.retrain import retrain_model
from chatrec.settings import Settings


def shop_events() -> tuple[pl.DataFrame, pl.DataFrame]:
    """A non-MovieLens fixture: 40 shoppers rate 12 of 50 products, one every 3 days; in the last days
    5 new shoppers arrive, so the temporal holdout (last 10%) has warm and cold users."""
    rng = np.random.default_rng(3)
    start = datetime(2024, 1, 1)
    rows = [
        (f"shopper-{u}", f"sku-{i}", float(rng.integers(1, 6)), start + timedelta(days=3 * n, hours=u))
        for u in range(40)
        for n, i in enumerate(rng.choice(50, 12, replace=False))
    ]
    rows += [
        (f"newcomer-{u}", f"sku-{i}", 5.0, start + timedelta(days=40, hours=u * 4 + n))
        for u in range(5)
        for n, i in enumerate(rng.choice(50, 4, replace=False))
    ]
    interactions = pl.DataFrame(rows, schema=["user_id", "item_id", "rating", "ts"], orient="row").with_columns(
        pl.lit("rating").alias("event")
    )
    items = pl.DataFrame({"item_id": [f"sku-{i}" for i in range(50)], "title": [f"Product {i}" for i in range(50)]})
    return interactions.sort("ts"), items


def test_leaderboard_shows_the_warm_score_that_gates_and_the_cold_score_beside_it(
    warehouse: duckdb.DuckDBPyConnection, settings: Settings
) -> None:
    interactions, items = shop_events()
    for name in ("popularity", "biasedmf"):
        retrain_model(warehouse, settings, name, interactions, items)
    rows = warehouse.execute(
        "SELECT name, ndcg_at_10, warm_ndcg_at_10, cold_ndcg_at_10, rmse, warm_rmse, cold_rmse, warm_users,"
        " cold_users, metrics FROM marts.model_leaderboard ORDER BY name"
    ).fetchall()
    by_name = {row[0]: row for row in rows}
    _, ndcg, warm, cold, _, _, _, warm_users, cold_users, metrics = by_name["popularity"]
    stored = json.loads(metrics)
    assert (warm, cold) == (stored["warm_ndcg_at_10"], stored["cold_ndcg_at_10"])
    assert warm_users == stored["warm_users"] > 0 and cold_users == stored["cold_users"] > 0
    assert ndcg is not None and warm != cold
    _, ndcg, warm, cold, rmse, warm_rmse, cold_rmse, *_ = by_name["biasedmf"]
    assert ndcg is None and warm is None and cold is None  # a rating model has no ranking scores
    assert rmse is not None and warm_rmse is not None and cold_rmse is not None
    # the status reason names the warm metric it compared and the cold score it reported
    reason = warehouse.execute("SELECT status_reason FROM marts.model_leaderboard WHERE name = 'popularity'").fetchone()
    assert "warm_ndcg_at_10" in reason[0] and "cold_ndcg_at_10" in reason[0]


def test_versions_registered_before_the_warm_cold_split_show_null(warehouse: duckdb.DuckDBPyConnection) -> None:
    warehouse.execute(
        "INSERT INTO models.registry (model_id, name, kind, version, params, fingerprint, metrics, status)"
        """ VALUES ('dlae@1', 'dlae', 'candidate', 1, '{}', 'f', '{"ndcg_at_10": 0.3}', 'production')"""
    )
    row = warehouse.execute(
        "SELECT ndcg_at_10, warm_ndcg_at_10, cold_ndcg_at_10, warm_users, cold_users FROM marts.model_leaderboard"
    ).fetchone()
    assert row == (0.3, None, None, None, None)
