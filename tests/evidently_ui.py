"""Starting `evidently ui` on a free loopback port for a test, and reading what its dashboards serve:
the panels of each project and, per panel, the series the UI's own API returns for them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from chatrec.cli.dashboards_cmd import evidently_command
from tests.servers import free_port, running_server


@contextmanager
def evidently_ui(workspace: Path) -> Iterator[str]:
    """`evidently ui` over `workspace`; yields its base URL once it answers, stops it afterwards."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DO_NOT_TRACK": "1"}
    log = workspace.parent / f"evidently-ui-{port}.log"
    with running_server(evidently_command(workspace, port), env, f"{base}/api/projects", log=log):
        yield base


def served_panels(base: str) -> dict[str, dict[str, dict[str, list[float | None]]]]:
    """{project: {panel title: {legend: values over snapshots}}} as the UI's API serves them."""
    out: dict[str, dict[str, dict[str, list[float | None]]]] = {}
    for project in httpx.get(f"{base}/api/projects", timeout=30).json():
        dashboard = httpx.get(f"{base}/api/v2/dashboards/{project['id']}", timeout=30).json()
        panels: dict[str, dict[str, list[float | None]]] = {}
        for panel in dashboard["panels"]:
            values: list[dict[str, Any]] = panel["values"]
            filters = [
                {"tags": v.get("tags") or [], "metadata": v.get("metadata") or {}, "metric": v["metric"],
                 "metric_labels": v.get("metric_labels") or {}}
                for v in values
            ]  # fmt: skip
            response = httpx.post(
                f"{base}/api/v2/snapshots/{project['id']}/data_series_batch",
                json={"series_filter": filters},
                timeout=30,
            )
            response.raise_for_status()
            series: dict[str, list[float | None]] = {}
            for found in response.json()["series"]:
                legend = values[found["filter_index"]].get("legend") or values[found["filter_index"]]["metric"]
                series.setdefault(legend, []).extend(found["values"])
            panels[panel["title"]] = {
                v.get("legend") or v["metric"]: series.get(v.get("legend") or v["metric"], []) for v in values
            }
        out[project["name"]] = panels
    return out
