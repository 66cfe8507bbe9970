-- Component jobs (the queue): a run of a configuration, or of chosen rows.

CREATE TABLE queue_jobs (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id        INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    component_id      TEXT NOT NULL,
    config_id         TEXT NOT NULL,
    -- JSON array of the row ids asked for; empty means every enabled row.
    row_ids           TEXT NOT NULL,
    -- created, processing, success, error, terminating, terminated
    status            TEXT NOT NULL,
    token_id          INTEGER NOT NULL,
    token_description TEXT NOT NULL,
    created           INTEGER NOT NULL,
    start             INTEGER,
    "end"             INTEGER,
    -- JSON: {message, ...}
    result            TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX queue_jobs_config ON queue_jobs(project_id, component_id, config_id, id);
CREATE INDEX queue_jobs_status ON queue_jobs(status);
