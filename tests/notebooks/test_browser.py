"""The notebooks in a real headless Chromium: the monitoring app served by `marimo run` draws its charts
with one series per data set, and every notebook renders (screenshots; with UPDATE_DOCS_SCREENSHOT=1
they go to the committed docs/notebook-<name>.png, otherwise to the test's temp folder)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chatrec.analysis.notebooks import NOTEBOOKS, export_html, marimo_env, open_command
from chatrec.settings import Settings
from tests.browser import CHROMIUM, DOCS, offline_problems, open_page, serving, tall_screenshot
from tests.servers import free_port, running_server

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.is_file(), reason="needs /usr/bin/chromium (apt-get install chromium)"),
]
ARGS = {
    "experiments": {"run": "yes", "models": "popularity,itemknn,ease", "protocol": "temporal"},
    "recommendations": {"user": "42"},
}


def screenshot_path(name: str, tmp_path: Path) -> Path:
    return (
        DOCS / f"notebook-{name}.png" if os.environ.get("UPDATE_DOCS_SCREENSHOT") == "1" else tmp_path / f"{name}.png"
    )


@pytest.fixture
def monitoring_app(monitored_warehouse: Settings) -> Iterator[str]:
    """`marimo run notebooks/monitoring.py` on a free loopback port; stopped (with its children) afterwards."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = open_command("monitoring", edit=False, port=port, headless=True)
    with running_server(command, marimo_env(monitored_warehouse), url):
        yield url


def plot_series(page: Any) -> list[tuple[str, list[str]]]:
    """(title, legend entries) of every plotly chart drawn on the page."""
    out = []
    plots = page.locator(".js-plotly-plot")
    for i in range(plots.count()):
        plot = plots.nth(i)
        title = plot.locator(".gtitle").first.text_content() if plot.locator(".gtitle").count() else ""
        legends = [text or "" for text in plot.locator(".legendtext").all_text_contents()]
        assert plot.locator(".scatterlayer .trace").count() == len(legends), title  # a drawn line per legend entry
        out.append((title or "", legends))
    return out


def test_monitoring_app_draws_one_series_per_data_set(monitoring_app: str, browser: Any, tmp_path: Path) -> None:
    page, problems = open_page(browser, monitoring_app, idle=False)
    page.wait_for_selector(".js-plotly-plot .scatterlayer .trace", timeout=90_000)
    page.get_by_text("Ranking quality at k").first.wait_for(timeout=60_000)
    charts = dict(plot_series(page))
    assert set(charts["Share of drifted columns per data set"]) == {
        "interactions",
        "items",
        "users",
        "alert (report failed)",
    }
    assert len(charts["Ranking quality at k"]) == 6 and len(charts["Beyond accuracy"]) == 4
    assert page.get_by_text("Alert: latest run").count() >= 1
    tall_screenshot(page, screenshot_path("monitoring", tmp_path))
    assert offline_problems(problems) == []


def test_every_notebook_renders(monitored_warehouse: Settings, browser: Any, tmp_path: Path) -> None:
    site = tmp_path / "site"
    for name in NOTEBOOKS:
        export_html(name, site / f"{name}.html", monitored_warehouse, args=ARGS.get(name))
    with serving(site) as base:
        for name in NOTEBOOKS:
            if name == "monitoring":
                continue  # the live app above is its screenshot
            page, problems = open_page(browser, f"{base}/{name}.html", idle=False)
            page.wait_for_selector("h1", timeout=60_000)
            page.wait_for_selector(".js-plotly-plot", timeout=60_000)  # each draws at least one chart
            page.wait_for_timeout(1500)
            shot = screenshot_path(name, tmp_path)
            tall_screenshot(page, shot)
            assert shot.stat().st_size > 20_000, name
            assert offline_problems(problems) == [], name
