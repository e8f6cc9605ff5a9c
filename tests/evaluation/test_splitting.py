import polars as pl
import pytest

from chatrec.data.frames import interactions_frame
from chatrec.evaluation.protocols import movielens_file_order
from chatrec.evaluation.splitting import (
    ml100k_fold,
    per_item_stratified_split,
    per_user_random_split,
    random_k_fold,
    temporal_split,
)


def sample() -> pl.DataFrame:
    users = [str(u) for u in range(20) for _ in range(10)]
    return pl.DataFrame({"user_id": users, "item_id": [str(i) for i in range(200)], "ts": list(range(200))})


def test_per_user_random_split_holds_out_each_users_share() -> None:
    frame = sample()
    train, test = per_user_random_split(frame, 0.2, seed=1)
    assert train.height + test.height == frame.height
    assert test.group_by("user_id").len()["len"].to_list() == [2] * 20
    assert train.join(test, on=["user_id", "item_id"]).height == 0
    again, _ = per_user_random_split(frame, 0.2, seed=1)
    assert again.equals(train)
    other, _ = per_user_random_split(frame, 0.2, seed=2)
    assert not other.equals(train)


def test_per_user_random_split_draws_each_user_independently() -> None:
    # 50 users with the same 10 rows each (positions 0..9 in frame order): a single permutation per
    # group would hold out the same two positions for every one of them
    frame = pl.DataFrame(
        {
            "user_id": [f"u{u}" for u in range(50) for _ in range(10)],
            "item_id": [f"i{n}" for _ in range(50) for n in range(10)],
        }
    )
    _, test = per_user_random_split(frame, 0.2, seed=7)
    held_out_sets = {tuple(sorted(group["item_id"].to_list())) for _, group in test.group_by("user_id")}
    assert len(held_out_sets) > 25  # 45 possible pairs; 50 independent users cover most of them
    first, second = (test.filter(pl.col("user_id") == user)["item_id"].sort().to_list() for user in ("u0", "u1"))
    assert first != second  # two users with equal counts, different held-out rows
    # reproducible, and a user's split does not depend on which other users are in the frame
    again, _ = per_user_random_split(frame.reverse().reverse(), 0.2, seed=7)
    assert again.equals(per_user_random_split(frame, 0.2, seed=7)[0])
    _, alone = per_user_random_split(frame.filter(pl.col("user_id") == "u3"), 0.2, seed=7)
    assert alone.equals(test.filter(pl.col("user_id") == "u3"))


def test_per_user_random_split_of_integer_user_ids_matches_their_text() -> None:
    # the per-user seed hashes the id's text, so a warehouse's VARCHAR ids and a frame of integers split alike
    numbers = pl.DataFrame({"user_id": [u for u in range(30) for _ in range(6)], "item_id": list(range(180))})
    text = numbers.with_columns(pl.col("user_id").cast(pl.Utf8))
    _, by_number = per_user_random_split(numbers, 0.5, seed=3)
    _, by_text = per_user_random_split(text, 0.5, seed=3)
    assert by_number["item_id"].to_list() == by_text["item_id"].to_list()


def test_per_item_stratified_split_matches_microsoft_recommenders_by_hand() -> None:
    # numpy.random.RandomState(0).rand(5) = .549 .715 .603 .545 .424. Item a's four rows rank
    # 2, 4, 3, 1 by draw, i.e. shares .5, 1, .75, .25: train unless share > .75. Item b's only row
    # has share 1, so it is tested, as in their splitter.
    frame = pl.DataFrame({"user_id": ["u1", "u2", "u3", "u4", "u1"], "item_id": ["a", "a", "a", "a", "b"]})
    train, test = per_item_stratified_split(frame, 0.75, seed=0)
    assert train.rows() == [("u1", "a"), ("u3", "a"), ("u4", "a")]
    assert test.rows() == [("u2", "a"), ("u1", "b")]
    with pytest.raises(ValueError, match="train_ratio"):
        per_item_stratified_split(frame, 1.0)


def test_per_item_stratified_split_of_ml100k_keeps_each_items_share(ml100k_warehouse) -> None:
    ratings = movielens_file_order(ml100k_warehouse)
    assert ratings.columns == ["user_id", "item_id", "rating", "ts"] and ratings["ts"].null_count() == 0
    train, test = per_item_stratified_split(ratings, 0.75, seed=42)
    assert train.height + test.height == 100_000
    assert train.join(test, on=["user_id", "item_id"]).height == 0
    counts = ratings.group_by("item_id").len().join(train.group_by("item_id").len(), on="item_id", how="left")
    expected = (counts["len"] * 0.75 + 1e-9).floor()  # floor(0.75 n) of each item's n ratings train
    assert counts["len_right"].fill_null(0).cast(pl.Float64).to_list() == expected.to_list()
    again, _ = per_item_stratified_split(ratings, 0.75, seed=42)
    assert again.equals(train)


def test_temporal_split_tests_on_the_latest_rows() -> None:
    train, test = temporal_split(sample(), 0.1)
    assert test.height == 20 and train["ts"].max() < test["ts"].min()


def test_ml100k_official_folds_partition_the_data(ml100k_warehouse) -> None:
    ratings = ml100k_warehouse.sql(
        "SELECT r.user_id, r.item_id, r.rating FROM raw.interactions r ORDER BY r.source_line"
    ).pl()
    tests = []
    for fold in range(1, 6):
        train, test = ml100k_fold(ratings, fold)
        assert (train.height, test.height) == (80_000, 20_000)
        tests.append(test)
    union = pl.concat(tests)
    assert union.unique().height == 100_000  # the five test sets are disjoint and cover everything
    # u1.test starts with u.data's first line (GroupLens: 196 242 3 881250949)
    assert tests[0].row(0) == ("196", "242", "3")
    with pytest.raises(ValueError, match=r"1\.\.5"):
        ml100k_fold(ratings, 6)
    assert interactions_frame(ml100k_warehouse).height == 100_000


def test_random_k_fold_tests_every_row_once() -> None:
    frame = sample()
    folds = random_k_fold(frame, 5, seed=3)
    tested = pl.concat([test for _, test in folds])
    assert sorted(tested["item_id"].to_list()) == sorted(frame["item_id"].to_list())
    assert all(train.height == 160 and test.height == 40 for train, test in folds)
    assert [t.equals(a) for (_, t), (_, a) in zip(folds, random_k_fold(frame, 5, seed=3), strict=True)] == [True] * 5
    with pytest.raises(ValueError, match="at least 2 folds"):
        random_k_fold(frame, 1, seed=0)
