"""Most-popular baseline: the same ranking (interaction count) for every user."""

from __future__ import annotations

import numpy as np
import torch

from chatrec.models.base import Recommender, TrainingData


class Popularity(Recommender):
    name = "popularity"

    def _fit(self, data: TrainingData) -> None:
        self.counts = torch.as_tensor(np.asarray(data.binary.sum(axis=0)).ravel(), dtype=torch.float32)

    def _score_users(self, user_rows: np.ndarray) -> torch.Tensor:
        return self.counts.to(self.device).expand(len(user_rows), -1)
