-- Storage jobs become a durable queue: a job carries everything a worker needs to run it, and a
-- worker holds a lease on the job while it runs it. Any worker may take over a job whose lease
-- expired; per-table order is kept by the claim (a job waits for older unfinished jobs of its table).

-- JSON: the kind's full parameters (tables::CreateWork, ...); NULL on jobs from before this version.
ALTER TABLE jobs ADD COLUMN work TEXT;
-- JSON: where the request came from ({remoteAddr, userAgent}), for the job's events.
ALTER TABLE jobs ADD COLUMN context TEXT NOT NULL DEFAULT '{}';
-- The worker that runs the job, and until when its claim holds (unix seconds).
ALTER TABLE jobs ADD COLUMN lease_owner TEXT;
ALTER TABLE jobs ADD COLUMN lease_expires INTEGER;
-- How many times a worker claimed the job (more than one after a takeover).
ALTER TABLE jobs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;

CREATE INDEX jobs_unfinished_table ON jobs(project_id, table_id, id) WHERE status IN ('waiting', 'processing');
