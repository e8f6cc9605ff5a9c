"""Prefect task publishing the read-only warehouse snapshot after a complete write."""

from __future__ import annotations

from prefect import task

from chatrec.settings import Settings
from chatrec.warehouse import publish_snapshot


@task(name="publish-snapshot")
def publish_warehouse_snapshot() -> str:
    return str(publish_snapshot(Settings()))
