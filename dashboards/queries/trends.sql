-- The monitor's figures per run, oldest run first: one row per (run, scope, subject, metric).
SELECT m.run_id, r.finished_at, m.scope, m.subject, m.metric, m.value
FROM monitoring.metrics m
JOIN recs.runs r USING (run_id)
WHERE (m.scope, m.subject) IN (('drift', 'interactions'), ('drift', 'users'), ('drift', 'items'),
                               ('recs', 'recsys_quality'), ('llm', 'llm_health'))
ORDER BY r.finished_at, m.run_id
