"""Novelty: mean self-information -log2(p(item)) of recommended items, p = share of training users
who interacted with the item (Zhou et al. 2010). Higher = less popular recommendations."""

import math

import polars as pl


def novelty(
    recommended: pl.DataFrame, train: pl.DataFrame, *, col_user: str = "user_id", col_item: str = "item_id"
) -> float:
    n_users = train.get_column(col_user).n_unique()
    popularity = train.group_by(col_item).agg((pl.col(col_user).n_unique() / n_users).alias("p"))
    joined = recommended.join(popularity, on=col_item, how="left").with_columns(
        pl.col("p").fill_null(1.0 / (n_users + 1))  # never seen in training: rarer than anything seen
    )
    return float((-joined["p"].log(2)).mean() or 0.0) if joined.height else math.nan
