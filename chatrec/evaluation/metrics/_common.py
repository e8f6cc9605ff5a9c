"""Shared joining of recommendations with relevant items for the ranking metrics."""

from __future__ import annotations

import polars as pl


def hit_stats(
    recommended: pl.DataFrame,
    relevant: pl.DataFrame,
    k: int,
    *,
    col_user: str = "user_id",
    col_item: str = "item_id",
    col_rank: str = "rank",
) -> pl.DataFrame:
    """One row per evaluated user (every user with >= 1 relevant item) with hit statistics in the top k.

    Columns: n_relevant, n_hits, dcg (sum of 1/log2(rank+1) over hits), ap_sum (sum over hits of
    precision at that hit's rank), first_hit (rank of the first hit, null if none). Users with relevant
    items but no recommendations count with zero hits, so they lower the averages as they should.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    top = recommended.filter(pl.col(col_rank) <= k).select(col_user, col_item, pl.col(col_rank).cast(pl.Float64))
    truth = relevant.select(col_user, col_item).unique()
    n_relevant = truth.group_by(col_user).agg(pl.len().alias("n_relevant"))
    per_hit = (
        top.join(truth, on=[col_user, col_item], how="inner")
        .sort(col_user, col_rank)
        .with_columns(pl.int_range(1, pl.len() + 1).over(col_user).alias("_hit_index"))
    )
    per_user = per_hit.group_by(col_user).agg(
        pl.len().alias("n_hits"),
        (1.0 / (pl.col(col_rank) + 1.0).log(2)).sum().alias("dcg"),
        (pl.col("_hit_index") / pl.col(col_rank)).sum().alias("ap_sum"),
        pl.col(col_rank).min().alias("first_hit"),
    )
    return n_relevant.join(per_user, on=col_user, how="left").with_columns(
        pl.col("n_hits").fill_null(0), pl.col("dcg").fill_null(0.0), pl.col("ap_sum").fill_null(0.0)
    )
