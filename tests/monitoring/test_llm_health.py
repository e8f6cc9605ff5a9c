from datetime import datetime

import duckdb
import pytest

from chatrec.monitoring.llm_health import llm_health_report
from chatrec.monitoring.recsys import run_row
from chatrec.settings import Settings


def _run(con: duckdb.DuckDBPyConnection, run_id: str, day: int, llm_model: str | None, sources: list[str]) -> None:
    con.execute(
        "INSERT INTO recs.runs (run_id, started_at, finished_at, status, model_id, llm_model, k, n_users)"
        " VALUES (?, ?, ?, 'complete', 'ease@1', ?, 5, 1)",
        [run_id, datetime(2026, 1, day), datetime(2026, 1, day, 1), llm_model],
    )
    for i, source in enumerate(sources):
        con.execute(
            "INSERT INTO recs.explanations (run_id, user_id, item_id, text, source, check_passed) VALUES (?, '1', ?, 't', ?, ?)",
            [run_id, str(i), source, source == "llm"],
        )


def test_run_without_llm_gets_a_report_that_says_so(warehouse: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    _run(warehouse, "run-a", 1, None, ["template", "template"])
    report = llm_health_report(warehouse, settings, run_row(warehouse, "latest_run", None))
    assert report.passed and "LLM not used" in report.reason
    assert report.key_figures["llm_used"] is False
    assert report.key_figures["valid_output_rate"] is None
    assert report.key_figures["explanation_fallback_rate"] is None  # templates by design, not a fallback
    assert "LLM not used" in report.html_path.read_text()
    assert report.json_path.is_file()


def test_llm_figures_per_run_with_history(warehouse: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    _run(warehouse, "run-a", 1, None, ["template"])
    # 4 explanations the LLM phrased (one fell back) and 3 for users the run did not send to the LLM
    _run(warehouse, "run-b", 2, "SmolLM2-135M-Instruct", ["llm", "llm", "llm", "template", *["template_only"] * 3])
    figures = {"valid_output_rate": 0.9, "latency_ms_per_user": 850.0, "blend_weight": 0.25, "prompt_tokens_mean": 410.0,
               "prompt_tokens_max": 512.0, "invalid_items": 3.0, "duplicate_items": 1.0,
               "blend_gain_ci_low": 0.004, "blend_gain_ci_high": 0.031}  # fmt: skip
    warehouse.executemany(
        "INSERT INTO monitoring.metrics (run_id, scope, subject, metric, value) VALUES ('run-b', 'llm', 'run-b', ?, ?)",
        list(figures.items()),
    )
    report = llm_health_report(warehouse, settings, run_row(warehouse, "latest_run", None))
    key = report.key_figures
    assert key["llm_used"] is True and key["llm_model"] == "SmolLM2-135M-Instruct"
    for name, value in figures.items():
        assert key[name] == pytest.approx(value)
    assert key["explanation_fallback_rate"] == pytest.approx(0.25)  # 1 of 4 explanations fell back to a template
    assert key["explanation_check_pass_rate"] == pytest.approx(0.75)
    assert key["runs"] == ["run-a", "run-b"]
    assert key["trend"]["valid_output_rate"] == [None, pytest.approx(0.9)]
    assert "valid output 90.0%" in report.reason
    assert "blend weight 0.25 (NDCG gain CI +0.0040..+0.0310)" in report.reason


def test_run_that_skipped_candidate_scores_says_why(warehouse: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    # blend weight 0: the LLM explained but did not score candidates, so there is no valid-output rate
    _run(warehouse, "run-a", 1, "SmolLM2-135M-Instruct", ["llm", "llm"])
    warehouse.executemany(
        "INSERT INTO monitoring.metrics (run_id, scope, subject, metric, value) VALUES ('run-a', 'llm', 'run-a', ?, ?)",
        [("blend_weight", 0.0), ("latency_ms_per_user", 900.0)],
    )
    report = llm_health_report(warehouse, settings, run_row(warehouse, "latest_run", None))
    assert report.key_figures["valid_output_rate"] is None
    assert "candidate scores not computed (blend weight 0" in report.reason
    assert "valid output n/a" not in report.reason
