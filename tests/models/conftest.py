"""A real slice of MovieLens 100K shared by the model tests (the 300 most active users)."""

import polars as pl
import pytest

from chatrec.data.frames import interactions_frame, items_frame


@pytest.fixture(scope="session")
def ml_slice(ml100k_warehouse_path) -> tuple[pl.DataFrame, pl.DataFrame]:
    import duckdb

    con = duckdb.connect(str(ml100k_warehouse_path), read_only=True)
    interactions, items = interactions_frame(con), items_frame(con)
    con.close()
    active = interactions.group_by("user_id").len().sort("len", descending=True).head(300)["user_id"]
    return interactions.filter(pl.col("user_id").is_in(active.implode())), items
