"""Text-embedding nearest neighbours: the plain language-model baseline for cold start.

A user's profile is the mean of the (unit) text embeddings of the items they liked; an item's
score is the cosine between that profile and the item's text embedding. It needs no interactions
on the item side, so it ranks brand-new items as readily as old ones — the yardstick the
text-aware SASRec has to beat on cold items.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from chatrec.models.base import Recommender, TrainingData
from chatrec.models.sasrec import text_embeddings_for
from chatrec.text import ItemTextEncoder


class TextKNN(Recommender):
    name = "textknn"

    def __init__(
        self,
        *,
        like_threshold: float | None = 4.0,
        embedding_model: str = "all-MiniLM-L6-v2",
        embedding_cache_dir: Path | str | None = None,
        encoder: ItemTextEncoder | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.like_threshold = like_threshold
        self.embedding_model = embedding_model
        self.embedding_cache_dir = Path(embedding_cache_dir) if embedding_cache_dir is not None else None
        self._encoder = encoder

    def params(self) -> dict[str, Any]:
        return {"like_threshold": self.like_threshold, "embedding_model": self.embedding_model}

    @property
    def encoder(self) -> ItemTextEncoder:
        if self._encoder is None:
            self._encoder = ItemTextEncoder(
                self.embedding_model, device=self.device, cache_dir=self.embedding_cache_dir
            )
        return self._encoder

    def _fit(self, data: TrainingData) -> None:
        embeddings = text_embeddings_for(data, self.encoder)
        matrix = data.matrix.tocsr()
        liked = matrix.copy()
        if self.like_threshold is not None:
            liked.data = (liked.data >= self.like_threshold).astype(np.float64)
            liked.eliminate_zeros()
        else:
            liked.data[:] = 1.0
        # users who liked nothing (all low ratings, or implicit data below the threshold) fall back
        # to everything they interacted with: a weak profile beats the popularity fallback's none
        empty = np.flatnonzero(np.diff(liked.indptr) == 0)
        if len(empty):
            everything = matrix[empty].copy()
            everything.data[:] = 1.0
            rows = sp.lil_matrix(liked)
            rows[empty] = everything
            liked = rows.tocsr()
        profiles = np.asarray(liked @ embeddings) / np.maximum(np.asarray(liked.sum(axis=1)), 1.0)
        norms = np.linalg.norm(profiles, axis=1, keepdims=True)
        self.profiles = torch.as_tensor(profiles / np.maximum(norms, 1e-12), dtype=torch.float32)
        self.embeddings = torch.as_tensor(embeddings, dtype=torch.float32)

    def _score_users(self, user_rows: np.ndarray) -> torch.Tensor:
        profiles = self.profiles[torch.as_tensor(user_rows)].to(self.device)
        return profiles @ self.embeddings.to(self.device).T

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_encoder"] = None  # the artifact keeps the vectors, not the embedding model
        return state
