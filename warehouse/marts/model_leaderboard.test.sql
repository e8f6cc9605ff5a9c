-- At most one production model per name and kind.
SELECT name, kind
FROM models.registry
WHERE status = 'production'
GROUP BY name, kind
HAVING count(*) > 1
