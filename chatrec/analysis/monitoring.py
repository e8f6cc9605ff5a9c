"""The monitoring notebook's trends: figures per run from monitoring.* as frames, drawn with plotly
(one line per data set or metric, failed reports marked as alarms, drift reports that are information
only marked as such), and why a chart is missing when it is.

Figures on different scales (a 0-1 rate, milliseconds, token counts) get their own chart instead of
sharing one axis."""

from __future__ import annotations

from pathlib import Path

import duckdb
import plotly.graph_objects as go
import polars as pl

QUERIES = Path(__file__).parent / "queries"
DRIFT_DATASETS = ("interactions", "users", "items")
RANKING_PREFIXES = ("ndcg_at_", "precision_at_", "recall_at_", "map_at_", "mrr_at_", "hit_rate_at_")
BEYOND_ACCURACY = ("personalization", "novelty", "diversity", "serendipity")
# LLM health: (title, y axis, metrics drawn together because they share a unit)
LLM_CHARTS = (
    ("LLM output validity and explanation fallback", "share", ("valid_output_rate", "explanation_fallback_rate", "explanation_check_pass_rate")),
    ("LLM latency", "ms per user", ("latency_ms_per_user",)),
    ("Blend weight (0 = LLM ignored)", "weight", ("blend_weight",)),
    ("Prompt length", "tokens", ("prompt_tokens_mean", "prompt_tokens_max")),
)  # fmt: skip
ALERT_COLOR = "#d62728"
INFORMATION_COLOR = "#7f7f7f"


def trends(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every monitored figure per run with its report's verdict (empty frame when nothing was monitored)."""
    return con.sql((QUERIES / "monitoring_trends.sql").read_text()).pl()


def drift_frame(trend: pl.DataFrame) -> pl.DataFrame:
    """run_id, finished_at, dataset, drift_share, passed, verdict, reason: one row per run and data set."""
    return (
        trend.filter((pl.col("scope") == "drift") & (pl.col("metric") == "drift_share"))
        .select("run_id", "finished_at", pl.col("series").alias("dataset"), pl.col("value").alias("drift_share"), "passed", "verdict", "reason")
    )  # fmt: skip


def quality_frame(trend: pl.DataFrame) -> pl.DataFrame:
    """run_id, finished_at, metric, value, passed, verdict, reason for the ranking and beyond-accuracy figures."""
    wanted = pl.col("metric").str.starts_with(RANKING_PREFIXES[0])
    for prefix in RANKING_PREFIXES[1:]:
        wanted = wanted | pl.col("metric").str.starts_with(prefix)
    wanted = wanted | pl.col("metric").is_in(BEYOND_ACCURACY)
    return trend.filter((pl.col("scope") == "recs") & wanted).select(
        "run_id", "finished_at", "metric", "value", "passed", "verdict", "reason"
    )


def llm_frame(trend: pl.DataFrame) -> pl.DataFrame:
    """run_id, finished_at, metric, value for the LLM-health figures of runs that used the LLM."""
    used = trend.filter((pl.col("scope") == "llm") & (pl.col("metric") == "llm_used") & (pl.col("value") > 0))
    return trend.filter(
        (pl.col("scope") == "llm")
        & pl.col("run_id").is_in(used.get_column("run_id").implode())
        & pl.col("value").is_not_null()
    ).select("run_id", "finished_at", "metric", "value", "passed", "verdict", "reason")


def alarm_frame(trend: pl.DataFrame) -> pl.DataFrame:
    """run_id, finished_at, alarms_fired and each alarm check's figure (alarm_<check>) per run, oldest first;
    the checks and their thresholds are chatrec/monitoring/alarms.py (docs/monitoring.md)."""
    rows = trend.filter((pl.col("scope") == "flow") & (pl.col("metric").str.starts_with("alarm")))
    if rows.is_empty():
        return pl.DataFrame()
    return rows.pivot(on="metric", index=["run_id", "finished_at"], values="value").sort("finished_at")


def line_chart(frame: pl.DataFrame, series: str, value: str, title: str, y_title: str) -> go.Figure:
    """One line per value of `series` over runs (x = run finish time); failed reports (alarms) as red
    crosses, drift reports above their threshold that are information only as grey open circles."""
    figure = go.Figure()
    for name in sorted(frame.get_column(series).unique().to_list()):
        rows = frame.filter(pl.col(series) == name).sort("finished_at")
        figure.add_trace(
            go.Scatter(
                x=rows.get_column("finished_at").to_list(), y=rows.get_column(value).to_list(), name=str(name),
                mode="lines+markers", text=rows.get_column("run_id").to_list(),
                hovertemplate="%{text}<br>%{y:.4g}<extra>" + str(name) + "</extra>",
            )
        )  # fmt: skip
    marks = (
        ("failed", "alert (report failed)", "alert", {"symbol": "x", "size": 14, "color": ALERT_COLOR}),
        ("information", "information (not an alarm)", "information",
         {"symbol": "circle-open", "size": 14, "color": INFORMATION_COLOR}),
    )  # fmt: skip
    for verdict, name, label, marker in marks:
        rows = frame.filter(pl.col("verdict") == verdict) if "verdict" in frame.columns else frame.clear()
        if rows.height:
            figure.add_trace(
                go.Scatter(
                    x=rows.get_column("finished_at").to_list(), y=rows.get_column(value).to_list(), name=name,
                    mode="markers", marker=marker, text=rows.get_column("reason").to_list(),
                    hovertemplate="%{text}<extra>" + label + "</extra>",
                )
            )  # fmt: skip
    figure.update_layout(
        title=title, xaxis_title="run finished", yaxis_title=y_title, height=340,
        margin={"l": 60, "r": 20, "t": 50, "b": 40}, legend={"orientation": "h", "y": -0.25},
        showlegend=True,  # name the series even when there is one
    )  # fmt: skip
    return figure


def drift_chart(trend: pl.DataFrame) -> go.Figure:
    return line_chart(drift_frame(trend), "dataset", "drift_share", "Share of drifted columns per data set", "share")


def ranking_chart(trend: pl.DataFrame) -> go.Figure:
    frame = quality_frame(trend).filter(pl.col("metric").is_in(BEYOND_ACCURACY).not_())
    return line_chart(frame, "metric", "value", "Ranking quality at k", "value at k")


def beyond_accuracy_chart(trend: pl.DataFrame) -> go.Figure:
    frame = quality_frame(trend).filter(pl.col("metric").is_in(BEYOND_ACCURACY))
    return line_chart(frame, "metric", "value", "Beyond accuracy", "value")


def llm_charts(trend: pl.DataFrame) -> list[go.Figure]:
    frame = llm_frame(trend)
    return [
        line_chart(frame.filter(pl.col("metric").is_in(metrics)), "metric", "value", title, y_title)
        for title, y_title, metrics in LLM_CHARTS
        if frame.filter(pl.col("metric").is_in(metrics)).height
    ]


def missing_notes(trend: pl.DataFrame) -> list[str]:
    """What the monitoring page cannot show yet, and why (said instead of drawing empty charts)."""
    notes = []
    if trend.is_empty():
        return ["No monitoring figures yet: run `chatrec run monitor` after a recommendation run."]
    drift = drift_frame(trend)
    for dataset in DRIFT_DATASETS:
        if drift.filter(pl.col("dataset") == dataset).is_empty():
            notes.append(f"No drift figures for {dataset}: the data set lacks them or its windows were empty.")
    if alarm_frame(trend).is_empty():
        notes.append("No alarm checks recorded for these runs (monitors before the alarm checks existed).")
    if quality_frame(trend).is_empty():
        notes.append("No recommendation-quality figures yet.")
    if llm_frame(trend).is_empty():
        notes.append("No run used the LLM yet (settings.llm_backend = 'none' or no LLM figures): no LLM-health trend.")
    return notes
