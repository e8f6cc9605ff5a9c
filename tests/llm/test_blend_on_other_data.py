"""The blend weight on data that is not MovieLens 100K (issue 19, point 3): fitted on a synthetic
MovieLens-latest-format warehouse with the packaged SmolLM2, the weight is kept only with its gain's
interval above 0, the interval is stored beside it, and a re-fit on unchanged data reuses the row."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from chatrec.data.ingest import ingest_movielens_latest
from chatrec.data.synthetic import SyntheticSpec, write_movielens_latest
from chatrec.llm.pipeline import fit_blend
from chatrec.settings import Settings
from tests.conftest import TEST_CACHE


@pytest.mark.slow  # LLM decoding of 6 users x 5 candidates on CPU; CI runs it (make test-all)
def test_blend_weight_and_its_interval_on_synthetic_data(
    warehouse: duckdb.DuckDBPyConnection, settings: Settings, tmp_path: Path, smollm2
) -> None:
    spec = SyntheticSpec(users=60, items=90, interactions=1_500, seed=9)
    ingest_movielens_latest(warehouse, write_movielens_latest(spec, tmp_path / "synthetic"))
    llm = settings.model_copy(update={
        "llm_backend": "transformers", "cache_dir": TEST_CACHE, "llm_blend_users": 6, "llm_rerank_mode": "choice",
        "candidate_model": "popularity", "top_k_candidates": 5, "top_k_final": 3, "llm_batch_size": 6,
    })  # fmt: skip
    record = fit_blend(warehouse, llm, smollm2)
    assert not record.reused and 1 < record.n_users <= 6
    row = warehouse.execute(
        "SELECT weight, best_weight, gain_mean, gain_ci_low, gain_ci_high, gain_confidence, n_users"
        " FROM models.llm_blends"
    ).fetchall()
    assert len(row) == 1
    weight, best, mean, low, high, confidence, users = row[0]
    assert (weight, best, users) == (record.weight, record.best_weight, record.n_users)
    if best == 0.0:  # the first stage alone scored best: no gain to test
        assert weight == 0.0 and mean is None and low is None
    else:  # the grid's best is kept only if the interval is above 0, and the interval is stored
        assert low is not None and high is not None and low <= mean <= high and 0.95 < confidence < 1
        assert weight == (best if low > 0 else 0.0)
    assert ("CI" in record.verdict) == (best != 0.0)
    again = fit_blend(warehouse, llm, smollm2)
    assert again.reused and again.blend_id == record.blend_id
    assert warehouse.execute("SELECT count(*) FROM models.llm_blends").fetchone() == (1,)
