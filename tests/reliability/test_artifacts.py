"""Model artifacts hold data only and are checked before loading: tampered, missing and old
pickled artifacts are named with the way to fix them, and a batch run keeps serving from the
previous production version whose artifact verifies."""

from __future__ import annotations

import errno
import os
import pickle
from pathlib import Path

import duckdb
import numpy as np
import pytest

from chatrec.batch.recommend import recommend_batch
from chatrec.data.frames import interactions_frame, items_frame
from chatrec.models.artifacts import ArtifactError
from chatrec.models.popularity import Popularity
from chatrec.models.training import (
    artifact_file,
    load_model,
    migrate_pickled_artifacts,
    train_and_register,
)
from chatrec.settings import Settings
from tests.reliability.conftest import Served, table_counts


def test_registry_records_a_checksum_and_a_path_relative_to_artifacts_dir(
    ml100k_warehouse: duckdb.DuckDBPyConnection, settings: Settings, served: Served
) -> None:
    rows = ml100k_warehouse.execute("SELECT artifact_path, artifact_sha256 FROM models.registry").fetchall()
    for path, sha256 in rows:
        assert not Path(path).is_absolute() and path.endswith(".npz")
        assert len(sha256) == 64
    with np.load(artifact_file(settings, rows[0][0]), allow_pickle=False) as stored:  # numpy data, no pickle
        assert "__state__" in stored.files


def test_a_tampered_artifact_is_refused_naming_the_model_and_the_fix(
    ml100k_warehouse: duckdb.DuckDBPyConnection, settings: Settings, served: Served
) -> None:
    path = artifact_file(settings, served.current.artifact_path)
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(
        ArtifactError,
        match=rf"model {served.current.model_id}: .* changed since it was registered.*chatrec run retrain",
    ):
        load_model(ml100k_warehouse, served.current.model_id, settings)


def test_a_missing_artifact_falls_back_to_the_previous_production_version(
    ml100k_warehouse: duckdb.DuckDBPyConnection, settings: Settings, served: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    artifact_file(settings, served.current.artifact_path).unlink()
    before = table_counts(ml100k_warehouse)
    run = recommend_batch(ml100k_warehouse, settings, user_ids=["1", "2"])
    assert run.model_id == served.older.model_id
    warning = capsys.readouterr().err
    assert (
        f"model {served.current.model_id}" in warning and "is missing" in warning and "chatrec run retrain" in warning
    )
    params = ml100k_warehouse.execute("SELECT params->>'fallback' FROM recs.runs WHERE run_id = ?", [run.run_id])
    assert served.current.model_id in params.fetchall()[0][0]  # the run records why it used the older model
    after = table_counts(ml100k_warehouse)
    assert after["recs.runs"] == before["recs.runs"] + 1 and after["models.registry"] == before["models.registry"]


def test_with_no_verifiable_version_the_run_fails_before_writing(
    ml100k_warehouse: duckdb.DuckDBPyConnection, settings: Settings, served: Served
) -> None:
    for version in (served.current, served.older):
        artifact_file(settings, version.artifact_path).unlink()
    before = table_counts(ml100k_warehouse)
    with pytest.raises(
        ArtifactError, match=rf"model {served.older.model_id}: .* is missing; run `chatrec run retrain`"
    ):
        recommend_batch(ml100k_warehouse, settings, user_ids=["1"])
    assert table_counts(ml100k_warehouse) == before
    latest = ml100k_warehouse.execute("SELECT DISTINCT run_id FROM marts.latest_recommendations").fetchall()
    assert latest == [(served.run_id,)]  # the last good run stays visible


def test_a_pickle_in_place_of_an_artifact_is_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "code-ran"

    class Payload:
        def __reduce__(self):  # what a malicious pickle does on load
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "model.npz"
    path.write_bytes(pickle.dumps(Payload()))
    with pytest.raises(ArtifactError, match="not a readable chatrec artifact"):
        Popularity.load(path)
    assert not marker.exists()


def test_an_old_pickled_artifact_is_refused_until_migrated_once(
    ml100k_warehouse: duckdb.DuckDBPyConnection, settings: Settings, served: Served
) -> None:
    # what an older chatrec left behind: a pickle at an absolute path, no checksum
    legacy = settings.artifacts_dir / "popularity" / "v2" / "model.pkl"
    model = load_model(ml100k_warehouse, served.current.model_id, settings)
    legacy.write_bytes(pickle.dumps(model))
    ml100k_warehouse.execute(
        "UPDATE models.registry SET artifact_path = ?, artifact_sha256 = NULL WHERE model_id = ?",
        [str(legacy), served.current.model_id],
    )
    with pytest.raises(ArtifactError, match="chatrec warehouse migrate-artifacts"):
        load_model(ml100k_warehouse, served.current.model_id, settings)
    report = migrate_pickled_artifacts(ml100k_warehouse, settings)
    assert len(report) == 1 and served.current.model_id in report[0]
    assert not legacy.exists()  # the pickle is gone: it can never be loaded again by accident
    path, sha256 = ml100k_warehouse.execute(
        "SELECT artifact_path, artifact_sha256 FROM models.registry WHERE model_id = ?", [served.current.model_id]
    ).fetchall()[0]
    assert path == "popularity/v2/model.npz" and len(sha256) == 64
    again = load_model(ml100k_warehouse, served.current.model_id, settings)
    assert again.recommend(["1"], 5).equals(model.recommend(["1"], 5))
    assert migrate_pickled_artifacts(ml100k_warehouse, settings) == []  # once


def test_a_full_disk_during_an_artifact_write_leaves_no_row_and_no_partial_file(
    ml100k_warehouse: duckdb.DuckDBPyConnection, settings: Settings, served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    import chatrec.models.artifacts as artifacts

    real_savez = np.savez

    def savez_until_the_disk_is_full(file, **arrays):
        file.write(b"PK\x03\x04 partial bytes")  # some bytes reach the disk, then it is full
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(artifacts.np, "savez", savez_until_the_disk_is_full)
    before = table_counts(ml100k_warehouse)
    interactions = interactions_frame(ml100k_warehouse).head(70_000)
    with pytest.raises(OSError, match="No space left on device"):
        train_and_register(ml100k_warehouse, settings, "popularity", interactions=interactions,
                           items=items_frame(ml100k_warehouse))  # fmt: skip
    assert table_counts(ml100k_warehouse) == before
    leftovers = [p for p in settings.artifacts_dir.rglob("*") if p.is_file() and p.suffix != ".npz"]
    assert leftovers == [] and not list(settings.artifacts_dir.glob("popularity/v3/*"))
    assert load_model(ml100k_warehouse, served.current.model_id, settings)  # what served still loads
    monkeypatch.setattr(artifacts.np, "savez", real_savez)
    retried = train_and_register(ml100k_warehouse, settings, "popularity", interactions=interactions,
                                 items=items_frame(ml100k_warehouse))  # fmt: skip
    assert retried.model_id == "popularity@3"
