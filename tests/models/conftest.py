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


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """These models are small: on a shared 2-core machine, two intra-op threads contend with the
    other processes and made BPR 10x slower (1.5 s vs 15 s for 3 epochs), so tests use one."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
