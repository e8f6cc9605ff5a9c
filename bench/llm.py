"""What the LLM adds, measured: re-ranking modes vs the first stage, explanations, rating, throughput.

python -m bench.llm [--val-users 40] [--test-users 60] [--modes choice listwise yesno] [--explain-users 50]
                    [--explain-approaches free retry per-user guided slots] [--rating-pairs 60] [--threads 1]
                    [--sections rerank explain rating] [--model SmolLM2-135M-Instruct]

Re-ranking uses the Chat-Rec protocol of bench.quality (per-user random 80/20 split, seed 42, the
best first stage: EASE rating-weighted, l2=400, top-20 candidates, relevant = held-out ratings >= 4).
The same users and candidates go through every mode. Blend weights are fitted on the validation users
and the metrics reported on the other (test) users, so nothing is tuned on what is measured.
Explanations: the final top-5 (first stage) of the same test users, phrased by the LLM with each
approach of chatrec.llm.explain (free, retry, per-user, guided, slots) and checked by the same check:
pass rate and fallback reasons per approach; throughput batched (llm_batch_size 8) against
single-request decoding of the same requests. `--modes` with no mode skips the LLM re-ranking (the
explanation section only needs the first stage's candidates). Rating: official u1..u5
folds, biased MF as the rating model, a seeded sample of test pairs per fold; the LLM/MF blend weight
is cross-fitted (fit on one half of the pairs, scored on the other, and vice versa).
"""

from __future__ import annotations

import argparse
import random
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import torch

from bench.common import ml100k_warehouse, read_only, write_result
from chatrec.data.frames import interactions_frame, items_frame, users_frame
from chatrec.evaluation.metrics import ndcg_at_k, precision_at_k, recall_at_k
from chatrec.evaluation.protocols import movielens_file_order
from chatrec.evaluation.splitting import ml100k_fold, per_user_random_split
from chatrec.explain.evidence import EvidenceIndex
from chatrec.llm.backends.transformers_backend import TransformersBackend
from chatrec.llm.context import Catalogue, ContextBuilder
from chatrec.llm.explain import APPROACHES, ExplanationChecker, LLMExplainer
from chatrec.llm.prompts import PromptBuilder
from chatrec.llm.rating import LLMRatingPredictor, blend_ratings, fit_rating_blend
from chatrec.llm.rerank import LLMReranker, blend, fit_blend_weight
from chatrec.models.biasedmf import BiasedMF
from chatrec.models.ease import EASE

SEED = 42
K = 5
N_CANDIDATES = 20
RELEVANT = 4.0


def ranking_metrics(final: pl.DataFrame, relevant: pl.DataFrame) -> dict[str, float]:
    return {
        "precision_at_5": precision_at_k(final, relevant, K),
        "recall_at_5": recall_at_k(final, relevant, K),
        "ndcg_at_5": ndcg_at_k(final, relevant, K),
    }


def rerank_section(con, backend, args) -> dict[str, Any]:
    interactions, items = interactions_frame(con), items_frame(con)
    train, test = per_user_random_split(interactions, 0.2, seed=SEED)
    relevant = test.filter(pl.col("rating") >= RELEVANT)
    users = sorted(relevant["user_id"].unique().to_list())
    sample = random.Random(SEED).sample(users, args.val_users + args.test_users)
    val_users, test_users = sorted(sample[: args.val_users]), sorted(sample[args.val_users :])
    model = EASE(l2=400.0, weighting="rating").fit(train, items)
    candidates = model.recommend(val_users + test_users, N_CANDIDATES)
    in_test = pl.col("user_id").is_in(test_users)
    # metrics average over the users of the relevant frame: keep each split's own users only
    relevant_val = relevant.filter(pl.col("user_id").is_in(val_users))
    relevant = relevant.filter(in_test)
    contexts = ContextBuilder(Catalogue(items), train, users_frame(con))
    builder = PromptBuilder(backend.count_tokens, args.prompt_tokens)
    rows = [{"mode": "first stage (EASE)", "weight": 0.0, **ranking_metrics(candidates.filter(in_test), relevant)}]
    candidate_recall = recall_at_k(candidates.filter(in_test), relevant, N_CANDIDATES)
    for mode in args.modes:
        reranker = LLMReranker(backend, builder, contexts, mode)
        scores, stats = reranker.score(candidates, K)
        metrics = stats.as_metrics()
        by_user = {s.user_id: s for s in scores}
        val_scores = [by_user[u] for u in val_users]
        test_scores = [by_user[u] for u in test_users]
        fit = fit_blend_weight(candidates.filter(~in_test), val_scores, relevant_val, K)
        health = {
            "valid_output_rate": metrics["valid_output_rate"], "invented_items": metrics["invalid_items"],
            "duplicate_items": metrics["duplicate_items"], "latency_ms_per_user": metrics["latency_ms_per_user"],
            "users_per_minute": 60_000 / metrics["latency_ms_per_user"], "prompt_tokens_mean": metrics["prompt_tokens_mean"],
        }  # fmt: skip
        llm_only = blend(candidates.filter(in_test), test_scores, 1.0, K)
        blended = blend(candidates.filter(in_test), test_scores, fit.weight, K)
        rows.append({"mode": f"LLM {mode} alone", "weight": 1.0, **ranking_metrics(llm_only, relevant), **health})
        rows.append({"mode": f"blend {mode} (w fitted on validation)", "weight": fit.weight,
                     "validation_ndcg_by_weight": fit.ndcg_by_weight, **ranking_metrics(blended, relevant), **health})  # fmt: skip
        print(
            f"{mode}: w={fit.weight} valid={health['valid_output_rate']} {health['latency_ms_per_user']:.0f} ms/user",
            flush=True,
        )
    return {"val_users": len(val_users), "test_users": len(test_users), "candidate_recall_at_20": candidate_recall,
            "rows": rows, "test_user_ids": test_users, "candidates": candidates, "train": train}  # fmt: skip


def failure_kind(reason: str) -> str:
    """A check failure without its particulars: 'claims 78%; the evidence says 73%' -> 'claims N%'."""
    kind = re.split(r'[:";]', reason)[0].strip()
    return re.sub(r"\d+(?:\.\d+)?", "N", kind)


def explanation_summary(explanations: list, seconds: float) -> dict[str, Any]:
    tokens = sum(e.completion_tokens for e in explanations)
    reasons: dict[str, int] = {}
    for e in explanations:
        if e.check_failure:
            reasons[failure_kind(e.check_failure)] = reasons.get(failure_kind(e.check_failure), 0) + 1
    return {
        "explanations": len(explanations), "seconds": seconds, "completion_tokens": tokens,
        "tokens_per_second": tokens / seconds, "explanations_per_second": len(explanations) / seconds,
        "users_per_minute": 60 * len(explanations) / K / seconds,
        "check_pass_rate": sum(e.check_passed for e in explanations) / len(explanations),
        "fallback_rate": sum(not e.check_passed for e in explanations) / len(explanations),
        "retried": sum(e.attempts > 1 for e in explanations),
        "fallback_reasons": dict(sorted(reasons.items(), key=lambda kv: -kv[1])),
        "examples": [e.text for e in explanations if e.check_passed][:4],
        "rejected_examples": [f"{e.rejected} -> {e.check_failure}" for e in explanations if not e.check_passed][:4],
    }  # fmt: skip


def explain_section(
    con, backend, args, candidates: pl.DataFrame, train: pl.DataFrame, users: list[str], checkpoint=None
) -> dict[str, Any]:
    """Each explanation approach on the same requests (final top-5 of the same users), then the free
    approach one request at a time (batching speed-up)."""
    items = items_frame(con)
    index = EvidenceIndex(train, items)
    checker = ExplanationChecker.from_items(items)
    builder = PromptBuilder(backend.count_tokens, args.prompt_tokens)
    chosen = users[: args.explain_users]
    final = candidates.filter(pl.col("user_id").is_in(chosen) & (pl.col("rank") <= K))
    requests = [(u, i, index.evidence(u, i)) for u, i in final.select("user_id", "item_id").iter_rows()]
    backend.batch_size = args.batch_size
    approaches: dict[str, Any] = {}
    free: tuple[list, float] | None = None
    for approach in args.explain_approaches:
        explainer = LLMExplainer(backend, builder, checker, approach=approach)
        started = time.perf_counter()
        if approach == "retry" and free is not None:
            # greedy decoding: the first attempt is exactly the free run's, so only the retries are decoded
            explanations = explainer.retry_failed(requests, free[0])
            seconds = free[1] + time.perf_counter() - started
        else:
            explanations = explainer.explain(requests)
            seconds = time.perf_counter() - started
        if approach == "free":
            free = (explanations, seconds)
        approaches[approach] = {"batch_size": args.batch_size, **explanation_summary(explanations, seconds)}
        print(f"explain {approach}: pass {approaches[approach]['check_pass_rate']:.1%} in {seconds:.0f} s "
              f"{approaches[approach]['fallback_reasons']}", flush=True)  # fmt: skip
        if checkpoint is not None:  # a long run keeps what it has measured so far
            checkpoint({"users": len(chosen), "requests": len(requests), "approaches": approaches, "partial": True})
    result: dict[str, Any] = {"users": len(chosen), "requests": len(requests), "approaches": approaches}
    if args.single_requests and free is not None:
        backend.batch_size = 1
        started = time.perf_counter()
        single = LLMExplainer(backend, builder, checker, approach="free").explain(requests[: args.single_requests])
        backend.batch_size = args.batch_size
        result["single"] = {"batch_size": 1, **explanation_summary(single, time.perf_counter() - started)}
        result["batching_speedup_tokens_per_second"] = (
            approaches["free"]["tokens_per_second"] / result["single"]["tokens_per_second"]
        )
    return result


def rating_section(con, backend, args) -> dict[str, Any]:
    ratings = movielens_file_order(con)
    items = items_frame(con)
    folds = []
    for fold in range(1, 6):
        train, test = ml100k_fold(ratings, fold)
        mf = BiasedMF(factors=64, l2_factors=0.1, epochs=30, seed=SEED).fit(train)
        sample = test.sample(n=args.rating_pairs, seed=SEED + fold)
        users, items_ = sample["user_id"].to_list(), sample["item_id"].to_list()
        truth = sample["rating"].to_numpy().astype(np.float64)
        base = mf.predict(users, items_)
        contexts = ContextBuilder(Catalogue(items), train, users_frame(con))
        llm = LLMRatingPredictor(backend, PromptBuilder(backend.count_tokens, args.prompt_tokens), contexts).predict(
            users, items_
        )
        half = len(truth) // 2
        first, second = slice(0, half), slice(half, None)
        blended = np.empty_like(truth)
        weights = []
        for fit_part, score_part in ((first, second), (second, first)):
            weight = fit_rating_blend(base[fit_part], llm[fit_part], truth[fit_part])
            weights.append(weight)
            blended[score_part] = blend_ratings(base[score_part], llm[score_part], weight)

        def rmse(predicted: np.ndarray, truth: np.ndarray = truth) -> float:
            return float(np.sqrt(np.mean((predicted - truth) ** 2)))

        folds.append({"fold": fold, "pairs": len(truth), "rmse_mf": rmse(base), "rmse_llm": rmse(llm),
                      "rmse_blend": rmse(blended), "weights": weights,
                      "rmse_mf_full_fold": rmse(mf.predict(test["user_id"].to_list(), test["item_id"].to_list()),
                                                test["rating"].to_numpy().astype(np.float64))})  # fmt: skip
        print(
            f"rating fold {fold}: mf {folds[-1]['rmse_mf']:.4f} llm {folds[-1]['rmse_llm']:.4f} blend {folds[-1]['rmse_blend']:.4f}",
            flush=True,
        )
    mean = {
        key: float(np.mean([f[key] for f in folds]))
        for key in ("rmse_mf", "rmse_llm", "rmse_blend", "rmse_mf_full_fold")
    }
    return {"folds": folds, "mean": mean}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="SmolLM2-135M-Instruct")
    parser.add_argument("--val-users", type=int, default=40)
    parser.add_argument("--test-users", type=int, default=60)
    parser.add_argument("--modes", nargs="*", default=["choice", "listwise", "yesno"])
    parser.add_argument("--explain-users", type=int, default=50)
    parser.add_argument("--explain-approaches", nargs="+", choices=APPROACHES, default=list(APPROACHES))
    parser.add_argument("--single-requests", type=int, default=20)
    parser.add_argument("--rating-pairs", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--prompt-tokens", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--sections", nargs="+", default=["rerank", "explain", "rating"])
    parser.add_argument(
        "--result-name", default="llm", help="bench/results/<name>.json (llm_explain: explanations only)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    warehouse = ml100k_warehouse()
    con = read_only(warehouse)
    load_started = time.perf_counter()
    backend = TransformersBackend(args.model, cache_dir=Path("var/cache"), batch_size=args.batch_size)
    payload: dict[str, Any] = {"model": args.model, "seed": SEED, "args": vars(args),
                               "model_load_seconds": time.perf_counter() - load_started}  # fmt: skip
    rerank = rerank_section(con, backend, args)
    if "explain" in args.sections:

        def checkpoint(partial: dict[str, Any]) -> None:
            write_result(args.result_name, {**payload, "explain": partial, "seconds": time.perf_counter() - started})

        payload["explain"] = explain_section(
            con, backend, args, rerank["candidates"], rerank["train"], rerank["test_user_ids"], checkpoint
        )
    if "rating" in args.sections:
        payload["rating"] = rating_section(con, backend, args)
    payload["rerank"] = {k: v for k, v in rerank.items() if k not in ("candidates", "train")}
    payload["seconds"] = time.perf_counter() - started
    print(write_result(args.result_name, payload))


if __name__ == "__main__":
    main()
