"""Writers that turn the packaged MovieLens 100K into the other on-disk formats chatrec reads,
so every reader is tested on the real data set without committing any of it."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from chatrec.data.sources.movielens import ML100K_GENRES, read_packaged_ml100k


def write_original_ml100k(folder: Path) -> dict[str, list[str]]:
    """u.data / u.item / u.user exactly as GroupLens ships them (latin-1); returns the lines written."""
    batch = read_packaged_ml100k()
    folder.mkdir(parents=True, exist_ok=True)
    assert batch.interactions is not None and batch.items is not None and batch.users is not None
    data = [
        f"{r['user_id']}\t{r['item_id']}\t{r['rating']}\t{r['ts']}" for r in batch.interactions.iter_rows(named=True)
    ]
    items = []
    for r in batch.items.iter_rows(named=True):
        genres = set((r["genres"] or "").split("|"))
        flags = "|".join("1" if g in genres else "0" for g in ML100K_GENRES)
        year = r["release_year"] if (r["release_year"] or "").isdigit() else ""
        title = f"{r['title']} ({year})" if year else r["title"]
        date = f"01-Jan-{year}" if year else ""
        items.append(f"{r['item_id']}|{title}|{date}||http://example.invalid/{r['item_id']}|{flags}")
    users = [
        f"{r['user_id']}|{r['age']}|{r['gender']}|{r['occupation']}|{r['zip_code']}"
        for r in batch.users.iter_rows(named=True)
    ]
    for name, lines in (("u.data", data), ("u.item", items), ("u.user", users)):
        (folder / name).write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    return {"u.data": data, "u.item": items, "u.user": users}


def write_latest_format(folder: Path, *, n_ratings: int | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """ratings.csv + movies.csv in the MovieLens "latest" layout (UTF-8, quoted titles, 0.5 steps)."""
    batch = read_packaged_ml100k()
    assert batch.interactions is not None and batch.items is not None
    folder.mkdir(parents=True, exist_ok=True)
    ratings = batch.interactions.select(
        pl.col("user_id").alias("userId"),
        pl.col("item_id").alias("movieId"),
        (pl.col("rating").cast(pl.Float64) - 0.5).alias("rating"),  # use half stars too
        pl.col("ts").alias("timestamp"),
    )
    if n_ratings is not None:
        ratings = ratings.head(n_ratings)
    movies = batch.items.select(
        pl.col("item_id").alias("movieId"),
        pl.concat_str([pl.col("title"), pl.lit(" ("), pl.col("release_year"), pl.lit(")")]).alias("title"),
        pl.when(pl.col("genres") == "").then(pl.lit("(no genres listed)")).otherwise(pl.col("genres")).alias("genres"),
    )
    ratings.write_csv(folder / "ratings.csv")
    movies.write_csv(folder / "movies.csv")
    return ratings, movies
