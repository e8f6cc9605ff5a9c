"""Biased matrix factorisation for rating prediction: r = mu + b_u + b_i + p_u . q_i (Koren 2009).

Trained full-batch-free with mini-batch Adam and L2 on the parameters touched by each batch,
which on ML-100K matches or beats the classic SGD "SVD" of Surprise. `ensemble=n` trains n
factorisations from different random starts (seeds seed..seed+n-1) and averages their predictions:
each run lands in a different local optimum, and averaging removes part of that variance.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

import numpy as np
import polars as pl
import torch

from chatrec.models.base import IdIndex, RatingPredictor, seed_everything


class BiasedFactorModel(RatingPredictor):
    """The shared part of the biased factorisations r = mu + b_u + b_i + p_u . q_i (`BiasedMF`,
    `BayesianMF`): indexing the explicit ratings, and predicting under one or more parameter sets."""

    def _index_ratings(self, interactions: pl.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Index users and items of the rated rows (sets `users`, `items`); returns their user rows,
        item rows and ratings."""
        frame = interactions.filter(pl.col("rating").is_not_null())
        if frame.height == 0:
            raise ValueError(f"{type(self).__name__} needs explicit ratings; none found")
        users, items = frame.get_column("user_id").cast(pl.Utf8), frame.get_column("item_id").cast(pl.Utf8)
        self.users = IdIndex(sorted(users.unique().to_list()))
        self.items = IdIndex(sorted(items.unique().to_list()))
        ratings = frame.get_column("rating").cast(pl.Float64).to_numpy()
        return self.users.rows(users.to_list()), self.items.rows(items.to_list()), ratings

    def _draws(
        self,
        user_ids: Sequence[str],
        item_ids: Sequence[str],
        user_bias: np.ndarray,
        item_bias: np.ndarray,
        user_factors: np.ndarray,
        item_factors: np.ndarray,
    ) -> np.ndarray:
        """Unclipped predictions [S, pairs] under S parameter sets (each array has a leading S axis).
        An unknown user or item keeps the terms that are known (down to the global mean)."""
        u = self.users.rows([str(x) for x in user_ids])
        i = self.items.rows([str(x) for x in item_ids])
        ku, ki = u >= 0, i >= 0
        both = ku & ki
        draws = np.full((len(user_bias), len(u)), self.mean, dtype=np.float64)
        draws[:, ku] += user_bias[:, u[ku]]
        draws[:, ki] += item_bias[:, i[ki]]
        draws[:, both] += np.einsum("snd,snd->sn", user_factors[:, u[both]], item_factors[:, i[both]])
        return draws


class BiasedMF(BiasedFactorModel):
    name = "biasedmf"

    def __init__(
        self,
        *,
        factors: int = 64,
        epochs: int = 30,
        learning_rate: float = 0.005,
        l2_factors: float = 0.1,
        l2_bias: float = 0.005,
        batch_size: int = 512,
        max_steps_per_epoch: int | None = 256,
        max_samples: int | None = 30_000_000,
        ensemble: int = 1,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if ensemble < 1:
            raise ValueError(f"ensemble must be >= 1, got {ensemble}")
        self.ensemble = ensemble
        self.factors, self.epochs, self.learning_rate = factors, epochs, learning_rate
        self.l2_factors, self.l2_bias, self.batch_size = l2_factors, l2_bias, batch_size
        # past batch_size x max_steps_per_epoch ratings the batch grows instead of the step count:
        # every Adam step updates all user and item parameters, so steps, not rows, are what a fit
        # costs (ML-100K's ~100K ratings take <= 196 steps of 512 and are unchanged; 25M ratings
        # take 256 steps of ~98K instead of 49K steps of 512, hours on a CPU; bench.scale)
        self.max_steps_per_epoch = max_steps_per_epoch
        # and past max_samples / epochs ratings the epochs shrink (to one at least): a fit passes over
        # at most max_samples ratings (30 epochs of ML-1M's ~1M ratings stay as they are; 25M ratings
        # get one pass; a large data set needs fewer passes, and its fit stays minutes, not hours)
        self.max_samples = max_samples

    def params(self) -> dict[str, Any]:
        return {
            "factors": self.factors,
            "epochs": self.epochs,
            "learning_rate": self.learning_rate,
            "l2_factors": self.l2_factors,
            "l2_bias": self.l2_bias,
            "batch_size": self.batch_size,
            "max_steps_per_epoch": self.max_steps_per_epoch,
            "max_samples": self.max_samples,
            "ensemble": self.ensemble,
        }

    def fit(self, interactions: pl.DataFrame) -> Self:
        user_rows, item_rows, ratings = self._index_ratings(interactions)
        device = torch.device(self.device)
        u, i = torch.as_tensor(user_rows, device=device), torch.as_tensor(item_rows, device=device)
        r = torch.tensor(ratings, dtype=torch.float32, device=device)
        self.mean = float(r.mean())
        self.members: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self.losses: list[float] = []
        for member in range(self.ensemble):
            self._fit_member(u, i, r, self.seed + member)
        return self

    def _fit_member(self, u: torch.Tensor, i: torch.Tensor, r: torch.Tensor, seed: int) -> None:
        seed_everything(seed)
        # initial values and batch order come from a CPU generator, so a CUDA fit starts from the
        # same point and visits the ratings in the same order as a CPU fit
        generator = torch.Generator().manual_seed(seed)
        device = r.device
        self.user_bias = torch.zeros(len(self.users), device=device, requires_grad=True)
        self.item_bias = torch.zeros(len(self.items), device=device, requires_grad=True)
        self.user_factors = (torch.randn(len(self.users), self.factors, generator=generator) * 0.1).to(device)
        self.item_factors = (torch.randn(len(self.items), self.factors, generator=generator) * 0.1).to(device)
        parameters = [
            self.user_bias,
            self.item_bias,
            self.user_factors.requires_grad_(),
            self.item_factors.requires_grad_(),
        ]
        optimizer = torch.optim.Adam(parameters, lr=self.learning_rate)
        batch_size = self.batch_size
        if self.max_steps_per_epoch:
            batch_size = max(batch_size, -(-len(r) // self.max_steps_per_epoch))
        epochs = self.epochs
        if self.max_samples:
            epochs = max(1, min(epochs, self.max_samples // max(len(r), 1)))
        for _ in range(epochs):
            order = torch.randperm(len(r), generator=generator).to(device)
            # summed on the device: a .item() per batch would stall a GPU on every step
            total = torch.zeros((), dtype=torch.float64, device=device)
            for start in range(0, len(order), batch_size):
                batch = order[start : start + batch_size]
                bu, bi, br = u[batch], i[batch], r[batch]
                pu, qi = self.user_factors[bu], self.item_factors[bi]
                prediction = self.mean + self.user_bias[bu] + self.item_bias[bi] + (pu * qi).sum(1)
                error = ((prediction - br) ** 2).mean()
                penalty = (
                    self.l2_factors * (pu.pow(2).sum(1) + qi.pow(2).sum(1)).mean()
                    + self.l2_bias * (self.user_bias[bu].pow(2) + self.item_bias[bi].pow(2)).mean()
                )
                optimizer.zero_grad()
                (error + penalty).backward()
                optimizer.step()
                total += error.detach().double() * len(batch)
            self.losses.append(total.item() / len(order))
        for p in parameters:
            p.requires_grad_(False)
        # kept on the CPU, so a model fitted on a GPU saves and loads on a machine without one
        self.user_bias, self.item_bias, self.user_factors, self.item_factors = (p.cpu() for p in parameters)
        self.members.append(
            (self.user_bias.numpy(), self.item_bias.numpy(), self.user_factors.numpy(), self.item_factors.numpy())
        )

    def _predict_raw(self, user_ids: Sequence[str], item_ids: Sequence[str]) -> np.ndarray:
        """Unknown users or items fall back to the biases that are known (then the global mean)."""
        # artifacts saved before ensembles existed hold one member as plain attributes
        members = getattr(self, "members", None) or [
            tuple(p.numpy() for p in (self.user_bias, self.item_bias, self.user_factors, self.item_factors))
        ]
        # the ensemble averages its members' unclipped predictions
        return self._draws(user_ids, item_ids, *(np.stack(part) for part in zip(*members, strict=True))).mean(0)
