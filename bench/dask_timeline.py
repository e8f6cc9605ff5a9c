"""Where a Dask batch run's time goes, worker by worker: start, model + index load, each partition.

    python -m bench.dask_timeline --reuse WORKDIR [--workers 1,2]

On the warehouse and model a `bench.scale` run left in WORKDIR (its work folder), each worker count
gets a fresh LocalCluster (as the nightly starts one) and scores every user in the partitions
`score_on_dask` would make, through the same worker functions (`worker_model_and_index`,
`score_and_write`). Each partition reports when it started, when its worker had the model and
evidence index (the first partition of a worker loads them), and when it ended, in seconds from
the process start. What bench.scale's 2-vs-1 ratio cannot show: how much of a run is fixed per
worker process (start, imports, load, the first partition's cold caches) and how much is scoring,
whose per-user rate is read from the later partitions. Results:
bench/results/dask_timeline_<label>.json.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any


def timed_partition(inputs: Any, users: list[str], settings: Any, parts: Path, number: int) -> dict[str, Any]:
    """One partition on a worker, as `score_and_write_on_worker` runs it, with its times."""
    started = time.time()
    from chatrec.batch.recommend import score_and_write, worker_model_and_index

    model, index = worker_model_and_index(inputs)
    loaded = time.time()
    score_and_write(model, index, users, settings, "bench", parts, number)
    return {"worker_pid": os.getpid(), "users": len(users), "started": started, "loaded": loaded,
            "ended": time.time()}  # fmt: skip


def one_run(workdir: Path, workers: int) -> dict[str, Any]:
    import duckdb

    from chatrec.batch.recommend import WorkerInputs, in_chunks, partition_size
    from chatrec.features.extract import dask_client
    from chatrec.models.training import serving_version
    from chatrec.settings import Settings

    began = time.time()
    settings = Settings(dask_workers=workers)
    con = duckdb.connect(str(workdir / "chatrec.duckdb"), read_only=True)
    serving = serving_version(con, settings, "candidate", settings.candidate_model)
    if serving is None:
        raise SystemExit(f"no production {settings.candidate_model} in {workdir}: run bench.scale there first")
    folder = Path(tempfile.mkdtemp(prefix="chatrec-dask-timeline-"))
    try:
        inputs = WorkerInputs.write(con, serving[0], settings, folder)
        users = [row[0] for row in con.execute("SELECT DISTINCT user_id FROM core.interactions ORDER BY 1").fetchall()]
        con.close()
        inputs_ready = time.time()
        client = dask_client(settings)
        client.wait_for_workers(workers)
        cluster_up = time.time()
        size = partition_size(len(users), workers, settings)
        parts = folder / "parts"
        parts.mkdir()
        futures = [
            client.submit(timed_partition, inputs, chunk, settings, parts, number, pure=False)
            for number, chunk in enumerate(in_chunks(users, size), start=1)
        ]
        partitions = [future.result() for future in futures]
        ended = time.time()
        client.close()
        if client.cluster is not None:
            client.cluster.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    for partition in partitions:
        for key in ("started", "loaded", "ended"):
            partition[key] = round(partition[key] - began, 2)
    first = {}
    for partition in sorted(partitions, key=lambda p: p["started"]):
        first.setdefault(partition["worker_pid"], partition)
    later = [p for p in partitions if first[p["worker_pid"]] is not p]
    later_ms = [1000 * (p["ended"] - p["loaded"]) / p["users"] for p in later]
    return {
        "workers": workers, "users": len(users), "partition_users": size, "seconds": round(ended - began, 2),
        "inputs_ready": round(inputs_ready - began, 2), "cluster_up": round(cluster_up - began, 2),
        "first_task_started": min(p["started"] for p in partitions),
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
