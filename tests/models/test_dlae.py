import math

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp
import torch

from chatrec.models import CANDIDATE_MODELS, make_model
from chatrec.models.base import build_training_data
from chatrec.models.dlae import DLAE, SessionDLAE, session_gram
from tests.models.mixin import RecommenderContract


class TestDLAE(RecommenderContract):
    def make(self):
        return DLAE(l2=200.0, dropout=0.33)

    def test_weights_solve_the_dropout_regularised_normal_equations(self, ml_slice) -> None:
        """B = (G + Lambda)^-1 G with Lambda = p/(1-p) diag(G) + l2 I, G = X'X (checked independently)."""
        model = self.fitted(ml_slice)
        x = model.fitted.binary.toarray()
        gram = x.T @ x
        penalty = np.diag(0.33 / 0.67 * np.diag(gram) + 200.0)
        np.testing.assert_allclose((gram + penalty) @ model.weights.double().numpy(), gram, atol=1e-3)

    def test_dropout_pulls_the_weights_away_from_the_identity(self, ml_slice) -> None:
        interactions, items = ml_slice
        # the dropout penalty grows with p and with each item's popularity: the self-weights shrink
        diagonals = [
            float(DLAE(l2=10.0, dropout=p).fit(interactions, items).weights.diagonal().mean()) for p in (0.0, 0.33, 0.5)
        ]
        assert diagonals[0] > diagonals[1] > diagonals[2] and diagonals[2] < 0.8 * diagonals[0]

    def test_rating_weighting_changes_the_model(self, ml_slice) -> None:
        interactions, items = ml_slice
        binary = self.fitted(ml_slice).weights
        rated = DLAE(l2=200.0, dropout=0.33, weighting="rating").fit(interactions, items).weights
        assert float((binary - rated).abs().max()) > 1e-4

    def test_rejects_bad_parameters(self) -> None:
        with pytest.raises(ValueError, match="dropout"):
            DLAE(dropout=1.0)
        with pytest.raises(ValueError, match="weighting"):
            DLAE(weighting="squared")


class TestSessionDLAE(RecommenderContract):
    def make(self):
        return SessionDLAE(l2=400.0, dropout=0.33, session_seconds=3600.0, session_weight=1.0)

    def test_no_session_weight_is_plain_dlae(self, ml_slice) -> None:
        interactions, items = ml_slice
        plain = DLAE(l2=400.0, dropout=0.33).fit(interactions, items).weights
        session = SessionDLAE(l2=400.0, dropout=0.33, session_weight=0.0).fit(interactions, items).weights
        assert torch.equal(plain, session)

    def test_session_weight_changes_the_model(self, ml_slice) -> None:
        interactions, items = ml_slice
        plain = DLAE(l2=400.0, dropout=0.33).fit(interactions, items).weights
        assert float((self.fitted(ml_slice).weights - plain).abs().max()) > 1e-4


def test_session_gram_weights_pairs_by_time_apart() -> None:
    # user a: items 1 and 2 one hour apart, item 3 a day later; user b: items 1 and 2 at the same second
    frame = pl.DataFrame(
        {
            "user_id": ["a", "a", "a", "b", "b"],
            "item_id": ["1", "2", "3", "1", "2"],
            "rating": [5.0] * 5,
            "ts": [0, 3600, 86400 + 3600, 10, 10],
        }
    ).with_columns(pl.from_epoch("ts", time_unit="s"))
    data = build_training_data(frame)
    x = sp.csr_matrix(data.binary, dtype=np.float64)
    gram = session_gram(data, x, seconds=3600.0).numpy()
    one, two, three = data.items.rows(["1", "2", "3"])
    assert gram[one, two] == pytest.approx(math.exp(-1.0) + 1.0)  # a's pair, an hour apart, plus b's
    assert gram[two, three] == pytest.approx(math.exp(-24.0))
    assert gram[one, one] == pytest.approx(2.0)  # each interaction with itself counts 1
    np.testing.assert_allclose(gram, gram.T)


def test_registered_under_their_names(settings) -> None:
    assert CANDIDATE_MODELS["dlae"] is DLAE and CANDIDATE_MODELS["session_dlae"] is SessionDLAE
    model = make_model("session_dlae", settings, session_seconds=600.0)
    assert isinstance(model, SessionDLAE) and model.params()["session_seconds"] == 600.0
