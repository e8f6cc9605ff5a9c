"""Chat feedback that acts at once and lasts, without ever blocking the pipeline.

A chat turn's feedback is two things: interaction rows for the next retrain (`ingest_feedback`, as
before) and exclusions (`recs.exclusions`) that the very next batch run applies for that user, before
any retrain has learnt from the feedback. Both are written in one short transaction under the
warehouse lock; when the pipeline holds the lock (or DuckDB's file lock) longer than
`settings.chat_write_wait_s`, the feedback is written to a pending file beside the warehouse instead,
and the next writer (the next chat write, the nightly's ingest, any batch run) stores it. Pending files
are applied idempotently (ingest_feedback skips a batch it already holds; exclusions are upserts),
then deleted, so a crash between the two never stores anything twice.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import duckdb

from chatrec.data.ingest import ingest_feedback
from chatrec.settings import Settings
from chatrec.warehouse.connection import connect, transaction
from chatrec.warehouse.lock import WarehouseBusy, warehouse_lock

QUERIES = Path(__file__).parent / "queries"


@dataclass(frozen=True)
class Exclusion:
    user_id: str
    item_id: str
    reason: str  # dislike | seen | similar
    because_of: str
    weight: float


@dataclass
class FeedbackBatch:
    """What one chat turn stores: interaction rows (user_id, item_id, event, rating, ts), exclusions to
    add, and (user_id, item_id) exclusions to lift (the user liked or rated the item well after all)."""

    rows: list[dict[str, object]] = field(default_factory=list)
    exclusions: list[Exclusion] = field(default_factory=list)
    lifted: list[tuple[str, str]] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(
            {"rows": self.rows, "exclusions": [asdict(e) for e in self.exclusions], "lifted": self.lifted}
        )

    @classmethod
    def from_json(cls, text: str) -> FeedbackBatch:
        data = json.loads(text)
        return cls(
            rows=list(data["rows"]),
            exclusions=[Exclusion(**e) for e in data["exclusions"]],
            lifted=[(str(u), str(i)) for u, i in data["lifted"]],
        )


@dataclass(frozen=True)
class StoreOutcome:
    rows_stored: int  # interaction rows now in the warehouse
    pending: bool  # True: kept in a pending file for the next writer (the pipeline held the warehouse)


def now_text() -> str:
    return datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")


def write_batch(con: duckdb.DuckDBPyConnection, batch: FeedbackBatch) -> int:
    """Store a batch through `con` (a read-write connection); returns the interaction rows loaded."""
    loaded = ingest_feedback(con, batch.rows).rows_loaded if batch.rows else 0
    if batch.exclusions or batch.lifted:
        upsert = (QUERIES / "upsert_exclusion.sql").read_text()
        with transaction(con):
            for user, item in batch.lifted:
                con.execute("DELETE FROM recs.exclusions WHERE user_id = ? AND item_id = ?", [user, item])
            for e in batch.exclusions:
                con.execute(upsert, [e.user_id, e.item_id, e.reason, e.because_of, e.weight, now_text()])
    return loaded


def pending_dir(settings: Settings) -> Path:
    """Where feedback waits when the pipeline holds the warehouse: a hidden folder beside it."""
    path = Path(settings.warehouse_path)
    return path.with_name(f".{path.stem}.chat-pending")


def write_pending(settings: Settings, batch: FeedbackBatch) -> Path:
    """The batch as one pending file, written whole or not at all (temp file + rename)."""
    folder = pending_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}.json"
    partial = folder / f".{name}.tmp"
    partial.write_text(batch.to_json())
    os.replace(partial, folder / name)
    return folder / name


def apply_pending(con: duckdb.DuckDBPyConnection, settings: Settings) -> int:
    """Store every pending chat feedback file through `con` (a writer's connection), oldest first, and
    delete each once stored; returns the interaction rows loaded. A malformed file never fails the
    pipeline step that calls this: nothing of it is stored, it is renamed `*.bad` and named on stderr."""
    folder = pending_dir(settings)
    if not folder.is_dir():
        return 0
    loaded = 0
    for path in sorted(folder.glob("*.json")):
        try:
            batch = FeedbackBatch.from_json(path.read_text())
            loaded += write_batch(con, batch)
        except (ValueError, KeyError, TypeError) as exc:
            os.replace(path, path.with_name(path.name + ".bad"))
            print(f"warning: pending chat feedback {path} is malformed ({exc}): kept as {path.name}.bad, not stored",
                  file=sys.stderr)  # fmt: skip
            continue
        path.unlink()
    return loaded


class FeedbackSink(Protocol):
    def store(self, batch: FeedbackBatch) -> StoreOutcome: ...


class ConnectionSink:
    """Writes through a read-write connection the caller holds (library use, tests)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def store(self, batch: FeedbackBatch) -> StoreOutcome:
        return StoreOutcome(write_batch(self.con, batch), pending=False)


class WarehouseSink:
    """What `chatrec chat` uses: each store opens the warehouse for one short transaction under the
    warehouse lock and closes it; the chat holds no connection between turns, so the pipeline never
    waits for it. When the lock or the file stays busy past `chat_write_wait_s`: a pending file."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def store(self, batch: FeedbackBatch) -> StoreOutcome:
        try:
            with warehouse_lock(self.settings, "chatrec chat (feedback)", wait_s=self.settings.chat_write_wait_s,
                                say=lambda _: None):  # fmt: skip
                con = connect(self.settings)
                try:
                    apply_pending(con, self.settings)
                    return StoreOutcome(write_batch(con, batch), pending=False)
                finally:
                    con.close()
        except (WarehouseBusy, duckdb.IOException):
            write_pending(self.settings, batch)
            return StoreOutcome(0, pending=True)


def exclusions_of(con: duckdb.DuckDBPyConnection, users: Sequence[str]) -> dict[str, list[str]]:
    """The items excluded for each of `users` by their chat feedback (recs.exclusions)."""
    try:
        rows = con.execute((QUERIES / "exclusions_of.sql").read_text(), [list(users)]).fetchall()
    except duckdb.CatalogException:  # a read-only look at a warehouse the migration has not reached yet
        return {}
    return dict(rows)


def merge_exclusions(*maps: dict[str, list[str]] | None) -> dict[str, list[str]] | None:
    """Per-user union of several exclusion maps (tagged items, chat exclusions); None when all are None."""
    present = [m for m in maps if m is not None]
    if not present:
        return None
    merged: dict[str, set[str]] = {}
    for mapping in present:
        for user, items in mapping.items():
            merged.setdefault(user, set()).update(items)
    return {user: sorted(items) for user, items in merged.items()}


def similar_exclusions(
    user_id: str, disliked: str, neighbours: Iterable[tuple[str, float]], minimum: float
) -> list[Exclusion]:
    """The disliked item itself (weight 1) and each neighbour at least `minimum` similar to it."""
    out = [Exclusion(user_id, disliked, "dislike", disliked, 1.0)]
    out += [
        Exclusion(user_id, item, "similar", disliked, round(float(sim), 4))
        for item, sim in neighbours
        if sim >= minimum and item != disliked
    ]
    return out
