"""Prefect tasks of the LLM layer (thin wrappers over chatrec.llm)."""

from __future__ import annotations

from typing import Any

from chatrec.llm.finetune import finetune_llm_ranker as finetune
from chatrec.settings import Settings
from tasks.warehouse import warehouse, writer_task


@writer_task("finetune-llm-ranker")
def finetune_llm_ranker() -> dict[str, Any]:
    """LoRA-fine-tune the LLM ranker on the warehouse's interactions; promote it only if it does not
    regress the untuned model on a temporal validation split (reuses the row when nothing changed)."""
    settings = Settings()
    with warehouse(settings) as con:
        version = finetune(con, settings)
    return {"model_id": version.model_id, "status": version.status, "path": str(version.path),
            "reused": version.reused, "reason": version.reason, "metrics": version.metrics}  # fmt: skip
