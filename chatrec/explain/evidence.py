"""Evidence the system computes for a (user, item) recommendation, and a template sentence from it.

The evidence is what an explanation may claim: the user's liked history items most similar to the
item (item-item cosine over who interacted with what), how many users liked both, and the genres the
item shares with the user's favourites. The template sentence states only that evidence, so it is the
grounded fallback for any LLM phrasing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import polars as pl
import scipy.sparse as sp

LIKED_RATING = 4.0


@dataclass
class Evidence:
    item_id: str
    title: str
    similar_history: list[dict[str, Any]] = field(default_factory=list)  # item_id, title, rating, similarity, co_likers
    shared_genres: list[str] = field(default_factory=list)
    favourite_genre_share: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class EvidenceIndex:
    """Item-item similarity and co-likes over the training interactions, built once per run."""

    def __init__(self, interactions: pl.DataFrame, items: pl.DataFrame) -> None:
        self.item_ids = items["item_id"].to_list()
        self.position = {item: n for n, item in enumerate(self.item_ids)}
        self.titles = dict(zip(items["item_id"], items["title"], strict=True))
        self.genres = {
            row["item_id"]: list(row["genres"] or []) for row in items.select("item_id", "genres").iter_rows(named=True)
        }
        users = interactions["user_id"].unique().sort().to_list()
        user_position = {u: n for n, u in enumerate(users)}
        rows = np.fromiter((user_position[u] for u in interactions["user_id"]), dtype=np.int64)
        cols = np.fromiter((self.position.get(i, -1) for i in interactions["item_id"]), dtype=np.int64)
        keep = cols >= 0
        seen = sp.csr_matrix((np.ones(keep.sum()), (rows[keep], cols[keep])), shape=(len(users), len(self.item_ids)))
        liked_mask = (interactions["rating"].fill_null(LIKED_RATING).to_numpy() >= LIKED_RATING)[keep]
        liked = sp.csr_matrix(
            (np.ones(liked_mask.sum()), (rows[keep][liked_mask], cols[keep][liked_mask])), shape=seen.shape
        )
        co = (seen.T @ seen).toarray()
        norms = np.sqrt(np.diag(co))
        with np.errstate(divide="ignore", invalid="ignore"):
            self.similarity = np.nan_to_num(co / (norms[:, None] * norms[None, :]))
        np.fill_diagonal(self.similarity, 0.0)
        self.co_likes = (liked.T @ liked).toarray()
        history = interactions.filter(pl.col("rating").fill_null(LIKED_RATING) >= LIKED_RATING)
        self.liked_history = {
            user: list(zip(group["item_id"].to_list(), group["rating"].fill_null(LIKED_RATING).to_list(), strict=True))
            for (user,), group in history.group_by("user_id")
        }

    def evidence(self, user_id: str, item_id: str, *, max_history: int = 2) -> Evidence:
        result = Evidence(item_id, self.titles.get(item_id, item_id))
        target = self.position.get(item_id)
        liked = self.liked_history.get(user_id, [])
        if target is None or not liked:
            return result
        scored = sorted(
            ((self.similarity[target, self.position[i]], i, r) for i, r in liked if i in self.position),
            reverse=True,
        )
        for similarity, history_item, rating in scored[:max_history]:
            if similarity <= 0:
                break
            result.similar_history.append(
                {
                    "item_id": history_item,
                    "title": self.titles[history_item],
                    "rating": float(rating),
                    "similarity": round(float(similarity), 4),
                    "co_likers": int(self.co_likes[target, self.position[history_item]]),
                }
            )
        favourite_genres: dict[str, int] = {}
        for history_item, _rating in liked:
            for genre in self.genres.get(history_item, []):
                favourite_genres[genre] = favourite_genres.get(genre, 0) + 1
        item_genres = self.genres.get(item_id, [])
        result.shared_genres = [g for g in item_genres if favourite_genres.get(g, 0) > 0 and g != "unknown"]
        if result.shared_genres:
            share = sum(1 for i, _ in liked if set(self.genres.get(i, [])) & set(result.shared_genres)) / len(liked)
            result.favourite_genre_share = round(share, 3)
        return result


def template_explanation(evidence: Evidence) -> str:
    """One sentence that states the evidence and nothing else."""
    parts = []
    if evidence.similar_history:
        titles = " and ".join(f"{h['title']} (you rated it {h['rating']:g})" for h in evidence.similar_history)
        co_likers = max(h["co_likers"] for h in evidence.similar_history)
        parts.append(f"you liked {titles}, and {co_likers} people who liked them also liked {evidence.title}")
    if evidence.shared_genres:
        parts.append(
            f"it is {', '.join(evidence.shared_genres).lower()}, like {evidence.favourite_genre_share:.0%} of your favourites"
        )
    if not parts:
        return f"{evidence.title} is popular with people whose ratings resemble yours."
    return f"Recommended because {'; '.join(parts)}."
