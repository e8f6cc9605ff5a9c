-- One row per item interacted with in [$start, $end): its activity and mean rating in the window,
-- release year, first genre and how often it was seen in the reference window (0 = new item).
WITH reference_popularity AS (
    SELECT item_id, count(*) AS n
    FROM core.interactions
    WHERE ts >= $ref_start AND ts < $ref_end
    GROUP BY item_id
)
SELECT
    CAST(count(*) AS DOUBLE)                            AS n_interactions,
    avg(i.rating)                                       AS mean_rating,
    CAST(any_value(it.release_year) AS DOUBLE)          AS release_year,
    coalesce(any_value(it.genres)[1], 'unknown')        AS genre,
    CAST(coalesce(any_value(p.n), 0) AS DOUBLE)         AS reference_popularity
FROM core.interactions i
LEFT JOIN core.items it USING (item_id)
LEFT JOIN reference_popularity p USING (item_id)
WHERE i.ts >= $start AND i.ts < $end
GROUP BY i.item_id
ORDER BY i.item_id
