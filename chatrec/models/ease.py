"""EASE: embarrassingly shallow autoencoder, closed form (Steck, WWW 2019)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from chatrec.models.base import Recommender, TrainingData


class EASE(Recommender):
    name = "ease"

    def __init__(self, *, l2: float = 500.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.l2 = l2

    def params(self) -> dict[str, Any]:
        return {"l2": self.l2}

    def _fit(self, data: TrainingData) -> None:
        x = torch.as_tensor(data.binary.toarray(), dtype=torch.float64, device=self.device)
        gram = x.T @ x
        gram += self.l2 * torch.eye(gram.shape[0], dtype=gram.dtype, device=self.device)
        precision = torch.linalg.inv(gram)
        weights = -precision / torch.diagonal(precision)[None, :]
        weights.fill_diagonal_(0.0)
        self.weights = weights.float()
        self.user_items = x.float()

    def _score_users(self, user_rows: np.ndarray) -> torch.Tensor:
        return self.user_items[torch.as_tensor(user_rows, device=self.device)] @ self.weights
