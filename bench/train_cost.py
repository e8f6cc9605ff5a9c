"""Fit one model on ML-100K in this (fresh) process; print its fit time and peak memory as JSON.

python -m bench.train_cost WAREHOUSE MODEL PARAMS_JSON TEST_RATIO|msr|none rating|ranking
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak() -> None:
    """Reset the kernel's RSS high-water mark (VmHWM), so the peak measured covers the fit only and
    not the earlier loading of the frames (Linux: writing 5 to clear_refs)."""
    Path("/proc/self/clear_refs").write_text("5")


def main() -> None:
    warehouse, name, params, ratio, kind = sys.argv[1:6]
    import duckdb
    import torch

    torch.set_num_threads(1)  # same as bench.quality's default

    from chatrec.data.frames import interactions_frame, items_frame
    from chatrec.evaluation.protocols import GlobalMeanBaseline, movielens_file_order, msr_benchmark_split
    from chatrec.evaluation.splitting import per_user_random_split
    from chatrec.models import CANDIDATE_MODELS, RATING_MODELS

    con = duckdb.connect(warehouse, read_only=True)
    interactions, items = interactions_frame(con), items_frame(con)
    if ratio == "msr":
        interactions, _ = msr_benchmark_split(movielens_file_order(con), seed=42)
    con.close()
    if ratio not in ("none", "msr"):
        interactions, _ = per_user_random_split(interactions, float(ratio), seed=42)
    registry = {**CANDIDATE_MODELS, **RATING_MODELS, "global_mean": GlobalMeanBaseline}
    model = registry[name](seed=42, **json.loads(params))
    reset_peak()
    before = status_mb("VmRSS")
    started = time.perf_counter()
    model.fit(interactions) if kind == "rating" else model.fit(interactions, items)
    seconds = time.perf_counter() - started
    peak = status_mb("VmHWM")
    print(
        json.dumps(
            {"fit_seconds": seconds, "rss_before_mb": before, "peak_rss_mb": peak, "peak_increase_mb": peak - before}
        )
    )


if __name__ == "__main__":
    main()
