"""Flow: retrain the configured models on the warehouse window, one task per model; promote only without
regression; then fit the LLM re-rank blend weight on a validation split (when the LLM layer is on).

Models are independent: a model whose task fails (after its retries of transient errors) is reported
in the leaderboard and the log, and the others still train. The flow fails only when the served
candidate model has no production version at all, since the recommend flow could not run then.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact

from chatrec.logs import quiet_third_party
from chatrec.progress import progress
from chatrec.settings import Settings
from chatrec.warehouse.lock import writes_warehouse
from tasks.llm import finetune_llm_ranker
from tasks.models import fit_llm_blend, plan_retraining, retrain_one_model


def leaderboard(outcomes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per model for the `retrain-leaderboard` table artifact, best holdout metric first per kind."""
    rows = [
        {"model": o["name"], "model_id": o.get("model_id") or "-", "kind": o.get("kind") or "-",
         **{k: round(v, 4) for k, v in (o.get("metrics") or {}).items()},
         "promoted": o.get("promoted", False), "decision": o["reason"]}
        for o in outcomes
    ]  # fmt: skip
    return sorted(rows, key=lambda r: (r["kind"], -float(r.get("ndcg_at_10", 0) or 0), float(r.get("rmse", 0) or 0)))


@flow(name="retrain", log_prints=True)
@writes_warehouse("retrain")
def retrain_flow(models: list[str] | None = None) -> list[dict[str, Any]]:
    quiet_third_party()
    logger = get_run_logger()
    settings = Settings()
    plan = plan_retraining(models)
    names = plan["names"]
    outcomes: list[dict[str, Any]] = []
    for name, note in plan["skipped"].items():  # what this data set cannot train (no ratings: no rating model)
        logger.info(note)
        outcomes.append({"name": name, "promoted": False, "metrics": {}, "reason": note})
    with progress("retrain", total=len(names), unit="models") as advance:
        for name in names:
            state = retrain_one_model(name, return_state=True)
            if state.is_completed():
                outcome = state.result()
                logger.info("%s: %s", outcome["model_id"], outcome["reason"])
            else:
                outcome = {"name": name, "promoted": False, "metrics": {}, "reason": f"FAILED: {state.message}"}
                logger.error("%s failed, the other models go on: %s", name, state.message)
            outcomes.append(outcome)
            advance(1)
    create_table_artifact(key="retrain-leaderboard", table=leaderboard(outcomes),
                          description="holdout metrics of tonight's models and the promotion decision")  # fmt: skip
    served = next((o for o in outcomes if o["name"] == settings.candidate_model), None)
    if served is not None and "model_id" not in served:
        raise RuntimeError(f"the served model {settings.candidate_model} failed to retrain: {served['reason']}")
    if settings.llm_finetune:
        # before the blend fit, so the blend weight is fitted with the adapter that will serve
        adapter = finetune_llm_ranker()
        logger.info("LLM ranker fine-tune %s: %s", adapter["model_id"], adapter["reason"])
    # after the candidate models: the blend is fitted on top of the configured first stage
    blend = fit_llm_blend()
    if blend is not None:
        logger.info("LLM re-rank blend (%s, %s): %s", blend["mode"], blend["llm_model"], blend["verdict"])
    return [o for o in outcomes if "model_id" in o]


if __name__ == "__main__":
    retrain_flow()
