"""One plain-English text per catalogue item: what the embedding model reads about an item."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl


def item_text(row: Mapping[str, Any]) -> str:
    """ "Title (year). Genres: a, b. Description" from whichever of those fields are present.

    The title is required: an item with no title has nothing an embedding could say about it.
    """
    title = (row.get("title") or "").strip()
    if not title:
        raise ValueError(f"item {row.get('item_id')!r} has no title to build its text from")
    year = row.get("release_year")
    parts = [f"{title} ({year})." if year else f"{title}."]
    genres = row.get("genres")
    if isinstance(genres, str):
        genres = [g for g in genres.split("|") if g]
    if genres:
        parts.append(f"Genres: {', '.join(str(g) for g in genres)}.")
    description = (row.get("description") or "").strip()
    if description:
        parts.append(description)
    return " ".join(parts)


def item_texts(items: pl.DataFrame) -> list[str]:
    """Texts in the frame's row order; needs item_id and title, uses release_year, genres, description."""
    missing = {"item_id", "title"} - set(items.columns)
    if missing:
        raise ValueError(f"items frame lacks column(s) {', '.join(sorted(missing))} needed for item text")
    rows: Sequence[dict[str, Any]] = items.to_dicts()
    return [item_text(row) for row in rows]
