"""Item-based k-nearest neighbours with shrunk cosine similarity (Sarwar et al.; shrinkage as in Koren).

Sparse throughout: co-occurrence is a sparse product, and each item keeps its `neighbours` strongest
neighbours as a sparse top-k, so memory grows with items x neighbours, not items x items. Like the
linear autoencoders it covers at most `max_items` items, the most popular ones.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from chatrec.models.base import Recommender, TrainingData
from chatrec.models.ease import SPARSE_SCORING_DENSITY, cooccurrence, popular_items, scatter_kept


class ItemKNN(Recommender):
    name = "itemknn"

    def __init__(
        self, *, neighbours: int = 100, shrinkage: float = 10.0, max_items: int | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.neighbours = neighbours
        self.shrinkage = shrinkage
        self.max_items = max_items

    def params(self) -> dict[str, Any]:
        return {"neighbours": self.neighbours, "shrinkage": self.shrinkage, "max_items": self.max_items}

    def _fit(self, data: TrainingData) -> None:
        self.kept = popular_items(data, self.max_items)
        x = sp.csr_matrix(data.binary[:, self.kept], dtype=np.float32)
        if x.nnz < SPARSE_SCORING_DENSITY * x.shape[0] * x.shape[1]:
            # large sparse data: the split X'X, shared with EASE/DLAE on the same X (counts are exact)
            co = sp.csc_matrix(cooccurrence(sp.csr_matrix(x, dtype=np.float64)).astype(np.float32))
        else:
            co = sp.csc_matrix(x.T @ x)  # co-occurrence counts, sparse
        norms = np.sqrt(co.diagonal())
        co.setdiag(0.0)
        co.eliminate_zeros()
        # shrunk cosine on the stored (co-occurring) pairs only: the others are 0 either way
        rows = co.indices
        cols = np.repeat(np.arange(co.shape[1]), np.diff(co.indptr))
        co.data = (co.data / (norms[rows] * norms[cols] + self.shrinkage)).astype(np.float32)
        self.similarity = top_k_per_column(co, self.neighbours)
        self.user_items = x

    def _score_users(self, user_rows: np.ndarray) -> torch.Tensor:
        scores = (self.user_items[user_rows] @ self.similarity).toarray()
        return scatter_kept(torch.as_tensor(scores, device=self.device), self.kept, len(self.fitted.items))

    def item_similarity(self) -> sp.csr_matrix:
        """Item x item similarity over the kept items (sparse; used for explanation evidence)."""
        return self.similarity


def top_k_per_column(matrix: sp.csc_matrix, k: int) -> sp.csr_matrix:
    """Keep each column's k largest entries (each target item's strongest neighbours: less noise from
    rare co-occurrences); the result as CSR for fast row slicing x @ S."""
    data, indices, indptr = matrix.data, matrix.indices, matrix.indptr
    keep = np.ones(len(data), dtype=bool)
    for column in np.flatnonzero(np.diff(indptr) > k):
        start, stop = indptr[column], indptr[column + 1]
        weakest = np.argpartition(-data[start:stop], k)[k:]
        keep[start + weakest] = False
    cols = np.repeat(np.arange(matrix.shape[1]), np.diff(indptr))
    pruned = sp.csr_matrix((data[keep], (indices[keep], cols[keep])), shape=matrix.shape, dtype=np.float32)
    return pruned
