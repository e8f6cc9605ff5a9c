"""One data source per warehouse: which source a warehouse holds, and whether a load may join it.

The first load into a warehouse records its source (format, path, content hash) in
`raw.data_sources` as the primary source; the nightly ingest reads that source again
(`nightly_source`). A later load from the same (format, path) is a new version of that data and
goes through. A load from a different source whose user or item ids overlap what the warehouse
holds is refused: ids are only meaningful within one source (item 2 is "Jumanji" in one MovieLens
release and "GoldenEye" in another), so merging by id silently corrupts titles and histories. The
user can still append on purpose (`append=True`, `--append` on the CLI). The packaged ML-100K demo is
never loaded into a warehouse that holds other data, appended or not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl

from chatrec.data.sources.base import SourceBatch, SourceError, TableScan
from chatrec.data.sources.movielens import PACKAGED_PATH_LABEL

# loads that add to the warehouse's data rather than being a data source of their own
NOT_SOURCES = frozenset({"feedback", "descriptions"})
DEMO_WAREHOUSE_HINT = "CHATREC_WAREHOUSE_PATH=var/demo.duckdb chatrec ingest movielens"


class SourceConflict(SourceError):
    """A load from another source than the warehouse's would mix two data sets; nothing is written."""


@dataclass(frozen=True)
class RecordedSource:
    source: str
    path: str
    role: str  # primary | appended
    content_hash: str
    options: str | None  # how to read it again (the csv column mapping); None when nothing is needed

    def describe(self) -> str:
        return f"{self.source} from {self.path}"


def canonical_path(path: str) -> str:
    """The same folder or file spelled the same way (absolute); a package label stays as it is."""
    return path if path.startswith("package:") else str(Path(path).expanduser().resolve())


def is_packaged_demo(source: str, path: str) -> bool:
    return source == "movielens" and path == PACKAGED_PATH_LABEL


def recorded_sources(con: duckdb.DuckDBPyConnection) -> list[RecordedSource]:
    """The warehouse's sources, the primary first."""
    rows = con.execute(
        "SELECT source, path, role, content_hash, options FROM raw.data_sources"
        " ORDER BY role <> 'primary', recorded_at, source, path"
    ).fetchall()
    return [RecordedSource(*row) for row in rows]


def primary_source(con: duckdb.DuckDBPyConnection) -> RecordedSource | None:
    sources = recorded_sources(con)
    return sources[0] if sources and sources[0].role == "primary" else None


def _find(sources: list[RecordedSource], source: str, path: str) -> RecordedSource | None:
    wanted = canonical_path(path)
    return next((s for s in sources if s.source == source and canonical_path(s.path) == wanted), None)


def _overlap(con: duckdb.DuckDBPyConnection, batch: SourceBatch) -> dict[str, int]:
    """How many of the batch's user and item ids the warehouse already holds."""
    ids: dict[str, set[str]] = {"user": set(), "item": set()}
    scans: dict[str, list[str]] = {"user": [], "item": []}
    for frame in (batch.interactions, batch.items, batch.users):
        if frame is None:
            continue
        for entity in ids:
            if f"{entity}_id" not in frame.columns:
                continue
            if isinstance(frame, TableScan):  # ids of a file DuckDB reads: stay in DuckDB
                scans[entity].append(f"SELECT trim({entity}_id) AS id FROM ({frame.sql})")
            elif frame.height:
                ids[entity].update(v.strip() for v in frame[f"{entity}_id"].drop_nulls().to_list())
    counts = {}
    for entity, values in ids.items():
        probe = pl.DataFrame({"id": sorted(values)}, schema={"id": pl.Utf8})
        con.register("_probe_ids", probe.to_arrow())
        union = " UNION ".join(["SELECT id FROM _probe_ids", *scans[entity]])
        try:
            counts[entity] = int(
                con.execute(
                    f"SELECT count(*) FROM ({union}) p JOIN core.{entity}s c ON c.{entity}_id = p.id"
                ).fetchall()[0][0]
            )
        finally:
            con.unregister("_probe_ids")
    return counts


def check_source(con: duckdb.DuckDBPyConnection, batch: SourceBatch, *, append: bool) -> str | None:
    """The role this load's source gets (primary | appended | None for no new record), or SourceConflict."""
    if batch.source in NOT_SOURCES:
        return None
    sources = recorded_sources(con)
    if _find(sources, batch.source, batch.path) is not None:
        return None  # a new version of a source the warehouse already holds
    holds_data = bool(sources) or int(con.execute("SELECT count(*) FROM core.interactions").fetchall()[0][0]) > 0
    if not holds_data:
        return "primary"
    held = "; ".join(s.describe() for s in sources) or "interactions from chat feedback"
    if is_packaged_demo(batch.source, batch.path):
        raise SourceConflict(
            f"the packaged MovieLens 100K demo is never loaded into a warehouse that holds other data "
            f"(this one holds {held}). Try the demo in its own warehouse: {DEMO_WAREHOUSE_HINT}"
        )
    if append:
        return "appended"
    overlap = _overlap(con, batch)
    if any(overlap.values()):
        raise SourceConflict(
            f"refusing to load {batch.source} from {batch.path}: this warehouse holds {held}, and "
            f"{overlap['user']:,} user id(s) and {overlap['item']:,} item id(s) of the new source are already "
            "there, so their histories and titles would be merged by id. Load it into its own warehouse "
            "(CHATREC_WAREHOUSE_PATH=another.duckdb), or, if the ids really are the same users and items, "
            "append it on purpose with --append (append=True)"
        )
    return "appended"


def record_source(
    con: duckdb.DuckDBPyConnection,
    batch: SourceBatch,
    *,
    role: str | None,
    content_hash: str,
    load_id: str,
    options: str | None,
) -> None:
    """Record (role given) or update (same source again) the source row; run inside the load's transaction."""
    if batch.source in NOT_SOURCES:
        return
    now = datetime.now(UTC).replace(tzinfo=None)
    path = canonical_path(batch.path)
    if role is not None:
        con.execute(
            "INSERT INTO raw.data_sources (source, path, role, content_hash, options, first_load_id, last_load_id,"
            " recorded_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [batch.source, path, role, content_hash, options, load_id, load_id, now, now],
        )
        return
    existing = _find(recorded_sources(con), batch.source, batch.path)
    if existing is not None:
        con.execute(
            "UPDATE raw.data_sources SET content_hash = ?, last_load_id = ?, updated_at = ?, options = ?"
            " WHERE source = ? AND path = ?",
            [content_hash, load_id, now, options if options is not None else existing.options,
             existing.source, existing.path],
        )  # fmt: skip


@dataclass(frozen=True)
class NightlySource:
    source: str
    path: str | None  # None = the packaged demo
    options: str | None
    why: str


def nightly_source(con: duckdb.DuckDBPyConnection, configured_source: str | None, configured_path: Path | None,
                   configured_mapping: str | None = None) -> NightlySource:  # fmt: skip
    """What the nightly ingests: the configured source when one is set (CHATREC_DATA_SOURCE /
    CHATREC_DATA_PATH), else the warehouse's primary source, else (empty warehouse) the packaged demo."""
    if configured_source is not None or configured_path is not None:
        source = configured_source or "movielens"
        return NightlySource(source, str(configured_path) if configured_path else None, configured_mapping,
                             "configured by CHATREC_DATA_SOURCE / CHATREC_DATA_PATH")  # fmt: skip
    primary = primary_source(con)
    if primary is not None:
        path = None if is_packaged_demo(primary.source, primary.path) else primary.path
        return NightlySource(primary.source, path, primary.options, f"the warehouse's source ({primary.describe()})")
    return NightlySource("movielens", None, None, "empty warehouse and no source configured: the packaged demo")
