"""The retrain flow's one task per model, and the warehouse-writer concurrency slot."""

from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

from flows.retrain import retrain_flow
from tasks import warehouse as writer


def test_a_failing_model_leaves_the_others_trained_and_shows_on_the_leaderboard(
    ml100k_warehouse_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "chatrec.duckdb").write_bytes(ml100k_warehouse_path.read_bytes())
    monkeypatch.setenv("CHATREC_CANDIDATE_MODEL", "popularity")
    monkeypatch.setenv("CHATREC_TORCH_THREADS", "1")
    state = retrain_flow(models=["no_such_model", "popularity"], return_state=True)
    assert state.is_completed()
    outcomes = state.result()
    assert [o["name"] for o in outcomes] == ["popularity"] and outcomes[0]["promoted"]
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id]))
        )
        task_runs = {run.name for run in client.read_task_runs() if run.flow_run_id == state.state_details.flow_run_id}
    board = next(a for a in artifacts if a.key == "retrain-leaderboard")
    assert "no_such_model" in str(board.data) and "FAILED" in str(board.data) and "popularity" in str(board.data)
    assert {"retrain-no_such_model", "retrain-popularity"} <= task_runs


def test_writer_slot_holds_the_global_limit_only_when_it_exists() -> None:
    writer.writer_limit_exists.cache_clear()
    with writer.writer_slot():  # no limit on this API: runs without a slot, no error
        pass
    with get_client(sync_client=True) as client:
        client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=writer.WAREHOUSE_LIMIT, limit=1))
        try:
            writer.writer_limit_exists.cache_clear()
            with writer.writer_slot():
                held = client.read_global_concurrency_limit_by_name(writer.WAREHOUSE_LIMIT).active_slots
            released = client.read_global_concurrency_limit_by_name(writer.WAREHOUSE_LIMIT).active_slots
        finally:
            client.delete_global_concurrency_limit_by_name(writer.WAREHOUSE_LIMIT)
            writer.writer_limit_exists.cache_clear()
    assert (held, released) == (1, 0)
