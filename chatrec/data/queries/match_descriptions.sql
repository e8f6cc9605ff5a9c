-- Match description rows to catalogue items: by item_id when the file has one, else by
-- case-insensitive title and release year. MovieLens 100K lists a few films twice under two ids;
-- a row matching several items with the same title and year describes all of them.
CREATE OR REPLACE TEMP TABLE _description_matches AS
SELECT d.source_line, i.item_id, trim(d.description) AS description,
       i.description IS NOT DISTINCT FROM trim(d.description) AS unchanged
FROM _incoming_descriptions d
JOIN core.items i
  ON (d.item_id IS NOT NULL AND i.item_id = d.item_id)
  OR (d.item_id IS NULL AND lower(i.title) = lower(d.title)
      AND i.release_year IS NOT DISTINCT FROM TRY_CAST(d.release_year AS INTEGER));

CREATE OR REPLACE TEMP TABLE _descriptions AS
WITH per_line AS (
    SELECT source_line, bool_and(unchanged) AS unchanged, min(item_id) AS first_item
    FROM _description_matches GROUP BY source_line
)
SELECT
    d.source_file, d.source_line, d.item_id, d.title, d.release_year, d.description,
    CASE
        WHEN d.description IS NULL OR trim(d.description) = '' THEN 'empty description'
        WHEN p.source_line IS NULL
            THEN 'no catalogue item matches: ' || coalesce(d.item_id, d.title || ' (' || coalesce(d.release_year, '?') || ')')
        WHEN row_number() OVER (PARTITION BY p.first_item ORDER BY d.source_line) > 1
            THEN 'duplicate description for item ' || p.first_item
    END AS reason,
    coalesce(p.unchanged, false) AS unchanged
FROM _incoming_descriptions d
LEFT JOIN per_line p ON p.source_line = d.source_line;
