"""Scale guards: the catalogue cap of item-item models, seeded evaluation samples, the memory budget,
chunked batch runs and the synthetic generator, all at small size."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pytest

from chatrec.batch.recommend import recommend_batch
from chatrec.data.ingest import ingest_table
from chatrec.data.synthetic import SyntheticSpec, generate, write_parquet
from chatrec.evaluation.sampling import sample_users
from chatrec.memory import MemoryBudgetExceeded
from chatrec.models.dlae import DLAE, SessionDLAE
from chatrec.models.ease import EASE
from chatrec.models.itemknn import ItemKNN
from chatrec.retrain import retrain
from chatrec.settings import Settings

SPEC = SyntheticSpec(users=200, items=150, interactions=3_000, seed=5)


@pytest.fixture(scope="module")
def synthetic() -> pl.DataFrame:
    frame = pl.from_arrow(pa.concat_tables(list(generate(SPEC))))
    assert isinstance(frame, pl.DataFrame)
    return frame.with_columns(pl.from_epoch("ts").alias("ts"))


def count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    return int(con.execute(sql).fetchall()[0][0])


def test_generator_is_deterministic_shaped_and_exact_in_size() -> None:
    first = pa.concat_tables(list(generate(SPEC)))
    again = pa.concat_tables(list(generate(SPEC)))
    assert first.equals(again)
    frame = pl.from_arrow(first)
    assert isinstance(frame, pl.DataFrame)
    assert frame.height == SPEC.interactions
    assert frame.select(pl.struct("user_id", "item_id").n_unique()).item() == frame.height  # no repeated pair
    per_item = frame.group_by("item_id").len().get_column("len").sort(descending=True).to_numpy()
    assert per_item[:15].sum() > 0.25 * frame.height  # Zipf head: 10% of items carry > 25% (uniform: 10%)
    per_user = frame.group_by("user_id").len().get_column("len")
    assert per_user.min() >= 1 and per_user.max() > 5 * per_user.median()  # log-normal: a long tail of heavy users
    assert set(frame.get_column("rating").unique().to_list()) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    other = pa.concat_tables(list(generate(SyntheticSpec(users=200, items=150, interactions=3_000, seed=6))))
    assert not first.equals(other)


def test_generated_parquet_loads_with_the_printed_mapping(warehouse: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    written = write_parquet(SyntheticSpec(users=50, items=40, interactions=400, seed=1, chunk_users=16), tmp_path)
    assert pa.parquet.ParquetFile(written.interactions_path).num_row_groups == 4  # one per user chunk
    summary = ingest_table(warehouse, written.interactions_path, written.mapping)
    assert summary.balanced and summary.rows_quarantined == 0
    assert count(warehouse, "SELECT count(*) FROM core.interactions") == 400
    assert count(warehouse, "SELECT count(*) FROM core.items WHERE genres IS NOT NULL AND len(genres) > 0") > 0


@pytest.mark.parametrize("model_class", [EASE, DLAE, SessionDLAE, ItemKNN])
def test_a_cap_that_does_not_bind_changes_nothing(model_class, synthetic: pl.DataFrame) -> None:
    users = synthetic.get_column("user_id").unique().sort().head(40).to_list()
    uncapped = model_class().fit(synthetic).recommend(users, 10)
    capped = model_class(max_items=SPEC.items).fit(synthetic).recommend(users, 10)
    assert uncapped.select("user_id", "item_id").equals(capped.select("user_id", "item_id"))


@pytest.mark.parametrize("model_class", [EASE, DLAE, SessionDLAE, ItemKNN])
def test_a_binding_cap_keeps_the_most_popular_items_only(model_class, synthetic: pl.DataFrame) -> None:
    model = model_class(max_items=30).fit(synthetic)
    popular = synthetic.group_by("item_id").len().sort(["len", "item_id"], descending=[True, False])
    assert len(model.kept) == 30
    kept_ids = set(model.fitted.items.ids[model.kept].tolist())
    assert kept_ids <= set(popular.get_column("item_id").head(40).to_list())
    weights = model.similarity if model_class is ItemKNN else model.weights
    assert weights.shape == (30, 30)
    # light users (<= 10 interactions) have >= 20 unseen kept items: all 5 picks must come from those
    light = synthetic.group_by("user_id").len().filter(pl.col("len") <= 10).get_column("user_id").to_list()
    recommended = model.recommend(light, 5)
    assert recommended.height == 5 * len(light) > 0
    assert set(recommended.get_column("item_id").to_list()) <= kept_ids


def test_user_samples_are_seeded_and_only_taken_when_needed() -> None:
    users = [str(u) for u in range(100)]
    assert sample_users(users, None, 1) == users and sample_users(users, 100, 1) == users
    sample = sample_users(users, 10, 1)
    assert len(sample) == 10 and sample == sample_users(users, 10, 1) and sample != sample_users(users, 10, 2)


@pytest.fixture
def synthetic_warehouse(warehouse: duckdb.DuckDBPyConnection, tmp_path: Path) -> duckdb.DuckDBPyConnection:
    written = write_parquet(SyntheticSpec(users=120, items=80, interactions=1_500, seed=3), tmp_path / "data")
    ingest_table(warehouse, written.interactions_path, written.mapping)
    return warehouse


def test_a_step_over_the_memory_budget_fails_before_starting_and_names_the_setting(
    synthetic_warehouse: duckdb.DuckDBPyConnection, settings: Settings
) -> None:
    before = synthetic_warehouse.execute("SELECT count(*) FROM models.registry").fetchall()
    tiny = settings.model_copy(update={"memory_budget_mb": 1})
    with pytest.raises(MemoryBudgetExceeded, match=r"memory_budget_mb.*max_model_items"):
        retrain(synthetic_warehouse, tiny, ["dlae", "popularity"])
    assert synthetic_warehouse.execute("SELECT count(*) FROM models.registry").fetchall() == before
    assert not any(Path(settings.artifacts_dir).rglob("*")) if Path(settings.artifacts_dir).exists() else True

    roomy = settings.model_copy(update={"candidate_models": ["popularity"], "candidate_model": "popularity"})
    retrain(synthetic_warehouse, roomy, ["popularity"])
    with pytest.raises(MemoryBudgetExceeded, match=r"memory_budget_mb.*score_chunk_users"):
        recommend_batch(synthetic_warehouse, roomy.model_copy(update={"memory_budget_mb": 1}))
    assert count(synthetic_warehouse, "SELECT count(*) FROM recs.runs") == 0


def test_a_chunked_batch_run_equals_a_single_chunk_run(
    synthetic_warehouse: duckdb.DuckDBPyConnection, settings: Settings
) -> None:
    one = settings.model_copy(update={"candidate_model": "itemknn", "score_chunk_users": 10_000})
    retrain(synthetic_warehouse, one, ["itemknn"])
    whole = recommend_batch(synthetic_warehouse, one)
    chunked = recommend_batch(synthetic_warehouse, one.model_copy(update={"score_chunk_users": 7}))
    assert whole.n_users == chunked.n_users == 120
    assert whole.n_recommendations == chunked.n_recommendations == 120 * one.top_k_final

    def rows(run_id: str) -> list[tuple]:
        return synthetic_warehouse.execute(
            "SELECT r.user_id, r.rank, r.item_id, e.text FROM recs.recommendations r JOIN recs.explanations e"
            " USING (run_id, user_id, item_id) WHERE run_id = ? ORDER BY r.user_id, r.rank",
            [run_id],
        ).fetchall()

    assert rows(whole.run_id) == rows(chunked.run_id)
    assert not list(settings.warehouse_path.parent.glob(".run-*"))  # the chunk files are gone
    assert np.all(synthetic_warehouse.execute("SELECT status FROM recs.runs").fetchnumpy()["status"] == "complete")


def test_a_batch_run_on_a_two_worker_local_cluster_equals_the_in_process_run(
    synthetic_warehouse: duckdb.DuckDBPyConnection, settings: Settings
) -> None:
    local = settings.model_copy(
        update={"candidate_model": "itemknn", "score_chunk_users": 25, "dask_batch_min_users": None}
    )
    retrain(synthetic_warehouse, local, ["itemknn"])
    in_process = recommend_batch(synthetic_warehouse, local)
    on_dask = recommend_batch(
        synthetic_warehouse, local.model_copy(update={"dask_batch_min_users": 1, "dask_workers": 2})
    )
    sql = (
        "SELECT r.user_id, r.rank, r.item_id, e.text FROM recs.recommendations r JOIN recs.explanations e"
        " USING (run_id, user_id, item_id) WHERE run_id = ? ORDER BY r.user_id, r.rank"
    )
    rows = synthetic_warehouse.execute(sql, [on_dask.run_id]).fetchall()
    assert len(rows) == 120 * local.top_k_final
    assert rows == synthetic_warehouse.execute(sql, [in_process.run_id]).fetchall()


def test_a_dask_worker_loads_the_model_and_index_once_and_refuses_an_altered_artifact(
    synthetic_warehouse: duckdb.DuckDBPyConnection, settings: Settings, tmp_path: Path, monkeypatch
) -> None:
    from chatrec.batch import recommend
    from chatrec.data.frames import interactions_frame, items_frame
    from chatrec.explain.evidence import EvidenceIndex
    from chatrec.models import training
    from chatrec.models.artifacts import ArtifactError
    from chatrec.models.training import artifact_file, production_model

    con, local = synthetic_warehouse, settings.model_copy(update={"candidate_model": "itemknn"})
    retrain(con, local, ["itemknn"])
    version = production_model(con, "candidate", "itemknn")
    assert version is not None
    inputs = recommend.WorkerInputs.at(version, local, tmp_path / "in")
    inputs.write(con)
    recommend.forget_worker_loads()  # a fresh worker process
    model, index = recommend.worker_model(inputs), recommend.worker_index(inputs)
    assert recommend.worker_model(inputs) is model and recommend.worker_index(inputs) is index  # once per process
    users = index.liked_users[:4]
    # the saved index is the one this process would build: the same evidence for every user and item
    built = EvidenceIndex(interactions_frame(con), items_frame(con))
    assert index.liked_users == built.liked_users and index.item_ids == built.item_ids
    for user in users:
        for item in built.item_ids[::7]:
            assert index.evidence(user, item).to_json() == built.evidence(user, item).to_json()
    assert recommend.score_and_write_on_worker(inputs, users, local, "template", tmp_path, 1) == 4
    assert pl.read_parquet(tmp_path / "recommendations-000001.parquet")["user_id"].unique().len() == 4
    artifact = artifact_file(local, version.artifact_path)
    artifact.write_bytes(artifact.read_bytes() + b"tampered")
    recommend.forget_worker_loads()
    with pytest.raises(ArtifactError, match="changed since it was registered"):
        recommend.worker_model(inputs)
    # inputs the client marks as checked (a LocalCluster on the same disk) are not read to check again
    recommend.forget_worker_loads()
    artifact.write_bytes(artifact.read_bytes()[: -len(b"tampered")])

    def no_second_check(*args, **kwargs):
        raise AssertionError("the worker read the artifact to check it again")

    monkeypatch.setattr(training, "verify_artifact", no_second_check)
    trusted = recommend.WorkerInputs.at(version, local, tmp_path / "in", verified=True)
    assert recommend.score_and_write_on_worker(trusted, users, local, "template", tmp_path, 2) == 4
    recommend.forget_worker_loads()


def test_stable_top_equals_the_first_columns_of_a_stable_sort() -> None:
    """Ties everywhere (few distinct values, -inf for excluded items): the same picks and order as a
    full stable descending sort, whichever path a row takes."""
    import torch

    from chatrec.models.base import stable_top

    generator = torch.Generator().manual_seed(3)
    scores = torch.randint(0, 6, (300, 40), generator=generator).float()
    scores[:50, 5:] = float("-inf")  # fewer allowed items than k
    scores[50:100] = torch.randn(50, 40, generator=generator)  # no ties at all
    for width in (0, 1, 5, 20, 40):
        values, indices = stable_top(scores, width)
        full = torch.sort(scores, dim=1, descending=True, stable=True)
        assert torch.equal(indices, full.indices[:, :width]), width
        assert torch.equal(values, full.values[:, :width]), width


@pytest.mark.parametrize("model_class", [EASE, DLAE])
def test_sparse_scoring_of_sparse_data_ranks_as_the_dense_product(model_class, synthetic: pl.DataFrame) -> None:
    import chatrec.models.ease as ease

    users = synthetic.get_column("user_id").unique().sort().to_list()
    model = model_class().fit(synthetic)
    density = model.user_items.nnz / (model.user_items.shape[0] * model.user_items.shape[1])
    original = ease.SPARSE_SCORING_DENSITY
    try:
        ease.SPARSE_SCORING_DENSITY = 0.0  # dense product
        dense = model._scores(users)
        ease.SPARSE_SCORING_DENSITY = density * 2  # this data counts as sparse
        sparse = model._scores(users)
    finally:
        ease.SPARSE_SCORING_DENSITY = original
    assert torch_allclose(dense, sparse)


def test_the_blocked_sparse_product_scores_exactly_as_one_product_and_is_not_persisted(
    synthetic: pl.DataFrame, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import torch

    import chatrec.models.ease as ease
    from chatrec.models.artifacts import model_state

    users = synthetic.get_column("user_id").unique().sort().to_list()
    model = DLAE().fit(synthetic)
    monkeypatch.setattr(ease, "SPARSE_SCORING_DENSITY", 1.0)  # every data set counts as sparse here
    monkeypatch.setattr(ease, "WEIGHT_BLOCK_COLUMNS", model.weights.shape[1])  # one block: the plain product
    whole = model._scores(users)
    model.__dict__.pop("_blocks")
    monkeypatch.setattr(ease, "WEIGHT_BLOCK_COLUMNS", 7)  # blocks of 7 columns, the last one shorter
    blocked = model._scores(users)
    assert len(model._weight_blocks()) == -(-model.weights.shape[1] // 7) > 1
    assert torch.equal(whole, blocked)  # the same sums in the same order: identical, not close
    assert "_blocks" not in model_state(model)  # a cache of the weights, not part of the artifact
    refit = synthetic.filter(pl.col("user_id") != users[0])
    model.fit(refit)  # new weights: the blocks follow them, not the old ones
    assert torch.equal(model._scores(users[1:]), DLAE().fit(refit)._scores(users[1:]))


def torch_allclose(a, b) -> bool:
    import torch

    return bool(torch.allclose(a, b, rtol=1e-5, atol=1e-5))


def test_the_warehouse_connection_holds_duckdb_to_its_memory_setting(tmp_path: Path) -> None:
    from chatrec.warehouse import connect

    con = connect(Settings(warehouse_path=tmp_path / "w.duckdb", duckdb_memory_mb=300))
    assert con.execute("SELECT current_setting('memory_limit')").fetchall() == [("300.0 MiB",)]
    con.close()
    default = connect(Settings(warehouse_path=tmp_path / "w.duckdb"))
    number, unit = default.execute("SELECT current_setting('memory_limit')").fetchall()[0][0].split()
    default.close()
    limit = float(number) * {"MiB": 2**20, "GiB": 2**30, "TiB": 2**40}[unit]
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert 0.39 * ram < limit < 0.41 * ram  # 40% of RAM, not DuckDB's own 80%


def test_the_split_gram_of_sparse_data_with_heavy_users_is_x_transpose_x() -> None:
    import scipy.sparse as sp

    from chatrec.models import ease

    rng = np.random.default_rng(0)
    light = sp.random(400, 2_000, density=0.005, format="csr", random_state=1)
    heavy = sp.random(3, 2_000, density=0.5, format="csr", random_state=2)  # > 2,000 / 16 items each
    x = sp.csr_matrix(sp.vstack([light, heavy])[rng.permutation(403)])
    assert x.nnz < ease.SPARSE_SCORING_DENSITY * x.shape[0] * x.shape[1]
    binary = x.copy()
    binary.data[:] = 1.0
    expected = (binary.T @ binary).toarray()
    gram = ease.cooccurrence(binary)
    assert np.array_equal(gram, expected)  # counts: exact
    gram[0, 0] = -1.0  # callers modify what they get: the kept copy is not theirs
    assert np.array_equal(ease.cooccurrence(binary), expected)
    assert np.allclose(ease.cooccurrence(x), (x.T @ x).toarray(), rtol=1e-12, atol=1e-12)
