"""Prefect tasks of the LLM layer (thin wrappers over chatrec.llm)."""

from __future__ import annotations

from typing import Any

from prefect import task

from chatrec.llm.finetune import finetune_llm_ranker as finetune
from chatrec.settings import Settings
from chatrec.warehouse import connect


@task(name="finetune-llm-ranker")
def finetune_llm_ranker() -> dict[str, Any]:
    """LoRA-fine-tune the LLM ranker on the warehouse's interactions; promote it only if it does not
    regress the untuned model on a temporal validation split (reuses the row when nothing changed)."""
    settings = Settings()
    con = connect(settings)
    try:
        version = finetune(con, settings)
    finally:
        con.close()
    return {"model_id": version.model_id, "status": version.status, "path": str(version.path),
            "reused": version.reused, "reason": version.reason, "metrics": version.metrics}  # fmt: skip
