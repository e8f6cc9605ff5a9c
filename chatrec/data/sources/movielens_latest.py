"""MovieLens "latest" format (ml-latest, ml-latest-small, ml-25m ...): UTF-8 CSVs with headers.

ratings.csv (userId,movieId,rating,timestamp) and movies.csv (movieId,title,genres) are required;
tags.csv (userId,movieId,tag,timestamp) becomes implicit `tag` events with their text (a user may give
one movie several tags at once: each is kept, in core.tags); links.csv only maps ids to
IMDb/TMDb and carries nothing the warehouse models, so it is accepted and not loaded.
"""

from __future__ import annotations

from pathlib import Path

from chatrec.data.sources.base import (
    INTERACTION_COLUMNS,
    ITEM_COLUMNS,
    RejectedLine,
    SourceBatch,
    SourceError,
    require_file,
    text_frame,
)
from chatrec.data.sources.movielens import split_title_year
from chatrec.data.sources.tables import read_columns

LATEST_RATING_RANGE = (0.5, 5.0)
NO_GENRES = "(no genres listed)"


def _checked_rows(path: Path, required: tuple[str, ...], entity: str, rejected: list[RejectedLine]):
    frame, bad = read_columns(path, list(required), entity=entity, what=f"MovieLens {path.stem}")
    rejected.extend(bad)
    for row in frame.iter_rows():
        yield row[1], list(row[2:])


def read_movielens_latest(folder: Path) -> SourceBatch:
    folder = Path(folder)
    if not folder.is_dir():
        raise SourceError(f"MovieLens folder {folder} does not exist")
    ratings = require_file(folder / "ratings.csv", "MovieLens ratings")
    movies = require_file(folder / "movies.csv", "MovieLens movies")
    tags = folder / "tags.csv"
    rejected: list[RejectedLine] = []
    interactions = [
        {"source_file": ratings.name, "source_line": n, "user_id": u, "item_id": i, "rating": r,
         "event": "rating", "ts": t}
        for n, (u, i, r, t) in _checked_rows(ratings, ("userId", "movieId", "rating", "timestamp"), "interaction",
                                             rejected)
    ]  # fmt: skip
    if tags.is_file():
        interactions += [
            {"source_file": tags.name, "source_line": n, "user_id": u, "item_id": i, "rating": None,
             "event": "tag", "ts": t, "tag": tag}
            for n, (u, i, tag, t) in _checked_rows(tags, ("userId", "movieId", "tag", "timestamp"), "interaction",
                                                   rejected)
        ]  # fmt: skip
    items = []
    for n, (item_id, raw_title, genres) in _checked_rows(movies, ("movieId", "title", "genres"), "item", rejected):
        title, year = split_title_year(raw_title)
        items.append(
            {"source_file": movies.name, "source_line": n, "item_id": item_id, "title": title,
             "release_year": year, "genres": "" if genres == NO_GENRES else genres, "description": None}
        )  # fmt: skip
    files = [ratings, movies] + ([tags] if tags.is_file() else [])
    return SourceBatch(
        source="movielens-latest",
        path=str(folder),
        files=files,
        interactions=text_frame(interactions, INTERACTION_COLUMNS),
        items=text_frame(items, ITEM_COLUMNS),
        rejected=rejected,
        rating_range=LATEST_RATING_RANGE,
    )
