"""The protocols end to end on the packaged MovieLens 100K."""

from chatrec.data.frames import items_frame
from chatrec.evaluation.protocols import movielens_file_order, msr_benchmark_protocol, msr_benchmark_split
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
