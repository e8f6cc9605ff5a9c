"""EASE: embarrassingly shallow autoencoder, closed form (Steck, WWW 2019).

`weighting="rating"` feeds ratings scaled to [0, 1] instead of 0/1 interactions: on explicit data
a 5-star rating then says more about a user's taste than a 1-star one, which matters when the
target is "items the user will rate highly" (the Chat-Rec protocol).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from chatrec.models.base import Recommender, TrainingData


class LinearItemAutoencoder(Recommender):
    """The shared part of EASE and DLAE: an item x item weight matrix B learnt from the input X
    (0/1 interactions or scaled ratings, `weighting`), and scores = X B for the user's row."""

    def __init__(self, *, weighting: str = "binary", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if weighting not in ("binary", "rating"):
            raise ValueError(f"weighting must be 'binary' or 'rating', got {weighting!r}")
        self.weighting = weighting

    def _input(self, data: TrainingData) -> torch.Tensor:
        """X as a dense float64 tensor: 0/1 interactions, or ratings scaled to [0, 1]."""
        source = data.binary if self.weighting == "binary" else data.matrix / max(data.matrix.max(), 1e-9)
        return torch.as_tensor(source.toarray(), dtype=torch.float64, device=self.device)

    def _score_users(self, user_rows: np.ndarray) -> torch.Tensor:
        return self.user_items[torch.as_tensor(user_rows, device=self.device)] @ self.weights


class EASE(LinearItemAutoencoder):
    name = "ease"

    def __init__(self, *, l2: float = 500.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.l2 = l2

    def params(self) -> dict[str, Any]:
        return {"l2": self.l2, "weighting": self.weighting}

    def _fit(self, data: TrainingData) -> None:
        x = self._input(data)
        gram = x.T @ x
        gram += self.l2 * torch.eye(gram.shape[0], dtype=gram.dtype, device=self.device)
        precision = torch.linalg.inv(gram)
        weights = -precision / torch.diagonal(precision)[None, :]
        weights.fill_diagonal_(0.0)
        self.weights = weights.float()
        self.user_items = x.float()
