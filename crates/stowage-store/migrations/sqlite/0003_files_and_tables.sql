-- Files (bytes live in the object store under `blob_key`) and tables (rows live in one SQLite
-- file per table under the data dir; the catalog mirrors their schema and statistics).

CREATE TABLE files (
    id                        INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id                INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name                      TEXT NOT NULL,
    -- Key of the bytes in the object store.
    blob_key                  TEXT NOT NULL,
    -- NULL until the bytes were uploaded.
    size_bytes                INTEGER,
    content_type              TEXT,
    is_public                 INTEGER NOT NULL DEFAULT 0,
    is_permanent              INTEGER NOT NULL DEFAULT 0,
    is_encrypted              INTEGER NOT NULL DEFAULT 1,
    created                   INTEGER NOT NULL,
    uploaded                  INTEGER,
    run_id                    TEXT,
    creator_token_id          INTEGER NOT NULL,
    creator_token_description TEXT NOT NULL,
    max_age_days              INTEGER NOT NULL DEFAULT 15
);
CREATE INDEX files_project ON files(project_id, id);

CREATE TABLE file_tags (
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    tag     TEXT NOT NULL,
    PRIMARY KEY (file_id, tag)
);

CREATE TABLE tables (
    -- Internal key.
    pk              INTEGER PRIMARY KEY AUTOINCREMENT,
    -- File name of the table's rows under `<data dir>/tables/`.
    data_file       TEXT NOT NULL,
    project_id      INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    bucket_pk       INTEGER NOT NULL REFERENCES buckets(pk) ON DELETE CASCADE,
    -- E.g. `in.c-sales.orders`.
    id              TEXT NOT NULL,
    name            TEXT NOT NULL,
    display_name    TEXT NOT NULL,
    -- JSON arrays mirrored from the data file after each change.
    columns         TEXT NOT NULL,
    primary_key     TEXT NOT NULL,
    rows_count      INTEGER NOT NULL DEFAULT 0,
    data_size_bytes INTEGER NOT NULL DEFAULT 0,
    created         INTEGER NOT NULL,
    last_import     INTEGER,
    last_change     INTEGER,
    UNIQUE (project_id, id)
);
CREATE INDEX tables_bucket ON tables(bucket_pk);
