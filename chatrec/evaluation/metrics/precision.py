"""Precision@k: hits in the top k divided by k, averaged over users with relevant items."""

import polars as pl

from chatrec.evaluation.metrics._common import hit_stats


def precision_at_k(recommended: pl.DataFrame, relevant: pl.DataFrame, k: int, **columns: str) -> float:
    stats = hit_stats(recommended, relevant, k, **columns)
    return float((stats["n_hits"] / k).mean() or 0.0)
