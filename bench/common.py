"""Shared benchmark plumbing: a warehouse with ML-100K, machine facts, result files, peak memory."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import torch

RESULTS = Path(__file__).parent / "results"


def ml100k_warehouse() -> Path:
    """A scratch warehouse holding the packaged MovieLens 100K (built with the real ingest)."""
    from chatrec.data.ingest import ingest_movielens
    from chatrec.warehouse import connect

    path = Path(tempfile.mkdtemp(prefix="chatrec-bench-")) / "bench.duckdb"
    con = connect(path=path)
    ingest_movielens(con)
    con.close()
    return path


def read_only(path: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(path), read_only=True)


def machine() -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.is_available(),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def setting_override(pair: str, where: str) -> tuple[str, str]:
    """`setting=value` from a bench command line, the setting one of chatrec's (its value is checked
    when Settings reads it); `where` names the argument in the error."""
    from chatrec.settings import Settings

    key, sep, value = pair.partition("=")
    if not sep or key not in Settings.model_fields:
        raise SystemExit(f"{pair!r} in {where} is not setting=value with a chatrec setting")
    return key, value


def write_result(name: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **payload}, indent=2, default=str))
    return path


def train_cost(
    warehouse: Path, model: str, params: dict[str, Any], split: float | str | None, rating: bool
) -> dict[str, float]:
    """Fit one model in a fresh process (python -m bench.train_cost) and report its time and peak memory.

    `split` picks the training part: a per-user test ratio, "msr" (Microsoft Recommenders' per-item
    split) or None (all ratings).

    A fresh process, because the high-water mark of this one already includes earlier models, and
    forking a process whose torch thread pools are running can deadlock.
    """
    command = [
        sys.executable, "-m", "bench.train_cost", str(warehouse), model, json.dumps(params),
        "none" if split is None else str(split), "rating" if rating else "ranking",
    ]  # fmt: skip
    output = subprocess.run(command, capture_output=True, text=True, check=True, cwd=Path(__file__).parents[1])
    return json.loads(output.stdout.strip().splitlines()[-1])


def dask_worker_defaults() -> dict[str, object]:
    """chatrec's LocalCluster worker settings with Dask's own profiler and tick back (the malloc
    setting kept): the baseline `bench.llm_stage` and `bench.scale` measure them against."""
    from chatrec.features.extract import LOCAL_WORKER_CONFIG

    return {k: v for k, v in LOCAL_WORKER_CONFIG.items() if "MALLOC" in k}
