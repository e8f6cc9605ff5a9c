"""What the prompt builder knows about users and items, built once per run from frames.

Everything comes from frames the caller passes (the warehouse's core tables nightly, a training
split in evaluation), so a prompt for one user can only ever contain that user's own data and the
public catalogue: no other user's history is reachable from here.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import polars as pl

LIKED_RATING = 4.0
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def clean_text(text: str | None, limit: int) -> str:
    """Untrusted text made inert for a prompt: control characters and newlines collapsed (so it cannot
    fake a new prompt section or chat turn), angle brackets removed (so it cannot close the data tags),
    and cut to `limit` characters."""
    if not text:
        return ""
    flat = _CONTROL.sub(" ", text).replace("<", "(").replace(">", ")")
    flat = re.sub(r"\s+", " ", flat).strip()
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


@dataclass(frozen=True)
class ItemInfo:
    item_id: str
    title: str
    year: int | None
    genres: list[str]
    description: str

    def line(self, *, with_description: bool = True) -> str:
        year = f" ({self.year})" if self.year else ""
        genres = f" [{', '.join(self.genres)}]" if self.genres else ""
        description = f" {self.description}" if with_description and self.description else ""
        return f"{self.title}{year}{genres}{description}"


@dataclass
class UserContext:
    user_id: str
    profile: dict[str, Any]
    favourite_genres: list[str]
    recent: list[tuple[ItemInfo, float | None]] = field(default_factory=list)  # newest first
    top_rated: list[tuple[ItemInfo, float | None]] = field(default_factory=list)
    n_ratings: int = 0
    mean_rating: float | None = None


class Catalogue:
    """Item facts by id, with titles and descriptions cleaned once."""

    def __init__(self, items: pl.DataFrame, *, description_chars: int = 160) -> None:
        self.items: dict[str, ItemInfo] = {}
        has_description = "description" in items.columns
        for row in items.iter_rows(named=True):
            self.items[row["item_id"]] = ItemInfo(
                item_id=row["item_id"],
                title=clean_text(row["title"], 120),
                year=row.get("release_year"),
                genres=[g for g in (row.get("genres") or []) if g and g != "unknown"],
                description=clean_text(row["description"], description_chars) if has_description else "",
            )

    def __getitem__(self, item_id: str) -> ItemInfo:
        return self.items[item_id]

    def __contains__(self, item_id: object) -> bool:
        return item_id in self.items

    def titles(self) -> dict[str, str]:
        return {item_id: info.title for item_id, info in self.items.items()}


class ContextBuilder:
    def __init__(
        self,
        catalogue: Catalogue,
        interactions: pl.DataFrame,
        users: pl.DataFrame | None = None,
        *,
        history_size: int = 10,
    ) -> None:
        self.catalogue = catalogue
        self.history_size = history_size
        self.profiles: dict[str, dict[str, Any]] = {}
        if users is not None:
            for row in users.iter_rows(named=True):
                self.profiles[row["user_id"]] = {
                    k: row[k] for k in ("age", "gender", "occupation") if k in row and row[k] is not None
                }
        ordered = interactions.sort("ts", descending=True) if "ts" in interactions.columns else interactions
        self.histories: dict[str, list[tuple[str, float | None]]] = {}
        for user, item, rating in ordered.select("user_id", "item_id", "rating").iter_rows():
            if item in catalogue:
                self.histories.setdefault(user, []).append((item, rating))

    def seen(self, user_id: str) -> set[str]:
        return {item for item, _ in self.histories.get(user_id, [])}

    def user(self, user_id: str) -> UserContext:
        history = self.histories.get(user_id, [])
        ratings = [r for _, r in history if r is not None]
        genres: Counter[str] = Counter()
        for item, rating in history:
            if rating is None or rating >= LIKED_RATING:
                genres.update(self.catalogue[item].genres)
        top = sorted(history, key=lambda pair: -(pair[1] if pair[1] is not None else 0.0))
        recent_ids = {item for item, _ in history[: self.history_size]}
        return UserContext(
            user_id=user_id,
            profile=self.profiles.get(user_id, {}),
            favourite_genres=[g for g, _ in genres.most_common(3)],
            recent=[(self.catalogue[i], r) for i, r in history[: self.history_size]],
            # top-rated items not already listed as recent, so the prompt repeats nothing
            top_rated=[(self.catalogue[i], r) for i, r in top if i not in recent_ids][: self.history_size],
            n_ratings=len(ratings),
            mean_rating=round(sum(ratings) / len(ratings), 2) if ratings else None,
        )
