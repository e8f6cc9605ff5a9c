"""Quality and cost of the item-item catalogue cap (`max_model_items`) on a warehouse's data.

    python -m bench.model_cap --warehouse WORKDIR/chatrec.duckdb --caps 2500,5000,10000,20000 --models dlae,ease

For each model and cap: the nightly's own holdout evaluation (`chatrec.retrain.holdout_metrics`: fit on
the first 90% of the interactions by time, top-10 for the last 10%'s users, at most `eval_max_users` of
them, seeded; all, warm and cold users), in a fresh child process so its wall time, CPU seconds and peak
RSS are its own. The warehouse is opened read-only (a bench.scale work folder, for example). A cap of
0 means no cap (the whole catalogue). Results to bench/results/model_cap[_SUFFIX].json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path


def run_one(warehouse: str, model: str, cap: int) -> dict[str, object]:
    command = [sys.executable, "-m", "bench.model_cap", "--one", model, str(cap), "--warehouse", warehouse]
    started = time.perf_counter()
    child = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)
    seconds = time.perf_counter() - started
    if child.returncode != 0:
        raise RuntimeError(f"{model} at cap {cap} failed (exit {child.returncode})")
    metrics = json.loads(child.stdout.strip().splitlines()[-1])
    return {"model": model, "max_model_items": cap or None, "wall_seconds": round(seconds, 1), **metrics}


def one(warehouse: str, model: str, cap: int) -> None:
    import resource

    import duckdb

    from chatrec.data.frames import interactions_frame, items_frame
    from chatrec.evaluation.splitting import temporal_split
    from chatrec.retrain import holdout_metrics
    from chatrec.settings import Settings

    settings = Settings().model_copy(update={"max_model_items": cap or None})
    con = duckdb.connect(warehouse, read_only=True)
    interactions, items = interactions_frame(con), items_frame(con)
    con.close()
    train, holdout = temporal_split(interactions, 0.1)
    cpu = time.process_time()
    metrics = holdout_metrics(model, settings, train, holdout, items)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    keep = {k: round(v, 4) for k, v in metrics.items() if k.endswith(("ndcg_at_10", "recall_at_10", "_users"))}
    print(json.dumps({**keep, "fit_and_eval_cpu_seconds": round(time.process_time() - cpu, 1),
                      "peak_rss_mb": round(peak), "items": items.height, "interactions": interactions.height}))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warehouse", required=True)
    parser.add_argument("--caps", default="2500,5000,10000", help="comma-separated; 0 = no cap")
    parser.add_argument("--models", default="dlae", help="comma-separated item-item models")
    parser.add_argument("--result-suffix", default="")
    parser.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one(args.warehouse, args.one[0], int(args.one[1]))
        return
    from bench.common import machine, write_result

    if not Path(args.warehouse).is_file():
        parser.error(f"no warehouse file at {args.warehouse}")
    rows = []
    for model in args.models.split(","):
        for cap in (int(c) for c in args.caps.split(",")):
            rows.append(run_one(args.warehouse, model, cap))
            print(rows[-1], flush=True)
    name = "model_cap" + (f"_{args.result_suffix}" if args.result_suffix else "")
    print(f"-> {write_result(name, {'machine': machine(), 'warehouse': args.warehouse, 'rows': rows})}")


if __name__ == "__main__":
    main()
