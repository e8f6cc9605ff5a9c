-- Comments on every table, view and column of the warehouse: the one place they are written.
-- Applied by chatrec/warehouse/migrations.py after the migrations and views on every start (views
-- are re-created, which drops their column comments); docs/warehouse.md is generated from them
-- (`chatrec warehouse docs`). tests/warehouse/test_comments.py fails on any column without one:
-- a migration that adds a column adds its COMMENT ON here.

COMMENT ON TABLE core.interactions IS 'Typed, de-duplicated user-item events: explicit ratings and implicit events.';
COMMENT ON COLUMN core.interactions.user_id IS 'User id as given by the source data set';
COMMENT ON COLUMN core.interactions.item_id IS 'Item id as given by the source data set';
COMMENT ON COLUMN core.interactions.rating IS 'Rating value; NULL for implicit events';
COMMENT ON COLUMN core.interactions.event IS 'Event type: rating, view, click, like, dislike ...';
COMMENT ON COLUMN core.interactions.ts IS 'When the event happened (UTC)';
COMMENT ON COLUMN core.interactions.load_id IS 'Id of the ingest (raw.loads.load_id) that brought this row';

COMMENT ON TABLE core.items IS 'Typed, de-duplicated catalogue: what models, prompts and explanations read.';
COMMENT ON COLUMN core.items.item_id IS 'Item id as given by the source data set';
COMMENT ON COLUMN core.items.title IS 'Item title';
COMMENT ON COLUMN core.items.release_year IS 'Release year, NULL if unknown';
COMMENT ON COLUMN core.items.genres IS 'Genres as a list (empty when the data set has none)';
COMMENT ON COLUMN core.items.description IS 'One-sentence description (e.g. from Wikipedia), NULL if none';
COMMENT ON COLUMN core.items.load_id IS 'Id of the ingest (raw.loads.load_id) that brought this row';

COMMENT ON TABLE core.users IS 'Typed, de-duplicated users with their optional attributes (NULL where the data set has none).';
COMMENT ON COLUMN core.users.user_id IS 'User id as given by the source data set';
COMMENT ON COLUMN core.users.age IS 'Age in years, NULL if unknown';
COMMENT ON COLUMN core.users.gender IS 'Gender code as in the source (M/F for MovieLens), NULL if unknown';
COMMENT ON COLUMN core.users.occupation IS 'Occupation, NULL if unknown';
COMMENT ON COLUMN core.users.zip_code IS 'Zip code, NULL if unknown';
COMMENT ON COLUMN core.users.load_id IS 'Id of the ingest (raw.loads.load_id) that brought this row';

COMMENT ON TABLE features.item_features IS 'Per-item features of one features run: popularity and mean rating.';
COMMENT ON COLUMN features.item_features.feature_run_id IS 'Features run id (features.runs.feature_run_id)';
COMMENT ON COLUMN features.item_features.item_id IS 'Item id as given by the source data set';
COMMENT ON COLUMN features.item_features.n_ratings IS 'Interactions with the item';
COMMENT ON COLUMN features.item_features.mean_rating IS 'Mean rating (NULL for implicit-only items)';
COMMENT ON COLUMN features.item_features.popularity_rank IS 'Rank by number of interactions, 1 = most popular';

COMMENT ON TABLE features.runs IS 'One row per features run, keyed by the data it was built from (re-runs on unchanged data reuse it).';
COMMENT ON COLUMN features.runs.feature_run_id IS 'Features run id (features.runs.feature_run_id)';
COMMENT ON COLUMN features.runs.data_fingerprint IS 'Interactions count + max load + max ts: same data, same run';
COMMENT ON COLUMN features.runs.created_at IS 'When the features were built';
COMMENT ON COLUMN features.runs.n_users IS 'Users with features';
COMMENT ON COLUMN features.runs.n_items IS 'Items with features';
COMMENT ON COLUMN features.runs.dask_workers IS 'Dask workers used';
COMMENT ON COLUMN features.runs.seconds IS 'Wall-clock time of the run, seconds';

COMMENT ON TABLE features.user_features IS 'Per-user features of one features run: activity, taste and the history sequence used in prompts.';
COMMENT ON COLUMN features.user_features.feature_run_id IS 'Features run id (features.runs.feature_run_id)';
COMMENT ON COLUMN features.user_features.user_id IS 'User id as given by the source data set';
COMMENT ON COLUMN features.user_features.n_ratings IS 'Interactions of the user';
COMMENT ON COLUMN features.user_features.mean_rating IS 'Mean rating (NULL for implicit-only users)';
COMMENT ON COLUMN features.user_features.first_ts IS 'First interaction';
COMMENT ON COLUMN features.user_features.last_ts IS 'Last interaction';
COMMENT ON COLUMN features.user_features.top_genres IS 'Most frequent genres among liked items';
COMMENT ON COLUMN features.user_features.recent_items IS 'Last 10 item ids, newest first (the history sequence)';
COMMENT ON COLUMN features.user_features.taste_summary IS 'Short text used in LLM prompts';

COMMENT ON COLUMN marts.drift_history.report_id IS 'Monitoring report id: <run_id>:<kind>[:<data set>] (monitoring.reports.report_id)';
COMMENT ON COLUMN marts.drift_history.run_id IS 'Recommendation run id (recs.runs.run_id)';
COMMENT ON COLUMN marts.drift_history.kind IS 'Report kind';
COMMENT ON COLUMN marts.drift_history.created_at IS 'When the report was written';
COMMENT ON COLUMN marts.drift_history.passed IS 'Whether the report passed';
COMMENT ON COLUMN marts.drift_history.reason IS 'Verdict in words';
COMMENT ON COLUMN marts.drift_history.columns_tested IS 'Columns tested for drift';
COMMENT ON COLUMN marts.drift_history.columns_drifted IS 'Columns that drifted';
COMMENT ON COLUMN marts.drift_history.drift_share IS 'columns_drifted / columns_tested';
COMMENT ON COLUMN marts.drift_history.html_path IS 'Saved HTML report';
COMMENT ON COLUMN marts.drift_history.key_figures IS 'Headline figures (JSON)';

COMMENT ON COLUMN marts.latest_recommendations.run_id IS 'Recommendation run id (recs.runs.run_id)';
COMMENT ON COLUMN marts.latest_recommendations.run_finished_at IS 'When the run finished';
COMMENT ON COLUMN marts.latest_recommendations.model_id IS 'First-stage model version';
COMMENT ON COLUMN marts.latest_recommendations.llm_model IS 'LLM used (NULL when off)';
COMMENT ON COLUMN marts.latest_recommendations.user_id IS 'User id as given by the source data set';
COMMENT ON COLUMN marts.latest_recommendations.rank IS 'Position, 1 = first';
COMMENT ON COLUMN marts.latest_recommendations.item_id IS 'Item id as given by the source data set';
COMMENT ON COLUMN marts.latest_recommendations.title IS 'Item title';
COMMENT ON COLUMN marts.latest_recommendations.release_year IS 'Release year';
COMMENT ON COLUMN marts.latest_recommendations.genres IS 'Genres';
COMMENT ON COLUMN marts.latest_recommendations.score IS 'Final score';
COMMENT ON COLUMN marts.latest_recommendations.llm_score IS 'LLM re-rank score';
COMMENT ON COLUMN marts.latest_recommendations.explanation IS 'The explanation shown';
COMMENT ON COLUMN marts.latest_recommendations.explanation_check_passed IS 'Whether the LLM explanation passed the evidence check';

COMMENT ON COLUMN marts.load_history.load_id IS 'Id of the ingest (raw.loads.load_id) that brought this row';
COMMENT ON COLUMN marts.load_history.source IS 'Kind of source';
COMMENT ON COLUMN marts.load_history.path IS 'File or folder loaded';
COMMENT ON COLUMN marts.load_history.status IS 'complete or failed';
COMMENT ON COLUMN marts.load_history.started_at IS 'When the load started';
COMMENT ON COLUMN marts.load_history.finished_at IS 'When it finished';
COMMENT ON COLUMN marts.load_history.rows_in IS 'Rows read';
COMMENT ON COLUMN marts.load_history.rows_loaded IS 'New rows into core';
COMMENT ON COLUMN marts.load_history.rows_unchanged IS 'Valid rows already in core';
COMMENT ON COLUMN marts.load_history.rows_quarantined IS 'Rows rejected';
COMMENT ON COLUMN marts.load_history.rows_balance IS 'rows_in = loaded + unchanged + quarantined';

COMMENT ON COLUMN marts.model_leaderboard.model_id IS 'Model version id name@version (models.registry.model_id)';
COMMENT ON COLUMN marts.model_leaderboard.name IS 'Model name';
COMMENT ON COLUMN marts.model_leaderboard.kind IS 'candidate, rating or llm_ranker';
COMMENT ON COLUMN marts.model_leaderboard.version IS 'Version per name';
COMMENT ON COLUMN marts.model_leaderboard.status IS 'training, candidate, production, archived or failed';
COMMENT ON COLUMN marts.model_leaderboard.train_start IS 'Start of the training window';
COMMENT ON COLUMN marts.model_leaderboard.train_end IS 'End of the training window';
COMMENT ON COLUMN marts.model_leaderboard.created_at IS 'When it was registered';
COMMENT ON COLUMN marts.model_leaderboard.ndcg_at_10 IS 'Holdout NDCG@10';
COMMENT ON COLUMN marts.model_leaderboard.precision_at_10 IS 'Holdout precision@10';
COMMENT ON COLUMN marts.model_leaderboard.recall_at_10 IS 'Holdout recall@10';
COMMENT ON COLUMN marts.model_leaderboard.rmse IS 'Holdout RMSE (rating models)';
COMMENT ON COLUMN marts.model_leaderboard.warm_ndcg_at_10 IS 'Holdout NDCG@10 over the warm users (with training history): what the promotion gate compares; NULL for versions registered before the warm/cold split';
COMMENT ON COLUMN marts.model_leaderboard.cold_ndcg_at_10 IS 'Holdout NDCG@10 over the cold users (no training history): reported, never decides promotion; NULL when the holdout had no cold user';
COMMENT ON COLUMN marts.model_leaderboard.warm_rmse IS 'Holdout RMSE over the warm users (rating models): what the promotion gate compares';
COMMENT ON COLUMN marts.model_leaderboard.cold_rmse IS 'Holdout RMSE over the cold users (rating models): reported, never decides promotion';
COMMENT ON COLUMN marts.model_leaderboard.warm_users IS 'Holdout users with training history';
COMMENT ON COLUMN marts.model_leaderboard.cold_users IS 'Holdout users without training history';
COMMENT ON COLUMN marts.model_leaderboard.train_seconds IS 'Training time, s';
COMMENT ON COLUMN marts.model_leaderboard.peak_memory_mb IS 'Peak training memory, MB';
COMMENT ON COLUMN marts.model_leaderboard.device IS 'Training device';
COMMENT ON COLUMN marts.model_leaderboard.metrics IS 'All holdout metrics (JSON)';
COMMENT ON COLUMN marts.model_leaderboard.status_reason IS 'Why it has its status';

COMMENT ON COLUMN marts.report_history.run_id IS 'Recommendation run id (recs.runs.run_id)';
COMMENT ON COLUMN marts.report_history.run_finished_at IS 'When the run finished';
COMMENT ON COLUMN marts.report_history.kind IS 'data_drift, recsys_quality or llm_health';
COMMENT ON COLUMN marts.report_history.dataset IS 'Data set of a drift report';
COMMENT ON COLUMN marts.report_history.passed IS 'Whether the report passed (false = an alarm: the monitor failed on it)';
COMMENT ON COLUMN marts.report_history.verdict IS 'failed (an alarm), information (a drift report above drift_share_threshold while drift_alarm is off: said, not an alarm) or passed';
COMMENT ON COLUMN marts.report_history.reason IS 'Verdict in words';
COMMENT ON COLUMN marts.report_history.drift_share IS 'Share of drifted columns (drift reports)';
COMMENT ON COLUMN marts.report_history.ndcg_at_k IS 'NDCG at the run''s k (quality reports)';
COMMENT ON COLUMN marts.report_history.evaluated_on IS 'What quality was evaluated on: new interactions or the temporal holdout';
COMMENT ON COLUMN marts.report_history.llm_valid_output_rate IS 'Valid LLM output rate (LLM-health reports)';
COMMENT ON COLUMN marts.report_history.llm_fallback_rate IS 'Explanation fallback rate (LLM-health reports)';
COMMENT ON COLUMN marts.report_history.html_path IS 'Saved HTML report';
COMMENT ON COLUMN marts.report_history.json_path IS 'Saved JSON report';
COMMENT ON COLUMN marts.report_history.evidently_project IS 'Evidently project';
COMMENT ON COLUMN marts.report_history.snapshot_id IS 'Evidently snapshot id';
COMMENT ON COLUMN marts.report_history.created_at IS 'When the report was written';

COMMENT ON COLUMN marts.run_history.run_id IS 'Recommendation run id (recs.runs.run_id)';
COMMENT ON COLUMN marts.run_history.status IS 'running, complete or failed';
COMMENT ON COLUMN marts.run_history.started_at IS 'When the run started';
COMMENT ON COLUMN marts.run_history.finished_at IS 'When it finished';
COMMENT ON COLUMN marts.run_history.duration_s IS 'Run time, seconds';
COMMENT ON COLUMN marts.run_history.model_id IS 'First-stage model version';
COMMENT ON COLUMN marts.run_history.llm_model IS 'LLM used (NULL when off)';
COMMENT ON COLUMN marts.run_history.k IS 'Recommendations per user';
COMMENT ON COLUMN marts.run_history.users_recommended IS 'Users with recommendations';
COMMENT ON COLUMN marts.run_history.distinct_items IS 'Distinct items recommended (catalogue coverage)';
COMMENT ON COLUMN marts.run_history.recommendations IS 'Recommendation rows';
COMMENT ON COLUMN marts.run_history.error IS 'Why the run failed';

COMMENT ON TABLE models.llm_blends IS 'One row per fit of the first-stage/LLM blend weight on a temporal validation split; weight 0 means the LLM did not help and is ignored.';
COMMENT ON COLUMN models.llm_blends.blend_id IS 'Id of the fit';
COMMENT ON COLUMN models.llm_blends.fingerprint IS 'Hash of data and configuration: a re-fit on unchanged data reuses the row';
COMMENT ON COLUMN models.llm_blends.fitted_at IS 'When it was fitted';
COMMENT ON COLUMN models.llm_blends.candidate_model IS 'First-stage model id';
COMMENT ON COLUMN models.llm_blends.llm_model IS 'LLM used';
COMMENT ON COLUMN models.llm_blends.mode IS 'Re-rank mode: choice, listwise or yesno';
COMMENT ON COLUMN models.llm_blends.k IS 'Cut-off of the NDCG used to fit';
COMMENT ON COLUMN models.llm_blends.weight IS 'w in final = (1 - w) * first stage + w * LLM; 0 = LLM ignored (the grid''s best weight is kept only if its gain interval is above 0)';
COMMENT ON COLUMN models.llm_blends.best_weight IS 'The grid weight with the best mean validation NDCG@k, before the interval check';
COMMENT ON COLUMN models.llm_blends.gain_mean IS 'Mean per-user NDCG@k gain of best_weight over the first stage alone on the validation users; NULL when best_weight = 0';
COMMENT ON COLUMN models.llm_blends.gain_ci_low IS 'Lower bound of the paired (per-user) percentile bootstrap interval of that gain; weight > 0 only if this is > 0';
COMMENT ON COLUMN models.llm_blends.gain_ci_high IS 'Upper bound of the same interval';
COMMENT ON COLUMN models.llm_blends.gain_confidence IS 'Confidence level of the interval (0.95 Bonferroni-corrected over the grid''s non-zero weights, e.g. 0.995)';
COMMENT ON COLUMN models.llm_blends.n_users IS 'Validation users scored by the LLM';
COMMENT ON COLUMN models.llm_blends.ndcg_stage1 IS 'Validation NDCG@k of the first stage alone (w = 0)';
COMMENT ON COLUMN models.llm_blends.ndcg_llm IS 'Validation NDCG@k of the LLM alone (w = 1)';
COMMENT ON COLUMN models.llm_blends.ndcg_blend IS 'Validation NDCG@k at the fitted weight';
COMMENT ON COLUMN models.llm_blends.ndcg_by_weight IS 'Validation NDCG@k at every grid weight (JSON)';
COMMENT ON COLUMN models.llm_blends.valid_output_rate IS 'Share of LLM answers that parsed and named only candidates';
COMMENT ON COLUMN models.llm_blends.latency_ms_per_user IS 'LLM time per validation user, ms';

COMMENT ON TABLE models.registry IS 'Every trained model version with its parameters, evaluation metrics and promotion status.';
COMMENT ON COLUMN models.registry.model_id IS 'Model version id: name@version';
COMMENT ON COLUMN models.registry.name IS 'Model name (popularity, itemknn, ease, dlae, bpr, sasrec, biasedmf ...)';
COMMENT ON COLUMN models.registry.kind IS 'candidate (first stage), rating or llm_ranker';
COMMENT ON COLUMN models.registry.version IS 'Version number, increasing per name';
COMMENT ON COLUMN models.registry.params IS 'Hyper-parameters (JSON)';
COMMENT ON COLUMN models.registry.fingerprint IS 'Hash of name, params and training data: re-running the same training reuses the row';
COMMENT ON COLUMN models.registry.train_start IS 'Start of the training window';
COMMENT ON COLUMN models.registry.train_end IS 'End of the training window';
COMMENT ON COLUMN models.registry.metrics IS 'Evaluation metrics on the temporal holdout (JSON: ndcg_at_10, precision_at_10, recall_at_10, rmse ... over all holdout users; warm_* over users with training history, which promotion compares; cold_* over users without; warm_users, cold_users)';
COMMENT ON COLUMN models.registry.artifact_path IS 'Model artifact file relative to settings.artifacts_dir (a data-only file: numpy arrays + JSON, never a pickle); LoRA adapter folders, and rows written before migration 0065, hold the path as written then';
COMMENT ON COLUMN models.registry.status IS 'training, candidate, production, archived or failed';
COMMENT ON COLUMN models.registry.device IS 'Device it was trained on (cpu, cuda)';
COMMENT ON COLUMN models.registry.train_seconds IS 'Wall-clock training time in seconds';
COMMENT ON COLUMN models.registry.peak_memory_mb IS 'Peak memory while training, MB';
COMMENT ON COLUMN models.registry.created_at IS 'When the row was written';
COMMENT ON COLUMN models.registry.artifact_sha256 IS 'sha256 of the artifact file, verified before every load; for a LoRA adapter (kind llm_ranker) the checksum of its folder''s files (tree_sha256), verified before it is served; NULL = a pickled artifact from before 0065, loadable only after `chatrec warehouse migrate-artifacts`, or an adapter registered before adapter checksums (served with a warning)';
COMMENT ON COLUMN models.registry.status_reason IS 'Why it has its status (e.g. not promoted: warm_ndcg_at_10 regressed beyond tolerance; the cold score beside it)';

COMMENT ON TABLE monitoring.drift_results IS 'Per-column result of every data drift test.';
COMMENT ON COLUMN monitoring.drift_results.report_id IS 'Monitoring report id: <run_id>:<kind>[:<data set>] (monitoring.reports.report_id)';
COMMENT ON COLUMN monitoring.drift_results.dataset IS 'Data set tested: interactions, users or items';
COMMENT ON COLUMN monitoring.drift_results.column_name IS 'Column tested';
COMMENT ON COLUMN monitoring.drift_results.stattest IS 'Statistical test or distance used';
COMMENT ON COLUMN monitoring.drift_results.p_value IS 'p-value (NULL for distance-based tests)';
COMMENT ON COLUMN monitoring.drift_results.drift_score IS 'Test statistic or distance';
COMMENT ON COLUMN monitoring.drift_results.drifted IS 'Whether the column drifted';

COMMENT ON TABLE monitoring.metrics IS 'Every figure the pipeline measures per run: model, recommendation quality, LLM health, drift, flow.';
COMMENT ON COLUMN monitoring.metrics.run_id IS 'Recommendation run id (recs.runs.run_id)';
COMMENT ON COLUMN monitoring.metrics.scope IS 'model, recs, llm, drift or flow';
COMMENT ON COLUMN monitoring.metrics.subject IS 'What was measured: model id, report kind, data set or flow name';
COMMENT ON COLUMN monitoring.metrics.metric IS 'Figure name (e.g. ndcg_at_10, drift_share)';
COMMENT ON COLUMN monitoring.metrics.value IS 'Figure value (NULL when it could not be computed)';
COMMENT ON COLUMN monitoring.metrics.computed_at IS 'When it was written';

COMMENT ON TABLE monitoring.reports IS 'Index of every saved monitoring report (HTML + JSON + Evidently snapshot) with its verdict.';
COMMENT ON COLUMN monitoring.reports.report_id IS 'Monitoring report id: <run_id>:<kind>[:<data set>] (monitoring.reports.report_id)';
COMMENT ON COLUMN monitoring.reports.run_id IS 'Recommendation run id (recs.runs.run_id)';
COMMENT ON COLUMN monitoring.reports.kind IS 'data_drift, recsys_quality or llm_health';
COMMENT ON COLUMN monitoring.reports.html_path IS 'Saved HTML report';
COMMENT ON COLUMN monitoring.reports.json_path IS 'Saved JSON report';
COMMENT ON COLUMN monitoring.reports.key_figures IS 'Headline figures (JSON)';
COMMENT ON COLUMN monitoring.reports.passed IS 'Whether the report passed its thresholds';
COMMENT ON COLUMN monitoring.reports.reason IS 'Verdict in words: which figure broke which threshold, or what was measured';
COMMENT ON COLUMN monitoring.reports.created_at IS 'When it was written';
COMMENT ON COLUMN monitoring.reports.dataset IS 'Data set of a drift report: interactions, users or items (NULL for other kinds)';
COMMENT ON COLUMN monitoring.reports.evidently_project IS 'Project of the snapshot in the Evidently workspace';
COMMENT ON COLUMN monitoring.reports.snapshot_id IS 'Snapshot id in that project';

COMMENT ON TABLE quarantine.rejected_rows IS 'Every rejected input row with where it came from and why: nothing is dropped silently.';
COMMENT ON COLUMN quarantine.rejected_rows.load_id IS 'Id of the ingest (raw.loads.load_id) that brought this row';
COMMENT ON COLUMN quarantine.rejected_rows.source IS 'Kind of source of the load (raw.loads.source)';
COMMENT ON COLUMN quarantine.rejected_rows.source_file IS 'File the row was read from';
COMMENT ON COLUMN quarantine.rejected_rows.source_line IS 'Line (or row number) of the row in its source file, 1-based';
COMMENT ON COLUMN quarantine.rejected_rows.entity IS 'interaction, item or user';
COMMENT ON COLUMN quarantine.rejected_rows.record IS 'The row as read (text), to replay after a fix';
COMMENT ON COLUMN quarantine.rejected_rows.reason IS 'Why it was rejected (unparseable value, unknown item id, rating out of range, duplicate, bad encoding, wrong field count ...)';
COMMENT ON COLUMN quarantine.rejected_rows.rejected_at IS 'When it was rejected';

COMMENT ON TABLE raw.interactions IS 'Interaction rows exactly as read from the source, every value as text.';
COMMENT ON COLUMN raw.interactions.load_id IS 'Id of the ingest (raw.loads.load_id) that brought this row';
COMMENT ON COLUMN raw.interactions.source_file IS 'File the row was read from';
COMMENT ON COLUMN raw.interactions.source_line IS 'Line (or row number) of the row in its source file, 1-based';
COMMENT ON COLUMN raw.interactions.user_id IS 'User id as read (text)';
COMMENT ON COLUMN raw.interactions.item_id IS 'Item id as read (text)';
COMMENT ON COLUMN raw.interactions.rating IS 'Rating as read (text)';
COMMENT ON COLUMN raw.interactions.event IS 'Event type as read (text; empty means rating)';
COMMENT ON COLUMN raw.interactions.ts IS 'Timestamp as read (epoch seconds or ISO text)';
COMMENT ON COLUMN raw.interactions.tag IS 'Tag text as read, for event = tag rows (MovieLens tags.csv); NULL otherwise';

COMMENT ON TABLE raw.items IS 'Item (catalogue) rows exactly as read from the source, every value as text.';
COMMENT ON COLUMN raw.items.load_id IS 'Id of the ingest (raw.loads.load_id) that brought this row';
COMMENT ON COLUMN raw.items.source_file IS 'File the row was read from';
COMMENT ON COLUMN raw.items.source_line IS 'Line (or row number) of the row in its source file, 1-based';
COMMENT ON COLUMN raw.items.item_id IS 'Item id as read (text)';
COMMENT ON COLUMN raw.items.title IS 'Title as read';
COMMENT ON COLUMN raw.items.release_year IS 'Release year as read (text)';
COMMENT ON COLUMN raw.items.genres IS 'Genres as read, ''|''-separated';
COMMENT ON COLUMN raw.items.description IS 'Description as read (may be empty)';

COMMENT ON TABLE raw.loads IS 'One row per ingest: what was loaded, from where, and the row accounting (rows_in = rows_loaded + rows_unchanged + rows_quarantined for a complete load).';
COMMENT ON COLUMN raw.loads.load_id IS 'Id of the load; every raw, core and quarantine row carries it';
COMMENT ON COLUMN raw.loads.source IS 'Kind of source: movielens, movielens-latest, csv, feedback (chat) ...';
COMMENT ON COLUMN raw.loads.path IS 'File or folder loaded (package:recbole/ml-100k for the packaged default)';
COMMENT ON COLUMN raw.loads.content_hash IS 'sha256 over the files'' bytes; a second load of the same content is skipped';
COMMENT ON COLUMN raw.loads.status IS 'complete or failed';
COMMENT ON COLUMN raw.loads.rows_in IS 'Rows read from the source';
COMMENT ON COLUMN raw.loads.rows_loaded IS 'Rows that were new and went into core';
COMMENT ON COLUMN raw.loads.rows_unchanged IS 'Valid rows already in core from an earlier load';
COMMENT ON COLUMN raw.loads.rows_quarantined IS 'Rows rejected into quarantine.rejected_rows';
COMMENT ON COLUMN raw.loads.started_at IS 'When the load started';
COMMENT ON COLUMN raw.loads.finished_at IS 'When the load finished (NULL while running or after a crash)';

COMMENT ON TABLE raw.users IS 'User rows exactly as read from the source, every value as text (data sets without user attributes leave this empty).';
COMMENT ON COLUMN raw.users.load_id IS 'Id of the ingest (raw.loads.load_id) that brought this row';
COMMENT ON COLUMN raw.users.source_file IS 'File the row was read from';
COMMENT ON COLUMN raw.users.source_line IS 'Line (or row number) of the row in its source file, 1-based';
COMMENT ON COLUMN raw.users.user_id IS 'User id as read (text)';
COMMENT ON COLUMN raw.users.age IS 'Age as read (text)';
COMMENT ON COLUMN raw.users.gender IS 'Gender as read';
COMMENT ON COLUMN raw.users.occupation IS 'Occupation as read';
COMMENT ON COLUMN raw.users.zip_code IS 'Zip code as read';

COMMENT ON TABLE recs.explanations IS 'One explanation per recommended item with the evidence it cites and the result of the grounding check.';
COMMENT ON COLUMN recs.explanations.run_id IS 'Recommendation run id (recs.runs.run_id)';
COMMENT ON COLUMN recs.explanations.user_id IS 'User id as given by the source data set';
COMMENT ON COLUMN recs.explanations.item_id IS 'Item id as given by the source data set';
COMMENT ON COLUMN recs.explanations.text IS 'The explanation shown to the user';
COMMENT ON COLUMN recs.explanations.evidence IS 'Facts the explanation may cite: liked items, shared genres, similar users (JSON)';
COMMENT ON COLUMN recs.explanations.source IS 'llm; template = the LLM phrasing failed the check; template_only = user not sent to the LLM this run';
COMMENT ON COLUMN recs.explanations.check_passed IS 'Whether the LLM text passed the evidence check';
COMMENT ON COLUMN recs.explanations.check_failure IS 'Why the check failed (NULL when it passed)';

COMMENT ON TABLE recs.recommendations IS 'The top-k items per user of each run, with first-stage, LLM and final scores.';
COMMENT ON COLUMN recs.recommendations.run_id IS 'Recommendation run id (recs.runs.run_id)';
COMMENT ON COLUMN recs.recommendations.user_id IS 'User id as given by the source data set';
COMMENT ON COLUMN recs.recommendations.rank IS 'Position in the user''s list, 1 = first';
COMMENT ON COLUMN recs.recommendations.item_id IS 'Item id as given by the source data set';
COMMENT ON COLUMN recs.recommendations.score IS 'Final score (the blend of first stage and LLM)';
COMMENT ON COLUMN recs.recommendations.stage1_score IS 'Score of the first-stage recommender';
COMMENT ON COLUMN recs.recommendations.llm_score IS 'LLM re-rank score (NULL when the LLM did not score the user)';

COMMENT ON TABLE recs.runs IS 'Batch recommendation runs; a run shows in the marts only once status = complete (its rows and status are written in one transaction).';
COMMENT ON COLUMN recs.runs.run_id IS 'Recommendation run id (recs.runs.run_id)';
COMMENT ON COLUMN recs.runs.started_at IS 'When the run started';
COMMENT ON COLUMN recs.runs.finished_at IS 'When it finished';
COMMENT ON COLUMN recs.runs.status IS 'running, complete or failed';
COMMENT ON COLUMN recs.runs.model_id IS 'First-stage model version used';
COMMENT ON COLUMN recs.runs.llm_model IS 'LLM used to re-rank and explain (NULL when the LLM layer was off)';
COMMENT ON COLUMN recs.runs.k IS 'Recommendations per user';
COMMENT ON COLUMN recs.runs.n_users IS 'Users recommended to';
COMMENT ON COLUMN recs.runs.params IS 'Run settings (JSON: blend weight, LLM settings ...)';
COMMENT ON COLUMN recs.runs.error IS 'Why the run failed (NULL otherwise)';

COMMENT ON VIEW staging.stg_interactions IS 'raw.interactions trimmed and cast (TRY_CAST: NULL where a value does not parse).';
COMMENT ON COLUMN staging.stg_interactions.load_id IS 'Id of the ingest (raw.loads.load_id) that brought this row';
COMMENT ON COLUMN staging.stg_interactions.source_file IS 'File the row was read from';
COMMENT ON COLUMN staging.stg_interactions.source_line IS 'Line (or row number) of the row in its source file, 1-based';
COMMENT ON COLUMN staging.stg_interactions.user_id IS 'User id as given by the source data set';
COMMENT ON COLUMN staging.stg_interactions.item_id IS 'Item id as given by the source data set';
COMMENT ON COLUMN staging.stg_interactions.rating IS 'Rating as a number, NULL if it does not parse';
COMMENT ON COLUMN staging.stg_interactions.event IS 'Event type, ''rating'' when empty';
COMMENT ON COLUMN staging.stg_interactions.ts IS 'Timestamp with numbers read as epoch seconds (for views that need no unit), ISO text converted to UTC; NULL if it does not parse';
COMMENT ON COLUMN staging.stg_interactions.ts_number IS 'The timestamp as an epoch number (the loader decides the unit per file: s, ms or us); NULL for text';
COMMENT ON COLUMN staging.stg_interactions.ts_iso IS 'The timestamp from ISO 8601 text, offsets converted to UTC; NULL for numbers';
COMMENT ON COLUMN staging.stg_interactions.tag IS 'Tag text, trimmed; NULL when empty or not a tag event';
COMMENT ON COLUMN staging.stg_interactions.rating_text IS 'Rating as read, to explain a rejection';
COMMENT ON COLUMN staging.stg_interactions.ts_text IS 'Timestamp as read, to explain a rejection';

COMMENT ON VIEW staging.stg_items IS 'raw.items trimmed and cast; genres split into a list.';
COMMENT ON COLUMN staging.stg_items.load_id IS 'Id of the ingest (raw.loads.load_id) that brought this row';
COMMENT ON COLUMN staging.stg_items.source_file IS 'File the row was read from';
COMMENT ON COLUMN staging.stg_items.source_line IS 'Line (or row number) of the row in its source file, 1-based';
COMMENT ON COLUMN staging.stg_items.item_id IS 'Item id as given by the source data set';
COMMENT ON COLUMN staging.stg_items.title IS 'Title, trimmed';
COMMENT ON COLUMN staging.stg_items.release_year IS 'Release year as an integer, NULL if it does not parse';
COMMENT ON COLUMN staging.stg_items.genres IS 'Genres as a list; NULL (not an empty list) when the file carries none, so a load never erases them';
COMMENT ON COLUMN staging.stg_items.description IS 'Description, trimmed';

COMMENT ON VIEW staging.stg_users IS 'raw.users trimmed and cast.';
COMMENT ON COLUMN staging.stg_users.load_id IS 'Id of the ingest (raw.loads.load_id) that brought this row';
COMMENT ON COLUMN staging.stg_users.source_file IS 'File the row was read from';
COMMENT ON COLUMN staging.stg_users.source_line IS 'Line (or row number) of the row in its source file, 1-based';
COMMENT ON COLUMN staging.stg_users.user_id IS 'User id as given by the source data set';
COMMENT ON COLUMN staging.stg_users.age IS 'Age as an integer, NULL if it does not parse';
COMMENT ON COLUMN staging.stg_users.gender IS 'Gender';
COMMENT ON COLUMN staging.stg_users.occupation IS 'Occupation';
COMMENT ON COLUMN staging.stg_users.zip_code IS 'Zip code';

-- raw.data_sources and core.tags (migration 0190)
COMMENT ON TABLE raw.data_sources IS 'The data sources a warehouse holds: one primary (recorded by its first load; what the nightly ingests unless CHATREC_DATA_SOURCE/PATH say otherwise) and any sources appended on purpose (--append). A different source whose ids overlap is refused; the packaged demo never joins a warehouse holding other data.';
COMMENT ON COLUMN raw.data_sources.source IS 'Format: movielens | movielens-latest | csv (chat feedback and descriptions are not sources)';
COMMENT ON COLUMN raw.data_sources.path IS 'File or folder, canonical (absolute); package:recbole/dataset_example/ml-100k for the packaged demo';
COMMENT ON COLUMN raw.data_sources.role IS 'primary (the first load: what the nightly ingests) | appended (loaded later with --append, or with no id in common)';
COMMENT ON COLUMN raw.data_sources.content_hash IS 'sha256 of the latest complete load from this source (raw.loads.content_hash)';
COMMENT ON COLUMN raw.data_sources.options IS 'How to read the source again: the csv column mapping; NULL for formats that need none';
COMMENT ON COLUMN raw.data_sources.first_load_id IS 'raw.loads row of the first load from this source';
COMMENT ON COLUMN raw.data_sources.last_load_id IS 'raw.loads row of the latest load from this source';
COMMENT ON COLUMN raw.data_sources.recorded_at IS 'When the first load from this source committed';
COMMENT ON COLUMN raw.data_sources.updated_at IS 'When the latest load from this source committed';
COMMENT ON TABLE core.tags IS 'Every tag a user gave an item, with its text; several tags per user and item at one time are valid (core.interactions holds their one tag event). With tagged_items_seen (default) a tagged item is never recommended to its tagger.';
COMMENT ON COLUMN core.tags.user_id IS 'Who tagged';
COMMENT ON COLUMN core.tags.item_id IS 'The tagged item';
COMMENT ON COLUMN core.tags.tag IS 'The tag text, trimmed';
COMMENT ON COLUMN core.tags.ts IS 'When it was tagged (UTC)';
COMMENT ON COLUMN core.tags.load_id IS 'Id of the ingest (raw.loads.load_id) that brought this row';

-- recs.exclusions (migration 0215)
COMMENT ON TABLE recs.exclusions IS 'Items a user said no to in a chat (dislike, already seen) and items very similar to a disliked one: the batch run never recommends them to that user, from the next run on, without waiting for a retrain. Written by the chat in short transactions (or from its pending files when the pipeline held the lock).';
COMMENT ON COLUMN recs.exclusions.user_id IS 'The user the item is excluded for';
COMMENT ON COLUMN recs.exclusions.item_id IS 'The excluded item';
COMMENT ON COLUMN recs.exclusions.reason IS 'dislike | seen | similar (very similar to an item the user disliked)';
COMMENT ON COLUMN recs.exclusions.because_of IS 'The item the user named: the item itself for dislike/seen, the disliked item for similar';
COMMENT ON COLUMN recs.exclusions.weight IS '1 for the named item; for similar, the item-item cosine similarity to the disliked item (at least settings.chat_dislike_similar_min)';
COMMENT ON COLUMN recs.exclusions.created_at IS 'When the user said it (UTC)';
