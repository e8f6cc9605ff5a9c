-- Every registered model version with its evaluation metrics pulled out of the metrics JSON,
-- best NDCG first within each kind. The holdout is also scored over its warm users (with training
-- history: what the promotion gate compares) and its cold users (none: reported, never gating);
-- versions registered before that split have NULL there.
CREATE OR REPLACE VIEW marts.model_leaderboard AS
SELECT
    model_id,
    name,
    kind,
    version,
    status,
    train_start,
    train_end,
    created_at,
    TRY_CAST(json_extract_string(metrics, '$.ndcg_at_10') AS DOUBLE)    AS ndcg_at_10,
    TRY_CAST(json_extract_string(metrics, '$.precision_at_10') AS DOUBLE) AS precision_at_10,
    TRY_CAST(json_extract_string(metrics, '$.recall_at_10') AS DOUBLE)  AS recall_at_10,
    TRY_CAST(json_extract_string(metrics, '$.rmse') AS DOUBLE)          AS rmse,
    TRY_CAST(json_extract_string(metrics, '$.warm_ndcg_at_10') AS DOUBLE) AS warm_ndcg_at_10,
    TRY_CAST(json_extract_string(metrics, '$.cold_ndcg_at_10') AS DOUBLE) AS cold_ndcg_at_10,
    TRY_CAST(json_extract_string(metrics, '$.warm_rmse') AS DOUBLE)     AS warm_rmse,
    TRY_CAST(json_extract_string(metrics, '$.cold_rmse') AS DOUBLE)     AS cold_rmse,
    TRY_CAST(json_extract_string(metrics, '$.warm_users') AS INTEGER)   AS warm_users,
    TRY_CAST(json_extract_string(metrics, '$.cold_users') AS INTEGER)   AS cold_users,
    train_seconds,
    peak_memory_mb,
    device,
    metrics,
    status_reason
FROM models.registry
ORDER BY kind, ndcg_at_10 DESC NULLS LAST, rmse ASC NULLS LAST, created_at DESC;

COMMENT ON VIEW marts.model_leaderboard IS
    'All model versions from models.registry with key metrics as columns; status = production marks the serving model. warm_* columns score the holdout users with training history (what the promotion gate compares), cold_* those without (reported only).';
