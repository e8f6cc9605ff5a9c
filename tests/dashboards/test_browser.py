"""The report index, the reports and the Evidently UI in a real headless Chromium, offline.

Needs the Debian `chromium` package (`.ci/run` installs it); skipped with the reason when it is absent.
Writes screenshots of the index page and of the Evidently UI's drift dashboard; with
UPDATE_DOCS_SCREENSHOT=1 they go to the committed docs/dashboard-index.png and
docs/evidently-drift.png (so a CI run leaves the clone clean), otherwise to the test's temp folder.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import duckdb
import pytest

from chatrec.batch.recommend import recommend_batch
from chatrec.monitoring import monitor
from chatrec.monitoring.workspace import DRIFT_DATASETS, PROJECT_NAMES
from chatrec.retrain import retrain
from chatrec.settings import Settings
from dashboards.build import build_index
from tests.browser import CHROMIUM, DOCS, offline_problems, open_page, serving, tall_screenshot
from tests.conftest import TEST_CACHE
from tests.evidently_ui import evidently_ui, served_panels

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.is_file(), reason="needs /usr/bin/chromium (apt-get install chromium)"),
]


def screenshot(name: str, folder: Path) -> Path:
    return DOCS / name if os.environ.get("UPDATE_DOCS_SCREENSHOT") == "1" else folder / name


@pytest.fixture
def reports(ml100k_warehouse: duckdb.DuckDBPyConnection, settings: Settings) -> Settings:
    """Two monitored runs (so the index has trends), and the index page. The LLM layer is on for 2
    users per run (the real SmolLM2), their candidates scored even at blend weight 0, so every
    LLM-health panel (prompt length, valid output, latency) has figures to draw."""
    settings = settings.model_copy(update={
        "candidate_model": "popularity", "torch_threads": 1, "llm_backend": "transformers", "cache_dir": TEST_CACHE,
        "llm_users_per_run": 2, "llm_blend_users": 5, "llm_batch_size": 5, "llm_rerank_at_weight_zero": True,
    })  # fmt: skip
    retrain(ml100k_warehouse, settings, ["popularity"])
    for _ in range(2):
        recommend_batch(ml100k_warehouse, settings)
        monitor(ml100k_warehouse, settings)
    ml100k_warehouse.close()  # the index export reads the warehouse from another process
    build_index(settings)
    return settings


def test_index_and_reports_render_offline(reports: Settings, browser: Any) -> None:
    with serving(reports.reports_dir) as base:
        page, problems = open_page(browser, f"{base}/index.html", idle=False)
        page.wait_for_selector(".js-plotly-plot .scatterlayer .trace", timeout=90_000)
        page.get_by_text("Prompt length").first.wait_for(timeout=60_000)
        assert page.title() == "chatrec monitoring"
        titles = page.locator(".js-plotly-plot .gtitle").all_text_contents()
        assert "Share of drifted columns per data set" in titles and "LLM latency" in titles
        drift = page.locator(".js-plotly-plot").first
        assert {t for t in drift.locator(".legendtext").all_text_contents()} >= set(DRIFT_DATASETS)
        hrefs = page.eval_on_selector_all("a[href$='.html']", "links => links.map(a => a.getAttribute('href'))")
        assert len(hrefs) == 10 and all((reports.reports_dir / href).is_file() for href in hrefs)  # 5 reports x 2 runs
        shot = screenshot("dashboard-index.png", reports.reports_dir)
        tall_screenshot(page, shot)
        assert shot.stat().st_size > 10_000
        assert offline_problems(problems) == []

    latest = sorted(p for p in reports.reports_dir.iterdir() if p.is_dir() and p.name.startswith("run-"))[-1]
    expected = {
        "data_drift_interactions.html": "Dataset Drift",
        "recsys_quality.html": "Precision",
        "llm_health.html": "Mean value",
    }
    for name, text in expected.items():
        report, report_problems = open_page(browser, (latest / name).resolve().as_uri())
        assert report.locator("#chatrec-header").is_visible(), name
        report.get_by_text(text, exact=False).first.wait_for(timeout=30_000)  # Evidently's app rendered
        assert report_problems == [], name


def test_evidently_ui_serves_every_series_and_draws_them(reports: Settings, browser: Any) -> None:
    with evidently_ui(reports.evidently_workspace) as base:
        served = served_panels(base)
        assert set(served) == set(PROJECT_NAMES.values())
        for project, panels in served.items():
            for title, series in panels.items():
                for legend, values in series.items():
                    assert len(values) == 2, f"{project} / {title} / {legend}: {values}"  # one point per run
        page, problems = open_page(browser, f"{base}/")
        page.get_by_text(PROJECT_NAMES["data_drift"]).first.click()
        for dataset in DRIFT_DATASETS:
            page.get_by_text(f"{dataset}: share of drifted columns").first.wait_for(timeout=30_000)
        page.wait_for_timeout(2000)
        page.screenshot(path=str(screenshot("evidently-drift.png", reports.reports_dir)), full_page=True)
        assert [p for p in problems if "127.0.0.1" in p] == []  # the UI's own assets all load
    # evidently_ui() asserted on leaving that the UI and every process it started have stopped
