"""`chatrec notebook` and `chatrec warehouse docs` as a user runs them (real subprocesses)."""

from __future__ import annotations

from pathlib import Path

from chatrec.analysis.notebooks import NOTEBOOKS, notebook_path, open_command
from chatrec.warehouse.docs import docs_path
from tests.cli.test_cli import chatrec


def test_an_unknown_notebook_exits_2_naming_the_known_ones(tmp_path: Path) -> None:
    result = chatrec("notebook", "nope", cwd=tmp_path)
    assert result.returncode == 2
    assert "unknown notebook 'nope'" in result.stderr and all(name in result.stderr for name in NOTEBOOKS)


def test_notebooks_open_on_loopback_only() -> None:
    from chatrec.cli.notebook_cmd import NOTEBOOK_NAMES

    assert ", ".join(NOTEBOOKS) == NOTEBOOK_NAMES  # the --help text lists them without importing marimo
    for name in NOTEBOOKS:
        assert notebook_path(name).is_file()
        command = open_command(name, edit=name != "monitoring", port=2799)
        assert command[1] == ("run" if name == "monitoring" else "edit")
        assert command[command.index("--host") + 1] == "127.0.0.1"


def test_warehouse_docs_command_writes_the_committed_reference(tmp_path: Path) -> None:
    result = chatrec("warehouse", "docs", "--output", str(tmp_path / "warehouse.md"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "warehouse.md").read_text() == docs_path().read_text()


def test_dashboards_index_serves_the_reports_folder_on_loopback(tmp_path: Path) -> None:
    import os
    import sys

    import httpx

    from tests.servers import free_port, running_server

    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "index.html").write_text("<title>chatrec monitoring</title>")
    port = free_port()
    env = {**os.environ, "CHATREC_REPORTS_DIR": str(tmp_path / "reports")}
    url = f"http://127.0.0.1:{port}/index.html"
    with running_server([sys.executable, "-m", "chatrec", "dashboards", "index", "--port", str(port)], env, url):
        assert "chatrec monitoring" in httpx.get(url, timeout=10).text
    missing = chatrec("dashboards", "index", cwd=tmp_path, env={"CHATREC_REPORTS_DIR": str(tmp_path / "none")})
    assert missing.returncode == 1 and "run `chatrec dashboards build`" in missing.stderr
