from pathlib import Path

import duckdb
import pytest

from chatrec.monitoring.drift import drift_reports
from chatrec.monitoring.windows import choose_windows
from chatrec.settings import Settings
from tests.monitoring.conftest import fill_synthetic


@pytest.fixture
def monitor_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"monitor_window_days": 30})


def _by_dataset(con: duckdb.DuckDBPyConnection, settings: Settings) -> dict:
    windows = choose_windows(con, settings)
    artifacts, notes = drift_reports(con, settings, "run-test", windows)
    assert notes == []
    return {a.dataset: a for a in artifacts}


def test_undrifted_window_passes(warehouse: duckdb.DuckDBPyConnection, monitor_settings: Settings) -> None:
    fill_synthetic(warehouse, drifted=False)
    reports = _by_dataset(warehouse, monitor_settings)
    assert set(reports) == {"interactions", "users", "items"}
    for report in reports.values():
        assert report.passed, report.reason
        assert report.key_figures["drift_share"] <= monitor_settings.drift_share_threshold
    columns = {c["column_name"]: c for c in reports["interactions"].drift_columns}
    assert not columns["rating"]["drifted"] and not columns["item_reference_popularity"]["drifted"]


def test_drifted_window_is_flagged_with_the_columns_and_tests(
    warehouse: duckdb.DuckDBPyConnection, monitor_settings: Settings
) -> None:
    fill_synthetic(warehouse, drifted=True)
    # drift is information unless drift_alarm is on (the monitor flow test covers the default)
    reports = _by_dataset(warehouse, monitor_settings.model_copy(update={"drift_alarm": True}))
    interactions = reports["interactions"]
    assert not interactions.passed
    assert interactions.key_figures["drift_share"] > monitor_settings.drift_share_threshold
    drifted = {c["column_name"] for c in interactions.drift_columns if c["drifted"]}
    # shifted ratings and new popular items (never seen in the reference, released later)
    assert {"rating", "item_reference_popularity", "item_release_year"} <= drifted
    assert "rating" in interactions.reason and "threshold" in interactions.reason
    for column in interactions.drift_columns:
        assert column["stattest"] and column["drift_score"] is not None
        # a p-value is reported exactly when the chosen test produces one
        assert (column["p_value"] is not None) == ("p_value" in column["stattest"])
    # the report files exist and say what they compare
    html = Path(interactions.html_path).read_text()
    assert "chatrec data drift: interactions" in html and "FAILED" in html
    assert Path(interactions.json_path).stat().st_size > 0


def test_training_window_reference_uses_the_production_model_window(
    warehouse: duckdb.DuckDBPyConnection, monitor_settings: Settings
) -> None:
    fill_synthetic(warehouse, drifted=False)
    warehouse.execute(
        "INSERT INTO models.registry (model_id, name, kind, version, params, fingerprint, train_start, train_end, status)"
        " VALUES ('popularity@1', 'popularity', 'candidate', 1, '{}', 'x', '2000-01-01', '2000-01-20', 'production')"
    )
    settings = monitor_settings.model_copy(
        update={"monitor_reference": "training_window", "candidate_model": "popularity"}
    )
    windows = choose_windows(warehouse, settings)
    assert "popularity@1" in windows.how
    assert windows.reference.start.isoformat().startswith("2000-01-01")
    assert windows.reference.end.isoformat().startswith("2000-01-20")
    # without a production model of that name the previous period is used, and the reason says so
    fallback = choose_windows(warehouse, settings.model_copy(update={"candidate_model": "ease"}))
    assert fallback.how.startswith("previous period") and "no production ease" in fallback.how
