"""The LLM stage's Dask partitions: every user once and in order, partitions that shrink to single
chunks, and at most one partition in flight per worker."""

from __future__ import annotations

import pytest

from chatrec.llm.pipeline import LLM_CHUNK_USERS, completed_in_turn, user_partitions


@pytest.mark.parametrize(
    ("n_users", "workers"), [(0, 2), (1, 2), (15, 1), (16, 2), (96, 2), (943, 2), (943, 4), (5000, 3)]
)
def test_partitions_hold_every_user_once_in_whole_chunks_that_shrink(n_users: int, workers: int) -> None:
    users = [f"u{n}" for n in range(n_users)]
    partitions = user_partitions(users, workers)
    assert [user for partition in partitions for user in partition] == users
    sizes = [len(partition) for partition in partitions]
    assert all(size % LLM_CHUNK_USERS == 0 for size in sizes[:-1])  # whole backend batches
    assert sizes[:-1] == sorted(sizes[:-1], reverse=True)  # never growing (the last may be a partial chunk)
    if n_users > LLM_CHUNK_USERS * workers:
        # the end is single chunks: no worker is left with a big partition while the others idle
        assert all(size <= LLM_CHUNK_USERS for size in sizes[-workers:])


def test_all_ml100k_users_on_two_workers_start_big_and_end_in_single_chunks() -> None:
    sizes = [len(p) for p in user_partitions([str(n) for n in range(943)], 2)]
    assert sizes == [224, 176, 128, 96, 80, 48, 48, 32, 16, 16, 16, 16, 16, 16, 15]


def test_partitions_are_submitted_as_workers_free_up() -> None:
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster,
        distributed.Client(cluster) as client,
    ):
        outstanding, most = 0, 0

        def submit(partition: list[int]) -> distributed.Future:
            nonlocal outstanding, most
            outstanding += 1
            most = max(most, outstanding)
            return client.submit(sum, partition, pure=False)

        partitions = [[n, n + 1] for n in range(0, 20, 2)]
        finished = []
        for partition, total in completed_in_turn(partitions, submit, in_flight=2):
            outstanding -= 1
            finished.append(partition)
            assert total == sum(partition)
        assert most == 2  # never more than in_flight submitted and unfinished
        assert sorted(finished) == partitions
