"""MAP@k: mean over users of average precision at k, normalised by min(n_relevant, k)."""

import polars as pl

from chatrec.evaluation.metrics._common import hit_stats


def map_at_k(recommended: pl.DataFrame, relevant: pl.DataFrame, k: int, **columns: str) -> float:
    stats = hit_stats(recommended, relevant, k, **columns)
    denominator = stats["n_relevant"].clip(upper_bound=k)
    return float((stats["ap_sum"] / denominator).mean() or 0.0)
