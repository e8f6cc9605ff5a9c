-- Per-item aggregates and popularity rank, inside DuckDB.
SELECT i.item_id,
       count(x.user_id)::INTEGER AS n_ratings,
       avg(x.rating) AS mean_rating,
       rank() OVER (ORDER BY count(x.user_id) DESC)::INTEGER AS popularity_rank
FROM core.items i
LEFT JOIN core.interactions x ON x.item_id = i.item_id AND list_contains($events, x.event)
GROUP BY i.item_id
