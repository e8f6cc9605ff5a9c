"""Recommender quality on MovieLens 100K, every model side by side in one run.

    python -m bench.quality --protocol chatrec   # Chat-Rec Table 2 setting (P/R/NDCG@5, candidate recall@20)
    python -m bench.quality --protocol full      # full-catalogue top-10 (MAP, NDCG, P, R @10, coverage, ...)
    python -m bench.quality --protocol msr       # the same top-10 on Microsoft Recommenders' own (per-item) split
    python -m bench.quality --protocol temporal  # the nightly setting: rank for the last 10% of interactions by time
    python -m bench.quality --protocol rating    # RMSE/MAE on the official u1..u5 folds + temporal split
    python -m bench.quality --protocol all
    python -m bench.quality --protocol msr --device cuda --models ease,dlae   # a GPU, some models

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
    msr_benchmark_protocol,
    msr_benchmark_split,
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
    # MS Recommenders measured these on their own per-item split, which is the msr protocol; the
    # per-user split of "full" has no published number (bench.reference_bivae runs BiVAE on both)
    "full": {},
    "msr": {
        "BPR (MS Recommenders)": {"ndcg_at_10": 0.442, "precision_at_10": 0.388},
        "BiVAE (MS Recommenders)": {"ndcg_at_10": 0.475, "precision_at_10": 0.412, "recall_at_10": 0.219},
    },
    "temporal": {},  # no published number on this split
    "rating": {"Surprise SVD": {"rmse": 0.934}, "Surprise SVD++": {"rmse": 0.919}, "KNNBaseline": {"rmse": 0.931}},
}
SELECTION_METRIC = {"chatrec": "ndcg_at_5", "full": "ndcg_at_10", "msr": "ndcg_at_10", "temporal": "ndcg_at_10"}
RANKING_PROTOCOLS = ["chatrec", "full", "msr", "temporal"]


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
    device: str,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    trials = []
    for params in grid(space):
        result = run(lambda params=params, cls=cls: cls(seed=SEED, device=device, **params))
        trials.append({"params": params, metric: result.metrics[metric]})
    best = (min if lower_is_better else max)(trials, key=lambda t: t[metric])
    return best["params"], trials


def ranking_protocol(
    name: str, interactions: pl.DataFrame, items: pl.DataFrame, warehouse: Path, models: list[str], device: str
) -> list[dict[str, Any]]:
    """`interactions` must be in u.data order for the msr protocol (its split depends on row order)."""
    protocol = {
        "chatrec": chatrec_protocol,
        "full": full_catalogue_protocol,
        "msr": msr_benchmark_protocol,
        "temporal": temporal_protocol,
    }[name]
    # validation mirrors the protocol: the protocol's own split applied to its training part (the
    # last 10% of train by time for the temporal one)
    split: str | float = {"chatrec": 0.2, "full": 0.25, "msr": "msr", "temporal": 0.1}[name]
    if name == "temporal":
        train_part, _ = temporal_split(interactions, 0.1)
    elif name == "msr":
        train_part, _ = msr_benchmark_split(interactions, seed=SEED)
    else:
        train_part, _ = per_user_random_split(interactions, float(split), seed=SEED)
    metric = SELECTION_METRIC[name]
    rows = []
    for model_name in models:
        cls, space = CANDIDATE_GRID[model_name]
        started = time.perf_counter()
        params, trials = select_params(
            cls,
            space,
            lambda make: protocol(make, train_part, items, seed=SEED + 1),
            metric,
            lower_is_better=False,
            device=device,
        )
        result = protocol(
            lambda params=params, cls=cls: cls(seed=SEED, device=device, **params), interactions, items, seed=SEED
        )
        # peak host memory is measured in a fresh CPU process; on a GPU it would not be the cost
        memory = train_cost(warehouse, model_name, params, split, rating=False) if device == "cpu" else {}
        rows.append(
            {
                "model": model_name,
                "params": params,
                **result.metrics,
                "train_seconds": result.train_seconds,
                "peak_rss_increase_mb": memory.get("peak_increase_mb"),
                "tuning_trials": trials,
                "bench_seconds": time.perf_counter() - started,
            }
        )
        print(f"  {model_name}: {params} {metric}={result.metrics[metric]:.4f} ({result.train_seconds:.1f}s fit)")
    return rows


def rating_protocol(
    ratings_in_file_order: pl.DataFrame, interactions: pl.DataFrame, warehouse: Path, models: list[str], device: str
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
    for model_name in models:
        cls, space = RATING_GRID[model_name]
        params, trials = select_params(cls, space, validate, "rmse", lower_is_better=True, device=device)

        def make(params: dict[str, Any] = params, cls: type = cls) -> Any:
            return cls(seed=SEED, device=device, **params)

        folds = rating_folds_protocol(make, ratings_in_file_order)
        temporal = temporal_rating_protocol(make, interactions)
        memory = train_cost(warehouse, model_name, params, None, rating=True) if device == "cpu" else {}
        rows.append(
            {
                "model": model_name,
                "params": params,
                **folds.metrics,
                "temporal_rmse": temporal.metrics["rmse"],
                "temporal_mae": temporal.metrics["mae"],
                "train_seconds": folds.train_seconds,
                "peak_rss_increase_mb": memory.get("peak_increase_mb"),
                "tuning_trials": trials,
            }
        )
        print(f"  {model_name}: {params} rmse={folds.metrics['rmse']:.4f} temporal={temporal.metrics['rmse']:.4f}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--protocol", choices=[*RANKING_PROTOCOLS, "rating", "all"], default="all")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch intra-op threads (2 contend badly on a shared 2-core box)"
    )
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="where models train and score")
    parser.add_argument("--models", help="comma-separated subset of the protocol's models (default: all)")
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda, but torch sees no CUDA device")
    torch.set_num_threads(args.threads)
    path = ml100k_warehouse()
    con = read_only(path)
    interactions, items = interactions_frame(con), items_frame(con)
    ratings_in_file_order = movielens_file_order(con)
    con.close()
    protocols = [*RANKING_PROTOCOLS, "rating"] if args.protocol == "all" else [args.protocol]
    for name in protocols:
        grid_names = list(RATING_GRID if name == "rating" else CANDIDATE_GRID)
        models = grid_names if args.models is None else args.models.split(",")
        unknown = sorted(set(models) - set(grid_names))
        if unknown:
            parser.error(
                f"--models: {', '.join(unknown)} not in the {name} protocol's models ({', '.join(grid_names)})"
            )
        print(f"protocol {name}")
        started = time.perf_counter()
        if name == "rating":
            rows = rating_protocol(ratings_in_file_order, interactions, path, models, args.device)
        else:
            source = ratings_in_file_order if name == "msr" else interactions
            rows = ranking_protocol(name, source, items, path, models, args.device)
        # the canonical result (all models, CPU) keeps its name; a GPU or subset run gets its own file
        suffix = ("" if args.device == "cpu" else f"_{args.device}") + ("" if args.models is None else "_subset")
        out = write_result(
            f"quality_{name}{suffix}",
            {
                "protocol": name,
                "seed": SEED,
                "torch_threads": args.threads,
                "device": args.device,
                "anchors": ANCHORS[name],
                "rows": rows,
                "seconds": time.perf_counter() - started,
            },
        )
        print(f"  -> {out}")


if __name__ == "__main__":
    main()
