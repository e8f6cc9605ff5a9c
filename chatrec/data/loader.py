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
import polars as pl

from chatrec.data.source_registry import check_source, record_source
from chatrec.data.sources.base import (
    INTERACTION_COLUMNS,
    ITEM_COLUMNS,
    USER_COLUMNS,
    Rows,
    SourceBatch,
    SourceError,
    TableScan,
)
from chatrec.settings import get_settings
from chatrec.warehouse import transaction

QUERIES = Path(__file__).parent / "queries"
Progress = Callable[[str], None]
TimestampWindow = tuple[datetime, datetime]
# Rating scales a file without a declared one may use, narrowest first (see infer_rating_scale).
KNOWN_RATING_SCALES = ((0.0, 1.0), (1.0, 5.0), (0.5, 5.0), (0.0, 5.0), (1.0, 10.0), (0.5, 10.0), (0.0, 10.0),
                       (1.0, 100.0), (0.0, 100.0))  # fmt: skip
# Without a declared scale, the narrowest usual one holding at least this share of the ratings is
# taken when none holds them all; the rest are quarantined as out of range.
RATING_SCALE_COVERAGE = 0.99


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
    notes: list[str] = field(default_factory=list)  # how values were read: timestamp units, rating scale

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


def _insert_raw(
    con: duckdb.DuckDBPyConnection, table: str, rows: Rows | None, columns: tuple[str, ...], load_id: str
) -> None:
    cols = ", ".join(("source_file", "source_line", *columns))
    if isinstance(rows, TableScan):
        # set-based: DuckDB streams the file into raw.<table>; no row passes through Python
        present = ", ".join(c if c in rows.columns else f"NULL::VARCHAR AS {c}" for c in columns)
        try:
            con.execute(
                f"INSERT INTO raw.{table} (load_id, {cols}) SELECT ?, source_file, source_line, {present}"
                f" FROM ({rows.sql})",
                [load_id],
            )
        except duckdb.Error as exc:
            raise SourceError(f"cannot read the {table} of this source: {str(exc).strip().splitlines()[0]}") from exc
        return
    if rows is None or rows.height == 0:
        return
    # a reader that has no value for a column (e.g. the tag text, outside tags.csv) leaves it NULL
    missing = [pl.lit(None, dtype=pl.Utf8).alias(c) for c in columns if c not in rows.columns]
    con.register("_incoming", rows.with_columns(missing).to_arrow() if missing else rows.to_arrow())
    con.execute(f"INSERT INTO raw.{table} (load_id, {cols}) SELECT ?, {cols} FROM _incoming", [load_id])
    con.unregister("_incoming")


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    return int(con.execute(sql).fetchall()[0][0])


def infer_rating_scale(con: duckdb.DuckDBPyConnection, load_id: str, path: str) -> tuple[float, float] | None:
    """The rating scale of a load that declares none: the narrowest usual scale holding every finite
    rating, else the narrowest holding 99% of them; None when the load has no ratings.

    Raises SourceError (nothing is written) when no usual scale fits: a load must not guess.
    """
    finite = "FROM staging.stg_interactions WHERE load_id = ? AND rating IS NOT NULL AND isfinite(rating)"
    total, low, high = con.execute(f"SELECT count(*), min(rating), max(rating) {finite}", [load_id]).fetchall()[0]
    if not total:
        return None
    covered = con.execute(
        "SELECT "
        + ", ".join(f"count(*) FILTER (WHERE rating BETWEEN {a} AND {b})" for a, b in KNOWN_RATING_SCALES)
        + f" {finite}",
        [load_id],
    ).fetchall()[0]
    for required in (total, RATING_SCALE_COVERAGE * total):
        for scale, inside in zip(KNOWN_RATING_SCALES, covered, strict=True):
            if inside >= required:
                return scale
    scales = ", ".join(f"{a:g}-{b:g}" for a, b in KNOWN_RATING_SCALES)
    raise SourceError(
        f"{path}: cannot infer the rating scale: {total:,} ratings from {low:g} to {high:g} fit none of the usual "
        f"scales ({scales}) for {RATING_SCALE_COVERAGE:.0%} of rows; declare it, e.g. --map ...,rating_min=1,rating_max=5"
    )


def _timestamp_notes(con: duckdb.DuckDBPyConnection) -> list[str]:
    notes = []
    for source_file, unit, n_epoch, n_iso, n_rows in con.execute(
        "SELECT source_file, unit, n_epoch, n_iso, n_rows FROM _ts_units ORDER BY source_file"
    ).fetchall():
        read = ([f"epoch {unit} ({n_epoch:,})"] if n_epoch else []) + ([f"ISO 8601 ({n_iso:,})"] if n_iso else [])
        unparsed = n_rows - n_epoch - n_iso
        notes.append(
            f"{source_file}: timestamps read as {' and '.join(read) or 'nothing parseable'}"
            + (f", {unparsed:,} unparseable" if unparsed else "")
            + ", stored as UTC"
        )
    return notes


def load_batch(
    con: duckdb.DuckDBPyConnection,
    batch: SourceBatch,
    *,
    hash_extra: str = "",
    progress: Progress | None = None,
    window: TimestampWindow | None = None,
    append: bool = False,
    options: str | None = None,
) -> LoadSummary:
    """Validate and load one batch; returns its summary. Re-loading identical content is a no-op.

    window: the plausible (earliest, latest) interaction time; default from the settings.
    A batch from another source than the warehouse's is refused when its ids overlap (see
    `chatrec.data.source_registry`), unless `append`; `options` is how to read the source again.
    """
    ts_min, ts_max = window or get_settings().timestamp_window()
    step = progress or (lambda _stage: None)
    digest = content_hash(batch, hash_extra)
    previous = con.execute(
        "SELECT load_id FROM raw.loads WHERE content_hash = ? AND status = 'complete' ORDER BY started_at LIMIT 1",
        [digest],
    ).fetchall()
    if previous:
        return LoadSummary(load_id=previous[0][0], source=batch.source, path=batch.path, already_loaded=True)

    source_role = check_source(con, batch, append=append)
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
        con.execute(query("item_changes"), {"authoritative": count_items})
        summary.loaded_by_entity["item"] = _count(
            con, "SELECT count(DISTINCT item_id) FROM _item_changes WHERE outcome = 'applied'"
        )
        kept = _count(con, "SELECT count(*) FROM _item_changes WHERE outcome = 'kept_existing'")
        if kept:
            summary.notes.append(
                f"{kept:,} item attribute(s) in this file differ from the catalogue and were kept as they were "
                "(see core.item_history, outcome 'kept_existing')"
            )
        summary.loaded_by_entity["user"] = _count(
            con, "SELECT count(*) FROM _users WHERE reason IS NULL AND change <> 'same'"
        )
        step("core")
        con.execute(query("apply_load"))
        rating_range = batch.rating_range
        if rating_range is None:
            rating_range = infer_rating_scale(con, load_id, batch.path)
            if rating_range is not None:
                summary.notes.append(f"rating scale {rating_range[0]:g}-{rating_range[1]:g} (inferred from the data)")
        else:
            summary.notes.append(f"rating scale {rating_range[0]:g}-{rating_range[1]:g} (declared)")
        range_low, range_high = rating_range or (float("-inf"), float("inf"))
        con.execute(query("timestamp_units"), params)
        summary.notes.extend(_timestamp_notes(con))
        con.execute(
            query("classify_interactions"),
            {
                **params,
                "rating_min": range_low,
                "rating_max": range_high,
                "ts_min": ts_min,
                "ts_max": ts_max,
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
            " finished_at = ?, notes = ? WHERE load_id = ?",
            [
                summary.rows_loaded,
                summary.rows_unchanged,
                summary.rows_quarantined,
                _now(),
                "; ".join(summary.notes) or None,
                load_id,
            ],
        )
        record_source(con, batch, role=source_role, content_hash=digest, load_id=load_id, options=options)
        for temp in ("_items", "_item_changes", "_users", "_interactions", "_ts_units"):
            con.execute(f"DROP TABLE IF EXISTS {temp}")
    step("done")
    return summary
