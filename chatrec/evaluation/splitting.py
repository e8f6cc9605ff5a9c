"""Train/test splitters over an interactions frame. Each returns (train, test)."""

from __future__ import annotations

import hashlib

import numpy as np
import polars as pl

ML100K_FOLD_SIZE = 20_000


def per_user_random_split(
    frame: pl.DataFrame, test_ratio: float, *, seed: int, col_user: str = "user_id"
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Hold out `test_ratio` of each user's rows at random (rounded; users with one row keep it in train).

    This is the Chat-Rec protocol's 80/20 split, and the per-user stratified 75/25 split the
    issue's full-catalogue protocol names (Microsoft Recommenders' `filter_by="user"`).

    Each user's rows are ordered by draws from that user's own stream, seeded by a hash of
    (seed, user id), so users are split independently of each other. A single seeded
    permutation per group (`shuffle(seed).over(user)`) gives every user with the same number of
    rows the same positions held out, which ties the splits of users together. The same seed,
    user ids and row order give the same split on any machine (the hash is blake2b, not Python's
    salted `hash`).
    """
    if not 0 < test_ratio < 1:
        raise ValueError(f"test_ratio must be in (0, 1), got {test_ratio}")
    indexed = frame.with_row_index("_row").with_columns(
        pl.int_range(pl.len()).over(col_user).alias("_nth"), pl.len().over(col_user).alias("_count")
    )
    user_ids = indexed[col_user].unique()
    user_seeds = pl.DataFrame(
        {col_user: user_ids, "_user_seed": [user_stream_seed(seed, user) for user in user_ids.to_list()]},
        schema={col_user: frame.schema[col_user], "_user_seed": pl.UInt64},
    )
    with_seed = indexed.join(user_seeds, on=col_user, how="left").sort("_row")
    draws = counter_draws(with_seed["_user_seed"].to_numpy(), with_seed["_nth"].to_numpy())
    shuffled = with_seed.with_columns(pl.Series("_draw", draws)).with_columns(
        (pl.col("_draw").rank("ordinal").over(col_user) - 1).alias("_position")
    )
    in_test = pl.col("_position") < (pl.col("_count") * test_ratio).round(0).cast(pl.Int64)
    drop = ["_row", "_nth", "_count", "_user_seed", "_draw", "_position"]
    train = shuffled.filter(~in_test).sort("_row").drop(drop)
    test = shuffled.filter(in_test).sort("_row").drop(drop)
    return train, test


def user_stream_seed(seed: int, user: object) -> int:
    """A 64-bit seed for one user's random stream: blake2b of the split seed and the user id."""
    digest = hashlib.blake2b(f"{seed}\x1f{user}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def counter_draws(stream_seeds: np.ndarray, counters: np.ndarray) -> np.ndarray:
    """SplitMix64 of (stream seed, counter): the counter-th draw of each row's stream, vectorised."""
    golden = np.uint64(0x9E3779B97F4A7C15)
    with np.errstate(over="ignore"):
        z = stream_seeds.astype(np.uint64) + (counters.astype(np.uint64) + np.uint64(1)) * golden
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


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


def random_k_fold(frame: pl.DataFrame, folds: int = 5, *, seed: int) -> list[tuple[pl.DataFrame, pl.DataFrame]]:
    """(train, test) for each of `folds` seeded random folds of the rows: every row is tested once.

    The rating protocol's split for data without official folds (anything but ML-100K's u1..u5)."""
    if folds < 2:
        raise ValueError(f"k-fold needs at least 2 folds, got {folds}")
    if frame.height < folds:
        raise ValueError(f"{folds}-fold needs at least {folds} rows, got {frame.height}")
    order = np.random.default_rng(seed).permutation(frame.height)
    fold_of_row = np.empty(frame.height, dtype=np.int64)
    fold_of_row[order] = np.arange(frame.height) % folds
    indexed = frame.with_columns(pl.Series("_fold", fold_of_row))
    return [
        (indexed.filter(pl.col("_fold") != fold).drop("_fold"), indexed.filter(pl.col("_fold") == fold).drop("_fold"))
        for fold in range(folds)
    ]


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
