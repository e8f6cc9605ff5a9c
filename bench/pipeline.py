"""Wall time of the nightly pipeline on ML-100K, broken down by flow, on a fresh warehouse.

    python -m bench.pipeline

Runs each stage flow in order against a temporary Prefect API (as `chatrec run nightly` does) and
times it; a second night on unchanged data shows what idempotency saves (re-ingest is a no-op,
retraining reuses registered models).
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

    from flows.ingest import ingest_flow
    from flows.recommend import recommend_flow
    from flows.retrain import retrain_flow

    nights = []
    with prefect_test_harness(server_startup_timeout=120):
        for night in (1, 2):
            timings = {}
            for name, flow in (("ingest", ingest_flow), ("retrain", retrain_flow), ("recommend", recommend_flow)):
                started = time.perf_counter()
                flow()
                timings[name] = time.perf_counter() - started
            timings["total"] = sum(timings.values())
            nights.append(timings)
            print(f"night {night}: " + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()))
    print(
        f"-> {write_result('pipeline', {'nights': nights, 'torch_threads_env': os.environ.get('CHATREC_TORCH_THREADS')})}"
    )


if __name__ == "__main__":
    main()
