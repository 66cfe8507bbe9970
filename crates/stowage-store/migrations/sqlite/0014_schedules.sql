-- A schedule: a configuration of `keboola.scheduler` (Keboola's shape: `schedule {cronTab, timezone,
-- state}`, `target {componentId, configurationId, configurationRowIds}`) as it was when it was
-- activated, run as a token at each time its cron expression matches. One per scheduler configuration.
CREATE TABLE schedules (
    id                        INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id                INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    configuration_id          TEXT NOT NULL,
    configuration_version     INTEGER NOT NULL,
    run_with_token_id         INTEGER NOT NULL,
    cron_tab                  TEXT NOT NULL,
    timezone                  TEXT NOT NULL,
    enabled                   INTEGER NOT NULL,
    target_component_id       TEXT NOT NULL,
    target_configuration_id   TEXT NOT NULL,
    -- JSON array of row ids; empty runs the configuration's enabled rows.
    target_row_ids            TEXT NOT NULL,
    -- Unix seconds: the next time the expression matches, after the last look.
    next_run                  INTEGER NOT NULL,
    last_run                  INTEGER,
    last_job_id               INTEGER,
    creator_token_id          INTEGER NOT NULL,
    creator_token_description TEXT NOT NULL,
    created                   INTEGER NOT NULL,
    UNIQUE (project_id, configuration_id)
);
CREATE INDEX schedules_next_run ON schedules(next_run);
