"""Wall time of the nightly pipeline on ML-100K, broken down by flow, on a fresh warehouse.

    python -m bench.pipeline [--nights 2] [--llm-users all|N] [--llm-backend auto|ctranslate2|transformers|none]
                             [--set llm_rerank_at_weight_zero=true --set llm_prompt_tokens=640 ...]

Runs each stage flow of the nightly pipeline in order (ingest -> features -> retrain, which also fits
the LLM blend weight -> recommend, which re-ranks and explains `llm_users_per_run` users with the LLM
-> monitor) against a temporary Prefect API, as `chatrec run nightly` does, on the default settings,
and times each; a second night on unchanged data shows what idempotency saves (re-ingest is a
no-op, retraining reuses registered models and the fitted blend, features are reused).
`--llm-users` / `--llm-backend` override the defaults (as CHATREC_LLM_USERS_PER_RUN / _BACKEND would),
`--set setting=value` any other setting (llm_rerank_at_weight_zero=true: every LLM user's candidates
are scored even when the blend weight is 0, so the re-ranking's cost is measured);
each night also reports the LLM stage's own figures from the warehouse (users, seconds, check pass rate)
and the machine's load average (other jobs may share it).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from bench.common import setting_override, write_result


def llm_stage(warehouse: Path) -> dict[str, float]:
    """The newest recommend run's LLM figures (monitoring.metrics, scope llm) and its LLM stage time."""
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute(
            "SELECT metric, value FROM monitoring.metrics WHERE scope = 'llm' AND run_id ="
            " (SELECT run_id FROM recs.runs ORDER BY started_at DESC LIMIT 1)"
        ).fetchall()
    finally:
        con.close()
    figures = {metric: value for metric, value in rows}
    if "latency_ms_per_user" in figures and "llm_users" in figures:
        figures["llm_stage_seconds"] = figures["latency_ms_per_user"] * figures["llm_users"] / 1000
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nights", type=int, default=2)
    parser.add_argument("--llm-users", help="users per run through the LLM: all or a number (default: the setting)")
    parser.add_argument("--llm-backend", help="the LLM backend (default: the setting)")
    parser.add_argument("--result-name", default="pipeline", help="bench/results/<name>.json")
    parser.add_argument("--set", action="append", default=[], metavar="SETTING=VALUE", help="override a setting")
    args = parser.parse_args()
    from chatrec.settings import ENV_PREFIX, Settings

    for pair in args.set:
        key, value = setting_override(pair, "--set")
        os.environ[f"{ENV_PREFIX}{key.upper()}"] = value
    if args.llm_users:
        os.environ["CHATREC_LLM_USERS_PER_RUN"] = args.llm_users
    if args.llm_backend:
        os.environ["CHATREC_LLM_BACKEND"] = args.llm_backend
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    workdir = Path(tempfile.mkdtemp(prefix="chatrec-pipeline-"))
    os.environ["CHATREC_WAREHOUSE_PATH"] = str(workdir / "chatrec.duckdb")
    os.environ["CHATREC_ARTIFACTS_DIR"] = str(workdir / "artifacts")
    from prefect.testing.utilities import prefect_test_harness

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
        for night in range(1, args.nights + 1):
            timings: dict[str, object] = {"load_average_start": os.getloadavg()[0]}
            for name, flow in flows:
                started = time.perf_counter()
                # the monitor flow ends Failed when an alarm fires: still a completed stage
                flow(return_state=True)
                timings[name] = time.perf_counter() - started
                print(f"night {night}: {name} {timings[name]:.1f}s", flush=True)
            timings["total"] = sum(float(timings[name]) for name, _ in flows)  # type: ignore[arg-type]
            timings["load_average_end"] = os.getloadavg()[0]
            timings["llm"] = llm_stage(workdir / "chatrec.duckdb")
            nights.append(timings)
            print(f"night {night}: total {timings['total']:.1f}s, LLM stage {timings['llm']}", flush=True)
    llm = {"backend": settings.llm_backend, "model": settings.llm_model, "mode": settings.llm_rerank_mode,
           "users_per_run": settings.llm_users_per_run, "blend_users": settings.llm_blend_users,
           "prompt_tokens": settings.llm_prompt_tokens, "batch_size": settings.llm_batch_size,
           "rerank_at_weight_zero": settings.llm_rerank_at_weight_zero, "set": args.set}  # fmt: skip
    path = write_result(
        args.result_name, {"nights": nights, "torch_threads_env": os.environ.get("CHATREC_TORCH_THREADS"), "llm": llm}
    )
    print(f"-> {path}")


if __name__ == "__main__":
    main()
