"""A load killed in the middle (SIGKILL, no chance to clean up) leaves the database as before."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb

from chatrec.data.ingest import ingest_table
from chatrec.warehouse import connect

TABLES = (
    "raw.loads", "raw.data_sources", "raw.interactions", "raw.items", "raw.users", "core.interactions", "core.items",
    "core.users", "core.tags",
    "quarantine.rejected_rows",
)  # fmt: skip

# The child ingests a large file; its progress callback reports each stage and, once the raw rows
# and the validation tables are written inside the open transaction, waits to be killed.
CHILD = textwrap.dedent(
    """
    import sys, time
    from chatrec.data.ingest import ingest_table
    from chatrec.warehouse import connect

    con = connect(path=sys.argv[1])

    def progress(stage):
        print(stage, flush=True)
        if stage == "core":
            time.sleep(120)

    ingest_table(con, sys.argv[2], "user=u,item=i,rating=r,timestamp=t", progress=progress, append=True)
    """
)


def snapshot(path: Path) -> dict[str, int]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in TABLES}
    finally:
        con.close()


def test_killed_load_leaves_database_as_before(
    ml100k_warehouse: duckdb.DuckDBPyConnection, settings, tmp_path: Path
) -> None:
    ml100k_warehouse.close()
    db = settings.warehouse_path
    big = tmp_path / "big.csv"
    with big.open("w") as handle:  # 300k new ratings on known users and items
        handle.write("u,i,r,t\n")
        for n in range(300_000):
            handle.write(f"{n % 943 + 1},{n % 1682 + 1},{n % 5 + 1},{1_000_000_000 + n}\n")
    before = snapshot(db)

    script = tmp_path / "child.py"
    script.write_text(CHILD)
    child = subprocess.Popen(
        [sys.executable, str(script), str(db), str(big)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    stages = []
    assert child.stdout is not None
    for line in child.stdout:
        stages.append(line.strip())
        if stages[-1] == "core":
            break
    assert stages[-1] == "core", f"child ended early: {stages}"
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)

    assert snapshot(db) == before  # nothing of the killed load is visible

    con = connect(path=db)  # and the next load completes normally
    summary = ingest_table(con, big, "user=u,item=i,rating=r,timestamp=t", append=True)
    con.close()
    assert summary.rows_loaded == 300_000 and summary.balanced
    after = snapshot(db)
    assert after["core.interactions"] == before["core.interactions"] + 300_000
    assert after["raw.loads"] == before["raw.loads"] + 1
