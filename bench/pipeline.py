"""Wall time of the nightly pipeline on ML-100K, broken down by flow, on a fresh warehouse.

    python -m bench.pipeline

Runs each stage flow of the nightly pipeline in order (ingest -> features -> retrain, which also fits
the LLM blend weight -> recommend, which re-ranks and explains `llm_users_per_run` users with the LLM
-> monitor) against a temporary Prefect API, as `chatrec run nightly` does, on the default settings,
and times each; a second night on unchanged data shows what idempotency saves (re-ingest is a
no-op, retraining reuses registered models and the fitted blend, features are reused).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from bench.common import write_result


def main() -> None:
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    workdir = Path(tempfile.mkdtemp(prefix="chatrec-pipeline-"))
    os.environ["CHATREC_WAREHOUSE_PATH"] = str(workdir / "chatrec.duckdb")
    os.environ["CHATREC_ARTIFACTS_DIR"] = str(workdir / "artifacts")
    from prefect.testing.utilities import prefect_test_harness

    from chatrec.settings import Settings
    from flows.features import features_flow
    from flows.ingest import ingest_flow
    from flows.monitor import monitor_flow
    from flows.recommend import recommend_flow
    from flows.retrain import retrain_flow

    os.environ["CHATREC_REPORTS_DIR"] = str(workdir / "reports")
    os.environ["CHATREC_EVIDENTLY_WORKSPACE"] = str(workdir / "evidently")
    settings = Settings()
    flows = (("ingest", ingest_flow), ("features", features_flow), ("retrain", retrain_flow),
             ("recommend", recommend_flow), ("monitor", monitor_flow))  # fmt: skip

    nights = []
    with prefect_test_harness(server_startup_timeout=120):
        for night in (1, 2):
            timings = {}
            for name, flow in flows:
                started = time.perf_counter()
                # the monitor flow ends Failed when an alarm fires: still a completed stage
                flow(return_state=True)
                timings[name] = time.perf_counter() - started
            timings["total"] = sum(timings.values())
            nights.append(timings)
            print(f"night {night}: " + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()))
    llm = {"backend": settings.llm_backend, "model": settings.llm_model, "mode": settings.llm_rerank_mode,
           "users_per_run": settings.llm_users_per_run, "blend_users": settings.llm_blend_users}  # fmt: skip
    path = write_result(
        "pipeline", {"nights": nights, "torch_threads_env": os.environ.get("CHATREC_TORCH_THREADS"), "llm": llm}
    )
    print(f"-> {path}")


if __name__ == "__main__":
    main()
