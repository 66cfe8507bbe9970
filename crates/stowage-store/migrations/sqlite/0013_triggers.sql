-- How many imports a table has had: what a trigger compares with what it saw when it last ran.
ALTER TABLE tables ADD COLUMN imports INTEGER NOT NULL DEFAULT 0;

-- Run a configuration, as a token, when every watched table has been imported to since the last
-- run and the cool-down has passed. The configuration need not exist (Keboola lets a trigger name
-- any); a run that cannot start is recorded as an event. The token is not a foreign key: deleting a
-- token a trigger uses is refused by the token lifecycle.
CREATE TABLE triggers (
    id                        INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id                INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    run_with_token_id         INTEGER NOT NULL,
    component_id              TEXT NOT NULL,
    configuration_id          TEXT NOT NULL,
    cool_down_minutes         INTEGER NOT NULL,
    -- Unix seconds: the creation, then each run.
    last_run                  INTEGER NOT NULL,
    creator_token_id          INTEGER NOT NULL,
    creator_token_description TEXT NOT NULL
);
CREATE INDEX triggers_project ON triggers(project_id);

-- The watched tables, in the order given, with the table (pk) and import count seen at the last run.
CREATE TABLE trigger_tables (
    trigger_id   INTEGER NOT NULL REFERENCES triggers(id) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    table_id     TEXT NOT NULL,
    seen_pk      INTEGER,
    seen_imports INTEGER NOT NULL,
    PRIMARY KEY (trigger_id, position)
);
