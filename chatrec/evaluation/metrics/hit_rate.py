"""Hit rate@k: share of users with at least one relevant item in the top k."""

import polars as pl

from chatrec.evaluation.metrics._common import hit_stats


def hit_rate_at_k(recommended: pl.DataFrame, relevant: pl.DataFrame, k: int, **columns: str) -> float:
    stats = hit_stats(recommended, relevant, k, **columns)
    return float((stats["n_hits"] > 0).mean() or 0.0)
