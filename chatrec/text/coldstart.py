"""Cold start through text: items nobody has rated yet, and users with nothing but a request.

Both sides meet in the MiniLM embedding space of item texts (title, year, genres, description):
a user's taste is the rating-weighted mean embedding of the items they liked; a request is embedded
as it is. New items are then ranked by cosine similarity, which needs no interaction at all.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from chatrec.text.encoder import ItemTextEncoder
from chatrec.text.items import item_texts

LIKED_RATING = 4.0


class TextMatcher:
    """Item embeddings for a catalogue, and rankings of any item subset against tastes or requests."""

    def __init__(self, items: pl.DataFrame, encoder: ItemTextEncoder) -> None:
        self.encoder = encoder
        self.item_ids: list[str] = items["item_id"].to_list()
        self.position = {item: n for n, item in enumerate(self.item_ids)}
        self.embeddings = encoder.encode(item_texts(items))

    def taste(self, interactions: pl.DataFrame, user_id: str) -> np.ndarray | None:
        """The user's taste vector: mean embedding of liked items weighted by rating above 3."""
        liked = interactions.filter(
            (pl.col("user_id") == user_id) & (pl.col("rating").fill_null(LIKED_RATING) >= LIKED_RATING)
        )
        rows = [(self.position[i], r) for i, r in liked.select("item_id", "rating").iter_rows() if i in self.position]
        if not rows:
            return None
        weights = np.asarray([(r if r is not None else LIKED_RATING) - 3.0 for _, r in rows])
        vector = weights @ self.embeddings[[p for p, _ in rows]]
        return vector / max(float(np.linalg.norm(vector)), 1e-12)

    def request(self, text: str) -> np.ndarray:
        if not text.strip():
            raise ValueError("empty request: describe what you would like to watch")
        return self.encoder.encode([text])[0]

    def rank(self, query: np.ndarray, item_ids: Sequence[str], k: int) -> pl.DataFrame:
        """Top-k of `item_ids` by cosine similarity to `query`: (rank, item_id, score)."""
        known = [i for i in item_ids if i in self.position]
        if not known:
            raise ValueError("none of the items to rank are in the catalogue")
        scores = self.embeddings[[self.position[i] for i in known]] @ query
        order = np.argsort(-scores, kind="stable")[:k]
        return pl.DataFrame(
            {"rank": list(range(1, len(order) + 1)), "item_id": [known[i] for i in order],
             "score": scores[order].astype(np.float64)},
            schema={"rank": pl.Int32, "item_id": pl.Utf8, "score": pl.Float64},
        )  # fmt: skip


def new_items(items: pl.DataFrame, interactions: pl.DataFrame) -> list[str]:
    """Catalogue items with no interaction at all (what only text can recommend)."""
    seen = set(interactions["item_id"].unique().to_list())
    return [i for i in items["item_id"].to_list() if i not in seen]
