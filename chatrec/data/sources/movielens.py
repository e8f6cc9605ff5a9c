"""MovieLens 100K: the copy packaged in the recbole wheel, or the original u.data/u.item/u.user files."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from chatrec.data.packaged import packaged_ml100k_dir
from chatrec.data.sources.base import (
    INTERACTION_COLUMNS,
    ITEM_COLUMNS,
    USER_COLUMNS,
    RejectedLine,
    SourceBatch,
    SourceError,
    delimited_rows,
    require_file,
    text_frame,
)

PACKAGED_PATH_LABEL = "package:recbole/dataset_example/ml-100k"
ML100K_RATING_RANGE = (1.0, 5.0)
# u.item's 19 genre flags, in file order (from the MovieLens 100K README / u.genre).
ML100K_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip
TITLE_YEAR = re.compile(r"^(?P<title>.*?)\s*\((?P<year>\d{4})\)\s*$")


def split_title_year(title: str) -> tuple[str, str | None]:
    """'Toy Story (1995)' -> ('Toy Story', '1995'); titles without a year are returned as they are."""
    match = TITLE_YEAR.match(title.strip())
    return (match["title"], match["year"]) if match else (title.strip(), None)


def read_packaged_ml100k(folder: Path | None = None) -> SourceBatch:
    """RecBole atomic files (tab-separated, typed header): ml-100k.inter/.item/.user."""
    folder = folder or packaged_ml100k_dir()
    inter = require_file(folder / "ml-100k.inter", "MovieLens 100K ratings")
    item = require_file(folder / "ml-100k.item", "MovieLens 100K items")
    user = require_file(folder / "ml-100k.user", "MovieLens 100K users")
    rejected: list[RejectedLine] = []

    def rows(path: Path, entity: str, expected: int) -> Iterator[tuple[int, list[str]]]:
        return delimited_rows(
            path,
            entity=entity,
            rejected=rejected,
            encoding="utf-8",
            delimiter="\t",
            expected=expected,
            skip_header=True,
        )

    interactions = [
        {"source_file": inter.name, "source_line": n, "user_id": f[0], "item_id": f[1], "rating": f[2],
         "event": "rating", "ts": f[3]}
        for n, f in rows(inter, "interaction", 4)
    ]  # fmt: skip
    items = [
        {"source_file": item.name, "source_line": n, "item_id": f[0], "title": f[1], "release_year": f[2],
         "genres": "|".join(f[3].split()), "description": None}
        for n, f in rows(item, "item", 4)
    ]  # fmt: skip
    users = [
        {"source_file": user.name, "source_line": n, "user_id": f[0], "age": f[1], "gender": f[2],
         "occupation": f[3], "zip_code": f[4]}
        for n, f in rows(user, "user", 5)
    ]  # fmt: skip
    return SourceBatch(
        source="movielens",
        path=PACKAGED_PATH_LABEL if folder == packaged_ml100k_dir() else str(folder),
        files=[inter, item, user],
        interactions=text_frame(interactions, INTERACTION_COLUMNS),
        items=text_frame(items, ITEM_COLUMNS),
        users=text_frame(users, USER_COLUMNS),
        rejected=rejected,
        rating_range=ML100K_RATING_RANGE,
    )


def read_original_ml100k(folder: Path) -> SourceBatch:
    """The original GroupLens files: u.data (tab), u.item and u.user ('|'), latin-1 encoded."""
    if not folder.is_dir():
        raise SourceError(f"MovieLens 100K folder {folder} does not exist")
    data = require_file(folder / "u.data", "MovieLens 100K ratings")
    item = require_file(folder / "u.item", "MovieLens 100K items")
    user = require_file(folder / "u.user", "MovieLens 100K users")
    rejected: list[RejectedLine] = []

    def rows(path: Path, entity: str, delimiter: str, expected: int) -> Iterator[tuple[int, list[str]]]:
        return delimited_rows(
            path, entity=entity, rejected=rejected, encoding="latin-1", delimiter=delimiter, expected=expected
        )

    interactions = [
        {"source_file": data.name, "source_line": n, "user_id": f[0], "item_id": f[1], "rating": f[2],
         "event": "rating", "ts": f[3]}
        for n, f in rows(data, "interaction", "\t", 4)
    ]  # fmt: skip
    items = []
    for n, f in rows(item, "item", "|", 5 + len(ML100K_GENRES)):
        title, year = split_title_year(f[1])
        if year is None and len(f[2]) >= 4:
            year = f[2][-4:]  # release date is dd-Mon-yyyy
        genres = [g for g, flag in zip(ML100K_GENRES, f[5:], strict=True) if flag.strip() == "1"]
        items.append(
            {"source_file": item.name, "source_line": n, "item_id": f[0], "title": title, "release_year": year,
             "genres": "|".join(genres), "description": None}
        )  # fmt: skip
    users = [
        {"source_file": user.name, "source_line": n, "user_id": f[0], "age": f[1], "gender": f[2],
         "occupation": f[3], "zip_code": f[4]}
        for n, f in rows(user, "user", "|", 5)
    ]  # fmt: skip
    return SourceBatch(
        source="movielens",
        path=str(folder),
        files=[data, item, user],
        interactions=text_frame(interactions, INTERACTION_COLUMNS),
        items=text_frame(items, ITEM_COLUMNS),
        users=text_frame(users, USER_COLUMNS),
        rejected=rejected,
        rating_range=ML100K_RATING_RANGE,
    )


def read_ml100k(path: Path | None = None) -> SourceBatch:
    """The packaged copy when no path is given; else a folder of original (u.data) or RecBole files."""
    if path is None:
        return read_packaged_ml100k()
    path = Path(path)
    if (path / "ml-100k.inter").is_file():
        return read_packaged_ml100k(path)
    return read_original_ml100k(path)
