"""Where a Dask batch run's time goes, worker by worker: start, model + index load, each partition.

    python -m bench.dask_timeline --reuse WORKDIR [--workers 1,2]

On the warehouse and model a `bench.scale` run left in WORKDIR (its work folder), each worker count
gets a fresh LocalCluster (as the nightly starts one) and scores every user through `score_on_dask`
itself (cluster start, each worker's model load while the inputs are written, the partitions), each
partition run by `timed_partition` (the worker functions of `score_and_write_on_worker`). Each
partition reports when it started, when its worker had the model and the evidence index (loaded
by the worker's popular-rows task since session 10; before, its first partition built the index),
and when it ended, in seconds from the run's start. What
bench.scale's 2-vs-1 ratio cannot show: how much of a run is fixed per worker process (start,
imports, load, the first partition's cold caches) and how much is scoring, whose per-user rate is
read from the later partitions. Results: bench/results/dask_timeline_<label>.json.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any


def timed_partition(
    inputs: Any, users: list[str], settings: Any, source: str, parts: Path, number: int, exclude: Any = None
) -> dict[str, Any]:
    """One partition on a worker, as `score_and_write_on_worker` runs it, with its times."""
    started = time.time()
    from chatrec.batch.recommend import score_and_write, worker_index, worker_model

    model = worker_model(inputs)  # loaded by the worker's first task, before this one, when score_on_dask sent it
    model_ready = time.time()
    index = worker_index(inputs)
    loaded = time.time()
    score_and_write(model, index, users, settings, source, parts, number, exclude)
    return {"worker_pid": os.getpid(), "users": len(users), "started": started, "model_ready": model_ready,
            "loaded": loaded, "ended": time.time()}  # fmt: skip


def one_run(workdir: Path, workers: int) -> dict[str, Any]:
    """One batch run through `score_on_dask` itself (the inputs written while the cluster starts, model
    loads, the popular rows' shares, the partitions), the partitions timed by `timed_partition`.
    `inputs_started`/`inputs_ready`: when the flow's process began and finished the evidence index
    (before session 10 the first was `cluster_up`: the index was written once the cluster was up)."""
    import duckdb

    from chatrec.batch.recommend import WorkerInputs, partition_size, score_on_dask
    from chatrec.models.training import serving_version
    from chatrec.settings import Settings

    settings = Settings(dask_workers=workers)
    con = duckdb.connect(str(workdir / "chatrec.duckdb"), read_only=True)
    serving = serving_version(con, settings, "candidate", settings.candidate_model)
    if serving is None:
        raise SystemExit(f"no production {settings.candidate_model} in {workdir}: run bench.scale there first")
    users = [row[0] for row in con.execute("SELECT DISTINCT user_id FROM core.interactions ORDER BY 1").fetchall()]
    folder = Path(tempfile.mkdtemp(prefix="chatrec-dask-timeline-"))
    marks: dict[str, float] = {}
    partitions: list[dict[str, Any]] = []

    def write_inputs() -> None:
        marks["inputs_started"] = time.time()
        inputs.write(con)
        marks["inputs_ready"] = time.time()

    began = time.time()
    try:
        inputs = WorkerInputs.at(serving[0], settings, folder / "inputs", verified=True)  # checked just above
        parts = folder / "parts"
        parts.mkdir()
        score_on_dask(inputs, write_inputs, users, settings, "bench", parts, partitions.append, task=timed_partition)
        ended = time.time()
    finally:
        con.close()
        shutil.rmtree(folder, ignore_errors=True)
    size = partition_size(len(users), workers, settings)
    for partition in partitions:
        for key in ("started", "model_ready", "loaded", "ended"):
            partition[key] = round(partition[key] - began, 2)
    first = {}
    for partition in sorted(partitions, key=lambda p: p["started"]):
        first.setdefault(partition["worker_pid"], partition)
    later = [p for p in partitions if first[p["worker_pid"]] is not p]
    later_ms = [1000 * (p["ended"] - p["loaded"]) / p["users"] for p in later]
    return {
        "workers": workers, "users": len(users), "partition_users": size, "seconds": round(ended - began, 2),
        "inputs_started": round(marks["inputs_started"] - began, 2), "inputs_ready": round(marks["inputs_ready"] - began, 2),
        "first_task_started": min(p["started"] for p in partitions),
        "model_wait_seconds": [round(p["model_ready"] - p["started"], 2) for p in first.values()],
        "load_seconds": [round(p["loaded"] - p["started"], 2) for p in first.values()],
        "first_partition_ms_per_user": [round(1000 * (p["ended"] - p["loaded"]) / p["users"], 3) for p in first.values()],
        "later_partitions_ms_per_user": round(sum(later_ms) / len(later_ms), 3) if later_ms else None,
        "partitions": partitions,
    }  # fmt: skip


def main() -> None:
    from bench.common import write_result
    from bench.scale import settings_env

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reuse", required=True, help="a bench.scale work folder (holds chatrec.duckdb)")
    parser.add_argument("--workers", default="1,2", help="worker counts, run in this order")
    parser.add_argument("--label", default="5M", help="bench/results/dask_timeline_<label>.json")
    args = parser.parse_args()
    workdir = Path(args.reuse)
    if not (workdir / "chatrec.duckdb").is_file():
        parser.error(f"{workdir} holds no chatrec.duckdb from a bench.scale run")
    os.environ.update(settings_env(workdir))
    runs = []
    for workers in (int(w) for w in args.workers.split(",")):
        runs.append(one_run(workdir, workers))
        summary = {k: v for k, v in runs[-1].items() if k != "partitions"}
        print(summary, flush=True)
    print(
        write_result(f"dask_timeline_{args.label}", {"args": vars(args), "runs": runs, "load_average": os.getloadavg()})
    )


if __name__ == "__main__":
    main()
