"""Indexing saved reports in the warehouse: monitoring.reports, monitoring.metrics, monitoring.drift_results.

All rows of one monitor run are replaced in one transaction (delete by the stable report ids, then
insert), so re-running the monitor for the same recommendation run never duplicates rows and a failed
write leaves the previous rows intact.
"""

from __future__ import annotations

import json
from typing import Any

import duckdb

from chatrec.monitoring.reports import ReportArtifact
from chatrec.warehouse import transaction

# (scope, subject) of each report's figures in monitoring.metrics
METRIC_SCOPE = {"data_drift": "drift", "recsys_quality": "recs", "llm_health": "llm"}


def metric_subject(artifact: ReportArtifact) -> str:
    # LLM-layer figures use subject = run id; the monitor's own LLM-health rows use the report kind
    return artifact.dataset or artifact.kind


def previous_snapshot_ids(con: duckdb.DuckDBPyConnection, report_ids: list[str]) -> dict[str, str]:
    rows = con.execute(
        "SELECT report_id, snapshot_id FROM monitoring.reports WHERE list_contains(?, report_id) AND snapshot_id IS NOT NULL",
        [report_ids],
    ).fetchall()
    return dict(rows)


def indexed_snapshot_ids(con: duckdb.DuckDBPyConnection) -> frozenset[str]:
    """Every Evidently snapshot id a monitoring.reports row names."""
    rows = con.execute("SELECT snapshot_id FROM monitoring.reports WHERE snapshot_id IS NOT NULL").fetchall()
    return frozenset(snapshot_id for (snapshot_id,) in rows)


def write_index(
    con: duckdb.DuckDBPyConnection, run_id: str, artifacts: list[ReportArtifact], flow_figures: dict[str, float]
) -> None:
    ids = [a.report_id for a in artifacts]
    with transaction(con):
        con.execute("DELETE FROM monitoring.drift_results WHERE list_contains(?, report_id)", [ids])
        con.execute("DELETE FROM monitoring.reports WHERE list_contains(?, report_id)", [ids])
        for artifact in artifacts:
            con.execute(
                "DELETE FROM monitoring.metrics WHERE run_id = ? AND scope = ? AND subject = ?",
                [run_id, METRIC_SCOPE[artifact.kind], metric_subject(artifact)],
            )
            con.execute(
                "INSERT INTO monitoring.reports (report_id, run_id, kind, dataset, html_path, json_path, key_figures,"
                " passed, reason, evidently_project, snapshot_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    artifact.report_id, run_id, artifact.kind, artifact.dataset, str(artifact.html_path),
                    str(artifact.json_path), json.dumps(artifact.key_figures, default=str), artifact.passed,
                    artifact.reason, artifact.evidently_project, artifact.snapshot_id,
                ],
            )  # fmt: skip
            metric_rows: list[list[Any]] = [
                [run_id, METRIC_SCOPE[artifact.kind], metric_subject(artifact), name, value]
                for name, value in artifact.metrics.items()
            ]
            if metric_rows:
                con.executemany(
                    "INSERT INTO monitoring.metrics (run_id, scope, subject, metric, value) VALUES (?, ?, ?, ?, ?)",
                    metric_rows,
                )
            drift_rows = [
                [artifact.report_id, c["dataset"], c["column_name"], c["stattest"], c["p_value"], c["drift_score"], c["drifted"]]
                for c in artifact.drift_columns
            ]  # fmt: skip
            if drift_rows:
                con.executemany(
                    "INSERT INTO monitoring.drift_results (report_id, dataset, column_name, stattest, p_value,"
                    " drift_score, drifted) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    drift_rows,
                )
        con.execute(
            "DELETE FROM monitoring.metrics WHERE run_id = ? AND scope = 'flow' AND subject = 'monitor'", [run_id]
        )
        con.executemany(
            "INSERT INTO monitoring.metrics (run_id, scope, subject, metric, value) VALUES (?, 'flow', 'monitor', ?, ?)",
            [[run_id, name, value] for name, value in flow_figures.items()],
        )
