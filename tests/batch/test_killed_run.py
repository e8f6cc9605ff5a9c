"""A recommendation run killed in the middle (SIGKILL) is never visible, and the next run completes."""

from __future__ import annotations

import textwrap
from pathlib import Path

import duckdb

from chatrec.batch.recommend import recommend_batch
from chatrec.data.frames import interactions_frame, items_frame
from chatrec.models.training import set_status, train_and_register
from chatrec.settings import Settings
from chatrec.warehouse import connect
from tests.processes import kill_at_first_line

# The child starts a real run and, once its 'running' row is committed and the candidates are
# computed, pauses before building the explanation evidence so the test can kill it there.
CHILD = textwrap.dedent(
    """
    import sys, time
    import chatrec.batch.recommend as batch
    from chatrec.settings import Settings
    from chatrec.warehouse import connect

    real_user_events = batch.user_events

    def pausing_user_events(*args, **kwargs):
        print("candidates", flush=True)
        time.sleep(120)
        return real_user_events(*args, **kwargs)

    batch.user_events = pausing_user_events
    settings = Settings(warehouse_path=sys.argv[1], artifacts_dir=sys.argv[2], candidate_model="popularity")
    batch.recommend_batch(connect(settings), settings)
    """
)


def test_killed_recommend_run_stays_invisible_and_the_next_run_completes(
    ml100k_warehouse: duckdb.DuckDBPyConnection, settings: Settings, tmp_path: Path
) -> None:
    settings.candidate_model = "popularity"
    version = train_and_register(ml100k_warehouse, settings, "popularity",
                                 interactions=interactions_frame(ml100k_warehouse), items=items_frame(ml100k_warehouse))  # fmt: skip
    set_status(ml100k_warehouse, version.model_id, "production", "test")
    first = recommend_batch(ml100k_warehouse, settings, user_ids=["1", "2"])
    ml100k_warehouse.close()

    line = kill_at_first_line(CHILD, [str(settings.warehouse_path), str(settings.artifacts_dir)], tmp_path)
    assert line == "candidates", line

    con = connect(settings)
    runs = dict(con.execute("SELECT status, count(*) FROM recs.runs GROUP BY status").fetchall())
    assert runs == {"complete": 1, "running": 1}  # the killed run shows as running, with nothing else
    assert con.execute("SELECT DISTINCT run_id FROM recs.recommendations").fetchall() == [(first.run_id,)]
    assert con.execute("SELECT DISTINCT run_id FROM marts.latest_recommendations").fetchall() == [(first.run_id,)]

    second = recommend_batch(con, settings, user_ids=["1", "2", "3"])
    statuses = dict(con.execute("SELECT status, count(*) FROM recs.runs GROUP BY status").fetchall())
    assert statuses == {"complete": 2, "failed": 1}
    (error,) = con.execute("SELECT error FROM recs.runs WHERE status = 'failed'").fetchall()[0]
    assert error.startswith("abandoned")
    assert con.execute("SELECT DISTINCT run_id FROM marts.latest_recommendations").fetchall() == [(second.run_id,)]
    con.close()
