"""Prefect tasks for monitoring: thin wrappers over chatrec.monitoring and the dashboards index."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from prefect import task

from chatrec.monitoring import ReportArtifact, monitor
from chatrec.settings import Settings
from dashboards.build import build_index
from tasks.warehouse import warehouse, writer_task


def report_summary(report: ReportArtifact) -> dict[str, Any]:
    """The report's record without its Evidently snapshot: flow results stay small and serializable."""
    fields = ("report_id", "kind", "dataset", "html_path", "json_path", "passed", "verdict", "reason")
    values = {name: getattr(report, name) for name in fields}
    return {name: str(value) if isinstance(value, Path) else value for name, value in values.items()}


@writer_task("monitor-reports")
def build_monitor_reports(run_id: str | None = None) -> dict[str, Any]:
    """Drift, recsys-quality and LLM-health reports for one run; returns the verdict and paths (small)."""
    settings = Settings()
    with warehouse(settings) as con:
        summary = monitor(con, settings, run_id)
    return {
        "run_id": summary.run_id,
        "passed": summary.passed,
        "reasons": summary.reasons,
        "notes": summary.notes,
        "alarms": [asdict(check) for check in summary.alarms],
        "alarm_window": summary.alarm_window,
        "reports": [report_summary(r) for r in summary.reports],
        "reports_dir": str(summary.reports_dir),
        "workspace": str(summary.workspace),
    }


@task(name="build-dashboard-index")  # a reader: no warehouse-writer slot
def build_dashboard_index() -> str:
    """Export the monitoring notebook as the reports' index page (reads the warehouse read-only)."""
    return str(build_index(Settings()))
