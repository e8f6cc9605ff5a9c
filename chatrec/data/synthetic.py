"""MovieLens-shaped synthetic data of any size, deterministic by seed, written in bounded memory.

Why synthetic: MovieLens 25M/1B cannot be shipped or downloaded here, yet the pipeline must be
exercised at those sizes. The shape is what matters to the pipeline's costs:
- item popularity is Zipf-like (a few items get most interactions, a long tail gets few or none);
- user activity is log-normal (many users with one or a few interactions, a few heavy users);
- users prefer a handful of item clusters (the clusters double as genres), so the data has
  personal structure a recommender can learn, not popularity alone;
- ratings are mean + user bias + item bias + cluster affinity + noise, rounded to 1..5 stars;
- timestamps spread each user's activity over a span inside `years` years.

Users are generated in chunks of `chunk_users`; each chunk becomes one Parquet row group, so
memory is bounded by the chunk, never by users x items. The same seed gives the same rows
whatever the chunk size is not guaranteed; the same (seed, sizes, chunk size) always is.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

GENRES = (
    "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama", "Fantasy",
    "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip
IMPLICIT_EVENTS = ("click", "purchase")
EPOCH_2000 = 946_684_800  # 2000-01-01T00:00:00Z
SECONDS_PER_YEAR = 365 * 24 * 3600
# the mapping `chatrec ingest csv` needs for the files `write_parquet` writes
EXPLICIT_MAPPING = "user=user_id,item=item_id,rating=rating,timestamp=ts,rating_min=1,rating_max=5"
IMPLICIT_MAPPING = "user=user_id,item=item_id,event=event,timestamp=ts"
TITLE_MAPPING = ",title=title,categories=genres,year=year"


@dataclass(frozen=True)
class SyntheticSpec:
    """Sizes and shape of a synthetic data set."""

    users: int
    items: int
    interactions: int
    seed: int = 42
    implicit: bool = False  # click/purchase events without ratings
    titles: bool = True  # item titles, years and genres
    string_ids: bool = False  # 'u17'/'i42' instead of '17'/'42'
    zipf_exponent: float = 1.0
    activity_sigma: float = 1.2  # log-normal sigma of interactions per user
    clusters: int = len(GENRES)
    years: int = 10
    chunk_users: int = 20_000

    def __post_init__(self) -> None:
        if self.users < 1 or self.items < 2 or self.interactions < self.users:
            raise ValueError(
                f"synthetic data needs users >= 1, items >= 2 and interactions >= users "
                f"(got {self.users} users, {self.items} items, {self.interactions} interactions)"
            )
        if self.interactions > self.users * self.items // 2:
            raise ValueError(
                f"{self.interactions} interactions cannot fit {self.users} users x {self.items} items at most half dense"
            )


class _Catalogue:
    """Item popularity, cluster and bias; per-cluster cumulative popularity for sampling."""

    def __init__(self, spec: SyntheticSpec, rng: np.random.Generator) -> None:
        n = spec.items
        ranks = rng.permutation(n) + 1  # item ids are not sorted by popularity
        self.popularity = 1.0 / ranks.astype(np.float64) ** spec.zipf_exponent
        self.cluster = rng.integers(0, spec.clusters, size=n)
        self.bias = rng.normal(0.0, 0.5, size=n)
        self.year = rng.integers(1930, 2000 + spec.years, size=n)
        self.members = [np.flatnonzero(self.cluster == c) for c in range(spec.clusters)]
        self.cumulative = []
        for members in self.members:
            weights = self.popularity[members]
            self.cumulative.append(np.cumsum(weights) / weights.sum() if len(members) else np.array([]))
        totals = np.array([self.popularity[m].sum() for m in self.members])
        self.cluster_share = totals / totals.sum()


def _user_activity(spec: SyntheticSpec, rng: np.random.Generator) -> np.ndarray:
    """Interactions per user: log-normal, at least 1, at most half the catalogue, summing to ~K."""
    raw = rng.lognormal(0.0, spec.activity_sigma, size=spec.users)
    extra = spec.interactions - spec.users
    counts = 1 + np.floor(raw / raw.sum() * extra).astype(np.int64)
    cap = max(1, spec.items // 2)
    counts = np.minimum(counts, cap)
    remaining = spec.interactions - int(counts.sum())
    by_activity = np.argsort(-raw, kind="stable")
    while remaining > 0:  # rounding and the cap: hand the rest to the most active users with room
        room = by_activity[counts[by_activity] < cap]
        add = np.minimum(cap - counts[room], -(-remaining // len(room)))
        add = np.where(np.cumsum(add) <= remaining, add, 0)
        if add.sum() == 0:
            add[0] = 1
        counts[room] += add
        remaining -= int(add.sum())
    return counts


def _sample_items(
    users: np.ndarray, counts: np.ndarray, preference: np.ndarray, cat: _Catalogue, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(user, item) pairs without repeats: cluster by the user's preference, item by popularity within it."""
    n_items = len(cat.popularity)
    row_user = np.repeat(np.arange(len(users)), counts)
    cum_pref = np.cumsum(preference, axis=1)
    pairs = np.empty(0, dtype=np.int64)
    wanted = counts.copy()
    pending = row_user
    for _attempt in range(8):
        draws = rng.random(len(pending))
        cluster = (cum_pref[pending] < draws[:, None]).sum(axis=1)
        cluster = np.minimum(cluster, preference.shape[1] - 1)
        items = np.empty(len(pending), dtype=np.int64)
        for c in np.unique(cluster):
            rows = np.flatnonzero(cluster == c)
            members, cumulative = cat.members[c], cat.cumulative[c]
            if len(members) == 0:  # an empty cluster: fall back to any item
                items[rows] = rng.integers(0, n_items, size=len(rows))
                continue
            picks = np.searchsorted(cumulative, rng.random(len(rows)), side="right")
            items[rows] = members[np.minimum(picks, len(members) - 1)]
        pairs = np.unique(np.concatenate([pairs, pending.astype(np.int64) * n_items + items]))
        have = np.bincount(pairs // n_items, minlength=len(users))
        missing = np.maximum(wanted - have, 0)
        if missing.sum() == 0:
            break
        pending = np.repeat(np.arange(len(users)), missing)
    if np.maximum(wanted - np.bincount(pairs // n_items, minlength=len(users)), 0).sum():
        # heavy users of a small catalogue: top up with uniformly drawn unseen items
        extra = []
        have_by_user = np.bincount(pairs // n_items, minlength=len(users))
        for user in np.flatnonzero(have_by_user < wanted):
            seen = pairs[(pairs // n_items) == user] % n_items
            unseen = np.setdiff1d(np.arange(n_items), seen)
            take = rng.choice(unseen, size=min(len(unseen), wanted[user] - have_by_user[user]), replace=False)
            extra.append(user * n_items + take)
        pairs = np.unique(np.concatenate([pairs, *extra]))
    return pairs // n_items, pairs % n_items


def _chunk_table(
    spec: SyntheticSpec,
    cat: _Catalogue,
    first_user: int,
    counts: np.ndarray,
    rng: np.random.Generator,
) -> pa.Table:
    n_users = len(counts)
    preference = rng.dirichlet(np.full(spec.clusters, 0.3), size=n_users) * 0.8 + cat.cluster_share * 0.2
    local_user, item = _sample_items(np.arange(n_users), counts, preference, cat, rng)
    user = first_user + local_user
    user_bias = rng.normal(0.0, 0.4, size=n_users)
    affinity = preference[local_user, cat.cluster[item]] * spec.clusters  # 1 = average interest
    span = spec.years * SECONDS_PER_YEAR
    start = rng.integers(0, span, size=n_users)
    duration = np.minimum(rng.lognormal(16.0, 1.5, size=n_users), span - start).astype(np.int64) + 1
    ts = EPOCH_2000 + start[local_user] + (rng.random(len(item)) * duration[local_user]).astype(np.int64)
    user_ids = [f"u{u}" if spec.string_ids else str(u) for u in (user + 1).tolist()]
    item_ids = [f"i{i}" if spec.string_ids else str(i) for i in (item + 1).tolist()]
    columns: dict[str, pa.Array] = {
        "user_id": pa.array(user_ids, pa.string()),
        "item_id": pa.array(item_ids, pa.string()),
        "ts": pa.array(ts, pa.int64()),
    }
    if spec.implicit:
        purchase = rng.random(len(item)) < 0.1 + 0.1 * np.tanh(affinity - 1)
        columns["event"] = pa.array(np.where(purchase, IMPLICIT_EVENTS[1], IMPLICIT_EVENTS[0]), pa.string())
    else:
        score = 3.5 + user_bias[local_user] + cat.bias[item] + 0.4 * np.log(affinity + 1e-3).clip(-2, 2)
        rating = np.clip(np.rint(score + rng.normal(0.0, 0.8, size=len(item))), 1, 5)
        columns["rating"] = pa.array(rating, pa.float64())
    if spec.titles:
        columns["title"] = pa.array([_title(i, cat) for i in item.tolist()], pa.string())
        columns["genres"] = pa.array([GENRES[c % len(GENRES)] for c in cat.cluster[item].tolist()], pa.string())
        columns["year"] = pa.array(cat.year[item], pa.int64())
    return pa.table(columns)


def _title(item: int, cat: _Catalogue) -> str:
    return f"Synthetic {GENRES[int(cat.cluster[item]) % len(GENRES)]} {item + 1}"


def generate(spec: SyntheticSpec) -> Iterator[pa.Table]:
    """The interactions, one Arrow table per chunk of users (memory bounded by `chunk_users`)."""
    root = np.random.SeedSequence(spec.seed)
    catalogue_seed, activity_seed, chunks_seed = root.spawn(3)
    cat = _Catalogue(spec, np.random.default_rng(catalogue_seed))
    counts = _user_activity(spec, np.random.default_rng(activity_seed))
    starts = range(0, spec.users, spec.chunk_users)
    for first_user, chunk_seed in zip(starts, chunks_seed.spawn(len(starts)), strict=True):
        chunk = counts[first_user : first_user + spec.chunk_users]
        yield _chunk_table(spec, cat, first_user, chunk, np.random.default_rng(chunk_seed))


def item_table(spec: SyntheticSpec) -> pa.Table:
    """Every item of the catalogue (those nobody interacted with too), with title/genre/year when asked."""
    root = np.random.SeedSequence(spec.seed)
    cat = _Catalogue(spec, np.random.default_rng(root.spawn(3)[0]))
    ids = [f"i{i + 1}" if spec.string_ids else str(i + 1) for i in range(spec.items)]
    columns: dict[str, pa.Array] = {"item_id": pa.array(ids, pa.string())}
    if spec.titles:
        columns["title"] = pa.array([_title(i, cat) for i in range(spec.items)], pa.string())
        columns["genres"] = pa.array([GENRES[c % len(GENRES)] for c in cat.cluster.tolist()], pa.string())
        columns["year"] = pa.array(cat.year, pa.int64())
    return pa.table(columns)


@dataclass(frozen=True)
class WrittenData:
    interactions_path: Path
    items_path: Path
    rows: int
    mapping: str  # the `--map` of `chatrec ingest csv` for interactions_path


def write_parquet(spec: SyntheticSpec, out_dir: Path) -> WrittenData:
    """interactions.parquet (one row group per user chunk) and items.parquet under `out_dir`."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "interactions.parquet"
    partial = path.with_suffix(".parquet.partial")  # never leave a half-written file under the real name
    rows = 0
    writer: pq.ParquetWriter | None = None
    try:
        for table in generate(spec):
            if writer is None:
                writer = pq.ParquetWriter(partial, table.schema, compression="zstd")
            writer.write_table(table)
            rows += table.num_rows
    finally:
        if writer is not None:
            writer.close()
    partial.replace(path)
    items_path = out_dir / "items.parquet"
    pq.write_table(item_table(spec), items_path)
    mapping = IMPLICIT_MAPPING if spec.implicit else EXPLICIT_MAPPING
    return WrittenData(path, items_path, rows, mapping + (TITLE_MAPPING if spec.titles else ""))


def write_movielens_latest(spec: SyntheticSpec, out_dir: Path) -> Path:
    """The MovieLens "latest" layout (ratings.csv, movies.csv; no users file): for small test sets."""
    if spec.implicit or spec.string_ids:
        raise ValueError("the MovieLens latest format has integer ids and ratings: use explicit, numeric ids")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / "ratings.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["userId", "movieId", "rating", "timestamp"])
        for table in generate(spec):
            columns = table.select(["user_id", "item_id", "rating", "ts"]).to_pydict()
            writer.writerows(zip(*columns.values(), strict=True))
    items = item_table(spec).to_pydict()
    with (out_dir / "movies.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["movieId", "title", "genres"])
        for item_id, title, genres, year in zip(
            items["item_id"],
            items.get("title", items["item_id"]),
            items.get("genres", ["(no genres listed)"] * spec.items),
            items.get("year", [None] * spec.items),
            strict=True,
        ):
            writer.writerow([item_id, f"{title} ({year})" if year else title, genres])
    return out_dir
