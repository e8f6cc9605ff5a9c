"""Flow: load the warehouse's source (and optional item descriptions) into the warehouse."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from chatrec.logs import quiet_third_party
from chatrec.settings import Settings
from chatrec.warehouse.lock import writes_warehouse
from tasks.ingest import ingest_item_descriptions, ingest_source


@flow(name="ingest", log_prints=True)
@writes_warehouse("ingest")
def ingest_flow(
    source: str | None = None,
    path: str | None = None,
    mapping: str | None = None,
    descriptions_path: str | None = None,
) -> list[dict[str, Any]]:
    """Ingest `source` and item descriptions if given. Without a source: the configured one
    (settings.data_source / data_path), else the source the warehouse's first load recorded, else (an
    empty warehouse) the packaged MovieLens 100K demo."""
    quiet_third_party()
    settings = Settings()
    logger = get_run_logger()
    summaries = [ingest_source(source, path, mapping)]
    logger.info("source: %s", summaries[0]["chosen_because"])
    descriptions = descriptions_path or (
        str(settings.item_descriptions_path) if settings.item_descriptions_path else None
    )
    if descriptions:
        summaries.append(ingest_item_descriptions(descriptions))
    for summary in summaries:
        state = "already loaded" if summary["already_loaded"] else "loaded"
        logger.info(
            "%s %s: in=%s loaded=%s unchanged=%s quarantined=%s",
            summary["source"], state, summary["rows_in"], summary["rows_loaded"],
            summary["rows_unchanged"], summary["rows_quarantined"],
        )  # fmt: skip
    return summaries


if __name__ == "__main__":
    ingest_flow()
