-- One row per complete recommendation run up to $run_id: the LLM layer's own figures (metrics with
-- scope 'llm' and subject = the run id), and explanation fallback / check-pass rates computed here
-- from recs.explanations. A run that did not use the LLM has llm_used = false and null figures.
WITH llm AS (
    SELECT run_id,
           max(value) FILTER (WHERE metric = 'valid_output_rate')          AS valid_output_rate,
           max(value) FILTER (WHERE metric = 'invalid_items')              AS invalid_items,
           max(value) FILTER (WHERE metric = 'duplicate_items')            AS duplicate_items,
           max(value) FILTER (WHERE metric = 'explanation_fallback_rate')  AS reported_fallback_rate,
           max(value) FILTER (WHERE metric = 'explanation_check_pass_rate') AS reported_check_pass_rate,
           max(value) FILTER (WHERE metric = 'latency_ms_per_user')        AS latency_ms_per_user,
           max(value) FILTER (WHERE metric = 'blend_weight')               AS blend_weight,
           max(value) FILTER (WHERE metric = 'blend_gain_ci_low')          AS blend_gain_ci_low,
           max(value) FILTER (WHERE metric = 'blend_gain_ci_high')         AS blend_gain_ci_high,
           max(value) FILTER (WHERE metric = 'prompt_tokens_mean')         AS prompt_tokens_mean,
           max(value) FILTER (WHERE metric = 'prompt_tokens_max')          AS prompt_tokens_max,
           count(*)                                                        AS n_metrics
    FROM monitoring.metrics
    WHERE scope = 'llm' AND subject = run_id
    GROUP BY run_id
),
-- only explanations the LLM was asked to phrase count: 'template_only' rows belong to users the run
-- did not send to the LLM (llm_users_per_run), so they are neither passes nor fallbacks
explained AS (
    SELECT run_id,
           count(*)                                             AS n_explanations,
           avg(CASE WHEN source = 'template' THEN 1.0 ELSE 0.0 END) AS template_share,
           avg(CASE WHEN check_passed THEN 1.0 ELSE 0.0 END)        AS check_pass_share
    FROM recs.explanations
    WHERE source <> 'template_only'
    GROUP BY run_id
),
runs AS (
    SELECT r.*, (l.n_metrics IS NOT NULL OR r.llm_model IS NOT NULL) AS llm_used
    FROM recs.runs r
    LEFT JOIN llm l USING (run_id)
    WHERE r.status = 'complete'
      AND r.finished_at <= (SELECT finished_at FROM recs.runs WHERE run_id = $run_id)
)
SELECT
    r.run_id,
    r.finished_at,
    r.llm_model,
    r.llm_used,
    CAST(r.n_users AS DOUBLE)                                   AS n_users,
    CAST(coalesce(e.n_explanations, 0) AS DOUBLE)               AS n_explanations,
    l.valid_output_rate,
    l.invalid_items,
    l.duplicate_items,
    -- without the LLM every explanation is a template by design: that is not a fallback
    CASE WHEN r.llm_used THEN e.template_share END              AS explanation_fallback_rate,
    CASE WHEN r.llm_used THEN e.check_pass_share END            AS explanation_check_pass_rate,
    l.reported_fallback_rate,
    l.latency_ms_per_user,
    l.blend_weight,
    l.blend_gain_ci_low,
    l.blend_gain_ci_high,
    l.prompt_tokens_mean,
    l.prompt_tokens_max
FROM runs r
LEFT JOIN llm l USING (run_id)
LEFT JOIN explained e USING (run_id)
ORDER BY r.finished_at, r.run_id
