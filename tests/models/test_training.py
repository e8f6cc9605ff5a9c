"""Training into the registry: artifacts, rows, reuse on re-runs, promotion."""

import numpy as np
import pytest

from chatrec.models.training import artifact_file, load_model, production_model, set_status, train_and_register


@pytest.fixture
def small(ml_slice):
    interactions, items = ml_slice
    return interactions.head(5000), items


def test_train_registers_and_reloads(ml100k_warehouse, settings, small) -> None:
    interactions, items = small
    version = train_and_register(
        ml100k_warehouse, settings, "ease", interactions=interactions, items=items, params={"l2": 100.0}
    )
    assert version.model_id == "ease@1" and version.status == "candidate" and not version.reused
    row = ml100k_warehouse.execute(
        "SELECT kind, params->>'l2', train_start, train_end, train_seconds, device FROM models.registry"
    ).fetchall()[0]
    assert row[0] == "candidate" and float(row[1]) == 100.0
    assert row[2] == interactions["ts"].min() and row[3] == interactions["ts"].max()
    assert row[4] > 0 and row[5] == settings.torch_device()
    reloaded = load_model(ml100k_warehouse, "ease@1", settings)
    users = interactions["user_id"].unique().sort().head(5).to_list()
    original = train_and_register(ml100k_warehouse, settings, "ease", interactions=interactions, items=items,
                                  params={"l2": 100.0})  # fmt: skip
    assert original.reused and original.model_id == "ease@1"
    assert ml100k_warehouse.execute("SELECT count(*) FROM models.registry").fetchall()[0][0] == 1
    recs = reloaded.recommend(users, 5)
    assert recs.height == 25


def test_different_data_or_params_make_new_versions(ml100k_warehouse, settings, small) -> None:
    interactions, items = small
    a = train_and_register(ml100k_warehouse, settings, "popularity", interactions=interactions, items=items)
    b = train_and_register(ml100k_warehouse, settings, "popularity", interactions=interactions.head(4000), items=items)
    c = train_and_register(
        ml100k_warehouse, settings, "ease", interactions=interactions, items=items, params={"l2": 5.0}
    )
    assert (a.version, b.version, c.version) == (1, 2, 1)


def test_missing_artifact_is_rebuilt_in_place(ml100k_warehouse, settings, small) -> None:
    interactions, items = small
    first = train_and_register(ml100k_warehouse, settings, "popularity", interactions=interactions, items=items)
    artifact_file(settings, first.artifact_path).unlink()
    again = train_and_register(ml100k_warehouse, settings, "popularity", interactions=interactions, items=items)
    assert again.model_id == first.model_id and artifact_file(settings, again.artifact_path).is_file()
    assert again.artifact_sha256 == first.artifact_sha256  # same data, same seed: the same bytes again
    assert ml100k_warehouse.execute("SELECT count(*) FROM models.registry").fetchall()[0][0] == 1


def test_rating_model_and_promotion(ml100k_warehouse, settings, small) -> None:
    interactions, _ = small
    v1 = train_and_register(ml100k_warehouse, settings, "biasedmf", interactions=interactions, params={"epochs": 2})
    v2 = train_and_register(ml100k_warehouse, settings, "biasedmf", interactions=interactions, params={"epochs": 3})
    assert v1.kind == "rating" and production_model(ml100k_warehouse, "rating") is None
    set_status(ml100k_warehouse, v1.model_id, "production", "first")
    set_status(ml100k_warehouse, v2.model_id, "production", "better")
    assert production_model(ml100k_warehouse, "rating").model_id == v2.model_id
    statuses = dict(ml100k_warehouse.execute("SELECT model_id, status FROM models.registry").fetchall())
    assert statuses == {v1.model_id: "archived", v2.model_id: "production"}
    model = load_model(ml100k_warehouse, v2.model_id, settings)
    predicted = model.predict(interactions["user_id"].head(10).to_list(), interactions["item_id"].head(10).to_list())
    assert np.all((predicted >= 1) & (predicted <= 5))


def test_bad_inputs_are_named(ml100k_warehouse, settings, small) -> None:
    interactions, _ = small
    with pytest.raises(KeyError, match="unknown model 'nope'"):
        train_and_register(ml100k_warehouse, settings, "nope", interactions=interactions)
    with pytest.raises(KeyError, match=r"not in models\.registry"):
        set_status(ml100k_warehouse, "ease@9", "production", "x")
    with pytest.raises(ValueError, match="status must be one of"):
        set_status(ml100k_warehouse, "ease@9", "live", "x")


def test_training_on_an_empty_warehouse_is_refused_by_name(warehouse, settings) -> None:
    from chatrec.models.training import training_interactions
    from chatrec.retrain import retrain

    with pytest.raises(ValueError, match=r"core\.interactions is empty: ingest data before retraining"):
        retrain(warehouse, settings)
    with pytest.raises(ValueError, match="before fine-tuning"):
        training_interactions(warehouse, settings, "fine-tuning")
