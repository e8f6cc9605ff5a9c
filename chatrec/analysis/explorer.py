"""The recommendations explorer's one computed view: a user's first-stage candidates, re-scored by the
run's own model artifact (the warehouse keeps only the final top-k), beside the final ranks."""

from __future__ import annotations

import duckdb
import polars as pl

from chatrec.models import Recommender
from chatrec.models.training import load_model
from chatrec.settings import Settings


def first_stage_candidates(
    con: duckdb.DuckDBPyConnection, run_id: str, user_id: str, settings: Settings
) -> pl.DataFrame:
    """item_id, title, stage1_rank, stage1_score, final_rank, llm_score for the run's model and user
    (settings.top_k_candidates of them, as the batch run handed to the re-ranker).

    Raises KeyError when the run's model is not registered, ArtifactError/OSError when its artifact is
    gone or changed (archived, cleaned, tampered)."""
    rows = con.execute("SELECT model_id FROM recs.runs WHERE run_id = ?", [run_id]).fetchall()
    if not rows or rows[0][0] is None:
        raise KeyError(f"run {run_id!r} has no model_id in recs.runs")
    model = load_model(con, rows[0][0], settings)
    if not isinstance(model, Recommender):
        raise KeyError(f"{rows[0][0]} is not a candidate recommender")
    candidates = model.recommend([user_id], settings.top_k_candidates).select(
        "item_id", pl.col("rank").alias("stage1_rank"), pl.col("score").alias("stage1_score")
    )
    final = con.sql(
        "SELECT item_id, rank AS final_rank, llm_score FROM recs.recommendations WHERE run_id = ? AND user_id = ?",
        params=[run_id, user_id],
    ).pl()
    titles = con.sql("SELECT item_id, title FROM core.items").pl()
    return (
        candidates.join(final, on="item_id", how="left")
        .join(titles, on="item_id", how="left")
        .select("item_id", "title", "stage1_rank", "stage1_score", "final_rank", "llm_score")
        .sort("stage1_rank")
    )
