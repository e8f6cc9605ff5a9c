import numpy as np

from chatrec.models import make_model
from chatrec.models.bpr import BPR
from chatrec.models.ease import EASE
from chatrec.models.itemknn import ItemKNN
from chatrec.models.popularity import Popularity
from tests.models.mixin import RecommenderContract


class TestPopularity(RecommenderContract):
    def make(self):
        return Popularity()

    def test_ranks_by_count(self, ml_slice) -> None:
        interactions, _ = ml_slice
        counts = interactions.group_by("item_id").len().sort(["len", "item_id"], descending=[True, False])
        top = Popularity().fit(interactions).recommend(["nobody"], 1)["item_id"][0]
        assert top == counts["item_id"][0]


class TestItemKNN(RecommenderContract):
    def make(self):
        return ItemKNN(neighbours=50, shrinkage=10.0)

    def test_similarity_is_pruned_and_has_no_self_loops(self, ml_slice) -> None:
        model = self.fitted(ml_slice)
        similarity = model.item_similarity()
        assert float(np.abs(similarity.diagonal()).max()) == 0.0
        assert int(similarity.getnnz(axis=0).max()) <= 50


class TestEASE(RecommenderContract):
    def make(self):
        return EASE(l2=200.0)

    def test_weights_have_zero_diagonal(self, ml_slice) -> None:
        assert float(self.fitted(ml_slice).weights.diagonal().abs().max()) == 0.0


class TestRatingWeightedEASE(RecommenderContract):
    def make(self):
        return EASE(l2=200.0, weighting="rating")

    def test_ratings_change_the_model(self, ml_slice) -> None:
        interactions, items = ml_slice
        binary = EASE(l2=200.0).fit(interactions, items).weights
        weighted = self.fitted(ml_slice).weights
        assert float((binary - weighted).abs().max()) > 1e-4


class TestBPR(RecommenderContract):
    cuda_matches_cpu = False  # SGD

    def make(self):
        return BPR(factors=16, epochs=3)

    def test_loss_decreases(self, ml_slice) -> None:
        interactions, items = ml_slice
        model = BPR(factors=16, epochs=5).fit(interactions, items)
        assert model.losses[-1] < model.losses[0]


def test_make_model_by_name(settings) -> None:
    model = make_model("ease", settings, l2=10.0)
    assert isinstance(model, EASE) and model.l2 == 10.0 and model.seed == settings.seed
    import pytest

    with pytest.raises(KeyError, match="unknown model 'nope'"):
        make_model("nope", settings)


def test_cold_catalogue_items_are_indexed_but_never_recommended_by_collaborative_models(ml_slice) -> None:
    interactions, items = ml_slice
    unseen = set(items["item_id"]) - set(interactions["item_id"])
    assert unseen  # the slice leaves some catalogue items without interactions
    model = EASE(l2=200.0).fit(interactions, items)
    assert len(model.fitted.items) == items.height
    score = model.score([interactions["user_id"][0]], [sorted(unseen)[0]])
    assert score[0] == 0.0 and not np.isnan(score[0])
