"""Flow: retrain the configured models on the warehouse window; promote only without regression; then
fit the LLM re-rank blend weight on a validation split (when the LLM layer is on)."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from chatrec.settings import Settings
from tasks.llm import finetune_llm_ranker
from tasks.models import fit_llm_blend, retrain_models


@flow(name="retrain", log_prints=True)
def retrain_flow(models: list[str] | None = None) -> list[dict[str, Any]]:
    logger = get_run_logger()
    outcomes = retrain_models(models)
    for outcome in outcomes:
        logger.info("%s: %s", outcome["model_id"], outcome["reason"])
    if Settings().llm_finetune:
        # before the blend fit, so the blend weight is fitted with the adapter that will serve
        adapter = finetune_llm_ranker()
        logger.info("LLM ranker fine-tune %s: %s", adapter["model_id"], adapter["reason"])
    # after the candidate models: the blend is fitted on top of the configured first stage
    blend = fit_llm_blend()
    if blend is not None:
        logger.info("LLM re-rank blend (%s, %s): %s", blend["mode"], blend["llm_model"], blend["verdict"])
    return outcomes


if __name__ == "__main__":
    retrain_flow()
