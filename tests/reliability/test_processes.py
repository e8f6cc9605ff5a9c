"""Commands stop every process they started when they are stopped (SIGTERM, Ctrl-C), and a server
killed in the middle of a request is reported by name while the warehouse keeps its last good run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import duckdb
import httpx
import psutil
import pytest

from chatrec.batch.recommend import recommend_batch
from chatrec.llm.backends.base import LLMError
from chatrec.settings import Settings
from tests.conftest import TEST_CACHE
from tests.processes import REPO, stop_server
from tests.reliability.conftest import Served, table_counts
from tests.servers import free_port, start_server

# a command-line process that started a child, like `chatrec run` starting Prefect's temporary API
# server and Dask workers: it must take the child with it when it is terminated
PARENT = textwrap.dedent(
    """
    import subprocess, time
    from chatrec.processes import stop_children_on_exit

    stop_children_on_exit()
    child = subprocess.Popen(["sleep", "300"])
    print(child.pid, flush=True)
    time.sleep(300)
    """
)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_terminated_command_stops_its_children(signum: signal.Signals) -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True, cwd=REPO,
                              env={**os.environ, "PYTHONPATH": str(REPO)})  # fmt: skip
    assert parent.stdout is not None
    child = psutil.Process(int(parent.stdout.readline()))
    parent.send_signal(signum)
    assert parent.wait(timeout=30) == 128 + signum
    _, alive = psutil.wait_procs([child], timeout=10)
    assert alive == []


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_dashboards_serve_stops_with_its_command(tmp_path: Path, signum: signal.Signals) -> None:
    workspace = tmp_path / "evidently"
    workspace.mkdir()
    port = free_port()
    env = {**os.environ, "CHATREC_EVIDENTLY_WORKSPACE": str(workspace)}
    server = start_server([sys.executable, "-m", "chatrec", "dashboards", "serve", "--port", str(port)], env,
                          f"http://127.0.0.1:{port}/api/projects", log=tmp_path / "dashboards-serve.log")  # fmt: skip
    tree = [psutil.Process(server.pid), *psutil.Process(server.pid).children(recursive=True)]
    server.send_signal(signum)
    server.wait(timeout=30)
    _, alive = psutil.wait_procs(tree, timeout=30)
    assert alive == [], f"still running after {signum.name}: {[p.cmdline() for p in alive]}"
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/api/projects", timeout=2)


@pytest.mark.slow
def test_an_llm_server_killed_mid_request_fails_the_run_by_name_and_keeps_the_last_good_run(
    ml100k_warehouse: duckdb.DuckDBPyConnection, settings: Settings, served: Served, smollm2
) -> None:
    from chatrec.llm.backends.openai_backend import OpenAIBackend

    port = free_port()
    env = {**os.environ, "CHATREC_CACHE_DIR": str(TEST_CACHE), "CHATREC_TORCH_THREADS": "1"}
    url = f"http://127.0.0.1:{port}/v1"
    server = start_server([sys.executable, "-m", "chatrec", "llm", "serve", "--port", str(port)], env,
                          f"{url}/models", log=settings.cache_dir / "llm-server.log", timeout_s=120)  # fmt: skip
    try:
        backend = OpenAIBackend(url, "SmolLM2-135M-Instruct", timeout_s=120, max_retries=1, concurrency=1)
        real_post = backend._post

        killer = threading.Timer(1.0, server.kill)  # SIGKILL, as the OOM killer does

        def post_then_kill_the_server(path, payload):
            # the fault: the server dies while it decodes the first request of the run
            if not killer.is_alive() and not killer.finished.is_set():
                killer.start()
            return real_post(path, payload)

        backend._post = post_then_kill_the_server
        settings.llm_backend, settings.llm_rerank_mode, settings.llm_users_per_run = "openai", "off", 2
        settings.llm_base_url = url
        before = table_counts(ml100k_warehouse)
        with pytest.raises(LLMError, match=rf"{url}/chat/completions failed after 2 attempts"):
            recommend_batch(ml100k_warehouse, settings, user_ids=["1", "2"], backend=backend)
        status, error = ml100k_warehouse.execute(
            "SELECT status, error FROM recs.runs WHERE run_id <> ? ORDER BY started_at DESC LIMIT 1", [served.run_id]
        ).fetchall()[0]
        assert status == "failed" and url in error
        after = table_counts(ml100k_warehouse)
        assert after["recs.recommendations"] == before["recs.recommendations"]  # nothing partial
        latest = ml100k_warehouse.execute("SELECT DISTINCT run_id FROM marts.latest_recommendations").fetchall()
        assert latest == [(served.run_id,)]
    finally:
        if server.poll() is None:
            stop_server(server)
        server.wait(timeout=30)
