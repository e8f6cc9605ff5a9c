"""Item descriptions (e.g. one-sentence Wikipedia summaries) joined onto core.items.description.

Files: CSV with `item_id,description`, or `movie_title,wiki_summary` where the title carries the
year as MovieLens writes it ("Toy Story (1995)"). Rows that match no item, or several, are
quarantined with the reason; the whole update is one transaction and one `raw.loads` row.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl

from chatrec.data.loader import LoadSummary, query
from chatrec.data.sources.base import RejectedLine, SourceError
from chatrec.data.sources.movielens import split_title_year
from chatrec.data.sources.tables import column_names, read_columns
from chatrec.warehouse import transaction

# Accepted header layouts: (id-or-title column, text column)
LAYOUTS = (("item_id", "description"), ("movie_title", "wiki_summary"), ("title", "description"))


def read_descriptions(path: Path) -> tuple[pl.DataFrame, list[RejectedLine]]:
    header = column_names(path, what="descriptions")
    layout = next((lay for lay in LAYOUTS if all(c in header for c in lay)), None)
    if layout is None:
        wanted = " or ".join(f"{a},{b}" for a, b in LAYOUTS)
        raise SourceError(f"{path}: expected columns {wanted}; found {', '.join(header)}")
    frame, rejected = read_columns(path, list(layout), entity="item_description", what="descriptions")
    rows = []
    for _file, number, key, text in frame.iter_rows():
        if not (key or "").strip() and not (text or "").strip():
            continue  # an empty record carries no row
        key, text = (key or "").strip(), (text or "").strip()
        if layout[0] == "item_id":
            rows.append((path.name, number, key, None, None, text))
        else:
            title, year = split_title_year(key)
            rows.append((path.name, number, None, title, year, text))
    schema = {
        "source_file": pl.Utf8,
        "source_line": pl.Int64,
        "item_id": pl.Utf8,
        "title": pl.Utf8,
        "release_year": pl.Utf8,
        "description": pl.Utf8,
    }
    return pl.DataFrame(rows, schema=schema, orient="row"), rejected


def ingest_descriptions(con: duckdb.DuckDBPyConnection, path: Path) -> LoadSummary:
    path = Path(path)
    frame, rejected = read_descriptions(path)
    digest = hashlib.sha256(b"descriptions\n" + path.read_bytes()).hexdigest()
    previous = con.execute(
        "SELECT load_id FROM raw.loads WHERE content_hash = ? AND status = 'complete'", [digest]
    ).fetchall()
    if previous:
        return LoadSummary(load_id=previous[0][0], source="descriptions", path=str(path), already_loaded=True)
    now = datetime.now(UTC).replace(tzinfo=None)
    load_id = f"descriptions-{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    summary = LoadSummary(load_id=load_id, source="descriptions", path=str(path), rows_in=frame.height + len(rejected))
    with transaction(con):
        con.execute(
            "INSERT INTO raw.loads (load_id, source, path, content_hash, status, rows_in, started_at)"
            " VALUES (?, 'descriptions', ?, ?, 'running', ?, ?)",
            [load_id, str(path), digest, summary.rows_in, now],
        )
        con.register("_incoming_descriptions", frame.to_arrow())
        con.execute(
            "INSERT INTO raw.items (load_id, source_file, source_line, item_id, title, release_year, description)"
            " SELECT ?, source_file, source_line, item_id, title, release_year, description FROM _incoming_descriptions",
            [load_id],
        )
        con.execute(query("match_descriptions"))
        con.unregister("_incoming_descriptions")
        # logged first, like every item attribute change (core.item_history), so the load can be undone
        con.execute(
            "INSERT INTO core.item_history (load_id, item_id, attribute, old_value, new_value, outcome)"
            " SELECT ?, m.item_id, 'description', i.description, m.description, 'applied'"
            " FROM _description_matches m JOIN _descriptions d USING (source_line) JOIN core.items i ON i.item_id = m.item_id"
            " WHERE d.reason IS NULL AND NOT m.unchanged",
            [load_id],
        )
        con.execute(
            "UPDATE core.items SET description = m.description, load_id = ?"
            " FROM _description_matches m JOIN _descriptions d USING (source_line)"
            " WHERE d.reason IS NULL AND NOT m.unchanged AND core.items.item_id = m.item_id",
            [load_id],
        )
        con.execute(
            "INSERT INTO quarantine.rejected_rows (load_id, source, source_file, source_line, entity, record, reason)"
            " SELECT ?, 'descriptions', source_file, source_line, 'item_description',"
            " concat_ws(' | ', item_id, title, release_year, description), reason FROM _descriptions"
            " WHERE reason IS NOT NULL",
            [load_id],
        )
        if rejected:
            con.executemany(
                "INSERT INTO quarantine.rejected_rows (load_id, source, source_file, source_line, entity, record, reason)"
                " VALUES (?, 'descriptions', ?, ?, ?, ?, ?)",
                [[load_id, r.source_file, r.source_line, r.entity, r.record, r.reason] for r in rejected],
            )
        counts = con.execute(
            "SELECT count(*) FILTER (WHERE reason IS NULL AND NOT unchanged),"
            " count(*) FILTER (WHERE reason IS NULL AND unchanged) FROM _descriptions"
        ).fetchall()[0]
        summary.rows_loaded, summary.rows_unchanged = int(counts[0]), int(counts[1])
        reasons = con.execute(
            "SELECT regexp_replace(reason, ':.*$', '') AS kind, count(*) FROM quarantine.rejected_rows"
            " WHERE load_id = ? GROUP BY kind",
            [load_id],
        ).fetchall()
        summary.quarantined_by_reason = {kind: int(n) for kind, n in reasons}
        summary.rows_quarantined = sum(summary.quarantined_by_reason.values())
        summary.loaded_by_entity = {"item_description": summary.rows_loaded}
        if not summary.balanced:
            raise RuntimeError(f"description load {load_id} does not balance: {summary}")
        con.execute(
            "UPDATE raw.loads SET status = 'complete', rows_loaded = ?, rows_unchanged = ?, rows_quarantined = ?,"
            " finished_at = ? WHERE load_id = ?",
            [
                summary.rows_loaded,
                summary.rows_unchanged,
                summary.rows_quarantined,
                datetime.now(UTC).replace(tzinfo=None),
                load_id,
            ],
        )
        for temp in ("_descriptions", "_description_matches"):
            con.execute(f"DROP TABLE IF EXISTS {temp}")
    return summary


__all__ = ["SourceError", "ingest_descriptions", "read_descriptions"]
