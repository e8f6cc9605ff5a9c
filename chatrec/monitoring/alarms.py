"""Alarms: tonight's interactions against the period before them, with thresholds calibrated not to fire
on unchanged data (see `python -m bench.replay` and docs/monitoring.md).

The Evidently drift reports compare whole windows and say how data moved; on real data the active
cohort moves every week, so those are information. An alarm asks three narrow questions about the
**night** (the last `alarm_night_hours`, ending at the newest interaction) against the **reference**
(the `monitor_window_days` just before the night):

- rating shift: per user of the night, the mean residual (rating minus the item's mean rating in the
  reference, the reference's overall mean for items it lacks); the median over users, minus the same
  figure for the reference's users. Users, not ratings, are the unit: one user rating 700 films low is
  taste, every user rating low is a change.
- popularity shock: the share of the night's interactions on its single most frequent item;
- new-item flood: the share of the night's interactions on items never seen before the night.

A night with fewer than `alarm_min_interactions` interactions is not judged (each check says so).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb
import polars as pl

from chatrec.monitoring.reports import frame
from chatrec.settings import Settings


@dataclass(frozen=True)
class AlarmWindows:
    reference_start: datetime
    night_start: datetime
    end: datetime  # exclusive

    def describe(self) -> str:
        return (
            f"night {self.night_start:%Y-%m-%d %H:%M} to {self.end:%Y-%m-%d %H:%M} vs reference "
            f"{self.reference_start:%Y-%m-%d %H:%M} to {self.night_start:%Y-%m-%d %H:%M}"
        )


@dataclass(frozen=True)
class AlarmCheck:
    name: str  # rating_shift | popularity_shock | new_item_flood
    value: float | None  # None: not judged (too little data, no ratings)
    threshold: float
    fired: bool
    message: str


def alarm_windows(end: datetime, settings: Settings) -> AlarmWindows:
    """The night ending at `end` (exclusive) and the reference period before it."""
    night_start = end - timedelta(hours=settings.alarm_night_hours)
    return AlarmWindows(night_start - timedelta(days=settings.monitor_window_days), night_start, end)


def median_user_residual(rows: pl.DataFrame, item_means: pl.DataFrame, overall_mean: float) -> float:
    residuals = rows.join(item_means, on="item_id", how="left").select(
        "user_id", (pl.col("rating") - pl.col("item_mean").fill_null(overall_mean)).alias("residual")
    )
    per_user = residuals.group_by("user_id").agg(pl.col("residual").mean())
    return float(per_user.get_column("residual").median())  # type: ignore[arg-type]


def rating_shift(night: pl.DataFrame, reference: pl.DataFrame, threshold: float) -> AlarmCheck:
    night, reference = night.drop_nulls("rating"), reference.drop_nulls("rating")
    if night.is_empty() or reference.is_empty():
        return AlarmCheck("rating_shift", None, threshold, False, "rating shift: no ratings on one side, not judged")
    item_means = reference.group_by("item_id").agg(pl.col("rating").mean().alias("item_mean"))
    overall = float(reference.get_column("rating").mean())  # type: ignore[arg-type]
    shift = median_user_residual(night, item_means, overall) - median_user_residual(reference, item_means, overall)
    fired = abs(shift) > threshold
    return AlarmCheck(
        "rating_shift", shift, threshold, fired,
        f"rating shift: median user residual moved {shift:+.2f} stars "
        f"({night['user_id'].n_unique()} users tonight){' > ' if fired else ', within ±'}{threshold:.2f}",
    )  # fmt: skip


def popularity_shock(night: pl.DataFrame, reference: pl.DataFrame, threshold: float) -> AlarmCheck:
    def top_share(rows: pl.DataFrame) -> tuple[str, float]:
        counts = rows.group_by("item_id").len().sort(["len", "item_id"], descending=[True, False])
        return str(counts["item_id"][0]), float(counts["len"][0]) / rows.height

    item, share = top_share(night)
    reference_share = top_share(reference)[1] if not reference.is_empty() else 0.0
    fired = share > threshold
    return AlarmCheck(
        "popularity_shock", share, threshold, fired,
        f"popularity shock: item {item} has {share:.1%} of tonight's interactions (reference top item "
        f"{reference_share:.1%}){' > ' if fired else ', within '}{threshold:.0%}",
    )  # fmt: skip


def new_item_flood(night: pl.DataFrame, night_start: datetime, threshold: float) -> AlarmCheck:
    new = night.filter(pl.col("item_first_ts") >= night_start)
    share = new.height / night.height
    fired = share > threshold
    return AlarmCheck(
        "new_item_flood", share, threshold, fired,
        f"new-item flood: {share:.1%} of tonight's interactions on {new['item_id'].n_unique()} items never seen "
        f"before{' > ' if fired else ', within '}{threshold:.0%}",
    )  # fmt: skip


def alarm_checks(interactions: pl.DataFrame, windows: AlarmWindows, settings: Settings) -> list[AlarmCheck]:
    """The three checks on `interactions` (user_id, item_id, rating, ts, item_first_ts) of [reference_start, end)."""
    night = interactions.filter(pl.col("ts") >= windows.night_start, pl.col("ts") < windows.end)
    reference = interactions.filter(pl.col("ts") >= windows.reference_start, pl.col("ts") < windows.night_start)
    thresholds = {
        "rating_shift": settings.rating_shift_threshold,
        "popularity_shock": settings.popularity_shock_threshold,
        "new_item_flood": settings.new_item_share_threshold,
    }
    if night.height < settings.alarm_min_interactions:
        message = (
            f"{night.height} interactions tonight (< alarm_min_interactions={settings.alarm_min_interactions}), "
            "not judged"
        )
        return [AlarmCheck(name, None, value, False, f"{name}: {message}") for name, value in thresholds.items()]
    return [
        rating_shift(night, reference, thresholds["rating_shift"]),
        popularity_shock(night, reference, thresholds["popularity_shock"]),
        new_item_flood(night, windows.night_start, thresholds["new_item_flood"]),
    ]


def alarm_frame(con: duckdb.DuckDBPyConnection, windows: AlarmWindows) -> pl.DataFrame:
    return frame(con, "alarm_interactions", {"ref_start": windows.reference_start, "end": windows.end})


def warehouse_alarms(con: duckdb.DuckDBPyConnection, settings: Settings) -> tuple[AlarmWindows, list[AlarmCheck]]:
    """The alarm checks for the night ending at the newest interaction in the warehouse."""
    last = con.execute("SELECT max(ts) FROM core.interactions").fetchall()[0][0]
    if last is None:
        raise LookupError("core.interactions is empty: nothing to monitor")
    windows = alarm_windows(last + timedelta(microseconds=1), settings)
    return windows, alarm_checks(alarm_frame(con, windows), windows, settings)
