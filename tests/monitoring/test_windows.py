from datetime import datetime

import duckdb
import pytest

from chatrec.data.ingest import ingest_table
from chatrec.monitoring.windows import choose_windows
from chatrec.settings import Settings


def test_a_millisecond_row_never_reaches_the_monitor(
    warehouse: duckdb.DuckDBPyConnection, settings: Settings, tmp_path
) -> None:
    path = tmp_path / "events.csv"
    path.write_text("u,i,r,t\n1,1,4,1690000000\n1,2,4,1700000000\n2,1,5,1700000000123\n")
    summary = ingest_table(warehouse, path, "user=u,item=i,rating=r,timestamp=t,rating_min=1,rating_max=5")
    assert summary.rows_quarantined == 1
    assert next(iter(summary.quarantined_by_reason)).startswith("timestamp outside plausible window [1990-01-01, ")
    windows = choose_windows(warehouse, settings)
    assert datetime(2023, 11, 14) < windows.current.end < datetime(2023, 11, 15)


def test_windows_name_unrepresentable_timestamps(warehouse: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    # a warehouse loaded before the plausible-window check: an epoch in ms stored as seconds
    warehouse.execute(
        "INSERT INTO core.interactions VALUES ('1', '1', 4, 'rating', make_timestamp(1700000000123 * 1000000), 'old')"
    )
    with pytest.raises(ValueError, match="outside Python's range"):
        choose_windows(warehouse, settings)
