"""The `chatrec` command as a user runs it: a real subprocess on a real warehouse file."""

import subprocess
import sys
from pathlib import Path


def chatrec(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "chatrec", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        timeout=120,
    )


def test_ingest_then_query_then_reingest(tmp_path: Path) -> None:
    first = chatrec("ingest", "movielens", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "100,000" in first.stdout and "balance" in first.stdout
    assert (tmp_path / "var" / "chatrec.duckdb").is_file()
    query = chatrec("sql", "SELECT count(*) AS n FROM core.interactions", cwd=tmp_path)
    assert query.returncode == 0 and "100000" in query.stdout
    again = chatrec("ingest", "movielens", cwd=tmp_path)
    assert again.returncode == 0 and "already loaded" in again.stdout


def test_bad_input_exits_2_with_the_reason(tmp_path: Path) -> None:
    result = chatrec(
        "ingest", "csv", str(tmp_path / "missing.csv"), "--map", "user=a,item=b,timestamp=c,rating=d", cwd=tmp_path
    )
    assert result.returncode == 2
    assert "missing.csv does not exist" in result.stdout


def test_sql_is_read_only(tmp_path: Path) -> None:
    assert chatrec("warehouse", "migrate", cwd=tmp_path).returncode == 0
    result = chatrec("sql", "DELETE FROM core.items", cwd=tmp_path)
    assert result.returncode == 1 and "read-only" in result.stdout


def test_config_show_names_sources(tmp_path: Path) -> None:
    (tmp_path / "chatrec.toml").write_text("top_k_final = 8\n")
    result = chatrec("config", "show", cwd=tmp_path, env={"CHATREC_SEED": "7"})
    assert result.returncode == 0
    lines = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if line.count("│") >= 3}
    assert "file chatrec.toml" in lines["top_k_final"] and "8" in lines["top_k_final"]
    assert "env CHATREC_SEED" in lines["seed"]
    assert "default" in lines["warehouse_path"]


def test_warehouse_data_tests_pass_after_ingest(tmp_path: Path) -> None:
    assert chatrec("ingest", "movielens", cwd=tmp_path).returncode == 0
    result = chatrec("warehouse", "test", cwd=tmp_path)
    assert result.returncode == 0 and "FAIL" not in result.stdout


def test_sql_formats_csv_and_json_to_stdout_or_a_file(tmp_path: Path) -> None:
    import csv
    import json

    assert chatrec("warehouse", "migrate", cwd=tmp_path).returncode == 0
    query = "SELECT 1 AS n, 'a,b' AS label UNION ALL SELECT 2, NULL ORDER BY n"
    as_csv = chatrec("sql", query, "--format", "csv", cwd=tmp_path)
    assert as_csv.returncode == 0, as_csv.stdout
    assert list(csv.reader(as_csv.stdout.splitlines())) == [["n", "label"], ["1", "a,b"], ["2", ""]]
    target = tmp_path / "out.json"
    as_json = chatrec("sql", query, "--format", "json", "--output", str(target), cwd=tmp_path)
    assert as_json.returncode == 0 and as_json.stdout == ""
    assert json.loads(target.read_text()) == [{"n": 1, "label": "a,b"}, {"n": 2, "label": None}]
    assert "2 rows written" in as_json.stderr
    limited = chatrec("sql", query, "--format", "csv", "--limit", "1", cwd=tmp_path)
    assert limited.stdout.splitlines() == ["n,label", '1,"a,b"'] and "more rows not shown" in limited.stderr
    bad = chatrec("sql", query, "--format", "xml", cwd=tmp_path)
    assert bad.returncode == 2
