-- Issue 19: the blend weight's evidence, the warehouse's one data source, and tags as data.

-- The blend weight is kept only when a paired bootstrap over the validation users puts the NDCG@k
-- gain of the grid's best weight above 0; the interval is stored beside the weight.
ALTER TABLE models.llm_blends ADD COLUMN best_weight DOUBLE;
ALTER TABLE models.llm_blends ADD COLUMN gain_mean DOUBLE;
ALTER TABLE models.llm_blends ADD COLUMN gain_ci_low DOUBLE;
ALTER TABLE models.llm_blends ADD COLUMN gain_ci_high DOUBLE;
ALTER TABLE models.llm_blends ADD COLUMN gain_confidence DOUBLE;
COMMENT ON COLUMN models.llm_blends.best_weight IS
    'the grid weight with the best mean validation NDCG@k, before the interval check (weight is 0 unless its gain CI is above 0)';
COMMENT ON COLUMN models.llm_blends.gain_mean IS
    'mean per-user NDCG@k gain of best_weight over the first stage alone on the validation users; NULL when best_weight = 0';
COMMENT ON COLUMN models.llm_blends.gain_ci_low IS
    'lower bound of the paired (per-user) percentile bootstrap interval of that gain; weight > 0 only if this is > 0';
COMMENT ON COLUMN models.llm_blends.gain_ci_high IS 'upper bound of the same interval';
COMMENT ON COLUMN models.llm_blends.gain_confidence IS 'confidence level of the interval, e.g. 0.95';

-- One data source per warehouse: the first load records what the warehouse holds; the nightly
-- ingests that source, and a different source is refused unless appended on purpose.
CREATE TABLE IF NOT EXISTS raw.data_sources (
    source        VARCHAR NOT NULL,
    path          VARCHAR NOT NULL,
    role          VARCHAR NOT NULL,
    content_hash  VARCHAR NOT NULL,
    options       VARCHAR,
    first_load_id VARCHAR NOT NULL,
    last_load_id  VARCHAR NOT NULL,
    recorded_at   TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (source, path)
);
COMMENT ON TABLE raw.data_sources IS
    'the data sources a warehouse holds: one primary (recorded by its first load, what the nightly ingests) and any sources appended on purpose (--append)';
COMMENT ON COLUMN raw.data_sources.source IS 'format: movielens | movielens-latest | csv (feedback from chat is not a source)';
COMMENT ON COLUMN raw.data_sources.path IS 'file or folder as given to the load; package:recbole/ml-100k for the packaged demo';
COMMENT ON COLUMN raw.data_sources.role IS 'primary (the first load: what the nightly ingests) | appended (loaded later with --append)';
COMMENT ON COLUMN raw.data_sources.content_hash IS 'sha256 of the latest complete load from this source (raw.loads.content_hash)';
COMMENT ON COLUMN raw.data_sources.options IS 'how to read the source again: the csv column mapping; NULL for formats that need none';
COMMENT ON COLUMN raw.data_sources.first_load_id IS 'raw.loads row of the first load from this source';
COMMENT ON COLUMN raw.data_sources.last_load_id IS 'raw.loads row of the latest load from this source';
COMMENT ON COLUMN raw.data_sources.recorded_at IS 'when the first load from this source committed';
COMMENT ON COLUMN raw.data_sources.updated_at IS 'when the latest load from this source committed';
-- A warehouse loaded before this migration: its earliest complete load is the primary source, any
-- other source it holds was appended (a csv source's mapping was not kept: set CHATREC_DATA_MAPPING).
INSERT INTO raw.data_sources
WITH loads AS (
    SELECT source, path, content_hash, load_id, started_at, finished_at,
           row_number() OVER (PARTITION BY source, path ORDER BY started_at) AS nth_of_source,
           row_number() OVER (PARTITION BY source, path ORDER BY started_at DESC) AS nth_latest
    FROM raw.loads
    WHERE status = 'complete' AND source NOT IN ('feedback', 'descriptions')
),
firsts AS (SELECT * FROM loads WHERE nth_of_source = 1),
lasts AS (SELECT * FROM loads WHERE nth_latest = 1)
SELECT f.source, f.path,
       CASE WHEN f.started_at = (SELECT min(started_at) FROM firsts) THEN 'primary' ELSE 'appended' END,
       l.content_hash, NULL, f.load_id, l.load_id, coalesce(f.finished_at, f.started_at),
       coalesce(l.finished_at, l.started_at)
FROM firsts f JOIN lasts l USING (source, path);

-- Tags as data: the tag text of a `tag` event. A user may give one item several tags at the same
-- second; each is a row here, while core.interactions holds the one `tag` event they share.
ALTER TABLE raw.interactions ADD COLUMN tag VARCHAR;
COMMENT ON COLUMN raw.interactions.tag IS 'tag text as read, for event = tag rows (MovieLens tags.csv); NULL otherwise';
CREATE TABLE IF NOT EXISTS core.tags (
    user_id  VARCHAR NOT NULL,
    item_id  VARCHAR NOT NULL,
    tag      VARCHAR NOT NULL,
    ts       TIMESTAMP NOT NULL,
    load_id  VARCHAR NOT NULL,
    PRIMARY KEY (user_id, item_id, tag, ts)
);
COMMENT ON TABLE core.tags IS
    'every tag a user gave an item, with its text; several tags per user and item are valid (core.interactions holds one tag event per user, item and time)';
COMMENT ON COLUMN core.tags.user_id IS 'who tagged';
COMMENT ON COLUMN core.tags.item_id IS 'the tagged item';
COMMENT ON COLUMN core.tags.tag IS 'the tag text, trimmed';
COMMENT ON COLUMN core.tags.ts IS 'when it was tagged';
COMMENT ON COLUMN core.tags.load_id IS 'raw.loads row that brought it';
