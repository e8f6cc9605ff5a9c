-- MovieLens ratings in the order of the loaded file (u.data order = the packaged ml-100k.inter order):
-- the official u1..u5 folds are defined on this order, not on time or ids.
SELECT r.user_id, r.item_id, CAST(r.rating AS DOUBLE) AS rating
FROM raw.interactions r
JOIN raw.loads l USING (load_id)
WHERE l.source = 'movielens'
ORDER BY r.source_line
