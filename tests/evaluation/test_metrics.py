"""Each metric against values computed by hand for a small case.

User A: relevant {a, b, c}; recommended a, x, b, y, z (hits at ranks 1 and 3).
User B: relevant {q}; recommended nothing relevant.
User C: has recommendations but nothing relevant, so is not evaluated.
"""

import math

import numpy as np
import polars as pl
import pytest

from chatrec.evaluation.metrics import (
    catalogue_coverage,
    hit_rate_at_k,
    intra_list_diversity,
    mae,
    map_at_k,
    mrr_at_k,
    ndcg_at_k,
    novelty,
    precision_at_k,
    recall_at_k,
    rmse,
)

RECOMMENDED = pl.DataFrame(
    {
        "user_id": ["A"] * 5 + ["B"] * 3 + ["C"] * 2,
        "rank": [1, 2, 3, 4, 5, 1, 2, 3, 1, 2],
        "item_id": ["a", "x", "b", "y", "z", "x", "y", "z", "a", "b"],
    }
)
RELEVANT = pl.DataFrame({"user_id": ["A", "A", "A", "B"], "item_id": ["a", "b", "c", "q"]})
IDCG3 = 1 + 1 / math.log2(3) + 1 / math.log2(4)


@pytest.mark.parametrize(
    ("metric", "k", "expected"),
    [
        (precision_at_k, 5, (2 / 5 + 0) / 2),
        (precision_at_k, 2, (1 / 2 + 0) / 2),
        (recall_at_k, 5, (2 / 3 + 0) / 2),
        (recall_at_k, 2, (1 / 3 + 0) / 2),
        (ndcg_at_k, 5, ((1 + 1 / math.log2(4)) / IDCG3) / 2),
        (ndcg_at_k, 2, (1 / (1 + 1 / math.log2(3))) / 2),
        (map_at_k, 5, ((1 / 1 + 2 / 3) / 3) / 2),
        (map_at_k, 2, ((1 / 1) / 2) / 2),
        (mrr_at_k, 5, (1 + 0) / 2),
        (hit_rate_at_k, 5, 0.5),
    ],
)
def test_ranking_metrics_match_hand_computed_values(metric, k: int, expected: float) -> None:
    assert metric(RECOMMENDED, RELEVANT, k) == pytest.approx(expected)


def test_perfect_ranking_scores_one() -> None:
    recommended = pl.DataFrame({"user_id": ["A", "A", "A"], "rank": [1, 2, 3], "item_id": ["a", "b", "c"]})
    relevant = RELEVANT.filter(pl.col("user_id") == "A")
    for metric in (precision_at_k, recall_at_k, ndcg_at_k, map_at_k, mrr_at_k, hit_rate_at_k):
        assert metric(recommended, relevant, 3) == pytest.approx(1.0), metric.__name__


def test_users_without_recommendations_count_as_misses() -> None:
    recommended = RECOMMENDED.filter(pl.col("user_id") == "A")
    assert precision_at_k(recommended, RELEVANT, 5) == pytest.approx((2 / 5) / 2)


def test_column_names_are_configurable() -> None:
    renamed = RECOMMENDED.rename({"user_id": "u", "item_id": "i", "rank": "r"})
    truth = RELEVANT.rename({"user_id": "u", "item_id": "i"})
    assert precision_at_k(renamed, truth, 5, col_user="u", col_item="i", col_rank="r") == pytest.approx(0.2)


def test_coverage_novelty_diversity() -> None:
    assert catalogue_coverage(RECOMMENDED, 10) == pytest.approx(5 / 10)  # a, b, x, y, z
    train = pl.DataFrame({"user_id": ["1", "2", "3", "4"], "item_id": ["a", "a", "b", "x"]})
    one_list = pl.DataFrame({"user_id": ["A", "A"], "rank": [1, 2], "item_id": ["a", "b"]})
    # p(a) = 2/4, p(b) = 1/4 -> self-information 1 and 2 bits
    assert novelty(one_list, train) == pytest.approx(1.5)
    items = pl.DataFrame({"item_id": ["a", "b"], "genres": [["Drama", "War"], ["Drama"]]})
    assert intra_list_diversity(one_list, items) == pytest.approx(1 - 1 / 2)


def test_rating_errors() -> None:
    truth, predicted = np.array([4.0, 2.0, 5.0]), np.array([3.0, 2.0, 3.0])
    assert rmse(truth, predicted) == pytest.approx(math.sqrt((1 + 0 + 4) / 3))
    assert mae(truth, predicted) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="same shape"):
        rmse(truth, predicted[:2])
