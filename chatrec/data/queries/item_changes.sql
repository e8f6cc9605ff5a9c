-- Each item attribute this load would set or change, with the value before. NULL (an attribute the
-- file does not carry) never changes anything. $authoritative: the load is a catalogue (MovieLens
-- items, movies.csv), whose values correct existing ones; attributes repeated on the lines of an
-- interactions file only fill gaps, and a conflicting value is recorded as 'kept_existing'.
CREATE OR REPLACE TEMP TABLE _item_changes AS
WITH incoming AS (
    SELECT
        i.item_id, i.load_id, c.item_id IS NOT NULL AS existed,
        i.title AS new_title, c.title AS old_title,
        CAST(i.release_year AS VARCHAR) AS new_year, CAST(c.release_year AS VARCHAR) AS old_year,
        array_to_string(i.genres, '|') AS new_genres, nullif(array_to_string(c.genres, '|'), '') AS old_genres,
        i.description AS new_description, c.description AS old_description
    FROM _items i
    LEFT JOIN core.items c ON c.item_id = i.item_id
    WHERE i.reason IS NULL AND i.change <> 'same'
),
attributes AS (
    SELECT item_id, load_id, existed, 'title' AS attribute, old_title AS old_value, new_title AS new_value
    FROM incoming
    UNION ALL SELECT item_id, load_id, existed, 'release_year', old_year, new_year FROM incoming
    UNION ALL SELECT item_id, load_id, existed, 'genres', old_genres, new_genres FROM incoming
    UNION ALL SELECT item_id, load_id, existed, 'description', old_description, new_description FROM incoming
)
SELECT
    *,
    CASE WHEN old_value IS NULL OR $authoritative THEN 'applied' ELSE 'kept_existing' END AS outcome
FROM attributes
WHERE new_value IS NOT NULL AND new_value IS DISTINCT FROM old_value;
