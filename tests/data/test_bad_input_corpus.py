"""The bad-input corpus (tests/data/bad_input): every row and every whole file meets the outcome
its `*.expected.csv` / `files.csv` states - loaded (with its UTC timestamp), quarantined with the
reason, or the file refused with a message naming the problem and nothing written."""

from __future__ import annotations

import bz2
import csv
import gzip
import zipfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from chatrec.data.ingest import SourceError, ingest_table

CORPUS = Path(__file__).parent / "bad_input"
MAPPING = "user=uid,item=mid,rating=stars,timestamp=ts,title=title,rating_min=1,rating_max=5"


def expectations(name: str) -> list[dict[str, str]]:
    with (CORPUS / name).open(newline="") as handle:
        return list(csv.DictReader(handle))


def check_rows(con: duckdb.DuckDBPyConnection, load_id: str, source_file: str, expected: list[dict[str, str]]) -> None:
    quarantined = {
        line: reason
        for line, reason in con.execute(
            "SELECT source_line, reason FROM quarantine.rejected_rows WHERE load_id = ? AND source_file = ?",
            [load_id, source_file],
        ).fetchall()
    }
    loaded_ts = {
        ts for (ts,) in con.execute("SELECT ts FROM core.interactions WHERE load_id = ?", [load_id]).fetchall()
    }
    for row in expected:
        record, outcome, detail = int(row["record"]), row["outcome"], row["detail"]
        if outcome == "loaded":
            assert record not in quarantined, f"record {record} ({row['note']}): {quarantined.get(record)}"
            assert datetime.fromisoformat(detail) in loaded_ts, f"record {record} ({row['note']}) not at {detail}"
        else:
            assert quarantined.get(record, "").startswith(detail), (
                f"record {record} ({row['note']}): expected {detail!r}, got {quarantined.get(record)!r}"
            )
    n_loaded = sum(1 for row in expected if row["outcome"] == "loaded")
    assert len(quarantined) == len(expected) - n_loaded
    assert con.execute("SELECT count(*) FROM core.interactions WHERE load_id = ?", [load_id]).fetchall() == [
        (n_loaded,)
    ]


def test_every_corpus_row_meets_its_expected_outcome(warehouse: duckdb.DuckDBPyConnection) -> None:
    expected = expectations("interactions.expected.csv")
    # stored times are UTC whatever the session's time zone
    warehouse.execute("SET TimeZone = 'America/New_York'")
    summary = ingest_table(warehouse, CORPUS / "interactions.csv", MAPPING)
    assert summary.balanced and summary.rows_in == len(expected)
    check_rows(warehouse, summary.load_id, "interactions.csv", expected)
    assert "interactions.csv: timestamps read as epoch seconds (21) and ISO 8601 (5), 4 unparseable, stored as UTC" in (
        summary.notes
    )
    # every reason is a row in the quarantine, and the load balances in the mart too
    assert warehouse.execute("SELECT rows_balance FROM marts.load_history").fetchall() == [(True,)]
    assert warehouse.execute("SELECT title FROM core.items WHERE item_id = '12'").fetchall() == [("Golden\nEye",)]
    # re-ingesting the same file is a no-op
    assert ingest_table(warehouse, CORPUS / "interactions.csv", MAPPING).already_loaded


def test_millisecond_file_is_read_as_milliseconds(warehouse: duckdb.DuckDBPyConnection) -> None:
    expected = expectations("milliseconds.expected.csv")
    summary = ingest_table(warehouse, CORPUS / "milliseconds.csv", "user=user,item=item,rating=rating,timestamp=when")
    assert summary.balanced and summary.rows_in == len(expected)
    check_rows(warehouse, summary.load_id, "milliseconds.csv", expected)
    assert any("epoch milliseconds (4)" in note for note in summary.notes)
    assert "rating scale 1-5 (inferred from the data)" in summary.notes


def _copy_as(transform: Callable[[bytes], bytes]) -> Callable[[Path], tuple[Path, str]]:
    def build(tmp: Path) -> tuple[Path, str]:
        path = tmp / "corpus.data"
        path.write_bytes(transform((CORPUS / "interactions.csv").read_bytes()))
        return path, MAPPING

    return build


def _zip(data: bytes) -> bytes:
    buffer = Path("corpus.zip")
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("interactions.csv", data)
    return buffer.read_bytes()


def _zstd(tmp: Path) -> tuple[Path, str]:
    path = tmp / "interactions.csv.zst"
    with pa.CompressedOutputStream(str(path), "zstd") as stream:
        stream.write((CORPUS / "interactions.csv").read_bytes())
    return path, MAPPING


def _written(name: str, text: str, mapping: str = MAPPING) -> Callable[[Path], tuple[Path, str]]:
    def build(tmp: Path) -> tuple[Path, str]:
        path = tmp / name
        path.write_text(text)
        return path, mapping

    return build


def _nested_parquet(tmp: Path) -> tuple[Path, str]:
    path = tmp / "nested.parquet"
    table = pa.table({"uid": ["1"], "mid": [["10", "11"]], "stars": ["4"], "ts": ["1700000000"], "title": ["A"]})
    pq.write_table(table, path)
    return path, MAPPING


def _huge_field(tmp: Path) -> tuple[Path, str]:
    path = tmp / "huge.csv"
    path.write_text(f'uid,mid,stars,ts,title\n1,10,4,1700000000,"{"x" * 200_000}"\n2,10,4,1700000000,Short\n')
    return path, MAPPING


def _directory(tmp: Path) -> tuple[Path, str]:
    (tmp / "folder").mkdir()
    return tmp / "folder", MAPPING


FILE_CASES: dict[str, Callable[[Path], tuple[Path, str]]] = {
    "empty_file": _written("empty.csv", ""),
    "missing_column": _written("nostars.csv", "uid,mid,ts,title\n1,10,1700000000,A\n"),
    "unknown_map_field": _written(
        "r.csv", "uid,mid,stars,ts\n1,10,4,1700000000\n", "user=uid,item=mid,stars=x,timestamp=ts"
    ),
    "utf16": _copy_as(lambda data: data.decode("utf-8", errors="replace").encode("utf-16")),
    "bzip2": _copy_as(bz2.compress),
    "zip": _copy_as(_zip),
    "directory": _directory,
    "missing_path": lambda tmp: (tmp / "no-such.csv", MAPPING),
    "parquet_nested": _nested_parquet,
    "no_rating_scale": _written(
        "scale.csv",
        "uid,mid,stars,ts\n1,10,-3,1700000000\n1,11,1e308,1700000000\n1,12,7,1700000000\n2,10,2,1700000000\n",
        "user=uid,item=mid,rating=stars,timestamp=ts",
    ),
    "gzip": _copy_as(gzip.compress),
    "zstd": _zstd,
    "huge_field": _huge_field,
}


@pytest.mark.parametrize("case", [row["case"] for row in expectations("files.csv")])
def test_every_whole_file_case_meets_its_expected_outcome(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path, case: str
) -> None:
    row = next(r for r in expectations("files.csv") if r["case"] == case)
    path, mapping = FILE_CASES[case](tmp_path)
    if row["outcome"] == "refused":
        with pytest.raises(SourceError) as raised:
            ingest_table(warehouse, path, mapping)
        assert row["detail"] in str(raised.value), str(raised.value)
        for table in ("raw.loads", "raw.interactions", "core.interactions", "core.items", "quarantine.rejected_rows"):
            assert warehouse.execute(f"SELECT count(*) FROM {table}").fetchall() == [(0,)], table
        return
    summary = ingest_table(warehouse, path, mapping)
    assert summary.balanced
    if case == "huge_field":
        assert summary.rows_quarantined == 0
        lengths = warehouse.execute("SELECT length(title) FROM core.items ORDER BY item_id").fetchall()
        assert lengths == [(200_000,)]  # item 10's first title wins; the short one repeats the same item
        return
    expected = expectations("interactions.expected.csv")
    assert summary.rows_in == len(expected)
    check_rows(warehouse, summary.load_id, path.name, expected)


def test_every_file_case_has_a_recipe() -> None:
    assert {row["case"] for row in expectations("files.csv")} == set(FILE_CASES)
