"""The behaviour every rating predictor must have (one mixin, reused by each rating model's tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from chatrec.evaluation.metrics import rmse
from chatrec.evaluation.splitting import per_user_random_split
from chatrec.models.base import RatingPredictor
from tests.models.mixin import needs_cuda


class RatingPredictorContract:
    """Subclass with `make()` returning a small unfitted model; gets the whole contract as tests."""

    def make(self) -> RatingPredictor:
        raise NotImplementedError

    def test_beats_the_global_mean_on_held_out_ratings(self, ml_slice) -> None:
        interactions, _ = ml_slice
        train, test = per_user_random_split(interactions, 0.2, seed=0)
        predicted = self.make().fit(train).predict(test["user_id"].to_list(), test["item_id"].to_list())
        truth = test["rating"].to_numpy()
        assert rmse(truth, predicted) < rmse(truth, np.full(len(truth), train["rating"].mean())) - 0.05
        assert predicted.min() >= 1.0 and predicted.max() <= 5.0

    @needs_cuda
    def test_cuda_fit_predicts_as_well_as_the_cpu_fit(self, ml_slice) -> None:
        # samplers and SGD draw from another random stream on the GPU: compare accuracy, not values
        interactions, _ = ml_slice
        train, test = per_user_random_split(interactions, 0.2, seed=0)
        on_cuda = self.make()
        on_cuda.device = "cuda"
        pairs, truth = (test["user_id"].to_list(), test["item_id"].to_list()), test["rating"].to_numpy()
        cuda_rmse = rmse(truth, on_cuda.fit(train).predict(*pairs))
        assert cuda_rmse == pytest.approx(rmse(truth, self.make().fit(train).predict(*pairs)), abs=0.02)

    def test_unknown_ids_fall_back_and_saving_round_trips(self, ml_slice, tmp_path: Path) -> None:
        interactions, _ = ml_slice
        model = self.make().fit(interactions)
        assert model.predict(["nobody"], ["nothing"])[0] == pytest.approx(np.clip(model.mean, 1, 5))
        known_user_only = model.predict([interactions["user_id"][0]], ["nothing"])[0]
        assert known_user_only != pytest.approx(model.mean)  # the user's bias still counts
        model.save(tmp_path / "model.npz")
        again = type(model).load(tmp_path / "model.npz")
        users, items = interactions["user_id"][:5].to_list(), interactions["item_id"][:5].to_list()
        np.testing.assert_allclose(again.predict(users, items), model.predict(users, items))

    def test_same_seed_same_predictions(self, ml_slice) -> None:
        interactions, _ = ml_slice
        users, items = interactions["user_id"][:20].to_list(), interactions["item_id"][:20].to_list()
        first, second = (self.make().fit(interactions).predict(users, items) for _ in range(2))
        np.testing.assert_allclose(first, second)

    def test_needs_explicit_ratings(self) -> None:
        implicit = pl.DataFrame(
            {"user_id": ["1"], "item_id": ["2"], "rating": [None]}, schema_overrides={"rating": pl.Float64}
        )
        with pytest.raises(ValueError, match="explicit ratings"):
            self.make().fit(implicit)

    def test_mismatched_pairs_are_refused(self, ml_slice) -> None:
        interactions, _ = ml_slice
        model = self.make().fit(interactions)
        with pytest.raises(ValueError, match="same length"):
            model.predict(["1", "2"], ["3"])
