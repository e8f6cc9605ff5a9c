"""What every warehouse-writing task shares: the `warehouse-writer` concurrency slot, tags, retries,
and the read-only snapshot published after a complete write.

DuckDB lets one process write a file at a time. Every deployment (nightly, ingest, retrain,
recommend, monitor) writes the same file, so their writing tasks take one slot of the global
concurrency limit `warehouse-writer` (limit 1, created by `make serve`): a second flow run waits for
the slot instead of failing on the file lock. Without that limit (a flow run without a server, or a
server where nobody created it) the tasks run without a slot, as before: one process, one writer.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import duckdb
from prefect import Task, task
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import TaskRun
from prefect.concurrency.sync import concurrency
from prefect.exceptions import ObjectNotFound
from prefect.states import State

from chatrec.settings import Settings
from chatrec.warehouse import connect, publish_snapshot

WAREHOUSE_LIMIT = "warehouse-writer"
WRITER_TAGS = ["chatrec", WAREHOUSE_LIMIT]
# what a retry can cure: the file lock held by a process outside Prefect, a full disk freed, a network share
TRANSIENT = (duckdb.IOException, OSError, TimeoutError, ConnectionError)


def retry_transient(task: Task, task_run: TaskRun, state: State) -> bool:
    """Retry only errors a second try can cure; bad data or a bug fails at once, with its message."""
    try:
        state.result()
    except TRANSIENT:
        return True
    except Exception:
        return False
    return False


@cache
def writer_limit_exists() -> bool:
    """Whether the `warehouse-writer` limit exists on this API (asked once per process)."""
    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(WAREHOUSE_LIMIT)
        except ObjectNotFound:
            return False
    return True


@contextmanager
def writer_slot() -> Iterator[None]:
    """Hold the `warehouse-writer` slot when the limit exists; otherwise run as is (see the module docstring)."""
    if not writer_limit_exists():
        yield
        return
    with concurrency(WAREHOUSE_LIMIT, occupy=1, strict=True):
        yield


def writer_task(name: str, **options: object):
    """`@task` for a task that writes the warehouse: its tags, and retries of transient errors only."""
    return task(
        name=name, tags=WRITER_TAGS, retries=2, retry_delay_seconds=10, retry_condition_fn=retry_transient, **options
    )


@contextmanager
def warehouse(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write warehouse connection held under the writer slot, closed at the end."""
    with writer_slot():
        con = connect(settings)
        try:
            yield con
        finally:
            con.close()


@writer_task("publish-snapshot")
def publish_warehouse_snapshot() -> str:
    with writer_slot():
        return str(publish_snapshot(Settings()))
