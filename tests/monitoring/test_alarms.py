"""The monitor's alarms on synthetic nights: quiet on unchanged data, each fires on its own change."""

from datetime import datetime, timedelta

import numpy as np
import polars as pl
import pytest

from chatrec.monitoring.alarms import alarm_checks, alarm_windows
from chatrec.settings import Settings

END = datetime(2024, 3, 1)


def history(days: int = 31, per_day: int = 200, seed: int = 0) -> pl.DataFrame:
    """Users with their own taste rating 300 items of long-tailed popularity, every day alike."""
    rng = np.random.default_rng(seed)
    n = days * per_day
    users = rng.integers(0, 400, n)
    weights = 1 / (np.arange(300) + 10)  # long-tailed, top item ~3% of interactions
    items = rng.choice(300, n, p=weights / weights.sum())
    taste = rng.normal(0, 0.5, 400)
    quality = rng.normal(0, 0.6, 300)
    ratings = np.clip(np.rint(3.5 + taste[users] + quality[items] + rng.normal(0, 0.8, n)), 1, 5)
    ts = [END - timedelta(days=days) + timedelta(seconds=float(s)) for s in np.sort(rng.uniform(0, days * 86400, n))]
    frame = pl.DataFrame(
        {"user_id": [f"u{u}" for u in users], "item_id": [f"i{i}" for i in items], "rating": ratings, "ts": ts}
    )
    first = frame.group_by("item_id").agg(pl.col("ts").min().alias("item_first_ts"))
    return frame.join(first, on="item_id")


def fired(frame: pl.DataFrame, **overrides: object) -> dict[str, bool]:
    settings = Settings(**overrides)
    checks = alarm_checks(frame, alarm_windows(END, settings), settings)
    return {check.name: check.fired for check in checks}


def tonight(frame: pl.DataFrame) -> pl.Expr:
    return pl.col("ts") >= END - timedelta(days=1)


def test_unchanged_data_raises_no_alarm() -> None:
    for seed in range(3):
        assert fired(history(seed=seed)) == {"rating_shift": False, "popularity_shock": False, "new_item_flood": False}


def test_a_rating_shift_starting_tonight_fires_only_the_rating_check() -> None:
    frame = history()
    shifted = frame.with_columns(
        pl.when(tonight(frame)).then((pl.col("rating") - 2).clip(1, 5)).otherwise(pl.col("rating")).alias("rating")
    )
    assert fired(shifted) == {"rating_shift": True, "popularity_shock": False, "new_item_flood": False}


def test_a_popularity_shock_fires() -> None:
    frame = history().with_row_index()
    shocked = frame.with_columns(
        pl.when(tonight(frame) & (pl.col("index") % 4 == 0)).then(pl.lit("i150")).otherwise("item_id").alias("item_id")
    ).drop("index")
    assert fired(shocked)["popularity_shock"]


def test_a_new_item_flood_fires() -> None:
    frame = history().with_row_index()
    flood = tonight(frame) & (pl.col("index") % 5 < 2)
    flooded = frame.with_columns(
        pl.when(flood).then(pl.format("new-{}", pl.col("index") % 20)).otherwise("item_id").alias("item_id"),
        pl.when(flood).then(pl.col("ts")).otherwise("item_first_ts").alias("item_first_ts"),
    ).drop("index")
    assert fired(flooded)["new_item_flood"]


def test_a_thin_night_is_not_judged_and_says_why() -> None:
    settings = Settings(alarm_min_interactions=10_000)
    checks = alarm_checks(history(), alarm_windows(END, settings), settings)
    assert all(check.value is None and not check.fired for check in checks)
    assert all("not judged" in check.message and "alarm_min_interactions" in check.message for check in checks)


def test_implicit_events_without_ratings_skip_only_the_rating_check() -> None:
    implicit = history().with_columns(pl.lit(None, dtype=pl.Float64).alias("rating"))
    settings = Settings()
    checks = {c.name: c for c in alarm_checks(implicit, alarm_windows(END, settings), settings)}
    assert checks["rating_shift"].value is None and "not judged" in checks["rating_shift"].message
    assert checks["popularity_shock"].value is not None and checks["new_item_flood"].value is not None


@pytest.mark.parametrize("name", ["rating_shift_threshold", "popularity_shock_threshold", "new_item_share_threshold"])
def test_thresholds_are_validated(name: str) -> None:
    with pytest.raises(ValueError, match=name):
        Settings(**{name: 0})
