-- The epoch unit of each file of this load, from the magnitude of its numeric timestamps: in the
-- plausible window (1990 onwards) seconds stay below 1e11 and milliseconds above it, so the median
-- decides, and a stray row in another unit falls outside the window and is quarantined.
CREATE OR REPLACE TEMP TABLE _ts_units AS
SELECT
    source_file,
    CASE
        WHEN median(abs(ts_number)) >= 1e14 THEN 'microseconds'
        WHEN median(abs(ts_number)) >= 1e11 THEN 'milliseconds'
        ELSE 'seconds'
    END AS unit,
    count(ts_number) AS n_epoch,
    count(ts_iso) AS n_iso,
    count(*) AS n_rows
FROM staging.stg_interactions
WHERE load_id = $load_id
GROUP BY source_file;
