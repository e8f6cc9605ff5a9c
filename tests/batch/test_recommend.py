"""Batch recommendations with and without the LLM layer, on the real warehouse and the real SmolLM2."""

from __future__ import annotations

import json

import duckdb
import pytest

from chatrec.batch.recommend import recommend_batch
from chatrec.data.frames import interactions_frame, items_frame
from chatrec.models.training import set_status, train_and_register
from chatrec.settings import Settings
from tests.conftest import TEST_CACHE

USERS = ["1", "2", "3"]


@pytest.fixture
def trained(ml100k_warehouse: duckdb.DuckDBPyConnection, settings: Settings) -> duckdb.DuckDBPyConnection:
    settings.candidate_model = "popularity"  # cheap to train; the LLM part is what is tested
    version = train_and_register(
        ml100k_warehouse, settings, "popularity",
        interactions=interactions_frame(ml100k_warehouse), items=items_frame(ml100k_warehouse),
    )  # fmt: skip
    set_status(ml100k_warehouse, version.model_id, "production", "test")
    return ml100k_warehouse


def test_without_the_llm_every_explanation_is_a_template(trained, settings: Settings) -> None:
    run = recommend_batch(trained, settings, user_ids=USERS)
    assert run.llm_users == 0 and run.llm_metrics is None
    assert trained.execute("SELECT llm_model FROM recs.runs").fetchall() == [(None,)]
    assert trained.execute("SELECT DISTINCT source FROM recs.explanations").fetchall() == [("template",)]


@pytest.mark.slow  # LoRA training / LLM decoding on CPU: CI runs it (make test-all)
def test_llm_users_are_reranked_and_explained_and_the_rest_keep_templates(trained, settings: Settings) -> None:
    llm = settings.model_copy(update={
        "llm_backend": "transformers", "cache_dir": TEST_CACHE, "llm_users_per_run": 2, "llm_blend_users": 5,
        "llm_rerank_mode": "choice", "llm_batch_size": 5, "llm_rerank_at_weight_zero": True,
    })  # fmt: skip
    run = recommend_batch(trained, llm, user_ids=USERS)
    assert run.llm_users == 2 and run.n_recommendations == 15 and run.n_explanations == 15
    assert run.llm_metrics["valid_output_rate"] == 1.0 and run.llm_metrics["invalid_items"] == 0
    assert 0.0 <= run.llm_metrics["blend_weight"] <= 1.0
    (blend_rows,) = trained.execute("SELECT count(*) FROM models.llm_blends").fetchall()[0]
    assert blend_rows == 1
    # a weight above 0 only with its gain's bootstrap interval above 0, stored beside it
    ((weight, best, low, high),) = trained.execute(
        "SELECT weight, best_weight, gain_ci_low, gain_ci_high FROM models.llm_blends"
    ).fetchall()
    assert weight == 0.0 or (weight == best and low > 0 and high >= low)
    assert best == 0.0 or (low is not None and high is not None)
    # the 2 most recently active of the 3 users went through the LLM; their rows carry LLM scores
    sources = dict(trained.execute(
        "SELECT user_id, list_sort(list_distinct(list(source))) FROM recs.explanations GROUP BY user_id"
    ).fetchall())  # fmt: skip
    template_only = [u for u, s in sources.items() if s == ["template_only"]]
    assert len(template_only) == 1
    for user, user_sources in sources.items():
        if user not in template_only:
            assert set(user_sources) <= {"llm", "template"}
    scored = trained.execute(
        "SELECT user_id, count(llm_score) FROM recs.recommendations GROUP BY user_id ORDER BY user_id"
    ).fetchall()
    assert sorted(n for _, n in scored) == [0, 5, 5]
    # every fallback keeps its reason; every LLM row passed the check
    bad = trained.execute(
        "SELECT count(*) FROM recs.explanations WHERE (source = 'template' AND check_failure IS NULL)"
        " OR (source = 'llm' AND NOT check_passed)"
    ).fetchall()
    assert bad == [(0,)]
    # the LLM health figures are indexed for the monitor, keyed by the run
    names = {r[0] for r in trained.execute(
        "SELECT metric FROM monitoring.metrics WHERE scope = 'llm' AND subject = ?", [run.run_id]).fetchall()}  # fmt: skip
    assert {"valid_output_rate", "blend_weight", "explanation_fallback_rate", "latency_ms_per_user"} <= names
    params = json.loads(trained.execute("SELECT params FROM recs.runs").fetchall()[0][0])
    assert params["blend_id"] and "llm choice" in params["reranker"]
    # a second run reuses the fitted blend instead of fitting (and storing) another; by default a blend of
    # weight 0 (it cannot change the order) skips the LLM's scores, the explanations still come from the LLM
    second = recommend_batch(trained, llm.model_copy(update={"llm_rerank_at_weight_zero": False}), user_ids=USERS)
    assert trained.execute("SELECT count(*) FROM models.llm_blends").fetchall() == [(1,)]
    scored = trained.execute(
        "SELECT count(llm_score) FROM recs.recommendations WHERE run_id = ?", [second.run_id]
    ).fetchall()
    assert scored == [(0 if weight == 0.0 else 10,)]
    assert "explanation_fallback_rate" in (second.llm_metrics or {})


@pytest.mark.slow  # two worker processes each load the LLM
def test_the_llm_stage_on_two_dask_workers_writes_what_the_in_process_stage_writes(trained, settings: Settings) -> None:
    llm = settings.model_copy(update={
        "llm_backend": "transformers", "cache_dir": TEST_CACHE, "llm_users_per_run": None, "llm_blend_users": 5,
        "llm_rerank_mode": "choice", "llm_rerank_at_weight_zero": True,
    })  # fmt: skip
    in_process = recommend_batch(trained, llm, user_ids=USERS)
    on_dask = recommend_batch(
        trained, llm.model_copy(update={"llm_dask_min_users": 1, "dask_workers": 2}), user_ids=USERS
    )
    sql = (
        "SELECT r.user_id, r.rank, r.item_id, r.llm_score IS NOT NULL, e.source, e.text FROM recs.recommendations r"
        " JOIN recs.explanations e USING (run_id, user_id, item_id) WHERE run_id = ? ORDER BY r.user_id, r.rank"
    )
    rows = trained.execute(sql, [on_dask.run_id]).fetchall()
    assert len(rows) == len(USERS) * llm.top_k_final and all(scored for *_, scored, _, _ in rows)
    assert {source for *_, source, _ in rows} <= {"llm", "template"}
    # the same users in one batch either way: the same order and the same LLM sentences
    assert rows == trained.execute(sql, [in_process.run_id]).fetchall()
    assert on_dask.llm_users == len(USERS) and on_dask.llm_metrics["valid_output_rate"] == 1.0
