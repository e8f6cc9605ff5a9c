"""The nightly's LLM stage on the same users, side by side: backends and in-process vs Dask workers.

    python -m bench.llm_stage [--warehouse var/chatrec.duckdb] [--users 160]
                              [--configs ctranslate2 int8 int8-dask2 int8:llm_prompt_tokens=640 ...]

Each configuration runs `recommend_batch` (the batch run the nightly's recommend stage makes) for the
same first `--users` users of a copy of a trained warehouse (`make run` leaves one in var/), so
candidates, evidence and prompts are identical; only the LLM backend and where it runs change.
Configurations:
  int8          transformers, dynamic int8 linear layers, in-process (the CPU default)
  fp32          transformers in fp32, in-process
  ctranslate2   CTranslate2 int8, in-process
  int8-dask1    int8 on a LocalCluster of 1 worker process (one thread)
  int8-dask2    int8 on a LocalCluster of 2 worker processes (one thread each)
  int8-stepwise int8, guided decoding one token per model step (no jumping forward over forced tokens)
  int8-sdpa     int8 with transformers' own SDPA attention (masked grouped key/value heads copied per
                query head group), in-process: the baseline of the attention the backend uses
  int8-dask2-profiler  int8-dask2 with Dask's worker profiler and 20 ms tick (its defaults): the
                baseline of the worker settings chatrec's LocalCluster uses
A configuration may add settings after a colon (`int8-dask2:llm_prompt_tokens=640,llm_batch_size=32`),
so a setting's values are compared on the same users in one run.
`--rerank` also scores the candidates (llm_rerank_at_weight_zero), which the nightly skips when the
blend weight is 0. Reported per configuration: wall seconds (worker start and model loads included),
users per minute, explanation pass rate and fallback reasons. Results: bench/results/llm_stage.json.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path

import duckdb

from bench.common import dask_worker_defaults, setting_override, write_result
from chatrec.batch.recommend import recommend_batch
from chatrec.features import extract
from chatrec.features.extract import LOCAL_WORKER_CONFIG
from chatrec.llm.backends.transformers_backend import GROUPED_SDPA, TransformersBackend
from chatrec.settings import Settings

CONFIGS: dict[str, dict[str, object]] = {
    "int8": {"llm_backend": "transformers", "llm_int8": True},
    "fp32": {"llm_backend": "transformers", "llm_int8": False},
    "ctranslate2": {"llm_backend": "ctranslate2"},
    "int8-dask1": {"llm_backend": "transformers", "llm_int8": True, "llm_dask_min_users": 1, "dask_workers": 1},
    "int8-dask2": {"llm_backend": "transformers", "llm_int8": True, "llm_dask_min_users": 1, "dask_workers": 2},
    "int8-stepwise": {"llm_backend": "transformers", "llm_int8": True},
    "int8-sdpa": {"llm_backend": "transformers", "llm_int8": True},
    "int8-dask2-profiler": {
        "llm_backend": "transformers",
        "llm_int8": True,
        "llm_dask_min_users": 1,
        "dask_workers": 2,
    },
}
# guided decoding one token per model step (TransformersBackend.jump_forward off): the baseline of
# feeding forced tokens together; in-process only (the switch is this process's)
STEPWISE = {"int8-stepwise"}
# transformers' own SDPA attention (grouped key/value heads copied per query head group when masked):
# the baseline of `sdpa_grouped_attention`; in-process only, like STEPWISE
OWN_SDPA = {"int8-sdpa"}
# workers with Dask's own profiler (a 10 ms stack sampler) and 20 ms event-loop tick: the baseline of
# LOCAL_WORKER_CONFIG's (the malloc setting stays, its effect is measured in docs/benchmarks.md)
DASK_PROFILER = {"int8-dask2-profiler"}


def config_settings(spec: str) -> dict[str, object]:
    """The settings of `name[:key=value,...]`: a named configuration plus overrides (validated by Settings)."""
    name, _, overrides = spec.partition(":")
    if name not in CONFIGS:
        raise SystemExit(f"unknown configuration {name!r} in {spec!r}; choose one of {', '.join(CONFIGS)}")
    extra = dict(setting_override(pair, repr(spec)) for pair in filter(None, overrides.split(",")))
    return {**CONFIGS[name], **extra}


def run_config(name: str, source: Path, users: int, rerank: bool) -> dict[str, object]:
    folder = Path(tempfile.mkdtemp(prefix="chatrec-llm-stage-"))
    try:
        warehouse = folder / "warehouse.duckdb"
        shutil.copy(source, warehouse)
        settings = Settings(
            warehouse_path=warehouse, llm_users_per_run=None, llm_rerank_at_weight_zero=rerank,
            **{"llm_dask_min_users": None, **config_settings(name)},  # type: ignore[arg-type]
        )  # fmt: skip
        con = duckdb.connect(str(warehouse))
        chosen = [
            r[0] for r in con.execute("SELECT user_id FROM core.users ORDER BY user_id LIMIT ?", [users]).fetchall()
        ]
        base = name.partition(":")[0]
        TransformersBackend.jump_forward = base not in STEPWISE
        TransformersBackend.attention = "sdpa" if base in OWN_SDPA else GROUPED_SDPA
        if base in DASK_PROFILER:
            extract.LOCAL_WORKER_CONFIG = dask_worker_defaults()
        try:
            started = time.perf_counter()
            run = recommend_batch(con, settings, user_ids=chosen)
            seconds = time.perf_counter() - started
        finally:
            TransformersBackend.jump_forward = True
            TransformersBackend.attention = GROUPED_SDPA
            extract.LOCAL_WORKER_CONFIG = LOCAL_WORKER_CONFIG
        failures = Counter(
            row[0]
            for row in con.execute(
                "SELECT check_failure FROM recs.explanations WHERE run_id = ? AND source = 'template'", [run.run_id]
            ).fetchall()
        )
        # what the users read: the LLM-phrased explanations' length (a shorter prompt must not buy a poorer sentence)
        words, phrased = con.execute(
            "SELECT avg(len(string_split(text, ' '))), count(*) FROM recs.explanations WHERE run_id = ? AND source = 'llm'",
            [run.run_id],
        ).fetchone()
        samples = [
            r[0]
            for r in con.execute(
                "SELECT text FROM recs.explanations WHERE run_id = ? AND source = 'llm' ORDER BY user_id, item_id LIMIT 3",
                [run.run_id],
            ).fetchall()
        ]
        con.close()
        metrics = run.llm_metrics or {}
        return {
            "config": name, "users": len(chosen), "seconds": round(seconds, 1),
            "users_per_min": round(60 * len(chosen) / seconds, 1),
            "explanation_pass_rate": metrics.get("explanation_check_pass_rate"),
            "valid_output_rate": metrics.get("valid_output_rate"), "fallback_reasons": dict(failures),
            "settings": config_settings(name), "prompt_tokens_mean": metrics.get("prompt_tokens_mean"),
            "llm_explanations": phrased, "explanation_words_mean": round(words, 1) if words else None,
            "explanation_samples": samples,
        }  # fmt: skip
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, default=Path("var/chatrec.duckdb"))
    parser.add_argument("--users", type=int, default=160)
    parser.add_argument("--configs", nargs="+", default=["int8", "int8-dask2"], help=f"of {', '.join(CONFIGS)}")
    parser.add_argument("--rerank", action="store_true", help="also score candidates (w = 0 skips it)")
    parser.add_argument("--result-name", default="llm_stage")
    args = parser.parse_args()
    if not args.warehouse.is_file():
        raise SystemExit(f"no trained warehouse at {args.warehouse}: run `make run` (or pass --warehouse)")
    for spec in args.configs:
        config_settings(spec)  # a typo fails here, not after an hour of measuring
    runs = []
    for name in args.configs:
        runs.append(run_config(name, args.warehouse, args.users, args.rerank))
        print(runs[-1], flush=True)
        write_result(args.result_name, {"args": vars(args), "runs": runs})
    base = runs[0]["seconds"]
    for run in runs:
        print(f"{run['config']:>24}: {run['seconds']:7.1f} s, {run['users_per_min']:6.1f} users/min, "
              f"{base / run['seconds']:.2f}x {runs[0]['config']}, pass {run['explanation_pass_rate']}")  # fmt: skip


if __name__ == "__main__":
    main()
