"""A features run killed in the middle (SIGKILL) - while its Dask workers compute, or inside its
write transaction - leaves no rows and no Dask worker behind, and the next run completes once."""

from __future__ import annotations

import textwrap
from pathlib import Path

import duckdb
import pytest

from chatrec.features.extract import extract_features
from chatrec.settings import Settings
from chatrec.warehouse import connect
from tests.processes import kill_at_first_line, orphans, reap_leftovers

# The child builds features on a one-worker LocalCluster and pauses at the stage named in argv[3]:
# "dask" once the cluster is up (workers alive), "write" after the inserts, before the COMMIT.
CHILD = textwrap.dedent(
    """
    import sys, time
    from contextlib import contextmanager
    import chatrec.features.extract as extract
    from chatrec.settings import Settings
    from chatrec.warehouse import connect

    stage = sys.argv[3]
    real_client, real_transaction = extract.dask_client, extract.transaction

    def pausing_client(settings):
        client = real_client(settings)
        if stage == "dask":
            print("dask", len(client.scheduler_info()["workers"]), flush=True)
            time.sleep(120)
        return client

    @contextmanager
    def pausing_transaction(con):
        with real_transaction(con):
            yield con
            if stage == "write":
                print("write", flush=True)
                time.sleep(120)

    if __name__ == "__main__":  # Dask's spawned workers import this file again
        extract.dask_client, extract.transaction = pausing_client, pausing_transaction
        settings = Settings(warehouse_path=sys.argv[1], artifacts_dir=sys.argv[2], dask_workers=1)
        extract.extract_features(connect(settings), settings, use_dask=True)
    """
)
TABLES = ("features.runs", "features.user_features", "features.item_features")


@pytest.mark.parametrize("stage", ["dask", "write"])
def test_killed_features_run_leaves_nothing_and_the_next_run_completes(
    ml100k_warehouse: duckdb.DuckDBPyConnection,
    settings: Settings,
    tmp_path: Path,
    stage: str,
    _no_process_outlives_the_session: str,
) -> None:
    ml100k_warehouse.close()
    line = kill_at_first_line(CHILD, [str(settings.warehouse_path), str(settings.artifacts_dir), stage], tmp_path)
    assert line.split()[0] == stage, line
    left = reap_leftovers(orphans(_no_process_outlives_the_session))
    assert left == []  # the Dask workers went with the killed process

    con = connect(settings)
    assert {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in TABLES} == dict.fromkeys(TABLES, 0)
    run = extract_features(con, settings, use_dask=False)
    assert not run.reused and run.n_users == 943
    assert con.execute("SELECT count(*) FROM features.runs").fetchall() == [(1,)]
    con.close()
