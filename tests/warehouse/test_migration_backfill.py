"""A warehouse built at the schema before migration 0190 (issue 19: data sources, tag text, the blend
interval) is migrated by a plain start, and what 0190 adds is back-filled from what the old warehouse
holds: its earliest complete load becomes the primary source, the other sources are appended, chat
feedback, descriptions and failed loads are no source, old rows keep their values with the new
columns NULL. Then the loader treats the migrated warehouse like a new one: the same source loads,
an overlapping other one is refused."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from chatrec.data.ingest import ingest_movielens_latest
from chatrec.data.source_registry import SourceConflict, canonical_path, nightly_source, recorded_sources
from chatrec.warehouse import apply_migrations, connect
from chatrec.warehouse.migrations import discover_migrations, sql_root
from tests.data.test_data_sources import write_latest

BACKFILLED = 190  # warehouse/migrations/0190_honest_defaults.sql


def old_schema_root(tmp_path: Path, before: int = BACKFILLED) -> Path:
    """The warehouse SQL as it was before migration `before`: the earlier migrations, no views."""
    root = tmp_path / "old-sql"
    for folder in ("migrations", "staging", "marts"):
        (root / folder).mkdir(parents=True)
    for migration in discover_migrations():
        if migration.version < before:
            shutil.copy(sql_root() / "migrations" / f"{migration.name}.sql", root / "migrations")
    return root


def load(con: duckdb.DuckDBPyConnection, load_id: str, source: str, path: str, content_hash: str,
         day: int, status: str = "complete") -> None:  # fmt: skip
    con.execute(
        "INSERT INTO raw.loads (load_id, source, path, content_hash, status, rows_in, rows_loaded, started_at,"
        " finished_at) VALUES (?, ?, ?, ?, ?, 3, 3, ?, ?)",
        [load_id, source, path, content_hash, status, datetime(2024, 1, day), datetime(2024, 1, day, 0, 5)],
    )


@pytest.fixture
def old_warehouse(tmp_path: Path) -> tuple[Path, Path]:
    """A warehouse at the pre-0190 schema holding a shop's ratings (loaded twice), an appended csv, a
    failed load, chat feedback, a tag event without text and a fitted blend; returns (file, shop folder)."""
    shop = write_latest(tmp_path / "shop")
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    applied = apply_migrations(con, old_schema_root(tmp_path))
    assert applied and all(int(name[:4]) < BACKFILLED for name in applied)
    assert con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'data_sources'").fetchone() == (0,)  # fmt: skip
    folder = canonical_path(str(shop))
    load(con, "l-first", "movielens-latest", folder, "hash-january", day=2)
    load(con, "l-extra", "csv", "/data/extra.csv", "hash-extra", day=5)
    load(con, "l-broken", "csv", "/data/broken.csv", "hash-broken", day=6, status="failed")
    load(con, "l-chat", "feedback", "chat", "hash-chat", day=7)
    load(con, "l-again", "movielens-latest", folder, "hash-february", day=20)
    con.execute(
        "INSERT INTO raw.interactions VALUES ('l-first', 'ratings.csv', 2, '1', '1', '4.0', 'rating', '1600000001'),"
        " ('l-first', 'tags.csv', 2, '1', '2', NULL, 'tag', '1600000002')"
    )
    con.execute(
        "INSERT INTO models.llm_blends (blend_id, fingerprint, fitted_at, candidate_model, llm_model, mode, k,"
        " weight, n_users) VALUES ('b1', 'f1', '2024-01-21', 'dlae@1', 'smollm2', 'choice', 5, 0.7, 25)"
    )
    con.close()
    return path, shop


def test_migration_0190_backfills_an_older_warehouse(old_warehouse: tuple[Path, Path]) -> None:
    path, shop = old_warehouse
    con = connect(path=path)  # a plain start applies the pending migrations
    versions = [v for (v,) in con.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()]
    assert versions == [m.version for m in discover_migrations()]

    sources = con.execute(
        "SELECT source, path, role, content_hash, options, first_load_id, last_load_id, recorded_at, updated_at"
        " FROM raw.data_sources ORDER BY recorded_at"
    ).fetchall()
    folder = canonical_path(str(shop))
    assert sources == [
        ("movielens-latest", folder, "primary", "hash-february", None, "l-first", "l-again",
         datetime(2024, 1, 2, 0, 5), datetime(2024, 1, 20, 0, 5)),
        ("csv", "/data/extra.csv", "appended", "hash-extra", None, "l-extra", "l-extra",
         datetime(2024, 1, 5, 0, 5), datetime(2024, 1, 5, 0, 5)),
    ]  # fmt: skip
    # the old rows are all there; a tag's text was never read, so it stays NULL (nothing is invented)
    assert con.execute("SELECT event, rating, tag FROM raw.interactions ORDER BY source_line, event").fetchall() == [
        ("rating", "4.0", None),
        ("tag", None, None),
    ]
    assert con.execute("SELECT count(*) FROM core.tags").fetchone() == (0,)
    # a blend fitted before the interval existed keeps its weight, with no interval
    assert con.execute(
        "SELECT weight, best_weight, gain_mean, gain_ci_low, gain_ci_high, gain_confidence FROM models.llm_blends"
    ).fetchall() == [(0.7, None, None, None, None, None)]

    # the nightly now ingests the warehouse's recorded source, not the packaged demo
    chosen = nightly_source(con, None, None)
    assert (chosen.source, chosen.path) == ("movielens-latest", folder)
    # loading that source again is the same source: its row is updated, no new one
    summary = ingest_movielens_latest(con, shop)
    first = recorded_sources(con)[0]
    assert (first.source, first.path, first.role) == ("movielens-latest", folder, "primary")
    assert con.execute("SELECT last_load_id FROM raw.data_sources WHERE role = 'primary'").fetchone() == (
        summary.load_id,
    )
    # and another source whose ids overlap is refused, as in a warehouse created after 0190
    with pytest.raises(SourceConflict):
        ingest_movielens_latest(con, write_latest(shop.parent / "other", titles=("GoldenEye", "Heat", "Sabrina")))
    assert len(recorded_sources(con)) == 2
    assert apply_migrations(con) == []  # and a second start changes nothing
    con.close()
