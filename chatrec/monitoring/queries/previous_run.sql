-- The complete run finished just before $run_id, with its model's train window (the comparison run).
SELECT r.run_id, r.model_id, r.k, r.started_at, r.finished_at, r.llm_model,
       m.name AS model_name, m.params AS model_params, m.train_start, m.train_end
FROM recs.runs r
LEFT JOIN models.registry m USING (model_id)
WHERE r.status = 'complete'
  AND r.finished_at < (SELECT finished_at FROM recs.runs WHERE run_id = $run_id)
ORDER BY r.finished_at DESC, r.run_id DESC
LIMIT 1
