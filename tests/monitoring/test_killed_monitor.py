"""A monitor run killed in the middle (SIGKILL) leaves the previous run's reports intact and none of
its own rows visible, and the next monitor run completes and shows that run once."""

from __future__ import annotations

import textwrap
from pathlib import Path

import duckdb

from chatrec.batch.recommend import recommend_batch
from chatrec.monitoring import monitor
from chatrec.retrain import retrain
from chatrec.settings import Settings
from chatrec.warehouse import connect
from tests.processes import kill_at_first_line

# The child monitors the newest recommendation run: it builds every report (HTML/JSON files and
# Evidently snapshots written) and starts indexing them; once the first report's rows (monitoring.
# reports, .metrics, .drift_results) are inserted in the open transaction, it pauses before the
# second report's rows so the test can kill it there.
CHILD = textwrap.dedent(
    """
    import sys, time
    import chatrec.monitoring.index as index
    from chatrec.monitoring import monitor
    from chatrec.settings import Settings
    from chatrec.warehouse import connect

    real_subject = index.metric_subject
    indexed = []

    def pausing_subject(artifact):
        if indexed and artifact.report_id != indexed[0]:
            print("indexing", flush=True)
            time.sleep(120)
        indexed.append(artifact.report_id)
        return real_subject(artifact)

    index.metric_subject = pausing_subject
    warehouse, artifacts, reports, workspace = sys.argv[1:5]
    settings = Settings(warehouse_path=warehouse, artifacts_dir=artifacts, reports_dir=reports,
                        evidently_workspace=workspace, candidate_model="popularity", candidate_models=["popularity"],
                        torch_threads=1)
    monitor(connect(settings), settings)
    """
)


def monitoring_rows(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    """What analysts read of the monitor's output: per table/view, (run_id, rows) sorted."""
    queries = {
        "reports": "SELECT run_id, count(*) FROM monitoring.reports GROUP BY run_id",
        # the monitor's figures; the batch run's own LLM-layer figures (subject = run id) are not its output
        "metrics": "SELECT run_id, count(*) FROM monitoring.metrics WHERE (scope = 'flow' AND subject = 'monitor')"
        " OR (scope IN ('drift', 'recs', 'llm') AND subject <> run_id) GROUP BY run_id",
        "drift_results": "SELECT split_part(report_id, ':', 1), count(*) FROM monitoring.drift_results GROUP BY 1",
        "report_history": "SELECT run_id, count(*) FROM marts.report_history GROUP BY run_id",
        "drift_history": "SELECT run_id, count(*) FROM marts.drift_history GROUP BY run_id",
    }
    return {name: sorted(con.execute(sql).fetchall()) for name, sql in queries.items()}


def snapshot_files(settings: Settings) -> int:
    return sum(1 for _ in Path(settings.evidently_workspace).glob("*/snapshots/*.json"))


def test_killed_monitor_run_leaves_the_previous_reports_and_the_next_run_completes(
    ml100k_warehouse: duckdb.DuckDBPyConnection, settings: Settings, tmp_path: Path
) -> None:
    settings = settings.model_copy(
        update={"candidate_model": "popularity", "candidate_models": ["popularity"], "torch_threads": 1}
    )
    con = ml100k_warehouse
    retrain(con, settings, ["popularity"])
    first_run = recommend_batch(con, settings, user_ids=["1", "2", "3"]).run_id
    first = monitor(con, settings)
    before = monitoring_rows(con)
    assert before["reports"] == [(first_run, 5)]
    snapshots_before = snapshot_files(settings)
    assert snapshots_before == 6  # 5 reports + the quality project's ranking snapshot
    killed_run = recommend_batch(con, settings, user_ids=["1", "2", "3"]).run_id
    con.close()

    paths = [settings.warehouse_path, settings.artifacts_dir, settings.reports_dir, settings.evidently_workspace]
    line = kill_at_first_line(CHILD, [str(p) for p in paths], tmp_path)
    assert line == "indexing", line

    con = connect(settings)
    # the first monitor run is intact, the killed one's rows (one report's worth were inserted) are not visible
    assert monitoring_rows(con) == before
    for report in first.reports:
        assert report.html_path.stat().st_size > 0 and report.json_path.stat().st_size > 0

    second = monitor(con, settings)
    assert second.run_id == killed_run
    after = monitoring_rows(con)
    for name, rows in after.items():
        assert rows == sorted([*before[name], (killed_run, dict(rows)[killed_run])]), name
    report_ids = con.execute("SELECT report_id FROM monitoring.reports WHERE run_id = ?", [killed_run]).fetchall()
    assert sorted(r for (r,) in report_ids) == sorted(r.report_id for r in second.reports)
    # the killed run's report files were rewritten in place, none left beside them
    files = set((settings.reports_dir / killed_run).iterdir())
    assert files == {p for r in second.reports for p in (r.html_path, r.json_path)}
    # each run shows once on the Evidently dashboards: the killed run's snapshots were not kept twice
    assert snapshot_files(settings) == 2 * snapshots_before
    con.close()
