"""DLAE: a denoising linear autoencoder in closed form (Steck, "Autoencoders that don't overfit towards
the identity", NeurIPS 2020), and a session-aware variant.

EASE stops its item-item weights B from learning the identity with a hard zero-diagonal constraint
and one L2 penalty for every item. DLAE instead trains X -> XB under dropout of the input with
probability p, which in expectation is the L2 penalty Lambda = p/(1-p) * diag(X'X) + l2 * I:

    B = (X'X + Lambda)^-1 X'X

The dropout term penalises each item in proportion to its popularity (the diagonal of the gram
matrix), so a popular item can neither predict itself nor dominate its neighbours, while a rare
one is regularised less; with p = 0 the model is plain ridge regression of X on itself. On
MovieLens 100K it beats the best EASE on both ranking protocols, chosen on validation.

`SessionDLAE` adds temporal closeness to the gram matrix: two items that a user consumed minutes
apart (one viewing session, one "I watched these" sitting) are more related than two items the
same user met months apart, so each user's pair (i, j) also adds

    session_weight * x_ui * x_uj * exp(-|t_ui - t_uj| / session_seconds)

(a Laplace kernel, so the sum stays positive semi-definite). Scoring is unchanged (XB), so no
timestamp is needed at recommendation time. Interactions without timestamps all sit at t = 0,
where the kernel is 1 and the term is a plain rescaled gram matrix.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from chatrec.models.base import TrainingData
from chatrec.models.ease import LinearItemAutoencoder


class DLAE(LinearItemAutoencoder):
    name = "dlae"

    def __init__(self, *, l2: float = 200.0, dropout: float = 0.33, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if l2 < 0:
            raise ValueError(f"l2 must be >= 0, got {l2}")
        self.l2 = l2
        self.dropout = dropout

    def params(self) -> dict[str, Any]:
        return {"l2": self.l2, "dropout": self.dropout, "weighting": self.weighting, "max_items": self.max_items}

    def _gram(self, data: TrainingData, x: sp.csr_matrix) -> torch.Tensor:
        return self._gram_dense(x)

    def _fit(self, data: TrainingData) -> None:
        x = self._input(data)
        gram = self._gram(data, x)
        penalty = self.dropout / (1.0 - self.dropout) * torch.diagonal(gram) + self.l2
        regularised = gram + torch.diag(penalty)
        # items nobody interacted with have an all-zero row and column: a tiny ridge keeps the system
        # solvable (their weights come out zero either way)
        regularised += 1e-8 * torch.eye(gram.shape[0], dtype=gram.dtype, device=self.device)
        self.weights = torch.linalg.solve(regularised, gram).float()


class SessionDLAE(DLAE):
    name = "session_dlae"

    def __init__(self, *, session_seconds: float = 3600.0, session_weight: float = 1.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if session_seconds <= 0:
            raise ValueError(f"session_seconds must be > 0, got {session_seconds}")
        if session_weight < 0:
            raise ValueError(f"session_weight must be >= 0, got {session_weight}")
        self.session_seconds = session_seconds
        self.session_weight = session_weight

    def params(self) -> dict[str, Any]:
        return {**super().params(), "session_seconds": self.session_seconds, "session_weight": self.session_weight}

    def _gram(self, data: TrainingData, x: sp.csr_matrix) -> torch.Tensor:
        gram = super()._gram(data, x)
        if self.session_weight > 0:
            gram += self.session_weight * session_gram(
                data, x, self.session_seconds, kept=self.kept, device=gram.device
            )
        return gram


def session_gram(
    data: TrainingData,
    x: sp.csr_matrix,
    seconds: float,
    *,
    kept: np.ndarray | None = None,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """sum over users and their interaction pairs of x_ui * x_uj * exp(-|t_ui - t_uj| / seconds),
    over the kept items (x's columns; None = every item)."""
    n_items = x.shape[1]
    kept = np.arange(len(data.items)) if kept is None else kept
    column = np.full(len(data.items), -1, dtype=np.int64)
    column[kept] = np.arange(len(kept))
    in_cap = column[data.item_rows] >= 0
    order = np.argsort(data.user_rows[in_cap], kind="stable")
    users, items = data.user_rows[in_cap][order], column[data.item_rows[in_cap]][order]
    gram = torch.zeros(n_items * n_items, dtype=torch.float64, device=device)
    times = torch.as_tensor(data.timestamps[in_cap][order].astype(np.float64), dtype=torch.float64, device=device)
    values = torch.as_tensor(np.asarray(x[users, items]).ravel(), dtype=torch.float64, device=device)
    items_t = torch.as_tensor(items, device=device)
    starts = np.r_[0, np.flatnonzero(np.diff(users)) + 1, len(users)]
    for start, stop in pairwise(starts.tolist()):
        t, v, i = times[start:stop], values[start:stop], items_t[start:stop]
        kernel = torch.exp(-(t[:, None] - t[None, :]).abs() / seconds) * v[:, None] * v[None, :]
        # index_add_ accumulates repeated (i, j) pairs, which plain indexing would drop
        gram.index_add_(0, (i[:, None] * n_items + i[None, :]).reshape(-1), kernel.reshape(-1))
    return gram.reshape(n_items, n_items)
