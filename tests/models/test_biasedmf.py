import numpy as np
import pytest

from chatrec.models.biasedmf import BiasedMF
from tests.models.rating_contract import RatingPredictorContract


class TestBiasedMF(RatingPredictorContract):
    def make(self) -> BiasedMF:
        return BiasedMF(factors=16, epochs=8)


def test_an_ensemble_averages_factorisations_from_different_starts(ml_slice) -> None:
    interactions, _ = ml_slice
    users, items = interactions["user_id"][:20].to_list(), interactions["item_id"][:20].to_list()
    single = [BiasedMF(factors=8, epochs=3, seed=s).fit(interactions)._predict_raw(users, items) for s in (7, 8)]
    ensemble = BiasedMF(factors=8, epochs=3, seed=7, ensemble=2).fit(interactions)
    assert ensemble.params()["ensemble"] == 2 and len(ensemble.members) == 2
    np.testing.assert_allclose(ensemble._predict_raw(users, items), (single[0] + single[1]) / 2, rtol=1e-5)
    with pytest.raises(ValueError, match="ensemble must be >= 1"):
        BiasedMF(ensemble=0)


def test_large_data_gets_bigger_batches_and_fewer_passes_small_data_is_unchanged(ml_slice) -> None:
    interactions, _ = ml_slice
    rows = interactions.filter(interactions["rating"].is_not_null()).height
    users, items = interactions["user_id"][:20].to_list(), interactions["item_id"][:20].to_list()
    # under both caps (ML-100K's case): the same fit as without them
    plain = BiasedMF(factors=8, epochs=3, max_steps_per_epoch=None, max_samples=None).fit(interactions)
    capped = BiasedMF(factors=8, epochs=3).fit(interactions)
    assert len(capped.losses) == 3
    np.testing.assert_array_equal(plain._predict_raw(users, items), capped._predict_raw(users, items))
    # past max_samples the passes shrink (to one at least), and the steps per epoch are capped
    assert len(BiasedMF(factors=8, epochs=5, max_samples=2 * rows).fit(interactions).losses) == 2
    assert len(BiasedMF(factors=8, epochs=5, max_samples=1).fit(interactions).losses) == 1
    few_steps = BiasedMF(factors=8, epochs=3, max_steps_per_epoch=2).fit(interactions)
    assert few_steps._predict_raw(users, items).shape == (20,)
    assert not np.array_equal(few_steps._predict_raw(users, items), capped._predict_raw(users, items))
