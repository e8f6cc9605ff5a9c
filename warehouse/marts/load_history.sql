-- Every ingest with its row accounting: rows_in = rows_loaded + rows_unchanged + rows_quarantined.
CREATE OR REPLACE VIEW marts.load_history AS
SELECT
    load_id, source, path, status, started_at, finished_at,
    rows_in, rows_loaded, rows_unchanged, rows_quarantined,
    rows_in = rows_loaded + rows_unchanged + rows_quarantined AS rows_balance
FROM raw.loads
ORDER BY started_at DESC;

COMMENT ON VIEW marts.load_history IS
    'Ingest loads with counts; rows_balance is false only if a row was lost, which must never happen.';
