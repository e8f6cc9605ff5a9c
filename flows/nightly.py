"""Flow: the nightly pipeline (ingest -> features -> retrain -> recommend -> monitor) with a markdown summary artifact.

A monitor alarm (a check that fired, see flows/monitor.py) ends its own subflow run Failed with a
`monitor-alert` artifact, but the nightly run still completes and publishes the warehouse snapshot:
tonight's recommendations are valid data, and the alarm is about how they compare with the past.
The nightly prints a table of its stages (time, rows, status) and puts it first in the
`nightly-summary` artifact. Any other monitor error fails the night.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from prefect import flow
from prefect.artifacts import create_markdown_artifact
from prefect.states import State
from rich.console import Console
from rich.table import Table

from chatrec.logs import quiet_third_party
from chatrec.settings import Settings
from chatrec.warehouse.lock import writes_warehouse
from flows.features import features_flow
from flows.ingest import ingest_flow
from flows.monitor import monitor_flow, report_lines
from flows.recommend import recommend_flow
from flows.retrain import retrain_flow
from tasks.warehouse import publish_warehouse_snapshot


def llm_lines(run: dict[str, Any]) -> list[str]:
    """The LLM layer's part of the summary: how many users it served, the blend verdict, its health."""
    if not run.get("llm_users"):
        return ["LLM layer: off (first-stage order, template explanations).", ""]
    metrics = run.get("llm_metrics") or {}
    figures = ", ".join(f"{k}={v:.3g}" for k, v in sorted(metrics.items()))
    return [f"LLM layer: {run['llm_users']} users re-ranked/explained; blend {run.get('blend') or 'not used'}.",
            "", f"LLM health: {figures}.", ""]  # fmt: skip


def summary_markdown(
    settings: Settings,
    loads: list[dict[str, Any]],
    models: list[dict[str, Any]],
    run: dict[str, Any],
    monitoring: dict[str, Any] | None = None,
) -> str:
    lines = ["# chatrec nightly", "", "## Ingest", "", "| load | source | in | loaded | unchanged | quarantined |"]
    lines.append("|---|---|---|---|---|---|")
    for load in loads:
        lines.append(
            f"| {load['load_id']} | {load['source']} | {load['rows_in']} | {load['rows_loaded']} "
            f"| {load['rows_unchanged']} | {load['rows_quarantined']} |"
        )
    lines += ["", "## Models", "", "| model | holdout metrics | decision |", "|---|---|---|"]
    for model in models:
        metrics = ", ".join(f"{k}={v:.4f}" for k, v in model["metrics"].items())
        lines.append(f"| {model['model_id']} | {metrics} | {model['reason']} |")
    lines += [
        "",
        "## Recommendations",
        "",
        f"Run `{run['run_id']}` with `{run['model_id']}`: {run['n_users']} users, "
        f"{run['n_recommendations']} recommendations, {run['n_explanations']} explanations.",
        "",
        *llm_lines(run),
        f"Warehouse: `{settings.warehouse_path}` (query `marts.latest_recommendations`).",
    ]
    if monitoring is not None:
        verdict = "no alarm" if monitoring["passed"] else "ALARM: " + "; ".join(monitoring["reasons"])
        lines += ["", "## Monitoring", "", f"{verdict}. Index: `{monitoring['index']}`.", "", *report_lines(monitoring)]
    return "\n".join(lines)


@dataclass
class Stage:
    name: str
    seconds: float
    rows: str
    status: str


def stage_table(stages: list[Stage]) -> Table:
    table = Table("stage", "time", "rows", "status", title="chatrec nightly")
    for stage in stages:
        table.add_row(stage.name, f"{stage.seconds:.1f} s", stage.rows, stage.status)
    return table


def stage_markdown(stages: list[Stage]) -> list[str]:
    return [
        "## Stages",
        "",
        "| stage | time | rows | status |",
        "|---|---|---|---|",
        *[f"| {s.name} | {s.seconds:.1f} s | {s.rows} | {s.status} |" for s in stages],
        "",
    ]


class StageClock:
    """Times each stage of the night and records its row count and status for the summary table."""

    def __init__(self) -> None:
        self.stages: list[Stage] = []
        self.started = time.perf_counter()

    def done(self, name: str, rows: str, status: str = "completed") -> None:
        now = time.perf_counter()
        self.stages.append(Stage(name, now - self.started, rows, status))
        self.started = now


def monitor_outcome(state: State) -> dict[str, Any]:
    """The monitor's summary: an alarm (a Failed state carrying the summary) is reported, not raised."""
    result = state.result(raise_on_failure=False)
    if isinstance(result, BaseException):
        raise result
    return result


@flow(name="nightly", log_prints=True)
@writes_warehouse("nightly")
def nightly_flow() -> dict[str, Any]:
    quiet_third_party()
    settings = Settings()
    clock = StageClock()
    loads = ingest_flow()
    clock.done("ingest", f"{sum(load['rows_loaded'] for load in loads):,} loaded")
    features = features_flow()
    clock.done("features", f"{features['n_users']:,} users, {features['n_items']:,} items",
               "reused" if features["reused"] else "completed")  # fmt: skip
    models = retrain_flow()
    promoted = sum(model.get("promoted", False) for model in models)
    clock.done("retrain", f"{len(models)} models, {promoted} in production")
    run = recommend_flow()
    clock.done("recommend", f"{run['n_recommendations']:,} recommendations, {run['n_users']:,} users")
    monitoring = monitor_outcome(monitor_flow(run_id=run["run_id"], return_state=True))
    clock.done("monitor", f"{len(monitoring['reports'])} reports",
               "passed" if monitoring["passed"] else f"ALARM: {'; '.join(monitoring['reasons'])}")  # fmt: skip
    snapshot = publish_warehouse_snapshot()
    clock.done("publish", "warehouse snapshot")
    markdown = summary_markdown(settings, loads, models, run, monitoring)
    create_markdown_artifact(key="nightly-summary", markdown="\n".join(stage_markdown(clock.stages)) + "\n" + markdown)
    Console(width=max(Console().width, 100)).print(stage_table(clock.stages))
    print(f"warehouse: {settings.warehouse_path.resolve()} (read-only snapshot for concurrent readers: {snapshot})")
    print(f"reports: {monitoring['index']} (monitor {'passed' if monitoring['passed'] else 'ALARM'})")
    print("latest recommendations: chatrec sql \"SELECT * FROM marts.latest_recommendations WHERE user_id = '1'\"")
    return {
        "loads": loads,
        "features": features,
        "models": models,
        "run": run,
        "monitoring": monitoring,
        "stages": [asdict(stage) for stage in clock.stages],
        "warehouse": str(settings.warehouse_path),
    }


if __name__ == "__main__":
    nightly_flow()
