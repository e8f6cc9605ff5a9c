-- core.interactions has no primary-key index (migration 0260: it must not need the whole key in
-- memory); the load keeps one row per (user, item, event, time). Failing rows: keys held twice.
SELECT user_id, item_id, event, ts, count(*) AS copies
FROM core.interactions
GROUP BY user_id, item_id, event, ts
HAVING count(*) > 1
