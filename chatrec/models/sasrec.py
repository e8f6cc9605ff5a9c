"""SASRec (Kang & McAuley, ICDM 2018): a causal Transformer over each user's time-ordered history,
whose item embeddings are augmented with language-model text embeddings of the item.

An item's vector is `text_projection(MiniLM(item text)) + id_embedding(item)`. Items with no
training interactions get no ID part (it would be untrained noise), so they are scored through
their text alone: that is how the model recommends items nobody has interacted with yet (cold
start). During training the ID part of each item is dropped with probability `id_dropout`, so the
text projection has to carry the preference signal on its own too. `use_text=False` gives the
plain ID-only SASRec (the ablation).

Trained with cross-entropy over the next item: a full softmax over all items with interactions
(`negatives=0`, cheap for catalogues of a few thousand items and the better loss for SASRec, see
Klenitskiy & Vasilev, RecSys 2023), or a sampled softmax over `negatives` uniform negatives per
batch for large catalogues.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import torch
from torch import nn

from chatrec.models.base import Recommender, TrainingData
from chatrec.text import ItemTextEncoder, item_texts

log = logging.getLogger(__name__)


def text_embeddings_for(data: TrainingData, encoder: ItemTextEncoder) -> np.ndarray:
    """Text vectors aligned with the model's item index (every catalogue item needs a row in `items`)."""
    if data.item_frame is None:
        raise ValueError("a text-aware model needs the items frame (item_id, title, ...) passed to fit(..., items)")
    frame = data.item_frame.with_columns(pl.col("item_id").cast(pl.Utf8)).unique("item_id", keep="first")
    order = pl.DataFrame({"item_id": data.items.ids.tolist()}, schema={"item_id": pl.Utf8})
    aligned = order.join(frame, on="item_id", how="left", maintain_order="left")
    if "title" not in aligned.columns:
        raise ValueError("items frame lacks the title column needed for item text")
    untitled = aligned.filter(pl.col("title").is_null())["item_id"].to_list()
    if untitled:
        shown = ", ".join(untitled[:5])
        raise ValueError(f"{len(untitled)} interacted item(s) are missing from the items frame (e.g. {shown})")
    return encoder.encode(item_texts(aligned))


class SASRecNetwork(nn.Module):
    """Item vectors (ID + projected text) and a causal Transformer encoder over item sequences."""

    def __init__(
        self,
        n_items: int,
        *,
        dim: int,
        layers: int,
        heads: int,
        max_len: int,
        dropout: float,
        text: torch.Tensor | None,
        warm: torch.Tensor,
    ) -> None:
        super().__init__()
        self.dim, self.heads, self.max_len = dim, heads, max_len
        # row 0 is padding; item row r lives at r + 1
        self.id_embedding = nn.Embedding(n_items + 1, dim, padding_idx=0)
        nn.init.normal_(self.id_embedding.weight, std=0.02)
        with torch.no_grad():
            self.id_embedding.weight[0].zero_()
        self.register_buffer("warm", torch.cat([torch.zeros(1), warm.float()]))
        if text is not None:
            self.register_buffer("text", torch.cat([torch.zeros(1, text.shape[1]), text.float()]))
            self.text_projection: nn.Module | None = nn.Sequential(nn.Linear(text.shape[1], dim), nn.LayerNorm(dim))
        else:
            self.text = None
            self.text_projection = None
        self.position = nn.Embedding(max_len, dim)
        self.input_dropout = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(
            dim, heads, dim_feedforward=4 * dim, dropout=dropout, activation="gelu", batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.final_norm = nn.LayerNorm(dim)

    def item_vectors(self, id_keep: torch.Tensor | None = None) -> torch.Tensor:
        """[n_items + 1, dim]; the ID part is zero for cold items and for items dropped by `id_keep`."""
        keep = self.warm if id_keep is None else self.warm * id_keep
        vectors = self.id_embedding.weight * keep.unsqueeze(1)
        if self.text_projection is not None:
            assert self.text is not None
            projected = self.text_projection(self.text)
            vectors = torch.cat([torch.zeros_like(vectors[:1]), vectors[1:] + projected[1:]])  # padding stays zero
        return vectors

    def forward(self, sequences: torch.Tensor, vectors: torch.Tensor) -> torch.Tensor:
        """Hidden state after every position: [batch, length, dim] for left-padded [batch, length] ids."""
        length = sequences.shape[1]
        positions = torch.arange(length, device=sequences.device)
        hidden = vectors[sequences] * math.sqrt(self.dim) + self.position(positions)
        hidden = self.input_dropout(hidden) * (sequences > 0).unsqueeze(-1)
        # causal mask plus "don't attend to padding"; every position may always see itself, so the
        # rows of padding positions are never all-masked (which would give NaN)
        causal = torch.ones(length, length, dtype=torch.bool, device=sequences.device).tril()
        allowed = causal.unsqueeze(0) & (sequences > 0).unsqueeze(1)
        allowed = allowed | torch.eye(length, dtype=torch.bool, device=sequences.device).unsqueeze(0)
        mask = torch.zeros(allowed.shape, device=sequences.device).masked_fill(~allowed, float("-inf"))
        mask = mask.repeat_interleave(self.heads, dim=0)
        return self.final_norm(self.encoder(hidden, mask=mask))


class SASRec(Recommender):
    """Self-attentive sequential recommender with text-augmented item embeddings (cold-start capable)."""

    name = "sasrec"

    def __init__(
        self,
        *,
        dim: int = 64,
        layers: int = 2,
        heads: int = 2,
        max_len: int = 50,
        dropout: float = 0.2,
        epochs: int = 10,
        batch_size: int = 128,
        learning_rate: float = 1e-3,
        weight_decay: float = 0.0,
        negatives: int = 0,
        use_text: bool = True,
        id_dropout: float = 0.2,
        embedding_model: str = "all-MiniLM-L6-v2",
        embedding_cache_dir: Path | str | None = None,
        encoder: ItemTextEncoder | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if dim % heads:
            raise ValueError(f"dim ({dim}) must be divisible by heads ({heads})")
        for field, value in (("max_len", max_len), ("epochs", epochs), ("batch_size", batch_size), ("layers", layers)):
            if value < 1:
                raise ValueError(f"{field} must be >= 1, got {value}")
        if negatives < 0:
            raise ValueError(f"negatives must be >= 0 (0 = full softmax), got {negatives}")
        if not 0.0 <= id_dropout < 1.0:
            raise ValueError(f"id_dropout must be in [0, 1), got {id_dropout}")
        self.dim, self.layers, self.heads, self.max_len = dim, layers, heads, max_len
        self.dropout, self.epochs, self.batch_size = dropout, epochs, batch_size
        self.learning_rate, self.weight_decay, self.negatives = learning_rate, weight_decay, negatives
        self.use_text, self.id_dropout = use_text, id_dropout
        self.embedding_model = embedding_model
        self.embedding_cache_dir = Path(embedding_cache_dir) if embedding_cache_dir is not None else None
        self._encoder = encoder
        self.losses: list[float] = []
        self.network: SASRecNetwork | None = None

    def params(self) -> dict[str, Any]:
        return {
            "dim": self.dim, "layers": self.layers, "heads": self.heads, "max_len": self.max_len,
            "dropout": self.dropout, "epochs": self.epochs, "batch_size": self.batch_size,
            "learning_rate": self.learning_rate, "weight_decay": self.weight_decay, "negatives": self.negatives,
            "use_text": self.use_text, "id_dropout": self.id_dropout if self.use_text else 0.0,
            "embedding_model": self.embedding_model if self.use_text else None,
        }  # fmt: skip

    @property
    def encoder(self) -> ItemTextEncoder:
        if self._encoder is None:
            self._encoder = ItemTextEncoder(
                self.embedding_model, device=self.device, cache_dir=self.embedding_cache_dir
            )
        return self._encoder

    # -- data --------------------------------------------------------------------------------
    def _histories(self, data: TrainingData) -> list[np.ndarray]:
        """Each user's item rows in time order (ties keep the input order), +1 for the padding row."""
        order = np.lexsort((np.arange(len(data.user_rows)), data.timestamps, data.user_rows))
        users, items = data.user_rows[order], data.item_rows[order] + 1
        bounds = np.searchsorted(users, np.arange(len(data.users) + 1))
        return [items[bounds[u] : bounds[u + 1]] for u in range(len(data.users))]

    def _windows(self, histories: list[np.ndarray]) -> np.ndarray:
        """Training windows of max_len + 1 items, cut from the end of each history backwards so a
        long history contributes all its items (left-padded when shorter)."""
        width = self.max_len + 1
        rows = []
        for history in histories:
            for end in range(len(history), 1, -self.max_len):
                chunk = history[max(0, end - width) : end]
                row = np.zeros(width, dtype=np.int64)
                row[width - len(chunk) :] = chunk
                rows.append(row)
        if not rows:
            raise ValueError("no user has two or more interactions: nothing for a sequential model to learn")
        return np.stack(rows)

    def _inputs(self, histories: list[np.ndarray], user_rows: np.ndarray) -> torch.Tensor:
        batch = np.zeros((len(user_rows), self.max_len), dtype=np.int64)
        for position, row in enumerate(user_rows):
            recent = histories[row][-self.max_len :]
            if len(recent):
                batch[position, self.max_len - len(recent) :] = recent
        return torch.as_tensor(batch, device=self.device)

    # -- training ----------------------------------------------------------------------------
    def _fit(self, data: TrainingData) -> None:
        n_items = len(data.items)
        warm = torch.as_tensor(np.asarray(data.binary.sum(axis=0)).ravel() > 0)
        text = torch.as_tensor(text_embeddings_for(data, self.encoder)) if self.use_text else None
        generator = torch.Generator().manual_seed(self.seed)
        torch.manual_seed(self.seed)
        network = SASRecNetwork(
            n_items, dim=self.dim, layers=self.layers, heads=self.heads, max_len=self.max_len,
            dropout=self.dropout, text=text, warm=warm,
        ).to(self.device)  # fmt: skip
        self.network = network
        self.histories = self._histories(data)
        windows = torch.as_tensor(self._windows(self.histories))
        optimizer = torch.optim.AdamW(network.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay)
        # cold items are never targets; keeping them out of the softmax stops training from pushing
        # down the text region they live in just because nobody has rated them yet
        warm_rows = torch.nonzero(warm).squeeze(1).to(self.device) + 1
        not_warm = torch.cat([torch.ones(1, dtype=torch.bool), ~warm]).to(self.device)
        self.losses = []
        network.train()
        for epoch in range(self.epochs):
            order = torch.randperm(len(windows), generator=generator)
            total, count = 0.0, 0
            for start in range(0, len(order), self.batch_size):
                batch = windows[order[start : start + self.batch_size]].to(self.device)
                inputs, targets = batch[:, :-1], batch[:, 1:]
                keep = None
                if self.use_text and self.id_dropout > 0:
                    keep = (torch.rand(n_items + 1, generator=generator) >= self.id_dropout).float().to(self.device)
                vectors = network.item_vectors(keep)
                hidden = network(inputs, vectors)
                valid = (targets > 0) & (inputs > 0)
                hidden, targets = hidden[valid], targets[valid]
                if self.negatives == 0:
                    logits = hidden @ vectors.T
                    logits = logits.masked_fill(not_warm, float("-inf"))
                    loss = nn.functional.cross_entropy(logits, targets)
                else:
                    sampled = warm_rows[
                        torch.randint(len(warm_rows), (self.negatives,), generator=generator).to(self.device)
                    ]
                    positive = (hidden * vectors[targets]).sum(-1, keepdim=True)
                    negative = hidden @ vectors[sampled].T
                    negative = negative.masked_fill(sampled.unsqueeze(0) == targets.unsqueeze(1), float("-inf"))
                    logits = torch.cat([positive, negative], dim=1)
                    loss = nn.functional.cross_entropy(logits, torch.zeros_like(targets))
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += loss.item() * len(targets)
                count += len(targets)
            self.losses.append(total / max(count, 1))
            log.info("sasrec epoch %d/%d: loss %.4f", epoch + 1, self.epochs, self.losses[-1])
        network.eval()
        with torch.no_grad():
            self._vectors = network.item_vectors().detach()

    # -- scoring -----------------------------------------------------------------------------
    def _score_users(self, user_rows: np.ndarray) -> torch.Tensor:
        if self.network is None:
            raise RuntimeError("SASRec is not fitted: call fit() first")
        with torch.no_grad():
            hidden = self.network(self._inputs(self.histories, user_rows), self._vectors)[:, -1]
            return hidden @ self._vectors[1:].T

    # -- persistence: the network as its config + state_dict (data only), no embedding model -------
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_encoder"] = None
        network = state.pop("network")
        if network is not None:
            text = network.text
            state["network_config"] = {
                "n_items": int(network.warm.shape[0]) - 1, "dim": network.dim, "heads": network.heads,
                "max_len": network.max_len, "layers": len(network.encoder.layers),
                "dropout": float(network.input_dropout.p), "text_dim": None if text is None else int(text.shape[1]),
            }  # fmt: skip
            state["network_state"] = {k: v.detach().cpu() for k, v in network.state_dict().items()}
            state["_vectors"] = self._vectors.cpu()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        config, weights = state.pop("network_config", None), state.pop("network_state", None)
        self.__dict__.update(state)
        self.__dict__.setdefault("network", None)  # an artifact of an unfitted model has neither
        if self.device.startswith("cuda") and not torch.cuda.is_available():
            self.device = "cpu"  # trained on a GPU machine, loaded on one without
        if config is not None and weights is not None:
            n_items, text_dim = config.pop("n_items"), config.pop("text_dim")
            # the placeholders only give the buffers their shapes; load_state_dict fills them
            text = None if text_dim is None else torch.zeros(n_items, text_dim)
            self.network = SASRecNetwork(n_items, text=text, warm=torch.zeros(n_items), **config)
            self.network.load_state_dict(weights)
        if self.network is not None:
            self.network.to(self.device).eval()
            self._vectors = self._vectors.to(self.device)
