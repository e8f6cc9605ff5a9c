-- One row per interaction in [$start, $end) with what the drift report watches: the rating and event,
-- the item's release year and first genre, and how often the item was seen in the reference window
-- (0 = an item new since then, so a wave of new popular items shows up as drift here).
WITH reference_popularity AS (
    SELECT item_id, count(*) AS n
    FROM core.interactions
    WHERE ts >= $ref_start AND ts < $ref_end
    GROUP BY item_id
)
SELECT
    i.rating,
    i.event,
    CAST(it.release_year AS DOUBLE)       AS item_release_year,
    coalesce(it.genres[1], 'unknown')     AS item_genre,
    CAST(coalesce(p.n, 0) AS DOUBLE)      AS item_reference_popularity
FROM core.interactions i
LEFT JOIN core.items it USING (item_id)
LEFT JOIN reference_popularity p USING (item_id)
WHERE i.ts >= $start AND i.ts < $end
ORDER BY i.ts, i.user_id, i.item_id
