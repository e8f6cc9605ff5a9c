-- One chat exclusion (user_id, item_id, reason, because_of, weight, created_at); a repeat keeps the
-- strongest reason: the item the user named (weight 1) beats 'similar'.
INSERT INTO recs.exclusions (user_id, item_id, reason, because_of, weight, created_at)
VALUES (?, ?, ?, ?, ?, CAST(? AS TIMESTAMP))
ON CONFLICT (user_id, item_id) DO UPDATE SET
    reason = CASE WHEN excluded.weight >= recs.exclusions.weight THEN excluded.reason ELSE recs.exclusions.reason END,
    because_of = CASE WHEN excluded.weight >= recs.exclusions.weight THEN excluded.because_of ELSE recs.exclusions.because_of END,
    weight = greatest(excluded.weight, recs.exclusions.weight),
    created_at = excluded.created_at
