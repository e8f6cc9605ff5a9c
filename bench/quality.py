"""Recommender quality on MovieLens 100K, every model side by side in one run.

    python -m bench.quality --protocol chatrec   # Chat-Rec Table 2 setting (P/R/NDCG@5, candidate recall@20)
    python -m bench.quality --protocol full      # full-catalogue top-10 (MAP, NDCG, P, R @10, coverage, ...)
    python -m bench.quality --protocol temporal  # the nightly setting: rank for the last 10% of interactions by time
    python -m bench.quality --protocol rating    # RMSE/MAE on the official u1..u5 folds + temporal split
    python -m bench.quality --protocol all

Hyper-parameters are chosen on a validation split carved out of each protocol's TRAIN part
(never on its test part), then the chosen setting is refit on the whole train part and scored.
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import torch

from bench.common import ml100k_warehouse, read_only, train_cost, write_result
from chatrec.data.frames import interactions_frame, items_frame
from chatrec.evaluation.protocols import (
    GlobalMeanBaseline,
    ModelResult,
    chatrec_protocol,
    full_catalogue_protocol,
    movielens_file_order,
    rating_folds_protocol,
    temporal_ranking_protocol,
    temporal_rating_protocol,
)
from chatrec.evaluation.splitting import per_user_random_split, temporal_split
from chatrec.models.bayesianmf import BayesianMF
from chatrec.models.biasedmf import BiasedMF
from chatrec.models.bpr import BPR
from chatrec.models.dlae import DLAE, SessionDLAE
from chatrec.models.ease import EASE
from chatrec.models.itemknn import ItemKNN
from chatrec.models.popularity import Popularity

SEED = 42
# name -> (class, grid of hyper-parameters searched on validation)
CANDIDATE_GRID: dict[str, tuple[type, dict[str, list[Any]]]] = {
    "popularity": (Popularity, {}),
    "itemknn": (ItemKNN, {"neighbours": [100, 400], "shrinkage": [10.0, 50.0]}),
    "ease": (EASE, {"l2": [100.0, 200.0, 400.0, 800.0], "weighting": ["binary", "rating"]}),
    "bpr": (BPR, {"factors": [64], "epochs": [40], "l2": [1e-4, 1e-3]}),
    "dlae": (
        DLAE,
        {"l2": [100.0, 200.0, 400.0, 800.0], "dropout": [0.1, 0.33, 0.5], "weighting": ["binary", "rating"]},
    ),
    "session_dlae": (
        SessionDLAE,
        {
            "l2": [400.0, 800.0, 1600.0],
            "dropout": [0.2, 0.33],
            "session_seconds": [600.0, 3600.0],
            "session_weight": [1.0, 2.0],
        },
    ),
}
RATING_GRID: dict[str, tuple[type, dict[str, list[Any]]]] = {
    "global_mean": (GlobalMeanBaseline, {}),
    "biasedmf": (BiasedMF, {"factors": [64], "l2_factors": [0.05, 0.1, 0.2], "epochs": [30]}),
    "bayesianmf": (BayesianMF, {"factors": [10, 20, 30]}),
}
ANCHORS = {
    "chatrec": {
        "LightGCN (Chat-Rec paper)": {"precision_at_5": 0.3030, "recall_at_5": 0.1455, "ndcg_at_5": 0.3425},
        "Chat-Rec, text-davinci-003 (paper)": {"precision_at_5": 0.3240, "ndcg_at_5": 0.3802},
    },
    "full": {
        "BPR (MS Recommenders)": {"ndcg_at_10": 0.442, "precision_at_10": 0.388},
        "BiVAE (MS Recommenders)": {"ndcg_at_10": 0.475, "precision_at_10": 0.412, "recall_at_10": 0.219},
    },
    "temporal": {},  # no published number on this split
    "rating": {"Surprise SVD": {"rmse": 0.934}, "Surprise SVD++": {"rmse": 0.919}, "KNNBaseline": {"rmse": 0.931}},
}
SELECTION_METRIC = {"chatrec": "ndcg_at_5", "full": "ndcg_at_10", "temporal": "ndcg_at_10"}


def temporal_protocol(
    make: Callable[[], Any], interactions: pl.DataFrame, items: pl.DataFrame, *, seed: int
) -> ModelResult:
    """The nightly holdout (train on the first 90% by time); deterministic, so the seed is unused."""
    return temporal_ranking_protocol(make, interactions, items)


def grid(space: dict[str, list[Any]]) -> list[dict[str, Any]]:
    keys = list(space)
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*(space[k] for k in keys))] or [{}]


def select_params(
    cls: type,
    space: dict[str, list[Any]],
    run: Callable[[Callable[[], Any]], ModelResult],
    metric: str,
    lower_is_better: bool,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    trials = []
    for params in grid(space):
        result = run(lambda params=params, cls=cls: cls(seed=SEED, **params))
        trials.append({"params": params, metric: result.metrics[metric]})
    best = (min if lower_is_better else max)(trials, key=lambda t: t[metric])
    return best["params"], trials


def ranking_protocol(
    name: str, interactions: pl.DataFrame, items: pl.DataFrame, warehouse: Path
) -> list[dict[str, Any]]:
    protocol = {"chatrec": chatrec_protocol, "full": full_catalogue_protocol, "temporal": temporal_protocol}[name]
    test_ratio = {"chatrec": 0.2, "full": 0.25, "temporal": 0.1}[name]
    # validation mirrors the protocol: a random split of train for the random protocols, the
    # last 10% of train by time for the temporal one
    if name == "temporal":
        train_part, _ = temporal_split(interactions, test_ratio)
    else:
        train_part, _ = per_user_random_split(interactions, test_ratio, seed=SEED)
    metric = SELECTION_METRIC[name]
    rows = []
    for model_name, (cls, space) in CANDIDATE_GRID.items():
        started = time.perf_counter()
        params, trials = select_params(
            cls, space, lambda make: protocol(make, train_part, items, seed=SEED + 1), metric, lower_is_better=False
        )
        result = protocol(lambda params=params, cls=cls: cls(seed=SEED, **params), interactions, items, seed=SEED)
        memory = train_cost(warehouse, model_name, params, test_ratio, rating=False)
        rows.append(
            {
                "model": model_name,
                "params": params,
                **result.metrics,
                "train_seconds": result.train_seconds,
                "peak_rss_increase_mb": memory["peak_increase_mb"],
                "tuning_trials": trials,
                "bench_seconds": time.perf_counter() - started,
            }
        )
        print(f"  {model_name}: {params} {metric}={result.metrics[metric]:.4f} ({result.train_seconds:.1f}s fit)")
    return rows


def rating_protocol(
    ratings_in_file_order: pl.DataFrame, interactions: pl.DataFrame, warehouse: Path
) -> list[dict[str, Any]]:
    from chatrec.evaluation.splitting import ml100k_fold

    # tune on a validation split of fold 1's training part only
    fold1_train, _ = ml100k_fold(ratings_in_file_order, 1)
    tune_train, tune_valid = per_user_random_split(fold1_train, 0.1, seed=SEED)

    def validate(make: Callable[[], Any]) -> ModelResult:
        from chatrec.evaluation.metrics import rmse

        model = make().fit(tune_train)
        predicted = model.predict(tune_valid["user_id"].to_list(), tune_valid["item_id"].to_list())
        return ModelResult(model.name, model.params(), {"rmse": rmse(tune_valid["rating"].to_numpy(), predicted)}, 0.0)

    rows = []
    for model_name, (cls, space) in RATING_GRID.items():
        params, trials = select_params(cls, space, validate, "rmse", lower_is_better=True)
        folds = rating_folds_protocol(lambda params=params, cls=cls: cls(seed=SEED, **params), ratings_in_file_order)
        temporal = temporal_rating_protocol(lambda params=params, cls=cls: cls(seed=SEED, **params), interactions)
        memory = train_cost(warehouse, model_name, params, None, rating=True)
        rows.append(
            {
                "model": model_name,
                "params": params,
                **folds.metrics,
                "temporal_rmse": temporal.metrics["rmse"],
                "temporal_mae": temporal.metrics["mae"],
                "train_seconds": folds.train_seconds,
                "peak_rss_increase_mb": memory["peak_increase_mb"],
                "tuning_trials": trials,
            }
        )
        print(f"  {model_name}: {params} rmse={folds.metrics['rmse']:.4f} temporal={temporal.metrics['rmse']:.4f}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--protocol", choices=["chatrec", "full", "temporal", "rating", "all"], default="all")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch intra-op threads (2 contend badly on a shared 2-core box)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    path = ml100k_warehouse()
    con = read_only(path)
    interactions, items = interactions_frame(con), items_frame(con)
    ratings_in_file_order = movielens_file_order(con)
    con.close()
    protocols = ["chatrec", "full", "temporal", "rating"] if args.protocol == "all" else [args.protocol]
    for name in protocols:
        print(f"protocol {name}")
        started = time.perf_counter()
        rows = (
            rating_protocol(ratings_in_file_order, interactions, path)
            if name == "rating"
            else ranking_protocol(name, interactions, items, path)
        )
        out = write_result(
            f"quality_{name}",
            {
                "protocol": name,
                "seed": SEED,
                "torch_threads": args.threads,
                "anchors": ANCHORS[name],
                "rows": rows,
                "seconds": time.perf_counter() - started,
            },
        )
        print(f"  -> {out}")


if __name__ == "__main__":
    main()
