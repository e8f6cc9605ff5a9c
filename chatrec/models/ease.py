"""EASE: embarrassingly shallow autoencoder, closed form (Steck, WWW 2019).

`weighting="rating"` feeds ratings scaled to [0, 1] instead of 0/1 interactions: on explicit data
a 5-star rating then says more about a user's taste than a 1-star one, which matters when the
target is "items the user will rate highly" (the Chat-Rec protocol).
"""

from __future__ import annotations

import hashlib
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
        """X'X as a dense float64 tensor over the kept items (see `cooccurrence`)."""
        return torch.as_tensor(cooccurrence(x), dtype=torch.float64, device=self.device)

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
            blocks = self._weight_blocks()
            product = torch.cat([rows @ block for block in blocks], dim=1) if len(blocks) > 1 else rows @ blocks[0]
            return scatter_kept(product, self.kept, len(self.fitted.items))
        rows = torch.as_tensor(chunk.toarray(), dtype=torch.float32, device=self.device)
        return scatter_kept(rows @ self.weights, self.kept, len(self.fitted.items))

    def _weight_blocks(self) -> list[torch.Tensor]:
        """B's columns in contiguous blocks of WEIGHT_BLOCK_COLUMNS, made once per process (not persisted).

        A sparse row times B reads one whole B row (40 KB at 10K items) per non-zero, and B (400 MB)
        does not fit in any cache, so the product streams memory and a second process on the other core
        competes for the same bandwidth. Against a block of B's columns that fits the cache, each row's
        non-zeros read cached memory: the same sums in the same order (identical scores), and the 5M
        batch run's scoring phase took 31-41 s instead of 59-60 s in-process (bench.scale, old and new code
        back to back; docs/benchmarks.md). The blocks cost one more copy of B in memory (400 MB at
        10K items); on a GPU the whole B stays one block."""
        cached = self.__dict__.get("_blocks")
        if cached is not None and cached[0] is self.weights:  # a refit or a move makes new weights
            return cached[1]
        weights = self.weights
        width = weights.shape[1] if weights.is_cuda else WEIGHT_BLOCK_COLUMNS
        blocks = [weights[:, j : j + width].contiguous() for j in range(0, weights.shape[1], width)]
        self._blocks = (weights, blocks)
        return blocks

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_blocks", None)  # rebuilt from the weights where it is needed
        return state


# columns of B per block of the sparse scoring product: 10K rows x 256 columns x 4 bytes = 10 MB, which
# stays in this machine's 32 MB L3 cache (256 and 512 alike in a probe, both 3-4x the unblocked product)
WEIGHT_BLOCK_COLUMNS = 256
# below this share of non-zeros in X, users are scored with a sparse product (see _score_users) and
# X'X is computed by `cooccurrence`'s split
SPARSE_SCORING_DENSITY = 0.02
# a user with more than items / HEAVY_USER_SHARE interactions adds to X'X through a dense product:
# BLAS does items^2 multiply-adds per user faster than a sparse product does its n_u^2 (measured on
# bench.scale's 5M data: 57 ns per sparse pair, ~20 ms per dense 10K-item row on a busy core)
HEAVY_USER_SHARE = 16
# the last grams computed (X's digest -> X'X): EASE, DLAE and ItemKNN fit on the same X in one retrain
_GRAMS: dict[bytes, np.ndarray] = {}
GRAMS_KEPT = 2


def cooccurrence(x: sp.csr_matrix) -> np.ndarray:
    """X'X, dense float64 (a new array each call: callers modify it).

    Sparse data (under SPARSE_SCORING_DENSITY) is split by user: light users through the sparse
    product (cost ~ sum of n_u^2), heavy ones (over items / HEAVY_USER_SHARE) through dense BLAS in
    blocks (cost ~ items^2 each), whose n_u^2 would dominate the sparse product: a 7,955-item user is
    63M sparse pairs. The sum is exact for 0/1 X, to rounding otherwise. The result is kept for the
    next model fitted on the same X (by a digest of X's arrays)."""
    key = hashlib.blake2b(
        b"".join(np.ascontiguousarray(a).tobytes() for a in (np.asarray(x.shape), x.indptr, x.indices, x.data)),
        digest_size=16,
    ).digest()
    if key in _GRAMS:
        return _GRAMS[key].copy()
    n_items = x.shape[1]
    if x.nnz >= SPARSE_SCORING_DENSITY * x.shape[0] * n_items:
        gram = (x.T @ x).toarray()
    else:
        counts = np.diff(x.indptr)
        heavy = np.flatnonzero(counts > n_items / HEAVY_USER_SHARE)
        light = x[np.flatnonzero(counts <= n_items / HEAVY_USER_SHARE)]
        gram = np.asarray((light.T @ light).toarray(), dtype=np.float64)
        block = max(1, (256 << 20) // (8 * n_items))  # 256 MB of dense rows at a time
        for start in range(0, len(heavy), block):
            rows = torch.as_tensor(x[heavy[start : start + block]].toarray(), dtype=torch.float64)
            gram += (rows.T @ rows).numpy()
    _GRAMS[key] = gram
    while len(_GRAMS) > GRAMS_KEPT:
        _GRAMS.pop(next(iter(_GRAMS)))
    return gram.copy()


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
