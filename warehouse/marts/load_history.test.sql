-- No completed load may lose rows.
SELECT load_id FROM raw.loads WHERE status = 'complete' AND rows_in <> rows_loaded + rows_unchanged + rows_quarantined
