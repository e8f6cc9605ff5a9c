"""Small warehouses the notebooks are run against, built once per test session: one with nothing in
it, one lacking optional data (implicit-style MovieLens "latest" ratings, no user attributes, no
monitoring, no LLM), and MovieLens 100K with two monitored recommendation runs (the users data set
drifts and drift_alarm is on, so the monitoring page has an alert)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatrec.batch.recommend import recommend_batch
from chatrec.data.ingest import ingest_movielens, ingest_movielens_latest
from chatrec.monitoring import monitor
from chatrec.retrain import retrain
from chatrec.settings import Settings
from chatrec.warehouse import connect
from tests.data.files import write_latest_format


def settings_under(folder: Path) -> Settings:
    var = folder / "var"
    return Settings(
        warehouse_path=var / "chatrec.duckdb", landing_dir=var / "landing", artifacts_dir=var / "artifacts",
        reports_dir=var / "reports", evidently_workspace=var / "evidently", cache_dir=var / "cache",
        candidate_model="popularity", torch_threads=1, llm_backend="none",
        drift_alarm=True,  # drift beyond the threshold fails its report: the pages must mark it
    )  # fmt: skip


@pytest.fixture(scope="session")
def empty_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = settings_under(tmp_path_factory.mktemp("empty"))
    connect(settings).close()
    return settings


@pytest.fixture(scope="session")
def sparse_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    folder = tmp_path_factory.mktemp("sparse")
    settings = settings_under(folder)
    write_latest_format(folder / "latest", n_ratings=20_000)
    con = connect(settings)
    try:
        ingest_movielens_latest(con, folder / "latest")
        retrain(con, settings, ["popularity"])
        recommend_batch(con, settings)
    finally:
        con.close()
    return settings


@pytest.fixture(scope="session")
def monitored_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = settings_under(tmp_path_factory.mktemp("monitored"))
    con = connect(settings)
    try:
        ingest_movielens(con)
        retrain(con, settings, ["popularity"])
        for _ in range(2):
            recommend_batch(con, settings)
            monitor(con, settings)
    finally:
        con.close()
    return settings
