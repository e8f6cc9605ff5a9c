"""Batch top-k for all (or selected) users from the production candidate model, with explanations.

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

import duckdb
import polars as pl

from chatrec.data.frames import interactions_frame, items_frame
from chatrec.explain.evidence import EvidenceIndex, template_explanation
from chatrec.models.base import Recommender
from chatrec.models.training import load_model, production_model
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


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def recommend_batch(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    *,
    user_ids: list[str] | None = None,
    model_id: str | None = None,
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
    run_id = f"run-{_now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    params = {
        "candidates": settings.top_k_candidates,
        "k": settings.top_k_final,
        "reranker": "none (first-stage order)",
        "explanations": "template from evidence",
    }
    with transaction(con):
        con.execute(
            "INSERT INTO recs.runs (run_id, started_at, status, model_id, llm_model, k, n_users, params)"
            " VALUES (?, ?, 'running', ?, NULL, ?, ?, ?)",
            [run_id, _now(), model_id, settings.top_k_final, len(users), json.dumps(params)],
        )
    try:
        candidates = model.recommend(users, settings.top_k_candidates)
        final = candidates.filter(pl.col("rank") <= settings.top_k_final).with_columns(
            pl.col("score").alias("stage1_score"), pl.lit(None, dtype=pl.Float64).alias("llm_score")
        )
        index = EvidenceIndex(interactions_frame(con), items_frame(con))
        explanations = []
        for user, item in final.select("user_id", "item_id").iter_rows():
            evidence = index.evidence(user, item)
            explanations.append(
                {
                    "user_id": user,
                    "item_id": item,
                    "text": template_explanation(evidence),
                    "evidence": json.dumps(evidence.to_json()),
                    "source": "template",
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
            con.execute("UPDATE recs.runs SET status = 'complete', finished_at = ? WHERE run_id = ?", [_now(), run_id])
    except Exception as exc:
        con.execute(
            "UPDATE recs.runs SET status = 'failed', finished_at = ?, error = ? WHERE run_id = ?",
            [_now(), f"{type(exc).__name__}: {exc}", run_id],
        )
        raise
    return RunSummary(
        run_id, model_id, len(users), final.height, explanation_frame.height, time.perf_counter() - started
    )
