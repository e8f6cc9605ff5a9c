-- Model artifacts hold data only (numpy arrays + JSON, no pickle) and are checked before loading:
-- the registry records each artifact's sha256, and paths are stored relative to settings.artifacts_dir
-- so a warehouse works from any working directory.
ALTER TABLE models.registry ADD COLUMN artifact_sha256 VARCHAR;
COMMENT ON COLUMN models.registry.artifact_sha256 IS 'sha256 of the artifact file, verified before every load; NULL = a pickled artifact from before 0065, loadable only after `chatrec warehouse migrate-artifacts`';
COMMENT ON COLUMN models.registry.artifact_path IS 'model artifact file relative to settings.artifacts_dir; LoRA adapter folders, and rows written before 0065, hold the path as written then';
