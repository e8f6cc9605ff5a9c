"""EASE: embarrassingly shallow autoencoder, closed form (Steck, WWW 2019).

`weighting="rating"` feeds ratings scaled to [0, 1] instead of 0/1 interactions: on explicit data
a 5-star rating then says more about a user's taste than a 1-star one, which matters when the
target is "items the user will rate highly" (the Chat-Rec protocol).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from chatrec.models.base import Recommender, TrainingData


class LinearItemAutoencoder(Recommender):
    """The shared part of EASE and DLAE: an item x item weight matrix B learnt from the input X
    (0/1 interactions or scaled ratings, `weighting`), and scores = X B for the user's row.

    X stays sparse (users x items is never dense). B is dense over at most `max_items` items, the
    most popular ones (`kept`): an items x items matrix is 28 GB at 60K items and inverting it takes
    hours, while the tail beyond the cap holds few interactions. Items outside the cap rank below every kept item.
    """

    def __init__(self, *, weighting: str = "binary", max_items: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if weighting not in ("binary", "rating"):
            raise ValueError(f"weighting must be 'binary' or 'rating', got {weighting!r}")
        self.weighting = weighting
        self.max_items = max_items

    def _input(self, data: TrainingData) -> sp.csr_matrix:
        """X over the kept items (sparse float64): 0/1 interactions, or ratings scaled to [0, 1]."""
        source = data.binary if self.weighting == "binary" else data.matrix / max(data.matrix.max(), 1e-9)
        self.kept = popular_items(data, self.max_items)
        self.user_items = sp.csr_matrix(source[:, self.kept], dtype=np.float64)
        return self.user_items

    def _gram_dense(self, x: sp.csr_matrix) -> torch.Tensor:
        """X'X as a dense float64 tensor over the kept items (computed sparse: cost ~ sum of n_u^2)."""
        return torch.as_tensor((x.T @ x).toarray(), dtype=torch.float64, device=self.device)

    def _score_users(self, user_rows: np.ndarray) -> torch.Tensor:
        chunk = self.user_items[user_rows]
        x = self.user_items
        if x.nnz < SPARSE_SCORING_DENSITY * x.shape[0] * x.shape[1]:
            # a sparse X times dense B costs nnz x items instead of users x items^2: 5x faster at 1.5%
            # density (bench.scale's 5M and 25M shapes); denser data (ML-100K, 5-6%) keeps the dense
            # product, so its scores are unchanged to the last bit
            chunk = chunk.astype(np.float32)
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
                rows = torch.sparse_csr_tensor(
                    torch.as_tensor(chunk.indptr, dtype=torch.int64),
                    torch.as_tensor(chunk.indices, dtype=torch.int64),
                    torch.as_tensor(chunk.data),
                    size=chunk.shape,
                    check_invariants=False,
                ).to(self.device)
            return scatter_kept(rows @ self.weights, self.kept, len(self.fitted.items))
        rows = torch.as_tensor(chunk.toarray(), dtype=torch.float32, device=self.device)
        return scatter_kept(rows @ self.weights, self.kept, len(self.fitted.items))


# below this share of non-zeros in X, users are scored with a sparse product (see _score_users)
SPARSE_SCORING_DENSITY = 0.02


def popular_items(data: TrainingData, max_items: int | None) -> np.ndarray:
    """Item rows of the `max_items` most interacted-with items (all items when it does not bind), sorted."""
    n_items = len(data.items)
    if max_items is None or n_items <= max_items:
        return np.arange(n_items)
    counts = np.asarray(data.binary.sum(axis=0)).ravel()
    return np.sort(np.argsort(-counts, kind="stable")[:max_items])


def scatter_kept(scores: torch.Tensor, kept: np.ndarray, n_items: int) -> torch.Tensor:
    """Scores over the kept items -> scores over the whole catalogue; items outside the cap score
    below every kept item (finite, so pairwise scores stay usable)."""
    if len(kept) == n_items:
        return scores
    floor = scores.min(dim=1, keepdim=True).values - 1.0 if scores.shape[1] else 0.0
    out = torch.zeros((scores.shape[0], n_items), dtype=scores.dtype, device=scores.device) + floor
    out[:, torch.as_tensor(kept, device=scores.device)] = scores
    return out


class EASE(LinearItemAutoencoder):
    name = "ease"

    def __init__(self, *, l2: float = 500.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.l2 = l2

    def params(self) -> dict[str, Any]:
        return {"l2": self.l2, "weighting": self.weighting, "max_items": self.max_items}

    def _fit(self, data: TrainingData) -> None:
        gram = self._gram_dense(self._input(data))
        gram += self.l2 * torch.eye(gram.shape[0], dtype=gram.dtype, device=self.device)
        precision = torch.linalg.inv(gram)
        weights = -precision / torch.diagonal(precision)[None, :]
        weights.fill_diagonal_(0.0)
        self.weights = weights.float()
