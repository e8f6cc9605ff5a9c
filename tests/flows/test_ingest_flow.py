from pathlib import Path

import duckdb
import pytest

from flows.ingest import ingest_flow
from flows.nightly import nightly_flow
from tests.conftest import TEST_CACHE


@pytest.fixture
def in_workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CHATREC_WAREHOUSE_PATH", str(tmp_path / "wh.duckdb"))
    return tmp_path / "wh.duckdb"


def test_ingest_flow_loads_and_rerun_does_not_duplicate(in_workdir: Path) -> None:
    first = ingest_flow()
    assert first[0]["rows_loaded"] == 102_625
    second = ingest_flow()
    assert second[0]["already_loaded"]
    con = duckdb.connect(str(in_workdir), read_only=True)
    assert con.execute("SELECT count(*) FROM core.interactions").fetchall() == [(100_000,)]
    assert con.execute("SELECT count(*) FROM raw.loads").fetchall() == [(1,)]


def test_ingest_flow_with_bad_source_fails_clearly(in_workdir: Path) -> None:
    state = ingest_flow(
        source="csv", path="/nonexistent.csv", mapping="user=a,item=b,timestamp=c,rating=d", return_state=True
    )
    assert state.is_failed()
    with pytest.raises(Exception, match="does not exist"):
        state.result()


def test_nightly_flow_populates_the_warehouse(in_workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATREC_CANDIDATE_MODELS", '["popularity", "dlae"]')
    monkeypatch.setenv("CHATREC_TORCH_THREADS", "1")
    monkeypatch.setenv("CHATREC_DASK_WORKERS", "1")
    # the LLM layer on, for 2 users and a 5-user blend fit (the real SmolLM2; conversion cached)
    for name, value in {"LLM_BACKEND": "transformers", "LLM_USERS_PER_RUN": "2", "LLM_BLEND_USERS": "5",
                        "CACHE_DIR": str(TEST_CACHE), "LLM_BATCH_SIZE": "5"}.items():  # fmt: skip
        monkeypatch.setenv(f"CHATREC_{name}", value)
    result = nightly_flow()
    metrics = result["run"]["llm_metrics"]
    assert result["run"]["llm_users"] == 2 and metrics["explanation_check_pass_rate"] >= 0.0
    # a blend of weight 0 skips the LLM's candidate scores; scored, the output is always valid
    assert ("valid_output_rate" in metrics) == (metrics["blend_weight"] > 0)
    assert metrics.get("valid_output_rate", 1.0) == 1.0
    # the nightly builds features set-based in DuckDB (no Dask workers); the Dask path is tests/features'
    assert result["features"]["n_users"] == 943 and result["features"]["dask_workers"] == 0
    assert result["warehouse"] == str(in_workdir)
    con = duckdb.connect(str(in_workdir), read_only=True)
    assert con.execute("SELECT rows_balance FROM marts.load_history").fetchall() == [(True,)]
    statuses = dict(con.execute("SELECT model_id, status FROM models.registry").fetchall())
    assert statuses == {"popularity@1": "production", "dlae@1": "production", "biasedmf@1": "production"}
    latest = con.execute(
        "SELECT count(DISTINCT user_id), count(*), count(explanation) FROM marts.latest_recommendations"
    ).fetchall()
    assert latest == [(943, 943 * 5, 943 * 5)]
    run = result["run"]
    assert con.execute("SELECT status FROM recs.runs WHERE run_id = ?", [run["run_id"]]).fetchall() == [("complete",)]
    # the monitor stage: index page plus drift, recsys and LLM-health reports for tonight's run
    monitoring = result["monitoring"]
    assert monitoring["run_id"] == run["run_id"] and Path(monitoring["index"]).is_file()
    kinds = {report["kind"] for report in monitoring["reports"]}
    assert kinds == {"data_drift", "recsys_quality", "llm_health"}
    assert all(Path(report["html_path"]).is_file() for report in monitoring["reports"])
    # the bundled data raises no alarm with the defaults (drift is information), and the stage table says so
    assert monitoring["passed"] and not monitoring["reasons"], monitoring["reasons"]
    stages = {stage["name"]: stage for stage in result["stages"]}
    assert list(stages) == ["ingest", "features", "retrain", "recommend", "monitor", "publish"]
    assert stages["monitor"]["status"] == "passed" and stages["recommend"]["rows"].startswith("4,715 recommendations")
    # a second night on the same data reuses the models (no duplicate registry rows) and adds one run
    con.close()  # DuckDB: a read-only connection in this process would block the flow's writer
    nightly_flow()
    con = duckdb.connect(str(in_workdir), read_only=True)
    assert con.execute("SELECT count(*) FROM models.registry").fetchall() == [(3,)]
    assert con.execute("SELECT count(*) FROM features.user_features").fetchall() == [(943,)]  # features reused
    assert con.execute("SELECT count(*) FROM recs.runs WHERE status = 'complete'").fetchall() == [(2,)]
