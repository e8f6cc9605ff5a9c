"""Rating prediction with the LLM (few-shot from the user's own ratings), blended with the rating model.

The prompt lists the user's recent and top-rated movies with their ratings (the user's own
few-shot examples, from `rate.j2`) and asks for one digit; the prediction is the expected value of
the digit under the model's distribution over "1".."5" (no parsing, no invalid outputs). The blend
is `(1 - w) * rating model + w * LLM` with w fitted by least squares on validation pairs, clipped to
[0, 1]; w = 0 means the LLM adds nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from chatrec.llm.backends.base import LLMBackend
from chatrec.llm.context import ContextBuilder
from chatrec.llm.prompts import PromptBuilder

DIGITS = ("1", "2", "3", "4", "5")


class LLMRatingPredictor:
    def __init__(self, backend: LLMBackend, builder: PromptBuilder, contexts: ContextBuilder) -> None:
        self.backend = backend
        self.builder = builder
        self.contexts = contexts

    def predict(self, user_ids: Sequence[str], item_ids: Sequence[str]) -> np.ndarray:
        if len(user_ids) != len(item_ids):
            raise ValueError("user_ids and item_ids must have the same length")
        chats = [self.builder.rate(self.contexts.user(u), self.contexts.catalogue[i])[0]
                 for u, i in zip(user_ids, item_ids, strict=True)]  # fmt: skip
        logprobs = self.backend.option_logprobs(chats, [DIGITS] * len(chats))
        values = np.arange(1, 6, dtype=np.float64)
        return np.asarray([float(np.exp(lp) @ values) for lp in logprobs])


def fit_rating_blend(base: np.ndarray, llm: np.ndarray, truth: np.ndarray) -> float:
    """The w in [0, 1] minimising squared error of (1 - w) * base + w * llm (closed form, clipped)."""
    difference = llm - base
    denominator = float(difference @ difference)
    if denominator == 0.0:
        return 0.0
    return float(np.clip(difference @ (truth - base) / denominator, 0.0, 1.0))


def blend_ratings(base: np.ndarray, llm: np.ndarray, weight: float) -> np.ndarray:
    return (1.0 - weight) * base + weight * llm
