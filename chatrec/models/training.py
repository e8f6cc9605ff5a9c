"""Training models and keeping the registry (models.registry) honest.

A registry row is keyed by a fingerprint of (name, params, training data): training the same model
on the same data again reuses the row and the artifact instead of adding a duplicate version.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import resource
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import torch
from rich.console import Console

from chatrec.data.frames import interactions_frame
from chatrec.models import CANDIDATE_MODELS, RATING_MODELS, make_model
from chatrec.models.artifacts import SUFFIX, ArtifactError, sha256_of
from chatrec.models.base import RatingPredictor, Recommender
from chatrec.settings import Settings, get_settings
from chatrec.warehouse import transaction

console = Console(stderr=True)


@dataclass(frozen=True)
class ModelVersion:
    model_id: str
    name: str
    kind: str
    version: int
    status: str
    artifact_path: str
    metrics: dict[str, float]
    reused: bool = False
    artifact_sha256: str | None = None


def training_interactions(con: duckdb.DuckDBPyConnection, settings: Settings, purpose: str) -> pl.DataFrame:
    """Every interaction in the warehouse, for a training job (`purpose` names it in the error),
    with torch set to the configured thread count first."""
    if settings.torch_threads is not None:
        torch.set_num_threads(settings.torch_threads)
    interactions = interactions_frame(con)
    if interactions.height == 0:
        raise ValueError(f"core.interactions is empty: ingest data before {purpose}")
    return interactions


def kind_of(name: str) -> str:
    if name in CANDIDATE_MODELS:
        return "candidate"
    if name in RATING_MODELS:
        return "rating"
    raise KeyError(f"unknown model {name!r}")


def fingerprint(name: str, params: dict[str, Any], interactions: pl.DataFrame) -> str:
    data_hash = interactions.select("user_id", "item_id", "rating", "ts").hash_rows(seed=0).sum()
    payload = json.dumps(
        {"name": name, "params": params, "rows": interactions.height, "data": int(data_hash)}, sort_keys=True
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def _row_to_version(row: tuple[Any, ...], reused: bool = False) -> ModelVersion:
    model_id, name, kind, version, status, artifact, metrics, sha256 = row
    return ModelVersion(model_id, name, kind, version, status, artifact, json.loads(metrics or "{}"), reused, sha256)


SELECT_VERSION = (
    "SELECT model_id, name, kind, version, status, artifact_path, metrics, artifact_sha256 FROM models.registry"
)


def artifact_file(settings: Settings, stored_path: str) -> Path:
    """The artifact a registry row points to: relative paths resolve against settings.artifacts_dir,
    so the warehouse works from any working directory (rows written before 0065 hold absolute or
    working-directory paths and are used as written)."""
    path = Path(stored_path)
    return path if path.is_absolute() or path.suffix == ".pkl" else Path(settings.artifacts_dir) / path


def verify_artifact(settings: Settings, version: ModelVersion) -> Path:
    """The artifact file of `version` after checking it is there and unchanged since it was registered."""
    path = artifact_file(settings, version.artifact_path)
    fix = "run `chatrec run retrain` to train and register it again"
    if version.artifact_sha256 is None:
        raise ArtifactError(
            f"model {version.model_id}: its artifact {path} is a pickle from before artifacts were data-only and "
            "has no recorded checksum; run `chatrec warehouse migrate-artifacts` once to convert it, or " + fix
        )
    if not path.is_file():
        raise ArtifactError(f"model {version.model_id}: its artifact {path} is missing; {fix}")
    actual = sha256_of(path)
    if actual != version.artifact_sha256:
        raise ArtifactError(
            f"model {version.model_id}: its artifact {path} changed since it was registered (sha256 {actual[:12]}..., "
            f"registry {version.artifact_sha256[:12]}...); not loading it; {fix}"
        )
    return path


def artifact_is_sound(settings: Settings, version: ModelVersion) -> bool:
    try:
        verify_artifact(settings, version)
    except ArtifactError:
        return False
    return True


def relative_artifact_path(name: str, version: int) -> str:
    return f"{name}/v{version}/model{SUFFIX}"


def train_and_register(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    name: str,
    *,
    interactions: pl.DataFrame,
    items: pl.DataFrame | None = None,
    params: dict[str, Any] | None = None,
    metrics: dict[str, float] | None = None,
) -> ModelVersion:
    """Fit `name` on `interactions`, save the artifact, register a `candidate` version (or reuse one).

    The caller windows `interactions`; the row's train_start/train_end are the window's first and
    last timestamps. The kind (candidate | rating) follows from the name. Seeding comes from
    `settings.seed` (each model's fit seeds python, numpy and torch).
    """
    params = dict(params or {})
    kind = kind_of(name)
    model = make_model(name, settings, **params)
    full_params = model.params()
    print_name = f"{name}({', '.join(f'{k}={v}' for k, v in full_params.items())})"
    digest = fingerprint(name, full_params, interactions)
    existing = con.execute(f"{SELECT_VERSION} WHERE fingerprint = ? AND status <> 'failed'", [digest]).fetchall()
    if existing and artifact_is_sound(settings, _row_to_version(existing[0])):
        console.log(f"reusing {existing[0][0]}: {print_name} was already trained on these interactions")
        return _row_to_version(existing[0], reused=True)

    started = time.perf_counter()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with console.status(f"training {print_name} on {interactions.height:,} interactions ({model.device})"):
        if isinstance(model, Recommender):
            model.fit(interactions, items)
        else:
            assert isinstance(model, RatingPredictor)
            model.fit(interactions)
    seconds = time.perf_counter() - started
    if existing:
        # same fingerprint but the artifact is gone (cleaned var/), altered or an old pickle: refill the row
        stale = _row_to_version(existing[0])
        relative = relative_artifact_path(name, stale.version)
        sha256 = model.save(Path(settings.artifacts_dir) / relative)
        con.execute(
            "UPDATE models.registry SET train_seconds = ?, device = ?, artifact_path = ?, artifact_sha256 = ?"
            " WHERE model_id = ?",
            [seconds, model.device, relative, sha256, stale.model_id],
        )
        console.log(f"retrained {stale.model_id} in {seconds:.1f}s (its artifact was missing or unusable)")
        return dataclasses.replace(stale, artifact_path=relative, artifact_sha256=sha256)
    # process-wide high-water mark: the rise is an upper bound on what this fit needed
    peak_rise_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    version = int(
        con.execute("SELECT coalesce(max(version), 0) + 1 FROM models.registry WHERE name = ?", [name]).fetchall()[0][0]
    )
    model_id = f"{name}@{version}"
    artifact = relative_artifact_path(name, version)
    sha256 = model.save(Path(settings.artifacts_dir) / artifact)
    times = interactions.get_column("ts") if "ts" in interactions.columns else None
    train_start = times.min() if times is not None else None
    train_end = times.max() if times is not None else None
    with transaction(con):
        con.execute(
            "INSERT INTO models.registry (model_id, name, kind, version, params, fingerprint, train_start, train_end,"
            " metrics, artifact_path, artifact_sha256, status, device, train_seconds, peak_memory_mb, status_reason)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'candidate', ?, ?, ?, ?)",
            [
                model_id, name, kind, version, json.dumps(full_params), digest, train_start, train_end,
                json.dumps(metrics or {}), artifact, sha256, model.device, seconds, max(peak_rise_mb, 0.0),
                f"trained {print_name} on {interactions.height} interactions",
            ],
        )  # fmt: skip
    console.log(f"registered {model_id} ({seconds:.1f}s, peak memory rise {max(peak_rise_mb, 0.0):.0f} MB)")
    return ModelVersion(model_id, name, kind, version, "candidate", artifact, metrics or {}, artifact_sha256=sha256)


def update_metrics(con: duckdb.DuckDBPyConnection, model_id: str, metrics: dict[str, float]) -> None:
    con.execute("UPDATE models.registry SET metrics = ? WHERE model_id = ?", [json.dumps(metrics), model_id])


def model_version(con: duckdb.DuckDBPyConnection, model_id: str) -> ModelVersion:
    rows = con.execute(f"{SELECT_VERSION} WHERE model_id = ?", [model_id]).fetchall()
    if not rows:
        raise KeyError(f"model {model_id!r} is not in models.registry")
    return _row_to_version(rows[0])


def load_model(
    con: duckdb.DuckDBPyConnection, model_id: str, settings: Settings | None = None
) -> Recommender | RatingPredictor:
    """Load a registered model after verifying its artifact's checksum (ArtifactError names the fix)."""
    settings = settings or get_settings()
    return load_version(model_version(con, model_id), settings)


def load_version(version: ModelVersion, settings: Settings, *, verified: bool = False) -> Recommender | RatingPredictor:
    """Load a registered model version's artifact after verifying its checksum, without the warehouse:
    what a Dask worker that shares the artifacts folder does to get the serving model itself.
    `verified`: this process has just checked it (`serving_version`, `verify_artifact`): the
    checksum, a full read of a file of GBs at 25M interactions, is not computed twice."""
    cls = {**CANDIDATE_MODELS, **RATING_MODELS}[version.name]
    path = artifact_file(settings, version.artifact_path) if verified else verify_artifact(settings, version)
    return cls.load(path)


@dataclass(frozen=True)
class ServingModel:
    version: ModelVersion
    model: Recommender | RatingPredictor
    skipped: list[str]  # why each newer production version could not serve


def load_serving_model(con: duckdb.DuckDBPyConnection, settings: Settings, kind: str, name: str) -> ServingModel | None:
    """The production `name` model, or, when its artifact is missing or altered, the newest earlier
    production version of it whose artifact verifies (a batch run keeps serving; `skipped` says why).
    None when no version was ever in production; ArtifactError when none verifies."""
    found = serving_version(con, settings, kind, name)
    if found is None:
        return None
    version, skipped = found
    return ServingModel(version, load_version(version, settings, verified=True), skipped)


def serving_version(
    con: duckdb.DuckDBPyConnection, settings: Settings, kind: str, name: str
) -> tuple[ModelVersion, list[str]] | None:
    """Which version `load_serving_model` serves and why newer ones were skipped, checking artifacts
    (present, checksum) without loading one: a batch run on Dask leaves the loading to its workers."""
    rows = con.execute(
        f"{SELECT_VERSION} WHERE kind = ? AND name = ? AND (status = 'production'"
        " OR (status = 'archived' AND status_reason LIKE 'replaced by %'))"
        " ORDER BY status = 'production' DESC, version DESC",
        [kind, name],
    ).fetchall()
    versions = [_row_to_version(row) for row in rows]
    if not versions or versions[0].status != "production":
        return None
    skipped: list[str] = []
    for version in versions:
        try:
            verify_artifact(settings, version)
        except ArtifactError as exc:
            skipped.append(str(exc))
            continue
        return version, skipped
    raise ArtifactError(" | ".join(skipped))


def production_model(con: duckdb.DuckDBPyConnection, kind: str, name: str | None = None) -> ModelVersion | None:
    sql = f"{SELECT_VERSION} WHERE status = 'production' AND kind = ?"
    params: list[Any] = [kind]
    if name is not None:
        sql += " AND name = ?"
        params.append(name)
    rows = con.execute(sql + " ORDER BY created_at DESC LIMIT 1", params).fetchall()
    return _row_to_version(rows[0]) if rows else None


STATUSES = ("training", "candidate", "production", "archived", "failed")


def set_status(con: duckdb.DuckDBPyConnection, model_id: str, status: str, reason: str) -> None:
    """Change a version's status; promoting archives the previous production model of that name."""
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
    if not con.execute("SELECT 1 FROM models.registry WHERE model_id = ?", [model_id]).fetchall():
        raise KeyError(f"model {model_id!r} is not in models.registry")
    with transaction(con):
        if status == "production":
            con.execute(
                "UPDATE models.registry SET status = 'archived', status_reason = ? WHERE status = 'production'"
                " AND name = (SELECT name FROM models.registry WHERE model_id = ?) AND model_id <> ?",
                [f"replaced by {model_id} at {datetime.now():%Y-%m-%d %H:%M}", model_id, model_id],
            )
        con.execute(
            "UPDATE models.registry SET status = ?, status_reason = ? WHERE model_id = ?", [status, reason, model_id]
        )


def migrate_pickled_artifacts(con: duckdb.DuckDBPyConnection, settings: Settings) -> list[str]:
    """The one-time, explicit conversion of artifacts pickled before artifacts were data-only: each is
    unpickled (trusted once, because the operator asked), rewritten as a data-only artifact under
    artifacts_dir, and its checksum recorded; the pickle is then deleted. Returns one line per row."""
    registry: dict[str, type[Recommender] | type[RatingPredictor]] = {**CANDIDATE_MODELS, **RATING_MODELS}
    rows = con.execute(f"{SELECT_VERSION} WHERE artifact_sha256 IS NULL ORDER BY model_id").fetchall()
    report: list[str] = []
    for version in (_row_to_version(row) for row in rows):
        if version.name not in registry:
            continue  # LoRA adapters are safetensors folders already
        old = artifact_file(settings, version.artifact_path)
        if not old.is_file():
            report.append(f"{version.model_id}: {old} is missing; `chatrec run retrain` rebuilds it")
            continue
        model = registry[version.name].load_legacy_pickle(old)
        relative = relative_artifact_path(version.name, version.version)
        sha256 = model.save(Path(settings.artifacts_dir) / relative)
        with transaction(con):
            con.execute(
                "UPDATE models.registry SET artifact_path = ?, artifact_sha256 = ? WHERE model_id = ?",
                [relative, sha256, version.model_id],
            )
        old.unlink()
        report.append(f"{version.model_id}: {old} -> {relative} (sha256 {sha256[:12]}...)")
    return report
