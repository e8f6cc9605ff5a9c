"""Flow: the nightly pipeline (ingest -> features -> retrain -> recommend -> monitor) with a markdown summary artifact.

A monitor that finds a threshold exceeded (drift share, quality drop) ends its own subflow run Failed
with a `monitor-alert` artifact, but the nightly run still completes and publishes the warehouse
snapshot: tonight's recommendations are valid data, and the alert is about how they compare with
the past. The nightly summary shows the monitor's verdict. Any other monitor error fails the night.
"""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.artifacts import create_markdown_artifact
from prefect.states import State

from chatrec.settings import Settings
from flows.features import features_flow
from flows.ingest import ingest_flow
from flows.monitor import MonitorThresholdExceeded, monitor_flow, report_lines
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
        verdict = "all reports passed" if monitoring["passed"] else "FAILED: " + "; ".join(monitoring["reasons"])
        lines += ["", "## Monitoring", "", f"{verdict}. Index: `{monitoring['index']}`.", "", *report_lines(monitoring)]
    return "\n".join(lines)


def monitor_outcome(state: State) -> dict[str, Any]:
    """The monitor's summary; a threshold breach is reported, not raised (see the module docstring)."""
    result = state.result(raise_on_failure=False)
    if isinstance(result, MonitorThresholdExceeded):
        return result.summary
    if isinstance(result, BaseException):
        raise result
    return result


@flow(name="nightly", log_prints=True)
def nightly_flow() -> dict[str, Any]:
    settings = Settings()
    loads = ingest_flow()
    features = features_flow()
    models = retrain_flow()
    run = recommend_flow()
    monitoring = monitor_outcome(monitor_flow(run_id=run["run_id"], return_state=True))
    snapshot = publish_warehouse_snapshot()
    create_markdown_artifact(key="nightly-summary", markdown=summary_markdown(settings, loads, models, run, monitoring))
    print(f"warehouse: {settings.warehouse_path.resolve()} (read-only snapshot for concurrent readers: {snapshot})")
    print(f"reports: {monitoring['index']} (monitor {'passed' if monitoring['passed'] else 'FAILED'})")
    print("latest recommendations: chatrec sql \"SELECT * FROM marts.latest_recommendations WHERE user_id = '1'\"")
    return {
        "loads": loads,
        "features": features,
        "models": models,
        "run": run,
        "monitoring": monitoring,
        "warehouse": str(settings.warehouse_path),
    }


if __name__ == "__main__":
    nightly_flow()
