"""Flow: monitoring reports for the newest (or a given) recommendation run, then the report index.

When a threshold is exceeded (drift share, quality drop) the flow writes a `monitor-alert` markdown
artifact with the reasons and ends Failed. The reports, snapshots and index are written first, so a
failed monitor still leaves everything needed to see why.
"""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from tasks.monitor import build_dashboard_index, build_monitor_reports


class MonitorThresholdExceeded(RuntimeError):
    """A monitoring threshold was exceeded; `summary` holds the reports and reasons."""

    def __init__(self, message: str, summary: dict[str, Any]) -> None:
        super().__init__(message, summary)  # both in args, so the exception survives pickling by Prefect
        self.summary = summary

    def __str__(self) -> str:
        return str(self.args[0])

    def __repr__(self) -> str:  # Prefect logs the repr: the reasons, not the whole summary
        return f"MonitorThresholdExceeded({self.args[0]!r})"


def report_lines(summary: dict[str, Any]) -> list[str]:
    lines = ["| report | verdict | reason | HTML |", "|---|---|---|---|"]
    for report in summary["reports"]:
        name = report["kind"] + (f" ({report['dataset']})" if report["dataset"] else "")
        verdict = "passed" if report["passed"] else "**FAILED**"
        lines.append(f"| {name} | {verdict} | {report['reason']} | `{report['html_path']}` |")
    return lines


def alert_markdown(summary: dict[str, Any]) -> str:
    return "\n".join(
        [
            f"# Monitoring alert: run `{summary['run_id']}`",
            "",
            *[f"- {reason}" for reason in summary["reasons"]],
            "",
            *report_lines(summary),
            "",
            f"Index: `{summary.get('index')}`; thresholds: `drift_share_threshold`, `quality_drop_tolerance`.",
        ]
    )


@flow(name="monitor", log_prints=True)
def monitor_flow(run_id: str | None = None) -> dict[str, Any]:
    summary = build_monitor_reports(run_id)
    summary["index"] = build_dashboard_index()
    create_markdown_artifact(
        key="monitor-summary",
        markdown="\n".join([f"# Monitoring: run `{summary['run_id']}`", "", *report_lines(summary)]),
    )
    for note in summary["notes"]:
        print(note)
    print(f"report index: {summary['index']}")
    if not summary["passed"]:
        create_markdown_artifact(key="monitor-alert", markdown=alert_markdown(summary))
        raise MonitorThresholdExceeded("; ".join(summary["reasons"]), summary)
    return summary


if __name__ == "__main__":
    monitor_flow()
