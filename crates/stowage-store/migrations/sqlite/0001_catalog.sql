-- The catalog of one stack: who exists, what they own, what happened.
-- Times are unix seconds (UTC). Ids use AUTOINCREMENT so a deleted id is never handed out again.

CREATE TABLE stack_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE manage_tokens (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    description TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    created     INTEGER NOT NULL
);

CREATE TABLE projects (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    name    TEXT NOT NULL,
    created INTEGER NOT NULL
);

CREATE TABLE branches (
    id                        INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id                INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name                      TEXT NOT NULL,
    description               TEXT NOT NULL DEFAULT '',
    is_default                INTEGER NOT NULL,
    created                   INTEGER NOT NULL
);
CREATE INDEX branches_project ON branches(project_id);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    email         TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    created       INTEGER NOT NULL,
    password_hash TEXT
);

CREATE TABLE project_members (
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role       TEXT NOT NULL,
    created    INTEGER NOT NULL,
    PRIMARY KEY (project_id, user_id)
);

CREATE TABLE tokens (
    id                        INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id                INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    description               TEXT NOT NULL,
    -- SHA-256 of the whole secret, hex. The secret itself is never stored in plain text.
    secret_hash               TEXT NOT NULL,
    -- Set for master tokens: the member whose token this is.
    user_id                   INTEGER REFERENCES users(id),
    can_manage_buckets        INTEGER NOT NULL DEFAULT 0,
    can_read_all_file_uploads INTEGER NOT NULL DEFAULT 0,
    can_purge_trash           INTEGER NOT NULL DEFAULT 0,
    -- JSON array of component ids.
    component_access          TEXT NOT NULL DEFAULT '[]',
    created                   INTEGER NOT NULL,
    refreshed                 INTEGER NOT NULL,
    expires                   INTEGER,
    creator_token_id          INTEGER,
    creator_token_description TEXT,
    last_used                 INTEGER
);
CREATE INDEX tokens_project ON tokens(project_id);

CREATE TABLE buckets (
    -- Internal key: grants point here, so a new bucket with an old id inherits nothing.
    pk           INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id   INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    id           TEXT NOT NULL,
    name         TEXT NOT NULL,
    display_name TEXT NOT NULL,
    stage        TEXT NOT NULL,
    description  TEXT NOT NULL,
    backend      TEXT NOT NULL,
    color        TEXT,
    created      INTEGER NOT NULL,
    updated      INTEGER,
    last_change  INTEGER,
    UNIQUE (project_id, id)
);

CREATE TABLE token_bucket_grants (
    token_id  INTEGER NOT NULL REFERENCES tokens(id) ON DELETE CASCADE,
    bucket_pk INTEGER NOT NULL REFERENCES buckets(pk) ON DELETE CASCADE,
    access    TEXT NOT NULL,
    PRIMARY KEY (token_id, bucket_pk)
);

CREATE TABLE metadata (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id  INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    -- branch, bucket, table, column, configuration
    object_type TEXT NOT NULL,
    object_id   TEXT NOT NULL,
    provider    TEXT NOT NULL,
    key         TEXT NOT NULL,
    value       TEXT NOT NULL,
    timestamp   INTEGER NOT NULL,
    UNIQUE (project_id, object_type, object_id, provider, key)
);

CREATE TABLE events (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid             TEXT NOT NULL UNIQUE,
    project_id       INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    branch_id        INTEGER NOT NULL,
    created          INTEGER NOT NULL,
    event            TEXT NOT NULL,
    component        TEXT NOT NULL,
    message          TEXT NOT NULL,
    description      TEXT NOT NULL,
    type             TEXT NOT NULL,
    run_id           TEXT,
    configuration_id TEXT,
    object_type      TEXT,
    object_id        TEXT,
    object_name      TEXT,
    -- JSON objects.
    params           TEXT NOT NULL,
    results          TEXT NOT NULL,
    performance      TEXT NOT NULL,
    context          TEXT NOT NULL,
    token_id         INTEGER,
    token_name       TEXT
);
CREATE INDEX events_project ON events(project_id, id);
CREATE INDEX events_created ON events(created);
CREATE INDEX events_object ON events(project_id, object_type, object_id);
CREATE INDEX events_token ON events(project_id, token_id);

CREATE TABLE jobs (
    id                        INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id                INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    status                    TEXT NOT NULL,
    operation_name            TEXT NOT NULL,
    operation_params          TEXT NOT NULL,
    table_id                  TEXT,
    run_id                    TEXT,
    created                   INTEGER NOT NULL,
    start                     INTEGER,
    "end"                     INTEGER,
    results                   TEXT NOT NULL DEFAULT 'null',
    metrics                   TEXT NOT NULL DEFAULT '{}',
    error                     TEXT,
    creator_token_id          INTEGER NOT NULL,
    creator_token_description TEXT NOT NULL
);
CREATE INDEX jobs_project ON jobs(project_id, id);
CREATE INDEX jobs_status ON jobs(status);
