-- Rename and cast only: raw.interactions typed with TRY_CAST (NULL where a value does not parse).
-- Validation and de-duplication happen when rows move to core (chatrec.data.loader).
CREATE OR REPLACE VIEW staging.stg_interactions AS
SELECT
    load_id,
    source_file,
    source_line,
    trim(user_id)                               AS user_id,
    trim(item_id)                               AS item_id,
    TRY_CAST(trim(rating) AS DOUBLE)            AS rating,
    coalesce(nullif(trim(event), ''), 'rating') AS event,
    coalesce(
        TRY_CAST(to_timestamp(TRY_CAST(trim(ts) AS BIGINT)) AS TIMESTAMP),
        TRY_CAST(trim(ts) AS TIMESTAMP)
    )                                           AS ts,
    rating                                      AS rating_text,
    ts                                          AS ts_text
FROM raw.interactions;
