"""BPR matrix factorisation (Rendle et al., UAI 2009), trained with Adam on sampled negatives."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from chatrec.models.base import Recommender, TrainingData


class BPR(Recommender):
    name = "bpr"

    def __init__(
        self,
        *,
        factors: int = 64,
        epochs: int = 40,
        learning_rate: float = 0.01,
        l2: float = 1e-4,
        batch_size: int = 4096,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.factors, self.epochs, self.learning_rate = factors, epochs, learning_rate
        self.l2, self.batch_size = l2, batch_size
        self.losses: list[float] = []

    def params(self) -> dict[str, Any]:
        return {
            "factors": self.factors,
            "epochs": self.epochs,
            "learning_rate": self.learning_rate,
            "l2": self.l2,
            "batch_size": self.batch_size,
        }

    def _fit(self, data: TrainingData) -> None:
        generator = torch.Generator().manual_seed(self.seed)
        n_users, n_items = len(data.users), len(data.items)
        self.user_factors = torch.nn.Parameter(torch.randn(n_users, self.factors, generator=generator) * 0.01)
        self.item_factors = torch.nn.Parameter(torch.randn(n_items, self.factors, generator=generator) * 0.01)
        self.item_bias = torch.nn.Parameter(torch.zeros(n_items))
        for p in (self.user_factors, self.item_factors, self.item_bias):
            p.data = p.data.to(self.device)
        optimizer = torch.optim.Adam([self.user_factors, self.item_factors, self.item_bias], lr=self.learning_rate)
        positives = data.binary.tocoo()
        users = torch.as_tensor(positives.row, dtype=torch.long)
        items = torch.as_tensor(positives.col, dtype=torch.long)
        for _ in range(self.epochs):
            order = torch.randperm(len(users), generator=generator)
            total = 0.0
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                u, i = users[batch].to(self.device), items[batch].to(self.device)
                j = torch.randint(0, n_items, (len(batch),), generator=generator).to(self.device)
                pu = self.user_factors[u]
                diff = (
                    (pu * (self.item_factors[i] - self.item_factors[j])).sum(1) + self.item_bias[i] - self.item_bias[j]
                )
                loss = -torch.nn.functional.logsigmoid(diff).mean()
                loss = loss + self.l2 * (pu.pow(2).sum() + self.item_factors[i].pow(2).sum()
                                         + self.item_factors[j].pow(2).sum()) / len(batch)  # fmt: skip
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += loss.item() * len(batch)
            self.losses.append(total / len(order))

    def _score_users(self, user_rows: np.ndarray) -> torch.Tensor:
        with torch.no_grad():
            u = self.user_factors[torch.as_tensor(user_rows, device=self.device)]
            return u @ self.item_factors.T + self.item_bias
