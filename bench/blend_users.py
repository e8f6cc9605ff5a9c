"""How many validation users the LLM blend-weight fit needs, and what the old grid rule picks from noise.

python -m bench.blend_users [--trials 200] [--sizes 25 40 80 160]

The nightly fit (`chatrec.llm.pipeline.fit_blend`) scores the served first stage's top-20 for users
of the temporal validation split (last 10% by time, users with a liked held-out item) and blends
them with the LLM's scores. This benchmark replaces the LLM by a chance-level scorer (uniform random
scores per candidate): the packaged SmolLM2 ranks at chance (docs/benchmarks.md, "The LLM layer"),
so its true gain is 0 and any weight above 0 is chosen from noise. It needs no LLM decoding.

For each trial and validation-set size n (users sampled from the pool, seeded), it runs the real
`fit_blend_weight` and records (a) the grid's best weight (the old rule: w = argmax of validation
NDCG) and (b) the weight kept after the paired bootstrap (the rule now served). It also measures
the spread of the per-user NDCG@5 gain of a fixed blend (w = 0.5) over the first stage, which sizes
n: to tell a true gain `delta` from 0 with the fit's interval (95%, Bonferroni over the grid's 10
non-zero weights: z = 2.81) at 80% power, n ~ ((2.81 + 0.84) sd / delta)^2.
"""

from __future__ import annotations

import argparse
import random
import time

import numpy as np
import polars as pl
import torch
from scipy.stats import norm

from bench.common import ml100k_warehouse, read_only, write_result
from chatrec.data.frames import interactions_frame, items_frame, users_frame
from chatrec.evaluation.metrics.ndcg import ndcg_per_user
from chatrec.evaluation.splitting import temporal_split
from chatrec.llm.finetune import validation_set
from chatrec.llm.rerank import BLEND_GRID, BOOTSTRAP_CONFIDENCE, LLMScores, blend, fit_blend_weight
from chatrec.settings import Settings

SEED = 42
Z_POWER_80 = 0.841621


def chance_scores(candidates: pl.DataFrame, users: list[str], rng: np.random.Generator) -> list[LLMScores]:
    by_user = {u: g.sort("rank")["item_id"].to_list() for (u,), g in candidates.group_by("user_id")}
    return [LLMScores(u, by_user[u], rng.uniform(size=len(by_user[u]))) for u in users]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--sizes", type=int, nargs="+", default=[25, 40, 80, 160])
    parser.add_argument("--deltas", type=float, nargs="+", default=[0.02, 0.03, 0.05])
    parser.add_argument("--name", default="blend_users")
    args = parser.parse_args()
    torch.set_num_threads(1)
    started = time.perf_counter()
    con = read_only(ml100k_warehouse())
    interactions, items, users = interactions_frame(con), items_frame(con), users_frame(con)
    con.close()
    # every validation user the nightly could use: llm_blend_users above the pool size takes them all
    settings = Settings(llm_blend_users=100_000, seed=SEED, torch_threads=1)
    train, holdout = temporal_split(interactions, 0.1)
    validation = validation_set(settings, train, holdout, items, users)
    k = settings.top_k_final
    pool = sorted(validation.relevant["user_id"].unique().to_list())
    print(f"pool: {len(pool)} validation users ({settings.candidate_model} top-{settings.top_k_candidates})")

    rng = np.random.default_rng(SEED)
    gains = []
    for _ in range(20):  # the spread of a chance-level blend's per-user gain, pooled over 20 draws
        scores = chance_scores(validation.candidates, pool, rng)
        base = ndcg_per_user(blend(validation.candidates, scores, 0.0, k), validation.relevant, k)["ndcg"]
        half = ndcg_per_user(blend(validation.candidates, scores, 0.5, k), validation.relevant, k)["ndcg"]
        gains.append((half - base).to_numpy())
    sd = float(np.concatenate(gains).std(ddof=1))
    level = 1 - (1 - BOOTSTRAP_CONFIDENCE) / (len(BLEND_GRID) - 1)  # the fit's interval, as decide_blend_weight
    z = float(norm.ppf(1 - (1 - level) / 2))
    needed = {str(d): int(np.ceil(((z + Z_POWER_80) * sd / d) ** 2)) for d in args.deltas}
    print(f"per-user NDCG@{k} gain sd (w=0.5, chance LLM): {sd:.4f}; users needed: {needed}")

    sizes = [n for n in args.sizes if n <= len(pool)] + ([len(pool)] if len(pool) not in args.sizes else [])
    picked = random.Random(SEED)
    rows = []
    for n in sizes:
        old_nonzero = new_nonzero = 0
        for _ in range(args.trials):
            chosen = sorted(picked.sample(pool, n))
            candidates = validation.candidates.filter(pl.col("user_id").is_in(chosen))
            relevant = validation.relevant.filter(pl.col("user_id").is_in(chosen))
            fit = fit_blend_weight(candidates, chance_scores(candidates, chosen, rng), relevant, k, seed=SEED)
            old_nonzero += fit.best_weight > 0
            new_nonzero += fit.weight > 0
        rows.append(
            {"users": n, "trials": args.trials, "old_rule_picks_llm": old_nonzero / args.trials,
             "bootstrap_rule_picks_llm": new_nonzero / args.trials}
        )  # fmt: skip
        print(
            f"n={n}: grid argmax w>0 in {old_nonzero / args.trials:.0%}, bootstrap w>0 in {new_nonzero / args.trials:.0%}"
        )
    out = write_result(
        args.name,
        {"seed": SEED, "k": k, "candidate_model": settings.candidate_model, "pool_users": len(pool),
         "gain_sd_w05": sd, "interval_level": level, "users_needed_80pct_power": needed, "rows": rows,
         "seconds": time.perf_counter() - started},
    )  # fmt: skip
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
