"""LLM health per recommendation run: valid-output rate, explanation fallback rate, latency, blend weight,
prompt length, as an Evidently report over a one-row frame of the run (current) against the earlier
runs (reference), so each snapshot adds one point to the workspace's trend panels.

The LLM layer writes its figures to monitoring.metrics (scope 'llm', subject = run id); the fallback
and check-pass rates are computed here from recs.explanations. A run without the LLM (backend
'none', or before the LLM layer existed) still gets a report that says so, with null figures, and
passes: not using the LLM is a configuration, not a failure.
"""

from __future__ import annotations

from typing import Any

import duckdb
import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.metrics import MaxValue, MeanValue, RowCount

from chatrec.monitoring.reports import ReportArtifact, finite, frame, report_id, save_snapshot, snapshot_metadata
from chatrec.settings import Settings

FIGURES = (
    "valid_output_rate",
    "invalid_items",
    "duplicate_items",
    "explanation_fallback_rate",
    "explanation_check_pass_rate",
    "latency_ms_per_user",
    "blend_weight",
    "blend_gain_ci_low",  # the paired-bootstrap interval of the NDCG gain the weight was judged by
    "blend_gain_ci_high",
    "prompt_tokens_mean",
    "prompt_tokens_max",
)


def llm_history(con: duckdb.DuckDBPyConnection, run_id: str) -> pd.DataFrame:
    """One row per complete run up to and including `run_id`, oldest first."""
    history = frame(con, "llm_runs", {"run_id": run_id}).to_pandas()
    for column in FIGURES:
        history[column] = history[column].astype("float64")
    return history


def llm_health_report(con: duckdb.DuckDBPyConnection, settings: Settings, run: dict[str, Any]) -> ReportArtifact:
    run_id = run["run_id"]
    history = llm_history(con, run_id)
    current = history[history["run_id"] == run_id]
    earlier = history[history["run_id"] != run_id]
    used = bool(current["llm_used"].iloc[0])
    columns = ["n_users", "n_explanations", *FIGURES]
    definition = DataDefinition(numerical_columns=columns)
    metrics = [RowCount(), *[MeanValue(column=c) for c in columns], MaxValue(column="latency_ms_per_user")]
    snapshot = Report(metrics).run(
        Dataset.from_pandas(current[columns], data_definition=definition),
        Dataset.from_pandas(earlier[columns], data_definition=definition) if len(earlier) else None,
        tags=["llm" if used else "no-llm"],
        metadata=snapshot_metadata(report_id(run_id, "llm_health")),
        name=f"llm health: {run_id}",
    )
    row = {c: finite(current[c].iloc[0]) for c in columns}
    if used:
        # at blend weight 0 the nightly skips scoring candidates (llm_rerank_at_weight_zero): no valid-
        # output rate to show, and "n/a" alone would read like a missing figure
        scored = (
            f"valid output {fmt(row['valid_output_rate'])}"
            if row["valid_output_rate"] is not None or row["blend_weight"] != 0.0
            else "candidate scores not computed (blend weight 0: the first-stage order is served)"
        )
        reason = (
            f"LLM {run.get('llm_model') or '(model not recorded)'}: {scored}, "
            f"explanation fallback {fmt(row['explanation_fallback_rate'])}, "
            f"{fmt(row['latency_ms_per_user'], '.0f')} ms/user, blend weight {fmt(row['blend_weight'], '.2f')} "
            f"(NDCG gain CI {interval(row['blend_gain_ci_low'], row['blend_gain_ci_high'])})"
        )
    else:
        reason = "LLM not used in this run (no LLM metrics, no llm_model): figures are null"
    trend = {c: [finite(v) for v in history[c]] for c in FIGURES}
    html_path, json_path = save_snapshot(
        snapshot,
        settings.reports_dir,
        run_id,
        "llm_health",
        [
            f"chatrec LLM health for run {run_id}: current = this run, reference = the {len(earlier)} earlier complete runs",
            reason,
        ],
    )
    return ReportArtifact(
        report_id=report_id(run_id, "llm_health"),
        run_id=run_id,
        kind="llm_health",
        html_path=html_path,
        json_path=json_path,
        key_figures={
            **row,
            "llm_used": used,
            "llm_model": run.get("llm_model"),
            "runs": list(history["run_id"]),
            "trend": trend,
        },
        passed=True,
        reason=reason,
        snapshot=snapshot,
        metrics={"llm_used": 1.0 if used else 0.0, **{c: row[c] for c in FIGURES}},
    )


def interval(low: float | None, high: float | None) -> str:
    if low is None or high is None:
        return "n/a: the first stage alone scored best"
    return f"{low:+.4f}..{high:+.4f}"


def fmt(value: float | None, spec: str = ".1%") -> str:
    return "n/a" if value is None else format(value, spec)
