-- The LLM layer's fitted blend weights: one row per fit of (first-stage model, LLM, re-rank mode) on
-- a temporal validation split. weight = 0 means the LLM did not improve NDCG on validation and is
-- ignored in the final score (a legitimate, reported outcome). Re-fitting the same data and
-- configuration reuses the row (same fingerprint), so re-runs add nothing.
CREATE TABLE IF NOT EXISTS models.llm_blends (
    blend_id           VARCHAR PRIMARY KEY,
    fingerprint        VARCHAR NOT NULL UNIQUE,
    fitted_at          TIMESTAMP NOT NULL,
    candidate_model    VARCHAR NOT NULL,
    llm_model          VARCHAR NOT NULL,
    mode               VARCHAR NOT NULL,      -- choice | listwise | yesno
    k                  INTEGER NOT NULL,
    weight             DOUBLE NOT NULL,       -- final = (1 - weight) * first stage + weight * LLM
    n_users            INTEGER NOT NULL,      -- validation users scored by the LLM
    ndcg_stage1        DOUBLE,                -- NDCG@k of the first stage alone (weight 0)
    ndcg_llm           DOUBLE,                -- NDCG@k of the LLM alone (weight 1)
    ndcg_blend         DOUBLE,                -- NDCG@k at the fitted weight
    ndcg_by_weight     JSON,
    valid_output_rate  DOUBLE,
    latency_ms_per_user DOUBLE
);

-- recs.explanations.source now also takes 'template_only': users the run did not send to the LLM
-- (settings.llm_users_per_run), whose template sentence is by design, not a fallback.
