-- Base schemas and tables of the warehouse. One schema per stage of the pipeline:
-- raw (as ingested) -> core (typed, de-duplicated) -> features -> models -> recs -> monitoring,
-- with quarantine holding every rejected input row and why. docs/warehouse.md documents each table.
CREATE SCHEMA IF NOT EXISTS raw;
CREATE SCHEMA IF NOT EXISTS staging;
CREATE SCHEMA IF NOT EXISTS core;
CREATE SCHEMA IF NOT EXISTS features;
CREATE SCHEMA IF NOT EXISTS models;
CREATE SCHEMA IF NOT EXISTS recs;
CREATE SCHEMA IF NOT EXISTS monitoring;
CREATE SCHEMA IF NOT EXISTS quarantine;
CREATE SCHEMA IF NOT EXISTS marts;

-- raw: one row per ingested source row, every value kept as the text it was read as.
CREATE TABLE IF NOT EXISTS raw.loads (
    load_id        VARCHAR PRIMARY KEY,
    source         VARCHAR NOT NULL,      -- movielens | movielens-latest | csv | feedback
    path           VARCHAR NOT NULL,      -- file or folder loaded ('package:recbole/ml-100k' for the default)
    content_hash   VARCHAR NOT NULL,      -- sha256 over the files' bytes: same hash = same load
    status         VARCHAR NOT NULL,      -- complete | failed
    rows_in        BIGINT NOT NULL DEFAULT 0,
    rows_loaded    BIGINT NOT NULL DEFAULT 0,
    rows_unchanged BIGINT NOT NULL DEFAULT 0, -- valid rows already in core from an earlier load
    rows_quarantined BIGINT NOT NULL DEFAULT 0,
    started_at     TIMESTAMP NOT NULL,
    finished_at    TIMESTAMP
);

CREATE TABLE IF NOT EXISTS raw.interactions (
    load_id     VARCHAR NOT NULL,
    source_file VARCHAR NOT NULL,
    source_line BIGINT NOT NULL,
    user_id     VARCHAR,
    item_id     VARCHAR,
    rating      VARCHAR,
    event       VARCHAR,
    ts          VARCHAR
);

CREATE TABLE IF NOT EXISTS raw.items (
    load_id      VARCHAR NOT NULL,
    source_file  VARCHAR NOT NULL,
    source_line  BIGINT NOT NULL,
    item_id      VARCHAR,
    title        VARCHAR,
    release_year VARCHAR,
    genres       VARCHAR,     -- '|'-separated
    description  VARCHAR
);

CREATE TABLE IF NOT EXISTS raw.users (
    load_id     VARCHAR NOT NULL,
    source_file VARCHAR NOT NULL,
    source_line BIGINT NOT NULL,
    user_id     VARCHAR,
    age         VARCHAR,
    gender      VARCHAR,
    occupation  VARCHAR,
    zip_code    VARCHAR
);

-- core: typed and de-duplicated; what models and analysts read.
CREATE TABLE IF NOT EXISTS core.users (
    user_id      VARCHAR PRIMARY KEY,
    age          INTEGER,
    gender       VARCHAR,
    occupation   VARCHAR,
    zip_code     VARCHAR,
    load_id      VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS core.items (
    item_id      VARCHAR PRIMARY KEY,
    title        VARCHAR NOT NULL,
    release_year INTEGER,
    genres       VARCHAR[],
    description  VARCHAR,
    load_id      VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS core.interactions (
    user_id  VARCHAR NOT NULL,
    item_id  VARCHAR NOT NULL,
    rating   DOUBLE,                      -- NULL for implicit events
    event    VARCHAR NOT NULL,            -- rating | view | click | like | dislike ...
    ts       TIMESTAMP NOT NULL,
    load_id  VARCHAR NOT NULL,
    PRIMARY KEY (user_id, item_id, event, ts)
);

-- quarantine: every rejected row with where it came from and why; nothing is dropped silently.
CREATE TABLE IF NOT EXISTS quarantine.rejected_rows (
    load_id     VARCHAR NOT NULL,
    source      VARCHAR NOT NULL,
    source_file VARCHAR NOT NULL,
    source_line BIGINT NOT NULL,
    entity      VARCHAR NOT NULL,        -- interaction | item | user
    record      VARCHAR,                 -- the row as read (text), for replay after a fix
    reason      VARCHAR NOT NULL,
    rejected_at TIMESTAMP NOT NULL DEFAULT current_timestamp
);

-- models: the registry of every trained model version.
CREATE TABLE IF NOT EXISTS models.registry (
    model_id      VARCHAR PRIMARY KEY,   -- name@version
    name          VARCHAR NOT NULL,      -- e.g. ease, bpr, sasrec, biasedmf
    kind          VARCHAR NOT NULL,      -- candidate | rating | llm_ranker
    version       INTEGER NOT NULL,
    params        JSON NOT NULL,
    fingerprint   VARCHAR NOT NULL,      -- hash of (name, params, training data): re-runs reuse the row
    train_start   TIMESTAMP,
    train_end     TIMESTAMP,
    metrics       JSON,
    artifact_path VARCHAR,
    status        VARCHAR NOT NULL,      -- training | candidate | production | archived | failed
    device        VARCHAR,
    train_seconds DOUBLE,
    peak_memory_mb DOUBLE,
    created_at    TIMESTAMP NOT NULL DEFAULT current_timestamp,
    status_reason VARCHAR,
    UNIQUE (name, version)
);

-- recs: batch recommendation runs; a run is visible to the marts only once status = 'complete'.
CREATE TABLE IF NOT EXISTS recs.runs (
    run_id      VARCHAR PRIMARY KEY,
    started_at  TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    status      VARCHAR NOT NULL,        -- running | complete | failed
    model_id    VARCHAR,
    llm_model   VARCHAR,
    k           INTEGER,
    n_users     INTEGER,
    params      JSON,
    error       VARCHAR
);

CREATE TABLE IF NOT EXISTS recs.recommendations (
    run_id       VARCHAR NOT NULL,
    user_id      VARCHAR NOT NULL,
    rank         INTEGER NOT NULL,
    item_id      VARCHAR NOT NULL,
    score        DOUBLE,
    stage1_score DOUBLE,
    llm_score    DOUBLE,
    PRIMARY KEY (run_id, user_id, rank)
);

CREATE TABLE IF NOT EXISTS recs.explanations (
    run_id        VARCHAR NOT NULL,
    user_id       VARCHAR NOT NULL,
    item_id       VARCHAR NOT NULL,
    text          VARCHAR NOT NULL,
    evidence      JSON,
    source        VARCHAR NOT NULL,      -- llm | template (fallback)
    check_passed  BOOLEAN NOT NULL,
    check_failure VARCHAR,
    PRIMARY KEY (run_id, user_id, item_id)
);

-- monitoring: metrics per run, drift test results and the index of saved reports.
CREATE TABLE IF NOT EXISTS monitoring.metrics (
    run_id      VARCHAR NOT NULL,
    scope       VARCHAR NOT NULL,        -- model | recs | llm | drift | flow
    subject     VARCHAR NOT NULL,        -- model id, report kind, flow name
    metric      VARCHAR NOT NULL,
    value       DOUBLE,
    computed_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (run_id, scope, subject, metric)
);

CREATE TABLE IF NOT EXISTS monitoring.drift_results (
    report_id    VARCHAR NOT NULL,
    dataset      VARCHAR NOT NULL,       -- interactions | user_features | item_features
    column_name  VARCHAR NOT NULL,
    stattest     VARCHAR,
    p_value      DOUBLE,
    drift_score  DOUBLE,
    drifted      BOOLEAN NOT NULL,
    PRIMARY KEY (report_id, dataset, column_name)
);

CREATE TABLE IF NOT EXISTS monitoring.reports (
    report_id   VARCHAR PRIMARY KEY,
    run_id      VARCHAR,
    kind        VARCHAR NOT NULL,        -- data_drift | recsys_quality | llm_health
    html_path   VARCHAR NOT NULL,
    json_path   VARCHAR NOT NULL,
    key_figures JSON,
    passed      BOOLEAN,
    reason      VARCHAR,
    created_at  TIMESTAMP NOT NULL DEFAULT current_timestamp
);
