-- Per-user and per-item features, one set per features run (keyed by the data they were built
-- from, so re-running on unchanged data reuses the run instead of duplicating rows).
CREATE TABLE IF NOT EXISTS features.runs (
    feature_run_id VARCHAR PRIMARY KEY,
    data_fingerprint VARCHAR NOT NULL UNIQUE,  -- interactions count + max load + max ts
    created_at     TIMESTAMP NOT NULL,
    n_users        INTEGER NOT NULL,
    n_items        INTEGER NOT NULL,
    dask_workers   INTEGER,
    seconds        DOUBLE
);

CREATE TABLE IF NOT EXISTS features.user_features (
    feature_run_id VARCHAR NOT NULL,
    user_id        VARCHAR NOT NULL,
    n_ratings      INTEGER NOT NULL,
    mean_rating    DOUBLE,
    first_ts       TIMESTAMP,
    last_ts        TIMESTAMP,
    top_genres     VARCHAR[],        -- most frequent genres among liked items
    recent_items   VARCHAR[],        -- last 10 item ids, newest first (the history sequence)
    taste_summary  VARCHAR,          -- short text used in LLM prompts
    PRIMARY KEY (feature_run_id, user_id)
);

CREATE TABLE IF NOT EXISTS features.item_features (
    feature_run_id VARCHAR NOT NULL,
    item_id        VARCHAR NOT NULL,
    n_ratings      INTEGER NOT NULL,
    mean_rating    DOUBLE,
    popularity_rank INTEGER NOT NULL,
    PRIMARY KEY (feature_run_id, item_id)
);
