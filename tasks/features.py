"""Prefect task for feature extraction (thin wrapper; Dask runs inside the library call)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from prefect import task

from chatrec.features.extract import extract_features
from chatrec.settings import Settings
from chatrec.warehouse import connect


@task(name="extract-features", retries=1, retry_delay_seconds=5)
def extract_user_item_features(use_dask: bool = True) -> dict[str, Any]:
    settings = Settings()
    con = connect(settings)
    try:
        return asdict(extract_features(con, settings, use_dask=use_dask))
    finally:
        con.close()
