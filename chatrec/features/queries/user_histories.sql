-- Each user's rating history with item titles and genres, newest first: the input of the
-- Python-heavy per-user work that runs on Dask partitions.
SELECT x.user_id, x.item_id, x.rating, x.ts, i.title, i.genres
FROM core.interactions x
JOIN core.items i USING (item_id)
WHERE list_contains($events, x.event)
ORDER BY x.user_id, x.ts DESC, x.item_id
