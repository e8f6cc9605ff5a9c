-- The recommendations of run $run_id for its first $n_users users (by user id): rank, title, score and
-- explanation, for the recommend flow's sample artifact.
WITH sample_users AS (
    SELECT DISTINCT user_id FROM recs.recommendations WHERE run_id = $run_id ORDER BY user_id LIMIT $n_users
)
SELECT r.user_id, r.rank, r.item_id, i.title, round(r.score, 4) AS score, e.source AS explanation_source, e.text AS explanation
FROM recs.recommendations r
JOIN sample_users USING (user_id)
LEFT JOIN core.items i USING (item_id)
LEFT JOIN recs.explanations e ON e.run_id = r.run_id AND e.user_id = r.user_id AND e.item_id = r.item_id
WHERE r.run_id = $run_id
ORDER BY r.user_id, r.rank
