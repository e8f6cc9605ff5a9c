"""Loading a `SourceBatch` into the warehouse: raw -> staging -> validated core, in one transaction.

Why one transaction: a load that fails or is killed half-way must leave the warehouse exactly as
it was, so raw rows, quarantined rows, core rows and the `raw.loads` row all commit together.
Validation is set-based SQL (`queries/*.sql`) over the staging views, so 100K rows take ~1 s.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import duckdb

from chatrec.data.sources.base import INTERACTION_COLUMNS, ITEM_COLUMNS, USER_COLUMNS, SourceBatch
from chatrec.warehouse import transaction

QUERIES = Path(__file__).parent / "queries"
Progress = Callable[[str], None]


@cache
def query(name: str) -> str:
    return (QUERIES / f"{name}.sql").read_text()


@dataclass
class LoadSummary:
    """What one ingest did. rows_in = rows_loaded + rows_unchanged + rows_quarantined."""

    load_id: str
    source: str
    path: str
    already_loaded: bool = False
    rows_in: int = 0
    rows_loaded: int = 0
    rows_unchanged: int = 0
    rows_quarantined: int = 0
    quarantined_by_reason: dict[str, int] = field(default_factory=dict)
    loaded_by_entity: dict[str, int] = field(default_factory=dict)

    @property
    def balanced(self) -> bool:
        return self.rows_in == self.rows_loaded + self.rows_unchanged + self.rows_quarantined


def content_hash(batch: SourceBatch, extra: str = "") -> str:
    """sha256 over the source kind, each file's name and bytes, and extra options (e.g. the mapping)."""
    digest = hashlib.sha256(f"{batch.source}\n{extra}\n".encode())
    for path in sorted(batch.files, key=lambda p: p.name):
        digest.update(path.name.encode() + b"\0")
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _insert_raw(con: duckdb.DuckDBPyConnection, table: str, frame, columns: tuple[str, ...], load_id: str) -> None:
    if frame is None or frame.height == 0:
        return
    con.register("_incoming", frame.to_arrow())
    cols = ", ".join(("source_file", "source_line", *columns))
    con.execute(f"INSERT INTO raw.{table} (load_id, {cols}) SELECT ?, {cols} FROM _incoming", [load_id])
    con.unregister("_incoming")


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    return int(con.execute(sql).fetchall()[0][0])


def load_batch(
    con: duckdb.DuckDBPyConnection,
    batch: SourceBatch,
    *,
    hash_extra: str = "",
    progress: Progress | None = None,
) -> LoadSummary:
    """Validate and load one batch; returns its summary. Re-loading identical content is a no-op."""
    step = progress or (lambda _stage: None)
    digest = content_hash(batch, hash_extra)
    previous = con.execute(
        "SELECT load_id FROM raw.loads WHERE content_hash = ? AND status = 'complete' ORDER BY started_at LIMIT 1",
        [digest],
    ).fetchall()
    if previous:
        return LoadSummary(load_id=previous[0][0], source=batch.source, path=batch.path, already_loaded=True)

    load_id = f"{batch.source}-{_now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    summary = LoadSummary(load_id=load_id, source=batch.source, path=batch.path, rows_in=batch.rows_in)
    count_items = batch.items is not None and "item" not in batch.derived
    count_users = batch.users is not None and "user" not in batch.derived
    with transaction(con):
        started = _now()
        con.execute(
            "INSERT INTO raw.loads (load_id, source, path, content_hash, status, rows_in, started_at)"
            " VALUES (?, ?, ?, ?, 'running', ?, ?)",
            [load_id, batch.source, batch.path, digest, summary.rows_in, started],
        )
        step("raw")
        _insert_raw(con, "interactions", batch.interactions, INTERACTION_COLUMNS, load_id)
        _insert_raw(con, "items", batch.items, ITEM_COLUMNS, load_id)
        _insert_raw(con, "users", batch.users, USER_COLUMNS, load_id)
        if batch.rejected:
            con.executemany(
                "INSERT INTO quarantine.rejected_rows (load_id, source, source_file, source_line, entity, record, reason)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    [load_id, batch.source, r.source_file, r.source_line, r.entity, r.record, r.reason]
                    for r in batch.rejected
                ],
            )
        step("validate")
        # A catalogue is "known" when this load brings one or core already has one: only then
        # is an interaction with an id outside it an error rather than a new id to register.
        catalogue_known = count_items or _count(con, "SELECT count(*) FROM core.items") > 0
        users_known = count_users
        params = {"load_id": load_id}
        con.execute(query("classify_items"), params)
        con.execute(query("classify_users"), params)
        # items and users first, so interactions are checked against the updated catalogue
        summary.loaded_by_entity["item"] = _count(
            con, "SELECT count(*) FROM _items WHERE reason IS NULL AND change <> 'same'"
        )
        summary.loaded_by_entity["user"] = _count(
            con, "SELECT count(*) FROM _users WHERE reason IS NULL AND change <> 'same'"
        )
        step("core")
        con.execute(query("apply_load"))
        range_low, range_high = batch.rating_range or (float("-inf"), float("inf"))
        con.execute(
            query("classify_interactions"),
            {
                **params,
                "rating_min": range_low,
                "rating_max": range_high,
                "check_items": catalogue_known,
                "check_users": users_known,
            },
        )
        if not catalogue_known:
            con.execute(
                "INSERT INTO core.items (item_id, title, load_id) SELECT DISTINCT item_id, item_id, load_id"
                " FROM _interactions WHERE reason IS NULL ON CONFLICT DO NOTHING"
            )
        if not users_known:
            con.execute(
                "INSERT INTO core.users (user_id, load_id) SELECT DISTINCT user_id, load_id"
                " FROM _interactions WHERE reason IS NULL ON CONFLICT DO NOTHING"
            )
        con.execute(query("insert_interactions"))
        con.execute(
            query("quarantine"),
            {"source": batch.source, "count_items": count_items, "count_users": count_users},
        )
        step("account")
        summary.loaded_by_entity["interaction"] = _count(
            con, "SELECT count(*) FROM _interactions WHERE reason IS NULL AND NOT already_present"
        )
        counted_entities = ["_interactions"] + (["_items"] if count_items else []) + (["_users"] if count_users else [])
        unchanged = {
            "_interactions": "reason IS NULL AND already_present",
            "_items": "reason IS NULL AND change = 'same'",
            "_users": "reason IS NULL AND change = 'same'",
        }
        summary.rows_unchanged = sum(
            _count(con, f"SELECT count(*) FROM {t} WHERE {unchanged[t]}") for t in counted_entities
        )
        summary.rows_loaded = summary.loaded_by_entity["interaction"] + sum(
            summary.loaded_by_entity[e] for e, counted in (("item", count_items), ("user", count_users)) if counted
        )
        reasons = con.execute(
            "SELECT regexp_replace(reason, ':.*$', '') AS kind, count(*) FROM quarantine.rejected_rows"
            " WHERE load_id = ? GROUP BY kind ORDER BY kind",
            [load_id],
        ).fetchall()
        summary.quarantined_by_reason = {kind: int(n) for kind, n in reasons}
        summary.rows_quarantined = sum(summary.quarantined_by_reason.values())
        if not summary.balanced:  # a bug, never bad input: refuse to commit a load that lost rows
            raise RuntimeError(
                f"load {load_id} does not balance: in={summary.rows_in} loaded={summary.rows_loaded} "
                f"unchanged={summary.rows_unchanged} quarantined={summary.rows_quarantined}"
            )
        con.execute(
            "UPDATE raw.loads SET status = 'complete', rows_loaded = ?, rows_unchanged = ?, rows_quarantined = ?,"
            " finished_at = ? WHERE load_id = ?",
            [summary.rows_loaded, summary.rows_unchanged, summary.rows_quarantined, _now(), load_id],
        )
        for temp in ("_items", "_users", "_interactions"):
            con.execute(f"DROP TABLE IF EXISTS {temp}")
    step("done")
    return summary
