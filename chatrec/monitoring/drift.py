"""Data drift: the current window of interactions, active users and interacted items against the reference.

One Evidently report per data set (DataDriftPreset + DataSummaryPreset): column-level drift with the
test Evidently chose for the column type and sample size (a p-value for chi-square / K-S / Z tests,
a distance for Jensen-Shannon / Wasserstein on large samples), the share of drifted columns and a
summary of both windows. A data set whose drift share exceeds `drift_share_threshold` is reported as
drifted; it fails the monitor only with `drift_alarm` on (alarms are in chatrec/monitoring/alarms.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

import duckdb
import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.core.report import Snapshot
from evidently.presets import DataDriftPreset, DataSummaryPreset

from chatrec.monitoring.reports import ReportArtifact, finite, frame, report_id, save_snapshot, snapshot_metadata
from chatrec.monitoring.windows import Windows
from chatrec.settings import Settings

UNKNOWN = "unknown"  # what the drift queries put where an attribute is missing


@dataclass(frozen=True)
class DriftDataset:
    name: str
    query: str
    numerical: tuple[str, ...]
    categorical: tuple[str, ...]
    unit: str


DATASETS = (
    DriftDataset(
        "interactions",
        "drift_interactions",
        ("rating", "item_release_year", "item_reference_popularity"),
        ("event", "item_genre"),
        "interactions",
    ),
    DriftDataset(
        "users", "drift_users", ("n_interactions", "mean_rating", "age"), ("gender", "occupation"), "active users"
    ),
    DriftDataset(
        "items",
        "drift_items",
        ("n_interactions", "mean_rating", "release_year", "reference_popularity"),
        ("genre",),
        "interacted items",
    ),
)


def has_values(column: pd.Series) -> bool:
    """Whether a column carries information: some value that is neither null nor the queries' 'unknown'
    placeholder (a data set without user attributes or genres yields only nulls / 'unknown')."""
    present = column.dropna()
    return bool(len(present)) and not (present.astype(str) == UNKNOWN).all()


def comparable_columns(
    dataset: DriftDataset, reference: pd.DataFrame, current: pd.DataFrame
) -> tuple[DriftDataset, list[str]]:
    """`dataset` narrowed to the columns with values on both sides, and the names left out.

    Why: Evidently refuses an empty column ('An empty column ... was provided for drift calculation'),
    and most real data sets lack some of what MovieLens 100K has (user age, ratings, genres)."""

    def keep(names: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(c for c in names if has_values(reference[c]) and has_values(current[c]))

    numerical, categorical = keep(dataset.numerical), keep(dataset.categorical)
    missing = [c for c in (*dataset.numerical, *dataset.categorical) if c not in (*numerical, *categorical)]
    return replace(dataset, numerical=numerical, categorical=categorical), missing


def drift_columns(snapshot: Snapshot) -> list[dict[str, object]]:
    """Per-column test, score, p-value (when the test gives one) and verdict from a drift snapshot."""
    result = json.loads(snapshot.json())
    verdicts = {
        test["metric_config"]["params"]["column"]: test["status"] == "FAIL"
        for test in result["tests"]
        if test["metric_config"]["params"].get("type") == "evidently:metric_v2:ValueDrift"
    }
    columns = []
    for metric in result["metrics"]:
        config = metric["config"]
        if config.get("type") != "evidently:metric_v2:ValueDrift":
            continue
        method = str(config.get("method"))
        score = finite(metric["value"])
        columns.append(
            {
                "column_name": config["column"],
                "stattest": method,
                # Evidently names its tests "<name> p_value" or "<name> distance": only the former is a p-value
                "p_value": score if "p_value" in method else None,
                "drift_score": score,
                "threshold": config.get("threshold"),
                "drifted": verdicts[config["column"]],
            }
        )
    return columns


def run_drift_report(
    reference: pd.DataFrame, current: pd.DataFrame, dataset: DriftDataset, drift_share: float, report_key: str = ""
) -> tuple[Snapshot, list[dict[str, object]]]:
    """Run the Evidently drift + summary report on two frames; returns the snapshot and per-column results."""
    definition = DataDefinition(
        numerical_columns=list(dataset.numerical), categorical_columns=list(dataset.categorical)
    )
    report = Report([DataDriftPreset(drift_share=drift_share), DataSummaryPreset()], include_tests=True)
    snapshot = report.run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
        tags=[dataset.name],
        metadata=snapshot_metadata(report_key),
        name=f"data drift: {dataset.name}",
    )
    return snapshot, drift_columns(snapshot)


def drift_reports(
    con: duckdb.DuckDBPyConnection, settings: Settings, run_id: str, windows: Windows
) -> tuple[list[ReportArtifact], list[str]]:
    """One drift report per data set; returns the reports and notes on data sets that could not be compared."""
    artifacts: list[ReportArtifact] = []
    notes: list[str] = []
    threshold = settings.drift_share_threshold
    for dataset in DATASETS:
        reference = frame(con, dataset.query, windows.params("reference")).to_pandas()
        current = frame(con, dataset.query, windows.params("current")).to_pandas()
        if reference.empty or current.empty:
            empty = "reference" if reference.empty else "current"
            notes.append(f"data drift {dataset.name}: no {dataset.unit} in the {empty} window, not compared")
            continue
        dataset, missing = comparable_columns(dataset, reference, current)
        if missing:
            notes.append(
                f"data drift {dataset.name}: {', '.join(missing)} not compared (no values in the reference "
                "or current window: the data set does not have them)"
            )
        if not dataset.numerical and not dataset.categorical:
            notes.append(f"data drift {dataset.name}: no column with values on both sides, not compared")
            continue
        snapshot, columns = run_drift_report(
            reference, current, dataset, threshold, report_id(run_id, "data_drift", dataset.name)
        )
        drifted = [c["column_name"] for c in columns if c["drifted"]]
        share = len(drifted) / len(columns) if columns else 0.0
        within = share <= threshold
        # information unless `drift_alarm`: the active cohort of a window moves on unchanged data
        passed = within or not settings.drift_alarm
        reason = (
            f"{dataset.name}: {len(drifted)}/{len(columns)} columns drifted ({share:.0%})"
            + (f": {', '.join(map(str, drifted))}" if drifted else "")
            + (f" > threshold {threshold:.0%}" if not within else f", within threshold {threshold:.0%}")
            + ("" if settings.drift_alarm else " (information)")
        )
        figures = {
            "dataset": dataset.name,
            "drift_share": share,
            "drifted_columns": len(drifted),
            "columns_tested": len(columns),
            "reference_rows": len(reference),
            "current_rows": len(current),
            "reference_window": windows.reference.describe(),
            "current_window": windows.current.describe(),
            "reference": windows.how,
            "threshold": threshold,
        }
        html_path, json_path = save_snapshot(
            snapshot,
            settings.reports_dir,
            run_id,
            f"data_drift_{dataset.name}",
            [
                f"chatrec data drift: {dataset.name} ({dataset.unit}) for recommendation run {run_id}",
                f"current window {windows.current.describe()} ({len(current)} rows) vs reference "
                f"{windows.reference.describe()} ({len(reference)} rows): {windows.how}",
                ("FAILED: " if not passed else "PASSED: " if within else "INFORMATION: ") + reason,
            ],
        )
        artifacts.append(
            ReportArtifact(
                report_id=report_id(run_id, "data_drift", dataset.name),
                run_id=run_id,
                kind="data_drift",
                dataset=dataset.name,
                html_path=html_path,
                json_path=json_path,
                key_figures=figures,
                passed=passed,
                reason=reason,
                snapshot=snapshot,
                metrics={
                    "drift_share": share,
                    "drifted_columns": float(len(drifted)),
                    "columns_tested": float(len(columns)),
                    "current_rows": float(len(current)),
                    "reference_rows": float(len(reference)),
                },
                drift_columns=[{**c, "dataset": dataset.name} for c in columns],
            )
        )
    return artifacts, notes
