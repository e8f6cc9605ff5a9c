"""prefect.yaml against a REAL local Prefect server and process worker (slow: ~1 min).

Checks what `pip check` cannot: a deployment run really executes on a worker and writes the
warehouse, and the cron schedules really produce scheduled runs (SQLAlchemy 2.1 breaks exactly this).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import httpx
import pytest

from tests.servers import free_port, running_server

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
PREFECT = str(Path(sys.executable).parent / "prefect")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[dict[str, str]]:
    port = free_port()
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "CHATREC_HOME": str(REPO),
        "CHATREC_WAREHOUSE_PATH": str(tmp_path / "wh.duckdb"),
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    command = [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    probe = f"http://127.0.0.1:{port}/api/health"
    # stop_server on leaving asserts the server's own children (its API workers) went with it
    with running_server(command, env, probe, log=tmp_path / "prefect-server.log", timeout_s=120):
        yield env


def prefect(env: dict[str, str], *args: str, timeout: int = 240) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([PREFECT, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"prefect {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def test_deployment_runs_on_a_worker_and_cron_schedules_produce_runs(server: dict[str, str]) -> None:
    prefect(server, "work-pool", "create", "local-process", "--type", "process", "--overwrite")
    prefect(server, "--no-prompt", "deploy", "--all")
    prefect(server, "deployment", "run", "ingest/ingest")
    prefect(server, "worker", "start", "--pool", "local-process", "--run-once")

    api = server["PREFECT_API_URL"]
    runs = httpx.post(f"{api}/flow_runs/filter", json={"limit": 100}, timeout=10).json()
    completed = [r for r in runs if r["state_type"] == "COMPLETED"]
    assert len(completed) == 1
    con = duckdb.connect(server["CHATREC_WAREHOUSE_PATH"], read_only=True)
    assert con.execute("SELECT count(*) FROM core.interactions").fetchall() == [(100_000,)]
    con.close()

    deadline = time.monotonic() + 60  # the scheduler service fills in runs shortly after deploy
    scheduled: list[dict] = []
    while time.monotonic() < deadline and not scheduled:
        scheduled = httpx.post(
            f"{api}/flow_runs/filter",
            json={"flow_runs": {"state": {"type": {"any_": ["SCHEDULED"]}}}, "limit": 100},
            timeout=10,
        ).json()
        time.sleep(2)
    deployments = {d["id"]: d["name"] for d in httpx.post(f"{api}/deployments/filter", json={}, timeout=10).json()}
    assert {deployments[r["deployment_id"]] for r in scheduled} == {"nightly", "recommend", "monitor"}
