-- Issue 15: chat feedback acts at once and lasts. A dislike or "seen it" in a chat excludes the item
-- (and, for a dislike, the items very similar to it) from that user's next batch run, before any
-- retrain has learnt from the feedback. recommend reads this table with the tagged items.
CREATE TABLE IF NOT EXISTS recs.exclusions (
    user_id    VARCHAR NOT NULL,
    item_id    VARCHAR NOT NULL,
    reason     VARCHAR NOT NULL,
    because_of VARCHAR NOT NULL,
    weight     DOUBLE NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, item_id)
);
