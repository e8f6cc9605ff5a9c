"""Flow: per-user and per-item features (DuckDB aggregates + Dask per-user partitions)."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from chatrec.logs import quiet_third_party
from chatrec.warehouse.lock import writes_warehouse
from tasks.features import extract_user_item_features


@flow(name="features", log_prints=True)
@writes_warehouse("features")
def features_flow(use_dask: bool = False) -> dict[str, Any]:
    quiet_third_party()
    run = extract_user_item_features(use_dask)
    state = (
        "reused"
        if run["reused"]
        else (f"built on {run['dask_workers']} Dask workers" if run["dask_workers"] else "built in DuckDB")
    )
    get_run_logger().info(
        "features %s: %s users, %s items (%s)", run["feature_run_id"], run["n_users"], run["n_items"], state
    )
    return run


if __name__ == "__main__":
    features_flow()
