"""A corrupted copy loads its good rows and quarantines every bad one with a reason; nothing is lost."""

from pathlib import Path

import duckdb

from chatrec.data.ingest import ingest_movielens, ingest_movielens_latest
from tests.data.files import write_latest_format, write_original_ml100k


def reasons(con: duckdb.DuckDBPyConnection, load_id: str) -> dict[tuple[str, int], str]:
    rows = con.execute(
        "SELECT source_file, source_line, reason FROM quarantine.rejected_rows WHERE load_id = ?", [load_id]
    ).fetchall()
    return {(f, n): r for f, n, r in rows}


def test_corrupted_ml100k_copy(warehouse: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    folder = tmp_path / "ml"
    lines = write_original_ml100k(folder)
    data = list(lines["u.data"])
    bad = {
        3: "196\t242\tthree\t881250949",  # unparseable rating
        4: "186\t302\t7\t891717742",  # out of range
        5: "22\t99999\t4\t878887116",  # unknown item
        6: "5000\t1\t4\t878887116",  # unknown user
        7: "244\t51",  # wrong field count
        8: data[0],  # exact duplicate of line 1
        9: "166\t346\t1\tyesterday",  # unparseable timestamp
    }
    replaced = [data[n - 1] for n in bad]
    for number, text in bad.items():
        data[number - 1] = text
    (folder / "u.data").write_text("\n".join(data) + "\n", encoding="latin-1")
    items = list(lines["u.item"])
    items[9] = "|".join(["10", "", *items[9].split("|")[2:]])  # an item without a title
    (folder / "u.item").write_text("\n".join(items) + "\n", encoding="latin-1")

    summary = ingest_movielens(warehouse, folder)

    found = reasons(warehouse, summary.load_id)
    assert found[("u.data", 3)].startswith("unparseable rating")
    assert found[("u.data", 4)].startswith("rating out of range")
    assert found[("u.data", 5)] == "unknown item id: 99999"
    assert found[("u.data", 6)] == "unknown user id: 5000"
    assert found[("u.data", 7)].startswith("wrong field count")
    assert found[("u.data", 8)] == "duplicate event in this load"
    assert found[("u.data", 9)].startswith("unparseable timestamp")
    assert found[("u.item", 10)] == "missing title"
    # item 10 is unknown now, so its ratings are quarantined too, each with the reason
    item10_ratings = sum(1 for n, line in enumerate(data, 1) if line.split("\t")[1:2] == ["10"] and n not in bad)
    assert sum(1 for r in found.values() if r == "unknown item id: 10") == item10_ratings
    assert len(found) == len(bad) + 1 + item10_ratings
    # nothing lost: every line read is loaded or quarantined
    assert summary.balanced
    assert summary.rows_in == len(data) + len(items) + len(lines["u.user"])
    loaded = warehouse.execute("SELECT count(*) FROM core.interactions").fetchall()[0][0]
    assert loaded == len(data) - len(bad) - item10_ratings
    assert summary.rows_quarantined == len(found)
    assert warehouse.execute("SELECT rows_balance FROM marts.load_history").fetchall() == [(True,)]
    assert replaced  # the replaced good lines are simply not in this copy


def test_bad_encoding_is_quarantined_in_utf8_sources(warehouse: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    folder = tmp_path / "latest"
    write_latest_format(folder, n_ratings=2_000)
    raw = (folder / "ratings.csv").read_bytes().split(b"\n")
    raw[5] = b"1,\xff\xfe31,4.0,874965758"  # not UTF-8
    (folder / "ratings.csv").write_bytes(b"\n".join(raw))
    summary = ingest_movielens_latest(warehouse, folder)
    found = reasons(warehouse, summary.load_id)
    assert found[("ratings.csv", 6)].startswith("bad encoding: not valid utf-8")
    assert summary.balanced and summary.rows_quarantined == 1
    assert warehouse.execute("SELECT count(*) FROM core.interactions").fetchall() == [(1_999,)]
    record = warehouse.execute("SELECT record FROM quarantine.rejected_rows").fetchall()[0][0]
    assert "874965758" in record  # the row is kept (with replacement characters) for replay
