"""Undoing a load's item attribute changes from core.item_history.

Every value a load set on an existing item is logged with the value before (`apply_load.sql`,
`descriptions.py`). Undo puts the value before back where the item still holds the load's value;
an attribute a later load changed again is left alone and counted, so an undo never erases a
newer correction. Items the load created stay (interactions may refer to them); their attributes
are not rolled back to nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb

from chatrec.warehouse import transaction

# core.items columns as text, the way core.item_history stores them
ATTRIBUTE_AS_TEXT = {
    "title": "title",
    "release_year": "CAST(release_year AS VARCHAR)",
    "genres": "nullif(array_to_string(genres, '|'), '')",
    "description": "description",
}
ATTRIBUTE_FROM_TEXT = {
    "title": "{value}",
    "release_year": "CAST({value} AS INTEGER)",
    "genres": "coalesce(string_split({value}, '|'), CAST([] AS VARCHAR[]))",
    "description": "{value}",
}


@dataclass
class UndoSummary:
    load_id: str
    restored: int = 0  # attribute values put back
    changed_since: int = 0  # attributes a later load changed again: left as they are


def undo_load(con: duckdb.DuckDBPyConnection, load_id: str) -> UndoSummary:
    """Restore the item attributes `load_id` changed; returns what was restored and what was skipped."""
    if not con.execute("SELECT 1 FROM core.item_history WHERE load_id = ?", [load_id]).fetchall():
        raise LookupError(f"load {load_id} changed no item attribute (no rows in core.item_history)")
    summary = UndoSummary(load_id)
    undo_id = f"undo-of-{load_id}"
    with transaction(con):
        for attribute, as_text in ATTRIBUTE_AS_TEXT.items():
            changes = con.execute(
                f"SELECT h.item_id, h.old_value, h.new_value, {as_text} IS NOT DISTINCT FROM h.new_value"
                " FROM core.item_history h JOIN core.items USING (item_id)"
                " WHERE h.load_id = ? AND h.attribute = ? AND h.outcome = 'applied' AND NOT EXISTS ("
                # an item the load created has a title logged without a value before: left as it is
                "   SELECT 1 FROM core.item_history t WHERE t.load_id = h.load_id AND t.item_id = h.item_id"
                "   AND t.attribute = 'title' AND t.old_value IS NULL)",
                [load_id, attribute],
            ).fetchall()
            for item_id, old_value, new_value, still_current in changes:
                if not still_current:
                    summary.changed_since += 1
                    continue
                value = ATTRIBUTE_FROM_TEXT[attribute].format(value="?")
                con.execute(f"UPDATE core.items SET {attribute} = {value} WHERE item_id = ?", [old_value, item_id])
                con.execute(
                    "INSERT INTO core.item_history (load_id, item_id, attribute, old_value, new_value, outcome,"
                    " recorded_at) VALUES (?, ?, ?, ?, ?, 'applied', ?)",
                    [undo_id, item_id, attribute, new_value, old_value, datetime.now(UTC).replace(tzinfo=None)],
                )
                summary.restored += 1
    return summary
