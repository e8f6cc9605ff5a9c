"""Per-user and per-item features from the warehouse.

Everything is set-based SQL by default (`queries/user_features.sql`: aggregates, history
sequences, favourite genres and the short taste summary used in LLM prompts); DuckDB does it for
25M interactions without Python touching a row. `use_dask=True` instead maps the per-user Python
(`taste_rows`) over user partitions on a Dask cluster (a LocalCluster, or `settings.dask_address`),
the scale-out shape for per-user work that is not SQL-shaped; both give the same rows. Partitions
get plain frames (not a DuckDB connection: one process holds the warehouse for writing).
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from chatrec.data.frames import feedback_events
from chatrec.logs import quiet_third_party
from chatrec.settings import Settings
from chatrec.warehouse import transaction

QUERIES = Path(__file__).parent / "queries"
LIKED = 4.0


@dataclass(frozen=True)
class FeatureRun:
    feature_run_id: str
    reused: bool
    n_users: int
    n_items: int
    dask_workers: int
    seconds: float


def taste_rows(history: pd.DataFrame) -> pd.DataFrame:
    """One partition of users -> top genres, recent item sequence and a taste summary per user."""
    rows = []
    for user_id, group in history.groupby("user_id", sort=False):
        rated = group["rating"].notna().any()
        # implicit feedback (no ratings): every interaction counts as liked
        liked = group[group["rating"] >= LIKED] if rated else group
        genres = Counter(
            g
            for gs in liked["genres"]
            for g in (gs if isinstance(gs, list | tuple | np.ndarray) else [])
            if g != "unknown"
        )
        top = [g for g, _ in genres.most_common(3)]
        favourites = liked.sort_values(["rating", "ts"], ascending=[False, False])["title"].head(3).tolist()
        activity = (
            f"Rated {len(group)} films (mean {group['rating'].mean():.1f}). "
            if rated
            else f"Interacted with {len(group)} items. "
        )
        summary = (
            activity
            + (f"Favourite genres: {', '.join(top)}. " if top else "")
            + (f"Loved: {'; '.join(favourites)}." if favourites else "")
        ).strip()
        rows.append(
            {
                "user_id": user_id,
                "top_genres": top,
                "recent_items": group["item_id"].head(10).tolist(),
                "taste_summary": summary,
            }
        )
    return pd.DataFrame(rows, columns=["user_id", "top_genres", "recent_items", "taste_summary"])


# What a LocalCluster's workers run with, beside Dask's defaults (a cluster at `dask_address` has its
# operator's; docs/operations.md gives the same settings):
LOCAL_WORKER_CONFIG = {
    # Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536, so glibc hands freed memory back to
    # the kernel at once: a model decoding token by token then spends half its time in the kernel
    # (measured: the LLM stage 2x slower, 40% system time). Our workers allocate big, short-lived arrays
    # and tensors, so they keep glibc's default; the one-thread-per-library settings stay.
    # (None unsets a variable there)
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
    # every worker samples its threads' stacks every 10 ms for the dashboard's profile, and our clusters
    # have no dashboard: off, the LLM stage ran 1.11x faster and the 5M batch run 1.11-1.17x
    # (docs/benchmarks.md); the event loop's 20 ms health tick wakes each process 50 times a second
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
}


# modules every LocalCluster worker process starts with: imported once, in the forkserver that forks
# the workers, instead of once per worker (~1.2 s of CPU each; the rest of the scoring code's imports
# take 0.2 s). At 5M interactions the 2-worker batch run's scoring took 22.6 s instead of 24.0 s
# (bench.scale, docs/benchmarks.md).
WORKER_PRELOAD = ("distributed", "torch", "polars", "scipy.sparse")


def _worker_start_config() -> dict[str, str]:
    """On Linux, LocalCluster workers start from a forkserver with WORKER_PRELOAD imported (Dask's
    `multiprocessing-method`; elsewhere Dask's default, spawn: macOS's frameworks are not safe to fork
    after import, and that is where it was measured). The preload is set before the forkserver first
    starts (a later cluster of this process reuses it, already warm); distributed would set its own
    list (its dependencies, imported into this process first) unless told it is set."""
    import multiprocessing

    import distributed.utils

    if not sys.platform.startswith("linux") or "forkserver" not in multiprocessing.get_all_start_methods():
        return {}
    distributed.utils._forkserver_preload_set = True
    multiprocessing.get_context("forkserver").set_forkserver_preload(list(WORKER_PRELOAD))
    return {"distributed.worker.multiprocessing-method": "forkserver"}


def dask_client(settings: Settings):
    """A client for settings.dask_address, else a LocalCluster sized to the machine (or dask_workers)."""
    import dask
    from distributed import Client, LocalCluster

    level = quiet_third_party(settings.verbose_logs)  # again: importing distributed sets its loggers to INFO
    if settings.dask_address:
        return Client(settings.dask_address)
    workers = settings.dask_workers or max(1, min(os.cpu_count() or 1, 4))
    with dask.config.set({**LOCAL_WORKER_CONFIG, **_worker_start_config()}):
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=level,
        )
    return Client(cluster)


def data_fingerprint(con: duckdb.DuckDBPyConnection) -> str:
    row = con.execute(
        "SELECT count(*), max(load_id), max(ts) FROM core.interactions WHERE list_contains(?, event)",
        [list(feedback_events(con))],
    ).fetchall()[0]
    items = con.execute("SELECT count(*), max(load_id) FROM core.items").fetchall()[0]
    return hashlib.sha256(repr((row, items)).encode()).hexdigest()


def extract_features(con: duckdb.DuckDBPyConnection, settings: Settings, *, use_dask: bool = False) -> FeatureRun:
    """Build one features run (or reuse the run built from the same data).

    Default: set-based in DuckDB (`queries/user_features.sql`), which at 5M interactions takes seconds
    where the per-user Python took minutes (bench.scale). `use_dask`: the per-user Python
    (`taste_rows`) mapped over user partitions on Dask instead, the scale-out path for per-user work
    that is not SQL-shaped; both build the same rows (tests/features)."""
    started = time.perf_counter()
    fingerprint = data_fingerprint(con)
    existing = con.execute(
        "SELECT feature_run_id, n_users, n_items, dask_workers, seconds FROM features.runs WHERE data_fingerprint = ?",
        [fingerprint],
    ).fetchall()
    if existing:
        run_id, n_users, n_items, workers, seconds = existing[0]
        return FeatureRun(run_id, True, n_users, n_items, workers or 0, seconds)
    events = {"events": list(feedback_events(con))}
    if not con.execute("SELECT count(*) FROM core.interactions").fetchall()[0][0]:
        raise ValueError("core.interactions is empty: ingest data before extracting features")
    run_id = f"features-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    workers = 0
    with transaction(con):
        if use_dask:
            features, workers = dask_user_features(con, settings, events)
            con.register("_user_features", features)
            con.execute(
                "INSERT INTO features.user_features SELECT ?, user_id, n_ratings, mean_rating, first_ts, last_ts,"
                " top_genres, recent_items, taste_summary FROM _user_features",
                [run_id],
            )
            con.unregister("_user_features")
        else:
            con.execute(
                "INSERT INTO features.user_features SELECT $run_id, user_id, n_ratings, mean_rating, first_ts,"
                f" last_ts, top_genres, recent_items, taste_summary FROM ({(QUERIES / 'user_features.sql').read_text()})",
                {**events, "run_id": run_id},
            )
        con.execute(
            "INSERT INTO features.item_features SELECT $run_id, item_id, n_ratings, mean_rating, popularity_rank"
            f" FROM ({(QUERIES / 'item_aggregates.sql').read_text()})",
            {**events, "run_id": run_id},
        )
        n_users, n_items = con.execute(
            "SELECT (SELECT count(*) FROM features.user_features WHERE feature_run_id = $run_id),"
            " (SELECT count(*) FROM features.item_features WHERE feature_run_id = $run_id)",
            {"run_id": run_id},
        ).fetchall()[0]
        seconds = time.perf_counter() - started
        con.execute(
            "INSERT INTO features.runs VALUES (?, ?, ?, ?, ?, ?, ?)",
            [run_id, fingerprint, datetime.now(UTC).replace(tzinfo=None), n_users, n_items, workers, seconds],
        )
    return FeatureRun(run_id, False, n_users, n_items, workers, seconds)


def dask_user_features(
    con: duckdb.DuckDBPyConnection, settings: Settings, events: dict[str, list[str]]
) -> tuple[pd.DataFrame, int]:
    """The user features with the taste part computed by `taste_rows` on Dask partitions of users."""
    import dask
    import dask.dataframe as dd

    users = con.execute((QUERIES / "user_aggregates.sql").read_text(), events).df()
    history = con.execute((QUERIES / "user_histories.sql").read_text(), events).df()
    client = dask_client(settings)
    try:
        workers = len(client.scheduler_info()["workers"])
        # partition by user so every user's history lands whole in one partition
        ids = sorted(history["user_id"].unique())
        n_parts = max(1, workers * 2)
        bounds = [ids[i * len(ids) // n_parts] for i in range(n_parts)] + [ids[-1]]
        # keep genre lists as Python objects (Dask would otherwise turn object columns into strings)
        with dask.config.set({"dataframe.convert-string": False}):
            frame = dd.from_pandas(history.set_index("user_id"), npartitions=1).repartition(divisions=bounds)
        tastes = (
            frame.reset_index()
            .map_partitions(
                taste_rows,
                meta={"user_id": object, "top_genres": object, "recent_items": object, "taste_summary": object},
            )
            .compute()
        )
    finally:
        client.close()
        if not settings.dask_address and client.cluster is not None:
            client.cluster.close()
    return users.merge(tastes, on="user_id", how="left"), workers
