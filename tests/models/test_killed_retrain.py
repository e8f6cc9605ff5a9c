"""A retrain killed in the middle (SIGKILL) leaves the registry consistent; the next one completes."""

from __future__ import annotations

import textwrap
from pathlib import Path

import duckdb

from chatrec.retrain import retrain
from chatrec.settings import Settings
from chatrec.warehouse import connect
from tests.processes import kill_at_first_line

# The child retrains; right after the first artifact file is written (before its registry row),
# it pauses so the test can kill it at the worst moment: a file on disk that nothing points to.
CHILD = textwrap.dedent(
    """
    import sys, time
    from chatrec.models.base import StoredModel
    from chatrec.retrain import retrain
    from chatrec.settings import Settings
    from chatrec.warehouse import connect

    real_save = StoredModel.save

    def pausing_save(self, path):
        real_save(self, path)
        if "v1" in str(path) and "popularity" in str(path) and "holdout" not in str(path):
            print("saved", path, flush=True)
            time.sleep(120)

    StoredModel.save = pausing_save
    settings = Settings(warehouse_path=sys.argv[1], artifacts_dir=sys.argv[2], candidate_models=["popularity"],
                        rating_model="biasedmf")
    retrain(connect(settings), settings, ["popularity"])
    """
)


def test_killed_retrain_leaves_no_row_and_the_next_retrain_registers_once(
    ml100k_warehouse: duckdb.DuckDBPyConnection, settings: Settings, tmp_path: Path
) -> None:
    ml100k_warehouse.close()
    line = kill_at_first_line(CHILD, [str(settings.warehouse_path), str(settings.artifacts_dir)], tmp_path)
    assert line.startswith("saved"), line

    con = connect(settings)
    assert con.execute("SELECT count(*) FROM models.registry").fetchall() == [(0,)]
    outcomes = retrain(con, settings, ["popularity"])
    assert [o.version.model_id for o in outcomes] == ["popularity@1"] and outcomes[0].promoted
    assert con.execute("SELECT model_id, status FROM models.registry").fetchall() == [("popularity@1", "production")]
    assert retrain(con, settings, ["popularity"])[0].version.reused  # a re-run adds nothing
    assert con.execute("SELECT count(*) FROM models.registry").fetchall() == [(1,)]
    con.close()
