-- Every recommended item exists in the catalogue and ranks are unique per user.
SELECT run_id, user_id, rank
FROM marts.latest_recommendations
WHERE title IS NULL
UNION ALL
SELECT run_id, user_id, rank
FROM marts.latest_recommendations
GROUP BY run_id, user_id, rank
HAVING count(*) > 1
