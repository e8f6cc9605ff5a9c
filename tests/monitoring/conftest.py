"""A small synthetic warehouse whose current window is drifted on purpose, or not."""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
import numpy as np
import polars as pl

START = datetime(2000, 1, 1)
GENRES = ["Action", "Comedy", "Drama", "Horror", "Romance"]
N_USERS, N_ITEMS, N_NEW_ITEMS = 120, 200, 20
PER_WINDOW = 3000
RATING_P = [0.05, 0.1, 0.25, 0.35, 0.25]


def _window(rng: np.random.Generator, day0: int, *, drifted: bool) -> pl.DataFrame:
    popularity = 1.0 / np.arange(1, N_ITEMS + 1)  # long tail over the old catalogue
    items = rng.choice(N_ITEMS, PER_WINDOW, p=popularity / popularity.sum()) + 1
    ratings = rng.choice(np.arange(1, 6), PER_WINDOW, p=RATING_P).astype(float)
    if drifted:
        # shifted ratings, and most activity on items the reference window never saw
        ratings = np.clip(ratings - 2, 1, 5)
        new = rng.random(PER_WINDOW) < 0.6
        items[new] = rng.integers(N_ITEMS + 1, N_ITEMS + N_NEW_ITEMS + 1, new.sum())
    seconds = rng.integers(0, 30 * 86400, PER_WINDOW)
    frame = pl.DataFrame(
        {
            "user_id": [str(u) for u in rng.integers(1, N_USERS + 1, PER_WINDOW)],
            "item_id": [str(i) for i in items],
            "rating": ratings,
            "ts": [START + timedelta(days=day0, seconds=int(s)) for s in seconds],
        }
    )
    return frame.unique(["user_id", "item_id"], keep="first")


def fill_synthetic(con: duckdb.DuckDBPyConnection, *, drifted: bool, seed: int = 7) -> None:
    """Users, items (200 old + 20 released later) and two 30-day windows of ratings."""
    rng = np.random.default_rng(seed)
    items = pl.DataFrame(
        {
            "item_id": [str(i) for i in range(1, N_ITEMS + N_NEW_ITEMS + 1)],
            "title": [f"Movie {i}" for i in range(1, N_ITEMS + N_NEW_ITEMS + 1)],
            "release_year": [1990 + i % 10 if i <= N_ITEMS else 2000 for i in range(1, N_ITEMS + N_NEW_ITEMS + 1)],
            "genres": [[GENRES[i % 5], GENRES[(i * 3) % 5]] for i in range(1, N_ITEMS + N_NEW_ITEMS + 1)],
        }
    )
    users = pl.DataFrame(
        {
            "user_id": [str(u) for u in range(1, N_USERS + 1)],
            "age": rng.integers(18, 70, N_USERS).tolist(),
            "gender": rng.choice(["F", "M"], N_USERS).tolist(),
            "occupation": rng.choice(["student", "engineer", "artist", "other"], N_USERS).tolist(),
        }
    )
    reference = _window(rng, 0, drifted=False)
    # a different pair of users/items in the current window must not collide with the reference keys
    current = _window(rng, 30, drifted=drifted)
    interactions = pl.concat([reference, current])
    con.register("_items", items.to_arrow())
    con.register("_users", users.to_arrow())
    con.register("_interactions", interactions.to_arrow())
    con.execute(
        "INSERT INTO core.items (item_id, title, release_year, genres, load_id) SELECT *, 'synthetic' FROM _items"
    )
    con.execute("INSERT INTO core.users (user_id, age, gender, occupation, load_id) SELECT *, 'synthetic' FROM _users")
    con.execute(
        "INSERT INTO core.interactions (user_id, item_id, rating, event, ts, load_id)"
        " SELECT user_id, item_id, rating, 'rating', ts, 'synthetic' FROM _interactions"
    )
    for name in ("_items", "_users", "_interactions"):
        con.unregister(name)
