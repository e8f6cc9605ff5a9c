"""A drift report above its threshold with drift_alarm off is information, not a failure, in the
monitor flow's report table (alarms stay FAILED)."""

from __future__ import annotations

from pathlib import Path

from chatrec.monitoring.reports import ReportArtifact
from flows.monitor import report_lines
from tasks.monitor import report_summary


def report(kind: str, passed: bool, figures: dict[str, float], dataset: str | None = None) -> ReportArtifact:
    return ReportArtifact(f"r:{kind}:{dataset}", "r", kind, Path("/r/x.html"), Path("/r/x.json"), figures,
                          passed, "why", dataset)  # fmt: skip


def test_information_alarm_and_pass_are_three_verdicts() -> None:
    information = report("data_drift", True, {"drift_share": 0.6, "threshold": 0.5}, "users")
    alarm = report("data_drift", False, {"drift_share": 0.6, "threshold": 0.5}, "items")
    within = report("data_drift", True, {"drift_share": 0.2, "threshold": 0.5}, "interactions")
    quality = report("recsys_quality", True, {"ndcg_at_5": 0.3})
    assert [r.verdict for r in (information, alarm, within, quality)] == ["information", "failed", "passed", "passed"]
    lines = report_lines({"reports": [report_summary(r) for r in (information, alarm, within, quality)]})
    verdicts = [line.split(" | ")[1] for line in lines[2:]]
    assert verdicts == ["information (not an alarm)", "**FAILED**", "passed", "passed"]
