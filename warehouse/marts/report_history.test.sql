-- Every report belongs to a recommendation run that exists, and a failed report says why.
SELECT * FROM marts.report_history WHERE run_finished_at IS NULL OR (passed = false AND coalesce(reason, '') = '')
