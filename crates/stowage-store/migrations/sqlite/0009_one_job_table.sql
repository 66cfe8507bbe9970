-- Component runs become rows of the one job queue, claimed and leased like storage jobs. They keep
-- their component and configuration in columns of their own (the Queue API lists by them), and a
-- request to terminate one is a flag its worker watches.

ALTER TABLE jobs ADD COLUMN component_id TEXT;
ALTER TABLE jobs ADD COLUMN config_id TEXT;
ALTER TABLE jobs ADD COLUMN terminate_requested INTEGER NOT NULL DEFAULT 0;
CREATE INDEX jobs_component ON jobs(project_id, component_id, config_id, id) WHERE component_id IS NOT NULL;

-- Move the component runs over, in their order, with new ids after the storage jobs' (their log
-- events carry the run's id as `run_id`, so those follow). Runs a stop had cut off end as the
-- start used to end them.
CREATE TEMP TABLE moved_runs (old INTEGER PRIMARY KEY, new INTEGER NOT NULL);
INSERT INTO moved_runs (old, new)
    SELECT id, COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'jobs'), 0) + ROW_NUMBER() OVER (ORDER BY id)
    FROM queue_jobs;
INSERT INTO jobs (id, project_id, status, operation_name, operation_params, run_id, created, start, "end", results,
    metrics, error, creator_token_id, creator_token_description, component_id, config_id)
SELECT m.new, q.project_id,
    CASE WHEN q.status IN ('created', 'processing', 'terminating') THEN 'error' ELSE q.status END,
    'componentRun', json_object('rowIds', json(q.row_ids)), CAST(m.new AS TEXT), q.created, q.start,
    CASE WHEN q.status IN ('created', 'processing', 'terminating') THEN COALESCE(q.start, q.created) ELSE q."end" END,
    CASE WHEN q.status IN ('created', 'processing', 'terminating')
        THEN '{"message":"The job was interrupted because the server stopped while it ran. Run it again."}'
        ELSE q.result END,
    '{}', NULL, q.token_id, q.token_description, q.component_id, q.config_id
FROM queue_jobs q JOIN moved_runs m ON m.old = q.id
ORDER BY q.id;
UPDATE events SET run_id = (SELECT CAST(m.new AS TEXT) FROM moved_runs m WHERE CAST(m.old AS TEXT) = events.run_id)
WHERE configuration_id IS NOT NULL AND component <> 'storage'
  AND run_id IN (SELECT CAST(old AS TEXT) FROM moved_runs);
DROP TABLE moved_runs;
DROP TABLE queue_jobs;
