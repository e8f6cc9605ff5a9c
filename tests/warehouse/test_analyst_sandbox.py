"""The analyst path (`chatrec sql`) can only read the warehouse: no other file can be written, read,
attached or exported through SQL, and the query cannot switch that back on."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from chatrec.settings import Settings
from chatrec.warehouse import read_only_connection
from tests.cli.test_cli import chatrec


@pytest.fixture
def analyst(warehouse: duckdb.DuckDBPyConnection, settings: Settings) -> duckdb.DuckDBPyConnection:
    warehouse.close()
    con = read_only_connection(settings, sandboxed=True)
    yield con
    con.close()


@pytest.mark.parametrize(
    "statement",
    [
        "ATTACH '{dir}/other.duckdb' AS other (READ_WRITE)",
        "ATTACH '{dir}/other.duckdb' AS other",
        "COPY core.items TO '{dir}/items.csv'",
        "COPY (SELECT 1 AS a) TO '{dir}/one.parquet' (FORMAT parquet)",
        "EXPORT DATABASE '{dir}/export'",
        "SELECT * FROM read_csv('{dir}/../../../etc/passwd')",
        "INSTALL httpfs",
    ],
)
def test_file_access_is_refused(analyst: duckdb.DuckDBPyConnection, tmp_path: Path, statement: str) -> None:
    with pytest.raises(duckdb.PermissionException, match=r"disabled (by|through) configuration"):
        analyst.execute(statement.format(dir=tmp_path))
    assert not list(tmp_path.glob("other.duckdb*")) and not (tmp_path / "items.csv").exists()
    assert not (tmp_path / "export").exists()


def test_the_sandbox_cannot_be_switched_off(analyst: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(duckdb.InvalidInputException, match="configuration has been locked"):
        analyst.execute("SET enable_external_access = true")


def test_reads_and_dml_refusal_still_hold(analyst: duckdb.DuckDBPyConnection) -> None:
    assert analyst.execute("SELECT count(*) FROM core.items").fetchall() == [(0,)]
    with pytest.raises(duckdb.Error, match="read-only"):
        analyst.execute("DELETE FROM core.items")


def test_chatrec_sql_refuses_copy_to_with_a_clear_message(tmp_path: Path) -> None:
    assert chatrec("warehouse", "migrate", cwd=tmp_path).returncode == 0
    target = tmp_path / "leak.csv"
    result = chatrec("sql", f"COPY core.items TO '{target}'", cwd=tmp_path)
    assert result.returncode == 1 and "refused" in result.stdout and "only reads the warehouse" in result.stdout
    assert not target.exists()
