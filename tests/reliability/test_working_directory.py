"""Registry artifact paths are relative to settings.artifacts_dir, so the pipeline runs from any
working directory when the settings give absolute locations."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from chatrec.settings import Settings
from tests.cli.test_cli import chatrec
from tests.reliability.conftest import Served


@pytest.mark.slow
def test_run_recommend_from_another_working_directory(
    ml100k_warehouse: duckdb.DuckDBPyConnection, settings: Settings, served: Served, tmp_path: Path
) -> None:
    ml100k_warehouse.close()
    elsewhere = tmp_path / "somewhere" / "else"
    elsewhere.mkdir(parents=True)
    env = {
        "CHATREC_WAREHOUSE_PATH": str(settings.warehouse_path.resolve()),
        "CHATREC_ARTIFACTS_DIR": str(settings.artifacts_dir.resolve()),
        "CHATREC_CANDIDATE_MODEL": "popularity",
    }
    result = chatrec("run", "recommend", cwd=elsewhere, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    runs = con.execute("SELECT model_id, status FROM recs.runs ORDER BY started_at").fetchall()
    con.close()
    assert runs == [(served.current.model_id, "complete")] * 2
    assert not (elsewhere / "var").exists()  # nothing landed in the working directory
