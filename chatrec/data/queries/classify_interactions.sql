-- Validate this load's interactions; the first matching rule names the reason.
-- $check_items / $check_users: whether ids must already be in core (a catalogue is known);
-- otherwise new ids are registered by the loader. Epoch numbers are read in their file's unit
-- (_ts_units); $ts_min/$ts_max bound the plausible window; $rating_min/$rating_max the scale.
CREATE OR REPLACE TEMP TABLE _interactions AS
WITH timed AS (
    SELECT s.* REPLACE (
        CASE
            WHEN s.ts_number IS NOT NULL THEN TRY(make_timestamp(CAST(round(s.ts_number * CASE u.unit
                WHEN 'seconds' THEN 1e6 WHEN 'milliseconds' THEN 1e3 ELSE 1 END) AS BIGINT)))
            ELSE s.ts_iso
        END AS ts
    )
    FROM staging.stg_interactions s
    JOIN _ts_units u USING (source_file)
    WHERE s.load_id = $load_id
)
SELECT
    s.*,
    CASE
        WHEN s.user_id IS NULL OR s.user_id = '' THEN 'missing user id'
        WHEN s.item_id IS NULL OR s.item_id = '' THEN 'missing item id'
        WHEN regexp_matches(s.user_id, '[[:cntrl:]]') THEN 'control character in user id'
        WHEN regexp_matches(s.item_id, '[[:cntrl:]]') THEN 'control character in item id'
        WHEN s.rating_text IS NOT NULL AND trim(s.rating_text) <> '' AND s.rating IS NULL
            THEN 'unparseable rating: ' || s.rating_text
        WHEN s.rating IS NOT NULL AND NOT isfinite(s.rating) THEN 'rating not a finite number: ' || s.rating_text
        WHEN s.event = 'rating' AND s.rating IS NULL THEN 'missing rating'
        WHEN s.rating IS NOT NULL AND (s.rating < $rating_min OR s.rating > $rating_max)
            THEN 'rating out of range [' || $rating_min || ', ' || $rating_max || ']: ' || s.rating_text
        WHEN s.ts IS NULL THEN 'unparseable timestamp: ' || coalesce(s.ts_text, 'NULL')
        WHEN s.ts < $ts_min OR s.ts > $ts_max
            THEN 'timestamp outside plausible window [' || strftime($ts_min, '%Y-%m-%d') || ', '
                 || strftime($ts_max, '%Y-%m-%d') || ']: ' || s.ts_text
        WHEN $check_items AND ci.item_id IS NULL THEN 'unknown item id: ' || s.item_id
        WHEN $check_users AND cu.user_id IS NULL THEN 'unknown user id: ' || s.user_id
        -- several tags of one item at one time are several facts: the tag text is part of the key
        WHEN row_number() OVER (PARTITION BY s.user_id, s.item_id, s.event, s.ts, s.tag ORDER BY s.source_file, s.source_line) > 1
            THEN 'duplicate event in this load'
    END AS reason,
    CASE WHEN s.tag IS NOT NULL THEN t.user_id IS NOT NULL ELSE e.user_id IS NOT NULL END AS already_present,
    -- the event itself is in core (for a tag row: an earlier tag at the same time brought it)
    e.user_id IS NOT NULL AS event_present
FROM timed s
LEFT JOIN core.items ci ON ci.item_id = s.item_id
LEFT JOIN core.users cu ON cu.user_id = s.user_id
LEFT JOIN core.interactions e
       ON e.user_id = s.user_id AND e.item_id = s.item_id AND e.event = s.event AND e.ts = s.ts
LEFT JOIN core.tags t
       ON t.user_id = s.user_id AND t.item_id = s.item_id AND t.tag = s.tag AND t.ts = s.ts;
