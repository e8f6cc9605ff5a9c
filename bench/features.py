"""Features flow cost: DuckDB-only vs Dask LocalCluster with 1 and 2 workers, side by side.

python -m bench.features
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
from pathlib import Path

from bench.common import ml100k_warehouse, write_result
from chatrec.features.extract import extract_features
from chatrec.settings import Settings
from chatrec.warehouse import connect

REPEATS = 3


def timed(source: Path, *, workers: int | None) -> float:
    copy = Path(tempfile.mkdtemp()) / "wh.duckdb"
    shutil.copyfile(source, copy)
    con = connect(path=copy)
    run = extract_features(con, Settings(dask_workers=workers or 1), use_dask=workers is not None)
    con.close()
    return run.seconds


def main() -> None:
    source = ml100k_warehouse()
    arms = {"duckdb + pandas, no Dask": None, "Dask LocalCluster, 1 worker": 1, "Dask LocalCluster, 2 workers": 2}
    results = {}
    for name, workers in arms.items():
        seconds = [timed(source, workers=workers) for _ in range(REPEATS)]
        results[name] = {"median_s": statistics.median(seconds), "runs_s": seconds}
        print(f"{name}: median {results[name]['median_s']:.2f}s {[round(s, 2) for s in seconds]}")
    baseline = results["duckdb + pandas, no Dask"]["median_s"]
    for value in results.values():
        value["ratio_to_no_dask"] = value["median_s"] / baseline
    print(f"-> {write_result('features', {'repeats': REPEATS, 'arms': results})}")


if __name__ == "__main__":
    main()
