import numpy as np
import pytest

from chatrec.evaluation.metrics import rmse
from chatrec.evaluation.splitting import per_user_random_split
from chatrec.models.bayesianmf import BayesianMF
from tests.models.rating_contract import RatingPredictorContract


class TestBayesianMF(RatingPredictorContract):
    def make(self) -> BayesianMF:
        return BayesianMF(factors=8, burn_in=5, samples=10)


def test_keeps_every_nth_draw_after_burn_in(ml_slice) -> None:
    interactions, _ = ml_slice
    model = BayesianMF(factors=4, burn_in=3, samples=10, keep_every=3).fit(interactions)
    assert model.user_factors.shape == (4, model.users.ids.size, 4)  # sweeps 3, 6, 9, 12 of 0..12
    assert model.item_bias.shape == (4, model.items.ids.size)
    assert len(model.noise_precision) == 13


def test_learns_the_noise_level_of_the_ratings(ml_slice) -> None:
    """The sampled noise precision ends near 1 / (the training residual variance), far from its start of 2
    only when the data say so: ML-100K ratings leave roughly 0.6-0.8 residual variance."""
    interactions, _ = ml_slice
    model = BayesianMF(factors=8, burn_in=5, samples=10).fit(interactions)
    assert 1.0 < float(np.mean(model.noise_precision[-5:])) < 3.0


def test_averaging_draws_beats_a_single_draw(ml_slice) -> None:
    interactions, _ = ml_slice
    train, test = per_user_random_split(interactions, 0.2, seed=0)
    model = BayesianMF(factors=16, burn_in=10, samples=20).fit(train)
    users, items = test["user_id"].to_list(), test["item_id"].to_list()
    truth = test["rating"].to_numpy()
    averaged = rmse(truth, model.predict(users, items))
    model.user_bias, model.item_bias = model.user_bias[-1:], model.item_bias[-1:]
    model.user_factors, model.item_factors = model.user_factors[-1:], model.item_factors[-1:]
    single = rmse(truth, model.predict(users, items))
    assert averaged < single - 0.01


def test_rejects_impossible_settings() -> None:
    with pytest.raises(ValueError, match="factors, samples and keep_every"):
        BayesianMF(samples=0)


def test_reports_progress_every_25_sweeps(ml_slice, caplog) -> None:
    interactions, _ = ml_slice
    with caplog.at_level("INFO", logger="chatrec.models.bayesianmf"):
        BayesianMF(factors=4, burn_in=20, samples=30).fit(interactions)
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2 and "sweep 25/50 (sampling)" in messages[0] and "train RMSE" in messages[1]
