"""The behaviour every candidate recommender must have (one mixin, reused by each model's tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch

from chatrec.models.base import Recommender

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


class RecommenderContract:
    """Subclass with `make()` returning an unfitted model; gets the whole contract as tests."""

    # Closed-form and counting models must rank the same on CUDA as on CPU. Models trained by SGD
    # draw their randomness from a different stream on the GPU, so for them (False) the CUDA fit
    # only has to give a valid ranking.
    cuda_matches_cpu = True

    def make(self) -> Recommender:
        raise NotImplementedError

    def fitted(self, ml_slice) -> Recommender:
        interactions, items = ml_slice
        return self.make().fit(interactions, items)

    def test_recommend_returns_k_ranked_unseen_items(self, ml_slice) -> None:
        interactions, _ = ml_slice
        model = self.fitted(ml_slice)
        users = interactions["user_id"].unique().sort().head(20).to_list()
        recs = model.recommend(users, 10)
        assert recs.columns == ["user_id", "rank", "item_id", "score"]
        assert recs.group_by("user_id").len()["len"].to_list() == [10] * 20
        assert recs.filter(pl.col("user_id") == users[0])["rank"].to_list() == list(range(1, 11))
        seen = interactions.select("user_id", "item_id").unique()
        assert recs.join(seen, on=["user_id", "item_id"]).height == 0
        for _user, group in recs.group_by("user_id"):
            scores = group.sort("rank")["score"].to_numpy()
            assert np.all(np.diff(scores) <= 1e-6)  # ranked by score
            assert group["item_id"].n_unique() == 10  # no duplicates

    def test_seen_items_can_be_kept(self, ml_slice) -> None:
        interactions, _ = ml_slice
        model = self.fitted(ml_slice)
        user = interactions["user_id"][0]
        recs = model.recommend([user], 2000, exclude_seen=False)
        assert set(interactions.filter(pl.col("user_id") == user)["item_id"]) <= set(recs["item_id"])

    def test_explicit_exclusions_and_candidate_sets(self, ml_slice) -> None:
        interactions, _ = ml_slice
        model = self.fitted(ml_slice)
        user = interactions["user_id"][0]
        top = model.recommend([user], 5)["item_id"].to_list()
        without = model.recommend([user], 5, exclude={user: top[:2]})["item_id"].to_list()
        assert not set(top[:2]) & set(without) and without[:3] == top[2:]
        candidates = model.recommend([user], 20)["item_id"].to_list()[::-1][:7]
        restricted = model.recommend([user], 5, candidates=candidates)
        assert set(restricted["item_id"]) <= set(candidates) and restricted.height == 5

    def test_score_agrees_with_recommend(self, ml_slice) -> None:
        interactions, _ = ml_slice
        model = self.fitted(ml_slice)
        user = interactions["user_id"][1]
        recs = model.recommend([user], 10)
        scores = model.score([user] * 10, recs["item_id"].to_list())
        np.testing.assert_allclose(scores, recs["score"].to_numpy(), rtol=1e-5, atol=1e-5)
        assert np.isnan(model.score([user], ["no-such-item"]))[0]

    def test_unknown_users_get_a_fallback_ranking(self, ml_slice) -> None:
        recs = self.fitted(ml_slice).recommend(["nobody-new"], 5)
        assert recs.height == 5

    def test_save_and_load_round_trip(self, ml_slice, tmp_path: Path) -> None:
        interactions, _ = ml_slice
        model = self.fitted(ml_slice)
        path = tmp_path / "model.npz"
        model.save(path)
        loaded = type(model).load(path)
        users = interactions["user_id"].unique().sort().head(5).to_list()
        assert loaded.recommend(users, 10).equals(model.recommend(users, 10))

    def test_same_seed_same_model(self, ml_slice) -> None:
        interactions, _ = ml_slice
        users = interactions["user_id"].unique().sort().head(5).to_list()
        assert (
            self.fitted(ml_slice)
            .recommend(users, 10)["item_id"]
            .equals(self.fitted(ml_slice).recommend(users, 10)["item_id"])
        )

    @needs_cuda
    def test_cuda_fit_ranks_like_the_cpu_fit(self, ml_slice) -> None:
        interactions, items = ml_slice
        on_cpu = self.fitted(ml_slice)
        on_cuda = self.make()
        on_cuda.device = "cuda"
        on_cuda.fit(interactions, items)
        users = interactions["user_id"].unique().sort().head(20).to_list()
        expected, got = on_cpu.recommend(users, 10), on_cuda.recommend(users, 10)
        assert got.group_by("user_id").len()["len"].to_list() == [10] * 20
        assert np.isfinite(got["score"].to_numpy()).all()
        if self.cuda_matches_cpu:
            shared = expected.join(got, on=["user_id", "item_id"]).height
            assert shared >= 0.95 * expected.height  # float32 ties may swap an item at the cut
            pairs = (expected["user_id"].to_list(), expected["item_id"].to_list())
            np.testing.assert_allclose(on_cuda.score(*pairs), on_cpu.score(*pairs), rtol=1e-3, atol=1e-4)

    def test_fit_rejects_empty_input(self) -> None:
        with pytest.raises(ValueError, match="zero interactions"):
            self.make().fit(
                pl.DataFrame({"user_id": [], "item_id": []}, schema={"user_id": pl.Utf8, "item_id": pl.Utf8})
            )
