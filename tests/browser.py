"""Driving the system Chromium (Debian `chromium` package) with playwright, offline: the page and every
failed request, HTTP error, console error and page error seen while it loads; and a loopback HTTP
server for a folder of static pages."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from chatrec.cli.dashboards_cmd import folder_server

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
DOCS = Path(__file__).resolve().parents[1] / "docs"
# marimo's plotly renderer always asks jsdelivr for MathJax (LaTeX in chart labels); offline that one
# request fails and the charts render without it
MATHJAX = "cdn.jsdelivr.net/npm/mathjax-full"


def open_page(browser: Any, url: str, *, idle: bool = True) -> tuple[Any, list[str]]:
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
    if idle:
        page.wait_for_load_state("networkidle")
    return page, problems


def offline_problems(problems: list[str]) -> list[str]:
    """The problems other than the MathJax request (and its console echo) an offline machine must fail."""
    return [p for p in problems if MATHJAX not in p and "ERR_NAME_NOT_RESOLVED" not in p and "ERR_INTERNET" not in p]


@contextmanager
def serving(folder: Path) -> Iterator[str]:
    """Serve `folder` on a free loopback port in a thread; yields the base URL, stops afterwards."""
    server = folder_server(folder, 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def tall_screenshot(page: Any, path: Path, height: int = 3000) -> Path:
    """A screenshot of the whole app: marimo scrolls inside its own container, so `full_page` would stop
    at the viewport; a tall viewport shows the charts below the fold."""
    page.set_viewport_size({"width": 1400, "height": height})
    page.wait_for_timeout(1500)  # charts re-layout to the new size
    page.screenshot(path=str(path))
    return path
