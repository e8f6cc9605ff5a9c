-- Interactions of the alarm windows, [$ref_start, $end): the reference period and the night after it,
-- each with the time its item was first seen in all of history (so an item new tonight is known as new
-- even when the reference period is short).
WITH first_seen AS (
    SELECT item_id, min(ts) AS item_first_ts
    FROM core.interactions
    WHERE ts < $end
    GROUP BY item_id
)
SELECT i.user_id, i.item_id, i.rating, i.ts, f.item_first_ts
FROM core.interactions i
JOIN first_seen f USING (item_id)
WHERE i.ts >= $ref_start AND i.ts < $end
ORDER BY i.ts, i.user_id, i.item_id
