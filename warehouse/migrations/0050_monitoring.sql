-- Monitoring reports: which data set a drift report covers, and where its snapshot lives in the
-- Evidently workspace, so a re-run of the monitor for the same recommendation run replaces the
-- snapshot instead of adding a duplicate to the dashboard history.
ALTER TABLE monitoring.reports ADD COLUMN dataset VARCHAR;            -- interactions | users | items (drift only)
ALTER TABLE monitoring.reports ADD COLUMN evidently_project VARCHAR;  -- project name in the workspace
ALTER TABLE monitoring.reports ADD COLUMN snapshot_id VARCHAR;        -- snapshot id in that project
