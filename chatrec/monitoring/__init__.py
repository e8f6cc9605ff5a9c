"""Monitoring: Evidently drift, recommendation-quality and LLM-health reports with thresholds.

No Prefect in here: `monitor()` builds every report for one recommendation run, saves each as HTML
and JSON under `settings.reports_dir`, adds it as a snapshot to the Evidently workspace (one project
per report kind) and indexes it in the `monitoring.*` tables. tasks/monitor.py wraps it for Prefect.
"""

from chatrec.monitoring.monitor import MonitorSummary, monitor
from chatrec.monitoring.reports import ReportArtifact

__all__ = ["MonitorSummary", "ReportArtifact", "monitor"]
