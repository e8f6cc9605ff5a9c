-- The feedback interactions as integer positions, for the evidence index (chatrec.data.frames.user_events):
-- each user's rows together (users in id order), oldest first within a user, ties by item id (as
-- interactions_frame orders them). user_pos: the user's place among the users with feedback, by id;
-- item_pos: the item's place in core.items by id (items_frame's order), then the ids core.items
-- lacks, by id, after the catalogue. $events: the feedback events (frames.feedback_events).
WITH feedback AS (
    SELECT user_id, item_id, rating, ts FROM core.interactions WHERE list_contains($events, event)
),
user_positions AS (
    SELECT user_id, CAST(row_number() OVER (ORDER BY user_id) - 1 AS INTEGER) AS user_pos
    FROM (SELECT DISTINCT user_id FROM feedback)
),
catalogue AS (
    SELECT item_id, CAST(row_number() OVER (ORDER BY item_id) - 1 AS INTEGER) AS item_pos FROM core.items
),
outside AS (
    SELECT item_id, CAST((SELECT count(*) FROM core.items) + row_number() OVER (ORDER BY item_id) - 1 AS INTEGER) AS item_pos
    FROM (SELECT DISTINCT item_id FROM feedback WHERE item_id NOT IN (SELECT item_id FROM core.items))
),
item_positions AS (
    SELECT item_id, item_pos FROM catalogue UNION ALL SELECT item_id, item_pos FROM outside
)
SELECT u.user_pos, i.item_pos, f.rating
FROM feedback AS f
JOIN user_positions AS u USING (user_id)
JOIN item_positions AS i USING (item_id)
ORDER BY u.user_pos, f.ts, f.item_id
