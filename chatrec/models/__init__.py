"""Recommenders (candidate stage) and rating predictors, by name."""

from __future__ import annotations

from typing import Any

from chatrec.models.base import RatingPredictor, Recommender
from chatrec.models.bayesianmf import BayesianMF
from chatrec.models.biasedmf import BiasedMF
from chatrec.models.bpr import BPR
from chatrec.models.dlae import DLAE, SessionDLAE
from chatrec.models.ease import EASE
from chatrec.models.itemknn import ItemKNN
from chatrec.models.popularity import Popularity
from chatrec.models.sasrec import SASRec
from chatrec.models.textknn import TextKNN
from chatrec.settings import Settings

CANDIDATE_MODELS: dict[str, type[Recommender]] = {
    m.name: m
    for m in (
        Popularity,
        ItemKNN,
        EASE,
        DLAE,
        SessionDLAE,
        BPR,
        SASRec,
        TextKNN,
    )
}
RATING_MODELS: dict[str, type[RatingPredictor]] = {m.name: m for m in (BiasedMF, BayesianMF)}
TEXT_MODELS = {SASRec.name, TextKNN.name}
# models with an items x items part, capped to settings.max_model_items
ITEM_ITEM_MODELS = {ItemKNN.name, EASE.name, DLAE.name, SessionDLAE.name}


def make_model(name: str, settings: Settings | None = None, **params: Any) -> Recommender | RatingPredictor:
    """A fresh, unfitted model by registry name, on the settings' device and seed."""
    settings = settings or Settings()
    registry: dict[str, type[Recommender] | type[RatingPredictor]] = {**CANDIDATE_MODELS, **RATING_MODELS}
    if name not in registry:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(sorted(registry))}")
    if name in TEXT_MODELS:
        # text-aware models embed item text with the configured model, cached under cache_dir
        params.setdefault("embedding_model", settings.embedding_model)
        params.setdefault("embedding_cache_dir", settings.cache_dir / "embeddings")
    if name in ITEM_ITEM_MODELS:
        params.setdefault("max_items", settings.max_model_items)
    return registry[name](device=settings.torch_device(), seed=settings.seed, **params)


__all__ = ["CANDIDATE_MODELS", "ITEM_ITEM_MODELS", "RATING_MODELS", "RatingPredictor", "Recommender", "make_model"]
