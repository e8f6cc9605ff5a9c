-- Each monitoring report with its drift share and pass/fail, newest first, for trend queries.
CREATE OR REPLACE VIEW marts.drift_history AS
SELECT
    rep.report_id,
    rep.run_id,
    rep.kind,
    rep.created_at,
    rep.passed,
    rep.reason,
    count(d.column_name)                                       AS columns_tested,
    count(d.column_name) FILTER (WHERE d.drifted)              AS columns_drifted,
    count(d.column_name) FILTER (WHERE d.drifted) / nullif(count(d.column_name), 0) AS drift_share,
    rep.html_path,
    rep.key_figures
FROM monitoring.reports rep
LEFT JOIN monitoring.drift_results d USING (report_id)
GROUP BY ALL
ORDER BY rep.created_at DESC;

COMMENT ON VIEW marts.drift_history IS
    'Every saved monitoring report with share of drifted columns, pass/fail and the path of its HTML.';
