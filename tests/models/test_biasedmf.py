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
