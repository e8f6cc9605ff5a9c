-- MovieLens ratings in the order of the loaded file (u.data order = the packaged ml-100k.inter order):
-- the official u1..u5 folds and Microsoft Recommenders' benchmark split are defined on this order,
-- not on time or ids. Typed through the staging view, so ts is a TIMESTAMP like core's.
SELECT s.user_id, s.item_id, s.rating, s.ts
FROM staging.stg_interactions s
JOIN raw.loads l USING (load_id)
WHERE l.source = 'movielens'
ORDER BY s.source_line
