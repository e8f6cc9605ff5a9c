import re
from datetime import datetime

import duckdb

from chatrec.monitoring.index import write_index
from chatrec.monitoring.llm_health import llm_health_report
from chatrec.monitoring.recsys import run_row
from chatrec.settings import Settings
from dashboards.build import build_index, svg_line_chart


def test_index_lists_every_report_with_figures_links_and_trends(
    warehouse: duckdb.DuckDBPyConnection, settings: Settings
) -> None:
    for day, rate in ((1, 0.8), (2, 0.9)):
        run_id = f"run-{day}"
        warehouse.execute(
            "INSERT INTO recs.runs (run_id, started_at, finished_at, status, model_id, llm_model, k, n_users)"
            " VALUES (?, ?, ?, 'complete', 'ease@1', 'SmolLM2', 5, 1)",
            [run_id, datetime(2026, 1, day), datetime(2026, 1, day, 1)],
        )
        warehouse.execute(
            "INSERT INTO monitoring.metrics (run_id, scope, subject, metric, value)"
            " VALUES (?, 'llm', ?, 'valid_output_rate', ?)",
            [run_id, run_id, rate],
        )
        report = llm_health_report(warehouse, settings, run_row(warehouse, "latest_run", run_id))
        report.snapshot_id = f"snapshot-{day}"
        write_index(warehouse, run_id, [report], {"passed": 1.0})
    page = build_index(warehouse, settings).read_text()
    assert page.count('<tr class="report">') == 2
    assert "valid_output_rate=0.9" in page and "valid_output_rate=0.8" in page
    links = re.findall(r'href="([^"]+)"', page)
    assert sorted(links) == sorted(f"run-{d}/llm_health.{ext}" for d in (1, 2) for ext in ("html", "json"))
    assert all((settings.reports_dir / link).is_file() for link in links)
    # the validity trend is drawn as a line over the two runs, with the values as tooltips
    assert "<polyline" in page and "valid_output_rate 0.8" in page and "valid_output_rate 0.9" in page
    assert "no run used the LLM yet" in page  # latency etc. were never reported: said, not drawn empty
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "").replace("http://127.0.0.1", "")


def test_chart_leaves_gaps_for_runs_without_a_value() -> None:
    svg = svg_line_chart("t", ["a", "b", "c", "d"], {"x": [1.0, 2.0, None, 3.0]})
    assert svg.count("<polyline") == 1 and svg.count("<circle") == 3  # a-b line, d alone
