-- One row per user active in [$start, $end): activity and mean rating in the window plus the
-- user's attributes, so the report sees both who is active and how they behave.
SELECT
    CAST(count(*) AS DOUBLE)           AS n_interactions,
    avg(i.rating)                      AS mean_rating,
    CAST(any_value(u.age) AS DOUBLE)   AS age,
    coalesce(any_value(u.gender), 'unknown')     AS gender,
    coalesce(any_value(u.occupation), 'unknown') AS occupation
FROM core.interactions i
LEFT JOIN core.users u USING (user_id)
WHERE i.ts >= $start AND i.ts < $end
GROUP BY i.user_id
ORDER BY i.user_id
