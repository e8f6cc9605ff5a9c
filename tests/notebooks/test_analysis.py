"""What the notebooks draw and compare with, checked without marimo: the monitoring trends from
monitoring.* and the tables of docs/benchmarks.md."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from chatrec.analysis import monitoring
from chatrec.analysis.benchmarks import benchmark_table


def add_run(con: duckdb.DuckDBPyConnection, day: int, figures: dict[tuple[str, str, str], float]) -> None:
    run_id = f"run-{day}"
    con.execute(
        "INSERT INTO recs.runs (run_id, started_at, finished_at, status) VALUES (?, ?, ?, 'complete')",
        [run_id, datetime(2026, 1, day), datetime(2026, 1, day, 1)],
    )
    for (scope, subject, metric), value in figures.items():
        con.execute(
            "INSERT INTO monitoring.metrics VALUES (?, ?, ?, ?, ?, current_timestamp)",
            [run_id, scope, subject, metric, value],
        )
    for dataset in ("interactions", "users"):
        passed = not (dataset == "users" and day == 2)
        con.execute(
            "INSERT INTO monitoring.reports (report_id, run_id, kind, dataset, html_path, json_path, passed, reason)"
            " VALUES (?, ?, 'data_drift', ?, 'x.html', 'x.json', ?, ?)",
            [f"{run_id}:data_drift:{dataset}", run_id, dataset, passed, "users drifted" if not passed else "ok"],
        )


def test_one_line_per_data_set_with_failed_reports_marked(warehouse: duckdb.DuckDBPyConnection) -> None:
    for day, share in ((1, 0.2), (2, 0.8)):
        add_run(warehouse, day, {
            ("drift", "interactions", "drift_share"): 0.1, ("drift", "users", "drift_share"): share,
            ("recs", "recsys_quality", "ndcg_at_10"): 0.3, ("llm", "llm_health", "llm_used"): 0.0,
        })  # fmt: skip
    trend = monitoring.trends(warehouse)
    figure = monitoring.drift_chart(trend)
    series = {trace.name: list(trace.y) for trace in figure.data}
    assert series == {"interactions": [0.1, 0.1], "users": [0.2, 0.8], "alert (report failed)": [0.8]}
    assert monitoring.llm_charts(trend) == []  # no run used the LLM: no chart, and a note says why
    notes = monitoring.missing_notes(trend)
    assert any("No drift figures for items" in n for n in notes) and any("No run used the LLM" in n for n in notes)


def test_drift_above_threshold_without_drift_alarm_is_information_not_an_alert(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    """What the monitor writes with drift_alarm off: passed, the share above the threshold (information)."""
    add_run(warehouse, 1, {("drift", "interactions", "drift_share"): 0.1, ("drift", "users", "drift_share"): 0.2})
    add_run(warehouse, 3, {("drift", "interactions", "drift_share"): 0.1, ("drift", "users", "drift_share"): 0.6})
    warehouse.execute(
        "UPDATE monitoring.reports SET passed = true, reason = 'users: 3/5 columns drifted (60%) > threshold 50%"
        ' (information)\', key_figures = \'{"drift_share": 0.6, "threshold": 0.5}\''
        " WHERE run_id = 'run-3' AND dataset = 'users'"
    )
    series = {trace.name: list(trace.y) for trace in monitoring.drift_chart(monitoring.trends(warehouse)).data}
    assert series == {"interactions": [0.1, 0.1], "users": [0.2, 0.6], "information (not an alarm)": [0.6]}
    verdicts = warehouse.execute(
        "SELECT run_id, dataset, verdict FROM marts.report_history ORDER BY run_id, dataset"
    ).fetchall()
    assert verdicts == [
        ("run-1", "interactions", "passed"), ("run-1", "users", "passed"),
        ("run-3", "interactions", "passed"), ("run-3", "users", "information"),
    ]  # fmt: skip
    # an alarm stays a failure
    warehouse.execute("UPDATE monitoring.reports SET passed = false WHERE run_id = 'run-3' AND dataset = 'users'")
    series = {trace.name: list(trace.y) for trace in monitoring.drift_chart(monitoring.trends(warehouse)).data}
    assert series["alert (report failed)"] == [0.6] and "information (not an alarm)" not in series


def test_llm_figures_on_different_scales_get_their_own_charts(warehouse: duckdb.DuckDBPyConnection) -> None:
    add_run(warehouse, 1, {
        ("llm", "llm_health", "llm_used"): 1.0, ("llm", "llm_health", "blend_weight"): 0.1,
        ("llm", "llm_health", "prompt_tokens_mean"): 995.0, ("llm", "llm_health", "valid_output_rate"): 1.0,
    })  # fmt: skip
    charts = monitoring.llm_charts(monitoring.trends(warehouse))
    names = [{trace.name for trace in chart.data} for chart in charts]
    assert names == [{"valid_output_rate"}, {"blend_weight"}, {"prompt_tokens_mean"}]


def test_an_empty_warehouse_is_said_not_drawn(warehouse: duckdb.DuckDBPyConnection) -> None:
    assert monitoring.missing_notes(monitoring.trends(warehouse)) == [
        "No monitoring figures yet: run `chatrec run monitor` after a recommendation run."
    ]


def test_benchmark_tables_split_measured_rows_from_published_anchors() -> None:
    msr = benchmark_table("msr")
    anchors = msr.filter(msr["source"] == "published")
    assert "BiVAE (MS Recommenders)" in anchors["model"].to_list()
    assert anchors.filter(anchors["model"] == "BiVAE (MS Recommenders)")["ndcg_at_10"].to_list() == [0.475]
    assert msr.filter(msr["source"] == "measured")["ndcg_at_10"].dtype.is_float()


def test_a_benchmark_doc_without_the_section_names_it(tmp_path: Path) -> None:
    (tmp_path / "benchmarks.md").write_text("# Benchmarks\n")
    with pytest.raises(ValueError, match="2a"):
        benchmark_table("msr", tmp_path / "benchmarks.md")
