"""Train/test splitters over an interactions frame. Each returns (train, test)."""

from __future__ import annotations

import numpy as np
import polars as pl

ML100K_FOLD_SIZE = 20_000


def per_user_random_split(
    frame: pl.DataFrame, test_ratio: float, *, seed: int, col_user: str = "user_id"
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Hold out `test_ratio` of each user's rows at random (rounded; users with one row keep it in train).

    This is the Chat-Rec protocol's 80/20 split, and the per-user stratified 75/25 split the
    issue's full-catalogue protocol names (Microsoft Recommenders' `filter_by="user"`).
    """
    if not 0 < test_ratio < 1:
        raise ValueError(f"test_ratio must be in (0, 1), got {test_ratio}")
    shuffled = frame.with_row_index("_row").with_columns(
        pl.int_range(pl.len()).shuffle(seed=seed).over(col_user).alias("_position"),
        pl.len().over(col_user).alias("_count"),
    )
    in_test = pl.col("_position") < (pl.col("_count") * test_ratio).round(0).cast(pl.Int64)
    drop = ["_row", "_position", "_count"]
    train = shuffled.filter(~in_test).sort("_row").drop(drop)
    test = shuffled.filter(in_test).sort("_row").drop(drop)
    return train, test


def per_item_stratified_split(
    frame: pl.DataFrame, train_ratio: float = 0.75, *, seed: int = 42, col_item: str = "item_id"
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Microsoft Recommenders' `python_stratified_split(ratio, filter_by="item", seed)`, row for row.

    Their ML-100K benchmark (the BPR and BiVAE numbers the full-catalogue anchors come from) splits
    each ITEM's ratings, not each user's: every row draws `numpy.random.seed(seed); rand()` in frame
    order, rows are ranked by that draw within their item, and a row goes to train when
    rank / item_count <= train_ratio. So an item rated once lands in test, and a user's share of
    test rows varies. Given the ratings in u.data order (`movielens_file_order`) and seed 42 this
    reproduces their split exactly.
    """
    if not 0 < train_ratio < 1:
        raise ValueError(f"train_ratio must be in (0, 1), got {train_ratio}")
    draws = np.random.RandomState(seed).rand(frame.height)  # the legacy global stream they seed
    ranked = (
        frame.with_row_index("_row")
        .with_columns(pl.Series("_draw", draws))
        .with_columns(((pl.col("_draw").rank("ordinal").over(col_item)) / pl.len().over(col_item)).alias("_share"))
    )
    in_train = pl.col("_share") <= train_ratio
    drop = ["_row", "_draw", "_share"]
    return ranked.filter(in_train).sort("_row").drop(drop), ranked.filter(~in_train).sort("_row").drop(drop)


def temporal_split(
    frame: pl.DataFrame, test_ratio: float = 0.1, *, col_time: str = "ts"
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Train on the past, test on the last `test_ratio` of rows by time (the nightly setting)."""
    if not 0 < test_ratio < 1:
        raise ValueError(f"test_ratio must be in (0, 1), got {test_ratio}")
    ordered = frame.sort(col_time, maintain_order=True)
    cut = round(ordered.height * (1 - test_ratio))
    return ordered.head(cut), ordered.tail(ordered.height - cut)


def ml100k_fold(frame_in_file_order: pl.DataFrame, fold: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The official MovieLens 100K u{fold}.base / u{fold}.test split (fold 1..5).

    GroupLens' mku.sh takes u.data in file order and uses rows 20000*(fold-1)+1 .. 20000*fold as
    the test set; the packaged copy keeps u.data's order, so the frame must be in load order.
    """
    if fold not in range(1, 6):
        raise ValueError(f"fold must be 1..5, got {fold}")
    if frame_in_file_order.height != 5 * ML100K_FOLD_SIZE:
        raise ValueError(f"the official folds need the 100,000 ML-100K ratings, got {frame_in_file_order.height}")
    indexed = frame_in_file_order.with_row_index("_row")
    lower, upper = ML100K_FOLD_SIZE * (fold - 1), ML100K_FOLD_SIZE * fold
    is_test = (pl.col("_row") >= lower) & (pl.col("_row") < upper)
    return indexed.filter(~is_test).drop("_row"), indexed.filter(is_test).drop("_row")
