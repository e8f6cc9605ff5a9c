-- The newest complete recommendation run, one row per (user, rank), with titles and explanations.
-- Runs that are still running or failed never show here (recs.runs.status).
CREATE OR REPLACE VIEW marts.latest_recommendations AS
WITH latest AS (
    SELECT run_id, finished_at, model_id, llm_model
    FROM recs.runs
    WHERE status = 'complete'
    ORDER BY finished_at DESC, run_id DESC
    LIMIT 1
)
SELECT
    r.run_id,
    latest.finished_at AS run_finished_at,
    latest.model_id,
    latest.llm_model,
    r.user_id,
    r.rank,
    r.item_id,
    i.title,
    i.release_year,
    i.genres,
    r.score,
    r.stage1_score,
    r.llm_score,
    e.text          AS explanation,
    e.source        AS explanation_source,
    e.check_passed  AS explanation_check_passed
FROM recs.recommendations r
JOIN latest USING (run_id)
LEFT JOIN core.items i USING (item_id)
LEFT JOIN recs.explanations e ON e.run_id = r.run_id AND e.user_id = r.user_id AND e.item_id = r.item_id;

COMMENT ON VIEW marts.latest_recommendations IS
    'Top-k recommendations of the newest complete run, one row per user and rank, with item title and the checked explanation.';
COMMENT ON COLUMN marts.latest_recommendations.explanation_source IS
    'llm = phrased by the language model and passed the grounding check; template = fallback sentence built from the evidence.';
COMMENT ON COLUMN marts.latest_recommendations.stage1_score IS
    'Score of the first-stage (candidate) recommender before LLM re-ranking.';
