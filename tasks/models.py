"""Prefect tasks for retraining and batch recommendation (thin wrappers over the library)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from prefect import task

from chatrec.batch.recommend import recommend_batch
from chatrec.llm.pipeline import fit_blend, llm_enabled
from chatrec.retrain import retrain
from chatrec.settings import Settings
from chatrec.warehouse import connect


@task(name="retrain-models")
def retrain_models(names: list[str] | None = None) -> list[dict[str, Any]]:
    settings = Settings()
    con = connect(settings)
    try:
        outcomes = retrain(con, settings, names)
    finally:
        con.close()
    return [
        {"model_id": o.version.model_id, "kind": o.version.kind, "metrics": o.version.metrics,
         "reused": o.version.reused, "promoted": o.promoted, "reason": o.reason}
        for o in outcomes
    ]  # fmt: skip


@task(name="recommend-batch", retries=1, retry_delay_seconds=5)
def recommend_for_users(user_ids: list[str] | None = None) -> dict[str, Any]:
    settings = Settings()
    con = connect(settings)
    try:
        return asdict(recommend_batch(con, settings, user_ids=user_ids))
    finally:
        con.close()


@task(name="fit-llm-blend", retries=1, retry_delay_seconds=5)
def fit_llm_blend() -> dict[str, Any] | None:
    """Fit the first-stage/LLM blend weight on a temporal validation split (None: LLM re-rank off)."""
    settings = Settings()
    if not llm_enabled(settings) or settings.llm_rerank_mode == "off":
        return None
    con = connect(settings)
    try:
        record = fit_blend(con, settings)
    finally:
        con.close()
    return {**asdict(record), "verdict": record.verdict}
