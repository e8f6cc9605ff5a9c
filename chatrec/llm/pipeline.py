"""The LLM stages of the batch pipeline: fit the blend weight on a temporal validation split, then
re-rank and explain a run's users. Knows nothing of Prefect; the flows call it through tasks."""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb
import polars as pl

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

LLM_CHUNK_USERS = 16  # users per backend batch: large enough to batch, small enough to show progress

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


def llm_rerank_and_explain(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    candidates: pl.DataFrame,
    evidence: EvidenceIndex,
    interactions: pl.DataFrame,
    items: pl.DataFrame,
    users: list[str],
    blend_record: BlendRecord | None,
    backend: LLMBackend,
) -> LLMRunOutput:
    """Re-rank (when a re-rank mode is on) and explain (when LLM explanations are on) `users`."""
    k = settings.top_k_final
    stats = RerankStats()
    started = time.perf_counter()
    # a blend of weight 0 serves the first stage's order whatever the LLM says: its scores would cost two
    # thirds of the stage's time and change nothing, so they are computed only when asked for
    rerank = (
        settings.llm_rerank_mode != "off"
        and blend_record is not None
        and (blend_record.weight > 0 or settings.llm_rerank_at_weight_zero)
    )
    reranker = _reranker(backend, settings, items, interactions, users_frame(con)) if rerank else None
    explainer = (
        LLMExplainer(
            backend,
            PromptBuilder(backend.count_tokens, settings.llm_prompt_tokens),
            ExplanationChecker.from_items(items),
            approach=settings.llm_explanation_approach,
        )
        if settings.llm_explanations == "llm"
        else None
    )
    scores: list[LLMScores] = []
    finals: list[pl.DataFrame] = []
    explanations: list[Explanation] = []
    # users in chunks, for the progress bar; each chunk is still one batch for the backend
    # in a log (a worker, `make run > log`) a line every 30 s: users done, elapsed, ETA
    with progress("LLM re-rank + explain", total=len(users), unit="users", log_every_s=30.0) as advance:
        for start in range(0, len(users), LLM_CHUNK_USERS):
            chunk = users[start : start + LLM_CHUNK_USERS]
            mine = candidates.filter(pl.col("user_id").is_in(chunk))
            chunk_scores: list[LLMScores] = []
            if reranker is not None:
                chunk_scores, chunk_stats = reranker.score(mine, k)
                stats.seconds += chunk_stats.seconds
                for result in chunk_scores:
                    stats.add(result)
            final = blend(mine, chunk_scores, blend_record.weight if blend_record else 0.0, k)
            if not chunk_scores:
                final = final.with_columns(pl.lit(None, dtype=pl.Float64).alias("llm_score"))
            if explainer is not None:
                requests = [(u, i, evidence.evidence(u, i)) for u, i in final.select("user_id", "item_id").iter_rows()]
                explanations += explainer.explain(requests)
            scores += chunk_scores
            finals.append(final)
            advance(len(chunk))
    final = pl.concat(finals, how="vertical_relaxed")
    seconds = time.perf_counter() - started
    metrics = stats.as_metrics() if scores else {}
    metrics["latency_ms_per_user"] = 1000 * seconds / max(1, len(users))
    metrics["llm_users"] = float(len(users))
    if blend_record is not None:
        metrics["blend_weight"] = blend_record.weight
        # the interval the weight was judged by, beside it (absent when the first stage scored best)
        if blend_record.gain_ci_low is not None and blend_record.gain_ci_high is not None:
            metrics["blend_gain_ci_low"] = blend_record.gain_ci_low
            metrics["blend_gain_ci_high"] = blend_record.gain_ci_high
    if explanations:
        passed = sum(e.check_passed for e in explanations)
        metrics["explanation_check_pass_rate"] = passed / len(explanations)
        metrics["explanation_fallback_rate"] = 1 - passed / len(explanations)
    return LLMRunOutput(final, explanations, metrics)
