"""MRR@k: reciprocal rank of the first relevant item in the top k (0 when none)."""

import polars as pl

from chatrec.evaluation.metrics._common import hit_stats


def mrr_at_k(recommended: pl.DataFrame, relevant: pl.DataFrame, k: int, **columns: str) -> float:
    stats = hit_stats(recommended, relevant, k, **columns)
    return float((1.0 / stats["first_hit"]).fill_null(0.0).mean() or 0.0)
