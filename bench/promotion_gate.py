"""What the retrain's promotion gate sees: the temporal holdout split into warm and cold users.

python -m bench.promotion_gate [--models popularity,dlae]

The nightly retrain (`chatrec.retrain`) fits each model on the first 90% of interactions by time
and scores the last 10%. This benchmark runs that exact holdout on the packaged MovieLens 100K with
the default settings and reports, per model, NDCG@10 over all holdout users, over the warm users
(with training history: what serving recommends from) and over the cold ones (none), with how many
users and rows each group has. The gate compares the warm score.
"""

from __future__ import annotations

import argparse
import time

import polars as pl
import torch

from bench.common import ml100k_warehouse, read_only, write_result
from chatrec.data.frames import interactions_frame, items_frame
from chatrec.evaluation.splitting import temporal_split
from chatrec.retrain import holdout_metrics
from chatrec.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="popularity,itemknn,ease,dlae")
    args = parser.parse_args()
    torch.set_num_threads(1)
    started = time.perf_counter()
    con = read_only(ml100k_warehouse())
    interactions, items = interactions_frame(con), items_frame(con)
    con.close()
    settings = Settings(torch_threads=1, device="cpu")
    train, holdout = temporal_split(interactions, 0.1)
    warm_rows = holdout.filter(pl.col("user_id").is_in(train["user_id"].unique().implode())).height
    rows = []
    for name in args.models.split(","):
        metrics = holdout_metrics(name, settings, train, holdout, items)
        k = settings.top_k_eval
        rows.append({"model": name, **metrics})
        print(
            f"{name}: all {metrics[f'ndcg_at_{k}']:.4f}  warm {metrics.get(f'warm_ndcg_at_{k}', float('nan')):.4f}"
            f"  cold {metrics.get(f'cold_ndcg_at_{k}', float('nan')):.4f}"
        )
    out = write_result(
        "promotion_gate",
        {
            "holdout_rows": holdout.height,
            "warm_rows": warm_rows,
            "rows": rows,
            "seconds": time.perf_counter() - started,
        },
    )
    print(f"holdout: {holdout.height} rows, {warm_rows} of them from warm users; wrote {out}")


if __name__ == "__main__":
    main()
