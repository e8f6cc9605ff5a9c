-- The monitor's figures per run, oldest run first, with the verdict of the report they came from
-- (failed = alarm, information = drift above threshold that is not an alarm, passed):
-- one row per (run, scope, series, metric). series = the data set for drift, the report kind otherwise;
-- scope 'flow' holds the monitor's own figures (alarms_fired, alarm_<check> values, failed_reports).
SELECT m.run_id,
       r.finished_at,
       m.scope,
       m.subject AS series,
       m.metric,
       m.value,
       rep.passed,
       rep.verdict,
       rep.reason
FROM monitoring.metrics m
JOIN recs.runs r USING (run_id)
LEFT JOIN marts.report_history rep
       ON rep.run_id = m.run_id
      AND rep.kind = CASE m.scope WHEN 'drift' THEN 'data_drift' WHEN 'recs' THEN 'recsys_quality' ELSE 'llm_health' END
      AND coalesce(rep.dataset, '') = CASE m.scope WHEN 'drift' THEN m.subject ELSE '' END
WHERE (m.scope = 'drift') OR (m.scope, m.subject) IN (('recs', 'recsys_quality'), ('llm', 'llm_health'), ('flow', 'monitor'))
ORDER BY r.finished_at, m.run_id, m.scope, m.subject, m.metric
