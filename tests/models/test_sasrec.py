"""SASRec (text-aware) and the text-kNN baseline: the shared contract, cold start, devices."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import torch

from chatrec.models import make_model
from chatrec.models.sasrec import SASRec
from chatrec.models.textknn import TextKNN
from chatrec.settings import Settings
from chatrec.text import ItemTextEncoder
from tests.models.mixin import RecommenderContract, needs_cuda

# one in-memory encoder for the module: the MiniLM is loaded and each text embedded once
ENCODER = ItemTextEncoder()


def tiny_sasrec(**params) -> SASRec:
    defaults = {"dim": 16, "heads": 1, "layers": 1, "max_len": 20, "epochs": 1, "batch_size": 256}
    return SASRec(encoder=ENCODER, **{**defaults, **params})


class TestSASRec(RecommenderContract):
    cuda_matches_cpu = False  # SGD with dropout

    def make(self) -> SASRec:
        return tiny_sasrec()

    def test_loss_decreases(self, ml_slice) -> None:
        interactions, items = ml_slice
        model = tiny_sasrec(epochs=3).fit(interactions, items)
        assert model.losses[-1] < model.losses[0]

    def test_sampled_softmax_trains(self, ml_slice) -> None:
        interactions, items = ml_slice
        model = tiny_sasrec(epochs=2, negatives=64).fit(interactions, items)
        assert model.losses[-1] < model.losses[0]
        assert model.recommend([interactions["user_id"][0]], 5).height == 5


class TestTextKNN(RecommenderContract):
    def make(self) -> TextKNN:
        return TextKNN(encoder=ENCODER)

    def test_profile_is_the_liked_items_direction(self, ml_slice) -> None:
        interactions, _ = ml_slice
        model = self.fitted(ml_slice)
        user = interactions["user_id"][0]
        liked = interactions.filter((pl.col("user_id") == user) & (pl.col("rating") >= 4))["item_id"].to_list()
        rows = model.fitted.items.rows(liked)
        mean = model.embeddings[torch.as_tensor(rows)].mean(0)
        profile = model.profiles[model.fitted.users.rows([user])[0]]
        torch.testing.assert_close(profile, mean / mean.norm())


def genre_world() -> tuple[pl.DataFrame, pl.DataFrame, dict[str, str]]:
    """Two tastes (space sci-fi, period romance), users who each watch one, and two cold items."""
    scifi = [
        "Star Voyage: a starship crew explores distant galaxies and fights alien invaders.",
        "Planet Siege: space marines defend a colony from an alien armada.",
        "Orbit Zero: astronauts stranded on a space station battle a hostile AI.",
        "Nebula Run: smugglers race a starship through an asteroid field.",
        "Galactic Dawn: a rebel fleet launches an attack on the imperial battle station.",
        "Red Planet Rising: colonists on Mars uncover an ancient alien machine.",
    ]
    romance = [
        "Letters to Juliet: two strangers fall in love through old letters in Verona.",
        "A Summer in Provence: a widow finds romance with a French winemaker.",
        "The Duke's Heart: a Victorian governess and a brooding duke fall in love.",
        "Pride of Bath: a proud heiress and a poor officer court in Regency England.",
        "Moonlit Waltz: two dancers fall for each other at a Viennese ball.",
        "Wedding Bells: a bride-to-be falls in love with the best man.",
    ]
    cold = {
        "cold-scifi": "Starfall: a starship crew fights an alien fleet at the edge of the galaxy.",
        "cold-romance": "Love in Paris: a young woman falls in love with a painter in 1920s Paris.",
    }
    titles = {f"s{i}": t for i, t in enumerate(scifi)} | {f"r{i}": t for i, t in enumerate(romance)} | cold
    items = pl.DataFrame(
        {
            "item_id": list(titles),
            "title": [t.split(":")[0] for t in titles.values()],
            "release_year": [2000] * len(titles),
            "genres": [["Film"]] * len(titles),
            "description": [t.split(": ", 1)[1] for t in titles.values()],
        }
    )
    rng = np.random.default_rng(0)
    rows = []
    for user in range(40):
        taste = "s" if user % 2 == 0 else "r"
        for step, n in enumerate(rng.permutation(6)):
            rows.append((f"u{user}", f"{taste}{n}", 5.0, step))
    interactions = pl.DataFrame(rows, schema=["user_id", "item_id", "rating", "ts"], orient="row").with_columns(
        pl.from_epoch("ts", time_unit="s")
    )
    return interactions, items, cold


@pytest.mark.parametrize(
    "model",
    [
        lambda: SASRec(encoder=ENCODER, dim=32, heads=2, layers=1, max_len=8, epochs=40, batch_size=16, dropout=0.1),
        lambda: TextKNN(encoder=ENCODER),
    ],
    ids=["sasrec", "textknn"],
)
def test_cold_items_are_scored_through_their_text(model) -> None:
    interactions, items, _ = genre_world()
    fitted = model().fit(interactions, items)
    assert "cold-scifi" not in set(interactions["item_id"])
    scifi_fan, romance_fan = "u0", "u1"
    scores = fitted.score([scifi_fan, scifi_fan, romance_fan, romance_fan], ["cold-scifi", "cold-romance"] * 2)
    assert np.all(np.isfinite(scores))
    assert scores[0] > scores[1]  # the sci-fi fan prefers the unseen sci-fi film
    assert scores[3] > scores[2]  # the romance fan the unseen romance
    top = fitted.recommend([scifi_fan], 1, candidates=["cold-scifi", "cold-romance"])
    assert top["item_id"].to_list() == ["cold-scifi"]


def test_without_text_cold_items_carry_no_signal() -> None:
    interactions, items, _ = genre_world()
    model = SASRec(use_text=False, dim=16, heads=1, layers=1, max_len=8, epochs=2, batch_size=16).fit(
        interactions, items
    )
    np.testing.assert_allclose(model.score(["u0", "u0"], ["cold-scifi", "cold-romance"]), 0.0, atol=1e-6)
    assert model.params()["embedding_model"] is None and model._encoder is None  # no text model involved


def test_text_models_need_item_text() -> None:
    interactions, _, _ = genre_world()
    with pytest.raises(ValueError, match="needs the items frame"):
        SASRec(encoder=ENCODER, epochs=1).fit(interactions)
    with pytest.raises(ValueError, match="missing from the items frame"):
        TextKNN(encoder=ENCODER).fit(interactions, pl.DataFrame({"item_id": ["s0"], "title": ["Star Voyage"]}))


def test_bad_hyper_parameters_are_named() -> None:
    with pytest.raises(ValueError, match="divisible by heads"):
        SASRec(dim=10, heads=3)
    with pytest.raises(ValueError, match="negatives"):
        SASRec(negatives=-1)
    with pytest.raises(ValueError, match="id_dropout"):
        SASRec(id_dropout=1.0)


def test_registry_builds_text_models_from_settings(settings: Settings) -> None:
    model = make_model("sasrec", settings, epochs=1)
    assert isinstance(model, SASRec) and model.device == settings.torch_device() and model.seed == settings.seed
    assert model.encoder.cache_file is not None and model.encoder.cache_file.parent == settings.cache_dir / "embeddings"
    assert isinstance(make_model("textknn", settings), TextKNN)


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=needs_cuda)])
def test_network_lives_on_the_chosen_device(device: str) -> None:
    interactions, items, _ = genre_world()
    model = make_model("sasrec", Settings(device=device), encoder=ENCODER, dim=16, heads=1, layers=1, epochs=1)
    model.fit(interactions, items)
    assert model.network is not None
    assert {p.device.type for p in model.network.parameters()} == {device}
    assert model.recommend(["u0"], 3).height == 3
