"""Item-based k-nearest neighbours with shrunk cosine similarity (Sarwar et al.; shrinkage as in Koren)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from chatrec.models.base import Recommender, TrainingData


class ItemKNN(Recommender):
    name = "itemknn"

    def __init__(self, *, neighbours: int = 100, shrinkage: float = 10.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.neighbours = neighbours
        self.shrinkage = shrinkage

    def params(self) -> dict[str, Any]:
        return {"neighbours": self.neighbours, "shrinkage": self.shrinkage}

    def _fit(self, data: TrainingData) -> None:
        x = torch.as_tensor(data.binary.toarray(), dtype=torch.float32, device=self.device)
        co = x.T @ x  # co-occurrence counts
        norms = torch.sqrt(torch.diagonal(co))
        similarity = co / (norms[:, None] * norms[None, :] + self.shrinkage)
        similarity.fill_diagonal_(0.0)
        if self.neighbours < similarity.shape[0]:
            # keep each item's strongest neighbours only: less noise from rare co-occurrences
            top = torch.topk(similarity, self.neighbours, dim=0)
            pruned = torch.zeros_like(similarity)
            pruned.scatter_(0, top.indices, top.values)
            similarity = pruned
        self.similarity = similarity
        self.user_items = x

    def _score_users(self, user_rows: np.ndarray) -> torch.Tensor:
        return self.user_items[torch.as_tensor(user_rows, device=self.device)] @ self.similarity

    def item_similarity(self) -> torch.Tensor:
        """Item x item similarity (used for explanation evidence)."""
        return self.similarity
