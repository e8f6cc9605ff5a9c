"""Flow: batch recommendations with explanations for all (or selected) users, as one new run."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from tasks.models import recommend_for_users


@flow(name="recommend", log_prints=True)
def recommend_flow(user_ids: list[str] | None = None) -> dict[str, Any]:
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
    return summary


if __name__ == "__main__":
    recommend_flow()
