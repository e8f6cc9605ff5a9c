"""The report index and the reports open in a real headless Chromium, offline, with nothing missing.

Needs the Debian `chromium` package (`.ci/run` installs it); skipped with the reason when it is absent.
Writes a screenshot of the index page; with UPDATE_DOCS_SCREENSHOT=1 it goes to the committed
docs/dashboard-index.png (so a CI run leaves the clone clean), otherwise to the test's temp folder.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

from chatrec.batch.recommend import recommend_batch
from chatrec.monitoring import monitor
from chatrec.retrain import retrain
from chatrec.settings import Settings
from dashboards.build import build_index
from tests.conftest import TEST_CACHE
from tests.processes import stop_server

CHROMIUM = Path("/usr/bin/chromium")
DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "dashboard-index.png"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.is_file(), reason="needs /usr/bin/chromium (apt-get install chromium)"),
]


@pytest.fixture
def reports(ml100k_warehouse: duckdb.DuckDBPyConnection, settings: Settings) -> Settings:
    """Two monitored runs (so the index has trends), and the index page. The LLM layer is on for 2
    users per run (the real SmolLM2), so the LLM-health panels have figures to draw."""
    settings = settings.model_copy(update={
        "candidate_model": "popularity", "torch_threads": 1, "llm_backend": "transformers", "cache_dir": TEST_CACHE,
        "llm_users_per_run": 2, "llm_blend_users": 5, "llm_batch_size": 5,
    })  # fmt: skip
    retrain(ml100k_warehouse, settings, ["popularity"])
    for _ in range(2):
        recommend_batch(ml100k_warehouse, settings)
        monitor(ml100k_warehouse, settings)
    build_index(ml100k_warehouse, settings)
    return settings


@pytest.fixture
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield instance
        instance.close()


def open_page(browser: Any, url: str) -> tuple[Any, list[str]]:
    """Open `url`; returns the page and every failed request, console error and page error seen."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    problems: list[str] = []
    page.on("requestfailed", lambda request: problems.append(f"request failed: {request.url}"))
    page.on(
        "response",
        lambda response: problems.append(f"HTTP {response.status}: {response.url}") if response.status >= 400 else None,
    )
    page.on("console", lambda message: problems.append(f"console: {message.text}") if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.goto(url)
    page.wait_for_load_state("networkidle")
    return page, problems


def test_index_and_reports_render_offline(reports: Settings, browser: Any) -> None:
    index = reports.reports_dir / "index.html"
    page, problems = open_page(browser, index.resolve().as_uri())
    assert page.title() == "chatrec monitoring"
    assert page.locator("#verdict").is_visible()
    assert page.locator("tr.report").count() == 10  # 5 reports x 2 runs
    plots = page.locator("svg.trend")
    assert plots.count() == 6 and plots.first.bounding_box()["height"] > 100
    assert page.locator("svg.trend polyline").count() > 0  # trends over the two runs are drawn, not just numbers
    hrefs = page.eval_on_selector_all("a", "links => links.map(a => a.getAttribute('href'))")
    assert len(hrefs) == 20 and all((index.parent / href).is_file() for href in hrefs)
    assert page.locator(".missing").count() == 0
    screenshot = DOCS_SCREENSHOT if os.environ.get("UPDATE_DOCS_SCREENSHOT") == "1" else index.parent / "index.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 10_000
    assert problems == []

    latest = sorted(p for p in reports.reports_dir.iterdir() if p.is_dir())[-1]
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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_dashboards_serve_shows_the_workspace_projects(reports: Settings, browser: Any) -> None:
    port = _free_port()
    env = {**os.environ, "CHATREC_EVIDENTLY_WORKSPACE": str(reports.evidently_workspace)}
    server = subprocess.Popen(
        [sys.executable, "-m", "chatrec", "dashboards", "serve", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline, projects = time.monotonic() + 90, None
        while time.monotonic() < deadline and projects is None:
            try:
                projects = httpx.get(f"http://127.0.0.1:{port}/api/projects", timeout=5).json()
            except httpx.HTTPError:
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                time.sleep(1)
        assert projects is not None, "the Evidently UI did not answer within 90 s"
        names = {p["name"] for p in projects}
        assert names == {"chatrec data drift", "chatrec recommendation quality", "chatrec LLM health"}
        page, problems = open_page(browser, f"http://127.0.0.1:{port}/")
        page.get_by_text("chatrec data drift").first.wait_for(timeout=30_000)
        assert [p for p in problems if "127.0.0.1" in p] == []  # the UI's own assets all load
    finally:
        stop_server(server)  # asserts the Evidently UI went with it
