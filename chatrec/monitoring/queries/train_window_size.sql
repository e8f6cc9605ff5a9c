-- Rows and distinct items in a run's model train window (inclusive at both ends): what Evidently's
-- diversity and serendipity would have to hold (items x items) and scan (rows per evaluated user).
SELECT count(*) AS train_rows, count(DISTINCT item_id) AS train_items
FROM core.interactions
WHERE ts >= $train_start AND ts <= $train_end
