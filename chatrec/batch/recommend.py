"""Batch top-k for all (or selected) users from the production candidate model, with explanations.

With the LLM layer on, the run's LLM users (all, or `llm_users_per_run` most recently active) get
their top-20 candidates re-ranked by the blend of first-stage and LLM scores (weight fitted on
validation; see chatrec.llm.pipeline) and LLM-phrased, checked explanations; the other users keep
the first-stage order and template explanations (`source = 'template_only'`).

A run is inserted as `running` (so operators see it), and its rows plus the switch to `complete`
are written in ONE transaction: the analyst views only ever show complete runs, and a run that
fails is marked `failed` with the error.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from chatrec.data.frames import interactions_frame, items_frame
from chatrec.explain.evidence import EvidenceIndex, template_explanation
from chatrec.llm.backends.base import LLMBackend
from chatrec.llm.pipeline import BlendRecord, fit_blend, latest_blend, llm_enabled, llm_rerank_and_explain, llm_users
from chatrec.models.base import Recommender
from chatrec.models.training import load_model, production_model
from chatrec.progress import progress
from chatrec.settings import Settings
from chatrec.warehouse import transaction


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    model_id: str
    n_users: int
    n_recommendations: int
    n_explanations: int
    seconds: float
    llm_users: int = 0
    llm_metrics: dict[str, float] | None = None
    blend: str | None = None


RECOMMEND_CHUNK_USERS = 512  # users per model.recommend call: bounds memory, feeds the progress bar


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def recommend_batch(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    *,
    user_ids: list[str] | None = None,
    model_id: str | None = None,
    backend: LLMBackend | None = None,
) -> RunSummary:
    started = time.perf_counter()
    if model_id is None:
        current = production_model(con, "candidate", settings.candidate_model)
        if current is None:
            raise LookupError(
                f"no production '{settings.candidate_model}' model in models.registry: run `chatrec run retrain` first"
            )
        model_id = current.model_id
    model = load_model(con, model_id)
    if not isinstance(model, Recommender):
        raise TypeError(f"{model_id} is not a candidate recommender")
    users = user_ids or [row[0] for row in con.execute("SELECT user_id FROM core.users ORDER BY user_id").fetchall()]
    if not users:
        raise ValueError("no users to recommend for")
    use_llm = llm_enabled(settings)
    blend_record: BlendRecord | None = None
    if use_llm:
        if backend is None:
            from chatrec.llm import make_backend

            backend = make_backend(settings)
        if settings.llm_rerank_mode != "off":
            # the nightly retrain fits it; a standalone run fits it first when none exists yet
            blend_record = latest_blend(con, settings) or fit_blend(con, settings, backend)
    run_id = f"run-{_now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    params = {
        "candidates": settings.top_k_candidates,
        "k": settings.top_k_final,
        "reranker": f"llm {settings.llm_rerank_mode}, blend {blend_record.verdict}"
        if blend_record
        else "none (first-stage order)",
        "explanations": f"{settings.llm_explanations} (checked, template fallback)"
        if use_llm
        else "template from evidence",
        "llm_users_per_run": settings.llm_users_per_run if use_llm else 0,
        "blend_id": blend_record.blend_id if blend_record else None,
    }
    with transaction(con):
        # DuckDB lets one process write the file at a time, so a run still 'running' now belongs to a
        # process that died (killed, out of memory) before completing: say so instead of leaving it
        con.execute(
            "UPDATE recs.runs SET status = 'failed', finished_at = ?, error = ? WHERE status = 'running'",
            [_now(), "abandoned: its process ended before the run completed (found by the next run)"],
        )
        con.execute(
            "INSERT INTO recs.runs (run_id, started_at, status, model_id, llm_model, k, n_users, params)"
            " VALUES (?, ?, 'running', ?, ?, ?, ?, ?)",
            [
                run_id,
                _now(),
                model_id,
                settings.llm_model if use_llm else None,
                settings.top_k_final,
                len(users),
                json.dumps(params),
            ],
        )
    try:
        parts = []
        with progress("recommend", total=len(users), unit="users") as advance:
            for start in range(0, len(users), RECOMMEND_CHUNK_USERS):
                chunk = users[start : start + RECOMMEND_CHUNK_USERS]
                parts.append(model.recommend(chunk, settings.top_k_candidates))
                advance(len(chunk))
        candidates = pl.concat(parts, how="vertical_relaxed")
        final = candidates.filter(pl.col("rank") <= settings.top_k_final).with_columns(
            pl.col("score").alias("stage1_score"), pl.lit(None, dtype=pl.Float64).alias("llm_score")
        )
        interactions, items = interactions_frame(con), items_frame(con)
        index = EvidenceIndex(interactions, items)
        chosen = llm_users(con, users, settings.llm_users_per_run) if use_llm else []
        explanations = []
        llm_metrics: dict[str, float] | None = None
        if chosen:
            assert backend is not None
            output = llm_rerank_and_explain(
                con, settings, candidates, index, interactions, items, chosen, blend_record, backend
            )
            final = pl.concat([final.filter(~pl.col("user_id").is_in(chosen)), output.final.select(final.columns)])
            final = final.sort("user_id", "rank")
            explanations = [
                {"user_id": e.user_id, "item_id": e.item_id, "text": e.text,
                 "evidence": json.dumps(index.evidence(e.user_id, e.item_id).to_json()), "source": e.source,
                 "check_passed": e.check_passed, "check_failure": e.check_failure}
                for e in output.explanations
            ]  # fmt: skip
            llm_metrics = output.metrics
        explained = {(e["user_id"], e["item_id"]) for e in explanations}
        for user, item in final.select("user_id", "item_id").iter_rows():
            if (user, item) in explained:
                continue
            evidence = index.evidence(user, item)
            explanations.append(
                {
                    "user_id": user,
                    "item_id": item,
                    "text": template_explanation(evidence),
                    "evidence": json.dumps(evidence.to_json()),
                    "source": "template_only" if use_llm else "template",
                    "check_passed": True,
                    "check_failure": None,
                }
            )
        explanation_frame = pl.DataFrame(explanations)
        with transaction(con):
            con.register("_final", final.to_arrow())
            con.execute(
                "INSERT INTO recs.recommendations (run_id, user_id, rank, item_id, score, stage1_score, llm_score)"
                " SELECT ?, user_id, rank, item_id, score, stage1_score, llm_score FROM _final",
                [run_id],
            )
            con.unregister("_final")
            con.register("_explanations", explanation_frame.to_arrow())
            con.execute(
                "INSERT INTO recs.explanations (run_id, user_id, item_id, text, evidence, source, check_passed, check_failure)"
                " SELECT ?, user_id, item_id, text, evidence, source, check_passed, check_failure FROM _explanations",
                [run_id],
            )
            con.unregister("_explanations")
            if llm_metrics:
                con.executemany(
                    "INSERT INTO monitoring.metrics (run_id, scope, subject, metric, value) VALUES (?, 'llm', ?, ?, ?)",
                    [[run_id, run_id, name, value] for name, value in llm_metrics.items()],
                )
            con.execute("UPDATE recs.runs SET status = 'complete', finished_at = ? WHERE run_id = ?", [_now(), run_id])
    except Exception as exc:
        con.execute(
            "UPDATE recs.runs SET status = 'failed', finished_at = ?, error = ? WHERE run_id = ?",
            [_now(), f"{type(exc).__name__}: {exc}", run_id],
        )
        raise
    return RunSummary(
        run_id, model_id, len(users), final.height, explanation_frame.height, time.perf_counter() - started,
        llm_users=len(chosen), llm_metrics=llm_metrics, blend=blend_record.verdict if blend_record else None,
    )  # fmt: skip


def sample_recommendations(con: duckdb.DuckDBPyConnection, run_id: str, n_users: int = 5) -> list[dict[str, Any]]:
    """The run's recommendations for its first `n_users` users, with titles and explanations (for a glance)."""
    sql = (Path(__file__).parent / "queries" / "sample_recommendations.sql").read_text()
    return con.sql(sql, params={"run_id": run_id, "n_users": n_users}).pl().to_dicts()
