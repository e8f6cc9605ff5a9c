"""Cold start and the text-aware sequential model on MovieLens 100K, side by side in one run.

    python -m bench.coldstart --descriptions ../shared/data/ml-100k-wiki/movie_wiki_ml100k_titles.csv
    python -m bench.coldstart --protocol coldstart     # only the cold-item benchmark
    python -m bench.coldstart --protocol chatrec full  # SASRec on the Chat-Rec / full-catalogue protocols

Cold-start protocol: 10% of the rated items (seeded sample) are held out of training entirely,
with all their ratings; every model is fit on the rest (the catalogue passed to `fit` still lists
the held-out items, as core.items does for new arrivals). For each user who rated a held-out item,
the held-out items they rated are the relevant ones, ranked (a) among all held-out items and
(b) among every item the user has not seen in training (held-out + warm). HR@10 and NDCG@10.

The Chat-Rec and full-catalogue protocols are the shared ones from chatrec.evaluation.protocols
(the same splits and metrics as bench.quality), with EASE and popularity as reference rows.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import torch

from bench.common import ml100k_warehouse, read_only, train_cost, write_result
from chatrec.data.frames import interactions_frame, items_frame
from chatrec.evaluation.metrics import hit_rate_at_k, ndcg_at_k
from chatrec.evaluation.protocols import chatrec_protocol, full_catalogue_protocol
from chatrec.models.base import Recommender
from chatrec.models.ease import EASE
from chatrec.models.popularity import Popularity
from chatrec.models.sasrec import SASRec
from chatrec.models.textknn import TextKNN
from chatrec.text import ItemTextEncoder

SEED = 42
K = 10


def cold_split(interactions: pl.DataFrame, share: float, seed: int) -> tuple[pl.DataFrame, pl.DataFrame, list[str]]:
    """(train without the cold items, the cold items' interactions, the cold item ids)."""
    rated = interactions["item_id"].unique().sort().to_list()
    rng = np.random.default_rng(seed)
    cold = sorted(rng.choice(rated, size=round(share * len(rated)), replace=False).tolist())
    is_cold = pl.col("item_id").is_in(pl.Series(cold).implode())
    return interactions.filter(~is_cold), interactions.filter(is_cold), cold


def coldstart_protocol(
    make: Callable[[], Recommender], train: pl.DataFrame, held_out: pl.DataFrame, items: pl.DataFrame, cold: list[str]
) -> dict[str, Any]:
    started = time.perf_counter()
    model = make().fit(train, items)
    seconds = time.perf_counter() - started
    relevant = held_out.select("user_id", "item_id").unique()
    users = relevant["user_id"].unique().sort().to_list()
    among_cold = model.recommend(users, K, candidates=cold)
    among_all = model.recommend(users, K)
    return {
        "model": model.name,
        "params": model.params(),
        "fit_seconds": seconds,
        "users": len(users),
        "cold_only": {"hr_at_10": hit_rate_at_k(among_cold, relevant, K), "ndcg_at_10": ndcg_at_k(among_cold, relevant, K)},
        "all_unseen": {"hr_at_10": hit_rate_at_k(among_all, relevant, K), "ndcg_at_10": ndcg_at_k(among_all, relevant, K)},
        "cold_share_of_top10": among_all["item_id"].is_in(pl.Series(cold).implode()).mean(),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--protocol", nargs="+", choices=["coldstart", "chatrec", "full"], default=["coldstart", "chatrec", "full"])  # fmt: skip
    parser.add_argument("--descriptions", type=Path, default=None, help="item descriptions CSV (e.g. ml-100k-wiki)")
    parser.add_argument("--cold-share", type=float, default=0.1)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--id-dropout", type=float, default=0.2, help="SASRec: share of item IDs dropped per batch")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is faster on a loaded 2-core box)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--cache-dir", type=Path, default=Path("var/cache/embeddings"))
    parser.add_argument("--name", default="coldstart", help="result file: bench/results/NAME.json")
    parser.add_argument("--no-cost", action="store_true", help="skip the fresh-process fit-time/peak-memory run")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    warehouse = ml100k_warehouse()
    if args.descriptions is not None:
        from chatrec.data.descriptions import ingest_descriptions
        from chatrec.warehouse import connect

        con = connect(path=warehouse)
        ingest_descriptions(con, args.descriptions)
        con.close()
    con = read_only(warehouse)
    interactions, items = interactions_frame(con), items_frame(con)
    con.close()
    described = items["description"].is_not_null().sum()
    print(f"{interactions.height:,} interactions, {items.height:,} items ({described:,} with a description)")

    encoder = ItemTextEncoder(device="cuda" if torch.cuda.is_available() else "cpu", cache_dir=args.cache_dir)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    sasrec = {"epochs": args.epochs, "dim": 64, "layers": 2, "heads": 2, "max_len": 50}
    text_sasrec = {**sasrec, "id_dropout": args.id_dropout}
    models: dict[str, Callable[[], Recommender]] = {
        "popularity": lambda: Popularity(seed=args.seed, device=device),
        "textknn": lambda: TextKNN(seed=args.seed, device=device, encoder=encoder),
        "sasrec (ID only)": lambda: SASRec(seed=args.seed, device=device, use_text=False, **sasrec),
        "sasrec (text + ID)": lambda: SASRec(seed=args.seed, device=device, encoder=encoder, **text_sasrec),
    }
    result: dict[str, Any] = {"seed": args.seed, "threads": args.threads, "epochs": args.epochs,
                              "descriptions": described, "protocols": {}}  # fmt: skip

    if "coldstart" in args.protocol:
        train, held_out, cold = cold_split(interactions, args.cold_share, args.seed)
        print(f"cold start: {len(cold)} held-out items, {held_out.height:,} held-out ratings, "
              f"{held_out['user_id'].n_unique()} users")  # fmt: skip
        rows = {}
        for label, make in models.items():
            rows[label] = coldstart_protocol(make, train, held_out, items, cold)
            r = rows[label]
            print(f"  {label:20s} cold-only HR@10 {r['cold_only']['hr_at_10']:.4f} NDCG@10 {r['cold_only']['ndcg_at_10']:.4f}"
                  f" | all-unseen HR@10 {r['all_unseen']['hr_at_10']:.4f} NDCG@10 {r['all_unseen']['ndcg_at_10']:.4f}"
                  f" | cold share of top-10 {r['cold_share_of_top10']:.3f} | fit {r['fit_seconds']:.1f}s", flush=True)  # fmt: skip
        result["protocols"]["coldstart"] = {
            "cold_items": len(cold),
            "held_out_ratings": held_out.height,
            "models": rows,
        }

    reference: dict[str, Callable[[], Recommender]] = {
        "popularity": models["popularity"],
        "ease (l2=400, rating-weighted)": lambda: EASE(seed=args.seed, device=device, l2=400.0, weighting="rating"),
        "textknn": models["textknn"],
        "sasrec (ID only)": models["sasrec (ID only)"],
        "sasrec (text + ID)": models["sasrec (text + ID)"],
    }
    for protocol, run in (("chatrec", chatrec_protocol), ("full", full_catalogue_protocol)):
        if protocol not in args.protocol:
            continue
        rows = {}
        for label, make in reference.items():
            outcome = run(make, interactions, items, seed=args.seed)
            rows[label] = {"metrics": outcome.metrics, "params": outcome.params, "fit_seconds": outcome.train_seconds}
            shown = " ".join(f"{k} {v:.4f}" for k, v in outcome.metrics.items())
            print(f"  [{protocol}] {label:32s} {shown} | fit {outcome.train_seconds:.1f}s", flush=True)
        result["protocols"][protocol] = rows

    if not args.no_cost:
        # fit time and peak memory of the full-data fit, in a fresh process (text embeddings come
        # from the cache this run filled, as in a nightly run)
        params = {**text_sasrec, "embedding_cache_dir": str(args.cache_dir.resolve())}
        result["train_cost"] = {
            "sasrec (text + ID)": train_cost(warehouse, "sasrec", params, None, rating=False),
            "sasrec (ID only)": train_cost(warehouse, "sasrec", {**sasrec, "use_text": False}, None, rating=False),
        }
        print(json.dumps(result["train_cost"], indent=2))
    print(f"wrote {write_result(args.name, result)}")


if __name__ == "__main__":
    main()
