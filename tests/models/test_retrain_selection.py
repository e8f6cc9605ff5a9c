import numpy as np
import polars as pl

from chatrec.models.training import ModelVersion
from chatrec.retrain import decide, gate_metric, holdout_metrics, models_to_retrain
from chatrec.settings import Settings


def test_the_default_nightly_trains_the_served_and_rating_models() -> None:
    names = models_to_retrain(Settings())
    assert names[-1] == "biasedmf" and "dlae" in names and len(names) == len(set(names))


def test_the_served_model_is_trained_even_when_the_list_forgets_it() -> None:
    settings = Settings(candidate_models=["popularity"], candidate_model="itemknn", rating_model="bayesianmf")
    assert models_to_retrain(settings) == ["popularity", "itemknn", "bayesianmf"]
    settings = Settings(candidate_models=["popularity", "itemknn"], candidate_model="popularity")
    assert models_to_retrain(settings) == ["popularity", "itemknn", "biasedmf"]


def version(model_id: str, metrics: dict[str, float]) -> ModelVersion:
    name, number = model_id.split("@")
    return ModelVersion(model_id, name, "candidate", int(number), "candidate", "", metrics)


def test_a_model_worse_on_warm_users_and_better_on_cold_ones_is_not_promoted() -> None:
    production = version("dlae@1", {"ndcg_at_10": 0.20, "warm_ndcg_at_10": 0.40, "cold_ndcg_at_10": 0.10})
    # better over all holdout users, because the cold users carry most of it
    challenger = version("dlae@2", {"ndcg_at_10": 0.25, "warm_ndcg_at_10": 0.30, "cold_ndcg_at_10": 0.22})
    promoted, reason = decide(challenger, production, tolerance=0.01)
    assert not promoted
    assert "warm_ndcg_at_10 0.3000 vs production dlae@1 0.4000" in reason
    assert "cold_ndcg_at_10 0.2200 vs 0.1000" in reason  # the cold score is reported, not used
    # and the converse: level on warm users, worse on cold ones, is promoted
    steady = version("dlae@3", {"ndcg_at_10": 0.15, "warm_ndcg_at_10": 0.40, "cold_ndcg_at_10": 0.05})
    assert decide(steady, production, tolerance=0.01)[0]


def test_holdout_scores_warm_and_cold_users_separately() -> None:
    # a non-MovieLens fixture: 30 users with history, 5 who only appear in the holdout
    rng = np.random.default_rng(0)
    rows = [(f"u{u}", f"i{i}", float(t)) for u in range(30) for t, i in enumerate(rng.choice(40, 12, replace=False))]
    train = pl.DataFrame(rows, schema=["user_id", "item_id", "rating"], orient="row").with_columns(
        pl.datetime(2024, 1, 1).alias("ts"), pl.lit("rating").alias("event")
    )
    later = [(f"u{u}", f"i{40 + u % 5}", 4.0) for u in range(30)] + [(f"new{u}", f"i{u}", 5.0) for u in range(5)]
    holdout = pl.DataFrame(later, schema=["user_id", "item_id", "rating"], orient="row").with_columns(
        pl.datetime(2024, 2, 1).alias("ts"), pl.lit("rating").alias("event")
    )
    items = pl.DataFrame({"item_id": [f"i{i}" for i in range(45)], "title": [f"t{i}" for i in range(45)]})
    metrics = holdout_metrics("popularity", Settings(), train, holdout, items)
    assert (metrics["warm_users"], metrics["cold_users"]) == (30, 5)
    assert {"ndcg_at_10", "warm_ndcg_at_10", "cold_ndcg_at_10"} <= set(metrics)
    assert metrics["warm_ndcg_at_10"] != metrics["cold_ndcg_at_10"]
    only_warm = holdout_metrics(
        "popularity", Settings(), train, holdout.filter(pl.col("user_id").str.starts_with("u")), items
    )
    assert only_warm["cold_users"] == 0 and "cold_ndcg_at_10" not in only_warm
    assert gate_metric(version("popularity@1", only_warm)) == "warm_ndcg_at_10"
