"""LLM rating prediction (few-shot from the user's own ratings) and its blend with the rating model."""

from __future__ import annotations

import numpy as np
import pytest

from chatrec.data.frames import interactions_frame, items_frame, users_frame
from chatrec.llm.context import Catalogue, ContextBuilder
from chatrec.llm.prompts import PromptBuilder
from chatrec.llm.rating import LLMRatingPredictor, blend_ratings, fit_rating_blend


def test_predictions_are_expected_ratings_between_1_and_5(smollm2, ml100k_warehouse) -> None:
    contexts = ContextBuilder(Catalogue(items_frame(ml100k_warehouse)), interactions_frame(ml100k_warehouse),
                              users_frame(ml100k_warehouse))  # fmt: skip
    predictor = LLMRatingPredictor(smollm2, PromptBuilder(smollm2.count_tokens, 512), contexts)
    chat, _ = predictor.builder.rate(contexts.user("1"), contexts.catalogue["50"])
    assert "5/5" in chat[1]["content"] and "Movie to rate: Star Wars" in chat[1]["content"]  # own ratings as shots
    predictions = predictor.predict(["1", "1", "2"], ["50", "100", "181"])
    assert predictions.shape == (3,) and np.all((predictions >= 1) & (predictions <= 5))
    with pytest.raises(ValueError, match="same length"):
        predictor.predict(["1"], [])


def test_blend_weight_is_least_squares_clipped_to_unit_interval() -> None:
    rng = np.random.default_rng(0)
    truth = rng.integers(1, 6, 200).astype(float)
    base = truth + rng.normal(0, 1.0, 200)
    assert fit_rating_blend(base, truth, truth) == pytest.approx(1.0)  # a perfect LLM takes all
    assert fit_rating_blend(base, base - 2 * (truth - base), truth) == 0.0  # one that errs the other way: nothing
    noisy = truth + rng.normal(0, 1.0, 200)
    weight = fit_rating_blend(base, noisy, truth)
    assert 0.3 < weight < 0.7  # two equally noisy, independent predictors: about half each
    blended = blend_ratings(base, noisy, weight)
    assert np.sqrt(np.mean((blended - truth) ** 2)) < np.sqrt(np.mean((base - truth) ** 2))
    assert fit_rating_blend(base, base, truth) == 0.0
