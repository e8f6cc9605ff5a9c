-- Validate this load's items: a reason for each rejected row, NULL for valid ones.
-- The year is an optional attribute: an unparseable one becomes NULL (ML-100K has 'unkonwn').
-- change: 'same' when every attribute the row carries (non-NULL) already holds that value.
CREATE OR REPLACE TEMP TABLE _items AS
SELECT
    s.*,
    CASE
        WHEN s.item_id IS NULL OR s.item_id = '' THEN 'missing item id'
        WHEN regexp_matches(s.item_id, '[[:cntrl:]]') THEN 'control character in item id'
        WHEN s.title IS NULL OR s.title = '' THEN 'missing title'
        WHEN row_number() OVER (PARTITION BY s.item_id ORDER BY s.source_file, s.source_line) > 1
            THEN 'duplicate item id in this load'
    END AS reason,
    CASE
        WHEN c.item_id IS NULL THEN 'new'
        WHEN (s.title IS NULL OR c.title IS NOT DISTINCT FROM s.title)
         AND (s.release_year IS NULL OR c.release_year IS NOT DISTINCT FROM s.release_year)
         AND (s.genres IS NULL OR c.genres IS NOT DISTINCT FROM s.genres)
         AND (s.description IS NULL OR c.description IS NOT DISTINCT FROM s.description) THEN 'same'
        ELSE 'changed'
    END AS change
FROM staging.stg_items s
LEFT JOIN core.items c ON c.item_id = s.item_id
WHERE s.load_id = $load_id;
