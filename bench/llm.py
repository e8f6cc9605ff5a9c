"""What the LLM adds, measured: re-ranking modes vs the first stage, explanations, rating, throughput.

python -m bench.llm [--val-users 40] [--test-users 60] [--modes choice listwise yesno] [--explain-users 50]
                    [--explain-approaches free retry per-user guided slots] [--rating-pairs 60] [--threads 1]
                    [--sections rerank explain rating] [--model SmolLM2-135M-Instruct] [--prompt-tokens 1024 640]
                    [--backends transformers-int8 transformers ctranslate2] [--candidates 20 10]

Every backend named runs in the same process on the same users, candidates and prompts, interleaved
mode by mode (so a change in the machine's load hits them alike); each backend's peak memory is
measured in a fresh process (`--memory-probe`) that loads it and decodes one batch of explanations.
On a shared machine the backends can also run as parallel processes over the same window, each
writing its own result (`--result-name llm_transformers`), joined afterwards (`--merge llm_transformers
llm_ctranslate2`, into `--result-name`, default llm); the users, candidates and prompts are the same (seeded).

Re-ranking uses the Chat-Rec protocol of bench.quality (per-user random 80/20 split, seed 42, the
best first stage: EASE rating-weighted, l2=400, top-20 candidates, relevant = held-out ratings >= 4).
The same users and candidates go through every mode; `--candidates 20 10` re-ranks at each count
(the first stage's best 20 or best 10 of the same list, same users), so a shorter prompt's quality is
read against the full one in the same run. Blend weights are fitted on the validation users
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
import json
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import torch

from bench.common import RESULTS, ml100k_warehouse, read_only, write_result
from chatrec.data.frames import interactions_frame, items_frame, users_frame
from chatrec.evaluation.metrics import ndcg_at_k, precision_at_k, recall_at_k
from chatrec.evaluation.protocols import movielens_file_order
from chatrec.evaluation.splitting import ml100k_fold, per_user_random_split
from chatrec.explain.evidence import EvidenceIndex
from chatrec.llm.backends.base import LLMBackend
from chatrec.llm.backends.ct2_backend import CTranslate2Backend
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


def rerank_setup(con, args) -> dict[str, Any]:
    """The users, first-stage candidates and relevant items every backend and mode is measured on."""
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
    return {"val_users": val_users, "test_users": test_users, "candidates": candidates, "in_test": in_test,
            "relevant": relevant, "relevant_val": relevant_val, "contexts": contexts, "train": train,
            "first_stage": {"mode": "first stage (EASE)", "weight": 0.0,
                            **ranking_metrics(candidates.filter(in_test), relevant)},
            "candidate_recall": recall_at_k(candidates.filter(in_test), relevant, N_CANDIDATES)}  # fmt: skip


def rerank_mode(
    setup: dict[str, Any], backend: LLMBackend, mode: str, args, prompt_tokens: int, n_candidates: int = N_CANDIDATES
) -> list[dict[str, Any]]:
    """One re-rank mode on one backend at one prompt budget and candidate count (the first stage's best
    `n_candidates`): the LLM alone and the blend fitted on the validation users."""
    candidates, in_test = setup["candidates"].filter(pl.col("rank") <= n_candidates), setup["in_test"]
    builder = PromptBuilder(backend.count_tokens, prompt_tokens)
    reranker = LLMReranker(backend, builder, setup["contexts"], mode)
    scores, stats = reranker.score(candidates, K)
    metrics = stats.as_metrics()
    by_user = {s.user_id: s for s in scores}
    val_scores = [by_user[u] for u in setup["val_users"]]
    test_scores = [by_user[u] for u in setup["test_users"]]
    fit = fit_blend_weight(candidates.filter(~in_test), val_scores, setup["relevant_val"], K)
    health = {
        "valid_output_rate": metrics["valid_output_rate"], "invented_items": metrics["invalid_items"],
        "duplicate_items": metrics["duplicate_items"], "latency_ms_per_user": metrics["latency_ms_per_user"],
        "users_per_minute": 60_000 / metrics["latency_ms_per_user"], "prompt_tokens_mean": metrics["prompt_tokens_mean"],
    }  # fmt: skip
    relevant = setup["relevant"]
    llm_only = blend(candidates.filter(in_test), test_scores, 1.0, K)
    blended = blend(candidates.filter(in_test), test_scores, fit.weight, K)
    print(
        f"{backend_name(backend)} {mode} ({prompt_tokens} tokens, {n_candidates} candidates): w={fit.weight} valid={health['valid_output_rate']} "
        f"{health['latency_ms_per_user']:.0f} ms/user",
        flush=True,
    )
    return [
        {"mode": f"LLM {mode} alone", "weight": 1.0, "prompt_budget": prompt_tokens, "candidates": n_candidates,
         **ranking_metrics(llm_only, relevant), **health},
        {"mode": f"blend {mode} (w fitted on validation)", "weight": fit.weight, "prompt_budget": prompt_tokens,
         "candidates": n_candidates,
         "validation_ndcg_by_weight": fit.ndcg_by_weight, **ranking_metrics(blended, relevant), **health},
    ]  # fmt: skip


def backend_name(backend: LLMBackend) -> str:
    return "ctranslate2" if isinstance(backend, CTranslate2Backend) else "transformers"


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
    builder = PromptBuilder(backend.count_tokens, args.prompt_tokens[0])
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
        llm = LLMRatingPredictor(backend, PromptBuilder(backend.count_tokens, args.prompt_tokens[0]), contexts).predict(
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


def load_backend(name: str, args) -> LLMBackend:
    cache = Path("var/cache")
    if name == "ctranslate2":
        return CTranslate2Backend(args.model, cache_dir=cache, batch_size=args.batch_size, threads=args.threads)
    # transformers-int8: the same backend with dynamic int8 linear layers (the CPU default, llm_int8)
    return TransformersBackend(
        args.model, cache_dir=cache, batch_size=args.batch_size, int8=name == "transformers-int8"
    )


def memory_probe(name: str, args) -> dict[str, float]:
    """In a fresh process: RSS after imports, after loading `name`, and the peak while it decodes one
    batch of explanation-sized requests (what one backend costs on its own). The peak is sampled
    (ru_maxrss would carry the parent process's high-water mark across fork and exec)."""
    import threading

    import psutil

    process = psutil.Process()
    rss = process.memory_info().rss / 2**20
    backend = load_backend(name, args)
    loaded = process.memory_info().rss / 2**20
    peak, done = [loaded], threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            peak.append(process.memory_info().rss / 2**20)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    chats = [[{"role": "user", "content": f"In one sentence, why would a fan of movie {i} enjoy Fargo (1996)?"}]
             for i in range(args.batch_size)]  # fmt: skip
    backend.generate(chats, max_new_tokens=48)
    done.set()
    sampler.join()
    return {"rss_before_load_mb": rss, "rss_loaded_mb": loaded, "peak_rss_mb": max(peak), "load_rise_mb": loaded - rss}


def run_memory_probe(name: str, args) -> dict[str, float]:
    command = [sys.executable, "-m", "bench.llm", "--memory-probe", name, "--model", args.model,
               "--batch-size", str(args.batch_size), "--threads", str(args.threads)]  # fmt: skip
    output = subprocess.run(command, capture_output=True, text=True, check=True, cwd=Path(__file__).parents[1])
    return dict(json.loads(output.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="SmolLM2-135M-Instruct")
    parser.add_argument("--backends", nargs="+", default=["transformers-int8", "transformers", "ctranslate2"],
                        choices=["transformers-int8", "transformers", "ctranslate2"])  # fmt: skip
    parser.add_argument("--val-users", type=int, default=40)
    parser.add_argument("--test-users", type=int, default=60)
    parser.add_argument("--modes", nargs="*", default=["choice", "listwise", "yesno"])
    parser.add_argument("--explain-users", type=int, default=50)
    parser.add_argument("--explain-approaches", nargs="+", choices=APPROACHES, default=list(APPROACHES))
    parser.add_argument("--single-requests", type=int, default=20)
    parser.add_argument("--rating-pairs", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument(
        "--prompt-tokens",
        type=int,
        nargs="+",
        default=[1024],
        help="prompt budgets: re-ranking runs at each (same users); explanations and rating use the first",
    )
    parser.add_argument(
        "--candidates",
        type=int,
        nargs="+",
        default=[N_CANDIDATES],
        help=f"how many of the first stage's best {N_CANDIDATES} the LLM re-ranks: each count on the same users",
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--sections", nargs="+", default=["rerank", "explain"], choices=["rerank", "explain", "rating"])
    parser.add_argument(
        "--result-name", default="llm", help="bench/results/<name>.json (llm_explain: explanations only)"
    )
    parser.add_argument(
        "--memory-probe", choices=["transformers-int8", "transformers", "ctranslate2"], help=argparse.SUPPRESS
    )
    parser.add_argument("--merge", nargs="+", help="join these results (one per backend) into --result-name")
    parser.add_argument("--reprobe", action="store_true", help="with --merge: measure each backend's memory again")
    args = parser.parse_args()
    if bad := [n for n in args.candidates if not 1 <= n <= N_CANDIDATES]:
        parser.error(f"--candidates {bad}: each must be 1..{N_CANDIDATES} (the first stage's list the LLM re-ranks)")
    if args.merge:
        print(merge_results(args.merge, args.result_name, args if args.reprobe else None))
        return
    torch.set_num_threads(args.threads)
    if args.memory_probe:
        print(json.dumps(memory_probe(args.memory_probe, args)))
        return
    started, load_start = time.perf_counter(), os.getloadavg()
    warehouse = ml100k_warehouse()
    con = read_only(warehouse)
    backends: dict[str, LLMBackend] = {}
    runs: dict[str, dict[str, Any]] = {}
    for name in args.backends:
        load_started = time.perf_counter()
        backends[name] = load_backend(name, args)
        runs[name] = {"load_seconds": time.perf_counter() - load_started, "memory": run_memory_probe(name, args),
                      "rows": []}  # fmt: skip
    setup = rerank_setup(con, args)

    def save() -> Path:
        # after every step, so a run stopped early (a shared machine, a deadline) keeps what it measured
        payload: dict[str, Any] = {
            "model": args.model, "seed": SEED, "args": vars(args), "backends": runs,
            "rerank": {"val_users": len(setup["val_users"]), "test_users": len(setup["test_users"]),
                       "candidate_recall_at_20": setup["candidate_recall"], "first_stage": setup["first_stage"],
                       "test_user_ids": setup["test_users"]},
            "seconds": time.perf_counter() - started,
            # other jobs share the machine: its load before and after, for the reader to judge
            "load_average_start": load_start, "load_average_end": os.getloadavg(),
        }  # fmt: skip
        return write_result(args.result_name, payload)

    # interleaved, each step on every backend before the next: the first mode, the explanations, the
    # other modes, the rating
    modes = args.modes if "rerank" in args.sections else []
    steps = [("rerank", m) for m in modes[:1]] + [("explain", "")] * ("explain" in args.sections)
    steps += [("rerank", m) for m in modes[1:]] + [("rating", "")] * ("rating" in args.sections)
    for kind, mode in steps:
        for name, backend in backends.items():
            if kind == "rerank":
                for prompt_tokens in args.prompt_tokens:
                    for n_candidates in args.candidates:
                        runs[name]["rows"] += rerank_mode(setup, backend, mode, args, prompt_tokens, n_candidates)
            elif kind == "explain":

                def checkpoint(partial: dict[str, Any], name: str = name) -> None:
                    runs[name]["explain"] = partial  # a long run keeps what it has measured so far
                    save()

                runs[name]["explain"] = explain_section(
                    con, backend, args, setup["candidates"], setup["train"], setup["test_users"], checkpoint
                )
            else:
                runs[name]["rating"] = rating_section(con, backend, args)
            save()
    print(save())


def merge_results(names: list[str], output: str, reprobe: argparse.Namespace | None = None) -> Path:
    parts = [json.loads((RESULTS / f"{name}.json").read_text()) for name in names]
    test_users = {tuple(part["rerank"]["test_user_ids"]) for part in parts}
    if len(test_users) != 1:
        raise SystemExit(f"{names} were not measured on the same test users: cannot be joined")
    merged = {key: value for key, value in parts[0].items() if key != "machine"}
    merged["backends"] = {name: run for part in parts for name, run in part["backends"].items()}
    for name, run in merged["backends"].items():
        if reprobe is not None:
            run["memory"] = run_memory_probe(name, reprobe)
    merged["seconds"] = max(part["seconds"] for part in parts)
    merged["joined_from"] = {name: {"args": part["args"], "machine": part["machine"],
                                    "load_average_start": part["load_average_start"],
                                    "load_average_end": part["load_average_end"]}
                             for name, part in zip(names, parts, strict=True)}  # fmt: skip
    merged["load_average_start"] = [max(p["load_average_start"][i] for p in parts) for i in range(3)]
    merged["load_average_end"] = [max(p["load_average_end"][i] for p in parts) for i in range(3)]
    return write_result(output, merged)


if __name__ == "__main__":
    main()
