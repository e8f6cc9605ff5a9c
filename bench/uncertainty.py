"""How firm the per-user-split quality numbers are: each model, at the setting bench.quality chose,
scored per user on the same split, with the standard error of its mean NDCG and paired differences
between models (the same users, so the users' own spread cancels out).

    python -m bench.uncertainty                      # Chat-Rec (NDCG@5) and full-catalogue (NDCG@10)
    python -m bench.uncertainty --protocol full

The chosen settings are read from bench/results/quality_<protocol>.json; every model's mean is
checked against the NDCG recorded there (same split, same metric code; equal to 1e-3, ItemKNN's
sparse top-k breaking ties in another order than the dense one some result files were made with), so
these are the per-user numbers behind those tables. Standard error = sd / sqrt(users); a paired difference's interval is
its mean +- 1.96 standard errors of the per-user differences (normal approximation, 700+ users).
"""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

import numpy as np
import polars as pl
import torch

from bench.common import RESULTS, ml100k_warehouse, read_only, write_result
from bench.quality import CANDIDATE_GRID, SEED
from chatrec.data.frames import interactions_frame, items_frame
from chatrec.evaluation.metrics.ndcg import ndcg_per_user
from chatrec.evaluation.protocols import RELEVANT_RATING
from chatrec.evaluation.splitting import per_user_random_split

# protocol -> (test share, k, relevant-rating floor or None): as chatrec_protocol / full_catalogue_protocol
PROTOCOLS: dict[str, tuple[float, int, float | None]] = {"chatrec": (0.2, 5, RELEVANT_RATING), "full": (0.25, 10, None)}
# the comparisons docs/benchmarks.md makes on these splits
PAIRS = [("dlae", "session_dlae"), ("dlae", "ease"), ("ease", "itemknn"), ("dlae", "popularity")]


def per_user_scores(
    protocol: str, interactions: pl.DataFrame, items: pl.DataFrame, chosen: dict[str, dict[str, Any]]
) -> tuple[dict[str, np.ndarray], list[str]]:
    share, k, floor = PROTOCOLS[protocol]
    train, test = per_user_random_split(interactions, share, seed=SEED)
    relevant = test if floor is None else test.filter(pl.col("rating") >= floor)
    users = relevant["user_id"].unique().sort().to_list()
    scores: dict[str, np.ndarray] = {}
    for name, params in chosen.items():
        cls, _ = CANDIDATE_GRID[name]
        model = cls(seed=SEED, device="cpu", **params).fit(train, items)
        per_user = ndcg_per_user(model.recommend(users, k), relevant, k)
        assert per_user["user_id"].to_list() == users, f"{name}: scored users differ"
        scores[name] = per_user["ndcg"].to_numpy()
        print(f"  [{protocol}] {name}: NDCG@{k} {scores[name].mean():.4f} over {len(users)} users", flush=True)
    return scores, users


def summary(values: np.ndarray) -> dict[str, float]:
    sd = float(values.std(ddof=1))
    return {"mean": float(values.mean()), "sd": sd, "se": sd / math.sqrt(len(values))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--protocol", nargs="+", choices=list(PROTOCOLS), default=list(PROTOCOLS))
    args = parser.parse_args()
    torch.set_num_threads(1)
    con = read_only(ml100k_warehouse())
    interactions, items = interactions_frame(con), items_frame(con)
    con.close()
    result: dict[str, Any] = {"seed": SEED, "protocols": {}}
    for protocol in args.protocol:
        quality = json.loads((RESULTS / f"quality_{protocol}.json").read_text())
        _, k, _ = PROTOCOLS[protocol]
        metric = f"ndcg_at_{k}"
        chosen = {row["model"]: row["params"] for row in quality["rows"]}
        scores, users = per_user_scores(protocol, interactions, items, chosen)
        models = {}
        for row in quality["rows"]:
            stats = summary(scores[row["model"]])
            # the same split and metric code as bench.quality: its recorded mean must come out again, up
            # to ItemKNN's tie order (its sparse top-k, newer than some result files, moves the 4th decimal)
            stats["recorded"] = row[metric]
            assert abs(stats["mean"] - row[metric]) < 1e-3, f"{row['model']}: {stats['mean']} != {row[metric]}"
            models[row["model"]] = stats
        pairs = []
        for a, b in PAIRS:
            diff = scores[a] - scores[b]
            stats = summary(diff)
            pairs.append({"a": a, "b": b, **stats, "ci_low": stats["mean"] - 1.96 * stats["se"],
                          "ci_high": stats["mean"] + 1.96 * stats["se"],
                          "users_a_better": int((diff > 0).sum()), "users_b_better": int((diff < 0).sum())})  # fmt: skip
        result["protocols"][protocol] = {
            "metric": metric, "users": len(users), "quality_run": quality["machine"]["when"],
            "models": models, "pairs": pairs,
        }  # fmt: skip
    path = write_result("uncertainty", result)
    from bench.report import uncertainty_tables

    print(uncertainty_tables())
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
