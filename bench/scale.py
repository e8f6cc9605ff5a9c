"""Wall time and peak memory of each nightly stage (LLM off) on synthetic MovieLens-shaped data.

    nice -n 10 python -m bench.scale --sizes 1M            # what docs/benchmarks.md reports
    nice -n 10 python -m bench.scale --sizes 1M,5M --dask-workers 1,2
    python -m bench.scale --sizes 25M                      # ~160K users, 60K items (ML-25M's shape)

Each size gets a fresh warehouse. Every stage runs in its own child process, so its peak resident
memory (`ru_maxrss` from wait4: the largest of that child and the processes it reaped, such as Dask
workers; a peak, not a sum) and its CPU seconds (user + system, those processes included) are its
own. Beside it, the machine's memory in use (MemTotal - MemAvailable, sampled every 0.5 s) before and
at its peak during the stage: for a stage on Dask, all its processes together (and anything else the
machine runs). Stages are the nightly's, called through the library (no Prefect server, whose
fixed start-up cost would hide the data-dependent part): generate, ingest (the generated Parquet
through `chatrec ingest csv`'s code path), features, retrain (the default models), recommend (the
batch run, in-process), monitor. `--dask-workers 1,2` adds the batch run again on a LocalCluster of
each worker count (same data, same model), for the scale-out comparison; `1,2,2,1` runs each twice,
in that order; a count ending in "p" (`2p`) runs with Dask's own worker profiler and 20 ms tick
instead of chatrec's LocalCluster settings (`LOCAL_WORKER_CONFIG`), their baseline; one ending in
"s" (`2s`) with workers spawned as Dask starts them (each importing torch and the rest itself), not
forked from chatrec's preloaded forkserver (`WORKER_PRELOAD`), that one's baseline.

`--reuse DIR --stages recommend --dask-workers 1,2,2,1` runs only the named stages on the warehouse a
previous run left in DIR (its work folder, printed at its start): the batch run and the monitor can
be timed again without ingesting and retraining again.

Users and items per size: see SHAPES.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

SIZES = {"100K": 100_000, "1M": 1_000_000, "5M": 5_000_000, "25M": 25_000_000}
STAGES = ("generate", "ingest", "features", "retrain", "recommend", "monitor")
DETAIL_FILE = "stage_detail.json"
# set for a `--dask-workers` entry ending in "p" (2p): that run's workers keep Dask's own profiler
DASK_PROFILER_ENV = "CHATREC_BENCH_DASK_PROFILER"
# set for an entry ending in "s" (2s): that run's workers are spawned, not forked from the forkserver
DASK_SPAWN_ENV = "CHATREC_BENCH_DASK_SPAWN"


# (users, items) per size: MovieLens 100K's and 1M's own shapes, ML-25M's (about 160K users, 60K items),
# and between them 5M with a catalogue past the default max_model_items, so the cap binds
SHAPES = {"100K": (943, 1_682), "1M": (6_040, 3_706), "5M": (32_000, 20_000), "25M": (160_000, 60_000)}


def shape(interactions: int) -> tuple[int, int]:
    label = next(k for k, v in SIZES.items() if v == interactions)
    return SHAPES[label]


def run_stage(stage: str, workdir: Path, data: Path, interactions: int, env: dict[str, str]) -> dict[str, Any]:
    """Run one stage in a child process; its wall time, peak RSS and the load average around it."""
    command = [sys.executable, "-m", "bench.scale", "--stage", stage, "--workdir", str(workdir)]
    command += ["--data", str(data), "--interactions", str(interactions)]
    load_before = load_average()
    in_use_before = machine_memory_in_use_mb()
    started = time.perf_counter()
    child = subprocess.Popen(command, env={**os.environ, **env})
    sampler = MemorySampler()
    sampler.start()
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    sampler.stop.set()
    sampler.join()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"stage {stage} failed (exit {os.waitstatus_to_exitcode(status)})")
    # CPU seconds (user + system, the child's and the processes it reaped, Dask workers included) say
    # what a stage costs whatever else the machine runs; wall seconds grow with the machine's load
    cpu = usage.ru_utime + usage.ru_stime
    detail = workdir / DETAIL_FILE  # what the stage itself reported (the batch run's phases)
    extra = json.loads(detail.read_text()) if detail.is_file() else {}
    detail.unlink(missing_ok=True)
    return {"stage": stage, "seconds": round(seconds, 1), "cpu_seconds": round(cpu, 1),
            "peak_rss_mb": round(usage.ru_maxrss / 1024),
            "machine_memory_in_use_before_mb": in_use_before, "machine_memory_in_use_peak_mb": sampler.peak_mb,
            "load_average_before": load_before, "load_average_after": load_average(), **extra}  # fmt: skip


def machine_memory_in_use_mb() -> int:
    """MemTotal - MemAvailable: what every process on the machine holds (page cache not counted)."""
    fields = {}
    for line in Path("/proc/meminfo").read_text().splitlines():
        name, value = line.split(":", 1)
        fields[name] = int(value.split()[0])
    return round((fields["MemTotal"] - fields["MemAvailable"]) / 1024)


class MemorySampler(threading.Thread):
    """The machine's memory in use, sampled every 0.5 s while a stage runs: a stage on Dask holds its
    memory in several processes, and ru_maxrss gives only the largest one's peak."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.peak_mb = machine_memory_in_use_mb()

    def run(self) -> None:
        while not self.stop.wait(0.5):
            self.peak_mb = max(self.peak_mb, machine_memory_in_use_mb())


def settings_env(workdir: Path) -> dict[str, str]:
    return {
        "CHATREC_WAREHOUSE_PATH": str(workdir / "chatrec.duckdb"),
        "CHATREC_ARTIFACTS_DIR": str(workdir / "artifacts"),
        "CHATREC_REPORTS_DIR": str(workdir / "reports"),
        "CHATREC_EVIDENTLY_WORKSPACE": str(workdir / "evidently"),
        "CHATREC_CACHE_DIR": str(workdir / "cache"),
        "CHATREC_LLM_BACKEND": "none",
        # one torch thread: on a shared 2-core machine two intra-op threads contend (STACK.md)
        "CHATREC_TORCH_THREADS": os.environ.get("CHATREC_TORCH_THREADS", "1"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }


def stage_main(stage: str, workdir: Path, data: Path, interactions: int) -> None:
    """One stage, in this (child) process."""
    from chatrec.data.synthetic import SyntheticSpec, write_parquet
    from chatrec.settings import Settings
    from chatrec.warehouse import connect

    users, items = shape(interactions)
    spec = SyntheticSpec(users=users, items=items, interactions=interactions, seed=42)
    if stage == "generate":
        written = write_parquet(spec, data)
        (data / "mapping.txt").write_text(written.mapping)
        return
    if os.environ.get(DASK_PROFILER_ENV):
        from bench.common import dask_worker_defaults
        from chatrec.features import extract

        extract.LOCAL_WORKER_CONFIG = dask_worker_defaults()
    if os.environ.get(DASK_SPAWN_ENV):
        from chatrec.features import extract

        extract._worker_start_config = spawned_workers
    settings = Settings()
    con = connect(settings)
    try:
        if stage == "ingest":
            from chatrec.data.ingest import ingest_table

            summary = ingest_table(con, data / "interactions.parquet", (data / "mapping.txt").read_text())
            assert summary.rows_quarantined == 0, summary
        elif stage == "features":
            from chatrec.features.extract import extract_features

            extract_features(con, settings)
        elif stage == "retrain":
            from chatrec.retrain import retrain

            retrain(con, settings)
        elif stage.startswith("recommend"):
            from chatrec.batch.recommend import recommend_batch

            summary = recommend_batch(con, settings)
            (workdir / DETAIL_FILE).write_text(json.dumps({"phases_seconds": summary.phases}))
        elif stage == "monitor":
            from chatrec.monitoring.monitor import monitor

            monitor(con, settings)
        else:
            raise ValueError(f"unknown stage {stage!r}")
    finally:
        con.close()
        reap_forkserver()


def spawned_workers() -> dict[str, str]:
    """No Dask settings for the workers' start: Dask's default (spawn), without chatrec's preload."""
    return {}


def reap_forkserver() -> None:
    """Stop this process's multiprocessing forkserver, if it started one, and wait for it.

    Dask's LocalCluster workers start from the forkserver (chatrec.features.extract.WORKER_PRELOAD), so
    they are its children, not this process's: it reaps them, and waiting for it here adds their CPU
    time and peak memory to this stage's (wait4 in `run_stage`), as when they were this process's
    children."""
    from multiprocessing import forkserver

    server = forkserver._forkserver  # the stdlib has no public stop
    if server._forkserver_pid is not None:
        server._stop()


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1M", help=f"comma-separated, of {', '.join(SIZES)}")
    parser.add_argument(
        "--dask-workers",
        default="",
        help="e.g. 1,2: also time the batch run on Dask (2p: with Dask's worker profiler; 2s: workers spawned)",
    )
    parser.add_argument(
        "--data",
        help="folder for the generated data, one subfolder per size; data already there is reused "
        "(generation is not a nightly stage); default: inside each size's fresh work folder",
    )
    parser.add_argument("--stages", default=",".join(STAGES), help="comma-separated stages to run (default: all)")
    parser.add_argument("--reuse", help="a previous run's work folder: run --stages on its warehouse (one size)")
    parser.add_argument("--result-suffix", default="", help="bench/results/scale_<sizes>_<suffix>.json")
    parser.add_argument("--stage", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    parser.add_argument("--interactions", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        stage_main(args.stage, Path(args.workdir), Path(args.data), args.interactions)
        return

    from bench.common import machine, write_result

    selected = args.stages.split(",")
    if unknown := set(selected) - set(STAGES):
        parser.error(f"unknown stage(s) {', '.join(sorted(unknown))}; stages: {', '.join(STAGES)}")
    if args.reuse and ("," in args.sizes or not (Path(args.reuse) / "chatrec.duckdb").is_file()):
        parser.error("--reuse takes one size and a work folder holding chatrec.duckdb from an earlier run")
    runs = []
    for label in args.sizes.split(","):
        interactions = SIZES[label]
        users, items = shape(interactions)
        workdir = Path(args.reuse) if args.reuse else Path(tempfile.mkdtemp(prefix=f"chatrec-scale-{label}-"))
        env = settings_env(workdir)
        print(f"== {label}: {interactions:,} interactions, {users:,} users, {items:,} items ({workdir})", flush=True)
        data = Path(args.data) / label if args.data else workdir / "data"
        stages = []
        load_before = load_average()
        for stage in (s for s in STAGES if s in selected):
            if stage == "generate" and (data / "mapping.txt").is_file():
                print(f"   generate: reusing {data}", flush=True)
                continue
            stages.append(run_stage(stage, workdir, data, interactions, env))
            print(f"   {stages[-1]}", flush=True)
        dask = []
        for spec in filter(None, args.dask_workers.split(",")):
            workers, profiler, spawn = spec.rstrip("ps"), spec.endswith("p"), spec.endswith("s")
            dask_env = {**env, "CHATREC_DASK_BATCH_MIN_USERS": "1", "CHATREC_DASK_WORKERS": workers}
            if profiler:
                dask_env[DASK_PROFILER_ENV] = "1"
            if spawn:
                dask_env[DASK_SPAWN_ENV] = "1"
            result = run_stage("recommend", workdir, data, interactions, dask_env)
            dask.append({**result, "dask_workers": int(workers), "dask_profiler": profiler, "dask_spawn": spawn})
            print(f"   {dask[-1]}", flush=True)
        runs.append(
            {"size": label, "interactions": interactions, "users": users, "items": items, "stages": stages,
             "nightly_seconds": round(sum(s["seconds"] for s in stages if s["stage"] != "generate"), 1),
             "peak_rss_mb": max((s["peak_rss_mb"] for s in stages), default=None), "recommend_on_dask": dask,
             "stages_run": selected, "reused_workdir": args.reuse,
             "load_average_before": load_before, "load_average_after": load_average()}
        )  # fmt: skip
    name = "scale_" + args.sizes.replace(",", "_") + (f"_{args.result_suffix}" if args.result_suffix else "")
    path = write_result(name, {"machine": machine(), "runs": runs, "nice": os.nice(0)})
    print(json.dumps(runs, indent=1))
    print(f"-> {path}")


if __name__ == "__main__":
    main()
