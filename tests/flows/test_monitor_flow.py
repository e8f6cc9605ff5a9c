from pathlib import Path

import duckdb
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

from chatrec.batch.recommend import recommend_batch
from chatrec.retrain import retrain
from chatrec.settings import Settings
from chatrec.warehouse import connect
from flows.monitor import monitor_flow


@pytest.fixture
def monitored_warehouse(ml100k_warehouse_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """MovieLens 100K with a popularity model and one complete run; the flow's Settings() read the env."""
    for name, value in {
        "WAREHOUSE_PATH": str(tmp_path / "wh.duckdb"),
        "REPORTS_DIR": str(tmp_path / "reports"),
        "EVIDENTLY_WORKSPACE": str(tmp_path / "evidently"),
        "ARTIFACTS_DIR": str(tmp_path / "artifacts"),
        "CANDIDATE_MODEL": "popularity",
        "TORCH_THREADS": "1",
    }.items():
        monkeypatch.setenv(f"CHATREC_{name}", value)
    (tmp_path / "wh.duckdb").write_bytes(ml100k_warehouse_path.read_bytes())
    settings = Settings()
    con = connect(settings)
    retrain(con, settings, ["popularity"])
    run_id = recommend_batch(con, settings).run_id
    con.close()
    return run_id


def _artifact_keys(flow_run_id: object) -> set[str]:
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    return {a.key for a in artifacts if a.key}  # keyless ones are Prefect's own result records


@pytest.mark.slow  # ~30 s: two monitors over MovieLens 100K; `make test-all` runs it
def test_monitor_flow_is_quiet_by_default_and_alarms_with_one_line_when_drift_is_an_alarm(
    monitored_warehouse: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # defaults: the users' cohort drift of MovieLens 100K is information, the night's alarms stay quiet
    passed = monitor_flow(return_state=True)
    assert passed.is_completed()
    summary = passed.result()
    assert summary["run_id"] == monitored_warehouse and summary["passed"] and not summary["reasons"]
    assert {check["name"] for check in summary["alarms"]} == {"rating_shift", "popularity_shock", "new_item_flood"}
    assert any("users:" in note and "(information)" in note for note in summary["notes"])
    assert Path(summary["index"]).is_file()
    assert {"monitor-summary", "monitor-index", "monitor-report"} == _artifact_keys(passed.state_details.flow_run_id)

    # drift as an alarm: the users data set (3 of 5 columns) breaks the 50% threshold; the flow run
    # ends Failed with a one-line message (a returned state: no traceback) and the alert artifact
    monkeypatch.setenv("CHATREC_DRIFT_ALARM", "true")
    failed = monitor_flow(run_id=monitored_warehouse, return_state=True)
    assert failed.is_failed()
    assert "\n" not in failed.message and "users:" in failed.message and "threshold 50%" in failed.message
    assert failed.result(raise_on_failure=False)["reasons"]
    assert {"monitor-summary", "monitor-index", "monitor-report", "monitor-alert"} == _artifact_keys(
        failed.state_details.flow_run_id
    )
    con = duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True)
    rows = con.execute(
        "SELECT kind, passed FROM monitoring.reports WHERE dataset = 'users' OR dataset IS NULL"
    ).fetchall()
    assert sorted(rows) == [("data_drift", False), ("llm_health", True), ("recsys_quality", True)]
    assert con.execute("SELECT count(*) FROM monitoring.reports").fetchall() == [(5,)]  # re-run replaced rows
    alarms = con.execute(
        "SELECT metric FROM monitoring.metrics WHERE scope = 'flow' AND metric LIKE 'alarm_%' ORDER BY metric"
    ).fetchall()
    assert [m for (m,) in alarms] == [
        "alarm_new_item_flood",
        "alarm_popularity_shock",
        "alarm_rating_shift",
        "alarms_fired",
    ]
    con.close()
