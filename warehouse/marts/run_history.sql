-- Every recommendation run with its duration and how many users and items it covered.
CREATE OR REPLACE VIEW marts.run_history AS
SELECT
    r.run_id,
    r.status,
    r.started_at,
    r.finished_at,
    date_diff('millisecond', r.started_at, r.finished_at) / 1000.0 AS duration_s,
    r.model_id,
    r.llm_model,
    r.k,
    count(DISTINCT rec.user_id) AS users_recommended,
    count(DISTINCT rec.item_id) AS distinct_items,
    count(rec.item_id)          AS recommendations,
    r.error
FROM recs.runs r
LEFT JOIN recs.recommendations rec USING (run_id)
GROUP BY ALL
ORDER BY r.started_at DESC;

COMMENT ON VIEW marts.run_history IS
    'One row per recommendation run (running, complete or failed) with duration and coverage.';
