"""Flow: retrain the configured models on the warehouse window; promote only without regression."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from tasks.models import retrain_models


@flow(name="retrain", log_prints=True)
def retrain_flow(models: list[str] | None = None) -> list[dict[str, Any]]:
    logger = get_run_logger()
    outcomes = retrain_models(models)
    for outcome in outcomes:
        logger.info("%s: %s", outcome["model_id"], outcome["reason"])
    return outcomes


if __name__ == "__main__":
    retrain_flow()
