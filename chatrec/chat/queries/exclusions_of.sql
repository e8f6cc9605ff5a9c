-- The items each user said no to in a chat (and items very similar to a disliked one), per user.
SELECT user_id, list(item_id ORDER BY item_id)
FROM recs.exclusions
WHERE list_contains(?, user_id)
GROUP BY user_id
