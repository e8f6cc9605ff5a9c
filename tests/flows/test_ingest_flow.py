from pathlib import Path

import duckdb
import pytest

from flows.ingest import ingest_flow
from flows.nightly import nightly_flow


@pytest.fixture
def in_workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CHATREC_WAREHOUSE_PATH", str(tmp_path / "wh.duckdb"))
    return tmp_path / "wh.duckdb"


def test_ingest_flow_loads_and_rerun_does_not_duplicate(in_workdir: Path) -> None:
    first = ingest_flow()
    assert first[0]["rows_loaded"] == 102_625
    second = ingest_flow()
    assert second[0]["already_loaded"]
    con = duckdb.connect(str(in_workdir), read_only=True)
    assert con.execute("SELECT count(*) FROM core.interactions").fetchall() == [(100_000,)]
    assert con.execute("SELECT count(*) FROM raw.loads").fetchall() == [(1,)]


def test_ingest_flow_with_bad_source_fails_clearly(in_workdir: Path) -> None:
    state = ingest_flow(
        source="csv", path="/nonexistent.csv", mapping="user=a,item=b,timestamp=c,rating=d", return_state=True
    )
    assert state.is_failed()
    with pytest.raises(Exception, match="does not exist"):
        state.result()


def test_nightly_flow_populates_the_warehouse(in_workdir: Path) -> None:
    result = nightly_flow()
    assert result["warehouse"] == str(in_workdir)
    con = duckdb.connect(str(in_workdir), read_only=True)
    assert con.execute("SELECT rows_balance FROM marts.load_history").fetchall() == [(True,)]
