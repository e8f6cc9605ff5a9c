-- Every monitoring report per recommendation run with its verdict, headline figure and files, oldest
-- run first: the SQL side of the report index page.
CREATE OR REPLACE VIEW marts.report_history AS
SELECT
    rep.run_id,
    r.finished_at                                           AS run_finished_at,
    rep.kind,
    rep.dataset,
    rep.passed,
    -- failed: an alarm (the monitor failed on it); information: a drift report above its threshold
    -- that is not an alarm (drift_alarm off), said but not failed; passed: neither
    CASE
        WHEN rep.passed IS NULL THEN NULL
        WHEN NOT rep.passed THEN 'failed'
        WHEN rep.kind = 'data_drift'
             AND CAST(rep.key_figures ->> '$.drift_share' AS DOUBLE) > CAST(rep.key_figures ->> '$.threshold' AS DOUBLE)
            THEN 'information'
        ELSE 'passed'
    END                                                     AS verdict,
    rep.reason,
    CAST(rep.key_figures ->> '$.drift_share' AS DOUBLE)     AS drift_share,
    CAST(rep.key_figures ->> ('$.ndcg_at_' || (rep.key_figures ->> '$.k')) AS DOUBLE) AS ndcg_at_k,
    rep.key_figures ->> '$.evaluated_on'                    AS evaluated_on,
    CAST(rep.key_figures ->> '$.valid_output_rate' AS DOUBLE) AS llm_valid_output_rate,
    CAST(rep.key_figures ->> '$.explanation_fallback_rate' AS DOUBLE) AS llm_fallback_rate,
    rep.html_path,
    rep.json_path,
    rep.evidently_project,
    rep.snapshot_id,
    rep.created_at
FROM monitoring.reports rep
LEFT JOIN recs.runs r USING (run_id)
ORDER BY r.finished_at, rep.run_id, rep.kind, rep.dataset;

COMMENT ON VIEW marts.report_history IS
    'Every monitoring report (data drift per data set, recsys quality, LLM health) per run: verdict, reason, headline figure, HTML/JSON paths.';
