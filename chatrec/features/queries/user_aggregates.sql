-- SQL-shaped per-user aggregates, computed inside DuckDB (fast; no need for Dask).
SELECT user_id,
       count(*)::INTEGER AS n_ratings,
       avg(rating) AS mean_rating,
       min(ts) AS first_ts,
       max(ts) AS last_ts
FROM core.interactions
WHERE list_contains($events, event)
GROUP BY user_id
