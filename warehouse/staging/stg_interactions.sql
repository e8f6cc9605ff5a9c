-- Rename and cast only: raw.interactions typed with TRY_CAST (NULL where a value does not parse).
-- Validation and de-duplication happen when rows move to core (chatrec.data.loader), which also
-- picks each file's epoch unit (seconds, milliseconds, microseconds) from ts_number: `ts` here reads
-- numbers as seconds. ISO 8601 text with an offset (Z, +05:00, -0800) is converted to UTC; text
-- without one (a bare date too) is taken as UTC already, whatever the session's TimeZone. Timestamps are stored as UTC without a time zone.
CREATE OR REPLACE VIEW staging.stg_interactions AS
WITH typed AS (
    SELECT
        *,
        TRY_CAST(trim(ts) AS DOUBLE) AS ts_number_any,
        CASE
            WHEN regexp_matches(trim(ts), '[0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)?\s*([zZ]|[+-][0-9]{2}(:?[0-9]{2})?)$')
                THEN TRY(TRY_CAST(trim(ts) AS TIMESTAMPTZ) AT TIME ZONE 'UTC')
            ELSE TRY_CAST(trim(ts) AS TIMESTAMP)
        END AS ts_iso_any
    FROM raw.interactions
)
SELECT
    load_id,
    source_file,
    source_line,
    trim(user_id)                               AS user_id,
    trim(item_id)                               AS item_id,
    TRY_CAST(trim(rating) AS DOUBLE)            AS rating,
    coalesce(nullif(trim(event), ''), 'rating') AS event,
    coalesce(
        TRY(make_timestamp(CAST(round(ts_number_any * 1e6) AS BIGINT))),
        ts_iso_any
    )                                           AS ts,
    CASE WHEN isfinite(ts_number_any) THEN ts_number_any END AS ts_number,
    CASE WHEN ts_number_any IS NULL THEN ts_iso_any END      AS ts_iso,
    nullif(trim(tag), '')                       AS tag,
    rating                                      AS rating_text,
    ts                                          AS ts_text
FROM typed;
