from pathlib import Path

import numpy as np
import polars as pl
import pytest

from chatrec.evaluation.metrics import rmse
from chatrec.evaluation.splitting import per_user_random_split
from chatrec.models.biasedmf import BiasedMF


def test_beats_the_global_mean_on_held_out_ratings(ml_slice) -> None:
    interactions, _ = ml_slice
    train, test = per_user_random_split(interactions, 0.2, seed=0)
    model = BiasedMF(factors=16, epochs=8).fit(train)
    predicted = model.predict(test["user_id"].to_list(), test["item_id"].to_list())
    truth = test["rating"].to_numpy()
    assert rmse(truth, predicted) < rmse(truth, np.full(len(truth), train["rating"].mean())) - 0.05
    assert predicted.min() >= 1.0 and predicted.max() <= 5.0


def test_unknown_ids_fall_back_to_biases(ml_slice, tmp_path: Path) -> None:
    interactions, _ = ml_slice
    model = BiasedMF(factors=8, epochs=2).fit(interactions)
    value = model.predict(["nobody"], ["nothing"])[0]
    assert value == pytest.approx(np.clip(model.mean, 1, 5))
    model.save(tmp_path / "mf.pkl")
    again = BiasedMF.load(tmp_path / "mf.pkl")
    users, items = interactions["user_id"][:5].to_list(), interactions["item_id"][:5].to_list()
    np.testing.assert_allclose(again.predict(users, items), model.predict(users, items))


def test_needs_explicit_ratings() -> None:
    implicit = pl.DataFrame(
        {"user_id": ["1"], "item_id": ["2"], "rating": [None]}, schema_overrides={"rating": pl.Float64}
    )
    with pytest.raises(ValueError, match="explicit ratings"):
        BiasedMF().fit(implicit)


def test_an_ensemble_averages_factorisations_from_different_starts(ml_slice) -> None:
    interactions, _ = ml_slice
    users, items = interactions["user_id"][:20].to_list(), interactions["item_id"][:20].to_list()
    single = [BiasedMF(factors=8, epochs=3, seed=s).fit(interactions)._predict_raw(users, items) for s in (7, 8)]
    ensemble = BiasedMF(factors=8, epochs=3, seed=7, ensemble=2).fit(interactions)
    assert ensemble.params()["ensemble"] == 2 and len(ensemble.members) == 2
    np.testing.assert_allclose(ensemble._predict_raw(users, items), (single[0] + single[1]) / 2, rtol=1e-5)
    with pytest.raises(ValueError, match="ensemble must be >= 1"):
        BiasedMF(ensemble=0)
