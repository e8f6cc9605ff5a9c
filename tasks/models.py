"""Prefect tasks for retraining (one task per model) and batch recommendation (thin wrappers over the library)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from prefect import task

from chatrec.batch.recommend import recommend_batch, sample_recommendations
from chatrec.data.frames import items_frame
from chatrec.llm.pipeline import fit_blend, llm_enabled
from chatrec.models.training import training_interactions
from chatrec.retrain import plan_retrain, retrain_model
from chatrec.settings import Settings
from tasks.warehouse import warehouse, writer_task


@task(name="plan-retrain")
def plan_retraining(models: list[str] | None = None) -> dict[str, Any]:
    """Which models tonight's data can train, why the others are skipped; fails (nothing written)
    when one would not fit the memory budget."""
    settings = Settings()
    with warehouse(settings) as con:
        names, skipped = plan_retrain(con, settings, models)
    return {"names": names, "skipped": skipped}


@writer_task("retrain-model", task_run_name="retrain-{name}")
def retrain_one_model(name: str) -> dict[str, Any]:
    """Evaluate, refit, register and promote (or not) one model; each reads its own data, so one
    model's failure or retry leaves the others alone."""
    settings = Settings()
    with warehouse(settings) as con:
        interactions = training_interactions(con, settings, "retraining")
        outcome = retrain_model(con, settings, name, interactions, items_frame(con))
    version = outcome.version
    return {"name": name, "model_id": version.model_id, "kind": version.kind, "metrics": version.metrics,
            "reused": version.reused, "promoted": outcome.promoted, "reason": outcome.reason}  # fmt: skip


@writer_task("recommend-batch")
def recommend_for_users(user_ids: list[str] | None = None) -> dict[str, Any]:
    settings = Settings()
    with warehouse(settings) as con:
        return asdict(recommend_batch(con, settings, user_ids=user_ids))


@writer_task("sample-recommendations")
def sample_run_recommendations(run_id: str, n_users: int = 5) -> list[dict[str, Any]]:
    """A few users' recommendations of the run (reads the live file, so it queues with the writers)."""
    settings = Settings()
    with warehouse(settings) as con:
        return sample_recommendations(con, run_id, n_users)


@writer_task("fit-llm-blend")
def fit_llm_blend() -> dict[str, Any] | None:
    """Fit the first-stage/LLM blend weight on a temporal validation split (None: LLM re-rank off)."""
    settings = Settings()
    if not llm_enabled(settings) or settings.llm_rerank_mode == "off":
        return None
    with warehouse(settings) as con:
        record = fit_blend(con, settings)
    return {**asdict(record), "verdict": record.verdict}
