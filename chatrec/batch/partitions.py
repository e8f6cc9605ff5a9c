"""Users split into consecutive chunks: the unit of the batch run's scoring, its Dask partitions and
the LLM stage's backend batches."""

from __future__ import annotations


def in_chunks(users: list[str], size: int) -> list[list[str]]:
    """`users` in order, `size` at a time (the last chunk may be smaller)."""
    return [users[start : start + size] for start in range(0, len(users), size)]
