"""The Evidently workspace: one project per report kind, its dashboard panels, a snapshot per report.
`evidently ui --workspace <settings.evidently_workspace>` (`chatrec dashboards serve`) shows each
project's history as line plots over runs.

Why one panel per data set: in Evidently 0.7.23 a panel's series are matched to a snapshot's values
by metric and labels first, and only then by tags (`get_data_series` takes the first filter whose
metric and labels match, then drops the value if that filter's tags differ). Two series of the same
metric told apart only by tag (interactions vs users) therefore show only the first one; one panel
per data set shows every data set.

Why a separate "ranking" snapshot: RecsysPreset stores NDCG, precision, ... as curves over k with
identical labels on every point, so no panel can pick the value at k out of them. The quality project
therefore also gets, per run, a one-row snapshot of the figures at k (MeanValue per figure).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.core.report import Snapshot
from evidently.metrics import MeanValue
from evidently.sdk.models import DashboardPanelPlot, PanelMetric
from evidently.sdk.panels import counter_panel, line_plot_panel
from evidently.ui.workspace import Project, Workspace

from chatrec.monitoring.recsys import RANKING
from chatrec.monitoring.reports import REPORT_ID_KEY, ReportArtifact, snapshot_metadata

PROJECT_NAMES = {
    "data_drift": "chatrec data drift",
    "recsys_quality": "chatrec recommendation quality",
    "llm_health": "chatrec LLM health",
}
DESCRIPTIONS = {
    "data_drift": "Current window of interactions, active users and items vs the reference window (one snapshot per data set and run).",
    "recsys_quality": "RecsysPreset at k on each recommendation run (newly arrived interactions or the temporal holdout), and the ranking metrics at k per run.",
    "llm_health": "Per run: valid LLM output rate, explanation fallback rate, latency, blend weight, prompt length.",
}
DRIFT_DATASETS = ("interactions", "users", "items")
RANKING_TAG = "ranking"
RANKING_FIGURES = tuple(RANKING.values())  # precision, recall, ndcg, map, mrr, hit_rate


def _value(
    metric: str, legend: str, labels: dict[str, str] | None = None, tags: list[str] | None = None
) -> PanelMetric:
    return PanelMetric(legend=legend, metric=metric, metric_labels=labels or {}, tags=tags or [])


def _mean(column: str, tags: list[str] | None = None) -> PanelMetric:
    return _value("MeanValue", column, {"column": column}, tags)


def panels(kind: str) -> list[DashboardPanelPlot]:
    """The dashboard of one project: what to plot over its snapshots (see the module doc for the layout)."""
    if kind == "data_drift":
        out: list[DashboardPanelPlot] = []
        for d in DRIFT_DATASETS:
            out += [
                counter_panel(f"{d}: drifted columns, latest run", [_value("DriftedColumnsCount", d, {"value_type": "count"}, [d])], size="half"),
                counter_panel(f"{d}: rows in the current window, latest run", [_value("RowCount", d, tags=[d])], size="half"),
                line_plot_panel(f"{d}: share of drifted columns", [_value("DriftedColumnsCount", d, {"value_type": "share"}, [d])], description="the monitor fails above drift_share_threshold", size="half"),
                line_plot_panel(f"{d}: rows in the current window", [_value("RowCount", d, tags=[d])], size="half"),
            ]  # fmt: skip
        return out
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
        ranking = [_mean(name, [RANKING_TAG]) for name in RANKING_FIGURES]
        return [
            counter_panel("NDCG at k, latest run", [_mean("ndcg", [RANKING_TAG])], size="half"),
            counter_panel("Personalization, latest run", [beyond[0]], size="half"),
            line_plot_panel("Ranking metrics at k over runs", ranking, description="precision, recall, NDCG, MAP, MRR and hit rate at the run's k"),
            line_plot_panel("Beyond accuracy over runs", beyond, size="half"),
            line_plot_panel("Popularity bias (average recommendation popularity)", [_value("PopularityBiasMetric", "ARP")], size="half"),
        ]  # fmt: skip
    if kind == "llm_health":
        return [
            counter_panel("Valid LLM output rate, latest run", [_mean("valid_output_rate")], size="half"),
            counter_panel("Explanation fallback rate, latest run", [_mean("explanation_fallback_rate")], size="half"),
            line_plot_panel("Output validity and explanation fallback", [_mean("valid_output_rate"), _mean("explanation_fallback_rate"), _mean("explanation_check_pass_rate")]),
            line_plot_panel("Latency (ms per user)", [_mean("latency_ms_per_user")], size="half"),
            line_plot_panel("Blend weight (0 = LLM ignored)", [_mean("blend_weight")], size="half"),
            line_plot_panel("Prompt length (tokens)", [_mean("prompt_tokens_mean"), _mean("prompt_tokens_max")]),
        ]  # fmt: skip
    raise KeyError(f"unknown report kind {kind!r}")


def open_workspace(path: Path) -> Workspace:
    path.mkdir(parents=True, exist_ok=True)
    return Workspace.create(str(path))


def project_for(workspace: Workspace, kind: str) -> Project:
    """The kind's project with its current dashboard (re-laid on every use, so a workspace made by an
    older version of the panels gets the fixed ones)."""
    name = PROJECT_NAMES[kind]
    found = workspace.search_project(name)
    project = found[0] if found else workspace.create_project(name, description=DESCRIPTIONS[kind])
    project.description = DESCRIPTIONS[kind]
    project.dashboard.clear_dashboard()
    for panel in panels(kind):
        project.dashboard.add_panel(panel, tab="Overview")
    project.save()
    return project


def ranking_snapshot(artifact: ReportArtifact) -> Snapshot:
    """A one-row snapshot of the run's ranking figures at k (MeanValue of each), for the trend panel."""
    k = artifact.key_figures.get("k")
    values = {name: artifact.metrics.get(f"{name}_at_{k}") for name in RANKING_FIGURES}
    row = pd.DataFrame({name: [float("nan") if v is None else v] for name, v in values.items()})
    definition = DataDefinition(numerical_columns=list(RANKING_FIGURES))
    return Report([MeanValue(column=name) for name in RANKING_FIGURES]).run(
        Dataset.from_pandas(row, data_definition=definition),
        None,
        tags=[RANKING_TAG],
        metadata={**snapshot_metadata(artifact.report_id), "k": str(k)},
        name=f"ranking at k={k}: {artifact.run_id}",
    )


def add_snapshot(
    workspace: Workspace, artifact: ReportArtifact, replaces: str | None, indexed: frozenset[str] = frozenset()
) -> None:
    """Add the artifact's snapshot to its kind's project; drop every snapshot of the same report an
    earlier monitor added, so a re-run does not show the run twice on the dashboard: the one the
    index names (`replaces`), the quality report's ranking snapshot, and those of a monitor killed
    before it indexed its reports (their ids are in no monitoring.reports row).

    `indexed`: the snapshot ids monitoring.reports names; those belong to other indexed reports, so
    only the rest are read to check which report they are (snapshots are large, runs many)."""
    if artifact.snapshot is None:
        raise ValueError(f"report {artifact.report_id} has no Evidently snapshot")
    project = project_for(workspace, artifact.kind)
    existing = {str(s) for s in workspace.list_runs(project.id)}
    if replaces and replaces in existing:
        workspace.delete_run(project.id, replaces)
    ref = workspace.add_run(project.id, artifact.snapshot)
    artifact.snapshot_id = str(ref.id)
    artifact.evidently_project = project.name
    for snapshot_id in existing - indexed - {replaces}:
        earlier = workspace.get_run(project.id, snapshot_id)
        if earlier is not None and earlier.metadata.get(REPORT_ID_KEY) == artifact.report_id:
            workspace.delete_run(project.id, snapshot_id)
    if artifact.kind == "recsys_quality":
        workspace.add_run(project.id, ranking_snapshot(artifact))
