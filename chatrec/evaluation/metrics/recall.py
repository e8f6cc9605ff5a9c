"""Recall@k: hits in the top k divided by the user's number of relevant items."""

import polars as pl

from chatrec.evaluation.metrics._common import hit_stats


def recall_at_k(recommended: pl.DataFrame, relevant: pl.DataFrame, k: int, **columns: str) -> float:
    stats = hit_stats(recommended, relevant, k, **columns)
    return float((stats["n_hits"] / stats["n_relevant"]).mean() or 0.0)
