"""Replay MovieLens 100K night by night through the monitor's alarms: false alarms and detection.

python -m bench.replay

A simulated clock steps over the data's own timestamps, one night (midnight to midnight, data time)
at a time, from the first night with a full `monitor_window_days` reference before it. Each night is
judged exactly as the monitor judges the newest night in the warehouse (`chatrec.monitoring.alarms`,
same SQL, default settings):

- unchanged data: every alarm that fires is a false alarm;
- injected changes, each starting on that night (the night's rows are changed, the reference is not):
  rating shift (-1 and -2 stars, clipped to 1..5), popularity shock (25% of the night's interactions
  go to one mid-popularity item of the reference), new-item flood (40% of the night's interactions go
  to 20 items never seen before). Detected = the matching check fires on that night.

Nights with fewer than `alarm_min_interactions` interactions are not judged and are counted apart.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import datetime, timedelta

import numpy as np
import polars as pl

from bench.common import ml100k_warehouse, read_only, write_result
from chatrec.monitoring.alarms import AlarmWindows, alarm_checks, alarm_frame, alarm_windows
from chatrec.settings import Settings

Injection = Callable[[pl.DataFrame, AlarmWindows, np.random.Generator], pl.DataFrame]


def tonight(rows: pl.DataFrame, windows: AlarmWindows) -> pl.Expr:
    return pl.col("ts") >= windows.night_start


def shift_ratings(stars: int) -> Injection:
    def inject(rows: pl.DataFrame, windows: AlarmWindows, rng: np.random.Generator) -> pl.DataFrame:
        shifted = (pl.col("rating") - stars).clip(1, 5).cast(rows.schema["rating"])
        return rows.with_columns(pl.when(tonight(rows, windows)).then(shifted).otherwise(pl.col("rating")))

    return inject


def chosen_rows(rows: pl.DataFrame, windows: AlarmWindows, rng: np.random.Generator, share: float) -> pl.Series:
    night = rows.select(tonight(rows, windows)).to_series().to_numpy()
    return pl.Series(night & (rng.random(rows.height) < share))


def popularity_shock(share: float) -> Injection:
    def inject(rows: pl.DataFrame, windows: AlarmWindows, rng: np.random.Generator) -> pl.DataFrame:
        reference = rows.filter(pl.col("ts") < windows.night_start)
        counts = reference.group_by("item_id").len().sort(["len", "item_id"])
        item = counts["item_id"][counts.height // 2]  # a mid-popularity item suddenly everywhere
        first_ts = reference.filter(pl.col("item_id") == item)["item_first_ts"].min()
        mask = chosen_rows(rows, windows, rng, share)
        return rows.with_columns(
            pl.when(mask).then(pl.lit(item)).otherwise(pl.col("item_id")).alias("item_id"),
            pl.when(mask).then(pl.lit(first_ts)).otherwise(pl.col("item_first_ts")).alias("item_first_ts"),
        )

    return inject


def new_item_flood(share: float, n_items: int = 20) -> Injection:
    def inject(rows: pl.DataFrame, windows: AlarmWindows, rng: np.random.Generator) -> pl.DataFrame:
        mask = chosen_rows(rows, windows, rng, share)
        new_ids = pl.Series([f"new-{i}" for i in rng.integers(0, n_items, rows.height)])
        return rows.with_columns(
            pl.when(mask).then(new_ids).otherwise(pl.col("item_id")).alias("item_id"),
            pl.when(mask).then(pl.col("ts")).otherwise(pl.col("item_first_ts")).alias("item_first_ts"),
        )

    return inject


SCENARIOS: dict[str, tuple[str | None, Injection | None]] = {
    "unchanged": (None, None),
    "rating shift -1 star": ("rating_shift", shift_ratings(1)),
    "rating shift -2 stars": ("rating_shift", shift_ratings(2)),
    "popularity shock 25%": ("popularity_shock", popularity_shock(0.25)),
    "new-item flood 40%": ("new_item_flood", new_item_flood(0.40)),
}


def nights(first: datetime, last: datetime, settings: Settings) -> list[datetime]:
    """Night ends (midnights, data time) with a full reference period before the night."""
    midnight = datetime(first.year, first.month, first.day) + timedelta(days=1)
    start = midnight + timedelta(days=settings.monitor_window_days) + timedelta(hours=settings.alarm_night_hours)
    ends = []
    while start <= last + timedelta(days=1):
        ends.append(start)
        start += timedelta(days=1)
    return ends


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    settings = Settings()
    con = read_only(ml100k_warehouse())
    first, last = con.execute("SELECT min(ts), max(ts) FROM core.interactions").fetchall()[0]
    ends = nights(first, last, settings)
    tally = {name: {"judged": 0, "detected": 0, "any_alarm": 0, "fired": {}} for name in SCENARIOS}
    not_judged = 0
    rng = np.random.default_rng(args.seed)
    for end in ends:
        windows = alarm_windows(end, settings)
        rows = alarm_frame(con, windows)
        for name, (expected, inject) in SCENARIOS.items():
            changed = rows if inject is None else inject(rows, windows, rng)
            checks = alarm_checks(changed, windows, settings)
            if all(check.value is None for check in checks):
                not_judged += name == "unchanged"
                continue
            entry = tally[name]
            entry["judged"] += 1
            fired = [check.name for check in checks if check.fired]
            entry["any_alarm"] += bool(fired)
            entry["detected"] += expected in fired
            for check in fired:
                entry["fired"][check] = entry["fired"].get(check, 0) + 1
    con.close()
    rows_out = []
    for name, (expected, _) in SCENARIOS.items():
        entry = tally[name]
        judged = entry["judged"]
        row = {"scenario": name, "expected_check": expected, **entry}
        row["rate"] = (entry["any_alarm"] if expected is None else entry["detected"]) / judged if judged else None
        rows_out.append(row)
    print(f"{len(ends)} nights replayed, {not_judged} not judged (< {settings.alarm_min_interactions} interactions)")
    print("| scenario | nights judged | alarm on the night (rate) | checks fired |")
    print("|---|---|---|---|")
    for row in rows_out:
        count = row["any_alarm"] if row["expected_check"] is None else row["detected"]
        fired = ", ".join(f"{k} {v}" for k, v in sorted(row["fired"].items())) or "none"
        print(f"| {row['scenario']} | {row['judged']} | {count} ({row['rate']:.1%}) | {fired} |")
    defaults = {
        name: getattr(settings, name)
        for name in (
            "monitor_window_days", "alarm_night_hours", "alarm_min_interactions", "rating_shift_threshold",
            "popularity_shock_threshold", "new_item_share_threshold",
        )
    }  # fmt: skip
    path = write_result(
        "replay",
        {"nights": len(ends), "not_judged": not_judged, "settings": defaults, "seed": args.seed, "scenarios": rows_out},
    )
    print(f"written {path}")


if __name__ == "__main__":
    main()
