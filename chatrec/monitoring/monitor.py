"""`monitor()`: every report for one recommendation run, saved, snapshotted, indexed, with a verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from chatrec.monitoring.alarms import AlarmCheck, warehouse_alarms
from chatrec.monitoring.drift import drift_reports
from chatrec.monitoring.index import indexed_snapshot_ids, previous_snapshot_ids, write_index
from chatrec.monitoring.llm_health import llm_health_report
from chatrec.monitoring.recsys import recsys_report, run_row
from chatrec.monitoring.reports import ReportArtifact
from chatrec.monitoring.windows import choose_windows
from chatrec.monitoring.workspace import add_snapshot, open_workspace
from chatrec.settings import Settings


@dataclass
class MonitorSummary:
    run_id: str
    passed: bool
    reasons: list[str]  # the alarms: why it failed (empty when passed)
    notes: list[str] = field(default_factory=list)  # information: what could not be assessed, each verdict
    alarms: list[AlarmCheck] = field(default_factory=list)
    alarm_window: str = ""
    reports: list[ReportArtifact] = field(default_factory=list)
    reports_dir: Path = Path()
    workspace: Path = Path()

    def paths(self) -> dict[str, str]:
        """report id -> HTML path, for flow summaries."""
        return {r.report_id: str(r.html_path) for r in self.reports}


def monitor(con: duckdb.DuckDBPyConnection, settings: Settings, run_id: str | None = None) -> MonitorSummary:
    """Build the drift, recsys-quality and LLM-health reports of `run_id` (default: the newest complete run).

    The alarms (chatrec/monitoring/alarms.py), the quality-drop gate (`quality_drop_tolerance`) and,
    with `drift_alarm` on, the drift share decide `passed`; the reasons say which check and figure broke
    them. Everything else is information (`notes`). Re-running for the same run replaces its files,
    snapshots and rows.
    """
    run = run_row(con, "latest_run", run_id)
    if run is None:
        wanted = f"run {run_id!r}" if run_id else "any complete run"
        raise LookupError(
            f"no complete recommendation run in recs.runs for {wanted}: run `chatrec run recommend` first"
        )
    run_id = run["run_id"]
    windows = choose_windows(con, settings)
    drift, notes = drift_reports(con, settings, run_id, windows)
    artifacts = [*drift, recsys_report(con, settings, run), llm_health_report(con, settings, run)]
    workspace = open_workspace(settings.evidently_workspace)
    earlier = previous_snapshot_ids(con, [a.report_id for a in artifacts])
    indexed = indexed_snapshot_ids(con)
    for artifact in artifacts:
        add_snapshot(workspace, artifact, earlier.get(artifact.report_id), indexed)
    alarm_window, alarms = warehouse_alarms(con, settings)
    failed_reports = [a.reason for a in artifacts if not a.passed]
    reasons = [check.message for check in alarms if check.fired] + failed_reports
    figures = {f"alarm_{check.name}": check.value for check in alarms if check.value is not None}
    write_index(
        con,
        run_id,
        artifacts,
        {
            "passed": 0.0 if reasons else 1.0,
            "reports": float(len(artifacts)),
            "failed_reports": float(len(failed_reports)),
            "alarms_fired": float(sum(check.fired for check in alarms)),
            **figures,
        },
    )
    return MonitorSummary(
        run_id=run_id,
        passed=not reasons,
        reasons=reasons,
        notes=[
            *notes,
            *(check.message for check in alarms if not check.fired),
            *(a.reason for a in artifacts if a.passed),
        ],
        alarms=alarms,
        alarm_window=alarm_window.describe(),
        reports=artifacts,
        reports_dir=settings.reports_dir,
        workspace=settings.evidently_workspace,
    )
