-- Component configurations and their rows. `configuration` and `state` are JSON; values under
-- keys starting with `#` are stored only as ciphertext (`KBC::ProjectSecure::...`).

CREATE TABLE configurations (
    pk                        INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id                INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    component_id              TEXT NOT NULL,
    -- The configuration id clients see (numeric text unless the client chose one).
    id                        TEXT NOT NULL,
    name                      TEXT NOT NULL,
    description               TEXT NOT NULL,
    configuration             TEXT NOT NULL,
    state                     TEXT NOT NULL,
    -- JSON array of row ids; empty means creation order.
    rows_sort_order           TEXT NOT NULL,
    is_disabled               INTEGER NOT NULL DEFAULT 0,
    -- In the trash: listed only with isDeleted, restorable, purged by a second delete.
    is_deleted                INTEGER NOT NULL DEFAULT 0,
    version                   INTEGER NOT NULL,
    change_description        TEXT NOT NULL,
    created                   INTEGER NOT NULL,
    creator_token_id          INTEGER,
    creator_token_description TEXT,
    -- Who and when made the current version.
    version_created           INTEGER NOT NULL,
    version_token_id          INTEGER,
    version_token_description TEXT,
    UNIQUE (project_id, component_id, id)
);

CREATE TABLE configuration_rows (
    pk                        INTEGER PRIMARY KEY AUTOINCREMENT,
    configuration_pk          INTEGER NOT NULL REFERENCES configurations(pk) ON DELETE CASCADE,
    id                        TEXT NOT NULL,
    name                      TEXT NOT NULL,
    description               TEXT NOT NULL,
    configuration             TEXT NOT NULL,
    state                     TEXT NOT NULL,
    is_disabled               INTEGER NOT NULL DEFAULT 0,
    version                   INTEGER NOT NULL,
    change_description        TEXT NOT NULL,
    created                   INTEGER NOT NULL,
    creator_token_id          INTEGER,
    creator_token_description TEXT,
    UNIQUE (configuration_pk, id)
);
