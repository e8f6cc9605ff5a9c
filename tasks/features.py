"""Prefect task for feature extraction (thin wrapper; Dask runs inside the library call)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from chatrec.features.extract import extract_features
from chatrec.settings import Settings
from tasks.warehouse import warehouse, writer_task


@writer_task("extract-features")
def extract_user_item_features(use_dask: bool = False) -> dict[str, Any]:
    settings = Settings()
    with warehouse(settings) as con:
        return asdict(extract_features(con, settings, use_dask=use_dask))
