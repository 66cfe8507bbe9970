-- Every version of a configuration, as it was: kept when a change makes the version, so that it can
-- be listed, shown, rolled back to and copied. `snapshot` is JSON: name, description, configuration
-- (with `#` values sealed), rowsSortOrder, isDisabled and the rows.
CREATE TABLE configuration_versions (
    configuration_pk          BIGINT NOT NULL REFERENCES configurations(pk) ON DELETE CASCADE,
    version                   BIGINT NOT NULL,
    name                      TEXT NOT NULL,
    change_description        TEXT NOT NULL,
    created                   BIGINT NOT NULL,
    creator_token_id          BIGINT,
    creator_token_description TEXT,
    snapshot                  TEXT NOT NULL,
    PRIMARY KEY (configuration_pk, version)
);
