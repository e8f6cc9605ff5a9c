"""Flow: batch recommendations with explanations for all (or selected) users, as one new run, and a
`recommend-sample` table artifact with the first users' recommendations."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact

from chatrec.logs import quiet_third_party
from chatrec.warehouse.lock import writes_warehouse
from tasks.models import recommend_for_users, sample_run_recommendations


@flow(name="recommend", log_prints=True)
@writes_warehouse("recommend")
def recommend_flow(user_ids: list[str] | None = None) -> dict[str, Any]:
    quiet_third_party()
    summary = recommend_for_users(user_ids)
    get_run_logger().info(
        "run %s with %s: %s users, %s recommendations, %s explanations",
        summary["run_id"], summary["model_id"], summary["n_users"],
        summary["n_recommendations"], summary["n_explanations"],
    )  # fmt: skip
    if summary["llm_users"]:
        get_run_logger().info(
            "LLM layer: %s users re-ranked and explained; blend %s",
            summary["llm_users"],
            summary["blend"] or "not used",
        )
    create_table_artifact(
        key="recommend-sample",
        table=sample_run_recommendations(summary["run_id"]),
        description=f"run {summary['run_id']} ({summary['model_id']}): the first users' top-k with explanations",
    )
    return summary


if __name__ == "__main__":
    recommend_flow()
