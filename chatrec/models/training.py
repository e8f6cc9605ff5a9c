"""Training models and keeping the registry (models.registry) honest.

A registry row is keyed by a fingerprint of (name, params, training data): training the same model
on the same data again reuses the row and the artifact instead of adding a duplicate version.
"""

from __future__ import annotations

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
from chatrec.models.base import RatingPredictor, Recommender
from chatrec.settings import Settings
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
    model_id, name, kind, version, status, artifact, metrics = row
    return ModelVersion(model_id, name, kind, version, status, artifact, json.loads(metrics or "{}"), reused)


SELECT_VERSION = "SELECT model_id, name, kind, version, status, artifact_path, metrics FROM models.registry"


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
    if existing and Path(existing[0][5]).is_file():
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
        # same fingerprint but the artifact file is gone (cleaned var/): refill the existing row
        version_row = _row_to_version(existing[0])
        model.save(Path(version_row.artifact_path))
        con.execute(
            "UPDATE models.registry SET train_seconds = ?, device = ? WHERE model_id = ?",
            [seconds, model.device, version_row.model_id],
        )
        console.log(f"retrained {version_row.model_id} in {seconds:.1f}s (its artifact was missing)")
        return version_row
    # process-wide high-water mark: the rise is an upper bound on what this fit needed
    peak_rise_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    version = int(
        con.execute("SELECT coalesce(max(version), 0) + 1 FROM models.registry WHERE name = ?", [name]).fetchall()[0][0]
    )
    model_id = f"{name}@{version}"
    artifact = Path(settings.artifacts_dir) / name / f"v{version}" / "model.pkl"
    model.save(artifact)
    times = interactions.get_column("ts") if "ts" in interactions.columns else None
    train_start = times.min() if times is not None else None
    train_end = times.max() if times is not None else None
    with transaction(con):
        con.execute(
            "INSERT INTO models.registry (model_id, name, kind, version, params, fingerprint, train_start, train_end,"
            " metrics, artifact_path, status, device, train_seconds, peak_memory_mb, status_reason)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'candidate', ?, ?, ?, ?)",
            [
                model_id, name, kind, version, json.dumps(full_params), digest, train_start, train_end,
                json.dumps(metrics or {}), str(artifact), model.device, seconds, max(peak_rise_mb, 0.0),
                f"trained {print_name} on {interactions.height} interactions",
            ],
        )  # fmt: skip
    console.log(f"registered {model_id} ({seconds:.1f}s, peak memory rise {max(peak_rise_mb, 0.0):.0f} MB)")
    return ModelVersion(model_id, name, kind, version, "candidate", str(artifact), metrics or {})


def update_metrics(con: duckdb.DuckDBPyConnection, model_id: str, metrics: dict[str, float]) -> None:
    con.execute("UPDATE models.registry SET metrics = ? WHERE model_id = ?", [json.dumps(metrics), model_id])


def load_model(con: duckdb.DuckDBPyConnection, model_id: str) -> Recommender | RatingPredictor:
    rows = con.execute("SELECT name, artifact_path FROM models.registry WHERE model_id = ?", [model_id]).fetchall()
    if not rows:
        raise KeyError(f"model {model_id!r} is not in models.registry")
    name, artifact = rows[0]
    cls = {**CANDIDATE_MODELS, **RATING_MODELS}[name]
    return cls.load(Path(artifact))


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
