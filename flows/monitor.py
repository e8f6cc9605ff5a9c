"""Flow: monitoring reports and alarms for the newest (or a given) recommendation run, then the report index.

Information (the Evidently reports, every check that did not fire) goes to the `monitor-summary`
markdown artifact and a `monitor-reports` link artifact per report. An alarm (a check that fired:
rating shift, popularity shock, new-item flood, a quality drop, or drift with `drift_alarm` on) adds
a `monitor-alert` artifact and ends the flow run **Failed** with a one-line message: a returned
Failed state, not a raised exception, so the log carries the message and no traceback. The reports,
snapshots and index are written first, so a failed monitor still leaves everything needed to see why.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow
from prefect.artifacts import create_link_artifact, create_markdown_artifact
from prefect.states import Completed, Failed, State

from chatrec.logs import quiet_third_party
from chatrec.warehouse.lock import writes_warehouse
from tasks.monitor import build_dashboard_index, build_monitor_reports


def report_lines(summary: dict[str, Any]) -> list[str]:
    lines = ["| report | verdict | reason | HTML |", "|---|---|---|---|"]
    for report in summary["reports"]:
        name = report["kind"] + (f" ({report['dataset']})" if report["dataset"] else "")
        verdict = {"failed": "**FAILED**", "information": "information (not an alarm)"}.get(
            report.get("verdict", "passed" if report["passed"] else "failed"), "passed"
        )
        lines.append(
            f"| {name} | {verdict} | {report['reason']} | [{Path(report['html_path']).name}]({file_url(report['html_path'])}) |"
        )
    return lines


def alarm_lines(summary: dict[str, Any]) -> list[str]:
    lines = [
        f"Alarm window: {summary['alarm_window']}.",
        "",
        "| check | value | threshold | fired |",
        "|---|---|---|---|",
    ]
    for check in summary["alarms"]:
        value = "not judged" if check["value"] is None else f"{check['value']:.3g}"
        lines.append(
            f"| {check['name']} | {value} | {check['threshold']:.3g} | {'**yes**' if check['fired'] else 'no'} |"
        )
    return lines


def file_url(path: str) -> str:
    return Path(path).resolve().as_uri()


def alert_markdown(summary: dict[str, Any]) -> str:
    return "\n".join(
        [
            f"# Monitoring alarm: run `{summary['run_id']}`",
            "",
            *[f"- {reason}" for reason in summary["reasons"]],
            "",
            *alarm_lines(summary),
            "",
            *report_lines(summary),
            "",
            f"Index: `{summary.get('index')}`. Thresholds and what each check compares: docs/monitoring.md.",
        ]
    )


def alarm_message(summary: dict[str, Any]) -> str:
    """One line for the failed state: the first reason, and how many more."""
    reasons = summary["reasons"]
    more = f" (+{len(reasons) - 1} more, see the monitor-alert artifact)" if len(reasons) > 1 else ""
    return f"monitor alarm for run {summary['run_id']}: {reasons[0]}{more}"


@flow(name="monitor", log_prints=True)
@writes_warehouse("monitor")
def monitor_flow(run_id: str | None = None) -> State:
    quiet_third_party()
    summary = build_monitor_reports(run_id)
    summary["index"] = build_dashboard_index()
    create_markdown_artifact(
        key="monitor-summary",
        markdown="\n".join(
            [f"# Monitoring: run `{summary['run_id']}`", "", *alarm_lines(summary), "", *report_lines(summary)]
        ),
    )
    create_link_artifact(key="monitor-index", link=file_url(summary["index"]), link_text="report index")
    for report in summary["reports"]:
        create_link_artifact(key="monitor-report", link=file_url(report["html_path"]), link_text=report["report_id"])
    for note in summary["notes"]:
        print(note)
    print(f"report index: {summary['index']}")
    if not summary["passed"]:
        create_markdown_artifact(key="monitor-alert", markdown=alert_markdown(summary))
        return Failed(message=alarm_message(summary), data=summary)
    return Completed(message="no alarm", data=summary)


if __name__ == "__main__":
    monitor_flow()
