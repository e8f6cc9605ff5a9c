-- Issue 12: core.interactions without its PRIMARY KEY, so a load of tens of millions of rows fits in
-- the warehouse's memory limit. A DuckDB primary key is an ART index, and ART indexes must fit in
-- memory (DuckDB docs, "Indexes"): a 25M-row load failed at COMMIT with a 4 GB limit and was killed at
-- 9.5 GB, while every other part of the load (sorts, joins, the load's own rows) spills to disk.
-- Uniqueness of (user_id, item_id, event, ts) is kept by the load itself, which holds the warehouse
-- lock: classify_interactions.sql marks rows already in core (anti-join) and duplicates within the
-- load, and insert_interactions.sql inserts one row per key (DISTINCT ON). The data test
-- warehouse/staging/core_interactions_unique.test.sql checks it.
CREATE TABLE core.interactions_unindexed (
    user_id  VARCHAR NOT NULL,
    item_id  VARCHAR NOT NULL,
    rating   DOUBLE,                      -- NULL for implicit events
    event    VARCHAR NOT NULL,            -- rating | view | click | like | dislike ...
    ts       TIMESTAMP NOT NULL,
    load_id  VARCHAR NOT NULL
);
INSERT INTO core.interactions_unindexed (user_id, item_id, rating, event, ts, load_id)
SELECT user_id, item_id, rating, event, ts, load_id FROM core.interactions;
DROP TABLE core.interactions;
ALTER TABLE core.interactions_unindexed RENAME TO interactions;
