"""Flow: the nightly pipeline. Composes the stage flows and publishes a markdown summary artifact."""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from chatrec.settings import Settings
from flows.ingest import ingest_flow


def summary_markdown(settings: Settings, loads: list[dict[str, Any]]) -> str:
    lines = [
        "# chatrec nightly",
        "",
        "| load | source | in | loaded | unchanged | quarantined |",
        "|---|---|---|---|---|---|",
    ]
    for load in loads:
        lines.append(
            f"| {load['load_id']} | {load['source']} | {load['rows_in']} | {load['rows_loaded']} "
            f"| {load['rows_unchanged']} | {load['rows_quarantined']} |"
        )
    lines += ["", f"Warehouse: `{settings.warehouse_path}`"]
    return "\n".join(lines)


@flow(name="nightly", log_prints=True)
def nightly_flow() -> dict[str, Any]:
    settings = Settings()
    loads = ingest_flow()
    create_markdown_artifact(key="nightly-summary", markdown=summary_markdown(settings, loads))
    print(f"warehouse: {settings.warehouse_path.resolve()}")
    return {"loads": loads, "warehouse": str(settings.warehouse_path)}


if __name__ == "__main__":
    nightly_flow()
