"""NDCG@k with binary relevance: DCG over hits / the ideal DCG of min(n_relevant, k) hits."""

import math

import polars as pl

from chatrec.evaluation.metrics._common import hit_stats


def ideal_dcg(n: int) -> float:
    return sum(1.0 / math.log2(rank + 1) for rank in range(1, n + 1))


def ndcg_per_user(recommended: pl.DataFrame, relevant: pl.DataFrame, k: int, **columns: str) -> pl.DataFrame:
    """(user, ndcg) for every user with a relevant item, sorted by user: what paired comparisons need."""
    stats = hit_stats(recommended, relevant, k, **columns)
    ideal = stats["n_relevant"].map_elements(lambda n: ideal_dcg(min(n, k)), return_dtype=pl.Float64)
    col_user = columns.get("col_user", "user_id")
    return stats.select(col_user, (stats["dcg"] / ideal).alias("ndcg")).sort(col_user)


def ndcg_at_k(recommended: pl.DataFrame, relevant: pl.DataFrame, k: int, **columns: str) -> float:
    return float(ndcg_per_user(recommended, relevant, k, **columns)["ndcg"].mean() or 0.0)
