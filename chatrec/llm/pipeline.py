"""The LLM stages of the batch pipeline: fit the blend weight on a temporal validation split, then
re-rank and explain a run's users. Knows nothing of Prefect; the flows call it through tasks."""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import duckdb
import polars as pl

from chatrec.batch.partitions import in_chunks
from chatrec.data.frames import interactions_frame, items_frame, users_frame
from chatrec.evaluation.splitting import temporal_split
from chatrec.explain.evidence import EvidenceIndex
from chatrec.llm import make_backend, resolved_backend
from chatrec.llm.backends.base import LLMBackend
from chatrec.llm.context import Catalogue, ContextBuilder
from chatrec.llm.explain import Explanation, ExplanationChecker, LLMExplainer
from chatrec.llm.finetune import production_adapter, validation_set
from chatrec.llm.prompts import PromptBuilder
from chatrec.llm.rerank import LLMReranker, LLMScores, RerankStats, blend, fit_blend_weight
from chatrec.models.training import fingerprint
from chatrec.progress import progress
from chatrec.settings import Settings

if TYPE_CHECKING:
    from distributed import Future

P = TypeVar("P")
LLM_CHUNK_USERS = 16  # users per backend batch: large enough to batch, small enough to show progress
# Dask partitions shrink as the work runs out (each takes 1/SHARES_PER_WORKER of what is left per
# worker): big ones first keep the per-partition cost low, single chunks last keep the workers' finishing
# times within one chunk of each other. Equal partitions left one of 2 workers idle for the last 2 of
# 15 minutes (943 users in 7 partitions of 128 and one of 47; docs/benchmarks.md, session 8).
SHARES_PER_WORKER = 2

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BlendRecord:
    blend_id: str
    weight: float
    mode: str
    llm_model: str
    n_users: int
    ndcg_stage1: float
    ndcg_llm: float
    ndcg_blend: float
    reused: bool
    best_weight: float | None = None  # the grid's NDCG maximum before the interval check
    gain_mean: float | None = None  # NDCG@k gain of best_weight over the first stage, per validation user
    gain_ci_low: float | None = None
    gain_ci_high: float | None = None
    gain_confidence: float | None = None

    @property
    def interval(self) -> str:
        if self.gain_ci_low is None or self.gain_ci_high is None or self.gain_mean is None:
            return "no gain to test: the first stage alone scored best"
        return (
            f"w={self.best_weight:g} gains {self.gain_mean:+.4f} NDCG, {self.gain_confidence or 0:.1%} CI "
            f"{self.gain_ci_low:+.4f}..{self.gain_ci_high:+.4f} over {self.n_users} validation users"
        )

    @property
    def verdict(self) -> str:
        if self.weight == 0.0:
            return (
                f"weight 0: the LLM did not measurably improve validation NDCG ({self.interval}; "
                f"LLM alone {self.ndcg_llm:.4f} vs first stage {self.ndcg_stage1:.4f}), so it is ignored"
            )
        return (
            f"weight {self.weight:g}: validation NDCG {self.ndcg_stage1:.4f} -> {self.ndcg_blend:.4f} ({self.interval})"
        )


def llm_enabled(settings: Settings) -> bool:
    return settings.llm_backend != "none" and (settings.llm_rerank_mode != "off" or settings.llm_explanations == "llm")


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


BLEND_COLUMNS = (
    "blend_id, weight, mode, llm_model, n_users, ndcg_stage1, ndcg_llm, ndcg_blend, true AS reused,"
    " best_weight, gain_mean, gain_ci_low, gain_ci_high, gain_confidence"
)


def latest_blend(con: duckdb.DuckDBPyConnection, settings: Settings) -> BlendRecord | None:
    row = con.execute(
        f"SELECT {BLEND_COLUMNS} FROM models.llm_blends"
        " WHERE candidate_model = ? AND llm_model = ? AND mode = ? ORDER BY fitted_at DESC LIMIT 1",
        [settings.candidate_model, settings.llm_model, settings.llm_rerank_mode],
    ).fetchall()
    return BlendRecord(*row[0]) if row else None


def fit_blend(con: duckdb.DuckDBPyConnection, settings: Settings, backend: LLMBackend | None = None) -> BlendRecord:
    """Fit the blend weight of the configured re-rank mode on the last 10% of interactions by time,
    with the first-stage model trained on the first 90%. Reuses the row when nothing changed."""
    if settings.llm_rerank_mode == "off":
        raise ValueError("llm_rerank_mode is 'off': there is no LLM score to blend")
    interactions = interactions_frame(con)
    key = fingerprint(
        f"blend:{settings.candidate_model}:{settings.llm_model}:{settings.llm_rerank_mode}",
        {"users": settings.llm_blend_users, "k": settings.top_k_final, "n": settings.top_k_candidates,
         "tokens": settings.llm_prompt_tokens, "seed": settings.seed,
         # int8 CTranslate2 and fp32 transformers score the same prompts a little differently
         "backend": resolved_backend(settings),
         # a newly promoted LoRA adapter changes the LLM's scores: the blend must be fitted again
         "adapter": str(settings.llm_adapter or production_adapter(settings, con) or "")},
        interactions,
    )  # fmt: skip
    existing = con.execute(f"SELECT {BLEND_COLUMNS} FROM models.llm_blends WHERE fingerprint = ?", [key]).fetchall()
    if existing:
        return BlendRecord(*existing[0])
    items = items_frame(con)
    train, holdout = temporal_split(interactions, 0.1)
    validation = validation_set(settings, train, holdout, items, users_frame(con))
    backend = backend or make_backend(settings)
    builder = PromptBuilder(backend.count_tokens, settings.llm_prompt_tokens)
    reranker = LLMReranker(backend, builder, validation.reranker_contexts, settings.llm_rerank_mode)  # type: ignore[arg-type]
    scores, stats = reranker.score(validation.candidates, settings.top_k_final)
    fit = fit_blend_weight(validation.candidates, scores, validation.relevant, settings.top_k_final, seed=settings.seed)
    metrics = stats.as_metrics()
    blend_id = f"blend-{_now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    gain = fit.gain
    interval = [gain.mean, gain.low, gain.high, gain.confidence] if gain else [None, None, None, None]
    con.execute(
        "INSERT INTO models.llm_blends (blend_id, fingerprint, fitted_at, candidate_model, llm_model, mode, k,"
        " weight, n_users, ndcg_stage1, ndcg_llm, ndcg_blend, ndcg_by_weight, valid_output_rate,"
        " latency_ms_per_user, best_weight, gain_mean, gain_ci_low, gain_ci_high, gain_confidence)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [blend_id, key, _now(), settings.candidate_model, settings.llm_model, settings.llm_rerank_mode,
         settings.top_k_final, fit.weight, fit.users, fit.ndcg_stage1, fit.ndcg_llm, fit.ndcg_blend,
         json.dumps({str(w): v for w, v in fit.ndcg_by_weight.items()}), metrics["valid_output_rate"],
         metrics["latency_ms_per_user"], fit.best_weight, *interval],
    )  # fmt: skip
    record = BlendRecord(blend_id, fit.weight, settings.llm_rerank_mode, settings.llm_model, fit.users,
                         fit.ndcg_stage1, fit.ndcg_llm, fit.ndcg_blend, False, fit.best_weight, *interval)  # fmt: skip
    log.info("LLM blend fitted: %s", record.verdict)
    return record


def _reranker(
    backend: LLMBackend, settings: Settings, items: pl.DataFrame, interactions: pl.DataFrame, users: pl.DataFrame
) -> LLMReranker:
    contexts = ContextBuilder(Catalogue(items), interactions, users)
    builder = PromptBuilder(backend.count_tokens, settings.llm_prompt_tokens)
    return LLMReranker(backend, builder, contexts, settings.llm_rerank_mode)  # type: ignore[arg-type]


@dataclass
class LLMRunOutput:
    final: pl.DataFrame  # user_id, rank, item_id, score, stage1_score, llm_score
    explanations: list[Explanation]
    metrics: dict[str, float]


@dataclass
class LLMPartOutput:
    """One partition's users through the LLM (what a Dask task sends back: small)."""

    final: pl.DataFrame
    scores: list[LLMScores]
    explanations: list[Explanation]


@dataclass(frozen=True)
class LLMInputs:
    """What the LLM stage reads besides the candidates: scattered once to every Dask worker."""

    evidence: EvidenceIndex
    interactions: pl.DataFrame
    items: pl.DataFrame
    users_table: pl.DataFrame


def llm_users(con: duckdb.DuckDBPyConnection, users: list[str], limit: int | None) -> list[str]:
    """Which of a run's users go through the LLM: all, or the `limit` most recently active (the
    users most likely to come back and read their recommendations)."""
    if limit is None or limit >= len(users):
        return users
    rows = con.execute(
        "SELECT user_id FROM core.interactions WHERE list_contains(?, user_id)"
        " GROUP BY user_id ORDER BY max(ts) DESC, user_id LIMIT ?",
        [users, limit],
    ).fetchall()
    return [row[0] for row in rows]


def reranks(settings: Settings, blend_record: BlendRecord | None) -> bool:
    """Whether the LLM scores the candidates. A blend of weight 0 serves the first stage's order whatever
    the LLM says: its scores would cost two thirds of the stage's time and change nothing, so they are
    computed only when asked for (`llm_rerank_at_weight_zero`)."""
    return (
        settings.llm_rerank_mode != "off"
        and blend_record is not None
        and (blend_record.weight > 0 or settings.llm_rerank_at_weight_zero)
    )


def llm_partition(
    settings: Settings,
    candidates: pl.DataFrame,
    inputs: LLMInputs,
    users: list[str],
    blend_record: BlendRecord | None,
    backend: LLMBackend,
    advance: Callable[[int], None] | None = None,
) -> LLMPartOutput:
    """Re-rank (when `reranks`) and explain (when LLM explanations are on) `users`, in chunks of
    LLM_CHUNK_USERS (each one batch for the backend; `advance` hears of every chunk done)."""
    k = settings.top_k_final
    reranker = (
        _reranker(backend, settings, inputs.items, inputs.interactions, inputs.users_table)
        if reranks(settings, blend_record)
        else None
    )
    explainer = (
        LLMExplainer(
            backend,
            PromptBuilder(backend.count_tokens, settings.llm_prompt_tokens),
            ExplanationChecker.from_items(inputs.items),
            approach=settings.llm_explanation_approach,
        )
        if settings.llm_explanations == "llm"
        else None
    )
    scores: list[LLMScores] = []
    finals: list[pl.DataFrame] = []
    explanations: list[Explanation] = []
    for chunk in in_chunks(users, LLM_CHUNK_USERS):
        mine = candidates.filter(pl.col("user_id").is_in(chunk))
        chunk_scores = reranker.score(mine, k)[0] if reranker is not None else []
        final = blend(mine, chunk_scores, blend_record.weight if blend_record else 0.0, k)
        if not chunk_scores:
            final = final.with_columns(pl.lit(None, dtype=pl.Float64).alias("llm_score"))
        if explainer is not None:
            evidence = inputs.evidence
            requests = [(u, i, evidence.evidence(u, i)) for u, i in final.select("user_id", "item_id").iter_rows()]
            explanations += explainer.explain(requests)
        scores += chunk_scores
        finals.append(final)
        if advance is not None:
            advance(len(chunk))
    final = pl.concat(finals, how="vertical_relaxed") if finals else candidates.head(0)
    return LLMPartOutput(final, scores, explanations)


def _run_metrics(
    part: LLMPartOutput, n_users: int, seconds: float, blend_record: BlendRecord | None
) -> dict[str, float]:
    stats = RerankStats()
    for result in part.scores:
        stats.add(result)
    metrics = stats.as_metrics() if part.scores else {}
    metrics["latency_ms_per_user"] = 1000 * seconds / max(1, n_users)
    metrics["llm_users"] = float(n_users)
    if blend_record is not None:
        metrics["blend_weight"] = blend_record.weight
        # the interval the weight was judged by, beside it (absent when the first stage scored best)
        if blend_record.gain_ci_low is not None and blend_record.gain_ci_high is not None:
            metrics["blend_gain_ci_low"] = blend_record.gain_ci_low
            metrics["blend_gain_ci_high"] = blend_record.gain_ci_high
    if part.explanations:
        passed = sum(e.check_passed for e in part.explanations)
        metrics["explanation_check_pass_rate"] = passed / len(part.explanations)
        metrics["explanation_fallback_rate"] = 1 - passed / len(part.explanations)
    return metrics


def llm_rerank_and_explain(
    settings: Settings,
    candidates: pl.DataFrame,
    inputs: LLMInputs,
    users: list[str],
    blend_record: BlendRecord | None,
    backend: LLMBackend,
) -> LLMRunOutput:
    """The LLM stage in this process, with progress (users done, ETA) on stderr and every 30 s in a log."""
    started = time.perf_counter()
    with progress("LLM re-rank + explain", total=len(users), unit="users", log_every_s=30.0) as advance:
        part = llm_partition(settings, candidates, inputs, users, blend_record, backend, advance)
    seconds = time.perf_counter() - started
    return LLMRunOutput(part.final, part.explanations, _run_metrics(part, len(users), seconds, blend_record))


def use_dask_for_llm(n_users: int, settings: Settings) -> bool:
    """The LLM stage runs on Dask workers (one model per worker process, users partitioned) from
    `llm_dask_min_users` LLM users on, given a cluster address or at least 2 local workers on CPU: one
    worker is slower than this process with all its threads, and one GPU serves one process best
    (bench.llm_stage, 96 users: 2 workers 83 s, in-process 90 s, 1 worker 137 s)."""
    if settings.llm_dask_min_users is None or n_users < settings.llm_dask_min_users:
        return False
    if settings.dask_address:
        return True
    workers = settings.dask_workers or max(1, min(os.cpu_count() or 1, 4))
    return workers >= 2 and settings.torch_device() == "cpu"


def user_partitions(users: list[str], workers: int) -> list[list[str]]:
    """`users` in order, split for `workers` Dask workers into partitions of whole LLM_CHUNK_USERS
    chunks that shrink as the work runs out (guided self-scheduling): each takes 1/SHARES_PER_WORKER of
    a worker's share of the chunks left, so the last partitions are single chunks and no worker idles
    long while another finishes a big one."""
    chunks = in_chunks(users, LLM_CHUNK_USERS)
    partitions = []
    while chunks:
        take = max(1, len(chunks) // (max(1, workers) * SHARES_PER_WORKER))
        partitions.append([user for chunk in chunks[:take] for user in chunk])
        chunks = chunks[take:]
    return partitions


def completed_in_turn(
    partitions: Iterable[P], submit: Callable[[P], Future], *, in_flight: int
) -> Iterator[tuple[P, Any]]:
    """Each partition with its result as it finishes, at most `in_flight` submitted at a time: the next
    is submitted as one finishes, so a free worker takes the next partition in order. Submitted all at
    once, Dask's scheduler assigns them ahead by its guesses of their cost, and with partitions that
    shrink one worker took 592 of 943 users and the other 351 (a sleep-timed probe, docs/benchmarks.md)."""
    from distributed import as_completed

    pending = iter(partitions)
    submitted: dict[str, P] = {}

    def start(partition: P) -> Future:
        future = submit(partition)
        submitted[future.key] = partition
        return future

    running = as_completed([start(partition) for partition in islice(pending, max(1, in_flight))])
    for future in running:
        yield submitted.pop(future.key), future.result()
        following = next(pending, None)
        if following is not None:
            running.add(start(following))


# the worker process's backend, loaded by its first LLM task and reused by the next ones
_WORKER_BACKENDS: dict[str, LLMBackend] = {}


def _worker_partition(
    settings: Settings,
    candidates: pl.DataFrame,
    inputs: LLMInputs,
    users: list[str],
    blend_record: BlendRecord | None,
) -> LLMPartOutput:
    key = json.dumps(settings.model_dump(mode="json", include=LLM_BACKEND_FIELDS), sort_keys=True)
    if key not in _WORKER_BACKENDS:
        _WORKER_BACKENDS.clear()
        _WORKER_BACKENDS[key] = make_backend(settings, registry_adapter=False)
    return llm_partition(settings, candidates, inputs, users, blend_record, _WORKER_BACKENDS[key])


LLM_BACKEND_FIELDS = {
    "llm_backend", "llm_model", "llm_base_url", "llm_int8", "llm_threads", "llm_batch_size", "llm_adapter",
    "cache_dir", "device", "torch_threads",
}  # fmt: skip


def llm_on_dask(
    settings: Settings,
    candidates: pl.DataFrame,
    inputs: LLMInputs,
    users: list[str],
    blend_record: BlendRecord | None,
    adapter: Path | None = None,
) -> LLMRunOutput:
    """The LLM stage partitioned by user over Dask workers (`dask_address`, else a LocalCluster of
    `dask_workers` processes, one thread each): the stage's inputs are scattered once, each worker loads
    the model once, and every partition returns its rows and explanations (small) to this process,
    which writes them into the run like the in-process path. Partitions shrink as the work runs out
    (`user_partitions`), so a slow worker does not hold up the end."""
    from chatrec.features.extract import dask_client

    started = time.perf_counter()
    # the adapter this process resolved from the registry: a worker must not open the warehouse file
    # (this process holds it) to look it up again
    settings = settings.model_copy(update={"llm_adapter": adapter})
    client = dask_client(settings)
    parts: list[LLMPartOutput] = []
    try:
        workers = max(1, len(client.scheduler_info()["workers"]))
        shared = client.scatter(inputs, broadcast=True)
        with progress(
            f"LLM re-rank + explain ({workers} Dask workers)", total=len(users), unit="users", log_every_s=30.0
        ) as advance:

            def submit(chunk: list[str]) -> Future:
                return client.submit(
                    _worker_partition, settings, candidates.filter(pl.col("user_id").is_in(chunk)), shared,
                    chunk, blend_record, pure=False,
                )  # fmt: skip

            for chunk, part in completed_in_turn(user_partitions(users, workers), submit, in_flight=workers):
                parts.append(part)
                advance(len(chunk))
    finally:
        cluster = client.cluster
        client.close()
        if not settings.dask_address and cluster is not None:
            cluster.close()
    order = {user: n for n, user in enumerate(users)}
    final = pl.concat([p.final for p in parts], how="vertical_relaxed").sort(
        pl.col("user_id").replace_strict(order, return_dtype=pl.Int64), "rank"
    )
    merged = LLMPartOutput(final, [s for p in parts for s in p.scores], [e for p in parts for e in p.explanations])
    seconds = time.perf_counter() - started
    return LLMRunOutput(final, merged.explanations, _run_metrics(merged, len(users), seconds, blend_record))
