import polars as pl
import pytest

from chatrec.data.frames import interactions_frame
from chatrec.evaluation.splitting import ml100k_fold, per_user_random_split, temporal_split


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
