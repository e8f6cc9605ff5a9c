"""Fixtures of the fault-injection suite: a warehouse with a served model and a complete run."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pytest

from chatrec.batch.recommend import recommend_batch
from chatrec.data.frames import interactions_frame, items_frame
from chatrec.models.training import ModelVersion, set_status, train_and_register
from chatrec.settings import Settings


@dataclass
class Served:
    older: ModelVersion  # the previous production version (archived when `current` was promoted)
    current: ModelVersion
    run_id: str  # a complete recommendation run made with `current`


@pytest.fixture
def served(ml100k_warehouse: duckdb.DuckDBPyConnection, settings: Settings) -> Served:
    """Two production generations of the popularity model, and one complete run from the newer."""
    settings.candidate_model = "popularity"
    interactions, items = interactions_frame(ml100k_warehouse), items_frame(ml100k_warehouse)
    older = train_and_register(ml100k_warehouse, settings, "popularity", interactions=interactions.head(60_000),
                               items=items)  # fmt: skip
    set_status(ml100k_warehouse, older.model_id, "production", "first")
    current = train_and_register(ml100k_warehouse, settings, "popularity", interactions=interactions, items=items)
    set_status(ml100k_warehouse, current.model_id, "production", "second")
    run = recommend_batch(ml100k_warehouse, settings, user_ids=["1", "2", "3"])
    return Served(older, current, run.run_id)


def table_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Row counts of the tables a fault could damage: compared before and after to prove nothing was lost."""
    tables = ["core.interactions", "core.items", "core.users", "models.registry", "recs.runs",
              "recs.recommendations", "recs.explanations"]  # fmt: skip
    return {t: int(con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]) for t in tables}
