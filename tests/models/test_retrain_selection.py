from chatrec.retrain import models_to_retrain
from chatrec.settings import Settings


def test_the_default_nightly_trains_the_served_and_rating_models() -> None:
    names = models_to_retrain(Settings())
    assert names[-1] == "biasedmf" and "dlae" in names and len(names) == len(set(names))


def test_the_served_model_is_trained_even_when_the_list_forgets_it() -> None:
    settings = Settings(candidate_models=["popularity"], candidate_model="itemknn", rating_model="bayesianmf")
    assert models_to_retrain(settings) == ["popularity", "itemknn", "bayesianmf"]
    settings = Settings(candidate_models=["popularity", "itemknn"], candidate_model="popularity")
    assert models_to_retrain(settings) == ["popularity", "itemknn", "biasedmf"]
