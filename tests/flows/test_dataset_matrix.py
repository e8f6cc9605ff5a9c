"""The whole nightly (ingest -> features -> retrain -> recommend -> monitor) on data sets it was not tuned on.

Each data set lacks something MovieLens 100K has: user attributes (MovieLens latest format),
ratings, numeric ids, titles, genres and years (a generic CSV of implicit click/purchase events).
Both have items nobody interacted with and users with a single interaction (the synthetic
generator's log-normal activity and Zipf tail). Every stage must finish and say what it skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from chatrec.data.synthetic import SyntheticSpec, write_movielens_latest, write_parquet
from flows.features import features_flow
from flows.ingest import ingest_flow
from flows.monitor import monitor_flow
from flows.recommend import recommend_flow
from flows.retrain import retrain_flow


@dataclass(frozen=True)
class DataSet:
    source: str
    path: Path
    mapping: str | None
    explicit: bool


def latest_format(folder: Path) -> DataSet:
    # 400 items for ~2,400 interactions over 150 users: the Zipf tail leaves items nobody rated
    spec = SyntheticSpec(users=150, items=400, interactions=2_400, seed=7, chunk_users=64)
    return DataSet("movielens-latest", write_movielens_latest(spec, folder), None, True)


def implicit_csv(folder: Path) -> DataSet:
    spec = SyntheticSpec(
        users=150, items=300, interactions=2_400, seed=11, implicit=True, titles=False, string_ids=True
    )
    written = write_parquet(spec, folder)
    csv_path = folder / "events.csv"
    duckdb.sql(f"COPY (SELECT * FROM read_parquet('{written.interactions_path}')) TO '{csv_path}' (HEADER)")
    return DataSet("csv", csv_path, written.mapping, False)


@pytest.fixture
def nightly_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, value in {
        "WAREHOUSE_PATH": str(tmp_path / "wh.duckdb"),
        "REPORTS_DIR": str(tmp_path / "reports"),
        "EVIDENTLY_WORKSPACE": str(tmp_path / "evidently"),
        "ARTIFACTS_DIR": str(tmp_path / "artifacts"),
        "CACHE_DIR": str(tmp_path / "cache"),
        "TORCH_THREADS": "1",
        "DASK_WORKERS": "1",
    }.items():
        monkeypatch.setenv(f"CHATREC_{name}", value)
    return tmp_path / "wh.duckdb"


def count(warehouse: Path, sql: str) -> int:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return int(con.execute(sql).fetchall()[0][0])
    finally:
        con.close()


@pytest.mark.parametrize("make_data", [latest_format, implicit_csv], ids=["movielens-latest", "implicit-csv"])
def test_every_flow_runs_on_a_data_set_it_was_not_tuned_on(make_data, nightly_env: Path, tmp_path: Path) -> None:
    data = make_data(tmp_path / "data")
    loads = ingest_flow(source=data.source, path=str(data.path), mapping=data.mapping)
    assert loads[0]["rows_quarantined"] == 0 and loads[0]["rows_loaded"] >= 2_400
    assert count(nightly_env, "SELECT count(*) FROM core.users WHERE age IS NOT NULL") == 0

    features = features_flow()
    assert features["n_users"] == 150

    models = retrain_flow()
    assert {m["model_id"].split("@")[0] for m in models} >= {"popularity", "dlae"}

    run = recommend_flow()
    assert run["n_users"] == 150 and run["n_recommendations"] > 0
    lonely = count(
        nightly_env,
        "SELECT count(*) FROM (SELECT user_id FROM core.interactions GROUP BY user_id HAVING count(*) = 1)",
    )
    assert lonely > 0  # users with one interaction are in the data ...
    unrated = count(
        nightly_env, "SELECT count(*) FROM core.items WHERE item_id NOT IN (SELECT item_id FROM core.interactions)"
    )
    if data.source == "movielens-latest":
        assert unrated > 0  # ... and so are items nobody rated (movies.csv lists the whole catalogue)
    # ... and every user got recommendations, none of an item they already had
    assert (
        count(nightly_env, f"SELECT count(DISTINCT user_id) FROM recs.recommendations WHERE run_id = '{run['run_id']}'")
        == 150
    )
    assert (
        count(
            nightly_env,
            f"SELECT count(*) FROM recs.recommendations r JOIN core.interactions i USING (user_id, item_id)"
            f" WHERE r.run_id = '{run['run_id']}'",
        )
        == 0
    )

    state = monitor_flow(run_id=run["run_id"], return_state=True)
    summary = state.result(raise_on_failure=False)
    summary = getattr(summary, "summary", summary)  # a threshold breach carries the summary
    assert isinstance(summary, dict), f"monitor crashed: {summary!r}"
    notes = " ".join(summary["notes"])
    # what the data lacks is said, not crashed on
    assert "age" in notes and "not compared" in notes
    if not data.explicit:
        assert "rating" in notes
