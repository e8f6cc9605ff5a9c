"""The Evidently workspace: one project per report kind, its dashboard panels created once, a snapshot
per report. `evidently ui --workspace <settings.evidently_workspace>` (`chatrec dashboards serve`)
shows each project's history as line plots over runs.
"""

from __future__ import annotations

from pathlib import Path

from evidently.sdk.models import DashboardPanelPlot, PanelMetric
from evidently.sdk.panels import counter_panel, line_plot_panel, text_panel
from evidently.ui.workspace import Project, Workspace

from chatrec.monitoring.reports import ReportArtifact

PROJECT_NAMES = {
    "data_drift": "chatrec data drift",
    "recsys_quality": "chatrec recommendation quality",
    "llm_health": "chatrec LLM health",
}
DESCRIPTIONS = {
    "data_drift": "Current window of interactions, active users and items vs the reference window (one snapshot per data set and run).",
    "recsys_quality": "RecsysPreset at k on each recommendation run (newly arrived interactions or the temporal holdout).",
    "llm_health": "Per run: valid LLM output rate, explanation fallback rate, latency, blend weight, prompt length.",
}
DRIFT_DATASETS = ("interactions", "users", "items")


def _value(
    metric: str, legend: str, labels: dict[str, str] | None = None, tags: list[str] | None = None
) -> PanelMetric:
    return PanelMetric(legend=legend, metric=metric, metric_labels=labels or {}, tags=tags or [])


def panels(kind: str) -> list[DashboardPanelPlot]:
    """The dashboard of one project: what to plot over its snapshots."""
    if kind == "data_drift":
        share = [_value("DriftedColumnsCount", d, {"value_type": "share"}, [d]) for d in DRIFT_DATASETS]
        rows = [_value("RowCount", d, tags=[d]) for d in DRIFT_DATASETS]
        return [
            counter_panel("Drifted columns, latest run", [_value("DriftedColumnsCount", "interactions", {"value_type": "count"}, ["interactions"])], size="half"),
            counter_panel("Rows in the current window, latest run", [rows[0]], size="half"),
            line_plot_panel("Share of drifted columns", share, description="per data set; the monitor fails above drift_share_threshold"),
            line_plot_panel("Rows in the current window", rows),
        ]  # fmt: skip
    if kind == "recsys_quality":
        beyond = [
            _value(metric, legend)
            for metric, legend in (
                ("Personalization", "personalization"),
                ("Novelty", "novelty"),
                ("Diversity", "diversity"),
                ("Serendipity", "serendipity"),
            )
        ]
        return [
            text_panel(
                "Ranking metrics at k",
                "Precision, recall, NDCG, MAP, MRR and hit rate at k are curves over k in each snapshot; their "
                "trend over runs is on the report index page (reports/index.html) and in monitoring.metrics.",
            ),
            counter_panel("Personalization, latest run", [beyond[0]], size="half"),
            counter_panel("Popularity bias (ARP), latest run", [_value("PopularityBiasMetric", "ARP")], size="half"),
            line_plot_panel("Beyond accuracy over runs", beyond),
            line_plot_panel(
                "Popularity bias (average recommendation popularity)", [_value("PopularityBiasMetric", "ARP")]
            ),
        ]
    if kind == "llm_health":

        def mean(column: str) -> PanelMetric:
            return _value("MeanValue", column, {"column": column})

        return [
            counter_panel("Valid LLM output rate, latest run", [mean("valid_output_rate")], size="half"),
            counter_panel("Explanation fallback rate, latest run", [mean("explanation_fallback_rate")], size="half"),
            line_plot_panel("Output validity and explanation fallback", [mean("valid_output_rate"), mean("explanation_fallback_rate"), mean("explanation_check_pass_rate")]),
            line_plot_panel("Latency (ms per user)", [mean("latency_ms_per_user")], size="half"),
            line_plot_panel("Blend weight (0 = LLM ignored)", [mean("blend_weight")], size="half"),
            line_plot_panel("Prompt length (tokens)", [mean("prompt_tokens_mean"), mean("prompt_tokens_max")]),
        ]  # fmt: skip
    raise KeyError(f"unknown report kind {kind!r}")


def open_workspace(path: Path) -> Workspace:
    path.mkdir(parents=True, exist_ok=True)
    return Workspace.create(str(path))


def project_for(workspace: Workspace, kind: str) -> Project:
    """The kind's project, created with its dashboard on first use (later runs only add snapshots)."""
    name = PROJECT_NAMES[kind]
    found = workspace.search_project(name)
    if found:
        return found[0]
    project = workspace.create_project(name, description=DESCRIPTIONS[kind])
    for panel in panels(kind):
        project.dashboard.add_panel(panel, tab="Overview")
    project.save()
    return project


def add_snapshot(workspace: Workspace, artifact: ReportArtifact, replaces: str | None) -> None:
    """Add the artifact's snapshot to its kind's project; drop the snapshot an earlier monitor of the
    same run added (`replaces`), so a re-run does not show the run twice on the dashboard."""
    if artifact.snapshot is None:
        raise ValueError(f"report {artifact.report_id} has no Evidently snapshot")
    project = project_for(workspace, artifact.kind)
    if replaces and replaces in {str(s) for s in workspace.list_runs(project.id)}:
        workspace.delete_run(project.id, replaces)
    ref = workspace.add_run(project.id, artifact.snapshot)
    artifact.snapshot_id = str(ref.id)
    artifact.evidently_project = project.name
