"""Starting `evidently ui` on a free loopback port for a test, and reading what its dashboards serve:
the panels of each project and, per panel, the series the UI's own API returns for them."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from chatrec.cli.dashboards_cmd import evidently_command
from tests.processes import stop_server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(command: list[str], env: dict[str, str], probe: str) -> Iterator[subprocess.Popen[str]]:
    """Start `command`, wait (90 s at most) until `probe` answers, yield the process; stop it, and every
    process it started, afterwards."""
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                httpx.get(probe, timeout=5).raise_for_status()
                break
            except httpx.HTTPError:
                if server.poll() is not None:
                    raise RuntimeError(
                        f"{command[:2]} exited: {server.stdout.read() if server.stdout else ''}"
                    ) from None
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{command[:2]} did not answer within 90 s") from None
                time.sleep(1)
        yield server
    finally:
        stop_server(server)  # asserts the server and every process it started are gone


@contextmanager
def evidently_ui(workspace: Path) -> Iterator[str]:
    """`evidently ui` over `workspace`; yields its base URL once it answers, stops it afterwards."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DO_NOT_TRACK": "1"}
    with running_server(evidently_command(workspace, port), env, f"{base}/api/projects"):
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
