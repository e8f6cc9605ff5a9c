"""One small base class for every recommender (in the style of the `implicit` library).

Subclasses implement `_fit(data)` and `_score_users(user_rows)`; the base class owns the id
mapping, batched top-k with explicit filters (seen items, per-user exclusions, a candidate
set), pairwise scoring, device choice, seeding and saving.
"""

from __future__ import annotations

import pickle
import random
from abc import ABC, abstractmethod
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import polars as pl
import scipy.sparse as sp
import torch

from chatrec.models.artifacts import read_artifact, write_artifact


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class IdIndex:
    """String ids <-> contiguous row numbers."""

    def __init__(self, ids: Sequence[str]) -> None:
        self.ids = np.asarray(list(ids), dtype=object)
        self.position = {item: n for n, item in enumerate(self.ids)}
        if len(self.position) != len(self.ids):
            raise ValueError("ids must be unique")

    def __len__(self) -> int:
        return len(self.ids)

    def rows(self, ids: Sequence[str], *, missing: int = -1) -> np.ndarray:
        return np.fromiter((self.position.get(str(i), missing) for i in ids), dtype=np.int64, count=len(ids))


def sorted_rows(index: IdIndex, values: pl.Series) -> np.ndarray:
    """Rows of `values`, every one of them in `index`, whose ids are sorted (Python's str order is
    polars' byte order): a vectorised binary search instead of a dict lookup per row (25M rows)."""
    ids = pl.Series(index.ids.tolist(), dtype=pl.Utf8)
    rows = ids.search_sorted(values).cast(pl.Int64)
    if not (ids.gather(rows.clip(0, max(len(ids) - 1, 0))) == values).all():
        raise ValueError("an id is missing from the index, or the index is not sorted")
    return rows.to_numpy()


@dataclass
class TrainingData:
    """Interactions as index arrays and a user x item matrix (values = ratings, or 1 for implicit)."""

    users: IdIndex
    items: IdIndex
    user_rows: np.ndarray
    item_rows: np.ndarray
    ratings: np.ndarray
    timestamps: np.ndarray
    matrix: sp.csr_matrix
    item_frame: pl.DataFrame | None

    @property
    def binary(self) -> sp.csr_matrix:
        out = self.matrix.copy()
        out.data[:] = 1.0
        return out


def build_training_data(interactions: pl.DataFrame, items: pl.DataFrame | None = None) -> TrainingData:
    """Index the interactions; the item index also holds catalogue items without interactions (cold start)."""
    missing = {"user_id", "item_id"} - set(interactions.columns)
    if missing:
        raise ValueError(f"interactions lack column(s) {', '.join(sorted(missing))}")
    if interactions.height == 0:
        raise ValueError("cannot fit a recommender on zero interactions")
    frame = interactions.with_columns(pl.col("user_id").cast(pl.Utf8), pl.col("item_id").cast(pl.Utf8))
    user_ids = frame.get_column("user_id").unique(maintain_order=True).sort().to_list()
    item_ids = frame.get_column("item_id").unique().to_list()
    if items is not None:
        item_ids = list(set(item_ids) | set(items.get_column("item_id").cast(pl.Utf8).to_list()))
    users, item_index = IdIndex(user_ids), IdIndex(sorted(item_ids))
    user_rows = sorted_rows(users, frame.get_column("user_id"))
    item_rows = sorted_rows(item_index, frame.get_column("item_id"))
    if "rating" in frame.columns:
        ratings = frame.get_column("rating").fill_null(1.0).cast(pl.Float64).to_numpy()
    else:
        ratings = np.ones(frame.height)
    if "ts" in frame.columns:
        timestamps = frame.get_column("ts").cast(pl.Datetime("us")).dt.epoch("s").fill_null(0).to_numpy()
    else:
        timestamps = np.zeros(frame.height, dtype=np.int64)
    matrix = sp.csr_matrix((ratings, (user_rows, item_rows)), shape=(len(users), len(item_index)))
    matrix.sum_duplicates()
    return TrainingData(users, item_index, user_rows, item_rows, ratings, timestamps, matrix, items)


class StoredModel:
    """Saving and loading a fitted model as one data-only artifact file (see chatrec.models.artifacts)."""

    def save(self, path: Path) -> str:
        """Write the model to `path` atomically; returns the file's sha256 (for models.registry)."""
        return write_artifact(self, path)

    @classmethod
    def load(cls, path: Path) -> Self:
        """Load a model saved by `save`: numpy arrays and JSON only, so a tampered file cannot run code."""
        model: Self = read_artifact(cls, path)
        return model

    @classmethod
    def load_legacy_pickle(cls, path: Path) -> Self:
        """Unpickle an artifact written before artifacts were data-only. Only the one-time, explicit
        migration (`chatrec warehouse migrate-artifacts`) calls this: unpickling runs code."""
        with path.open("rb") as handle:
            model = pickle.load(handle)
        if not isinstance(model, cls):
            raise TypeError(f"{path} holds a {type(model).__name__}, not a {cls.__name__}")
        return model


def stable_top(scores: torch.Tensor, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Each row's `width` best (values, column indices), exactly what a stable descending sort's first
    `width` give (ties broken by catalogue order, so equal scores rank the same every run), at topk's
    cost: a full sort of 1,024 users x 60K items took 22 s on one core, topk 0.6 s. Rows where an
    item outside topk's pick ties with its last value are fully sorted instead."""
    top = torch.topk(scores, width, dim=1)
    # order topk's pick by (value desc, index asc): sort by index, then stably by value
    by_index, permutation = torch.sort(top.indices, dim=1)
    values = top.values.gather(1, permutation)
    order = torch.sort(values, dim=1, descending=True, stable=True).indices
    values, indices = values.gather(1, order), by_index.gather(1, order)
    if width:
        tied = torch.nonzero((scores >= values[:, -1:]).sum(dim=1) > width).flatten()
        if len(tied):
            full = torch.sort(scores[tied], dim=1, descending=True, stable=True)
            values[tied], indices[tied] = full.values[:, :width], full.indices[:, :width]
    return values, indices


class Recommender(StoredModel, ABC):
    """fit on interactions; batched top-k `recommend` with explicit filters; pairwise `score`."""

    name: ClassVar[str]

    def __init__(self, *, device: str = "cpu", seed: int = 42) -> None:
        self.device = device
        self.seed = seed
        self.data: TrainingData | None = None
        self._popularity: np.ndarray | None = None

    # -- to implement ------------------------------------------------------------------------
    @abstractmethod
    def _fit(self, data: TrainingData) -> None: ...

    @abstractmethod
    def _score_users(self, user_rows: np.ndarray) -> torch.Tensor:
        """Scores for every item, one row per known user row: float tensor [len(user_rows), n_items]."""

    def params(self) -> dict[str, Any]:
        """Hyper-parameters, for the registry."""
        return {}

    # -- shared ------------------------------------------------------------------------------
    def fit(self, interactions: pl.DataFrame, items: pl.DataFrame | None = None) -> Self:
        seed_everything(self.seed)
        self.data = build_training_data(interactions, items)
        counts = np.asarray(self.data.binary.sum(axis=0)).ravel()
        self._popularity = counts / max(counts.max(), 1.0)
        self._fit(self.data)
        return self

    @property
    def fitted(self) -> TrainingData:
        if self.data is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit() first")
        return self.data

    def _scores(self, user_ids: Sequence[str]) -> torch.Tensor:
        """Scores for any users; users unseen in training get the popularity ranking."""
        data = self.fitted
        rows = data.users.rows(user_ids)
        known = rows >= 0
        out = torch.empty((len(rows), len(data.items)), dtype=torch.float32, device=self.device)
        if known.any():
            out[torch.as_tensor(known, device=self.device)] = self._score_users(rows[known]).float().to(self.device)
        if (~known).any():
            assert self._popularity is not None
            popularity = torch.as_tensor(self._popularity, dtype=torch.float32, device=self.device)
            out[torch.as_tensor(~known, device=self.device)] = popularity
        return out

    def recommend(
        self,
        user_ids: Sequence[str],
        k: int,
        *,
        exclude_seen: bool = True,
        exclude: Mapping[str, Collection[str]] | None = None,
        candidates: Collection[str] | None = None,
        batch_size: int = 1024,
    ) -> pl.DataFrame:
        """Top-k per user as (user_id, rank 1..k, item_id, score); fewer rows when fewer items qualify."""
        data = self.fitted
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        allowed = None
        if candidates is not None:
            allowed = torch.zeros(len(data.items), dtype=torch.bool, device=self.device)
            rows = data.items.rows(list(candidates))
            allowed[torch.as_tensor(rows[rows >= 0], device=self.device)] = True
        out_users: list[str] = []
        out_items: list[str] = []
        out_scores: list[float] = []
        out_ranks: list[int] = []
        user_ids = [str(u) for u in user_ids]
        for start in range(0, len(user_ids), batch_size):
            batch = user_ids[start : start + batch_size]
            scores = self._scores(batch)
            mask = torch.zeros_like(scores, dtype=torch.bool)
            if exclude_seen:
                rows = data.users.rows(batch)
                known = np.flatnonzero(rows >= 0)
                if len(known):
                    seen = data.matrix[rows[known]].tocoo()
                    mask[torch.as_tensor(known[seen.row]), torch.as_tensor(seen.col)] = True
            if exclude:
                for position, user in enumerate(batch):
                    items = data.items.rows(list(exclude.get(user, ())))
                    mask[position, torch.as_tensor(items[items >= 0], dtype=torch.long)] = True
            if allowed is not None:
                mask |= ~allowed
            scores = scores.masked_fill(mask, float("-inf"))
            width = min(k, scores.shape[1])
            top_values, top_indices = stable_top(scores, width)
            values, indices = top_values.cpu().numpy(), top_indices.cpu().numpy()
            for position, user in enumerate(batch):
                finite = np.isfinite(values[position])
                picked = indices[position][finite]
                out_users.extend([user] * len(picked))
                out_items.extend(data.items.ids[picked].tolist())
                out_scores.extend(values[position][finite].tolist())
                out_ranks.extend(range(1, len(picked) + 1))
        return pl.DataFrame(
            {"user_id": out_users, "rank": out_ranks, "item_id": out_items, "score": out_scores},
            schema={"user_id": pl.Utf8, "rank": pl.Int32, "item_id": pl.Utf8, "score": pl.Float64},
        )

    def score(self, user_ids: Sequence[str], item_ids: Sequence[str]) -> np.ndarray:
        """Score of each (user, item) pair; NaN for items the model has never heard of."""
        if len(user_ids) != len(item_ids):
            raise ValueError("user_ids and item_ids must have the same length")
        data = self.fitted
        result = np.full(len(user_ids), np.nan)
        item_rows = data.items.rows([str(i) for i in item_ids])
        users = np.asarray([str(u) for u in user_ids], dtype=object)
        for user in dict.fromkeys(users.tolist()):
            positions = np.flatnonzero(users == user)
            rows = item_rows[positions]
            ok = rows >= 0
            if ok.any():
                scores = self._scores([user])[0].cpu().numpy()
                result[positions[ok]] = scores[rows[ok]]
        return result


class RatingPredictor(StoredModel, ABC):
    """Predicts explicit ratings for (user, item) pairs."""

    name: ClassVar[str]

    def __init__(self, *, device: str = "cpu", seed: int = 42, rating_range: tuple[float, float] = (1.0, 5.0)) -> None:
        self.device = device
        self.seed = seed
        self.rating_range = rating_range

    @abstractmethod
    def fit(self, interactions: pl.DataFrame) -> Self: ...

    @abstractmethod
    def _predict_raw(self, user_ids: Sequence[str], item_ids: Sequence[str]) -> np.ndarray: ...

    def predict(self, user_ids: Sequence[str], item_ids: Sequence[str]) -> np.ndarray:
        if len(user_ids) != len(item_ids):
            raise ValueError("user_ids and item_ids must have the same length")
        low, high = self.rating_range
        return np.clip(self._predict_raw(user_ids, item_ids), low, high)

    def params(self) -> dict[str, Any]:
        return {}
