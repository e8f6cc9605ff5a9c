"""The memory budget: estimate what a step will need from the data's size and refuse to start a step
that would not fit, before anything is written (a step killed by the OOM killer half-way is worse).

The estimates count the big arrays each step allocates (interaction frames, sparse matrices, the
dense items x items weights of the item-item models, one chunk of scores), with the constants below;
they are upper bounds of the same order as the peak RSS bench.scale measures, not exact figures.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import duckdb

from chatrec.settings import Settings

BYTES_PER_INTERACTION = 160  # polars frame (string ids, rating, event, ts) + index arrays + CSR, measured order
DENSE_ITEM_ITEM_COPIES = 3.5  # float64 gram + its factorisation/solution + float32 weights
DEFAULT_BUDGET_SHARE = 0.8
BUDGET_SETTINGS = "memory_budget_mb (CHATREC_MEMORY_BUDGET_MB)"


class MemoryBudgetExceeded(RuntimeError):
    """A step's estimated memory exceeds settings.memory_budget_mb; it was not started."""


@dataclass(frozen=True)
class DataSize:
    users: int
    items: int
    interactions: int
    co_pairs: int  # sum over users of n_u^2: the work (and worst-case nnz) of a sparse X'X


def data_size(con: duckdb.DuckDBPyConnection, events: tuple[str, ...]) -> DataSize:
    """Counts from the warehouse (set-based, in DuckDB)."""
    users, interactions, co_pairs = con.execute(
        "SELECT count(*), coalesce(sum(n), 0), coalesce(sum(n * n), 0) FROM ("
        " SELECT count(*)::HUGEINT AS n FROM core.interactions WHERE list_contains(?, event) GROUP BY user_id)",
        [list(events)],
    ).fetchall()[0]
    items = con.execute("SELECT count(*) FROM core.items").fetchall()[0][0]
    return DataSize(int(users), int(items), int(interactions), int(co_pairs))


def budget_bytes(settings: Settings) -> int:
    if settings.memory_budget_mb is not None:
        return settings.memory_budget_mb * 1024 * 1024
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") * DEFAULT_BUDGET_SHARE)


def training_bytes(name: str, size: DataSize, settings: Settings) -> int:
    """Peak memory of fitting model `name` on data of `size` (plus the interactions held by retrain)."""
    from chatrec.models import ITEM_ITEM_MODELS

    base = size.interactions * BYTES_PER_INTERACTION
    kept = min(size.items, settings.max_model_items or size.items)
    if name in ITEM_ITEM_MODELS and name != "itemknn":
        return base + int(kept * kept * 8 * DENSE_ITEM_ITEM_COPIES)
    if name == "itemknn":
        return base + min(kept * kept, size.co_pairs) * 12  # sparse co-occurrence: value + index + row
    return base


def scoring_bytes(size: DataSize, settings: Settings) -> int:
    """Peak memory of the batch run: interactions and evidence index, plus one chunk of scores."""
    chunk = min(size.users, settings.score_chunk_users)
    return size.interactions * BYTES_PER_INTERACTION + chunk * size.items * 4 * 3


def resident_bytes() -> int:
    """This process's resident memory now (the libraries and data it already holds)."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def check_budget(step: str, needed: int, settings: Settings, advice: str = "") -> None:
    """Raise MemoryBudgetExceeded (naming the setting) when what the process holds plus `needed`
    exceeds the budget."""
    budget = budget_bytes(settings)
    needed += resident_bytes()
    if needed > budget:
        raise MemoryBudgetExceeded(
            f"{step} needs about {needed / 2**20:,.0f} MB, over the memory budget of {budget / 2**20:,.0f} MB: "
            f"nothing was started or written. Raise {BUDGET_SETTINGS}" + (f" or {advice}" if advice else "") + "."
        )
